/**
 * `createDgram(host)`: a node:dgram-like module bound to one synack stack —
 * `{ createSocket, Socket }` — so code written against `node:dgram` runs
 * over synack's UDP (stack/udp.ts) by swapping the module object.
 *
 * The behaviour follows Node's lib/dgram.js on Linux, checked by
 * test/api/dgram-contract.test.ts against node:dgram on loopback: bind is
 * asynchronous and emits 'listening'; send binds implicitly, calls back
 * `(err, bytes)` and reports a failed send (EACCES to a broadcast address
 * without setBroadcast, EMSGSIZE) only to its callback; a connected socket
 * hears an ICMP port unreachable as an 'error' ECONNREFUSED (syscall
 * 'recvmsg'), as libuv reports Linux's sk_err; every event is deferred so
 * user code never runs inside the stack.
 */
import { resolveName, type HostsTable } from './resolve.ts';
import { EventEmitter, Buffer, process } from '#platform';
import type { Stack } from '../stack/stack.ts';
import type { Driver } from './driver.ts';
import { UdpSocket as CoreSocket, UDP_RCVBUF_MAX, UDP_RCVBUF_MIN } from '../udp/table.ts';
import { sendUdp } from '../stack/udp.ts';
import { IPV6_UNSPECIFIED, ipv6MappedFromV4, ipv6MappedToV4, parseIpAddr, type IpAddr } from '../wire/ipv6.ts';
import { addressInfo } from './ip.ts';
import { errors, nodeError, validatePort, lookupError } from './errors.ts';

export interface DgramHost {
  stack: Stack;
  driver: Driver;
  /** Host name → address, consulted for names (shared with the host's `net`). */
  hosts?: HostsTable;
}

export type SocketType = 'udp4' | 'udp6';

export interface SocketOptions {
  type: SocketType;
  reuseAddr?: boolean;
  ipv6Only?: boolean;
  recvBufferSize?: number;
  sendBufferSize?: number;
}

export interface BindOptions {
  port?: number;
  address?: string;
  exclusive?: boolean;
}

export interface RemoteInfo {
  address: string;
  family: 'IPv4' | 'IPv6';
  port: number;
  size: number;
}

export interface AddressInfo {
  address: string;
  family: 'IPv4' | 'IPv6';
  port: number;
}

type SendCallback = (error: Error | null, bytes?: number) => void;

/** Linux errno values of the errors only UDP reports. */
const DGRAM_ERRNO: Record<string, number> = {
  EACCES: -13,
  EADDRINUSE: -98,
  EBADF: -9,
  EINVAL: -22,
  EMSGSIZE: -90,
  ENETUNREACH: -101,
  EADDRNOTAVAIL: -99,
  ECONNREFUSED: -111,
  EHOSTUNREACH: -113,
};

/** Node's ErrnoException / ExceptionWithHostPort: "send EACCES 10.0.0.255:67". */
function errnoError(code: string, syscall: string, address?: string, port?: number): Error {
  let message = `${syscall} ${code}`;
  if (address !== undefined) message += port ? ` ${address}:${port}` : ` ${address}`;
  const e = new Error(message) as Error & Record<string, unknown>;
  e.errno = DGRAM_ERRNO[code];
  e.code = code;
  e.syscall = syscall;
  if (address !== undefined) e.address = address;
  if (address !== undefined && port) e.port = port;
  return e;
}

const notRunning = (): Error => nodeError(Error, 'ERR_SOCKET_DGRAM_NOT_RUNNING', 'Not running');
const isConnected = (): Error => nodeError(Error, 'ERR_SOCKET_DGRAM_IS_CONNECTED', 'Already connected');
const notConnected = (): Error => nodeError(Error, 'ERR_SOCKET_DGRAM_NOT_CONNECTED', 'Not connected');

const kContext = Symbol('synack.dgramContext');

type BindState = 'unbound' | 'binding' | 'bound';
type ConnectState = 'disconnected' | 'connecting' | 'connected';

export class Socket extends EventEmitter {
  readonly type: SocketType;
  private readonly ctx: Required<DgramHost>;
  private core: CoreSocket | null;
  private bindState: BindState = 'unbound';
  private connectState: ConnectState = 'disconnected';
  /** Calls queued while binding (Node's state.queue). */
  private queue: (() => void)[] | undefined;
  private refd = true;
  private holding = false;
  private drainScheduled = false;
  private readonly reuseAddr: boolean;
  private readonly ipv6Only: boolean;

  constructor(options: SocketType | SocketOptions, listener?: (msg: Buffer, rinfo: RemoteInfo) => void) {
    super();
    const ctx = (new.target as unknown as Record<symbol, Required<DgramHost> | undefined>)[kContext];
    if (!ctx) throw new TypeError('use createDgram(host).createSocket() or its Socket class');
    this.ctx = ctx;
    const opts: SocketOptions = typeof options === 'string' ? { type: options } : options;
    if (opts === null || typeof opts !== 'object' || (opts.type !== 'udp4' && opts.type !== 'udp6')) {
      throw nodeError(TypeError, 'ERR_SOCKET_BAD_TYPE', 'Bad socket type specified. Valid types are: udp4, udp6');
    }
    this.type = opts.type;
    this.reuseAddr = !!opts.reuseAddr;
    this.ipv6Only = !!opts.ipv6Only;
    this.core = new CoreSocket(this.type === 'udp4' ? 4 : 6);
    this.core.reuseAddr = this.reuseAddr;
    this.core.v6Only = this.ipv6Only;
    if (opts.recvBufferSize !== undefined) this.core.rcvbuf = rcvbufOf(opts.recvBufferSize);
    this.core.onReadable = () => this.scheduleDrain();
    if (typeof listener === 'function') this.on('message', listener);
  }

  private healthCheck(): CoreSocket {
    if (!this.core) throw notRunning();
    return this.core;
  }

  /** Resolves an address argument (a literal, a name in the hosts table); Node's lookup of '' / undefined is the loopback address. */
  private resolve(address: string | undefined, forBind: boolean): IpAddr | Error {
    const v6 = this.type === 'udp6';
    if (address === undefined || address === '') address = forBind ? (v6 ? '::' : '0.0.0.0') : v6 ? '::1' : '127.0.0.1';
    let a = parseIpAddr(address);
    if (a === null) {
      // A name: its first address of the socket's family (dns.lookup with
      // family 4 / 6), for udp6 an IPv4 one if it has no IPv6 address.
      const all = (resolveName(this.ctx.hosts, address) ?? []).map((x) => parseIpAddr(x)).filter((x): x is IpAddr => x !== null);
      a = all.find((x) => (typeof x === 'number') !== v6) ?? (v6 ? all[0] ?? null : null);
    }
    if (a === null) return lookupError(address);
    // A udp4 socket speaks IPv4 only; a udp6 socket IPv6, and IPv4 through IPv4-mapped addresses.
    if (v6 && typeof a === 'number') a = ipv6MappedFromV4(a);
    if (!v6 && typeof a === 'string') {
      const e = new Error(`getaddrinfo ENOTFOUND ${address}`) as Error & Record<string, unknown>;
      Object.assign(e, { errno: -3008, code: 'ENOTFOUND', syscall: 'getaddrinfo', hostname: address });
      return e;
    }
    return a;
  }

  bind(port?: number | BindOptions | (() => void), address?: string | (() => void), callback?: () => void): this {
    const core = this.healthCheck();
    if (this.bindState !== 'unbound') throw nodeError(Error, 'ERR_SOCKET_ALREADY_BOUND', 'Socket is already bound');
    let p: unknown = port;
    let addr: unknown = address;
    let cb: unknown = callback;
    if (typeof p === 'function') {
      cb = p;
      p = 0;
      addr = undefined;
    } else if (p !== null && typeof p === 'object') {
      cb = address;
      addr = (p as BindOptions).address;
      p = (p as BindOptions).port ?? 0;
    }
    if (typeof addr === 'function') {
      cb = addr;
      addr = undefined;
    }
    if (p === undefined || p === null) p = 0;
    const portNum = validatePort(p, 'Port', true);
    if (addr !== undefined && typeof addr !== 'string') throw errors.invalidArgType('address', 'of type string', addr);
    this.bindState = 'binding';
    if (typeof cb === 'function') this.once('listening', cb as () => void);
    this.queue ??= [];
    // Node looks the address up asynchronously even for a literal.
    process.nextTick(() => {
      if (!this.core) return;
      const a = this.resolve(addr as string | undefined, true);
      if (a instanceof Error) {
        this.bindState = 'unbound';
        this.emit('error', a);
        return;
      }
      let local: IpAddr = a;
      if (typeof local === 'string') {
        const v4 = ipv6MappedToV4(local);
        if (v4 !== null) local = v4;
      }
      if (local !== 0 && local !== IPV6_UNSPECIFIED && !this.ctx.stack.isLocalAddr(local)) {
        this.bindState = 'unbound';
        this.emit('error', errnoError('EADDRNOTAVAIL', 'bind', addr as string, portNum));
        return;
      }
      try {
        this.ctx.stack.udp.bind(core, local, portNum);
      } catch (e) {
        this.bindState = 'unbound';
        const code = (e as { code?: string }).code === 'ERR_SYNACK_ADDRESS_IN_USE' ? 'EADDRINUSE' : (e as { code?: string }).code === 'ERR_SYNACK_PORTS_EXHAUSTED' ? 'EADDRNOTAVAIL' : null;
        if (!code) throw e;
        // Node's bind error is an ExceptionWithHostPort ("bind EADDRINUSE 0.0.0.0:41234").
        const shaped = errnoError(code, 'bind', (addr as string | undefined) ?? (this.type === 'udp6' ? '::' : '0.0.0.0'), portNum);
        this.emit('error', shaped);
        return;
      }
      this.bindState = 'bound';
      this.hold();
      this.emit('listening');
      const q = this.queue;
      this.queue = undefined;
      if (q) for (const f of q) f();
    });
    return this;
  }

  connect(port: number, address?: string | ((err?: Error) => void), callback?: (err?: Error) => void): void {
    const portNum = validatePort(port, 'Port', false);
    if (typeof address === 'function') {
      callback = address;
      address = '';
    } else if (address === undefined) {
      address = '';
    }
    if (typeof address !== 'string') throw errors.invalidArgType('address', 'of type string', address);
    if (this.connectState !== 'disconnected') throw isConnected();
    this.connectState = 'connecting';
    if (this.bindState === 'unbound') this.bind({ port: 0 });
    const run = (): void => {
      if (callback) this.once('connect', callback);
      process.nextTick(() => {
        const core = this.core;
        if (!core) return;
        const a = this.resolve(address as string, false);
        let ex: Error | null = a instanceof Error ? a : null;
        if (!ex) {
          let remote = a as IpAddr;
          if (typeof remote === 'string') remote = ipv6MappedToV4(remote) ?? remote;
          const r = this.ctx.stack.routeFrom(remote);
          if (!r) ex = errnoError('ENETUNREACH', 'connect', address as string, portNum);
          else {
            core.remoteAddr = remote;
            core.remotePort = portNum;
            core.error = null;
          }
        }
        if (ex) {
          this.connectState = 'disconnected';
          if (callback) {
            this.removeListener('connect', callback);
            callback.call(this, ex);
          } else this.emit('error', ex);
          return;
        }
        this.connectState = 'connected';
        process.nextTick(() => this.emit('connect'));
      });
    };
    if (this.bindState !== 'bound') (this.queue ??= []).push(run);
    else run();
  }

  disconnect(): void {
    const core = this.healthCheck();
    if (this.connectState !== 'connected') throw notConnected();
    core.remoteAddr = null;
    core.remotePort = 0;
    this.connectState = 'disconnected';
  }

  remoteAddress(): AddressInfo {
    const core = this.healthCheck();
    if (this.connectState !== 'connected' || core.remoteAddr === null) throw notConnected();
    return { ...this.info(core.remoteAddr), port: core.remotePort };
  }

  address(): AddressInfo {
    const core = this.healthCheck();
    if (!core.bound) throw errnoError('EBADF', 'getsockname');
    let local = core.localAddr;
    // Linux fills in the source address a connect() chose (ip4_datagram_connect).
    if (core.wildcard && core.remoteAddr !== null) local = this.ctx.stack.routeFrom(core.remoteAddr)?.src ?? local;
    return { ...this.info(local), port: core.localPort };
  }

  private info(a: IpAddr): { address: string; family: 'IPv4' | 'IPv6' } {
    return addressInfo(a, this.type === 'udp6' && typeof a === 'number');
  }

  send(msg: unknown, offset?: unknown, length?: unknown, port?: unknown, address?: unknown, callback?: unknown): void {
    const connected = this.connectState === 'connected';
    let buffer = msg;
    if (!connected) {
      if (address || (port && typeof port !== 'function')) {
        buffer = sliceBuffer(buffer, offset, length);
      } else {
        callback = port;
        port = offset;
        address = length;
      }
    } else {
      if (typeof length === 'number') {
        buffer = sliceBuffer(buffer, offset, length);
        if (typeof port === 'function') {
          callback = port;
          port = null;
        }
      } else {
        callback = offset;
      }
      if (port || address) throw isConnected();
    }
    let list: Uint8Array[];
    if (Array.isArray(buffer)) {
      list = buffer.map((b) => (typeof b === 'string' ? Buffer.from(b) : b));
      if (!list.every((b) => ArrayBuffer.isView(b))) throw errors.invalidArgType('buffer list arguments', 'of type string or an instance of Buffer, TypedArray, or DataView', buffer);
    } else if (typeof buffer === 'string') list = [Buffer.from(buffer)];
    else if (ArrayBuffer.isView(buffer)) list = [new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength)];
    else throw errors.invalidArgType('buffer', 'of type string or an instance of Buffer, TypedArray, or DataView', buffer);
    let portNum = 0;
    if (!connected) portNum = validatePort(port, 'Port', false);
    if (typeof callback !== 'function') callback = undefined;
    if (typeof address === 'function') {
      callback = address;
      address = undefined;
    } else if (address !== undefined && address !== null && typeof address !== 'string') {
      throw errors.invalidArgType('address', 'of type string', address);
    }
    this.healthCheck();
    if (this.bindState === 'unbound') this.bind({ port: 0 });
    const cb = callback as SendCallback | undefined;
    const addr = (address as string | null | undefined) ?? undefined;
    // Node looks the address of an unconnected send up asynchronously (a
    // close() in between drops the datagram); a connected send goes at once.
    const run = (): void => {
      if (connected) this.doSend(list, portNum, addr, cb);
      else process.nextTick(() => this.doSend(list, portNum, addr, cb));
    };
    if (this.bindState !== 'bound') (this.queue ??= []).push(run);
    else run();
  }

  private doSend(list: Uint8Array[], port: number, address: string | undefined, cb: SendCallback | undefined): void {
    const core = this.core;
    if (!core) return;
    let dst: IpAddr;
    let dstPort = port;
    if (this.connectState === 'connected' && core.remoteAddr !== null) {
      dst = core.remoteAddr;
      dstPort = core.remotePort;
    } else {
      const a = this.resolve(address, false);
      if (a instanceof Error) {
        if (cb) process.nextTick(cb, a);
        else process.nextTick(() => this.emit('error', a));
        return;
      }
      dst = a;
    }
    let data: Uint8Array;
    if (list.length === 1) data = list[0]!;
    else {
      let n = 0;
      for (const b of list) n += b.length;
      data = new Uint8Array(n);
      let o = 0;
      for (const b of list) {
        data.set(b, o);
        o += b.length;
      }
    }
    const err = sendUdp(this.ctx.stack, core, dst, dstPort, data);
    this.ctx.driver.kick();
    if (err === null) {
      if (cb) process.nextTick(cb, null, data.length);
      return;
    }
    // Node: "Don't emit as error, dgram_legacy.js compatibility" — only the callback hears it.
    if (cb) process.nextTick(cb, errnoError(err, 'send', address ?? undefined, port || undefined));
  }

  close(callback?: () => void): this {
    if (typeof callback === 'function') this.on('close', callback);
    if (this.queue !== undefined) {
      this.queue.push(() => this.close());
      return this;
    }
    const core = this.healthCheck();
    this.ctx.stack.udp.unbind(core);
    core.onReadable = null;
    this.core = null;
    this.release();
    process.nextTick(() => this.emit('close'));
    return this;
  }

  setBroadcast(flag: boolean): void {
    const core = this.healthCheck();
    if (!core.bound) throw errnoError('EBADF', 'setBroadcast');
    core.broadcast = !!flag;
  }

  setTTL(ttl: number): number {
    if (typeof ttl !== 'number') throw errors.invalidArgType('ttl', 'of type number', ttl);
    const core = this.healthCheck();
    if (!core.bound) throw errnoError('EBADF', 'setTTL');
    if (!(Number.isInteger(ttl) && ttl >= 1 && ttl <= 255)) throw errnoError('EINVAL', 'setTTL');
    core.ttl = ttl;
    return ttl;
  }

  getRecvBufferSize(): number {
    const core = this.healthCheck();
    if (!core.bound) throw bufferSizeError('recv', 'EBADF');
    return core.rcvbuf;
  }

  setRecvBufferSize(size: number): void {
    if (!Number.isInteger(size) || size <= 0 || size > 0x7fffffff) throw nodeError(TypeError, 'ERR_SOCKET_BAD_BUFFER_SIZE', 'Buffer size must be a positive integer');
    const core = this.healthCheck();
    if (!core.bound) throw bufferSizeError('recv', 'EBADF');
    core.rcvbuf = rcvbufOf(size);
  }

  ref(): this {
    if (!this.refd) {
      this.refd = true;
      if (this.holding) this.ctx.driver.ref();
    }
    return this;
  }

  unref(): this {
    if (this.refd) {
      this.refd = false;
      if (this.holding) this.ctx.driver.unref();
    }
    return this;
  }

  /** The bound socket keeps the process (and a virtual clock) running while ref'd. */
  private hold(): void {
    if (this.holding) return;
    this.holding = true;
    if (this.refd) this.ctx.driver.ref();
  }

  private release(): void {
    if (!this.holding) return;
    this.holding = false;
    if (this.refd) this.ctx.driver.unref();
  }

  private scheduleDrain(): void {
    if (this.drainScheduled) return;
    this.drainScheduled = true;
    process.nextTick(() => this.drain());
  }

  private drain(): void {
    this.drainScheduled = false;
    const core = this.core;
    if (!core) return;
    if (core.error) {
      const code = core.error;
      core.error = null;
      // libuv hands recvmsg's error to the receive callback; lib/dgram.js:
      // "if (nread < 0) return self.emit('error', new ErrnoException(nread, 'recvmsg'))".
      this.emit('error', errnoError(code, 'recvmsg'));
    }
    for (let d = core.shift(); d && this.core; d = core.shift()) {
      const buf = Buffer.from(d.data.buffer, d.data.byteOffset, d.data.byteLength);
      const rinfo: RemoteInfo = { ...this.info(d.src), port: d.srcPort, size: buf.length };
      this.emit('message', buf, rinfo);
    }
  }
}

/** SO_RCVBUF as Linux sets it: capped at rmem_max, doubled for bookkeeping overhead, at least SOCK_MIN_RCVBUF. */
function rcvbufOf(size: number): number {
  return Math.max(UDP_RCVBUF_MIN, Math.min(size, UDP_RCVBUF_MAX) * 2);
}

function bufferSizeError(which: string, code: string): Error {
  const e = nodeError(Error, 'ERR_SOCKET_BUFFER_SIZE', `Could not get or set buffer size: uv_${which}_buffer_size returned ${code} (bad file descriptor)`);
  return e;
}

function sliceBuffer(buffer: unknown, offset: unknown, length: unknown): unknown {
  if (typeof buffer === 'string') buffer = Buffer.from(buffer);
  else if (!ArrayBuffer.isView(buffer)) throw errors.invalidArgType('buffer', 'of type string or an instance of Buffer, TypedArray, or DataView', buffer);
  const b = buffer as Uint8Array;
  const off = offset === undefined ? 0 : Number(offset) >>> 0;
  const len = length === undefined ? b.byteLength - off : Number(length) >>> 0;
  return new Uint8Array(b.buffer, b.byteOffset + off, len);
}

export interface SynackDgram {
  readonly Socket: new (options: SocketType | SocketOptions, listener?: (msg: Buffer, rinfo: RemoteInfo) => void) => Socket;
  createSocket(type: SocketType | SocketOptions, listener?: (msg: Buffer, rinfo: RemoteInfo) => void): Socket;
}

export function createDgram(host: DgramHost): SynackDgram {
  const ctx: Required<DgramHost> = { stack: host.stack, driver: host.driver, hosts: host.hosts ?? new Map() };
  class BoundSocket extends Socket {
    static readonly [kContext] = ctx;
  }
  Object.defineProperty(BoundSocket, 'name', { value: 'Socket' });
  return {
    Socket: BoundSocket,
    createSocket(type, listener) {
      return new BoundSocket(type, listener);
    },
  };
}
