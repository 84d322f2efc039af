/**
 * Gather output with checksum offload on a TAP link (issue 15): a large TCP
 * segment leaves as [virtio_net_hdr with NEEDS_CSUM, the frame's headers,
 * the payload as a view] — no copy of the payload, no checksum pass — and
 * the checksum the device completes (csum_start/csum_offset, as Linux's
 * skb_checksum_help and links/vnet.ts's completePartialChecksum do) is the
 * segment's full checksum. A fake TAP device stands in for the addon, so
 * this runs anywhere; test/interop/tap-gather-kernel.test.ts sends such
 * segments to Linux.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FakeTapDevice as FakeTap } from './fake-tap.ts';
import { attachTap } from '../../src/links/tap.ts';
import { completePartialChecksum, decodeVnetHdr, VNET_F_NEEDS_CSUM, VNET_GSO_NONE, VNET_HDR_LEN } from '../../src/links/vnet.ts';
import { emitIpv4Tcp, emitIpv4TcpHead, emitIpv6Tcp, emitIpv6TcpHead, joinPartialTcp, parseTcp } from '../../src/wire/tcp.ts';
import { ACK, CHECKSUM_FULL, type TcpRepr } from '../../src/wire/types.ts';
import { arpReplyTo, arpRequest, buildArpFrame, parseArp } from '../../src/wire/arp.ts';
import { ETHERTYPE_ARP, parseEthernet } from '../../src/wire/ethernet.ts';
import { ipv6FromWords, type Ipv6Addr } from '../../src/wire/ipv6.ts';
import { Network } from '../../src/sim/network.ts';
import { GATHER_MIN_PAYLOAD, sendSegment } from '../../src/stack/ip-output.ts';
import { checksumComputed, completeForCapture } from '../../src/stack/rx-verified.ts';
import { TapLink } from '../../src/links/tap.ts';
import { encodeVnetHdr } from '../../src/links/vnet.ts';
import { buildEthernetFrame, ETHERTYPE_IPV4 } from '../../src/wire/ethernet.ts';
import { SendBuffer, sendPoolFreeBlocks, trimSendPool } from '../../src/tcp/send-buffer.ts';

const KERNEL_MAC = 0x0a0000000001;
const SYNACK_MAC = 0x020000000002;
const KERNEL_IP = 0x0a000001;
const SYNACK_IP = 0x0a000002;
const OTHER_IP = 0x0a000009;
const KERNEL_IP6 = ipv6FromWords([0xfd00, 0, 0, 0, 0, 0, 0, 1]) as Ipv6Addr;
const SYNACK_IP6 = ipv6FromWords([0xfd00, 0, 0, 0, 0, 0, 0, 2]) as Ipv6Addr;


/** A chain's frame (virtio_net_hdr removed), joined. */
function frameOf(chain: Uint8Array[]): Uint8Array {
  const n = chain.slice(1).reduce((s, p) => s + p.length, 0);
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of chain.slice(1)) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function seg(len: number, seq = 1000): TcpRepr {
  const payload = new Uint8Array(len);
  for (let i = 0; i < len; i++) payload[i] = (i * 7 + seq) & 0xff;
  return { srcPort: 80, dstPort: 5000, seq, ack: 1, flags: ACK, window: 1000, urgentPointer: 0, options: [{ kind: 'timestamp', tsval: 5, tsecr: 6 }], payload };
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

function setup(mtu = 65520): { dev: FakeTap; stack: ReturnType<Network['addStack']>; eth: ReturnType<typeof attachTap>['eth']; link: ReturnType<typeof attachTap>['link']; captured: Uint8Array[] } {
  const net = new Network({ seed: 1 });
  const stack = net.addStack({ name: 'synack' });
  const dev = new FakeTap();
  const { link, eth } = attachTap(stack, { name: 'faketap0', device: dev, mtu }, { mac: SYNACK_MAC, addrs: [{ addr: SYNACK_IP, prefixLen: 24 }, { addr: SYNACK_IP6, prefixLen: 64 }], dadTransmits: 0 });
  const captured: Uint8Array[] = [];
  eth.tap = (dir, f) => {
    if (dir === 'out') captured.push(f.slice());
  };
  return { dev, stack, eth, link, captured };
}

describe('gather output with checksum offload (fake TAP device)', () => {
  it('emitIpv4TcpHead / emitIpv6TcpHead + joinPartialTcp give the very bytes emitIpv4Tcp / emitIpv6Tcp build whole, checksum included', () => {
    const s = seg(30_000);
    const ip4 = { src: SYNACK_IP, dst: KERNEL_IP, ttl: 64, tos: 0, ident: 7, dontFragment: true };
    assert.deepEqual(joinPartialTcp(emitIpv4TcpHead(ip4, s), [s.payload], 20), emitIpv4Tcp(ip4, s, CHECKSUM_FULL));
    const ip6 = { src: SYNACK_IP6, dst: KERNEL_IP6, hopLimit: 64, trafficClass: 0, flowLabel: 12345 };
    assert.deepEqual(joinPartialTcp(emitIpv6TcpHead(ip6, s), [s.payload], 40), emitIpv6Tcp(ip6, s, CHECKSUM_FULL));
  });

  it('a segment of 60,000 payload bytes to a resolved neighbour leaves as one chain — NEEDS_CSUM header, the frame headers, the payload by reference — whose completed checksum is valid; the capture sees the frame whole with that checksum', async () => {
    const { dev, stack, eth, link, captured } = setup();
    await tick();
    eth.neighbors.learn(KERNEL_IP, KERNEL_MAC, stack.clock.now(), true, true);
    dev.chainParts.length = 0;
    captured.length = 0;
    const out0 = { packets: link.stats.packetsOut, bytes: link.stats.bytesOut };
    const s = seg(60_000);
    sendSegment(stack, SYNACK_IP, KERNEL_IP, s, null);
    await tick();
    assert.equal(dev.chainParts.length, 1);
    const chain = dev.chainParts[0]!;
    assert.equal(chain.length, 3, 'header, frame headers, payload');
    assert.equal(chain[2], s.payload, 'the payload is written by reference (no copy)');
    const h = decodeVnetHdr(chain[0]!);
    assert.deepEqual(h, { flags: VNET_F_NEEDS_CSUM, gsoType: VNET_GSO_NONE, hdrLen: 14 + 20 + 32, gsoSize: 0, csumStart: 14 + 20, csumOffset: 16 });
    const frame = frameOf(chain);
    const f = parseEthernet(frame);
    assert.ok(f.ok && f.value.header.dst === KERNEL_MAC && f.value.header.src === SYNACK_MAC);
    // As sent the field holds the pseudo-header sum: invalid until completed.
    assert.equal(parseTcp(frame.subarray(34), SYNACK_IP, KERNEL_IP, CHECKSUM_FULL).ok, false);
    assert.ok(completePartialChecksum(frame, h.csumStart, h.csumOffset));
    const t = parseTcp(frame.subarray(34), SYNACK_IP, KERNEL_IP, CHECKSUM_FULL);
    assert.ok(t.ok, 'the completed checksum verifies');
    assert.deepEqual(t.value.payload, s.payload);
    assert.deepEqual(captured, [frame], 'the capture: the frame as the device puts it on the wire');
    assert.equal(link.stats.csumOffloadOut, 1);
    assert.equal(link.stats.packetsOut - out0.packets, 1);
    assert.equal(link.stats.bytesOut - out0.bytes, frame.length);
    link.close();
  });

  it('over IPv6 the checksum starts after the 40-octet header and covers RFC 8200 §8.1 pseudo-header', async () => {
    const { dev, stack, eth, link } = setup();
    await tick();
    eth.neighbors.learn(KERNEL_IP6, KERNEL_MAC, stack.clock.now(), true, true);
    dev.chainParts.length = 0;
    const s = seg(40_000);
    sendSegment(stack, SYNACK_IP6, KERNEL_IP6, s, null);
    await tick();
    assert.equal(dev.chainParts.length, 1);
    const h = decodeVnetHdr(dev.chainParts[0]![0]!);
    assert.equal(h.flags, VNET_F_NEEDS_CSUM);
    assert.equal(h.csumStart, 14 + 40);
    const frame = frameOf(dev.chainParts[0]!);
    assert.ok(completePartialChecksum(frame, h.csumStart, h.csumOffset));
    const t = parseTcp(frame.subarray(54), SYNACK_IP6, KERNEL_IP6, CHECKSUM_FULL);
    assert.ok(t.ok);
    assert.deepEqual(t.value.payload, s.payload);
    link.close();
  });

  it(`a segment below ${GATHER_MIN_PAYLOAD} payload bytes is built whole (all-zero header, checksum complete); so is a large one while stack hooks watch`, async () => {
    const { dev, stack, eth, link } = setup();
    await tick();
    eth.neighbors.learn(KERNEL_IP, KERNEL_MAC, stack.clock.now(), true, true);
    dev.chainParts.length = 0;
    sendSegment(stack, SYNACK_IP, KERNEL_IP, seg(GATHER_MIN_PAYLOAD - 1), null);
    const unhook = stack.addHook(() => {});
    sendSegment(stack, SYNACK_IP, KERNEL_IP, seg(50_000), null);
    unhook();
    await tick();
    assert.equal(dev.chainParts.length, 2);
    for (const chain of dev.chainParts) {
      assert.equal(chain.length, 2);
      assert.equal(decodeVnetHdr(chain[0]!).flags, 0);
      assert.ok(parseTcp(frameOf(chain).subarray(34), SYNACK_IP, KERNEL_IP, CHECKSUM_FULL).ok);
    }
    assert.equal(link.stats.csumOffloadOut, 0);
    link.close();
  });

  it('to a neighbour not yet resolved the segment waits whole, its checksum completed, and leaves after the ARP reply (RFC 1122 §2.3.2.2)', async () => {
    const { dev, stack, link } = setup();
    await tick();
    dev.chainParts.length = 0;
    const s = seg(50_000);
    sendSegment(stack, SYNACK_IP, OTHER_IP, s, null);
    await tick();
    assert.equal(dev.chainParts.length, 1, 'only the ARP request');
    const req = parseEthernet(frameOf(dev.chainParts[0]!));
    assert.ok(req.ok && req.value.header.ethertype === ETHERTYPE_ARP);
    const a = parseArp(req.value.payload);
    assert.ok(a.ok && a.value.targetIp === OTHER_IP);
    dev.deliver([{ frame: buildArpFrame(arpReplyTo(arpRequest(SYNACK_MAC, SYNACK_IP, OTHER_IP), KERNEL_MAC + 8), SYNACK_MAC) }]);
    await tick();
    assert.equal(dev.chainParts.length, 2);
    const chain = dev.chainParts[1]!;
    assert.equal(decodeVnetHdr(chain[0]!).flags, 0);
    const t = parseTcp(frameOf(chain).subarray(34), SYNACK_IP, OTHER_IP, CHECKSUM_FULL);
    assert.ok(t.ok);
    assert.deepEqual(t.value.payload, s.payload);
    assert.equal(link.stats.csumOffloadOut, 0);
    link.close();
  });

  it('an impairment stage on the way out turns gather output off (a corrupted byte must meet a checksum the kernel checks)', () => {
    const dev = new FakeTap();
    const net = new Network({ seed: 1 });
    const { link, eth } = attachTap(net.addStack({ name: 's' }), { name: 'faketap0', device: dev, mtu: 65520, impairOut: { loss: 0.1 } }, { mac: SYNACK_MAC, addrs: [{ addr: SYNACK_IP, prefixLen: 24 }] });
    assert.equal(link.transmitPartial, undefined);
    assert.equal(eth.transmitPartial, undefined);
    link.close();
  });

  it('a received packet with the kernel\'s partial TCP checksum is marked (the stack does not verify it, as the kernel does not) and completed for a capture; not when the checksum is not its TCP checksum, nor under an impairment stage on the way in', () => {
    const s = seg(20_000);
    const ip = { src: KERNEL_IP, dst: SYNACK_IP, ttl: 64, tos: 0, ident: 1, dontFragment: true };
    const head = emitIpv4TcpHead(ip, s);
    const partial = new Uint8Array(head.length + s.payload.length);
    partial.set(head);
    partial.set(s.payload, head.length);
    const frame = buildEthernetFrame({ dst: SYNACK_MAC, src: KERNEL_MAC, ethertype: ETHERTYPE_IPV4, tags: [] }, partial);
    const hdr = (csumStart: number, csumOffset: number): Uint8Array => {
      const h = new Uint8Array(VNET_HDR_LEN);
      encodeVnetHdr({ flags: VNET_F_NEEDS_CSUM, gsoType: VNET_GSO_NONE, hdrLen: 0, gsoSize: 0, csumStart, csumOffset }, h, 0);
      return h;
    };
    for (const [impair, csumStart, csumOffset, marked] of [
      [false, 34, 16, true],
      [false, 40, 10, false],
      [true, 34, 16, false],
    ] as const) {
      const dev = new FakeTap();
      const link = new TapLink({ name: 'faketap0', device: dev, mtu: 65520, ...(impair ? { impairIn: { duplicate: 0.01 } } : {}) });
      link.partialChecksumsIn = true; // as the Ethernet interface sets it
      const got: Uint8Array[] = [];
      const seen: boolean[] = [];
      link.onReceive = (f) => {
        seen.push(checksumComputed(f.subarray(34)));
        completeForCapture(f);
        got.push(f);
      };
      dev.deliver([{ frame, hdr: hdr(csumStart, csumOffset) }]);
      assert.equal(got.length, 1);
      assert.deepEqual(seen, [marked], `impair ${impair}, csum_start ${csumStart}`);
      if (marked) assert.ok(parseTcp(got[0]!.subarray(34), KERNEL_IP, SYNACK_IP, CHECKSUM_FULL).ok, 'completed for a capture, the checksum is valid');
      link.close();
    }
  });

  it('a payload the link writes later holds the send-buffer pool until the write: acknowledged before it, the block is not reused meanwhile, so later copies never reach the wire in its place; after the write it is back in the pool (a copying link leaves it to the pool at once)', async () => {
    const { dev, stack, eth, link } = setup();
    await tick();
    eth.neighbors.learn(KERNEL_IP, KERNEL_MAC, stack.clock.now(), true, true);
    dev.chainParts.length = 0;
    trimSendPool();
    const sb = new SendBuffer();
    const bytes = seg(65_536).payload;
    sb.pushCopy(bytes);
    const s = { ...seg(0), payload: sb.views(0, 60_000, 1)![0]! };
    sendSegment(stack, SYNACK_IP, KERNEL_IP, s, null);
    // Acknowledged (say) before the device write, and the block's space asked for again.
    sb.consume(sb.length);
    assert.equal(sendPoolFreeBlocks(), 0, 'held: not back in the pool before the write');
    const other = new SendBuffer();
    other.pushCopy(new Uint8Array(65_536).fill(0xaa));
    await tick();
    assert.equal(dev.chainParts.length, 1);
    const frame = frameOf(dev.chainParts[0]!);
    const h = decodeVnetHdr(dev.chainParts[0]![0]!);
    assert.ok(completePartialChecksum(frame, h.csumStart, h.csumOffset));
    const t = parseTcp(frame.subarray(34), SYNACK_IP, KERNEL_IP, CHECKSUM_FULL);
    assert.ok(t.ok);
    assert.deepEqual(t.value.payload, bytes.subarray(0, 60_000), 'the bytes sent are the bytes written');
    assert.equal(sendPoolFreeBlocks(), 1, 'written: the acknowledged block is back in the pool');
    trimSendPool();
    // Below the gather threshold the packet is built whole: nothing keeps the block.
    const small = new SendBuffer();
    small.pushCopy(bytes);
    sendSegment(stack, SYNACK_IP, KERNEL_IP, { ...seg(0), payload: small.views(0, 1000, 1)![0]! }, null);
    small.consume(small.length);
    assert.equal(sendPoolFreeBlocks(), 1, 'copied into its packet: the block goes back to the pool');
    await tick();
    link.close();
  });
});
