/**
 * The node:net contract (yamux compliance-suite pattern): the same small
 * scenarios run against Node's own `net` on 127.0.0.1 and against synack's
 * `net` on an in-memory LAN, asserting the same observable events, errors
 * and properties. Any divergence from Node is a failing test here. The
 * IPv6 variants run them against Node on ::1 and synack on IPv6 hosts, and
 * the loopback variants against synack's own loopback interface (a server
 * and a client on one host, through 127.0.0.1 and ::1).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once, type EventEmitter } from 'node:events';
import nodeNet from 'node:net';
import { createMemoryNetwork } from '../../src/index.ts';

/** The part of a net module the scenarios use (node:net and synack's both satisfy it). */
interface NetLike {
  createServer(listener?: (s: nodeNet.Socket) => void): nodeNet.Server;
  createServer(opts: { allowHalfOpen?: boolean }, listener?: (s: nodeNet.Socket) => void): nodeNet.Server;
  connect(port: number, host: string, cb?: () => void): nodeNet.Socket;
  connect(opts: object, cb?: () => void): nodeNet.Socket;
  Socket: new (opts?: object) => nodeNet.Socket;
}

interface Env {
  name: string;
  client: NetLike;
  server: NetLike;
  /** The address servers listen on and clients connect to. */
  host: string;
  /** Its family, as `remoteFamily` shows it. */
  family: 'IPv4' | 'IPv6';
  /** A port where nothing listens. */
  closedPort(): Promise<number>;
}

function nodeEnv(host = '127.0.0.1'): Env {
  return {
    name: 'node:net',
    client: nodeNet as unknown as NetLike,
    server: nodeNet as unknown as NetLike,
    host,
    family: nodeNet.isIPv6(host) ? 'IPv6' : 'IPv4',
    async closedPort() {
      const s = nodeNet.createServer().listen(0, host);
      await once(s, 'listening');
      const port = (s.address() as nodeNet.AddressInfo).port;
      await new Promise((r) => s.close(r));
      return port;
    },
  };
}

/** Two synack hosts on an in-memory LAN (`client` and `server` addresses), or one host talking to itself over `loopback`. */
function synackEnv(client = '10.0.0.1', server = '10.0.0.2', loopback?: string): Env {
  const lan = createMemoryNetwork({ seed: 5 });
  const b = lan.host(server);
  const a = loopback !== undefined ? b : lan.host(client);
  const host = loopback ?? server;
  return {
    name: 'synack',
    client: a.net as unknown as NetLike,
    server: b.net as unknown as NetLike,
    host,
    family: nodeNet.isIPv6(host) ? 'IPv6' : 'IPv4',
    async closedPort() {
      return 4321;
    },
  };
}

async function listen(env: Env, server: nodeNet.Server): Promise<number> {
  server.listen(0, env.host);
  await once(server, 'listening');
  return (server.address() as nodeNet.AddressInfo).port;
}

function record(em: EventEmitter, events: string[]): string[] {
  const log: string[] = [];
  for (const e of events) {
    em.on(e, (arg?: unknown) => {
      if (e === 'close') log.push(`close(${String(arg)})`);
      else if (e === 'error') log.push(`error(${(arg as { code?: string }).code})`);
      else if (e === 'data') log.push(`data(${String(arg)})`);
      else log.push(e);
    });
  }
  return log;
}

const closeOf = (em: EventEmitter) => new Promise((r) => em.once('close', r));
const serverClose = (s: nodeNet.Server) => new Promise((r) => s.close(r));

function contract(makeEnv: () => Env): void {
  test('echo: connect, ready, data, end, finish, close(false) in this order', { timeout: 10_000 }, async () => {
    const env = makeEnv();
    const srv = env.server.createServer((s) => s.once('data', (d) => s.end(`pong:${d}`)));
    const port = await listen(env, srv);
    const c = env.client.connect(port, env.host, () => c.write('ping'));
    const log = record(c, ['connect', 'ready', 'data', 'end', 'finish', 'close']);
    await closeOf(c);
    assert.deepEqual(log, ['connect', 'ready', 'data(pong:ping)', 'end', 'finish', 'close(false)']);
    await serverClose(srv);
  });

  test('ECONNREFUSED: the Node error shape, then close(true)', { timeout: 10_000 }, async () => {
    const env = makeEnv();
    const port = await env.closedPort();
    const c = env.client.connect(port, env.host);
    const log = record(c, ['connect', 'error', 'close']);
    const [e] = (await once(c, 'error').catch((x) => [x])) as [Error & Record<string, unknown>];
    assert.equal(e.code, 'ECONNREFUSED');
    assert.equal(e.errno, -111);
    assert.equal(e.syscall, 'connect');
    assert.equal(e.address, env.host);
    assert.equal(e.port, port);
    assert.equal(e.message, `connect ECONNREFUSED ${env.host}:${port}`);
    assert.deepEqual(Object.keys(e).sort(), ['address', 'code', 'errno', 'port', 'syscall']);
    await closeOf(c);
    assert.deepEqual(log, ['error(ECONNREFUSED)', 'close(true)']);
  });

  test('ECONNRESET after the peer resetAndDestroy()', { timeout: 10_000 }, async () => {
    const env = makeEnv();
    const srv = env.server.createServer((s) => s.once('data', () => s.resetAndDestroy()));
    const port = await listen(env, srv);
    const c = env.client.connect(port, env.host, () => c.write('x'));
    const log = record(c, ['connect', 'error', 'close']);
    await closeOf(c);
    assert.deepEqual(log, ['connect', 'error(ECONNRESET)', 'close(true)']);
    assert.equal((c.errored as { syscall?: string } | null)?.syscall, 'read');
    await serverClose(srv);
  });

  test('EADDRINUSE: listen error shape', { timeout: 10_000 }, async () => {
    const env = makeEnv();
    const s1 = env.server.createServer();
    const port = await listen(env, s1);
    const s2 = env.server.createServer();
    s2.listen(port, env.host);
    const [e] = (await once(s2, 'error').catch((x) => [x])) as [Error & Record<string, unknown>];
    assert.equal(e.code, 'EADDRINUSE');
    assert.equal(e.errno, -98);
    assert.equal(e.syscall, 'listen');
    assert.equal(e.address, env.host);
    assert.equal(e.port, port);
    assert.equal(e.message, `listen EADDRINUSE: address already in use ${env.host}:${port}`);
    assert.equal(s2.listening, false);
    await serverClose(s1);
  });

  test('half-close with allowHalfOpen: readyState writeOnly on the server, reply after end', { timeout: 10_000 }, async () => {
    const env = makeEnv();
    const states: string[] = [];
    const srv = env.server.createServer({ allowHalfOpen: true }, (s) => {
      s.resume();
      s.on('end', () => {
        states.push(s.readyState);
        s.end('late reply');
      });
    });
    const port = await listen(env, srv);
    const c = env.client.connect({ port, host: env.host, allowHalfOpen: true }, () => c.end());
    const log = record(c, ['data', 'end', 'finish', 'close']);
    await closeOf(c);
    assert.deepEqual(states, ['writeOnly']);
    assert.deepEqual(log, ['finish', 'data(late reply)', 'end', 'close(false)']);
    await serverClose(srv);
  });

  test('EPIPE: a write after our automatic end (allowHalfOpen false)', { timeout: 10_000 }, async () => {
    const env = makeEnv();
    const srv = env.server.createServer((s) => s.end());
    const port = await listen(env, srv);
    const c = env.client.connect(port, env.host);
    c.resume();
    const log = record(c, ['end', 'finish', 'error', 'close']);
    let cbCode: string | undefined;
    c.on('end', () => setImmediate(() => c.write('late', (e) => (cbCode = (e as { code?: string } | null)?.code))));
    await closeOf(c);
    await new Promise((r) => setTimeout(r, 10));
    // Node: the socket is already destroyed by then; the callback gets EPIPE, no 'error'.
    assert.equal(cbCode, 'EPIPE');
    assert.deepEqual(log, ['end', 'finish', 'close(false)']);
    await serverClose(srv);
  });

  test('write after end: ERR_STREAM_WRITE_AFTER_END, then close(true)', { timeout: 10_000 }, async () => {
    const env = makeEnv();
    const srv = env.server.createServer((s) => s.resume());
    const port = await listen(env, srv);
    const c = env.client.connect(port, env.host, () => {
      c.end();
      c.write('x');
    });
    const log = record(c, ['error', 'close']);
    await closeOf(c);
    assert.deepEqual(log, ['error(ERR_STREAM_WRITE_AFTER_END)', 'close(true)']);
    await serverClose(srv);
  });

  test('properties before connect, while connecting, after connect and after destroy', { timeout: 10_000 }, async () => {
    const env = makeEnv();
    const srv = env.server.createServer((s) => s.resume());
    const port = await listen(env, srv);
    const fresh = new env.client.Socket();
    assert.deepEqual([fresh.pending, fresh.connecting, fresh.readyState, fresh.remoteAddress, fresh.bytesRead, fresh.bytesWritten], [true, false, 'open', undefined, 0, 0]);
    fresh.destroy();
    const c = env.client.connect(port, env.host);
    assert.deepEqual([c.pending, c.connecting, c.readyState, c.remoteAddress], [true, true, 'opening', undefined]);
    assert.deepEqual(c.address(), {});
    await once(c, 'connect');
    assert.deepEqual([c.pending, c.connecting, c.readyState, c.remoteAddress, c.remotePort, c.remoteFamily], [false, false, 'open', env.host, port, env.family]);
    assert.equal((c.address() as nodeNet.AddressInfo).family, env.family);
    c.write('abc');
    c.destroy();
    assert.equal(c.readyState, 'closed');
    assert.equal(c.destroyed, true);
    assert.equal(c.remoteAddress, env.host, 'cached after first use, as Node does');
    await closeOf(c);
    await serverClose(srv);
  });

  test('bad arguments throw the same coded errors', () => {
    const env = makeEnv();
    assert.throws(() => env.client.connect(65536, env.host), { code: 'ERR_SOCKET_BAD_PORT', name: 'RangeError' });
    assert.throws(() => env.client.connect({ port: true }), { code: 'ERR_INVALID_ARG_TYPE', name: 'TypeError' });
    assert.throws(() => env.client.connect({}), { code: 'ERR_MISSING_ARGS' });
    assert.throws(() => env.client.connect({ port: 80, host: env.host, localAddress: 'x' }), { code: 'ERR_INVALID_IP_ADDRESS' });
    const srv = env.server.createServer();
    assert.throws(() => srv.listen(-1), { code: 'ERR_SOCKET_BAD_PORT' });
    assert.throws(() => new env.client.Socket().setTimeout(-5), { code: 'ERR_OUT_OF_RANGE' });
  });

  test('server.close: ERR_SERVER_NOT_RUNNING when not listening; close waits for connections', { timeout: 10_000 }, async () => {
    const env = makeEnv();
    const idle = env.server.createServer();
    const err = await new Promise<Error & { code?: string }>((r) => idle.close((e) => r(e as Error)));
    assert.equal(err.code, 'ERR_SERVER_NOT_RUNNING');
    const srv = env.server.createServer((s) => s.resume());
    const port = await listen(env, srv);
    const c = env.client.connect(port, env.host);
    await once(c, 'connect');
    await new Promise((r) => setTimeout(r, 20));
    const order: string[] = [];
    srv.close(() => order.push('server close'));
    await new Promise((r) => setTimeout(r, 20));
    order.push('client end');
    c.end();
    c.resume();
    await once(srv, 'close');
    assert.deepEqual(order, ['client end', 'server close']);
  });

  test("maxConnections: 'drop' and the dropped client sees a plain end", { timeout: 10_000 }, async () => {
    const env = makeEnv();
    const srv = env.server.createServer((s) => s.resume());
    srv.maxConnections = 1;
    const port = await listen(env, srv);
    const c1 = env.client.connect(port, env.host);
    await once(c1, 'connect');
    await new Promise((r) => setTimeout(r, 20));
    const drop = once(srv, 'drop');
    const c2 = env.client.connect(port, env.host);
    const log = record(c2, ['connect', 'data', 'end', 'error', 'close']);
    c2.resume();
    const [info] = (await drop) as [Record<string, unknown>];
    assert.equal(info.remoteAddress, c1.localAddress);
    await closeOf(c2);
    assert.deepEqual(log, ['connect', 'end', 'close(false)']);
    c1.end();
    await serverClose(srv);
  });

  test("setTimeout: 'timeout' without closing", { timeout: 10_000 }, async () => {
    const env = makeEnv();
    const srv = env.server.createServer((s) => s.resume());
    const port = await listen(env, srv);
    const c = env.client.connect(port, env.host);
    // Connected first: under load node:net's own connect can take longer than the 25 ms idle time.
    await once(c, 'connect');
    c.setTimeout(25);
    await once(c, 'timeout');
    assert.equal(c.destroyed, false);
    assert.equal(c.readyState, 'open');
    c.end();
    c.resume();
    await closeOf(c);
    await serverClose(srv);
  });

  test("setTimeout: 'timeout' once per idle period; any activity re-arms it, also after it has fired", { timeout: 10_000 }, async () => {
    const env = makeEnv();
    const srv = env.server.createServer((s) => s.pipe(s));
    const port = await listen(env, srv);
    const c = env.client.connect(port, env.host);
    await once(c, 'connect');
    const log = record(c, ['timeout', 'data']);
    try {
      c.setTimeout(150);
      await once(c, 'timeout');
      // Idle on: the timer fired and stays quiet until there is activity.
      await new Promise((r) => setTimeout(r, 400));
      c.write('x');
      await once(c, 'timeout');
      assert.deepEqual(log, ['timeout', 'data(x)', 'timeout']);
    } finally {
      c.destroy();
      srv.close();
    }
    await closeOf(c);
  });

  test("setTimeout: reading alone re-arms the fired timer (the socket writes nothing)", { timeout: 10_000 }, async () => {
    const env = makeEnv();
    let peer: nodeNet.Socket | null = null;
    const srv = env.server.createServer((s) => {
      peer = s;
      s.resume();
    });
    const port = await listen(env, srv);
    const c = env.client.connect(port, env.host);
    await once(c, 'connect');
    const log = record(c, ['timeout', 'data']);
    try {
      c.setTimeout(150);
      await once(c, 'timeout');
      await new Promise((r) => setTimeout(r, 400));
      // Only the peer writes: the client's read is its only activity.
      (peer as nodeNet.Socket | null)!.write('y');
      // (Raced against 3 s, so a timer that is not re-armed fails the test
      // rather than leaving the socket open and the file hanging.)
      const second = await Promise.race([once(c, 'timeout').then(() => 'timeout'), new Promise((r) => setTimeout(() => r('no timeout within 3 s'), 3000))]);
      assert.equal(second, 'timeout');
      assert.deepEqual(log, ['timeout', 'data(y)', 'timeout']);
    } finally {
      c.destroy();
      srv.close();
    }
    await closeOf(c);
  });
}

describe('contract: node:net on 127.0.0.1', () => contract(() => nodeEnv()));
describe('contract: synack net on an in-memory LAN', () => contract(() => synackEnv()));
describe('contract, IPv6: node:net on ::1', () => contract(() => nodeEnv('::1')));
describe('contract, IPv6: synack net on an in-memory IPv6 LAN', () => contract(() => synackEnv('fd00::1', 'fd00::2')));
describe('contract, loopback (RFC 1122 §3.2.1.3): synack net, one host, through 127.0.0.1', () => contract(() => synackEnv('', '10.0.0.2', '127.0.0.1')));
describe('contract, loopback (RFC 4291 §2.5.3): synack net, one host, through ::1', () => contract(() => synackEnv('', 'fd00::2', '::1')));
