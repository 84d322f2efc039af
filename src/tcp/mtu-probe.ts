/**
 * Packetization-layer path MTU discovery upward (RFC 4821 §7), as Linux's
 * `tcp_mtu_probing=1`: after a black-hole fallback (the host lowered the MSS
 * in response to repeated retransmission timeouts, RFC 4821 §7.7 — see
 * stack/pmtu.ts `detectBlackhole`) the connection searches for the largest
 * segment the path carries again, with probes: single segments of new data
 * larger than the current MSS.
 *
 * RFC 4821 §7.1: "search_low: The smallest useful probe size, minus one. The
 * network is expected to be able to deliver packets of size search_low."
 * "search_high: The greatest useful probe size." "eff_pmtu: The effective
 * PMTU for this flow. This is the largest non-probe packet permitted by
 * PLPMTUD for the path." Here they are kept as MSS values (a packet is
 * MSS + 40 octets of IPv4 and TCP header, + 60 for IPv6): `low` is the
 * largest MSS known to get through (eff_pmtu, the connection's sndMss,
 * "When probing upward, eff_pmtu always equals search_low"), `high` the
 * largest that may (a probe of `high` is still useful), `cap` the initial
 * search_high: the MSS the connection had before the fallback (the peer's
 * MSS option, our MTU and any ICMP estimate bound it).
 *
 * The state is rare (only connections that met a black hole have it), so it
 * lives off the TCB in a WeakMap, like the stack's record of lowered MSSs:
 * an idle connection carries nothing for it. The hot paths reach it only
 * when the connection's MSS is below the one it advertises (`candidate`).
 */
import type { Instant } from '../base/time.ts';
import type { Connection } from './connection.ts';
import { seqAdd, seqDiff, seqEq, seqGe } from './seq.ts';

/**
 * RFC 4821 §7.3: "Each Packetization Layer MUST determine when probing has
 * converged, that is, when the probe size range is small enough that further
 * probing is no longer worth its cost." Linux's tcp_probe_threshold: 8 octets.
 */
export const MTU_PROBE_THRESHOLD = 8;
/**
 * RFC 4821 §7.3: "When probing has converged, a timer SHOULD be set. When the
 * timer expires, search_high should be reset to its initial value (described
 * above) so that probing can resume. ... The value for this timer MUST NOT be
 * less than 5 minutes and is recommended to be 10 minutes, per RFC 1981."
 * Linux's tcp_probe_interval: 600 s.
 */
export const MTU_REPROBE_US = 600_000_000;
/**
 * Linux tcp_mtu_probe: no probe while cwnd is under 11 segments ("have enough
 * cwnd"): a probe then costs a small share of the window, and enough
 * segments follow it to tell its loss by duplicate ACKs or SACK.
 */
export const MTU_PROBE_MIN_CWND_SEGMENTS = 11;
/**
 * Linux tcp_mtu_probe: "size_needed = probe_size + (tp->reordering + 1) *
 * tp->mss_cache" with the default reordering of 3: four full segments must be
 * able to follow the probe, so that its loss alone shows as three duplicate
 * ACKs (or SACKed data above it) rather than a timeout.
 */
const FOLLOWING_SEGMENTS = 4;

export interface MtuProbeState {
  /** search_low (= eff_pmtu) as an MSS. */
  low: number;
  /** search_high as an MSS: the largest probe still useful. */
  high: number;
  /** The initial search_high: the MSS before the black-hole fallback. */
  cap: number;
  /** The outstanding probe's MSS (0 = none) and its sequence range. */
  size: number;
  seq: number;
  end: number;
  /** The connection's retransmission count when the probe went out. */
  rtx: number;
  /** When the search converged (-1 = open): the reprobe timer's start. */
  convergedAt: Instant;
  /** The range of the last probe that failed, until RACK has seen its resend (see rackLost). */
  failSeq: number;
  failEnd: number;
}

const boxes = new WeakMap<Connection, MtuProbeState>();

/** The connection's probing state, if it has met a black hole. */
export function mtuProbeState(c: Connection): MtuProbeState | undefined {
  return boxes.get(c);
}

/** The probing state when probing may matter now (the hot-path gate: MSS below the one we advertise). */
function candidate(c: Connection): MtuProbeState | undefined {
  return c.sndMss < c.advMss ? boxes.get(c) : undefined;
}

/**
 * Tells the owner (host.event). Never called from the segmentizer: output()
 * runs inside the application's send(), and an event there would re-enter
 * an application that writes from its event handler.
 */
function event(c: Connection, p: MtuProbeState, outcome: 'start' | 'success' | 'failure' | 'inconclusive' | 'reprobe', size: number): void {
  c.host.event(c, { type: 'pmtu-probe', outcome, size, low: p.low, high: p.high });
}

/**
 * The host lowered the MSS from `before` in response to a retransmission
 * timeout: a black-hole fallback (RFC 4821 §7.7: "If eff_pmtu is larger than
 * search_low, set eff_pmtu to search_low. Otherwise, set both eff_pmtu and
 * search_low to the initial value for search_low."). The search for a larger
 * MSS (re)starts from the new one, up to the MSS that was in use — Linux's
 * tcp_mtu_probing(), which turns probing on at the first black hole and
 * keeps search_high on later ones.
 */
export function onBlackholeFallback(c: Connection, before: number): void {
  let p = boxes.get(c);
  if (!p) {
    p = { low: c.sndMss, high: before, cap: before, size: 0, seq: 0, end: 0, rtx: 0, convergedAt: -1, failSeq: 0, failEnd: 0 };
    boxes.set(c, p);
  }
  p.low = c.sndMss;
  if (p.high < p.low) p.high = p.low;
  p.size = 0;
  p.convergedAt = -1;
  event(c, p, 'start', 0);
}

/**
 * The MSS changed for another reason (tcp/sender.ts setPathMss). Lowered:
 * by an ICMP "fragmentation needed" / Packet Too Big (`icmp`), which bounds
 * the path — search_high and its initial value follow it (RFC 1191 §3 / RFC
 * 8201: never raised by such a message) — or by a black-hole fallback,
 * which moves search_low only (onBlackholeFallback follows). An outstanding
 * probe larger than the new MSS is lost; it is forgotten (it goes again in
 * pieces of the new MSS with everything else). Raised by the host (an
 * estimate aged out, RFC 1191 §6.3): with probing on, the MSS is not raised
 * blindly; the search reopens up to it — probes find out whether the path
 * carries it. Returns true when probing took charge of a raise.
 */
export function onPathMssChange(c: Connection, mss: number, icmp: boolean): boolean {
  const p = boxes.get(c);
  if (!p) return false;
  if (mss > c.sndMss) {
    p.cap = Math.max(p.cap, mss);
    p.high = p.cap;
    p.low = c.sndMss;
    p.convergedAt = -1;
    event(c, p, 'reprobe', 0);
    return true;
  }
  if (icmp) {
    p.cap = Math.min(p.cap, mss);
    p.high = Math.min(p.high, mss);
  }
  p.low = Math.min(p.low, mss);
  if (p.size > mss) p.size = 0;
  return false;
}

/**
 * RFC 4821 §7.3 "Selecting Probe Size": "A simple strategy might be to do a
 * binary search halving the probe size range with each probe." Once the
 * range is under the threshold, one last probe at the initial search_high
 * (the MSS before the black hole) if it is still possible, so that a path
 * that healed gets all of it back; then the search has converged. Returns
 * 0 when converged.
 */
function nextSize(p: MtuProbeState): number {
  if (p.high - p.low >= MTU_PROBE_THRESHOLD) return (p.low + p.high + 1) >> 1;
  if (p.high === p.cap && p.low < p.cap) return p.cap;
  return 0;
}

/**
 * Called by the segmentizer (tcp/output.ts) before it sends a new segment of
 * the current MSS: the payload length of a probe to send instead, or 0.
 * `avail` is the queued data not yet sent, `usable` what the windows allow
 * now, `payloadMss` the current segment payload.
 *
 * RFC 4821 §7.4: "Before sending a probe, the flow MUST meet at least the
 * following conditions: o It has no outstanding probes or losses. o If the
 * last probe failed or was inconclusive, then the probe timeout has expired
 * (see Section 7.6.2). o The available window is greater than the probe
 * size. o For a protocol using in-band data for probing, enough data is
 * available to send the probe." As Linux tcp_mtu_probe: "Not currently
 * probing/verifying, not in recovery, have enough cwnd" (≥ 11 segments), and
 * enough queued data and peer window for the probe plus four segments after
 * it. A failed or inconclusive probe is followed by the next only after its
 * loss was repaired (no outstanding losses), as in Linux; the probe timeout
 * here is that repair.
 */
export function probeLength(c: Connection, avail: number, usable: number, payloadMss: number): number {
  const p = candidate(c);
  if (!p || p.size !== 0) return 0;
  // Only new data, never while repairing: no go-back-N in progress, no
  // recovery, no duplicate ACKs, nothing SACKed or marked lost, no zero window.
  if (!seqEq(c.sndNxt, c.sndMax) || c.inRecovery || c.dupAcks !== 0 || c.persistAt !== Infinity) return 0;
  if (c.board && (c.board.sackedBytes > 0 || c.board.lostBytes > 0)) return 0;
  let size = nextSize(p);
  if (size === 0) {
    // Converged: RFC 4821 §7.3's timer, checked when there is data to send
    // (probing needs data anyway), as Linux's tcp_mtu_check_reprobe.
    if (p.convergedAt < 0) p.convergedAt = c.now;
    if (c.now - p.convergedAt < MTU_REPROBE_US) return 0;
    p.high = p.cap;
    p.low = c.sndMss;
    p.convergedAt = -1;
    size = nextSize(p);
    if (size === 0) return 0;
  }
  if (c.cwnd < MTU_PROBE_MIN_CWND_SEGMENTS * c.sndMss) return 0;
  const len = size - (c.sndMss - payloadMss);
  if (len <= payloadMss) return 0;
  const needed = len + FOLLOWING_SEGMENTS * payloadMss;
  if (avail < needed || usable < len || c.sndWnd - seqDiff(c.sndNxt, c.sndUna) < needed) return 0;
  return len;
}

/**
 * RFC 4821 §7.5: "Once a probe size in the appropriate range has been
 * selected, and the above preconditions have been met, the Packetization
 * Layer MAY conduct a probe. To do so, it creates a probe packet such that
 * its size, including the outermost IP headers, is equal to the probe size."
 * The probe is new data [seq, seq+len) sent as one segment; this records it.
 */
export function probeSent(c: Connection, seq: number, len: number, payloadMss: number): void {
  const p = boxes.get(c)!;
  p.size = len + (c.sndMss - payloadMss);
  p.seq = seq;
  p.end = seqAdd(seq, len);
  p.rtx = c.retransmits;
}

/**
 * SND.UNA advanced (tcp/sender.ts onAckAdvance). RFC 4821 §7.6.1: "When the
 * probe is delivered, it is an indication that the Path MTU is at least as
 * large as the probe size. Set search_low to the probe size. If the probe
 * size is larger than the eff_pmtu, raise eff_pmtu to the probe size." The
 * probe counts as delivered only if nothing was retransmitted since it went
 * out: otherwise its bytes may have arrived in smaller pieces, or other
 * losses came near it — RFC 4821 §7.6.3: "The presence of other losses near
 * the loss of the probe may indicate that the probe was lost due to
 * congestion rather than due to an MTU limitation. In this case, the state
 * variables eff_pmtu, search_low, and search_high SHOULD NOT be updated, and
 * the same-sized probe SHOULD be attempted again as soon as the probing
 * preconditions are met".
 *
 * RFC 4821: "Whenever the MTU is raised, the congestion state variables MUST
 * be rescaled so as not to raise the window size in bytes (or data rate in
 * bytes per seconds)." cwnd and ssthresh are kept in bytes here, so they
 * stay as they are (Linux rescales its segment-counted cwnd to the same end).
 */
export function onAck(c: Connection): void {
  const p = candidate(c);
  if (!p || p.size === 0 || !seqGe(c.sndUna, p.end)) return;
  const size = p.size;
  p.size = 0;
  if (c.retransmits !== p.rtx) {
    event(c, p, 'inconclusive', size);
    return;
  }
  p.low = Math.max(p.low, size);
  if (p.high < p.low) p.high = p.low;
  if (size > c.sndMss) c.sndMss = size;
  if (nextSize(p) === 0) p.convergedAt = c.now;
  event(c, p, 'success', size);
}

/**
 * RFC 4821 §7.6.2: "When only the probe is lost, it is treated as an
 * indication that the Path MTU is smaller than the probe size. In this case
 * alone, the loss SHOULD NOT be interpreted as congestion signal." The
 * search ceiling falls below the probe; the caller skips its congestion
 * response and resends the probe's bytes in segments of the current MSS.
 */
function failed(c: Connection, p: MtuProbeState): void {
  const size = p.size;
  p.size = 0;
  p.failSeq = p.seq;
  p.failEnd = p.end;
  p.high = Math.max(p.low, size - 1);
  if (nextSize(p) === 0) p.convergedAt = c.now;
  event(c, p, 'failure', size);
}

/**
 * A loss was detected with SND.UNA at the start of the outstanding probe —
 * the probe is what was lost: three duplicate ACKs without SACK (Linux
 * tcp_fastretrans_alert: "MTU probe failure: don't reduce cwnd", when
 * "tp->snd_una == tp->mtu_probe.probe_seq_start"), or a retransmission
 * timeout. Returns true when the loss is the probe's (no congestion
 * response; the caller resends it), after lowering the ceiling.
 */
export function headLost(c: Connection): boolean {
  const p = candidate(c);
  if (!p || p.size === 0 || !seqEq(c.sndUna, p.seq)) return false;
  failed(c, p);
  return true;
}

/** The outstanding probe's range, for the caller's resend. */
export function probeRange(c: Connection): [number, number] | null {
  const p = boxes.get(c);
  return p ? [p.seq, p.end] : null;
}

/**
 * With SACK, RACK marked segments lost (tcp/sender.ts rackDetectLoss). If
 * the probe is the only loss, it failed (§7.6.2) and returns true: no
 * congestion response. If it is lost with others, the result is
 * inconclusive (§7.6.3): the search state stays, the probe is forgotten, and
 * the caller's normal recovery responds to the losses.
 */
export function rackLost(c: Connection): boolean {
  const p = candidate(c);
  const board = c.board;
  if (!p || !board) return false;
  const first = board.firstLost();
  if (!first) return false;
  if (p.size === 0) {
    // The resend of a failed probe, marked lost again at once: under a
    // clock whose instants repeat, segments sent earlier in the same instant
    // as the resend count as sent after it (RFC 8985 §6.2 breaks ties of
    // RACK.xmit_ts by sequence number), and their SACKs condemn it before it
    // could arrive. Once, it is no congestion signal either: it goes again.
    if (p.failEnd !== p.failSeq && seqEq(first.start, p.failSeq) && seqEq(first.end, p.failEnd) && board.lostBytes === seqDiff(p.failEnd, p.failSeq)) {
      p.failEnd = p.failSeq;
      return true;
    }
    return false;
  }
  if (!seqEq(first.start, p.seq)) return false;
  if (board.lostBytes === seqDiff(p.end, p.seq)) {
    failed(c, p);
    return true;
  }
  const size = p.size;
  p.size = 0;
  event(c, p, 'inconclusive', size);
  return false;
}
