/**
 * Time for the sans-I/O core: integer microseconds.
 *
 * Nothing in base/, wire/, tcp/, stack/ or sim/ reads a wall clock. A `Clock` is
 * injected: `VirtualClock` for tests, the simulator and the demo; the real
 * clock lives only in api/driver.ts.
 */

/** A point in time, in integer microseconds since an arbitrary epoch. */
export type Instant = number;
/** A span of time in integer microseconds. */
export type Duration = number;

export const US_PER_MS = 1000;
export const US_PER_S = 1_000_000;

export const ms = (n: number): Duration => Math.round(n * US_PER_MS);
export const seconds = (n: number): Duration => Math.round(n * US_PER_S);

export interface Clock {
  now(): Instant;
}

/** A clock that moves only when told to. */
export class VirtualClock implements Clock {
  private t: Instant;
  constructor(start: Instant = 0) {
    this.t = start;
  }
  now(): Instant {
    return this.t;
  }
  /** Moves the clock forward to `t` (never backwards). */
  advanceTo(t: Instant): void {
    if (t > this.t) this.t = t;
  }
  advanceBy(d: Duration): void {
    this.t += Math.max(0, d);
  }
}
