/**
 * Super-segments on TUN and TAP links (issue 14 items 2-3), with a fake
 * device (no kernel; test/interop/offload.test.ts takes them to Linux):
 * a link with TSO advertises Link.tsoMaxBytes / transmitGso, the stack
 * hands it one TCP segment of several MSS, and it leaves as one chain —
 * [virtio_net_hdr (NEEDS_CSUM, TCPV4/TCPV6, gso_size), headers, payload
 * by reference] — that cut as the kernel cuts it (wire/tcp.ts
 * segmentPartialTcp) gives the bytes the stack builds segment by segment.
 * Without offloads, with an impairment stage or with stack hooks there is
 * no capability.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FakeTapDevice } from './fake-tap.ts';
import { TunLink } from '../../src/links/tun.ts';
import { attachTap } from '../../src/links/tap.ts';
import { decodeVnetHdr, GSO_MAX_BYTES, VNET_F_NEEDS_CSUM, VNET_GSO_TCPV4, VNET_GSO_TCPV6, VNET_HDR_LEN } from '../../src/links/vnet.ts';
import { emitIpv4Tcp, emitIpv6Tcp, segmentPartialTcp } from '../../src/wire/tcp.ts';
import { ACK, CHECKSUM_FULL, FIN, PSH, type TcpRepr } from '../../src/wire/types.ts';
import { ipv6FromWords, type Ipv6Addr } from '../../src/wire/ipv6.ts';
import { concatBytes } from '../../src/wire/bytes.ts';
import { Network } from '../../src/sim/network.ts';
import { gsoMaxSegment, sendSegment } from '../../src/stack/ip-output.ts';
import type { Stack } from '../../src/stack/stack.ts';

const KERNEL_IP = 0x0a000001;
const SYNACK_IP = 0x0a000002;
const KERNEL_IP6 = ipv6FromWords([0xfd00, 0, 0, 0, 0, 0, 0, 1]) as Ipv6Addr;
const SYNACK_IP6 = ipv6FromWords([0xfd00, 0, 0, 0, 0, 0, 0, 2]) as Ipv6Addr;
const KERNEL_MAC = 0x0a0000000001;
/** 1500 − 20 (IPv4) − 20 (TCP) − 12 (timestamps); IPv6: 1500 − 40 − 20 − 12. */
const MSS4 = 1448;
const MSS6 = 1428;
let MSS = MSS4;

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

function seg(len: number, flags = ACK | PSH, seq = 0xfffff000): TcpRepr {
  const payload = new Uint8Array(len);
  for (let i = 0; i < len; i++) payload[i] = (i * 13 + 7) & 0xff;
  return { srcPort: 80, dstPort: 5000, seq, ack: 77, flags, window: 1000, urgentPointer: 0, options: [{ kind: 'timestamp', tsval: 5, tsecr: 6 }], payload };
}

/** A TUN link (the fake device without its TAP role) in a stack with both address families. */
function tunStack(opts: { impairOut?: boolean; offloads?: number } = {}): { stack: Stack; link: TunLink; dev: FakeTapDevice } {
  const net = new Network({ seed: 1 });
  const stack = net.addStack({ name: 'synack' });
  const dev = new FakeTapDevice();
  if (opts.offloads !== undefined) (dev as { offloads: number }).offloads = opts.offloads;
  const link = new TunLink({ name: 'fake0', device: dev, mtu: 1500, ...(opts.impairOut ? { impairOut: { loss: 0.5 } } : {}) });
  stack.addInterface({ link, addr: SYNACK_IP, prefixLen: 24, more: [{ addr: SYNACK_IP6, prefixLen: 64 }] });
  return { stack, link, dev };
}

/** The same segment built whole, MSS by MSS, as the stack does without the capability (the IPv4 id one more per packet). */
function wholeSegments(s: TcpRepr, v6: boolean, ident: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let off = 0, k = 0; off < s.payload.length; off += MSS, k++) {
    const last = off + MSS >= s.payload.length;
    const piece: TcpRepr = { ...s, seq: (s.seq + off) >>> 0, flags: last ? s.flags : s.flags & ~(PSH | FIN), payload: s.payload.subarray(off, off + MSS) };
    out.push(
      v6
        ? emitIpv6Tcp({ src: SYNACK_IP6, dst: KERNEL_IP6, hopLimit: 64, trafficClass: 0, flowLabel: 0 }, piece, CHECKSUM_FULL)
        : emitIpv4Tcp({ src: SYNACK_IP, dst: KERNEL_IP, ttl: 64, tos: 0, ident: (ident + k) & 0xffff, dontFragment: true }, piece, CHECKSUM_FULL),
    );
  }
  return out;
}


describe('super-segments on a TUN link with TSO (fake device)', () => {
  it('the capability: tsoMaxBytes 65535 with checksum, TSO4 and TSO6 accepted; none with offloads off, an impairment on the way out, or stack hooks', () => {
    const a = tunStack();
    assert.equal(a.link.tsoMaxBytes, GSO_MAX_BYTES);
    assert.equal(typeof a.link.transmitGso, 'function');
    assert.equal(gsoMaxSegment(a.stack, KERNEL_IP), 65535 - 20);
    assert.equal(gsoMaxSegment(a.stack, KERNEL_IP6), 65535 - 40);
    a.stack.addHook(() => {});
    assert.equal(gsoMaxSegment(a.stack, KERNEL_IP), 0, 'hooks see every segment as it goes on the wire');
    const off = tunStack({ offloads: 0 });
    assert.equal(off.link.transmitGso, undefined);
    assert.equal(gsoMaxSegment(off.stack, KERNEL_IP), 0);
    const imp = tunStack({ impairOut: true });
    assert.equal(imp.link.transmitGso, undefined);
    assert.equal(gsoMaxSegment(imp.stack, KERNEL_IP), 0);
    a.link.close();
    off.link.close();
    imp.link.close();
  });

  for (const v6 of [false, true]) {
    it(`IPv${v6 ? 6 : 4}: one write carries 40 × MSS + a tail — virtio_net_hdr NEEDS_CSUM, ${v6 ? 'TCPV6' : 'TCPV4'}, gso_size = MSS; payload by reference; cut, byte for byte the segments built one by one`, async () => {
      MSS = v6 ? MSS6 : MSS4;
      const { stack, link, dev } = tunStack();
      const s = seg(40 * MSS + 500, ACK | PSH | FIN);
      const ident = (stack as unknown as { ipIdent: number }).ipIdent + 1;
      sendSegment(stack, v6 ? SYNACK_IP6 : SYNACK_IP, v6 ? KERNEL_IP6 : KERNEL_IP, s, null, 0, null, MSS);
      await tick();
      assert.equal(dev.chainParts.length, 1, 'one write');
      const chain = dev.chainParts[0]!;
      assert.equal(chain.length, 3, 'header, IP+TCP headers, payload');
      assert.equal(chain[2], s.payload, 'the payload is written by reference (no copy)');
      const l3 = v6 ? 40 : 20;
      assert.deepEqual(decodeVnetHdr(chain[0]!), { flags: VNET_F_NEEDS_CSUM, gsoType: v6 ? VNET_GSO_TCPV6 : VNET_GSO_TCPV4, hdrLen: l3 + 32, gsoSize: MSS, csumStart: l3, csumOffset: 16 });
      const pkt = concatBytes(chain.slice(1));
      const cut = segmentPartialTcp(chain[1]!, [chain[2]!], 0, l3, MSS);
      const want = wholeSegments(s, v6, ident);
      if (v6) {
        // The flow label is the stack's (RFC 6437), not the reference's 0.
        for (const w of want) w.set(cut[0]!.subarray(1, 4), 1);
      }
      assert.equal(cut.length, 41);
      assert.deepEqual(cut, want);
      assert.equal(pkt.length, l3 + 32 + s.payload.length);
      assert.equal(link.stats.superOut, 1);
      assert.equal(link.stats.gsoOut, 1);
      assert.equal(link.stats.gsoOutSegments, 41);
      assert.equal(link.stats.packetsOut, 41);
      assert.equal(link.stats.bytesOut, pkt.length);
      assert.equal(stack.counters.superSegmentsOut, 1);
      link.close();
    });
  }

  it('a capture on the link sees the segments the kernel will make, each with its complete checksum', async () => {
    MSS = MSS4;
    const { stack, link } = tunStack();
    const seen: Uint8Array[] = [];
    link.tap = (dir, p) => {
      if (dir === 'out') seen.push(p.slice());
    };
    const s = seg(3 * MSS);
    const ident = (stack as unknown as { ipIdent: number }).ipIdent + 1;
    sendSegment(stack, SYNACK_IP, KERNEL_IP, s, null, 0, null, MSS);
    assert.deepEqual(seen, wholeSegments(s, false, ident));
    link.close();
  });

  it('a super-segment handed to a route that cannot cut it (the capability gone meanwhile) is cut by the stack: the same whole segments', async () => {
    MSS = MSS4;
    const { stack, link, dev } = tunStack({ offloads: 0 });
    const s = seg(7 * MSS + 3, ACK | PSH | FIN);
    const ident = (stack as unknown as { ipIdent: number }).ipIdent + 1;
    sendSegment(stack, SYNACK_IP, KERNEL_IP, s, null, 0, null, MSS);
    await tick();
    assert.deepEqual(
      dev.chainParts.map((c) => concatBytes(c.slice(1))),
      wholeSegments(s, false, ident),
    );
    assert.equal(stack.counters.superSegmentsOut, 0);
    link.close();
  });

  it('a super-segment whose piece would not fit the MTU is dropped (counted), never written', async () => {
    const { link, dev } = tunStack();
    const head = new Uint8Array(52);
    head[0] = 0x45;
    link.transmitGso!(head, [new Uint8Array(4000)], 20, 1500);
    await tick();
    assert.equal(dev.chainParts.length, 0);
    assert.equal(link.stats.dropsTooBig, 1);
    link.close();
  });
});

describe('super-segments on a TAP link (fake device)', () => {
  it('to a resolved neighbour: one chain behind the Ethernet header (offsets from the frame start); unresolved: cut in software, whole frames', async () => {
    MSS = MSS4;
    const net = new Network({ seed: 1 });
    const stack = net.addStack({ name: 'synack' });
    const dev = new FakeTapDevice();
    const { link, eth } = attachTap(stack, { name: 'faketap0', device: dev, mtu: 1500 }, { mac: 0x020000000002, addrs: [{ addr: SYNACK_IP, prefixLen: 24 }], dadTransmits: 0 });
    await tick();
    assert.equal(gsoMaxSegment(stack, KERNEL_IP), 65535 - 20);
    eth.neighbors.learn(KERNEL_IP, KERNEL_MAC, stack.clock.now(), true, true);
    dev.chainParts.length = 0;
    const s = seg(10 * MSS);
    const ident = (stack as unknown as { ipIdent: number }).ipIdent + 1;
    sendSegment(stack, SYNACK_IP, KERNEL_IP, s, null, 0, null, MSS);
    await tick();
    assert.equal(dev.chainParts.length, 1);
    const chain = dev.chainParts[0]!;
    assert.deepEqual(decodeVnetHdr(chain[0]!), { flags: VNET_F_NEEDS_CSUM, gsoType: VNET_GSO_TCPV4, hdrLen: 14 + 20 + 32, gsoSize: MSS, csumStart: 14 + 20, csumOffset: 16 });
    const cut = segmentPartialTcp(chain[1]!, [chain[2]!], 14, 34, MSS).map((f) => f.subarray(14));
    assert.deepEqual(cut, wholeSegments(s, false, ident));
    assert.equal(link.stats.superOut, 1);
    // A next hop not yet resolved: the packets wait whole (cut here), each at most the MTU.
    dev.chainParts.length = 0;
    const OTHER = 0x0a000007;
    sendSegment(stack, SYNACK_IP, OTHER, seg(5 * MSS), null, 0, null, MSS);
    eth.neighbors.learn(OTHER, 0x0a0000000007, stack.clock.now(), true, true);
    await tick();
    // The neighbour queue keeps the latest 3 packets (Linux's unres_qlen),
    // as for segments sent one by one; on resolution they leave as whole
    // MSS-sized frames — which the link joins into one TSO write
    // (coalesceTcp), not a super-segment of the stack's.
    assert.equal(link.stats.superOut, 1, 'no second super-segment');
    const tcp = dev.chainParts.filter((c) => c[0]![1] === VNET_GSO_TCPV4);
    assert.equal(tcp.length, 1);
    assert.equal(tcp[0]!.length, 1 + 3, 'the coalesced header, then three payloads');
    assert.ok(tcp[0]!.slice(1).every((p) => p.length === MSS), 'each a whole MSS');
    assert.ok(tcp[0]![0]!.length > VNET_HDR_LEN);
    link.close();
  });
});
