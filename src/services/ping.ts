/**
 * A ping session on a synack stack (issue 13, "ping both ways"): echo
 * requests to one address at an interval, each reply matched by identifier
 * and sequence number (stack/echo.ts) and timed on the stack's clock,
 * requests without a reply within the timeout counted lost — what iputils'
 * `ping -c COUNT -s SIZE -i INTERVAL -W TIMEOUT` reports.
 *
 * RFC 792: "The data received in the echo message must be returned in the
 * echo reply message." RFC 4443 §4.2: "The data received in the ICMPv6 Echo
 * Request message MUST be returned entirely and unmodified in the ICMPv6
 * Echo Reply message." A reply whose data differs is not taken as the
 * answer (counted unmatched, like one from another source, a duplicate or
 * a late one).
 *
 * Runs on the stack's clock (a StackTimer polled by the stack): virtual in
 * the tests, real under the Driver. No wall clock, no Math.random.
 */
import type { Instant } from '../base/time.ts';
import type { Stack } from '../stack/stack.ts';
import type { EchoPort, EchoReply } from '../stack/echo.ts';
import type { IpAddr } from '../wire/ipv6.ts';
import { StackTimer } from './udp-service.ts';

export interface PingConfig {
  /** Echo requests to send (1..65536). */
  count: number;
  /** Octets of data in each request (iputils' -s; 56 by default there). */
  size: number;
  /** Time between requests (µs). */
  interval: number;
  /** How long each request waits for its reply (µs). */
  timeout: number;
}

/** One reply that answered a request. */
export interface PingReply {
  seq: number;
  /** Its source address. */
  from: IpAddr;
  /** Octets of ICMP data in it. */
  bytes: number;
  /** Round-trip time in µs on the stack's clock. */
  rtt: number;
}

export interface PingStats {
  /** The identifier of the session's requests. */
  ident: number;
  /** Our source address (null: no route, nothing was sent). */
  source: IpAddr | null;
  sent: number;
  received: number;
  /** Requests whose reply did not come within the timeout. */
  lost: number;
  /** Replies with this session's identifier that answered nothing outstanding (late, duplicated, from another source, altered data). */
  unmatched: number;
  replies: PingReply[];
}

export interface PingEvents {
  /** A request got its reply (called from inside the stack's receive path: record, do not act). */
  onReply?(r: PingReply): void;
  /** A request's timeout passed without its reply. */
  onLost?(seq: number): void;
  /** Every request has its reply or its timeout (or there was no route); the session is closed. */
  onDone(stats: PingStats): void;
}

interface Outstanding {
  sentAt: Instant;
  deadline: Instant;
}

export class PingSession {
  private readonly port: EchoPort;
  private readonly timer: StackTimer;
  private readonly data: Uint8Array;
  private readonly pending = new Map<number, Outstanding>();
  private nextSendAt: Instant;
  private closed = false;
  readonly stats: PingStats;

  constructor(
    private readonly stack: Stack,
    private readonly dst: IpAddr,
    private readonly cfg: PingConfig,
    private readonly events: PingEvents,
  ) {
    // A fixed pattern, as iputils fills what follows its timestamp.
    this.data = new Uint8Array(cfg.size);
    for (let i = 0; i < cfg.size; i++) this.data[i] = (i + 8) & 0xff;
    this.port = stack.echoPorts().open((r) => this.onEchoReply(r));
    this.stats = { ident: this.port.ident, source: null, sent: 0, received: 0, lost: 0, unmatched: 0, replies: [] };
    this.timer = new StackTimer(stack, (now) => this.poll(now));
    this.nextSendAt = stack.clock.now();
    this.poll(this.nextSendAt);
  }

  /** Stops at once: outstanding requests count as lost, onDone runs. */
  stop(): void {
    if (this.closed) return;
    this.stats.lost += this.pending.size;
    this.pending.clear();
    this.finish();
  }

  /** RFC 792: the sequence number "might be incremented on each echo request sent"; iputils starts at 1. */
  private seqOf(n: number): number {
    return (n + 1) & 0xffff;
  }

  private poll(now: Instant): void {
    if (this.closed) return;
    // Timeouts first: a reply due at the same instant as its deadline has had its chance.
    for (const [seq, o] of this.pending) {
      if (o.deadline <= now) {
        this.pending.delete(seq);
        this.stats.lost++;
        this.events.onLost?.(seq);
      }
    }
    if (this.stats.sent < this.cfg.count && this.nextSendAt <= now) {
      const seq = this.seqOf(this.stats.sent);
      const src = this.port.send(this.dst, seq, this.data);
      if (src === null) {
        // No interface has an address of the destination's family.
        this.finish();
        return;
      }
      this.stats.source = src;
      this.stats.sent++;
      this.pending.set(seq, { sentAt: now, deadline: now + this.cfg.timeout });
      this.nextSendAt = now + this.cfg.interval;
    }
    if (this.stats.sent >= this.cfg.count && this.pending.size === 0) {
      this.finish();
      return;
    }
    let next = this.stats.sent < this.cfg.count ? this.nextSendAt : Infinity;
    for (const o of this.pending.values()) next = Math.min(next, o.deadline);
    this.timer.set(next);
  }

  private onEchoReply(r: EchoReply): boolean {
    const o = this.pending.get(r.seq);
    if (o === undefined || r.from !== this.dst || !sameBytes(r.data, this.data)) {
      this.stats.unmatched++;
      return false;
    }
    this.pending.delete(r.seq);
    const reply: PingReply = { seq: r.seq, from: r.from, bytes: r.data.length, rtt: this.stack.clock.now() - o.sentAt };
    this.stats.received++;
    this.stats.replies.push(reply);
    this.stack.counters.icmpEchoRepliesIn++;
    this.events.onReply?.(reply);
    // The last reply: finish from the stack's next poll (not from inside its receive path).
    if (this.stats.sent >= this.cfg.count && this.pending.size === 0) this.timer.set(this.stack.clock.now());
    return true;
  }

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    this.port.close();
    this.timer.dispose();
    this.events.onDone(this.stats);
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
