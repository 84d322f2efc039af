/**
 * `synack/core` — the sans-I/O core: wire codecs, the TCP connection, the
 * Stack, the simulator (Network, virtual clock, seeded Rng) and the
 * in-memory link. No `node:` import anywhere below this file
 * (test/arch/purity.test.ts), no wall clock, no Math.random: it runs
 * anywhere, and a history replays bit for bit from its seed.
 */
export * from './wire/index.ts';
export { Connection, type ConnectionHost, type Endpoints, type TcbStatus } from './tcp/connection.ts';
export type { CloseReason, ConnectionEvent } from './tcp/events.ts';
export { ALL_STATES, FIGURE_5, isSynchronized, type TcpState, type Transition } from './tcp/state.ts';
export { DEFAULT_TCP_CONFIG, makeTcpConfig, type TcpConfig } from './tcp/config.ts';
export { seqAdd, seqDiff, seqGe, seqGt, seqInRange, seqLe, seqLt, seqMax, seqMin } from './tcp/seq.ts';
export {
  Stack,
  Listener,
  type StackConfig,
  type InterfaceConfig,
  type NetInterface,
  type StackTraceEvent,
  type StackHook,
  type ConnectionObserver,
  type ListenOptions as StackListenOptions,
} from './stack/stack.ts';
export { Counters } from './stack/counters.ts';
export {
  Forwarding,
  TcpForwardRequest,
  sendForwardedUdp,
  type ForwardingConfig,
  type ForwardingStats,
  type ForwardedDatagram,
  type ForwardAcceptOptions,
  type UnreachableKind,
} from './stack/forward.ts';
export type { Link } from './stack/link.ts';
export { Network, type NetworkOptions } from './sim/network.ts';
export { EventQueue } from './base/event-queue.ts';
export { Rng } from './base/rng.ts';
export { VirtualClock, ms, seconds, US_PER_MS, US_PER_S, type Clock, type Instant, type Duration } from './base/time.ts';
export { MemoryHub, MemoryPort, NO_IMPAIRMENTS, type Impairments, type MemoryHubOptions, type HubStats } from './links/memory.ts';
export { SynackError, isSynackError, type SynackErrorCode } from './errors.ts';
