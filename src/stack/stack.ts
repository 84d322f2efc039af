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
 */
import type { Clock, Instant } from '../base/time.ts';
import type { ChecksumCaps, DropReason, Ipv4Addr, TcpRepr } from '../wire/types.ts';
import { ACK, IPPROTO_ICMP, IPPROTO_TCP, RST, SYN, FIN } from '../wire/types.ts';
import { parseIpv4, emitIpv4 } from '../wire/ipv4.ts';
import { parseTcp, emitIpv4Tcp } from '../wire/tcp.ts';
import { parseIcmp, emitIcmpEcho, icmpEchoLen } from '../wire/icmp.ts';
import { ipv4InSubnet, ipv4ToString } from '../wire/bytes.ts';
import { Connection, offeredShiftFor, type ConnectionHost } from '../tcp/connection.ts';
import type { ConnectionEvent } from '../tcp/events.ts';
import { makeTcpConfig, type TcpConfig } from '../tcp/config.ts';
import type { TcpState } from '../tcp/state.ts';
import { seqAdd } from '../tcp/seq.ts';
import { timeWaitAcceptsSyn } from '../tcp/segment-arrives.ts';
import { SynackError } from '../errors.ts';
import { IsnGenerator, halfSipHash24 } from './isn.ts';
import { TimerHeap } from './timer-heap.ts';
import { Counters } from './counters.ts';
import { SynCookies, encodeTsOptions, decodeTsOptions } from './syncookies.ts';
import { MemoryBudget } from '../tcp/budget.ts';
import { synOptions } from '../tcp/options.ts';
import { findTimestamp } from '../wire/tcp-options.ts';
import type { TcpOption } from '../wire/types.ts';
import { PacketPool } from './packet-pool.ts';
import type { Link } from './link.ts';

export interface InterfaceConfig {
  name?: string;
  /** Our address on this link. */
  addr: Ipv4Addr;
  prefixLen: number;
  link: Link;
}

export interface NetInterface {
  readonly name: string;
  readonly addr: Ipv4Addr;
  readonly prefixLen: number;
  readonly link: Link;
  readonly mtu: number;
  readonly caps: ChecksumCaps;
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
}

/** Everything a trace hook sees. */
export type StackTraceEvent =
  | { type: 'segment'; dir: 'in' | 'out'; time: Instant; src: Ipv4Addr; dst: Ipv4Addr; tcp: TcpRepr; conn: Connection | null; bytes: Uint8Array | null }
  | { type: 'packet'; dir: 'in' | 'out'; time: Instant; bytes: Uint8Array }
  | { type: 'conn'; time: Instant; conn: Connection; event: ConnectionEvent }
  | { type: 'drop'; time: Instant; reason: DropReason; conn: Connection | null };

export type StackHook = (ev: StackTraceEvent) => void;

/** What the application hears about one connection. */
export interface ConnectionObserver {
  onEvent(conn: Connection, ev: ConnectionEvent): void;
}

export interface ListenOptions {
  addr?: Ipv4Addr;
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
    readonly addr: Ipv4Addr,
    readonly port: number,
    public backlog: number,
    readonly config: TcpConfig,
    public onConnection: ((conn: Connection) => void) | null,
  ) {}

  accept(): Connection | null {
    return this.acceptQueue.shift() ?? null;
  }

  close(): void {
    this.stack.closeListener(this);
  }
}

interface ConnMeta {
  listener: Listener | null;
  accepted: boolean;
}

const ANY = 0;
/** How long after its last cookie a listener still accepts cookie ACKs (two cookie periods). */
const COOKIE_VALID_US = 128_000_000;

/**
 * The demux key of a port pair: `localPort << 16 | remotePort`, a signed
 * 32-bit integer (one-to-one for 16-bit ports). Unlike `localPort * 65536 +
 * remotePort`, which exceeds 2^31 for ephemeral local ports, it stays a small
 * integer for V8: no heap-number allocation per lookup and a cheaper hash.
 */
function connKey(localPort: number, remotePort: number): number {
  return (localPort << 16) | remotePort;
}

export class Stack implements ConnectionHost {
  readonly clock: Clock;
  readonly name: string;
  readonly counters = new Counters();
  readonly interfaces: NetInterface[] = [];
  readonly tcpConfig: TcpConfig;
  private readonly isnGen: IsnGenerator;
  private readonly timers = new TimerHeap<Connection>();
  /** key: connKey(localPort, remotePort) → connection(s) with those ports. */
  private readonly conns = new Map<number, Connection | Connection[]>();
  private readonly listeners = new Map<number, Listener[]>();
  /**
   * Listener bookkeeping of passively opened connections, from the SYN until
   * the connection is handed to `onConnection` (or for as long as it may sit
   * in an accept queue). A connection without an entry behaves as
   * `{ listener: null, accepted: true }`: active opens never get one, which
   * saves a WeakMap entry and an object per idle connection.
   */
  private readonly meta = new WeakMap<Connection, ConnMeta>();
  private readonly portsInUse = new Map<number, number>();
  private connCount = 0;
  private hooks: StackHook[] = [];
  /** Buffers of outgoing TCP packets (see packet-pool.ts). */
  private readonly txPool = new PacketPool();
  private readonly allocTx = (n: number): Uint8Array => this.txPool.alloc(n);
  private portCursor: number;
  private readonly ephemeral: [number, number];
  private readonly maxConnections: number;
  private readonly defaultBacklog: number;
  private readonly ttl: number;
  private ipIdent = 0;
  /** The second (of the clock) the challenge-ACK budget was drawn for, and what is left of it. */
  private challengeSecond = -1;
  /** Key of the PRF that draws each second's challenge-ACK budget (derived from the ISN secret). */
  private readonly challengeKey: [number, number];
  private readonly cookies: SynCookies;
  /** The stack-wide account for received bytes (tcp/budget.ts). */
  readonly budget: MemoryBudget;
  /** Connections made from a cookie, with the cookie's key. */
  private readonly cookieConns = new WeakMap<Connection, string>();
  /** Cookies whose connection has ended, until they expire (bounded, oldest evicted first). */
  private readonly spentCookies = new Map<string, Instant>();
  private readonly synCookieMode: 'auto' | 'always' | 'never';
  private challengeBudget = 0;

  constructor(config: StackConfig) {
    this.clock = config.clock;
    this.name = config.name ?? 'stack';
    this.tcpConfig = makeTcpConfig(config.tcp);
    this.isnGen = new IsnGenerator(config.isnSecret[0] >>> 0, config.isnSecret[1] >>> 0);
    // A separate key for cookies, derived from the ISN secret.
    this.cookies = new SynCookies((config.isnSecret[1] ^ 0x5ca1ab1e) >>> 0, (config.isnSecret[0] ^ 0xc0ffee11) >>> 0);
    this.synCookieMode = config.synCookies ?? 'auto';
    this.budget = new MemoryBudget(config.maxReceiveMemoryBytes ?? 512 * 1024 * 1024);
    this.ephemeral = config.ephemeralPorts ?? [49152, 65535];
    if (!(this.ephemeral[0] >= 1 && this.ephemeral[1] <= 65535 && this.ephemeral[0] <= this.ephemeral[1])) {
      throw new SynackError('ERR_SYNACK_INVALID_ARG', 'StackConfig.ephemeralPorts must be a range within 1..65535');
    }
    const span = this.ephemeral[1] - this.ephemeral[0] + 1;
    this.portCursor = ((config.portSeed ?? config.isnSecret[0]) >>> 0) % span;
    this.maxConnections = config.maxConnections ?? 1_000_000;
    this.defaultBacklog = config.defaultBacklog ?? 511;
    this.ttl = config.ttl ?? 64;
    this.challengeKey = [(config.isnSecret[0] ^ 0x7e57c4a1) >>> 0, (config.isnSecret[1] ^ 0x1eb0a7c5) >>> 0];
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
    if (!(cfg.prefixLen >= 0 && cfg.prefixLen <= 32)) throw new SynackError('ERR_SYNACK_INVALID_ARG', 'prefixLen must be 0..32');
    const iface: NetInterface = {
      name: cfg.name ?? `if${this.interfaces.length}`,
      addr: cfg.addr >>> 0,
      prefixLen: cfg.prefixLen,
      link: cfg.link,
      mtu: cfg.link.mtu,
      caps: cfg.link.checksum,
    };
    this.interfaces.push(iface);
    cfg.link.onReceive = (bytes) => this.receive(iface, bytes);
    return iface;
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

  private trace(ev: StackTraceEvent): void {
    for (const h of this.hooks) h(ev);
  }

  /** The interface used to reach `dst`: the first whose subnet holds it, else the first interface. */
  route(dst: Ipv4Addr): NetInterface | null {
    for (const i of this.interfaces) if (ipv4InSubnet(dst, i.addr, i.prefixLen)) return i;
    return this.interfaces[0] ?? null;
  }

  isLocalAddr(a: Ipv4Addr): boolean {
    for (const i of this.interfaces) if (i.addr === a) return true;
    return false;
  }

  // ===========================================================================
  // User-facing operations
  // ===========================================================================

  /** Active OPEN to remoteAddr:remotePort. */
  connect(
    remoteAddr: Ipv4Addr,
    remotePort: number,
    opts: { localAddr?: Ipv4Addr; localPort?: number; tcp?: Partial<TcpConfig>; observer?: ConnectionObserver } = {},
  ): Connection {
    if (!Number.isInteger(remotePort) || remotePort < 1 || remotePort > 65535) {
      throw new SynackError('ERR_SYNACK_INVALID_ARG', `remote port must be 1..65535, got ${String(remotePort)}`);
    }
    const iface = opts.localAddr !== undefined ? this.interfaces.find((i) => i.addr === opts.localAddr) : this.route(remoteAddr);
    if (!iface) throw new SynackError('ERR_SYNACK_NO_ROUTE', `no interface to reach ${ipv4ToString(remoteAddr)}`);
    this.checkConnectionLimit();
    const localAddr = iface.addr;
    let localPort = opts.localPort ?? 0;
    if (localPort) {
      if (this.lookup(localAddr, localPort, remoteAddr, remotePort)) {
        throw new SynackError('ERR_SYNACK_ADDRESS_IN_USE', `${ipv4ToString(localAddr)}:${localPort} is already connected to ${ipv4ToString(remoteAddr)}:${remotePort}`);
      }
    } else {
      localPort = this.allocatePort(localAddr, remoteAddr, remotePort);
    }
    const cfg = opts.tcp ? makeTcpConfig({ ...this.tcpConfig, ...opts.tcp }) : this.tcpConfig;
    const conn = new Connection(this, cfg, iface.mtu);
    if (opts.observer) conn.user = opts.observer;
    conn.localAddr = localAddr;
    conn.localPort = localPort;
    conn.remoteAddr = remoteAddr >>> 0;
    conn.remotePort = remotePort;
    this.insert(conn);
    this.counters.activeOpens++;
    const now = this.clock.now();
    conn.open({ localAddr, localPort, remoteAddr: remoteAddr >>> 0, remotePort }, this.isnFor(conn, now), now);
    this.reschedule(conn);
    return conn;
  }

  /** Passive OPEN on a port: each SYN spawns a connection from LISTEN. */
  listen(port: number, opts: ListenOptions = {}): Listener {
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new SynackError('ERR_SYNACK_INVALID_ARG', `port must be 0..65535, got ${String(port)}`);
    }
    const addr = (opts.addr ?? ANY) >>> 0;
    if (addr !== ANY && !this.isLocalAddr(addr)) {
      throw new SynackError('ERR_SYNACK_NO_ROUTE', `${ipv4ToString(addr)} is not an address of this stack`);
    }
    if (port === 0) port = this.allocatePort(ANY, 0, 0);
    const existing = this.listeners.get(port) ?? [];
    if (existing.some((l) => l.addr === ANY || addr === ANY || l.addr === addr)) {
      throw new SynackError('ERR_SYNACK_ADDRESS_IN_USE', `port ${port} is already listening`);
    }
    const backlog = Math.max(1, Math.min(opts.backlog ?? this.defaultBacklog, 65535));
    const cfg = opts.tcp ? makeTcpConfig({ ...this.tcpConfig, ...opts.tcp }) : this.tcpConfig;
    const l = new Listener(this, addr, port, backlog, cfg, opts.onConnection ?? null);
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

  /**
   * Work that must not run inside a connection's event processing — handing
   * a new connection to the application, aborting one that raced with a
   * closing listener — waits here until the current input is done.
   */
  private deferred: Array<() => void> = [];
  private flushing = false;

  private defer(fn: () => void): void {
    this.deferred.push(fn);
  }

  private flushDeferred(): void {
    if (this.flushing || this.deferred.length === 0) return;
    this.flushing = true;
    try {
      for (let i = 0; i < this.deferred.length; i++) this.deferred[i]!();
    } finally {
      this.deferred = [];
      this.flushing = false;
    }
  }

  send(conn: Connection, data: Uint8Array, urgent = false): number {
    return this.with(conn, (now) => conn.send(data, now, urgent));
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
    for (;;) {
      const c = this.timers.peek();
      if (!c || c.timerAt > now) return;
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
    return this.timers.nextAt();
  }

  /** Every connection (all states), for STATUS-style listings and tests. */
  connections(): Connection[] {
    const out: Connection[] = [];
    for (const v of this.conns.values()) {
      if (Array.isArray(v)) out.push(...v);
      else out.push(v);
    }
    return out;
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

  drop(conn: Connection | null, reason: DropReason): void {
    this.counters.drop(reason);
    if (this.hooks.length) this.trace({ type: 'drop', time: this.clock.now(), reason, conn });
  }

  /**
   * RFC 5961 §7: "An implementation SHOULD include an ACK throttling
   * mechanism to be conservative." This is the host-wide half (each
   * connection first applies its own, TcpConfig.challengeAckPerConn).
   *
   * A fixed host-wide count is CVE-2016-5696 ("Off-Path TCP Exploits",
   * Cao et al., USENIX Security 2016): an off-path attacker who exhausts it
   * and counts the challenge ACKs left for himself learns whether a spoofed
   * segment drew one, hence the 4-tuple and then the sequence numbers. As
   * Linux since that fix (tcp_send_challenge_ack), each second's budget is
   * drawn at random in [limit/2, limit/2 + limit), so the count the attacker
   * would compare against is unknown to him. The draw is a PRF (HalfSipHash,
   * keyed from the ISN secret) of the second: deterministic for a given
   * secret (tests, the simulator), unpredictable without it — never
   * Math.random.
   */
  challengeAckLimit = 1000;

  allowChallengeAck(_conn: Connection): boolean {
    const second = Math.floor(this.clock.now() / 1_000_000);
    if (second !== this.challengeSecond) {
      this.challengeSecond = second;
      const limit = this.challengeAckLimit;
      const half = (limit + 1) >>> 1;
      const r = halfSipHash24(this.challengeKey[0], this.challengeKey[1], second >>> 0, Math.floor(second / 4294967296) >>> 0, 0x43484b41);
      this.challengeBudget = limit === 0 ? 0 : half + (r % limit);
    }
    if (this.challengeBudget <= 0) return false;
    this.challengeBudget--;
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
        break;
      case 'closed': {
        const spent = this.cookieConns.get(conn);
        if (spent !== undefined) this.spendCookie(spent);
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
    if (to === 'ESTABLISHED') this.counters.established++;
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
  // Receive path
  // ===========================================================================

  /** One IP packet from a link. Ownership of `bytes` passes to the stack. */
  receive(iface: NetInterface, bytes: Uint8Array): void {
    const now = this.clock.now();
    this.counters.packetsIn++;
    if (this.hooks.length) this.trace({ type: 'packet', dir: 'in', time: now, bytes });
    const ip = parseIpv4(bytes, iface.caps);
    if (!ip.ok) {
      this.drop(null, ip.reason);
      return;
    }
    const h = ip.value.header;
    if (!this.isLocalAddr(h.dst)) {
      this.drop(null, 'ipv4-not-for-us');
      return;
    }
    if (h.protocol === IPPROTO_TCP) {
      this.receiveTcp(iface, h.src, h.dst, ip.value.payload, bytes, now, h.tos);
      this.flushDeferred();
    } else if (h.protocol === IPPROTO_ICMP) {
      this.receiveIcmp(iface, h.src, h.dst, ip.value.payload);
    } else {
      this.drop(null, 'ipv4-unknown-protocol');
    }
  }

  private receiveTcp(iface: NetInterface, src: Ipv4Addr, dst: Ipv4Addr, payload: Uint8Array, bytes: Uint8Array, now: Instant, tos = 0): void {
    const r = parseTcp(payload, src, dst, iface.caps);
    if (!r.ok) {
      this.drop(null, r.reason);
      return;
    }
    const seg = r.value;
    this.counters.segmentsIn++;
    let conn = this.lookup(dst, seg.dstPort, src, seg.srcPort);
    if (this.hooks.length) this.trace({ type: 'segment', dir: 'in', time: now, src, dst, tcp: seg, conn, bytes });
    // RFC 9293 §3.6.1 / RFC 1122 4.2.2.13 / RFC 6191: a new SYN for a
    // connection in TIME-WAIT may reopen it when its timestamp or sequence
    // number is beyond the old incarnation's (timeWaitAcceptsSyn).
    if (conn && conn.state === 'TIME-WAIT' && conn.config.timeWaitReuse && (seg.flags & (SYN | ACK | RST)) === SYN && timeWaitAcceptsSyn(conn, seg) && this.findListener(dst, seg.dstPort)) {
      conn.terminate(null, 'new SYN in TIME-WAIT');
      conn = null;
    }
    if (conn) {
      if ((tos & 3) === 3) this.counters.ecnCeReceived++;
      conn.onSegment(seg, now, tos & 3);
      this.reschedule(conn);
      return;
    }
    const l = this.findListener(dst, seg.dstPort);
    if (l && !(seg.flags & (RST | ACK)) && seg.flags & SYN) {
      this.acceptSyn(iface, l, src, dst, seg, now);
      return;
    }
    if (l && seg.flags & RST) {
      // §3.10.7.2: "An incoming RST should be ignored."
      this.drop(null, 'tcp-rst-ignored');
      return;
    }
    if (l && (seg.flags & (SYN | RST | ACK)) === ACK && this.cookiesRecentlySent(l, now) && this.acceptCookie(iface, l, src, dst, seg, now)) {
      return;
    }
    if (l && seg.flags & ACK) {
      // §3.10.7.2: "Any acknowledgment is bad if it arrives on a connection
      // still in the LISTEN state ... <SEQ=SEG.ACK><CTL=RST>" — unless the
      // listener's policy is to drop such segments silently (FreeBSD does,
      // for SYN,ACK: no reflection).
      if (l.config.listenAckReset || !(seg.flags & SYN)) this.sendRst(dst, src, seg.dstPort, seg.srcPort, seg.ack, 0, RST);
      this.drop(null, 'tcp-no-connection');
      return;
    }
    if (l) {
      // "Fourth, other data or control: ... Drop the segment and return."
      this.drop(null, 'tcp-no-connection');
      return;
    }
    this.replyClosed(src, dst, seg);
  }

  /**
   * §3.10.7.1 CLOSED STATE: "An incoming segment containing a RST is
   * discarded. An incoming segment not containing a RST causes a RST to be
   * sent in response. ... If the ACK bit is off, sequence number zero is
   * used, <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>. If the ACK bit is on,
   * <SEQ=SEG.ACK><CTL=RST>"
   */
  private replyClosed(src: Ipv4Addr, dst: Ipv4Addr, seg: TcpRepr): void {
    this.drop(null, 'tcp-no-connection');
    if (seg.flags & RST) return;
    if (seg.flags & ACK) {
      this.sendRst(dst, src, seg.dstPort, seg.srcPort, seg.ack, 0, RST);
    } else {
      const segLen = seg.payload.length + (seg.flags & SYN ? 1 : 0) + (seg.flags & FIN ? 1 : 0);
      this.sendRst(dst, src, seg.dstPort, seg.srcPort, 0, seqAdd(seg.seq, segLen), RST | ACK);
    }
  }

  private acceptSyn(iface: NetInterface, l: Listener, src: Ipv4Addr, dst: Ipv4Addr, seg: TcpRepr, now: Instant): void {
    const full = l.halfOpen + l.acceptQueue.length >= l.backlog;
    if (this.synCookieMode === 'always' || (full && this.synCookieMode === 'auto' && l.acceptQueue.length < l.backlog)) {
      this.sendCookie(iface, l, src, dst, seg, now);
      return;
    }
    if (full) {
      this.drop(null, 'tcp-listen-backlog-full');
      return;
    }
    if (this.connCount >= this.maxConnections) {
      this.drop(null, 'tcp-stack-connection-limit');
      return;
    }
    const conn = new Connection(this, l.config, iface.mtu);
    this.meta.set(conn, { listener: l, accepted: false });
    conn.listen({ localAddr: dst, localPort: l.port }, now);
    // "If the listen was not fully specified (i.e., the remote socket was not
    // fully specified), then the unspecified fields should be filled in now."
    conn.remoteAddr = src;
    conn.remotePort = seg.srcPort;
    this.insert(conn);
    conn.onSegment(seg, now);
    if (conn.state === 'LISTEN') {
      // The SYN did not take (should not happen): discard the spawned TCB.
      this.remove(conn);
      return;
    }
    this.reschedule(conn);
  }

  /**
   * Cookies are checked only while a listener has recently sent them (as
   * Linux's tcp_synq_no_recent_overflow): otherwise a stray ACK could
   * rebuild a connection the application already aborted.
   */
  private cookiesRecentlySent(l: Listener, now: Instant): boolean {
    if (this.synCookieMode === 'never') return false;
    return l.lastCookieAt >= 0 && now - l.lastCookieAt <= COOKIE_VALID_US;
  }

  private spendCookie(key: string): void {
    this.spentCookies.delete(key);
    this.spentCookies.set(key, this.clock.now() + COOKIE_VALID_US);
    if (this.spentCookies.size > 4096) {
      const oldest = this.spentCookies.keys().next().value;
      if (oldest !== undefined) this.spentCookies.delete(oldest);
    }
  }

  /** A stateless SYN,ACK whose ISS is a SYN cookie (RFC 4987 §3.6). */
  private sendCookie(iface: NetInterface, l: Listener, src: Ipv4Addr, dst: Ipv4Addr, seg: TcpRepr, now: Instant): void {
    const cfg = l.config;
    let peerMss = cfg.defaultMss;
    let peerWs = -1;
    let peerSack = false;
    let peerTs: { tsval: number } | null = null;
    for (const o of seg.options) {
      if (o.kind === 'mss') peerMss = o.value;
      else if (o.kind === 'window-scale') peerWs = o.shift;
      else if (o.kind === 'sack-permitted') peerSack = true;
      else if (o.kind === 'timestamp') peerTs = o;
    }
    const advMss = Math.max(88, Math.min(65495, iface.mtu - 40));
    const iss = this.cookies.encode(dst, l.port, src, seg.srcPort, seg.seq, Math.min(peerMss, advMss), now);
    // Window scale and SACK are remembered only through timestamps.
    const useTs = peerTs !== null && cfg.timestamps;
    const shift = offeredShiftFor(cfg);
    const ws = useTs && peerWs >= 0 && cfg.windowScaling ? peerWs : -1;
    const sack = useTs && peerSack && cfg.sack;
    const tsOffset = Math.imul((iss | 0) ^ 0x5bd1e995, 0x9e3779b1) | 0;
    const tsNow = (Math.floor(now / 1000) + tsOffset) >>> 0;
    let tsval = encodeTsOptions(tsNow, { wscale: ws, sackPermitted: sack });
    // Never ahead of the clock the connection will use (as Linux's
    // cookie_init_timestamp): a TSval from the future would make the peer's
    // PAWS drop our first data segments.
    if (((tsval - tsNow) | 0) > 0) tsval = (tsval - 32) >>> 0;
    const options = synOptions(cfg.optionLayout, {
      mss: advMss,
      wscale: ws >= 0 ? shift : undefined,
      sackPermitted: sack,
      ts: useTs ? { tsval, tsecr: peerTs!.tsval } : undefined,
    });
    this.counters.synCookiesSent++;
    l.lastCookieAt = now;
    this.sendSegment(
      dst,
      src,
      { srcPort: l.port, dstPort: seg.srcPort, seq: iss, ack: (seg.seq + 1) >>> 0, flags: SYN | ACK, window: Math.min(65535, cfg.recvBufferBytes), urgentPointer: 0, options, payload: new Uint8Array(0) },
      null,
    );
  }

  /** An ACK to a listener that may complete a SYN-cookie handshake. Returns true if it did. */
  private acceptCookie(iface: NetInterface, l: Listener, src: Ipv4Addr, dst: Ipv4Addr, seg: TcpRepr, now: Instant): boolean {
    const iss = (seg.ack - 1) >>> 0;
    const irs = (seg.seq - 1) >>> 0;
    const spentKey = `${src}:${seg.srcPort}:${dst}:${l.port}:${iss}`;
    const spentUntil = this.spentCookies.get(spentKey);
    if (spentUntil !== undefined) {
      if (spentUntil > now) {
        // This cookie already made a connection that has since ended: a
        // late segment must not bring it back (Linux would; we don't).
        this.counters.synCookiesInvalid++;
        return false;
      }
      this.spentCookies.delete(spentKey);
    }
    const ok = this.cookies.decode(dst, l.port, src, seg.srcPort, irs, iss, now);
    if (!ok) {
      this.counters.synCookiesInvalid++;
      return false;
    }
    if (l.acceptQueue.length >= l.backlog || this.connCount >= this.maxConnections) {
      this.drop(null, 'tcp-listen-backlog-full');
      return true;
    }
    const options: TcpOption[] = [{ kind: 'mss', value: ok.mss }];
    const ts = findTimestamp(seg.options);
    let tsOffset: number | null = null;
    if (ts && l.config.timestamps) {
      const o = decodeTsOptions(ts.tsecr);
      if (o.wscale >= 0) options.push({ kind: 'window-scale', shift: o.wscale });
      if (o.sackPermitted) options.push({ kind: 'sack-permitted' });
      options.push({ kind: 'timestamp', tsval: ts.tsval, tsecr: 0 });
      tsOffset = Math.imul((iss | 0) ^ 0x5bd1e995, 0x9e3779b1) | 0;
    }
    const conn = new Connection(this, l.config, iface.mtu);
    this.meta.set(conn, { listener: l, accepted: false });
    conn.remoteAddr = src;
    conn.remotePort = seg.srcPort;
    conn.localAddr = dst;
    conn.localPort = l.port;
    this.insert(conn);
    conn.restoreFromCookie({ localAddr: dst, localPort: l.port, remoteAddr: src, remotePort: seg.srcPort }, iss, irs, options, tsOffset, now);
    this.counters.synCookiesAccepted++;
    this.cookieConns.set(conn, spentKey);
    conn.onSegment(seg, now);
    this.reschedule(conn);
    return true;
  }

  private receiveIcmp(iface: NetInterface, src: Ipv4Addr, dst: Ipv4Addr, payload: Uint8Array): void {
    const r = parseIcmp(payload, iface.caps);
    if (!r.ok) {
      this.drop(null, r.reason);
      return;
    }
    if (r.value.type !== 'echo-request') {
      this.counters.icmpIn++;
      return;
    }
    this.counters.icmpIn++;
    // RFC 792: "To form an echo reply message, the source and destination
    // addresses are simply reversed, the type code changed to 0".
    const reply = { type: 'echo-reply' as const, ident: r.value.ident, seqNo: r.value.seqNo, data: r.value.data };
    const len = icmpEchoLen(reply);
    const buf = new Uint8Array(20 + len);
    emitIpv4(
      { src: dst, dst: src, protocol: IPPROTO_ICMP, ttl: this.ttl, tos: 0, ident: this.nextIdent(), dontFragment: false, payloadLen: len },
      buf,
      0,
      iface.caps,
    );
    emitIcmpEcho(reply, buf, 20);
    this.counters.icmpEchoReplies++;
    this.sendPacket(iface, buf);
  }

  // ===========================================================================
  // Transmit path
  // ===========================================================================

  private sendSegment(src: Ipv4Addr, dst: Ipv4Addr, seg: TcpRepr, conn: Connection | null, ipEcn = 0): void {
    const iface = this.route(dst);
    if (!iface) {
      this.drop(conn, 'ipv4-not-for-us');
      return;
    }
    const bytes = emitIpv4Tcp(
      { src, dst, ttl: this.ttl, tos: ipEcn & 3, ident: this.nextIdent(), dontFragment: true },
      seg,
      iface.caps,
      this.allocTx,
    );
    this.counters.segmentsOut++;
    if (seg.flags & RST) this.counters.resetsSent++;
    if (this.hooks.length) this.trace({ type: 'segment', dir: 'out', time: this.clock.now(), src, dst, tcp: seg, conn, bytes });
    this.sendPacket(iface, bytes);
  }

  private sendPacket(iface: NetInterface, bytes: Uint8Array): void {
    this.counters.packetsOut++;
    if (this.hooks.length) this.trace({ type: 'packet', dir: 'out', time: this.clock.now(), bytes });
    iface.link.transmit(bytes);
  }

  private sendRst(src: Ipv4Addr, dst: Ipv4Addr, srcPort: number, dstPort: number, seq: number, ack: number, flags: number): void {
    this.sendSegment(
      src,
      dst,
      { srcPort, dstPort, seq: seq >>> 0, ack: ack >>> 0, flags, window: 0, urgentPointer: 0, options: [], payload: new Uint8Array(0) },
      null,
    );
  }

  private nextIdent(): number {
    this.ipIdent = (this.ipIdent + 1) & 0xffff;
    return this.ipIdent;
  }

  // ===========================================================================
  // Demux table, ports, timers
  // ===========================================================================

  lookup(localAddr: Ipv4Addr, localPort: number, remoteAddr: Ipv4Addr, remotePort: number): Connection | null {
    const v = this.conns.get(connKey(localPort, remotePort));
    if (!v) return null;
    if (!Array.isArray(v)) return v.remoteAddr === remoteAddr && v.localAddr === localAddr ? v : null;
    for (const c of v) if (c.remoteAddr === remoteAddr && c.localAddr === localAddr) return c;
    return null;
  }

  private findListener(addr: Ipv4Addr, port: number): Listener | null {
    const list = this.listeners.get(port);
    if (!list) return null;
    for (const l of list) if (l.addr === addr) return l;
    for (const l of list) if (l.addr === ANY) return l;
    return null;
  }

  private insert(conn: Connection): void {
    const key = connKey(conn.localPort, conn.remotePort);
    const v = this.conns.get(key);
    if (!v) this.conns.set(key, conn);
    else if (Array.isArray(v)) v.push(conn);
    else this.conns.set(key, [v, conn]);
    this.connCount++;
    this.portRef(conn.localPort, +1);
  }

  private remove(conn: Connection): void {
    const key = connKey(conn.localPort, conn.remotePort);
    const v = this.conns.get(key);
    if (!v) return;
    if (Array.isArray(v)) {
      const i = v.indexOf(conn);
      if (i < 0) return;
      v.splice(i, 1);
      if (v.length === 1) this.conns.set(key, v[0]!);
    } else if (v === conn) {
      this.conns.delete(key);
    } else {
      return;
    }
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

  private allocatePort(localAddr: Ipv4Addr, remoteAddr: Ipv4Addr, remotePort: number): number {
    const [lo, hi] = this.ephemeral;
    const span = hi - lo + 1;
    for (let i = 0; i < span; i++) {
      this.portCursor = (this.portCursor + 1) % span;
      const p = lo + this.portCursor;
      if (this.portsInUse.has(p) || this.listeners.has(p)) continue;
      if (remotePort && this.lookup(localAddr, p, remoteAddr, remotePort)) continue;
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
    if (d === Infinity) {
      if (conn.heapIndex >= 0 && conn.timerAt !== Infinity) return; // fires early, harmlessly, then drops out
      return;
    }
    this.timers.schedule(conn, d);
  }
}

