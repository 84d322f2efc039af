/**
 * What a connection tells its owner. The stack forwards these to trace
 * hooks and to the application's socket.
 */
import type { TcpState } from './state.ts';

/** Why a connection ended abnormally (mapped to ECONNREFUSED/ECONNRESET/ETIMEDOUT/… in api/). */
export type CloseReason =
  /** RST answered our SYN (RFC 9293 §3.10.7.3 / §3.10.7.4 SYN-RECEIVED). */
  | 'refused'
  /** RST on a synchronized connection (§3.10.7.4 second step). */
  | 'reset'
  /** Retransmissions, keepalives or the user timeout gave up (§3.10.8). */
  | 'timeout'
  /** The local user aborted (ABORT call, §3.10.5). */
  | 'aborted'
  /**
   * Timed out after an ICMP host-unreachable-like soft error (RFC 1122
   * §4.2.3.9), or TTL exceeded in SYN-SENT under 'freebsd' rules: EHOSTUNREACH.
   */
  | 'host-unreachable'
  /** Timed out after an ICMP net-unreachable soft error: ENETUNREACH. */
  | 'net-unreachable';

export type ConnectionEvent =
  | { type: 'state'; from: TcpState; to: TcpState; cause: string }
  /** The handshake completed: ESTABLISHED (or beyond, for a fast close). */
  | { type: 'connected' }
  /** New in-order bytes are readable. */
  | { type: 'readable' }
  /** The peer's FIN was received: after the buffered bytes, the stream ends. */
  | { type: 'end' }
  /** Urgent data is pending up to (but not including) sequence offset `upTo` in the stream (RFC 9293 §3.8.5). */
  | { type: 'urgent'; upTo: number }
  /** Send-buffer space was freed by an acknowledgment. */
  | { type: 'writable' }
  /** A retransmission happened (`kind` tells which timer or algorithm caused it). */
  | { type: 'retransmit'; kind: 'rto' | 'fast' | 'syn' | 'probe' | 'pmtu'; seq: number; len: number }
  /**
   * Packetization-layer path MTU discovery (RFC 4821, tcp/mtu-probe.ts):
   * the search started after a black-hole fallback or was reopened by the
   * host, or the outcome of a probe of MSS `size`; `low`/`high` are the
   * search range (as MSS values) after it.
   */
  | { type: 'pmtu-probe'; outcome: 'start' | 'success' | 'failure' | 'inconclusive' | 'reprobe'; size: number; low: number; high: number }
  /** Terminal: the TCB is deleted. `reason` is null for an orderly close. */
  | { type: 'closed'; reason: CloseReason | null };

/** Events without data are shared, frozen objects: no allocation per event. */
export const EV_WRITABLE: ConnectionEvent = Object.freeze({ type: 'writable' });
export const EV_READABLE: ConnectionEvent = Object.freeze({ type: 'readable' });
export const EV_END: ConnectionEvent = Object.freeze({ type: 'end' });
export const EV_CONNECTED: ConnectionEvent = Object.freeze({ type: 'connected' });
