/**
 * The Stack: interfaces with IPv4 addresses, demultiplexing by 4-tuple,
 * listeners with a bounded backlog, ephemeral ports, ISNs (RFC 6528), one
 * timer heap for every connection, ICMP echo replies, counters and trace
 * hooks. Sans I/O: links deliver packets in, `poll(now)` fires timers, and
 * the clock is injected.
 *
 * The path of one segment in: Link.onReceive → receive() → parseIpv4 →
 * parseTcp → demux (connection, else listener, else RST per RFC 9293
 * §3.10.7.1) → Connection.onSegment → outputs via transmit() → Link.
 *
 * Beside this file, by concern: demux.ts (the 4-tuple table),
 * held-output.ts (deferred work, the cork, the receive batch),
 * challenge-ack.ts (RFC 5961 §7's host-wide budget), and the receive and
 * send paths (ip-input.ts, tcp-input.ts, icmp.ts, ip-output.ts).
 */
import type { Clock, Instant } from '../base/time.ts';
import type { DropReason, Ipv4Addr, TcpRepr } from '../wire/types.ts';
import { ipv4InSubnet } from '../wire/bytes.ts';
import {
  formatIpAddr,
  ipv6InSubnet,
  ipv6MappedToV4,
  isIpv6Loopback,
  isIpv6Multicast,
  isIpv6Unspecified,
  IPV6_LOOPBACK,
  IPV6_MIN_MTU,
  IPV6_UNSPECIFIED,
  readIpv6Addr,
  type IpAddr,
  type Ipv6Addr,
} from '../wire/ipv6.ts';
import { Connection, type ConnectionHost } from '../tcp/connection.ts';
import type { CloseReason, ConnectionEvent } from '../tcp/events.ts';
import { deriveTcpConfig, makeTcpConfig, type TcpConfig } from '../tcp/config.ts';
import type { TcpState } from '../tcp/state.ts';
import { Reassembler, type ReassemblyLimits } from '../ip/reassembly.ts';
import { SynackError } from '../errors.ts';
import { IsnGenerator } from './isn.ts';
import { ChallengeAckBudget } from './challenge-ack.ts';
import { ConnTable } from './demux.ts';
import { HeldOutput } from './held-output.ts';
import { TimerHeap } from './timer-heap.ts';
import { Counters } from './counters.ts';
import { SynCookies } from './syncookies.ts';
import { MemoryBudget } from '../tcp/budget.ts';
import { PacketPool } from './packet-pool.ts';
import { PathMtuCache } from './pmtu.ts';
import { IPV4_LOOPBACK, LoopbackLink, isIpv4Loopback } from './loopback.ts';
import { receiveIp, subnetMask } from './ip-input.ts';
import { spendCookie } from './tcp-input.ts';
import { EchoPorts } from './echo.ts';
import { gsoMaxSegment, sendDatagram, sendPacket, sendSegment } from './ip-output.ts';
import { makeIcmpv6Limiter, sendIcmpV4TimeExceeded, sendIcmpv6Error } from './icmp.ts';
import type { Icmpv6RateLimiter } from '../wire/icmpv6.ts';
import { UdpTable } from '../udp/table.ts';
import { Forwarding, type ForwardingConfig } from './forward.ts';

export { PMTU_MIN, PMTU_AGE_US, PMTU_CACHE_MAX, BLACKHOLE_BASE_MSS, BLACKHOLE_RTOS } from './pmtu.ts';

export type { IfAddr, InterfaceConfig, NetInterface, StackConfig, StackTraceEvent, StackHook, ConnectionObserver, ListenOptions } from './types.ts';
export { Listener } from './types.ts';
import { Listener, type IfAddr, type InterfaceConfig, type NetInterface, type StackConfig, type StackTraceEvent, type StackHook, type ConnectionObserver, type ListenOptions } from './types.ts';
import { completeForCapture } from './rx-verified.ts';

interface ConnMeta {
  listener: Listener | null;
  accepted: boolean;
}

const ANY = 0;

export class Stack implements ConnectionHost {
  readonly clock: Clock;
  readonly name: string;
  readonly counters = new Counters();
  readonly interfaces: NetInterface[] = [];
  /**
   * The loopback interface (loopback.ts): 127.0.0.1/8 and ::1/128, MTU
   * 65536. Not in `interfaces` (those are the links to other hosts); every
   * packet to one of our own addresses goes through it.
   */
  readonly loopback: NetInterface;
  private readonly lo = new LoopbackLink();
  readonly tcpConfig: TcpConfig;
  private readonly isnGen: IsnGenerator;
  private readonly timers = new TimerHeap<Connection>();
  /** The connections by 4-tuple (demux.ts). */
  private readonly conns: ConnTable;
  private readonly listeners = new Map<number, Listener[]>();
  /**
   * Listener bookkeeping of passively opened connections, from the SYN until
   * the connection is handed to `onConnection` (or for as long as it may sit
   * in an accept queue). A connection without an entry behaves as
   * `{ listener: null, accepted: true }`: active opens never get one, which
   * saves a WeakMap entry and an object per idle connection.
   */
  /** @internal */ readonly meta = new WeakMap<Connection, ConnMeta>();
  private readonly portsInUse = new Map<number, number>();
  /** @internal */ connCount = 0;
  /** @internal */ hooks: StackHook[] = [];
  /** Buffers of outgoing TCP packets (see packet-pool.ts). */
  private readonly txPool = new PacketPool();
  /** @internal */ readonly allocTx = (n: number): Uint8Array => this.txPool.alloc(n);
  private portCursor: number;
  private readonly ephemeral: [number, number];
  private readonly flowFilter: StackConfig['flowFilter'] | null;
  /** @internal */ readonly maxConnections: number;
  private readonly defaultBacklog: number;
  /** @internal */ readonly ttl: number;
  private ipIdent = 0;
  /** The host-wide challenge-ACK budget (challenge-ack.ts). */
  private readonly challenges: ChallengeAckBudget;
  /** @internal */ readonly cookies: SynCookies;
  /** The stack-wide account for received bytes (tcp/budget.ts). */
  readonly budget: MemoryBudget;
  /** Connections made from a cookie, with the cookie's key. */
  /** @internal */ readonly cookieConns = new WeakMap<Connection, string>();
  /** Cookies whose connection has ended, until they expire (bounded, oldest evicted first). */
  /** @internal */ readonly spentCookies = new Map<string, Instant>();
  /** @internal */ readonly synCookieMode: 'auto' | 'always' | 'never';
  /** Path MTU estimates by destination, both families (pmtu.ts). @internal */
  readonly pmtu = new PathMtuCache(this);
  /** Every address of every interface, for "is it ours" on each packet. */
  private readonly localAddrs = new Set<IpAddr>();
  /**
   * Bumped whenever an address is added or removed or an interface starts
   * forwarding: what was decided from the addresses before (the route memo
   * below, ip-input.ts's last accepted packet addresses) is stale. @internal
   */
  addrGen = 0;
  /** The last `routeFrom` answer and its destination, valid while `routeMemoGen === addrGen`. */
  private routeMemoDst: IpAddr | null = null;
  private routeMemo: { iface: NetInterface; src: IpAddr } | null = null;
  private routeMemoGen = -1;
  /** ip-input.ts: the last IPv6 source, destination and interface that passed its address checks, while `v6OkGen === addrGen`. @internal */
  v6OkSrc: IpAddr | null = null;
  /** @internal */ v6OkDst: IpAddr | null = null;
  /** @internal */ v6OkIface: NetInterface | null = null;
  /** @internal */ v6OkGen = -1;
  /** Fragment reassembly (ip/reassembly.ts), made on the first fragment. */
  private frags: Reassembler | null = null;
  private readonly reassemblyLimits: Partial<ReassemblyLimits> | undefined;
  /** When the reassembler next times a datagram out (Infinity = nothing held). */
  private fragNextDeadline: Instant = Infinity;
  /** RFC 4443 §2.4 (f) token bucket, made on the first ICMPv6 error we originate. */
  private icmpv6Bucket: Icmpv6RateLimiter | null = null;
  /** The same token bucket for the ICMPv4 errors we originate (port unreachable), made on first use. */
  private icmpv4Bucket: Icmpv6RateLimiter | null = null;
  /** Ping sessions (echo.ts), made on the first one. */
  private echo: EchoPorts | null = null;
  /** UDP sockets (udp/table.ts; the datagram path is udp.ts). */
  readonly udp: UdpTable;
  /** Keys of the flow-label PRF (RFC 6437), derived from the ISN secret. */
  /** @internal */ readonly flowKey: [number, number];
  /**
   * The last flow label computed (ip-output.ts flowLabel) and its inputs: the
   * label is a pure function of the connection's ISS and ports, so the
   * segments of one connection in a row reuse it instead of a HalfSipHash
   * call each. Per stack, nothing per connection. @internal
   */
  flowMemoId = -1;
  /** @internal */ flowMemoPorts = -1;
  /** @internal */ flowMemoLabel = 0;
  /** Identification of the fragments of our IPv6 packets (RFC 8200 §4.5), from a PRF of a counter. */
  /** @internal */ fragIdent = 0;
  /** Timers of link layers below the stack (stack/ethernet.ts: neighbour cache, DAD, router advertisements), run by poll(). @internal */
  readonly linkTimers: Array<{ nextDeadline(): Instant; poll(now: Instant): void }> = [];
  /** Interfaces that take TCP and UDP to any destination (forward.ts), made on first use. @internal */
  forwarding: Map<NetInterface, Forwarding> | null = null;
  /** Soft ICMP errors (RFC 1122 §4.2.3.9) remembered with SND.UNA when they came, off the TCB. */
  /** @internal */ readonly softErrors = new WeakMap<Connection, { reason: CloseReason; sndUna: number }>();

  constructor(config: StackConfig) {
    this.clock = config.clock;
    this.name = config.name ?? 'stack';
    this.tcpConfig = makeTcpConfig(config.tcp);
    this.isnGen = new IsnGenerator(config.isnSecret[0] >>> 0, config.isnSecret[1] >>> 0);
    // A separate key for cookies, derived from the ISN secret.
    this.cookies = new SynCookies((config.isnSecret[1] ^ 0x5ca1ab1e) >>> 0, (config.isnSecret[0] ^ 0xc0ffee11) >>> 0);
    this.synCookieMode = config.synCookies ?? 'auto';
    this.conns = new ConnTable(config.isnSecret);
    this.budget = new MemoryBudget(config.maxReceiveMemoryBytes ?? 512 * 1024 * 1024);
    this.ephemeral = config.ephemeralPorts ?? [49152, 65535];
    this.flowFilter = config.flowFilter ?? null;
    if (!(this.ephemeral[0] >= 1 && this.ephemeral[1] <= 65535 && this.ephemeral[0] <= this.ephemeral[1])) {
      throw new SynackError('ERR_SYNACK_INVALID_ARG', 'StackConfig.ephemeralPorts must be a range within 1..65535');
    }
    const span = this.ephemeral[1] - this.ephemeral[0] + 1;
    // (| 0: a small integer, so the ports it yields are too — no heap number in each TCB.)
    this.portCursor = (((config.portSeed ?? config.isnSecret[0]) >>> 0) % span) | 0;
    // UDP ports are a namespace of their own (as Linux's), from the same range.
    this.udp = new UdpTable(this.ephemeral, Math.imul((config.portSeed ?? config.isnSecret[0]) >>> 0, 0x9e3779b1) >>> 0);
    this.maxConnections = config.maxConnections ?? 1_000_000;
    this.defaultBacklog = config.defaultBacklog ?? 511;
    this.ttl = config.ttl ?? 64;
    this.challenges = new ChallengeAckBudget(config.isnSecret);
    this.flowKey = [(config.isnSecret[0] ^ 0x6f1a7e11) >>> 0, (config.isnSecret[1] ^ 0x3b9c0de5) >>> 0];
    this.reassemblyLimits = config.reassembly;
    const lo = this.lo;
    lo.onReceive = (bytes) => this.receive(this.loopback, bytes);
    lo.onOverflow = () => this.drop(null, 'loopback-queue-full');
    this.loopback = {
      name: 'lo',
      addr: IPV4_LOOPBACK,
      prefixLen: 8,
      addrs: [
        { addr: IPV4_LOOPBACK, prefixLen: 8 },
        { addr: IPV6_LOOPBACK, prefixLen: 128 },
      ],
      link: lo,
      mtu: lo.mtu,
      caps: lo.checksum,
      loopback: true,
    };
    if (config.challengeAckLimit !== undefined) {
      if (!(Number.isInteger(config.challengeAckLimit) && config.challengeAckLimit >= 0)) {
        throw new SynackError('ERR_SYNACK_INVALID_ARG', 'StackConfig.challengeAckLimit must be a non-negative integer');
      }
      this.challengeAckLimit = config.challengeAckLimit;
    }
  }

  // ===========================================================================
  // Interfaces and hooks
  // ===========================================================================

  addInterface(cfg: InterfaceConfig): NetInterface {
    const addrs: IfAddr[] = [];
    // An interface may start without an address (`addr` undefined): a DHCP
    // client's, which configures one when it is bound (services/dhcp-host.ts).
    const given = cfg.addr === undefined ? (cfg.more ?? []) : [{ addr: cfg.addr, prefixLen: cfg.prefixLen ?? 0 }, ...(cfg.more ?? [])];
    for (const a of given) addrs.push(this.checkIfAddr(a, cfg.link.mtu));
    const first = addrs[0];
    const iface: NetInterface = {
      name: cfg.name ?? `if${this.interfaces.length}`,
      addr: first?.addr ?? 0,
      prefixLen: first?.prefixLen ?? 0,
      addrs,
      link: cfg.link,
      mtu: cfg.link.mtu,
      caps: cfg.link.checksum,
      loopback: cfg.loopback ?? (first === undefined ? false : typeof first.addr === 'number' ? first.addr >>> 24 === 127 : isIpv6Loopback(first.addr)),
    };
    this.interfaces.push(iface);
    for (const a of addrs) this.localAddrs.add(a.addr);
    this.addrGen++;
    if (cfg.link.receivesInBatches === true) {
      const held = this.held;
      cfg.link.onReceive = (bytes) => {
        held.inBatch = true;
        this.receive(iface, bytes);
      };
      cfg.link.onReceiveEnd = () => this.endBatch();
    } else cfg.link.onReceive = (bytes) => this.receive(iface, bytes);
    cfg.link.partialChecksumsIn = true;
    return iface;
  }

  /** Adds an address (say an IPv6 one beside the IPv4 one) to an interface of this stack. */
  addAddress(iface: NetInterface, addr: IpAddr, prefixLen: number): void {
    if (!this.interfaces.includes(iface)) throw new SynackError('ERR_SYNACK_INVALID_ARG', 'not an interface of this stack');
    const a = this.checkIfAddr({ addr, prefixLen }, iface.mtu);
    iface.addrs.push(a);
    this.localAddrs.add(a.addr);
    this.addrGen++;
  }

  /**
   * Removes an address from an interface (an IPv6 address that Duplicate
   * Address Detection found in use, RFC 4862 §5.4.5). Connections using it
   * are left to time out.
   */
  removeAddress(iface: NetInterface, addr: IpAddr): boolean {
    const i = iface.addrs.findIndex((a) => a.addr === addr);
    if (i < 0) return false;
    iface.addrs.splice(i, 1);
    if (!this.interfaceOf(addr)) this.localAddrs.delete(addr);
    this.addrGen++;
    return true;
  }

  private checkIfAddr(a: IfAddr, mtu: number): IfAddr {
    if (typeof a.addr === 'number') {
      if (!(a.prefixLen >= 0 && a.prefixLen <= 32)) throw new SynackError('ERR_SYNACK_INVALID_ARG', 'prefixLen must be 0..32');
      return { addr: a.addr >>> 0, prefixLen: a.prefixLen };
    }
    if (typeof a.addr !== 'string' || a.addr.length !== 8) throw new SynackError('ERR_SYNACK_INVALID_ARG', 'an IPv6 address must be an Ipv6Addr (wire/ipv6.ts parseIpv6Addr)');
    if (!(a.prefixLen >= 0 && a.prefixLen <= 128)) throw new SynackError('ERR_SYNACK_INVALID_ARG', 'prefixLen must be 0..128 for IPv6');
    if (isIpv6Multicast(a.addr) || isIpv6Unspecified(a.addr)) throw new SynackError('ERR_SYNACK_INVALID_ARG', `${formatIpAddr(a.addr)} is not a unicast address`);
    // RFC 8200 §5: "IPv6 requires that every link in the Internet have an
    // MTU of 1280 octets or greater. This is known as the IPv6 minimum link
    // MTU. On any link that cannot convey a 1280-octet packet in one piece,
    // link-specific fragmentation and reassembly must be provided at a layer
    // below IPv6." synack has no such layer: such a link gets no IPv6.
    if (mtu < IPV6_MIN_MTU) throw new SynackError('ERR_SYNACK_INVALID_ARG', `IPv6 needs a link MTU of at least ${IPV6_MIN_MTU} (RFC 8200 §5), this link has ${mtu}`);
    return a;
  }

  /**
   * Makes `iface` a forwarding interface (stack/forward.ts): it accepts TCP
   * SYNs and UDP datagrams to any unicast destination and hands those no
   * connection, listener or socket takes to `cfg.tcp` / `cfg.udp`.
   * Returns the interface's forwarding state (its pending requests and stats).
   */
  enableForwarding(iface: NetInterface, cfg: ForwardingConfig): Forwarding {
    if (!this.interfaces.includes(iface)) throw new SynackError('ERR_SYNACK_INVALID_ARG', 'not an interface of this stack');
    const fw = new Forwarding(this, iface, cfg);
    (this.forwarding ??= new Map()).set(iface, fw);
    this.addrGen++;
    return fw;
  }

  /** Adds a trace hook; returns a function that removes it. */
  addHook(h: StackHook): () => void {
    this.hooks.push(h);
    return () => {
      this.hooks = this.hooks.filter((x) => x !== h);
    };
  }

  get hasHooks(): boolean {
    return this.hooks.length > 0;
  }

  /** @internal */
  trace(ev: StackTraceEvent): void {
    for (const h of this.hooks) h(ev);
  }

  /**
   * The interface used to reach `dst`: the first with an address of the
   * same family whose subnet holds it, else the first with an address of
   * that family (the default route).
   */
  route(dst: IpAddr): NetInterface | null {
    return this.routeFrom(dst)?.iface ?? null;
  }

  /** The interface to reach `dst` and our address on it, of `dst`'s family. */
  routeFrom(dst: IpAddr): { iface: NetInterface; src: IpAddr } | null {
    // The answer depends only on `dst` and the addresses of the interfaces:
    // a connection's segments in a row ask the same question, so the last
    // answer is kept until an address changes (`addrGen`).
    if (dst === this.routeMemoDst && this.routeMemoGen === this.addrGen) return this.routeMemo;
    const r = this.findRoute(dst);
    this.routeMemoDst = dst;
    this.routeMemo = r;
    this.routeMemoGen = this.addrGen;
    return r;
  }

  private findRoute(dst: IpAddr): { iface: NetInterface; src: IpAddr } | null {
    const v6 = typeof dst === 'string';
    // Our own addresses are reached through the loopback interface (like
    // Linux's `local` routing table): 127.0.0.0/8 from 127.0.0.1, ::1 from
    // ::1, any other address of ours from that address.
    if (this.isLocalAddr(dst)) return { iface: this.loopback, src: v6 ? dst : isIpv4Loopback(dst) ? IPV4_LOOPBACK : dst };
    let fallback: { iface: NetInterface; src: IpAddr } | null = null;
    for (const i of this.interfaces) {
      for (const a of i.addrs) {
        if (v6 !== (typeof a.addr === 'string')) continue;
        const inSubnet = v6 ? ipv6InSubnet(dst, a.addr as Ipv6Addr, a.prefixLen) : ipv4InSubnet(dst, a.addr as number, a.prefixLen);
        if (inSubnet || a.addr === dst) return { iface: i, src: a.addr };
        fallback ??= { iface: i, src: a.addr };
      }
    }
    return fallback;
  }

  /** An address of ours: one of an interface, or a loopback one (127.0.0.0/8, ::1). */
  isLocalAddr(a: IpAddr): boolean {
    return this.localAddrs.has(a) || (typeof a === 'number' ? isIpv4Loopback(a) : a === IPV6_LOOPBACK);
  }

  /** The interface that has address `a`, if any (the loopback one for 127.0.0.0/8 and ::1). */
  interfaceOf(a: IpAddr): NetInterface | null {
    if (typeof a === 'number' ? isIpv4Loopback(a) : a === IPV6_LOOPBACK) return this.loopback;
    for (const i of this.interfaces) for (const x of i.addrs) if (x.addr === a) return i;
    return null;
  }

  /**
   * The MTU argument of a new connection to `remote`: `Connection` derives
   * its MSS as mtu − 40 (IPv4 and TCP headers); an IPv6 header is 20 octets
   * longer. RFC 8200 §8.3: "When computing the maximum payload size
   * available for upper-layer data, an upper-layer protocol must take into
   * account the larger size of the IPv6 header relative to the IPv4
   * header." So a v6 connection gets mtu − 20.
   */
  connectionMtu(iface: NetInterface, remote: IpAddr): number {
    return typeof remote === 'string' ? iface.mtu - 20 : iface.mtu;
  }

  // ===========================================================================
  // User-facing operations
  // ===========================================================================

  /** Active OPEN to remoteAddr:remotePort (an IPv4 u32 or an `Ipv6Addr`; an IPv4-mapped one is IPv4). */
  connect(
    remoteAddr: IpAddr,
    remotePort: number,
    opts: { localAddr?: IpAddr; localPort?: number; tcp?: Partial<TcpConfig>; observer?: ConnectionObserver } = {},
  ): Connection {
    if (!Number.isInteger(remotePort) || remotePort < 1 || remotePort > 65535) {
      throw new SynackError('ERR_SYNACK_INVALID_ARG', `remote port must be 1..65535, got ${String(remotePort)}`);
    }
    if (typeof remoteAddr === 'string') {
      if (remoteAddr.length !== 8) throw new SynackError('ERR_SYNACK_INVALID_ARG', 'an IPv6 address must be an Ipv6Addr (wire/ipv6.ts parseIpv6Addr)');
      remoteAddr = ipv6MappedToV4(remoteAddr) ?? remoteAddr;
    } else {
      remoteAddr >>>= 0;
    }
    if (typeof opts.localAddr === 'string') opts = { ...opts, localAddr: ipv6MappedToV4(opts.localAddr) ?? opts.localAddr };
    // RFC 1122 §4.2.3.10: "A TCP implementation MUST reject as an error a
    // local OPEN call for an invalid remote IP address (e.g., a broadcast or
    // multicast address)." (Linux's tcp_v4_connect: ENETUNREACH.) For IPv6:
    // multicast (RFC 4291 §2.7) and the unspecified address ("must not be
    // used as the destination address of IPv6 packets", §2.5.2).
    if (typeof remoteAddr === 'number' ? this.isBroadcastOrMulticast(remoteAddr) || remoteAddr >>> 24 === 0 || remoteAddr >>> 24 >= 240 : isIpv6Multicast(remoteAddr) || isIpv6Unspecified(remoteAddr)) {
      throw new SynackError('ERR_SYNACK_NO_ROUTE', `${formatIpAddr(remoteAddr)} is not a unicast address`);
    }
    let route: { iface: NetInterface; src: IpAddr } | null;
    if (opts.localAddr !== undefined) {
      const local = opts.localAddr;
      let iface = typeof local === typeof remoteAddr ? this.interfaceOf(local) : null;
      // A loopback source reaches only our own addresses (RFC 1122
      // §3.2.1.3 (g): "MUST NOT appear outside a host"); any local source
      // reaches them through the loopback interface.
      if (iface === this.loopback && !this.isLocalAddr(remoteAddr)) iface = null;
      else if (iface && this.isLocalAddr(remoteAddr)) iface = this.loopback;
      route = iface ? { iface, src: local } : null;
    } else {
      route = this.routeFrom(remoteAddr);
    }
    if (!route) throw new SynackError('ERR_SYNACK_NO_ROUTE', `no interface to reach ${formatIpAddr(remoteAddr)}`);
    const iface = route.iface;
    this.checkConnectionLimit();
    const localAddr = route.src;
    let localPort = opts.localPort ?? 0;
    if (localPort) {
      if (this.lookup(localAddr, localPort, remoteAddr, remotePort)) {
        throw new SynackError('ERR_SYNACK_ADDRESS_IN_USE', `${formatIpAddr(localAddr)}:${localPort} is already connected to ${formatIpAddr(remoteAddr)}:${remotePort}`);
      }
      if (this.flowFilter && !this.flowFilter(localAddr, localPort, remoteAddr, remotePort)) {
        throw new SynackError('ERR_SYNACK_INVALID_ARG', `${formatIpAddr(localAddr)}:${localPort} → ${formatIpAddr(remoteAddr)}:${remotePort} is not a flow of this stack (its flow filter refuses it)`);
      }
    } else {
      localPort = this.allocatePort(localAddr, remoteAddr, remotePort);
    }
    const cfg = opts.tcp ? deriveTcpConfig(this.tcpConfig, opts.tcp) : this.tcpConfig;
    const conn = new Connection(this, cfg, this.connectionMtu(iface, remoteAddr));
    if (opts.observer) conn.user = opts.observer;
    conn.localAddr = localAddr;
    conn.localPort = localPort;
    conn.remoteAddr = remoteAddr;
    conn.remotePort = remotePort;
    this.insert(conn);
    this.counters.activeOpens++;
    const now = this.clock.now();
    conn.open({ localAddr, localPort, remoteAddr, remotePort }, this.isnFor(conn, now), now);
    this.reschedule(conn);
    return conn;
  }

  /** Passive OPEN on a port: each SYN spawns a connection from LISTEN. */
  listen(port: number, opts: ListenOptions = {}): Listener {
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new SynackError('ERR_SYNACK_INVALID_ARG', `port must be 0..65535, got ${String(port)}`);
    }
    let addr: IpAddr = opts.addr ?? IPV6_UNSPECIFIED;
    if (typeof addr === 'number') addr >>>= 0;
    else if (addr.length !== 8) throw new SynackError('ERR_SYNACK_INVALID_ARG', 'an IPv6 address must be an Ipv6Addr (wire/ipv6.ts parseIpv6Addr)');
    else addr = ipv6MappedToV4(addr) ?? addr;
    if (addr !== ANY && addr !== IPV6_UNSPECIFIED && !this.isLocalAddr(addr)) {
      throw new SynackError('ERR_SYNACK_NO_ROUTE', `${formatIpAddr(addr)} is not an address of this stack`);
    }
    if (port === 0) port = this.allocatePort(ANY, 0, 0);
    const backlog = Math.max(1, Math.min(opts.backlog ?? this.defaultBacklog, 65535));
    const cfg = opts.tcp ? deriveTcpConfig(this.tcpConfig, opts.tcp) : this.tcpConfig;
    const l = new Listener(this, addr, port, backlog, cfg, opts.onConnection ?? null, addr === IPV6_UNSPECIFIED && opts.v6Only === true);
    const existing = this.listeners.get(port) ?? [];
    // Two listeners on a port conflict when they take a family in common and
    // either is a wildcard or both have the same address (Linux's
    // inet_csk_bind_conflict without SO_REUSEADDR).
    if (existing.some((o) => ([4, 6] as const).some((f) => o.covers(f) && l.covers(f)) && (o.wildcard || l.wildcard || o.addr === l.addr))) {
      throw new SynackError('ERR_SYNACK_ADDRESS_IN_USE', `port ${port} is already listening`);
    }
    existing.push(l);
    this.listeners.set(port, existing);
    this.portRef(port, +1);
    return l;
  }

  closeListener(l: Listener): void {
    if (l.closed) return;
    l.closed = true;
    const list = this.listeners.get(l.port);
    if (list) {
      const rest = list.filter((x) => x !== l);
      if (rest.length) this.listeners.set(l.port, rest);
      else this.listeners.delete(l.port);
    }
    this.portRef(l.port, -1);
    // Connections never accepted are reset, as a kernel does when the
    // listening socket closes with a non-empty accept queue.
    for (const c of l.acceptQueue.splice(0)) this.abort(c);
  }

  /** Runs a user call on a connection and then re-files its timer. */
  with<T>(conn: Connection, fn: (now: Instant) => T): T {
    const r = fn(this.clock.now());
    this.reschedule(conn);
    this.flushDeferred();
    return r;
  }

  /** Deferred work, the cork and the receive batch (held-output.ts). @internal */
  readonly held: HeldOutput = new HeldOutput(this);

  /** @internal Runs `fn` once the current input is processed (HeldOutput.defer). */
  defer(fn: () => void): void {
    this.held.defer(fn);
  }

  /** @internal */
  flushDeferred(): void {
    this.held.flushDeferred();
  }

  /** SENDs without PUSH until the matching `uncork()` (HeldOutput.cork, RFC 9293 §3.9.1.2); nests. */
  cork(): void {
    this.held.cork();
  }

  uncork(): void {
    this.held.uncork();
  }

  /** ConnectionHost.corked: inside cork() … uncork(). */
  get corked(): boolean {
    return this.held.corkDepth > 0;
  }

  /** ConnectionHost.holdCorked: `conn` held a tail; uncork() outputs it. */
  holdCorked(conn: Connection): void {
    this.held.holdCorked(conn);
  }

  /** ConnectionHost.inBatch: between a batching link's first onReceive and its onReceiveEnd. */
  get inBatch(): boolean {
    return this.held.inBatch;
  }

  /** ConnectionHost.holdOutput: `conn` outputs when the batch ends (RFC 9293 MUST-59). */
  holdOutput(conn: Connection): void {
    this.held.holdOutput(conn);
  }

  /** The end of a link's batch of received packets (Link.onReceiveEnd): held output goes now. */
  endBatch(): void {
    this.held.endBatch();
  }

  /** SEND: takes ownership of `data` (see Connection.send). */
  send(conn: Connection, data: Uint8Array, urgent = false): number {
    return this.with(conn, (now) => conn.send(data, now, urgent));
  }

  /** SEND of a copy of `data`: the caller keeps its buffer (pooled send-buffer blocks). */
  sendCopy(conn: Connection, data: Uint8Array, urgent = false): number {
    return this.with(conn, (now) => conn.send(data, now, urgent, true));
  }

  read(conn: Connection, max = Infinity): Uint8Array[] {
    return this.with(conn, (now) => conn.read(max, now));
  }

  close(conn: Connection): void {
    this.with(conn, (now) => conn.close(now));
  }

  abort(conn: Connection): void {
    this.with(conn, (now) => conn.abort(now));
  }

  /** The application lets go of the connection (it may still be closing). */
  release(conn: Connection): void {
    conn.user = null;
    this.with(conn, (now) => conn.orphan(now));
  }

  /** Fires every timer due at or before `now`. */
  poll(now: Instant = this.clock.now()): void {
    if (this.held.inBatch) this.held.endBatch();
    if (this.lo.pending > 0) this.lo.deliver();
    if (this.pmtu.nextExpiry <= now) this.pmtu.age(now);
    if (this.fragNextDeadline <= now) this.expireFragments(now);
    for (const t of this.linkTimers) if (t.nextDeadline() <= now) t.poll(now);
    for (;;) {
      const c = this.timers.peek();
      if (!c || this.timers.nextAt() > now) return;
      const due = c.nextDeadline();
      if (due <= now) {
        c.onTimeout(now);
        this.reschedule(c);
        this.flushDeferred();
      } else {
        this.timers.reschedule(c, due);
      }
    }
  }

  /** The earliest time poll() has work (may be early; never late). Infinity when idle. */
  nextDeadline(): Instant {
    if (this.lo.pending > 0 || this.held.outputWaiting) return this.clock.now();
    let t = Math.min(this.timers.nextAt(), this.pmtu.nextExpiry, this.fragNextDeadline);
    for (const l of this.linkTimers) t = Math.min(t, l.nextDeadline());
    return t;
  }

  /** Every connection (all states), for STATUS-style listings and tests. */
  connections(): Connection[] {
    return this.conns.all();
  }

  /** The demux table's shape: how many buckets, and the most connections in one (1 = no collisions). */
  demuxStats(): { buckets: number; largestBucket: number } {
    return this.conns.stats();
  }

  get connectionCount(): number {
    return this.connCount;
  }

  /** Armed timers (for leak checks). */
  get armedTimers(): number {
    return this.timers.size;
  }

  getListener(port: number): Listener | null {
    return this.listeners.get(port)?.[0] ?? null;
  }

  // ===========================================================================
  // ConnectionHost
  // ===========================================================================

  chooseIss(conn: Connection): number {
    return this.isnFor(conn, this.clock.now());
  }

  private isnFor(conn: Connection, now: Instant): number {
    return this.isnGen.isn(conn.localAddr, conn.localPort, conn.remoteAddr, conn.remotePort, now);
  }

  transmit(conn: Connection, seg: TcpRepr, ipEcn = 0): void {
    this.sendSegment(conn.localAddr, conn.remoteAddr, seg, conn, ipEcn);
  }

  transmitParts(conn: Connection, seg: TcpRepr, more: readonly Uint8Array[] | null, ipEcn: number, gsoSize = 0): void {
    sendSegment(this, conn.localAddr, conn.remoteAddr, seg, conn, ipEcn, more, gsoSize);
  }

  /** ConnectionHost.gsoMaxSegment: what the route's link takes as one super-segment (stack/ip-output.ts). */
  gsoMaxSegment(conn: Connection): number {
    return gsoMaxSegment(this, conn.remoteAddr);
  }

  drop(conn: Connection | null, reason: DropReason): void {
    this.counters.drop(reason);
    if (this.hooks.length) this.trace({ type: 'drop', time: this.clock.now(), reason, conn });
  }

  /** RFC 5961 §7's host-wide challenge-ACK limit per second; each second's budget is drawn at random around it (challenge-ack.ts). */
  challengeAckLimit = 1000;

  allowChallengeAck(_conn: Connection): boolean {
    if (!this.challenges.take(this.clock.now(), this.challengeAckLimit)) return false;
    this.counters.challengeAcks++;
    return true;
  }

  event(conn: Connection, ev: ConnectionEvent): void {
    if (this.hooks.length) this.trace({ type: 'conn', time: this.clock.now(), conn, event: ev });
    switch (ev.type) {
      case 'state':
        this.onStateChange(conn, this.meta.get(conn), ev.from, ev.to);
        break;
      case 'retransmit':
        this.counters.retransmits++;
        if (ev.kind === 'rto') {
          this.counters.retransmitTimeouts++;
          this.pmtu.detectBlackhole(conn, ev.len);
        }
        break;
      case 'closed': {
        if (ev.reason === 'timeout') {
          // RFC 1122 §4.2.3.9: a soft error is reported "only when and if the
          // TCP connection times out" — and only if nothing was acknowledged
          // since it came (Linux clears sk_err_soft on progress).
          const soft = this.softErrors.get(conn);
          if (soft && soft.sndUna === conn.sndUna) {
            conn.closeReason = soft.reason;
            ev = { type: 'closed', reason: soft.reason };
          }
        }
        this.pmtu.forget(conn);
        const spent = this.cookieConns.get(conn);
        if (spent !== undefined) spendCookie(this, spent);
        this.remove(conn);
        if (ev.reason === 'reset') this.counters.resetsReceived++;
        break;
      }
      default:
        break;
    }
    const obs = conn.user as ConnectionObserver | null;
    if (obs && typeof obs.onEvent === 'function') obs.onEvent(conn, ev);
  }

  private onStateChange(conn: Connection, m: ConnMeta | undefined, from: TcpState, to: TcpState): void {
    const l = m?.listener ?? null;
    if (l && from === 'SYN-RECEIVED') l.halfOpen = Math.max(0, l.halfOpen - 1);
    if (to === 'SYN-RECEIVED' && l) l.halfOpen++;
    if (to === 'ESTABLISHED') {
      this.counters.established++;
      // A new connection to a destination with a known smaller path MTU
      // starts at that size (RFC 1191 §5: the PMTU belongs to the path).
      if (this.pmtu.size > 0 && from !== 'ESTABLISHED') this.pmtu.apply(conn, this.clock.now(), false);
    }
    if (l && m && !m.accepted && (to === 'ESTABLISHED' || (from === 'SYN-RECEIVED' && (to === 'FIN-WAIT-1' || to === 'CLOSE-WAIT')))) {
      m.accepted = true;
      this.counters.passiveOpens++;
      if (l.closed) {
        // Raced with close(): reset it, once this segment is processed.
        this.defer(() => this.abort(conn));
      } else if (l.onConnection) {
        const cb = l.onConnection;
        // The application sees the connection after the segment that
        // established it is fully processed (no re-entry into the TCB).
        this.defer(() => {
          if (conn.state !== 'CLOSED' && conn.state !== 'LISTEN') cb(conn);
        });
        // Handed over and never queued: the entry is no longer needed (its
        // absence means accepted, no listener).
        this.meta.delete(conn);
      } else {
        l.acceptQueue.push(conn);
      }
    }
    if (to === 'LISTEN' && from === 'SYN-RECEIVED') {
      // "return this connection to LISTEN state": the listener is still in
      // LISTEN; this spawned TCB is discarded.
      conn.clearTimers();
      this.remove(conn);
    }
  }

  // ===========================================================================
  // Receive path (ip-input.ts → tcp-input.ts, icmp.ts)
  // ===========================================================================

  /** One IP packet (IPv4 or IPv6) from a link. Ownership of `bytes` passes to the stack. */
  receive(iface: NetInterface, bytes: Uint8Array): void {
    const now = this.clock.now();
    this.counters.packetsIn++;
    if (this.hooks.length) {
      // A capture shows the checksum the packet would carry on a wire.
      completeForCapture(bytes);
      this.trace({ type: 'packet', dir: 'in', time: now, bytes });
    }
    receiveIp(this, iface, bytes, now);
  }

  /** 255.255.255.255, 224.0.0.0/4, or the directed broadcast of one of our subnets. */
  isBroadcastOrMulticast(dst: Ipv4Addr): boolean {
    const top = dst >>> 24;
    if (top >= 224 && top < 240) return true;
    if (dst === 0xffffffff) return true;
    for (const i of this.interfaces) {
      for (const a of i.addrs) {
        if (typeof a.addr !== 'number') continue;
        if (a.prefixLen <= 30 && ipv4InSubnet(dst, a.addr, a.prefixLen) && ((dst | subnetMask(a.prefixLen)) >>> 0) === dst) return true;
      }
    }
    return false;
  }

  /** The reassembler (made on the first fragment). @internal */
  reassembler(): Reassembler {
    return (this.frags ??= new Reassembler(this.reassemblyLimits));
  }

  /** Files the reassembler's next deadline (after each fragment). @internal */
  armReassembly(): void {
    this.fragNextDeadline = this.frags ? this.frags.nextDeadline() : Infinity;
  }

  /** Fragment queues whose time is up: counted drops, and the Time Exceeded RFC 8200 §4.5 / RFC 1122 §3.3.2 ask for. */
  private expireFragments(now: Instant): void {
    const r = this.frags!;
    const before = r.drops['frag-timeout'] ?? 0;
    const timeouts = r.onTimeout(now);
    const n = (r.drops['frag-timeout'] ?? 0) - before;
    for (let i = 0; i < n; i++) this.drop(null, 'frag-timeout');
    this.armReassembly();
    for (const t of timeouts) {
      if (t.family === 4) {
        sendIcmpV4TimeExceeded(this, t.invoking, now);
      } else {
        const iface = this.interfaceOf(readIpv6Addr(t.invoking, 24));
        if (iface) sendIcmpv6Error(this, iface, { type: 3, code: 1 }, t.invoking, now);
      }
    }
  }

  /** The RFC 4443 §2.4 (f) token bucket. @internal */
  icmpv6Limiter(now: Instant): Icmpv6RateLimiter {
    return (this.icmpv6Bucket ??= makeIcmpv6Limiter(now));
  }

  /**
   * The echo sessions of this stack (stack/echo.ts): `echoPorts().open(h)`
   * gives an identifier of its own and sends echo requests; replies with
   * that identifier go to `h`.
   */
  echoPorts(): EchoPorts {
    return (this.echo ??= new EchoPorts(this, (this.flowKey[0] ^ (this.flowKey[1] >>> 16)) & 0xffff));
  }

  /** The ICMPv4 error token bucket. @internal */
  icmpv4Limiter(now: Instant): Icmpv6RateLimiter {
    return (this.icmpv4Bucket ??= makeIcmpv6Limiter(now));
  }

  /** The path MTU estimate for `dst` (the interface MTU when none is cached). */
  pathMtu(dst: IpAddr): number {
    return this.pmtu.get(dst) ?? this.route(dst)?.mtu ?? 0;
  }

  // ===========================================================================
  // Transmit path
  // ===========================================================================

  /** Sends one TCP segment from `src` to `dst` (same family): ip-output.ts. @internal */
  sendSegment(src: IpAddr, dst: IpAddr, seg: TcpRepr, conn: Connection | null, ipEcn = 0): void {
    sendSegment(this, src, dst, seg, conn, ipEcn);
  }

  /** @internal */
  sendPacket(iface: NetInterface, bytes: Uint8Array): void {
    sendPacket(this, iface, bytes);
  }

  /** A packet we originate, fragmented if it must be: ip-output.ts. @internal */
  sendDatagram(iface: NetInterface, bytes: Uint8Array): void {
    sendDatagram(this, iface, bytes);
  }

  /** @internal */
  sendRst(src: IpAddr, dst: IpAddr, srcPort: number, dstPort: number, seq: number, ack: number, flags: number): void {
    this.sendSegment(
      src,
      dst,
      { srcPort, dstPort, seq: seq >>> 0, ack: ack >>> 0, flags, window: 0, urgentPointer: 0, options: [], payload: new Uint8Array(0) },
      null,
    );
  }

  /** @internal */
  nextIdent(): number {
    this.ipIdent = (this.ipIdent + 1) & 0xffff;
    return this.ipIdent;
  }

  // ===========================================================================
  // Demux table, ports, timers
  // ===========================================================================

  lookup(localAddr: IpAddr, localPort: number, remoteAddr: IpAddr, remotePort: number): Connection | null {
    return this.conns.lookup(localAddr, localPort, remoteAddr, remotePort);
  }

  /** @internal */
  findListener(addr: IpAddr, port: number): Listener | null {
    const list = this.listeners.get(port);
    if (!list) return null;
    for (const l of list) if (l.addr === addr) return l;
    const family = typeof addr === 'string' ? 6 : 4;
    for (const l of list) if (l.wildcard && l.covers(family)) return l;
    return null;
  }

  /** @internal */
  insert(conn: Connection): void {
    this.conns.add(conn);
    this.connCount++;
    this.portRef(conn.localPort, +1);
  }

  /** @internal */
  remove(conn: Connection): void {
    if (!this.conns.delete(conn)) return;
    this.connCount--;
    this.portRef(conn.localPort, -1);
    this.timers.remove(conn);
    const m = this.meta.get(conn);
    if (m?.listener) {
      const l = m.listener;
      if (conn.state === 'CLOSED' || conn.state === 'LISTEN') {
        const i = l.acceptQueue.indexOf(conn);
        if (i >= 0) l.acceptQueue.splice(i, 1);
      }
    }
  }

  private portRef(port: number, d: number): void {
    const n = (this.portsInUse.get(port) ?? 0) + d;
    if (n <= 0) this.portsInUse.delete(port);
    else this.portsInUse.set(port, n);
  }

  private allocatePort(localAddr: IpAddr, remoteAddr: IpAddr, remotePort: number): number {
    const [lo, hi] = this.ephemeral;
    const span = hi - lo + 1;
    for (let i = 0; i < span; i++) {
      this.portCursor = (this.portCursor + 1) % span;
      const p = lo + this.portCursor;
      if (this.portsInUse.has(p) || this.listeners.has(p)) continue;
      if (remotePort && this.lookup(localAddr, p, remoteAddr, remotePort)) continue;
      if (this.flowFilter && !this.flowFilter(localAddr, p, remoteAddr, remotePort)) continue;
      return p;
    }
    throw new SynackError('ERR_SYNACK_PORTS_EXHAUSTED', `no free ephemeral port in ${lo}..${hi}`);
  }

  private checkConnectionLimit(): void {
    if (this.connCount >= this.maxConnections) {
      this.counters.drop('tcp-stack-connection-limit');
      throw new SynackError('ERR_SYNACK_LIMIT', `the stack holds its maximum of ${this.maxConnections} connections`);
    }
  }

  /** Files the connection's next deadline in the timer heap. */
  reschedule(conn: Connection): void {
    if (conn.state === 'CLOSED') {
      this.timers.remove(conn);
      return;
    }
    const d = conn.nextDeadline();
    // Nothing armed: a filed entry stays; it fires early, harmlessly, then drops out.
    if (d === Infinity) return;
    this.timers.schedule(conn, d);
  }

  /** @internal The deadline `conn` is filed under in the timer heap (Infinity: not filed); for invariant checks. */
  filedDeadline(conn: Connection): Instant {
    return this.timers.keyOf(conn);
  }
}

