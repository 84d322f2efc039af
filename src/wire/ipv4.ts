/**
 * IPv4 header codec (RFC 791 §3.1).
 *
 * `parseIpv4` validates untrusted bytes and never throws; it returns the
 * header as an `Ipv4Repr` and the payload as a view (no copy). Options are
 * skipped by the IHL. Fragments are not reassembled: they are dropped as
 * 'ipv4-fragment'. Bytes past the total length (link padding) are ignored.
 *
 * `emitIpv4` writes a 20-byte header without options into a caller-provided
 * buffer and throws only for programmer errors (a buffer too small, a field
 * out of range).
 *
 *      0                   1                   2                   3
 *      0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *     |Version|  IHL  |Type of Service|          Total Length         |
 *     |         Identification        |Flags|      Fragment Offset    |
 *     |  Time to Live |    Protocol   |         Header Checksum       |
 *     |                       Source Address                          |
 *     |                    Destination Address                        |
 */

import { checksum } from './checksum.ts';
import { getU16, getU32, setU16, setU32 } from './bytes.ts';
import type { ChecksumCaps, Ipv4Packet, Ipv4Repr, ParseResult } from './types.ts';

/** Length of an IPv4 header without options. */
export const IPV4_HEADER_LEN = 20;
/** Alias of `IPV4_HEADER_LEN`. */
export const ipv4HeaderLen = IPV4_HEADER_LEN;
/** The largest IPv4 packet (the total length field is 16 bits). */
export const IPV4_MAX_TOTAL_LEN = 0xffff;

/** Flags/fragment-offset word: Don't Fragment, More Fragments, offset mask. */
const FLAG_DF = 0x4000;
const FLAG_MF = 0x2000;
const FRAG_OFFSET_MASK = 0x1fff;

/**
 * Parses an IPv4 packet. Checks, in order: at least 20 bytes, version 4,
 * 5 ≤ IHL and IHL*4 ≤ length, IHL*4 ≤ total length ≤ length, the header
 * checksum (when `caps.verifyRx`), and that the packet is not a fragment.
 */
export function parseIpv4(bytes: Uint8Array, caps: ChecksumCaps): ParseResult<Ipv4Packet> {
  const len = bytes.length;
  if (len < IPV4_HEADER_LEN) return { ok: false, reason: 'ipv4-truncated' };
  const vihl = bytes[0]!;
  if (vihl >>> 4 !== 4) return { ok: false, reason: 'ipv4-bad-version' };
  const headerLen = (vihl & 0x0f) * 4;
  if (headerLen < IPV4_HEADER_LEN || headerLen > len) return { ok: false, reason: 'ipv4-bad-ihl' };
  const totalLen = getU16(bytes, 2);
  if (totalLen < headerLen || totalLen > len) return { ok: false, reason: 'ipv4-bad-total-length' };
  // RFC 791 §3.1: the checksum field is the 16-bit one's complement of the
  // one's complement sum of all 16-bit words in the header.
  if (caps.verifyRx && checksum(bytes, 0, headerLen) !== 0) return { ok: false, reason: 'ipv4-bad-checksum' };
  const flagsFrag = getU16(bytes, 6);
  if ((flagsFrag & (FLAG_MF | FRAG_OFFSET_MASK)) !== 0) return { ok: false, reason: 'ipv4-fragment' };
  return {
    ok: true,
    value: {
      header: {
        src: getU32(bytes, 12),
        dst: getU32(bytes, 16),
        protocol: bytes[9]!,
        ttl: bytes[8]!,
        tos: bytes[1]!,
        ident: getU16(bytes, 4),
        dontFragment: (flagsFrag & FLAG_DF) !== 0,
        payloadLen: totalLen - headerLen,
      },
      payload: bytes.subarray(headerLen, totalLen),
    },
  };
}

function checkField(name: string, value: number, max: number): void {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new Error(`IPv4 ${name} must be an integer in 0..${max}, got ${value}`);
  }
}

/**
 * Writes a 20-byte IPv4 header (no options) for `repr` at `buf[offset]`.
 * The payload itself is not written. The header checksum is always filled:
 * it costs a few nanoseconds, and a header that is valid everywhere keeps
 * pcap traces readable. (`caps` is accepted for symmetry with the other
 * codecs.) Returns the number of bytes written (20).
 */
export function emitIpv4(repr: Ipv4Repr, buf: Uint8Array, offset: number, caps?: ChecksumCaps): number {
  void caps;
  if (offset < 0 || offset + IPV4_HEADER_LEN > buf.length) {
    throw new Error(`emitIpv4: buffer too small (${buf.length} bytes, header at ${offset})`);
  }
  checkField('payloadLen', repr.payloadLen, IPV4_MAX_TOTAL_LEN - IPV4_HEADER_LEN);
  checkField('src', repr.src, 0xffffffff);
  checkField('dst', repr.dst, 0xffffffff);
  checkField('protocol', repr.protocol, 0xff);
  checkField('ttl', repr.ttl, 0xff);
  checkField('tos', repr.tos, 0xff);
  checkField('ident', repr.ident, 0xffff);
  buf[offset] = 0x45;
  buf[offset + 1] = repr.tos;
  setU16(buf, offset + 2, IPV4_HEADER_LEN + repr.payloadLen);
  setU16(buf, offset + 4, repr.ident);
  setU16(buf, offset + 6, repr.dontFragment ? FLAG_DF : 0);
  buf[offset + 8] = repr.ttl;
  buf[offset + 9] = repr.protocol;
  setU16(buf, offset + 10, 0);
  setU32(buf, offset + 12, repr.src);
  setU32(buf, offset + 16, repr.dst);
  setU16(buf, offset + 10, checksum(buf, offset, offset + IPV4_HEADER_LEN));
  return IPV4_HEADER_LEN;
}
