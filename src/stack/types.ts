/**
 * The shapes a Stack is configured and observed through: interfaces and
 * their addresses (both families), the stack configuration, trace events,
 * and listeners (a passive OPEN, dual-stack or not).
 */
import type { Instant } from '../base/time.ts';
import type { ChecksumCaps, DropReason, TcpRepr } from '../wire/types.ts';
import { IPV6_UNSPECIFIED, type IpAddr } from '../wire/ipv6.ts';
import type { Clock } from '../base/time.ts';
import type { Connection } from '../tcp/connection.ts';
import type { ConnectionEvent } from '../tcp/events.ts';
import type { TcpConfig } from '../tcp/config.ts';
import type { ReassemblyLimits } from '../ip/reassembly.ts';
import type { Link } from './link.ts';
import type { Stack } from './stack.ts';

/** One address of an interface. */
export interface IfAddr {
  addr: IpAddr;
  prefixLen: number;
}

export interface InterfaceConfig {
  name?: string;
  /** Our address on this link: a u32 IPv4 address or an `Ipv6Addr` (wire/ipv6.ts); none (undefined) for an interface a DHCP client will configure. */
  addr?: IpAddr;
  prefixLen?: number;
  link: Link;
  /** More addresses on the same link (a dual-stack interface: one IPv4, one IPv6). */
  more?: IfAddr[];
  /** A loopback interface (127.0.0.0/8, ::1): loopback sources are accepted on it. Default: its first address is a loopback one. */
  loopback?: boolean;
}

export interface NetInterface {
  readonly name: string;
  /** The first address (`addrs[0]`) it was made with (0 when it was made without one). */
  readonly addr: IpAddr;
  readonly prefixLen: number;
  /** Every address of the interface, both families. */
  readonly addrs: IfAddr[];
  readonly link: Link;
  /** The link's MTU, or less when configured so (DHCP option 26, services/dhcp-host.ts). */
  mtu: number;
  readonly caps: ChecksumCaps;
  readonly loopback: boolean;
}

export interface StackConfig {
  clock: Clock;
  /** 64-bit secret for RFC 6528 ISNs, as two unsigned 32-bit words. */
  isnSecret: [number, number];
  /** Seed for ephemeral-port choice (deterministic under a seed). */
  portSeed?: number;
  /** Defaults for every connection of this stack. */
  tcp?: Partial<TcpConfig>;
  /** Ephemeral port range (Linux: 32768–60999; IANA: 49152–65535). */
  ephemeralPorts?: [number, number];
  /**
   * Which 4-tuples this stack may open connections on (a stack that is one
   * shard of a host, src/workers/: only tuples whose flow hash names its
   * worker). Ephemeral ports are chosen among those it accepts; an explicit
   * local port it refuses is ERR_SYNACK_INVALID_ARG. Default: every tuple.
   */
  flowFilter?: (localAddr: IpAddr, localPort: number, remoteAddr: IpAddr, remotePort: number) => boolean;
  /** At most this many connections (all states) per stack. */
  maxConnections?: number;
  /** Default listen backlog (half-open plus not-yet-accepted connections). */
  defaultBacklog?: number;
  /** TTL of packets we send. */
  ttl?: number;
  /** A name for traces (e.g. "client"). */
  name?: string;
  /** Received bytes (unread plus out-of-order) all connections may hold together (default 512 MiB). */
  maxReceiveMemoryBytes?: number;
  /**
   * SYN cookies (RFC 4987 §3.6) when a listener's backlog is full: 'auto'
   * (default), 'always' (every SYN, for tests), or 'never' (drop the SYN).
   */
  synCookies?: 'auto' | 'always' | 'never';
  /**
   * RFC 5961 §7 host-wide challenge-ACK limit per second (default 1000, as
   * Linux's tcp_challenge_ack_limit before 6.0); each second's budget is
   * drawn at random in [limit/2, 1.5 × limit). 0 sends none.
   */
  challengeAckLimit?: number;
  /** Bounds of IP fragment reassembly (ip/reassembly.ts defaults: 30 s IPv4, 60 s IPv6, 4 MiB). */
  reassembly?: Partial<ReassemblyLimits>;
}

/** Everything a trace hook sees. */
export type StackTraceEvent =
  | { type: 'segment'; dir: 'in' | 'out'; time: Instant; src: IpAddr; dst: IpAddr; tcp: TcpRepr; conn: Connection | null; bytes: Uint8Array | null }
  | { type: 'packet'; dir: 'in' | 'out'; time: Instant; bytes: Uint8Array }
  | { type: 'conn'; time: Instant; conn: Connection; event: ConnectionEvent }
  | { type: 'drop'; time: Instant; reason: DropReason; conn: Connection | null };

export type StackHook = (ev: StackTraceEvent) => void;

/** What the application hears about one connection. */
export interface ConnectionObserver {
  onEvent(conn: Connection, ev: ConnectionEvent): void;
}

export interface ListenOptions {
  /**
   * The local address: one of ours, 0 (any IPv4 address) or `::` (any
   * address; IPv4 too unless `v6Only`). Default `::`, like a dual-stack
   * socket of Linux (net.ipv6.bindv6only = 0).
   */
  addr?: IpAddr;
  /** With `addr` `::`: IPv6 connections only (IPV6_V6ONLY). */
  v6Only?: boolean;
  backlog?: number;
  tcp?: Partial<TcpConfig>;
  /** Called once per connection that reaches ESTABLISHED; if absent, connections queue for accept(). */
  onConnection?: (conn: Connection) => void;
}

export class Listener {
  /** Established connections waiting for accept() (when there is no onConnection). */
  readonly acceptQueue: Connection[] = [];
  /** Children in SYN-RECEIVED. */
  halfOpen = 0;
  /** When this listener last answered a SYN with a cookie (-1 = never). */
  lastCookieAt = -1;
  closed = false;
  constructor(
    readonly stack: Stack,
    readonly addr: IpAddr,
    readonly port: number,
    public backlog: number,
    readonly config: TcpConfig,
    public onConnection: ((conn: Connection) => void) | null,
    readonly v6Only = false,
  ) {}

  /** Whether this listener takes connections to `dst` (an address of ours) by address alone. */
  covers(family: 4 | 6): boolean {
    if (typeof this.addr === 'number') return family === 4;
    if (this.addr === IPV6_UNSPECIFIED) return family === 6 || !this.v6Only;
    return family === 6;
  }

  /** A wildcard listener (0 or `::`). */
  get wildcard(): boolean {
    return this.addr === 0 || this.addr === IPV6_UNSPECIFIED;
  }

  accept(): Connection | null {
    return this.acceptQueue.shift() ?? null;
  }

  close(): void {
    this.stack.closeListener(this);
  }
}

