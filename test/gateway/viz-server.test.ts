/**
 * The HTTP side of `synack gateway --viz` (src/gateway/viz-server.ts): the
 * page, the table and one connection as JSON, the Server-Sent Events feed,
 * and the loopback-only rules — fetched with Node's fetch and node:http from
 * a synack guest's connection through an in-memory gateway.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { Socket as SynackSocket } from '../../src/api/socket.ts';
import { serveGatewayViz, type GatewayVizServer } from '../../src/gateway/viz-server.ts';
import type { GatewayMonitor, MonitorDetail, MonitorRow } from '../../src/gateway/monitor.ts';
import { loadGatewayPage } from '../../src/viz/gateway-page.ts';
import { SynackError } from '../../src/errors.ts';
import { hostServer, memoryGateway, waitFor, type MemorySetup } from './helpers.ts';

let page: Record<string, Uint8Array>;
let r: MemorySetup;
let mon: GatewayMonitor;
let srv: GatewayVizServer;
let h: Awaited<ReturnType<typeof hostServer>>;
let sock: SynackSocket;

before(async () => {
  page = await loadGatewayPage();
  h = await hostServer((s) => {
    s.write('hello guest');
    s.resume();
  });
  r = memoryGateway();
  mon = r.gw.watch();
  srv = await serveGatewayViz(mon, { port: 0, page });
  sock = await new Promise<SynackSocket>((resolve, reject) => {
    const s = r.guest.net.connect(h.port, '10.0.2.2');
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
  sock.resume();
  sock.write('hi host');
  await waitFor('bytes both ways', () => mon.rows()[0]?.bytesDown === 11 && mon.rows()[0]?.bytesUp === 7);
});

after(async () => {
  sock?.destroy();
  await srv?.close();
  mon?.close();
  await r?.close();
  h?.server.close();
});

/** A GET with a chosen Host header (fetch does not let one set it). */
function rawGet(path: string, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port: srv.port, path, headers: { host } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
  });
}

describe('gateway --viz HTTP: page, JSON, event stream, loopback only', { timeout: 60_000 }, () => {
  test('the server listens on 127.0.0.1 and serves the bundled page', async () => {
    assert.match(srv.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    const html = await fetch(srv.url);
    assert.equal(html.status, 200);
    assert.match(html.headers.get('content-type')!, /^text\/html/);
    assert.match(await html.text(), /<script type="module" src="app.js">/);
    const js = await fetch(new URL('app.js', srv.url));
    assert.match(js.headers.get('content-type')!, /^text\/javascript/);
    assert.ok((await js.text()).length > 1000);
    assert.equal((await fetch(new URL('nope.js', srv.url))).status, 404);
    assert.equal((await fetch(new URL('../../etc/passwd', srv.url))).status, 404);
  });

  test('GET /api/connections: the table — the connection with its state, bytes and host socket', async () => {
    const res = await fetch(new URL('api/connections', srv.url));
    assert.equal(res.status, 200);
    const t = (await res.json()) as { rows: MonitorRow[]; stats: { tracked: number } };
    assert.equal(t.rows.length, 1);
    const row = t.rows[0]!;
    assert.equal(row.state, 'ESTABLISHED');
    assert.equal(row.guest, `10.0.2.100:${sock.localPort}`);
    assert.equal(row.bytesUp, 7);
    assert.equal(row.bytesDown, 11);
    assert.equal(row.host!.remote, `127.0.0.1:${h.port}`);
    assert.equal(t.stats.tracked, 1);
  });

  test('GET /api/connections/ID: its segments, from the guest SYN on; an unknown id is 404', async () => {
    const id = mon.rows()[0]!.id;
    const d = (await (await fetch(new URL(`api/connections/${id}`, srv.url))).json()) as MonitorDetail;
    assert.deepEqual(
      d.segments.slice(0, 3).map((s) => `${s.from}:${s.flags}`),
      ['guest:SYN', 'gateway:SYN+ACK', 'guest:ACK'],
    );
    assert.ok(d.segments.some((s) => s.from === 'guest' && s.len === 7));
    assert.equal((await fetch(new URL('api/connections/999', srv.url))).status, 404);
  });

  test('GET /events?conn=ID: Server-Sent Events carrying the table and that connection', async () => {
    const id = mon.rows()[0]!.id;
    const ac = new AbortController();
    const res = await fetch(new URL(`events?conn=${id}`, srv.url), { signal: ac.signal });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/event-stream');
    const reader = res.body!.getReader();
    let text = '';
    const dec = new TextDecoder();
    while (!(text.includes('event: table') && /event: conn\ndata: .*\n\n/.test(text))) {
      const { value, done } = await reader.read();
      if (done) break;
      text += dec.decode(value, { stream: true });
    }
    ac.abort();
    const events = new Map<string, unknown>();
    for (const block of text.split('\n\n')) {
      const m = /^event: (\w+)\ndata: (.*)$/s.exec(block);
      if (m) events.set(m[1]!, JSON.parse(m[2]!));
    }
    assert.equal((events.get('table') as { rows: MonitorRow[] }).rows[0]!.id, id);
    assert.equal((events.get('conn') as MonitorDetail).row.id, id);
    assert.equal((await fetch(new URL('events?conn=x', srv.url))).status, 400);
  });

  test('loopback only: a non-loopback Host header is refused (DNS rebinding), a non-loopback listen address is a typed error', async () => {
    assert.equal(await rawGet('/api/connections', `127.0.0.1:${srv.port}`), 200);
    assert.equal(await rawGet('/api/connections', `localhost:${srv.port}`), 200);
    assert.equal(await rawGet('/api/connections', `evil.example:${srv.port}`), 403);
    assert.equal(await rawGet('/', 'evil.example'), 403);
    assert.equal((await fetch(new URL('api/connections', srv.url), { method: 'POST', body: 'x' })).status, 405, 'read only');
    await assert.rejects(serveGatewayViz(mon, { port: 0, host: '0.0.0.0', page }), (e: unknown) => e instanceof SynackError && e.code === 'ERR_SYNACK_INVALID_ARG');
    await assert.rejects(serveGatewayViz(mon, { port: 70000, page }), (e: unknown) => e instanceof SynackError && e.code === 'ERR_SYNACK_INVALID_ARG');
  });
});

test('createGateway({ viz: { port: 0, page } }): the gateway serves the view itself; `ready` waits for it, close() stops it', { timeout: 30_000 }, async () => {
  const g = memoryGateway({ viz: { port: 0, page } });
  try {
    await g.gw.ready;
    const url = g.gw.viz!.url;
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    const t = (await (await fetch(new URL('api/connections', url))).json()) as { rows: unknown[] };
    assert.deepEqual(t.rows, []);
    await g.close();
    await assert.rejects(fetch(url), 'stopped with the gateway');
  } finally {
    await g.close();
  }
});

test('createGateway({ viz }) on a port already taken: `ready` rejects with the listen error', { timeout: 30_000 }, async () => {
  const g = memoryGateway({ viz: { port: srv.port, page } });
  try {
    await assert.rejects(g.gw.ready, (e: NodeJS.ErrnoException) => e.code === 'EADDRINUSE');
    assert.equal(g.gw.viz, null);
  } finally {
    await g.close();
  }
});
