/** Bad input to every service engine is a counted drop, never a throw (docs/SECURITY.md's rule), with seeded random and mutated messages. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/base/rng.ts';
import { seconds } from '../../src/base/time.ts';
import { ipv4Addr } from '../../src/wire/bytes.ts';
import { buildDns, dnsQuery } from '../../src/wire/dns.ts';
import { DhcpClient } from '../../src/services/dhcp-client.ts';
import { DhcpServer } from '../../src/services/dhcp-server.ts';
import { DnsForwarder } from '../../src/services/dns-forwarder.ts';
import { DnsResolverEngine } from '../../src/services/dns-resolver.ts';
import { DnsZoneServer } from '../../src/services/dns-zone.ts';

function inputs(seed: number, valid: Uint8Array[], n: number): Uint8Array[] {
  const rng = new Rng(seed);
  const out: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    if (i % 3 === 0) {
      const b = new Uint8Array(rng.int(0, 600));
      rng.fill(b);
      out.push(b);
    } else {
      const b = valid[i % valid.length]!.slice(0, rng.int(0, valid[i % valid.length]!.length + 4));
      for (let k = rng.int(1, 6); k > 0 && b.length > 0; k--) b[rng.int(0, b.length - 1)] = rng.nextU32() & 0xff;
      out.push(b);
    }
  }
  return out;
}

test('service engines: 3000 random and mutated datagrams each are counted drops or answers, never a throw, and state stays bounded', () => {
  const srv = new DhcpServer({ serverId: ipv4Addr(10, 0, 0, 1), prefixLen: 24, poolStart: ipv4Addr(10, 0, 0, 10), poolEnd: ipv4Addr(10, 0, 0, 20) });
  const cli = new DhcpClient({ mac: 0x020000000001, rng: new Rng(2), startDelay: false });
  const disc = cli.start(0).out[0]!.payload;
  const offer = srv.handle(disc, 0).out[0]!.payload;
  let t = 0;
  for (const b of inputs(1, [disc, offer], 3000)) {
    t += 1000;
    srv.handle(b, t);
    cli.handle(b, t);
  }
  assert.ok(srv.size <= 11);
  assert.ok(Object.values(srv.drops).reduce((x, y) => x + y, 0) > 1000);

  const q = buildDns(dnsQuery(1, 'www.example.test', 1));
  const zone = new DnsZoneServer({ origin: 'example.test', records: [] });
  const ans = zone.handle(q)!;
  const res = new DnsResolverEngine({ servers: [{ address: '10.0.0.53' }], rng: new Rng(3) });
  const fwd = new DnsForwarder({ upstream: { address: '10.0.0.53' }, rng: new Rng(4), maxOutstanding: 32 });
  res.query('www.example.test', 1, 0);
  for (const b of inputs(2, [q, ans], 3000)) {
    t += 1000;
    zone.handle(b);
    zone.handle(b, true);
    res.handleUdp(b, { address: '10.0.0.53', port: 53 }, t);
    res.handleTcp(1, b, t);
    fwd.handleClientUdp(b, { address: '10.0.0.9', port: 9 }, t);
    fwd.handleClientTcp(1, b, t);
    fwd.handleUpstreamUdp(b, { address: '10.0.0.53', port: 53 }, t);
  }
  assert.ok(fwd.outstanding <= 32);
  fwd.poll(t + seconds(10));
  assert.equal(fwd.outstanding, 0);
});
