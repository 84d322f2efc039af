/**
 * `host.ping(address, { count, size, intervalMs, timeoutMs })`: echo
 * requests from a synack host (RFC 792, RFC 4443 §4.1), the session of
 * services/ping.ts on the host's stack and Driver. Resolves once every
 * request has its reply or its timeout:
 *
 *   const r = await host.ping('10.0.0.2', { count: 3 });
 *   r.received; r.rttMs?.avg; r.replies[0].seq
 *
 * An identifier per call: two pings at once never take each other's
 * replies (stack/echo.ts).
 */
import { SynackError } from '../errors.ts';
import type { Stack } from '../stack/stack.ts';
import { PingSession, type PingReply } from '../services/ping.ts';
import { formatIpAddr, ipv6MappedToV4, parseIpAddr } from '../wire/ipv6.ts';
import type { Driver } from './driver.ts';

export interface PingOptions {
  /** Echo requests to send (default 4; 1..65536). */
  count?: number;
  /** Octets of data in each (default 56, as iputils; 0..65507 for IPv4, 0..65527 for IPv6). */
  size?: number;
  /** Milliseconds between requests (default 1000). */
  intervalMs?: number;
  /** Milliseconds each request waits for its reply (default 1000). */
  timeoutMs?: number;
  /** Each reply as it comes (called on a later microtask, never from inside the stack). */
  onReply?: (r: PingReplyInfo) => void;
}

export interface PingReplyInfo {
  seq: number;
  /** The reply's source, as text. */
  from: string;
  /** Octets of ICMP data. */
  bytes: number;
  rttMs: number;
}

export interface PingResult {
  /** The address pinged, as text. */
  target: string;
  /** Our source address, as text. */
  source: string;
  /** The ICMP identifier of this call's requests. */
  ident: number;
  sent: number;
  received: number;
  /** Requests without a reply within timeoutMs. */
  lost: number;
  /** Replies with this call's identifier that answered nothing outstanding (late, duplicated, wrong source or data). */
  unmatched: number;
  replies: PingReplyInfo[];
  /** Round-trip times over the replies (null without one); mdev as iputils: the standard deviation. */
  rttMs: { min: number; avg: number; max: number; mdev: number } | null;
}

function info(r: PingReply): PingReplyInfo {
  return { seq: r.seq, from: formatIpAddr(r.from), bytes: r.bytes, rttMs: r.rtt / 1000 };
}

function integer(name: string, v: number | undefined, dflt: number, min: number, max: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new SynackError('ERR_SYNACK_INVALID_ARG', `ping: ${name} must be an integer in ${min}..${max}, got ${String(v)}`);
  return v;
}

function millis(name: string, v: number | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > 3_600_000) throw new SynackError('ERR_SYNACK_INVALID_ARG', `ping: ${name} must be milliseconds in 0..3600000, got ${String(v)}`);
  return v;
}

/** Pings `target` (an IPv4 or IPv6 literal) from `stack`; see the file comment. */
export function ping(parts: { stack: Stack; driver: Driver }, target: string, opts: PingOptions = {}): Promise<PingResult> {
  try {
    let dst = typeof target === 'string' ? parseIpAddr(target) : null;
    if (dst === null) throw new SynackError('ERR_SYNACK_INVALID_ARG', `ping: the target must be an IPv4 or IPv6 address, got ${String(target)}`);
    // An IPv4-mapped address names an IPv4 host (RFC 4291 §2.5.5.2): ping it over IPv4.
    if (typeof dst === 'string') dst = ipv6MappedToV4(dst) ?? dst;
    const v4 = typeof dst === 'number';
    const count = integer('count', opts.count, 4, 1, 65536);
    // The IP packet must fit its 16-bit length: 20 + 8 + data for IPv4, 8 + data in the IPv6 payload.
    const size = integer('size', opts.size, 56, 0, v4 ? 65507 : 65527);
    const interval = Math.round(millis('intervalMs', opts.intervalMs, 1000) * 1000);
    const timeout = Math.round(millis('timeoutMs', opts.timeoutMs, 1000) * 1000);
    const { stack, driver } = parts;
    const text = formatIpAddr(dst);
    return new Promise<PingResult>((resolve, reject) => {
      driver.ref();
      const onReply = opts.onReply;
      new PingSession(stack, dst, { count, size, interval, timeout }, {
        ...(onReply ? { onReply: (r: PingReply) => queueMicrotask(() => onReply(info(r))) } : {}),
        onDone(st) {
          driver.unref();
          if (st.source === null) {
            reject(new SynackError('ERR_SYNACK_NO_ROUTE', `ping: no route to ${text} (no interface has an IPv${v4 ? 4 : 6} address)`));
            return;
          }
          const replies = st.replies.map(info);
          let rttMs: PingResult['rttMs'] = null;
          if (replies.length > 0) {
            const t = replies.map((r) => r.rttMs);
            const avg = t.reduce((a, b) => a + b, 0) / t.length;
            const mdev = Math.sqrt(t.reduce((a, b) => a + (b - avg) ** 2, 0) / t.length);
            rttMs = { min: Math.min(...t), avg, max: Math.max(...t), mdev };
          }
          // Resolve after the reply callbacks queued before it.
          queueMicrotask(() =>
            resolve({ target: text, source: formatIpAddr(st.source!), ident: st.ident, sent: st.sent, received: st.received, lost: st.lost, unmatched: st.unmatched, replies, rttMs }),
          );
        },
      });
      driver.kick();
    });
  } catch (e) {
    return Promise.reject(e);
  }
}
