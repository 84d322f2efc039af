/**
 * The one error class of synack's own API. `code` is stable
 * (ERR_SYNACK_*); match on it, not on the message. Node-shaped socket errors
 * (ECONNRESET …) are built in api/errors.ts.
 */
const BRAND = Symbol.for('synack.error');

export type SynackErrorCode =
  | 'ERR_SYNACK_INVALID_ARG'
  | 'ERR_SYNACK_INVALID_STATE'
  | 'ERR_SYNACK_CONNECTION_CLOSING'
  | 'ERR_SYNACK_CONNECTION_EXISTS'
  | 'ERR_SYNACK_ADDRESS_IN_USE'
  | 'ERR_SYNACK_NO_ROUTE'
  | 'ERR_SYNACK_PORTS_EXHAUSTED'
  | 'ERR_SYNACK_LIMIT';

export class SynackError extends Error {
  readonly code: SynackErrorCode;
  readonly [BRAND] = true;
  constructor(code: SynackErrorCode, message: string) {
    super(message);
    this.name = 'SynackError';
    this.code = code;
  }
}

export function isSynackError(e: unknown): e is SynackError {
  return typeof e === 'object' && e !== null && (e as Record<symbol, unknown>)[BRAND] === true;
}
