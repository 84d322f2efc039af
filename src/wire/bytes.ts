/**
 * Byte-level helpers for the wire codecs: big-endian (network order) and
 * little-endian (pcap) 16/32-bit accessors on `Uint8Array`, and IPv4 address
 * helpers.
 *
 * Invariants: every 32-bit read returns an unsigned value (`>>> 0`), never
 * the signed result of a bare `<<`. Accessors do no bounds checking; the
 * codecs check lengths once before reading (smoltcp's `check_len`).
 */

import type { Ipv4Addr } from './types.ts';

/** Reads a big-endian unsigned 16-bit value at `offset`. */
export function getU16(buf: Uint8Array, offset: number): number {
  return (buf[offset]! << 8) | buf[offset + 1]!;
}

/** Reads a big-endian unsigned 32-bit value at `offset`. */
export function getU32(buf: Uint8Array, offset: number): number {
  return (
    ((buf[offset]! << 24) | (buf[offset + 1]! << 16) | (buf[offset + 2]! << 8) | buf[offset + 3]!) >>> 0
  );
}

/** Writes the low 16 bits of `value` big-endian at `offset`. */
export function setU16(buf: Uint8Array, offset: number, value: number): void {
  buf[offset] = value >>> 8;
  buf[offset + 1] = value;
}

/** Writes the low 32 bits of `value` big-endian at `offset`. */
export function setU32(buf: Uint8Array, offset: number, value: number): void {
  buf[offset] = value >>> 24;
  buf[offset + 1] = value >>> 16;
  buf[offset + 2] = value >>> 8;
  buf[offset + 3] = value;
}

/** Reads a little-endian unsigned 16-bit value at `offset` (pcap headers). */
export function getU16le(buf: Uint8Array, offset: number): number {
  return buf[offset]! | (buf[offset + 1]! << 8);
}

/** Reads a little-endian unsigned 32-bit value at `offset` (pcap headers). */
export function getU32le(buf: Uint8Array, offset: number): number {
  return (
    (buf[offset]! | (buf[offset + 1]! << 8) | (buf[offset + 2]! << 16) | (buf[offset + 3]! << 24)) >>> 0
  );
}

/** Writes the low 16 bits of `value` little-endian at `offset`. */
export function setU16le(buf: Uint8Array, offset: number, value: number): void {
  buf[offset] = value;
  buf[offset + 1] = value >>> 8;
}

/** Writes the low 32 bits of `value` little-endian at `offset`. */
export function setU32le(buf: Uint8Array, offset: number, value: number): void {
  buf[offset] = value;
  buf[offset + 1] = value >>> 8;
  buf[offset + 2] = value >>> 16;
  buf[offset + 3] = value >>> 24;
}

/** Builds an address from its four octets: `ipv4Addr(10, 0, 0, 1)` is 10.0.0.1. */
export function ipv4Addr(a: number, b: number, c: number, d: number): Ipv4Addr {
  return (((a & 0xff) << 24) | ((b & 0xff) << 16) | ((c & 0xff) << 8) | (d & 0xff)) >>> 0;
}

/** Formats an address as a dotted quad: 0x0a000001 is "10.0.0.1". */
export function ipv4ToString(addr: Ipv4Addr): string {
  return `${(addr >>> 24) & 0xff}.${(addr >>> 16) & 0xff}.${(addr >>> 8) & 0xff}.${addr & 0xff}`;
}

/**
 * One octet: 0-255 in decimal without leading zeros (a leading zero is
 * octal to inet_aton, so it is ambiguous and rejected, as Node's isIPv4 does).
 */
const OCTET = '(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])';
const DOTTED_QUAD = new RegExp(`^${OCTET}\\.${OCTET}\\.${OCTET}\\.${OCTET}$`);

/**
 * Parses a strict dotted quad ("10.0.0.1"). Returns null for anything else:
 * fewer or more parts, leading zeros, signs, spaces, hex, out-of-range octets.
 */
export function parseIpv4Addr(s: string): Ipv4Addr | null {
  const m = DOTTED_QUAD.exec(s);
  if (m === null) return null;
  return ipv4Addr(Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4]));
}

/** The network mask of a prefix length (0-32) as an unsigned 32-bit number. */
export function ipv4PrefixMask(prefixLen: number): number {
  if (!Number.isInteger(prefixLen) || prefixLen < 0 || prefixLen > 32) {
    throw new Error(`IPv4 prefix length must be an integer in 0..32, got ${prefixLen}`);
  }
  return prefixLen === 0 ? 0 : (0xffffffff << (32 - prefixLen)) >>> 0;
}

/** Whether `addr` lies in `net/prefixLen` (the host bits of `net` are ignored). */
export function ipv4InSubnet(addr: Ipv4Addr, net: Ipv4Addr, prefixLen: number): boolean {
  return ((addr ^ net) & ipv4PrefixMask(prefixLen)) === 0;
}

/** The parts joined into one array (the single part itself when there is one). */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
