/**
 * Congestion control behind one small interface (smoltcp's hooks, Linux's
 * tcp_congestion_ops). The controller owns cwnd and ssthresh and decides how
 * they grow and shrink; loss detection and recovery (fast retransmit, NewReno
 * partial ACKs, RTO) live in the connection and call these hooks.
 *
 * All sizes in bytes, times in microseconds.
 */
import type { Instant } from '../../base/time.ts';

export type CongestionAlgorithm = 'newreno' | 'cubic';

export interface CongestionController {
  readonly name: CongestionAlgorithm;
  cwnd: number;
  ssthresh: number;
  /** Connection established: initial window (RFC 6928 IW10 by default). */
  init(mss: number, initialSegments: number, now: Instant): void;
  /** New data acknowledged outside recovery; `srttUs` is the smoothed RTT (0 = unknown). */
  onAck(ackedBytes: number, mss: number, now: Instant, srttUs: number): void;
  /** Fast retransmit entered recovery: set ssthresh (and cwnd) for the loss. */
  onCongestionEvent(flightBytes: number, mss: number, now: Instant): void;
  /** The retransmission timer expired (RFC 5681 §3.1 (4): cwnd = 1 segment). */
  onRto(flightBytes: number, mss: number, now: Instant): void;
  /** RFC 5681 §4.1 restart after idle: cwnd = min(cwnd, RW). */
  onIdleRestart(mss: number, initialSegments: number, now: Instant): void;
}

/** RFC 5681 slow start with RFC 3465 appropriate byte counting (L = 2 SMSS). */
export function slowStartIncrease(cwnd: number, acked: number, mss: number): number {
  return cwnd + Math.min(acked, 2 * mss);
}

/** RFC 6928: IW = min(10*MSS, max(2*MSS, 14600)) for the default of 10 segments. */
export function initialWindow(mss: number, segments: number): number {
  return segments === 10 ? Math.min(10 * mss, Math.max(2 * mss, 14600)) : segments * mss;
}
