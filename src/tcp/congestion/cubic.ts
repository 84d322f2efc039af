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

/**
 * The state of congestion avoidance and of the last reduction (RFC 9438
 * §4), made at the first ACK in congestion avoidance or the first loss: a
 * connection that never leaves slow start (most short or idle ones)
 * carries none. Fresh, it is what init() used to reset to.
 */
class CubicEpoch {
  /** W_max in segments (the window before the last reduction). */
  wMax = 0;
  wLastMax = 0;
  /** K in seconds (set when an epoch starts). */
  k = 0;
  /** Start of the current congestion-avoidance epoch, µs; -1 = not started. */
  epochStart = -1;
  /** W_est in segments (RFC 9438 §4.3; set when an epoch starts). */
  wEst = 0;
  caAcc = 0;
}

export class Cubic implements CongestionController {
  get name(): 'cubic' {
    return 'cubic';
  }
  cwnd = 0;
  ssthresh = 0x7fffffff;
  /** Congestion-avoidance state, made on first use. */
  private ep: CubicEpoch | null = null;

  init(mss: number, initialSegments: number, _now: Instant): void {
    this.cwnd = initialWindow(mss, initialSegments);
    this.ssthresh = 0x7fffffff;
    this.ep = null;
  }

  onAck(acked: number, mss: number, now: Instant, srttUs: number): void {
    if (this.cwnd < this.ssthresh) {
      this.cwnd = slowStartIncrease(this.cwnd, acked, mss);
      return;
    }
    const e = (this.ep ??= new CubicEpoch());
    const cwndSeg = this.cwnd / mss;
    if (e.epochStart < 0) {
      // RFC 9438 §4.2: a new epoch begins with the first ACK in congestion avoidance.
      e.epochStart = now;
      if (e.wMax <= cwndSeg) {
        e.k = 0;
        e.wMax = cwndSeg;
      } else {
        e.k = Math.cbrt((e.wMax - cwndSeg) / C);
      }
      e.wEst = cwndSeg;
    }
    const rtt = srttUs > 0 ? srttUs / 1e6 : 0.1;
    const t = (now - e.epochStart) / 1e6;
    // W_est += alpha_cubic * segments_acked / cwnd (RFC 9438 §4.3).
    e.wEst += (ALPHA * (acked / mss)) / cwndSeg;
    // Target: W_cubic(t + RTT), clamped to [cwnd, 1.5 cwnd] (RFC 9438 §4.4).
    const wCubic = C * (t + rtt - e.k) ** 3 + e.wMax;
    let target = Math.min(Math.max(wCubic, cwndSeg), 1.5 * cwndSeg);
    // Reno-friendly region (§4.3): not slower than W_est — within the same clamp.
    if (C * (t - e.k) ** 3 + e.wMax < e.wEst) target = Math.max(target, Math.min(e.wEst, 1.5 * cwndSeg));
    // Increase by (target − cwnd)/cwnd per acknowledged segment, and by at
    // most half a segment per segment acknowledged (as Linux): a stretch ACK
    // covering a whole window must not grow cwnd in one step.
    e.caAcc += Math.min(((target - cwndSeg) / cwndSeg) * acked, acked / 2);
    if (e.caAcc >= 1) {
      const inc = Math.floor(e.caAcc);
      this.cwnd += inc;
      e.caAcc -= inc;
    }
  }

  onCongestionEvent(flight: number, mss: number, _now: Instant): void {
    const e = (this.ep ??= new CubicEpoch());
    const cwndSeg = this.cwnd / mss;
    // RFC 9438 §4.7 fast convergence.
    if (cwndSeg < e.wLastMax) e.wMax = (cwndSeg * (1 + BETA)) / 2;
    else e.wMax = cwndSeg;
    e.wLastMax = cwndSeg;
    // §4.6: ssthresh = flight_size * beta_cubic (at least 2 segments); the
    // flight, not a cwnd that slow start may have inflated past it.
    this.ssthresh = Math.max(Math.floor(Math.min(flight, this.cwnd) * BETA), 2 * mss);
    this.cwnd = this.ssthresh;
    e.epochStart = -1;
    e.caAcc = 0;
  }

  onRto(flight: number, mss: number, now: Instant): void {
    this.onCongestionEvent(flight, mss, now);
    // §4.8: after a timeout, cwnd restarts from one segment (slow start).
    this.cwnd = mss;
  }

  onIdleRestart(mss: number, initialSegments: number, _now: Instant): void {
    this.cwnd = Math.min(this.cwnd, initialWindow(mss, initialSegments));
    if (this.ep) this.ep.epochStart = -1;
  }
}
