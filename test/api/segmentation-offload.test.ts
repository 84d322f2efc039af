/**
 * Segmentation offload on the in-memory hub (createMemoryNetwork's
 * `segmentationOffload`, as Linux's veth/loopback with TSO/GSO and GRO):
 * new TCP data leaves as super-segments of several MSS that the hub
 * carries whole, and the receiver takes each as one segment, ACKing it at
 * once (RFC 5681 §4.2: it counts as at least two full-sized segments).
 * Bytes must arrive exactly as written, over IPv4 and IPv6, with the MSS
 * still that of the MTU. On by default in createMemoryNetwork; with the
 * option off, an impairment on the hub (which acts per packet), stack hooks
 * or a hub tap watching, every packet is at most the MTU. Virtual clock,
 * fixed seeds.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createMemoryNetwork, type MemoryNetworkOptions } from '../../src/api/memory-network.ts';
import { sendPoolFreeBlocks, trimSendPool } from '../../src/tcp/send-buffer.ts';
import { MemoryHub } from '../../src/links/memory.ts';
import { EventQueue } from '../../src/base/event-queue.ts';
import { VirtualClock } from '../../src/base/time.ts';
import { emitIpv4TcpHead, parseTcp } from '../../src/wire/tcp.ts';
import { ACK, CHECKSUM_FULL, PSH } from '../../src/wire/types.ts';

const MiB = 1 << 20;

function pattern(n: number, salt: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 131 + salt + (i >>> 11)) & 0xff;
  return b;
}

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/**
 * Sends `bytes` from a to b, returns what b read, the largest packet the
 * hub carried and the hub's counters. `watch`: with a hub tap (which turns
 * the offload off: a capture sees MSS-sized packets); without, the largest
 * packet is read from the hub's delivery to b's port.
 */
async function transfer(opts: MemoryNetworkOptions, bytes: Buffer, v6: boolean, beforeSend?: (lan: ReturnType<typeof createMemoryNetwork>) => void, watch = true) {
  const lan = createMemoryNetwork({ seed: 5, virtualTime: true, mtu: 1500, ...opts });
  const a = lan.host(v6 ? 'fd00::1' : '10.0.0.1');
  const b = lan.host(v6 ? 'fd00::2' : '10.0.0.2');
  let largest = 0;
  let packets = 0;
  const seen = (p: Uint8Array): void => {
    packets++;
    if (p.length > largest) largest = p.length;
  };
  if (watch) lan.hub.tap = (_from, p) => seen(p);
  else {
    // Both ports' receive paths (the link's onReceive, as the stack installed it).
    for (const port of lan.hub.ports) {
      const deliver = port.onReceive!;
      port.onReceive = (p) => {
        seen(p);
        deliver(p);
      };
    }
  }
  beforeSend?.(lan);
  const got: Buffer[] = [];
  const done = new Promise<void>((resolve, reject) => {
    b.net
      .createServer((s) => {
        s.on('data', (d: Buffer) => got.push(d));
        s.on('end', () => resolve());
        s.on('error', reject);
      })
      .listen(9);
  });
  const c = a.net.connect({ port: 9, host: v6 ? 'fd00::2' : '10.0.0.2' });
  c.on('error', () => {});
  for (let off = 0; off < bytes.length; off += 200_000) c.write(bytes.subarray(off, off + 200_000));
  c.end();
  await done;
  const out = { got: Buffer.concat(got), largest, packets, gso: lan.hub.gsoCarried, segmentsOut: a.stack.counters.segmentsOut, superSegmentsOut: a.stack.counters.superSegmentsOut };
  lan.stop();
  return out;
}

describe('segmentation offload on the in-memory hub', () => {
  for (const v6 of [false, true]) {
    it(`${v6 ? 'IPv6' : 'IPv4'}: by default, 4 MiB at MTU 1500 leave in super-segments the hub carries whole, arrive byte for byte, in far fewer packets than MSS-sized segments`, async () => {
      const bytes = pattern(4 * MiB, v6 ? 3 : 1);
      trimSendPool();
      const r = await transfer({}, bytes, v6, undefined, false);
      // The hub copies a super-segment as it carries it: the socket's send blocks go back to the pool.
      assert.ok(sendPoolFreeBlocks() > 0, 'send-buffer blocks reused (not pinned)');
      assert.equal(r.got.length, bytes.length);
      assert.equal(sha(r.got), sha(bytes));
      assert.ok(r.gso > 0 && r.superSegmentsOut === r.gso, `super-segments carried whole: ${r.gso}`);
      assert.ok(r.largest > 1500, `the largest packet (${r.largest} B) is past the MTU`);
      assert.ok(r.largest <= 65535);
      const mss = v6 ? 1440 : 1460;
      assert.ok(r.segmentsOut >= bytes.length / mss, 'segments are still counted per MSS');
      assert.ok(r.packets < bytes.length / mss / 4, `${r.packets} packets on the hub (ACKs included) for ${Math.ceil(bytes.length / mss)} MSS of data`);
    });
  }

  it('turned off (segmentationOffload: false), under an impairment, with stack hooks or with a hub tap: every packet within the MTU, the bytes intact', async () => {
    const bytes = pattern(1 * MiB, 7);
    const cases: Array<[string, MemoryNetworkOptions, ((lan: ReturnType<typeof createMemoryNetwork>) => void) | undefined, boolean]> = [
      ['segmentationOffload: false', { segmentationOffload: false }, undefined, false],
      ['impaired (1 ms delay)', { impair: { delayUs: 1000 } }, undefined, false],
      ['stack hooks', {}, (lan) => void lan.network.stacks[0]!.addHook(() => {}), false],
      ['a hub tap', {}, undefined, true],
    ];
    for (const [name, opts, before, watch] of cases) {
      const r = await transfer(opts, bytes, false, before, watch);
      assert.equal(sha(r.got), sha(bytes), name);
      assert.equal(r.gso, 0, name);
      assert.ok(r.largest <= 1500, `${name}: largest packet ${r.largest}`);
      assert.ok(r.packets >= bytes.length / 1460, `${name}: ${r.packets} packets`);
    }
  });

  it('an impairment set mid-transfer stops super-segments at once (the hub only offers them while it carries packets whole)', async () => {
    const bytes = pattern(2 * MiB, 9);
    let largestAfter = 0;
    const r = await transfer(
      {},
      bytes,
      false,
      (lan) => {
        let n = 0;
        let changed = false;
        const port = lan.hub.ports[1]!;
        const deliver = port.onReceive!;
        port.onReceive = (p) => {
          deliver(p);
          // Changed by user code between turns, as an application would.
          if (++n === 20)
            queueMicrotask(() => {
              lan.hub.setImpairments({ delayUs: 500 });
              changed = true;
            });
          else if (changed && p.length > largestAfter) largestAfter = p.length;
        };
      },
      false,
    );
    assert.equal(sha(r.got), sha(bytes));
    assert.ok(r.gso > 0, 'super-segments before the change');
    assert.ok(largestAfter <= 1500, `after the change the largest packet is ${largestAfter}`);
  });

  it('a super-segment on a hub with full checksums arrives with its checksum completed (as a device completes a partial one), the payload whole; on an offloading hub the field is 0; past a lowered hub MTU it is lost whole, as its segments would be', () => {
    for (const checksumOffload of [false, true]) {
      const clock = new VirtualClock();
      const queue = new EventQueue();
      const hub = new MemoryHub(clock, queue, { mtu: 1500, segmentationOffload: true, checksumOffload });
      const a = hub.attach(0x0a000001);
      const b = hub.attach(0x0a000002);
      const got: Uint8Array[] = [];
      b.onReceive = (p) => got.push(p);
      assert.equal(a.tsoMaxBytes, 65535);
      const payload = pattern(10 * 1460, 5);
      const seg = { srcPort: 1000, dstPort: 2000, seq: 7, ack: 9, flags: ACK | PSH, window: 500, urgentPointer: 0, options: [], payload };
      const head = emitIpv4TcpHead({ src: 0x0a000001, dst: 0x0a000002, ttl: 64, tos: 0, ident: 1, dontFragment: true }, seg, payload.length);
      a.transmitGso!(head, [payload.subarray(0, 5000), payload.subarray(5000)], 20, 1460);
      for (let fn = queue.popDue(clock.now()); fn; fn = queue.popDue(clock.now())) fn();
      assert.equal(got.length, 1);
      assert.equal(got[0]!.length, 20 + 20 + payload.length);
      assert.equal(hub.gsoCarried, 1);
      // The hub's MTU lowered behind the ports (a black hole): segments of
      // 1460 octets no longer fit, so the super-segment is lost whole.
      hub.mtu = 1400;
      a.transmitGso!(head, [payload], 20, 1460);
      for (let fn = queue.popDue(clock.now()); fn; fn = queue.popDue(clock.now())) fn();
      assert.equal(got.length, 1, 'lost in the black hole');
      assert.equal(hub.stats.lost, 1);
      if (checksumOffload) {
        assert.equal(got[0]![20 + 16]! | got[0]![20 + 17]!, 0);
      } else {
        const t = parseTcp(got[0]!.subarray(20), 0x0a000001, 0x0a000002, CHECKSUM_FULL);
        assert.ok(t.ok, 'the checksum verifies');
        assert.deepEqual(Buffer.from(t.value.payload), payload);
      }
    }
  });
});
