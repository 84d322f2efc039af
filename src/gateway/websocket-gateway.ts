/**
 * The WebSocket downstream of the gateway (`{ websocket: { host, port } }`,
 * `synack gateway --websocket HOST:PORT`): a WebSocket server (RFC 6455) in
 * the protocol v86's `relay_url` speaks — one Ethernet frame per binary
 * message both ways — where **each client is its own guest network**: its
 * own gateway stack on 10.0.2.0/24 (gateway 10.0.2.2, DNS 10.0.2.3), its own
 * DHCP server (the guest gets 10.0.2.100), its own forwarded connections
 * and limits. A client's network goes when its WebSocket closes.
 *
 * Bounds and checks before any guest exists: at most `maxGuests` clients at
 * once (beyond it the handshake is answered 503); the |Origin| is checked
 * (websocket.ts: by default no Origin or a loopback page; `origins` lists
 * exact origins instead, '*' any) and refused with 403; a request that is
 * not a WebSocket handshake gets 426 or 400. The server listens on
 * 127.0.0.1 unless told otherwise.
 */
import * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { SynackError } from '../errors.ts';
import type { FrameLink } from '../stack/link.ts';
import { WebSocketFrameLink } from './websocket-link.ts';
import { wsHandshake, wsRefusal } from './websocket.ts';
import type { Gateway, GatewayOptions, GatewayStats, ForwardedConnectionInfo } from './gateway.ts';

export interface WebSocketDownstream {
  /** Listen address (default 127.0.0.1). */
  host?: string;
  /** Listen port (0: any free port; see `websocketAddress`). */
  port: number;
  /** Exact origins allowed to connect ('*': any); default: no Origin header, or a page on a loopback host. */
  origins?: string[];
  /** WebSocket clients (guest networks) at once (default 16). */
  maxGuests?: number;
}

export interface WebSocketServerStats {
  /** Guests connected now. */
  guests: number;
  /** Handshakes accepted since the start. */
  accepted: number;
  /** Handshakes refused: bad request, origin, too many guests. */
  refusedHandshake: number;
  refusedOrigin: number;
  refusedFull: number;
}

/** The part of a gateway the WebSocket server needs of each guest's (createGateway with a frameLink downstream). */
export interface GuestGateway {
  readonly ready: Promise<void>;
  close(): Promise<void>;
}

export interface WebSocketGatewayServer {
  readonly stats: WebSocketServerStats;
  readonly ready: Promise<void>;
  /** Where it listens, once ready. */
  address(): { address: string; port: number } | null;
  guests(): GuestGateway[];
  close(): Promise<void>;
}

export const WEBSOCKET_DEFAULT_MAX_GUESTS = 16;

/** Parses `HOST:PORT` (`[v6]:PORT`; a bare PORT listens on 127.0.0.1). */
export function parseWebSocketListen(text: string): { host: string; port: number } {
  const m = /^(?:(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):)?(\d{1,5})$/.exec(text);
  const port = m ? Number(m[2]) : NaN;
  if (!m || !(port >= 0 && port <= 65535)) throw new SynackError('ERR_SYNACK_INVALID_ARG', `not HOST:PORT: ${JSON.stringify(text)}`);
  const host = m[1] === undefined ? '127.0.0.1' : m[1].startsWith('[') ? m[1].slice(1, -1) : m[1];
  return { host, port };
}

/**
 * Starts the WebSocket server; `makeGuest` builds each client's gateway on
 * its link (createGateway({ …, downstream: { frameLink } })).
 */
export function startWebSocketServer(
  ws: WebSocketDownstream,
  mtu: number,
  makeGuest: (link: FrameLink & { onBatch: (() => void) | null }, id: number) => GuestGateway,
  log: (line: string) => void,
): WebSocketGatewayServer {
  const maxGuests = ws.maxGuests ?? WEBSOCKET_DEFAULT_MAX_GUESTS;
  if (!(Number.isInteger(maxGuests) && maxGuests >= 1)) throw new SynackError('ERR_SYNACK_INVALID_ARG', `websocket.maxGuests must be a positive integer, got ${String(maxGuests)}`);
  if (!(Number.isInteger(ws.port) && ws.port >= 0 && ws.port <= 65535)) throw new SynackError('ERR_SYNACK_INVALID_ARG', `websocket.port must be 0..65535, got ${String(ws.port)}`);
  const policy = { allowed: ws.origins ?? [] };
  const stats: WebSocketServerStats = { guests: 0, accepted: 0, refusedHandshake: 0, refusedOrigin: 0, refusedFull: 0 };
  const guests = new Map<number, { gw: GuestGateway; link: WebSocketFrameLink }>();
  const sockets = new Set<Socket>();
  /** Guest networks still closing (their resets leaving): close() waits for them. */
  const closing = new Set<Promise<void>>();
  let nextId = 1;
  let closed = false;

  const server = http.createServer((_req, res) => {
    // A plain HTTP request: RFC 6455 §4.2.2 lets the server say it wants an upgrade (426).
    res.writeHead(426, { 'content-type': 'text/plain', upgrade: 'websocket', connection: 'close' }).end('this is a WebSocket endpoint (synack gateway)\n');
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  server.on('clientError', (_err, s: Socket) => s.destroy());
  server.on('upgrade', (req: http.IncomingMessage, socket: Socket, head: Buffer) => {
    socket.on('error', () => {});
    if (closed) {
      socket.destroy();
      return;
    }
    const hs = wsHandshake(req, policy);
    if (!hs.ok) {
      if (hs.status === 403) stats.refusedOrigin++;
      else stats.refusedHandshake++;
      log(`websocket: refused ${socket.remoteAddress}:${socket.remotePort}: ${hs.reason}`);
      socket.end(hs.response);
      return;
    }
    if (guests.size >= maxGuests) {
      stats.refusedFull++;
      log(`websocket: refused ${socket.remoteAddress}:${socket.remotePort}: ${maxGuests} guests already`);
      socket.end(wsRefusal(503, `at most ${maxGuests} guests at once (--max-guests)`));
      return;
    }
    socket.write(hs.response);
    const id = nextId++;
    const link = new WebSocketFrameLink(socket, mtu, head);
    let gw: GuestGateway;
    try {
      gw = makeGuest(link, id);
    } catch (e) {
      log(`websocket: guest ${id}: ${(e as Error).message}`);
      link.close(1011, 'internal error');
      return;
    }
    guests.set(id, { gw, link });
    stats.accepted++;
    stats.guests = guests.size;
    log(`websocket: guest ${id} connected from ${socket.remoteAddress}:${socket.remotePort}${hs.origin ? ` (origin ${hs.origin})` : ''}`);
    link.onClose = (code) => {
      guests.delete(id);
      stats.guests = guests.size;
      log(`websocket: guest ${id} disconnected (${code})`);
      const p = gw
        .close()
        .catch((e: Error) => log(`websocket: guest ${id}: closing: ${e.stack ?? e.message}`))
        .finally(() => closing.delete(p));
      closing.add(p);
    };
  });

  const ready = new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(ws.port, ws.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  ready.catch(() => {});

  return {
    stats,
    ready,
    address() {
      const a = server.address() as AddressInfo | null;
      return a && typeof a === 'object' ? { address: a.address, port: a.port } : null;
    },
    guests: () => [...guests.values()].map((g) => g.gw),
    async close() {
      if (closed) return;
      closed = true;
      const all = [...guests.values()];
      guests.clear();
      stats.guests = 0;
      for (const g of all) {
        g.link.onClose = null;
        g.link.close(1001, 'the gateway is stopping');
      }
      await Promise.all([...all.map((g) => g.gw.close()), ...closing]);
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function noStack(): never {
  throw new SynackError('ERR_SYNACK_INVALID_STATE', 'a WebSocket gateway has one stack per client: see guests()');
}

/** Adds up the guests' counters (numbers field by field, drop reasons by reason). */
function sumStats(all: GatewayStats[], ws: WebSocketServerStats): GatewayStats {
  const add = <T extends object>(list: T[]): T => {
    const out: Record<string, number> = {};
    for (const o of list) for (const [k, v] of Object.entries(o)) if (typeof v === 'number') out[k] = (out[k] ?? 0) + v;
    return out as T;
  };
  // A zero of every counter first, so the totals have every field with no guest at all.
  const zero: GatewayStats = {
    tcp: { requests: 0, opened: 0, published: 0, refused: 0, unreachable: 0, timedOut: 0, denied: 0, limited: 0, cancelled: 0, active: 0, resetsFromGuest: 0, resetsFromHost: 0, bytesUp: 0, bytesDown: 0, memoryLimited: 0, buffered: 0, connecting: 0, connectsWaiting: 0, connectsQueued: 0, connectsHighWater: 0, buffersRecycled: 0 },
    udp: { flows: 0, active: 0, datagramsUp: 0, datagramsDown: 0, denied: 0, limited: 0, dropped: 0, portUnreachable: 0, unreachable: 0 },
    icmp: { requests: 0, sent: 0, replies: 0, flows: 0, active: 0, denied: 0, limited: 0, unavailable: 0, sendErrors: 0, unmatched: 0, errors: 0 },
    link: null,
    tap: null,
    dns: { queries: 0, answers: 0, servfail: 0, failures: 0 },
    driver: { turns: 0, timerFirings: 0, jumps: 0, settles: 0 },
    drops: {},
    dhcp: null,
  };
  all = [zero, ...all];
  const dhcp = all.map((s) => s.dhcp).filter((d): d is NonNullable<GatewayStats['dhcp']> => d !== null);
  return {
    tcp: add(all.map((s) => s.tcp)),
    udp: add(all.map((s) => s.udp)),
    icmp: add(all.map((s) => s.icmp)),
    link: null,
    tap: null,
    dns: add(all.map((s) => s.dns)),
    driver: add(all.map((s) => s.driver)),
    drops: add(all.map((s) => s.drops)),
    dhcp: { acks: dhcp.reduce((n, d) => n + d.acks, 0), bindings: dhcp.reduce((n, d) => n + d.bindings, 0), drops: add(dhcp.map((d) => d.drops)) },
    websocket: { ...ws },
  };
}

/**
 * createGateway({ downstream: { websocket } }): the server, and one gateway
 * per client made by `factory` (createGateway) on the client's link, with
 * the same options (MTU, policy, limits, DHCP). Published ports and pcap
 * belong to one guest network, so they are refused here.
 */
export function createWebSocketGateway(opts: GatewayOptions, mtu: number, factory: (o: GatewayOptions) => Gateway): Gateway {
  const down = opts.downstream as { websocket: WebSocketDownstream };
  if (opts.publish && opts.publish.length > 0) throw new SynackError('ERR_SYNACK_INVALID_ARG', 'publish is not available with the WebSocket downstream (each client is its own guest network)');
  if (opts.pcap) throw new SynackError('ERR_SYNACK_INVALID_ARG', 'pcap is not available with the WebSocket downstream (each client is its own guest network)');
  if (opts.viz) throw new SynackError('ERR_SYNACK_INVALID_ARG', 'viz is not available with the WebSocket downstream (each client is its own guest network)');
  const log = opts.log ?? (() => {});
  const gws = new Map<GuestGateway, Gateway>();
  /** The counters of guests that are gone, added up (so totals never go down). */
  let retired: GatewayStats | null = null;
  /** Guests whose networks are closing (counted until they are retired). */
  const leaving = new Set<Gateway>();
  const server = startWebSocketServer(
    down.websocket,
    mtu,
    (link, id) => {
      const gw = factory({ ...opts, downstream: { frameLink: link }, log: (l) => log(`guest ${id}: ${l}`) });
      const g: GuestGateway = {
        ready: gw.ready,
        close: async () => {
          if (!gws.delete(g)) return;
          leaving.add(gw);
          await gw.close();
          leaving.delete(gw);
          retired = sumStats([...(retired ? [retired] : []), gw.stats()], server.stats);
        },
      };
      gws.set(g, gw);
      return g;
    },
    log,
  );
  const guests = (): Gateway[] => server.guests().map((g) => gws.get(g)).filter((g): g is Gateway => g !== undefined);
  return {
    get stack(): never {
      return noStack();
    },
    get eth(): never {
      return noStack();
    },
    get forwarding(): never {
      return noStack();
    },
    get driver(): never {
      return noStack();
    },
    get dns(): never {
      return noStack();
    },
    viz: null,
    watch: (): never => noStack(),
    socketPath: null,
    tap: null,
    ready: server.ready,
    websocket: server,
    guests,
    stats: () => sumStats([...(retired ? [retired] : []), ...[...guests(), ...leaving].map((g) => g.stats())], server.stats),
    connections: (): ForwardedConnectionInfo[] => guests().flatMap((g) => g.connections()),
    close: () => server.close(),
  };
}
