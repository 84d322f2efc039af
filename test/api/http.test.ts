/**
 * node:http over synack sockets: the real compatibility check (http uses
 * timeouts, no-delay, half-open handling and keep-alive, not just streams).
 */
import { test as nodeTest } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import type { Duplex } from 'node:stream';
import { lan, pattern, sha256 } from './helpers.ts';

const test = (name: string, fn: () => Promise<void>) => nodeTest(name, { timeout: 15_000 }, fn);

function body(res: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    res.on('data', (c: Buffer) => parts.push(c));
    res.on('end', () => resolve(Buffer.concat(parts)));
    res.on('error', reject);
  });
}

/** An http.Server fed with synack connections. */
function httpOverSynack(handler: http.RequestListener) {
  const l = lan();
  const httpServer = http.createServer({ keepAliveTimeout: 5000 }, handler);
  const synackServer = l.b.net.createServer((s) => httpServer.emit('connection', s));
  synackServer.listen(80);
  const close = async () => {
    httpServer.closeAllConnections();
    httpServer.close();
    await new Promise((r) => synackServer.close(r));
  };
  return { ...l, httpServer, synackServer, close };
}

function request(
  opts: http.RequestOptions,
  payload?: Buffer | string,
): Promise<{ res: http.IncomingMessage; body: Buffer; socket: Duplex }> {
  return new Promise((resolve, reject) => {
    const req = http.request(opts, async (res) => {
      try {
        resolve({ res, body: await body(res), socket: req.socket as Duplex });
      } catch (e) {
        reject(e);
      }
    });
    req.on('error', reject);
    req.end(payload);
  });
}

test('http.Server fed by a synack server answers GET and POST with a body', async () => {
  const t = httpOverSynack(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const reqBody = Buffer.concat(chunks);
    res.setHeader('x-method', req.method ?? '');
    res.setHeader('x-remote', req.socket.remoteAddress ?? '');
    res.end(req.method === 'POST' ? `sha256=${sha256(reqBody)}` : `hello ${req.url}`);
  });
  const get = await request({ path: '/index', createConnection: () => t.a.net.createConnection(80, '10.0.0.2') });
  assert.equal(get.res.statusCode, 200);
  assert.equal(get.res.headers['x-method'], 'GET');
  // The server listens on `::` (dual stack): an IPv4 peer is IPv4-mapped, as in Node.
  assert.equal(get.res.headers['x-remote'], '::ffff:10.0.0.1');
  assert.equal(get.body.toString(), 'hello /index');
  const payload = pattern(300_000, 3);
  const post = await request(
    { method: 'POST', path: '/upload', headers: { 'content-type': 'application/octet-stream' }, createConnection: () => t.a.net.createConnection(80, '10.0.0.2') },
    payload,
  );
  assert.equal(post.res.statusCode, 200);
  assert.equal(post.body.toString(), `sha256=${sha256(payload)}`);
  await t.close();
});

test('http.request over a synack socket to a synack-fed http.Server: chunked response, status and headers', async () => {
  const t = httpOverSynack((req, res) => {
    res.writeHead(201, { 'x-custom': 'yes', 'content-type': 'text/plain' });
    res.write('part1,');
    setTimeout(() => res.end('part2'), 5);
  });
  const r = await request({ method: 'GET', path: '/', createConnection: () => t.a.net.createConnection({ port: 80, host: '10.0.0.2' }) });
  assert.equal(r.res.statusCode, 201);
  assert.equal(r.res.headers['x-custom'], 'yes');
  assert.equal(r.res.headers['transfer-encoding'], 'chunked');
  assert.equal(r.body.toString(), 'part1,part2');
  await t.close();
});

test('keep-alive: two requests reuse one synack connection through an http.Agent', async () => {
  let connections = 0;
  const t = httpOverSynack((req, res) => res.end(`n=${req.url}`));
  t.synackServer.on('connection', () => connections++);
  class SynackAgent extends http.Agent {
    override createConnection(options: { port?: number | string | null; host?: string | null }, cb?: unknown): Duplex {
      void cb;
      return t.a.net.createConnection({ port: Number(options.port ?? 80), host: String(options.host) });
    }
  }
  const agent = new SynackAgent({ keepAlive: true, maxSockets: 1 });
  const r1 = await request({ agent, host: '10.0.0.2', port: 80, path: '/1' });
  const r2 = await request({ agent, host: '10.0.0.2', port: 80, path: '/2' });
  assert.equal(r1.body.toString(), 'n=/1');
  assert.equal(r2.body.toString(), 'n=/2');
  assert.equal(r1.socket, r2.socket, 'the same socket served both requests');
  assert.equal(connections, 1);
  const sock = r2.socket;
  agent.destroy();
  if (!sock.destroyed) await once(sock, 'close');
  await t.close();
});
