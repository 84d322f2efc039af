/**
 * A real-time impairment stage for links to the outside world (the TUN
 * link): the same `Impairments` as the in-memory hub — loss, delay, jitter,
 * reordering, duplication, bit corruption, a bandwidth bottleneck with a
 * queue limit — drawn from a seeded RNG, with packets that must wait held in
 * a delay queue on the real clock (one Node timer for the earliest).
 *
 * One stage impairs one direction; a link makes two.
 */
import { performance } from 'node:perf_hooks';
import { EventQueue } from '../base/event-queue.ts';
import { Rng } from '../base/rng.ts';
import { NO_IMPAIRMENTS, impairPacket, validateImpairments, type Bottleneck, type Impairments } from './memory.ts';

export interface ImpairStats {
  /** Packets offered to the stage. */
  packets: number;
  delivered: number;
  lost: number;
  duplicated: number;
  reordered: number;
  corrupted: number;
  queueDrops: number;
  /** Packets waiting in the delay queue now. */
  pending: number;
}

/** True when `im` changes nothing (the stage can be skipped). */
export function isNoImpairment(im: Partial<Impairments> | undefined): boolean {
  if (!im) return true;
  const m = { ...NO_IMPAIRMENTS, ...im };
  return m.delayUs === 0 && m.jitterUs === 0 && m.bandwidthBps === 0 && m.loss === 0 && m.duplicate === 0 && m.reorder === 0 && m.corrupt === 0;
}

/** Throws ERR_SYNACK_INVALID_ARG for an impossible impairment (shared with the in-memory hub). */
export const checkImpairments = validateImpairments;

/** Microseconds on the monotonic clock. */
function nowUs(): number {
  return Math.floor(performance.now() * 1000);
}

export class ImpairStage {
  readonly impair: Impairments;
  readonly stats: ImpairStats = { packets: 0, delivered: 0, lost: 0, duplicated: 0, reordered: 0, corrupted: 0, queueDrops: 0, pending: 0 };
  private readonly rng: Rng;
  private readonly queue = new EventQueue();
  private timer: NodeJS.Timeout | null = null;
  private timerAt = Infinity;
  /** This direction's bottleneck. */
  private readonly link: Bottleneck = { busyUntil: 0, queued: 0 };
  private closed = false;
  private idleWaiters: Array<() => void> = [];

  constructor(
    impair: Partial<Impairments>,
    seed: number,
    /** Where surviving packets go. */
    private readonly sink: (packet: Uint8Array) => void,
    /** Called after a timer delivered packets (e.g. to kick the stack's driver). */
    private readonly afterTimer: (() => void) | null = null,
  ) {
    this.impair = { ...NO_IMPAIRMENTS, ...impair };
    checkImpairments(this.impair);
    this.rng = new Rng(seed);
  }

  push(packet: Uint8Array): void {
    if (this.closed) return;
    this.stats.packets++;
    const now = nowUs();
    const fate = impairPacket(packet, this.impair, this.rng, now, this.link, this.stats);
    if (!fate) return;
    if (fate.departAt > now) {
      this.schedule(Math.round(fate.departAt), () => {
        this.link.queued--;
      });
    }
    for (const { at, bytes } of fate.copies) {
      if (at <= now) {
        this.stats.delivered++;
        this.sink(bytes);
      } else {
        this.stats.pending++;
        this.schedule(Math.round(at), () => {
          this.stats.pending--;
          this.stats.delivered++;
          this.sink(bytes);
        });
      }
    }
  }

  /** Resolves once no packet waits in the delay queue (or the stage is closed). */
  idle(): Promise<void> {
    if (this.stats.pending === 0 || this.closed) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Drops every waiting packet and stops the timer. */
  close(): void {
    this.closed = true;
    this.queue.clear();
    this.stats.pending = 0;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.timerAt = Infinity;
    this.wakeIdle();
  }

  private schedule(at: number, fn: () => void): void {
    this.queue.at(at, fn);
    this.arm();
  }

  private arm(): void {
    const next = this.queue.nextAt();
    if (next === Infinity) return;
    if (this.timer && this.timerAt <= next) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = next;
    this.timer = setTimeout(this.onTimer, Math.max(0, Math.ceil((next - nowUs()) / 1000)));
    this.timer.unref();
  }

  private readonly onTimer = (): void => {
    this.timer = null;
    this.timerAt = Infinity;
    if (this.closed) return;
    const now = nowUs();
    let ran = 0;
    for (let fn = this.queue.popDue(now); fn; fn = this.queue.popDue(now)) {
      fn();
      ran++;
    }
    if (ran > 0) this.afterTimer?.();
    this.arm();
    if (this.stats.pending === 0) this.wakeIdle();
  };

  private wakeIdle(): void {
    const w = this.idleWaiters;
    this.idleWaiters = [];
    for (const f of w) f();
  }
}
