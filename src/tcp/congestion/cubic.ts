/**
 * CUBIC (RFC 9438), the default as on Linux: after a loss the window grows
 * along W_cubic(t) = C·(t − K)³ + W_max, concave up to the old maximum and
 * convex beyond it, never slower than the Reno-friendly estimate W_est.
 */
import type { Instant } from '../../base/time.ts';
import { initialWindow, slowStartIncrease, type CongestionController } from './controller.ts';

/** RFC 9438 §4.1: C = 0.4 (segments per second cubed). */
const C = 0.4;
/** RFC 9438 §4.6: beta_cubic = 0.7. */
const BETA = 0.7;
/** RFC 9438 §4.3: alpha_cubic = 3 (1 − β) / (1 + β). */
const ALPHA = (3 * (1 - BETA)) / (1 + BETA);

export class Cubic implements CongestionController {
  readonly name = 'cubic' as const;
  cwnd = 0;
  ssthresh = 0x7fffffff;
  /** W_max in segments (the window before the last reduction). */
  private wMax = 0;
  private wLastMax = 0;
  /** K in seconds. */
  private k = 0;
  /** Start of the current congestion-avoidance epoch, µs; -1 = not started. */
  private epochStart = -1;
  /** W_est in segments (RFC 9438 §4.3). */
  private wEst = 0;
  private caAcc = 0;

  init(mss: number, initialSegments: number, _now: Instant): void {
    this.cwnd = initialWindow(mss, initialSegments);
    this.ssthresh = 0x7fffffff;
    this.wMax = 0;
    this.wLastMax = 0;
    this.epochStart = -1;
    this.caAcc = 0;
  }

  onAck(acked: number, mss: number, now: Instant, srttUs: number): void {
    if (this.cwnd < this.ssthresh) {
      this.cwnd = slowStartIncrease(this.cwnd, acked, mss);
      return;
    }
    const cwndSeg = this.cwnd / mss;
    if (this.epochStart < 0) {
      // RFC 9438 §4.2: a new epoch begins with the first ACK in congestion avoidance.
      this.epochStart = now;
      if (this.wMax <= cwndSeg) {
        this.k = 0;
        this.wMax = cwndSeg;
      } else {
        this.k = Math.cbrt((this.wMax - cwndSeg) / C);
      }
      this.wEst = cwndSeg;
    }
    const rtt = srttUs > 0 ? srttUs / 1e6 : 0.1;
    const t = (now - this.epochStart) / 1e6;
    // W_est += alpha_cubic * segments_acked / cwnd (RFC 9438 §4.3).
    this.wEst += (ALPHA * (acked / mss)) / cwndSeg;
    // Target: W_cubic(t + RTT), clamped to [cwnd, 1.5 cwnd] (RFC 9438 §4.4).
    const wCubic = C * (t + rtt - this.k) ** 3 + this.wMax;
    let target = Math.min(Math.max(wCubic, cwndSeg), 1.5 * cwndSeg);
    // Reno-friendly region (§4.3): not slower than W_est — within the same clamp.
    if (C * (t - this.k) ** 3 + this.wMax < this.wEst) target = Math.max(target, Math.min(this.wEst, 1.5 * cwndSeg));
    // Increase by (target − cwnd)/cwnd per acknowledged segment, and by at
    // most half a segment per segment acknowledged (as Linux): a stretch ACK
    // covering a whole window must not grow cwnd in one step.
    this.caAcc += Math.min(((target - cwndSeg) / cwndSeg) * acked, acked / 2);
    if (this.caAcc >= 1) {
      const inc = Math.floor(this.caAcc);
      this.cwnd += inc;
      this.caAcc -= inc;
    }
  }

  onCongestionEvent(flight: number, mss: number, _now: Instant): void {
    const cwndSeg = this.cwnd / mss;
    // RFC 9438 §4.7 fast convergence.
    if (cwndSeg < this.wLastMax) this.wMax = (cwndSeg * (1 + BETA)) / 2;
    else this.wMax = cwndSeg;
    this.wLastMax = cwndSeg;
    // §4.6: ssthresh = flight_size * beta_cubic (at least 2 segments); the
    // flight, not a cwnd that slow start may have inflated past it.
    this.ssthresh = Math.max(Math.floor(Math.min(flight, this.cwnd) * BETA), 2 * mss);
    this.cwnd = this.ssthresh;
    this.epochStart = -1;
    this.caAcc = 0;
  }

  onRto(flight: number, mss: number, now: Instant): void {
    this.onCongestionEvent(flight, mss, now);
    // §4.8: after a timeout, cwnd restarts from one segment (slow start).
    this.cwnd = mss;
  }

  onIdleRestart(mss: number, initialSegments: number, _now: Instant): void {
    this.cwnd = Math.min(this.cwnd, initialWindow(mss, initialSegments));
    this.epochStart = -1;
  }
}
