/**
 * IPv6 (RFC 8200): addresses, the fixed header, the extension-header walk and
 * the upper-layer pseudo-header.
 *
 * Like the rest of wire/, parsing untrusted bytes never throws: it returns
 * `{ ok: false, reason }` with a counted `DropReason` (and, from the walk, the
 * ICMPv6 Parameter Problem that RFC 8200 asks for, as a decision the stack
 * may send after RFC 4443 §2.4's checks — wire/icmpv6.ts `mayGenerateError`).
 * Emission writes into a caller-provided buffer and throws only for
 * programmer errors.
 *
 * ## The address type
 *
 * An `Ipv6Addr` is a string of exactly eight UTF-16 code units, the eight
 * 16-bit groups of the address in order (`"\u2001\u0db8\0\0\0\0\0\u0001"` is
 * 2001:db8::1), branded so that it cannot be mixed up with the text form.
 * Why not a `Uint8Array(16)`, four numbers or a bigint:
 *
 * - the stack's demux needs a hashable key: a string is a `Map` key compared
 *   by value, and a 4-tuple key is a plain concatenation (`src + dst + ports`)
 *   — a `Uint8Array` is compared by identity and would need converting on
 *   every packet anyway;
 * - it is immutable, so a parsed address never aliases a packet buffer that
 *   is later reused (a view into the buffer would);
 * - it is made with one `String.fromCharCode` call of eight words read from
 *   the packet, and equality is a string compare (16 bytes); a bigint would
 *   need shifts and ors of big values on every packet;
 * - group i is `addr.charCodeAt(i)`, so prefix tests (multicast, link-local,
 *   IPv4-mapped) read one or a few words without allocating.
 *
 * Lone surrogate code units are legal in JavaScript strings, so every 16-bit
 * value is representable; the string is never shown to a user (the text form
 * is `formatIpv6Addr`, RFC 5952).
 *
 *      0                   1                   2                   3
 *      0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *     |Version| Traffic Class |           Flow Label                  |
 *     |         Payload Length        |  Next Header  |   Hop Limit   |
 *     |                         Source Address (128 bits)             |
 *     |                      Destination Address (128 bits)           |
 */

import { getU16, getU32 } from './bytes.ts';
import type { DropReason, Ipv4Addr, ParseResult } from './types.ts';

/** An IPv6 address: eight UTF-16 code units, one per 16-bit group (see the file comment). */
export type Ipv6Addr = string & { readonly __brand: 'Ipv6Addr' };

/**
 * An address of either family: an IPv4 address is a u32 `number`, an IPv6
 * address an `Ipv6Addr` string, so `typeof a === 'string'` tells them apart
 * (`isIpv6Addr`) and both are `Map` keys compared by value.
 */
export type IpAddr = Ipv4Addr | Ipv6Addr;

/** Whether `a` is an IPv6 address. */
export function isIpv6Addr(a: IpAddr): a is Ipv6Addr {
  return typeof a === 'string';
}

/** The text form of either family: dotted quad, or RFC 5952. */
export function formatIpAddr(a: IpAddr): string {
  if (typeof a === 'string') return formatIpv6Addr(a);
  return `${a >>> 24}.${(a >>> 16) & 0xff}.${(a >>> 8) & 0xff}.${a & 0xff}`;
}

/** Parses a dotted quad or an IPv6 text form (RFC 4291 §2.2); null for anything else. */
export function parseIpAddr(text: string): IpAddr | null {
  if (text.includes(':')) return parseIpv6Addr(text);
  return parseDottedQuad(text);
}

/** RFC 8200 §3: the fixed header is 40 octets. */
export const IPV6_HEADER_LEN = 40;
/**
 * RFC 8200 §5: "IPv6 requires that every link in the Internet have an MTU of
 * 1280 octets or greater."
 */
export const IPV6_MIN_MTU = 1280;

/** Next Header values of RFC 8200 §4 and the IANA registry. */
export const IPPROTO_HOPOPTS = 0;
export const IPPROTO_IPV6_ROUTING = 43;
export const IPPROTO_IPV6_FRAGMENT = 44;
export const IPPROTO_ICMPV6 = 58;
export const IPPROTO_IPV6_NONXT = 59;
export const IPPROTO_IPV6_DSTOPTS = 60;

// ---------------------------------------------------------------------------
// Addresses

/** The address from eight 16-bit groups. */
export function ipv6FromWords(w: readonly number[]): Ipv6Addr {
  if (w.length !== 8) throw new Error(`an IPv6 address has 8 groups, got ${w.length}`);
  return intern(String.fromCharCode(w[0]! & 0xffff, w[1]! & 0xffff, w[2]! & 0xffff, w[3]! & 0xffff, w[4]! & 0xffff, w[5]! & 0xffff, w[6]! & 0xffff, w[7]! & 0xffff)) as Ipv6Addr;
}

/**
 * The engine's one copy of a string with these code units (a property key
 * is kept in the engine's string table: V8 "internalizes" it). Addresses made
 * this way compare by pointer: `===` between two different ones fails at
 * once and between equal ones succeeds at once, instead of comparing their
 * code units — which every demux check, memo and cache lookup of the
 * per-packet path does. The same value either way (strings are values); the
 * table holds strings weakly, so nothing is kept alive by it.
 */
function intern(s: string): string {
  for (const k in { [s]: 0 }) return k;
  return s;
}

/**
 * The addresses `readIpv6Addr` made last, with their octets as four int32
 * words (entry i at words 4i..4i+3). A packet's addresses are mostly the
 * few a host talks with: reading one of these again returns the same string
 * instead of a new one. That saves the eight-argument `String.fromCharCode`
 * (the costliest part of an IPv6 header parse) and its allocation, and it
 * makes the later uses cheap — the `Set`/`Map` lookups of the stack find
 * the string's hash already computed and `===` against a stored address
 * compares pointers. Strings are values, so sharing one changes no result.
 */
const ADDR_CACHE = 4;
const addrCacheWords = new Int32Array(4 * ADDR_CACHE);
const addrCacheStrings: Array<Ipv6Addr | null> = [null, null, null, null];
let addrCacheNext = 0;

/** Reads the 16 octets at `buf[offset..offset+16)` (the caller checks the length). */
export function readIpv6Addr(buf: Uint8Array, offset: number): Ipv6Addr {
  const o = offset;
  const w0 = (buf[o]! << 24) | (buf[o + 1]! << 16) | (buf[o + 2]! << 8) | buf[o + 3]!;
  const w1 = (buf[o + 4]! << 24) | (buf[o + 5]! << 16) | (buf[o + 6]! << 8) | buf[o + 7]!;
  const w2 = (buf[o + 8]! << 24) | (buf[o + 9]! << 16) | (buf[o + 10]! << 8) | buf[o + 11]!;
  const w3 = (buf[o + 12]! << 24) | (buf[o + 13]! << 16) | (buf[o + 14]! << 8) | buf[o + 15]!;
  const c = addrCacheWords;
  for (let i = 0, j = 0; i < ADDR_CACHE; i++, j += 4) {
    if (c[j] === w0 && c[j + 1] === w1 && c[j + 2] === w2 && c[j + 3] === w3) {
      const hit = addrCacheStrings[i];
      if (hit != null) return hit;
    }
  }
  const a = intern(String.fromCharCode(w0 >>> 16, w0 & 0xffff, w1 >>> 16, w1 & 0xffff, w2 >>> 16, w2 & 0xffff, w3 >>> 16, w3 & 0xffff)) as Ipv6Addr;
  const k = addrCacheNext;
  addrCacheNext = (k + 1) % ADDR_CACHE;
  c[4 * k] = w0;
  c[4 * k + 1] = w1;
  c[4 * k + 2] = w2;
  c[4 * k + 3] = w3;
  addrCacheStrings[k] = a;
  return a;
}

/** Writes `addr` as 16 octets at `buf[offset..offset+16)`. */
export function writeIpv6Addr(addr: Ipv6Addr, buf: Uint8Array, offset: number): void {
  // An address `readIpv6Addr` made lately has its octets as words in the
  // cache: four word writes instead of eight `charCodeAt`s.
  for (let i = 0; i < ADDR_CACHE; i++) {
    if (addrCacheStrings[i] === addr) {
      const c = addrCacheWords;
      const j = 4 * i;
      writeWord(buf, offset, c[j]!);
      writeWord(buf, offset + 4, c[j + 1]!);
      writeWord(buf, offset + 8, c[j + 2]!);
      writeWord(buf, offset + 12, c[j + 3]!);
      return;
    }
  }
  for (let i = 0, o = offset; i < 8; i++, o += 2) {
    const g = addr.charCodeAt(i);
    buf[o] = g >>> 8;
    buf[o + 1] = g;
  }
}

function writeWord(buf: Uint8Array, o: number, w: number): void {
  buf[o] = w >>> 24;
  buf[o + 1] = w >>> 16;
  buf[o + 2] = w >>> 8;
  buf[o + 3] = w;
}

/** The 16 octets of `addr` in a fresh array. */
export function ipv6ToBytes(addr: Ipv6Addr): Uint8Array {
  const b = new Uint8Array(16);
  writeIpv6Addr(addr, b, 0);
  return b;
}

/** Whether the first `prefixLen` bits of `addr` and `net` agree (RFC 4291 §2.3 prefixes). */
export function ipv6InSubnet(addr: Ipv6Addr, net: Ipv6Addr, prefixLen: number): boolean {
  let bits = prefixLen;
  for (let i = 0; i < 8 && bits > 0; i++, bits -= 16) {
    const mask = bits >= 16 ? 0xffff : (0xffff << (16 - bits)) & 0xffff;
    if (((addr.charCodeAt(i) ^ net.charCodeAt(i)) & mask) !== 0) return false;
  }
  return true;
}

/** `::` (RFC 4291 §2.5.2). */
export const IPV6_UNSPECIFIED = ipv6FromWords([0, 0, 0, 0, 0, 0, 0, 0]);
/** `::1` (RFC 4291 §2.5.3). */
export const IPV6_LOOPBACK = ipv6FromWords([0, 0, 0, 0, 0, 0, 0, 1]);

/**
 * RFC 4291 §2.5.5.2: "The format of the "IPv4-mapped IPv6 address" is as
 * follows: | 80 bits zero | 16 bits FFFF | 32 bits IPv4 address |".
 */
export function ipv6MappedFromV4(v4: Ipv4Addr): Ipv6Addr {
  return ipv6FromWords([0, 0, 0, 0, 0, 0xffff, v4 >>> 16, v4 & 0xffff]);
}

/** The IPv4 address inside an IPv4-mapped address, or null for any other address. */
export function ipv6MappedToV4(addr: Ipv6Addr): Ipv4Addr | null {
  if (!isIpv6V4Mapped(addr)) return null;
  return ((addr.charCodeAt(6) << 16) | addr.charCodeAt(7)) >>> 0;
}

/** RFC 4291 §2.5.2: "The address 0:0:0:0:0:0:0:0 is called the unspecified address." */
export function isIpv6Unspecified(addr: Ipv6Addr): boolean {
  return addr === IPV6_UNSPECIFIED;
}

/** RFC 4291 §2.5.3: "The unicast address 0:0:0:0:0:0:0:1 is called the loopback address." */
export function isIpv6Loopback(addr: Ipv6Addr): boolean {
  return addr === IPV6_LOOPBACK;
}

/** RFC 4291 §2.7: "binary 11111111 at the start of the address identifies the address as being a multicast address." */
export function isIpv6Multicast(addr: Ipv6Addr): boolean {
  return addr.charCodeAt(0) >>> 8 === 0xff;
}

/** RFC 4291 §2.5.6: Link-Local unicast addresses are fe80::/10 ("1111111010"). */
export function isIpv6LinkLocal(addr: Ipv6Addr): boolean {
  return (addr.charCodeAt(0) & 0xffc0) === 0xfe80;
}

/** RFC 4291 §2.5.5.2: ::ffff:0:0/96. */
export function isIpv6V4Mapped(addr: Ipv6Addr): boolean {
  return addr.charCodeAt(0) === 0 && addr.charCodeAt(1) === 0 && addr.charCodeAt(2) === 0 && addr.charCodeAt(3) === 0 && addr.charCodeAt(4) === 0 && addr.charCodeAt(5) === 0xffff;
}

/**
 * RFC 3849 §4: "IANA is to record the allocation of the IPv6 global unicast
 * address prefix 2001:DB8::/32 as a documentation-only prefix".
 */
export function isIpv6Documentation(addr: Ipv6Addr): boolean {
  return addr.charCodeAt(0) === 0x2001 && addr.charCodeAt(1) === 0x0db8;
}

/**
 * Parses the text forms of RFC 4291 §2.2:
 *
 *   "1. The preferred form is x:x:x:x:x:x:x:x, where the 'x's are one to
 *    four hexadecimal digits of the eight 16-bit pieces of the address."
 *   "2. ... The use of "::" indicates one or more groups of 16 bits of
 *    zeros. The "::" can only appear once in an address."
 *   "3. An alternative form that is sometimes more convenient when dealing
 *    with a mixed environment of IPv4 and IPv6 nodes is x:x:x:x:x:x:d.d.d.d,
 *    where the 'x's are the hexadecimal values of the six high-order 16-bit
 *    pieces of the address, and the 'd's are the decimal values of the four
 *    low-order 8-bit pieces of the address (standard IPv4 representation)."
 *
 * Hex digits may be of either case (RFC 5952 §4.3 is about output only).
 * Returns null for anything else, including a zone index ("fe80::1%eth0"),
 * brackets, a prefix length, and dotted quads with leading zeros.
 */
export function parseIpv6Addr(text: string): Ipv6Addr | null {
  if (text.length < 2 || text.length > 45) return null;
  const dbl = text.indexOf('::');
  if (dbl !== -1 && text.indexOf('::', dbl + 1) !== -1) return null;
  const parseSide = (s: string, allowV4: boolean): number[] | null => {
    if (s === '') return [];
    const parts = s.split(':');
    const out: number[] = [];
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i]!;
      if (allowV4 && i === parts.length - 1 && p.includes('.')) {
        const v4 = parseDottedQuad(p);
        if (v4 === null) return null;
        out.push(v4 >>> 16, v4 & 0xffff);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(p)) return null;
        out.push(parseInt(p, 16));
      }
    }
    return out;
  };
  let words: number[];
  if (dbl === -1) {
    const all = parseSide(text, true);
    if (all === null || all.length !== 8) return null;
    words = all;
  } else {
    const head = parseSide(text.slice(0, dbl), false);
    const tail = parseSide(text.slice(dbl + 2), true);
    if (head === null || tail === null) return null;
    // "::" stands for one or more groups of zeros.
    if (head.length + tail.length > 7) return null;
    words = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  }
  return ipv6FromWords(words);
}

/** A strict dotted quad (no leading zeros, 0–255), as `number`, or null. */
function parseDottedQuad(s: string): number | null {
  const m = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]\d|\d)\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]\d|\d)\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]\d|\d)\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]\d|\d)$/.exec(s);
  if (m === null) return null;
  return ((Number(m[1]) << 24) | (Number(m[2]) << 16) | (Number(m[3]) << 8) | Number(m[4])) >>> 0;
}

/**
 * The canonical text form of RFC 5952 §4:
 *
 *   §4.1 "Leading zeros MUST be suppressed."
 *   §4.2.1 "The use of the symbol "::" MUST be used to its maximum
 *   capability."
 *   §4.2.2 "The symbol "::" MUST NOT be used to shorten just one 16-bit 0
 *   field."
 *   §4.2.3 "When there is an alternative choice in the placement of a "::",
 *   the longest run of consecutive 16-bit 0 fields MUST be shortened ... When
 *   the length of the consecutive 16-bit 0 fields are equal ..., the first
 *   sequence of zero bits MUST be shortened."
 *   §4.3 "The characters "a", "b", "c", "d", "e", and "f" in an IPv6 address
 *   MUST be represented in lowercase."
 *
 * and §5 for IPv4-mapped addresses: "::ffff:192.0.2.1" — "the mixed notation
 * ... is RECOMMENDED" for addresses well known to embed an IPv4 address; Node
 * reports IPv4 peers on a dual-stack socket this way.
 */
export function formatIpv6Addr(addr: Ipv6Addr): string {
  if (isIpv6V4Mapped(addr)) {
    const hi = addr.charCodeAt(6);
    const lo = addr.charCodeAt(7);
    return `::ffff:${hi >>> 8}.${hi & 0xff}.${lo >>> 8}.${lo & 0xff}`;
  }
  // The longest run of zero groups, the first one on a tie, at least two long.
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (addr.charCodeAt(i) !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && addr.charCodeAt(j) === 0) j++;
    if (j - i > bestLen) {
      bestAt = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (i: number): string => addr.charCodeAt(i).toString(16);
  if (bestAt === -1) {
    let s = hex(0);
    for (let i = 1; i < 8; i++) s += ':' + hex(i);
    return s;
  }
  let head = '';
  for (let i = 0; i < bestAt; i++) head += (i > 0 ? ':' : '') + hex(i);
  let tail = '';
  for (let i = bestAt + bestLen; i < 8; i++) tail += (tail !== '' ? ':' : '') + hex(i);
  return `${head}::${tail}`;
}

// ---------------------------------------------------------------------------
// The fixed header

/** The fixed header (RFC 8200 §3). */
export interface Ipv6Repr {
  src: Ipv6Addr;
  dst: Ipv6Addr;
  /** 8-bit Traffic Class: DSCP << 2 | ECN (RFC 8200 §7, RFC 2474, RFC 3168). */
  trafficClass: number;
  /** 20-bit Flow Label (RFC 6437). */
  flowLabel: number;
  /** "Length of the IPv6 payload, i.e., the rest of the packet following this IPv6 header, in octets." */
  payloadLen: number;
  /** "Identifies the type of header immediately following the IPv6 header." */
  nextHeader: number;
  hopLimit: number;
}

/** A parsed IPv6 packet: the header, the packet cut to 40 + payload length, and its payload (views, no copy). */
export interface Ipv6Packet {
  header: Ipv6Repr;
  /** The packet from its first octet to the end of its payload (link padding cut off). */
  packet: Uint8Array;
  payload: Uint8Array;
}

/**
 * Parses the fixed header. Checks, in order: at least 40 octets, version 6,
 * and that the Payload Length fits in the bytes received (octets past it are
 * link padding and are ignored). A Payload Length of 0 is read as an empty
 * payload: synack does not support jumbograms (RFC 2675); a Jumbo Payload
 * option would be refused by the walk as an unrecognised option.
 */
export function parseIpv6(bytes: Uint8Array): ParseResult<Ipv6Packet> {
  if (bytes.length < IPV6_HEADER_LEN) return { ok: false, reason: 'ipv6-truncated' };
  const w0 = getU32(bytes, 0);
  // RFC 8200 §3: "Version 4-bit Internet Protocol version number = 6."
  if (w0 >>> 28 !== 6) return { ok: false, reason: 'ipv6-bad-version' };
  const payloadLen = getU16(bytes, 4);
  if (IPV6_HEADER_LEN + payloadLen > bytes.length) return { ok: false, reason: 'ipv6-bad-payload-length' };
  // Octets past the Payload Length are link padding: cut them off (no new
  // view when there are none, the common case).
  const packet = IPV6_HEADER_LEN + payloadLen === bytes.length ? bytes : bytes.subarray(0, IPV6_HEADER_LEN + payloadLen);
  return {
    ok: true,
    value: {
      header: {
        src: readIpv6Addr(bytes, 8),
        dst: readIpv6Addr(bytes, 24),
        trafficClass: (w0 >>> 20) & 0xff,
        flowLabel: w0 & 0xfffff,
        payloadLen,
        nextHeader: bytes[6]!,
        hopLimit: bytes[7]!,
      },
      packet,
      payload: packet.subarray(IPV6_HEADER_LEN),
    },
  };
}

function checkField(name: string, value: number, max: number): void {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new Error(`IPv6 ${name} must be an integer in 0..${max}, got ${value}`);
  }
}

/** Writes the 40-octet fixed header at `buf[offset..)`; returns 40. */
export function emitIpv6(repr: Ipv6Repr, buf: Uint8Array, offset: number): number {
  return writeIpv6Header(buf, offset, repr.trafficClass, repr.flowLabel, repr.payloadLen, repr.nextHeader, repr.hopLimit, repr.src, repr.dst);
}

/**
 * `emitIpv6` from the fields themselves, without a repr object (the TCP
 * output's per-segment path, wire/tcp.ts `emitIpv6Tcp`). The field checks are
 * the same as `checkField`'s: `(v & max) === v` holds exactly for the
 * integers 0..max (max = 2^k − 1; NaN, fractions, negatives and larger
 * values fail it), and only a failure pays for the checks with messages.
 */
export function writeIpv6Header(
  buf: Uint8Array,
  offset: number,
  trafficClass: number,
  flowLabel: number,
  payloadLen: number,
  nextHeader: number,
  hopLimit: number,
  src: Ipv6Addr,
  dst: Ipv6Addr,
): number {
  if (
    (trafficClass & 0xff) !== trafficClass ||
    (flowLabel & 0xfffff) !== flowLabel ||
    (payloadLen & 0xffff) !== payloadLen ||
    (nextHeader & 0xff) !== nextHeader ||
    (hopLimit & 0xff) !== hopLimit
  ) {
    checkField('traffic class', trafficClass, 0xff);
    checkField('flow label', flowLabel, 0xfffff);
    checkField('payload length', payloadLen, 0xffff);
    checkField('next header', nextHeader, 0xff);
    checkField('hop limit', hopLimit, 0xff);
  }
  if (src.length !== 8 || dst.length !== 8) throw new Error('IPv6 addresses must be Ipv6Addr values (8 groups)');
  if (!(offset >= 0 && offset + IPV6_HEADER_LEN <= buf.length)) throw new Error(`IPv6 header needs 40 bytes at ${offset}, buffer has ${buf.length}`);
  // Version 6, Traffic Class, Flow Label.
  buf[offset] = 0x60 | (trafficClass >>> 4);
  buf[offset + 1] = ((trafficClass & 0x0f) << 4) | (flowLabel >>> 16);
  buf[offset + 2] = flowLabel >>> 8;
  buf[offset + 3] = flowLabel;
  buf[offset + 4] = payloadLen >>> 8;
  buf[offset + 5] = payloadLen;
  buf[offset + 6] = nextHeader;
  buf[offset + 7] = hopLimit;
  writeIpv6Addr(src, buf, offset + 8);
  writeIpv6Addr(dst, buf, offset + 24);
  return IPV6_HEADER_LEN;
}

// ---------------------------------------------------------------------------
// The upper-layer pseudo-header

/**
 * The sum of the IPv6 pseudo-header (RFC 8200 §8.1), to pass as the
 * `initial` of `checksum()` over the upper-layer header and data:
 *
 *   "Any transport or other upper-layer protocol that includes the addresses
 *   from the IP header in its checksum computation must be modified for use
 *   over IPv6, to include the 128-bit IPv6 addresses instead of 32-bit IPv4
 *   addresses." The pseudo-header is Source Address, Destination Address,
 *   the 32-bit Upper-Layer Packet Length, 24 zero bits and the 8-bit Next
 *   Header. "The Upper-Layer Packet Length in the pseudo-header is the length
 *   of the upper-layer header and data (e.g., TCP header plus TCP data)."
 *   "The Next Header value in the pseudo-header identifies the upper-layer
 *   protocol (e.g., 6 for TCP or 17 for UDP). It will differ from the Next
 *   Header value in the IPv6 header if there are extension headers between
 *   the IPv6 header and the upper-layer header."
 *
 * (For a Routing header, "the Destination Address used in the pseudo-header
 * is that of the final destination"; synack never sends one and, as a host,
 * only accepts routing headers whose Segments Left is 0, so it is the
 * Destination Address of the IPv6 header.)
 *
 * Used by TCP, UDP and ICMPv6 (RFC 4443 §2.3). The result is an unfolded
 * non-negative integer below 2^21.
 */
export function ipv6PseudoHeaderSum(src: Ipv6Addr, dst: Ipv6Addr, nextHeader: number, upperLen: number): number {
  let s: number;
  // The sum of the two addresses is the same for both directions of a flow
  // and the same for all its packets: the last pair's is kept (a pure
  // function of the two strings, so reusing it changes no result).
  if ((src === pairA && dst === pairB) || (src === pairB && dst === pairA)) s = pairSum;
  else {
    s = 0;
    for (let i = 0; i < 8; i++) s += src.charCodeAt(i) + dst.charCodeAt(i);
    pairA = src;
    pairB = dst;
    pairSum = s;
  }
  return s + Math.floor(upperLen / 0x10000) + (upperLen & 0xffff) + (nextHeader & 0xff);
}
let pairA = '';
let pairB = '';
let pairSum = 0;

// ---------------------------------------------------------------------------
// The extension-header walk (RFC 8200 §4)

/** An ICMPv6 Parameter Problem (RFC 4443 §3.4) the walk asks to send. */
export interface Ipv6ParamProblem {
  type: 4;
  /** 0 erroneous header field, 1 unrecognized Next Header, 2 unrecognized IPv6 option, 3 incomplete header chain (RFC 7112). */
  code: 0 | 1 | 2 | 3;
  /** "the octet offset within the invoking packet where the error was detected". */
  pointer: number;
  /**
   * RFC 4443 §2.4 (e.2)'s exception: a Parameter Problem code 2 for an
   * option whose type has the high-order bits 10 is sent even when the
   * invoking packet went to a multicast address.
   */
  multicastExempt: boolean;
}

/** Where the walk stopped at a Fragment header (RFC 8200 §4.5). */
export interface Ipv6FragmentInfo {
  /** Offset of the Fragment header in the packet (the end of the Per-Fragment headers). */
  headerAt: number;
  /** Offset of the Next Header field that holds 44 (6 when it is the IPv6 header's). */
  nextHeaderAt: number;
  /** "Identifies the initial header type of the Fragmentable Part of the original packet." */
  nextHeader: number;
  /** The Fragment Offset in octets (the field times 8). */
  offset: number;
  /** The M flag: "1 = more fragments; 0 = last fragment." */
  more: boolean;
  /** The 32-bit Identification. */
  ident: number;
}

export type Ipv6Walk =
  /** The upper-layer header `protocol` starts at `offset`; `nextHeaderAt` is the field that named it. */
  | { ok: true; kind: 'upper'; protocol: number; offset: number; nextHeaderAt: number }
  | { ok: true; kind: 'fragment'; fragment: Ipv6FragmentInfo }
  | { ok: false; reason: DropReason; icmp: Ipv6ParamProblem | null };

/** The upper-layer protocols a host of synack delivers: TCP, UDP, ICMPv6. */
export const IPV6_UPPER_LAYERS: ReadonlySet<number> = new Set([6, 17, IPPROTO_ICMPV6]);

function paramProblem(reason: DropReason, code: 0 | 1 | 2 | 3, pointer: number, multicastExempt = false): Ipv6Walk {
  return { ok: false, reason, icmp: { type: 4, code, pointer, multicastExempt } };
}

/**
 * Walks the extension headers of `packet` (an IPv6 packet cut to 40 + its
 * Payload Length, as `parseIpv6` returns it) from the IPv6 header's Next
 * Header, as the destination node, strictly in order (RFC 8200 §4: "extension
 * headers must be processed strictly in the order they appear in the
 * packet"). It stops at the upper-layer header, at a Fragment header (the
 * reassembler takes it from there; after reassembly the stack walks the
 * reassembled packet), or with a drop and the ICMPv6 error to send, if any.
 *
 * Offsets are from the first octet of the IPv6 header, so a Pointer is
 * "the offset of the unrecognized value within the original packet".
 * A header that runs past the payload is malformed and dropped without an
 * ICMPv6 error ('ipv6-bad-extension-header'), as Linux does; so is a TLV
 * option that runs past its header ('ipv6-bad-option').
 */
export function walkIpv6(packet: Uint8Array, upper: ReadonlySet<number> = IPV6_UPPER_LAYERS): Ipv6Walk {
  const end = packet.length;
  if (end < IPV6_HEADER_LEN) return { ok: false, reason: 'ipv6-truncated', icmp: null };
  const dstMulticast = packet[24] === 0xff;
  let nh = packet[6]!;
  let nhAt = 6;
  let off = IPV6_HEADER_LEN;
  for (;;) {
    switch (nh) {
      case IPPROTO_HOPOPTS:
      case IPPROTO_IPV6_DSTOPTS: {
        // The two headers share one format (RFC 8200 §4.3, §4.6).
        // RFC 8200 §4.1: "The Hop-by-Hop Options header, when present, must
        // immediately follow the IPv6 header." §4: "If, as a result of
        // processing a header, the destination node is required to proceed
        // to the next header but the Next Header value in the current header
        // is unrecognized by the node, it should discard the packet and send
        // an ICMP Parameter Problem message to the source of the packet, with
        // an ICMP Code value of 1 ("unrecognized Next Header type
        // encountered") and the ICMP Pointer field containing the offset of
        // the unrecognized value within the original packet. The same action
        // should be taken if a node encounters a Next Header value of zero in
        // any header other than an IPv6 header."
        if (nh === IPPROTO_HOPOPTS && nhAt !== 6) return paramProblem('ipv6-hop-by-hop-not-first', 1, nhAt);
        if (off + 2 > end) return { ok: false, reason: 'ipv6-bad-extension-header', icmp: null };
        // "Hdr Ext Len: 8-bit unsigned integer. Length of the ... header in
        // 8-octet units, not including the first 8 octets."
        const len = (packet[off + 1]! + 1) * 8;
        if (off + len > end) return { ok: false, reason: 'ipv6-bad-extension-header', icmp: null };
        const bad = processOptions(packet, off + 2, off + len, dstMulticast);
        if (bad !== null) return bad;
        nh = packet[off]!;
        nhAt = off;
        off += len;
        break;
      }
      case IPPROTO_IPV6_ROUTING: {
        if (off + 4 > end) return { ok: false, reason: 'ipv6-bad-extension-header', icmp: null };
        const len = (packet[off + 1]! + 1) * 8;
        if (off + len > end) return { ok: false, reason: 'ipv6-bad-extension-header', icmp: null };
        const routingType = packet[off + 2]!;
        const segmentsLeft = packet[off + 3]!;
        // A host forwards nothing, so it recognises no Routing Type that
        // would need it to act on Segments Left > 0. RFC 8200 §4.4: "If,
        // while processing a received packet, a node encounters a Routing
        // header with an unrecognized Routing Type value, the required
        // behavior of the node depends on the value of the Segments Left
        // field, as follows: If Segments Left is zero, the node must ignore
        // the Routing header and proceed to process the next header in the
        // packet, whose type is identified by the Next Header field in the
        // Routing header. If Segments Left is non-zero, the node must discard
        // the packet and send an ICMP Parameter Problem, Code 0, message to
        // the packet's Source Address, pointing to the unrecognized Routing
        // Type."
        //
        // RFC 5095 §3 (deprecation of type 0): "An IPv6 node that receives a
        // packet with a destination address assigned to it and that contains
        // an RH0 extension header MUST NOT execute the algorithm specified in
        // the latter part of Section 4.4 of [RFC2460] for RH0. Instead, such
        // packets MUST be processed according to the behaviour specified in
        // Section 4.4 of [RFC2460] for a datagram that includes an
        // unrecognised Routing Type value" — so an RH0 with Segments Left 0
        // is ignored like any other, and one with Segments Left > 0 is
        // dropped (counted apart, 'ipv6-routing-type-0') with the same error.
        if (segmentsLeft !== 0) {
          return paramProblem(routingType === 0 ? 'ipv6-routing-type-0' : 'ipv6-unknown-routing-type', 0, off + 2);
        }
        nh = packet[off]!;
        nhAt = off;
        off += len;
        break;
      }
      case IPPROTO_IPV6_FRAGMENT: {
        // RFC 8200 §4.5: Next Header (8), Reserved (8), Fragment Offset (13),
        // Res (2), M (1), Identification (32).
        if (off + 8 > end) return { ok: false, reason: 'ipv6-bad-extension-header', icmp: null };
        const w = getU16(packet, off + 2);
        return {
          ok: true,
          kind: 'fragment',
          fragment: { headerAt: off, nextHeaderAt: nhAt, nextHeader: packet[off]!, offset: w & 0xfff8, more: (w & 1) === 1, ident: getU32(packet, off + 4) },
        };
      }
      case IPPROTO_IPV6_NONXT:
        // RFC 8200 §4.7: "The value 59 in the Next Header field of an IPv6
        // header or any extension header indicates that there is nothing
        // following that header." Nothing to deliver; counted.
        return { ok: false, reason: 'ipv6-no-next-header', icmp: null };
      default:
        if (upper.has(nh)) return { ok: true, kind: 'upper', protocol: nh, offset: off, nextHeaderAt: nhAt };
        return paramProblem('ipv6-unknown-next-header', 1, nhAt);
    }
  }
}

/**
 * The TLV options of a Hop-by-Hop or Destination Options header in
 * `packet[from..to)` (RFC 8200 §4.2). Returns null when the packet may go on.
 *
 *   Pad1: "The Pad1 option is used to insert one octet of padding into the
 *   Options area of a header." (a single zero octet, no length or data).
 *   PadN: "The PadN option is used to insert two or more octets of padding";
 *   its data "consists of Opt Data Len zero-valued octets" and is not checked
 *   on receipt (Linux does not either).
 *
 *   "The Option Type identifiers are internally encoded such that their
 *   highest-order 2 bits specify the action that must be taken if the
 *   processing IPv6 node does not recognize the Option Type:
 *     00 - skip over this option and continue processing the header.
 *     01 - discard the packet.
 *     10 - discard the packet and, regardless of whether or not the packet's
 *          Destination Address was a multicast address, send an ICMP
 *          Parameter Problem, Code 2, message to the packet's Source Address,
 *          pointing to the unrecognized Option Type.
 *     11 - discard the packet and, only if the packet's Destination Address
 *          was not a multicast address, send an ICMP Parameter Problem,
 *          Code 2, message to the packet's Source Address, pointing to the
 *          unrecognized Option Type."
 *
 * A host of synack recognises only Pad1 and PadN: Router Alert (type 5) has
 * action 00 and is skipped, and a Jumbo Payload (0xC2) is refused by its 11.
 */
function processOptions(packet: Uint8Array, from: number, to: number, dstMulticast: boolean): Ipv6Walk | null {
  let i = from;
  while (i < to) {
    const t = packet[i]!;
    if (t === 0) {
      i++;
      continue;
    }
    if (i + 2 > to) return { ok: false, reason: 'ipv6-bad-option', icmp: null };
    const dataLen = packet[i + 1]!;
    if (i + 2 + dataLen > to) return { ok: false, reason: 'ipv6-bad-option', icmp: null };
    if (t !== 1) {
      switch (t >>> 6) {
        case 0:
          break;
        case 1:
          return { ok: false, reason: 'ipv6-unknown-option', icmp: null };
        case 2:
          return paramProblem('ipv6-unknown-option', 2, i, true);
        default:
          if (dstMulticast) return { ok: false, reason: 'ipv6-unknown-option', icmp: null };
          return paramProblem('ipv6-unknown-option', 2, i);
      }
    }
    i += 2 + dataLen;
  }
  return null;
}

/**
 * The smallest upper-layer header synack needs in a first fragment or an
 * ICMPv6 quote: TCP's fixed header, UDP's header, ICMPv6's type, code,
 * checksum and first word (Linux's ipv6_frag_thdr_truncated uses the same).
 */
const UPPER_MIN_LEN: Readonly<Record<number, number>> = { 6: 20, 17: 8, [IPPROTO_ICMPV6]: 8 };

/**
 * Follows the header chain in `bytes` from Next Header `nh` at `off`, without
 * processing options, as for a packet quoted in an ICMPv6 error (RFC 4443
 * §2.4 (d)) or the Fragmentable Part of a first fragment (RFC 7112). Returns
 * the upper-layer protocol and its offset when the whole chain and at least
 * the upper layer's minimal header (`UPPER_MIN_LEN`; `minUpper` octets when
 * given, e.g. 8 for the part of a TCP header an ICMP quote must hold) lie
 * in `bytes`;
 * 'truncated' when `bytes` ends before that; 'none' for No Next Header, a
 * later fragment (offset ≠ 0, no upper-layer header in it) or too long a chain.
 */
export function findUpperLayer(
  bytes: Uint8Array,
  nh: number,
  off: number,
  upper: ReadonlySet<number> = IPV6_UPPER_LAYERS,
  minUpper?: number,
): { kind: 'upper'; protocol: number; offset: number } | { kind: 'truncated' } | { kind: 'none' } {
  const end = bytes.length;
  for (let hops = 0; hops < 64; hops++) {
    switch (nh) {
      case IPPROTO_HOPOPTS:
      case IPPROTO_IPV6_DSTOPTS:
      case IPPROTO_IPV6_ROUTING: {
        if (off + 2 > end) return { kind: 'truncated' };
        const len = (bytes[off + 1]! + 1) * 8;
        if (off + len > end) return { kind: 'truncated' };
        nh = bytes[off]!;
        off += len;
        break;
      }
      case IPPROTO_IPV6_FRAGMENT: {
        if (off + 8 > end) return { kind: 'truncated' };
        if ((getU16(bytes, off + 2) & 0xfff8) !== 0) return { kind: 'none' };
        nh = bytes[off]!;
        off += 8;
        break;
      }
      case IPPROTO_IPV6_NONXT:
        return { kind: 'none' };
      default: {
        const need = minUpper ?? (upper.has(nh) ? (UPPER_MIN_LEN[nh] ?? 0) : 0);
        if (off + need > end) return { kind: 'truncated' };
        return { kind: 'upper', protocol: nh, offset: off };
      }
    }
  }
  return { kind: 'none' };
}
