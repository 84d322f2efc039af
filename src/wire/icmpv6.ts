/**
 * ICMPv6 (RFC 4443): the message codec with its mandatory pseudo-header
 * checksum, the invoking packet quoted in error messages, the
 * error-generation rules of §2.4 (e) as a pure function, and the token-bucket
 * rate limiter of §2.4 (f) under the virtual clock.
 *
 *      0                   1                   2                   3
 *      0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *     |     Type      |     Code      |          Checksum             |
 *     |                         Message Body                          |
 *
 * Neighbor Discovery (types 133–137, RFC 4861) is recognised and kept as raw
 * bytes (`kind: 'ndp'`); parsing it comes with issue 13.
 */

import { checksum } from './checksum.ts';
import { getU16, getU32, setU16, setU32 } from './bytes.ts';
import type { Duration, Instant } from '../base/time.ts';
import { US_PER_S } from '../base/time.ts';
import {
  IPPROTO_ICMPV6,
  IPV6_HEADER_LEN,
  IPV6_MIN_MTU,
  type Ipv6Addr,
  type Ipv6Repr,
  findUpperLayer,
  ipv6PseudoHeaderSum,
  isIpv6Multicast,
  isIpv6Unspecified,
  readIpv6Addr,
} from './ipv6.ts';
import type { ChecksumCaps, ParseResult } from './types.ts';

export const ICMPV6_DEST_UNREACHABLE = 1;
export const ICMPV6_PACKET_TOO_BIG = 2;
export const ICMPV6_TIME_EXCEEDED = 3;
export const ICMPV6_PARAMETER_PROBLEM = 4;
export const ICMPV6_ECHO_REQUEST = 128;
export const ICMPV6_ECHO_REPLY = 129;
/** RFC 4861 §4: Router Solicitation … Redirect. */
export const ICMPV6_NDP_FIRST = 133;
export const ICMPV6_NDP_LAST = 137;

/** RFC 4443 §3.1 codes. */
export const DEST_UNREACH_NO_ROUTE = 0;
export const DEST_UNREACH_ADMIN_PROHIBITED = 1;
export const DEST_UNREACH_BEYOND_SCOPE = 2;
export const DEST_UNREACH_ADDRESS = 3;
export const DEST_UNREACH_PORT = 4;
export const DEST_UNREACH_SOURCE_POLICY = 5;
export const DEST_UNREACH_REJECT_ROUTE = 6;

/** Type, code, checksum and the 32-bit field every error and echo message has. */
export const ICMPV6_HEADER_LEN = 8;

/**
 * RFC 4443 §2.4 (c): "Every ICMPv6 error message (type < 128) MUST include
 * as much of the IPv6 offending (invoking) packet (the packet that caused the
 * error) as possible without making the error message packet exceed the
 * minimum IPv6 MTU [IPv6]." 1280 − 40 (IPv6 header) − 8 (ICMPv6 header).
 */
export const ICMPV6_MAX_QUOTE = IPV6_MIN_MTU - IPV6_HEADER_LEN - ICMPV6_HEADER_LEN;

export type Icmpv6Repr =
  /** RFC 4443 §3.1: codes 0–6; the 32-bit field is unused. */
  | { kind: 'dest-unreachable'; code: number; invoking: Uint8Array }
  /** RFC 4443 §3.2: "MTU The Maximum Transmission Unit of the next-hop link." */
  | { kind: 'packet-too-big'; code: number; mtu: number; invoking: Uint8Array }
  /** RFC 4443 §3.3: 0 hop limit exceeded in transit, 1 fragment reassembly time exceeded. */
  | { kind: 'time-exceeded'; code: number; invoking: Uint8Array }
  /** RFC 4443 §3.4: 0 erroneous header field, 1 unrecognized Next Header, 2 unrecognized option; 3 (RFC 7112) incomplete chain. */
  | { kind: 'parameter-problem'; code: number; pointer: number; invoking: Uint8Array }
  /** RFC 4443 §4.1, §4.2. */
  | { kind: 'echo-request' | 'echo-reply'; code: number; ident: number; seq: number; data: Uint8Array }
  /** RFC 4861 types 133–137, kept raw (the body after the checksum). */
  | { kind: 'ndp'; type: number; code: number; body: Uint8Array }
  /**
   * RFC 4443 §2.4 (a): "If an ICMPv6 error message of unknown type is
   * received at its destination, it MUST be passed to the upper-layer
   * process that originated the packet that caused the error".
   */
  | { kind: 'unknown-error'; type: number; code: number; body: Uint8Array };

/** Whether an ICMPv6 type is an error message: RFC 4443 §2.1 "Error messages are identified as such by a zero in the high-order bit of their message Type field values." */
export function isIcmpv6ErrorType(type: number): boolean {
  return type < 128;
}

/**
 * Parses an ICMPv6 message (`bytes` is the whole upper-layer part, from the
 * Type octet to the end of the IPv6 payload) sent from `src` to `dst`.
 *
 * RFC 4443 §2.3: "The checksum is the 16-bit one's complement of the one's
 * complement sum of the entire ICMPv6 message, starting with the ICMPv6
 * message type field, and prepended with a "pseudo-header" of IPv6 header
 * fields, as specified in [IPv6, Section 8.1]. The Next Header value used in
 * the pseudo-header is 58." Unlike ICMPv4 the pseudo-header makes it
 * mandatory; it is verified whenever the link asks for it (`caps.verifyRx`).
 *
 * RFC 4443 §2.4 (b): "If an ICMPv6 informational message of unknown type is
 * received, it MUST be silently discarded." → 'icmpv6-unknown-informational'.
 * Error messages shorter than 8 octets and echo messages shorter than 8 are
 * 'icmpv6-truncated'. The invoking packet and echo data are views (no copy).
 */
export function parseIcmpv6(bytes: Uint8Array, src: Ipv6Addr, dst: Ipv6Addr, caps: ChecksumCaps): ParseResult<Icmpv6Repr> {
  const len = bytes.length;
  if (len < 4) return { ok: false, reason: 'icmpv6-truncated' };
  if (caps.verifyRx && checksum(bytes, 0, len, ipv6PseudoHeaderSum(src, dst, IPPROTO_ICMPV6, len)) !== 0) {
    return { ok: false, reason: 'icmpv6-bad-checksum' };
  }
  const type = bytes[0]!;
  const code = bytes[1]!;
  if (type >= ICMPV6_NDP_FIRST && type <= ICMPV6_NDP_LAST) return { ok: true, value: { kind: 'ndp', type, code, body: bytes.subarray(4) } };
  if (type !== ICMPV6_ECHO_REQUEST && type !== ICMPV6_ECHO_REPLY && !isIcmpv6ErrorType(type)) {
    return { ok: false, reason: 'icmpv6-unknown-informational' };
  }
  if (len < ICMPV6_HEADER_LEN) return { ok: false, reason: 'icmpv6-truncated' };
  const invoking = bytes.subarray(ICMPV6_HEADER_LEN);
  switch (type) {
    case ICMPV6_ECHO_REQUEST:
    case ICMPV6_ECHO_REPLY:
      return {
        ok: true,
        value: { kind: type === ICMPV6_ECHO_REQUEST ? 'echo-request' : 'echo-reply', code, ident: getU16(bytes, 4), seq: getU16(bytes, 6), data: invoking },
      };
    case ICMPV6_DEST_UNREACHABLE:
      return { ok: true, value: { kind: 'dest-unreachable', code, invoking } };
    case ICMPV6_PACKET_TOO_BIG:
      return { ok: true, value: { kind: 'packet-too-big', code, mtu: getU32(bytes, 4), invoking } };
    case ICMPV6_TIME_EXCEEDED:
      return { ok: true, value: { kind: 'time-exceeded', code, invoking } };
    case ICMPV6_PARAMETER_PROBLEM:
      return { ok: true, value: { kind: 'parameter-problem', code, pointer: getU32(bytes, 4), invoking } };
    default:
      return { ok: true, value: { kind: 'unknown-error', type, code, body: bytes.subarray(4) } };
  }
}

function typeOf(repr: Icmpv6Repr): number {
  switch (repr.kind) {
    case 'dest-unreachable':
      return ICMPV6_DEST_UNREACHABLE;
    case 'packet-too-big':
      return ICMPV6_PACKET_TOO_BIG;
    case 'time-exceeded':
      return ICMPV6_TIME_EXCEEDED;
    case 'parameter-problem':
      return ICMPV6_PARAMETER_PROBLEM;
    case 'echo-request':
      return ICMPV6_ECHO_REQUEST;
    case 'echo-reply':
      return ICMPV6_ECHO_REPLY;
    default:
      return repr.type;
  }
}

/**
 * The bytes of the invoking packet an error message quotes: all of it up to
 * `ICMPV6_MAX_QUOTE` octets (RFC 4443 §2.4 (c)). Use it to build error
 * reprs; `emitIcmpv6` also truncates.
 */
export function icmpv6Quote(invoking: Uint8Array): Uint8Array {
  return invoking.length > ICMPV6_MAX_QUOTE ? invoking.subarray(0, ICMPV6_MAX_QUOTE) : invoking;
}

function bodyOf(repr: Icmpv6Repr): Uint8Array {
  switch (repr.kind) {
    case 'dest-unreachable':
    case 'packet-too-big':
    case 'time-exceeded':
    case 'parameter-problem':
      return icmpv6Quote(repr.invoking);
    case 'echo-request':
    case 'echo-reply':
      return repr.data;
    default:
      return repr.body;
  }
}

/** The length of the message `emitIcmpv6` writes. */
export function icmpv6Len(repr: Icmpv6Repr): number {
  const fixed = repr.kind === 'ndp' || repr.kind === 'unknown-error' ? 4 : ICMPV6_HEADER_LEN;
  return fixed + bodyOf(repr).length;
}

/**
 * Writes the message at `buf[offset..)` with its checksum over the
 * pseudo-header of `src` → `dst` (filled when `caps.fillTx`; RFC 4443 §2.3
 * "For computing the checksum, the checksum field is first set to zero").
 * Error messages quote at most `ICMPV6_MAX_QUOTE` octets of the invoking
 * packet. Returns the number of bytes written.
 */
export function emitIcmpv6(repr: Icmpv6Repr, src: Ipv6Addr, dst: Ipv6Addr, buf: Uint8Array, offset: number, caps: ChecksumCaps): number {
  const len = icmpv6Len(repr);
  if (offset < 0 || offset + len > buf.length) throw new Error(`ICMPv6 message needs ${len} bytes at ${offset}, buffer has ${buf.length}`);
  const type = typeOf(repr);
  if (!Number.isInteger(repr.code) || repr.code < 0 || repr.code > 0xff) throw new Error(`ICMPv6 code must be in 0..255, got ${repr.code}`);
  buf[offset] = type;
  buf[offset + 1] = repr.code;
  setU16(buf, offset + 2, 0);
  const body = bodyOf(repr);
  switch (repr.kind) {
    case 'dest-unreachable':
    case 'time-exceeded':
      // "Unused: This field is unused for all code values. It must be
      // initialized to zero by the originator and ignored by the receiver."
      setU32(buf, offset + 4, 0);
      break;
    case 'packet-too-big':
      setU32(buf, offset + 4, repr.mtu >>> 0);
      break;
    case 'parameter-problem':
      setU32(buf, offset + 4, repr.pointer >>> 0);
      break;
    case 'echo-request':
    case 'echo-reply':
      setU16(buf, offset + 4, repr.ident & 0xffff);
      setU16(buf, offset + 6, repr.seq & 0xffff);
      break;
  }
  buf.set(body, offset + len - body.length);
  if (caps.fillTx) setU16(buf, offset + 2, checksum(buf, offset, offset + len, ipv6PseudoHeaderSum(src, dst, IPPROTO_ICMPV6, len)));
  return len;
}

// ---------------------------------------------------------------------------
// The invoking packet quoted in an error message

/** What an error message says about the packet that caused it. */
export interface Icmpv6Quoted {
  /** The quoted IPv6 header (its payloadLen is the original's, usually more than was quoted). */
  header: Ipv6Repr;
  /** The upper-layer protocol of the invoking packet. */
  protocol: number;
  /** The quoted upper-layer bytes (for TCP: at least the 20-octet header's first bytes; the ports and sequence number). */
  upper: Uint8Array;
}

/**
 * Parses the invoking packet of an error message. RFC 4443 §2.4 (d): "the
 * upper-layer protocol type is extracted from the original packet (contained
 * in the body of the ICMPv6 error message) and used to select the appropriate
 * upper-layer process to handle the error. In cases where it is not possible
 * to retrieve the upper-layer protocol type from the ICMPv6 message, the
 * ICMPv6 message is silently discarded after any IPv6-layer processing." →
 * 'icmpv6-bad-quote' (also for a quote that is not IPv6 or is cut inside the
 * upper layer's first 8 octets — TCP needs the ports and the sequence number).
 */
export function parseIcmpv6Quote(invoking: Uint8Array): ParseResult<Icmpv6Quoted> {
  if (invoking.length < IPV6_HEADER_LEN || invoking[0]! >>> 4 !== 6) return { ok: false, reason: 'icmpv6-bad-quote' };
  const w0 = getU32(invoking, 0);
  const header: Ipv6Repr = {
    src: readIpv6Addr(invoking, 8),
    dst: readIpv6Addr(invoking, 24),
    trafficClass: (w0 >>> 20) & 0xff,
    flowLabel: w0 & 0xfffff,
    payloadLen: getU16(invoking, 4),
    nextHeader: invoking[6]!,
    hopLimit: invoking[7]!,
  };
  // The quote never runs past the original payload.
  const bytes = invoking.subarray(0, Math.min(invoking.length, IPV6_HEADER_LEN + header.payloadLen));
  const up = findUpperLayer(bytes, header.nextHeader, IPV6_HEADER_LEN, undefined, 8);
  if (up.kind !== 'upper') return { ok: false, reason: 'icmpv6-bad-quote' };
  return { ok: true, value: { header, protocol: up.protocol, upper: bytes.subarray(up.offset) } };
}

// ---------------------------------------------------------------------------
// When an error may be sent (RFC 4443 §2.4 (e))

/** The error about to be sent: type, code and the multicast exemption the walk decided. */
export interface Icmpv6ErrorIntent {
  type: number;
  code: number;
  /** Set for a Parameter Problem code 2 about an option whose type starts with bits 10 (see `Ipv6ParamProblem`). */
  multicastExempt?: boolean;
}

/** What the stack knows of the packet that caused the error. */
export interface Icmpv6InvokingFacts {
  /** The invoking packet: an IPv6 packet from its first octet (as much as was received). */
  packet: Uint8Array;
  /** The link delivered it as a link-layer multicast (e.3). */
  linkMulticast?: boolean;
  /** The link delivered it as a link-layer broadcast (e.4). */
  linkBroadcast?: boolean;
  /** The source is an anycast address known to this node (e.5). */
  sourceIsKnownAnycast?: boolean;
}

/**
 * Whether an ICMPv6 error may be sent about `facts.packet`, per RFC 4443
 * §2.4 (e):
 *
 *   "An ICMPv6 error message MUST NOT be originated as a result of receiving
 *   the following:
 *   (e.1) An ICMPv6 error message.
 *   (e.2) An ICMPv6 redirect message [IPv6-DISC].
 *   (e.3) A packet destined to an IPv6 multicast address. (There are two
 *         exceptions to this rule: (1) the Packet Too Big Message (Section
 *         3.2) to allow Path MTU discovery to work for IPv6 multicast, and
 *         (2) the Parameter Problem Message, Code 2 (Section 3.4) reporting
 *         an unrecognized IPv6 option (see Section 4.2 of [IPv6]) that has
 *         the Option Type highest-order two bits set to 10).
 *   (e.4) A packet sent as a link-layer multicast (the exceptions from e.3
 *         apply to this case, too).
 *   (e.5) A packet sent as a link-layer broadcast (the exceptions from e.3
 *         apply to this case, too).
 *   (e.6) A packet whose source address does not uniquely identify a single
 *         node -- e.g., the IPv6 Unspecified Address, an IPv6 multicast
 *         address, or an address known by the ICMP message originator to be
 *         an IPv6 anycast address."
 *
 * A quoted packet too short to tell whether it was an ICMPv6 error is treated
 * as one (no error is sent): the rule exists to stop error storms, and a
 * packet whose chain cannot be followed is not worth answering.
 * Rate limiting (f) is separate: `Icmpv6RateLimiter`.
 */
export function mayGenerateError(intent: Icmpv6ErrorIntent, facts: Icmpv6InvokingFacts): { ok: true } | { ok: false; reason: 'icmpv6-error-for-error' | 'icmpv6-error-for-multicast' | 'icmpv6-error-for-bad-source' } {
  const p = facts.packet;
  if (p.length < IPV6_HEADER_LEN) return { ok: false, reason: 'icmpv6-error-for-error' };
  const src = readIpv6Addr(p, 8);
  // (e.6)
  if (isIpv6Unspecified(src) || isIpv6Multicast(src) || facts.sourceIsKnownAnycast === true) return { ok: false, reason: 'icmpv6-error-for-bad-source' };
  // (e.1), (e.2)
  const up = findUpperLayer(p.subarray(0, Math.min(p.length, IPV6_HEADER_LEN + getU16(p, 4))), p[6]!, IPV6_HEADER_LEN, undefined, 1);
  if (up.kind === 'truncated') return { ok: false, reason: 'icmpv6-error-for-error' };
  if (up.kind === 'upper' && up.protocol === IPPROTO_ICMPV6) {
    const t = p[up.offset]!;
    if (isIcmpv6ErrorType(t) || t === 137) return { ok: false, reason: 'icmpv6-error-for-error' };
  }
  // (e.3)–(e.5) and their exceptions.
  const exempt = intent.type === ICMPV6_PACKET_TOO_BIG || (intent.type === ICMPV6_PARAMETER_PROBLEM && intent.code === 2 && intent.multicastExempt === true);
  if (!exempt && (p[24] === 0xff || facts.linkMulticast === true || facts.linkBroadcast === true)) return { ok: false, reason: 'icmpv6-error-for-multicast' };
  return { ok: true };
}

// ---------------------------------------------------------------------------
// Rate limiting (RFC 4443 §2.4 (f))

export interface Icmpv6RateLimit {
  /** Tokens added per second (N). */
  perSecond: number;
  /** Bucket size (B): the largest burst. */
  burst: number;
}

/**
 * RFC 4443 §2.4 (f): "Finally, in order to limit the bandwidth and
 * forwarding costs incurred by originating ICMPv6 error messages, an IPv6
 * node MUST limit the rate of ICMPv6 error messages it originates." …
 * "A recommended method for implementing the rate-limiting function is a
 * token bucket, limiting the average rate of transmission to N, where N can
 * be either packets/second or a fraction of the attached link's bandwidth,
 * but allowing up to B error messages to be transmitted in a burst, as long
 * as the long-term average is not exceeded." … "in a small/mid-size device,
 * the possible defaults could be B=10, N=10/s."
 */
export const ICMPV6_RATE_LIMIT_DEFAULT: Icmpv6RateLimit = Object.freeze({ perSecond: 10, burst: 10 });

/**
 * A token bucket under the virtual clock, in integer microseconds: the
 * bucket holds `credit` µs, each message costs 1 s / N, and the credit grows
 * with elapsed time up to B messages' worth. Starts full. Pure: the caller
 * passes `now`; a clock that goes backwards adds nothing.
 */
export class Icmpv6RateLimiter {
  private readonly cost: Duration;
  private readonly cap: Duration;
  private credit: Duration;
  private last: Instant;

  constructor(now: Instant, limit: Icmpv6RateLimit = ICMPV6_RATE_LIMIT_DEFAULT) {
    if (!(limit.perSecond > 0) || !Number.isInteger(limit.burst) || limit.burst < 1) throw new Error(`ICMPv6 rate limit needs perSecond > 0 and an integer burst ≥ 1, got ${limit.perSecond}/${limit.burst}`);
    this.cost = Math.max(1, Math.round(US_PER_S / limit.perSecond));
    this.cap = this.cost * limit.burst;
    this.credit = this.cap;
    this.last = now;
  }

  /** Takes one token if there is one: true means the error may be sent now. */
  tryTake(now: Instant): boolean {
    if (now > this.last) {
      this.credit = Math.min(this.cap, this.credit + (now - this.last));
      this.last = now;
    }
    if (this.credit < this.cost) return false;
    this.credit -= this.cost;
    return true;
  }

  /** When the next token will be available (now if one is). */
  nextTokenAt(now: Instant): Instant {
    const at = Math.max(now, this.last);
    const credit = Math.min(this.cap, this.credit + (at - this.last));
    return credit >= this.cost ? now : at + (this.cost - credit);
  }
}
