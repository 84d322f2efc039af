/**
 * RFC 6298 retransmission-timer estimator. Times in microseconds.
 */
import type { Duration } from '../base/time.ts';

/** RFC 6298 §2: K = 4, alpha = 1/8, beta = 1/4; G is our clock granularity (1 µs ≈ 0). */
const K = 4;

/**
 * The bounds of the RTO, one object shared by every estimator of a
 * configuration (tcp/connection.ts makes one per TcpConfig): three numbers
 * fewer in each TCB.
 */
export interface RtoLimits {
  readonly minRto: Duration;
  readonly maxRto: Duration;
  /**
   * Added to every RTO computed from samples or backed off, but not to the
   * initial one (FreeBSD's rexmit_slop, which keeps the RTO above
   * delayed-ACK timers; 0 for RFC 6298 exactly).
   */
  readonly slop: Duration;
}

export class RttEstimator {
  /** Smoothed RTT (0 until the first sample). */
  srtt = 0;
  rttvar = 0;
  /** The current RTO, before backoff. */
  rto: Duration;
  /** Number of consecutive backoffs (RFC 6298 §5.5 doubles the RTO each time). */
  backoff = 0;

  constructor(initialRto: Duration, private readonly limits: RtoLimits) {
    this.rto = initialRto;
  }

  /** Feeds one RTT measurement R (Karn's algorithm is the caller's duty: never from a retransmitted segment). */
  sample(r: Duration): void {
    if (r < 0) return;
    if (this.srtt === 0) {
      // (2.2) When the first RTT measurement R is made, the host MUST set
      //   SRTT <- R, RTTVAR <- R/2, RTO <- SRTT + max (G, K*RTTVAR)
      this.srtt = r;
      this.rttvar = r / 2;
    } else {
      // (2.3) RTTVAR <- (1 - beta) * RTTVAR + beta * |SRTT - R'|
      //       SRTT <- (1 - alpha) * SRTT + alpha * R'
      this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - r);
      this.srtt = 0.875 * this.srtt + 0.125 * r;
    }
    // (2.4) Whenever RTO is computed, if it is less than 1 second, then the
    // RTO SHOULD be rounded up to 1 second. (Lower bound configurable.)
    // (2.5) A maximum value MAY be placed on RTO provided it is at least 60 seconds.
    this.rto = clamp(Math.round(this.srtt + Math.max(1, K * this.rttvar)), this.limits.minRto, this.limits.maxRto);
    // A new sample after a backoff resets the backoff (RFC 6298 §5.7 note).
    this.backoff = 0;
  }

  /** The RTO to arm now, with exponential backoff applied (RFC 6298 §5.5). */
  currentRto(): Duration {
    // 1 << n, not 2 ** n (a pow() call in optimised code; armed per flight).
    const backedOff = this.rto * (1 << Math.min(this.backoff, 30));
    const slop = this.srtt === 0 && this.backoff === 0 ? 0 : this.limits.slop;
    return Math.min(this.limits.maxRto, backedOff + slop);
  }

  /** (5.5) The host MUST set RTO <- RTO * 2 ("back off the timer"). */
  onTimeout(): void {
    this.backoff++;
  }
}

function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}
