/** The BSD socket API over a synack stack: errno values as FreeBSD gives them. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Network } from '../../src/sim/network.ts';
import { parseIpv4Addr } from '../../src/wire/bytes.ts';
import {
  AF_INET,
  BsdSockets,
  Errno,
  F_GETFL,
  F_SETFL,
  IPPROTO_TCP,
  O_NONBLOCK,
  O_RDWR,
  POLLIN,
  POLLOUT,
  SHUT_WR,
  SOCK_STREAM,
  SOL_SOCKET,
  SO_ERROR,
  SO_KEEPALIVE,
  SO_RCVBUF,
  TCP_KEEPIDLE,
  TCP_NODELAY,
  isPending,
  type MaybeBlocking,
} from '../../src/bsd/index.ts';

function pair() {
  const net = new Network({ seed: 3 });
  const hub = net.addHub();
  const A = parseIpv4Addr('10.0.0.1')!;
  const B = parseIpv4Addr('10.0.0.2')!;
  const sa = net.addStack({ name: 'a' });
  const sb = net.addStack({ name: 'b' });
  net.attach(sa, hub, A);
  net.attach(sb, hub, B);
  return { net, A, B, a: new BsdSockets(sa), b: new BsdSockets(sb) };
}

function val<T>(r: MaybeBlocking<T>): T {
  assert.ok(!isPending(r), 'did not expect a pending call');
  if (!r.ok) assert.fail(`errno ${r.errno}`);
  return r.value;
}

function err<T>(r: MaybeBlocking<T>): number {
  assert.ok(!isPending(r) && !r.ok, 'expected an error');
  return (r as { errno: number }).errno;
}

test('non-blocking connect/accept/send/recv/shutdown with FreeBSD errno values', () => {
  const { net, B, a, b } = pair();
  const ls = val(b.socket(AF_INET, SOCK_STREAM, IPPROTO_TCP));
  assert.equal(ls, 3);
  val(b.fcntl(ls, F_SETFL, O_RDWR | O_NONBLOCK));
  assert.equal(val(b.fcntl(ls, F_GETFL)), O_RDWR | O_NONBLOCK);
  val(b.bind(ls, 0, 80));
  val(b.listen(ls, 5));
  assert.equal(err(b.accept(ls)), Errno.EAGAIN);
  const other = val(b.socket(AF_INET, SOCK_STREAM, IPPROTO_TCP));
  assert.equal(err(b.bind(other, 0, 80)), Errno.EADDRINUSE);

  const c = val(a.socket(AF_INET, SOCK_STREAM, IPPROTO_TCP));
  val(a.fcntl(c, F_SETFL, O_NONBLOCK));
  assert.equal(err(a.recv(c, 10)), Errno.ENOTCONN);
  assert.equal(err(a.connect(c, B, 80)), Errno.EINPROGRESS);
  assert.equal(err(a.connect(c, B, 80)), Errno.EALREADY);
  assert.equal(err(a.send(c, new Uint8Array(1))), Errno.ENOTCONN);
  net.runFor(10_000);
  assert.equal(err(a.connect(c, B, 80)), Errno.EISCONN);
  assert.equal(val(a.getsockopt(c, SOL_SOCKET, SO_ERROR)), 0);
  const s = val(b.accept(ls)).fd;
  assert.equal(b.tcpState(s), 'ESTABLISHED');
  assert.equal(err(b.recv(s, 10)), Errno.EAGAIN);
  assert.equal(val(a.send(c, new TextEncoder().encode('hello'))), 5);
  net.runFor(10_000);
  const fds = [{ fd: s, events: POLLIN | POLLOUT }];
  assert.equal(val(b.poll(fds)), 1);
  assert.equal((fds[0] as { revents?: number }).revents, POLLIN | POLLOUT);
  assert.equal(new TextDecoder().decode(val(b.recv(s, 100, 2 /* MSG_PEEK */))), 'hello');
  assert.equal(new TextDecoder().decode(val(b.recv(s, 100))), 'hello');
  val(a.shutdown(c, SHUT_WR));
  assert.equal(err(a.send(c, new Uint8Array(1))), Errno.EPIPE);
  net.runFor(10_000);
  assert.equal(val(b.recv(s, 100)).length, 0, 'EOF after the peer FIN');
  assert.equal(b.tcpState(s), 'CLOSE-WAIT');
  val(b.close(s));
  val(a.close(c));
  assert.equal(err(a.close(c)), Errno.EBADF);
});

test('ECONNREFUSED through SO_ERROR, and a blocking connect as a Pending', () => {
  const { net, B, a } = pair();
  const c = val(a.socket(AF_INET, SOCK_STREAM, IPPROTO_TCP));
  const r = a.connect(c, B, 81); // nobody listens: the peer answers RST
  assert.ok(isPending(r));
  net.runFor(10_000);
  assert.deepEqual(r.poll(), { ok: false, errno: Errno.ECONNREFUSED });
  const d = val(a.socket(AF_INET, SOCK_STREAM, IPPROTO_TCP));
  val(a.fcntl(d, F_SETFL, O_NONBLOCK));
  assert.equal(err(a.connect(d, B, 81)), Errno.EINPROGRESS);
  net.runFor(10_000);
  assert.equal(val(a.getsockopt(d, SOL_SOCKET, SO_ERROR)), Errno.ECONNREFUSED);
  assert.equal(val(a.getsockopt(d, SOL_SOCKET, SO_ERROR)), 0, 'SO_ERROR clears');
});

test('socket options: FreeBSD read-back values and unsupported options', () => {
  const { a } = pair();
  const fd = val(a.socket(AF_INET, SOCK_STREAM, IPPROTO_TCP));
  assert.equal(val(a.getsockopt(fd, SOL_SOCKET, SO_RCVBUF)), 65536);
  val(a.setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, 1));
  assert.equal(val(a.getsockopt(fd, SOL_SOCKET, SO_KEEPALIVE)), SO_KEEPALIVE);
  val(a.setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, 1));
  assert.equal(val(a.getsockopt(fd, IPPROTO_TCP, TCP_NODELAY)), 4);
  assert.equal(val(a.getsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE)), 7200);
  assert.equal(err(a.setsockopt(fd, 0 /* IPPROTO_IP */, 4 /* IP_TTL */, 5)), Errno.ENOPROTOOPT);
  assert.equal(err(a.socket(AF_INET, 2 /* SOCK_DGRAM */, 0)), Errno.EPROTOTYPE);
});
