/**
 * Per-guest limits of the gateway (issue 15, "Limits and safety"):
 *
 * - ConnectGate: at most `max` host connects under way at once. A guest
 *   that sends SYNs to many destinations (a SYN flood, a port scan) makes
 *   the gateway open at most that many host sockets at a time; the other
 *   requests wait in FIFO order (the guest's SYN retransmissions are
 *   absorbed meanwhile, stack/forward.ts) and start as connects finish. A
 *   request that ended while waiting (the guest reset it, it expired) is
 *   skipped. The wait is bounded too (`maxQueued`): beyond it a request is
 *   refused (the caller resets it) and counted.
 *
 * - The memory cap (`maxBufferedBytes`, gateway.ts): the bytes held by all
 *   forwarded connections together (both sockets' stream buffers and the
 *   synack connection's send and receive buffers). Each connection is
 *   already bounded by backpressure; the cap bounds their sum: at or above
 *   it, new connections are refused (RST) and counted, until the existing
 *   ones drain.
 *
 * - Keepalive toward the guest (`keepAlive`): the TcpConfig of forwarded
 *   connections (keepAliveConfig).
 *
 * Sans-I/O: no timers, no sockets; the caller says when a connect ends.
 */
import type { TcpConfig } from '../tcp/config.ts';
import { SynackError } from '../errors.ts';

/** Keepalive toward the guest: idle time before the first probe, the interval between probes (default min(idleMs, 75 s)), probes before the connection is reset (default 9). */
export interface KeepAliveOptions {
  idleMs: number;
  intervalMs?: number;
  count?: number;
}

export interface ConnectGateStats {
  /** Connects started. */
  started: number;
  /** Requests that had to wait for a slot. */
  queued: number;
  /** Requests refused because the wait was full. */
  overflow: number;
  /** Waiting requests that ended before their turn (skipped). */
  abandoned: number;
  /** Connects under way now. */
  active: number;
  /** Requests waiting now. */
  waiting: number;
  /** The most connects ever under way at once. */
  highWater: number;
}

export class ConnectGate<T> {
  readonly stats: ConnectGateStats = { started: 0, queued: 0, overflow: 0, abandoned: 0, active: 0, waiting: 0, highWater: 0 };
  private readonly queue: T[] = [];
  private head = 0;

  /**
   * @param max connects under way at once (≥ 1)
   * @param maxQueued requests waiting at once
   * @param start begins the connect of an item (it must call `done()` exactly once when the connect ends)
   * @param live whether a waiting item still wants its connect
   */
  constructor(
    readonly max: number,
    readonly maxQueued: number,
    private readonly start: (item: T) => void,
    private readonly live: (item: T) => boolean,
  ) {}

  /** Starts the item's connect now, or queues it; 'refused' when the queue is full (the caller refuses it). */
  enter(item: T): 'started' | 'queued' | 'refused' {
    if (this.stats.active < this.max) {
      this.begin(item);
      return 'started';
    }
    if (this.queue.length - this.head >= this.maxQueued) {
      this.stats.overflow++;
      return 'refused';
    }
    this.queue.push(item);
    this.stats.queued++;
    this.stats.waiting = this.queue.length - this.head;
    return 'queued';
  }

  /** A started connect ended (connected, failed or cancelled): the next live waiting item starts. */
  done(): void {
    if (this.stats.active > 0) this.stats.active--;
    while (this.stats.active < this.max && this.head < this.queue.length) {
      const item = this.queue[this.head]!;
      this.queue[this.head++] = undefined as T;
      if (this.head > 1024 && this.head * 2 > this.queue.length) {
        this.queue.splice(0, this.head);
        this.head = 0;
      }
      if (!this.live(item)) {
        this.stats.abandoned++;
        continue;
      }
      this.begin(item);
    }
    this.stats.waiting = this.queue.length - this.head;
  }

  /** Drops every waiting item (at close); returns them. */
  clear(): T[] {
    const out = this.queue.slice(this.head);
    this.queue.length = 0;
    this.head = 0;
    this.stats.waiting = 0;
    return out;
  }

  private begin(item: T): void {
    this.stats.active++;
    this.stats.started++;
    if (this.stats.active > this.stats.highWater) this.stats.highWater = this.stats.active;
    this.start(item);
  }
}

/** The TcpConfig of forwarded connections: `tcp`, with keepalive toward the guest when `keepAlive` is set; null when neither. */
export function keepAliveConfig(opts: { tcp?: Partial<TcpConfig>; keepAlive?: KeepAliveOptions }): Partial<TcpConfig> | null {
  const k = opts.keepAlive;
  if (!k) return opts.tcp ?? null;
  const ok = (v: number | undefined, min: number): boolean => v === undefined || (Number.isFinite(v) && v >= min);
  if (!ok(k.idleMs, 1) || !ok(k.intervalMs, 1) || !ok(k.count, 1) || (k.count !== undefined && !Number.isInteger(k.count))) {
    throw new SynackError('ERR_SYNACK_INVALID_ARG', `keepAlive: idleMs and intervalMs must be ≥ 1 ms and count a positive integer, got ${JSON.stringify(k)}`);
  }
  // RFC 9293 §3.8.4: "Keep-alive packets MUST only be sent when no sending
  // data is outstanding, and no data or acknowledgment packets have been
  // received for the connection within an interval" — the connection's
  // keepalive timer (tcp/) does exactly that; a probe unanswered `count`
  // times ends the connection (timed out), which resets the host side.
  return {
    ...opts.tcp,
    keepAlive: true,
    keepAliveIdleUs: Math.round(k.idleMs * 1000),
    keepAliveIntervalUs: Math.round((k.intervalMs ?? Math.min(k.idleMs, 75_000)) * 1000),
    keepAliveCount: k.count ?? 9,
  };
}
