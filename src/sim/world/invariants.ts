/**
 * The per-step invariants of the simulator and the fuzzer, on a whole stack
 * and on each of its connections. Each violation has a stable `kind` (see
 * world.ts for the list). Sequence fields are int32 inside a connection and
 * compared only through tcp/seq.ts.
 */
import type { Stack } from '../../stack/stack.ts';
import type { Connection } from '../../tcp/connection.ts';
import type { TcpState } from '../../tcp/state.ts';
import { seqDiff, seqGt, seqLe } from '../../tcp/seq.ts';

export interface Violation {
  kind: string;
  message: string;
}

const DATA_STATES = new Set<TcpState>(['ESTABLISHED', 'CLOSE-WAIT', 'FIN-WAIT-1', 'CLOSING', 'LAST-ACK']);

function v(kind: string, message: string): Violation {
  return { kind, message };
}

/** Stack-wide checks, then every connection. */
export function checkStack(s: Stack, now: number, maxConns = 20_000): Violation | null {
  const conns = s.connections();
  if (conns.length !== s.connectionCount) return v('table', `${s.name}: connectionCount ${s.connectionCount} but ${conns.length} in the table`);
  if (conns.length > maxConns) return v('memory', `${s.name}: ${conns.length} connections`);
  if (s.armedTimers > conns.length) return v('table', `${s.name}: ${s.armedTimers} timers armed for ${conns.length} connections`);
  for (const c of conns) {
    const r = checkConnection(s, c, now);
    if (r) return r;
  }
  return null;
}

export function checkConnection(s: Stack, c: Connection, now: number): Violation | null {
  const st = c.state;
  const id = (): string => `${s.name} ${st} ${c.localPort}->${c.remotePort}`;
  if (st === 'CLOSED' || st === 'LISTEN') return v('table', `${id()}: a ${st} TCB is still in the demux table`);
  const cfg = c.config;
  // Sequence space.
  if (!seqLe(c.sndUna, c.sndNxt) || !seqLe(c.sndNxt, c.sndMax)) {
    return v('seq-order', `${id()}: SND.UNA ${c.sndUna >>> 0} <= SND.NXT ${c.sndNxt >>> 0} <= SND.MAX ${c.sndMax >>> 0} does not hold`);
  }
  const flight = seqDiff(c.sndMax, c.sndUna);
  if (flight > cfg.sendBufferBytes + 2) return v('in-flight-bound', `${id()}: ${flight} bytes in flight with a ${cfg.sendBufferBytes}-byte send buffer`);
  // Windows.
  if (!(Number.isInteger(c.sndWnd) && c.sndWnd >= 0 && c.sndWnd <= 2 ** 30)) return v('window-bound', `${id()}: SND.WND ${c.sndWnd}`);
  if (st !== 'SYN-SENT') {
    const adv = seqDiff(c.rcvAdv, c.rcvNxt);
    if (adv > 65535 * 2 ** c.rcvWndShift) return v('window-bound', `${id()}: advertised window ${adv} beyond 65535 << ${c.rcvWndShift}`);
    const slack = 2 ** c.rcvWndShift;
    if (adv > cfg.recvBufferBytes + slack + 1) return v('window-bound', `${id()}: advertised window ${adv} beyond the ${cfg.recvBufferBytes}-byte receive buffer`);
  }
  // Buffers.
  const sq = c.sendQueued();
  if (sq > cfg.sendBufferBytes) return v('buffer-bound', `${id()}: ${sq} bytes in a ${cfg.sendBufferBytes}-byte send buffer`);
  const rq = c.readable();
  if (rq > cfg.recvBufferBytes + 2 ** c.rcvWndShift) return v('buffer-bound', `${id()}: ${rq} unread bytes with a ${cfg.recvBufferBytes}-byte receive buffer`);
  if (c.ooo) {
    // maxOutOfOrderBytes 0 means "as large as the receive buffer" (tcp/segment-arrives.ts ensureOoo).
    const oooLimit = cfg.maxOutOfOrderBytes || cfg.recvBufferBytes;
    if (c.ooo.byteCount > oooLimit) return v('buffer-bound', `${id()}: ${c.ooo.byteCount} out-of-order bytes (limit ${oooLimit})`);
    // The limit is on disjoint ranges where the assembler counts them (adjacent pieces are one range).
    const ooo = c.ooo as { pieceCount: number; rangeCount?: number; ranges(): unknown[] };
    const ranges = ooo.rangeCount ?? ooo.pieceCount;
    if (ranges > Math.max(1, cfg.maxOutOfOrderRanges)) return v('buffer-bound', `${id()}: ${ranges} out-of-order ranges (limit ${cfg.maxOutOfOrderRanges})`);
    if (ooo.rangeCount !== undefined && ooo.rangeCount !== ooo.ranges().length) return v('buffer-bound', `${id()}: the assembler counts ${ooo.rangeCount} ranges but holds ${ooo.ranges().length}`);
  }
  // Timers: every deadline filed, none overdue.
  const d = c.nextDeadline();
  if (d !== Infinity) {
    if (c.heapIndex < 0 || s.filedDeadline(c) > d) return v('timer-not-filed', `${id()}: deadline ${d} not in the timer heap (heap slot ${c.heapIndex}, filed at ${s.filedDeadline(c)})`);
    if (d < now) return v('timer-overdue', `${id()}: deadline ${d} passed at ${now} without firing`);
  }
  // The timer table (tcp/timers.ts): the retransmission and persist timers
  // never run together; TIME-WAIT turns off every timer but its own.
  if (c.rtxAt !== Infinity && c.persistAt !== Infinity) return v('timer-table', `${id()}: retransmission (${c.rtxAt}) and persist (${c.persistAt}) timers both armed`);
  if (st === 'TIME-WAIT' && (c.rtxAt !== Infinity || c.persistAt !== Infinity || c.keepAliveAt !== Infinity)) {
    return v('timer-table', `${id()}: a retransmission, persist or keepalive timer in TIME-WAIT`);
  }
  // Liveness: something outstanding always has a timer that will resend it.
  if ((DATA_STATES.has(st) || st === 'SYN-SENT' || st === 'SYN-RECEIVED') && seqGt(c.sndMax, c.sndUna) && !resendArmed(c)) {
    return v('stall', `${id()}: ${flight} unacknowledged sequence numbers and neither a retransmission nor a persist timer`);
  }
  if (DATA_STATES.has(st) && seqGt(c.dataEnd(), c.sndNxt) && seqDiff(c.sndNxt, c.sndUna) === 0 && !resendArmed(c)) {
    return v('stall', `${id()}: ${seqDiff(c.dataEnd(), c.sndNxt)} bytes queued, nothing in flight (SND.WND ${c.sndWnd}) and no timer to send them`);
  }
  if (st === 'TIME-WAIT' && c.timeWaitAt === Infinity) return v('stall', `${id()}: TIME-WAIT without its 2×MSL timer`);
  if (st === 'FIN-WAIT-2' && c.orphaned && c.finWait2At === Infinity) return v('stall', `${id()}: orphaned FIN-WAIT-2 without a timeout`);
  return null;
}

/** A timer that will (re)send: RTO, persist, or the RACK/TLP timers where the connection has them. */
function resendArmed(c: Connection): boolean {
  const x = c as unknown as { rackAt?: number; tlpAt?: number };
  return c.rtxAt !== Infinity || c.persistAt !== Infinity || (x.rackAt ?? Infinity) !== Infinity || (x.tlpAt ?? Infinity) !== Infinity;
}
