/**
 * A low-level BSD-socket-style API over one synack `Stack`: file
 * descriptors, socket/bind/listen/accept/connect/recv/send/close/shutdown,
 * getsockopt/setsockopt, fcntl(O_NONBLOCK) and poll, with errno values as
 * FreeBSD returns them (see constants.ts).
 *
 * Pure: no node: imports, no clock, no timers — it runs wherever the core
 * runs. Every call is non-blocking at heart. A call that would block on a
 * blocking socket (connect, accept, recv, send without O_NONBLOCK) returns a
 * `Pending`: the owner advances the stack (virtual or real time) and calls
 * `pending.poll()` until it yields the final `SysResult`. That is how the
 * conformance runner realises blocking calls under the virtual clock.
 *
 *   const api = new BsdSockets(stack, { localAddr });
 *   const fd = unwrap(api.socket(AF_INET, SOCK_STREAM, IPPROTO_TCP));
 *   api.fcntl(fd, F_SETFL, O_RDWR | O_NONBLOCK);
 *   api.connect(fd, remote, 8080);            // { ok: false, errno: EINPROGRESS }
 *
 * What the core cannot express yet (documented, never faked):
 *  - TCP_KEEPINIT is stored and reported by getsockopt, but the stack has no
 *    connection-establishment timer: connect() gives up after
 *    TcpConfig.synRetries, not after KEEPINIT;
 *  - IP_TTL / IP_TOS / TCP_NOOPT / TCP_MD5SIG / TCP_MAXSEG: setsockopt fails
 *    with ENOPROTOOPT (the stack has one TTL per stack and no per-connection
 *    TOS, no "no options" switch, no MD5);
 *  - changing SO_RCVBUF / SO_SNDBUF / TCP_KEEPINTVL / TCP_KEEPCNT on a live
 *    connection fails with EINVAL (TcpConfig is fixed per connection);
 *  - MSG_PEEK reads the connection's receive queue without consuming it
 *    through Connection.peek().
 */
import { concatBytes } from '../wire/bytes.ts';
import type { Connection } from '../tcp/connection.ts';
import type { ConnectionEvent, CloseReason } from '../tcp/events.ts';
import type { TcpConfig } from '../tcp/config.ts';
import type { TcpState } from '../tcp/state.ts';
import type { Listener, Stack } from '../stack/stack.ts';
import type { Ipv4Addr } from '../wire/types.ts';
import { isSynackError } from '../errors.ts';
import {
  AF_INET,
  Errno,
  F_GETFL,
  F_SETFL,
  IPPROTO_IP,
  IPPROTO_TCP,
  IP_TOS,
  IP_TTL,
  MSG_DONTWAIT,
  MSG_PEEK,
  O_NONBLOCK,
  O_RDWR,
  POLLERR,
  POLLHUP,
  POLLIN,
  POLLNVAL,
  POLLOUT,
  POLLRDNORM,
  SHUT_RD,
  SHUT_RDWR,
  SHUT_WR,
  SOCK_STREAM,
  SOL_SOCKET,
  SO_ERROR,
  SO_KEEPALIVE,
  SO_RCVBUF,
  SO_REUSEADDR,
  SO_REUSEPORT,
  SO_SNDBUF,
  TCP_KEEPCNT,
  TCP_KEEPIDLE,
  TCP_KEEPINIT,
  TCP_KEEPINTVL,
  TCP_NODELAY,
} from './constants.ts';

/** The outcome of a call: a value, or -1 with an errno. */
export type SysResult<T = number> = { ok: true; value: T } | { ok: false; errno: number };

/** A call on a blocking socket that cannot complete yet; poll() after the stack advanced. */
export interface Pending<T> {
  readonly pending: true;
  /** The final result once the call can complete; null while it still blocks. */
  poll(): SysResult<T> | null;
}

export type MaybeBlocking<T> = SysResult<T> | Pending<T>;

export function isPending<T>(r: MaybeBlocking<T>): r is Pending<T> {
  return (r as Pending<T>).pending === true;
}

/** Kernel-wide defaults applied to every new socket (what FreeBSD's sysctls hold). */
export interface BsdDefaults {
  /** TcpConfig fields merged into every connection (over the stack's own defaults). */
  tcp: Partial<TcpConfig>;
  /** net.inet.tcp.recvspace / sendspace: initial SO_RCVBUF / SO_SNDBUF. */
  recvSpace: number;
  sendSpace: number;
  /** net.inet.tcp.keepinit / keepidle / keepintvl (µs) and keepcnt. */
  keepInitUs: number;
  keepIdleUs: number;
  keepIntvlUs: number;
  keepCnt: number;
  /** The IP TTL and TOS the stack sends (reported by getsockopt IP_TTL / IP_TOS). */
  ttl: number;
  tos: number;
  /**
   * The stack backlog for listen(backlog). FreeBSD's accept queue admits a
   * new connection while qlen <= 3*backlog/2 (sonewconn), so
   * floor(3*backlog/2)+1 connections; SYN-RECEIVED entries live in the
   * syncache and do not count. synack's Stack counts half-open connections
   * against its backlog too; the default mapping is FreeBSD's queue limit.
   */
  listenBacklog(backlog: number): number;
}

export const DEFAULT_BSD_DEFAULTS: Readonly<BsdDefaults> = Object.freeze({
  tcp: {},
  recvSpace: 65536,
  sendSpace: 32768,
  keepInitUs: 75_000_000,
  keepIdleUs: 7_200_000_000,
  keepIntvlUs: 75_000_000,
  keepCnt: 8,
  ttl: 64,
  tos: 0,
  listenBacklog: (b: number) => Math.floor((3 * Math.max(b, 0)) / 2) + 1,
});

export interface BsdSocketsOptions {
  /** The address bind(INADDR_ANY) connections use by default (the stack's interface). */
  localAddr?: Ipv4Addr;
  defaults?: Partial<BsdDefaults>;
  /** First descriptor number handed out (default 3, as after stdin/stdout/stderr). */
  firstFd?: number;
}

interface SockOpts {
  reuseAddr: boolean;
  reusePort: boolean;
  keepAlive: boolean;
  noDelay: boolean;
  rcvBuf: number;
  sndBuf: number;
  keepInitUs: number;
  keepIdleUs: number;
  keepIntvlUs: number;
  keepCnt: number;
}

/** One descriptor's socket. */
interface Sock {
  fd: number;
  nonBlocking: boolean;
  opts: SockOpts;
  bound: { addr: Ipv4Addr; port: number } | null;
  listener: Listener | null;
  conn: Connection | null;
  /** so_error: the pending asynchronous error (0 = none). */
  error: number;
  shutRd: boolean;
  shutWr: boolean;
}

/** errno for the reason a connection died. */
export function closeReasonErrno(reason: CloseReason | null): number {
  switch (reason) {
    case 'refused':
      return Errno.ECONNREFUSED;
    case 'reset':
      return Errno.ECONNRESET;
    case 'timeout':
      return Errno.ETIMEDOUT;
    case 'host-unreachable':
      return Errno.EHOSTUNREACH;
    case 'net-unreachable':
      return Errno.ENETUNREACH;
    default:
      return 0;
  }
}

const ok = <T>(value: T): SysResult<T> => ({ ok: true, value });
const fail = (errno: number): { ok: false; errno: number } => ({ ok: false, errno });

/** States in which the connection can carry data both ways (or at least was synchronized). */
function isConnecting(s: TcpState): boolean {
  return s === 'SYN-SENT' || s === 'SYN-RECEIVED';
}

export class BsdSockets {
  readonly stack: Stack;
  /** Kernel-wide defaults for new sockets; a sysctl changes these. */
  readonly defaults: BsdDefaults;
  readonly localAddr: Ipv4Addr;
  private readonly socks = new Map<number, Sock>();
  private readonly firstFd: number;

  constructor(stack: Stack, opts: BsdSocketsOptions = {}) {
    this.stack = stack;
    this.defaults = { ...DEFAULT_BSD_DEFAULTS, ...opts.defaults, tcp: { ...(opts.defaults?.tcp ?? {}) } };
    this.localAddr = ((opts.localAddr ?? stack.interfaces[0]?.addr ?? 0) as number) >>> 0;
    this.firstFd = opts.firstFd ?? 3;
  }

  // ===========================================================================
  // Introspection (not part of BSD; for profiles, tests and the runner)
  // ===========================================================================

  /** Open descriptors, ascending. */
  fds(): number[] {
    return [...this.socks.keys()].sort((a, b) => a - b);
  }

  /** The connection behind `fd` (null for an idle or listening socket). */
  connectionOf(fd: number): Connection | null {
    return this.socks.get(fd)?.conn ?? null;
  }

  /** The TCP state of `fd` as TCP_INFO would report it: LISTEN for a listener, CLOSED when idle; null for a bad fd. */
  tcpState(fd: number): TcpState | null {
    const s = this.socks.get(fd);
    if (!s) return null;
    if (s.listener && !s.listener.closed) return 'LISTEN';
    return s.conn ? s.conn.state : 'CLOSED';
  }

  /** The port `fd` is bound to (0 if none). */
  boundPort(fd: number): number {
    const s = this.socks.get(fd);
    return s?.bound?.port ?? s?.conn?.localPort ?? 0;
  }

  // ===========================================================================
  // socket / bind / listen / accept / connect
  // ===========================================================================

  socket(domain: number, type: number, protocol: number): SysResult {
    if (domain !== AF_INET) return fail(Errno.EAFNOSUPPORT);
    if (type !== SOCK_STREAM) return fail(Errno.EPROTOTYPE);
    if (protocol !== 0 && protocol !== IPPROTO_TCP) return fail(Errno.EPROTONOSUPPORT);
    const d = this.defaults;
    return ok(
      this.add({
        reuseAddr: false,
        reusePort: false,
        keepAlive: d.tcp.keepAlive ?? false,
        noDelay: d.tcp.noDelay ?? false,
        rcvBuf: d.recvSpace,
        sndBuf: d.sendSpace,
        keepInitUs: d.keepInitUs,
        keepIdleUs: d.keepIdleUs,
        keepIntvlUs: d.keepIntvlUs,
        keepCnt: d.keepCnt,
      }),
    );
  }

  /** bind(fd, addr:port); addr 0 is INADDR_ANY, port 0 picks an ephemeral port. */
  bind(fd: number, addr: Ipv4Addr, port: number): SysResult {
    const s = this.socks.get(fd);
    if (!s) return fail(Errno.EBADF);
    if (s.bound || s.conn || s.listener) return fail(Errno.EINVAL);
    addr >>>= 0;
    if (!Number.isInteger(port) || port < 0 || port > 65535) return fail(Errno.EINVAL);
    if (addr !== 0 && !this.stack.isLocalAddr(addr)) return fail(Errno.EADDRNOTAVAIL);
    if (port === 0) {
      port = this.freePort();
      if (port === 0) return fail(Errno.EADDRNOTAVAIL);
    } else if (this.portConflict(s, addr, port)) {
      return fail(Errno.EADDRINUSE);
    }
    s.bound = { addr, port };
    return ok(0);
  }

  listen(fd: number, backlog: number): SysResult {
    const s = this.socks.get(fd);
    if (!s) return fail(Errno.EBADF);
    if (s.conn) return fail(Errno.EINVAL);
    const stackBacklog = Math.max(1, this.defaults.listenBacklog(backlog));
    if (s.listener) {
      s.listener.backlog = stackBacklog;
      return ok(0);
    }
    if (!s.bound) {
      const port = this.freePort();
      if (port === 0) return fail(Errno.EADDRINUSE);
      s.bound = { addr: 0, port };
    }
    try {
      s.listener = this.stack.listen(s.bound.port, { addr: s.bound.addr, backlog: stackBacklog, tcp: this.tcpFor(s) });
    } catch (e) {
      return fail(this.errnoOf(e));
    }
    return ok(0);
  }

  /** accept(fd): the new descriptor and the peer's address. */
  accept(fd: number): MaybeBlocking<{ fd: number; addr: Ipv4Addr; port: number }> {
    const s = this.socks.get(fd);
    if (!s) return fail(Errno.EBADF);
    if (!s.listener || s.listener.closed) return fail(Errno.EINVAL);
    const attempt = (): SysResult<{ fd: number; addr: Ipv4Addr; port: number }> | null => {
      if (!this.socks.has(fd) || !s.listener || s.listener.closed) return fail(Errno.EBADF);
      const conn = s.listener.accept();
      if (!conn) return null;
      const child = this.add({ ...s.opts });
      const c = this.socks.get(child)!;
      c.nonBlocking = s.nonBlocking; // FreeBSD's accept() inherits O_NONBLOCK
      c.bound = { addr: conn.localAddr as number, port: conn.localPort };
      this.adopt(c, conn);
      return ok({ fd: child, addr: conn.remoteAddr as number, port: conn.remotePort });
    };
    const r = attempt();
    if (r) return r;
    if (s.nonBlocking) return fail(Errno.EAGAIN);
    return { pending: true, poll: attempt };
  }

  /** connect(fd, addr:port). A non-blocking socket returns EINPROGRESS; a blocking one a Pending. */
  connect(fd: number, addr: Ipv4Addr, port: number): MaybeBlocking<number> {
    const s = this.socks.get(fd);
    if (!s) return fail(Errno.EBADF);
    if (s.listener) return fail(Errno.EINVAL);
    if (s.conn) {
      const st = s.conn.state;
      if (isConnecting(st)) return fail(s.nonBlocking ? Errno.EALREADY : Errno.EALREADY);
      if (st !== 'CLOSED') return fail(Errno.EISCONN);
      const err = this.takeError(s);
      return fail(err || Errno.EINVAL);
    }
    if (!Number.isInteger(port) || port < 1 || port > 65535) return fail(Errno.EINVAL);
    let conn: Connection;
    try {
      const opts: Parameters<Stack['connect']>[2] = { tcp: this.tcpFor(s) };
      if (s.bound) {
        if (s.bound.addr) opts.localAddr = s.bound.addr;
        opts.localPort = s.bound.port;
      }
      conn = this.stack.connect(addr >>> 0, port, opts);
    } catch (e) {
      return fail(this.errnoOf(e));
    }
    this.adopt(s, conn);
    if (!s.bound) s.bound = { addr: conn.localAddr as number, port: conn.localPort };
    const attempt = (): SysResult<number> | null => {
      if (s.conn !== conn) return fail(Errno.EBADF);
      const st = conn.state;
      if (isConnecting(st)) return null;
      if (st === 'CLOSED') {
        const err = this.takeError(s);
        return fail(err || Errno.ECONNABORTED);
      }
      return ok(0);
    };
    const r = attempt();
    if (r) return r;
    if (s.nonBlocking) return fail(Errno.EINPROGRESS);
    return { pending: true, poll: attempt };
  }

  // ===========================================================================
  // Data
  // ===========================================================================

  /** recv(fd, max, flags): MSG_PEEK leaves the bytes queued; MSG_DONTWAIT never blocks. */
  recv(fd: number, max: number, flags = 0): MaybeBlocking<Uint8Array> {
    const s = this.socks.get(fd);
    if (!s) return fail(Errno.EBADF);
    if (!s.conn) return fail(Errno.ENOTCONN);
    const conn = s.conn;
    const attempt = (): SysResult<Uint8Array> | null => {
      if (s.conn !== conn) return fail(Errno.EBADF);
      if (max <= 0) return ok(new Uint8Array(0));
      if (s.shutRd) return ok(new Uint8Array(0));
      if (conn.readable() > 0) {
        if (flags & MSG_PEEK) return ok(peek(conn, max));
        return ok(concatBytes(this.stack.read(conn, max)));
      }
      if (s.error) return fail(this.takeError(s));
      if (conn.finReceived || conn.state === 'CLOSED') return ok(new Uint8Array(0));
      return null;
    };
    const r = attempt();
    if (r) return r;
    if (s.nonBlocking || flags & MSG_DONTWAIT) return fail(Errno.EAGAIN);
    return { pending: true, poll: attempt };
  }

  read(fd: number, max: number): MaybeBlocking<Uint8Array> {
    return this.recv(fd, max, 0);
  }

  /**
   * send(fd, data, flags): a non-blocking socket takes what fits in the send
   * buffer (EAGAIN when none does); a blocking one returns a Pending that
   * completes when every byte was queued.
   */
  send(fd: number, data: Uint8Array, flags = 0): MaybeBlocking<number> {
    const s = this.socks.get(fd);
    if (!s) return fail(Errno.EBADF);
    if (!s.conn) return fail(s.listener ? Errno.ENOTCONN : Errno.ENOTCONN);
    const conn = s.conn;
    const nonBlocking = s.nonBlocking || (flags & MSG_DONTWAIT) !== 0;
    let done = 0;
    const attempt = (): SysResult<number> | null => {
      if (s.conn !== conn) return fail(Errno.EBADF);
      if (s.error) return done > 0 ? ok(done) : fail(this.takeError(s));
      const st = conn.state;
      if (s.shutWr || conn.finQueued || (st !== 'ESTABLISHED' && st !== 'CLOSE-WAIT' && !isConnecting(st))) {
        return done > 0 ? ok(done) : fail(Errno.EPIPE);
      }
      if (isConnecting(st)) return nonBlocking && done === 0 ? fail(Errno.ENOTCONN) : null;
      if (data.length === 0) return ok(0);
      const room = conn.sendRoom();
      if (room > 0 && done < data.length) {
        done += this.stack.sendCopy(conn, data.subarray(done, done + Math.min(room, data.length - done)));
      }
      if (done === data.length) return ok(done);
      if (nonBlocking) return done > 0 ? ok(done) : fail(Errno.EAGAIN);
      return null;
    };
    const r = attempt();
    if (r) return r;
    if (nonBlocking) return fail(Errno.EAGAIN);
    return { pending: true, poll: attempt };
  }

  write(fd: number, data: Uint8Array): MaybeBlocking<number> {
    return this.send(fd, data, 0);
  }

  // ===========================================================================
  // close / shutdown
  // ===========================================================================

  /**
   * close(fd): a listener stops listening (its unaccepted connections are
   * reset); a connection is closed gracefully (FIN after queued data) and
   * handed to the stack to finish. Unlike Linux, FreeBSD sends no RST for
   * unread received data (it flushes the receive buffer).
   */
  close(fd: number): SysResult {
    const s = this.socks.get(fd);
    if (!s) return fail(Errno.EBADF);
    this.socks.delete(fd);
    if (s.listener) {
      s.listener.close();
      s.listener = null;
    }
    if (s.conn) {
      const conn = s.conn;
      s.conn = null;
      if (conn.state !== 'CLOSED') {
        if (!conn.finQueued) this.closeQuietly(conn);
        this.stack.release(conn);
      } else {
        conn.user = null;
      }
    }
    return ok(0);
  }

  shutdown(fd: number, how: number): SysResult {
    const s = this.socks.get(fd);
    if (!s) return fail(Errno.EBADF);
    if (how !== SHUT_RD && how !== SHUT_WR && how !== SHUT_RDWR) return fail(Errno.EINVAL);
    const conn = s.conn;
    if (!conn || conn.state === 'CLOSED') return fail(Errno.ENOTCONN);
    if (how === SHUT_RD || how === SHUT_RDWR) s.shutRd = true;
    if ((how === SHUT_WR || how === SHUT_RDWR) && !s.shutWr) {
      s.shutWr = true;
      if (!conn.finQueued) this.closeQuietly(conn);
    }
    return ok(0);
  }

  // ===========================================================================
  // Options
  // ===========================================================================

  /**
   * getsockopt(fd, level, name) → an int. Boolean SOL_SOCKET options read
   * back as FreeBSD does: the option's own bit (SO_KEEPALIVE → 8) when set;
   * TCP_NODELAY as 4 (TF_NODELAY). Times are in seconds. SO_ERROR returns
   * and clears the pending error.
   */
  getsockopt(fd: number, level: number, name: number): SysResult {
    const s = this.socks.get(fd);
    if (!s) return fail(Errno.EBADF);
    const o = s.opts;
    const cfg = s.conn?.config ?? s.listener?.config ?? null;
    if (level === SOL_SOCKET) {
      switch (name) {
        case SO_ERROR:
          return ok(this.takeError(s));
        case SO_RCVBUF:
          return ok(cfg ? cfg.recvBufferBytes : o.rcvBuf);
        case SO_SNDBUF:
          return ok(cfg ? cfg.sendBufferBytes : o.sndBuf);
        case SO_REUSEADDR:
          return ok(o.reuseAddr ? SO_REUSEADDR : 0);
        case SO_REUSEPORT:
          return ok(o.reusePort ? SO_REUSEPORT : 0);
        case SO_KEEPALIVE:
          return ok((cfg ? cfg.keepAlive : o.keepAlive) ? SO_KEEPALIVE : 0);
        default:
          return fail(Errno.ENOPROTOOPT);
      }
    }
    if (level === IPPROTO_TCP) {
      switch (name) {
        case TCP_NODELAY:
          return ok((cfg ? cfg.noDelay : o.noDelay) ? 4 : 0);
        case TCP_KEEPINIT:
          return ok(Math.round(o.keepInitUs / 1e6));
        case TCP_KEEPIDLE:
          return ok(Math.round((cfg ? cfg.keepAliveIdleUs : o.keepIdleUs) / 1e6));
        case TCP_KEEPINTVL:
          return ok(Math.round((cfg ? cfg.keepAliveIntervalUs : o.keepIntvlUs) / 1e6));
        case TCP_KEEPCNT:
          return ok(cfg ? cfg.keepAliveCount : o.keepCnt);
        default:
          return fail(Errno.ENOPROTOOPT);
      }
    }
    if (level === IPPROTO_IP) {
      if (name === IP_TTL) return ok(this.defaults.ttl);
      if (name === IP_TOS) return ok(this.defaults.tos);
      return fail(Errno.ENOPROTOOPT);
    }
    return fail(Errno.ENOPROTOOPT);
  }

  /** setsockopt(fd, level, name, int value). Unsupported options fail with ENOPROTOOPT (see the header). */
  setsockopt(fd: number, level: number, name: number, value: number): SysResult {
    const s = this.socks.get(fd);
    if (!s) return fail(Errno.EBADF);
    const o = s.opts;
    const conn = s.conn && s.conn.state !== 'CLOSED' ? s.conn : null;
    const live = conn !== null || s.listener !== null;
    if (level === SOL_SOCKET) {
      switch (name) {
        case SO_REUSEADDR:
          o.reuseAddr = value !== 0;
          return ok(0);
        case SO_REUSEPORT:
          o.reusePort = value !== 0;
          return ok(0);
        case SO_KEEPALIVE:
          o.keepAlive = value !== 0;
          if (conn) this.stack.with(conn, (now) => conn.setKeepAlive(o.keepAlive, undefined, now));
          return ok(0);
        case SO_RCVBUF:
        case SO_SNDBUF:
          if (!(value > 0)) return fail(Errno.EINVAL);
          if (live) return fail(Errno.EINVAL);
          if (name === SO_RCVBUF) o.rcvBuf = value;
          else o.sndBuf = value;
          return ok(0);
        default:
          return fail(Errno.ENOPROTOOPT);
      }
    }
    if (level === IPPROTO_TCP) {
      switch (name) {
        case TCP_NODELAY:
          o.noDelay = value !== 0;
          if (conn) this.stack.with(conn, (now) => conn.setNoDelay(o.noDelay, now));
          return ok(0);
        case TCP_KEEPINIT:
          if (!(value > 0)) return fail(Errno.EINVAL);
          o.keepInitUs = value * 1e6;
          return ok(0);
        case TCP_KEEPIDLE:
          if (!(value > 0)) return fail(Errno.EINVAL);
          o.keepIdleUs = value * 1e6;
          if (conn) this.stack.with(conn, (now) => conn.setKeepAlive(conn.config.keepAlive, o.keepIdleUs, now));
          return ok(0);
        case TCP_KEEPINTVL:
        case TCP_KEEPCNT:
          if (!(value > 0)) return fail(Errno.EINVAL);
          if (live) return fail(Errno.EINVAL);
          if (name === TCP_KEEPINTVL) o.keepIntvlUs = value * 1e6;
          else o.keepCnt = value;
          return ok(0);
        default:
          return fail(Errno.ENOPROTOOPT);
      }
    }
    return fail(Errno.ENOPROTOOPT);
  }

  /** fcntl(fd, F_GETFL) → O_RDWR [| O_NONBLOCK]; fcntl(fd, F_SETFL, flags) sets O_NONBLOCK. */
  fcntl(fd: number, cmd: number, arg = 0): SysResult {
    const s = this.socks.get(fd);
    if (!s) return fail(Errno.EBADF);
    if (cmd === F_GETFL) return ok(O_RDWR | (s.nonBlocking ? O_NONBLOCK : 0));
    if (cmd === F_SETFL) {
      s.nonBlocking = (arg & O_NONBLOCK) !== 0;
      return ok(0);
    }
    return fail(Errno.EINVAL);
  }

  /** The poll(2) events that hold for `fd` now (POLLNVAL for a bad fd). */
  revents(fd: number): number {
    const s = this.socks.get(fd);
    if (!s) return POLLNVAL;
    let ev = 0;
    if (s.error) ev |= POLLERR;
    if (s.listener) return ev | (s.listener.acceptQueue.length > 0 ? POLLIN | POLLRDNORM : 0);
    const c = s.conn;
    if (!c) return ev;
    if (c.readable() > 0 || c.finReceived || c.state === 'CLOSED' || s.shutRd) ev |= POLLIN | POLLRDNORM;
    const canWrite = c.state === 'ESTABLISHED' || c.state === 'CLOSE-WAIT';
    if (canWrite && !s.shutWr && !c.finQueued && c.sendRoom() > 0) ev |= POLLOUT;
    if (c.state === 'CLOSED' || (c.finReceived && (s.shutWr || c.finQueued))) ev |= POLLHUP;
    return ev;
  }

  /** poll(fds, 0): non-blocking; fills in revents (masked by events, plus ERR/HUP/NVAL) and returns how many are ready. */
  poll(fds: Array<{ fd: number; events: number; revents?: number }>): SysResult {
    let n = 0;
    for (const p of fds) {
      const r = this.revents(p.fd) & (p.events | POLLERR | POLLHUP | POLLNVAL);
      p.revents = r;
      if (r) n++;
    }
    return ok(n);
  }

  // ===========================================================================
  // Internals
  // ===========================================================================

  private add(opts: SockOpts): number {
    let fd = this.firstFd;
    while (this.socks.has(fd)) fd++;
    this.socks.set(fd, { fd, nonBlocking: false, opts, bound: null, listener: null, conn: null, error: 0, shutRd: false, shutWr: false });
    return fd;
  }

  /** Watches `conn` for its end: an abnormal close sets so_error. */
  private adopt(s: Sock, conn: Connection): void {
    s.conn = conn;
    if (conn.state === 'CLOSED') {
      s.error = closeReasonErrno(conn.closeReason);
      return;
    }
    conn.user = {
      onEvent: (_c: Connection, ev: ConnectionEvent) => {
        if (ev.type === 'closed' && ev.reason) {
          const e = closeReasonErrno(ev.reason);
          if (e) s.error = e;
        }
      },
    };
  }

  private takeError(s: Sock): number {
    const e = s.error;
    s.error = 0;
    return e;
  }

  private closeQuietly(conn: Connection): void {
    try {
      this.stack.close(conn);
    } catch (e) {
      if (!isSynackError(e)) throw e;
    }
  }

  private tcpFor(s: Sock): Partial<TcpConfig> {
    const o = s.opts;
    return {
      ...this.defaults.tcp,
      recvBufferBytes: o.rcvBuf,
      sendBufferBytes: o.sndBuf,
      noDelay: o.noDelay,
      keepAlive: o.keepAlive,
      keepAliveIdleUs: o.keepIdleUs,
      keepAliveIntervalUs: o.keepIntvlUs,
      keepAliveCount: o.keepCnt,
      connectTimeoutUs: o.keepInitUs,
    };
  }

  private portConflict(self: Sock, addr: Ipv4Addr, port: number): boolean {
    if (this.stack.getListener(port)) return true;
    for (const s of this.socks.values()) {
      if (s === self || !s.bound || s.bound.port !== port) continue;
      if (s.bound.addr !== 0 && addr !== 0 && s.bound.addr !== addr) continue;
      // SO_REUSEADDR lets a socket share a port with non-listening sockets;
      // SO_REUSEPORT on both lets them share it entirely.
      if (s.opts.reusePort && self.opts.reusePort) continue;
      if (self.opts.reuseAddr && !s.listener) continue;
      return true;
    }
    return false;
  }

  private freePort(): number {
    for (let p = 49152; p <= 65535; p++) {
      if (this.stack.getListener(p)) continue;
      let used = false;
      for (const s of this.socks.values()) if (s.bound?.port === p) used = true;
      for (const c of this.stack.connections()) if (c.localPort === p) used = true;
      if (!used) return p;
    }
    return 0;
  }

  private errnoOf(e: unknown): number {
    if (!isSynackError(e)) throw e;
    switch (e.code) {
      case 'ERR_SYNACK_ADDRESS_IN_USE':
      case 'ERR_SYNACK_CONNECTION_EXISTS':
        return Errno.EADDRINUSE;
      case 'ERR_SYNACK_NO_ROUTE':
        return Errno.ENETUNREACH;
      case 'ERR_SYNACK_PORTS_EXHAUSTED':
        return Errno.EADDRNOTAVAIL;
      case 'ERR_SYNACK_LIMIT':
        return Errno.ENOBUFS;
      default:
        return Errno.EINVAL;
    }
  }
}

/** Up to `max` queued bytes without consuming them. */
function peek(conn: Connection, max: number): Uint8Array {
  return conn.peek(max);
}

