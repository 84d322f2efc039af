/**
 * The receiver's side of segment processing, for one Connection: the
 * window an arriving segment is tested against, in-order delivery (RCV.NXT
 * advances), out-of-order data and a FIN held until the hole before them
 * fills, the delayed-ACK policy, the urgent pointer and ECN's CE echo.
 * tcp/segment-arrives.ts decides (RFC 9293 §3.10.7.4 steps six to eight)
 * and calls these through Connection; nothing here decides a state.
 */
import type { Connection } from './connection.ts';
import { RecvBuffer } from './recv-buffer.ts';
import { Assembler } from './assembler.ts';
import { seqAdd, seqDiff, seqEq, seqGe, seqGt, seqMax } from './seq.ts';
import { EV_END } from './events.ts';

const NEVER = Infinity;

/**
 * RCV.WND for the acceptability test (§3.10.7.4 first step): what we
 * advertised, or more if the buffer has room for more (being liberal in
 * what we accept, as BSD is) — except in SYN-RECEIVED, where only what our
 * SYN,ACK advertised counts.
 */
export function acceptWindow(c: Connection): number {
  return Math.max(0, seqDiff(c.rcvAdv, c.rcvNxt), c.state === 'SYN-RECEIVED' ? 0 : c.rcvWndAvailable());
}

/** Out-of-order data is held (there is a hole at RCV.NXT). */
export function holding(c: Connection): boolean {
  return c.ooo !== null && !c.ooo.isEmpty;
}

/**
 * Holds text that begins beyond RCV.NXT ("Segments with higher beginning
 * sequence numbers SHOULD be held for later processing"). Returns false
 * when the reassembly queue's limits refuse it. With `report`, a duplicate
 * part is remembered for D-SACK (RFC 2883) and the arrival for the SACK
 * block order (RFC 2018 §4: the first block reports the latest arrival).
 */
export function hold(c: Connection, seq: number, payload: Uint8Array, report: boolean): boolean {
  const ooo = (c.ooo ??= new Assembler(c.config.maxOutOfOrderBytes || c.config.recvBufferBytes, c.config.maxOutOfOrderRanges));
  if (!ooo.insert(c.rcvNxt, seq, payload)) return false;
  if (report) {
    if (ooo.lastDuplicate) c.noteDuplicate(ooo.lastDuplicate[0], ooo.lastDuplicate[1]);
    c.sackMru = [seq, ...(c.sackMru ?? []).filter((x) => x !== seq)].slice(0, 4);
  }
  return true;
}

/** Moves held text that now continues the stream to the user's buffer, advancing RCV.NXT; true if any moved. */
export function takeHeld(c: Connection): boolean {
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
  return moved;
}

/**
 * Remembers where the peer's stream ends (a FIN seen ahead of RCV.NXT).
 * Returns false when that FIN was already known there.
 */
export function holdFin(c: Connection, seq: number): boolean {
  if (c.peerFinKnown && seqEq(c.peerFinSeq, seq)) return false;
  c.peerFinSeq = seq;
  c.peerFinKnown = true;
  return true;
}

/** A held FIN is now at RCV.NXT (and not yet processed): forget it, true — the caller processes it. */
export function takeHeldFin(c: Connection): boolean {
  if (!(c.peerFinKnown && seqEq(c.peerFinSeq, c.rcvNxt) && !c.finReceived)) return false;
  c.peerFinKnown = false;
  return true;
}

/**
 * In-order text at RCV.NXT: "Once the TCP endpoint takes responsibility
 * for the data, it advances RCV.NXT over the data accepted".
 */
export function deliver(c: Connection, payload: Uint8Array): void {
  (c.recvBuf ??= new RecvBuffer()).push(payload);
  c.rcvNxt = seqAdd(c.rcvNxt, payload.length);
  if (c.rcvUrgent && seqGe(c.rcvNxt, c.rcvUp)) c.rcvUrgent = false;
}

/**
 * Delayed ACK (RFC 9293 §3.8.6.3, RFC 5681 §4.2) after in-order text: ACK
 * at least every second full-sized segment, within delayedAckUs otherwise;
 * `immediate` (the text filled all or part of a hole) ACKs at once — RFC
 * 5681 §4.2: "an immediate ACK SHOULD be generated when a segment arrives
 * that fills in all or part of a gap in the sequence space".
 */
export function ackData(c: Connection, immediate: boolean, len = 0): void {
  // A segment larger than a full-sized one (a link that coalesces, like a
  // TUN device with GSO/GRO: 64 KiB in one segment) counts as the two
  // full-sized segments it carries at least — RFC 5681 §4.2: "an ACK SHOULD
  // be generated for at least every second full-sized segment" (Linux
  // likewise ACKs at once when more than one receive MSS is unacknowledged).
  c.segsSinceAck += len > c.advMss ? 2 : 1;
  if (immediate || c.segsSinceAck >= 2 || c.config.delayedAckUs === 0) c.ackNow = true;
  else if (c.delAckAt === NEVER) c.delAckAt = c.now + c.config.delayedAckUs;
}

/**
 * The FIN at RCV.NXT (§3.10.7.4 eighth step): "signal the user "connection
 * closing" and return any pending RECEIVEs with same message, advance
 * RCV.NXT over the FIN, and send an acknowledgment for the FIN."
 */
export function receiveFin(c: Connection): void {
  c.finReceived = true;
  c.rcvNxt = seqAdd(c.rcvNxt, 1);
  c.rcvAdv = seqMax(c.rcvAdv, c.rcvNxt);
  c.ackNow = true;
  c.delAckAt = NEVER;
  c.host.event(c, EV_END);
}

/**
 * §3.10.7.4 sixth step: "RCV.UP <- max(RCV.UP,SEG.UP), and signal the user
 * that the remote side has urgent data if the urgent pointer (RCV.UP) is in
 * advance of the data consumed."
 */
export function receiveUrgent(c: Connection, up: number): void {
  if (!seqGt(up, c.rcvUp)) return;
  c.rcvUp = up;
  if (!c.rcvUrgent) {
    c.rcvUrgent = true;
    c.host.event(c, { type: 'urgent', upTo: up });
  }
}

/** RFC 3168 §6.1.3 (receiver): a CWR ends the echo; a CE mark on text (re)starts it and is ACKed at once. */
export function ecnReceived(c: Connection, cwr: boolean, text: boolean): void {
  if (!c.ecnEnabled) return;
  if (cwr) c.ecnEcho = false;
  if (c.ipEcnIn === 3 && text) {
    c.ecnEcho = true;
    c.ackNow = true;
  }
}
