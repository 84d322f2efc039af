/**
 * The node:net API on an Ethernet LAN (`createMemoryNetwork({ ethernet:
 * true })`): hosts get MAC addresses on an in-memory learning switch and
 * find each other by ARP (IPv4) and Neighbor Discovery (IPv6) before any
 * TCP byte moves — under the virtual clock, with loss.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createMemoryNetwork } from '../../src/index.ts';
import { collect, sha256 } from './helpers.ts';
import { Rng } from '../../src/base/rng.ts';
import { parseIpv4Addr } from '../../src/wire/bytes.ts';
import { parseIpv6Addr } from '../../src/wire/ipv6.ts';

test('Ethernet LAN: echo 200 kB over IPv4 and over IPv6 with 2 % frame loss; each host resolved the other by ARP and NDP', async () => {
  const l = createMemoryNetwork({ seed: 5, virtualTime: true, ethernet: true, impair: { loss: 0.02, delayUs: 2000 } });
  const a = l.host('10.0.0.1', { also: 'fd00::1', mac: '02:00:00:00:00:0a' });
  const b = l.host('10.0.0.2', { also: 'fd00::2', name: 'server' });
  assert.ok(l.switch && a.eth && b.eth);
  assert.equal(a.eth.mac, 0x02000000000a);
  const srv = b.net.createServer((s) => s.pipe(s));
  srv.listen(7);
  await once(srv, 'listening');
  for (const host of ['10.0.0.2', 'fd00::2']) {
    const data = new Uint8Array(200_000);
    new Rng(host.length).fill(data);
    const c = a.net.connect(7, host);
    await once(c, 'connect');
    const got = collect(c);
    c.end(Buffer.from(data));
    assert.equal(sha256(await got), sha256(data));
  }
  assert.equal(a.eth.neighbors.get(parseIpv4Addr('10.0.0.2')!)!.mac, b.eth.mac);
  assert.equal(a.eth.neighbors.get(parseIpv6Addr('fd00::2')!)!.mac, b.eth.mac);
  assert.ok(l.switch.stats.lost > 0);
  assert.equal(l.hub.stats.sent, 0, 'nothing crossed the layer-3 hub');
  srv.close();
  l.stop();
});

test('Ethernet LAN: a MAC that is not a unicast address is refused', () => {
  const l = createMemoryNetwork({ seed: 5, virtualTime: true, ethernet: true });
  assert.throws(() => l.host('10.0.0.1', { mac: '01:00:5e:00:00:01' }), { code: 'ERR_SYNACK_INVALID_ARG' });
  assert.throws(() => l.host('10.0.0.1', { mac: 'nope' }), { code: 'ERR_SYNACK_INVALID_ARG' });
  l.stop();
});
