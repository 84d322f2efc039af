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
import { getU16, setU16 } from './bytes.ts';
import type { ChecksumCaps, IcmpEchoRepr, ParseResult } from './types.ts';

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
