/**
 * The node:dgram contract: the same scenarios run against Node's own
 * `dgram` on loopback (127.0.0.1 and ::1) and against synack's `dgram` on
 * an in-memory LAN (10.0.0.0/24 and fd00::/64), asserting the same events,
 * errors and properties (the pattern of net-contract.test.ts). Node's
 * behaviour here is Linux's: a connected socket hears an ICMP port
 * unreachable as ECONNREFUSED, a broadcast needs SO_BROADCAST.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once, type EventEmitter } from 'node:events';
import nodeDgram from 'node:dgram';
import { createMemoryNetwork } from '../../src/index.ts';

type Sock = nodeDgram.Socket;
interface DgramLike {
  createSocket(type: 'udp4' | 'udp6' | nodeDgram.SocketOptions, listener?: (msg: Buffer, rinfo: nodeDgram.RemoteInfo) => void): Sock;
}

interface Env {
  name: string;
  type: 'udp4' | 'udp6';
  family: 'IPv4' | 'IPv6';
  client: DgramLike;
  server: DgramLike;
  /** The client's and the server's address. */
  clientHost: string;
  host: string;
  /** A broadcast address of the client's subnet (IPv4 only). */
  broadcast: string;
  stop(): void;
}

function nodeEnv(type: 'udp4' | 'udp6'): () => Env {
  const host = type === 'udp4' ? '127.0.0.1' : '::1';
  return () => ({
    name: 'node:dgram',
    type,
    family: type === 'udp4' ? 'IPv4' : 'IPv6',
    client: nodeDgram as unknown as DgramLike,
    server: nodeDgram as unknown as DgramLike,
    clientHost: host,
    host,
    broadcast: '127.255.255.255',
    stop() {},
  });
}

function synackEnv(type: 'udp4' | 'udp6'): () => Env {
  return () => {
    const lan = createMemoryNetwork({ seed: 5 });
    const a = lan.host('10.0.0.1', { also: 'fd00::1' });
    const b = lan.host('10.0.0.2', { also: 'fd00::2' });
    return {
      name: 'synack',
      type,
      family: type === 'udp4' ? 'IPv4' : 'IPv6',
      client: a.dgram as unknown as DgramLike,
      server: b.dgram as unknown as DgramLike,
      clientHost: type === 'udp4' ? '10.0.0.1' : 'fd00::1',
      host: type === 'udp4' ? '10.0.0.2' : 'fd00::2',
      broadcast: '10.0.0.255',
      stop: () => lan.stop(),
    };
  };
}

async function bound(env: Env, side: 'client' | 'server', port = 0): Promise<Sock> {
  const s = env[side].createSocket(env.type);
  s.bind(port, side === 'server' ? env.host : env.clientHost);
  await once(s, 'listening');
  return s;
}

const closeOf = (s: Sock): Promise<void> => new Promise((r) => s.close(() => r()));
const message = (s: EventEmitter): Promise<[Buffer, nodeDgram.RemoteInfo]> => once(s, 'message') as Promise<[Buffer, nodeDgram.RemoteInfo]>;
const sendP = (s: Sock, ...args: unknown[]): Promise<[Error | null, number | undefined]> =>
  new Promise((r) => (s.send as (...a: unknown[]) => void)(...args, (e: Error | null, n?: number) => r([e, n])));

function contract(makeEnv: () => Env): void {
  test('bind: listening, address(), the bind callback, close(cb) then close', { timeout: 10_000 }, async () => {
    const env = makeEnv();
    const s = env.server.createSocket(env.type);
    const log: string[] = [];
    s.on('listening', () => log.push('listening'));
    s.on('close', () => log.push('close'));
    s.bind(0, env.host, () => log.push('bind cb'));
    assert.throws(() => s.bind(0), { code: 'ERR_SOCKET_ALREADY_BOUND' });
    await once(s, 'listening');
    const a = s.address();
    assert.equal(a.address, env.host);
    assert.equal(a.family, env.family);
    assert.ok(a.port > 0);
    await closeOf(s);
    assert.deepEqual(log, ['listening', 'bind cb', 'close']);
    env.stop();
  });

  test("send/receive: 'message' with rinfo { address, family, port, size }, the send callback (null, bytes), a reply to rinfo", { timeout: 10_000 }, async () => {
    const env = makeEnv();
    const srv = await bound(env, 'server');
    const port = srv.address().port;
    srv.on('message', (m, r) => srv.send(`pong:${m}`, r.port, r.address));
    const c = await bound(env, 'client');
    const got = message(c);
    const [err, n] = await sendP(c, 'ping', port, env.host);
    assert.deepEqual([err, n], [null, 4]);
    const [msg, rinfo] = await got;
    assert.equal(msg.toString(), 'pong:ping');
    assert.deepEqual(rinfo, { address: env.host, family: env.family, port, size: 9 });
    // Offset and length, and a list of buffers.
    const part = message(srv);
    c.send(Buffer.from('xxhelloxx'), 2, 5, port, env.host);
    const [m2, r2] = await part;
    assert.equal(m2.toString(), 'hello');
    assert.deepEqual(r2, { address: env.clientHost, family: env.family, port: c.address().port, size: 5 });
    const list = message(srv);
    c.send([Buffer.from('ab'), 'cd'], port, env.host);
    assert.equal((await list)[0].toString(), 'abcd');
    await closeOf(c);
    await closeOf(srv);
    env.stop();
  });

  test('connect: the connect event, remoteAddress(), address() filled in, send without an address; IS_CONNECTED / NOT_CONNECTED errors; disconnect', { timeout: 10_000 }, async () => {
    const env = makeEnv();
    const srv = await bound(env, 'server');
    const port = srv.address().port;
    const c = env.client.createSocket(env.type);
    assert.throws(() => c.remoteAddress(), { code: 'ERR_SOCKET_DGRAM_NOT_CONNECTED' });
    assert.throws(() => c.disconnect(), { code: 'ERR_SOCKET_DGRAM_NOT_CONNECTED' });
    const log: string[] = [];
    c.on('listening', () => log.push('listening'));
    c.connect(port, env.host, () => log.push('connect cb'));
    assert.throws(() => c.connect(port, env.host), { code: 'ERR_SOCKET_DGRAM_IS_CONNECTED' });
    await once(c, 'connect');
    assert.deepEqual(log, ['listening', 'connect cb']);
    assert.deepEqual(c.remoteAddress(), { address: env.host, family: env.family, port });
    assert.equal(c.address().address, env.clientHost, 'connect() chose the source address');
    assert.throws(() => c.send('xyz', 0, 1, port, env.host), { code: 'ERR_SOCKET_DGRAM_IS_CONNECTED' });
    const got = message(srv);
    const [err, n] = await sendP(c, 'hi');
    assert.deepEqual([err, n], [null, 2]);
    const [msg, rinfo] = await got;
    assert.equal(msg.toString(), 'hi');
    assert.equal(rinfo.port, c.address().port);
    c.disconnect();
    assert.throws(() => c.remoteAddress(), { code: 'ERR_SOCKET_DGRAM_NOT_CONNECTED' });
    assert.throws(() => c.send('x'), { code: 'ERR_SOCKET_BAD_PORT', name: 'RangeError' });
    await closeOf(c);
    await closeOf(srv);
    env.stop();
  });

  test('errors: bad type, bad ports, EADDRINUSE shape, EBADF before bind, NOT_RUNNING after close', { timeout: 10_000 }, async () => {
    const env = makeEnv();
    assert.throws(() => env.client.createSocket('udp5' as 'udp4'), { code: 'ERR_SOCKET_BAD_TYPE', name: 'TypeError' });
    const s = env.server.createSocket(env.type);
    assert.throws(() => s.send('x', 0, env.host), { code: 'ERR_SOCKET_BAD_PORT', name: 'RangeError', message: 'Port should be > 0 and < 65536. Received type number (0).' });
    assert.throws(() => s.connect(0, env.host), { code: 'ERR_SOCKET_BAD_PORT' });
    assert.throws(() => s.address(), { code: 'EBADF', syscall: 'getsockname' });
    assert.throws(() => s.setBroadcast(true), { code: 'EBADF', syscall: 'setBroadcast' });
    s.bind(0, env.host);
    await once(s, 'listening');
    const port = s.address().port;
    const s2 = env.server.createSocket(env.type);
    s2.bind(port, env.host);
    const [e] = (await once(s2, 'error')) as [Error & Record<string, unknown>];
    assert.equal(e.code, 'EADDRINUSE');
    assert.equal(e.errno, -98);
    assert.equal(e.syscall, 'bind');
    assert.equal(e.address, env.host);
    assert.equal(e.port, port);
    assert.equal(e.message, `bind EADDRINUSE ${env.host}:${port}`);
    s2.close();
    // SO_REUSEADDR on both: the port is shared.
    const r1 = env.server.createSocket({ type: env.type, reuseAddr: true });
    r1.bind(0, env.host);
    await once(r1, 'listening');
    const r2 = env.server.createSocket({ type: env.type, reuseAddr: true });
    r2.bind(r1.address().port, env.host);
    await once(r2, 'listening');
    r1.close();
    r2.close();
    await closeOf(s);
    assert.throws(() => s.send('x', port, env.host), { code: 'ERR_SOCKET_DGRAM_NOT_RUNNING', message: 'Not running' });
    assert.throws(() => s.address(), { code: 'ERR_SOCKET_DGRAM_NOT_RUNNING' });
    assert.throws(() => s.close(), { code: 'ERR_SOCKET_DGRAM_NOT_RUNNING' });
    env.stop();
  });

  test('close: no message after close(); close() right after send() (still binding) closes and drops the datagram with no callback', { timeout: 10_000 }, async () => {
    const env = makeEnv();
    const srv = await bound(env, 'server');
    const port = srv.address().port;
    let after = 0;
    srv.on('message', () => after++);
    await closeOf(srv);
    const c = env.client.createSocket(env.type);
    const log: string[] = [];
    c.on('listening', () => log.push('listening'));
    c.send('lost', port, env.host, (err) => log.push(`sent(${err === null ? 'null' : (err as { code?: string }).code})`));
    c.close(() => log.push('close'));
    await once(c, 'close');
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(after, 0);
    // Node drops a send still waiting for its address lookup when the socket closes.
    assert.deepEqual(log, ['listening', 'close']);
    env.stop();
  });

  for (const size of [8 * 1024, 60 * 1024]) {
    test(`a ${size / 1024} KiB datagram arrives whole (in fragments on synack's 1500-octet hub)`, { timeout: 10_000 }, async () => {
      const env = makeEnv();
      const srv = await bound(env, 'server');
      const c = await bound(env, 'client');
      const data = Buffer.alloc(size);
      for (let i = 0; i < size; i++) data[i] = (i * 31 + 7) & 0xff;
      const got = message(srv);
      c.send(data, srv.address().port, env.host);
      const [msg, rinfo] = await got;
      assert.equal(rinfo.size, size);
      assert.ok(msg.equals(data));
      await closeOf(c);
      await closeOf(srv);
      env.stop();
    });
  }

  test('EMSGSIZE: a datagram longer than one IP datagram can carry, to the send callback only', { timeout: 10_000 }, async () => {
    const env = makeEnv();
    const c = await bound(env, 'client');
    const max = env.type === 'udp4' ? 65507 : 65527;
    const [e] = await sendP(c, Buffer.alloc(max + 1), 9, env.host);
    assert.equal((e as { code?: string }).code, 'EMSGSIZE');
    assert.equal((e as { syscall?: string }).syscall, 'send');
    await closeOf(c);
    env.stop();
  });

  test('Linux: a connected socket hears the port unreachable its datagram drew as an error ECONNREFUSED (syscall recvmsg)', { timeout: 10_000 }, async () => {
    const env = makeEnv();
    const gone = await bound(env, 'server');
    const port = gone.address().port;
    await closeOf(gone);
    const c = env.client.createSocket(env.type);
    c.connect(port, env.host);
    await once(c, 'connect');
    c.send('anyone?');
    const [e] = (await once(c, 'error')) as [Error & Record<string, unknown>];
    assert.equal(e.code, 'ECONNREFUSED');
    assert.equal(e.errno, -111);
    assert.equal(e.syscall, 'recvmsg');
    assert.equal(e.message, 'recvmsg ECONNREFUSED');
    // The socket still works.
    c.disconnect();
    await closeOf(c);
    env.stop();
  });

  test('buffer sizes: setRecvBufferSize(n) reads back as 2n, as Linux', { timeout: 10_000 }, async () => {
    const env = makeEnv();
    const c = await bound(env, 'client');
    c.setRecvBufferSize(10_000);
    assert.equal(c.getRecvBufferSize(), 20_000);
    assert.equal(c.setTTL(7), 7);
    assert.throws(() => c.setTTL(0), { code: 'EINVAL', syscall: 'setTTL' });
    await closeOf(c);
    env.stop();
  });
}

function broadcast(makeEnv: () => Env): void {
  test('broadcast: EACCES to the send callback without setBroadcast(true); sent once it is set', { timeout: 10_000 }, async () => {
    const env = makeEnv();
    const c = env.client.createSocket('udp4');
    c.bind(0);
    await once(c, 'listening');
    const [e] = await sendP(c, 'x', 9, env.broadcast);
    assert.equal((e as { code?: string }).code, 'EACCES');
    assert.equal((e as { errno?: number }).errno, -13);
    assert.equal((e as { syscall?: string }).syscall, 'send');
    assert.equal((e as { address?: string }).address, env.broadcast);
    assert.equal(e!.message, `send EACCES ${env.broadcast}:9`);
    c.setBroadcast(true);
    const [e2, n] = await sendP(c, 'x', 9, env.broadcast);
    assert.deepEqual([e2, n], [null, 1]);
    await closeOf(c);
    env.stop();
  });
}

describe('contract: node:dgram udp4 on 127.0.0.1', () => {
  contract(nodeEnv('udp4'));
  broadcast(nodeEnv('udp4'));
});
describe('contract: node:dgram udp6 on ::1', () => contract(nodeEnv('udp6')));
describe('contract: synack dgram udp4 on an in-memory LAN', () => {
  contract(synackEnv('udp4'));
  broadcast(synackEnv('udp4'));
});
describe('contract: synack dgram udp6 on an in-memory LAN', () => contract(synackEnv('udp6')));
