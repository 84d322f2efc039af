/**
 * net.Server over synack: listen forms and errors, close semantics,
 * maxConnections, getConnections, pauseOnConnect.
 */
import { test as nodeTest } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { Socket } from '../../src/index.ts';
import { closed, collect, errorOf, lan } from './helpers.ts';

const test = (name: string, fn: () => Promise<void>) => nodeTest(name, { timeout: 15_000 }, fn);

test("listen is asynchronous: 'listening' on a later tick, callback form, address()", async () => {
  const { b } = lan();
  const srv = b.net.createServer();
  let sync = true;
  let cbCalled = false;
  srv.listen(8080, '10.0.0.2', 16, () => {
    cbCalled = true;
    assert.equal(sync, false);
  });
  sync = false;
  assert.equal(srv.listening, true);
  await once(srv, 'listening');
  assert.equal(cbCalled, true);
  assert.deepEqual(srv.address(), { address: '10.0.0.2', family: 'IPv4', port: 8080 });
  await new Promise((r) => srv.close(r));
  assert.equal(srv.address(), null);
});

test('listen(0) and listen() pick an ephemeral port; listen({ port }) works', async () => {
  const { b } = lan();
  const s1 = b.net.createServer().listen(0);
  const s2 = b.net.createServer().listen();
  const s3 = b.net.createServer().listen({ port: 9999, host: '0.0.0.0' });
  await Promise.all([once(s1, 'listening'), once(s2, 'listening'), once(s3, 'listening')]);
  const p1 = s1.address()!.port;
  const p2 = s2.address()!.port;
  assert.ok(p1 > 0 && p2 > 0 && p1 !== p2);
  assert.deepEqual(s3.address(), { address: '0.0.0.0', family: 'IPv4', port: 9999 });
  for (const s of [s1, s2, s3]) s.close();
});

test('EADDRINUSE on a second listen of the same port, via error on a later tick', async () => {
  const { b } = lan();
  const s1 = b.net.createServer().listen(80);
  const s2 = b.net.createServer();
  let sync = true;
  const errP = errorOf(s2);
  s2.listen(80);
  sync = false;
  const e = await errP;
  assert.equal(sync, false);
  assert.equal(e.code, 'EADDRINUSE');
  assert.equal(e.errno, -98);
  assert.equal(e.syscall, 'listen');
  // listen(port) without a host binds `::` (dual stack), as Node does.
  assert.equal(e.address, '::');
  assert.equal(e.port, 80);
  assert.equal(e.message, 'listen EADDRINUSE: address already in use :::80');
  assert.equal(s2.listening, false);
  s1.close();
});

test('listen twice throws ERR_SERVER_ALREADY_LISTEN; close() when not running gives ERR_SERVER_NOT_RUNNING', async () => {
  const { b } = lan();
  const srv = b.net.createServer().listen(80);
  assert.throws(() => srv.listen(81), { code: 'ERR_SERVER_ALREADY_LISTEN' });
  await new Promise((r) => srv.close(r));
  const err = await new Promise<Error & { code?: string }>((r) => srv.close((e) => r(e as Error)));
  assert.equal(err.code, 'ERR_SERVER_NOT_RUNNING');
  assert.throws(() => srv.listen(70000), { code: 'ERR_SOCKET_BAD_PORT' });
  assert.throws(() => srv.listen({ host: '10.0.0.2' }), { code: 'ERR_INVALID_ARG_VALUE' });
  assert.throws(() => srv.listen('/tmp/x.sock'), { code: 'ERR_INVALID_ARG_VALUE' });
  const bad = b.net.createServer().listen(80, '10.9.9.9');
  assert.equal((await errorOf(bad)).code, 'EADDRNOTAVAIL');
});

test("close() stops accepting at once but 'close' waits for every connection", async () => {
  const { a, b } = lan();
  const accepted: Socket[] = [];
  const srv = b.net.createServer((s) => {
    accepted.push(s);
    s.resume();
  });
  srv.listen(80);
  const c1 = a.net.connect(80, '10.0.0.2');
  await once(c1, 'connect');
  while (accepted.length < 1) await new Promise((r) => setImmediate(r));
  let serverClosed = false;
  srv.close(() => {
    serverClosed = true;
  });
  assert.equal(srv.listening, false);
  // New connections are refused now.
  const c2 = a.net.connect(80, '10.0.0.2');
  assert.equal((await errorOf(c2)).code, 'ECONNREFUSED');
  assert.equal(serverClosed, false, "no 'close' while a connection is open");
  const n = await new Promise<number>((r) => srv.getConnections((_e, k) => r(k)));
  assert.equal(n, 1);
  c1.end();
  c1.resume();
  await once(srv, 'close');
  assert.equal(serverClosed, true);
});

test("maxConnections: extra connections are closed and 'drop' is emitted", async () => {
  const { a, b } = lan();
  const srv = b.net.createServer((s) => s.resume());
  srv.maxConnections = 1;
  srv.listen(80);
  const c1 = a.net.connect(80, '10.0.0.2');
  await once(c1, 'connect');
  await new Promise((r) => setTimeout(r, 10));
  const dropP = once(srv, 'drop');
  const c2 = a.net.connect(80, '10.0.0.2');
  const [info] = (await dropP) as [Record<string, unknown>];
  // A server on `::` reports IPv4 peers IPv4-mapped, as Node does.
  assert.equal(info.localAddress, '::ffff:10.0.0.2');
  assert.equal(info.localPort, 80);
  assert.equal(info.remoteAddress, '::ffff:10.0.0.1');
  assert.equal(info.remoteFamily, 'IPv6');
  // The dropped client sees its connection end without data (Node closes the handle).
  const got = await collect(c2);
  assert.equal(got.length, 0);
  c1.end();
  await new Promise((r) => srv.close(r));
});

test('pauseOnConnect: no data flows until resume()', async () => {
  const { a, b } = lan();
  let server: Socket | null = null;
  const srv = b.net.createServer({ pauseOnConnect: true }, (s) => {
    server = s;
  });
  srv.listen(80);
  const c = a.net.connect(80, '10.0.0.2', () => c.end('payload'));
  while (!server) await new Promise((r) => setImmediate(r));
  const s = server as Socket;
  let early = 0;
  s.on('data', () => early++);
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(early, 0);
  assert.equal(s.isPaused(), true);
  const body = collect(s);
  s.resume();
  assert.equal((await body).toString(), 'payload');
  await closed(c);
  srv.close();
});

test('server sockets know their server; unref() lets the loop go', async () => {
  const { a, b, driver } = lan();
  const srv = b.net.createServer((s) => {
    assert.equal(s.server, srv);
    s.end();
  });
  srv.listen(80);
  await once(srv, 'listening');
  assert.equal(driver.refCount, 1);
  srv.unref();
  assert.equal(driver.refCount, 0);
  srv.ref();
  const c = a.net.connect(80, '10.0.0.2');
  c.resume();
  await closed(c);
  srv.close();
  await once(srv, 'close');
  assert.equal(driver.refCount, 0);
});
