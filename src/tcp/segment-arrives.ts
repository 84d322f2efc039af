/**
 * RFC 9293 §3.10.7 SEGMENT ARRIVES, step by step, for one connection.
 *
 * §3.10.7.1 (CLOSED: no TCB) lives in the stack (stack/rst.ts), because a
 * segment that reaches no connection has no Connection to process it.
 * Here: §3.10.7.2 LISTEN, §3.10.7.3 SYN-SENT and §3.10.7.4 "Other States",
 * in the RFC's order: sequence number, RST, security, SYN, ACK, URG, text,
 * FIN.
 *
 * This file decides; it reaches the connection only through SegmentTcb
 * below: it reads the RFC's variables and never writes one — every change
 * is a named operation (Connection implements them in tcp/receiver.ts,
 * tcp/sender.ts, tcp/negotiation.ts, tcp/output.ts and connection.ts).
 * test/arch/segment-tcb.test.ts holds it to that.
 *
 * Outputs are requested, not sent, where the RFC says "send an
 * acknowledgment": `c.acknowledge()` lets Connection.output() send one ACK
 * for the whole batch (MUST-58/MUST-59), piggybacked on data when possible.
 */
import type { DropReason, TcpRepr } from '../wire/types.ts';
import { ACK, CWR, ECE, FIN, RST, SYN, URG } from '../wire/types.ts';
import type { TcpConfig } from './config.ts';
import type { CloseReason, ConnectionEvent } from './events.ts';
import { EV_CONNECTED, EV_READABLE } from './events.ts';
import type { TcpState } from './state.ts';
import { EMPTY } from './send-buffer.ts';
import { findTimestamp } from '../wire/tcp-options.ts';
import { seqAdd, seqDiff, seqEq, seqGe, seqGt, seqInRange, seqLe, seqLt } from './seq.ts';

/**
 * What segment processing may see and do of a connection, grouped by the
 * step of §3.10.7 that needs it. The fields are read-only here.
 */
export interface SegmentTcb {
  // ---- the TCB's variables (RFC 9293 §3.3.1), read only -------------------
  readonly state: TcpState;
  readonly config: TcpConfig;
  readonly iss: number;
  readonly irs: number;
  readonly sndUna: number;
  /** The highest sequence number sent: SND.NXT of the RFC's ACK tests (our SND.NXT rolls back on a retransmission timeout). */
  readonly sndMax: number;
  /** MAX.SND.WND (RFC 5961 §5). */
  readonly maxSndWnd: number;
  readonly rcvNxt: number;
  /** SYN-RECEIVED came from LISTEN. */
  readonly passiveOpen: boolean;
  /** The application let go of the connection. */
  readonly orphaned: boolean;
  /** The user's CLOSE is queued: our FIN follows the data. */
  readonly finQueued: boolean;
  /** The peer's FIN was processed. */
  readonly finReceived: boolean;
  finAcked(): boolean;

  // ---- any step: replies, signals, state changes ---------------------------
  signal(ev: ConnectionEvent): void;
  drop(reason: DropReason): void;
  /** "Send an acknowledgment" (one per batch, after processing). */
  acknowledge(): void;
  /** The per-connection limit on replies to unacceptable segments; true consumes one. */
  allowOowReply(): boolean;
  /** RFC 5961 challenge ACK, through both limits (§7). */
  challengeAck(): void;
  sendRst(seq: number, ack: number, flags: number): void;
  setState(next: TcpState, cause: string): void;
  terminate(reason: CloseReason | null, cause: string): void;
  returnToListen(cause: string): void;
  enterFinWait2(cause: string): void;
  enterTimeWait(cause: string): void;
  restartTimeWait(): void;

  // ---- LISTEN, SYN-SENT, and the ACK that completes a handshake -----------
  /** IRS, RCV.NXT, RCV.UP from the peer's SYN; its options; ECN set up or not; `advertised`: our SYN's window. */
  recordPeerSyn(seg: TcpRepr, ecnSetup: boolean, advertised: number): void;
  /** ISS (from the host, RFC 6528) and the send variables. */
  selectIss(): void;
  /** SND.WND, SND.WL1, SND.WL2 from the synchronizing segment (`wl2` standing for SEG.ACK). */
  initSendWindow(seg: TcpRepr, wl2: number): void;
  /** Our SYN or SYN,ACK, the retransmission timer, and RTT timing if `timed`. */
  transmitSyn(withAck: boolean, timed: boolean): void;
  initCongestion(): void;
  armKeepAlive(): void;

  // ---- first step: acceptability, PAWS (RFC 7323) ---------------------------
  /** RCV.WND for the acceptability test. */
  acceptWindow(): number;
  readonly tsEnabled: boolean;
  /** TS.Recent. */
  readonly tsRecent: number;
  /** Last.ACK.sent. */
  readonly lastAckSent: number;
  tsRecentValid(): boolean;
  recordTsRecent(tsval: number): void;
  /** A duplicate range for D-SACK (RFC 2883). */
  noteDuplicate(from: number, to: number): void;

  // ---- fifth step: the ACK field -------------------------------------------
  /** The peer is alive (keepalive, zero-window probes). */
  heardFromPeer(): void;
  /** SND.UNA <- SEG.ACK, with everything that follows for the sender. */
  onAckAdvance(ack: number): void;
  /** An acceptable ACK in a synchronized state: ECN echo, scoreboard, SND.UNA, duplicate ACKs, send window. */
  processAck(seg: TcpRepr): void;

  // ---- sixth to eighth steps: URG, text, FIN --------------------------------
  receiveUrgent(up: number): void;
  /** RFC 3168 §6.1.3 receiver: CWR and CE marks. */
  ecnReceived(cwr: boolean, text: boolean): void;
  /** In-order text: to the user's buffer, RCV.NXT advances. */
  deliver(payload: Uint8Array): void;
  /** The delayed-ACK policy after in-order text (`immediate`: it touched a hole). */
  ackData(immediate: boolean, len?: number): void;
  /** Out-of-order text is held. */
  holding(): boolean;
  hold(seq: number, payload: Uint8Array, report: boolean): boolean;
  /** Moves held text that now continues the stream; true if any moved. */
  takeHeld(): boolean;
  /** Remembers the peer's FIN beyond RCV.NXT; false if already known there. */
  holdFin(seq: number): boolean;
  /** The held FIN is now at RCV.NXT: true (once). */
  takeHeldFin(): boolean;
  /** Advance RCV.NXT over the FIN, signal end of stream, ACK it. */
  receiveFin(): void;
}

export function segmentArrives(c: SegmentTcb, seg: TcpRepr): void {
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
export function timeWaitAcceptsSyn(c: SegmentTcb, seg: TcpRepr): boolean {
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
function listenState(c: SegmentTcb, seg: TcpRepr): void {
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
    // RFC 3168 §6.1.1: an ECN-setup SYN has both ECE and CWR.
    c.recordPeerSyn(seg, c.config.ecn && (seg.flags & (ECE | CWR)) === (ECE | CWR), 0);
    queueSynText(c, seg);
    // "ISS should be selected and a SYN segment sent of the form:
    // <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>. SND.NXT is set to ISS+1 and SND.UNA
    // to ISS. The connection state should be changed to SYN-RECEIVED."
    c.selectIss();
    // The window of a SYN is never scaled (RFC 7323 §2.2).
    c.initSendWindow(seg, 0);
    c.setState('SYN-RECEIVED', 'rcv SYN');
    c.transmitSyn(true, true);
    return;
  }
  // "Fourth, other data or control: This should not be reached. Drop the
  // segment and return."
}

/** Text and FIN that arrived on a SYN are held until the connection is ESTABLISHED. */
function queueSynText(c: SegmentTcb, seg: TcpRepr): void {
  const dataSeq = seqAdd(seg.seq, 1);
  if (seg.payload.length > 0) {
    const max = Math.min(c.config.recvBufferBytes, 65535);
    const data = seg.payload.length > max ? seg.payload.subarray(0, max) : seg.payload;
    c.hold(dataSeq, data, false);
    if (seg.flags & FIN && data.length === seg.payload.length) c.holdFin(seqAdd(dataSeq, data.length));
  } else if (seg.flags & FIN) {
    c.holdFin(dataSeq);
  }
}

// -----------------------------------------------------------------------------
// §3.10.7.3 SYN-SENT STATE
// -----------------------------------------------------------------------------
function synSentState(c: SegmentTcb, seg: TcpRepr): void {
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
    // RCV.WND is what our SYN advertised (never scaled). RFC 3168 §6.1.1:
    // an ECN-setup SYN,ACK has ECE and not CWR.
    c.recordPeerSyn(seg, c.config.ecn && hasAck && (seg.flags & (ECE | CWR)) === ECE, Math.min(65535, c.config.recvBufferBytes));
    // "SND.UNA should be advanced to equal SEG.ACK (if there is an ACK), and
    // any segments on the retransmission queue that are thereby acknowledged
    // should be removed."
    if (ackOk) c.onAckAdvance(seg.ack);
    if (seqGt(c.sndUna, c.iss)) {
      // "If SND.UNA > ISS (our SYN has been ACKed), change the connection
      // state to ESTABLISHED, form an ACK segment <SEQ=SND.NXT><ACK=RCV.NXT>
      // <CTL=ACK> and send it."
      c.initSendWindow(seg, seg.ack); // a SYN's window is never scaled (RFC 7323 §2.2)
      c.initCongestion();
      c.setState('ESTABLISHED', 'rcv SYN,ACK');
      c.signal(EV_CONNECTED);
      c.acknowledge();
      c.heardFromPeer();
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
    c.initSendWindow(seg, seg.ack);
    queueSynText(c, seg);
    c.setState('SYN-RECEIVED', 'rcv SYN (simultaneous open)');
    c.transmitSyn(true, false);
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

function otherStates(c: SegmentTcb, seg: TcpRepr): void {
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
    if (f & SYN && c.state !== 'SYN-RECEIVED') c.challengeAck();
    else if (seg.payload.length > 0 || f & (SYN | FIN) || c.allowOowReply()) c.acknowledge();
    c.drop('tcp-paws');
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
        c.challengeAck();
      } else if (!pureAck || c.allowOowReply()) {
        // An unacceptable pure ACK is answered at most once per
        // challengeAckIntervalUs (as Linux's tcp_invalid_ratelimit): two
        // stacks that each find the other's ACKs unacceptable must not
        // ping-pong forever.
        c.acknowledge();
      }
      // RFC 2883: an old duplicate's text is reported in a D-SACK block.
      if (seg.payload.length > 0) {
        const start = f & SYN ? seqAdd(seg.seq, 1) : seg.seq;
        const end = seqAdd(start, seg.payload.length);
        if (seqLe(end, c.rcvNxt)) c.noteDuplicate(start, end);
      }
      // A retransmitted FIN in TIME-WAIT also restarts the 2 MSL timeout
      // (the TIME-WAIT rule of the ACK step; as Linux and BSD do).
      if (c.state === 'TIME-WAIT' && f & FIN) c.restartTimeWait();
    }
    c.drop('tcp-unacceptable-segment');
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
      c.challengeAck();
      return;
    }
    switch (c.state) {
      case 'SYN-RECEIVED':
        // "If this connection was initiated with a passive OPEN (i.e., came
        // from the LISTEN state), then return this connection to LISTEN state
        // and return. The user need not be informed. If ... active OPEN ...
        // signal the user "connection refused". In either case, the
        // retransmission queue should be flushed."
        if (c.passiveOpen) c.returnToListen('rcv RST');
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
      c.returnToListen('rcv SYN');
      return;
    }
    if (c.config.rfc5961Syn) {
      // "RFC 5961 recommends that in these synchronized states, if the SYN
      // bit is set, irrespective of the sequence number, TCP endpoints MUST
      // send a "challenge ACK" ... After sending the acknowledgment, TCP
      // implementations MUST drop the unacceptable segment and stop
      // processing further."
      c.challengeAck();
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
function trimToWindow(c: SegmentTcb, seg: TcpRepr): Trimmed | null {
  const syn = (seg.flags & SYN) !== 0;
  let fin = (seg.flags & FIN) !== 0;
  const segLen = seg.payload.length + (syn ? 1 : 0) + (fin ? 1 : 0);
  // RCV.WND for the test: what we advertised, or more if the buffer has
  // room for more (being liberal in what we accept, as BSD is).
  const rcvWnd = c.acceptWindow();
  const nxt = c.rcvNxt;
  const wndEnd = seqAdd(nxt, rcvWnd);
  let ok: boolean;
  if (segLen === 0) {
    // "0 | 0 : SEG.SEQ = RCV.NXT";  "0 | >0 : RCV.NXT =< SEG.SEQ < RCV.NXT+RCV.WND"
    ok = rcvWnd === 0 ? seqEq(seg.seq, nxt) : seqInRange(seg.seq, nxt, wndEnd);
  } else if (rcvWnd === 0) {
    // ">0 | 0 : not acceptable" — but "If the RCV.WND is zero, no segments
    // will be acceptable, but special allowance should be made to accept
    // valid ACKs, URGs, and RSTs": a segment at RCV.NXT is processed for its
    // controls, its text and FIN dropped. And "If an incoming segment is not
    // acceptable, an acknowledgment should be sent in reply" — the answer a
    // zero-window probe needs (§3.8.6.1: "When the receiving TCP peer has a
    // zero window and a segment arrives, it must still send an
    // acknowledgment showing its next expected sequence number and current
    // window (zero).").
    if (seqEq(seg.seq, nxt)) {
      c.acknowledge();
      if (seg.payload.length > 0) c.drop('tcp-receive-window-full');
      return { seq: nxt, payload: EMPTY, fin: false };
    }
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
function ackStep(c: SegmentTcb, seg: TcpRepr, ts?: { tsval: number }): boolean {
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
      c.initSendWindow(seg, ack);
      if (c.state === 'SYN-RECEIVED') {
        c.setState('ESTABLISHED', 'rcv ACK of SYN');
        // A CLOSE issued in SYN-RECEIVED with data pending was queued "for
        // processing after entering ESTABLISHED state".
        if (c.finQueued) c.setState('FIN-WAIT-1', 'CLOSE (queued)');
      }
      c.signal(EV_CONNECTED);
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
    c.drop('tcp-bad-ack');
    c.challengeAck();
    return false;
  }
  // RFC 5961 §5: "the ACK value is acceptable only if it is in the range of
  // ((SND.UNA - MAX.SND.WND) =< SEG.ACK =< SND.NXT). All incoming segments
  // whose ACK value doesn't satisfy the above condition MUST be discarded
  // and an ACK sent back."
  if (c.config.rfc5961Ack && seqLt(ack, seqAdd(c.sndUna, -Math.max(c.maxSndWnd, 1)))) {
    c.drop('tcp-bad-ack');
    c.challengeAck();
    return false;
  }
  // The segment passed the acceptability tests and its ACK is valid: the
  // peer is alive. RFC 1122 §4.2.3.6: "keep-alive packets MUST only be sent
  // when no data or acknowledgement packets have been received for the
  // connection within an interval" — counted here, not on arrival, so that
  // segments a blind sender forges (an out-of-window RST, say) cannot keep
  // a dead peer's connection open. Any answer also resets the count of
  // unanswered zero-window probes (RFC 1122 §4.2.2.17).
  c.heardFromPeer();
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
  // Then what the ACK means for the sender (tcp/sender.ts processAck): the
  // ECN echo (RFC 3168), the SACK scoreboard (RFC 8985), "If SND.UNA <
  // SEG.ACK =< SND.NXT, then set SND.UNA <- SEG.ACK", duplicate ACKs (RFC
  // 5681 §2), and "If SND.UNA =< SEG.ACK =< SND.NXT, the send window should
  // be updated".
  c.processAck(seg);
  switch (c.state) {
    case 'FIN-WAIT-1':
      // "if the FIN segment is now acknowledged, then enter FIN-WAIT-2 and
      // continue processing in that state."
      if (c.finAcked()) c.enterFinWait2('rcv ACK of FIN');
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
function fromSixthStep(c: SegmentTcb, seg: TcpRepr, payload: Uint8Array, fin: boolean, seq = seg.seq): void {
  const st = c.state;
  const receiving = st === 'ESTABLISHED' || st === 'FIN-WAIT-1' || st === 'FIN-WAIT-2';

  // ---- Sixth, check the URG bit ----------------------------------------------
  // "If the URG bit is set, RCV.UP <- max(RCV.UP,SEG.UP), and signal the user
  // that the remote side has urgent data if the urgent pointer (RCV.UP) is in
  // advance of the data consumed." (CLOSE-WAIT and later: "Ignore the URG.")
  if (receiving && seg.flags & URG && seg.urgentPointer > 0) c.receiveUrgent(seqAdd(seg.seq, seg.urgentPointer));

  // RFC 3168 §6.1.3: a CWR ends the echo; a CE mark (re)starts it.
  c.ecnReceived((seg.flags & CWR) !== 0, payload.length > 0);

  // ---- Seventh, process the segment text ---------------------------------------
  // Text that arrived with the SYN (or ahead of a hole) continues the stream.
  if (receiving && c.holding() && pullHeld(c)) {
    c.acknowledge();
    c.signal(EV_READABLE);
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
      const hadHoles = c.holding();
      // "Once the TCP endpoint takes responsibility for the data, it advances
      // RCV.NXT over the data accepted".
      c.deliver(payload);
      const filledHole = pullHeld(c);
      // Delayed ACK (RFC 9293 §3.8.6.3, RFC 5681 §4.2): ACK at least every
      // second full-sized segment, within delayedAckUs otherwise; a segment
      // that fills a hole is ACKed at once.
      c.ackData(filledHole || hadHoles, payload.length);
      c.signal(EV_READABLE);
    } else {
      // "Segments with higher beginning sequence numbers SHOULD be held for
      // later processing"; RFC 5681 §4.2: "A TCP receiver SHOULD send an
      // immediate duplicate ACK when an out-of-order segment arrives."
      // (hold() remembers a duplicate part for D-SACK, RFC 2883, and the
      // arrival for the SACK block order, RFC 2018 §4.)
      if (!c.hold(seq, payload, true)) c.drop('tcp-ooo-limit');
      else if (fin) c.holdFin(seqAdd(seq, payload.length));
      c.acknowledge();
      return;
    }
  } else if (receiving && fin && seqGt(seq, c.rcvNxt)) {
    // A bare FIN beyond a hole: remember where the stream ends, and send the
    // duplicate ACK that tells the peer about the hole — once: a FIN we
    // already know teaches nothing, and two stacks that answer each other's
    // FIN-bearing ACKs (finWithAck) would otherwise ping-pong forever.
    if (c.holdFin(seq)) c.acknowledge();
    return;
  }

  // ---- Eighth, check the FIN bit -----------------------------------------------
  // (In CLOSE-WAIT, CLOSING, LAST-ACK and TIME-WAIT a retransmitted FIN lies
  // before RCV.NXT and was trimmed as old by the first step.)
  if (fin && seqEq(seqAdd(seq, payload.length), c.rcvNxt)) processFin(c);
}

/** Moves held out-of-order data that now continues the stream; returns true if any moved. */
function pullHeld(c: SegmentTcb): boolean {
  let moved = c.takeHeld();
  if (c.takeHeldFin()) {
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
function processFin(c: SegmentTcb): void {
  if (c.finReceived) {
    if (c.state === 'TIME-WAIT') c.restartTimeWait();
    c.acknowledge();
    return;
  }
  c.receiveFin();
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
      c.restartTimeWait();
      return;
    default:
      // CLOSE-WAIT, CLOSING, LAST-ACK: remain.
      return;
  }
}
