/**
 * Options negotiated on the SYNs (RFC 9293 §3.7.1 MSS, RFC 7323 window
 * scale and timestamps, RFC 2018 SACK-permitted) and the timestamp state
 * they leave (TS.Recent and its 24-day lifetime, our TSval clock).
 */
import type { TcpOption, TcpRepr } from '../wire/types.ts';
import { seqAdd } from './seq.ts';
import type { TcpConfig } from './config.ts';
import type { Connection } from './connection.ts';

/** RFC 7323 §5.5: TS.Recent is invalid after the connection has been idle for more than 24 days. */
const TS_RECENT_LIFETIME_S = 24 * 24 * 3600;
/** Window scale shift limit (RFC 7323 §2.3: "the shift count ... MUST be limited to 14"). */
const MAX_WSCALE = 14;

/** The window-scale shift a connection with `config` offers: the smallest that covers its receive buffer, unless fixed. */
export function offeredShiftFor(config: TcpConfig): number {
  if (config.windowScaleShift >= 0) return config.windowScaleShift;
  let s = 0;
  // A shift, not 2 ** s: V8 calls the C library's pow() for a variable exponent (once per SYN; seen in the gateway's profile).
  while (s < MAX_WSCALE && config.recvBufferBytes > 65535 * (1 << s)) s++;
  return s;
}

/**
 * The send MSS to assume when the peer's SYN carries no MSS option. RFC
 * 9293 §3.7.1: "If an MSS Option is not received at connection setup, TCP
 * implementations MUST assume a default send MSS of 536 (576 - 40) for
 * IPv4 or 1220 (1280 - 60) for IPv6 (MUST-15)." `defaultMss` is the IPv4
 * figure (536 unless configured); over IPv6 it is never below 1220, since
 * every IPv6 link carries 1280-octet packets (RFC 8200 §5).
 */
export function defaultSendMss(config: TcpConfig, v6: boolean): number {
  return v6 ? Math.max(config.defaultMss, 1220) : config.defaultMss;
}

/** Negotiation results from the peer's SYN (MSS §3.7.1, window scale RFC 7323 §2). */
export function applySynOptions(c: Connection, options: TcpOption[]): void {
  const defaultMss = defaultSendMss(c.config, typeof c.remoteAddr === 'string');
  let mss = defaultMss;
  let ws = -1;
  let sackOk = false;
  let ts: { tsval: number } | null = null;
  for (const o of options) {
    if (o.kind === 'mss') mss = o.value;
    else if (o.kind === 'window-scale') ws = o.shift;
    else if (o.kind === 'sack-permitted') sackOk = true;
    else if (o.kind === 'timestamp') ts = o;
  }
  c.peerSackOk = sackOk;
  c.sackEnabled = sackOk && c.config.sack;
  c.peerOfferedTs = ts !== null;
  if (ts) c.tsRecent = ts.tsval | 0;
  // Timestamps are in use when both SYNs carry them (tsEnabled); TS.Recent is then recorded now.
  c.tsRecentSec = ts !== null && c.config.timestamps ? Math.floor(c.now / 1_000_000) : -1;
  // "SendMSS = MIN(MMS_S - 20, Eff.snd.MSS)" with our own MTU as the limit.
  c.sndMss = Math.max(64, Math.min(mss === 0 ? defaultMss : mss, c.advMss));
  if (c.config.roundBuffersToMss) {
    // FreeBSD tcp_mss_update: buffers become whole multiples of the MSS.
    const m = c.sndMss;
    const up = (n: number): number => Math.ceil(n / m) * m;
    (c as { config: TcpConfig }).config = { ...c.config, recvBufferBytes: up(c.config.recvBufferBytes), sendBufferBytes: up(c.config.sendBufferBytes) };
  }
  c.peerOfferedScale = ws >= 0;
  if (ws >= 0 && c.config.windowScaling) {
    // RFC 7323 §2.3: "If a Window Scale option is received with a shift.cnt
    // value larger than 14, the TCP SHOULD log the error but MUST use 14".
    c.sndWndShift = Math.min(ws, MAX_WSCALE);
    c.rcvWndShift = c.offeredShift;
  } else {
    c.sndWndShift = 0;
    c.rcvWndShift = 0;
  }
}

/** Our TSval clock: milliseconds plus a per-connection offset (RFC 7323 §5.4: 1 ms – 1 s per tick). */
export function tsNow(c: Connection): number {
  return (Math.floor(c.now / 1000) + c.tsOffset) >>> 0;
}

/** Bytes of options on every data segment (the timestamps option: 12). */
export function optionOverhead(c: Connection): number {
  return c.tsEnabled ? 12 : 0;
}

/** Records SEG.TSval as TS.Recent and notes when (RFC 7323 §4.3, §5.5); only while timestamps are in use. */
export function recordTsRecent(c: Connection, tsval: number): void {
  c.tsRecent = tsval | 0;
  c.tsRecentSec = Math.floor(c.now / 1_000_000);
}

/**
 * RFC 7323 §5.5: "an implementation of PAWS [must] include a mechanism to
 * "invalidate" the TS.Recent value when a connection is idle for more than
 * 24 days." TS.Recent is valid while it was recorded at most 24 days ago.
 */
export function tsRecentValid(c: Connection): boolean {
  return Math.floor(c.now / 1_000_000) - c.tsRecentSec <= TS_RECENT_LIFETIME_S;
}

/**
 * The peer's SYN (§3.10.7.2 and §3.10.7.3 fourth step): "Set RCV.NXT to
 * SEG.SEQ+1, IRS is set to SEG.SEQ"; RCV.UP starts there too; `advertised`
 * is the window our SYN offered (none yet from LISTEN). Then its options
 * (applySynOptions) and whether ECN was set up (RFC 3168 §6.1.1).
 */
export function recordPeerSyn(c: Connection, seg: TcpRepr, ecnSetup: boolean, advertised: number): void {
  c.irs = seg.seq | 0;
  c.rcvNxt = seqAdd(seg.seq, 1);
  c.rcvAdv = seqAdd(c.rcvNxt, advertised);
  c.rcvUp = c.rcvNxt;
  applySynOptions(c, seg.options);
  c.ecnEnabled = ecnSetup;
}
