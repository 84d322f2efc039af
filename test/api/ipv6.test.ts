/**
 * The node:net API over IPv6 and dual stack on the in-memory network, under
 * the virtual clock: `lan.host('fd00::2')`, connect to IPv6 literals,
 * `family: 'IPv6'`, listen() on `::` taking IPv4 peers shown IPv4-mapped
 * (`::ffff:10.0.0.1`, as Node on Linux), `ipv6Only`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createMemoryNetwork } from '../../src/index.ts';
import { collect, errorOf, sha256 } from './helpers.ts';
import { Rng } from '../../src/base/rng.ts';

function lan6(opts: { loss?: number } = {}) {
  const l = createMemoryNetwork({ seed: 42, virtualTime: true, ...(opts.loss ? { impair: { loss: opts.loss, delayUs: 2000 } } : {}) });
  const a = l.host('fd00::1', { also: '10.0.0.1' });
  const b = l.host('fd00::2', { also: '10.0.0.2', name: 'server' });
  return { ...l, a, b };
}

test('IPv6 hosts: echo 1 MB with 1 % loss over IPv6 and close; addresses report family IPv6', async () => {
  const l = lan6({ loss: 0.01 });
  const srv = l.b.net.createServer((s) => {
    assert.equal(s.remoteAddress, 'fd00::1');
    assert.equal(s.remoteFamily, 'IPv6');
    assert.equal(s.localAddress, 'fd00::2');
    s.pipe(s);
  });
  srv.listen(7, 'fd00::2');
  await once(srv, 'listening');
  assert.deepEqual(srv.address(), { address: 'fd00::2', family: 'IPv6', port: 7 });
  const data = new Uint8Array(1_000_000);
  new Rng(3).fill(data);
  const c = l.a.net.connect(7, 'fd00::2');
  await once(c, 'connect');
  assert.equal(c.remoteAddress, 'fd00::2');
  assert.equal(c.remoteFamily, 'IPv6');
  assert.equal((c.address() as { family: string }).family, 'IPv6');
  assert.equal(c.localAddress, 'fd00::1');
  const got = collect(c);
  c.end(Buffer.from(data));
  assert.equal(sha256(await got), sha256(data));
  assert.ok(l.a.stack.counters.retransmits > 0);
  srv.close();
  await once(c, 'close');
  l.stop();
});

test('dual stack: listen(port) binds :: and takes IPv4 too; IPv4 peers are shown IPv4-mapped as in Node', async () => {
  const l = lan6();
  const seen: Array<[string | undefined, string | undefined, string | undefined]> = [];
  const srv = l.b.net.createServer((s) => {
    seen.push([s.remoteAddress, s.remoteFamily, s.localAddress]);
    s.end('hi');
  });
  srv.listen(80);
  await once(srv, 'listening');
  assert.deepEqual(srv.address(), { address: '::', family: 'IPv6', port: 80 });
  for (const host of ['10.0.0.2', 'fd00::2', '::ffff:10.0.0.2']) {
    const c = l.a.net.connect(80, host);
    assert.equal((await collect(c)).toString(), 'hi');
  }
  assert.deepEqual(seen, [
    ['::ffff:10.0.0.1', 'IPv6', '::ffff:10.0.0.2'],
    ['fd00::1', 'IPv6', 'fd00::2'],
    ['::ffff:10.0.0.1', 'IPv6', '::ffff:10.0.0.2'],
  ]);
  srv.close();
  l.stop();
});

test('listen({ ipv6Only: true }) refuses IPv4 (ECONNREFUSED) and takes IPv6; 0.0.0.0 is IPv4 only', async () => {
  const l = lan6();
  const srv = l.b.net.createServer((s) => s.end('v6')).listen({ port: 81, ipv6Only: true });
  await once(srv, 'listening');
  const c4 = l.a.net.connect(81, '10.0.0.2');
  assert.equal((await errorOf(c4)).code, 'ECONNREFUSED');
  assert.equal((await collect(l.a.net.connect(81, 'fd00::2'))).toString(), 'v6');
  const srv4 = l.b.net.createServer((s) => s.end('v4')).listen(82, '0.0.0.0');
  await once(srv4, 'listening');
  assert.deepEqual(srv4.address(), { address: '0.0.0.0', family: 'IPv4', port: 82 });
  const c6 = l.a.net.connect(82, 'fd00::2');
  assert.equal((await errorOf(c6)).code, 'ECONNREFUSED');
  srv.close();
  srv4.close();
  l.stop();
});
