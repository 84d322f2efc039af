/**
 * Forwarding interfaces (stack/forward.ts): a stack that takes TCP SYNs and
 * UDP datagrams to ANY destination on one interface and lets the
 * application decide — the core of user-mode networking (src/gateway/).
 * A synack guest and a forwarding "gateway" stack on the in-memory Ethernet
 * switch, under the virtual clock; the switch's tap records the wire.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Network } from '../../src/sim/network.ts';
import type { Stack } from '../../src/stack/stack.ts';
import type { ForwardedDatagram, TcpForwardRequest } from '../../src/stack/forward.ts';
import { sendForwardedUdp } from '../../src/stack/forward.ts';
import type { Connection } from '../../src/tcp/connection.ts';
import type { ConnectionEvent } from '../../src/tcp/events.ts';
import { parseIpv4Addr } from '../../src/wire/bytes.ts';
import { parseIpv4 } from '../../src/wire/ipv4.ts';
import { parseIpv6, parseIpv6Addr, type IpAddr, type Ipv6Addr } from '../../src/wire/ipv6.ts';
import { parseEthernet, ETHERTYPE_IPV4, ETHERTYPE_IPV6 } from '../../src/wire/ethernet.ts';
import { parseTcp } from '../../src/wire/tcp.ts';
import { linkLocalFor } from '../../src/wire/ndp.ts';
import { ACK, CHECKSUM_FULL, RST, SYN, type TcpRepr } from '../../src/wire/types.ts';
import { UdpSocket } from '../../src/udp/table.ts';
import { sendUdp } from '../../src/stack/udp.ts';

const ip4 = (s: string): number => parseIpv4Addr(s)!;
const v6 = (s: string): Ipv6Addr => parseIpv6Addr(s)!;
const GUEST4 = ip4('10.0.2.100');
const GW4 = ip4('10.0.2.2');
const GUEST6 = v6('fd00::100');
const GW6 = v6('fd00::2');
const FAR4 = ip4('93.184.216.34');
const FAR6 = v6('2001:db8::80');

interface WireSeg {
  t: number;
  src: IpAddr;
  dst: IpAddr;
  tcp: TcpRepr;
}
interface WireIcmp {
  t: number;
  src: IpAddr;
  dst: IpAddr;
  type: number;
  code: number;
}

function setup(opts: { maxPending?: number; pendingTimeoutUs?: number; synCookies?: 'always' | 'auto'; tcp?: boolean; udp?: boolean } = {}) {
  const net = new Network({ seed: 11 });
  const sw = net.addSwitch({ checksumOffload: false, impair: { delayUs: 1000 } });
  const guest = net.addStack({ name: 'guest' });
  const gEth = net.attachEthernet(guest, sw, [{ addr: GUEST4 }, { addr: GUEST6 }], { dadTransmits: 0 });
  const gw = net.addStack({ name: 'gateway', ...(opts.synCookies ? { synCookies: opts.synCookies } : {}) });
  const gwEth = net.attachEthernet(gw, sw, [{ addr: GW4 }, { addr: GW6 }], { dadTransmits: 0 });
  gEth.gatewayV4 = GW4;
  gEth.defaultRouter = linkLocalFor(gwEth.mac);
  const requests: TcpForwardRequest[] = [];
  const datagrams: ForwardedDatagram[] = [];
  const fw = gw.enableForwarding(gwEth.iface, {
    ...(opts.tcp === false ? {} : { tcp: (r: TcpForwardRequest) => requests.push(r) }),
    ...(opts.udp === false ? {} : { udp: (d: ForwardedDatagram) => datagrams.push(d) }),
    ...(opts.maxPending ? { maxPending: opts.maxPending } : {}),
    ...(opts.pendingTimeoutUs ? { pendingTimeoutUs: opts.pendingTimeoutUs } : {}),
  });
  const segs: WireSeg[] = [];
  const icmps: WireIcmp[] = [];
  sw.tap = (_p, frame) => {
    const e = parseEthernet(frame);
    if (!e.ok) return;
    const t = net.clock.now();
    if (e.value.header.ethertype === ETHERTYPE_IPV4) {
      const ip = parseIpv4(e.value.payload.slice(), CHECKSUM_FULL);
      if (!ip.ok) return;
      const h = ip.value.header;
      if (h.protocol === 6) {
        const r = parseTcp(ip.value.payload, h.src, h.dst, CHECKSUM_FULL);
        if (r.ok) segs.push({ t, src: h.src, dst: h.dst, tcp: r.value });
      } else if (h.protocol === 1) {
        icmps.push({ t, src: h.src, dst: h.dst, type: ip.value.payload[0]!, code: ip.value.payload[1]! });
      }
    } else if (e.value.header.ethertype === ETHERTYPE_IPV6) {
      const ip = parseIpv6(e.value.payload.slice());
      if (!ip.ok) return;
      const h = ip.value.header;
      const body = ip.value.packet.subarray(40);
      if (h.nextHeader === 6) {
        const r = parseTcp(body, h.src, h.dst, CHECKSUM_FULL);
        if (r.ok) segs.push({ t, src: h.src, dst: h.dst, tcp: r.value });
      } else if (h.nextHeader === 58 && body[0]! < 128) {
        icmps.push({ t, src: h.src, dst: h.dst, type: body[0]!, code: body[1]! });
      }
    }
  };
  return { net, sw, guest, gEth, gw, gwEth, fw, requests, datagrams, segs, icmps };
}

/** An active open from the guest with its events recorded. */
function dial(guest: Stack, addr: IpAddr, port: number): { conn: Connection; events: ConnectionEvent[] } {
  const events: ConnectionEvent[] = [];
  const conn = guest.connect(addr, port, { observer: { onEvent: (_c, ev) => events.push(ev) } });
  return { conn, events };
}

const synAcks = (segs: WireSeg[]) => segs.filter((s) => (s.tcp.flags & (SYN | ACK)) === (SYN | ACK));
const syns = (segs: WireSeg[]) => segs.filter((s) => (s.tcp.flags & (SYN | ACK)) === SYN);

describe('forwarding interface: TCP', () => {
  test('RFC 9293 §3.10.7.2: a SYN to any address goes to the forwarder with its 4-tuple, and no SYN,ACK is sent until it accepts; retransmitted SYNs are absorbed', () => {
    const r = setup();
    const d = dial(r.guest, FAR4, 80);
    r.net.runFor(3_500_000); // the guest retransmits its SYN at 1 s and 3 s
    assert.equal(r.requests.length, 1, 'one request per handshake attempt');
    const req = r.requests[0]!;
    assert.deepEqual([req.remoteAddr, req.remotePort, req.localAddr, req.localPort], [GUEST4, d.conn.localPort, FAR4, 80]);
    assert.equal(syns(r.segs).length, 3, 'the guest sent its SYN three times');
    assert.equal(r.fw.stats.synAbsorbed, 2);
    assert.equal(r.gw.counters.drops['tcp-forward-syn-pending'], 2);
    assert.equal(synAcks(r.segs).length, 0, 'nothing answered the SYN while the decision was pending');
    assert.equal(d.conn.state, 'SYN-SENT');

    let established: Connection | null = null;
    const conn = req.accept({ onEstablished: (c) => (established = c) });
    assert.ok(conn);
    r.net.runUntil(() => d.conn.state === 'ESTABLISHED' && established !== null);
    const sa = synAcks(r.segs);
    assert.equal(sa.length, 1);
    assert.equal(sa[0]!.src, FAR4, 'the SYN,ACK comes from the address the guest dialled');
    assert.equal(sa[0]!.tcp.srcPort, 80);
    assert.equal(established, conn);
    assert.equal(conn!.localAddr, FAR4);
    // Data both ways through the forwarded connection.
    r.guest.send(d.conn, new TextEncoder().encode('GET /'));
    r.net.runUntil(() => conn!.readable() === 5);
    assert.equal(new TextDecoder().decode(Buffer.concat(r.gw.read(conn!))), 'GET /');
    r.gw.send(conn!, new TextEncoder().encode('200 OK'));
    r.net.runUntil(() => d.conn.readable() === 6);
    assert.equal(r.fw.pending.size, 0);
    assert.equal(r.fw.stats.accepted, 1);
  });

  test('RFC 9293 §3.10.7.1: a refused request answers <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK> and the guest connect fails at once', () => {
    const r = setup();
    const d = dial(r.guest, FAR4, 81);
    r.net.runUntil(() => r.requests.length === 1);
    assert.equal(r.requests[0]!.reject(), true);
    assert.equal(r.requests[0]!.reject(), false, 'a decision is taken once');
    r.net.runUntil(() => d.conn.state === 'CLOSED');
    assert.equal(d.conn.closeReason, 'refused');
    const rst = r.segs.find((s) => s.tcp.flags & RST)!;
    assert.equal(rst.tcp.flags, RST | ACK);
    assert.equal(rst.tcp.seq, 0);
    assert.equal(rst.tcp.ack, (d.conn.iss + 1) >>> 0);
    assert.equal(rst.src, FAR4);
    assert.equal(syns(r.segs).length, 1, 'no SYN retransmission: refused before the first RTO');
  });

  test('RFC 1122 §3.2.2.1 / RFC 792: an unreachable destination is answered with ICMP Destination Unreachable quoting the SYN (host: code 1, a soft error; port: code 3, which aborts SYN-SENT)', () => {
    const r = setup();
    const a = dial(r.guest, FAR4, 82);
    const b = dial(r.guest, FAR4, 83);
    r.net.runUntil(() => r.requests.length === 2);
    r.requests[0]!.unreachable('host');
    r.requests[1]!.unreachable('port');
    r.net.runUntil(() => b.conn.state === 'CLOSED');
    assert.deepEqual(
      r.icmps.map((i) => [i.type, i.code, i.dst]),
      [
        [3, 1, GUEST4],
        [3, 3, GUEST4],
      ],
    );
    assert.equal(b.conn.closeReason, 'refused', 'RFC 1122 §4.2.3.9: codes 2-4 are hard errors');
    assert.equal(r.guest.counters.icmpSoftErrors, 1, 'codes 0, 1, 5 are soft: noted for the connection');
    assert.equal(a.conn.state, 'SYN-SENT');
    assert.equal(synAcks(r.segs).length, 0);
  });

  test('RFC 4443 §3.1: over IPv6 the request is answered with Destination Unreachable codes 3 (address) and 1 (administratively prohibited); accept works the same', () => {
    const r = setup();
    const a = dial(r.guest, FAR6, 80);
    const b = dial(r.guest, FAR6, 81);
    const c = dial(r.guest, FAR6, 82);
    r.net.runUntil(() => r.requests.length === 3);
    const byPort = new Map(r.requests.map((q) => [q.localPort, q]));
    byPort.get(80)!.unreachable('host');
    byPort.get(81)!.unreachable('admin');
    let est = 0;
    byPort.get(82)!.accept({ onEstablished: () => est++ });
    r.net.runUntil(() => c.conn.state === 'ESTABLISHED' && est === 1);
    r.net.runFor(10_000);
    assert.deepEqual(
      r.icmps.map((i) => [i.type, i.code]),
      [
        [1, 3],
        [1, 1],
      ],
    );
    assert.equal(synAcks(r.segs).length, 1);
    assert.equal(synAcks(r.segs)[0]!.src, FAR6);
    void a;
    void b;
  });

  test('pending requests are bounded: SYNs beyond maxPending are counted drops, and a RST from the guest cancels its request', () => {
    const r = setup({ maxPending: 2 });
    const conns = [dial(r.guest, FAR4, 80), dial(r.guest, FAR4, 80), dial(r.guest, FAR4, 80)];
    r.net.runFor(100_000);
    assert.equal(r.requests.length, 2);
    assert.equal(r.fw.stats.pendingFull, 1);
    assert.equal(r.gw.counters.drops['tcp-forward-pending-full'], 1);
    let cancelled: string | null = null;
    r.requests[0]!.oncancel = (why) => (cancelled = why);
    // The guest gives up on the first attempt: its RST cancels the request.
    const first = conns.find((c) => c.conn.localPort === r.requests[0]!.remotePort)!;
    r.guest.abort(first.conn);
    r.net.runFor(100_000);
    // A guest in SYN-SENT sends no RST on abort (RFC 9293 §3.10.5: "delete
    // the TCB"), so craft the RST the way a guest that does would.
    if (cancelled === null) {
      r.gw.receive(r.gwEth.iface, rstPacket(GUEST4, FAR4, first.conn.localPort, 80, (first.conn.iss + 1) >>> 0));
    }
    assert.equal(cancelled, 'reset');
    assert.equal(r.requests[0]!.state, 'cancelled');
    assert.equal(r.requests[0]!.accept({ onEstablished: () => {} }), null, 'a cancelled request cannot be accepted');
    assert.equal(r.fw.pending.size, 1);
  });

  test('a full pending table evicts requests older than the pending timeout first (oncancel "expired"), then takes the new SYN', () => {
    const r = setup({ maxPending: 1, pendingTimeoutUs: 2_000_000 });
    dial(r.guest, FAR4, 80);
    r.net.runFor(100_000);
    let why: string | null = null;
    r.requests[0]!.oncancel = (w) => (why = w);
    dial(r.guest, FAR4, 81);
    r.net.runFor(100_000);
    assert.equal(r.requests.length, 1, 'a young request is not evicted: the new SYN is dropped');
    assert.equal(r.fw.stats.pendingFull, 1);
    r.net.runFor(3_500_000); // the second guest retransmits its SYN (1 s, then 3 s): the last after the first has aged 2 s
    assert.equal(why, 'expired');
    assert.equal(r.fw.stats.expired, 1);
    assert.equal(r.gw.counters.drops['tcp-forward-expired'], 1);
    assert.equal(r.requests.length, 2);
    assert.equal(r.requests[1]!.localPort, 81);
  });

  test('listeners and SYN cookies do not capture forwarded SYNs: a wildcard listener on port 80 serves the gateway address only, cookies stay out', () => {
    const r = setup({ synCookies: 'always' });
    const local: Connection[] = [];
    r.gw.listen(80, { onConnection: (c) => local.push(c) });
    const far = dial(r.guest, FAR4, 80);
    const near = dial(r.guest, GW4, 80);
    const unbound = dial(r.guest, GW4, 8080);
    r.net.runUntil(() => near.conn.state === 'ESTABLISHED' && local.length === 1 && r.requests.length === 2);
    assert.equal(local.length, 1, 'the listener took the SYN to its own address');
    assert.deepEqual(
      r.requests.map((q) => [q.localAddr, q.localPort]).sort(),
      [
        [FAR4, 80],
        [GW4, 8080],
      ].sort(),
      'a SYN to another address, or to our address on a port nobody listens on, is forwarded',
    );
    for (const q of r.requests) q.accept({ onEstablished: () => {} });
    r.net.runUntil(() => far.conn.state === 'ESTABLISHED' && unbound.conn.state === 'ESTABLISHED');
    assert.equal(r.gw.counters.synCookiesSent, 1, 'only the listener answered with a cookie');
  });

  test('a stack without forwarding still drops segments to other addresses (ipv4-not-for-us)', () => {
    const r = setup({ tcp: false, udp: false });
    const d = dial(r.guest, FAR4, 80);
    r.net.runFor(100_000);
    assert.equal(r.requests.length, 0);
    // No TCP callback: the CLOSED-state reply (RST), as for a closed port.
    r.net.runUntil(() => d.conn.state === 'CLOSED');
    assert.equal(d.conn.closeReason, 'refused');
  });
});

describe('forwarding interface: UDP', () => {
  test('RFC 768: a datagram to any address goes to the forwarder with (src, dst), and the reply leaves from the address the guest sent to', () => {
    const r = setup();
    const sock = new UdpSocket(4);
    r.guest.udp.bind(sock, 0, 0);
    // A wildcard socket on the gateway's port 53 takes datagrams to the
    // gateway's own address only.
    const gwSock = new UdpSocket(4);
    r.gw.udp.bind(gwSock, 0, 53);
    assert.equal(sendUdp(r.guest, sock, FAR4, 53, new TextEncoder().encode('query')), null);
    assert.equal(sendUdp(r.guest, sock, GW4, 53, new TextEncoder().encode('local')), null);
    assert.equal(sendUdp(r.guest, sock, GW4, 54, new TextEncoder().encode('unbound')), null);
    r.net.runUntil(() => r.datagrams.length === 2 && gwSock.queue.length === 1);
    assert.deepEqual(
      r.datagrams.map((d) => [d.src, d.srcPort, d.dst, d.dstPort, new TextDecoder().decode(d.data)]),
      [
        [GUEST4, sock.localPort, FAR4, 53, 'query'],
        [GUEST4, sock.localPort, GW4, 54, 'unbound'],
      ],
    );
    assert.equal(sendForwardedUdp(r.fw, FAR4, 53, GUEST4, sock.localPort, new TextEncoder().encode('answer')), null);
    r.net.runUntil(() => sock.queue.length === 1);
    const got = sock.shift()!;
    assert.equal(got.src, FAR4);
    assert.equal(got.srcPort, 53);
    assert.equal(new TextDecoder().decode(got.data), 'answer');
    assert.equal(r.fw.stats.udpIn, 2);
    assert.equal(r.fw.stats.udpOut, 1);
  });

  test('RFC 8200 §4.5: a datagram larger than the MTU arrives in fragments, is reassembled and forwarded whole (both families)', () => {
    const r = setup();
    const s4 = new UdpSocket(4);
    r.guest.udp.bind(s4, 0, 0);
    const s6 = new UdpSocket(6);
    r.guest.udp.bind(s6, s6.localAddr, 0);
    const big = new Uint8Array(4000).map((_, i) => i & 0xff);
    assert.equal(sendUdp(r.guest, s4, FAR4, 9, big), null);
    assert.equal(sendUdp(r.guest, s6, FAR6, 9, big), null);
    r.net.runUntil(() => r.datagrams.length === 2);
    for (const d of r.datagrams) assert.deepEqual(d.data, big);
    assert.equal(r.gw.counters.reassembled, 2);
    // And the reply, larger than the MTU too, leaves in fragments.
    assert.equal(sendForwardedUdp(r.fw, FAR6, 9, GUEST6, s6.localPort, big), null);
    r.net.runUntil(() => s6.queue.length === 1);
    assert.deepEqual(s6.shift()!.data, big);
  });
});

/** A bare IPv4 RST segment (checksummed). */
function rstPacket(src: number, dst: number, srcPort: number, dstPort: number, seq: number): Uint8Array {
  const buf = new Uint8Array(40);
  const dv = new DataView(buf.buffer);
  buf[0] = 0x45;
  dv.setUint16(2, 40);
  buf[8] = 64;
  buf[9] = 6;
  dv.setUint32(12, src);
  dv.setUint32(16, dst);
  let sum = 0;
  for (let i = 0; i < 20; i += 2) sum += dv.getUint16(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  dv.setUint16(10, ~sum & 0xffff);
  dv.setUint16(20, srcPort);
  dv.setUint16(22, dstPort);
  dv.setUint32(24, seq);
  buf[32] = 5 << 4;
  buf[33] = RST;
  let t = (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + 6 + 20;
  for (let i = 20; i < 40; i += 2) t += dv.getUint16(i);
  while (t > 0xffff) t = (t & 0xffff) + (t >>> 16);
  dv.setUint16(36, ~t & 0xffff);
  return buf;
}
