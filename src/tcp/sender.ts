/**
 * The sender's side of an acknowledgment, for one Connection: SND.UNA
 * advances and the send buffer shrinks, RTT samples (Karn, RFC 7323 §4.1),
 * congestion control (tcp/congestion) and loss recovery — NewReno (RFC
 * 6582) without SACK, the scoreboard with RACK-TLP and PRR (RFC 8985, RFC
 * 6937, tcp/recovery.ts) with it — the ECN echo (RFC 3168), and the path
 * MTU changing under a connection (RFC 1191, RFC 4821). Connection's
 * methods of the same names call these.
 */
import type { TcpRepr } from '../wire/types.ts';
import { ACK, ECE, FIN, PSH, SYN } from '../wire/types.ts';
import { findSack, findTimestamp } from '../wire/tcp-options.ts';
import type { Instant } from '../base/time.ts';
import type { Connection } from './connection.ts';
import { EV_WRITABLE } from './events.ts';
import { EMPTY } from './send-buffer.ts';
import { seqAdd, seqDiff, seqEq, seqGe, seqGt, seqLe, seqLt } from './seq.ts';
import { Scoreboard, prrSndcnt } from './recovery.ts';
import * as plpmtud from './mtu-probe.ts';

const NEVER = Infinity;

/**
 * New data acknowledged: advance SND.UNA, release the buffer, sample the
 * RTT (Karn), grow cwnd (slow start / congestion avoidance with RFC 3465
 * byte counting, L = 2*SMSS), and handle NewReno recovery (RFC 6582).
 */
export function onAckAdvance(c: Connection, ack: number, tsecr = 0): void {
  const acked = seqDiff(ack, c.sndUna);
  // Data bytes acknowledged (not SYN or FIN).
  const dataAckedTo = seqGt(ack, c.dataEnd()) ? c.dataEnd() : ack;
  const dataAcked = seqDiff(dataAckedTo, c.bufSeq);
  if (dataAcked > 0 && c.sendBuf) {
    c.sendBuf.consume(dataAcked);
    c.bufSeq = dataAckedTo | 0;
  }
  c.sndUna = ack | 0;
  if (seqLt(c.sndNxt, ack)) c.sndNxt = ack | 0;
  if (seqGe(ack, c.sndUp)) c.sndUrgent = false;
  if (c.rttTiming && seqGt(ack, c.rttSeq)) {
    c.rttTiming = false;
    c.rtt.sample(c.now - c.rttStart);
  } else if (c.tsEnabled && tsecr !== 0 && !c.rttTiming) {
    // RFC 7323 §4.1: an RTT sample from the echoed timestamp, valid even
    // for retransmitted segments.
    const ms = (c.tsNow() - tsecr) | 0;
    if (ms >= 0 && ms < 3_600_000) c.rtt.sample(ms * 1000);
  }
  c.retries = 0;
  c.persistBackoff = 0;
  c.rtt.backoff = 0;
  c.tlpInFlight = false;
  c.unackedSince = c.sndUna === c.sndMax ? NEVER : c.now;
  // Congestion control.
  if (c.inRecovery && c.board) {
    // SACK recovery ends when everything outstanding at its start is acknowledged.
    if (seqGe(ack, c.recover)) {
      c.inRecovery = false;
      c.cwnd = c.ssthresh;
    }
  } else if (c.inRecovery) {
    if (seqGe(ack, c.recover)) {
      // RFC 6582 §3.2 (3) full acknowledgment: deflate.
      c.inRecovery = false;
      c.cwnd = Math.min(c.ssthresh, Math.max(seqDiff(c.sndMax, c.sndUna), c.sndMss) + c.sndMss);
    } else {
      // (4) partial acknowledgment: retransmit the first unacknowledged
      // segment, deflate by the amount acknowledged, add back one SMSS.
      retransmitFirst(c, 'fast');
      c.cwnd = Math.max(c.sndMss, c.cwnd - acked + c.sndMss);
    }
  } else {
    c.cc.onAck(acked, c.sndMss, c.now, c.rtt.srtt);
  }
  c.dupAcks = 0;
  // RFC 4821 §7.6.1: an outstanding path MTU probe delivered (tcp/mtu-probe.ts).
  if (c.sndMss < c.advMss) plpmtud.onAck(c);
  // RFC 6298 (5.2)/(5.3): all outstanding data acknowledged → stop the
  // timer; otherwise restart it.
  // While persisting only the probe byte is in flight: the persist timer,
  // not the retransmission timer, covers it.
  if (c.sndUna === c.sndMax || c.persistAt !== NEVER) c.rtxAt = NEVER;
  else c.armRtx();
  const buf = c.sendBuf;
  // Everything written was acknowledged: an idle TCB keeps no send buffer
  // (the next SEND makes one; tcp/user-calls.ts).
  if (buf && buf.length === 0) c.sendBuf = null;
  if (buf && dataAcked > 0) c.host.event(c, EV_WRITABLE);
}

/** A duplicate ACK (RFC 5681 §2): three trigger fast retransmit (§3.2), NewReno recovery (RFC 6582). */
export function onDupAck(c: Connection): void {
  c.dupAcks++;
  // With SACK, RACK detects losses from the SACK blocks (RFC 8985).
  if (c.board) return;
  if (c.dupAcks === 3 && !c.inRecovery && plpmtud.headLost(c)) {
    // RFC 4821 §7.6.2: only the path MTU probe was lost — the path is
    // smaller than the probe, not congested. No congestion response (as
    // Linux: "MTU probe failure: don't reduce cwnd"); the probe's bytes go
    // again in segments of the current MSS (Linux tcp_simple_retransmit).
    const [from, to] = plpmtud.probeRange(c)!;
    resend(c, from, to, 'fast');
    return;
  }
  if (c.inRecovery) {
    c.cwnd += c.sndMss;
    return;
  }
  // RFC 6582 §3.2 (2): only when the cumulative ACK covers more than
  // `recover` (avoids multiple reductions per window of data).
  if (c.dupAcks === 3 && seqGt(c.sndUna, c.recover)) {
    const flight = seqDiff(c.sndMax, c.sndUna);
    c.cc.onCongestionEvent(flight, c.sndMss, c.now);
    c.inRecovery = true;
    c.recover = c.sndMax;
    retransmitFirst(c, 'fast');
    c.cwnd = c.ssthresh + 3 * c.sndMss;
  }
}

/**
 * Resend the segment at SND.UNA without moving SND.NXT. A retransmission
 * carries only what was sent before, [SND.UNA, SND.MAX): bytes queued but
 * never sent lie beyond SND.MAX, and an ACK of them would be "an ACK of
 * something not yet sent" (§3.10.7.4 fifth) — dropped, and a stall.
 */
export function retransmitFirst(c: Connection, kind: 'fast' | 'rto'): void {
  const dataEnd = c.dataEnd();
  const avail = seqDiff(dataEnd, c.sndUna);
  const len = Math.min(c.unackedData(), c.sndMss - c.optionOverhead());
  let flags = ACK;
  if (len === avail && c.finQueued && c.finSent()) flags |= FIN;
  if (len === 0 && !(flags & FIN)) return;
  if (len > 0) flags |= PSH;
  c.retransmits++;
  c.rttTiming = false;
  c.host.event(c, { type: 'retransmit', kind, seq: c.sndUna, len });
  c.emit(c.sndUna, flags, len > 0 ? c.sendBuf!.slice(seqDiff(c.sndUna, c.bufSeq), len) : EMPTY);
  c.armRtx();
}

/** Every acceptable ACK: update the scoreboard from SEG.ACK and its SACK blocks, then detect losses. */
export function onAckForRecovery(c: Connection, ack: number, blocks: Array<[number, number]> | undefined): void {
  const board = c.board;
  if (!board) return;
  const delivered = board.onAck(ack, blocks, c.now);
  if (delivered > 0) rackDetectLoss(c);
  if (c.inRecovery && delivered > 0 && seqLt(ack, c.recover)) {
    // RFC 6937 PRR: send in proportion to what the network delivers, so
    // that by the end of recovery the flight is ssthresh, not a burst.
    c.board!.prrDelivered += delivered;
    // After a go-back-N rollback only what was re-sent is in flight.
    const pipe = board.pipe(ack, seqLt(c.sndNxt, c.sndMax) ? c.sndNxt : c.sndMax);
    // Below ssthresh, PRR-SSRB: slow start back up to ssthresh, at most one MSS beyond what was delivered.
    const b = c.board!;
    const sndcnt = prrSndcnt({ prrDelivered: b.prrDelivered, prrOut: b.prrOut, recoverFs: b.recoverFs, ssthresh: c.ssthresh, pipe, deliveredData: delivered, mss: c.sndMss });
    c.cwnd = pipe + Math.max(0, sndcnt);
  }
  if (seqGt(c.sndMax, c.sndUna)) armTlp(c);
  else c.tlpAt = NEVER;
}

/** RFC 8985 §6.2 step 5; entering recovery once per episode (RFC 6675 §5). */
export function rackDetectLoss(c: Connection): void {
  const board = c.board;
  // Without SACK information every delivered segment was the oldest
  // outstanding one: nothing older can be lost (and the scan is skipped on
  // the clean-path hot path).
  if (!board || board.sackedBytes === 0) {
    c.rackAt = NEVER;
    return;
  }
  const { newlyLost, timeoutAt } = board.detectLoss(c.now, board.reoWnd(c.inRecovery, c.rtt.srtt));
  c.rackAt = timeoutAt;
  // RFC 4821 §7.6.2: when the path MTU probe is the only loss, it is no
  // congestion signal: no recovery episode; output() resends it in segments
  // of the current MSS (retransmitLost). Lost with others, its result is
  // inconclusive (§7.6.3) and the losses are answered as usual.
  if (newlyLost > 0 && !c.inRecovery && c.sndMss < c.advMss && plpmtud.rackLost(c)) return;
  // RFC 6675 §5 (and RFC 6582): a new recovery only once SND.UNA has passed
  // `recover` — not again for losses from the episode (or the RTO) just handled.
  if (newlyLost > 0 && !c.inRecovery && seqGt(c.sndUna, c.recover)) {
    const flight = seqDiff(c.sndMax, c.sndUna);
    c.cc.onCongestionEvent(flight, c.sndMss, c.now);
    c.inRecovery = true;
    c.recover = c.sndMax;
    // RFC 6937: RecoverFS = the flight at the start of recovery.
    c.board!.recoverFs = flight;
    c.board!.prrDelivered = 0;
    c.board!.prrOut = 0;
    c.cwnd = Math.max(c.sndMss, Math.min(c.cwnd, pipe(c, board) + c.sndMss));
  }
}

/** Retransmits segments marked lost while the pipe is under cwnd. */
/** Bytes in flight: after a go-back-N rollback only what was re-sent counts. */
export function pipe(c: Connection, board: Scoreboard): number {
  return board.pipe(c.sndUna, seqLt(c.sndNxt, c.sndMax) ? c.sndNxt : c.sndMax);
}

export function retransmitLost(c: Connection, board: Scoreboard): void {
  for (let s = board.firstLost(); s; s = board.firstLost()) {
    if (pipe(c, board) >= c.cwnd) return;
    resend(c, s.start, s.end, 'fast');
    board.onSend(s.start, s.end, c.now, true);
  }
}

/**
 * Sends [start, end) again (data, and the FIN when it falls inside), in
 * segments of the current MSS: a range sent before the MSS fell (an RFC 4821
 * probe, or a segment sent before a path MTU decrease) would not get through
 * whole.
 */
export function resend(c: Connection, start: number, end: number, kind: 'fast' | 'probe'): void {
  // Part of a scoreboard segment may already be acknowledged: never resend below SND.UNA.
  if (seqLt(start, c.sndUna)) start = c.sndUna;
  if (!seqLt(start, end)) return;
  const dataEnd = c.dataEnd();
  const dataTo = seqGt(end, dataEnd) ? dataEnd : end;
  const mss = Math.max(1, c.sndMss - c.optionOverhead());
  c.rttTiming = false;
  let seq = start;
  do {
    const len = Math.max(0, Math.min(mss, seqDiff(dataTo, seq)));
    const pieceEnd = seqAdd(seq, len);
    let flags = ACK;
    if (c.finQueued && seqGt(end, dataEnd) && !seqLt(pieceEnd, dataTo)) flags |= FIN;
    if (len > 0) flags |= PSH;
    c.retransmits++;
    c.host.event(c, { type: 'retransmit', kind, seq, len });
    c.emit(seq, flags, len > 0 ? c.sendBuf!.slice(seqDiff(seq, c.bufSeq), len) : EMPTY);
    seq = pieceEnd;
  } while (seqLt(seq, dataTo));
  if (c.inRecovery && c.board) c.board.prrOut += seqDiff(end, start);
  if (c.rtxAt === NEVER) c.armRtx();
}

/** RFC 8985 §7.2: arm the probe timeout when data is outstanding and an RTT is known. */
export function armTlp(c: Connection): void {
  // No probe timeout while the persist timer probes a zero window: a TLP
  // would only resend data into the closed window.
  if (!c.board || c.inRecovery || c.rtt.srtt === 0 || c.tlpInFlight || c.persistAt !== NEVER) {
    c.tlpAt = NEVER;
    return;
  }
  const flightSegs = Math.ceil(seqDiff(c.sndMax, c.sndUna) / Math.max(1, c.sndMss));
  c.tlpAt = c.now + Scoreboard.pto(c.rtt.srtt, flightSegs);
}

/**
 * RFC 8985 §7.3: on PTO expiry send one new segment if the peer's window
 * allows, otherwise retransmit the last unSACKed segment, so that a tail
 * loss produces a SACK (and RACK recovery) rather than waiting for the RTO.
 */
export function onTailLossProbe(c: Connection): void {
  const board = c.board;
  if (!board) return;
  if (!seqGt(c.sndMax, c.sndUna)) {
    // The probe timeout of a flight that was acknowledged meanwhile (a no-op):
    // the last timer of an idle board.
    releaseIdleBoard(c);
    return;
  }
  const dataEnd = c.dataEnd();
  const avail = seqDiff(dataEnd, c.sndNxt);
  const mss = c.sndMss - c.optionOverhead();
  if (avail > 0 && c.sndWnd - seqDiff(c.sndNxt, c.sndUna) >= Math.min(avail, mss)) {
    const seq = c.sndNxt;
    const len = Math.min(avail, mss);
    let flags = ACK | PSH;
    if (len === avail && c.finQueued) flags |= FIN;
    c.host.event(c, { type: 'retransmit', kind: 'probe', seq, len });
    c.tlpInFlight = true;
    c.emit(seq, flags, c.sendBuf!.slice(seqDiff(seq, c.bufSeq), len));
    c.afterSend(seq, len + (flags & FIN ? 1 : 0));
    c.tlpAt = NEVER;
    return;
  }
  const last = board.lastUnsacked();
  if (last) {
    c.tlpInFlight = true;
    resend(c, last.start, last.end, 'probe');
    board.onSend(last.start, last.end, c.now, true);
  }
  // The RTO stays where it is: it is the backstop if the probe is lost too.
  if (c.rtxAt === NEVER) c.armRtx();
}

/**
 * RFC 3168 §6.1.2: an ECE-marked ACK reduces the congestion window as a
 * loss would, at most once per window of data, and the next new segment
 * carries CWR.
 */
export function onEcnEcho(c: Connection): void {
  if (!c.ecnEnabled || c.inRecovery || !seqGe(c.sndUna, c.ecnRecover)) return;
  c.cc.onCongestionEvent(seqDiff(c.sndMax, c.sndUna), c.sndMss, c.now);
  c.ecnRecover = c.sndMax;
  c.ecnCwrPending = true;
  c.ecnReductions++;
}

/**
 * The path MTU changed (RFC 1191 PMTU discovery, an RFC 4821 black-hole
 * fallback, or an estimate aging out): segments now carry at most `mss`
 * bytes of TCP payload plus options, i.e. a path MTU of mss + 40. The
 * caller never raises it above what the peer's MSS option allows. On a
 * connection that met a black hole (tcp/mtu-probe.ts) a raise does not take
 * effect at once: it reopens the probe search up to `mss`, and probes
 * raise the MSS as far as the path carries.
 *
 * When it fell and `retransmit` is set, RFC 1191 §6.5: "the retransmission
 * could be done in immediate response to a notification that the Path MTU
 * has changed, but only for the specific connection specified by the
 * Datagram Too Big message." Everything outstanding went out too large,
 * so it all goes again from SND.UNA at the new size (go back N, as Linux's
 * tcp_simple_retransmit) without waiting for the RTO — and without a
 * congestion response: the loss was the path's MTU, not congestion. The
 * caller acts only when the MSS falls, so a burst of oversized segments
 * (one ICMP message each) retransmits once (RFC 1191 §6.5: "One MUST not
 * retransmit in response to every Datagram Too Big message"). Cut at the new
 * size, the flight may end in a short piece: output() sends it with the rest
 * (sender SWS avoidance holds back new data, not a resend), so every dropped
 * byte goes again the moment the first message arrives.
 * Returns whether the MSS changed.
 */
export function setPathMss(c: Connection, mss: number, now: Instant, retransmit: boolean): boolean {
  c.now = now;
  mss = Math.max(64, mss);
  const old = c.sndMss;
  if (mss === old) return false;
  // With RFC 4821 probing on, a raise reopens the search instead (tcp/mtu-probe.ts).
  if (plpmtud.onPathMssChange(c, mss, retransmit)) return false;
  c.sndMss = mss;
  const st = c.state;
  if (!retransmit || mss > old || !seqGt(c.sndMax, c.sndUna)) return true;
  if (st !== 'ESTABLISHED' && st !== 'CLOSE-WAIT' && st !== 'FIN-WAIT-1' && st !== 'CLOSING' && st !== 'LAST-ACK') return true;
  if (!seqGt(c.sndUna, c.iss)) return true; // only our SYN is outstanding
  c.board?.clear();
  c.rackAt = NEVER;
  c.tlpAt = NEVER;
  c.tlpInFlight = false;
  c.rttTiming = false; // Karn: what follows is a retransmission
  c.host.event(c, { type: 'retransmit', kind: 'pmtu', seq: c.sndUna, len: Math.min(seqDiff(c.sndMax, c.sndUna), mss) });
  c.sndNxt = c.sndUna;
  c.output();
  return true;
}

/**
 * §3.10.7.4 fifth step, for an acceptable ACK (the checks of
 * tcp/segment-arrives.ts passed): what it means for the sender — the ECN
 * echo, the SACK scoreboard, SND.UNA, duplicate ACKs, the send window.
 */
export function processAck(c: Connection, seg: TcpRepr): void {
  const ack = seg.ack;
  // At most 65535 << 14 (RFC 7323 §2.3): an int32, like every number stored
  // in the TCB (see Connection: no heap numbers in an idle TCB).
  const newWnd = seg.window << c.sndWndShift;
  if (seg.flags & ECE && c.ecnEnabled) onEcnEcho(c);
  // Scoreboard first (it must see what this ACK delivers), then SND.UNA.
  if (c.board) onAckForRecovery(c, ack, findSack(seg.options));
  if (seqGt(ack, c.sndUna)) {
    // "If SND.UNA < SEG.ACK =< SND.NXT, then set SND.UNA <- SEG.ACK. Any
    // segments on the retransmission queue that are thereby entirely
    // acknowledged are removed."
    onAckAdvance(c, ack, c.tsEnabled ? (findTimestamp(seg.options)?.tsecr ?? 0) : 0);
  } else if (
    // RFC 5681 §2: "DUPLICATE ACKNOWLEDGMENT: An acknowledgment is
    // considered a "duplicate" in the following algorithms when (a) the
    // receiver of the ACK has outstanding data, (b) the incoming
    // acknowledgment carries no data, (c) the SYN and FIN bits are both off,
    // (d) the acknowledgment number is equal to the greatest acknowledgment
    // received on the given connection (TCP.UNA from [RFC793]) and (e) the
    // advertised window in the incoming acknowledgment equals the advertised
    // window in the last incoming acknowledgment."
    // A zero-window probe is not outstanding data in the sense of (a) (BSD
    // tcp_input: "If we have outstanding data (other than a window probe)"),
    // and an ACK advertising a zero window says the peer has no room, not
    // that a segment was lost: neither is counted, so replies to probes never
    // trigger a fast retransmit into the closed window.
    seqEq(ack, c.sndUna) &&
    seg.payload.length === 0 &&
    !(seg.flags & (SYN | FIN)) &&
    newWnd === c.sndWnd &&
    newWnd > 0 &&
    c.persistAt === NEVER &&
    seqGt(c.sndMax, c.sndUna)
  ) {
    onDupAck(c);
  }
  // "If SND.UNA =< SEG.ACK =< SND.NXT, the send window should be updated. If
  // (SND.WL1 < SEG.SEQ or (SND.WL1 = SEG.SEQ and SND.WL2 =< SEG.ACK)), set
  // SND.WND <- SEG.WND, set SND.WL1 <- SEG.SEQ, and set SND.WL2 <- SEG.ACK."
  if (seqGe(ack, c.sndUna) && (seqLt(c.sndWl1, seg.seq) || (seqEq(c.sndWl1, seg.seq) && seqLe(c.sndWl2, ack)))) {
    const wasZero = c.sndWnd === 0;
    c.sndWnd = newWnd;
    c.sndWl1 = seg.seq | 0;
    c.sndWl2 = ack | 0;
    if (newWnd > c.maxSndWnd) c.maxSndWnd = newWnd;
    if (newWnd > 0) c.zeroWindowSince = -1;
    if (wasZero && newWnd > 0) {
      // The window reopens: resume at once. While persisting, only the probe
      // byte counted as sent; send again from SND.UNA (the peer may have
      // dropped the probe byte and everything beyond it).
      if (c.persistAt !== NEVER) c.sndNxt = c.sndUna;
      c.persistAt = NEVER;
      c.persistBackoff = 0;
    }
  }
  releaseIdleBoard(c);
}

/**
 * Everything sent is acknowledged, no recovery is under way and no RACK or
 * TLP deadline is armed (after the ACK that took the last byte, or when the
 * probe timeout armed before it expires, a no-op): the scoreboard goes (an
 * idle connection keeps none; the next data segment or FIN makes a new
 * one, tcp/output.ts afterSend). What RACK learnt of the
 * path stays in the TCB for the next board: RACK.min_RTT (the reordering
 * window is a quarter of it) and RACK.reordering_seen (RFC 8985 §6.2). An
 * empty board and none act alike otherwise: RACK.xmit_ts, RACK.rtt and the
 * highest SACKed sequence belong to segments older than anything sent
 * later, so they mark nothing lost before a new delivery replaces them; the
 * PRR counters are reset when a recovery begins.
 */
function releaseIdleBoard(c: Connection): void {
  const b = c.board;
  // (An armed deadline is left to expire as it would have: the timers, and
  // so the order of events, stay as they were.)
  if (b === null || c.inRecovery || c.sndUna !== c.sndMax || b.rackAt !== NEVER || b.tlpAt !== NEVER) return;
  c.rackMinRtt = b.minRttUs;
  c.rackReorderingSeen = b.reorderingSeen;
  c.board = null;
}

/**
 * The send window from the segment that synchronizes the connection:
 * "SND.WND <- SEG.WND, SND.WL1 <- SEG.SEQ, SND.WL2 <- SEG.ACK" (§3.10.7.3,
 * §3.10.7.4 fifth step in SYN-RECEIVED), `wl2` standing for SEG.ACK. RFC
 * 7323 §2.2: "The window field in a segment where the SYN bit is set (i.e.,
 * a <SYN> or <SYN,ACK>) MUST NOT be scaled"; any other is.
 */
export function initSendWindow(c: Connection, seg: TcpRepr, wl2: number): void {
  c.sndWnd = seg.flags & SYN ? seg.window | 0 : seg.window << c.sndWndShift;
  c.maxSndWnd = Math.max(c.maxSndWnd, c.sndWnd);
  c.sndWl1 = seg.seq | 0;
  c.sndWl2 = wl2 | 0;
}
