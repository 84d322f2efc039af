/**
 * The link-layer and services fuzzer (src/fuzz/link.ts) on fixed seeds
 * (random seeds belong to `npm run fuzz -- --link`): Ethernet, ARP, NDP,
 * UDP, DHCP and DNS input — floods, malformed frames, option overflows —
 * into two synack hosts on an in-memory switch and into the service
 * engines. Nothing throws, malformed frames are counted drops, every cache,
 * queue and table stays within its bound, and afterwards the hosts still
 * talk TCP over IPv4 and IPv6. And the bugs it found, each as a regression
 * test of its own.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fuzzLink, raFrame } from '../../src/fuzz/link.ts';
import { Network } from '../../src/sim/network.ts';
import { Rng } from '../../src/base/rng.ts';
import { MAX_AUTOCONF_ADDRESSES } from '../../src/stack/ethernet.ts';
import type { Connection } from '../../src/tcp/connection.ts';
import { parseIpv6Addr, type Ipv6Addr } from '../../src/wire/ipv6.ts';

test('link fuzzer: seeds 1–3 (Ethernet, ARP and NDP floods, UDP, DHCP and DNS input): no throw, malformed frames counted, caches and queues bounded, TCP over IPv4 and IPv6 still works', () => {
  for (let seed = 1; seed <= 3; seed++) {
    const r = fuzzLink(seed, 2000);
    assert.equal(r.failure, null);
    assert.equal(r.inputs, 2000);
    assert.equal(r.delivered, 16_000, `seed ${seed}: both transfers delivered every byte`);
    assert.ok(r.drops > 3000, `seed ${seed}: ${r.drops} counted drops`);
    // The floods reached the bounds they test.
    assert.equal(r.maxNeighbors, 64, `seed ${seed}: b's neighbour cache filled to its bound`);
    assert.equal(r.maxLeases, 20, `seed ${seed}: the DISCOVER flood took the whole pool`);
    assert.ok(r.maxAddrs > 8, `seed ${seed}: the RA flood formed addresses (${r.maxAddrs})`);
  }
});

test('RFC 4862 §5.5.3 / RFC 6104: a flood of Router Advertisements with 500 new prefixes forms at most MAX_AUTOCONF_ADDRESSES addresses (the rest are counted drops) and the host still reaches its peer', () => {
  const net = new Network({ seed: 3 });
  const sw = net.addSwitch({ checksumOffload: false, impair: { delayUs: 100 } });
  const v6 = (s: string): Ipv6Addr => parseIpv6Addr(s)!;
  const hs = net.addStack({ name: 'host' });
  const host = net.attachEthernet(hs, sw, [{ addr: v6('fd00::1') }], { autoconf: true });
  const ps = net.addStack({ name: 'peer' });
  net.attachEthernet(ps, sw, [{ addr: v6('fd00::2') }]);
  net.runFor(3_000_000);
  const before = host.iface.addrs.length;
  const rng = new Rng(5);
  for (let i = 0; i < 500; i++) host.receiveFrame(raFrame(rng, host.mac));
  net.runFor(3_000_000);
  const formed = host.iface.addrs.length - before;
  assert.equal(formed, MAX_AUTOCONF_ADDRESSES, `${formed} addresses formed from 500 prefixes`);
  assert.equal(hs.counters.drops['slaac-address-limit'], 500 - MAX_AUTOCONF_ADDRESSES);
  // The host still works: a connection to its peer over its configured address.
  let got = 0;
  ps.listen(80, { onConnection: (c) => (c.user = { onEvent: (conn: Connection) => { for (const ch of ps.read(conn)) got += ch.length; } }) });
  const c = hs.connect(v6('fd00::2'), 80);
  c.user = { onEvent: () => {} };
  net.runUntil(() => c.state === 'ESTABLISHED', { until: net.clock.now() + 10_000_000 });
  hs.send(c, new Uint8Array(5000));
  net.runUntil(() => got === 5000, { until: net.clock.now() + 10_000_000 });
});
