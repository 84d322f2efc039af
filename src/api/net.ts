/**
 * `createNet(host)`: a node:net-like module bound to one synack stack —
 * `{ createServer, createConnection, connect, Socket, Server, isIP, isIPv4,
 * isIPv6 }` — so code written against `node:net` runs over synack by
 * swapping the module object.
 *
 * `Socket` and `Server` are per-module subclasses that carry the stack and
 * its driver; `instanceof` the exported base classes holds for all of them.
 */
import { isIP, isIPv4, isIPv6 } from './ip.ts';
import type { Stack } from '../stack/stack.ts';
import type { TcpConfig } from '../tcp/config.ts';
import type { Driver } from './driver.ts';
import { Socket, kContext, normalizeConnectArgs, type NetContext, type SocketConnectOpts, type SocketConstructorOpts } from './socket.ts';
import { Server, kSocketClass, type ServerOpts } from './server.ts';
import type { HostsTable } from './resolve.ts';

export interface NetHost {
  stack: Stack;
  /** Runs the stack's network on the event loop. */
  driver: Driver;
  /** Host name → address literal(s), consulted by connect()/listen() for names (shared tables allowed); `localhost` is built in. */
  hosts?: HostsTable;
  /** TcpConfig overrides for every connection made through this module. */
  tcp?: Partial<TcpConfig>;
  /** Name resolution by DNS after `hosts` (a box api/services.ts fills: DHCP option 6 or setDnsServers). */
  dns?: NetContext['dns'];
}

export type NetConnectOpts = SocketConnectOpts & SocketConstructorOpts;

export interface SynackNet {
  readonly Socket: new (options?: SocketConstructorOpts) => Socket;
  readonly Server: new (options?: ServerOpts | ((socket: Socket) => void), connectionListener?: (socket: Socket) => void) => Server;
  createServer(connectionListener?: (socket: Socket) => void): Server;
  createServer(options?: ServerOpts, connectionListener?: (socket: Socket) => void): Server;
  createConnection(options: NetConnectOpts, connectionListener?: () => void): Socket;
  createConnection(port: number | string, host?: string, connectionListener?: () => void): Socket;
  createConnection(port: number | string, connectionListener?: () => void): Socket;
  connect(options: NetConnectOpts, connectionListener?: () => void): Socket;
  connect(port: number | string, host?: string, connectionListener?: () => void): Socket;
  connect(port: number | string, connectionListener?: () => void): Socket;
  isIP: typeof isIP;
  isIPv4: typeof isIPv4;
  isIPv6: typeof isIPv6;
  /** The stack this module is bound to (synack extension). */
  readonly stack: Stack;
  readonly driver: Driver;
}

export function createNet(host: NetHost): SynackNet {
  const ctx: NetContext = {
    stack: host.stack,
    driver: host.driver,
    hosts: host.hosts ?? new Map(),
    ...(host.tcp ? { tcp: host.tcp } : {}),
    ...(host.dns ? { dns: host.dns } : {}),
  };

  class BoundSocket extends Socket {
    static readonly [kContext] = ctx;
  }
  class BoundServer extends Server {
    static readonly [kContext] = ctx;
    static readonly [kSocketClass] = BoundSocket;
  }
  Object.defineProperty(BoundSocket, 'name', { value: 'Socket' });
  Object.defineProperty(BoundServer, 'name', { value: 'Server' });

  function createConnection(...args: unknown[]): Socket {
    const [options, cb] = normalizeConnectArgs(args);
    const socket = new BoundSocket(options as SocketConstructorOpts);
    if (options.timeout) socket.setTimeout(options.timeout);
    return cb ? socket.connect(options, cb as () => void) : socket.connect(options);
  }

  function createServer(options?: ServerOpts | ((socket: Socket) => void), listener?: (socket: Socket) => void): Server {
    return new BoundServer(options, listener);
  }

  return {
    Socket: BoundSocket,
    Server: BoundServer,
    createServer: createServer as SynackNet['createServer'],
    createConnection: createConnection as SynackNet['createConnection'],
    connect: createConnection as SynackNet['connect'],
    isIP,
    isIPv4,
    isIPv6,
    stack: host.stack,
    driver: host.driver,
  };
}
