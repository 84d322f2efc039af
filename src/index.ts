/**
 * synack — a userspace TCP/IP stack in TypeScript.
 *
 * The package entry: the sans-I/O core (wire codecs, the TCP connection,
 * the Stack, the simulator and the in-memory link), the node:net-compatible
 * API, and `createMemoryNetwork()`, the shortest way to a working network:
 *
 *   const lan = createMemoryNetwork();
 *   const a = lan.host('10.0.0.1');
 *   const b = lan.host('10.0.0.2');
 *   b.net.createServer((s) => s.pipe(s)).listen(7);
 *   const c = a.net.connect(7, '10.0.0.2');
 */
import { randomBytes } from 'node:crypto';
import { Network } from './sim/network.ts';
import { VirtualClock } from './base/time.ts';
import type { MemoryHub, Impairments } from './links/memory.ts';
import type { Stack, StackConfig } from './stack/stack.ts';
import type { TcpConfig } from './tcp/config.ts';
import { parseIpv4Addr } from './wire/bytes.ts';
import { SynackError } from './errors.ts';
import { Driver, RealClock } from './api/driver.ts';
import { createNet, type SynackNet } from './api/net.ts';

// ---- core -------------------------------------------------------------------
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
export type { Link } from './stack/link.ts';
export { Network, type NetworkOptions } from './sim/network.ts';
export { EventQueue } from './sim/event-queue.ts';
export { Rng } from './sim/rng.ts';
export { VirtualClock, ms, seconds, US_PER_MS, US_PER_S, type Clock, type Instant, type Duration } from './base/time.ts';
export { MemoryHub, MemoryPort, NO_IMPAIRMENTS, type Impairments, type MemoryHubOptions, type HubStats } from './links/memory.ts';
export { SynackError, isSynackError, type SynackErrorCode } from './errors.ts';

// ---- node:net-compatible API --------------------------------------------------
export { Driver, RealClock, type DriverStats } from './api/driver.ts';
export { createNet, type NetHost, type SynackNet, type NetConnectOpts } from './api/net.ts';
export { Socket, type SocketConstructorOpts, type SocketConnectOpts, type AddressInfo, type LookupFunction } from './api/socket.ts';
export { Server, type ServerOpts, type ListenOptions, type DropInfo } from './api/server.ts';
export { ERRNO, systemError, type SystemError, type SystemErrorCode } from './api/errors.ts';

// ---- createMemoryNetwork ----------------------------------------------------------

export interface MemoryNetworkOptions {
  /** Deterministic ISN secrets and port choices; without it, secrets come from crypto.randomBytes. */
  seed?: number;
  /** MTU of the hub (default 1500). */
  mtu?: number;
  /** Impairments of the hub (delay, loss, reordering, …). */
  impair?: Partial<Impairments>;
  /** Run on a VirtualClock as fast as possible instead of the real clock. */
  virtualTime?: boolean;
  /** TcpConfig overrides for every stack created by host(). */
  tcp?: Partial<TcpConfig>;
}

export interface HostOptions {
  /** Prefix length of the address (default 24). */
  prefixLen?: number;
  /** A name other hosts can connect to (`net.connect(80, 'server')`); also the stack's trace name. */
  name?: string;
  /** TcpConfig overrides for this host's connections. */
  tcp?: Partial<TcpConfig>;
  /** Further Stack settings (ephemeral ports, limits, …). */
  stack?: Partial<Omit<StackConfig, 'clock' | 'isnSecret' | 'tcp' | 'name'>>;
}

export interface MemoryHost {
  stack: Stack;
  net: SynackNet;
  address: string;
}

export interface MemoryNetwork {
  network: Network;
  hub: MemoryHub;
  driver: Driver;
  /** Name → address table shared by every host's `net` (filled by `host(addr, { name })`). */
  hosts: Map<string, string>;
  host(address: string, opts?: HostOptions): MemoryHost;
  /** Stops the driver's timers (sockets and servers should be closed first). */
  stop(): void;
}

/** One in-memory LAN driven on Node's event loop, with a node:net module per host. */
export function createMemoryNetwork(opts: MemoryNetworkOptions = {}): MemoryNetwork {
  const clock = opts.virtualTime ? new VirtualClock() : new RealClock();
  const network = new Network({ clock, ...(opts.seed !== undefined ? { seed: opts.seed } : {}) });
  const hub = network.addHub({ ...(opts.mtu !== undefined ? { mtu: opts.mtu } : {}), ...(opts.impair ? { impair: opts.impair } : {}) });
  const driver = new Driver(network);
  const hosts = new Map<string, string>();
  const used = new Set<number>();
  return {
    network,
    hub,
    driver,
    hosts,
    host(address: string, hostOpts: HostOptions = {}): MemoryHost {
      const addr = typeof address === 'string' ? parseIpv4Addr(address) : null;
      if (addr === null) throw new SynackError('ERR_SYNACK_INVALID_ARG', `host address must be a dotted IPv4 string, got ${String(address)}`);
      if (used.has(addr)) throw new SynackError('ERR_SYNACK_ADDRESS_IN_USE', `${address} is already a host on this network`);
      const cfg: Partial<Omit<StackConfig, 'clock'>> = { ...hostOpts.stack, name: hostOpts.name ?? address };
      if (opts.tcp || hostOpts.tcp) cfg.tcp = { ...opts.tcp, ...hostOpts.tcp };
      if (opts.seed === undefined) {
        const b = randomBytes(12);
        cfg.isnSecret = [b.readUInt32BE(0), b.readUInt32BE(4)];
        cfg.portSeed = b.readUInt32BE(8);
      }
      const stack = network.addStack(cfg);
      network.attach(stack, hub, addr, hostOpts.prefixLen ?? 24);
      used.add(addr);
      if (hostOpts.name) hosts.set(hostOpts.name.toLowerCase(), address);
      const net = createNet({ stack, driver, hosts });
      return { stack, net, address };
    },
    stop(): void {
      driver.stop();
    },
  };
}
