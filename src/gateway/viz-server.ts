/**
 * The HTTP side of `synack gateway --viz PORT`: serves the page (built for
 * the browser by viz/gateway-page.ts, passed in as files) and the monitor's
 * data on the loopback interface only.
 *
 *   GET /                          the page (index.html, app.js, style.css)
 *   GET /api/connections           { rows, udp, stats } — the tables as JSON (TCP connections, UDP flows)
 *   GET /api/connections/ID        { row, segments, transitions, initial } — one connection
 *   GET /events[?conn=ID]          Server-Sent Events: `table` (the rows and stats) and,
 *                                  with ?conn, `conn` (that connection's detail), each sent
 *                                  when it changed, checked every `intervalMs`
 *
 * Loopback only: the listening address must be 127.0.0.1, ::1 or localhost,
 * and a request whose Host header names anything else is refused (403), so a
 * web page elsewhere cannot read the guest's connections through DNS
 * rebinding.
 */
import http from 'node:http';
import { SynackError } from '../errors.ts';
import type { GatewayMonitor } from './monitor.ts';

export interface GatewayVizOptions {
  /** TCP port (0: any free port). */
  port: number;
  /** 127.0.0.1 (default), ::1 or localhost. */
  host?: string;
  /** The page's files by name (index.html, app.js, style.css). */
  page: Record<string, string | Uint8Array>;
  /** How often the event stream checks for changes (default 250 ms). */
  intervalMs?: number;
}

export interface GatewayVizServer {
  /** http://127.0.0.1:PORT/ */
  url: string;
  port: number;
  close(): Promise<void>;
}

const TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
};

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

export async function serveGatewayViz(monitor: GatewayMonitor, opts: GatewayVizOptions): Promise<GatewayVizServer> {
  const host = opts.host ?? '127.0.0.1';
  if (!LOOPBACK.has(host)) throw new SynackError('ERR_SYNACK_INVALID_ARG', `the visualizer listens on the loopback interface only (127.0.0.1, ::1 or localhost), not ${host}`);
  if (!(Number.isInteger(opts.port) && opts.port >= 0 && opts.port <= 65535)) throw new SynackError('ERR_SYNACK_INVALID_ARG', `viz port must be 0..65535, got ${String(opts.port)}`);
  const interval = opts.intervalMs ?? 250;
  const timers = new Set<NodeJS.Timeout>();
  let port = opts.port;

  const json = (res: http.ServerResponse, code: number, body: unknown): void => {
    res.writeHead(code, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' }).end(JSON.stringify(body));
  };
  const table = () => ({ rows: monitor.rows(), udp: monitor.udp(), stats: monitor.stats() });
  const hostOk = (h: string | undefined): boolean => h !== undefined && (h === `127.0.0.1:${port}` || h === `localhost:${port}` || h === `[::1]:${port}`);

  const server = http.createServer((req, res) => {
    if (!hostOk(req.headers.host)) {
      res.writeHead(403, { 'content-type': 'text/plain' }).end('forbidden: not a loopback Host\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://127.0.0.1');
    } catch {
      res.writeHead(400).end();
      return;
    }
    const path = url.pathname;
    if (path === '/api/connections') return json(res, 200, table());
    const m = /^\/api\/connections\/(\d{1,9})$/.exec(path);
    if (m) {
      const d = monitor.detail(Number(m[1]));
      return d ? json(res, 200, d) : json(res, 404, { error: 'no such connection' });
    }
    if (path === '/events' && req.method === 'GET') {
      const c = url.searchParams.get('conn');
      if (c !== null && !/^\d{1,9}$/.test(c)) return json(res, 400, { error: 'conn must be a connection id' });
      const id = c === null ? null : Number(c);
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
      // Each event is sent when its text changed; the detail only when the monitor's version moved.
      let lastTable = '';
      let lastVersion = -1;
      const push = (): void => {
        const t = JSON.stringify(table());
        if (t !== lastTable) {
          lastTable = t;
          res.write(`event: table\ndata: ${t}\n\n`);
        }
        if (id !== null && monitor.version !== lastVersion) {
          lastVersion = monitor.version;
          res.write(`event: conn\ndata: ${JSON.stringify(monitor.detail(id))}\n\n`);
        }
      };
      push();
      const timer = setInterval(push, interval);
      timers.add(timer);
      req.on('close', () => {
        clearInterval(timer);
        timers.delete(timer);
      });
      return;
    }
    const name = path === '/' ? 'index.html' : path.slice(1);
    const body = /^[\w.-]+$/.test(name) ? opts.page[name] : undefined;
    if (body === undefined) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[name.slice(name.lastIndexOf('.') + 1)] ?? 'application/octet-stream', 'cache-control': 'no-store' }).end(body);
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(opts.port, host, () => {
      server.off('error', fail);
      ok();
    });
  });
  const a = server.address();
  port = typeof a === 'object' && a ? a.port : opts.port;
  const shown = host === '::1' ? '[::1]' : host;
  return {
    url: `http://${shown}:${port}/`,
    port,
    close: () =>
      new Promise<void>((ok) => {
        for (const t of timers) clearInterval(t);
        timers.clear();
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}
