/**
 * Input generators of the segment fuzzer for the rest of the IP layer
 * (issues 12 and 13): IPv6 extension-header chains around an upper-layer
 * payload, ICMPv6 (echo, Packet Too Big, destination unreachable, time
 * exceeded, parameter problem, unknown types, NDP types off-link) and
 * ICMPv4 errors quoting the target's own connections, UDP datagrams of
 * both families, and IPv4/IPv6 fragment trains (shuffled, lost, duplicated,
 * overlapping, atomic). Each returns bytes only; the fuzzer feeds them.
 */
import type { Rng } from '../base/rng.ts';
import { checksum, pseudoHeaderSum } from '../wire/checksum.ts';
import { concatBytes, getU16, setU16, setU32 } from '../wire/bytes.ts';
import {
  emitIpv6,
  ipv6PseudoHeaderSum,
  readIpv6Addr,
  IPPROTO_HOPOPTS,
  IPPROTO_ICMPV6,
  IPPROTO_IPV6_DSTOPTS,
  IPPROTO_IPV6_FRAGMENT,
  IPPROTO_IPV6_NONXT,
  IPPROTO_IPV6_ROUTING,
  IPV6_HEADER_LEN,
  type IpAddr,
  type Ipv6Addr,
} from '../wire/ipv6.ts';
import { emitIpv4Tcp, emitIpv6Tcp } from '../wire/tcp.ts';
import { fragmentIpv4, fragmentIpv6 } from '../ip/fragment.ts';
import { CHECKSUM_FULL, IPPROTO_TCP, IPPROTO_UDP, type TcpRepr } from '../wire/types.ts';

function pick<T>(r: Rng, xs: readonly T[]): T {
  return xs[r.int(0, xs.length - 1)]!;
}

function bytes(r: Rng, n: number): Uint8Array {
  const b = new Uint8Array(n);
  r.fill(b);
  return b;
}

/** An IPv6 packet: the fixed header, then `body` (extension headers and upper layer) whose first header is `nh`. */
export function ipv6Packet(src: Ipv6Addr, dst: Ipv6Addr, nh: number, body: Uint8Array, hopLimit = 64): Uint8Array {
  const p = new Uint8Array(IPV6_HEADER_LEN + body.length);
  emitIpv6({ src, dst, trafficClass: 0, flowLabel: 0, payloadLen: Math.min(0xffff, body.length), nextHeader: nh, hopLimit }, p, 0);
  p.set(body, IPV6_HEADER_LEN);
  return p;
}

/** Options of a Hop-by-Hop or Destination Options header (RFC 8200 §4.2), padded or not to 8n + 6. */
function tlvOptions(r: Rng): Uint8Array {
  const parts: number[] = [];
  for (let k = r.int(0, 3); k > 0; k--) {
    switch (r.int(0, 6)) {
      case 0: parts.push(0); break; // Pad1
      case 1: { const n = r.int(0, 6); parts.push(1, n, ...new Array<number>(n).fill(r.chance(0.8) ? 0 : 0xaa)); break; } // PadN (RFC 4942: non-zero padding)
      case 2: parts.push(5, 2, 0, 0); break; // Router Alert (RFC 2711)
      case 3: parts.push(0xc2, 4, 0, 1, 0, 0); break; // Jumbo Payload (RFC 2675)
      // Unknown options with each of the four action bit pairs (RFC 8200 §4.2).
      case 4: parts.push(pick(r, [0x1e, 0x5e, 0x9e, 0xde, r.int(2, 255)]), 2, r.int(0, 255), r.int(0, 255)); break;
      case 5: parts.push(r.int(0, 255), r.int(0, 255)); break; // garbage type/length (often past the end)
      default: parts.push(0x3e, 0); // an unknown skip-able option with no data
    }
  }
  if (r.chance(0.8)) {
    // Pad to 8n + 6 so the header ends on its declared length.
    const need = (8 - ((parts.length + 2) % 8)) % 8;
    if (need === 1) parts.push(0);
    else if (need > 1) parts.push(1, need - 2, ...new Array<number>(need - 2).fill(0));
  }
  return Uint8Array.from(parts.map((x) => x & 255));
}

/** One extension header of `type` (with the given Next Header). */
function extHeader(r: Rng, type: number, next: number): Uint8Array {
  if (type === IPPROTO_IPV6_FRAGMENT) {
    // An atomic fragment (RFC 6946: offset 0, M = 0) or a lone fragment of nothing.
    const h = new Uint8Array(8);
    h[0] = next;
    const off = r.chance(0.7) ? 0 : r.int(0, 8191);
    setU16(h, 2, (off << 3) | (r.chance(0.8) ? 0 : 1) | (r.chance(0.1) ? 6 : 0));
    setU32(h, 4, r.nextU32());
    return h;
  }
  let body: Uint8Array;
  if (type === IPPROTO_IPV6_ROUTING) {
    // Routing type 0 (deprecated, RFC 5095), 2 (mobility), 3 (RPL), 4 (SRH), unknown; Segments Left 0 or not.
    const rt = pick(r, [0, 0, 2, 3, 4, r.int(5, 255)]);
    const segs = r.chance(0.5) ? 0 : r.int(1, 3);
    const n = rt === 0 || rt === 2 ? 4 + 16 * r.int(0, 2) : 4 + 8 * r.int(0, 3);
    body = new Uint8Array(n);
    r.fill(body);
    body[0] = rt;
    body[1] = segs;
  } else body = tlvOptions(r);
  const total = r.chance(0.9) ? ((body.length + 2 + 7) >> 3) << 3 : body.length + 2;
  const h = new Uint8Array(Math.max(total, 2));
  h[0] = next;
  h[1] = r.chance(0.95) ? Math.max(0, (h.length >> 3) - 1) : r.int(0, 255);
  h.set(body.subarray(0, h.length - 2), 2);
  return h;
}

/**
 * Wraps an upper-layer payload (protocol `upper`) in a random chain of
 * extension headers: hop-by-hop first or (wrongly) later, destination
 * options, routing, atomic fragments, repeats, No Next Header, unknown
 * Next Header values. Returns the first Next Header and the body.
 */
export function extensionChain(r: Rng, upper: number, payload: Uint8Array): { nh: number; body: Uint8Array } {
  const types: number[] = [];
  if (r.chance(0.4)) types.push(IPPROTO_HOPOPTS);
  for (let k = r.int(0, 3); k > 0; k--) types.push(pick(r, [IPPROTO_IPV6_DSTOPTS, IPPROTO_IPV6_ROUTING, IPPROTO_IPV6_FRAGMENT, IPPROTO_IPV6_DSTOPTS, IPPROTO_HOPOPTS]));
  let last = upper;
  if (r.chance(0.05)) last = pick(r, [IPPROTO_IPV6_NONXT, 253, 254, 135, 139, r.int(0, 255)]);
  const parts: Uint8Array[] = [];
  let next = last;
  for (let i = types.length - 1; i >= 0; i--) {
    parts.unshift(extHeader(r, types[i]!, next));
    next = types[i]!;
  }
  return { nh: next, body: concatBytes([...parts, payload]) };
}

/**
 * The upper layer of an IPv6 packet after the extension headers a host
 * would walk (hop-by-hop, destination options, routing, a first fragment):
 * its protocol and offset, or null.
 */
function upperOf6(p: Uint8Array): { nh: number; off: number } | null {
  if (p.length < IPV6_HEADER_LEN) return null;
  let nh = p[6]!;
  let off = IPV6_HEADER_LEN;
  for (let guard = 0; guard < 16; guard++) {
    if (nh === IPPROTO_HOPOPTS || nh === IPPROTO_IPV6_DSTOPTS || nh === IPPROTO_IPV6_ROUTING) {
      if (off + 2 > p.length) return null;
      const n = (p[off + 1]! + 1) * 8;
      nh = p[off]!;
      off += n;
    } else if (nh === IPPROTO_IPV6_FRAGMENT) {
      if (off + 8 > p.length) return null;
      if ((getU16(p, off + 2) & 0xfff9) !== 0) return null; // not an atomic or first-only fragment
      nh = p[off]!;
      off += 8;
    } else return { nh, off };
  }
  return null;
}

/** Recomputes the upper-layer checksum (TCP, UDP, ICMPv6) of an IPv6 packet where it can be found. */
export function fixChecksums6(p: Uint8Array): void {
  const u = upperOf6(p);
  if (!u) return;
  const end = Math.min(p.length, IPV6_HEADER_LEN + getU16(p, 4));
  const at = u.nh === IPPROTO_TCP ? 16 : u.nh === IPPROTO_UDP ? 6 : u.nh === IPPROTO_ICMPV6 ? 2 : -1;
  if (at < 0 || u.off + at + 2 > end) return;
  p[u.off + at] = 0;
  p[u.off + at + 1] = 0;
  const src = readIpv6Addr(p, 8);
  const dst = readIpv6Addr(p, 24);
  let c = checksum(p, u.off, end, ipv6PseudoHeaderSum(src, dst, u.nh, end - u.off));
  if (c === 0 && u.nh === IPPROTO_UDP) c = 0xffff;
  setU16(p, u.off + at, c);
}

/** Recomputes an IPv4 packet's header checksum and its TCP or UDP checksum where the lengths allow. */
export function fixChecksums4(p: Uint8Array): void {
  if (p.length < 20) return;
  const ihl = (p[0]! & 15) * 4;
  if (ihl < 20 || ihl > p.length) return;
  p[10] = 0;
  p[11] = 0;
  setU16(p, 10, checksum(p, 0, ihl));
  const total = (p[2]! << 8) | p[3]!;
  const end = Math.min(total, p.length);
  const proto = p[9];
  const at = proto === IPPROTO_TCP ? 16 : proto === IPPROTO_UDP ? 6 : proto === 1 ? 2 : -1;
  if (at < 0 || end < ihl + at + 2 || (getU16(p, 6) & 0x3fff) !== 0) return;
  p[ihl + at] = 0;
  p[ihl + at + 1] = 0;
  const src = ((p[12]! << 24) | (p[13]! << 16) | (p[14]! << 8) | p[15]!) >>> 0;
  const dst = ((p[16]! << 24) | (p[17]! << 16) | (p[18]! << 8) | p[19]!) >>> 0;
  let c = proto === 1 ? checksum(p, ihl, end) : checksum(p, ihl, end, pseudoHeaderSum(src, dst, proto!, end - ihl));
  if (c === 0 && proto === IPPROTO_UDP) c = 0xffff;
  setU16(p, ihl + at, c);
}

/** Either family's checksums. */
export function fixChecksums(p: Uint8Array): void {
  if (p.length && p[0]! >>> 4 === 6) fixChecksums6(p);
  else fixChecksums4(p);
}

/** A TCP segment in an IPv6 packet, with a random extension-header chain half of the time. */
export function tcp6(r: Rng, src: Ipv6Addr, dst: Ipv6Addr, seg: TcpRepr): Uint8Array {
  const plain = emitIpv6Tcp({ src, dst, hopLimit: pick(r, [64, 255, 1, 0]), trafficClass: r.chance(0.9) ? 0 : r.int(0, 255), flowLabel: r.int(0, 0xfffff) }, seg, CHECKSUM_FULL);
  if (r.chance(0.5)) return plain;
  const { nh, body } = extensionChain(r, IPPROTO_TCP, plain.subarray(IPV6_HEADER_LEN));
  const p = ipv6Packet(src, dst, nh, body, plain[7]!);
  fixChecksums6(p);
  return p;
}

/** A UDP datagram of either family (lengths, ports and checksums sometimes wrong: a zero checksum is illegal over IPv6). */
export function udpPacket(r: Rng, src: IpAddr, dst: IpAddr, srcPort: number, dstPort: number): Uint8Array {
  const data = bytes(r, pick(r, [0, 1, 8, r.int(0, 600), r.int(0, 3000)]));
  const u = new Uint8Array(8 + data.length);
  setU16(u, 0, srcPort);
  setU16(u, 2, dstPort);
  setU16(u, 4, r.chance(0.9) ? u.length : pick(r, [0, 7, 8, u.length - 1, u.length + 1, 0xffff, r.int(0, 0xffff)]));
  u.set(data, 8);
  let p: Uint8Array;
  if (typeof src === 'string' && typeof dst === 'string') {
    if (r.chance(0.3)) {
      const { nh, body } = extensionChain(r, IPPROTO_UDP, u);
      p = ipv6Packet(src, dst, nh, body);
    } else p = ipv6Packet(src, dst, IPPROTO_UDP, u);
  } else {
    p = new Uint8Array(20 + u.length);
    p[0] = 0x45;
    setU16(p, 2, p.length);
    setU16(p, 4, r.int(0, 0xffff));
    p[6] = r.chance(0.5) ? 0x40 : 0;
    p[8] = 64;
    p[9] = IPPROTO_UDP;
    setU32(p, 12, src as number);
    setU32(p, 16, dst as number);
    p.set(u, 20);
  }
  if (r.chance(0.9)) fixChecksums(p);
  if (r.chance(0.1)) {
    // A zero checksum: allowed over IPv4 ("no checksum"), refused over IPv6 (RFC 8200 §8.1).
    const off = p[0]! >>> 4 === 6 ? (upperOf6(p)?.off ?? IPV6_HEADER_LEN) : 20;
    if (off + 8 <= p.length) setU16(p, off + 6, 0);
  }
  return p;
}

/** The segment the target would have sent on a connection (what an ICMP error quotes). */
export interface Quotable {
  local: IpAddr;
  remote: IpAddr;
  localPort: number;
  remotePort: number;
  seq: number;
  ack: number;
}

function quotedSegment(q: Quotable, r: Rng): Uint8Array {
  const seg: TcpRepr = { srcPort: q.localPort, dstPort: q.remotePort, seq: q.seq >>> 0, ack: q.ack >>> 0, flags: 0x10, window: 1000, urgentPointer: 0, options: [], payload: bytes(r, r.int(0, 1400)) };
  return typeof q.local === 'string' && typeof q.remote === 'string'
    ? emitIpv6Tcp({ src: q.local, dst: q.remote, hopLimit: 64, trafficClass: 0, flowLabel: 0 }, seg, CHECKSUM_FULL)
    : emitIpv4Tcp({ src: q.local as number, dst: q.remote as number, ttl: 64, tos: 0, ident: 0, dontFragment: true }, seg, CHECKSUM_FULL);
}

/**
 * An ICMPv6 message from `src` to `dst`: Packet Too Big (MTUs below,
 * at and above 1280, RFC 8201), destination unreachable, time exceeded,
 * parameter problem, unknown error and informational types, echo requests
 * (large ones answered in fragments), NDP types arriving off an Ethernet
 * link — quoting one of the target's real connections (`q`) when given.
 */
export function icmpv6Packet(r: Rng, src: Ipv6Addr, dst: Ipv6Addr, q: Quotable | null): Uint8Array {
  const type = pick(r, [2, 2, 2, 1, 3, 4, 128, 128, 129, 133, 134, 135, 136, 137, 100, 127, 200, 255, r.int(0, 255)]);
  let body: Uint8Array;
  if (type < 128) {
    const quote = q && r.chance(0.85) ? quotedSegment(q, r) : bytes(r, r.int(0, 80));
    const cut = r.chance(0.8) ? Math.min(quote.length, 1232) : r.int(0, quote.length);
    body = new Uint8Array(8 + cut);
    body.set(quote.subarray(0, cut), 8);
    if (type === 2) setU32(body, 4, pick(r, [0, 68, 576, 1279, 1280, 1281, 1400, 1500, 9000, 65535, 0xffffffff, r.nextU32()]));
    else if (type === 4) setU32(body, 4, pick(r, [0, 6, 7, 40, 41, r.int(0, 2000), r.nextU32()]));
    else setU32(body, 4, r.chance(0.9) ? 0 : r.nextU32());
    body[1] = r.chance(0.8) ? pick(r, [0, 1, 2, 3, 4]) : r.int(0, 255);
  } else {
    body = new Uint8Array(8 + pick(r, [0, 4, 56, r.int(0, 1500), r.int(1500, 5000)]));
    r.fill(body.subarray(4));
    body[1] = r.chance(0.9) ? 0 : r.int(0, 255);
  }
  body[0] = type;
  const p = r.chance(0.2) ? (() => { const c = extensionChain(r, IPPROTO_ICMPV6, body); return ipv6Packet(src, dst, c.nh, c.body, pick(r, [255, 64])); })() : ipv6Packet(src, dst, IPPROTO_ICMPV6, body, pick(r, [255, 64]));
  if (r.chance(0.95)) fixChecksums6(p);
  return p;
}

/** An ICMPv4 error (destination unreachable incl. fragmentation needed, time exceeded, parameter problem, source quench) quoting `q`. */
export function icmpv4ErrorPacket(r: Rng, src: number, dst: number, q: Quotable | null): Uint8Array {
  const type = pick(r, [3, 3, 3, 11, 12, 4, 5, r.int(0, 255)]);
  const quote = q && r.chance(0.85) ? quotedSegment(q, r) : bytes(r, r.int(0, 60));
  const cut = pick(r, [28, 48, quote.length, r.int(0, quote.length)]);
  const body = new Uint8Array(8 + Math.min(cut, quote.length));
  body.set(quote.subarray(0, body.length - 8), 8);
  body[0] = type;
  body[1] = type === 3 ? pick(r, [0, 1, 2, 3, 4, 4, 13, r.int(0, 255)]) : r.int(0, 3);
  if (type === 3 && body[1] === 4) setU16(body, 6, pick(r, [0, 68, 296, 552, 576, 1006, 1400, 1500, 65535, r.int(0, 65535)]));
  const p = new Uint8Array(20 + body.length);
  p[0] = 0x45;
  setU16(p, 2, p.length);
  p[8] = 64;
  p[9] = 1;
  setU32(p, 12, src);
  setU32(p, 16, dst);
  p.set(body, 20);
  if (r.chance(0.95)) fixChecksums4(p);
  return p;
}

/**
 * A datagram cut into fragments and scrambled: shuffled, one lost,
 * one duplicated, a forged overlapping copy with other bytes, an atomic
 * fragment, or fragments smaller than 8 octets — the packets in the order
 * to inject them.
 */
export function fragmentTrain(r: Rng, packet: Uint8Array): Uint8Array[] {
  const v6 = packet[0]! >>> 4 === 6;
  const mtu = v6 ? pick(r, [96, 200, 600, 1280, r.int(64, 1500)]) : pick(r, [68, 100, 576, r.int(28, 1500)]);
  let frags: Uint8Array[];
  if (v6) frags = fragmentIpv6(packet, Math.max(56, mtu), r.nextU32());
  else {
    const p = packet.slice();
    p[6] = p[6]! & ~0x40; // clear DF
    fixChecksums4(p);
    frags = fragmentIpv4(p, Math.max(28, mtu));
  }
  if (frags.length === 1 && v6 && r.chance(0.5)) {
    // RFC 6946: an atomic fragment (offset 0, M = 0) of a packet that fits.
    const f = new Uint8Array(packet.length + 8);
    f.set(packet.subarray(0, IPV6_HEADER_LEN));
    setU16(f, 4, packet.length - IPV6_HEADER_LEN + 8);
    f[6] = IPPROTO_IPV6_FRAGMENT;
    f[IPV6_HEADER_LEN] = packet[6]!;
    setU32(f, IPV6_HEADER_LEN + 4, r.nextU32());
    f.set(packet.subarray(IPV6_HEADER_LEN), IPV6_HEADER_LEN + 8);
    frags = [f];
  }
  const out = frags.map((f) => f.slice());
  for (let i = out.length - 1; i > 0; i--) {
    if (r.chance(0.7)) {
      const j = r.int(0, i);
      [out[i], out[j]] = [out[j]!, out[i]!];
    }
  }
  if (out.length > 1 && r.chance(0.15)) out.splice(r.int(0, out.length - 1), 1);
  if (r.chance(0.15)) out.splice(r.int(0, out.length), 0, out[r.int(0, out.length - 1)]!.slice());
  if (out.length > 1 && r.chance(0.3)) {
    // A forged fragment at an overlapping offset with other bytes (RFC 5722).
    const victim = out[r.int(0, out.length - 1)]!.slice();
    const hdr = v6 ? IPV6_HEADER_LEN + 8 : (victim[0]! & 15) * 4;
    for (let i = hdr; i < victim.length; i++) victim[i]! ^= 0x5a;
    if (r.chance(0.5) && victim.length > hdr + 8) {
      // Shift its offset by one unit so it overlaps partially.
      const at = v6 ? IPV6_HEADER_LEN + 2 : 6;
      const raw = getU16(victim, at);
      const unitMask = v6 ? 0xfff8 : 0x1fff;
      const off = v6 ? raw >> 3 : raw & 0x1fff;
      const noff = Math.max(0, off + (r.chance(0.5) ? 1 : -1));
      setU16(victim, at, v6 ? (noff << 3) | (raw & 7) : (raw & ~unitMask) | noff);
    }
    if (!v6) fixChecksums4(victim);
    out.splice(r.int(0, out.length), 0, victim);
  }
  if (r.chance(0.1) && out.length) {
    // A tiny fragment with M set (not a multiple of 8: RFC 8200 §4.5 parameter problem).
    const f = out[0]!.slice(0, (v6 ? IPV6_HEADER_LEN + 8 : 20) + r.int(1, 7));
    if (v6) {
      setU16(f, 4, f.length - IPV6_HEADER_LEN);
      setU16(f, IPV6_HEADER_LEN + 2, getU16(f, IPV6_HEADER_LEN + 2) | 1);
    } else {
      setU16(f, 2, f.length);
      setU16(f, 6, getU16(f, 6) | 0x2000);
      fixChecksums4(f);
    }
    out.push(f);
  }
  return out;
}
