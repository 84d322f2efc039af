/**
 * UDP codec (RFC 768) over IPv4 and IPv6.
 *
 *      0      7 8     15 16    23 24    31
 *     +--------+--------+--------+--------+
 *     |     Source      |   Destination   |
 *     |      Port       |      Port       |
 *     +--------+--------+--------+--------+
 *     |     Length      |    Checksum     |
 *     +--------+--------+--------+--------+
 *     |          data octets ...
 *
 * The pseudo-header is passed in as a `UdpPseudo`: the sum of the two
 * addresses and whether they are IPv6 (where the checksum is mandatory).
 * `udpPseudoV4` and `udpPseudoV6` build it; the protocol number and the UDP
 * length are added here, because the length is read from the datagram.
 * Both pseudo-headers contribute the same terms apart from the addresses
 * (RFC 768; RFC 8200 §8.1: source and destination address, the upper-layer
 * length, zero, and the next header 17).
 *
 * `parseUdp` never throws; the payload is a view of the input (no copy) and
 * bytes past the UDP length (link padding) are ignored. `emitUdp` writes
 * header and payload into a caller-provided buffer.
 */

import { getU16, setU16 } from './bytes.ts';
import { checksum, sum16 } from './checksum.ts';
import { IPPROTO_UDP } from './types.ts';
import type { ChecksumCaps, Ipv4Addr, ParseResult } from './types.ts';

export const UDP_HEADER_LEN = 8;
/** The largest UDP datagram (the length field is 16 bits; IPv6 jumbograms are not supported). */
export const UDP_MAX_LEN = 0xffff;

export interface UdpRepr {
  /** 0 means "no source port" (RFC 768: "If not used, a value of zero is inserted"). */
  srcPort: number;
  dstPort: number;
  payload: Uint8Array;
}

/** The address part of the pseudo-header, and which IP version it belongs to. */
export interface UdpPseudo {
  /** IPv6: the checksum is mandatory, a zero checksum is dropped (RFC 8200 §8.1). */
  v6: boolean;
  /** The 16-bit-word sum of the source and destination addresses (unfolded). */
  addrSum: number;
}

/**
 * RFC 768: "The pseudo header conceptually prefixed to the UDP header
 * contains the source address, the destination address, the protocol, and
 * the UDP length." This is its address part for IPv4.
 */
export function udpPseudoV4(src: Ipv4Addr, dst: Ipv4Addr): UdpPseudo {
  return { v6: false, addrSum: (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) };
}

/**
 * The address part of the IPv6 pseudo-header (RFC 8200 §8.1): the 16-byte
 * source and destination addresses. "If the IPv6 packet contains a Routing
 * header, the Destination Address used in the pseudo-header is that of the
 * final destination."
 */
export function udpPseudoV6(src: Uint8Array, dst: Uint8Array): UdpPseudo {
  if (src.length !== 16 || dst.length !== 16) throw new Error('udpPseudoV6: IPv6 addresses have 16 bytes');
  return { v6: true, addrSum: sum16(src, 0, 16) + sum16(dst, 0, 16) };
}

/** The full pseudo-header sum for a datagram of `len` bytes. */
function pseudoSum(p: UdpPseudo, len: number): number {
  // RFC 8200 §8.1: "Some upper-layer protocols carry their own length
  // information (e.g., the Length field in the UDP header); for such
  // protocols, that is the length used in the pseudo-header."
  return p.addrSum + IPPROTO_UDP + len;
}

/**
 * Parses a UDP datagram. Checks, in order: at least 8 bytes
 * ('udp-truncated'); 8 ≤ length ≤ bytes available ('udp-bad-length'); then,
 * when `caps.verifyRx`, the checksum: on IPv6 a zero checksum is dropped
 * ('udp-zero-checksum'), on IPv4 it means none was sent; any other value
 * must verify ('udp-bad-checksum').
 */
export function parseUdp(bytes: Uint8Array, pseudo: UdpPseudo, caps: ChecksumCaps): ParseResult<UdpRepr> {
  if (bytes.length < UDP_HEADER_LEN) return { ok: false, reason: 'udp-truncated' };
  // RFC 768: "Length is the length in octets of this user datagram including
  // this header and the data. (This means the minimum value of the length
  // is eight.)"
  const len = getU16(bytes, 4);
  if (len < UDP_HEADER_LEN || len > bytes.length) return { ok: false, reason: 'udp-bad-length' };
  if (caps.verifyRx) {
    const sent = getU16(bytes, 6);
    if (sent === 0) {
      // RFC 8200 §8.1: "IPv6 receivers must discard UDP packets containing a
      // zero checksum and should log the error."
      if (pseudo.v6) return { ok: false, reason: 'udp-zero-checksum' };
      // RFC 768: "An all zero transmitted checksum value means that the
      // transmitter generated no checksum (for debugging or for higher level
      // protocols that don't care)."
    } else if (checksum(bytes, 0, len, pseudoSum(pseudo, len)) !== 0) {
      return { ok: false, reason: 'udp-bad-checksum' };
    }
  }
  return {
    ok: true,
    value: { srcPort: getU16(bytes, 0), dstPort: getU16(bytes, 2), payload: bytes.subarray(UDP_HEADER_LEN, len) },
  };
}

/** Length of the datagram (header and payload), in bytes. */
export function udpLen(repr: UdpRepr): number {
  return UDP_HEADER_LEN + repr.payload.length;
}

/**
 * Writes the datagram `repr` at `buf[offset]`. When `caps.fillTx` the
 * checksum over `pseudo` is filled; otherwise 0 is written, which on IPv4
 * means "no checksum" and on IPv6 is valid only on a link that offloads
 * checksums (the receiver then does not verify). Returns the number of bytes
 * written. Throws for programmer errors (buffer too small, a datagram over
 * 65535 bytes, ports out of range).
 */
export function emitUdp(repr: UdpRepr, pseudo: UdpPseudo, buf: Uint8Array, offset: number, caps: ChecksumCaps): number {
  const len = udpLen(repr);
  if (len > UDP_MAX_LEN) throw new Error(`UDP datagram of ${len} bytes is longer than 65535`);
  if (offset < 0 || offset + len > buf.length) {
    throw new Error(`emitUdp: buffer too small (${buf.length} bytes, ${len} needed at ${offset})`);
  }
  for (const [name, v] of [['srcPort', repr.srcPort], ['dstPort', repr.dstPort]] as const) {
    if (!Number.isInteger(v) || v < 0 || v > 0xffff) throw new Error(`UDP ${name} must be an integer in 0..65535, got ${v}`);
  }
  setU16(buf, offset, repr.srcPort);
  setU16(buf, offset + 2, repr.dstPort);
  setU16(buf, offset + 4, len);
  setU16(buf, offset + 6, 0);
  buf.set(repr.payload, offset + UDP_HEADER_LEN);
  if (caps.fillTx) {
    // RFC 768: "Checksum is the 16-bit one's complement of the one's
    // complement sum of a pseudo header of information from the IP header,
    // the UDP header, and the data, padded with zero octets at the end (if
    // necessary) to make a multiple of two octets." ... "If the computed
    // checksum is zero, it is transmitted as all ones (the equivalent in
    // one's complement arithmetic)." RFC 8200 §8.1 says the same for IPv6:
    // "if that computation yields a result of zero, it must be changed to
    // hex FFFF for placement in the UDP header."
    const c = checksum(buf, offset, offset + len, pseudoSum(pseudo, len));
    setU16(buf, offset + 6, c === 0 ? 0xffff : c);
  }
  return len;
}
