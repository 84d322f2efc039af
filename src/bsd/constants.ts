/**
 * FreeBSD's numeric values for the BSD socket API: errno values
 * (sys/errno.h), socket-level and protocol-level option names
 * (sys/socket.h, netinet/in.h, netinet/tcp.h), fcntl/poll/shutdown/msg
 * flags, and TCP states (netinet/tcp_fsm.h, the values tcpi_state carries).
 *
 * Pure data: no node: imports.
 */

/** errno values as FreeBSD defines them (sys/errno.h). */
export const Errno = {
  EPERM: 1,
  ENOENT: 2,
  EINTR: 4,
  EIO: 5,
  EBADF: 9,
  ENOMEM: 12,
  EFAULT: 14,
  EINVAL: 22,
  EMFILE: 24,
  EPIPE: 32,
  /** Also EWOULDBLOCK. */
  EAGAIN: 35,
  EINPROGRESS: 36,
  EALREADY: 37,
  ENOTSOCK: 38,
  EDESTADDRREQ: 39,
  EMSGSIZE: 40,
  EPROTOTYPE: 41,
  ENOPROTOOPT: 42,
  EPROTONOSUPPORT: 43,
  EOPNOTSUPP: 45,
  EAFNOSUPPORT: 47,
  EADDRINUSE: 48,
  EADDRNOTAVAIL: 49,
  ENETDOWN: 50,
  ENETUNREACH: 51,
  ECONNABORTED: 53,
  ECONNRESET: 54,
  ENOBUFS: 55,
  EISCONN: 56,
  ENOTCONN: 57,
  ESHUTDOWN: 58,
  ETIMEDOUT: 60,
  ECONNREFUSED: 61,
  EHOSTDOWN: 64,
  EHOSTUNREACH: 65,
} as const;

export type ErrnoName = keyof typeof Errno;
export type ErrnoValue = (typeof Errno)[ErrnoName];

const ERRNO_NAMES = new Map<number, ErrnoName>();
for (const [k, v] of Object.entries(Errno)) ERRNO_NAMES.set(v, k as ErrnoName);

/** The symbolic name of an errno value ("ECONNRESET"), or "errno N". */
export function errnoName(e: number): string {
  return ERRNO_NAMES.get(e) ?? `errno ${e}`;
}

/** Address families, socket types, protocols. */
export const AF_UNSPEC = 0;
export const AF_INET = 2;
export const SOCK_STREAM = 1;
export const IPPROTO_IP = 0;
export const IPPROTO_TCP = 6;

/** Option levels and names. */
export const SOL_SOCKET = 0xffff;
export const SO_REUSEADDR = 0x0004;
export const SO_KEEPALIVE = 0x0008;
export const SO_LINGER = 0x0080;
export const SO_REUSEPORT = 0x0200;
export const SO_SNDBUF = 0x1001;
export const SO_RCVBUF = 0x1002;
export const SO_ERROR = 0x1007;

export const IP_TOS = 3;
export const IP_TTL = 4;

export const TCP_NODELAY = 1;
export const TCP_MAXSEG = 2;
export const TCP_NOPUSH = 4;
export const TCP_NOOPT = 8;
export const TCP_MD5SIG = 16;
export const TCP_INFO = 32;
export const TCP_KEEPINIT = 128;
export const TCP_KEEPIDLE = 256;
export const TCP_KEEPINTVL = 512;
export const TCP_KEEPCNT = 1024;

/** shutdown(2) */
export const SHUT_RD = 0;
export const SHUT_WR = 1;
export const SHUT_RDWR = 2;

/** fcntl(2) */
export const F_GETFL = 3;
export const F_SETFL = 4;
export const O_RDONLY = 0;
export const O_WRONLY = 1;
export const O_RDWR = 2;
export const O_NONBLOCK = 4;

/** recv/send flags */
export const MSG_OOB = 0x1;
export const MSG_PEEK = 0x2;
export const MSG_WAITALL = 0x40;
export const MSG_DONTWAIT = 0x80;
export const MSG_NOSIGNAL = 0x20000;

/** poll(2) */
export const POLLIN = 0x0001;
export const POLLPRI = 0x0002;
export const POLLOUT = 0x0004;
export const POLLERR = 0x0008;
export const POLLHUP = 0x0010;
export const POLLNVAL = 0x0020;
export const POLLRDNORM = 0x0040;
export const POLLWRNORM = POLLOUT;
export const POLLRDBAND = 0x0080;
export const POLLWRBAND = 0x0100;
export const POLLRDHUP = 0x4000;

/** TCP states as FreeBSD numbers them (tcp_fsm.h TCPS_*, = tcpi_state). */
export const TcpiState = {
  TCPI_CLOSED: 0,
  TCPI_LISTEN: 1,
  TCPI_SYN_SENT: 2,
  TCPI_SYN_RECEIVED: 3,
  TCPI_ESTABLISHED: 4,
  TCPI_CLOSE_WAIT: 5,
  TCPI_FIN_WAIT_1: 6,
  TCPI_CLOSING: 7,
  TCPI_LAST_ACK: 8,
  TCPI_FIN_WAIT_2: 9,
  TCPI_TIME_WAIT: 10,
} as const;

/**
 * Every symbolic constant a script may use in a socket call, by name
 * (the per-OS symbol table of packetdrill, symbols_freebsd.c, restricted to
 * what this API understands). EWOULDBLOCK is EAGAIN on FreeBSD.
 */
export const SYMBOLS: Readonly<Record<string, number>> = Object.freeze({
  ...Errno,
  EWOULDBLOCK: Errno.EAGAIN,
  AF_UNSPEC,
  AF_INET,
  PF_INET: AF_INET,
  SOCK_STREAM,
  IPPROTO_IP,
  IPPROTO_TCP,
  SOL_SOCKET,
  SO_REUSEADDR,
  SO_REUSEPORT,
  SO_KEEPALIVE,
  SO_LINGER,
  SO_SNDBUF,
  SO_RCVBUF,
  SO_ERROR,
  IP_TOS,
  IP_TTL,
  TCP_NODELAY,
  TCP_MAXSEG,
  TCP_NOPUSH,
  TCP_NOOPT,
  TCP_MD5SIG,
  TCP_INFO,
  TCP_KEEPINIT,
  TCP_KEEPIDLE,
  TCP_KEEPINTVL,
  TCP_KEEPCNT,
  SHUT_RD,
  SHUT_WR,
  SHUT_RDWR,
  F_GETFL,
  F_SETFL,
  O_RDONLY,
  O_WRONLY,
  O_RDWR,
  O_NONBLOCK,
  MSG_OOB,
  MSG_PEEK,
  MSG_WAITALL,
  MSG_DONTWAIT,
  MSG_NOSIGNAL,
  POLLIN,
  POLLPRI,
  POLLOUT,
  POLLERR,
  POLLHUP,
  POLLNVAL,
  POLLRDNORM,
  POLLWRNORM,
  POLLRDBAND,
  POLLWRBAND,
  POLLRDHUP,
  ...TcpiState,
});
