/**
 * NewReno's window law (RFC 5681): slow start, then one SMSS per RTT in
 * congestion avoidance; halve on loss. Recovery itself (RFC 6582) is in the
 * connection.
 */
import type { Instant } from '../../base/time.ts';
import { initialWindow, slowStartIncrease, type CongestionController } from './controller.ts';

export class NewReno implements CongestionController {
  get name(): 'newreno' {
    return 'newreno';
  }
  cwnd = 0;
  ssthresh = 0x7fffffff;
  private acc = 0;

  init(mss: number, initialSegments: number, _now: Instant): void {
    this.cwnd = initialWindow(mss, initialSegments);
    // RFC 5681 §3.1: "The initial value of ssthresh SHOULD be set arbitrarily high".
    this.ssthresh = 0x7fffffff;
    this.acc = 0;
  }

  onAck(acked: number, mss: number, _now: Instant, _srtt: number): void {
    if (this.cwnd < this.ssthresh) {
      this.cwnd = slowStartIncrease(this.cwnd, acked, mss);
      return;
    }
    // RFC 5681 §3.1 with byte counting: cwnd += SMSS once per cwnd of bytes ACKed.
    this.acc += acked;
    if (this.acc >= this.cwnd) {
      this.acc -= this.cwnd;
      this.cwnd += mss;
    }
  }

  onCongestionEvent(flight: number, mss: number, _now: Instant): void {
    // RFC 5681 §3.2 (2): ssthresh = max(FlightSize / 2, 2*SMSS).
    this.ssthresh = Math.max(flight >> 1, 2 * mss);
    this.cwnd = this.ssthresh;
    this.acc = 0;
  }

  onRto(flight: number, mss: number, _now: Instant): void {
    this.ssthresh = Math.max(flight >> 1, 2 * mss);
    this.cwnd = mss;
    this.acc = 0;
  }

  onIdleRestart(mss: number, initialSegments: number, _now: Instant): void {
    this.cwnd = Math.min(this.cwnd, initialWindow(mss, initialSegments));
  }
}
