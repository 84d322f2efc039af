/**
 * TunLink without a kernel: a fake device stands in for the addon, so the
 * batching, buffer ownership, drops of what is not IP, the impairment stage and error
 * handling are tested anywhere (no root, no /dev/net/tun).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TunLink, type TunDeviceHandle } from '../../src/links/tun.ts';
import { decodeVnetHdr, encodeVnetHdr, TUN_F_CSUM, TUN_F_TSO4, TUN_F_TSO6, VNET_F_NEEDS_CSUM, VNET_GSO_TCPV4, VNET_HDR_LEN } from '../../src/links/vnet.ts';
import { emitIpv4Tcp, parseTcp } from '../../src/wire/tcp.ts';
import { ACK, PSH, CHECKSUM_FULL } from '../../src/wire/types.ts';
import { checksumComputed, completeForCapture } from '../../src/stack/rx-verified.ts';

class FakeDevice implements TunDeviceHandle {
  readonly name = 'fake0';
  readonly fd = 99;
  readonly arena = new ArrayBuffer(1 << 20);
  readonly lengths = new Uint32Array(256);
  writeErrno = 0;
  closed = false;
  written: Uint8Array[] = [];
  /** Packets writeBatch refuses once (by their last byte), with an errno. */
  refuse = new Map<number, number>();
  private cb: ((count: number, errno: number) => void) | null = null;
  start(cb: (count: number, errno: number) => void): void {
    this.cb = cb;
  }
  stop(): void {}
  write(p: Uint8Array): number {
    this.written.push(p.slice());
    return p.length;
  }
  writeBatch(ps: Uint8Array[], start = 0, end = ps.length): number {
    let n = 0;
    for (let i = start; i < end; i++) {
      const p = ps[i]!;
      const e = this.refuse.get(p[p.length - 1]!);
      if (e) {
        this.refuse.delete(p[p.length - 1]!);
        this.writeErrno = e;
        return n;
      }
      this.written.push(p.slice());
      n++;
    }
    return n;
  }
  close(): void {
    this.closed = true;
  }
  ref(): void {}
  unref(): void {}
  stats(): Record<string, number> {
    return {};
  }
  /** Simulates one readable batch. */
  deliver(packets: Uint8Array[], errno = 0): void {
    const a = new Uint8Array(this.arena);
    let off = 0;
    packets.forEach((p, i) => {
      a.set(p, off);
      this.lengths[i] = p.length;
      off += p.length;
    });
    this.cb!(packets.length, errno);
  }
}

function ipv4(len: number, tag: number): Uint8Array {
  const p = new Uint8Array(len);
  p[0] = 0x45;
  p[2] = len >> 8;
  p[3] = len & 0xff;
  p[len - 1] = tag;
  return p;
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('TunLink (fake device)', () => {
  it('hands each IPv4 and IPv6 packet of a batch to onReceive in a buffer of its own; drops what is neither (issue 12)', () => {
    const dev = new FakeDevice();
    let batches = 0;
    const link = new TunLink({ name: 'fake0', device: dev, onBatch: () => batches++ });
    const got: Uint8Array[] = [];
    link.onReceive = (p) => got.push(p);
    const v6 = new Uint8Array(48);
    v6[0] = 0x60;
    v6[47] = 6;
    const v6Short = new Uint8Array(39); // shorter than the fixed IPv6 header (RFC 8200 §3: 40 octets)
    v6Short[0] = 0x60;
    const v5 = ipv4(40, 5);
    v5[0] = 0x55;
    dev.deliver([ipv4(40, 1), v6, ipv4(1500, 2), new Uint8Array(3), v6Short, v5]);
    assert.equal(got.length, 3);
    assert.equal(got[0]!.length, 40);
    assert.equal(got[1]!.length, 48);
    assert.equal(got[1]![47], 6, 'the IPv6 packet goes to the stack (dual stack over TUN)');
    assert.equal(got[2]![1499], 2);
    assert.notEqual(got[0]!.buffer, dev.arena, 'not a view of the arena');
    assert.notEqual(got[0]!.buffer, got[1]!.buffer);
    // The arena is reused by the next batch; kept packets do not change.
    dev.deliver([ipv4(40, 9)]);
    assert.equal(got[0]![39], 1);
    assert.equal(link.stats.dropsNotIp, 3);
    assert.equal(link.stats.packetsIn, 7);
    assert.equal(batches, 2);
  });

  it('ends each read batch for the stack (Link.onReceiveEnd, RFC 9293 MUST-59) after its packets and before onBatch', () => {
    const dev = new FakeDevice();
    const calls: string[] = [];
    const link = new TunLink({ name: 'fake0', device: dev, onBatch: () => calls.push('batch') });
    assert.equal(link.receivesInBatches, true);
    link.onReceive = (p) => calls.push(`packet ${p[p.length - 1]}`);
    link.onReceiveEnd = () => calls.push('end');
    dev.deliver([ipv4(40, 1), ipv4(40, 2)]);
    dev.deliver([ipv4(40, 3)]);
    assert.deepEqual(calls, ['packet 1', 'packet 2', 'end', 'batch', 'packet 3', 'end', 'batch']);
  });

  it('writes transmitted packets in one batch at the end of the tick, and drops oversize ones', async () => {
    const dev = new FakeDevice();
    const link = new TunLink({ name: 'fake0', device: dev, mtu: 1500 });
    link.transmit(ipv4(60, 1));
    link.transmit(ipv4(1501, 2));
    link.transmit(ipv4(1500, 3));
    assert.equal(dev.written.length, 0, 'not yet');
    await tick();
    assert.deepEqual(
      dev.written.map((p) => p.length),
      [60, 1500],
    );
    assert.equal(link.stats.dropsTooBig, 1);
    assert.equal(link.stats.packetsOut, 2);
  });

  it('a refused write is counted by errno and the rest of the batch still goes out', async () => {
    const dev = new FakeDevice();
    const link = new TunLink({ name: 'fake0', device: dev });
    dev.refuse.set(1, 5); // EIO (device down) for the packet tagged 1
    for (let i = 0; i < 4; i++) link.transmit(ipv4(40, i));
    await tick();
    assert.deepEqual(
      dev.written.map((p) => p[39]),
      [0, 2, 3],
    );
    assert.deepEqual(link.stats.writeErrors, { EIO: 1 });
  });

  it('a read error closes the link and reports through onError', () => {
    const dev = new FakeDevice();
    const errs: Array<Error & { code?: string }> = [];
    const link = new TunLink({ name: 'fake0', device: dev, onError: (e) => errs.push(e) });
    dev.deliver([], 77);
    assert.equal(errs.length, 1);
    assert.equal(errs[0]!.code, 'EBADFD');
    assert.match(errs[0]!.message, /fake0 went away/);
    assert.ok(link.closed && dev.closed);
    link.transmit(ipv4(40, 1)); // ignored after close
  });

  it('impairment: loss 1 drops everything in both directions', async () => {
    const dev = new FakeDevice();
    const link = new TunLink({ name: 'fake0', device: dev, impair: { loss: 1 } });
    const got: Uint8Array[] = [];
    link.onReceive = (p) => got.push(p);
    dev.deliver([ipv4(40, 1), ipv4(40, 2)]);
    link.transmit(ipv4(40, 3));
    await tick();
    assert.equal(got.length, 0);
    assert.equal(dev.written.length, 0);
    assert.equal(link.stats.impairIn!.lost, 2);
    assert.equal(link.stats.impairOut!.lost, 1);
    link.close();
  });

  it('impairment: delay holds packets on the real clock; duplicate doubles them; drain() waits', async () => {
    const dev = new FakeDevice();
    const link = new TunLink({ name: 'fake0', device: dev, impair: { delayUs: 500_000, duplicate: 1 } });
    const got: Uint8Array[] = [];
    link.onReceive = (p) => got.push(p);
    dev.deliver([ipv4(40, 1)]);
    link.transmit(ipv4(40, 2));
    // Held, not passed through: nothing has arrived after a turn of the
    // event loop. (No wall-clock bound: under load any bound is a guess.)
    await tick();
    assert.equal(got.length, 0);
    assert.equal(dev.written.length, 0);
    await link.drain(30_000);
    assert.equal(got.length, 2);
    assert.equal(dev.written.length, 2);
    assert.notEqual(got[0], got[1], 'the duplicate is a copy');
    link.close();
  });

  it('impairment: reordering lets later packets overtake', async () => {
    const dev = new FakeDevice();
    const link = new TunLink({ name: 'fake0', device: dev, seed: 3, impairIn: { reorder: 0.5, reorderDelayUs: 20_000 } });
    const got: number[] = [];
    link.onReceive = (p) => got.push(p[39]!);
    dev.deliver(Array.from({ length: 20 }, (_, i) => ipv4(40, i)));
    await link.drain(30_000);
    assert.equal(got.length, 20);
    assert.notDeepEqual(got, [...got].sort((a, b) => a - b));
    assert.ok(link.stats.impairIn!.reordered > 0);
    assert.equal(link.stats.impairOut, null, 'no impairment stage towards the device');
    link.close();
  });

  it('rejects a bad MTU', () => {
    assert.throws(() => new TunLink({ name: 'fake0', device: new FakeDevice(), mtu: 70000 }), /MTU must be an integer in 68..65535/);
  });
});

/** A fake device opened with IFF_VNET_HDR and every offload accepted: reads carry a virtio_net_hdr, writes go through writeChains. */
class FakeVnetDevice extends FakeDevice {
  readonly vnetHdrLen = VNET_HDR_LEN;
  readonly offloads = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;
  readonly offloadErrno = 0;
  /** Each written chain, concatenated (virtio_net_hdr first). */
  chains: Uint8Array[] = [];
  writeChains(parts: Uint8Array[], counts: number[], start = 0, end = counts.length): number {
    let pi = 0;
    for (let i = 0; i < start; i++) pi += counts[i]!;
    for (let i = start; i < end; i++) {
      const c = counts[i]!;
      const chunk = parts.slice(pi, pi + c);
      const out = new Uint8Array(chunk.reduce((n, p) => n + p.length, 0));
      let o = 0;
      for (const p of chunk) {
        out.set(p, o);
        o += p.length;
      }
      this.chains.push(out);
      pi += c;
    }
    return end - start;
  }
}

function tcpSeg(seq: number, len: number, flags = ACK): Uint8Array {
  return emitIpv4Tcp(
    { src: 0x0a000001, dst: 0x0a000002, ttl: 64, tos: 0, ident: 1, dontFragment: true },
    { srcPort: 80, dstPort: 5000, seq, ack: 1, flags, window: 1000, urgentPointer: 0, options: [], payload: new Uint8Array(len).fill(seq & 0xff) },
    CHECKSUM_FULL,
  );
}

describe('TunLink with offloads (fake IFF_VNET_HDR device)', () => {
  for (const mode of ['tap', 'stack', 'other receiver'] as const) {
  const withTap = mode !== 'stack';
  it(`[${mode}] a GSO segment larger than the MTU with a partial checksum reaches the stack whole, ${withTap ? 'its checksum completed (the link has a tap, or the receiver is not the stack)' : 'its partial checksum trusted as the kernel trusts it (marked; completed for a capture)'}; a header pointing outside the packet is a counted drop`, () => {
    const dev = new FakeVnetDevice();
    const link = new TunLink({ name: 'fake0', device: dev, mtu: 1500 });
    if (mode === 'tap') link.tap = () => {};
    // The stack (or an Ethernet interface) says it takes partial checksums; another receiver does not.
    link.partialChecksumsIn = mode !== 'other receiver';
    assert.equal(link.offloads, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6);
    const seg = tcpSeg(1000, 20_000);
    const full = [seg[36]!, seg[37]!];
    const pseudo = 0x0a00 + 0x0001 + 0x0a00 + 0x0002 + 6 + (seg.length - 20);
    seg[36] = pseudo >> 8; // the kernel's partial checksum: the pseudo-header sum
    seg[37] = pseudo & 0xff;
    const hdr = new Uint8Array(VNET_HDR_LEN);
    encodeVnetHdr({ flags: VNET_F_NEEDS_CSUM, gsoType: VNET_GSO_TCPV4, hdrLen: 40, gsoSize: 1460, csumStart: 20, csumOffset: 16 }, hdr);
    const bad = new Uint8Array(VNET_HDR_LEN);
    encodeVnetHdr({ flags: VNET_F_NEEDS_CSUM, gsoType: 0, hdrLen: 0, gsoSize: 0, csumStart: 60000, csumOffset: 16 }, bad);
    const got: Uint8Array[] = [];
    const marked: boolean[] = [];
    const asReceived: number[][] = [];
    link.onReceive = (p) => {
      // What the stack sees, while the link hands the packet up.
      marked.push(checksumComputed(p.subarray(20)));
      asReceived.push([p[36]!, p[37]!]);
      completeForCapture(p);
      got.push(p);
    };
    dev.deliver([new Uint8Array([...hdr, ...seg]), new Uint8Array([...bad, ...tcpSeg(1, 10)])]);
    assert.equal(got.length, 1);
    assert.equal(got[0]!.length, 20_040);
    assert.deepEqual(marked, [true], 'the stack does not verify it again');
    assert.deepEqual(asReceived[0], withTap ? full : [pseudo >> 8, pseudo & 0xff]);
    assert.deepEqual([got[0]![36], got[0]![37]], full);
    assert.ok(parseTcp(got[0]!.subarray(20), 0x0a000001, 0x0a000002, CHECKSUM_FULL).ok);
    assert.equal(link.stats.gsoIn, 1);
    assert.equal(link.stats.largestIn, 20_040);
    assert.equal(link.stats.csumCompleted, withTap ? 1 : 0);
    assert.equal(link.stats.csumTrusted, withTap ? 0 : 1);
    assert.equal(link.stats.dropsBadVnetHdr, 1);
  });
  }

  it('a run of segments leaves as one TSO write; other packets behind an all-zero header; with an impairment stage out, nothing is coalesced', async () => {
    const dev = new FakeVnetDevice();
    const link = new TunLink({ name: 'fake0', device: dev, mtu: 1500 });
    for (let i = 0; i < 5; i++) link.transmit(tcpSeg(1000 + i * 1460, 1460, i === 4 ? ACK | PSH : ACK));
    link.transmit(ipv4(60, 9));
    await tick();
    assert.equal(dev.chains.length, 2);
    const h = decodeVnetHdr(dev.chains[0]!);
    assert.equal(h.gsoType, VNET_GSO_TCPV4);
    assert.equal(h.gsoSize, 1460);
    assert.equal(dev.chains[0]!.length, VNET_HDR_LEN + 40 + 5 * 1460);
    assert.deepEqual([...dev.chains[1]!.subarray(0, VNET_HDR_LEN)], new Array(VNET_HDR_LEN).fill(0));
    assert.equal(link.stats.gsoOut, 1);
    assert.equal(link.stats.gsoOutSegments, 5);
    assert.equal(link.stats.packetsOut, 6);

    const dev2 = new FakeVnetDevice();
    const link2 = new TunLink({ name: 'fake0', device: dev2, mtu: 1500, impairOut: { duplicate: 0.0001 } });
    for (let i = 0; i < 5; i++) link2.transmit(tcpSeg(1000 + i * 1460, 1460));
    await link2.drain(1000);
    await tick();
    assert.ok(dev2.chains.length >= 5);
    assert.equal(link2.stats.gsoOut, 0);
    link.close();
    link2.close();
  });
});
