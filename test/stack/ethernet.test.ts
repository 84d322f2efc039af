/**
 * The link layer of the stack (stack/ethernet.ts, stack/neighbor.ts) over
 * the in-memory Ethernet switch (links/switch.ts), under the virtual clock:
 * receive filtering, ARP (RFC 826, RFC 1122 §2.3.2), Neighbor Discovery
 * (RFC 4861), DAD and SLAAC (RFC 4862), Router Advertisements (RFC 8106
 * RDNSS). A raw switch port ("the wire") sends crafted frames and records
 * what the stacks send.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Network } from '../../src/sim/network.ts';
import { Rng } from '../../src/base/rng.ts';
import type { Stack } from '../../src/stack/stack.ts';
import { stableAddress, type EthernetInterface } from '../../src/stack/ethernet.ts';
import type { Connection } from '../../src/tcp/connection.ts';
import { parseIpv4Addr } from '../../src/wire/bytes.ts';
import { emitIpv4 } from '../../src/wire/ipv4.ts';
import { emitIpv6, formatIpAddr, parseIpv6, parseIpv6Addr, type IpAddr, type Ipv6Addr } from '../../src/wire/ipv6.ts';
import { emitIcmpv6, icmpv6Len, parseIcmpv6 } from '../../src/wire/icmpv6.ts';
import { buildEthernetFrame, ETHERTYPE_ARP, ETHERTYPE_IPV4, ETHERTYPE_IPV6, MAC_BROADCAST, parseEthernet, ipv6MulticastMac, type MacAddr } from '../../src/wire/ethernet.ts';
import { buildArpFrame, parseArp, type ArpRepr } from '../../src/wire/arp.ts';
import { addrFromPrefix, emitNdpBody, ndpType, parseNdp, solicitedNode, type NdpMessage } from '../../src/wire/ndp.ts';
import { CHECKSUM_FULL } from '../../src/wire/types.ts';
import type { Impairments } from '../../src/links/memory.ts';
import { LINKTYPE_ETHERNET, parsePcap } from '../../src/wire/pcap.ts';
import { analyzeCapture } from '../../src/viz/observer.ts';

const ip4 = (s: string): number => parseIpv4Addr(s)!;
const v6 = (s: string): Ipv6Addr => parseIpv6Addr(s)!;
const A4 = ip4('10.0.0.1');
const B4 = ip4('10.0.0.2');
const A6 = v6('fd00::1');
const B6 = v6('fd00::2');
const RAW_MAC: MacAddr = 0x02aabbccdd01;

interface Host {
  stack: Stack;
  eth: EthernetInterface;
}

/** A switch, hosts a and b (dual stack unless told), and a raw port recording every frame it sees. */
function lan(opts: { seed?: number; impair?: Partial<Impairments>; a?: IpAddr[]; b?: IpAddr[] } = {}) {
  const net = new Network({ seed: opts.seed ?? 7 });
  const sw = net.addSwitch({ checksumOffload: false, impair: { delayUs: 1000, ...opts.impair } });
  const host = (name: string, addrs: IpAddr[]): Host => {
    const stack = net.addStack({ name });
    const eth = net.attachEthernet(stack, sw, addrs.map((addr) => ({ addr })));
    return { stack, eth };
  };
  const a = host('a', opts.a ?? [A4, A6]);
  const b = host('b', opts.b ?? [B4, B6]);
  const raw = sw.attach();
  const seen: Array<{ t: number; frame: Uint8Array }> = [];
  raw.onReceive = (f) => seen.push({ t: net.clock.now(), frame: f });
  const wire: Array<{ t: number; frame: Uint8Array }> = [];
  sw.tap = (_p, f) => wire.push({ t: net.clock.now(), frame: f.slice() });
  return { net, sw, a, b, raw, seen, wire, host };
}

/** ARP packets among frames. */
function arps(frames: Array<{ t: number; frame: Uint8Array }>): Array<{ t: number; dst: MacAddr; arp: ArpRepr }> {
  const out: Array<{ t: number; dst: MacAddr; arp: ArpRepr }> = [];
  for (const { t, frame } of frames) {
    const e = parseEthernet(frame);
    if (!e.ok || e.value.header.ethertype !== ETHERTYPE_ARP) continue;
    const a = parseArp(e.value.payload);
    if (a.ok) out.push({ t, dst: e.value.header.dst, arp: a.value });
  }
  return out;
}

/** ND messages among frames. */
function ndps(frames: Array<{ t: number; frame: Uint8Array }>): Array<{ t: number; src: Ipv6Addr; dst: Ipv6Addr; m: NdpMessage }> {
  const out: Array<{ t: number; src: Ipv6Addr; dst: Ipv6Addr; m: NdpMessage }> = [];
  for (const { t, frame } of frames) {
    const e = parseEthernet(frame);
    if (!e.ok || e.value.header.ethertype !== ETHERTYPE_IPV6) continue;
    const p = parseIpv6(e.value.payload);
    if (!p.ok || p.value.header.nextHeader !== 58) continue;
    const i = parseIcmpv6(p.value.payload, p.value.header.src, p.value.header.dst, CHECKSUM_FULL);
    if (!i.ok || i.value.kind !== 'ndp') continue;
    const m = parseNdp(i.value.type, i.value.body);
    if (m.ok) out.push({ t, src: p.value.header.src, dst: p.value.header.dst, m: m.value });
  }
  return out;
}

/** An ND message in a frame from the raw port. */
function ndpFrame(src: Ipv6Addr, dst: Ipv6Addr, m: NdpMessage, dstMac: MacAddr, hopLimit = 255): Uint8Array {
  const icmp = { kind: 'ndp' as const, type: ndpType(m), code: 0, body: emitNdpBody(m) };
  const len = icmpv6Len(icmp);
  const buf = new Uint8Array(40 + len);
  emitIpv6({ src, dst, trafficClass: 0, flowLabel: 0, payloadLen: len, nextHeader: 58, hopLimit }, buf, 0);
  emitIcmpv6(icmp, src, dst, buf, 40, CHECKSUM_FULL);
  return buildEthernetFrame({ dst: dstMac, src: RAW_MAC, ethertype: ETHERTYPE_IPV6, tags: [] }, buf);
}

/** A bulk transfer from `from` to `to`:port; byte-exact check by SHA-256. */
function bulk(from: Stack, to: Stack, addr: IpAddr, size: number, port = 80) {
  const data = new Uint8Array(size);
  new Rng(99).fill(data);
  const got = createHash('sha256');
  let received = 0;
  let ended = false;
  to.listen(port, {
    onConnection: (c) => {
      c.user = {
        onEvent: (conn: Connection, ev: { type: string }) => {
          if (ev.type === 'readable' || ev.type === 'end') {
            for (const chunk of to.read(conn)) {
              got.update(chunk);
              received += chunk.length;
            }
          }
          if (ev.type === 'end') {
            ended = true;
            to.close(conn);
          }
        },
      };
    },
  });
  const conn = from.connect(addr, port);
  let off = 0;
  let closed = false;
  const pump = (): void => {
    while (off < size && conn.state === 'ESTABLISHED') {
      const n = from.send(conn, data.subarray(off, Math.min(size, off + 65536)));
      if (n === 0) break;
      off += n;
    }
    if (off === size && !closed && conn.state === 'ESTABLISHED') {
      closed = true;
      from.close(conn);
    }
  };
  conn.user = { onEvent: () => pump() };
  return {
    conn,
    done: () => received === size && ended,
    sameBytes: () => got.copy().digest('hex') === createHash('sha256').update(data).digest('hex'),
  };
}

/** An IPv4 packet (protocol 253, experimental) from `src` to `dst`. */
function v4Packet(src: number, dst: number, n = 8): Uint8Array {
  const buf = new Uint8Array(20 + n);
  emitIpv4({ src, dst, protocol: 253, ttl: 64, tos: 0, ident: 1, dontFragment: true, payloadLen: n }, buf, 0, CHECKSUM_FULL);
  return buf;
}

describe('Ethernet receive filtering', () => {
  test('frames for another unicast MAC, 802.1Q-tagged frames and unknown EtherTypes are counted drops', () => {
    const r = lan();
    r.net.runFor(2_000_000);
    // (a's DAD solicitations went to groups b did not join: already filtered.)
    const before = r.b.stack.counters.drops['eth-not-for-us'] ?? 0;
    const payload = v4Packet(ip4('10.0.0.9'), B4);
    r.raw.transmit(buildEthernetFrame({ dst: r.b.eth.mac, src: RAW_MAC, ethertype: ETHERTYPE_IPV4, tags: [{ tpid: 0x8100, pcp: 0, dei: false, vid: 5 }] }, payload));
    r.raw.transmit(buildEthernetFrame({ dst: r.b.eth.mac, src: RAW_MAC, ethertype: 0x88b5, tags: [] }, payload));
    r.raw.transmit(buildEthernetFrame({ dst: 0x02ffffffff01, src: RAW_MAC, ethertype: ETHERTYPE_IPV4, tags: [] }, payload));
    r.raw.transmit(buildEthernetFrame({ dst: 0x01005e000001, src: RAW_MAC, ethertype: ETHERTYPE_IPV4, tags: [] }, payload));
    r.net.runFor(10_000);
    const d = r.b.stack.counters.drops;
    assert.equal(d['eth-vlan-tagged'], 1);
    assert.equal(d['eth-unknown-ethertype'], 1);
    // The unknown unicast MAC and the unjoined multicast group are flooded to b, which filters both.
    assert.equal(d['eth-not-for-us']! - before, 2);
    assert.equal(r.b.stack.counters.packetsIn, 0);
  });

  test('an IPv4 frame is taken only when every octet of its destination is our MAC and its source is not (the receive fast path)', () => {
    const r = lan({ b: [B4] });
    r.net.runFor(2_000_000);
    const mac = r.b.eth.mac;
    const payload = v4Packet(ip4('10.0.0.9'), B4);
    const frame = (dst: MacAddr, src: MacAddr): Uint8Array => buildEthernetFrame({ dst, src, ethertype: ETHERTYPE_IPV4, tags: [] }, payload);
    const before = r.b.stack.counters.drops['eth-not-for-us'] ?? 0;
    const inBefore = r.b.stack.counters.packetsIn;
    // Our MAC but for its top 16 bits, but for its low 32 bits, and our own frame reflected back.
    const hiBit = 2 ** 32; // the second octet's lowest bit
    r.b.eth.receiveFrame(frame(Math.floor(mac / hiBit) % 2 ? mac - hiBit : mac + hiBit, RAW_MAC));
    r.b.eth.receiveFrame(frame(mac % 2 ? mac - 1 : mac + 1, RAW_MAC));
    r.b.eth.receiveFrame(frame(mac, mac));
    assert.equal(r.b.stack.counters.drops['eth-not-for-us']! - before, 3);
    assert.equal(r.b.stack.counters.packetsIn, inBefore);
    r.b.eth.receiveFrame(frame(mac, RAW_MAC));
    assert.equal(r.b.stack.counters.packetsIn, inBefore + 1);
  });
});

describe('ARP (RFC 826) and the neighbour cache', () => {
  test('RFC 826: a host resolves its peer by ARP (broadcast request, unicast reply), then a TCP transfer crosses the switch intact', () => {
    const r = lan({ a: [A4], b: [B4] });
    const t = bulk(r.a.stack, r.b.stack, B4, 100_000);
    r.net.runUntil(t.done);
    assert.ok(t.sameBytes());
    const a = arps(r.wire).filter((x) => x.arp.senderIp !== x.arp.targetIp);
    assert.equal(a[0]!.arp.op, 'request');
    assert.equal(a[0]!.dst, MAC_BROADCAST);
    assert.equal(a[0]!.arp.targetIp, B4);
    assert.equal(a[1]!.arp.op, 'reply');
    assert.equal(a[1]!.dst, r.a.eth.mac);
    assert.equal(a[1]!.arp.senderMac, r.b.eth.mac);
    assert.equal(r.a.eth.neighbors.get(B4)!.mac, r.b.eth.mac);
    // b learnt a from the request that targeted it (RFC 826 merge: "Am I the target ... add the triplet").
    assert.equal(r.b.eth.neighbors.get(A4)!.mac, r.a.eth.mac);
    // The switch learnt both MACs and stopped flooding unicast.
    assert.ok(r.sw.lookup(r.a.eth.mac) && r.sw.lookup(r.b.eth.mac));
  });

  test('RFC 826: replies only for our own addresses, and entries are made only when we are the target', () => {
    const r = lan({ a: [A4], b: [B4] });
    r.net.runFor(1_000_000);
    const x = ip4('10.0.0.50');
    r.raw.transmit(buildArpFrame({ op: 'request', senderMac: RAW_MAC, senderIp: x, targetMac: 0, targetIp: ip4('10.0.0.77') }));
    r.net.runFor(100_000);
    assert.equal(r.b.eth.neighbors.get(x), undefined);
    assert.equal(r.a.eth.neighbors.get(x), undefined);
    assert.equal(r.b.eth.stats.arpRepliesOut + r.a.eth.stats.arpRepliesOut, 0);
    assert.equal(r.b.stack.counters.drops['arp-not-for-us'], 1);
    r.raw.transmit(buildArpFrame({ op: 'request', senderMac: RAW_MAC, senderIp: x, targetMac: 0, targetIp: B4 }));
    r.net.runFor(100_000);
    assert.equal(r.b.eth.neighbors.get(x)!.mac, RAW_MAC);
    assert.equal(r.b.eth.neighbors.get(x)!.state, 'stale');
    const replies = arps(r.seen).filter((p) => p.arp.op === 'reply');
    assert.equal(replies.length, 1);
    assert.deepEqual(replies[0]!.arp, { op: 'reply', senderMac: r.b.eth.mac, senderIp: B4, targetMac: RAW_MAC, targetIp: x });
    assert.equal(r.a.eth.neighbors.get(x), undefined);
  });

  test('RFC 1122 §2.3.2.2: at most 3 packets wait for an unresolved neighbour, the oldest are counted drops, and all are sent once it answers', () => {
    const r = lan({ a: [A4], b: [B4] });
    r.net.runFor(1_000_000);
    const x = ip4('10.0.0.60');
    for (let i = 0; i < 5; i++) r.a.eth.transmit(v4Packet(A4, x, 8 + i));
    assert.equal(r.a.stack.counters.drops['neigh-queue-full'], 2);
    assert.equal(r.a.eth.neighbors.get(x)!.pending!.length, 3);
    r.net.runFor(100_000);
    const req = arps(r.seen).filter((p) => p.arp.op === 'request' && p.arp.targetIp === x);
    assert.equal(req.length, 1, 'one request however many packets wait');
    r.raw.transmit(buildArpFrame({ op: 'reply', senderMac: RAW_MAC, senderIp: x, targetMac: r.a.eth.mac, targetIp: A4 }));
    r.net.runFor(100_000);
    const e = r.a.eth.neighbors.get(x)!;
    assert.equal(e.state, 'reachable');
    const ipToRaw = r.seen.filter(({ frame }) => {
      const e = parseEthernet(frame);
      return e.ok && e.value.header.ethertype === ETHERTYPE_IPV4 && e.value.header.dst === RAW_MAC;
    });
    // The latest three (payload lengths 10, 11, 12), in order.
    assert.deepEqual(ipToRaw.map(({ frame }) => ((frame[16]! << 8) | frame[17]!) - 20), [10, 11, 12]);
  });

  test('RFC 4861 §7.2.2 / RFC 1122 §2.3.2.1: resolution fails after 3 requests 1 s apart; the waiting packets are counted drops', () => {
    const r = lan({ a: [A4], b: [B4] });
    r.net.runFor(1_000_000);
    const t0 = r.net.clock.now();
    const x = ip4('10.0.0.61');
    r.a.eth.transmit(v4Packet(A4, x));
    r.a.eth.transmit(v4Packet(A4, x));
    r.net.runFor(5_000_000);
    const req = arps(r.seen).filter((p) => p.arp.op === 'request' && p.arp.targetIp === x);
    assert.deepEqual(
      req.map((p) => p.t - t0),
      [1000, 1_001_000, 2_001_000],
    );
    assert.equal(r.a.eth.neighbors.get(x), undefined);
    assert.equal(r.a.eth.neighbors.failed, 1);
    assert.equal(r.a.stack.counters.drops['neigh-unresolved'], 2);
  });

  test('RFC 4861 §7.3.3: an entry in use is re-confirmed by unicast probes (STALE → DELAY → PROBE → REACHABLE) and never lost; a 160 s conversation needs one broadcast', () => {
    const r = lan({ a: [A4], b: [B4] });
    let got = 0;
    r.b.stack.listen(80, {
      onConnection: (c) => {
        c.user = { onEvent: () => { for (const chunk of r.b.stack.read(c)) got += chunk.length; } };
      },
    });
    const conn = r.a.stack.connect(B4, 80);
    r.net.runUntil(() => conn.state === 'ESTABLISHED');
    const states = new Set<string>();
    for (let i = 0; i < 1600; i++) {
      r.a.stack.send(conn, new Uint8Array(1000));
      r.net.runFor(100_000);
      states.add(r.a.eth.neighbors.get(B4)!.state);
    }
    r.net.runFor(1_000_000);
    assert.equal(got, 1_600_000);
    const all = arps(r.wire).filter((p) => p.arp.op === 'request' && p.arp.senderIp !== p.arp.targetIp);
    assert.equal(all.filter((p) => p.dst === MAC_BROADCAST).length, 1);
    const probes = all.filter((p) => p.dst !== MAC_BROADCAST);
    assert.ok(probes.length >= 8, `${probes.length} unicast probes`);
    // Each probe answered at once: one per cycle, never a second one.
    assert.equal(r.a.eth.neighbors.failed + r.b.eth.neighbors.failed, 0);
    assert.ok(states.has('delay') && states.has('reachable'), [...states].join());
    assert.equal(r.a.stack.counters.drops['neigh-queue-full'] ?? 0, 0);
    assert.equal(r.a.stack.counters.retransmits, 0);
  });

  test('RFC 4861 §7.3.3: a neighbour that vanished is probed MAX_UNICAST_SOLICIT times by unicast after DELAY_FIRST_PROBE_TIME, then forgotten', () => {
    const r = lan({ a: [A4], b: [B4] });
    const t = bulk(r.a.stack, r.b.stack, B4, 10_000);
    r.net.runUntil(t.done);
    r.net.runFor(40_000_000); // REACHABLE → STALE
    assert.equal(r.a.eth.neighbors.get(B4)!.state, 'stale');
    r.sw.setImpairments({ loss: 1 }); // b is gone
    const t0 = r.net.clock.now();
    r.a.eth.transmit(v4Packet(A4, B4));
    assert.equal(r.a.eth.neighbors.get(B4)!.state, 'delay');
    r.net.runFor(10_000_000);
    const probes = arps(r.wire).filter((p) => p.t >= t0 && p.arp.op === 'request');
    assert.deepEqual(probes.map((p) => [p.t - t0, p.dst]), [
      [5_000_000, r.b.eth.mac],
      [6_000_000, r.b.eth.mac],
      [7_000_000, r.b.eth.mac],
    ]);
    assert.equal(r.a.eth.neighbors.get(B4), undefined);
    assert.equal(r.a.eth.neighbors.failed, 1);
  });

  test('RFC 4861 §7.2.2 / RFC 1122 §4.2.3.9: a connection to an address nobody answers for times out as host unreachable, not as a plain timeout', () => {
    const r = lan({ a: [A4], b: [B4] });
    r.net.runFor(1_000_000);
    const conn = r.a.stack.connect(ip4('10.0.0.66'), 80, { tcp: { synRetries: 2 } });
    r.net.runUntil(() => conn.state === 'CLOSED', { until: 60_000_000 });
    assert.equal(conn.closeReason, 'host-unreachable');
    assert.ok(r.a.stack.counters.icmpSoftErrors >= 1);
    assert.ok(r.a.eth.neighbors.failed >= 1);
  });

  test('RFC 4861 §11.2: an ARP flood from 20 000 senders leaves the cache and the switch table bounded, and every request for us is answered', () => {
    const r = lan({ a: [A4], b: [B4] });
    r.net.runFor(1_000_000);
    const N = 20_000;
    for (let i = 0; i < N; i++) {
      const mac = 0x020000000000 + 0x10000 + i;
      const frame = buildArpFrame({ op: 'request', senderMac: mac, senderIp: (ip4('10.1.0.0') + i) >>> 0, targetMac: 0, targetIp: i % 2 ? B4 : ip4('10.0.0.99') });
      r.raw.transmit(frame);
    }
    r.net.runFor(1_000_000);
    const limit = r.b.eth.neighbors.limits.maxEntries;
    assert.ok(r.b.eth.neighbors.size <= limit, `cache holds ${r.b.eth.neighbors.size}`);
    assert.equal(r.b.eth.neighbors.size, limit);
    assert.ok(r.b.eth.neighbors.evicted >= N / 2 - limit);
    assert.equal(r.b.eth.stats.arpRepliesOut, N / 2);
    assert.equal(r.a.eth.neighbors.size, 0, 'a, never the target, learnt nothing from the flood');
    assert.ok(r.sw.learned <= 4096);
    // The real peer still works.
    const t = bulk(r.a.stack, r.b.stack, B4, 20_000);
    r.net.runUntil(t.done);
    assert.ok(t.sameBytes());
  });

  test('RFC 5227 §2.3 / RFC 826 merge: a gratuitous ARP on address configuration updates the peers that hold the address', () => {
    const r = lan({ a: [A4], b: [B4] });
    const t = bulk(r.b.stack, r.a.stack, A4, 10_000);
    r.net.runUntil(t.done);
    assert.equal(r.b.eth.neighbors.get(A4)!.mac, r.a.eth.mac);
    // A new machine takes over a's address (a failover).
    const a2 = r.host('a2', [A4]);
    r.net.runFor(100_000);
    const g = arps(r.wire).filter((p) => p.arp.senderMac === a2.eth.mac);
    assert.equal(g.length, 1);
    assert.equal(g[0]!.dst, MAC_BROADCAST);
    assert.equal(g[0]!.arp.senderIp, A4);
    assert.equal(g[0]!.arp.targetIp, A4);
    assert.equal(r.b.eth.neighbors.get(A4)!.mac, a2.eth.mac);
    assert.equal(r.b.eth.neighbors.get(A4)!.state, 'stale');
  });
});

describe('Neighbor Discovery (RFC 4861) and address autoconfiguration (RFC 4862)', () => {
  test('RFC 4861 §7.2: a host resolves its peer by NS to the solicited-node group and a solicited NA, then TCP over IPv6 crosses the switch', () => {
    const r = lan({ a: [A6], b: [B6] });
    r.net.runFor(2_000_000); // DAD of both
    const t = bulk(r.a.stack, r.b.stack, B6, 100_000);
    r.net.runUntil(t.done);
    assert.ok(t.sameBytes());
    const nd = ndps(r.wire);
    const ns = nd.find((x) => x.m.type === 'ns' && x.m.target === B6 && x.src === A6)!;
    assert.equal(ns.dst, solicitedNode(B6));
    assert.equal(ns.m.opts.slla, r.a.eth.mac);
    const na = nd.find((x) => x.m.type === 'na' && x.m.target === B6)!;
    assert.equal(na.dst, A6);
    assert.ok(na.m.type === 'na' && na.m.solicited && na.m.override);
    assert.equal(na.m.opts.tlla, r.b.eth.mac);
    assert.equal(r.a.eth.neighbors.get(B6)!.mac, r.b.eth.mac);
    assert.equal(r.b.eth.neighbors.get(A6)!.mac, r.a.eth.mac);
  });

  test('RFC 4861 §7.1.1: a Neighbor Solicitation whose hop limit is not 255 is discarded, unanswered', () => {
    const r = lan({ a: [A6], b: [B6] });
    r.net.runFor(2_000_000);
    const x = v6('fd00::99');
    const ns: NdpMessage = { type: 'ns', target: B6, opts: { slla: RAW_MAC } };
    r.raw.transmit(ndpFrame(x, solicitedNode(B6), ns, ipv6MulticastMac(new Uint8Array([0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0, 0, 2])), 254));
    r.net.runFor(100_000);
    assert.equal(r.b.stack.counters.drops['ndp-invalid'], 1);
    assert.equal(ndps(r.seen).filter((n) => n.m.type === 'na').length, 0);
    assert.equal(r.b.eth.neighbors.get(x), undefined);
    r.raw.transmit(ndpFrame(x, solicitedNode(B6), ns, ipv6MulticastMac(new Uint8Array([0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0, 0, 2]))));
    r.net.runFor(100_000);
    const na = ndps(r.seen).filter((n) => n.m.type === 'na');
    assert.equal(na.length, 1);
    assert.equal(na[0]!.dst, x);
    assert.equal(r.b.eth.neighbors.get(x)!.state, 'stale');
  });

  test('RFC 4862 §5.4: Duplicate Address Detection finds an address already in use; the newcomer drops it', () => {
    const r = lan({ a: [A6], b: [B6] });
    r.net.runFor(2_000_000);
    assert.equal(r.a.eth.stats.dadSucceeded, 2); // fd00::1 and its link-local address
    const c = r.host('c', [A4, A6]);
    r.net.runFor(2_000_000);
    const dadNs = ndps(r.wire).filter((n) => n.m.type === 'ns' && n.m.target === A6 && n.src === v6('::'));
    assert.equal(dadNs.length, 2, "a's own DAD and c's");
    assert.deepEqual(c.eth.duplicates, [A6]);
    assert.equal(c.eth.stats.dadFailed, 1);
    assert.equal(c.stack.isLocalAddr(A6), false);
    assert.equal(r.a.stack.isLocalAddr(A6), true);
    // c's link-local address passed.
    assert.equal(c.eth.stats.dadSucceeded, 1);
  });

  test('RFC 4862 §5.5.3: a host forms an address from a Router Advertisement prefix (EUI-64) and learns its DNS server (RFC 8106); TCP then reaches the router over it', () => {
    const net = new Network({ seed: 3 });
    const sw = net.addSwitch({ impair: { delayUs: 500 } });
    const rs = net.addStack({ name: 'router' });
    const R = v6('2001:db8:1::1');
    const dns = v6('2001:db8:1::53');
    const router = net.attachEthernet(rs, sw, [{ addr: R }], { router: { prefixes: [{ prefix: v6('2001:db8:1::'), prefixLen: 64 }], mtu: 1400, rdnss: [dns] } });
    const hs = net.addStack({ name: 'host' });
    const host = net.attachEthernet(hs, sw, [], { autoconf: true });
    const expected = addrFromPrefix(v6('2001:db8:1::'), host.mac);
    net.runUntil(() => hs.isLocalAddr(expected) && host.tentative.size === 0, { until: 30_000_000 });
    assert.deepEqual(host.dnsServers, [dns]);
    assert.equal(host.advertisedMtu, 1400);
    assert.match(formatIpAddr(expected), /^2001:db8:1:0:[0-9a-f]+:[0-9a-f]*ff:fe[0-9a-f]*:[0-9a-f]+$/);
    assert.ok(router.stats.raOut >= 1);
    const t = bulk(hs, rs, R, 50_000);
    net.runUntil(t.done);
    assert.ok(t.sameBytes());
    const conn = t.conn;
    assert.equal(conn.localAddr, expected);
  });

  test('RFC 7217 §6: with stable interface identifiers, an address found duplicate by DAD is replaced by the next DAD_Counter', () => {
    const net = new Network({ seed: 5 });
    const sw = net.addSwitch({ impair: { delayUs: 500 } });
    const prefix = v6('2001:db8:3::');
    const rs = net.addStack({ name: 'router' });
    net.attachEthernet(rs, sw, [{ addr: v6('2001:db8:3::1') }], { router: { prefixes: [{ prefix, prefixLen: 64 }] } });
    const key: [number, number] = [0x1234, 0x5678];
    const mac = 0x020000bbbb01;
    const first = stableAddress(prefix, mac, 0, key);
    const second = stableAddress(prefix, mac, 1, key);
    assert.notEqual(first, second);
    assert.notEqual(first, addrFromPrefix(prefix, mac), 'not the EUI-64 one');
    assert.equal(stableAddress(prefix, mac, 0, key), first, 'stable');
    assert.notEqual(stableAddress(v6('2001:db8:4::'), mac, 0, key).slice(4), first.slice(4), 'the identifier depends on the prefix');
    // Someone already holds the first address.
    const squatter = net.addStack({ name: 'squatter' });
    net.attachEthernet(squatter, sw, [{ addr: first }]);
    net.runFor(2_000_000);
    const hs = net.addStack({ name: 'host' });
    const host = net.attachEthernet(hs, sw, [], { autoconf: true, iid: 'stable', iidKey: key, mac });
    net.runUntil(() => hs.isLocalAddr(second) && !host.tentative.has(second), { until: 60_000_000 });
    assert.deepEqual(host.duplicates, [first]);
    assert.equal(hs.isLocalAddr(first), false);
    assert.equal(squatter.isLocalAddr(first), true);
  });

  test('RFC 4861 §6.2.6: a router answers a Router Solicitation within MAX_RA_DELAY_TIME, long after its initial advertisements', () => {
    const net = new Network({ seed: 4 });
    const sw = net.addSwitch({ impair: { delayUs: 500 } });
    const rs = net.addStack({ name: 'router' });
    const router = net.attachEthernet(rs, sw, [{ addr: v6('2001:db8:2::1') }], { router: { prefixes: [{ prefix: v6('2001:db8:2::'), prefixLen: 64 }] } });
    const wire: Array<{ t: number; frame: Uint8Array }> = [];
    sw.tap = (_p, f) => wire.push({ t: net.clock.now(), frame: f.slice() });
    net.runFor(100_000_000);
    const initial = router.stats.raOut;
    assert.equal(initial, 3, 'MAX_INITIAL_RTR_ADVERTISEMENTS, then MinRtrAdvInterval (198 s) or more');
    const hs = net.addStack({ name: 'host' });
    const host = net.attachEthernet(hs, sw, [], { autoconf: true });
    const addr = addrFromPrefix(v6('2001:db8:2::'), host.mac);
    net.runUntil(() => hs.isLocalAddr(addr), { until: 110_000_000 });
    const nd = ndps(wire);
    const rsMsg = nd.find((x) => x.m.type === 'rs')!;
    assert.equal(rsMsg.src, v6('::'));
    const ra = nd.filter((x) => x.m.type === 'ra' && x.t > rsMsg.t);
    assert.equal(ra.length, 1);
    assert.ok(ra[0]!.t - rsMsg.t <= 500_000 + 500, `RA ${ra[0]!.t - rsMsg.t} µs after the RS`);
    assert.equal(host.stats.rsOut, 1, 'the advertisement ended the solicitations');
  });

  test('RFC 4861 §6.1.2: a Router Advertisement from a global source address is discarded; no address is formed', () => {
    const r = lan({ a: [A6], b: [B6] });
    const hs = r.net.addStack({ name: 'h' });
    const h = r.net.attachEthernet(hs, r.sw, [], { autoconf: true });
    const ra: NdpMessage = { type: 'ra', curHopLimit: 64, managed: false, other: false, routerLifetime: 0, reachableTime: 0, retransTimer: 0, opts: { prefixes: [{ prefix: v6('2001:db8:9::'), prefixLen: 64, onLink: true, autonomous: true, validLifetime: 3600, preferredLifetime: 1800 }] } };
    r.raw.transmit(ndpFrame(v6('2001:db8:9::1'), v6('ff02::1'), ra, 0x333300000001));
    r.net.runFor(2_000_000);
    assert.equal(hs.counters.drops['ndp-invalid'], 1);
    assert.equal(hs.isLocalAddr(addrFromPrefix(v6('2001:db8:9::'), h.mac)), false);
    r.raw.transmit(ndpFrame(v6('fe80::1'), v6('ff02::1'), ra, 0x333300000001));
    r.net.runFor(2_000_000);
    assert.equal(hs.isLocalAddr(addrFromPrefix(v6('2001:db8:9::'), h.mac)), true);
  });

  test('a v4 and a v6 TCP transfer across a lossy, reordering Ethernet switch arrive intact (ARP and NDP retried through the loss)', () => {
    const r = lan({ seed: 11, impair: { delayUs: 2000, jitterUs: 500, loss: 0.05, reorder: 0.02, reorderDelayUs: 3000, duplicate: 0.01 } });
    r.net.runFor(3_000_000);
    const t4 = bulk(r.a.stack, r.b.stack, B4, 300_000, 80);
    const t6 = bulk(r.b.stack, r.a.stack, A6, 300_000, 81);
    r.net.runUntil(() => t4.done() && t6.done());
    assert.ok(t4.sameBytes());
    assert.ok(t6.sameBytes());
    assert.ok(r.sw.stats.lost > 0);
  });
});

describe('malformed frames', () => {
  test('20 000 random and truncated frames into an Ethernet interface: never a throw, most are counted drops, the cache stays bounded, the peer still works', () => {
    const r = lan();
    r.net.runFor(2_000_000);
    const rng = new Rng(1234);
    const templates = [
      buildArpFrame({ op: 'request', senderMac: RAW_MAC, senderIp: ip4('10.0.0.40'), targetMac: 0, targetIp: B4 }),
      ndpFrame(v6('fd00::40'), solicitedNode(B6), { type: 'ns', target: B6, opts: { slla: RAW_MAC } }, 0x3333ff000002),
      buildEthernetFrame({ dst: r.b.eth.mac, src: RAW_MAC, ethertype: ETHERTYPE_IPV4, tags: [] }, v4Packet(ip4('10.0.0.40'), B4)),
    ];
    for (let i = 0; i < 20_000; i++) {
      const base = templates[i % templates.length]!;
      const f = base.slice(0, rng.int(0, base.length));
      // Flip a few bytes past the destination MAC (so the frame still reaches b).
      for (let k = 0; k < 3 && f.length > 6; k++) f[rng.int(6, f.length - 1)] = rng.int(0, 255);
      r.b.eth.receiveFrame(f);
    }
    const drops = Object.values(r.b.stack.counters.drops).reduce((x, y) => x + (y ?? 0), 0);
    assert.ok(drops > 10_000, `${drops} counted drops`);
    assert.ok(r.b.eth.neighbors.size <= r.b.eth.neighbors.limits.maxEntries);
    const t = bulk(r.a.stack, r.b.stack, B4, 20_000);
    r.net.runUntil(t.done);
    assert.ok(t.sameBytes());
  });
});

describe('pcap with LINKTYPE_ETHERNET', () => {
  test('a capture of the switch is a LINKTYPE_ETHERNET pcap whose TCP connection `synack trace` (viz/observer.ts) finds, its ARP frames skipped', () => {
    const r = lan({ a: [A4], b: [B4] });
    const sentBefore = r.sw.stats.sent;
    const wireBefore = r.wire.length;
    const file = r.sw.capture();
    const t = bulk(r.a.stack, r.b.stack, B4, 30_000);
    r.net.runUntil(t.done);
    const bytes = file();
    const p = parsePcap(bytes);
    assert.ok(p.ok);
    assert.equal(p.linkType, LINKTYPE_ETHERNET);
    assert.equal(p.records.length + p.skipped, r.sw.stats.sent - sentBefore);
    const arpFrames = arps(r.wire.slice(wireBefore)).length;
    assert.equal(arpFrames, 2); // a request, a reply
    assert.equal(p.skipped, arpFrames);
    const a = analyzeCapture(bytes);
    assert.ok(a.ok);
    assert.equal(a.connections.length, 1);
    assert.deepEqual(a.connections[0]!.bytes, [30_000, 0]);
  });

  test('RFC 2464 §3: IPv6 frames (EtherType 86DD) in a LINKTYPE_ETHERNET capture of the switch are read, so `synack trace` finds a TCP connection over IPv6; the NDP exchange is IPv6 too', () => {
    const r = lan({ a: [A6], b: [B6] });
    const file = r.sw.capture();
    const t = bulk(r.a.stack, r.b.stack, B6, 20_000);
    r.net.runUntil(t.done);
    assert.ok(t.sameBytes());
    const bytes = file();
    const p = parsePcap(bytes);
    assert.ok(p.ok);
    assert.equal(p.linkType, LINKTYPE_ETHERNET);
    // Every frame on this link is IPv6 (TCP, and NDP over ICMPv6): none is skipped.
    assert.equal(p.skipped, 0);
    assert.ok(p.records.length > 0);
    for (const rec of p.records) assert.equal(rec.data[0]! >> 4, 6);
    const a = analyzeCapture(bytes);
    assert.ok(a.ok);
    assert.equal(a.connections.length, 1);
    assert.deepEqual(a.connections[0]!.bytes, [20_000, 0]);
  });
});
