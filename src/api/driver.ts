/**
 * Runs a sans-I/O Network on Node's event loop (quinn's ConnectionDriver).
 *
 * Contract:
 *  - every API action calls `kick()`; kick schedules (at most one)
 *    setImmediate that calls `network.runDue(now)` until nothing is due, then
 *    arms ONE Node timer for `network.nextDeadline()` (re-armed only when an
 *    earlier deadline appears; a timer that fires early just re-arms —
 *    quinn's drive_timer);
 *  - the process is kept alive only while ref'd handles exist (sockets and
 *    listening servers that are not `unref()`'d): handles call `ref()` /
 *    `unref()` and one long ref'd keep-alive timer mirrors the count. The
 *    deadline timer itself is always unref'd, so a script exits once its
 *    sockets and servers are closed, while connections finish closing in
 *    the background for as long as the process lives (like a kernel);
 *  - with a VirtualClock the network runs "as fast as possible": when
 *    nothing is due now and ref'd handles exist, the clock jumps to the next
 *    deadline (one jump per macrotask, so user code reacts in between); with
 *    no ref'd handle or no deadline it stops — it never spins.
 *
 * Nothing here delivers user events: sockets defer their own events (see
 * socket.ts), so user code never runs inside `runDue`.
 */
import { setImmediate, clearImmediate, setTimeout, clearTimeout, setInterval, clearInterval } from '#platform';
import type { Network } from '../sim/network.ts';
import { VirtualClock, type Clock, type Instant } from '../base/time.ts';

/** Microseconds since this clock was created, from `performance.now()`. */
export class RealClock implements Clock {
  private readonly origin = performance.now();
  now(): Instant {
    return Math.floor((performance.now() - this.origin) * 1000);
  }
}

/** After this many back-to-back runDue rounds the driver yields to I/O (fairness). */
const MAX_ROUNDS_PER_TURN = 64;
/** Longest Node timer delay (2^31 - 1 ms). */
const MAX_TIMER_MS = 0x7fffffff;

export interface DriverStats {
  /** setImmediate turns run. */
  turns: number;
  /** Node timer firings. */
  timerFirings: number;
  /** Virtual-clock jumps (virtual mode only). */
  jumps: number;
  /** settle() calls that re-armed the timer without a turn (real clock). */
  settles: number;
}

export class Driver {
  readonly network: Network;
  readonly clock: Clock;
  /** True when the network's clock is virtual and the driver advances it. */
  readonly virtual: boolean;
  readonly stats: DriverStats = { turns: 0, timerFirings: 0, jumps: 0, settles: 0 };
  private immediate: NodeJS.Immediate | null = null;
  private timer: NodeJS.Timeout | null = null;
  private timerAt: Instant = Infinity;
  private refs = 0;
  private keepAlive: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(network: Network) {
    this.network = network;
    this.clock = network.clock;
    this.virtual = network.clock instanceof VirtualClock;
  }

  /** Number of ref'd handles keeping the process alive. */
  get refCount(): number {
    return this.refs;
  }

  /** A handle became active and ref'd. */
  ref(): void {
    this.refs++;
    if (this.refs === 1) {
      if (!this.keepAlive) this.keepAlive = setInterval(noop, MAX_TIMER_MS);
      this.keepAlive.ref();
      // Virtual mode may have stopped for want of handles: resume.
      this.kick();
    }
  }

  /** A ref'd handle went away or was unref()'d. */
  unref(): void {
    if (this.refs === 0) return;
    this.refs--;
    if (this.refs === 0 && this.keepAlive) this.keepAlive.unref();
  }

  /** Something may be due: run the network soon (never synchronously). */
  kick(): void {
    if (this.immediate || this.stopped) return;
    this.immediate = setImmediate(this.turn);
  }

  /**
   * Input was processed outside a turn (a link's batch of frames, a host
   * socket's events), and everything it made due at once has run with it:
   * the stack flushes its deferred work at the end of each input. What is
   * left are deadlines — so, with a real clock, only re-arm the timer for
   * the network's next one, here, instead of a setImmediate turn that
   * would find nothing due (one turn per batch was ~8 % of a gateway's
   * user time per connection). Anything due already still gets its turn.
   */
  settle(): void {
    if (this.immediate || this.stopped) return;
    if (this.virtual) {
      this.kick();
      return;
    }
    const next = this.network.nextDeadline();
    if (next <= this.clock.now()) {
      this.kick();
      return;
    }
    this.stats.settles++;
    this.arm(next);
  }

  /** Stops driving: clears every Node timer this driver holds. */
  stop(): void {
    this.stopped = true;
    if (this.immediate) clearImmediate(this.immediate);
    this.immediate = null;
    this.clearTimer();
    if (this.keepAlive) clearInterval(this.keepAlive);
    this.keepAlive = null;
  }

  private readonly turn = (): void => {
    this.immediate = null;
    this.stats.turns++;
    const net = this.network;
    let rounds = 0;
    for (;;) {
      net.runDue(this.clock.now());
      const next = net.nextDeadline();
      if (next <= this.clock.now()) {
        if (++rounds >= MAX_ROUNDS_PER_TURN) {
          this.kick();
          return;
        }
        continue;
      }
      if (this.virtual) {
        if (next !== Infinity && this.refs > 0) {
          // Jump, but let user code (nextTick/microtasks/I/O) run first.
          (this.clock as VirtualClock).advanceTo(next);
          this.stats.jumps++;
          this.kick();
        }
        return;
      }
      this.arm(next);
      return;
    }
  };

  private arm(deadline: Instant): void {
    if (deadline === Infinity) {
      this.clearTimer();
      return;
    }
    // An armed timer at or before the deadline fires early and re-arms.
    if (this.timer && this.timerAt <= deadline) return;
    this.clearTimer();
    const delayMs = Math.min(MAX_TIMER_MS, Math.max(1, Math.ceil((deadline - this.clock.now()) / 1000)));
    this.timerAt = deadline;
    this.timer = setTimeout(this.onTimer, delayMs);
    this.timer.unref();
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.timerAt = Infinity;
  }

  private readonly onTimer = (): void => {
    this.timer = null;
    this.timerAt = Infinity;
    this.stats.timerFirings++;
    this.kick();
  };
}

function noop(): void {}
