/**
 * UDP in the Stack (RFC 768, RFC 1122 §4.1, RFC 8200 §8.1, RFC 4443 §3.1)
 * over the in-memory network under the virtual clock: delivery and demux,
 * checksums of both versions, counted drops for every malformed datagram,
 * ICMP port unreachable (rate limited) and its report to a connected
 * socket, the receive-buffer bound, broadcast, and fragmentation of large
 * datagrams. A raw port ("the router") sends crafted packets and records
 * what the stacks send it.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Network } from '../../src/sim/network.ts';
import { parseIpv4Addr, setU16 } from '../../src/wire/bytes.ts';
import { emitIpv4, parseIpv4 } from '../../src/wire/ipv4.ts';
import { emitIpv6, parseIpv6, parseIpv6Addr, walkIpv6, type IpAddr, type Ipv6Addr } from '../../src/wire/ipv6.ts';
import { parseIcmpv6, type Icmpv6Repr } from '../../src/wire/icmpv6.ts';
import { emitUdp, parseUdp, udpPseudoV4, udpPseudoV6 } from '../../src/wire/udp.ts';
import { CHECKSUM_FULL, IPPROTO_ICMP, IPPROTO_UDP } from '../../src/wire/types.ts';
import { UdpSocket } from '../../src/udp/table.ts';
import { sendUdp } from '../../src/stack/udp.ts';
import type { Stack } from '../../src/stack/stack.ts';

const v6 = (s: string): Ipv6Addr => parseIpv6Addr(s)!;
const A6 = v6('fd00::1');
const B6 = v6('fd00::2');
const R6 = v6('fd00::fe');
const A4 = parseIpv4Addr('10.0.0.1')!;
const B4 = parseIpv4Addr('10.0.0.2')!;
const R4 = parseIpv4Addr('10.0.0.254')!;
const bytes6 = (a: Ipv6Addr): Uint8Array => {
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) setU16(out, i * 2, a.charCodeAt(i));
  return out;
};

function rig(opts: { mtu?: number } = {}) {
  const net = new Network({ seed: 7 });
  const hub = net.addHub({ checksumOffload: false, mtu: opts.mtu ?? 1500, impair: { delayUs: 1000 } });
  const a = net.addStack({ name: 'a' });
  const b = net.addStack({ name: 'b' });
  net.attach(a, hub, A4, 24, [{ addr: A6 }]);
  net.attach(b, hub, B4, 24, [{ addr: B6 }]);
  const router = hub.attach(R6).claim(R4);
  const atRouter: Uint8Array[] = [];
  router.onReceive = (p) => atRouter.push(p);
  const wire: Uint8Array[] = [];
  hub.tap = (_from, p) => wire.push(p.slice());
  return { net, hub, a, b, router, atRouter, wire };
}

function bound(s: Stack, family: 4 | 6, port = 0, addr?: IpAddr): UdpSocket {
  const u = new UdpSocket(family);
  s.udp.bind(u, addr ?? u.localAddr, port);
  return u;
}

/** A UDP datagram in an IP packet, checksummed (or with `checksum` forced into the header). */
function udpPacket(src: IpAddr, dst: IpAddr, srcPort: number, dstPort: number, data: Uint8Array, checksum?: number): Uint8Array {
  const len = 8 + data.length;
  if (typeof src === 'number') {
    const buf = new Uint8Array(20 + len);
    emitIpv4({ src, dst: dst as number, protocol: IPPROTO_UDP, ttl: 64, tos: 0, ident: 1, dontFragment: false, payloadLen: len }, buf, 0);
    emitUdp({ srcPort, dstPort, payload: data }, udpPseudoV4(src, dst as number), buf, 20, CHECKSUM_FULL);
    if (checksum !== undefined) setU16(buf, 26, checksum);
    return buf;
  }
  const buf = new Uint8Array(40 + len);
  emitIpv6({ src, dst: dst as Ipv6Addr, trafficClass: 0, flowLabel: 0, payloadLen: len, nextHeader: IPPROTO_UDP, hopLimit: 64 }, buf, 0);
  emitUdp({ srcPort, dstPort, payload: data }, udpPseudoV6(bytes6(src), bytes6(dst as Ipv6Addr)), buf, 40, CHECKSUM_FULL);
  if (checksum !== undefined) setU16(buf, 46, checksum);
  return buf;
}

function icmpv4From(list: Uint8Array[], src: number): Uint8Array[] {
  return list.filter((p) => {
    const r = parseIpv4(p, CHECKSUM_FULL);
    return r.ok && r.value.header.src === src && r.value.header.protocol === IPPROTO_ICMP;
  }).map((p) => p.subarray(20));
}

function icmpv6From(list: Uint8Array[], src: Ipv6Addr): Icmpv6Repr[] {
  const out: Icmpv6Repr[] = [];
  for (const p of list) {
    const r = parseIpv6(p);
    if (!r.ok || r.value.header.src !== src) continue;
    const w = walkIpv6(r.value.packet);
    if (!w.ok || w.kind !== 'upper' || w.protocol !== 58) continue;
    const m = parseIcmpv6(r.value.packet.subarray(w.offset), r.value.header.src, r.value.header.dst, CHECKSUM_FULL);
    if (m.ok) out.push(m.value);
  }
  return out;
}

const text = (d: Uint8Array): string => new TextDecoder().decode(d);
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('UDP in the stack', () => {
  for (const family of [4, 6] as const) {
    const [aAddr, bAddr] = family === 4 ? [A4, B4] : [A6, B6];
    test(`RFC 768 over IPv${family}: a datagram reaches the socket bound to its port, with its source, and its checksum verifies on the wire`, () => {
      const r = rig();
      const server = bound(r.b, family, 53);
      const client = bound(r.a, family);
      assert.ok(client.localPort >= 49152, 'an ephemeral port');
      assert.equal(sendUdp(r.a, client, bAddr, 53, enc('hello')), null);
      r.net.runFor(10_000);
      const d = server.shift()!;
      assert.equal(text(d.data), 'hello');
      assert.equal(d.src, aAddr);
      assert.equal(d.srcPort, client.localPort);
      const pkt = r.wire.find((p) => (p[0]! >>> 4) === family)!;
      const off = family === 4 ? 20 : 40;
      const ps = family === 4 ? udpPseudoV4(A4, B4) : udpPseudoV6(bytes6(A6), bytes6(B6));
      const u = parseUdp(pkt.subarray(off), ps, CHECKSUM_FULL);
      assert.ok(u.ok && u.value.dstPort === 53);
      assert.notEqual(pkt[off + 6]! | pkt[off + 7]!, 0, 'a checksum was computed');
      assert.equal(r.b.counters.udpIn, 1);
      assert.equal(r.a.counters.udpOut, 1);
    });

    test(`RFC 768 + RFC 791/8200 fragmentation over IPv${family}: a 60 KiB datagram leaves in MTU-sized fragments and arrives whole`, () => {
      const r = rig();
      const server = bound(r.b, family, 9);
      const client = bound(r.a, family);
      const data = new Uint8Array(60 * 1024);
      for (let i = 0; i < data.length; i++) data[i] = (i * 7 + 3) & 0xff;
      assert.equal(sendUdp(r.a, client, bAddr, 9, data), null);
      r.net.runFor(100_000);
      assert.ok(r.wire.length > 40, `${r.wire.length} fragments`);
      for (const p of r.wire) assert.ok(p.length <= 1500);
      const d = server.shift()!;
      assert.deepEqual(d.data, data);
      assert.equal(r.b.counters.reassembled, 1);
    });
  }

  test('RFC 1122 §4.1.3.1: a datagram to a closed port over IPv4 is a counted drop answered with ICMP port unreachable (type 3 code 3) quoting it', () => {
    const r = rig();
    r.router.transmit(udpPacket(R4, B4, 5000, 7777, enc('x')));
    r.net.runFor(10_000);
    assert.equal(r.b.counters.drops['udp-no-port'], 1);
    const [m] = icmpv4From(r.atRouter, B4);
    assert.ok(m);
    assert.deepEqual([m[0], m[1]], [3, 3]);
    // The quote: the IP header and the UDP header (ports 5000 → 7777).
    assert.equal((m[8 + 20 + 2]! << 8) | m[8 + 20 + 3]!, 7777);
  });

  test('RFC 4443 §3.1: a datagram to a closed port over IPv6 is answered with Destination Unreachable code 4, not Parameter Problem', () => {
    const r = rig();
    r.router.transmit(udpPacket(R6, B6, 5000, 7777, enc('x')));
    r.net.runFor(10_000);
    const errs = icmpv6From(r.atRouter, B6);
    assert.equal(errs.length, 1);
    assert.equal(errs[0]!.kind, 'dest-unreachable');
    assert.equal(errs[0]!.code, 4);
    assert.equal(r.b.counters.drops['udp-no-port'], 1);
    assert.equal(r.b.counters.drops['ipv6-unknown-next-header'], undefined);
  });

  test('RFC 1812 §4.3.2.8 / RFC 4443 §2.4 (f): port unreachables are rate limited (10 in a burst), every suppressed one counted', () => {
    const r = rig();
    for (let i = 0; i < 25; i++) r.router.transmit(udpPacket(R4, B4, 5000, 7777, enc('x')));
    for (let i = 0; i < 25; i++) r.router.transmit(udpPacket(R6, B6, 5000, 7777, enc('x')));
    r.net.runFor(20_000);
    assert.equal(icmpv4From(r.atRouter, B4).length, 10);
    assert.equal(icmpv6From(r.atRouter, B6).length, 10);
    assert.equal(r.b.counters.drops['icmp-rate-limited'], 15);
    assert.equal(r.b.counters.drops['icmpv6-rate-limited'], 15);
    assert.equal(r.b.counters.drops['udp-no-port'], 50);
  });

  test('RFC 1122 §4.1.3.4, RFC 8200 §8.1: bad checksums, a zero IPv6 checksum, bad lengths and short datagrams are counted drops; a zero IPv4 checksum means none', () => {
    const r = rig();
    const s4 = bound(r.b, 4, 53);
    const s6 = new UdpSocket(6);
    s6.v6Only = true;
    r.b.udp.bind(s6, s6.localAddr, 53);
    r.router.transmit(udpPacket(R4, B4, 1, 53, enc('bad'), 0x1234));
    r.router.transmit(udpPacket(R6, B6, 1, 53, enc('bad'), 0x1234));
    r.router.transmit(udpPacket(R6, B6, 1, 53, enc('zero'), 0));
    r.router.transmit(udpPacket(R4, B4, 1, 53, enc('none'), 0));
    const long = udpPacket(R4, B4, 1, 53, enc('long'));
    setU16(long, 24, 100); // UDP length past the end of the IP datagram
    r.router.transmit(long);
    const short = udpPacket(R6, B6, 1, 53, enc('short'));
    setU16(short, 44, 7); // less than the header
    r.router.transmit(short);
    const trunc = new Uint8Array(20 + 4);
    emitIpv4({ src: R4, dst: B4, protocol: IPPROTO_UDP, ttl: 64, tos: 0, ident: 9, dontFragment: false, payloadLen: 4 }, trunc, 0);
    r.router.transmit(trunc);
    r.net.runFor(10_000);
    assert.equal(r.b.counters.drops['udp-bad-checksum'], 2);
    assert.equal(r.b.counters.drops['udp-zero-checksum'], 1);
    assert.equal(r.b.counters.drops['udp-bad-length'], 2);
    assert.equal(r.b.counters.drops['udp-truncated'], 1);
    assert.equal(r.b.counters.checksumErrors, 2);
    assert.deepEqual(s4.queue.map((d) => text(d.data)), ['none']);
    assert.equal(s6.queue.length, 0);
    assert.equal(r.atRouter.length, 0, 'no ICMP error about a malformed datagram');
  });

  test('RFC 768 demux: a connected socket takes its peer\'s datagrams before a wildcard socket, a specific address before the wildcard', () => {
    const r = rig();
    const wild = new UdpSocket(4);
    wild.reuseAddr = true;
    r.b.udp.bind(wild, 0, 7000);
    const conn = new UdpSocket(4);
    conn.reuseAddr = true;
    r.b.udp.bind(conn, B4, 7000);
    conn.remoteAddr = R4;
    conn.remotePort = 1111;
    r.router.transmit(udpPacket(R4, B4, 1111, 7000, enc('to-connected')));
    r.router.transmit(udpPacket(R4, B4, 2222, 7000, enc('to-wildcard')));
    r.net.runFor(10_000);
    assert.deepEqual(conn.queue.map((d) => text(d.data)), ['to-connected']);
    assert.deepEqual(wild.queue.map((d) => text(d.data)), ['to-wildcard']);
  });

  test('bind: the same port twice is ERR_SYNACK_ADDRESS_IN_USE unless both set SO_REUSEADDR; a dual-stack :: socket holds the IPv4 port too; UDP ports are not TCP ports', () => {
    const r = rig();
    bound(r.b, 4, 8000);
    assert.throws(() => bound(r.b, 4, 8000), { code: 'ERR_SYNACK_ADDRESS_IN_USE' });
    assert.throws(() => bound(r.b, 4, 8000, B4), { code: 'ERR_SYNACK_ADDRESS_IN_USE' });
    bound(r.b, 6, 8001);
    assert.throws(() => bound(r.b, 4, 8001), { code: 'ERR_SYNACK_ADDRESS_IN_USE' });
    const v6only = new UdpSocket(6);
    v6only.v6Only = true;
    r.b.udp.bind(v6only, v6only.localAddr, 8002);
    bound(r.b, 4, 8002);
    r.b.listen(8003);
    bound(r.b, 4, 8003);
  });

  test('RFC 1122 §4.1.3.3 (as Linux): a port unreachable about a connected socket\'s datagram sets ECONNREFUSED on it; an unconnected socket is not told', () => {
    const r = rig();
    const conn = bound(r.a, 4);
    conn.remoteAddr = B4;
    conn.remotePort = 9999;
    const unconn = bound(r.a, 4);
    let woke = 0;
    conn.onReadable = () => woke++;
    sendUdp(r.a, conn, B4, 9999, enc('a'));
    sendUdp(r.a, unconn, B4, 9999, enc('b'));
    r.net.runFor(10_000);
    assert.equal(conn.error, 'ECONNREFUSED');
    assert.equal(woke, 1);
    assert.equal(unconn.error, null);
    assert.equal(r.a.counters.drops['icmp-no-connection'], 1);
  });

  test('receive queue bound: datagrams past SO_RCVBUF are counted drops (udp-rcvbuf-full), none is lost silently', () => {
    const r = rig();
    const s = bound(r.b, 4, 53);
    s.rcvbuf = 4608;
    for (let i = 0; i < 20; i++) r.router.transmit(udpPacket(R4, B4, 1, 53, new Uint8Array(1000)));
    r.net.runFor(10_000);
    const dropped = r.b.counters.drops['udp-rcvbuf-full'] ?? 0;
    assert.ok(s.queue.length >= 3 && s.queue.length <= 5, `${s.queue.length} queued`);
    assert.equal(s.queue.length + dropped, 20);
    while (s.shift());
    assert.equal(s.queuedBytes, 0);
  });

  test('broadcast: EACCES without SO_BROADCAST; a datagram to the subnet broadcast reaches wildcard sockets on the port and never draws an ICMP error', () => {
    const r = rig();
    const c = bound(r.a, 4);
    const bcast = parseIpv4Addr('10.0.0.255')!;
    assert.equal(sendUdp(r.a, c, bcast, 67, enc('x')), 'EACCES');
    assert.equal(sendUdp(r.a, c, 0xffffffff, 67, enc('x')), 'EACCES');
    c.broadcast = true;
    assert.equal(sendUdp(r.a, c, bcast, 67, enc('x')), null);
    const s = bound(r.b, 4, 67);
    const iface = r.b.interfaces[0]!;
    r.b.receive(iface, udpPacket(R4, bcast, 68, 67, enc('discover')));
    r.b.receive(iface, udpPacket(R4, 0xffffffff, 68, 67, enc('limited')));
    r.b.receive(iface, udpPacket(R4, bcast, 68, 99, enc('nobody')));
    r.net.runFor(10_000);
    assert.deepEqual(s.queue.map((d) => text(d.data)), ['discover', 'limited']);
    assert.equal(r.b.counters.drops['udp-no-port'], 1);
    assert.equal(icmpv4From(r.atRouter, B4).length, 0);
  });
});
