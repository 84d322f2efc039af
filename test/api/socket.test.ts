/**
 * net.Socket over synack: data paths, backpressure, half-close, errors,
 * timeouts and properties, on a two-host in-memory LAN driven by the
 * real-clock driver (or the virtual one where the test says so).
 */
import { test as nodeTest } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { Socket } from '../../src/index.ts';
const test = (name: string, fn: () => Promise<void>) => nodeTest(name, { timeout: 15_000 }, fn);
import { closed, collect, errorOf, lan, pattern, record, sha256 } from './helpers.ts';

test('connect, echo round trip, orderly close on both sides', async () => {
  const { a, b } = lan();
  const srv = b.net.createServer((s) => s.pipe(s)).listen(7);
  await once(srv, 'listening');
  const c = a.net.connect(7, '10.0.0.2');
  const whenClosed = closed(c);
  const events = record(c, ['connect', 'ready', 'end', 'finish', 'close']);
  await once(c, 'connect');
  c.end('hello, synack');
  const echoed = await collect(c);
  await whenClosed;
  assert.equal(echoed.toString(), 'hello, synack');
  assert.deepEqual(events, ['connect', 'ready', 'finish', 'end', 'close(false)']);
  await new Promise((r) => srv.close(r));
});

async function bulk(opts: Parameters<typeof lan>[0], size: number) {
  const { a, b, hub } = lan(opts);
  const data = pattern(size, 7);
  let serverGot = '';
  let serverBytes = 0;
  const srv = b.net.createServer({ allowHalfOpen: true }, async (s) => {
    const body = await collect(s);
    serverBytes = s.bytesRead;
    serverGot = sha256(body);
    s.end(Buffer.from(serverGot));
  });
  srv.listen(9000);
  await once(srv, 'listening');
  const c = a.net.connect({ port: 9000, host: '10.0.0.2' });
  const whenClosed = closed(c);
  await once(c, 'connect');
  // Write in 64 KiB pieces honouring backpressure.
  let falses = 0;
  for (let off = 0; off < data.length; off += 65536) {
    if (!c.write(data.subarray(off, off + 65536))) {
      falses++;
      await once(c, 'drain');
    }
  }
  c.end();
  const reply = (await collect(c)).toString();
  await whenClosed;
  await new Promise((r) => srv.close(r));
  return { reply, expected: sha256(data), serverGot, serverBytes, falses, written: c.bytesWritten, hub };
}

test('a 5 MB transfer with backpressure arrives intact (SHA-256)', async () => {
  const r = await bulk({}, 5 * 1024 * 1024);
  assert.equal(r.serverGot, r.expected);
  assert.equal(r.reply, r.expected);
  assert.equal(r.serverBytes, 5 * 1024 * 1024);
  assert.equal(r.written, 5 * 1024 * 1024);
  assert.ok(r.falses > 0, 'write() returned false at least once');
});

test('a 5 MB transfer survives 2% loss and reordering (virtual time, SHA-256)', async () => {
  const r = await bulk({ virtualTime: true, impair: { loss: 0.02, reorder: 0.05, reorderDelayUs: 3000, delayUs: 1000 } }, 5 * 1024 * 1024);
  assert.equal(r.serverGot, r.expected);
  assert.equal(r.reply, r.expected);
  assert.ok(r.hub.stats.lost > 0 && r.hub.stats.reordered > 0, 'the impairments acted');
});

test('segments queued unread reach the application as reads of up to 64 KiB, not one \'data\' per segment (as node:net reads)', async () => {
  // 192 KiB arrive as ~135 segments of MSS 1460 while the server is paused
  // (the hub's segmentation offload off: one packet per segment); resumed,
  // it gets them in 64 KiB reads (node:net's read size), bytes intact.
  const { a, b, stop } = lan({ virtualTime: true, segmentationOffload: false });
  const size = 192 * 1024;
  let server: Socket | null = null;
  const srv = b.net.createServer({ pauseOnConnect: true }, (s) => (server = s)).listen(80);
  await once(srv, 'listening');
  const c = a.net.connect(80, '10.0.0.2');
  await once(c, 'connect');
  const data = pattern(size, 7);
  c.end(data);
  while (!server || (server as Socket).connection!.readable() < size) await new Promise((r) => setImmediate(r));
  const s = server as Socket;
  const sizes: number[] = [];
  s.on('data', (d: Buffer) => sizes.push(d.length));
  const got = collect(s);
  s.resume();
  assert.equal(sha256(await got), sha256(data));
  assert.equal(s.bytesRead, size);
  assert.ok(Math.max(...sizes) <= 64 * 1024, `no read above 64 KiB: ${sizes.join(',')}`);
  assert.ok(sizes.length <= 4, `192 KiB in ${sizes.length} 'data' events (one per segment would be ~135)`);
  await closed(s);
  srv.close();
  stop();
});

test('write() returns false once the send buffer is full, then drain', async () => {
  const { a, b } = lan();
  let server: Socket | null = null;
  const srv = b.net.createServer({ pauseOnConnect: true }, (s) => {
    server = s;
  });
  srv.listen(80);
  const c = a.net.connect(80, '10.0.0.2');
  await once(c, 'connect');
  const chunk = Buffer.alloc(64 * 1024, 1);
  let writes = 0;
  while (c.write(chunk)) writes++;
  assert.ok(writes > 0 && writes < 100, `bounded: ${writes} writes accepted before false`);
  assert.ok(c.writableLength > 0);
  while (!server) await new Promise((r) => setImmediate(r));
  const s = server as Socket;
  s.resume();
  await once(c, 'drain');
  c.destroy();
  await closed(s);
  srv.close();
});

test('half-close with allowHalfOpen: the server sees end, still writes back, then ends', async () => {
  const { a, b } = lan();
  const srv = b.net.createServer({ allowHalfOpen: true }, (s) => {
    const parts: Buffer[] = [];
    s.on('data', (d) => parts.push(d));
    s.on('end', () => {
      // Our side is still writable after the peer's FIN.
      assert.equal(s.writable, true);
      assert.equal(s.readyState, 'writeOnly');
      s.write('got:');
      setTimeout(() => s.end(Buffer.concat(parts)), 20);
    });
  });
  srv.listen(80);
  const c = a.net.connect({ port: 80, host: '10.0.0.2', allowHalfOpen: true });
  const whenClosed = closed(c);
  await once(c, 'connect');
  c.end('question');
  await once(c, 'finish');
  assert.equal(c.readyState, 'readOnly');
  const reply = await collect(c);
  assert.equal(reply.toString(), 'got:question');
  await whenClosed;
  srv.close();
});

test('allowHalfOpen false (default): the peer FIN ends our side automatically', async () => {
  const { a, b } = lan();
  const srv = b.net.createServer((s) => s.end('bye'));
  srv.listen(80);
  const c = a.net.connect(80, '10.0.0.2');
  const events = record(c, ['connect', 'end', 'finish', 'close']);
  const whenClosed = closed(c);
  c.resume();
  await whenClosed;
  assert.deepEqual(events, ['connect', 'end', 'finish', 'close(false)']);
  srv.close();
});

test('write after the peer FIN with allowHalfOpen false calls back with EPIPE (as Node)', async () => {
  const { a, b } = lan();
  const srv = b.net.createServer((s) => s.end());
  srv.listen(80);
  const c = a.net.connect(80, '10.0.0.2');
  c.resume();
  const whenClosed = closed(c);
  const events = record(c, ['end', 'finish', 'error', 'close']);
  const cbErr = new Promise<Error & { code?: string; message: string }>((resolve) =>
    c.on('end', () => setImmediate(() => c.write('late', (e) => resolve(e as Error)))),
  );
  const e = await cbErr;
  assert.equal(e.code, 'EPIPE');
  assert.equal(e.message, 'This socket has been ended by the other party');
  await whenClosed;
  assert.deepEqual(events, ['end', 'finish', 'close(false)']);
  srv.close();
});

test('ECONNREFUSED when nothing listens: code, errno, syscall, address, port; error then close(true)', async () => {
  const { a } = lan();
  const c = a.net.createConnection(81, '10.0.0.2');
  const events = record(c, ['connect', 'error', 'close']);
  const whenClosed = closed(c);
  const e = await errorOf(c);
  assert.equal(e.code, 'ECONNREFUSED');
  assert.equal(e.errno, -111);
  assert.equal(e.syscall, 'connect');
  assert.equal(e.address, '10.0.0.2');
  assert.equal(e.port, 81);
  assert.equal(e.message, 'connect ECONNREFUSED 10.0.0.2:81');
  await whenClosed;
  assert.deepEqual(events, ['error(ECONNREFUSED)', 'close(true)']);
});

test('ECONNRESET when the peer calls resetAndDestroy()', async () => {
  const { a, b } = lan();
  const srv = b.net.createServer((s) => s.once('data', () => s.resetAndDestroy()));
  srv.listen(80);
  const c = a.net.connect(80, '10.0.0.2', () => c.write('x'));
  const whenClosed = closed(c);
  const e = await errorOf(c);
  assert.equal(e.code, 'ECONNRESET');
  assert.equal(e.errno, -104);
  assert.equal(e.syscall, 'read');
  assert.equal(e.message, 'read ECONNRESET');
  await whenClosed;
  srv.close();
});

test('destroy() with unread received bytes resets the peer (Linux close())', async () => {
  const { a, b } = lan();
  const srv = b.net.createServer({ pauseOnConnect: true }, (s) => {
    setTimeout(() => s.destroy(), 30);
  });
  srv.listen(80);
  const c = a.net.connect(80, '10.0.0.2', () => c.write('unread'));
  const e = await errorOf(c);
  assert.equal(e.code, 'ECONNRESET');
  srv.close();
});

test('write after end fails with ERR_STREAM_WRITE_AFTER_END; write after destroy calls back ERR_STREAM_DESTROYED', async () => {
  const { a, b } = lan();
  const srv = b.net.createServer((s) => s.resume());
  srv.listen(80);
  const c = a.net.connect(80, '10.0.0.2');
  await once(c, 'connect');
  c.end();
  const err = errorOf(c);
  const whenClosed = closed(c);
  c.write('x');
  assert.equal((await err).code, 'ERR_STREAM_WRITE_AFTER_END');
  await whenClosed;
  const d = a.net.connect(80, '10.0.0.2');
  d.destroy();
  const cbErr = await new Promise<Error & { code?: string }>((r) => d.write('y', (e) => r(e as Error)));
  assert.equal(cbErr.code, 'ERR_STREAM_DESTROYED');
  srv.close();
});

test('setTimeout emits timeout on idleness and never closes; 0 disables it', async () => {
  const { a, b } = lan();
  const srv = b.net.createServer((s) => s.resume());
  srv.listen(80);
  const c = a.net.connect({ port: 80, host: '10.0.0.2', timeout: 30 });
  assert.equal(c.timeout, 30);
  await once(c, 'timeout');
  assert.equal(c.destroyed, false);
  let fired = 0;
  c.setTimeout(20, () => fired++);
  await once(c, 'timeout');
  assert.equal(fired, 1);
  c.setTimeout(0);
  assert.equal(c.timeout, 0);
  const whenClosed = closed(c);
  c.end();
  await whenClosed;
  srv.close();
});

test('address(), remote/local properties, readyState, pending, bytesRead/bytesWritten (kept after destroy)', async () => {
  const { a, b } = lan();
  const srv = b.net.createServer((s) => {
    assert.equal(s.remoteAddress, '10.0.0.1');
    assert.equal(s.localAddress, '10.0.0.2');
    assert.equal(s.localPort, 80);
    s.resume();
    s.end('0123456789');
  });
  srv.listen(80, '10.0.0.2');
  await once(srv, 'listening');
  assert.deepEqual(srv.address(), { address: '10.0.0.2', family: 'IPv4', port: 80 });
  const c = a.net.connect(80, '10.0.0.2');
  const whenClosed = closed(c);
  assert.equal(c.connecting, true);
  assert.equal(c.pending, true);
  assert.equal(c.readyState, 'opening');
  assert.equal(c.remoteAddress, undefined);
  assert.deepEqual(c.address(), {});
  await once(c, 'connect');
  assert.equal(c.connecting, false);
  assert.equal(c.pending, false);
  assert.equal(c.readyState, 'open');
  assert.equal(c.remoteAddress, '10.0.0.2');
  assert.equal(c.remotePort, 80);
  assert.equal(c.remoteFamily, 'IPv4');
  const addr = c.address() as { address: string; port: number; family: string };
  assert.equal(addr.address, '10.0.0.1');
  assert.equal(addr.family, 'IPv4');
  assert.ok(addr.port >= 49152 && addr.port <= 65535);
  c.write('abc');
  c.resume();
  await whenClosed;
  assert.equal(c.bytesRead, 10);
  assert.equal(c.bytesWritten, 3);
  assert.equal(c.readyState, 'closed');
  srv.close();
});

test('bad input gives Node-shaped errors, never a crash or hang', async () => {
  const { a } = lan();
  assert.throws(() => a.net.connect(70000, '10.0.0.2'), { code: 'ERR_SOCKET_BAD_PORT', name: 'RangeError' });
  assert.throws(() => a.net.connect(-1, '10.0.0.2'), { code: 'ERR_SOCKET_BAD_PORT' });
  assert.throws(() => a.net.connect({ port: {} as unknown as number }), { code: 'ERR_INVALID_ARG_TYPE' });
  assert.throws(() => a.net.connect({} as never), { code: 'ERR_MISSING_ARGS' });
  assert.throws(() => a.net.connect('/tmp/ipc.sock' as never), { code: 'ERR_INVALID_ARG_VALUE' });
  assert.throws(() => a.net.connect({ port: 80, host: '10.0.0.2', localAddress: 'nope' }), { code: 'ERR_INVALID_IP_ADDRESS' });
  const c1 = a.net.connect(80, 'no-such-host');
  const e1 = await errorOf(c1);
  assert.equal(e1.code, 'ENOTFOUND');
  assert.equal(e1.syscall, 'getaddrinfo');
  assert.equal(e1.hostname, 'no-such-host');
  const c2 = a.net.connect(80); // host defaults to localhost: 127.0.0.1 and ::1 refused, as node:net's AggregateError
  assert.equal((await errorOf(c2)).code, 'ECONNREFUSED');
  // An IPv6 literal on a host without an IPv6 address: no route (Linux: ENETUNREACH).
  const c3 = a.net.connect(80, 'fd00::2');
  assert.equal((await errorOf(c3)).code, 'ENETUNREACH');
  const c4 = a.net.connect({ port: 80, host: '10.0.0.2', localAddress: '10.9.9.9' });
  assert.equal((await errorOf(c4)).code, 'EADDRNOTAVAIL');
  const c5 = new a.net.Socket();
  assert.throws(() => c5.setTimeout(-1), { code: 'ERR_OUT_OF_RANGE' });
  assert.throws(() => c5.setTimeout('x' as never), { code: 'ERR_INVALID_ARG_TYPE' });
  c5.destroy();
  await closed(c5);
});

test('host names from the network table resolve, with a lookup event', async () => {
  const { a, b } = lan();
  const srv = b.net.createServer((s) => s.end('hi'));
  srv.listen(80);
  const c = a.net.connect(80, 'server');
  const [err, address, family, host] = await once(c, 'lookup');
  assert.deepEqual([err, address, family, host], [null, '10.0.0.2', 4, 'server']);
  assert.equal((await collect(c)).toString(), 'hi');
  srv.close();
});

test('a user lookup function is honoured', async () => {
  const { a, b } = lan();
  const srv = b.net.createServer((s) => s.end('via lookup'));
  srv.listen(80);
  const c = a.net.connect({
    port: 80,
    host: 'example.test',
    lookup: (_h, _o, cb) => cb(null, [{ address: '10.0.0.2', family: 4 }]),
  });
  assert.equal((await collect(c)).toString(), 'via lookup');
  srv.close();
});

test('setNoDelay/setKeepAlive before connect are remembered; setters return this', async () => {
  const { a, b } = lan();
  const srv = b.net.createServer({ noDelay: true, keepAlive: true, keepAliveInitialDelay: 5000 }, (s) => {
    assert.equal(s.connection?.config.noDelay, true);
    assert.equal(s.connection?.config.keepAlive, true);
    assert.equal(s.connection?.config.keepAliveIdleUs, 5_000_000);
    s.end();
  });
  srv.listen(80);
  const c = new a.net.Socket();
  assert.equal(c.setNoDelay(), c);
  assert.equal(c.setKeepAlive(true, 1000), c);
  assert.equal(c.ref(), c);
  c.connect(80, '10.0.0.2');
  const whenClosed = closed(c);
  await once(c, 'connect');
  assert.equal(c.connection?.config.noDelay, true);
  assert.equal(c.connection?.config.keepAlive, true);
  assert.equal(c.connection?.config.keepAliveIdleUs, 1_000_000);
  c.resume();
  await whenClosed;
  srv.close();
});

test('writes issued while connecting are sent after connect; end() before connect works', async () => {
  const { a, b } = lan();
  const srv = b.net.createServer((s) => s.pipe(s));
  srv.listen(80);
  const c = a.net.connect(80, '10.0.0.2');
  c.write('early ');
  c.end('bird');
  assert.equal((await collect(c)).toString(), 'early bird');
  srv.close();
});

test('destroySoon ends, then destroys after finish', async () => {
  const { a, b } = lan();
  const srv = b.net.createServer((s) => s.resume());
  srv.listen(80);
  const c = a.net.connect(80, '10.0.0.2');
  await once(c, 'connect');
  c.write('x');
  c.destroySoon();
  const events = record(c, ['finish', 'close']);
  await closed(c);
  assert.deepEqual(events, ['finish', 'close(false)']);
  srv.close();
});
