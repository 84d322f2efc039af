/**
 * DHCP and DNS on a synack host (issue 13): the engines of services/ put
 * to work on one host's stack, its Driver and its node:net module.
 *
 *   host.dhcp()                 a DHCP client on the host's Ethernet interface: DISCOVER → REQUEST → bound
 *                               configures address, gateway, MTU and the resolver's servers; renews, rebinds, expires
 *   host.dhcpServer({ … })      a DHCP server (pool, options 1, 3, 6, 15, 26, 51, 54) on port 67
 *   host.dnsForwarder({ … })    a DNS forwarder on port 53 (UDP and TCP) relaying to an upstream
 *   host.dnsZone({ … })         a small authoritative DNS server (UDP and TCP) for names of its own
 *   host.setDnsServers([…])     the stub resolver's servers (DHCP option 6 sets them too)
 *   host.lookup(name, o, cb)    dns.lookup over the stub resolver; host.net.connect(port, name) uses it
 *   host.ping(addr, { count })  ICMP echo requests (RFC 792, RFC 4443 §4.1), replies matched and timed (api/ping.ts)
 *
 * UDP goes through services/udp-service.ts (the stack's own sockets, polled
 * on the stack's clock); TCP (DNS over TCP, RFC 1035 §4.2.2 / RFC 7766)
 * through the host's `net` module, sockets like any application's. Timers
 * are StackTimers: on the stack's clock, virtual in tests.
 */
import type { Instant } from '../base/time.ts';
import { Rng } from '../base/rng.ts';
import type { Stack } from '../stack/stack.ts';
import type { EthernetInterface } from '../stack/ethernet.ts';
import { DhcpClientHost, DhcpServerHost, type DhcpHostConfig, type DhcpServerHostOptions } from '../services/dhcp-host.ts';
import type { DhcpClientEvent } from '../services/dhcp-client.ts';
import { StackTimer, UdpService } from '../services/udp-service.ts';
import { DnsResolverEngine, StubResolver, type LookupOptions, type ResolverConfig, type TcpAction } from '../services/dns-resolver.ts';
import { DnsForwarder, type ForwarderConfig, type ForwarderTcpAction } from '../services/dns-forwarder.ts';
import { DnsZoneServer } from '../services/dns-zone.ts';
import { DnsStreamReader, frameDns } from '../services/dns-stream.ts';
import type { OutDatagram } from '../services/types.ts';
import { DNS_CLASS_IN, DNS_PORT, DNS_TYPE_A, DNS_TYPE_AAAA, DNS_TYPE_CNAME, type DnsRecord } from '../wire/dns.ts';
import { parseIpAddr } from '../wire/ipv6.ts';
import { ipv6ToBytes } from '../wire/ipv6.ts';
import { SynackError } from '../errors.ts';
import type { Driver } from './driver.ts';
import type { SynackNet } from './net.ts';
import type { Socket } from './socket.ts';
import type { Server } from './server.ts';
import { ping, type PingOptions, type PingResult } from './ping.ts';

/** dns.lookup's callback shape (Node's). */
export type LookupCallback = (err: Error | null, address?: string | Array<{ address: string; family: number }>, family?: number) => void;

/** A host's name resolution by DNS, consulted by its `net` after the hosts table (api/socket.ts). */
export interface DnsBox {
  lookup: ((hostname: string, options: LookupOptions | number, cb: LookupCallback) => void) | null;
}

export interface ServiceHostParts {
  stack: Stack;
  driver: Driver;
  net: SynackNet;
  eth: EthernetInterface | null;
  /** The box the host's `net` consults; setDnsServers fills it. */
  dns: DnsBox;
  /** Seed of the services' random choices (DHCP xids and delays, DNS ids). */
  seed: number;
}

export interface DhcpOptions {
  /** RFC 2131 §4.4.1's 1–10 s wait before the first DISCOVER (default true). */
  startDelay?: boolean;
  /** Use the lease's DNS servers (option 6) for the host's resolver (default true). */
  useDns?: boolean;
  /** Every client event, after the stack was reconfigured. */
  onEvent?: (ev: DhcpClientEvent) => void;
  /** Keep the process (and a virtual clock) running while the client runs (default true). */
  ref?: boolean;
  /** Probe each leased address by ARP before using it, declining it if another host answers (RFC 2131 §4.4.1, RFC 5227 §2.1.1; default true). */
  arpProbe?: boolean;
}

export interface DhcpHandle {
  readonly client: DhcpClientHost;
  /** Resolves with the first lease's configuration. */
  readonly bound: Promise<DhcpHostConfig>;
  /** The configuration in force (null before the first lease, after expiry). */
  readonly config: DhcpHostConfig | null;
  /** DHCPRELEASE, unconfigure, stop. */
  release(): void;
  /** Stop the client (the address stays until the host goes). */
  stop(): void;
}

export interface DnsServerHandle {
  readonly port: number;
  close(): void;
}

export interface DnsForwarderOptions {
  port?: number;
  /** 'ADDR' or { address, port }. */
  upstream: string | { address: string; port?: number };
  timeoutMs?: number;
  cacheSize?: number;
  maxOutstanding?: number;
}

export interface DnsForwarderHandle extends DnsServerHandle {
  readonly forwarder: DnsForwarder;
}

export interface DnsZoneOptions {
  port?: number;
  /** The zone apex ('example.test'). */
  origin: string;
  /** Names → addresses (A and AAAA records), e.g. { 'www.example.test': ['10.0.0.2', 'fd00::2'] }. */
  names?: Record<string, string | string[]>;
  /** Aliases: name → canonical name (CNAME records). */
  aliases?: Record<string, string>;
  /** More records as they are. */
  records?: DnsRecord[];
  /** TTL of the records made from `names` and `aliases` (default 300 s). */
  ttl?: number;
  soaMinimum?: number;
}

export interface DnsZoneHandle extends DnsServerHandle {
  readonly zone: DnsZoneServer;
}

export interface ResolverOptions extends Partial<Omit<ResolverConfig, 'servers' | 'rng' | 'timeouts' | 'tcpTimeout'>> {
  timeoutsMs?: number[];
  tcpTimeoutMs?: number;
}

export interface HostServices {
  dhcp(opts?: DhcpOptions): DhcpHandle;
  dhcpServer(opts: Omit<DhcpServerHostOptions, 'poolStart' | 'poolEnd' | 'router' | 'dns' | 'serverId'> & {
    poolStart: string;
    poolEnd: string;
    router?: string;
    dns?: string[];
    serverId?: string;
  }): DhcpServerHost;
  dnsForwarder(opts: DnsForwarderOptions): DnsForwarderHandle;
  dnsZone(opts: DnsZoneOptions): DnsZoneHandle;
  /** The stub resolver's servers ('ADDR' or 'ADDR:PORT' / '[v6]:PORT'); an empty list turns DNS off. */
  setDnsServers(servers: string[], opts?: ResolverOptions): void;
  /** dns.lookup over the stub resolver (ENOTFOUND without servers). */
  lookup(hostname: string, options: LookupOptions | number | LookupCallback, cb?: LookupCallback): void;
  /** The resolver in use (null without servers). */
  readonly resolver: StubResolver | null;
  /** Echo requests to an IPv4 or IPv6 address; resolves when each has its reply or its timeout (api/ping.ts). */
  ping(address: string, opts?: PingOptions): Promise<PingResult>;
}

function v4(text: string, what: string): number {
  const a = parseIpAddr(text);
  if (typeof a !== 'number') throw new SynackError('ERR_SYNACK_INVALID_ARG', `${what} must be an IPv4 address, got ${text}`);
  return a;
}

/** 'ADDR', 'ADDR:PORT', '[V6]:PORT' → { address, port }. */
export function parseHostPort(text: string, defPort: number): { address: string; port: number } | null {
  let address = text;
  let port = defPort;
  const br = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  if (br) {
    address = br[1]!;
    if (br[2] !== undefined) port = Number(br[2]);
  } else if (/^[^:]+:\d+$/.test(text)) {
    const i = text.lastIndexOf(':');
    address = text.slice(0, i);
    port = Number(text.slice(i + 1));
  }
  if (parseIpAddr(address) === null || !(Number.isInteger(port) && port >= 1 && port <= 65535)) return null;
  return { address, port };
}

/** A TCP transport for the DNS engines over the host's `net`: connections by number, bytes in, close out. */
class TcpConns {
  readonly socks = new Map<number, Socket>();
  constructor(
    private readonly net: SynackNet,
    private readonly onData: (conn: number, bytes: Uint8Array) => void,
    private readonly onClose: (conn: number) => void,
  ) {}

  open(conn: number, address: string, port: number, data: Uint8Array): void {
    const s = this.net.connect({ port, host: address });
    this.socks.set(conn, s);
    s.on('data', (d: Uint8Array) => this.onData(conn, d));
    s.on('error', () => {});
    s.on('close', () => {
      if (this.socks.get(conn) === s) {
        this.socks.delete(conn);
        this.onClose(conn);
      }
    });
    s.write(data);
  }

  close(conn: number): void {
    const s = this.socks.get(conn);
    this.socks.delete(conn);
    s?.destroy();
  }

  closeAll(): void {
    for (const s of this.socks.values()) s.destroy();
    this.socks.clear();
  }
}

export function createHostServices(h: ServiceHostParts): HostServices {
  const { stack, driver, net } = h;
  let draws = 0;
  const rng = (): Rng => new Rng((Math.imul(h.seed ^ 0x5eed, 0x9e3779b1) + ++draws * 0x632be5ab) >>> 0);
  const now = (): Instant => stack.clock.now();
  let resolver: StubResolver | null = null;
  let resolverUdp: UdpService | null = null;
  let resolverTimer: StackTimer | null = null;
  let resolverTcp: TcpConns | null = null;

  const needEth = (what: string): EthernetInterface => {
    if (!h.eth) throw new SynackError('ERR_SYNACK_INVALID_STATE', `${what} needs an Ethernet interface (createMemoryNetwork({ ethernet: true }) or a TAP link)`);
    return h.eth;
  };

  let releaseHold: (() => void) | null = null;

  function dropResolver(): void {
    resolver?.close();
    releaseHold?.();
    releaseHold = null;
    resolverUdp?.close();
    resolverTimer?.dispose();
    resolverTcp?.closeAll();
    resolver = resolverUdp = resolverTimer = resolverTcp = null;
    h.dns.lookup = null;
  }

  function setDnsServers(servers: string[], opts: ResolverOptions = {}): void {
    dropResolver();
    if (servers.length === 0) return;
    const list = servers.map((s) => {
      const p = parseHostPort(s, DNS_PORT);
      if (p === null) throw new SynackError('ERR_SYNACK_INVALID_ARG', `a DNS server must be ADDR or ADDR:PORT, got ${s}`);
      return p;
    });
    const { timeoutsMs, tcpTimeoutMs, ...rest } = opts;
    const engine = new DnsResolverEngine({
      ...rest,
      servers: list,
      rng: rng(),
      ...(timeoutsMs ? { timeouts: timeoutsMs.map((ms) => ms * 1000) } : {}),
      ...(tcpTimeoutMs !== undefined ? { tcpTimeout: tcpTimeoutMs * 1000 } : {}),
    });
    let current: (() => void) | null = null;
    // A lookup in flight keeps the process (and a virtual clock) going, as
    // Node's getaddrinfo request does: the driver is held while a timer is armed.
    let held = false;
    const hold = (on: boolean): void => {
      if (on && !held) driver.ref();
      else if (!on && held) driver.unref();
      held = on;
    };
    const timer = new StackTimer(stack, () => {
      const f = current;
      current = null;
      hold(false);
      f?.();
    });
    releaseHold = () => hold(false);
    // A dual-stack socket on an ephemeral port: servers of either family.
    const udp = new UdpService(stack, { port: 0, family: 6 }, (bytes, from) => r.receiveUdp(bytes, from));
    const tcp = new TcpConns(net, (c, b) => r.receiveTcp(c, b), (c) => r.tcpClosed(c));
    const r = new StubResolver(engine, {
      now,
      setTimer(at, fn) {
        current = fn;
        timer.set(at);
        hold(true);
        driver.kick();
        return () => {
          if (current === fn) {
            current = null;
            timer.set(null);
            hold(false);
          }
        };
      },
      sendUdp(d: OutDatagram) {
        udp.send(d);
        driver.kick();
      },
      tcp(a: TcpAction) {
        if (a.type === 'open') tcp.open(a.conn, a.address, a.port, a.data);
        else tcp.close(a.conn);
      },
    });
    resolver = r;
    resolverUdp = udp;
    resolverTimer = timer;
    resolverTcp = tcp;
    h.dns.lookup = (name, o, cb) => r.lookup(name, o, cb as never);
  }

  function lookup(hostname: string, options: LookupOptions | number | LookupCallback, cb?: LookupCallback): void {
    const callback = (typeof options === 'function' ? options : cb)!;
    const o = typeof options === 'function' ? {} : options;
    if (resolver === null) {
      const e = Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND', errno: -3008, syscall: 'getaddrinfo', hostname });
      queueMicrotask(() => callback(e));
      return;
    }
    resolver.lookup(hostname, o, callback as never);
  }

  function dhcp(opts: DhcpOptions = {}): DhcpHandle {
    const eth = needEth('host.dhcp()');
    let config: DhcpHostConfig | null = null;
    let resolveBound!: (c: DhcpHostConfig) => void;
    const bound = new Promise<DhcpHostConfig>((res) => (resolveBound = res));
    const useDns = opts.useDns ?? true;
    const holding = opts.ref ?? true;
    let held = false;
    const client = new DhcpClientHost(eth, {
      rng: rng(),
      ...(opts.startDelay !== undefined ? { startDelay: opts.startDelay } : {}),
      ...(opts.arpProbe !== undefined ? { arpProbe: opts.arpProbe } : {}),
      onConfig(c) {
        config = c;
        if (useDns) {
          if (c === null) dropResolver();
          else if (c.dns.join() !== (resolver ? currentServers.join() : '')) {
            currentServers = c.dns;
            setDnsServers(c.dns);
          }
        }
        if (c !== null) resolveBound(c);
      },
      ...(opts.onEvent ? { onEvent: opts.onEvent } : {}),
    });
    let currentServers: string[] = [];
    if (holding) {
      driver.ref();
      held = true;
    }
    const unhold = (): void => {
      if (held) driver.unref();
      held = false;
    };
    client.start();
    driver.kick();
    return {
      client,
      bound,
      get config() {
        return config;
      },
      release() {
        client.release();
        unhold();
        driver.kick();
      },
      stop() {
        client.stop();
        unhold();
      },
    };
  }

  function dhcpServer(opts: Parameters<HostServices['dhcpServer']>[0]): DhcpServerHost {
    const eth = needEth('host.dhcpServer()');
    const { poolStart, poolEnd, router, dns, serverId, ...rest } = opts;
    const srv = new DhcpServerHost(eth, {
      ...rest,
      poolStart: v4(poolStart, 'poolStart'),
      poolEnd: v4(poolEnd, 'poolEnd'),
      ...(router !== undefined ? { router: v4(router, 'router') } : {}),
      ...(dns !== undefined ? { dns: dns.map((d) => v4(d, 'dns')) } : {}),
      ...(serverId !== undefined ? { serverId: v4(serverId, 'serverId') } : {}),
    });
    driver.kick();
    return srv;
  }

  /** A TCP listener on `port` for DNS clients (RFC 1035 §4.2.2 framing), each connection numbered. */
  function dnsTcpServer(port: number, onMsg: (conn: number, bytes: Uint8Array) => void, onClose: (conn: number) => void): { server: Server; socks: Map<number, Socket> } {
    const socks = new Map<number, Socket>();
    let n = 0;
    const server = net.createServer((s) => {
      const id = ++n;
      socks.set(id, s);
      s.on('data', (d: Uint8Array) => onMsg(id, d));
      s.on('error', () => {});
      s.on('close', () => {
        socks.delete(id);
        onClose(id);
      });
    });
    server.listen(port);
    return { server, socks };
  }

  function dnsForwarder(opts: DnsForwarderOptions): DnsForwarderHandle {
    const port = opts.port ?? DNS_PORT;
    const up = typeof opts.upstream === 'string' ? parseHostPort(opts.upstream, DNS_PORT) : { address: opts.upstream.address, port: opts.upstream.port ?? DNS_PORT };
    if (up === null || parseIpAddr(up.address) === null) throw new SynackError('ERR_SYNACK_INVALID_ARG', `the upstream must be ADDR or ADDR:PORT, got ${String(opts.upstream)}`);
    let fwd!: DnsForwarder;
    const client = new UdpService(stack, { port, family: 6 }, (bytes, from, t) => apply(fwd.handleClientUdp(bytes, from, t)));
    const upstream = new UdpService(stack, { port: 0, family: 6 }, (bytes, from, t) => apply(fwd.handleUpstreamUdp(bytes, from, t)));
    const cfg: ForwarderConfig = {
      upstream: up,
      rng: rng(),
      port,
      upstreamSrcPort: upstream.port,
      ...(opts.timeoutMs !== undefined ? { timeout: opts.timeoutMs * 1000 } : {}),
      ...(opts.cacheSize !== undefined ? { cacheSize: opts.cacheSize } : {}),
      ...(opts.maxOutstanding !== undefined ? { maxOutstanding: opts.maxOutstanding } : {}),
    };
    fwd = new DnsForwarder(cfg);
    const timer = new StackTimer(stack, (t) => apply(fwd.poll(t)));
    const upTcp = new TcpConns(net, (c, b) => apply(fwd.handleUpstreamTcp(c, b, now())), () => {});
    const tcpSrv = dnsTcpServer(port, (c, b) => apply(fwd.handleClientTcp(c, b, now())), (c) => apply(fwd.clientTcpClosed(c)));
    function apply(s: { out: OutDatagram[]; tcp: ForwarderTcpAction[]; deadline: Instant | null }): void {
      for (const d of s.out) (d.srcPort === port ? client : upstream).send(d);
      for (const a of s.tcp) {
        if (a.type === 'open') upTcp.open(a.conn, a.address, a.port, a.data);
        else if (a.type === 'write') tcpSrv.socks.get(a.conn)?.write(a.data);
        else if (a.conn < 0) upTcp.close(a.conn);
        else tcpSrv.socks.get(a.conn)?.end();
      }
      timer.set(s.deadline);
      driver.kick();
    }
    return {
      forwarder: fwd,
      port,
      close() {
        client.close();
        upstream.close();
        timer.dispose();
        upTcp.closeAll();
        tcpSrv.server.close();
        for (const s of tcpSrv.socks.values()) s.destroy();
      },
    };
  }

  function dnsZone(opts: DnsZoneOptions): DnsZoneHandle {
    const port = opts.port ?? DNS_PORT;
    const ttl = opts.ttl ?? 300;
    const records: DnsRecord[] = [...(opts.records ?? [])];
    for (const [name, addrs] of Object.entries(opts.names ?? {})) {
      for (const text of typeof addrs === 'string' ? [addrs] : addrs) {
        const a = parseIpAddr(text);
        if (a === null) throw new SynackError('ERR_SYNACK_INVALID_ARG', `not an address: ${text}`);
        records.push(typeof a === 'number'
          ? { name, type: DNS_TYPE_A, class: DNS_CLASS_IN, ttl, data: { kind: 'a', address: a } }
          : { name, type: DNS_TYPE_AAAA, class: DNS_CLASS_IN, ttl, data: { kind: 'aaaa', address: ipv6ToBytes(a) } });
      }
    }
    for (const [name, target] of Object.entries(opts.aliases ?? {})) {
      records.push({ name, type: DNS_TYPE_CNAME, class: DNS_CLASS_IN, ttl, data: { kind: 'name', name: target } });
    }
    const zone = new DnsZoneServer({ origin: opts.origin, records, ...(opts.soaMinimum !== undefined ? { soaMinimum: opts.soaMinimum } : {}) });
    const udp = new UdpService(stack, { port, family: 6 }, (bytes, from) => {
      const reply = zone.handle(bytes, false);
      if (reply !== null) udp.send({ payload: reply, address: from.address, port: from.port, srcPort: port });
    });
    const readers = new Map<number, DnsStreamReader>();
    const tcpSrv = dnsTcpServer(port, (c, b) => {
      let r = readers.get(c);
      if (r === undefined) readers.set(c, (r = new DnsStreamReader()));
      const msgs = r.push(b);
      if (msgs === null) return tcpSrv.socks.get(c)?.destroy();
      for (const m of msgs) {
        const reply = zone.handle(m, true);
        if (reply !== null) tcpSrv.socks.get(c)?.write(frameDns(reply));
      }
    }, (c) => readers.delete(c));
    driver.kick();
    return {
      zone,
      port,
      close() {
        udp.close();
        tcpSrv.server.close();
        for (const s of tcpSrv.socks.values()) s.destroy();
      },
    };
  }

  return {
    dhcp,
    dhcpServer,
    dnsForwarder,
    dnsZone,
    setDnsServers,
    lookup,
    ping: (address, opts) => ping({ stack, driver }, address, opts),
    get resolver() {
      return resolver;
    },
  };
}
