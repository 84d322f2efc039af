/**
 * The TCP input of a stack: demux of a parsed segment to its connection, a
 * listener (SYN, SYN cookies per RFC 4987 §3.6) or the CLOSED-state reply of
 * RFC 9293 §3.10.7.1. For both address families: `src`/`dst` are u32 IPv4 or
 * `Ipv6Addr` strings, and everything keyed on them (demux, ISN, cookies)
 * takes the whole address.
 */
import type { Instant } from '../base/time.ts';
import type { TcpOption, TcpRepr } from '../wire/types.ts';
import { ACK, RST, SYN, FIN } from '../wire/types.ts';
import type { IpAddr } from '../wire/ipv6.ts';
import { parseTcp } from '../wire/tcp.ts';
import { findTimestamp } from '../wire/tcp-options.ts';
import { Connection, offeredShiftFor } from '../tcp/connection.ts';
import { defaultSendMss } from '../tcp/negotiation.ts';
import { seqAdd } from '../tcp/seq.ts';
import { timeWaitAcceptsSyn } from '../tcp/segment-arrives.ts';
import { synOptions } from '../tcp/options.ts';
import { encodeTsOptions, decodeTsOptions } from './syncookies.ts';
import { ipTcpOverhead } from './pmtu.ts';
import type { Listener, NetInterface, Stack } from './stack.ts';
import { forwardTcp } from './forward.ts';
import { checksumComputed } from './rx-verified.ts';

/** Caps for a segment whose checksum the link has just computed (stack/rx-verified.ts): no second pass. */
const COMPUTED = Object.freeze({ verifyRx: false, fillTx: true });

/** How long after its last cookie a listener still accepts cookie ACKs (two cookie periods). */
export const COOKIE_VALID_US = 128_000_000;

export function receiveTcp(s: Stack, iface: NetInterface, src: IpAddr, dst: IpAddr, payload: Uint8Array, bytes: Uint8Array, now: Instant, tos = 0): void {
  const r = parseTcp(payload, src, dst, iface.caps.verifyRx && checksumComputed(payload) ? COMPUTED : iface.caps);
  if (!r.ok) {
    s.drop(null, r.reason);
    return;
  }
  const seg = r.value;
  s.counters.segmentsIn++;
  let conn = s.lookup(dst, seg.dstPort, src, seg.srcPort);
  const fw = s.forwarding?.get(iface);
  // A copy for the hooks, which may keep it: Connection.onSegment turns this
  // repr's sequence numbers into int32 in place.
  if (s.hooks.length) s.trace({ type: 'segment', dir: 'in', time: now, src, dst, tcp: { ...seg }, conn, bytes });
  // RFC 9293 §3.6.1 / RFC 1122 4.2.2.13 / RFC 6191: a new SYN for a
  // connection in TIME-WAIT may reopen it when its timestamp or sequence
  // number is beyond the old incarnation's (timeWaitAcceptsSyn).
  if (conn && conn.state === 'TIME-WAIT' && conn.config.timeWaitReuse && (seg.flags & (SYN | ACK | RST)) === SYN && timeWaitAcceptsSyn(conn, seg) && (fw?.config.tcp || s.findListener(dst, seg.dstPort))) {
    conn.terminate(null, 'new SYN in TIME-WAIT');
    conn = null;
  }
  if (conn) {
    if ((tos & 3) === 3) s.counters.ecnCeReceived++;
    conn.onSegment(seg, now, tos & 3);
    s.reschedule(conn);
    return;
  }
  // A forwarding interface (forward.ts) takes segments to any address:
  // our listeners serve our own addresses only, and what finds neither a
  // connection nor a listener goes to the forwarder.
  const l = fw && !s.isLocalAddr(dst) ? null : s.findListener(dst, seg.dstPort);
  if (!l && fw && forwardTcp(s, fw, src, dst, seg, bytes, now)) return;
  if (l && !(seg.flags & (RST | ACK)) && seg.flags & SYN) {
    acceptSyn(s, iface, l, src, dst, seg, now);
    return;
  }
  if (l && seg.flags & RST) {
    // §3.10.7.2: "An incoming RST should be ignored."
    s.drop(null, 'tcp-rst-ignored');
    return;
  }
  if (l && (seg.flags & (SYN | RST | ACK)) === ACK && cookiesRecentlySent(s, l, now) && acceptCookie(s, iface, l, src, dst, seg, now)) {
    return;
  }
  if (l && seg.flags & ACK) {
    // §3.10.7.2: "Any acknowledgment is bad if it arrives on a connection
    // still in the LISTEN state ... <SEQ=SEG.ACK><CTL=RST>" — unless the
    // listener's policy is to drop such segments silently (FreeBSD does,
    // for SYN,ACK: no reflection).
    if (l.config.listenAckReset || !(seg.flags & SYN)) s.sendRst(dst, src, seg.dstPort, seg.srcPort, seg.ack, 0, RST);
    s.drop(null, 'tcp-no-connection');
    return;
  }
  if (l) {
    // "Fourth, other data or control: ... Drop the segment and return."
    s.drop(null, 'tcp-no-connection');
    return;
  }
  replyClosed(s, src, dst, seg);
}

/**
 * §3.10.7.1 CLOSED STATE: "An incoming segment containing a RST is
 * discarded. An incoming segment not containing a RST causes a RST to be
 * sent in response. ... If the ACK bit is off, sequence number zero is
 * used, <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>. If the ACK bit is on,
 * <SEQ=SEG.ACK><CTL=RST>"
 */
export function replyClosed(s: Stack, src: IpAddr, dst: IpAddr, seg: TcpRepr): void {
  s.drop(null, 'tcp-no-connection');
  if (seg.flags & RST) return;
  if (seg.flags & ACK) {
    s.sendRst(dst, src, seg.dstPort, seg.srcPort, seg.ack, 0, RST);
  } else {
    const segLen = seg.payload.length + (seg.flags & SYN ? 1 : 0) + (seg.flags & FIN ? 1 : 0);
    s.sendRst(dst, src, seg.dstPort, seg.srcPort, 0, seqAdd(seg.seq, segLen), RST | ACK);
  }
}

export function acceptSyn(s: Stack, iface: NetInterface, l: Listener, src: IpAddr, dst: IpAddr, seg: TcpRepr, now: Instant): void {
  const full = l.halfOpen + l.acceptQueue.length >= l.backlog;
  if (s.synCookieMode === 'always' || (full && s.synCookieMode === 'auto' && l.acceptQueue.length < l.backlog)) {
    sendCookie(s, iface, l, src, dst, seg, now);
    return;
  }
  if (full) {
    s.drop(null, 'tcp-listen-backlog-full');
    return;
  }
  if (s.connCount >= s.maxConnections) {
    s.drop(null, 'tcp-stack-connection-limit');
    return;
  }
  const conn = new Connection(s, l.config, s.connectionMtu(iface, src));
  s.meta.set(conn, { listener: l, accepted: false });
  conn.listen({ localAddr: dst, localPort: l.port }, now);
  // "If the listen was not fully specified (i.e., the remote socket was not
  // fully specified), then the unspecified fields should be filled in now."
  conn.remoteAddr = src;
  conn.remotePort = seg.srcPort;
  s.insert(conn);
  conn.onSegment(seg, now);
  if (conn.state === 'LISTEN') {
    // The SYN did not take (should not happen): discard the spawned TCB.
    s.remove(conn);
    return;
  }
  s.reschedule(conn);
}

/**
 * Cookies are checked only while a listener has recently sent them (as
 * Linux's tcp_synq_no_recent_overflow): otherwise a stray ACK could
 * rebuild a connection the application already aborted.
 */
export function cookiesRecentlySent(s: Stack, l: Listener, now: Instant): boolean {
  if (s.synCookieMode === 'never') return false;
  return l.lastCookieAt >= 0 && now - l.lastCookieAt <= COOKIE_VALID_US;
}

export function spendCookie(s: Stack, key: string): void {
  s.spentCookies.delete(key);
  s.spentCookies.set(key, s.clock.now() + COOKIE_VALID_US);
  if (s.spentCookies.size > 4096) {
    const oldest = s.spentCookies.keys().next().value;
    if (oldest !== undefined) s.spentCookies.delete(oldest);
  }
}

/** A stateless SYN,ACK whose ISS is a SYN cookie (RFC 4987 §3.6). */
export function sendCookie(s: Stack, iface: NetInterface, l: Listener, src: IpAddr, dst: IpAddr, seg: TcpRepr, now: Instant): void {
  const cfg = l.config;
  // RFC 9293 §3.7.1 MUST-15: no MSS option means 536 over IPv4, 1220 over IPv6.
  let peerMss = defaultSendMss(cfg, typeof src === 'string');
  let peerWs = -1;
  let peerSack = false;
  let peerTs: { tsval: number } | null = null;
  for (const o of seg.options) {
    if (o.kind === 'mss') peerMss = o.value;
    else if (o.kind === 'window-scale') peerWs = o.shift;
    else if (o.kind === 'sack-permitted') peerSack = true;
    else if (o.kind === 'timestamp') peerTs = o;
  }
  const advMss = Math.max(88, Math.min(65495, iface.mtu - ipTcpOverhead(src)));
  const iss = s.cookies.encode(dst, l.port, src, seg.srcPort, seg.seq, Math.min(peerMss, advMss), now);
  // Window scale and SACK are remembered only through timestamps.
  const useTs = peerTs !== null && cfg.timestamps;
  const shift = offeredShiftFor(cfg);
  const ws = useTs && peerWs >= 0 && cfg.windowScaling ? peerWs : -1;
  const sack = useTs && peerSack && cfg.sack;
  const tsOffset = Math.imul((iss | 0) ^ 0x5bd1e995, 0x9e3779b1) | 0;
  const tsNow = (Math.floor(now / 1000) + tsOffset) >>> 0;
  let tsval = encodeTsOptions(tsNow, { wscale: ws, sackPermitted: sack });
  // Never ahead of the clock the connection will use (as Linux's
  // cookie_init_timestamp): a TSval from the future would make the peer's
  // PAWS drop our first data segments.
  if (((tsval - tsNow) | 0) > 0) tsval = (tsval - 32) >>> 0;
  const options = synOptions(cfg.optionLayout, {
    mss: advMss,
    wscale: ws >= 0 ? shift : undefined,
    sackPermitted: sack,
    ts: useTs ? { tsval, tsecr: peerTs!.tsval } : undefined,
  });
  s.counters.synCookiesSent++;
  l.lastCookieAt = now;
  s.sendSegment(
    dst,
    src,
    { srcPort: l.port, dstPort: seg.srcPort, seq: iss, ack: (seg.seq + 1) >>> 0, flags: SYN | ACK, window: Math.min(65535, cfg.recvBufferBytes), urgentPointer: 0, options, payload: new Uint8Array(0) },
    null,
  );
}

/** An ACK to a listener that may complete a SYN-cookie handshake. Returns true if it did. */
export function acceptCookie(s: Stack, iface: NetInterface, l: Listener, src: IpAddr, dst: IpAddr, seg: TcpRepr, now: Instant): boolean {
  const iss = (seg.ack - 1) >>> 0;
  const irs = (seg.seq - 1) >>> 0;
  const spentKey = `${src}:${seg.srcPort}:${dst}:${l.port}:${iss}`;
  const spentUntil = s.spentCookies.get(spentKey);
  if (spentUntil !== undefined) {
    if (spentUntil > now) {
      // This cookie already made a connection that has since ended: a
      // late segment must not bring it back (Linux would; we don't).
      s.counters.synCookiesInvalid++;
      return false;
    }
    s.spentCookies.delete(spentKey);
  }
  const ok = s.cookies.decode(dst, l.port, src, seg.srcPort, irs, iss, now);
  if (!ok) {
    s.counters.synCookiesInvalid++;
    return false;
  }
  if (l.acceptQueue.length >= l.backlog || s.connCount >= s.maxConnections) {
    s.drop(null, 'tcp-listen-backlog-full');
    return true;
  }
  const options: TcpOption[] = [{ kind: 'mss', value: ok.mss }];
  const ts = findTimestamp(seg.options);
  let tsOffset: number | null = null;
  if (ts && l.config.timestamps) {
    const o = decodeTsOptions(ts.tsecr);
    if (o.wscale >= 0) options.push({ kind: 'window-scale', shift: o.wscale });
    if (o.sackPermitted) options.push({ kind: 'sack-permitted' });
    options.push({ kind: 'timestamp', tsval: ts.tsval, tsecr: 0 });
    tsOffset = Math.imul((iss | 0) ^ 0x5bd1e995, 0x9e3779b1) | 0;
  }
  const conn = new Connection(s, l.config, s.connectionMtu(iface, src));
  s.meta.set(conn, { listener: l, accepted: false });
  conn.remoteAddr = src;
  conn.remotePort = seg.srcPort;
  conn.localAddr = dst;
  conn.localPort = l.port;
  s.insert(conn);
  conn.restoreFromCookie({ localAddr: dst, localPort: l.port, remoteAddr: src, remotePort: seg.srcPort }, iss, irs, options, tsOffset, now);
  s.counters.synCookiesAccepted++;
  s.cookieConns.set(conn, spentKey);
  conn.onSegment(seg, now);
  s.reschedule(conn);
  return true;
}
