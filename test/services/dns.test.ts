import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/base/rng.ts';
import { ms, seconds } from '../../src/base/time.ts';
import { ipv4Addr } from '../../src/wire/bytes.ts';
import { buildDns, DNS_CLASS_IN, DNS_TYPE_A, DNS_TYPE_AAAA, DNS_TYPE_CNAME, dnsQuery, parseDns } from '../../src/wire/dns.ts';
import type { DnsRecord } from '../../src/wire/dns.ts';
import { DnsForwarder } from '../../src/services/dns-forwarder.ts';
import { DnsResolverEngine, StubResolver } from '../../src/services/dns-resolver.ts';
import type { DnsLookupError, DnsResult, LookupAddress } from '../../src/services/dns-resolver.ts';
import { DnsStreamReader, frameDns } from '../../src/services/dns-stream.ts';
import { DnsZoneServer } from '../../src/services/dns-zone.ts';
import { CLIENT, DnsNet, FWD_ADDR, ZONE_ADDR } from './dns-exchange.ts';

const a = (name: string, x: number, ttl = 60): DnsRecord => ({ name, type: DNS_TYPE_A, class: DNS_CLASS_IN, ttl, data: { kind: 'a', address: ipv4Addr(192, 0, 2, x) } });
const aaaa = (name: string, last: number, ttl = 60): DnsRecord => {
  const b = new Uint8Array(16);
  b[0] = 0x20; b[1] = 0x01; b[2] = 0x0d; b[3] = 0xb8; b[15] = last;
  return { name, type: DNS_TYPE_AAAA, class: DNS_CLASS_IN, ttl, data: { kind: 'aaaa', address: b } };
};
const cname = (name: string, to: string, ttl = 60): DnsRecord => ({ name, type: DNS_TYPE_CNAME, class: DNS_CLASS_IN, ttl, data: { kind: 'name', name: to } });

function zone(): DnsZoneServer {
  const big: DnsRecord[] = [];
  for (let i = 1; i <= 40; i++) big.push(a('big.example.test', i));
  return new DnsZoneServer({
    origin: 'example.test', soaTtl: 3600, soaMinimum: 30,
    records: [
      a('www.example.test', 10), aaaa('www.example.test', 10),
      a('v4only.example.test', 11),
      cname('alias.example.test', 'mid.example.test', 300), cname('mid.example.test', 'www.example.test', 20),
      a('short.example.test', 12, 5),
      ...big,
    ],
  });
}

function setup(opts: { servers?: string[]; seed?: number; forwarder?: boolean } = {}): { net: DnsNet; r: StubResolver; eng: DnsResolverEngine } {
  const net = new DnsNet(zone());
  const eng = new DnsResolverEngine({ servers: (opts.servers ?? [ZONE_ADDR]).map((address) => ({ address })), rng: new Rng(opts.seed ?? 3), srcPort: CLIENT.port });
  const r = new StubResolver(eng, net.transport());
  net.resolver = r;
  if (opts.forwarder) net.forwarder = new DnsForwarder({ upstream: { address: ZONE_ADDR }, rng: new Rng(8) });
  return { net, r, eng };
}

function lookup(net: DnsNet, r: StubResolver, name: string, options: object | number = {}): Promise<{ err: DnsLookupError | null; address?: unknown; family?: number }> {
  return new Promise((resolve) => {
    r.lookup(name, options as never, (err, address, family) => resolve({ err, address, family }));
    void net.run(net.now + seconds(60));
  });
}

function resolve(net: DnsNet, r: StubResolver, name: string, type: number): Promise<DnsResult> {
  return new Promise((done) => {
    r.resolve(name, type, done);
    void net.run(net.now + seconds(60));
  });
}

describe('DNS stub resolver, forwarder and zone engines (RFC 1035)', () => {
  test('RFC 1035 §4.1: lookup of an A and an AAAA name through the real zone server; family 0 with all: true gives both', async () => {
    const { net, r } = setup();
    assert.deepEqual(await lookup(net, r, 'www.example.test', 4), { err: null, address: '192.0.2.10', family: 4 });
    assert.deepEqual(await lookup(net, r, 'www.example.test', { family: 6 }), { err: null, address: '2001:db8::a', family: 6 });
    const all = await lookup(net, r, 'WWW.Example.Test', { all: true, order: 'ipv6first' });
    assert.deepEqual(all.address as LookupAddress[], [{ address: '2001:db8::a', family: 6 }, { address: '192.0.2.10', family: 4 }]);
    const v4first = await lookup(net, r, 'www.example.test', { all: true, order: 'ipv4first' });
    assert.deepEqual((v4first.address as LookupAddress[]).map((x) => x.family), [4, 6]);
  });

  test('dns.lookup shape: localhost and IP literals resolve without a query; an unknown name is ENOTFOUND like Node\'s', async () => {
    const { net, r } = setup();
    assert.deepEqual(await lookup(net, r, 'localhost', { all: true }), { err: null, address: [{ address: '127.0.0.1', family: 4 }, { address: '::1', family: 6 }], family: undefined });
    assert.deepEqual(await lookup(net, r, 'localhost', 6), { err: null, address: '::1', family: 6 });
    assert.deepEqual(await lookup(net, r, '192.0.2.7'), { err: null, address: '192.0.2.7', family: 4 });
    assert.equal(net.sent.length, 0, 'no query was sent');
    const { err } = await lookup(net, r, 'nope.example.test');
    assert.ok(err);
    assert.equal(err.code, 'ENOTFOUND');
    assert.equal(err.syscall, 'getaddrinfo');
    assert.equal(err.hostname, 'nope.example.test');
    assert.equal(err.message, 'getaddrinfo ENOTFOUND nope.example.test');
  });

  test('RFC 1035 §7.2 / §4.2.1: with no answer, each of two servers is tried 3 times at 1 s, 2 s, 4 s, then EAI_AGAIN as Node\'s getaddrinfo reports a timeout', async () => {
    const { net, r, eng } = setup({ servers: ['10.9.9.1', '10.9.9.2'] });
    const t0 = net.now;
    const { err } = await lookup(net, r, 'www.example.test', 4);
    assert.equal(err?.code, 'EAI_AGAIN');
    assert.equal(err?.errno, -3001);
    assert.equal(err?.message, 'getaddrinfo EAI_AGAIN www.example.test');
    assert.deepEqual(net.sent.map((x) => [x.to, (x.at - t0) / 1000]), [
      ['10.9.9.1', 0], ['10.9.9.2', 1000], ['10.9.9.1', 2000], ['10.9.9.2', 4000], ['10.9.9.1', 6000], ['10.9.9.2', 10000],
    ]);
    assert.equal(eng.outstanding, 0);
  });

  test('RFC 1035 §7.2: a dead first server is skipped after its timeout and the second answers', async () => {
    const { net, r } = setup({ servers: ['10.9.9.1', ZONE_ADDR] });
    assert.deepEqual(await lookup(net, r, 'www.example.test', 4), { err: null, address: '192.0.2.10', family: 4 });
    assert.equal(net.sent.length, 2);
  });

  test('RFC 1035 §4.2.1 / §4.2.2: a truncated UDP answer is retried over TCP with 2-byte length framing and gives every record', async () => {
    const { net, r } = setup();
    const res = await resolve(net, r, 'big.example.test', DNS_TYPE_A);
    assert.ok(res.ok);
    assert.equal(res.records.length, 40);
    assert.deepEqual(net.sent.map((x) => x.via), ['udp', 'tcp']);
  });

  test('RFC 1035 §4.2.2: the stream reader reassembles split and coalesced framed messages and rejects a zero length', () => {
    const m1 = buildDns(dnsQuery(1, 'a.test', 1));
    const m2 = buildDns(dnsQuery(2, 'b.test', 28));
    const both = new Uint8Array([...frameDns(m1), ...frameDns(m2)]);
    const rd = new DnsStreamReader();
    assert.deepEqual(rd.push(both.subarray(0, 1)), []);
    assert.deepEqual(rd.push(both.subarray(1, 5)), []);
    const got = rd.push(both.subarray(5))!;
    assert.deepEqual(got, [m1, m2]);
    assert.equal(new DnsStreamReader().push(Uint8Array.of(0, 0, 1)), null);
  });

  test('RFC 1035 §7.4: an answer is served from the cache within its TTL and queried again after it', async () => {
    const { net, r } = setup();
    const first = await resolve(net, r, 'short.example.test', DNS_TYPE_A);
    assert.ok(first.ok && !first.fromCache);
    net.now += seconds(4);
    const second = await resolve(net, r, 'short.example.test', DNS_TYPE_A);
    assert.ok(second.ok && second.fromCache);
    assert.ok(second.ttl <= 1);
    assert.equal(net.sent.length, 1);
    net.now += seconds(2);
    const third = await resolve(net, r, 'short.example.test', DNS_TYPE_A);
    assert.ok(third.ok && !third.fromCache);
    assert.equal(net.sent.length, 2);
  });

  test('RFC 2308 §5: NXDOMAIN and NODATA are cached for min(SOA TTL, SOA MINIMUM) and then asked again', async () => {
    const { net, r } = setup();
    const nx = await resolve(net, r, 'nope.example.test', DNS_TYPE_A);
    assert.ok(!nx.ok && nx.code === 'ENOTFOUND');
    const nodata = await resolve(net, r, 'v4only.example.test', DNS_TYPE_AAAA);
    assert.ok(!nodata.ok && nodata.code === 'ENODATA');
    assert.equal(net.sent.length, 2);
    net.now += seconds(29);
    assert.ok((await resolve(net, r, 'nope.example.test', DNS_TYPE_A)).fromCache);
    assert.ok((await resolve(net, r, 'v4only.example.test', DNS_TYPE_AAAA)).fromCache);
    assert.equal(net.sent.length, 2);
    net.now += seconds(2);
    assert.ok(!(await resolve(net, r, 'nope.example.test', DNS_TYPE_A)).fromCache);
    assert.equal(net.sent.length, 3);
  });

  test('RFC 1034 §3.6.2: a CNAME chain inside the answer is followed; the TTL is the chain\'s minimum', async () => {
    const { net, r } = setup();
    const res = await resolve(net, r, 'alias.example.test', DNS_TYPE_A);
    assert.ok(res.ok);
    assert.deepEqual(res.cnames, ['mid.example.test', 'www.example.test']);
    assert.equal(res.records[0]!.data.kind === 'a' && res.records[0]!.data.address, ipv4Addr(192, 0, 2, 10));
    assert.equal(res.ttl, 20);
  });

  test('RFC 5452 §9.1: answers with an unknown id, from another source or for another question are counted drops', async () => {
    const { net, r, eng } = setup({ servers: ['10.9.9.1'] });
    const p = resolve(net, r, 'www.example.test', DNS_TYPE_A);
    await new Promise((x) => setImmediate(x));
    const q = parseDns(zone().handle(buildDns(dnsQuery(0, 'www.example.test', 1)))!);
    assert.ok(q.ok);
    r.receiveUdp(buildDns({ ...q.value, id: 12345 }), { address: '10.9.9.1', port: 53 });
    assert.equal(eng.drops['unknown-id'], 1);
    await p;
  });

  test('RFC 2308 §5 bounds: the caches hold at most their sizes (LRU eviction counted)', async () => {
    const net = new DnsNet(zone());
    const eng = new DnsResolverEngine({ servers: [{ address: ZONE_ADDR }], rng: new Rng(1), cacheSize: 2, negativeCacheSize: 2 });
    const r = new StubResolver(eng, net.transport());
    net.resolver = r;
    for (const n of ['www', 'v4only', 'short', 'big']) await resolve(net, r, `${n}.example.test`, DNS_TYPE_A);
    for (const n of ['x1', 'x2', 'x3']) await resolve(net, r, `${n}.example.test`, DNS_TYPE_A);
    assert.equal(eng.cacheEntries, 4);
    assert.equal(eng.drops['cache-evicted'], 3);
  });

  test('forwarder: queries are relayed with a rewritten id and answered with the client\'s id, over UDP and TCP', async () => {
    const { net, r } = setup({ servers: [FWD_ADDR], forwarder: true });
    assert.deepEqual(await lookup(net, r, 'www.example.test', 4), { err: null, address: '192.0.2.10', family: 4 });
    // A truncated answer through the forwarder: the client retries over TCP to the forwarder, which uses TCP upstream.
    const big = await resolve(net, r, 'big.example.test', DNS_TYPE_A);
    assert.ok(big.ok);
    assert.equal(big.records.length, 40);
    assert.deepEqual(net.sent.map((x) => `${x.via}:${x.to}`), [
      `udp:${FWD_ADDR}`, `udp:${ZONE_ADDR}`, `udp:${FWD_ADDR}`, `udp:${ZONE_ADDR}`, `tcp:${FWD_ADDR}`, `tcp:${ZONE_ADDR}`,
    ]);
    // The forwarder's cache answers a repeat (from another client, id 99) without asking upstream.
    const rep = net.forwarder!.handleClientUdp(buildDns(dnsQuery(99, 'www.example.test', 1)), { address: '10.0.0.9', port: 999 }, net.now);
    assert.equal(rep.out.length, 1);
    assert.equal(rep.out[0]!.address, '10.0.0.9');
    const m = parseDns(rep.out[0]!.payload);
    assert.ok(m.ok && m.value.id === 99 && m.value.answers.length === 1);
    assert.equal(net.forwarder!.answered['cache'], 1);
  });

  test('forwarder: the upstream id differs from the client id and maps back by id and client', () => {
    const f = new DnsForwarder({ upstream: { address: ZONE_ADDR }, rng: new Rng(4) });
    const z = zone();
    const s1 = f.handleClientUdp(buildDns(dnsQuery(7, 'www.example.test', 1)), { address: '10.0.0.5', port: 1111 }, 0);
    const s2 = f.handleClientUdp(buildDns(dnsQuery(7, 'v4only.example.test', 1)), { address: '10.0.0.6', port: 2222 }, 0);
    const up1 = parseDns(s1.out[0]!.payload);
    const up2 = parseDns(s2.out[0]!.payload);
    assert.ok(up1.ok && up2.ok);
    assert.notEqual(up1.value.id, up2.value.id);
    const back2 = f.handleUpstreamUdp(z.handle(s2.out[0]!.payload)!, { address: ZONE_ADDR, port: 53 }, ms(5));
    assert.equal(back2.out[0]!.address, '10.0.0.6');
    const m = parseDns(back2.out[0]!.payload);
    assert.ok(m.ok && m.value.id === 7 && m.value.questions[0]!.name === 'v4only.example.test');
    // A replayed answer (the id is no longer outstanding) is dropped.
    f.handleUpstreamUdp(z.handle(s2.out[0]!.payload)!, { address: ZONE_ADDR, port: 53 }, ms(6));
    assert.equal(f.drops['unknown-id'], 1);
    // From the wrong source: dropped.
    f.handleUpstreamUdp(z.handle(s1.out[0]!.payload)!, { address: '10.6.6.6', port: 53 }, ms(6));
    assert.equal(f.drops['wrong-source'], 1);
  });

  test('forwarder: outstanding queries are bounded (counted drops) and time out with SERVFAIL', () => {
    const f = new DnsForwarder({ upstream: { address: ZONE_ADDR }, rng: new Rng(4), maxOutstanding: 10, timeout: seconds(2) });
    let sent = 0;
    for (let i = 0; i < 1000; i++) sent += f.handleClientUdp(buildDns(dnsQuery(i, `n${i}.example.test`, 1)), { address: '10.0.0.5', port: 1000 + i }, 0).out.length;
    assert.equal(sent, 10);
    assert.equal(f.outstanding, 10);
    assert.equal(f.drops['forward-limit'], 990);
    const t = f.poll(seconds(2));
    assert.equal(t.out.length, 10);
    const m = parseDns(t.out[0]!.payload);
    assert.ok(m.ok && m.value.rcode === 2);
    assert.equal(f.outstanding, 0);
    assert.equal(f.drops['upstream-timeout'], 10);
  });
});
