/**
 * ICMP in a stack, for both families: echo replies (RFC 792, RFC 4443 §4),
 * received errors directed to the TCP connection they are about, with the
 * validation of RFC 5927 (one design for ICMPv4 and ICMPv6: both become an
 * `IcmpErrorRepr`), Packet Too Big to the path MTU cache (pmtu.ts), and the
 * ICMPv6 errors this host originates (Parameter Problem from the
 * extension-header walk, Time Exceeded on reassembly timeout), checked
 * against RFC 4443 §2.4 (e) and rate-limited per §2.4 (f).
 */
import type { Instant } from '../base/time.ts';
import type { IcmpErrorKind, IcmpErrorRepr, Ipv4Addr } from '../wire/types.ts';
import { IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP, CHECKSUM_FULL } from '../wire/types.ts';
import { emitIpv4 } from '../wire/ipv4.ts';
import { parseIcmp, parseIcmpError, isIcmpErrorType, emitIcmpEcho, icmpEchoLen, ICMP_TYPE_DEST_UNREACHABLE, ICMP_TYPE_TIME_EXCEEDED } from '../wire/icmp.ts';
import { checksum } from '../wire/checksum.ts';
import { getU16, getU32, setU16 } from '../wire/bytes.ts';
import { emitIpv6, IPPROTO_ICMPV6, IPV6_HEADER_LEN, readIpv6Addr, type Ipv6Addr } from '../wire/ipv6.ts';
import {
  emitIcmpv6,
  icmpv6Len,
  icmpv6Quote,
  mayGenerateError,
  parseIcmpv6,
  parseIcmpv6Quote,
  Icmpv6RateLimiter,
  type Icmpv6ErrorIntent,
  type Icmpv6Repr,
} from '../wire/icmpv6.ts';
import { seqGe, seqLt } from '../tcp/seq.ts';
import type { CloseReason } from '../tcp/events.ts';
import type { NetInterface, Stack } from './stack.ts';

// ---------------------------------------------------------------------------
// ICMPv4

/** One ICMP message (the IPv4 payload) addressed to us. */
export function receiveIcmpV4(s: Stack, iface: NetInterface, src: Ipv4Addr, dst: Ipv4Addr, payload: Uint8Array): void {
  if (payload.length > 0 && isIcmpErrorType(payload[0]!)) {
    s.counters.icmpIn++;
    s.counters.icmpErrorsIn++;
    const e = parseIcmpError(payload, iface.caps);
    if (!e.ok) s.drop(null, e.reason);
    else receiveIcmpError(s, e.value, s.clock.now());
    s.flushDeferred();
    return;
  }
  const r = parseIcmp(payload, iface.caps);
  if (!r.ok) {
    s.drop(null, r.reason);
    return;
  }
  s.counters.icmpIn++;
  if (r.value.type === 'echo-reply') {
    // RFC 792: "The echoer returns these same values in the echo reply" —
    // the identifier names the session that sent the request (echo.ts).
    s.echoPorts().deliver(r.value.ident, { from: src, to: dst, seq: r.value.seqNo, data: r.value.data });
    return;
  }
  // RFC 792: "To form an echo reply message, the source and destination
  // addresses are simply reversed, the type code changed to 0".
  const reply = { type: 'echo-reply' as const, ident: r.value.ident, seqNo: r.value.seqNo, data: r.value.data };
  const len = icmpEchoLen(reply);
  const buf = new Uint8Array(20 + len);
  emitIpv4({ src: dst, dst: src, protocol: IPPROTO_ICMP, ttl: s.ttl, tos: 0, ident: s.nextIdent(), dontFragment: false, payloadLen: len }, buf, 0, iface.caps);
  emitIcmpEcho(reply, buf, 20);
  s.counters.icmpEchoReplies++;
  s.sendDatagram(iface, buf);
}

/**
 * RFC 1122 §3.3.2: "If the reassembly timeout expires, the partially
 * reassembled datagram MUST be discarded and an ICMP Time Exceeded message
 * sent to the source host (if fragment zero has been received)." RFC 792:
 * the message carries "the internet header plus the first 64 bits of the
 * original datagram's data".
 */
export function sendIcmpV4TimeExceeded(s: Stack, invoking: Uint8Array, now: Instant): void {
  // RFC 1812 §4.3.2.8: "the router MUST have the ability to limit the rate
  // at which it generates ICMP messages" — the IPv4 token bucket of the port
  // unreachables below (ICMPv6's Time Exceeded takes its own, RFC 4443 §2.4
  // (f)): datagrams from many sources timing out at one instant must not
  // turn a flood of first fragments into as many ICMP messages.
  if (!s.icmpv4Limiter(now).tryTake(now)) {
    s.drop(null, 'icmp-rate-limited');
    return;
  }
  const src = getU32(invoking, 16);
  const dst = getU32(invoking, 12);
  const iface = s.route(dst);
  if (!iface) return;
  const ihl = (invoking[0]! & 0x0f) * 4;
  const quote = invoking.subarray(0, Math.min(invoking.length, ihl + 8));
  const len = 8 + quote.length;
  const buf = new Uint8Array(20 + len);
  emitIpv4({ src, dst, protocol: IPPROTO_ICMP, ttl: s.ttl, tos: 0, ident: s.nextIdent(), dontFragment: false, payloadLen: len }, buf, 0, CHECKSUM_FULL);
  buf[20] = ICMP_TYPE_TIME_EXCEEDED;
  buf[21] = 1;
  buf.set(quote, 28);
  setU16(buf, 22, checksum(buf, 20, buf.length));
  s.counters.icmpErrorsOut++;
  s.sendPacket(iface, buf);
}

/**
 * A Destination Unreachable (RFC 792, type 3) about `invoking` (an IPv4
 * packet from its first octet) to its source — code 3, port unreachable,
 * for UDP (stack/udp.ts). RFC 1122 §3.2.2: "Every ICMP error message
 * includes the Internet header and at least the first 8 data octets of the
 * datagram that triggered the error; more than 8 octets MAY be sent"; RFC
 * 1812 §4.3.2.3 bounds the whole message at 576 octets, as Linux does. The
 * caller has already excluded what §3.2.2 forbids answering (an ICMP error,
 * a broadcast or multicast destination, a non-initial fragment, a source
 * that is not a single host). RFC 1812 §4.3.2.8: "the router MUST have the
 * ability to limit the rate at which it generates ICMP messages" — the same
 * token bucket as ICMPv6's (RFC 4443 §2.4 (f)), one for IPv4.
 */
export function sendIcmpV4Unreachable(s: Stack, iface: NetInterface, code: number, invoking: Uint8Array, now: Instant): void {
  if (!s.icmpv4Limiter(now).tryTake(now)) {
    s.drop(null, 'icmp-rate-limited');
    return;
  }
  const src = getU32(invoking, 16);
  const dst = getU32(invoking, 12);
  const quote = invoking.subarray(0, Math.min(invoking.length, 576 - 28));
  const len = 8 + quote.length;
  const buf = new Uint8Array(20 + len);
  emitIpv4({ src, dst, protocol: IPPROTO_ICMP, ttl: s.ttl, tos: 0, ident: s.nextIdent(), dontFragment: false, payloadLen: len }, buf, 0, CHECKSUM_FULL);
  buf[20] = ICMP_TYPE_DEST_UNREACHABLE;
  buf[21] = code;
  buf.set(quote, 28);
  setU16(buf, 22, checksum(buf, 20, buf.length));
  s.counters.icmpErrorsOut++;
  s.sendPacket(iface, buf);
}

// ---------------------------------------------------------------------------
// ICMPv6

/**
 * RFC 4443 §3 error types as the kinds TCP acts on, with Linux's
 * icmpv6_err_convert for the hard/soft split: codes 1, 5, 6 (administratively
 * prohibited, source address failed policy, reject route) and 4 (port
 * unreachable) are the hard ones.
 */
function icmpv6Kind(m: Icmpv6Repr): IcmpErrorKind | null {
  switch (m.kind) {
    case 'dest-unreachable':
      switch (m.code) {
        case 0:
          return 'net-unreachable';
        case 4:
          return 'port-unreachable';
        case 1:
        case 5:
        case 6:
          return 'admin-prohibited';
        default:
          return 'host-unreachable';
      }
    case 'packet-too-big':
      return 'packet-too-big';
    case 'time-exceeded':
      return m.code === 1 ? 'reassembly-timeout' : 'ttl-exceeded';
    case 'parameter-problem':
      return 'parameter-problem';
    default:
      return null;
  }
}

/** One ICMPv6 message (the upper-layer part of an IPv6 packet) addressed to us. */
export function receiveIcmpV6(s: Stack, iface: NetInterface, src: Ipv6Addr, dst: Ipv6Addr, payload: Uint8Array, now: Instant): void {
  const r = parseIcmpv6(payload, src, dst, iface.caps);
  if (!r.ok) {
    s.drop(null, r.reason);
    return;
  }
  const m = r.value;
  s.counters.icmpIn++;
  if (m.kind === 'echo-request') {
    // RFC 4443 §4.2: "Every node MUST implement an ICMPv6 Echo responder
    // function that receives Echo Requests and originates corresponding
    // Echo Replies." "The source address of an Echo Reply sent in response
    // to a unicast Echo Request message MUST be the same as the destination
    // address of that Echo Request message." "The data received in the
    // ICMPv6 Echo Request message MUST be returned entirely and unmodified
    // in the ICMPv6 Echo Reply message."
    const reply: Icmpv6Repr = { kind: 'echo-reply', code: 0, ident: m.ident, seq: m.seq, data: m.data };
    sendIcmpv6(s, iface, dst, src, reply);
    s.counters.icmpEchoReplies++;
    return;
  }
  if (m.kind === 'echo-reply') {
    // RFC 4443 §4.2: "Echo Reply messages MUST be passed to the process
    // that originated an Echo Request message." (echo.ts)
    s.echoPorts().deliver(m.ident, { from: src, to: dst, seq: m.seq, data: m.data });
    return;
  }
  if (m.kind === 'ndp') return;
  s.counters.icmpErrorsIn++;
  if (m.kind === 'unknown-error') {
    // RFC 4443 §2.4 (a): passed "to the upper-layer process that originated
    // the packet that caused the error" — TCP has nothing to do with it.
    s.drop(null, 'icmp-unsupported');
    return;
  }
  const kind = icmpv6Kind(m)!;
  const q = parseIcmpv6Quote((m as { invoking: Uint8Array }).invoking);
  if (!q.ok) {
    s.drop(null, q.reason);
    return;
  }
  const e: IcmpErrorRepr = {
    type: m.kind === 'packet-too-big' ? 2 : m.kind === 'dest-unreachable' ? 1 : m.kind === 'time-exceeded' ? 3 : 4,
    code: m.code,
    kind,
    mtu: m.kind === 'packet-too-big' ? m.mtu : 0,
    quoted: { src: q.value.header.src, dst: q.value.header.dst, protocol: q.value.protocol, totalLength: IPV6_HEADER_LEN + q.value.header.payloadLen },
    transport: q.value.upper,
  };
  receiveIcmpError(s, e, now);
  s.flushDeferred();
}

/** Sends an ICMPv6 message from `src` to `dst` on `iface` (fragmented if it is a large echo reply). */
function sendIcmpv6(s: Stack, iface: NetInterface, src: Ipv6Addr, dst: Ipv6Addr, m: Icmpv6Repr): void {
  const len = icmpv6Len(m);
  const buf = new Uint8Array(IPV6_HEADER_LEN + len);
  emitIpv6({ src, dst, trafficClass: 0, flowLabel: 0, payloadLen: len, nextHeader: IPPROTO_ICMPV6, hopLimit: s.ttl }, buf, 0);
  emitIcmpv6(m, src, dst, buf, IPV6_HEADER_LEN, CHECKSUM_FULL);
  s.sendDatagram(iface, buf);
}

/**
 * Originates an ICMPv6 error about `invoking` (an IPv6 packet from its first
 * octet) to its source, when RFC 4443 §2.4 (e) allows it and the token
 * bucket of §2.4 (f) has a token: "an IPv6 node MUST limit the rate of
 * ICMPv6 error messages it originates". A suppressed error is counted as a
 * drop by reason ('icmpv6-error-for-…', 'icmpv6-rate-limited').
 */
export function sendIcmpv6Error(s: Stack, iface: NetInterface, intent: Icmpv6ErrorIntent & { pointer?: number }, invoking: Uint8Array, now: Instant, fromAddr?: Ipv6Addr): void {
  const ok = mayGenerateError(intent, { packet: invoking });
  if (!ok.ok) {
    s.drop(null, ok.reason);
    return;
  }
  if (!s.icmpv6Limiter(now).tryTake(now)) {
    s.drop(null, 'icmpv6-rate-limited');
    return;
  }
  const to = readIpv6Addr(invoking, 8);
  // Our address the packet was sent to; for a multicast destination, the
  // interface's own IPv6 address (RFC 4443 §2.2).
  // (A forwarding interface may answer for the destination: `fromAddr`.)
  let from = fromAddr ?? readIpv6Addr(invoking, 24);
  if (fromAddr === undefined && !s.isLocalAddr(from)) {
    const own = iface.addrs.find((a) => typeof a.addr === 'string');
    if (!own) return;
    from = own.addr as Ipv6Addr;
  }
  const quote = icmpv6Quote(invoking);
  let m: Icmpv6Repr;
  if (intent.type === 4) m = { kind: 'parameter-problem', code: intent.code, pointer: intent.pointer ?? 0, invoking: quote };
  else if (intent.type === 3) m = { kind: 'time-exceeded', code: intent.code, invoking: quote };
  else m = { kind: 'dest-unreachable', code: intent.code, invoking: quote };
  s.counters.icmpErrorsOut++;
  sendIcmpv6(s, iface, from, to, m);
}

// ---------------------------------------------------------------------------
// Received errors, either family

/**
 * An ICMP error about one of our TCP segments. RFC 1122 §4.2.3.9: "TCP
 * MUST act on an ICMP error message passed up from the IP layer, directing
 * it to the connection that created the error. The necessary
 * demultiplexing information can be found in the IP header contained
 * within the ICMP message." RFC 4443 §2.4 (d) for ICMPv6: "the upper-layer
 * protocol type is extracted from the original packet (contained in the
 * body of the ICMPv6 error message) and used to select the appropriate
 * upper-layer process to handle the error." The same checks for both.
 */
export function receiveIcmpError(s: Stack, e: IcmpErrorRepr, now: Instant): void {
  // RFC 6633 (updating RFC 1122 §4.2.3.9): "A TCP implementation MUST
  // silently discard any received ICMP Source Quench messages."
  if (e.kind === 'source-quench') {
    s.drop(null, 'icmp-source-quench');
    return;
  }
  const q = e.quoted;
  const t = e.transport;
  if (q.protocol === IPPROTO_UDP) {
    receiveUdpIcmpError(s, e);
    return;
  }
  if (q.protocol !== IPPROTO_TCP || !s.isLocalAddr(q.src)) {
    s.drop(null, 'icmp-no-connection');
    return;
  }
  const conn = s.lookup(q.src, getU16(t, 0), q.dst, getU16(t, 2));
  if (!conn || conn.state === 'CLOSED' || conn.state === 'TIME-WAIT') {
    s.drop(null, 'icmp-no-connection');
    return;
  }
  // RFC 5927 §4.1: "TCP SHOULD check that the TCP sequence number contained
  // in the payload of the ICMP error message is within the range SND.UNA =<
  // SEG.SEQ < SND.NXT. ... If an ICMP error message does not pass this
  // check, it SHOULD be discarded." Our SND.NXT rolls back on go-back-N;
  // SND.MAX is the highest sequence number sent, RFC 5927's SND.NXT.
  const seq = getU32(t, 4) | 0;
  if (!(seqGe(seq, conn.sndUna) && seqLt(seq, conn.sndMax))) {
    s.drop(conn, 'icmp-out-of-window');
    return;
  }
  if (e.kind === 'packet-too-big') {
    s.pmtu.tooBig(conn, e, now);
    return;
  }
  s.counters.icmpErrorsAccepted++;
  const rule = conn.config.icmpSynSentErrors;
  if (conn.state === 'SYN-SENT' && rule !== 'off') {
    // RFC 1122 §4.2.3.9: "Destination Unreachable -- codes 2-4: These are
    // hard error conditions, so TCP SHOULD abort the connection." (Code 4
    // is path MTU discovery's, above.) FreeBSD's icmp_may_rst also aborts
    // on administratively prohibited and TTL exceeded.
    let hard: CloseReason | null = null;
    if (e.kind === 'port-unreachable' || e.kind === 'protocol-unreachable') hard = 'refused';
    else if (rule === 'freebsd' && e.kind === 'admin-prohibited') hard = 'refused';
    else if (rule === 'freebsd' && e.kind === 'ttl-exceeded') hard = 'host-unreachable';
    if (hard) {
      s.counters.icmpHardErrors++;
      s.with(conn, () => conn.terminate(hard, `ICMP ${e.kind}`));
      return;
    }
  }
  // RFC 1122 §4.2.3.9: "Destination Unreachable -- codes 0, 1, 5: Since
  // these Unreachable messages indicate soft error conditions, TCP MUST NOT
  // abort the connection, and it SHOULD make the information available to
  // the application." Its DISCUSSION allows to "merely note the message
  // and report it to the application only when and if the TCP connection
  // times out". Time Exceeded and Parameter Problem: "This should be
  // handled the same way". In synchronized states hard errors are soft
  // too (RFC 5461 §4, as BSD and Linux do).
  const reason: CloseReason = e.kind === 'net-unreachable' ? 'net-unreachable' : e.kind === 'port-unreachable' || e.kind === 'protocol-unreachable' ? 'refused' : 'host-unreachable';
  s.counters.icmpSoftErrors++;
  s.softErrors.set(conn, { reason, sndUna: conn.sndUna });
}

/**
 * An ICMP error about a datagram one of our sockets sent. RFC 1122
 * §4.1.3.3: "UDP MUST pass to the application layer all ICMP error
 * messages that it receives from the IP layer." As Linux (__udp4_lib_err
 * without IP_RECVERR), only a hard error — port or protocol unreachable,
 * administratively prohibited — on a connected socket is reported, as
 * ECONNREFUSED (EHOSTUNREACH) on its next operation; others are counted.
 */
function receiveUdpIcmpError(s: Stack, e: IcmpErrorRepr): void {
  const t = e.transport;
  if (t.length < 4 || !s.isLocalAddr(e.quoted.src)) {
    s.drop(null, 'icmp-no-connection');
    return;
  }
  const sock = s.udp.findConnected(e.quoted.src, getU16(t, 0), e.quoted.dst, getU16(t, 2));
  if (!sock) {
    s.drop(null, 'icmp-no-connection');
    return;
  }
  const err = e.kind === 'port-unreachable' || e.kind === 'protocol-unreachable' ? 'ECONNREFUSED' : e.kind === 'admin-prohibited' ? 'EHOSTUNREACH' : null;
  if (!err) {
    s.drop(null, 'icmp-udp-soft-error');
    return;
  }
  s.counters.icmpErrorsAccepted++;
  sock.error = err;
  sock.onReadable?.();
}

/** The rate limiter, made on first use (RFC 4443 §2.4 (f) defaults B = 10, N = 10/s). */
export function makeIcmpv6Limiter(now: Instant): Icmpv6RateLimiter {
  return new Icmpv6RateLimiter(now);
}
