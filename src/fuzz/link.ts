/**
 * The link-layer and services fuzzer (issue 13): everything below TCP that
 * a machine on a LAN can send, fed to synack from one seed under the
 * virtual clock.
 *
 * The link part: an in-memory Ethernet switch with two synack hosts —
 * `b` (dual stack, 10.0.0.2 and fd00::2, a small neighbour cache so floods
 * reach its bound) and `a` (10.0.0.1, forming IPv6 addresses from Router
 * Advertisements, RFC 4862 SLAAC) — and a raw port. Frames go to both
 * interfaces: ARP requests, replies, probes and announcements from many
 * senders (an ARP flood), Neighbor Solicitations, Advertisements, Router
 * Solicitations and Advertisements with random options (prefixes, MTU,
 * RDNSS, zero-length and unknown options, an RA flood of new prefixes),
 * IPv4 and IPv6 datagrams with UDP (DHCP, DNS, other ports) and TCP SYNs
 * from unresolved senders, 802.1Q/802.1ad-tagged frames, unknown EtherTypes,
 * runts, frames for other MACs, and mutations of all of these. `b` also
 * sends to many on-link addresses nobody answers for (its pending-packet
 * queues, RFC 1122 §2.3.2.2).
 *
 * The services part: the DHCP server and client and the DNS resolver,
 * forwarder and zone server (services/, sans I/O) are fed the DHCP and DNS
 * payloads — a DHCPDISCOVER/REQUEST flood from many MACs, option overflows
 * (lengths past the end, option 52 overload, RFC 3396 split options
 * concatenated to kilobytes, no end option), offers and ACKs with odd
 * lease times, DNS compression loops, over-long labels and names, counts
 * beyond the message, answers to queries in flight, TCP streams split at
 * random.
 *
 * After every input: nothing throws; a frame that is malformed for the
 * link layer (runt, tagged, unknown EtherType, not for us) is a counted
 * drop; the neighbour caches, their pending queues, the switch's table,
 * the interfaces' address lists, the DHCP bindings and offers and the DNS
 * engines' outstanding queries and caches stay within their bounds; the
 * stacks' invariants hold. At the end the network is healed and a TCP
 * transfer a → b over IPv4 and IPv6 must still deliver every byte.
 */
import { Network } from '../sim/network.ts';
import { Rng } from '../base/rng.ts';
import type { Stack } from '../stack/stack.ts';
import { MAX_AUTOCONF_ADDRESSES, type EthernetInterface } from '../stack/ethernet.ts';
import type { Connection } from '../tcp/connection.ts';
import { checkStack } from '../sim/world/invariants.ts';
import { isSynackError } from '../errors.ts';
import { buildEthernetFrame, ETHERTYPE_ARP, ETHERTYPE_IPV4, ETHERTYPE_IPV6, MAC_BROADCAST, ipv6MulticastMac, type MacAddr } from '../wire/ethernet.ts';
import { emitArp, ARP_LEN } from '../wire/arp.ts';
import { ipv6FromWords, ipv6ToBytes, IPV6_HEADER_LEN, type Ipv6Addr } from '../wire/ipv6.ts';
import { solicitedNode, ALL_NODES, ALL_ROUTERS, linkLocalFor } from '../wire/ndp.ts';
import { setMac } from '../wire/ethernet.ts';
import { getU16, setU16, setU32 } from '../wire/bytes.ts';
import { emitIpv4Tcp, emitIpv6Tcp } from '../wire/tcp.ts';
import { SYN, CHECKSUM_FULL } from '../wire/types.ts';
import { buildDhcp, type DhcpMessage, type DhcpOption } from '../wire/dhcp.ts';
import { buildDns, dnsQuery } from '../wire/dns.ts';
import { DhcpServer } from '../services/dhcp-server.ts';
import { DhcpClient } from '../services/dhcp-client.ts';
import { DnsResolverEngine } from '../services/dns-resolver.ts';
import { DnsForwarder } from '../services/dns-forwarder.ts';
import { DnsZoneServer } from '../services/dns-zone.ts';
import { fixChecksums, ipv6Packet, udpPacket } from './ipgen.ts';

const A4 = ((10 << 24) | 1) >>> 0;
const B4 = ((10 << 24) | 2) >>> 0;
const B6: Ipv6Addr = ipv6FromWords([0xfd00, 0, 0, 0, 0, 0, 0, 2]);
const A6: Ipv6Addr = ipv6FromWords([0xfd00, 0, 0, 0, 0, 0, 0, 1]);
const RAW_MAC: MacAddr = 0x02aabbccdd01;
/** b's neighbour cache: small, so the floods reach its bound. */
const B_NEIGHBORS = 64;
const POOL = 20;

export interface LinkFuzzResult {
  seed: number;
  inputs: number;
  /** Drops counted by the two stacks and the service engines. */
  drops: number;
  maxNeighbors: number;
  maxPending: number;
  maxLeases: number;
  maxAddrs: number;
  /** Bytes the final transfers delivered (v4 + v6). */
  delivered: number;
  failure: string | null;
}

function pick<T>(r: Rng, xs: readonly T[]): T {
  return xs[r.int(0, xs.length - 1)]!;
}

function rbytes(r: Rng, n: number): Uint8Array {
  const b = new Uint8Array(n);
  r.fill(b);
  return b;
}

/** A random locally administered unicast MAC (the flood's senders). */
function randomMac(r: Rng): MacAddr {
  return 0x020000000000 + r.int(0, 0xffffff) * 0x100 + r.int(0, 255);
}

function sum(o: Partial<Record<string, number>>): number {
  let n = 0;
  for (const v of Object.values(o)) n += v ?? 0;
  return n;
}

// =============================================================================
// Frames
// =============================================================================

function eth(dst: MacAddr, src: MacAddr, ethertype: number, payload: Uint8Array): Uint8Array {
  if (ethertype < 0x0600) {
    // An IEEE 802.3 length field where Ethernet II has its EtherType (the codec refuses to build one).
    const f = new Uint8Array(14 + payload.length);
    setMac(f, 0, dst);
    setMac(f, 6, src);
    setU16(f, 12, ethertype);
    f.set(payload, 14);
    return f;
  }
  return buildEthernetFrame({ dst, src, ethertype, tags: [] }, payload);
}

function arpFrame(r: Rng, targetMac: MacAddr): Uint8Array {
  const senderMac = r.chance(0.9) ? randomMac(r) : pick(r, [RAW_MAC, targetMac, MAC_BROADCAST, 0]);
  const senderIp = r.chance(0.8) ? ((10 << 24) | r.int(3, 0xffff)) >>> 0 : pick(r, [0, B4, A4, 0xffffffff, r.nextU32()]);
  const op = r.chance(0.7) ? 'request' : 'reply';
  const targetIp = pick(r, [B4, A4, B4, senderIp, ((10 << 24) | r.int(3, 0xffff)) >>> 0]);
  const body = new Uint8Array(ARP_LEN);
  emitArp({ op, senderMac, senderIp, targetMac: op === 'reply' ? targetMac : 0, targetIp }, body, 0);
  if (r.chance(0.1)) body[r.int(0, 7)] = r.int(0, 255); // htype, ptype, hlen, plen, op
  const p = r.chance(0.1) ? body.subarray(0, r.int(0, ARP_LEN)) : body;
  return eth(op === 'request' && r.chance(0.8) ? MAC_BROADCAST : targetMac, senderMac, ETHERTYPE_ARP, p);
}

/** NDP options: SLLA/TLLA, prefixes (autonomous /64s: an RA flood of new prefixes), MTU, RDNSS, unknown, zero-length. */
function ndpOptions(r: Rng): Uint8Array {
  const parts: Uint8Array[] = [];
  for (let k = r.int(0, 4); k > 0; k--) {
    const kind = r.int(0, 7);
    let o: Uint8Array;
    if (kind <= 1) {
      o = new Uint8Array(8);
      o[0] = kind + 1;
      o[1] = 1;
      setMac(o, 2, randomMac(r));
    } else if (kind === 2) {
      o = new Uint8Array(32);
      o[0] = 3;
      o[1] = 4;
      o[2] = r.chance(0.8) ? 64 : r.int(0, 255);
      o[3] = (r.chance(0.8) ? 0x40 : 0) | (r.chance(0.5) ? 0x80 : 0);
      setU32(o, 4, pick(r, [0, 1, 3600, 0xffffffff, r.nextU32()]));
      setU32(o, 8, pick(r, [0, 1800, 0xffffffff, r.nextU32()]));
      o.set(ipv6ToBytes(ipv6FromWords([pick(r, [0xfd00, 0x2001, 0xfe80, r.int(0, 0xffff)]), r.int(0, 0xffff), r.int(0, 0xffff), r.int(0, 0xffff), 0, 0, 0, 0])), 16);
    } else if (kind === 3) {
      o = new Uint8Array(8);
      o[0] = 5;
      o[1] = 1;
      setU32(o, 4, pick(r, [0, 1279, 1280, 1500, 9000, 0xffffffff, r.nextU32()]));
    } else if (kind === 4) {
      const n = r.int(0, 20);
      o = new Uint8Array(8 + 16 * n);
      o[0] = 25;
      o[1] = o.length / 8;
      setU32(o, 4, r.chance(0.5) ? 0 : r.nextU32());
      r.fill(o.subarray(8));
    } else if (kind === 5) {
      o = new Uint8Array(2 + r.int(0, 6));
      o[0] = r.int(0, 255);
      o[1] = 0; // zero length: RFC 4861 §4.6 "Nodes MUST silently discard an ND packet that contains an option with length zero."
    } else {
      o = rbytes(r, 8 * r.int(1, 3));
      o[1] = r.chance(0.8) ? o.length / 8 : r.int(0, 255);
    }
    parts.push(o);
  }
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  n = 0;
  for (const p of parts) {
    out.set(p, n);
    n += p.length;
  }
  return out;
}

function ndpFrame(r: Rng, target: EthernetInterface, targetAddr: Ipv6Addr): Uint8Array {
  const type = pick(r, [133, 134, 134, 134, 135, 135, 136, 137, r.int(128, 140)]);
  const fixed = type === 133 ? 4 : type === 134 ? 12 : type === 137 ? 36 : 20;
  const opts = ndpOptions(r);
  const body = new Uint8Array(4 + fixed + opts.length);
  body[0] = type;
  body[1] = r.chance(0.95) ? 0 : r.int(1, 255);
  if (type === 134) {
    body[4] = r.int(0, 255);
    body[5] = r.int(0, 255);
    setU16(body, 6, pick(r, [0, 1800, 9000, 0xffff]));
    setU32(body, 8, r.chance(0.5) ? 0 : r.nextU32());
    setU32(body, 12, r.chance(0.5) ? 0 : r.nextU32());
  } else if (type === 135 || type === 136 || type === 137) {
    body[4] = r.int(0, 255);
    body.set(ipv6ToBytes(pick(r, [targetAddr, targetAddr, ipv6FromWords([0xfd00, 0, 0, 0, 0, 0, 0, r.int(3, 0xffff)]), ipv6FromWords([0xff02, 0, 0, 0, 0, 0, 0, 1]), linkLocalFor(target.mac)])), 8);
  }
  body.set(opts, 4 + fixed);
  const srcMac = randomMac(r);
  const src = pick(r, [linkLocalFor(srcMac), linkLocalFor(srcMac), ipv6FromWords([0xfd00, 0, 0, 0, 0, 0, 0, r.int(3, 0xffff)]), ipv6FromWords([0, 0, 0, 0, 0, 0, 0, 0])]);
  const dst = pick(r, [targetAddr, solicitedNode(targetAddr), ALL_NODES, ALL_ROUTERS, linkLocalFor(target.mac)]);
  const p = ipv6Packet(src, dst, 58, body, r.chance(0.9) ? 255 : r.int(0, 254));
  if (r.chance(0.95)) fixChecksums(p);
  const dstMac = dst === targetAddr || dst === linkLocalFor(target.mac) ? target.mac : ipv6MulticastMac(ipv6ToBytes(dst));
  return eth(dstMac, srcMac, ETHERTYPE_IPV6, p);
}

/** A well-formed Router Advertisement from a random router with one new autonomous /64 prefix (the RA flood). */
export function raFrame(r: Rng, dstMac: MacAddr | null = null): Uint8Array {
  const body = new Uint8Array(16 + 8 + 32);
  body[0] = 134;
  body[4] = 64;
  setU16(body, 6, r.chance(0.5) ? 1800 : 0);
  const srcMac = randomMac(r);
  const o = 16;
  body[o] = 1;
  body[o + 1] = 1;
  setMac(body, o + 2, srcMac);
  const p = o + 8;
  body[p] = 3;
  body[p + 1] = 4;
  body[p + 2] = 64;
  body[p + 3] = 0xc0;
  setU32(body, p + 4, 2592000);
  setU32(body, p + 8, 604800);
  body.set(ipv6ToBytes(ipv6FromWords([0x2001, 0xdb8, r.int(0, 0xffff), r.int(0, 0xffff), 0, 0, 0, 0])), p + 16);
  const pkt = ipv6Packet(linkLocalFor(srcMac), ALL_NODES, 58, body, 255);
  fixChecksums(pkt);
  return eth(dstMac ?? ipv6MulticastMac(ipv6ToBytes(ALL_NODES)), srcMac, ETHERTYPE_IPV6, pkt);
}

/** A DHCP message (RFC 2131) from a client (op 1) or a server (op 2), with random, overflowing and overloaded options. */
function dhcpPayload(r: Rng, op: 1 | 2, mac: MacAddr, xid: number): Uint8Array {
  const chaddr = new Uint8Array(6);
  setMac(chaddr, 0, mac);
  const type = op === 1 ? pick(r, [1, 1, 3, 3, 4, 7, 8, r.int(1, 20)]) : pick(r, [2, 5, 5, 6, r.int(1, 20)]);
  const options: DhcpOption[] = [{ kind: 'message-type', type }];
  if (r.chance(0.5)) options.push({ kind: 'server-id', addr: pick(r, [B4, A4, r.nextU32()]) });
  if (r.chance(0.5)) options.push({ kind: 'requested-ip', addr: r.chance(0.7) ? ((10 << 24) | r.int(0, 40)) >>> 0 : r.nextU32() });
  if (op === 2) {
    options.push({ kind: 'lease-time', seconds: pick(r, [0, 1, 60, 3600, 0xffffffff, r.nextU32()]) });
    if (r.chance(0.5)) options.push({ kind: 'renewal-time', seconds: pick(r, [0, 30, 0xffffffff, r.nextU32()]) });
    if (r.chance(0.5)) options.push({ kind: 'rebinding-time', seconds: pick(r, [0, 20, 0xffffffff, r.nextU32()]) });
    if (r.chance(0.7)) options.push({ kind: 'subnet-mask', mask: pick(r, [0xffffff00, 0, 0xffffffff, r.nextU32()]) });
    if (r.chance(0.5)) options.push({ kind: 'router', addrs: Array.from({ length: r.int(0, 60) }, () => r.nextU32()) });
    if (r.chance(0.3)) options.push({ kind: 'mtu', mtu: pick(r, [0, 67, 68, 576, 1500, 65535]) });
  }
  if (r.chance(0.3)) options.push({ kind: 'client-id', data: rbytes(r, r.int(0, 255)) });
  if (r.chance(0.2)) options.push({ kind: 'parameter-request-list', codes: Array.from({ length: r.int(0, 255) }, () => r.int(0, 255)) });
  const msg: DhcpMessage = {
    op,
    htype: r.chance(0.95) ? 1 : r.int(0, 255),
    hops: 0,
    xid,
    secs: 0,
    flags: r.chance(0.5) ? 0x8000 : 0,
    ciaddr: r.chance(0.8) ? 0 : r.nextU32(),
    yiaddr: op === 2 ? pick(r, [((10 << 24) | r.int(10, 30)) >>> 0, 0, r.nextU32()]) : 0,
    siaddr: 0,
    giaddr: r.chance(0.9) ? 0 : r.nextU32(),
    chaddr: r.chance(0.95) ? chaddr : rbytes(r, r.int(0, 16)),
    sname: '',
    file: '',
    options,
  };
  let p: Uint8Array;
  try {
    p = buildDhcp(msg);
  } catch {
    p = buildDhcp({ ...msg, options: [{ kind: 'message-type', type }], chaddr });
  }
  const k = r.int(0, 9);
  if (k === 0) {
    // Option lengths past the end, no end option.
    const q = new Uint8Array(240 + r.int(2, 40));
    q.set(p.subarray(0, 240));
    r.fill(q.subarray(240));
    q[240] = 53;
    q[241] = 1;
    q[242] = type;
    if (q.length > 244) q[243] = r.int(1, 255);
    return q;
  }
  if (k === 1) {
    // RFC 2131 §4.1 / RFC 2132 §9.3 option overload (52): sname and file carry options, or garbage.
    const q = p.slice();
    const end = q.lastIndexOf(255);
    if (end >= 240) {
      const z = new Uint8Array(end + 3 + 1);
      z.set(q.subarray(0, end));
      z[end] = 52;
      z[end + 1] = 1;
      z[end + 2] = r.int(0, 4);
      z[end + 3] = 255;
      const field = rbytes(r, 64 + 128);
      if (r.chance(0.5)) field.fill(0).set([12, 200], 0); // a host name running past the field
      z.set(field.subarray(0, 64), 44);
      z.set(field.subarray(64), 108);
      return z;
    }
    return q;
  }
  if (k === 2) {
    // RFC 3396: one option split in many instances, concatenated to kilobytes.
    const parts = r.int(2, 40);
    const code = pick(r, [61, 55, 12, 3, 6, 81, r.int(1, 254)]);
    const q = new Uint8Array(240 + parts * 257 + 4);
    q.set(p.subarray(0, 240));
    let o = 240;
    q[o++] = 53;
    q[o++] = 1;
    q[o++] = type;
    for (let i = 0; i < parts; i++) {
      q[o++] = code;
      q[o++] = 255;
      r.fill(q.subarray(o, o + 255));
      o += 255;
    }
    q[o] = 255;
    return q;
  }
  if (k === 3) return p.subarray(0, r.int(0, p.length)); // truncated (no magic cookie, half a header)
  return p;
}

/** A DNS message with hostile structure: compression loops and forward pointers, long labels and names, counts beyond the data, random flags. */
function dnsPayload(r: Rng, id: number, response: boolean): Uint8Array {
  const name = pick(r, ['www.example.test', 'example.test', 'a.b.c.d.e.f.example.test', 'x'.repeat(63) + '.test', '']);
  let q: Uint8Array;
  try {
    q = buildDns({ ...dnsQuery(id, name, pick(r, [1, 28, 5, 255, 0, r.int(0, 65535)])), qr: response });
  } catch {
    q = buildDns(dnsQuery(id, 'example.test', 1));
  }
  const k = r.int(0, 7);
  const m = q.slice();
  if (k === 0) {
    // A name that is a pointer to itself (or to the header).
    const z = new Uint8Array(12 + 2 + 4);
    z.set(m.subarray(0, 12));
    setU16(z, 4, 1);
    setU16(z, 6, 0);
    z[12] = 0xc0;
    z[13] = pick(r, [12, 0, 2, 13, 200]);
    setU16(z, 14, 1);
    setU16(z, 16, 1);
    return z;
  }
  if (k === 1) {
    // Labels with the reserved 01/10 prefixes, or longer than the message.
    if (m.length > 13) m[12] = pick(r, [0x40, 0x80, 63, 64, 255]);
    return m;
  }
  if (k === 2) {
    // Answer counts far beyond the data, with a record whose RDLENGTH runs past the end.
    setU16(m, 2, getU16(m, 2) | 0x8000);
    setU16(m, 6, pick(r, [1, 2, 100, 0xffff]));
    setU16(m, 8, r.int(0, 3));
    setU16(m, 10, r.int(0, 3));
    const tail = new Uint8Array(2 + 10 + r.int(0, 8));
    tail[0] = 0xc0;
    tail[1] = 12;
    setU16(tail, 2, pick(r, [1, 28, 5, 41, 2, 12]));
    setU16(tail, 4, 1);
    setU32(tail, 6, r.nextU32());
    setU16(tail, 10, pick(r, [4, 16, 0, 0xffff, r.int(0, 40)]));
    const z = new Uint8Array(m.length + tail.length);
    z.set(m);
    z.set(tail, m.length);
    return z;
  }
  if (k === 3) {
    // A name over 255 octets made of 63-octet labels.
    const labels = 5;
    const z = new Uint8Array(12 + labels * 64 + 1 + 4);
    z.set(m.subarray(0, 12));
    setU16(z, 4, 1);
    let o = 12;
    for (let i = 0; i < labels; i++) {
      z[o++] = 63;
      z.fill(0x61, o, o + 63);
      o += 63;
    }
    z[o++] = 0;
    setU16(z, o, 1);
    setU16(z, o + 2, 1);
    return z;
  }
  if (k === 4) {
    for (let i = r.int(1, 6); i > 0 && m.length; i--) m[r.int(0, m.length - 1)] = r.int(0, 255);
    return m;
  }
  if (k === 5) return m.subarray(0, r.int(0, m.length));
  if (k === 6) {
    // Random header flags (opcode, rcode, TC) on a well-formed body.
    setU16(m, 2, r.int(0, 0xffff));
    return m;
  }
  return m;
}

// =============================================================================
// The run
// =============================================================================

interface Host {
  stack: Stack;
  eth: EthernetInterface;
}

export function fuzzLink(seed: number, n: number): LinkFuzzResult {
  const r = new Rng(seed ^ 0x4c494e4b);
  const res: LinkFuzzResult = { seed, inputs: 0, drops: 0, maxNeighbors: 0, maxPending: 0, maxLeases: 0, maxAddrs: 0, delivered: 0, failure: null };
  const net = new Network({ seed });
  const sw = net.addSwitch({ checksumOffload: false, impair: { delayUs: 100 } });
  const host = (name: string, addrs: Array<{ addr: number | Ipv6Addr }>, opts: Parameters<Network['attachEthernet']>[3]): Host => {
    const stack = net.addStack({ name, tcp: { synRetries: 2, userTimeoutUs: 20_000_000 } });
    return { stack, eth: net.attachEthernet(stack, sw, addrs, opts) };
  };
  const b = host('b', [{ addr: B4 }, { addr: B6 }], { neighbor: { maxEntries: B_NEIGHBORS } });
  const a = host('a', [{ addr: A4 }, { addr: A6 }], { autoconf: true });
  const raw = sw.attach();
  raw.onReceive = () => {};
  const hosts = [a, b];
  const addrsAtStart = new Map(hosts.map((h) => [h, h.eth.iface.addrs.length]));
  let phase = 'setup';

  // The service engines (sans I/O).
  const srv = new DhcpServer({ serverId: B4, prefixLen: 24, poolStart: ((10 << 24) | 10) >>> 0, poolEnd: ((10 << 24) | (10 + POOL - 1)) >>> 0, leaseTime: 600, offerHold: 5_000_000 });
  const cli = new DhcpClient({ mac: 0x020000000042, rng: new Rng(seed ^ 7), startDelay: false });
  const zone = new DnsZoneServer({ origin: 'example.test', records: [] });
  const resolver = new DnsResolverEngine({ servers: [{ address: '10.0.0.53' }], rng: new Rng(seed ^ 8), maxOutstanding: 16, cacheSize: 32, negativeCacheSize: 16 });
  const fwd = new DnsForwarder({ upstream: { address: '10.0.0.53' }, rng: new Rng(seed ^ 9), maxOutstanding: 32, cacheSize: 16, maxClientConns: 8 });
  let cliXid = 0;
  const resolverIds: number[] = [];
  const fwdIds: number[] = [];
  const grab = (out: Array<{ payload: Uint8Array }>, into: number[]): void => {
    for (const o of out) if (o.payload.length >= 2) into.push(getU16(o.payload, 0));
    if (into.length > 64) into.splice(0, into.length - 64);
  };
  const cliStart = cli.start(0);
  for (const o of cliStart.out) if (o.payload.length >= 8) cliXid = (o.payload[4]! << 24 | o.payload[5]! << 16 | o.payload[6]! << 8 | o.payload[7]!) >>> 0;

  const fail = (m: string): void => {
    res.failure ??= `seed ${seed}, input ${res.inputs} (${phase}): ${m}`;
  };
  const drops = (): number => sum(a.stack.counters.drops) + sum(b.stack.counters.drops);

  const check = (): void => {
    const now = net.clock.now();
    for (const h of hosts) {
      const v = checkStack(h.stack, now, 4096);
      if (v) return fail(`${h.stack.name}: ${v.kind}: ${v.message}`);
      const nb = h.eth.neighbors;
      if (nb.size > nb.limits.maxEntries) return fail(`${h.stack.name}: ${nb.size} neighbour entries (limit ${nb.limits.maxEntries})`);
      const pend = nb.pendingPackets;
      res.maxPending = Math.max(res.maxPending, pend);
      if (pend > nb.limits.maxEntries * nb.limits.queueLen) return fail(`${h.stack.name}: ${pend} packets wait for resolution (limit ${nb.limits.maxEntries} × ${nb.limits.queueLen})`);
      const addrs = h.eth.iface.addrs.length;
      res.maxAddrs = Math.max(res.maxAddrs, addrs);
      // Configured addresses, the link-local one, and at most MAX_AUTOCONF_ADDRESSES formed by SLAAC.
      if (addrs > addrsAtStart.get(h)! + 1 + MAX_AUTOCONF_ADDRESSES) return fail(`${h.stack.name}: ${addrs} addresses on the interface (an RA flood is not bounded)`);
      if (h.eth.dnsServers.length > 3) return fail(`${h.stack.name}: ${h.eth.dnsServers.length} RDNSS servers kept`);
    }
    res.maxNeighbors = Math.max(res.maxNeighbors, b.eth.neighbors.size);
    if (sw.learned > 4096) return fail(`the switch learnt ${sw.learned} MACs`);
    res.maxLeases = Math.max(res.maxLeases, srv.size);
    if (srv.pendingOffers > POOL) return fail(`${srv.pendingOffers} DHCP offers pending for a pool of ${POOL}`);
    // Bindings: the pool, plus declined and remembered addresses, all inside the pool.
    if (srv.size > POOL) return fail(`${srv.size} DHCP bindings for a pool of ${POOL}`);
    if (resolver.outstanding > 16) return fail(`${resolver.outstanding} resolver queries outstanding (limit 16)`);
    if (resolver.cacheEntries > 48) return fail(`${resolver.cacheEntries} resolver cache entries (limit 32 + 16)`);
    if (fwd.outstanding > 32) return fail(`${fwd.outstanding} forwarder queries outstanding (limit 32)`);
  };

  const run = (fn: () => void): void => {
    try {
      fn();
    } catch (e) {
      fail(`threw ${e instanceof Error ? `${e.name}: ${e.message}\n${e.stack ?? ''}` : String(e)}`);
    }
  };

  run(() => net.runFor(3_000_000)); // DAD, gratuitous ARP, router solicitations
  phase = 'fuzz';
  // Listeners so TCP SYNs from the flood meet a port (b answers SYN,ACK and must resolve the sender).
  run(() => {
    b.stack.listen(80);
  });
  const corpus: Uint8Array[] = [];
  for (let i = 0; i < n && res.failure === null; i++) {
    res.inputs++;
    const target = r.chance(0.75) ? b : a;
    const tMac = target.eth.mac;
    const tAddr4 = target === b ? B4 : A4;
    const tAddr6 = target === b ? B6 : linkLocalFor(a.eth.mac);
    const k = r.next();
    let frame: Uint8Array | null = null;
    let malformed = false;
    if (k < 0.22) frame = arpFrame(r, tMac);
    else if (k < 0.45) frame = ndpFrame(r, target.eth, tAddr6);
    else if (k < 0.6) {
      // UDP to either family: DHCP, DNS, other ports (from unresolved senders).
      const v6 = r.chance(0.4);
      const srcMac = randomMac(r);
      const payload = r.chance(0.5) ? dhcpPayload(r, r.chance(0.5) ? 1 : 2, srcMac, r.nextU32()) : dnsPayload(r, r.int(0, 0xffff), r.chance(0.5));
      const port = pick(r, [67, 68, 53, 7, r.int(1, 65535)]);
      const p = v6 ? udpPacket(r, ipv6FromWords([0xfd00, 0, 0, 0, 0, 0, 0, r.int(3, 0xffff)]), tAddr6, pick(r, [68, 67, 53, r.int(1, 65535)]), port) : udpPacket(r, r.chance(0.2) ? 0 : ((10 << 24) | r.int(3, 0xffff)) >>> 0, r.chance(0.3) ? 0xffffffff : tAddr4, pick(r, [68, 67, 53]), port);
      // Put the service payload in place of the random one where it fits.
      const off = v6 ? IPV6_HEADER_LEN + 8 : 28;
      if (p.length >= off + payload.length && r.chance(0.8)) {
        p.set(payload, off);
        fixChecksums(p);
      }
      frame = eth(r.chance(0.8) ? tMac : MAC_BROADCAST, srcMac, v6 ? ETHERTYPE_IPV6 : ETHERTYPE_IPV4, p);
    } else if (k < 0.7) {
      // A TCP SYN from an unresolved sender (b must resolve it to answer: pending queues).
      const srcMac = randomMac(r);
      const seg = { srcPort: r.int(1024, 65535), dstPort: pick(r, [80, 81]), seq: r.nextU32(), ack: 0, flags: SYN, window: 65535, urgentPointer: 0, options: [], payload: new Uint8Array(0) };
      const p = r.chance(0.5)
        ? emitIpv4Tcp({ src: ((10 << 24) | r.int(3, 0xffff)) >>> 0, dst: tAddr4, ttl: 64, tos: 0, ident: 0, dontFragment: true }, seg, CHECKSUM_FULL)
        : emitIpv6Tcp({ src: ipv6FromWords([0xfd00, 0, 0, 0, 0, 0, 0, r.int(3, 0xffff)]), dst: tAddr6, hopLimit: 64, trafficClass: 0, flowLabel: 0 }, seg, CHECKSUM_FULL);
      frame = eth(tMac, srcMac, p[0]! >>> 4 === 6 ? ETHERTYPE_IPV6 : ETHERTYPE_IPV4, p);
    } else if (k < 0.8) {
      // Malformed for the link layer: runts, tagged frames, unknown EtherTypes, frames for another MAC.
      malformed = true;
      const kind = r.int(0, 3);
      const body = rbytes(r, r.int(0, 100));
      if (kind === 0) frame = rbytes(r, r.int(0, 13));
      else if (kind === 1) frame = buildEthernetFrame({ dst: tMac, src: randomMac(r), ethertype: pick(r, [ETHERTYPE_IPV4, ETHERTYPE_IPV6, ETHERTYPE_ARP]), tags: [{ tpid: pick(r, [0x8100, 0x88a8]), pcp: r.int(0, 7), dei: false, vid: r.int(0, 4095) }] }, body);
      else if (kind === 2) frame = eth(tMac, randomMac(r), pick(r, [0x0000, 0x05dc, 0x88b5, 0x8847, 0x9000, r.int(0x600, 0xffff)].filter((x) => x !== ETHERTYPE_IPV4 && x !== ETHERTYPE_IPV6 && x !== ETHERTYPE_ARP && x !== 0x8100 && x !== 0x88a8 && x !== 0x9100)), body);
      else frame = eth(0x02fefefefe00 + r.int(0, 255), randomMac(r), ETHERTYPE_IPV4, body);
    } else if (k < 0.9 && corpus.length) {
      // A mutation of an earlier input.
      frame = corpus[r.int(0, corpus.length - 1)]!.slice();
      for (let m = r.int(1, 6); m > 0 && frame.length > 14; m--) frame[r.int(12, frame.length - 1)] = r.int(0, 255);
      if (r.chance(0.3)) frame = frame.subarray(0, r.int(0, frame.length));
      if (r.chance(0.5) && frame.length > 14) {
        const ip = frame.subarray(14);
        if (ip.length >= 20) fixChecksums(ip);
      }
    } else if (k < 0.93) {
      // b sends to on-link addresses nobody answers for: neighbour entries and pending packets pile up to their bounds.
      run(() => {
        const dst = r.chance(0.5) ? ((10 << 24) | r.int(100, 254)) >>> 0 : ipv6FromWords([0xfd00, 0, 0, 0, 0, 0, 0, r.int(100, 0xffff)]);
        try {
          const c = b.stack.connect(dst, 80);
          b.stack.abort(c);
          b.stack.connect(dst, 81);
        } catch (e) {
          // A refused user call (no port left, too many connections) is a typed error, not a failure.
          if (!isSynackError(e)) throw e;
        }
      });
    } else if (k < 0.945) {
      // A Router Advertisement flood (RFC 6104 rogue RAs): each with a new autonomous /64 prefix, to a (which forms addresses).
      run(() => {
        for (let j = r.int(5, 60); j > 0; j--) a.eth.receiveFrame(raFrame(r, a.eth.mac));
      });
    } else if (k < 0.96) {
      const us = pick(r, [1000, 100_000, 1_000_000, 5_000_000]);
      run(() => net.runFor(us));
    } else {
      frame = rbytes(r, r.int(14, 200));
    }

    // The service engines take the DHCP and DNS payloads (and answers to their own queries).
    const now = net.clock.now();
    run(() => {
      const s = r.int(0, 9);
      if (s <= 2) {
        const mac = r.chance(0.8) ? randomMac(r) : 0x020000000042;
        const out = srv.handle(dhcpPayload(r, 1, mac, r.nextU32()), now).out;
        // Now and then the offer goes to the client as it is (a real exchange), else mutated.
        if (out.length && r.chance(0.3)) cli.handle(out[0]!.payload, now);
      } else if (s === 3) {
        cli.handle(dhcpPayload(r, 2, 0x020000000042, r.chance(0.7) ? cliXid : r.nextU32()), now);
        const p = cli.poll(now);
        for (const o of p.out) if (o.payload.length >= 8) cliXid = getU16(o.payload, 4) * 0x10000 + getU16(o.payload, 6);
      } else if (s === 4) {
        zone.handle(dnsPayload(r, r.int(0, 0xffff), false), r.chance(0.5));
      } else if (s === 5) {
        grab(resolver.query(pick(r, ['www.example.test', 'a.example.test', `h${r.int(0, 200)}.example.test`]), pick(r, [1, 28]), now).out, resolverIds);
      } else if (s === 6) {
        const id = resolverIds.length && r.chance(0.8) ? pick(r, resolverIds) : r.int(0, 0xffff);
        grab(resolver.handleUdp(dnsPayload(r, id, true), { address: r.chance(0.9) ? '10.0.0.53' : '10.0.0.66', port: 53 }, now).out, resolverIds);
        if (r.chance(0.2)) resolver.handleTcp(r.int(1, 4), dnsPayload(r, id, true), now);
      } else if (s === 7) {
        grab(fwd.handleClientUdp(dnsPayload(r, r.int(0, 0xffff), false), { address: `10.0.${r.int(0, 255)}.${r.int(0, 255)}`, port: r.int(1, 65535) }, now).out, fwdIds);
      } else if (s === 8) {
        const id = fwdIds.length && r.chance(0.8) ? pick(r, fwdIds) : r.int(0, 0xffff);
        fwd.handleUpstreamUdp(dnsPayload(r, id, true), { address: '10.0.0.53', port: 53 }, now);
      } else {
        // TCP streams: length-prefixed messages split at random, on many connections.
        const msg = dnsPayload(r, r.int(0, 0xffff), false);
        const framed = new Uint8Array(2 + msg.length);
        setU16(framed, 0, r.chance(0.9) ? msg.length : r.int(0, 0xffff));
        framed.set(msg, 2);
        const cut = r.int(0, framed.length);
        const conn = r.int(1, 20);
        fwd.handleClientTcp(conn, framed.subarray(0, cut), now);
        if (r.chance(0.5)) fwd.handleClientTcp(conn, framed.subarray(cut), now);
        if (r.chance(0.2)) fwd.clientTcpClosed(conn);
      }
      if (r.chance(0.02)) {
        srv.poll(now);
        resolver.poll(now);
        fwd.poll(now);
      }
    });

    if (frame) {
      if (corpus.length < 512 && !malformed && r.chance(0.2)) corpus.push(frame.slice());
      const before = drops();
      if (r.chance(0.1)) run(() => raw.transmit(frame!));
      else {
        run(() => target.eth.receiveFrame(frame!));
        if (malformed && drops() === before) fail(`a malformed frame (${frame.length} bytes, EtherType 0x${frame.length >= 14 ? getU16(frame, 12).toString(16) : '-'}) was not a counted drop`);
      }
    }
    if ((i & 15) === 15) run(() => net.runFor(r.int(0, 20_000)));
    if ((i & 31) === 31 && res.failure === null) run(check);
  }
  if (res.failure === null) run(check);

  // Heal: the engines' timers run out, and the hosts still talk, IPv4 and IPv6.
  if (res.failure === null) {
    phase = 'after';
    run(() => {
      net.runFor(120_000_000);
      srv.poll(net.clock.now());
      fwd.poll(net.clock.now());
      resolver.poll(net.clock.now());
      if (fwd.outstanding !== 0) fail(`${fwd.outstanding} forwarder queries outstanding after their timeout`);
      res.delivered += transfer(net, a.stack, b.stack, B4, 8000, 90, fail);
      res.delivered += transfer(net, a.stack, b.stack, B6, 8000, 91, fail);
      check();
    });
  }
  res.drops = drops() + sum(srv.drops) + sum(cli.drops) + sum(resolver.drops) + sum(fwd.drops) + sum(zone.drops);
  return res;
}

/** `size` bytes from `from` to `to` at `addr`:`port`, every byte compared; returns the bytes delivered. */
function transfer(net: Network, from: Stack, to: Stack, addr: number | Ipv6Addr, size: number, port: number, fail: (m: string) => void): number {
  const data = new Uint8Array(size);
  new Rng(port).fill(data);
  let got = 0;
  let bad = false;
  const l = to.listen(port, {
    onConnection: (c) => {
      c.user = {
        onEvent: (conn: Connection) => {
          for (const chunk of to.read(conn)) {
            for (let i = 0; i < chunk.length; i++) if (chunk[i] !== data[got + i]) bad = true;
            got += chunk.length;
          }
        },
      };
    },
  });
  const c = from.connect(addr, port);
  let off = 0;
  const pump = (): void => {
    while (off < size && c.state !== 'CLOSED') {
      const n = from.send(c, data.subarray(off));
      if (n === 0) break;
      off += n;
    }
  };
  c.user = { onEvent: () => pump() };
  try {
    net.runUntil(() => got >= size || c.state === 'CLOSED', { until: net.clock.now() + 60_000_000 });
  } catch {
    // reported below
  }
  l.close();
  if (bad) fail(`the transfer to ${typeof addr === 'number' ? 'IPv4' : 'IPv6'} port ${port} delivered a wrong byte`);
  else if (got !== size) fail(`the transfer to ${typeof addr === 'number' ? 'IPv4' : 'IPv6'} port ${port} delivered ${got} of ${size} bytes after the fuzz (state ${c.state}, close reason ${String(c.closeReason)})`);
  return got;
}
