/**
 * `Socket`: a `stream.Duplex` over one synack TCP connection, compatible
 * with `node:net`'s Socket for TCP (see docs/STYLE.md §3b).
 *
 * Invariants:
 *  - user code never runs inside the core: the connection's events only set
 *    flags and schedule one `process.nextTick` service pass, which emits
 *    'connect', pulls data, flushes writes and reports errors. So no event
 *    fires synchronously inside the call that caused it, and the core is
 *    never re-entered from one of its own callbacks;
 *  - receive backpressure: `_read()` pulls from the connection's receive
 *    buffer and stops when `push()` returns false; unread bytes stay in the
 *    connection, whose advertised window closes by itself;
 *  - send backpressure: `_write()`/`_writev()` copy into the connection's
 *    bounded send buffer and call back only when every byte was accepted,
 *    the rest waiting for the connection's 'writable' event; memory is
 *    bounded by the send buffer plus the Writable's high-water mark;
 *  - `destroy()` closes a still-open connection in the background (FIN, or
 *    RST when unread bytes remain, as Linux's close() does) and releases
 *    it; `resetAndDestroy()` sends RST.
 *
 * Names: IPv4 and IPv6 literals are connected to (an IPv4-mapped IPv6
 * literal is IPv4). A host name is looked up in the net's `hosts` table,
 * as `localhost` (127.0.0.1 and ::1, the loopback interface: resolve.ts),
 * or with a user `lookup` option; anything else fails like an unresolvable
 * name (ENOTFOUND, syscall getaddrinfo) on a later tick; `path` (IPC)
 * throws. With `autoSelectFamily` (on by default, as in Node 20) a name
 * with addresses of both families is tried address by address,
 * alternating families, each attempt but the last given
 * `autoSelectFamilyAttemptTimeout` ms (default 250) on the stack's clock —
 * Node's lookupAndConnectMultiple, after RFC 8305.
 */
import { Buffer, Duplex, process, setImmediate, setTimeout, clearTimeout, type DuplexOptions } from '#platform';
import { addressInfo, isIP } from './ip.ts';
import type { Connection } from '../tcp/connection.ts';
import type { ConnectionEvent, CloseReason } from '../tcp/events.ts';
import type { TcpConfig } from '../tcp/config.ts';
import type { ConnectionObserver, Stack } from '../stack/stack.ts';
import { ipv6MappedToV4, parseIpAddr, type IpAddr } from '../wire/ipv6.ts';
import type { Driver } from './driver.ts';
import { closeReasonError, errors, fromSynackError, lookupError, nodeError, systemError, validatePort } from './errors.ts';
import { resolveName, type HostsTable } from './resolve.ts';

/**
 * node:net's defaults (net.getDefaultAutoSelectFamily() and
 * net.getDefaultAutoSelectFamilyAttemptTimeout() in Node 20: true, 250 ms).
 */
export const AUTO_SELECT_FAMILY_DEFAULT = true;
export const AUTO_SELECT_FAMILY_ATTEMPT_TIMEOUT_DEFAULT_MS = 250;

/** One connection attempt per address (autoSelectFamily): the addresses in order, the next one, the errors so far. */
interface MultiConnect {
  addrs: string[];
  next: number;
  errors: Error[];
  timeoutMs: number;
  port: number;
  options: SocketConnectOpts;
}

/** What a Socket or Server needs from its `net` module: one stack, its driver and a name table. */
export interface NetContext {
  readonly stack: Stack;
  readonly driver: Driver;
  /** Host name → address literal(s) (e.g. names given to `createMemoryNetwork().host(addr, { name })`). */
  readonly hosts: HostsTable;
  /** Defaults merged into every connection's TcpConfig. */
  readonly tcp?: Partial<TcpConfig>;
  /** The host's DNS resolution, consulted after `hosts` (api/services.ts fills it). */
  readonly dns?: { lookup: ((hostname: string, options: never, cb: never) => void) | null };
}

/** Static slot on bound subclasses (createNet) carrying their context. */
export const kContext = Symbol('synack.netContext');

export type LookupFunction = (
  hostname: string,
  options: { family?: number; hints?: number; all?: boolean },
  callback: (err: Error | null, address: string | Array<{ address: string; family: number }>, family?: number) => void,
) => void;

export interface SocketConstructorOpts {
  allowHalfOpen?: boolean;
  noDelay?: boolean;
  keepAlive?: boolean;
  /** Milliseconds of idleness before the first keepalive probe (0 = the stack's default). */
  keepAliveInitialDelay?: number;
  highWaterMark?: number;
  readableHighWaterMark?: number;
  writableHighWaterMark?: number;
  signal?: AbortSignal;
  /** Kernel-handle options of node:net: not supported here. */
  fd?: unknown;
  handle?: unknown;
  onread?: unknown;
  readable?: boolean;
  writable?: boolean;
  /** synack extension: TcpConfig overrides for this socket's connection. */
  tcp?: Partial<TcpConfig>;
}

export interface SocketConnectOpts {
  port?: number | string;
  host?: string;
  localAddress?: string;
  localPort?: number;
  family?: number;
  lookup?: LookupFunction;
  hints?: number;
  /** Idle timeout in ms (createConnection only, as in Node). */
  timeout?: number;
  autoSelectFamily?: boolean;
  autoSelectFamilyAttemptTimeout?: number;
  path?: string;
  noDelay?: boolean;
  keepAlive?: boolean;
  keepAliveInitialDelay?: number;
  tcp?: Partial<TcpConfig>;
}

export interface AddressInfo {
  address: string;
  family: string;
  port: number;
}

interface PendingWrite {
  chunks: Uint8Array[];
  i: number;
  off: number;
  cb: (err?: Error | null) => void;
}

type Peer = { address?: string; family?: string; port?: number };

const OPEN_FOR_CLOSE = new Set(['ESTABLISHED', 'CLOSE-WAIT', 'SYN-RECEIVED']);
/** Linux's close() resets instead of closing when received bytes were never read, in these states. */
const RST_ON_UNREAD = new Set(['SYN-RECEIVED', 'ESTABLISHED', 'CLOSE-WAIT', 'FIN-WAIT-1', 'FIN-WAIT-2']);
/** Bytes taken from the connection per read call (node:net reads up to 64 KiB per 'data' too). */
const READ_CHUNK = 64 * 1024;
/**
 * Received segments smaller than this are joined (one copy) into one Buffer
 * per read instead of being pushed one by one: at MSS 1460 a 64 KiB read is
 * ~45 segments, and every push costs the application a 'data' event (and
 * node:http a parser call). Larger segments are pushed as views, no copy.
 */
const COALESCE_BELOW = 16 * 1024;

/** Node's `normalizeArgs`: (options | port[, host])[, cb] → [options, cb]. */
export function normalizeConnectArgs(args: unknown[]): [SocketConnectOpts, ((...a: unknown[]) => void) | null] {
  if (args.length === 0) return [{}, null];
  const arg0 = args[0];
  let options: SocketConnectOpts = {};
  if (typeof arg0 === 'object' && arg0 !== null) {
    options = arg0 as SocketConnectOpts;
  } else if (typeof arg0 === 'string' && !(Number(arg0) >= 0)) {
    options.path = arg0;
  } else {
    options.port = arg0 as number;
    if (args.length > 1 && typeof args[1] === 'string') options.host = args[1];
  }
  const cb = args[args.length - 1];
  return [options, typeof cb === 'function' ? (cb as (...a: unknown[]) => void) : null];
}

export class Socket extends Duplex {
  /** True from connect() until 'connect' (or failure). */
  connecting = false;
  /** The Server that accepted this socket, if any. */
  server: unknown = null;
  /** Idle timeout in ms set by setTimeout() (undefined when none). */
  timeout: number | undefined = undefined;

  private readonly ctx: NetContext;
  private conn: Connection | null = null;
  private readonly observer: ConnectionObserver;
  // events from the core, handled on the next tick
  private evConnected = false;
  private evData = false;
  private evWritable = false;
  private evClosed = false;
  private closedReason: CloseReason | null = null;
  private serviceQueued = false;
  private startReadOnService = false;
  // stream state
  private reading = false;
  private eofPushed = false;
  private pendingWrite: PendingWrite | null = null;
  private bytesReadCount = 0;
  private bytesDispatched = 0;
  private resetAndClosing = false;
  private connectSeq = 0;
  /** The attempts of an autoSelectFamily connect, while it runs. */
  private multi: MultiConnect | null = null;
  /** `${address}:${port}` of each attempt of an autoSelectFamily connect (as Node's socket.autoSelectFamilyAttemptedAddresses). */
  autoSelectFamilyAttemptedAddresses?: string[];
  // addresses: cached on first use, like Node's _peername/_sockname
  private peer: Peer | null = null;
  /** Accepted by a dual-stack server (`::`): IPv4 peers are shown IPv4-mapped, as Node does. */
  private dualStack = false;
  private sock: Peer | null = null;
  private remoteHost = '';
  private remotePortNum = 0;
  // options remembered before connect
  private noDelayOpt: boolean | undefined;
  private keepAliveOpt: { on: boolean; delayMs: number } | undefined;
  private readonly tcpOpt: Partial<TcpConfig> | undefined;
  // ref/unref and the idle timer
  private refed = true;
  private holdingRef = false;
  private idleTimer: NodeJS.Timeout | null = null;

  constructor(options: SocketConstructorOpts = {}) {
    const ctx = (new.target as unknown as Record<symbol, NetContext | undefined>)[kContext];
    if (!ctx) {
      throw nodeError(Error, 'ERR_SYNACK_NO_STACK', 'this Socket class is not bound to a stack: use createNet(stack).Socket or net.createConnection()');
    }
    if (typeof options !== 'object' || options === null) throw errors.invalidArgType('options', 'of type object', options);
    for (const k of ['fd', 'handle', 'onread'] as const) {
      if (options[k] !== undefined) {
        throw errors.invalidArgValue(`options.${k}`, typeof options[k], 'is not supported by synack (it names a kernel handle)');
      }
    }
    const duplexOpts: DuplexOptions = {
      allowHalfOpen: Boolean(options.allowHalfOpen),
      emitClose: false,
      autoDestroy: true,
      decodeStrings: true,
    };
    if (options.highWaterMark !== undefined) duplexOpts.highWaterMark = options.highWaterMark;
    if (options.readableHighWaterMark !== undefined) duplexOpts.readableHighWaterMark = options.readableHighWaterMark;
    if (options.writableHighWaterMark !== undefined) duplexOpts.writableHighWaterMark = options.writableHighWaterMark;
    if (options.signal !== undefined) duplexOpts.signal = options.signal;
    super(duplexOpts);
    this.ctx = ctx;
    this.tcpOpt = options.tcp;
    if (options.noDelay) this.noDelayOpt = true;
    if (options.keepAlive) this.keepAliveOpt = { on: true, delayMs: Math.max(0, Number(options.keepAliveInitialDelay) || 0) };
    this.observer = { onEvent: (conn, ev) => this.onConnEvent(conn, ev) };
    this.on('end', onReadableStreamEnd);
  }

  // ===========================================================================
  // Connecting
  // ===========================================================================

  connect(options: SocketConnectOpts, connectListener?: () => void): this;
  connect(port: number | string, host?: string, connectListener?: () => void): this;
  connect(port: number | string, connectListener?: () => void): this;
  connect(...args: unknown[]): this {
    const [options, cb] = normalizeConnectArgs(args);
    if (options.path !== undefined && options.path !== null) {
      throw errors.invalidArgValue('options.path', options.path, 'is not supported by synack (IPC sockets have no TCP equivalent)');
    }
    if (options.port === undefined && options.host === undefined && Object.keys(options).length === 0) throw errors.missingArgs();
    if (this.write !== Socket.prototype.write) this.write = Socket.prototype.write;
    if (this.destroyed) this.reinit();
    else if (this.conn || this.connecting) {
      throw nodeError(Error, 'ERR_SOCKET_CONNECTING', this.connecting ? 'Socket is already connecting' : 'Socket is already connected');
    }
    // Validation (synchronous throws, as Node's lookupAndConnect).
    const { localAddress, localPort } = options;
    if (localAddress !== undefined && localAddress !== null && !isIP(String(localAddress))) throw errors.invalidIpAddress(String(localAddress));
    if (localPort !== undefined && localPort !== null && localPort !== 0) {
      if (typeof localPort !== 'number' || Number.isNaN(localPort)) throw errors.invalidArgType('options.localPort', 'of type number', localPort);
      validatePort(localPort, 'options.localPort');
    }
    let port = 0;
    if (options.port !== undefined) {
      if (typeof options.port !== 'number' && typeof options.port !== 'string') {
        throw errors.invalidArgType('options.port', 'one of type number or string', options.port);
      }
      port = validatePort(options.port);
    }
    if (options.host !== undefined && options.host !== null && typeof options.host !== 'string') {
      throw errors.invalidArgType('options.host', 'of type string', options.host);
    }
    if (options.lookup !== undefined && typeof options.lookup !== 'function') {
      throw errors.invalidArgType('options.lookup', 'of type function', options.lookup);
    }
    if (options.autoSelectFamily !== undefined && options.autoSelectFamily !== null && typeof options.autoSelectFamily !== 'boolean') {
      throw errors.invalidArgType('options.autoSelectFamily', 'of type boolean', options.autoSelectFamily);
    }
    if (options.autoSelectFamilyAttemptTimeout !== undefined && options.autoSelectFamilyAttemptTimeout !== null) {
      const t = options.autoSelectFamilyAttemptTimeout;
      if (typeof t !== 'number') throw errors.invalidArgType('options.autoSelectFamilyAttemptTimeout', 'of type number', t);
      if (!Number.isInteger(t) || t < 1 || t > 0x7fffffff) {
        throw nodeError(RangeError, 'ERR_OUT_OF_RANGE', `The value of "options.autoSelectFamilyAttemptTimeout" is out of range. It must be >= 1 && <= 2147483647. Received ${String(t)}`);
      }
    }
    if (options.noDelay !== undefined) this.noDelayOpt = Boolean(options.noDelay);
    if (options.keepAlive) this.keepAliveOpt = { on: true, delayMs: Math.max(0, Number(options.keepAliveInitialDelay) || 0) };
    if (cb !== null) this.once('connect', cb);
    const host = options.host || 'localhost';
    this.remoteHost = host;
    this.remotePortNum = port;
    this.connecting = true;
    this.syncRef();
    const seq = ++this.connectSeq;
    process.nextTick(() => {
      if (this.connecting && seq === this.connectSeq && !this.destroyed) this.lookupAndConnect(host, port, options);
    });
    return this;
  }

  private lookupAndConnect(host: string, port: number, options: SocketConnectOpts): void {
    const seq = this.connectSeq;
    this.multi = null;
    const proceed = (address: string): void => {
      if (!this.connecting || seq !== this.connectSeq || this.destroyed) return;
      this.internalConnect(address, port, options);
    };
    if (isIP(host) !== 0) return proceed(host);
    // Node's lookupAndConnect: autoSelectFamily applies to names, without
    // an asked family and without a local address.
    const auto = (options.autoSelectFamily ?? AUTO_SELECT_FAMILY_DEFAULT) && options.family !== 4 && options.family !== 6 && !options.localAddress;
    const finish = (err: Error | null, list: Array<{ address: string; family: number }>): void => {
      if (!this.connecting || seq !== this.connectSeq || this.destroyed) return;
      if (err) {
        this.emit('lookup', err, undefined, undefined, host);
        return this.failConnect(err);
      }
      if (auto) return this.connectMultiple(host, port, options, list);
      // The first address of the asked family (Node without autoSelectFamily).
      const first = list.find((a) => (options.family === 4 ? a.family === 4 : options.family === 6 ? a.family === 6 : a.family !== 0));
      this.emit('lookup', null, first?.address, first?.family, host);
      if (!first) return this.failConnect(systemError('EAFNOSUPPORT', 'connect', String(list[0]?.address ?? host), port));
      proceed(first.address);
    };
    const viaLookup = (lookup: LookupFunction): void => {
      let called = false;
      lookup(host, { family: options.family ?? 0, hints: options.hints ?? 0, all: auto }, (err, address, family) => {
        if (called) return;
        called = true;
        if (err) return finish(err, []);
        const list = Array.isArray(address) ? address : [{ address, family: family ?? isIP(address) }];
        finish(null, list.map((a) => ({ address: a.address, family: isIP(a.address) })));
      });
    };
    if (options.lookup) return viaLookup(options.lookup);
    const found = resolveName(this.ctx.hosts, host);
    if (found !== null) return finish(null, found.map((address) => ({ address, family: isIP(address) })));
    // Then DNS, when the host has a resolver (api/services.ts: DHCP's
    // option 6 or setDnsServers), like getaddrinfo after /etc/hosts.
    const dns = this.ctx.dns?.lookup;
    if (dns) return viaLookup(dns as LookupFunction);
    finish(lookupError(host, 'synack resolves only IP address literals, localhost, names in its hosts table, names passed through a lookup option, or by DNS once the host has servers'), []);
  }

  /**
   * Node's lookupAndConnectMultiple (RFC 8305 §4: "the client SHOULD
   * modify the ordered list to interleave address families"): the first
   * address's family goes first, the families alternate, each address is
   * tried once.
   */
  private connectMultiple(host: string, port: number, options: SocketConnectOpts, list: Array<{ address: string; family: number }>): void {
    const groups: [string[], string[]] = [[], []];
    let firstFamily = 0;
    for (const a of list) {
      this.emit('lookup', null, a.address, a.family, host);
      if (!this.connecting) return;
      if (a.family !== 4 && a.family !== 6) continue;
      firstFamily ||= a.family;
      const g = groups[a.family === firstFamily ? 0 : 1];
      if (!g.includes(a.address)) g.push(a.address);
    }
    if (groups[0].length === 0) {
      return this.failConnect(list.length === 0 ? lookupError(host) : errors.invalidIpAddress(String(list[0]!.address)));
    }
    const addrs: string[] = [];
    for (let i = 0; i < Math.max(groups[0].length, groups[1].length); i++) {
      if (i < groups[0].length) addrs.push(groups[0][i]!);
      if (i < groups[1].length) addrs.push(groups[1][i]!);
    }
    if (addrs.length === 1) return this.internalConnect(addrs[0]!, port, options);
    const t = options.autoSelectFamilyAttemptTimeout;
    const timeoutMs = t === undefined || t === null ? AUTO_SELECT_FAMILY_ATTEMPT_TIMEOUT_DEFAULT_MS : Math.max(10, t);
    this.autoSelectFamilyAttemptedAddresses = [];
    this.multi = { addrs, next: 0, errors: [], timeoutMs, port, options };
    this.attemptNext();
  }

  /**
   * The next attempt of an autoSelectFamily connect, or — all tried — the
   * failure (an AggregateError of every attempt's error, as Node's
   * NodeAggregateError, whose `code` is the first one's). Each attempt but
   * the last carries the attempt timeout as its connection-establishment
   * timeout (TcpConfig.connectTimeoutUs), so it expires on the stack's own
   * clock, virtual or real.
   */
  private attemptNext(): void {
    const m = this.multi!;
    if (m.next >= m.addrs.length) {
      this.multi = null;
      const agg = new AggregateError(m.errors, 'All attempts to connect failed') as AggregateError & { code?: string };
      agg.code = (m.errors[0] as { code?: string } | undefined)?.code;
      return this.failConnect(agg);
    }
    const i = m.next++;
    const address = m.addrs[i]!;
    this.autoSelectFamilyAttemptedAddresses?.push(`${address}:${m.port}`);
    this.emit('connectionAttempt', address, m.port, isIP(address));
    if (!this.connecting || this.destroyed) return;
    this.internalConnect(address, m.port, m.options, i < m.addrs.length - 1 ? m.timeoutMs * 1000 : 0);
  }

  /** An attempt of an autoSelectFamily connect failed: record it and try the next address. False when no such connect runs. */
  private attemptFailed(err: Error, timedOut: boolean): boolean {
    const m = this.multi;
    if (!m || !this.connecting || this.destroyed) return false;
    const address = this.remoteHost;
    this.conn = null;
    this.peer = null;
    this.sock = null;
    m.errors.push(err);
    this.emit(timedOut ? 'connectionAttemptTimeout' : 'connectionAttemptFailed', address, m.port, isIP(address), ...(timedOut ? [] : [err]));
    if (this.connecting && !this.destroyed) this.attemptNext();
    return true;
  }

  private internalConnect(address: string, port: number, options: SocketConnectOpts, attemptTimeoutUs = 0): void {
    const stack = this.ctx.stack;
    const remote = parseIpAddr(address);
    if (remote === null) return this.failConnect(errors.invalidIpAddress(address));
    this.remoteHost = address;
    if (port === 0) return this.failConnect(systemError('ECONNREFUSED', 'connect', address, port));
    let localAddr: IpAddr | undefined;
    if (options.localAddress) {
      const parsed = parseIpAddr(options.localAddress);
      if (parsed === null) return this.failConnect(errors.invalidIpAddress(options.localAddress));
      localAddr = typeof parsed === 'string' ? (ipv6MappedToV4(parsed) ?? parsed) : parsed;
      if ((typeof localAddr === 'string') !== (typeof (typeof remote === 'string' ? (ipv6MappedToV4(remote) ?? remote) : remote) === 'string')) {
        return this.failConnect(systemError('EAFNOSUPPORT', 'connect', address, port, { detail: `${options.localAddress} is not of the family of ${address}` }));
      }
      if (!stack.isLocalAddr(localAddr)) {
        return this.failConnect(
          systemError('EADDRNOTAVAIL', 'connect', address, port, { detail: `${options.localAddress} is not an address of this stack` }),
        );
      }
    }
    const tcp: Partial<TcpConfig> = { ...this.ctx.tcp, ...this.tcpOpt, ...options.tcp };
    if (this.noDelayOpt !== undefined) tcp.noDelay = this.noDelayOpt;
    if (this.keepAliveOpt) {
      tcp.keepAlive = this.keepAliveOpt.on;
      if (this.keepAliveOpt.delayMs > 0) tcp.keepAliveIdleUs = this.keepAliveOpt.delayMs * 1000;
    }
    if (attemptTimeoutUs > 0) tcp.connectTimeoutUs = tcp.connectTimeoutUs ? Math.min(tcp.connectTimeoutUs, attemptTimeoutUs) : attemptTimeoutUs;
    try {
      this.conn = stack.connect(remote, port, {
        ...(localAddr !== undefined ? { localAddr } : {}),
        ...(options.localPort ? { localPort: options.localPort } : {}),
        tcp,
        observer: this.observer,
      });
    } catch (e) {
      return this.failConnect(fromSynackError(e, 'connect', address, port));
    }
    this.ctx.driver.kick();
  }

  private failConnect(err: Error): void {
    if (this.destroyed) return;
    if (this.attemptFailed(err, false)) return;
    this.connecting = false;
    this.destroy(err);
  }

  /** Attaches an accepted connection (server side). */
  _attachAccepted(conn: Connection, server: unknown, pauseOnConnect: boolean, dualStack = false): void {
    this.conn = conn;
    this.dualStack = dualStack;
    this.server = server;
    conn.user = this.observer;
    if (this.noDelayOpt !== undefined) this.ctx.stack.with(conn, (now) => conn.setNoDelay(this.noDelayOpt!, now));
    if (this.keepAliveOpt) this.applyKeepAlive();
    if (pauseOnConnect) (this as { readableFlowing: boolean | null }).readableFlowing = false;
    else this.startReadOnService = true;
    this.syncRef();
    this.schedule();
  }

  /** Resets per-connection state so a destroyed socket can connect again (Node allows it). */
  private reinit(): void {
    this.conn = null;
    this.peer = null;
    this.sock = null;
    this.evConnected = this.evData = this.evWritable = this.evClosed = false;
    this.closedReason = null;
    this.reading = false;
    this.eofPushed = false;
    this.pendingWrite = null;
    this.resetAndClosing = false;
    (this as unknown as { _undestroy(): void })._undestroy();
  }

  // ===========================================================================
  // Events from the core: flags now, work on the next tick
  // ===========================================================================

  private onConnEvent(conn: Connection, ev: ConnectionEvent): void {
    if (conn !== this.conn) return;
    switch (ev.type) {
      case 'connected':
        this.evConnected = true;
        break;
      case 'readable':
      case 'end':
        this.evData = true;
        break;
      case 'writable':
        this.evWritable = true;
        break;
      case 'closed':
        this.evClosed = true;
        this.closedReason = ev.reason;
        break;
      default:
        return;
    }
    this.schedule();
  }

  private schedule(): void {
    if (this.serviceQueued) return;
    this.serviceQueued = true;
    process.nextTick(this.service);
  }

  private readonly service = (): void => {
    this.serviceQueued = false;
    const conn = this.conn;
    if (this.destroyed || !conn) return;
    if (this.connecting) {
      if (this.evConnected || (conn.state !== 'SYN-SENT' && conn.state !== 'CLOSED')) {
        this.evConnected = false;
        this.afterConnect();
        if (this.destroyed) return;
      } else if (this.evClosed) {
        this.evClosed = false;
        const err = closeReasonError(this.closedReason ?? 'refused', true, this.remoteHost, this.remotePortNum) ?? errors.socketClosedBeforeConnection();
        if (this.attemptFailed(err, this.closedReason === 'timeout' && this.multi !== null && this.multi.next < this.multi.addrs.length)) return;
        this.connecting = false;
        this.destroy(err);
        return;
      } else {
        return;
      }
    }
    if (this.startReadOnService) {
      this.startReadOnService = false;
      if (!this.isPaused()) this.read(0);
      if (this.destroyed) return;
    }
    if (this.evData) {
      this.evData = false;
      this.pull();
      if (this.destroyed) return;
    }
    if (this.evWritable) {
      this.evWritable = false;
      this.flushWrites();
      if (this.destroyed) return;
    }
    if (this.evClosed) {
      this.evClosed = false;
      const err = closeReasonError(this.closedReason, false, this.remoteHost, this.remotePortNum);
      if (err) {
        this.destroy(err);
      } else if (this.closedReason === 'aborted') {
        this.destroy(errors.socketClosed());
      } else {
        // Orderly close: the stream ends by itself once the bytes are read.
        this.pull();
      }
    }
  };

  private afterConnect(): void {
    this.connecting = false;
    this.multi = null;
    this.ctx.driver.kick();
    this.flushWrites();
    // As Node's afterConnect: the connection itself is activity.
    this.touch();
    this.emit('connect');
    this.emit('ready');
    if (this.destroyed) return;
    if (this.reading || !this.isPaused()) {
      this.reading = true;
      this.pull();
      if (!this.destroyed && !this.isPaused()) this.read(0);
    }
  }

  // ===========================================================================
  // Receive path
  // ===========================================================================

  override _read(_size: number): void {
    this.reading = true;
    if (!this.connecting && this.conn) this.pull();
  }

  /** Moves bytes from the connection into the stream while it wants more. */
  private pull(): void {
    const conn = this.conn;
    if (!conn || this.connecting || this.destroyed) return;
    const stack = this.ctx.stack;
    let got = false;
    while (this.reading && conn.readable() > 0) {
      const chunks = stack.read(conn, READ_CHUNK);
      got = true;
      // Runs of small chunks become one Buffer; a large chunk goes as a view.
      let runStart = 0;
      let runBytes = 0;
      for (let i = 0; i <= chunks.length; i++) {
        const c = i < chunks.length ? chunks[i]! : null;
        if (c !== null && c.length < COALESCE_BELOW) {
          runBytes += c.length;
          continue;
        }
        if (i - runStart === 1) this.pushBytes(chunks[runStart]!);
        else if (i - runStart > 1) this.pushBytes(joinChunks(chunks, runStart, i, runBytes));
        if (c !== null) this.pushBytes(c);
        runStart = i + 1;
        runBytes = 0;
      }
    }
    if (got) {
      this.touch();
      this.ctx.driver.kick();
    }
    if (!this.eofPushed && conn.finReceived && conn.readable() === 0 && !this.destroyed) {
      this.eofPushed = true;
      this.push(null);
      // As Node's onStreamRead does at EOF: lets 'end' fire even when nobody is reading.
      process.nextTick(() => {
        if (!this.destroyed) this.read(0);
      });
    }
  }

  private pushBytes(c: Uint8Array): void {
    this.bytesReadCount += c.length;
    if (!this.push(Buffer.from(c.buffer, c.byteOffset, c.byteLength))) this.reading = false;
  }

  // ===========================================================================
  // Send path
  // ===========================================================================

  override _write(chunk: Buffer, _encoding: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.queueWrite([chunk], cb);
  }

  override _writev(chunks: Array<{ chunk: Buffer; encoding: BufferEncoding }>, cb: (err?: Error | null) => void): void {
    this.queueWrite(
      chunks.map((c) => c.chunk),
      cb,
    );
  }

  private queueWrite(chunks: Uint8Array[], cb: (err?: Error | null) => void): void {
    this.pendingWrite = { chunks, i: 0, off: 0, cb };
    this.touch();
    if (!this.connecting && this.conn) this.flushWrites();
  }

  /** Offers the pending write to the connection's send buffer; calls back once all of it is taken. */
  private flushWrites(): void {
    const p = this.pendingWrite;
    const conn = this.conn;
    if (!p || !conn || this.connecting) return;
    const stack = this.ctx.stack;
    let sent = false;
    while (p.i < p.chunks.length) {
      const chunk = p.chunks[p.i]!;
      const rest = chunk.length - p.off;
      if (rest === 0) {
        p.i++;
        p.off = 0;
        continue;
      }
      const room = conn.state === 'CLOSED' ? 1 : conn.sendRoom();
      if (room <= 0) break;
      const n = Math.min(room, rest);
      // The core keeps the bytes for retransmission: it takes a copy (in
      // pooled blocks), as the application may reuse its buffer once the
      // write's callback ran.
      let took: number;
      try {
        took = stack.sendCopy(conn, p.off === 0 && n === chunk.length ? chunk : chunk.subarray(p.off, p.off + n));
      } catch (e) {
        this.pendingWrite = null;
        const err =
          conn.closeReason !== null
            ? closeReasonError(conn.closeReason, false, this.remoteHost, this.remotePortNum) ?? systemError('EPIPE', 'write')
            : fromSynackError(e, 'write');
        p.cb(err);
        return;
      }
      sent = true;
      p.off += took;
      this.bytesDispatched += took;
      if (took < n) break;
    }
    if (sent) this.ctx.driver.kick();
    if (p.i >= p.chunks.length) {
      this.pendingWrite = null;
      this.touch();
      p.cb();
    }
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (this.pending && this.connecting) {
      this.once('connect', () => this._final(cb));
      return;
    }
    const conn = this.conn;
    if (!conn) {
      cb();
      return;
    }
    if (OPEN_FOR_CLOSE.has(conn.state) && !conn.finQueued) {
      try {
        this.ctx.stack.close(conn);
      } catch (e) {
        cb(fromSynackError(e, 'shutdown'));
        return;
      }
      this.ctx.driver.kick();
    }
    cb();
  }

  // ===========================================================================
  // Teardown
  // ===========================================================================

  override _destroy(err: Error | null, cb: (err: Error | null) => void): void {
    this.clearIdle();
    this.connecting = false;
    this.connectSeq++;
    const p = this.pendingWrite;
    this.pendingWrite = null;
    const conn = this.conn;
    if (conn) {
      // Remember the addresses as Node keeps _peername/_sockname.
      void this.remoteInfo();
      void this.localInfo();
      conn.user = null;
      const stack = this.ctx.stack;
      try {
        const st = conn.state;
        if (st === 'SYN-SENT') stack.abort(conn);
        else if (st !== 'CLOSED' && (this.resetAndClosing || (conn.readable() > 0 && RST_ON_UNREAD.has(st)))) stack.abort(conn);
        else if (OPEN_FOR_CLOSE.has(st) && !conn.finQueued) stack.close(conn);
        stack.release(conn);
      } catch {
        // The connection is gone already: nothing to close.
      }
      this.ctx.driver.kick();
      this.conn = null;
    }
    this.syncRef();
    if (p) p.cb(err ?? nodeError(Error, 'ERR_STREAM_DESTROYED', 'Cannot call write after a stream was destroyed'));
    cb(err);
    // Node emits 'close' from the handle's close callback, a later loop phase:
    // code that awaits 'error' and then 'close' must still see the 'close'.
    setImmediate(() => this.emit('close', Boolean(err)));
  }

  /** Sends RST and destroys (Node ≥ 16.17). */
  resetAndDestroy(): this {
    if (this.conn || this.connecting) {
      if (this.connecting) {
        this.once('connect', () => {
          this.resetAndClosing = true;
          this.destroy();
        });
      } else {
        this.resetAndClosing = true;
        this.destroy();
      }
    } else {
      this.destroy(errors.socketClosed());
    }
    return this;
  }

  /** Ends the writable side, then destroys once it has finished. */
  destroySoon(): void {
    if (this.writable) this.end();
    if (this.writableFinished) this.destroy();
    else this.once('finish', () => this.destroy());
  }

  // ===========================================================================
  // Options
  // ===========================================================================

  setNoDelay(noDelay = true): this {
    const on = Boolean(noDelay);
    this.noDelayOpt = on;
    const conn = this.conn;
    if (conn && conn.state !== 'CLOSED') {
      this.ctx.stack.with(conn, (now) => conn.setNoDelay(on, now));
      this.ctx.driver.kick();
    }
    return this;
  }

  setKeepAlive(enable = false, initialDelay = 0): this {
    this.keepAliveOpt = { on: Boolean(enable), delayMs: Math.max(0, Math.floor(Number(initialDelay) || 0)) };
    if (this.conn) this.applyKeepAlive();
    return this;
  }

  private applyKeepAlive(): void {
    const conn = this.conn;
    const ka = this.keepAliveOpt;
    if (!conn || !ka || conn.state === 'CLOSED') return;
    this.ctx.stack.with(conn, (now) => conn.setKeepAlive(ka.on, ka.delayMs > 0 ? ka.delayMs * 1000 : undefined, now));
    this.ctx.driver.kick();
  }

  /** Idle timeout: emits 'timeout' after `msecs` without activity; never closes the socket. */
  setTimeout(msecs: number, callback?: () => void): this {
    if (typeof msecs !== 'number') throw errors.invalidArgType('msecs', 'of type number', msecs);
    if (!(msecs >= 0) || !Number.isFinite(msecs)) throw errors.outOfRange('msecs', '>= 0 && <= 2147483647', msecs);
    if (callback !== undefined && typeof callback !== 'function') throw errors.invalidArgType('callback', 'of type function', callback);
    if (this.destroyed) return this;
    this.timeout = msecs;
    this.clearIdle();
    if (msecs === 0) {
      if (callback) this.removeListener('timeout', callback);
    } else {
      this.idleTimer = setTimeout(this.onIdle, Math.min(msecs, 0x7fffffff));
      this.idleTimer.unref();
      if (callback) this.once('timeout', callback);
    }
    return this;
  }

  private readonly onIdle = (): void => {
    // The timer object is kept (as Node keeps socket[kTimeout]): the next
    // activity refreshes it, which re-arms a timer that has already fired.
    if (!this.destroyed) this.emit('timeout');
  };

  /** Activity (a read, a write, the connection): restart the idle timer, also after it fired. */
  private touch(): void {
    this.idleTimer?.refresh();
  }

  private clearIdle(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
  }

  ref(): this {
    this.refed = true;
    this.syncRef();
    return this;
  }

  unref(): this {
    this.refed = false;
    this.syncRef();
    return this;
  }

  /** Holds a driver ref while the socket is alive (connecting or attached) and ref'd. */
  private syncRef(): void {
    const want = this.refed && !this.destroyed && (this.connecting || this.conn !== null);
    if (want === this.holdingRef) return;
    this.holdingRef = want;
    if (want) this.ctx.driver.ref();
    else this.ctx.driver.unref();
  }

  // ===========================================================================
  // Addresses and counters
  // ===========================================================================

  private remoteInfo(): Peer {
    const conn = this.conn;
    if (!conn || this.connecting) return this.peer ?? {};
    if (!this.peer) this.peer = { ...addressInfo(conn.remoteAddr, this.dualStack), port: conn.remotePort };
    return this.peer;
  }

  private localInfo(): Peer {
    const conn = this.conn;
    if (!conn) return this.sock ?? {};
    if (!this.sock) this.sock = { ...addressInfo(conn.localAddr, this.dualStack), port: conn.localPort };
    return this.sock;
  }

  /** `{ port, family: 'IPv4', address }` of the local end, or `{}` before connect. */
  address(): AddressInfo | Record<string, never> {
    const s = this.localInfo();
    return s.address === undefined ? {} : { address: s.address, family: s.family!, port: s.port! };
  }

  get remoteAddress(): string | undefined {
    return this.remoteInfo().address;
  }
  get remotePort(): number | undefined {
    return this.remoteInfo().port;
  }
  get remoteFamily(): string | undefined {
    return this.remoteInfo().family;
  }
  get localAddress(): string | undefined {
    return this.localInfo().address;
  }
  get localPort(): number | undefined {
    return this.localInfo().port;
  }
  get localFamily(): string | undefined {
    return this.localInfo().family;
  }

  get bytesRead(): number {
    return this.bytesReadCount;
  }

  /** Bytes handed to the connection plus bytes still queued in this socket (Node's definition). */
  get bytesWritten(): number {
    let n = this.bytesDispatched;
    const p = this.pendingWrite;
    if (p) {
      for (let i = p.i; i < p.chunks.length; i++) n += p.chunks[i]!.length - (i === p.i ? p.off : 0);
    }
    const buffered = (this as unknown as { writableBuffer?: Array<{ chunk: unknown; encoding: BufferEncoding }> }).writableBuffer;
    if (buffered) {
      for (const el of buffered) {
        n += Buffer.isBuffer(el.chunk) ? el.chunk.length : Buffer.byteLength(String(el.chunk), el.encoding);
      }
    }
    return n;
  }

  /** Deprecated in Node: bytes waiting to be written. */
  get bufferSize(): number {
    return this.writableLength;
  }

  /** True before a connection exists or while connecting. */
  get pending(): boolean {
    return !this.conn || this.connecting;
  }

  get readyState(): 'opening' | 'open' | 'readOnly' | 'writeOnly' | 'closed' {
    if (this.connecting) return 'opening';
    if (this.readable && this.writable) return 'open';
    if (this.readable && !this.writable) return 'readOnly';
    if (!this.readable && this.writable) return 'writeOnly';
    return 'closed';
  }

  /** The underlying core connection (synack extension; null once destroyed). */
  get connection(): Connection | null {
    return this.conn;
  }
}

/** chunks[from..to) copied into one new Buffer of `bytes` bytes. */
function joinChunks(chunks: Uint8Array[], from: number, to: number, bytes: number): Uint8Array {
  const out = Buffer.allocUnsafe(bytes);
  let o = 0;
  for (let i = from; i < to; i++) {
    out.set(chunks[i]!, o);
    o += chunks[i]!.length;
  }
  return out;
}

/** allowHalfOpen false: after the peer's FIN the stream ends our side; later writes fail with EPIPE (Node's writeAfterFIN). */
function onReadableStreamEnd(this: Socket): void {
  if (!this.allowHalfOpen) this.write = writeAfterFIN as Socket['write'];
}

function writeAfterFIN(this: Socket, chunk: unknown, encoding?: unknown, cb?: unknown): boolean {
  if (!this.writableEnded) {
    return (Duplex.prototype.write as (...a: unknown[]) => boolean).call(this, chunk, encoding, cb);
  }
  if (typeof encoding === 'function') {
    cb = encoding;
  }
  const er = errors.writeAfterFin();
  if (typeof cb === 'function') process.nextTick(cb as (e: Error) => void, er);
  this.destroy(er);
  return false;
}
