/**
 * The gateway's public shapes (createGateway's options, stats, the Gateway
 * handle), slirp4netns's default addressing, and the small helpers the
 * gateway's parts share (address parsing, host-connect errors, resetting a
 * host socket). Split out of gateway.ts, which builds the gateway itself.
 */
import type * as nodeNet from 'node:net';
import type { Stack } from '../stack/stack.ts';
import type { TcpConfig } from '../tcp/config.ts';
import type { EthernetInterface } from '../stack/ethernet.ts';
import type { Forwarding, UnreachableKind } from '../stack/forward.ts';
import type { FrameLink } from '../stack/link.ts';
import { parseIpv4Addr } from '../wire/bytes.ts';
import { parseIpv6Addr, type IpAddr } from '../wire/ipv6.ts';
import type { Driver, DriverStats } from '../api/driver.ts';
import type { MemoryNetwork } from '../api/memory-network.ts';
import { SynackError } from '../errors.ts';
import type { StreamLinkStats } from './stream-link.ts';
import type { TunLinkStats } from '../links/tun.ts';
import type { TapLink } from '../links/tap.ts';
import type { GatewayDhcpOptions } from './dhcp.ts';
import type { WebSocketDownstream, WebSocketGatewayServer, WebSocketServerStats } from './websocket-gateway.ts';
import type { GatewayDns, GatewayDnsStats } from './dns.ts';
import type { GatewayMonitor, MonitorOptions } from './monitor.ts';
import type { GatewayVizServer } from './viz-server.ts';
import type { GatewayVizOption } from './watch.ts';
import type { KeepAliveOptions } from './limits.ts';
import type { EchoRelayStats } from './echo-relay.ts';

/** slirp4netns's addressing (its defaults, so habits carry over). */
export const GATEWAY_DEFAULTS = {
  network4: '10.0.2.0/24',
  gateway4: '10.0.2.2',
  dns4: '10.0.2.3',
  guest4: '10.0.2.100',
  network6: 'fd00::/64',
  gateway6: 'fd00::2',
  dns6: 'fd00::3',
  guest6: 'fd00::100',
  /** slirp's gateway MAC (52:55:0a:00:02:02). */
  mac: '52:55:0a:00:02:02',
} as const;

/**
 * The gateway's side of every forwarded connection: 4 MiB send and receive
 * buffers (the stack's default is 256 KiB). The guest and the host peer are
 * local: the window these buffers offer, not the path, bounds a transfer's
 * rate, and with 256 KiB the guest's sender ran out of window every few
 * hundred microseconds (measured: bench/gateway.ts, docs/PERFORMANCE.md).
 * Buffers are allocated only as data waits, so an idle connection costs
 * nothing more; a stalled one holds up to these bytes (plus the streams'
 * high-water marks, or one wake-up's host reads: at most 1 MiB) — the
 * per-connection bound.
 *
 * Nagle's algorithm is off on both sides of a forwarded connection (here and
 * on the host socket, TCP_NODELAY). RFC 9293 §3.7.4: "there MUST be a way
 * for an application to disable the Nagle algorithm on an individual
 * connection (MUST-17)" — the gateway is such an application: the guest's
 * and the host peer's own stacks already decided how to segment what they
 * write, and a relay that held a short write back until the previous one
 * is acknowledged would add its peer's delayed-ACK time (up to 40 ms on
 * Linux) to a request/response exchange.
 */
/**
 * The gateway's side of forwarded connections: 4 MiB buffers (the guest and
 * the host peer are both local: the window, not the path, bounds the rate),
 * Nagle off (RFC 9293 §3.7.4 leaves it to the application), and a 5-second
 * MSL. RFC 9293 §3.4.2: "For this specification the MSL is taken to be 2
 * minutes. This is an engineering choice, and may be changed if experience
 * indicates it is desirable to do so." The guest's link is a device of this
 * host (a TAP device, a socket, a WebSocket) with no queue a segment could
 * wait in for seconds, so TIME-WAIT — the gateway's when the host peer
 * closed first — lasts 10 s instead of 4 minutes (slirp's TCP takes the same
 * 5 s), and a busy guest does not leave minutes of TCBs behind.
 */
export const GATEWAY_TCP_DEFAULTS: Readonly<Partial<TcpConfig>> = { sendBufferBytes: 4 << 20, recvBufferBytes: 4 << 20, noDelay: true, mslUs: 5_000_000 };

export type GatewayDownstream =
  | { memory: MemoryNetwork }
  | { qemuSocket: string }
  /**
   * A TAP device `tap` (default tap0) created in the network namespace at the
   * path `netns` (e.g. /run/netns/NAME, /proc/PID/ns/net); needs root, unless
   * `userns` names the user namespace that owns it (a rootless container's:
   * /proc/PID/ns/user, as slirp4netns --userns-path) — then the user that
   * owns that user namespace will do, given a /dev/net/tun of mode 0666.
   */
  | { netns: string; tap?: string; userns?: string }
  /** A WebSocket server (v86's relay_url protocol); each client is its own guest network (gateway/websocket-gateway.ts). */
  | { websocket: WebSocketDownstream }
  /** Any Ethernet frame link (e.g. one WebSocket client's): the gateway runs its own stack and driver on it. */
  | { frameLink: FrameLink & { onBatch: (() => void) | null } };

export interface GatewayOptions {
  downstream: GatewayDownstream;
  /** IP MTU of the guest link (default 1500; 68..65520). */
  mtu?: number;
  /** Connections to the gateway address do not reach the host's loopback (they are refused as administratively prohibited). */
  disableHostLoopback?: boolean;
  /** Outbound policy (CIDR prefixes): deny wins; with an allow list, only those destinations. */
  allow?: string[];
  deny?: string[];
  /** Forwarded TCP connections at once, connecting ones included (default 4096); beyond it the guest gets a RST. */
  maxConnections?: number;
  /** UDP flows at once (default 1024); datagrams of new flows beyond it are dropped (counted). */
  maxUdpFlows?: number;
  /** How long a host connect may take before the guest gets ICMP host unreachable (default 20 000 ms). */
  connectTimeoutMs?: number;
  /**
   * The host side of forwarded TCP connections: 'native' — plain sockets in
   * one epoll set through the addon (gateway/native-flows.ts; the default
   * where the addon is built) — or 'node': a node:net Socket spliced to a
   * synack Socket per connection (the default elsewhere).
   */
  hostSockets?: 'native' | 'node';
  /** A UDP flow without traffic either way for this long is closed (default 60 000 ms). */
  udpIdleTimeoutMs?: number;
  /** Bytes all forwarded connections may hold together (default 256 MiB); at or above it new connections are refused with RST (counted: tcp.memoryLimited). */
  maxBufferedBytes?: number;
  /** Host connects under way at once (default 256); further guest SYNs wait their turn in order (tcp.connectsQueued, tcp.connectsHighWater). */
  maxPendingConnects?: number;
  /**
   * Keepalive toward the guest (RFC 9293 §3.8.4, RFC 1122 §4.2.3.6): a
   * forwarded connection idle for `idleMs` probes the guest every
   * `intervalMs` (default min(idleMs, 75 s)); after `count` (default 9)
   * unanswered probes it is reset and its host socket closed. Default off.
   */
  keepAlive?: KeepAliveOptions;
  /** Echo flows (guest, destination, identifier) relayed at once, each a host echo socket (default 256); requests of new flows beyond it are dropped (counted). */
  maxEchoFlows?: number;
  /** An echo flow without a request for this long is closed (default 60 000 ms). */
  echoIdleTimeoutMs?: number;
  /** Write the guest's frames to this file (pcap, LINKTYPE_ETHERNET). */
  pcap?: string;
  /** TcpConfig overrides of the gateway's side of forwarded connections (buffers bound per-connection memory; default GATEWAY_TCP_DEFAULTS). */
  tcp?: Partial<TcpConfig>;
  /** Published ports: the host listens on hostAddr (default 127.0.0.1):hostPort and the gateway opens each connection (or UDP flow) toward the guest's guestPort. */
  publish?: PublishSpec[];
  /** Diagnostics (one line each); default none. */
  log?: (line: string) => void;
  /** The DHCP server on the downstream (gateway/dhcp.ts): on by default; false turns it off. */
  dhcp?: boolean | GatewayDhcpOptions;
  /**
   * The resolver the DNS forwarder at 10.0.2.3 (fd00::3) relays to:
   * `ADDR[:PORT]` (`[V6]:PORT`); default the first nameserver of
   * /etc/resolv.conf. Not subject to allow/deny.
   */
  dnsUpstream?: string;
  /** A query the upstream does not answer in this long gets SERVFAIL (default 5000 ms). */
  dnsTimeoutMs?: number;
  /** IPv6 on the guest link (default false, as slirp4netns): fd00::2, fd00::3, Router Advertisements; fd00::100 in a netns. */
  ipv6?: boolean;
  /**
   * Serve the live view of the guest's connections (`--viz`) on the loopback
   * interface: `page` is the page's files (loadGatewayPage() of viz/); the
   * URL is `gateway.viz.url` once `ready` resolves.
   */
  viz?: GatewayVizOption;
}

export interface PublishSpec {
  hostAddr?: string;
  hostPort: number;
  guestPort: number;
  proto?: 'tcp' | 'udp';
  /** The guest's address (default 10.0.2.100, or fd00::100 for an IPv6 hostAddr). */
  guestAddr?: string;
}

/** Parses `[HOSTADDR:]HOSTPORT:GUESTPORT[/tcp|/udp]` (an IPv6 HOSTADDR in brackets: `[::1]:8080:80`). */
export function parsePublish(text: string): PublishSpec {
  const m = /^(?:(\[[0-9a-fA-F:.]+\]|[0-9.]+):)?(\d{1,5}):(\d{1,5})(?:\/(tcp|udp))?$/.exec(text);
  const bad = (): never => {
    throw new SynackError('ERR_SYNACK_INVALID_ARG', `not a port mapping: ${JSON.stringify(text)} (expected [HOSTADDR:]HOSTPORT:GUESTPORT[/tcp|/udp])`);
  };
  if (!m) return bad();
  const hostPort = Number(m[2]);
  const guestPort = Number(m[3]);
  if (!(hostPort >= 1 && hostPort <= 65535 && guestPort >= 1 && guestPort <= 65535)) return bad();
  const spec: PublishSpec = { hostPort, guestPort, proto: (m[4] as 'tcp' | 'udp' | undefined) ?? 'tcp' };
  if (m[1] !== undefined) {
    const a = m[1].startsWith('[') ? m[1].slice(1, -1) : m[1];
    if (parseIpv4Addr(a) === null && parseIpv6Addr(a) === null) return bad();
    spec.hostAddr = a;
  }
  return spec;
}

export interface GatewayStats {
  tcp: {
    requests: number;
    opened: number;
    /** Connections from host clients to published ports. */
    published: number;
    refused: number;
    unreachable: number;
    timedOut: number;
    denied: number;
    limited: number;
    cancelled: number;
    active: number;
    resetsFromGuest: number;
    resetsFromHost: number;
    bytesUp: number;
    bytesDown: number;
    /** Refused at the memory cap (maxBufferedBytes). */
    memoryLimited: number;
    /** Bytes held by the forwarded connections now (stats() time). */
    buffered: number;
    /** Host connects under way now, waiting for their turn now, that had to wait, and the most under way at once (maxPendingConnects). */
    connecting: number;
    connectsWaiting: number;
    connectsQueued: number;
    connectsHighWater: number;
    /** Buffers reused both ways (a TAP downstream on native host sockets): host reads received into recycled buffers, handed back once the guest acknowledged them, and the guest's large packets whose bytes the host socket took. */
    buffersRecycled: number;
  };
  udp: { flows: number; active: number; datagramsUp: number; datagramsDown: number; denied: number; limited: number; dropped: number; portUnreachable: number; unreachable: number };
  /** ICMP echo relayed to other destinations than the gateway (gateway/echo-relay.ts). */
  icmp: EchoRelayStats;
  link: StreamLinkStats | null;
  /**
   * The TAP device's link counters (a netns downstream; null otherwise):
   * packets and bytes each way, offloads, the guest's large packets read
   * straight into recycled buffers (packetsDirect, of packetsLent) and its
   * segments without payload copied into a shared slab (packetsBare).
   */
  tap: TunLinkStats | null;
  /** The DNS forwarder at 10.0.2.3 / fd00::3. */
  dns: GatewayDnsStats;
  /**
   * The driver running the gateway's stack on Node's event loop: its
   * setImmediate turns, timer firings, and settles (a downstream's batch or
   * a host socket's events processed, and only the timer re-armed after it
   * — no turn).
   */
  driver: DriverStats;
  /** Malformed or unwanted frames and packets the gateway's stack dropped, by reason. */
  drops: Record<string, number>;
  /** The WebSocket downstream's server (then tcp, udp, dhcp and drops add up every guest's). */
  websocket?: WebSocketServerStats;
  /** The DHCP server: leases granted (DHCPACKs), bindings held (offers, leases, declined addresses) and messages dropped by reason; null when off. */
  dhcp: { acks: number; bindings: number; drops: Record<string, number> } | null;
}

export interface ForwardedConnectionInfo {
  guest: string;
  target: string;
  state: string;
  bytesUp: number;
  bytesDown: number;
  /** Bytes this connection holds in the gateway now (both sockets' buffers and the synack connection's). */
  buffered: number;
}

export interface Gateway {
  readonly stack: Stack;
  readonly eth: EthernetInterface;
  readonly forwarding: Forwarding;
  readonly driver: Driver;
  /** The qemu socket path, when that is the downstream. */
  readonly socketPath: string | null;
  /** The TAP link, when the downstream is a network namespace (its device is inside it). */
  readonly tap: TapLink | null;
  /** The DNS forwarder at 10.0.2.3 (and fd00::3). */
  readonly dns: GatewayDns;
  /** Resolves once the downstream is ready (the qemu socket listens, published ports and the viz server are bound). */
  readonly ready: Promise<void>;
  /** The viz server (option `viz`), once `ready` resolved. */
  readonly viz: GatewayVizServer | null;
  stats(): GatewayStats;
  connections(): ForwardedConnectionInfo[];
  /** The WebSocket downstream: each connected client's own gateway; [] for the others. */
  guests(): Gateway[];
  /** The WebSocket downstream's server (its address once ready), else null. */
  readonly websocket: WebSocketGatewayServer | null;
  /**
   * Watches the guest's connections live (what `--viz` shows): a bounded
   * record per connection — state, bytes, rate, the host socket it maps
   * to, its last segments and state transitions (gateway/monitor.ts).
   */
  watch(opts?: MonitorOptions): GatewayMonitor;
  /** Resets every forwarded connection, closes every host socket and the downstream. */
  close(): Promise<void>;
}

export function parseAddr(text: string): IpAddr {
  const a = parseIpv4Addr(text) ?? parseIpv6Addr(text);
  if (a === null) throw new SynackError('ERR_SYNACK_INVALID_ARG', `not an IP address: ${text}`);
  return a;
}

/** Which ICMP Destination Unreachable a failed host connect becomes (RFC 1122 §3.2.2.1 codes). */
export function unreachableFor(code: string | undefined): UnreachableKind | 'refused' {
  switch (code) {
    case 'ECONNREFUSED':
    case 'ECONNRESET':
      return 'refused';
    case 'ENETUNREACH':
    case 'ENETDOWN':
      return 'net';
    case 'EACCES':
    case 'EPERM':
      return 'admin';
    default:
      return 'host';
  }
}

/**
 * Resets a host socket (RST to the host peer), or closes it when a shutdown
 * (our FIN) is still in flight: libuv refuses uv_tcp_close_reset() on a
 * shutting stream (UV_EINVAL), and Node 20 then leaves the handle open — the
 * process would spin at exit waiting for it. The peer has our FIN then, and
 * the close sends a RST for anything it still sends.
 */
export function resetHostSocket(s: nodeNet.Socket): void {
  if (s.destroyed) return;
  if (s.writableEnded && !s.writableFinished) s.destroy();
  else s.resetAndDestroy();
}
