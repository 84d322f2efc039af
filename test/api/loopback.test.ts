/**
 * node:net code that runs a server and a client on one host, as it does
 * over the kernel's loopback: `listen(0)` then `connect(port)`,
 * `connect(port, 'localhost')`, `'127.0.0.1'`, `'::1'` — and
 * `autoSelectFamily` (Node 20's happy eyeballs, RFC 8305) for names with
 * addresses of both families, on the virtual clock.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import nodeNet from 'node:net';
import { createMemoryNetwork } from '../../src/index.ts';
import { collect, errorOf } from './helpers.ts';
import { SYN } from '../../src/wire/types.ts';

function one() {
  const l = createMemoryNetwork({ seed: 9, virtualTime: true });
  const h = l.host('10.0.0.2', { also: 'fd00::2' });
  return { l, h };
}

/** What node:net shows for a client connecting to a `listen(0)` server through `host` (undefined: connect(port)). */
async function shapeOf(net: { createServer: typeof nodeNet.createServer; connect: typeof nodeNet.connect }, host: string | undefined) {
  let seen: { remoteAddress?: string; remoteFamily?: string } = {};
  const srv = net.createServer((s) => {
    seen = { remoteAddress: s.remoteAddress, remoteFamily: s.remoteFamily };
    s.end('hello from the same host');
  });
  srv.listen(0);
  await once(srv, 'listening');
  const { port, address, family } = srv.address() as nodeNet.AddressInfo;
  const c = host === undefined ? net.connect(port) : net.connect(port, host);
  await once(c, 'connect');
  const client = { remoteAddress: c.remoteAddress, remoteFamily: c.remoteFamily, localAddress: c.localAddress };
  const body = (await collect(c)).toString();
  await new Promise((r) => srv.close(r));
  return { listen: { address, family }, client, server: seen, body };
}

for (const host of [undefined, 'localhost', '127.0.0.1', '::1']) {
  test(`RFC 1122 §3.2.1.3 / RFC 4291 §2.5.3: listen(0) and connect(port${host ? `, '${host}'` : ''}) on one host behave as node:net on loopback`, async () => {
    const { l, h } = one();
    const ours = await shapeOf(h.net as never, host);
    l.stop();
    const theirs = await shapeOf(nodeNet, host);
    // This machine's /etc/hosts may give localhost one address or two; the first is 127.0.0.1 in both.
    assert.deepEqual(ours, theirs);
    assert.equal(ours.body, 'hello from the same host');
  });
}

test("listen(port, 'localhost') binds 127.0.0.1, as node:net does", async () => {
  const { l, h } = one();
  const srv = h.net.createServer().listen(0, 'localhost');
  await once(srv, 'listening');
  assert.equal((srv.address() as nodeNet.AddressInfo).address, '127.0.0.1');
  await new Promise((r) => srv.close(r));
  l.stop();
});

test('a loopback connection never reaches the hub', async () => {
  const { l, h } = one();
  let onWire = 0;
  l.hub.tap = () => onWire++;
  const srv = h.net.createServer((s) => s.pipe(s)).listen(0);
  await once(srv, 'listening');
  const c = h.net.connect((srv.address() as nodeNet.AddressInfo).port, 'localhost', () => c.end(Buffer.alloc(200_000, 7)));
  assert.equal((await collect(c)).length, 200_000);
  await new Promise((r) => srv.close(r));
  l.stop();
  assert.equal(onWire, 0);
});

/**
 * A client and a dual-stack server; `svc` names [v6, v4] addresses (the v6
 * one chosen by the test). `syns` records when the client's stack sent each
 * SYN and to which family (in-core times: the driver lets user code see
 * events only after its next virtual-clock jump).
 */
function dual(v6: string) {
  const l = createMemoryNetwork({ seed: 3, virtualTime: true });
  const server = l.host('10.0.0.2', { also: 'fd00::2' });
  const client = l.host('10.0.0.1', { also: 'fd00::1' });
  l.hosts.set('svc', [v6, '10.0.0.2']);
  const syns: Array<[number, 4 | 6]> = [];
  client.stack.addHook((ev) => {
    if (ev.type === 'segment' && ev.dir === 'out' && ev.tcp.flags & SYN) syns.push([ev.time, typeof ev.dst === 'string' ? 6 : 4]);
  });
  return { l, server, client, syns };
}

test('RFC 8305 / Node 20 autoSelectFamily: a name with an unreachable IPv6 and a reachable IPv4 address connects over IPv4 after the 250 ms attempt timeout', async () => {
  const { l, server, client, syns } = dual('fd00::99'); // nobody has fd00::99: its SYN goes unanswered
  const srv = server.net.createServer((s) => s.end('v4 it is')).listen(80);
  await once(srv, 'listening');
  const c = client.net.connect(80, 'svc');
  const events: string[] = [];
  c.on('connectionAttempt', (a: string) => events.push(`attempt ${a}`));
  c.on('connectionAttemptTimeout', (a: string) => events.push(`timeout ${a}`));
  await once(c, 'connect');
  assert.deepEqual(syns.map(([t, f]) => [t - syns[0]![0], f]), [[0, 6], [250_000, 4]], 'the IPv4 SYN left 250 ms (virtual) after the IPv6 one');
  assert.deepEqual(events, ['attempt fd00::99', 'timeout fd00::99', 'attempt 10.0.0.2']);
  assert.deepEqual(c.autoSelectFamilyAttemptedAddresses, ['fd00::99:80', '10.0.0.2:80']);
  assert.equal(c.remoteAddress, '10.0.0.2');
  assert.equal(c.remoteFamily, 'IPv4');
  assert.equal((await collect(c)).toString(), 'v4 it is');
  assert.equal(client.stack.connections().filter((x) => typeof x.remoteAddr === 'string').length, 0, 'the IPv6 attempt was abandoned');
  srv.close();
  l.stop();
});

test('autoSelectFamilyAttemptTimeout sets the attempt timeout (values under 10 ms become 10, as Node)', async () => {
  for (const [asked, expectUs] of [[40, 40_000], [3, 10_000]] as const) {
    const { l, server, client, syns } = dual('fd00::99');
    const srv = server.net.createServer((s) => s.end()).listen(80);
    await once(srv, 'listening');
    const c = client.net.connect({ port: 80, host: 'svc', autoSelectFamilyAttemptTimeout: asked });
    await once(c, 'connect');
    assert.deepEqual(syns.map(([t, f]) => [t - syns[0]![0], f]), [[0, 6], [expectUs, 4]], `${asked} ms`);
    c.destroy();
    srv.close();
    l.stop();
  }
});

test('autoSelectFamily: a refused address is followed at once by the next (connectionAttemptFailed ECONNREFUSED)', async () => {
  const { l, server, client } = dual('fd00::2');
  const srv = server.net.createServer((s) => s.end()).listen(80, '0.0.0.0'); // IPv4 only: fd00::2 refuses
  await once(srv, 'listening');
  const c = client.net.connect(80, 'svc');
  const failed: string[] = [];
  c.on('connectionAttemptFailed', (a: string, _p: number, _f: number, e: { code: string }) => failed.push(`${a} ${e.code}`));
  await once(c, 'connect');
  assert.deepEqual(failed, ['fd00::2 ECONNREFUSED']);
  assert.equal(c.remoteFamily, 'IPv4');
  c.destroy();
  srv.close();
  l.stop();
});

test('autoSelectFamily: false (or a family, or a localAddress) tries the first address only, as Node', async () => {
  const { l, server, client } = dual('fd00::2');
  const srv = server.net.createServer((s) => s.end()).listen(80, '0.0.0.0');
  await once(srv, 'listening');
  const e = await errorOf(client.net.connect({ port: 80, host: 'svc', autoSelectFamily: false }));
  assert.equal(e.code, 'ECONNREFUSED');
  assert.equal(e.address, 'fd00::2');
  const c = client.net.connect({ port: 80, host: 'svc', family: 4 });
  await once(c, 'connect');
  assert.equal(c.remoteAddress, '10.0.0.2');
  c.destroy();
  assert.throws(() => client.net.connect({ port: 80, host: 'svc', autoSelectFamily: 'yes' as never }), { code: 'ERR_INVALID_ARG_TYPE' });
  srv.close();
  l.stop();
});

test('autoSelectFamily: every address failing gives an AggregateError whose code is the first error, as Node', async () => {
  const { l, client } = dual('fd00::2');
  const e = await errorOf(client.net.connect(80, 'svc'));
  assert.ok(e instanceof AggregateError);
  assert.equal(e.code, 'ECONNREFUSED');
  assert.deepEqual(
    (e as unknown as AggregateError).errors.map((x: { address: string }) => x.address),
    ['fd00::2', '10.0.0.2'],
  );
  l.stop();
});
