/**
 * Node-shaped errors for the `net`-compatible API.
 *
 * Two families, as in Node:
 *  - system errors (`ECONNREFUSED`, `ECONNRESET`, …): an `Error` with `code`,
 *    a negative Linux `errno`, `syscall` and, for connect/listen, `address`
 *    and `port`; the message reads like Node's ("connect ECONNREFUSED
 *    10.0.0.2:80", "listen EADDRINUSE: address already in use 0.0.0.0:80",
 *    "read ECONNRESET");
 *  - internal errors (`ERR_SOCKET_BAD_PORT`, `ERR_SERVER_ALREADY_LISTEN`, …):
 *    a TypeError/RangeError/Error with `code`, printed as
 *    "RangeError [ERR_SOCKET_BAD_PORT]: …" like Node's.
 *
 * The core's reasons for a connection's death (tcp/events.ts CloseReason)
 * and its SynackError codes are mapped here (quinn's ConnectionError → io::Error).
 */
import type { CloseReason } from '../tcp/events.ts';
import { isSynackError } from '../errors.ts';

/** Linux errno values, negated as libuv reports them. */
export const ERRNO = {
  EPIPE: -32,
  EAFNOSUPPORT: -97,
  EADDRINUSE: -98,
  EADDRNOTAVAIL: -99,
  ENETUNREACH: -101,
  EHOSTUNREACH: -113,
  ECONNRESET: -104,
  ETIMEDOUT: -110,
  ECONNREFUSED: -111,
  EMFILE: -24,
  ENOTFOUND: -3008,
} as const;

export type SystemErrorCode = keyof typeof ERRNO;

/** libuv's descriptions, used in listen-style messages ("listen EADDRINUSE: address already in use …"). */
const UV_MESSAGE: Record<SystemErrorCode, string> = {
  EPIPE: 'broken pipe',
  EAFNOSUPPORT: 'address family not supported',
  EADDRINUSE: 'address already in use',
  EADDRNOTAVAIL: 'address not available',
  ENETUNREACH: 'network is unreachable',
  EHOSTUNREACH: 'host is unreachable',
  ECONNRESET: 'connection reset by peer',
  ETIMEDOUT: 'connection timed out',
  ECONNREFUSED: 'connection refused',
  EMFILE: 'too many open files',
  ENOTFOUND: 'not found',
};

export interface SystemError extends Error {
  code: SystemErrorCode;
  errno: number;
  syscall: string;
  address?: string;
  port?: number;
  hostname?: string;
}

/**
 * A system error like Node's. With `address`, the message is Node's
 * `exceptionWithHostPort` form ("connect ECONNREFUSED 10.0.0.2:80"), or the
 * `uvExceptionWithHostPort` form when `uvStyle` ("listen EADDRINUSE: address
 * already in use 0.0.0.0:80"). `detail` is appended in parentheses.
 */
export function systemError(
  code: SystemErrorCode,
  syscall: string,
  address?: string,
  port?: number,
  opts: { uvStyle?: boolean; detail?: string } = {},
): SystemError {
  let message = opts.uvStyle ? `${syscall} ${code}: ${UV_MESSAGE[code]}` : `${syscall} ${code}`;
  if (address !== undefined) message += port !== undefined && port > 0 ? ` ${address}:${port}` : ` ${address}`;
  if (opts.detail) message += ` (${opts.detail})`;
  const e = new Error(message) as SystemError;
  e.errno = ERRNO[code];
  e.code = code;
  e.syscall = syscall;
  if (address !== undefined) e.address = address;
  if (port !== undefined && port > 0) e.port = port;
  return e;
}

/** A failed name lookup, shaped like Node's getaddrinfo ENOTFOUND error. */
export function lookupError(hostname: string, detail?: string): SystemError {
  const e = new Error(`getaddrinfo ENOTFOUND ${hostname}${detail ? ` (${detail})` : ''}`) as SystemError;
  e.errno = ERRNO.ENOTFOUND;
  e.code = 'ENOTFOUND';
  e.syscall = 'getaddrinfo';
  e.hostname = hostname;
  return e;
}

/** The error a socket reports when its connection dies for `reason` (null for none). */
export function closeReasonError(reason: CloseReason | null, connecting: boolean, address: string, port: number): SystemError | null {
  switch (reason) {
    case 'refused':
      return systemError('ECONNREFUSED', 'connect', address, port);
    case 'reset':
      return connecting ? systemError('ECONNREFUSED', 'connect', address, port) : systemError('ECONNRESET', 'read');
    case 'timeout':
      return connecting ? systemError('ETIMEDOUT', 'connect', address, port) : systemError('ETIMEDOUT', 'read');
    // Linux reports a remembered soft ICMP error instead of ETIMEDOUT
    // (tcp_write_err: "sk->sk_err = sk->sk_err_soft ? : ETIMEDOUT").
    case 'host-unreachable':
      return connecting ? systemError('EHOSTUNREACH', 'connect', address, port) : systemError('EHOSTUNREACH', 'read');
    case 'net-unreachable':
      return connecting ? systemError('ENETUNREACH', 'connect', address, port) : systemError('ENETUNREACH', 'read');
    default:
      return null;
  }
}

/** Maps an error thrown by the core's Stack calls to a Node-shaped one (others pass through). */
export function fromSynackError(e: unknown, syscall: string, address?: string, port?: number): Error {
  if (!isSynackError(e)) return e instanceof Error ? e : new Error(String(e));
  const detail = e.message;
  switch (e.code) {
    case 'ERR_SYNACK_ADDRESS_IN_USE':
      return systemError('EADDRINUSE', syscall, address, port, { uvStyle: true });
    case 'ERR_SYNACK_NO_ROUTE':
      return systemError(syscall === 'listen' ? 'EADDRNOTAVAIL' : 'ENETUNREACH', syscall, address, port, { uvStyle: true, detail });
    case 'ERR_SYNACK_PORTS_EXHAUSTED':
      return systemError('EADDRNOTAVAIL', syscall, address, port, { uvStyle: true, detail });
    case 'ERR_SYNACK_LIMIT':
      return systemError('EMFILE', syscall, address, port, { uvStyle: true, detail });
    case 'ERR_SYNACK_CONNECTION_CLOSING':
    case 'ERR_SYNACK_INVALID_STATE':
      return systemError('EPIPE', syscall, undefined, undefined, { detail });
    default:
      return e;
  }
}

// ---------------------------------------------------------------------------
// Node's internal (ERR_*) errors
// ---------------------------------------------------------------------------

type ErrorCtor = ErrorConstructor | TypeErrorConstructor | RangeErrorConstructor;

/** An error carrying a Node `ERR_*` code, whose stack/toString read "TypeError [CODE]: message". */
export function nodeError(Base: ErrorCtor, code: string, message: string): Error & { code: string } {
  const e = new Base(message) as Error & { code: string };
  const name = e.name;
  // Node's trick: the name carries the code while the stack is captured, then is restored.
  e.name = `${name} [${code}]`;
  void e.stack;
  e.name = name;
  Object.defineProperty(e, 'code', { value: code, enumerable: true, writable: true, configurable: true });
  Object.defineProperty(e, 'toString', {
    value() {
      return `${name} [${code}]: ${this.message}`;
    },
    enumerable: false,
    writable: true,
    configurable: true,
  });
  return e;
}

/** Node's `determineSpecificType`, for "Received …" tails of argument errors. */
export function describeReceived(v: unknown): string {
  if (v === null || v === undefined) return `Received ${String(v)}`;
  if (typeof v === 'function') return `Received function ${(v as { name?: string }).name || '<anonymous>'}`;
  if (typeof v === 'object') {
    const ctor = (v as { constructor?: { name?: string } }).constructor?.name;
    return ctor ? `Received an instance of ${ctor}` : 'Received [object]';
  }
  let shown = typeof v === 'string' ? `'${v.length > 28 ? `${v.slice(0, 25)}...` : v}'` : String(v);
  if (typeof v === 'bigint') shown += 'n';
  return `Received type ${typeof v} (${shown})`;
}

export const errors = {
  badPort(name: string, port: unknown, allowZero = true): Error {
    const op = allowZero ? '>=' : '>';
    return nodeError(RangeError, 'ERR_SOCKET_BAD_PORT', `${name} should be ${op} 0 and < 65536. ${describeReceived(port)}.`);
  },
  invalidArgType(name: string, expected: string, actual: unknown): Error {
    return nodeError(TypeError, 'ERR_INVALID_ARG_TYPE', `The "${name}" argument must be ${expected}. ${describeReceived(actual)}`);
  },
  invalidArgValue(name: string, value: unknown, reason: string): Error {
    let shown: string;
    try {
      shown = typeof value === 'string' ? `'${value}'` : JSON.stringify(value) ?? String(value);
    } catch {
      shown = String(value);
    }
    return nodeError(TypeError, 'ERR_INVALID_ARG_VALUE', `The argument '${name}' ${reason}. Received ${shown}`);
  },
  invalidIpAddress(addr: string): Error {
    return nodeError(TypeError, 'ERR_INVALID_IP_ADDRESS', `Invalid IP address: ${addr}`);
  },
  missingArgs(): Error {
    return nodeError(TypeError, 'ERR_MISSING_ARGS', 'The "options" or "port" or "path" argument must be specified');
  },
  serverAlreadyListen(): Error {
    return nodeError(Error, 'ERR_SERVER_ALREADY_LISTEN', 'Listen method has been called more than once without closing.');
  },
  serverNotRunning(): Error {
    return nodeError(Error, 'ERR_SERVER_NOT_RUNNING', 'Server is not running.');
  },
  socketClosed(): Error {
    return nodeError(Error, 'ERR_SOCKET_CLOSED', 'Socket is closed');
  },
  socketClosedBeforeConnection(): Error {
    return nodeError(Error, 'ERR_SOCKET_CLOSED_BEFORE_CONNECTION', 'Socket closed before the connection was established');
  },
  socketConnectionTimeout(): Error {
    return nodeError(Error, 'ERR_SOCKET_CONNECTION_TIMEOUT', 'Socket connection timeout');
  },
  outOfRange(name: string, range: string, value: unknown): Error {
    return nodeError(RangeError, 'ERR_OUT_OF_RANGE', `The value of "${name}" is out of range. It must be ${range}. Received ${String(value)}`);
  },
  writeAfterFin(): Error {
    const e = new Error('This socket has been ended by the other party') as Error & { code: string };
    e.code = 'EPIPE';
    return e;
  },
};

/** Node's `validatePort`: a number or numeric string in 0..65535 (or 1..65535); returns the number. */
export function validatePort(port: unknown, name = 'Port', allowZero = true): number {
  if (
    (typeof port !== 'number' && typeof port !== 'string') ||
    (typeof port === 'string' && port.trim().length === 0) ||
    +port !== +port >>> 0 ||
    +port > 0xffff ||
    (+port === 0 && !allowZero)
  ) {
    throw errors.badPort(name, port, allowZero);
  }
  return +port | 0;
}
