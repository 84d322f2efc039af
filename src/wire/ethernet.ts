/**
 * Ethernet II frame codec (RFC 894 for IPv4 over Ethernet; IEEE 802.1Q
 * customer and IEEE 802.1ad service VLAN tags) and MAC address helpers.
 *
 * `parseEthernet` validates untrusted bytes and never throws. It reports
 * the destination, source, the EtherType after any VLAN tags, and the tags
 * themselves (TPID, priority, drop-eligible bit, VLAN id) so that the stack
 * can count and drop tagged frames. The payload is a view of the input (no
 * copy) and includes any padding: the upper layer trims it (IPv4 by its
 * total length, ARP by its fixed size). Frames from a TAP device carry no
 * FCS and may be shorter than 60 bytes; both are accepted.
 *
 * `emitEthernet` writes the header (and tags) into a caller-provided buffer
 * and zero-fills the padding up to the 60-byte minimum (RFC 894).
 *
 * A MAC address is a number in 0..2^48-1 (02:00:00:00:00:01 is
 * 0x020000000001): exact in a JS number, compared with ===, usable as a
 * Map key.
 *
 *     +----------------+----------------+------------+---------------------+
 *     | destination (6)|   source (6)   |[tags 4 each]| EtherType (2) | data |
 *     +----------------+----------------+------------+---------------------+
 */

import { getU16, setU16 } from './bytes.ts';
import type { ParseResult } from './types.ts';

/** A 48-bit MAC address as a number (0..0xffffffffffff), first octet most significant. */
export type MacAddr = number;

export const ETH_HEADER_LEN = 14;
/** Bytes of one 802.1Q/802.1ad tag (TPID and TCI). */
export const ETH_TAG_LEN = 4;
/** The smallest frame without FCS: 60 bytes (64 with the 4-byte FCS). */
export const ETH_MIN_FRAME_LEN = 60;
/** The smallest data field (RFC 894: 46 octets). */
export const ETH_MIN_PAYLOAD_LEN = 46;
/** Tags accepted on one frame: a service tag and a customer tag (Q-in-Q). */
export const ETH_MAX_TAGS = 2;

export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;
export const ETHERTYPE_IPV6 = 0x86dd;
/** IEEE 802.1Q customer VLAN tag. */
export const ETHERTYPE_VLAN = 0x8100;
/** IEEE 802.1ad service VLAN tag (Q-in-Q). */
export const ETHERTYPE_QINQ = 0x88a8;
/** The pre-standard Q-in-Q TPID some switches still send. */
export const ETHERTYPE_QINQ_LEGACY = 0x9100;

export const MAC_BROADCAST: MacAddr = 0xffffffffffff;
export const MAC_ZERO: MacAddr = 0;

/** One VLAN tag in wire order (the outermost first). */
export interface VlanTag {
  /** The tag protocol identifier: 0x8100 (802.1Q), 0x88a8 (802.1ad) or 0x9100. */
  tpid: number;
  /** Priority code point (3 bits). */
  pcp: number;
  /** Drop eligible indicator (formerly CFI). */
  dei: boolean;
  /** VLAN identifier (12 bits; 0 means priority-tagged, no VLAN). */
  vid: number;
}

export interface EthernetRepr {
  dst: MacAddr;
  src: MacAddr;
  /** The EtherType of the payload (after the tags). */
  ethertype: number;
  /** VLAN tags, outermost first; empty for an untagged frame. */
  tags: readonly VlanTag[];
}

/** Parsed frame: the header and a view of its data field (padding included). */
export interface EthernetFrame {
  header: EthernetRepr;
  payload: Uint8Array;
}

/** No VLAN tags (shared, frozen). */
export const NO_TAGS: readonly VlanTag[] = Object.freeze([]);

function isTpid(type: number): boolean {
  return type === ETHERTYPE_VLAN || type === ETHERTYPE_QINQ || type === ETHERTYPE_QINQ_LEGACY;
}

/** Reads a MAC address at `offset` (no bounds check). */
export function getMac(buf: Uint8Array, offset: number): MacAddr {
  const hi = (buf[offset]! << 8) | buf[offset + 1]!;
  const lo = ((buf[offset + 2]! << 24) | (buf[offset + 3]! << 16) | (buf[offset + 4]! << 8) | buf[offset + 5]!) >>> 0;
  return hi * 0x100000000 + lo;
}

/** Writes a MAC address at `offset` (no bounds check). */
export function setMac(buf: Uint8Array, offset: number, mac: MacAddr): void {
  const hi = Math.floor(mac / 0x100000000);
  const lo = mac >>> 0;
  buf[offset] = hi >>> 8;
  buf[offset + 1] = hi;
  buf[offset + 2] = lo >>> 24;
  buf[offset + 3] = lo >>> 16;
  buf[offset + 4] = lo >>> 8;
  buf[offset + 5] = lo;
}

/** Whether `mac` is an integer in 0..2^48-1. */
export function isMacAddr(mac: number): boolean {
  return Number.isInteger(mac) && mac >= 0 && mac <= MAC_BROADCAST;
}

/** The first octet of a MAC address. */
function firstOctet(mac: MacAddr): number {
  return Math.floor(mac / 0x10000000000) & 0xff;
}

/** Formats as six lower-case hex pairs joined by colons: "02:00:00:00:00:01". */
export function macToString(mac: MacAddr): string {
  const b = new Uint8Array(6);
  setMac(b, 0, mac);
  let s = '';
  for (let i = 0; i < 6; i++) s += (i === 0 ? '' : ':') + b[i]!.toString(16).padStart(2, '0');
  return s;
}

const MAC_RE = /^([0-9a-fA-F]{2})([:-])([0-9a-fA-F]{2})\2([0-9a-fA-F]{2})\2([0-9a-fA-F]{2})\2([0-9a-fA-F]{2})\2([0-9a-fA-F]{2})$/;

/**
 * Parses "02:00:00:00:00:01" (or with '-' separators, either case). Returns
 * null for anything else: other lengths, single-digit octets, mixed
 * separators.
 */
export function parseMac(s: string): MacAddr | null {
  const m = MAC_RE.exec(s);
  if (m === null) return null;
  const b = new Uint8Array(6);
  b[0] = parseInt(m[1]!, 16);
  for (let i = 1; i < 6; i++) b[i] = parseInt(m[i + 2]!, 16);
  return getMac(b, 0);
}

/** The MAC address as 6 bytes. */
export function macToBytes(mac: MacAddr): Uint8Array {
  const b = new Uint8Array(6);
  setMac(b, 0, mac);
  return b;
}

// RFC 7042 §2.1: "The Individual/Group (I/G) bit ... is the least significant
// bit of the first octet ... the Universal/Local (U/L) bit ... is the second
// least significant bit of the first octet". An address with I/G set is a
// group (multicast) address; all ones is the broadcast address.

/** ff:ff:ff:ff:ff:ff. */
export function isBroadcastMac(mac: MacAddr): boolean {
  return mac === MAC_BROADCAST;
}

/** A group address (I/G bit set): multicast, and broadcast too. */
export function isMulticastMac(mac: MacAddr): boolean {
  return (firstOctet(mac) & 0x01) !== 0;
}

/** An individual (unicast) address: the I/G bit is clear. */
export function isUnicastMac(mac: MacAddr): boolean {
  return (firstOctet(mac) & 0x01) === 0;
}

/** A locally administered address: the U/L bit is set. */
export function isLocalMac(mac: MacAddr): boolean {
  return (firstOctet(mac) & 0x02) !== 0;
}

/** A 32-bit integer mixer (lowbias32 by Chris Wellons): every input bit affects every output bit. */
function mix32(x: number): number {
  x = (x ^ (x >>> 16)) >>> 0;
  x = Math.imul(x, 0x7feb352d) >>> 0;
  x = (x ^ (x >>> 15)) >>> 0;
  x = Math.imul(x, 0x846ca68b) >>> 0;
  return (x ^ (x >>> 16)) >>> 0;
}

/**
 * A locally administered unicast MAC derived from `seed` (a number, or a
 * string such as a host name): the same seed always gives the same address,
 * different seeds almost always different ones. The first octet has the
 * U/L bit set and the I/G bit clear (x2:, x6:, xa:, xe:), so the address can
 * never collide with a vendor-assigned one (RFC 7042 §2.1). No randomness is
 * drawn.
 */
export function macFromSeed(seed: number | string): MacAddr {
  let h: number;
  if (typeof seed === 'string') {
    // FNV-1a over the UTF-16 code units.
    h = 0x811c9dc5;
    for (let i = 0; i < seed.length; i++) h = Math.imul(h ^ seed.charCodeAt(i), 0x01000193) >>> 0;
  } else {
    if (!Number.isFinite(seed)) throw new Error(`macFromSeed: seed must be finite, got ${seed}`);
    const hi = Math.floor(seed / 0x100000000) >>> 0;
    h = mix32((seed >>> 0) ^ mix32(hi ^ 0x9e3779b9));
  }
  const a = mix32(h ^ 0x5bd1e995);
  const b = mix32(a ^ h ^ 0x27d4eb2f);
  const first = ((a >>> 24) & 0xfc) | 0x02;
  const b1 = (a >>> 16) & 0xff;
  return first * 0x10000000000 + b1 * 0x100000000 + b;
}

/**
 * RFC 1112 §6.4: "An IP host group address is mapped to an Ethernet
 * multicast address by placing the low-order 23-bits of the IP address into
 * the low-order 23 bits of the Ethernet multicast address 01-00-5E-00-00-00
 * (hex)."
 */
export function ipv4MulticastMac(group: number): MacAddr {
  return 0x01005e000000 + (group & 0x7fffff);
}

/**
 * RFC 2464 §7: "An IPv6 packet with a multicast destination address DST,
 * consisting of the sixteen octets DST[1] through DST[16], is transmitted to
 * the Ethernet multicast address whose first two octets are the value 3333
 * hexadecimal and whose last four octets are the last four octets of DST."
 */
export function ipv6MulticastMac(dst: Uint8Array): MacAddr {
  if (dst.length !== 16) throw new Error(`ipv6MulticastMac: an IPv6 address has 16 bytes, got ${dst.length}`);
  return 0x333300000000 + (((dst[12]! << 24) | (dst[13]! << 16) | (dst[14]! << 8) | dst[15]!) >>> 0);
}

/**
 * Parses an Ethernet II frame (without FCS). Checks, in order: at least 14
 * bytes ('eth-truncated'); each VLAN tag complete ('eth-truncated') and at
 * most two of them ('eth-too-many-tags'); an EtherType, not an IEEE 802.3
 * length ('eth-not-ethernet-ii').
 */
export function parseEthernet(bytes: Uint8Array): ParseResult<EthernetFrame> {
  if (bytes.length < ETH_HEADER_LEN) return { ok: false, reason: 'eth-truncated' };
  let at = 12;
  let type = getU16(bytes, at);
  let tags: readonly VlanTag[] = NO_TAGS;
  while (isTpid(type)) {
    // IEEE 802.1Q §9.6: the tag is the TPID followed by the TCI, whose three
    // most significant bits are the PCP, then the DEI, then the 12-bit VID.
    if (tags.length === ETH_MAX_TAGS) return { ok: false, reason: 'eth-too-many-tags' };
    if (at + ETH_TAG_LEN + 2 > bytes.length) return { ok: false, reason: 'eth-truncated' };
    const tci = getU16(bytes, at + 2);
    if (tags === NO_TAGS) tags = [];
    (tags as VlanTag[]).push({ tpid: type, pcp: tci >>> 13, dei: (tci & 0x1000) !== 0, vid: tci & 0x0fff });
    at += ETH_TAG_LEN;
    type = getU16(bytes, at);
  }
  // IEEE 802.3 §3.2.6: a value of 1536 (0x0600) or more is an EtherType; 1500
  // or less is the length of an 802.3/LLC frame, which is not Ethernet II.
  if (type < 0x0600) return { ok: false, reason: 'eth-not-ethernet-ii' };
  return {
    ok: true,
    value: {
      header: { dst: getMac(bytes, 0), src: getMac(bytes, 6), ethertype: type, tags },
      payload: bytes.subarray(at + 2),
    },
  };
}

/** Header length of `repr` (14, plus 4 per tag). */
export function ethernetHeaderLen(repr: EthernetRepr): number {
  return ETH_HEADER_LEN + ETH_TAG_LEN * repr.tags.length;
}

/** The length of the frame carrying `payloadLen` bytes: at least 60 (RFC 894 padding). */
export function ethernetFrameLen(repr: EthernetRepr, payloadLen: number): number {
  return Math.max(ETH_MIN_FRAME_LEN, ethernetHeaderLen(repr) + payloadLen);
}

function checkField(name: string, value: number, max: number): void {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new Error(`Ethernet ${name} must be an integer in 0..${max}, got ${value}`);
  }
}

/**
 * Writes the header of `repr` at `buf[offset]` and zero-fills the padding
 * after a payload of `payloadLen` bytes, which the caller writes (before or
 * after) at `offset + ethernetHeaderLen(repr)`. Returns the frame length
 * (`ethernetFrameLen(repr, payloadLen)`). Throws for programmer errors: a
 * buffer too small, a field out of range, an EtherType below 0x0600, more
 * than two tags.
 */
export function emitEthernet(repr: EthernetRepr, payloadLen: number, buf: Uint8Array, offset: number): number {
  if (!isMacAddr(repr.dst)) throw new Error(`Ethernet dst is not a 48-bit MAC address: ${repr.dst}`);
  if (!isMacAddr(repr.src)) throw new Error(`Ethernet src is not a 48-bit MAC address: ${repr.src}`);
  checkField('ethertype', repr.ethertype, 0xffff);
  if (repr.ethertype < 0x0600) throw new Error(`Ethernet II EtherType must be at least 0x0600, got ${repr.ethertype}`);
  if (repr.tags.length > ETH_MAX_TAGS) throw new Error(`at most ${ETH_MAX_TAGS} VLAN tags, got ${repr.tags.length}`);
  const headerLen = ethernetHeaderLen(repr);
  const frameLen = ethernetFrameLen(repr, payloadLen);
  if (offset < 0 || offset + frameLen > buf.length) {
    throw new Error(`emitEthernet: buffer too small (${buf.length} bytes, ${frameLen} needed at ${offset})`);
  }
  setMac(buf, offset, repr.dst);
  setMac(buf, offset + 6, repr.src);
  let at = offset + 12;
  for (const tag of repr.tags) {
    if (!isTpid(tag.tpid)) throw new Error(`VLAN tag TPID must be 0x8100, 0x88a8 or 0x9100, got ${tag.tpid}`);
    checkField('tag pcp', tag.pcp, 7);
    checkField('tag vid', tag.vid, 0xfff);
    setU16(buf, at, tag.tpid);
    setU16(buf, at + 2, (tag.pcp << 13) | (tag.dei ? 0x1000 : 0) | tag.vid);
    at += ETH_TAG_LEN;
  }
  setU16(buf, at, repr.ethertype);
  // RFC 894: "The minimum length of the data field of a packet sent over an
  // Ethernet is 46 octets. If necessary, the data field should be padded
  // (with octets of zero) to meet the Ethernet minimum frame size. This
  // padding is not part of the IP packet and is not included in the total
  // length field of the IP header."
  buf.fill(0, offset + headerLen + payloadLen, offset + frameLen);
  return frameLen;
}

/**
 * Allocates one frame of the exact size holding `repr` and a copy of
 * `payload`, padded to 60 bytes. `alloc` supplies a zero-filled buffer (by
 * default a new `Uint8Array`).
 */
export function buildEthernetFrame(
  repr: EthernetRepr,
  payload: Uint8Array,
  alloc?: (n: number) => Uint8Array,
): Uint8Array {
  const n = ethernetFrameLen(repr, payload.length);
  const buf = alloc ? alloc(n) : new Uint8Array(n);
  emitEthernet(repr, payload.length, buf, 0);
  buf.set(payload, ethernetHeaderLen(repr));
  return buf;
}
