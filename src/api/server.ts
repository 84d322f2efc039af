/**
 * `Server`: a node:net-compatible TCP server on one synack stack.
 *
 * listen() binds synchronously in the core but reports asynchronously
 * ('listening' or 'error' on a later tick), like Node. Each connection that
 * reaches ESTABLISHED becomes a Socket announced with 'connection' on a
 * later tick (never inside the core's segment processing). close() stops
 * accepting at once and emits 'close' only when every accepted socket has
 * closed. Connections beyond `maxConnections` are closed as Node closes them
 * (FIN, or RST if they already sent bytes — Linux's close()) and 'drop' is
 * emitted.
 */
import { EventEmitter, process } from '#platform';
import { addressInfo, isIP } from './ip.ts';
import type { Connection } from '../tcp/connection.ts';
import type { TcpConfig } from '../tcp/config.ts';
import type { Listener } from '../stack/stack.ts';
import { formatIpAddr, ipv6MappedToV4, IPV6_UNSPECIFIED, parseIpAddr, type IpAddr } from '../wire/ipv6.ts';
import { errors, fromSynackError, lookupError, systemError, validatePort } from './errors.ts';
import { resolveName } from './resolve.ts';
import { kContext, type AddressInfo, type NetContext, type Socket, type SocketConstructorOpts } from './socket.ts';

export interface ServerOpts {
  allowHalfOpen?: boolean;
  pauseOnConnect?: boolean;
  noDelay?: boolean;
  keepAlive?: boolean;
  keepAliveInitialDelay?: number;
  highWaterMark?: number;
  /** synack extension: TcpConfig overrides for accepted connections. */
  tcp?: Partial<TcpConfig>;
}

export interface ListenOptions {
  port?: number | string;
  host?: string;
  backlog?: number;
  exclusive?: boolean;
  ipv6Only?: boolean;
  signal?: AbortSignal;
  path?: string;
  readableAll?: boolean;
  writableAll?: boolean;
}

export interface DropInfo {
  localAddress: string;
  localPort: number;
  localFamily: string;
  remoteAddress: string;
  remotePort: number;
  remoteFamily: string;
}

type SocketClass = new (opts?: SocketConstructorOpts) => Socket;

export class Server extends EventEmitter {
  /** Connections beyond this count are closed and reported with 'drop'. */
  maxConnections: number | undefined = undefined;
  private readonly ctx: NetContext;
  private readonly opts: ServerOpts;
  private listener: Listener | null = null;
  private boundAddress = '0.0.0.0';
  private connections = new Set<Socket>();
  private refed = true;
  private holdingRef = false;
  private closeQueued = false;

  constructor(options?: ServerOpts | ((socket: Socket) => void), connectionListener?: (socket: Socket) => void) {
    super();
    const ctx = (new.target as unknown as Record<symbol, NetContext | undefined>)[kContext];
    if (!ctx) throw new TypeError('this Server class is not bound to a stack: use createNet(stack).createServer()');
    this.ctx = ctx;
    if (typeof options === 'function') {
      connectionListener = options;
      options = {};
    } else if (options === undefined || options === null) {
      options = {};
    } else if (typeof options !== 'object') {
      throw errors.invalidArgType('options', 'of type object', options);
    }
    this.opts = { ...options };
    if (connectionListener) this.on('connection', connectionListener);
  }

  /** The Socket class of this server's net module. */
  private get SocketClass(): SocketClass {
    return (this.constructor as unknown as Record<symbol, SocketClass | undefined>)[kSocketClass]!;
  }

  get listening(): boolean {
    return this.listener !== null;
  }

  /** Node's `server._connections`. */
  get _connections(): number {
    return this.connections.size;
  }

  listen(port?: number | string, host?: string, backlog?: number, listeningListener?: () => void): this;
  listen(port?: number | string, host?: string, listeningListener?: () => void): this;
  listen(port?: number | string, backlog?: number, listeningListener?: () => void): this;
  listen(port?: number | string, listeningListener?: () => void): this;
  listen(options: ListenOptions, listeningListener?: () => void): this;
  listen(listeningListener?: () => void): this;
  listen(...args: unknown[]): this {
    let options: ListenOptions = {};
    const cb = typeof args[args.length - 1] === 'function' ? (args.pop() as () => void) : null;
    const a0 = args[0];
    if (typeof a0 === 'object' && a0 !== null) {
      options = a0 as ListenOptions;
      if ((options as { path?: unknown }).path !== undefined) {
        throw errors.invalidArgValue('options.path', options.path, 'is not supported by synack (IPC servers have no TCP equivalent)');
      }
      if (!('port' in options)) throw errors.invalidArgValue('options', options, 'must have the property "port" or "path"');
    } else if (typeof a0 === 'string' && !(Number(a0) >= 0)) {
      throw errors.invalidArgValue('path', a0, 'is not supported by synack (IPC servers have no TCP equivalent)');
    } else if (a0 !== undefined && a0 !== null) {
      options.port = a0 as number;
      if (typeof args[1] === 'string') {
        options.host = args[1];
        if (typeof args[2] === 'number') options.backlog = args[2];
      } else if (typeof args[1] === 'number') {
        options.backlog = args[1];
      }
    }
    if (this.listener) throw errors.serverAlreadyListen();
    if (options.port !== undefined && options.port !== null) {
      if (typeof options.port !== 'number' && typeof options.port !== 'string') {
        throw errors.invalidArgType('options.port', 'one of type number or string', options.port);
      }
    }
    const port = options.port === undefined || options.port === null ? 0 : validatePort(options.port, 'options.port');
    if (options.backlog !== undefined && (typeof options.backlog !== 'number' || !(options.backlog >= 0))) {
      throw errors.invalidArgValue('options.backlog', options.backlog, 'must be a non-negative number');
    }
    if (options.host !== undefined && options.host !== null && typeof options.host !== 'string') {
      throw errors.invalidArgType('options.host', 'of type string', options.host);
    }
    if (cb) this.once('listening', cb);
    const host = options.host || undefined;
    // Without a host Node listens on `::`, taking IPv4 too unless ipv6Only
    // (Linux: an AF_INET6 socket with IPV6_V6ONLY off); '0.0.0.0' is IPv4 only.
    let addr: IpAddr = IPV6_UNSPECIFIED;
    let shown = '::';
    let err: Error | null = null;
    if (host === '0.0.0.0') {
      addr = 0;
      shown = '0.0.0.0';
    } else if (host !== undefined && host !== '::') {
      // Node's listen looks a name up with dns.lookup and binds its first address (`localhost`: 127.0.0.1).
      const literal: string | undefined = isIP(host) !== 0 ? host : resolveName(this.ctx.hosts, host)?.[0];
      const parsed = literal === undefined ? null : parseIpAddr(literal);
      if (literal === undefined || parsed === null) {
        err = lookupError(host);
      } else {
        addr = typeof parsed === 'string' ? (ipv6MappedToV4(parsed) ?? parsed) : parsed;
        shown = typeof parsed === 'string' ? formatIpAddr(parsed) : literal;
        if (!this.ctx.stack.isLocalAddr(addr)) err = systemError('EADDRNOTAVAIL', 'listen', literal, port, { uvStyle: true });
      }
    }
    if (!err) {
      try {
        this.listener = this.ctx.stack.listen(port, {
          addr,
          ...(options.ipv6Only ? { v6Only: true } : {}),
          ...(options.backlog ? { backlog: options.backlog } : {}),
          ...(this.opts.tcp || this.ctx.tcp ? { tcp: { ...this.ctx.tcp, ...this.opts.tcp } } : {}),
          onConnection: (conn) => this.onConnection(conn),
        });
        this.boundAddress = shown;
      } catch (e) {
        err = fromSynackError(e, 'listen', shown, port);
      }
    }
    if (err) {
      const e = err;
      process.nextTick(() => this.emit('error', e));
      return this;
    }
    this.syncRef();
    if (options.signal) {
      const signal = options.signal;
      if (signal.aborted) process.nextTick(() => this.close());
      else signal.addEventListener('abort', () => this.close(), { once: true });
    }
    process.nextTick(() => {
      if (this.listener) this.emit('listening');
    });
    return this;
  }

  /** Called by the core (inside its segment processing): no user code here. */
  private onConnection(conn: Connection): void {
    const o = this.opts;
    const dual = this.listener?.addr === IPV6_UNSPECIFIED;
    const sockOpts: SocketConstructorOpts = { allowHalfOpen: Boolean(o.allowHalfOpen) };
    if (o.highWaterMark !== undefined) sockOpts.highWaterMark = o.highWaterMark;
    if (o.noDelay) sockOpts.noDelay = true;
    if (o.keepAlive) {
      sockOpts.keepAlive = true;
      if (o.keepAliveInitialDelay !== undefined) sockOpts.keepAliveInitialDelay = o.keepAliveInitialDelay;
    }
    if (this.maxConnections !== undefined && this.connections.size >= this.maxConnections) {
      // Node closes the new handle; the info is read now, the work runs outside the core.
      const local = addressInfo(conn.localAddr, dual);
      const remote = addressInfo(conn.remoteAddr, dual);
      const info: DropInfo = {
        localAddress: local.address,
        localPort: conn.localPort,
        localFamily: local.family,
        remoteAddress: remote.address,
        remotePort: conn.remotePort,
        remoteFamily: remote.family,
      };
      process.nextTick(() => {
        const stack = this.ctx.stack;
        try {
          if (conn.readable() > 0) stack.abort(conn);
          else if ((conn.state === 'ESTABLISHED' || conn.state === 'CLOSE-WAIT') && !conn.finQueued) stack.close(conn);
          stack.release(conn);
        } catch {
          // already gone
        }
        this.ctx.driver.kick();
        this.emit('drop', info);
      });
      return;
    }
    const socket = new this.SocketClass(sockOpts);
    this.connections.add(socket);
    socket.once('close', () => {
      this.connections.delete(socket);
      this.emitCloseIfDrained();
    });
    socket._attachAccepted(conn, this, Boolean(o.pauseOnConnect), dual);
    process.nextTick(() => {
      // A socket destroyed before its announcement is still announced (its 'close' follows), as in Node.
      this.emit('connection', socket);
    });
  }

  /** Stops accepting; 'close' (and `cb`) once every connection has closed. */
  close(cb?: (err?: Error) => void): this {
    if (typeof cb === 'function') {
      if (!this.listener) this.once('close', () => cb(errors.serverNotRunning()));
      else this.once('close', cb);
    }
    if (this.listener) {
      this.listener.close();
      this.listener = null;
      this.ctx.driver.kick();
    }
    this.syncRef();
    this.emitCloseIfDrained();
    return this;
  }

  private emitCloseIfDrained(): void {
    if (this.listener || this.connections.size > 0 || this.closeQueued) return;
    this.closeQueued = true;
    process.nextTick(() => {
      this.closeQueued = false;
      if (this.listener || this.connections.size > 0) return;
      this.emit('close');
    });
  }

  address(): AddressInfo | null {
    const l = this.listener;
    if (!l) return null;
    return { address: this.boundAddress, family: this.boundAddress.includes(':') ? 'IPv6' : 'IPv4', port: l.port };
  }

  getConnections(cb: (err: Error | null, count: number) => void): this {
    const n = this.connections.size;
    if (typeof cb === 'function') process.nextTick(cb, null, n);
    return this;
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

  private syncRef(): void {
    const want = this.refed && this.listener !== null;
    if (want === this.holdingRef) return;
    this.holdingRef = want;
    if (want) this.ctx.driver.ref();
    else this.ctx.driver.unref();
  }

  /** Closes (if listening) and resolves once 'close' was emitted. */
  async dispose(): Promise<void> {
    if (!this.listener) return;
    await new Promise<void>((resolve, reject) => this.close((e) => (e ? reject(e) : resolve())));
  }
}

/** `await using server = …` (Node 20's Symbol.asyncDispose). */
const asyncDispose = (Symbol as unknown as { asyncDispose?: symbol }).asyncDispose;
if (asyncDispose) {
  Object.defineProperty(Server.prototype, asyncDispose, {
    value(this: Server) {
      return this.dispose();
    },
    writable: true,
    configurable: true,
  });
}

/** Static slot on bound Server subclasses naming their Socket class. */
export const kSocketClass = Symbol('synack.socketClass');
