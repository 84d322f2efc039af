/**
 * The eleven connection states of RFC 9293 §3.3.2, named as the RFC writes
 * them, and the transitions of its Figure 5 (used by docs, the visualizer
 * and the tests that every arrow is taken).
 */
export type TcpState =
  | 'CLOSED'
  | 'LISTEN'
  | 'SYN-SENT'
  | 'SYN-RECEIVED'
  | 'ESTABLISHED'
  | 'FIN-WAIT-1'
  | 'FIN-WAIT-2'
  | 'CLOSE-WAIT'
  | 'CLOSING'
  | 'LAST-ACK'
  | 'TIME-WAIT';

export const ALL_STATES: readonly TcpState[] = [
  'CLOSED',
  'LISTEN',
  'SYN-SENT',
  'SYN-RECEIVED',
  'ESTABLISHED',
  'FIN-WAIT-1',
  'FIN-WAIT-2',
  'CLOSE-WAIT',
  'CLOSING',
  'LAST-ACK',
  'TIME-WAIT',
];

/** States in which the connection is synchronized (RFC 9293 §3.5.2 uses this grouping). */
export function isSynchronized(s: TcpState): boolean {
  return s !== 'CLOSED' && s !== 'LISTEN' && s !== 'SYN-SENT' && s !== 'SYN-RECEIVED';
}

/** One arrow of RFC 9293 Figure 5: from, to, and the label the RFC draws on it. */
export interface Transition {
  from: TcpState;
  to: TcpState;
  label: string;
}

/** Every arrow of RFC 9293 §3.3.2 Figure 5. */
export const FIGURE_5: readonly Transition[] = [
  { from: 'CLOSED', to: 'LISTEN', label: 'passive OPEN / create TCB' },
  { from: 'CLOSED', to: 'SYN-SENT', label: 'active OPEN / create TCB, snd SYN' },
  { from: 'LISTEN', to: 'CLOSED', label: 'CLOSE / delete TCB' },
  { from: 'LISTEN', to: 'SYN-RECEIVED', label: 'rcv SYN / snd SYN,ACK' },
  { from: 'LISTEN', to: 'SYN-SENT', label: 'SEND / snd SYN' },
  { from: 'SYN-SENT', to: 'CLOSED', label: 'CLOSE / delete TCB' },
  { from: 'SYN-SENT', to: 'SYN-RECEIVED', label: 'rcv SYN / snd SYN,ACK (simultaneous open)' },
  { from: 'SYN-SENT', to: 'ESTABLISHED', label: 'rcv SYN,ACK / snd ACK' },
  { from: 'SYN-RECEIVED', to: 'LISTEN', label: 'rcv RST (opened passively)' },
  { from: 'SYN-RECEIVED', to: 'ESTABLISHED', label: 'rcv ACK of SYN / x' },
  { from: 'SYN-RECEIVED', to: 'FIN-WAIT-1', label: 'CLOSE / snd FIN' },
  { from: 'ESTABLISHED', to: 'FIN-WAIT-1', label: 'CLOSE / snd FIN' },
  { from: 'ESTABLISHED', to: 'CLOSE-WAIT', label: 'rcv FIN / snd ACK' },
  { from: 'FIN-WAIT-1', to: 'FIN-WAIT-2', label: 'rcv ACK of FIN / x' },
  { from: 'FIN-WAIT-1', to: 'CLOSING', label: 'rcv FIN / snd ACK' },
  { from: 'FIN-WAIT-2', to: 'TIME-WAIT', label: 'rcv FIN / snd ACK' },
  { from: 'CLOSING', to: 'TIME-WAIT', label: 'rcv ACK of FIN / x' },
  { from: 'CLOSE-WAIT', to: 'LAST-ACK', label: 'CLOSE / snd FIN' },
  { from: 'LAST-ACK', to: 'CLOSED', label: 'rcv ACK of FIN / x' },
  { from: 'TIME-WAIT', to: 'CLOSED', label: 'Timeout=2MSL / delete TCB' },
];
