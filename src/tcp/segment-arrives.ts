/**
 * RFC 9293 §3.10.7 SEGMENT ARRIVES, step by step, for one connection.
 *
 * §3.10.7.1 (CLOSED: no TCB) lives in the stack (stack/rst.ts), because a
 * segment that reaches no connection has no Connection to process it.
 * Here: §3.10.7.2 LISTEN, §3.10.7.3 SYN-SENT and §3.10.7.4 "Other States",
 * in the RFC's order: sequence number, RST, security, SYN, ACK, URG, text,
 * FIN.
 *
 * Outputs are requested, not sent, where the RFC says "send an
 * acknowledgment": `c.ackNow = true` lets Connection.output() send one ACK
 * for the whole batch (MUST-58/MUST-59), piggybacked on data when possible.
 */
import type { TcpRepr } from '../wire/types.ts';
import { ACK, CWR, ECE, FIN, RST, SYN, URG } from '../wire/types.ts';
import type { Connection } from './connection.ts';
import { EV_CONNECTED, EV_END, EV_READABLE } from './events.ts';
import { EMPTY } from './send-buffer.ts';
import { RecvBuffer } from './recv-buffer.ts';
import { Assembler } from './assembler.ts';
import { findSack, findTimestamp } from '../wire/tcp-options.ts';
import { seqAdd, seqDiff, seqEq, seqGe, seqGt, seqInRange, seqLe, seqLt, seqMax } from './seq.ts';

export function segmentArrives(c: Connection, seg: TcpRepr): void {
  switch (c.state) {
    case 'CLOSED':
      // A deleted TCB: the stack answers per §3.10.7.1 before reaching here.
      return;
    case 'LISTEN':
      listenState(c, seg);
      return;
    case 'SYN-SENT':
      synSentState(c, seg);
      return;
    default:
      otherStates(c, seg);
  }
}

/**
 * May a new SYN (no ACK, no RST) reopen this connection, which is in
 * TIME-WAIT? (The stack then deletes this TCB and gives the SYN to the
 * listener.) RFC 9293 §3.6.1 and RFC 1122 4.2.2.13 allow it when the SYN's
 * sequence number is above the old incarnation's; RFC 6191 §2 adds the
 * timestamps:
 *
 * "If the previous incarnation of the connection used Timestamps, then:
 * - If TCP Timestamps would be enabled for the new incarnation of the
 *   connection, and the timestamp contained in the incoming SYN segment is
 *   greater than the last timestamp seen on the previous incarnation of the
 *   connection (for that direction of the data transfer), honor the
 *   connection request (creating a connection in the SYN-RECEIVED state).
 * - If TCP Timestamps would be enabled for the new incarnation of the
 *   connection, the timestamp contained in the incoming SYN segment is equal
 *   to the last timestamp seen on the previous incarnation of the connection
 *   (for that direction of the data transfer), and the Sequence Number of
 *   the incoming SYN segment is greater than the last sequence number seen
 *   on the previous incarnation of the connection (for that direction of
 *   the data transfer), honor the connection request ...
 * - If TCP Timestamps would not be enabled for the new incarnation of the
 *   connection, but the Sequence Number of the incoming SYN segment is
 *   greater than the last sequence number seen on the previous incarnation
 *   of the connection (for the same direction of the data transfer), honor
 *   the connection request ...
 * - Otherwise, silently drop the incoming SYN segment, thus leaving the
 *   previous incarnation of the connection in the TIME-WAIT state.
 * If the previous incarnation of the connection did not use Timestamps,
 * then: If the Sequence Number of the incoming SYN segment is greater than
 * the last sequence number seen on the previous incarnation ..., honor the
 * connection request ... Otherwise, silently drop the incoming SYN segment".
 *
 * "The last timestamp seen" is TS.Recent; "the last sequence number seen"
 * is RCV.NXT. A refused SYN goes on to the TIME-WAIT connection, which
 * answers it as RFC 9293 §3.10.7.4 says for a SYN in a synchronized state
 * (RFC 5961 §4: a rate-limited challenge ACK), as Linux does.
 */
export function timeWaitAcceptsSyn(c: Connection, seg: TcpRepr): boolean {
  const seqAbove = seqGt(seg.seq, c.rcvNxt);
  if (!c.tsEnabled) return seqAbove;
  const ts = c.config.timestamps ? findTimestamp(seg.options) : undefined;
  if (!ts) return seqAbove;
  if (seqGt(ts.tsval, c.tsRecent)) return true;
  return ts.tsval === c.tsRecent >>> 0 && seqAbove;
}

// -----------------------------------------------------------------------------
// §3.10.7.2 LISTEN STATE
// -----------------------------------------------------------------------------
function listenState(c: Connection, seg: TcpRepr): void {
  // "First, check for a RST: An incoming RST should be ignored. Return."
  if (seg.flags & RST) return;
  // "Second, check for an ACK: Any acknowledgment is bad if it arrives on a
  // connection still in the LISTEN state. An acceptable reset segment should
  // be formed for any arriving ACK-bearing segment: <SEQ=SEG.ACK><CTL=RST>"
  if (seg.flags & ACK) {
    if (c.config.listenAckReset || !(seg.flags & SYN)) c.sendRst(seg.ack, 0, RST);
    return;
  }
  // "Third, check for a SYN"
  if (seg.flags & SYN) {
    // (Security/compartment: synack carries no IP security option; every
    // SYN "matches".)
    // "Set RCV.NXT to SEG.SEQ+1, IRS is set to SEG.SEQ, and any other control
    // or text should be queued for processing later."
    c.irs = seg.seq;
    c.rcvNxt = seqAdd(seg.seq, 1);
    c.rcvAdv = c.rcvNxt;
    c.rcvUp = c.rcvNxt;
    c.applySynOptions(seg.options);
    // RFC 3168 §6.1.1: an ECN-setup SYN has both ECE and CWR.
    c.ecnEnabled = c.config.ecn && (seg.flags & (ECE | CWR)) === (ECE | CWR);
    queueSynText(c, seg);
    // "ISS should be selected and a SYN segment sent of the form:
    // <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>. SND.NXT is set to ISS+1 and SND.UNA
    // to ISS. The connection state should be changed to SYN-RECEIVED."
    c.initSend(c.host.chooseIss(c));
    // The window of a SYN is never scaled (RFC 7323 §2.2).
    c.sndWnd = seg.window;
    c.maxSndWnd = seg.window;
    c.sndWl1 = seg.seq;
    c.sndWl2 = 0;
    c.setState('SYN-RECEIVED', 'rcv SYN');
    c.sendSyn(true);
    c.rttTiming = true;
    c.rttSeq = c.iss;
    c.rttStart = c.now;
    c.armRtx();
    return;
  }
  // "Fourth, other data or control: This should not be reached. Drop the
  // segment and return."
}

/** Text and FIN that arrived on a SYN are held until the connection is ESTABLISHED. */
function queueSynText(c: Connection, seg: TcpRepr): void {
  const dataSeq = seqAdd(seg.seq, 1);
  if (seg.payload.length > 0) {
    const max = Math.min(c.config.recvBufferBytes, 65535);
    const data = seg.payload.length > max ? seg.payload.subarray(0, max) : seg.payload;
    ensureOoo(c).insert(c.rcvNxt, dataSeq, data);
    if (seg.flags & FIN && data.length === seg.payload.length) setPeerFin(c, seqAdd(dataSeq, data.length));
  } else if (seg.flags & FIN) {
    setPeerFin(c, dataSeq);
  }
}

// -----------------------------------------------------------------------------
// §3.10.7.3 SYN-SENT STATE
// -----------------------------------------------------------------------------
function synSentState(c: Connection, seg: TcpRepr): void {
  const hasAck = (seg.flags & ACK) !== 0;
  // "First, check the ACK bit: If the ACK bit is set, If SEG.ACK =< ISS or
  // SEG.ACK > SND.NXT, send a reset (unless the RST bit is set, if so drop
  // the segment and return) <SEQ=SEG.ACK><CTL=RST> and discard the segment."
  if (hasAck && (seqLe(seg.ack, c.iss) || seqGt(seg.ack, c.sndMax))) {
    if (!(seg.flags & RST)) c.sendRst(seg.ack, 0, RST);
    return;
  }
  // "If SND.UNA < SEG.ACK =< SND.NXT, then the ACK is acceptable."
  const ackOk = hasAck && seqLt(c.sndUna, seg.ack) && seqLe(seg.ack, c.sndMax);

  // "Second, check the RST bit: If the ACK was acceptable, then signal to the
  // user "error: connection reset", drop the segment, enter CLOSED state,
  // delete TCB, and return. Otherwise (no ACK), drop the segment and return."
  if (seg.flags & RST) {
    if (ackOk) c.terminate('refused', 'rcv RST');
    return;
  }

  // "Third, check the security": no IP security option in synack; nothing to do.

  // "Fourth, check the SYN bit"
  if (seg.flags & SYN) {
    // "RCV.NXT is set to SEG.SEQ+1, IRS is set to SEG.SEQ."
    c.irs = seg.seq;
    c.rcvNxt = seqAdd(seg.seq, 1);
    c.rcvAdv = seqAdd(c.rcvNxt, Math.min(65535, c.config.recvBufferBytes));
    c.rcvUp = c.rcvNxt;
    c.applySynOptions(seg.options);
    // RFC 3168 §6.1.1: an ECN-setup SYN,ACK has ECE and not CWR.
    c.ecnEnabled = c.config.ecn && hasAck && (seg.flags & (ECE | CWR)) === ECE;
    // "SND.UNA should be advanced to equal SEG.ACK (if there is an ACK), and
    // any segments on the retransmission queue that are thereby acknowledged
    // should be removed."
    if (ackOk) c.onAckAdvance(seg.ack);
    if (seqGt(c.sndUna, c.iss)) {
      // "If SND.UNA > ISS (our SYN has been ACKed), change the connection
      // state to ESTABLISHED, form an ACK segment <SEQ=SND.NXT><ACK=RCV.NXT>
      // <CTL=ACK> and send it."
      c.sndWnd = seg.window; // a SYN's window is never scaled (RFC 7323 §2.2)
      c.maxSndWnd = seg.window;
      c.sndWl1 = seg.seq;
      c.sndWl2 = seg.ack;
      c.initCongestion();
      c.setState('ESTABLISHED', 'rcv SYN,ACK');
      c.host.event(c, EV_CONNECTED);
      c.ackNow = true;
      c.armKeepAlive();
      // "If there are other controls or text in the segment, then continue
      // processing at the sixth step under Section 3.10.7.4 where the URG bit
      // is checked; otherwise, return."
      const rest: TcpRepr = { ...seg, seq: seqAdd(seg.seq, 1), flags: seg.flags & ~SYN };
      if (rest.payload.length > 0 || rest.flags & (FIN | URG)) {
        const trimmed = trimToWindow(c, rest);
        if (trimmed) fromSixthStep(c, rest, trimmed.payload, trimmed.fin);
      }
      return;
    }
    // "Otherwise, enter SYN-RECEIVED, form a SYN,ACK segment
    // <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK> and send it. Set the variables:
    // SND.WND <- SEG.WND, SND.WL1 <- SEG.SEQ, SND.WL2 <- SEG.ACK. If there are
    // other controls or text in the segment, queue them for processing after
    // the ESTABLISHED state has been reached, return."
    c.sndWnd = seg.window;
    c.maxSndWnd = seg.window;
    c.sndWl1 = seg.seq;
    c.sndWl2 = seg.ack;
    queueSynText(c, seg);
    c.setState('SYN-RECEIVED', 'rcv SYN (simultaneous open)');
    c.sendSyn(true);
    c.rttTiming = false;
    c.armRtx();
    return;
  }
  // "Fifth, if neither of the SYN or RST bits is set, then drop the segment
  // and return."
}

// -----------------------------------------------------------------------------
// §3.10.7.4 Other States
// -----------------------------------------------------------------------------

/** What remains of a segment after trimming to the window ("the idealized segment"). */
interface Trimmed {
  seq: number;
  payload: Uint8Array;
  fin: boolean;
}

function otherStates(c: Connection, seg: TcpRepr): void {
  if (
    c.state === 'SYN-RECEIVED' &&
    (seg.flags & (SYN | ACK | RST)) === (SYN | ACK) &&
    seqEq(seg.seq, c.irs) &&
    seqLt(c.sndUna, seg.ack) &&
    seqLe(seg.ack, c.sndMax)
  ) {
    // Simultaneous open, RFC 9293 §3.5 Figure 8 line 6: the peer's SYN,ACK
    // <SEQ=IRS><ACK=ISS+1> takes SYN-RECEIVED to ESTABLISHED. Its SYN was
    // already processed, so its sequence number lies just before RCV.NXT and
    // the literal acceptability test would reject it (Linux and BSD accept it
    // too): process it as the ACK that follows the SYN.
    seg = { ...seg, seq: seqAdd(seg.seq, 1), flags: seg.flags & ~SYN };
  }
  const f = seg.flags;
  c.lastRecvAt = c.now;
  c.keepAliveProbes = 0;

  // ---- RFC 7323 §5.3 PAWS, before the sequence number check -------------------
  // "R1) If there is a Timestamps option in the arriving segment, SEG.TSval <
  // TS.Recent, TS.Recent is valid (see Section 5.5), and if the RST bit is
  // not set, then treat the arriving segment as not acceptable: Send an
  // acknowledgment in reply as specified in RFC 793 page 69 and drop the
  // segment." §5.5: "The validity of TS.Recent needs to be checked only if
  // the basic PAWS timestamp check fails ... If TS.Recent is found to be
  // invalid, then the segment is accepted, regardless of the failure of the
  // timestamp check, and rule R3 updates TS.Recent with the TSval from the
  // new segment."
  const ts = c.tsEnabled ? findTimestamp(seg.options) : undefined;
  if (ts && !(f & RST) && seqLt(ts.tsval, c.tsRecent) && c.tsRecentValid()) {
    // The reply to a pure ACK is throttled like any reply to an unacceptable
    // ACK (as Linux's tcp_oow_rate_limited): two stacks must not ping-pong.
    // A SYN's reply is a challenge ACK (RFC 5961 §4), throttled as all are.
    if (f & SYN && c.state !== 'SYN-RECEIVED') challengeAck(c);
    else if (seg.payload.length > 0 || f & (SYN | FIN) || c.allowOowReply()) c.ackNow = true;
    c.host.drop?.(c, 'tcp-paws');
    return;
  }

  // ---- First, check sequence number ----------------------------------------
  const trimmed = trimToWindow(c, seg);
  if (!trimmed) {
    // "If an incoming segment is not acceptable, an acknowledgment should be
    // sent in reply (unless the RST bit is set, if so drop the segment and
    // return): <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>. After sending the
    // acknowledgment, drop the unacceptable segment and return."
    const pureAck = seg.payload.length === 0 && !(f & (SYN | FIN | RST));
    if (!(f & RST)) {
      if (f & SYN && c.state !== 'SYN-RECEIVED') {
        // RFC 5961 §4: a SYN is answered with a challenge ACK "irrespective
        // of the sequence number" — through the §7 throttle like every
        // challenge ACK.
        challengeAck(c);
      } else if (!pureAck || c.allowOowReply()) {
        // An unacceptable pure ACK is answered at most once per
        // challengeAckIntervalUs (as Linux's tcp_invalid_ratelimit): two
        // stacks that each find the other's ACKs unacceptable must not
        // ping-pong forever.
        c.ackNow = true;
      }
      // RFC 2883: an old duplicate's text is reported in a D-SACK block.
      if (seg.payload.length > 0) {
        const start = f & SYN ? seqAdd(seg.seq, 1) : seg.seq;
        const end = seqAdd(start, seg.payload.length);
        if (seqLe(end, c.rcvNxt)) c.noteDuplicate(start, end);
      }
      // A retransmitted FIN in TIME-WAIT also restarts the 2 MSL timeout
      // (the TIME-WAIT rule of the ACK step; as Linux and BSD do).
      if (c.state === 'TIME-WAIT' && f & FIN) c.timeWaitAt = c.now + 2 * c.config.mslUs;
    }
    c.host.drop?.(c, 'tcp-unacceptable-segment');
    // RFC 9293 Appendix A.2: strict validation "can prevent ACK fields from
    // being processed" (simultaneous close, crossing retransmissions). As
    // BSD and Linux do, an old duplicate — wholly before RCV.NXT — still has
    // its ACK field processed, as a pure ACK: its text and FIN are not.
    if ((f & (ACK | RST | SYN)) === ACK && c.state !== 'SYN-RECEIVED') {
      const len = seg.payload.length + (f & FIN ? 1 : 0);
      if (seqLe(seqAdd(seg.seq, len), c.rcvNxt)) ackStep(c, seg);
    }
    return;
  }

  // ---- Second, check the RST bit -------------------------------------------
  if (f & RST) {
    // RFC 5961 §3 (as adopted by RFC 9293): "1) If the RST bit is set and the
    // sequence number is outside the current receive window, silently drop
    // the segment" (done by the acceptability test above). "2) If the RST bit
    // is set and the sequence number exactly matches the next expected
    // sequence number (RCV.NXT), then TCP endpoints MUST reset the
    // connection". "3) ... yet is within the current receive window, TCP
    // endpoints MUST send an acknowledgment (challenge ACK)".
    if (c.config.rfc5961Rst && !seqEq(seg.seq, c.rcvNxt)) {
      challengeAck(c);
      return;
    }
    switch (c.state) {
      case 'SYN-RECEIVED':
        // "If this connection was initiated with a passive OPEN (i.e., came
        // from the LISTEN state), then return this connection to LISTEN state
        // and return. The user need not be informed. If ... active OPEN ...
        // signal the user "connection refused". In either case, the
        // retransmission queue should be flushed."
        if (c.passiveOpen) returnToListen(c, 'rcv RST');
        else c.terminate('refused', 'rcv RST');
        return;
      case 'ESTABLISHED':
      case 'FIN-WAIT-1':
      case 'FIN-WAIT-2':
      case 'CLOSE-WAIT':
        // "any outstanding RECEIVEs and SEND should receive "reset" responses
        // ... Enter the CLOSED state, delete the TCB, and return."
        c.terminate('reset', 'rcv RST');
        return;
      case 'TIME-WAIT':
        // RFC 1337 (TIME-WAIT assassination): when enabled, ignore it.
        if (c.config.rfc1337) return;
        c.terminate(null, 'rcv RST');
        return;
      default:
        // CLOSING, LAST-ACK: "enter the CLOSED state, delete the TCB, and
        // return." The user, who may still be reading, learns of the reset.
        c.terminate('reset', 'rcv RST');
        return;
    }
  }

  // ---- Third, check security: no IP security option in synack. ----------------

  // ---- Fourth, check the SYN bit ---------------------------------------------
  if (f & SYN) {
    if (c.state === 'SYN-RECEIVED' && c.passiveOpen) {
      // "If the connection was initiated with a passive OPEN, then return this
      // connection to the LISTEN state and return."
      returnToListen(c, 'rcv SYN');
      return;
    }
    if (c.config.rfc5961Syn) {
      // "RFC 5961 recommends that in these synchronized states, if the SYN
      // bit is set, irrespective of the sequence number, TCP endpoints MUST
      // send a "challenge ACK" ... After sending the acknowledgment, TCP
      // implementations MUST drop the unacceptable segment and stop
      // processing further."
      challengeAck(c);
      return;
    }
    // RFC 793 behaviour: "If the SYN is in the window it is an error: send a
    // reset ... enter the CLOSED state, delete the TCB, and return."
    // The reset acknowledges what we received (as BSD forms it).
    c.sendRst(c.sndMax, c.rcvNxt, RST | ACK);
    c.terminate('reset', 'rcv SYN in window');
    return;
  }

  // ---- Fifth, check the ACK field --------------------------------------------
  // "if the ACK bit is off, drop the segment and return"
  if (!(f & ACK)) return;
  if (!ackStep(c, seg, ts)) return;
  if (c.state === 'CLOSED') return;

  fromSixthStep(c, seg, trimmed.payload, trimmed.fin, trimmed.seq);
}

/**
 * The acceptability test of Table 6, then trimming to the window. Returns
 * null when the segment is not acceptable.
 */
function trimToWindow(c: Connection, seg: TcpRepr): Trimmed | null {
  const syn = (seg.flags & SYN) !== 0;
  let fin = (seg.flags & FIN) !== 0;
  const segLen = seg.payload.length + (syn ? 1 : 0) + (fin ? 1 : 0);
  // RCV.WND for the test: what we advertised, or more if the buffer has
  // room for more (being liberal in what we accept, as BSD is).
  const rcvWnd = Math.max(0, seqDiff(c.rcvAdv, c.rcvNxt), c.state === 'SYN-RECEIVED' ? 0 : c.rcvWndAvailable());
  const nxt = c.rcvNxt;
  const wndEnd = seqAdd(nxt, rcvWnd);
  let ok: boolean;
  if (segLen === 0) {
    // "0 | 0 : SEG.SEQ = RCV.NXT";  "0 | >0 : RCV.NXT =< SEG.SEQ < RCV.NXT+RCV.WND"
    ok = rcvWnd === 0 ? seqEq(seg.seq, nxt) : seqInRange(seg.seq, nxt, wndEnd);
  } else if (rcvWnd === 0) {
    // ">0 | 0 : not acceptable" — but "special allowance should be made to
    // accept valid ACKs, URGs, and RSTs": a segment at RCV.NXT is processed
    // for its controls, its text and FIN dropped.
    if (seqEq(seg.seq, nxt)) return { seq: nxt, payload: EMPTY, fin: false };
    ok = false;
  } else {
    // ">0 | >0 : RCV.NXT =< SEG.SEQ < RCV.NXT+RCV.WND or
    //            RCV.NXT =< SEG.SEQ+SEG.LEN-1 < RCV.NXT+RCV.WND"
    ok = seqInRange(seg.seq, nxt, wndEnd) || seqInRange(seqAdd(seg.seq, segLen - 1), nxt, wndEnd);
  }
  if (!ok) return null;
  // "One could tailor actual segments to fit this assumption by trimming off
  // any portions that lie outside the window (including SYN and FIN)".
  let seq = seg.seq;
  let payload = seg.payload;
  if (syn) seq = seqAdd(seq, 1);
  if (seqLt(seq, nxt)) {
    const skip = seqDiff(nxt, seq);
    if (payload.length > 0) c.noteDuplicate(seq, seqAdd(seq, Math.min(skip, payload.length)));
    if (skip >= payload.length) {
      // All text is old; a FIN at or after RCV.NXT survives.
      const finSeq = seqAdd(seq, payload.length);
      payload = EMPTY;
      if (fin && seqLt(finSeq, nxt)) fin = false;
      seq = nxt;
    } else {
      payload = payload.subarray(skip);
      seq = nxt;
    }
  }
  const room = seqDiff(wndEnd, seq);
  if (payload.length > room) {
    payload = payload.subarray(0, Math.max(0, room));
    fin = false;
  } else if (fin && payload.length === room) {
    // The FIN itself would fall just beyond the window.
    fin = rcvWnd > 0 && seqLt(seqAdd(seq, payload.length), wndEnd);
  }
  return { seq, payload, fin };
}

/**
 * Fifth step. Returns false when processing of this segment must stop.
 * `ts` is the segment's timestamp when it passed the first four steps (an
 * old duplicate whose ACK field alone is processed passes none).
 */
function ackStep(c: Connection, seg: TcpRepr, ts?: { tsval: number }): boolean {
  const ack = seg.ack;
  // SYN-RECEIVED, or a state entered from it by CLOSE before our SYN was
  // acknowledged (FIN-WAIT-1): the handshake completes with this ACK.
  if (c.state === 'SYN-RECEIVED' || !seqGt(c.sndUna, c.iss)) {
    // "If SND.UNA < SEG.ACK =< SND.NXT, then enter ESTABLISHED state and
    // continue processing with the variables below set to:
    // SND.WND <- SEG.WND, SND.WL1 <- SEG.SEQ, SND.WL2 <- SEG.ACK"
    if (seqLt(c.sndUna, ack) && seqLe(ack, c.sndMax)) {
      c.onAckAdvance(ack);
      c.initCongestion();
      c.sndWnd = seg.window * 2 ** c.sndWndShift;
      c.maxSndWnd = Math.max(c.maxSndWnd, c.sndWnd);
      c.sndWl1 = seg.seq;
      c.sndWl2 = ack;
      if (c.state === 'SYN-RECEIVED') {
        c.setState('ESTABLISHED', 'rcv ACK of SYN');
        // A CLOSE issued in SYN-RECEIVED with data pending was queued "for
        // processing after entering ESTABLISHED state".
        if (c.finQueued) c.setState('FIN-WAIT-1', 'CLOSE (queued)');
      }
      c.host.event(c, EV_CONNECTED);
      c.armKeepAlive();
    } else {
      // "If the segment acknowledgment is not acceptable, form a reset
      // segment <SEQ=SEG.ACK><CTL=RST> and send it."
      c.sendRst(ack, 0, RST);
      return false;
    }
  }
  // ESTABLISHED and the states that "do the same processing":
  // "If the ACK acks something not yet sent (SEG.ACK > SND.NXT), then send an
  // ACK, drop the segment, and return."
  // That ACK, like the RFC 5961 §5 one below, is throttled as a challenge
  // ACK (§7): an old duplicate whose ACK field is processed must not get
  // around the limit on replies to unacceptable segments.
  if (seqGt(ack, c.sndMax)) {
    c.host.drop?.(c, 'tcp-bad-ack');
    challengeAck(c);
    return false;
  }
  // RFC 5961 §5: "the ACK value is acceptable only if it is in the range of
  // ((SND.UNA - MAX.SND.WND) =< SEG.ACK =< SND.NXT). All incoming segments
  // whose ACK value doesn't satisfy the above condition MUST be discarded
  // and an ACK sent back."
  if (c.config.rfc5961Ack && seqLt(ack, seqAdd(c.sndUna, -Math.max(c.maxSndWnd, 1)))) {
    c.host.drop?.(c, 'tcp-bad-ack');
    challengeAck(c);
    return false;
  }
  // RFC 7323 §4.3: "(2) If SEG.TSval >= TS.Recent and SEG.SEQ <=
  // Last.ACK.sent, then SEG.TSval is copied to TS.Recent; otherwise, it is
  // ignored." §5.3: "R3) If an arriving segment satisfies SEG.TSval >=
  // TS.Recent and SEG.SEQ <= Last.ACK.sent (see Section 4.3), then record its
  // timestamp in TS.Recent" — once the segment is acceptable: after the
  // sequence-number, RST, SYN and ACK checks (as Linux's
  // tcp_replace_ts_recent after tcp_ack), so that no RST, challenged SYN or
  // segment with an unacceptable ACK moves TS.Recent. An invalid TS.Recent
  // (§5.5) is replaced whatever SEG.TSval.
  if (ts && seqLe(seg.seq, c.lastAckSent) && (seqGe(ts.tsval, c.tsRecent) || !c.tsRecentValid())) c.recordTsRecent(ts.tsval);
  const newWnd = seg.window * 2 ** c.sndWndShift;
  if (seg.flags & ECE && c.ecnEnabled) c.onEcnEcho();
  // Scoreboard first (it must see what this ACK delivers), then SND.UNA.
  if (c.board) c.onAckForRecovery(ack, findSack(seg.options));
  if (seqGt(ack, c.sndUna)) {
    // "If SND.UNA < SEG.ACK =< SND.NXT, then set SND.UNA <- SEG.ACK. Any
    // segments on the retransmission queue that are thereby entirely
    // acknowledged are removed."
    c.onAckAdvance(ack, c.tsEnabled ? (findTimestamp(seg.options)?.tsecr ?? 0) : 0);
  } else if (
    // RFC 5681 §2 duplicate ACK: outstanding data, no data, no SYN/FIN,
    // SEG.ACK = SND.UNA, and the advertised window unchanged.
    seqEq(ack, c.sndUna) &&
    seg.payload.length === 0 &&
    !(seg.flags & (SYN | FIN)) &&
    newWnd === c.sndWnd &&
    seqGt(c.sndMax, c.sndUna)
  ) {
    c.onDupAck();
  }
  // "If SND.UNA =< SEG.ACK =< SND.NXT, the send window should be updated. If
  // (SND.WL1 < SEG.SEQ or (SND.WL1 = SEG.SEQ and SND.WL2 =< SEG.ACK)), set
  // SND.WND <- SEG.WND, set SND.WL1 <- SEG.SEQ, and set SND.WL2 <- SEG.ACK."
  if (seqGe(ack, c.sndUna) && (seqLt(c.sndWl1, seg.seq) || (seqEq(c.sndWl1, seg.seq) && seqLe(c.sndWl2, ack)))) {
    const wasZero = c.sndWnd === 0;
    c.sndWnd = newWnd;
    c.sndWl1 = seg.seq;
    c.sndWl2 = ack;
    if (newWnd > c.maxSndWnd) c.maxSndWnd = newWnd;
    if (newWnd > 0) c.zeroWindowSince = -1;
    if (wasZero && newWnd > 0) {
      c.persistAt = Infinity;
      c.persistBackoff = 0;
    }
  }
  switch (c.state) {
    case 'FIN-WAIT-1':
      // "if the FIN segment is now acknowledged, then enter FIN-WAIT-2 and
      // continue processing in that state."
      if (c.finAcked()) {
        c.setState('FIN-WAIT-2', 'rcv ACK of FIN');
        c.rtxAt = Infinity;
        if (c.orphaned) c.finWait2At = c.now + c.config.mslUs / 2;
      }
      return true;
    case 'CLOSING':
      // "if the ACK acknowledges our FIN, then enter the TIME-WAIT state;
      // otherwise, ignore the segment."
      if (c.finAcked()) c.enterTimeWait('rcv ACK of FIN');
      return false;
    case 'LAST-ACK':
      // "If our FIN is now acknowledged, delete the TCB, enter the CLOSED
      // state, and return."
      if (c.finAcked()) {
        c.terminate(null, 'rcv ACK of FIN');
        return false;
      }
      return true;
    default:
      return true;
  }
}

/** Steps six (URG), seven (text) and eight (FIN). */
function fromSixthStep(c: Connection, seg: TcpRepr, payload: Uint8Array, fin: boolean, seq = seg.seq): void {
  const st = c.state;
  const receiving = st === 'ESTABLISHED' || st === 'FIN-WAIT-1' || st === 'FIN-WAIT-2';

  // ---- Sixth, check the URG bit ----------------------------------------------
  // "If the URG bit is set, RCV.UP <- max(RCV.UP,SEG.UP), and signal the user
  // that the remote side has urgent data if the urgent pointer (RCV.UP) is in
  // advance of the data consumed." (CLOSE-WAIT and later: "Ignore the URG.")
  if (receiving && seg.flags & URG && seg.urgentPointer > 0) {
    const up = seqAdd(seg.seq, seg.urgentPointer);
    if (seqGt(up, c.rcvUp)) {
      c.rcvUp = up;
      if (!c.rcvUrgent) {
        c.rcvUrgent = true;
        c.host.event(c, { type: 'urgent', upTo: up });
      }
    }
  }

  // RFC 3168 §6.1.3: a CWR ends the echo; a CE mark (re)starts it.
  if (c.ecnEnabled) {
    if (seg.flags & CWR) c.ecnEcho = false;
    if (c.ipEcnIn === 3 && payload.length > 0) {
      c.ecnEcho = true;
      c.ackNow = true;
    }
  }

  // ---- Seventh, process the segment text ---------------------------------------
  // Text that arrived with the SYN (or ahead of a hole) continues the stream.
  if (receiving && c.ooo && !c.ooo.isEmpty && pullHeld(c)) {
    c.ackNow = true;
    c.host.event(c, EV_READABLE);
  }
  if (receiving && payload.length > 0 && c.orphaned) {
    // RFC 1122 4.2.2.13 / RFC 9293 §3.6: data arriving after the user has
    // closed and released the connection cannot be delivered: reset (as
    // Linux does), so the sender learns at once.
    c.sendRst(c.sndMax, seqAdd(seq, payload.length), RST | ACK);
    c.terminate('aborted', 'data after close');
    return;
  }
  if (receiving && payload.length > 0) {
    if (seqEq(seq, c.rcvNxt)) {
      const hadHoles = c.ooo !== null && !c.ooo.isEmpty;
      // "Once the TCP endpoint takes responsibility for the data, it advances
      // RCV.NXT over the data accepted".
      const rb = (c.recvBuf ??= new RecvBuffer());
      rb.push(payload);
      c.rcvNxt = seqAdd(c.rcvNxt, payload.length);
      if (c.rcvUrgent && seqGe(c.rcvNxt, c.rcvUp)) c.rcvUrgent = false;
      const filledHole = pullHeld(c);
      // Delayed ACK (RFC 9293 §3.8.6.3, RFC 5681 §4.2): ACK at least every
      // second full-sized segment, within delayedAckUs otherwise; a segment
      // that fills a hole is ACKed at once.
      c.segsSinceAck++;
      // RFC 5681 §4.2: "an immediate ACK SHOULD be generated when a segment
      // arrives that fills in all or part of a gap in the sequence space".
      if (filledHole || hadHoles || c.segsSinceAck >= 2 || c.config.delayedAckUs === 0) c.ackNow = true;
      else if (c.delAckAt === Infinity) c.delAckAt = c.now + c.config.delayedAckUs;
      c.host.event(c, EV_READABLE);
    } else {
      // "Segments with higher beginning sequence numbers SHOULD be held for
      // later processing"; RFC 5681 §4.2: "A TCP receiver SHOULD send an
      // immediate duplicate ACK when an out-of-order segment arrives."
      const ooo = ensureOoo(c);
      if (!ooo.insert(c.rcvNxt, seq, payload)) c.host.drop?.(c, 'tcp-ooo-limit');
      else {
        if (ooo.lastDuplicate) c.noteDuplicate(ooo.lastDuplicate[0], ooo.lastDuplicate[1]);
        if (fin) setPeerFin(c, seqAdd(seq, payload.length));
        // RFC 2018 §4: the first SACK block reports the latest arrival.
        c.sackMru = [seq, ...(c.sackMru ?? []).filter((x) => x !== seq)].slice(0, 4);
      }
      c.ackNow = true;
      return;
    }
  } else if (receiving && fin && seqGt(seq, c.rcvNxt)) {
    // A bare FIN beyond a hole: remember where the stream ends, and send the
    // duplicate ACK that tells the peer about the hole — once: a FIN we
    // already know teaches nothing, and two stacks that answer each other's
    // FIN-bearing ACKs (finWithAck) would otherwise ping-pong forever.
    if (!(c.peerFinKnown && seqEq(c.peerFinSeq, seq))) {
      setPeerFin(c, seq);
      c.ackNow = true;
    }
    return;
  }

  // ---- Eighth, check the FIN bit -----------------------------------------------
  // (In CLOSE-WAIT, CLOSING, LAST-ACK and TIME-WAIT a retransmitted FIN lies
  // before RCV.NXT and was trimmed as old by the first step.)
  if (fin && seqEq(seqAdd(seq, payload.length), c.rcvNxt)) processFin(c);
}

/** Moves held out-of-order data that now continues the stream; returns true if any moved. */
function pullHeld(c: Connection): boolean {
  const ooo = c.ooo;
  let moved = false;
  if (ooo && !ooo.isEmpty) {
    const parts = ooo.takeContiguous(c.rcvNxt);
    if (ooo.lastDuplicate) c.noteDuplicate(ooo.lastDuplicate[0], ooo.lastDuplicate[1]);
    for (const p of parts) {
      (c.recvBuf ??= new RecvBuffer()).push(p);
      c.rcvNxt = seqAdd(c.rcvNxt, p.length);
      moved = true;
    }
  }
  if (c.peerFinKnown && seqEq(c.peerFinSeq, c.rcvNxt) && !c.finReceived) {
    c.peerFinKnown = false;
    processFin(c);
    moved = true;
  }
  return moved;
}

/**
 * "If the FIN bit is set, signal the user "connection closing" and return
 * any pending RECEIVEs with same message, advance RCV.NXT over the FIN, and
 * send an acknowledgment for the FIN."
 */
function processFin(c: Connection): void {
  if (c.finReceived) {
    if (c.state === 'TIME-WAIT') c.timeWaitAt = c.now + 2 * c.config.mslUs;
    c.ackNow = true;
    return;
  }
  c.finReceived = true;
  c.rcvNxt = seqAdd(c.rcvNxt, 1);
  c.rcvAdv = seqMax(c.rcvAdv, c.rcvNxt);
  c.ackNow = true;
  c.delAckAt = Infinity;
  c.host.event(c, EV_END);
  switch (c.state) {
    case 'SYN-RECEIVED':
    case 'ESTABLISHED':
      // "Enter the CLOSE-WAIT state."
      c.setState('CLOSE-WAIT', 'rcv FIN');
      return;
    case 'FIN-WAIT-1':
      // "If our FIN has been ACKed (perhaps in this segment), then enter
      // TIME-WAIT, start the time-wait timer, turn off the other timers;
      // otherwise, enter the CLOSING state."
      if (c.finAcked()) c.enterTimeWait('rcv FIN');
      else c.setState('CLOSING', 'rcv FIN');
      return;
    case 'FIN-WAIT-2':
      // "Enter the TIME-WAIT state. Start the time-wait timer, turn off the
      // other timers."
      c.enterTimeWait('rcv FIN');
      return;
    case 'TIME-WAIT':
      // "Remain in the TIME-WAIT state. Restart the 2 MSL time-wait timeout."
      c.timeWaitAt = c.now + 2 * c.config.mslUs;
      return;
    default:
      // CLOSE-WAIT, CLOSING, LAST-ACK: remain.
      return;
  }
}

/** RFC 5961 challenge ACK <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>, rate limited per connection and by the host. */
function challengeAck(c: Connection): void {
  // RFC 9293 §3.10.7.4: "Note that RFC 5961 and Errata ID 4772 [99] contain
  // additional ACK throttling notes for an implementation." RFC 5961 §7: "An
  // implementation SHOULD include an ACK throttling mechanism to be
  // conservative." Two limits, as Linux since CVE-2016-5696:
  // this connection's (challengeAckPerConn per challengeAckIntervalUs), then
  // the host's, whose per-second budget is drawn at random so that an
  // off-path attacker cannot count it (Stack.allowChallengeAck).
  if (!c.allowOowReply() || c.host.allowChallengeAck?.(c) === false) {
    c.host.drop?.(c, 'tcp-challenge-ack-limited');
    return;
  }
  c.ackNow = true;
  c.pureAck = true;
}

/** SYN-RECEIVED → LISTEN for a passive open: flush, and the owner discards this TCB. */
function returnToListen(c: Connection, cause: string): void {
  c.clearTimers();
  c.sendBuf = null;
  c.ooo = null;
  c.releaseBudget();
  c.setState('LISTEN', cause);
}

function ensureOoo(c: Connection): Assembler {
  return (c.ooo ??= new Assembler(c.config.maxOutOfOrderBytes || c.config.recvBufferBytes, c.config.maxOutOfOrderRanges));
}

/** Remembers where the peer's stream ends (a FIN seen ahead of RCV.NXT). */
function setPeerFin(c: Connection, seq: number): void {
  c.peerFinSeq = seq;
  c.peerFinKnown = true;
}
