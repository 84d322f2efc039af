/**
 * synack's BSD-socket-style API: descriptors, errno values as FreeBSD gives
 * them, non-blocking calls with `Pending` results for blocking sockets.
 * Pure (no node: imports). See sockets.ts for the contract.
 */
export * from './constants.ts';
export {
  BsdSockets,
  DEFAULT_BSD_DEFAULTS,
  closeReasonErrno,
  isPending,
  type BsdDefaults,
  type BsdSocketsOptions,
  type MaybeBlocking,
  type Pending,
  type SysResult,
} from './sockets.ts';
