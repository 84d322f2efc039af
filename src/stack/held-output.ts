/**
 * Output the stack holds back until the work that caused it is done: three
 * mechanisms with one shape — a list filled during a synchronous stretch of
 * work and run once at its end.
 *
 * - deferred work: what must not run inside a connection's event processing
 *   (handing a new connection to the application, aborting one that raced
 *   with a closing listener) waits until the current input is done;
 * - the cork: SENDs without PUSH (RFC 9293 §3.9.1.2) inside cork() …
 *   uncork(), a relay's batch of reads from one wake-up;
 * - the receive batch: RFC 9293 MUST-59, one ACK per batch of received
 *   segments from a link that delivers in batches.
 *
 * The Stack is the ConnectionHost that connections ask (`corked`,
 * `holdCorked`, `inBatch`, `holdOutput`); it delegates here.
 */
import type { Instant } from '../base/time.ts';
import type { Connection } from '../tcp/connection.ts';

/** What the holder needs of its stack. */
export interface HoldingHost {
  /** Runs a user call on a connection, then re-files its timer and flushes deferred work. */
  with<T>(conn: Connection, fn: (now: Instant) => T): T;
  /** Files the connection's next deadline. */
  reschedule(conn: Connection): void;
}

export class HeldOutput {
  private deferred: Array<() => void> = [];
  private flushing = false;
  /** cork() nesting depth: corked while > 0. */
  corkDepth = 0;
  private corkHeld: Connection[] = [];
  /** Between a batching link's first onReceive and its onReceiveEnd. */
  inBatch = false;
  private batchHeld: Connection[] = [];

  constructor(private readonly host: HoldingHost) {}

  defer(fn: () => void): void {
    this.deferred.push(fn);
  }

  flushDeferred(): void {
    if (this.flushing || this.deferred.length === 0) return;
    this.flushing = true;
    try {
      for (let i = 0; i < this.deferred.length; i++) this.deferred[i]!();
    } finally {
      this.deferred = [];
      this.flushing = false;
    }
  }

  /**
   * SENDs without PUSH until the matching `uncork()` — RFC 9293 §3.9.1.2:
   * "If the PUSH flag is not set, the data may be combined with data from
   * subsequent SENDs for transmission efficiency." Meanwhile a connection
   * holds a short tail of new data back (Nagle or not; full segments still
   * go), and `uncork()` sends what was held: for a relay's batch of reads
   * from one wake-up, inside one synchronous turn — never across a timer.
   * Nests; the outermost `uncork()` flushes. (Linux's MSG_MORE and
   * TCP_CORK, whose cork a timer ends, are the same idea.)
   */
  cork(): void {
    this.corkDepth++;
  }

  uncork(): void {
    if (this.corkDepth === 0 || --this.corkDepth > 0) return;
    const held = this.corkHeld;
    if (held.length === 0) return;
    this.corkHeld = [];
    for (const c of held) this.host.with(c, (now) => c.push(now));
  }

  /** `conn` held a tail; uncork() outputs it. */
  holdCorked(conn: Connection): void {
    const h = this.corkHeld;
    if (h.length === 0 || h[h.length - 1] !== conn) h.push(conn);
  }

  /** `conn` outputs when the batch ends. */
  holdOutput(conn: Connection): void {
    this.batchHeld.push(conn);
  }

  /** Connections wait for endBatch(). */
  get outputWaiting(): boolean {
    return this.batchHeld.length > 0;
  }

  /**
   * The end of a link's batch of received packets (Link.onReceiveEnd):
   * every connection that held its output sends its ACK and data now, in
   * the order their first segments came. Also run by the stack's poll() (a
   * link that never ended its batch delays output by a turn at most).
   */
  endBatch(): void {
    this.inBatch = false;
    const held = this.batchHeld;
    if (held.length === 0) return;
    // A new list (not `length = 0` on a spare one: a runtime call in V8):
    // the output of one connection may not add to the list being run.
    this.batchHeld = [];
    for (let i = 0; i < held.length; i++) {
      const c = held[i]!;
      c.outputHeld = false;
      if (c.state !== 'CLOSED') c.output();
      this.host.reschedule(c);
    }
    this.flushDeferred();
  }
}
