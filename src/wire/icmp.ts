/**
 * ICMP echo request and reply codec (RFC 792, "Echo or Echo Reply Message").
 *
 * Only echo is supported: every other type, and an echo with a non-zero
 * code, is 'icmp-unsupported'. Parsing never throws; the data is a view of
 * the input (no copy). Emission always fills the checksum.
 *
 *      0                   1                   2                   3
 *      0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *     |     Type      |     Code      |          Checksum             |
 *     |           Identifier          |        Sequence Number        |
 *     |     Data ...
 */

import { checksum } from './checksum.ts';
import { getU16, getU32, setU16 } from './bytes.ts';
import type { ChecksumCaps, IcmpEchoRepr, IcmpErrorKind, IcmpErrorRepr, ParseResult } from './types.ts';

/** Length of the ICMP echo header (type, code, checksum, identifier, sequence number). */
export const ICMP_ECHO_HEADER_LEN = 8;
export const ICMP_TYPE_ECHO_REPLY = 0;
export const ICMP_TYPE_ECHO_REQUEST = 8;

/**
 * Parses an ICMP message. Checks, in order: at least 8 bytes
 * ('icmp-truncated'), the checksum over the whole message when
 * `caps.verifyRx` ('icmp-bad-checksum'), and an echo type with code 0
 * ('icmp-unsupported').
 */
export function parseIcmp(bytes: Uint8Array, caps: ChecksumCaps): ParseResult<IcmpEchoRepr> {
  if (bytes.length < ICMP_ECHO_HEADER_LEN) return { ok: false, reason: 'icmp-truncated' };
  // RFC 792: the checksum is the 16-bit one's complement of the one's
  // complement sum of the ICMP message starting with the ICMP Type.
  if (caps.verifyRx && checksum(bytes, 0, bytes.length) !== 0) return { ok: false, reason: 'icmp-bad-checksum' };
  const type = bytes[0]!;
  if (bytes[1] !== 0 || (type !== ICMP_TYPE_ECHO_REQUEST && type !== ICMP_TYPE_ECHO_REPLY)) {
    return { ok: false, reason: 'icmp-unsupported' };
  }
  return {
    ok: true,
    value: {
      type: type === ICMP_TYPE_ECHO_REQUEST ? 'echo-request' : 'echo-reply',
      ident: getU16(bytes, 4),
      seqNo: getU16(bytes, 6),
      data: bytes.subarray(ICMP_ECHO_HEADER_LEN),
    },
  };
}

/** Length of the encoded echo message (header and data), in bytes. */
export function icmpEchoLen(repr: IcmpEchoRepr): number {
  return ICMP_ECHO_HEADER_LEN + repr.data.length;
}

/**
 * Writes the echo message `repr` at `buf[offset]` with its checksum filled.
 * Returns the number of bytes written. Throws for programmer errors (buffer
 * too small, fields out of range).
 */
export function emitIcmpEcho(repr: IcmpEchoRepr, buf: Uint8Array, offset: number): number {
  const len = icmpEchoLen(repr);
  if (offset < 0 || offset + len > buf.length) {
    throw new Error(`emitIcmpEcho: buffer too small (${buf.length} bytes, ${len} needed at ${offset})`);
  }
  for (const [name, value] of [['ident', repr.ident], ['seqNo', repr.seqNo]] as const) {
    if (!Number.isInteger(value) || value < 0 || value > 0xffff) {
      throw new Error(`ICMP ${name} must be an integer in 0..65535, got ${value}`);
    }
  }
  buf[offset] = repr.type === 'echo-request' ? ICMP_TYPE_ECHO_REQUEST : ICMP_TYPE_ECHO_REPLY;
  buf[offset + 1] = 0;
  setU16(buf, offset + 2, 0);
  setU16(buf, offset + 4, repr.ident);
  setU16(buf, offset + 6, repr.seqNo);
  buf.set(repr.data, offset + ICMP_ECHO_HEADER_LEN);
  setU16(buf, offset + 2, checksum(buf, offset, offset + len));
  return len;
}

export const ICMP_TYPE_DEST_UNREACHABLE = 3;
export const ICMP_TYPE_SOURCE_QUENCH = 4;
export const ICMP_TYPE_TIME_EXCEEDED = 11;
export const ICMP_TYPE_PARAMETER_PROBLEM = 12;

/** Whether `type` is an ICMP error message that `parseIcmpError` reads. */
export function isIcmpErrorType(type: number): boolean {
  return type === ICMP_TYPE_DEST_UNREACHABLE || type === ICMP_TYPE_SOURCE_QUENCH || type === ICMP_TYPE_TIME_EXCEEDED || type === ICMP_TYPE_PARAMETER_PROBLEM;
}

/**
 * Destination Unreachable codes (RFC 792; 6–12 RFC 1122 §3.2.2.1; 13–15
 * RFC 1812 §5.2.7.1) → kind. RFC 1122 §4.2.3.9 sorts them for TCP: codes 0,
 * 1, 5 are soft errors, 2–4 hard; the rest are treated as soft here (the
 * unknown/isolated and TOS codes as net or host unreachable, as Linux's
 * icmp_err_convert table does).
 */
const UNREACH_KINDS: readonly IcmpErrorKind[] = [
  'net-unreachable', // 0
  'host-unreachable', // 1
  'protocol-unreachable', // 2
  'port-unreachable', // 3
  'packet-too-big', // 4 fragmentation needed and DF set
  'source-route-failed', // 5
  'net-unreachable', // 6 destination network unknown
  'host-unreachable', // 7 destination host unknown
  'host-unreachable', // 8 source host isolated
  'admin-prohibited', // 9 network administratively prohibited
  'admin-prohibited', // 10 host administratively prohibited
  'net-unreachable', // 11 network unreachable for TOS
  'host-unreachable', // 12 host unreachable for TOS
  'admin-prohibited', // 13 communication administratively prohibited
  'host-unreachable', // 14 host precedence violation
  'host-unreachable', // 15 precedence cutoff in effect
];

/**
 * Parses an ICMP error message (Destination Unreachable, Source Quench,
 * Time Exceeded, Parameter Problem). RFC 792: each carries "the internet
 * header plus the first 64 bits of the original datagram's data"; the
 * quoted header must be IPv4 with a sane IHL and at least 8 bytes of
 * transport header after it ('icmp-truncated'). The quoted total length is
 * not checked against what is present (routers quote only a prefix).
 * Unknown codes are 'icmp-unsupported'. Never throws.
 */
export function parseIcmpError(bytes: Uint8Array, caps: ChecksumCaps): ParseResult<IcmpErrorRepr> {
  if (bytes.length < ICMP_ECHO_HEADER_LEN) return { ok: false, reason: 'icmp-truncated' };
  if (caps.verifyRx && checksum(bytes, 0, bytes.length) !== 0) return { ok: false, reason: 'icmp-bad-checksum' };
  const type = bytes[0]!;
  const code = bytes[1]!;
  let kind: IcmpErrorKind | undefined;
  if (type === ICMP_TYPE_DEST_UNREACHABLE) kind = UNREACH_KINDS[code];
  else if (type === ICMP_TYPE_SOURCE_QUENCH && code === 0) kind = 'source-quench';
  else if (type === ICMP_TYPE_TIME_EXCEEDED && code <= 1) kind = code === 0 ? 'ttl-exceeded' : 'reassembly-timeout';
  else if (type === ICMP_TYPE_PARAMETER_PROBLEM && code <= 2) kind = 'parameter-problem';
  if (kind === undefined) return { ok: false, reason: 'icmp-unsupported' };
  const q = ICMP_ECHO_HEADER_LEN;
  if (bytes.length < q + 20) return { ok: false, reason: 'icmp-truncated' };
  const vihl = bytes[q]!;
  const ihl = (vihl & 0x0f) * 4;
  if (vihl >>> 4 !== 4 || ihl < 20 || bytes.length < q + ihl + 8) return { ok: false, reason: 'icmp-truncated' };
  return {
    ok: true,
    value: {
      type,
      code,
      kind,
      // RFC 1191 §4: "the low-order 16 bits [of the unused field] are used to
      // hold the MTU of the next-hop network".
      mtu: kind === 'packet-too-big' ? getU16(bytes, 6) : 0,
      quoted: { src: getU32(bytes, q + 12), dst: getU32(bytes, q + 16), protocol: bytes[q + 9]!, totalLength: getU16(bytes, q + 2) },
      transport: bytes.subarray(q + ihl),
    },
  };
}
