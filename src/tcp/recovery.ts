/**
 * SACK scoreboard and RACK-TLP loss detection (RFC 8985), with SACK-based
 * recovery in the spirit of RFC 6675 (retransmit what is lost while the
 * data in flight — the "pipe" — is under cwnd).
 *
 * Used when both sides negotiated SACK. Without SACK the connection keeps
 * RFC 5681 fast retransmit and RFC 6582 NewReno recovery.
 *
 * The scoreboard is a list of the segments sent and not yet cumulatively
 * acknowledged, each with its (last) transmission time. Sequence numbers are
 * int32 (see seq.ts). Times in microseconds. A connection has one while
 * something it sent is outstanding: made for the first data segment (or
 * FIN) of a flight, dropped once everything is acknowledged outside
 * recovery (tcp/sender.ts releaseIdleBoard); what RACK learnt of the path,
 * RACK.min_RTT and RACK.reordering_seen, passes from one board to the next
 * through the connection.
 */
import type { Instant } from '../base/time.ts';
import { seqDiff, seqGe, seqGt, seqLe, seqLt } from './seq.ts';

export interface SentSegment {
  start: number;
  end: number;
  xmitAt: Instant;
  /** Sent more than once (its RTT sample is ambiguous). */
  retransmitted: boolean;
  sacked: boolean;
  /** Marked lost and not yet retransmitted. */
  lost: boolean;
}

/**
 * The empty segment list, shared: a board whose data is all acknowledged
 * keeps no array of its own (onSend makes one). Frozen, so that nothing
 * can ever add to it.
 */
const NO_SEGS: SentSegment[] = Object.freeze([]) as unknown as SentSegment[];

/** Not armed / no sample yet, as stored: instants and RTTs are never negative, and a small integer keeps the field out of V8's double representation (no heap number per board). */
const UNSET = -1;

/** Scoreboard.bits. */
const B_FACK_VALID = 1;
const B_REORDERING_SEEN = 2;
const B_TLP_IN_FLIGHT = 4;

/** RFC 8985 §6.3: WCDelAckT, the worst-case delayed-ACK time added to a PTO for a single segment in flight. */
const WC_DEL_ACK_US = 200_000;

/**
 * RFC 6937 §3, the amount PRR lets one ACK during recovery send:
 *
 *   "if (pipe > ssthresh) {
 *      // Proportional Rate Reduction
 *      sndcnt = CEIL(prr_delivered * ssthresh / RecoverFS) - prr_out
 *   } else {
 *      // Two versions of the Reduction Bound
 *      if (conservative) {    // PRR-CRB
 *        limit = prr_delivered - prr_out
 *      } else {               // PRR-SSRB
 *        limit = MAX(prr_delivered - prr_out, DeliveredData) + MSS
 *      }
 *      // Attempt to catch up, as permitted by limit
 *      sndcnt = MIN(ssthresh - pipe, limit)
 *   }"
 *
 * `prrDelivered` already includes this ACK's DeliveredData ("prr_delivered
 * += DeliveredData" comes first). May be ≤ 0 (send nothing). synack uses
 * PRR-SSRB, the RFC's recommendation ("we believe that there is no reason
 * not to ... deploy PRR-SSRB").
 */
export function prrSndcnt(p: { prrDelivered: number; prrOut: number; recoverFs: number; ssthresh: number; pipe: number; deliveredData: number; mss: number; conservative?: boolean }): number {
  if (p.pipe > p.ssthresh) return Math.ceil((p.prrDelivered * p.ssthresh) / Math.max(1, p.recoverFs)) - p.prrOut;
  const limit = p.conservative ? p.prrDelivered - p.prrOut : Math.max(p.prrDelivered - p.prrOut, p.deliveredData) + p.mss;
  return Math.min(p.ssthresh - p.pipe, limit);
}

export class Scoreboard {
  /** Segments sent and not cumulatively acknowledged, from `head` on (a queue without splicing). */
  private segsArr: SentSegment[] = NO_SEGS;
  private head = 0;
  /** RACK.xmit_ts and RACK.end_seq: the most recently sent segment known delivered. */
  rackXmitAt = -1;
  rackEndSeq = 0;
  /** RACK.rtt: the RTT of that segment. */
  rackRtt = 0;
  private minRttRaw = UNSET;
  /** The smallest RTT of a delivered segment (Infinity before the first). */
  get minRtt(): number {
    return this.minRttRaw === UNSET ? Infinity : this.minRttRaw;
  }
  set minRtt(v: number) {
    this.minRttRaw = v === Infinity ? UNSET : v;
  }
  /** Highest SACKed sequence (to notice reordering). */
  private fack = 0;
  /** fackValid, reorderingSeen and tlpInFlight, one bit each. */
  private bits = 0;
  private get fackValid(): boolean {
    return (this.bits & B_FACK_VALID) !== 0;
  }
  private set fackValid(v: boolean) {
    this.bits = v ? this.bits | B_FACK_VALID : this.bits & ~B_FACK_VALID;
  }
  /** RFC 8985 §6.2 RACK.reordering_seen. */
  get reorderingSeen(): boolean {
    return (this.bits & B_REORDERING_SEEN) !== 0;
  }
  set reorderingSeen(v: boolean) {
    this.bits = v ? this.bits | B_REORDERING_SEEN : this.bits & ~B_REORDERING_SEEN;
  }
  /** Bytes SACKed above SND.UNA. */
  sackedBytes = 0;
  /** Bytes marked lost and not yet retransmitted. */
  lostBytes = 0;
  /** RACK reordering timer and tail-loss-probe timer (the connection's accessors read these). */
  private rackAtRaw: Instant = UNSET;
  private tlpAtRaw: Instant = UNSET;
  get rackAt(): Instant {
    return this.rackAtRaw === UNSET ? Infinity : this.rackAtRaw;
  }
  set rackAt(v: Instant) {
    this.rackAtRaw = v === Infinity ? UNSET : v;
  }
  get tlpAt(): Instant {
    return this.tlpAtRaw === UNSET ? Infinity : this.tlpAtRaw;
  }
  set tlpAt(v: Instant) {
    this.tlpAtRaw = v === Infinity ? UNSET : v;
  }
  /** A tail loss probe is outstanding (the connection's accessor reads this). */
  get tlpInFlight(): boolean {
    return (this.bits & B_TLP_IN_FLIGHT) !== 0;
  }
  set tlpInFlight(v: boolean) {
    this.bits = v ? this.bits | B_TLP_IN_FLIGHT : this.bits & ~B_TLP_IN_FLIGHT;
  }
  /** RFC 6937 PRR counters, valid during recovery: made when first set (a board that never recovered has none; 0 until then). */
  private prr: { delivered: number; out: number; recoverFs: number } | null = null;
  private prrState(): { delivered: number; out: number; recoverFs: number } {
    return (this.prr ??= { delivered: 0, out: 0, recoverFs: 0 });
  }
  get prrDelivered(): number {
    return this.prr ? this.prr.delivered : 0;
  }
  set prrDelivered(v: number) {
    this.prrState().delivered = v;
  }
  get prrOut(): number {
    return this.prr ? this.prr.out : 0;
  }
  set prrOut(v: number) {
    this.prrState().out = v;
  }
  get recoverFs(): number {
    return this.prr ? this.prr.recoverFs : 0;
  }
  set recoverFs(v: number) {
    this.prrState().recoverFs = v;
  }

  /**
   * @param minRtt RACK.min_RTT learnt by an earlier board of the same
   *   connection, in µs (-1: none), and
   * @param reorderingSeen its RACK.reordering_seen: a connection keeps the
   *   two while it has no board (tcp/sender.ts releaseIdleBoard).
   */
  constructor(minRtt: number = UNSET, reorderingSeen = false) {
    this.minRttRaw = minRtt;
    if (reorderingSeen) this.bits = B_REORDERING_SEEN;
  }

  /** RACK.min_RTT as a connection keeps it between boards: µs, -1 before the first sample. */
  get minRttUs(): number {
    return this.minRttRaw;
  }

  /** The live segments, oldest first (a fresh array: for tests and diagnostics). */
  get segs(): SentSegment[] {
    return this.segsArr.slice(this.head);
  }

  /** Records a transmission of [start, end): new data is appended, a retransmission updates its entry. */
  onSend(start: number, end: number, now: Instant, retransmission = false): void {
    let a = this.segsArr;
    const last = a.length > this.head ? a[a.length - 1] : undefined;
    if (!last || seqGe(start, last.end)) {
      // (After a timeout the board restarts empty: re-sent data enters it
      // marked as a retransmission, so its RTT is never trusted.)
      if (a === NO_SEGS) a = this.segsArr = [];
      a.push({ start, end, xmitAt: now, retransmitted: retransmission, sacked: false, lost: false });
      return;
    }
    for (let i = this.head; i < a.length; i++) {
      const s = a[i]!;
      if (s.start === start) {
        if (s.lost) {
          s.lost = false;
          this.lostBytes -= seqDiff(s.end, s.start);
        }
        s.retransmitted = true;
        s.xmitAt = now;
        return;
      }
    }
  }

  /**
   * Processes a cumulative ACK and SACK blocks. Returns the bytes newly
   * delivered (cumulatively acknowledged without having been SACKed, or
   * newly SACKed): RFC 6937's DeliveredData, and the cue for loss detection.
   */
  onAck(una: number, blocks: Array<[number, number]> | undefined, now: Instant): number {
    let delivered = 0;
    const a = this.segsArr;
    // Cumulatively acknowledged segments leave the scoreboard.
    let n = this.head;
    while (n < a.length && seqLe(a[n]!.end, una)) {
      const s = a[n]!;
      if (!s.sacked) {
        this.rackUpdate(s, now);
        delivered += seqDiff(s.end, s.start);
      } else {
        this.sackedBytes -= seqDiff(s.end, s.start);
      }
      if (s.lost) this.lostBytes -= seqDiff(s.end, s.start);
      n++;
    }
    this.head = n;
    if (this.head === a.length) {
      this.segsArr = NO_SEGS;
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > a.length) {
      this.segsArr = a.slice(this.head);
      this.head = 0;
    }
    if (blocks) {
      const live = this.segsArr;
      for (const [l, r] of blocks) {
        const left = l | 0;
        const right = r | 0;
        if (!seqLt(left, right) || seqLe(right, una)) continue;
        for (let i = this.head; i < live.length; i++) {
          const s = live[i]!;
          if (seqGe(s.start, right)) break;
          if (s.sacked || seqLt(s.start, left) || seqGt(s.end, right)) continue;
          s.sacked = true;
          this.sackedBytes += seqDiff(s.end, s.start);
          if (s.lost) {
            s.lost = false;
            this.lostBytes -= seqDiff(s.end, s.start);
          }
          // A segment below the highest SACKed one, delivered without having
          // been retransmitted: the network reordered (RFC 8985 §6.2 step 3).
          if (this.fackValid && seqLt(s.end, this.fack) && !s.retransmitted) this.reorderingSeen = true;
          if (!this.fackValid || seqGt(s.end, this.fack)) {
            this.fack = s.end;
            this.fackValid = true;
          }
          this.rackUpdate(s, now);
          delivered += seqDiff(s.end, s.start);
        }
      }
    }
    return delivered;
  }

  /** RFC 8985 §6.2 step 2: RACK_update for one delivered segment. */
  private rackUpdate(s: SentSegment, now: Instant): void {
    const rtt = now - s.xmitAt;
    // "If the segment has been retransmitted and the RTT is shorter than the
    // minimum RTT, the ACK is probably for the original: skip it."
    if (s.retransmitted && rtt < this.minRtt) return;
    if (rtt < this.minRtt) this.minRtt = rtt;
    if (s.xmitAt > this.rackXmitAt || (s.xmitAt === this.rackXmitAt && seqGt(s.end, this.rackEndSeq))) {
      this.rackXmitAt = s.xmitAt;
      this.rackEndSeq = s.end;
      this.rackRtt = rtt;
    }
  }

  /** RFC 8985 §6.2 step 4: the reordering window. */
  reoWnd(inRecovery: boolean, srtt: number): number {
    if (!this.reorderingSeen && (inRecovery || this.sackedBytes > 0 && this.sackedSegments() >= 3)) return 0;
    const base = this.minRtt === Infinity ? 0 : this.minRtt / 4;
    return srtt > 0 ? Math.min(base, srtt) : base;
  }

  private sackedSegments(): number {
    let k = 0;
    for (let i = this.head; i < this.segsArr.length; i++) if (this.segsArr[i]!.sacked) k++;
    return k;
  }

  /**
   * RFC 8985 §6.2 step 5, RACK_detect_loss: a segment sent before the most
   * recently delivered one is lost once RACK.rtt + reo_wnd has passed since
   * it was sent. Returns newly lost bytes and the earliest time a pending
   * segment would be declared lost (Infinity if none).
   */
  detectLoss(now: Instant, reoWnd: number): { newlyLost: number; timeoutAt: Instant } {
    let newlyLost = 0;
    let timeoutAt = Infinity;
    if (this.rackXmitAt < 0) return { newlyLost, timeoutAt };
    const a = this.segsArr;
    for (let i = this.head; i < a.length; i++) {
      const s = a[i]!;
      if (s.sacked || s.lost) continue;
      const older = s.xmitAt < this.rackXmitAt || (s.xmitAt === this.rackXmitAt && seqLt(s.end, this.rackEndSeq));
      if (!older) continue;
      const deadline = s.xmitAt + this.rackRtt + reoWnd;
      if (deadline <= now) {
        s.lost = true;
        const len = seqDiff(s.end, s.start);
        this.lostBytes += len;
        newlyLost += len;
      } else if (deadline < timeoutAt) {
        timeoutAt = deadline;
      }
    }
    return { newlyLost, timeoutAt };
  }

  /** The first segment marked lost (to retransmit), if any. */
  firstLost(): SentSegment | null {
    if (this.lostBytes <= 0) return null;
    const a = this.segsArr;
    for (let i = this.head; i < a.length; i++) if (a[i]!.lost && !a[i]!.sacked) return a[i]!;
    return null;
  }

  /** The highest segment not SACKed (what a tail loss probe retransmits). */
  lastUnsacked(): SentSegment | null {
    const a = this.segsArr;
    for (let i = a.length - 1; i >= this.head; i--) if (!a[i]!.sacked) return a[i]!;
    return null;
  }

  /** RFC 6675 "pipe": bytes outstanding, not SACKed and not considered lost. */
  pipe(sndUna: number, sndMax: number): number {
    return Math.max(0, seqDiff(sndMax, sndUna) - this.sackedBytes - this.lostBytes);
  }

  /** RFC 8985 §7.2: the probe timeout. */
  static pto(srtt: number, flightSegments: number): number {
    let pto = 2 * srtt;
    if (flightSegments <= 1) pto += WC_DEL_ACK_US;
    return Math.max(pto, 10_000);
  }

  clear(): void {
    this.segsArr = NO_SEGS;
    this.head = 0;
    this.sackedBytes = 0;
    this.lostBytes = 0;
    this.fackValid = false;
  }
}
