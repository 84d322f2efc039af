/**
 * DNS on running synack hosts (issue 13): the stub resolver behind
 * `host.lookup` and `host.net.connect(port, name)`, a zone server and a
 * forwarder a host runs (UDP and TCP), over the in-memory Ethernet switch
 * on the virtual clock — and DHCP handing out the DNS server.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createMemoryNetwork, type MemoryHost, type MemoryNetwork } from '../../src/index.ts';
import { DNS_CLASS_IN, DNS_TYPE_A, type DnsRecord } from '../../src/wire/dns.ts';
import { ipv4Addr } from '../../src/wire/bytes.ts';
import type { Impairments } from '../../src/links/memory.ts';
import { StackTimer } from '../../src/services/udp-service.ts';

function lan(seed: number, impair?: Partial<Impairments>): MemoryNetwork {
  return createMemoryNetwork({ seed, virtualTime: true, ethernet: true, ...(impair ? { impair } : {}) });
}

/** Waits `us` on the host's (virtual) clock: a StackTimer holding the driver. */
function sleep(l: MemoryNetwork, h: MemoryHost, us: number): Promise<void> {
  return new Promise((done) => {
    const t = new StackTimer(h.stack, () => {
      t.dispose();
      l.driver.unref();
      done();
    });
    t.set(h.stack.clock.now() + us);
    l.driver.ref();
    l.driver.kick();
  });
}

type Found = { err: (Error & Record<string, unknown>) | null; address?: unknown; family?: number };

function lookup(h: MemoryHost, name: string, opts: object = {}): Promise<Found> {
  return new Promise((done) => h.lookup(name, opts, (err, address, family) => done({ err: err as Found['err'], address, family })));
}

/** A TCP echo server on port 7. */
function echo(h: MemoryHost) {
  const srv = h.net.createServer((s) => s.pipe(s));
  srv.listen(7);
  return srv;
}

async function roundTrip(h: MemoryHost, name: string): Promise<{ text: string; remote: string | undefined }> {
  const c = h.net.connect(7, name);
  await once(c, 'connect');
  const remote = c.remoteAddress;
  const chunks: Buffer[] = [];
  c.on('data', (d: Buffer) => chunks.push(d));
  c.end('hello by name');
  await once(c, 'close');
  return { text: Buffer.concat(chunks).toString(), remote };
}

const bigRecords = (n: number): DnsRecord[] =>
  Array.from({ length: n }, (_, i) => ({ name: 'big.example.test', type: DNS_TYPE_A, class: DNS_CLASS_IN, ttl: 60, data: { kind: 'a' as const, address: ipv4Addr(10, 1, 0, i + 1) } }));

test('RFC 1035: host B connects by name to host A — the stub resolver asks A\'s zone server for A and AAAA over UDP; dns.lookup({ all }) returns both', async () => {
  const l = lan(1);
  const a = l.host('10.0.0.2', { also: 'fd00::2' });
  const b = l.host('10.0.0.1', { also: 'fd00::1' });
  const zone = a.dnsZone({ origin: 'example.test', names: { 'www.example.test': ['10.0.0.2', 'fd00::2'] } });
  const srv = echo(a);
  b.setDnsServers(['10.0.0.2']);
  const all = await lookup(b, 'www.example.test', { all: true });
  assert.equal(all.err, null);
  assert.deepEqual(all.address, [{ address: '10.0.0.2', family: 4 }, { address: 'fd00::2', family: 6 }]);
  const six = await lookup(b, 'www.example.test', { family: 6 });
  assert.deepEqual([six.address, six.family], ['fd00::2', 6]);
  const r = await roundTrip(b, 'www.example.test');
  assert.equal(r.text, 'hello by name');
  assert.equal(r.remote, '10.0.0.2');
  srv.close();
  zone.close();
  b.setDnsServers([]);
  l.stop();
});

test('RFC 1035 §4.1.1 (RCODE 3): NXDOMAIN fails connect with ENOTFOUND shaped like Node\'s (getaddrinfo, errno -3008, hostname)', async () => {
  const l = lan(2);
  const a = l.host('10.0.0.2');
  const b = l.host('10.0.0.1');
  const zone = a.dnsZone({ origin: 'example.test', names: { 'www.example.test': '10.0.0.2' } });
  b.setDnsServers(['10.0.0.2']);
  const c = b.net.connect(7, 'nope.example.test');
  const [err] = (await once(c, 'error')) as [Error & Record<string, unknown>];
  assert.equal(err.message, 'getaddrinfo ENOTFOUND nope.example.test');
  assert.deepEqual([err.code, err.errno, err.syscall, err.hostname], ['ENOTFOUND', -3008, 'getaddrinfo', 'nope.example.test']);
  // Without servers a name is not found either (and not looked up anywhere).
  b.setDnsServers([]);
  const none = await lookup(b, 'www.example.test');
  assert.equal(none.err?.code, 'ENOTFOUND');
  zone.close();
  l.stop();
});

test('RFC 1035 §4.2.1 / RFC 7766 §5: an answer too big for 512 bytes comes truncated over UDP and the resolver asks again over TCP', async () => {
  const l = lan(3);
  const a = l.host('10.0.0.2');
  const b = l.host('10.0.0.1');
  const zone = a.dnsZone({ origin: 'example.test', records: bigRecords(40) });
  b.setDnsServers(['10.0.0.2']);
  let tcpAccepted = 0;
  a.stack.addHook((ev) => {
    if (ev.type === 'conn' && ev.event.type === 'state' && ev.event.to === 'ESTABLISHED' && ev.conn.localPort === 53) tcpAccepted++;
  });
  const r = await lookup(b, 'big.example.test', { all: true, family: 4 });
  assert.equal(r.err, null);
  assert.equal((r.address as unknown[]).length, 40, 'all 40 records: only TCP can carry them');
  assert.equal(tcpAccepted, 1);
  zone.close();
  b.setDnsServers([]);
  l.stop();
});

test('RFC 1035 §7.2: with 20 % frame loss lookups still succeed by retransmission; a silent server ends in EAI_AGAIN like Node\'s getaddrinfo after 1 + 2 + 4 s', async () => {
  const l = lan(4, { loss: 0.2 });
  const a = l.host('10.0.0.2');
  const b = l.host('10.0.0.1');
  const zone = a.dnsZone({ origin: 'example.test', names: Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`h${i}.example.test`, `10.0.0.${100 + i}`])) });
  b.setDnsServers(['10.0.0.2'], { attempts: 4 });
  const sent0 = b.stack.counters.udpOut;
  for (let i = 0; i < 10; i++) {
    const r = await lookup(b, `h${i}.example.test`, { family: 4 });
    assert.equal(r.address, `10.0.0.${100 + i}`, String(r.err));
  }
  assert.ok(l.switch!.stats.lost > 0);
  assert.ok(b.stack.counters.udpOut - sent0 > 10, `queries were retransmitted (${b.stack.counters.udpOut - sent0} datagrams for 10 lookups)`);
  zone.close();
  // Nobody at 10.0.0.9: three rounds, then the error.
  b.setDnsServers(['10.0.0.9']);
  const t0 = b.stack.clock.now();
  const r = await lookup(b, 'www.example.test', { family: 4 });
  assert.equal(r.err?.code, 'EAI_AGAIN');
  assert.equal(r.err?.syscall, 'getaddrinfo');
  assert.equal(b.stack.clock.now() - t0, 7_000_000);
  b.setDnsServers([]);
  l.stop();
});

test('RFC 1035 §7.4 / RFC 2308: answers are cached for their TTL (no query), then asked again; NXDOMAIN is cached for the SOA minimum', async () => {
  const l = lan(5);
  const a = l.host('10.0.0.2');
  const b = l.host('10.0.0.1');
  const zone = a.dnsZone({ origin: 'example.test', names: { 'www.example.test': '10.0.0.2' }, ttl: 30, soaMinimum: 10 });
  b.setDnsServers(['10.0.0.2']);
  const queries = (): number => a.stack.counters.udpIn;
  await lookup(b, 'www.example.test', { family: 4 });
  const n1 = queries();
  const hit = await lookup(b, 'www.example.test', { family: 4 });
  assert.equal(hit.address, '10.0.0.2');
  assert.equal(queries(), n1, 'served from the cache');
  await lookup(b, 'nope.example.test', { family: 4 });
  const n2 = queries();
  assert.equal((await lookup(b, 'nope.example.test', { family: 4 })).err?.code, 'ENOTFOUND');
  assert.equal(queries(), n2, 'the negative answer is cached');
  // 31 s later both are asked again.
  await sleep(l, b, 31_000_000);
  await lookup(b, 'www.example.test', { family: 4 });
  await lookup(b, 'nope.example.test', { family: 4 });
  assert.equal(queries(), n2 + 2);
  zone.close();
  b.setDnsServers([]);
  l.stop();
});

test('RFC 1035 §2.2 forwarder: B resolves through F\'s forwarder (UDP and, for a truncated answer, TCP on both legs) relaying to U\'s zone on port 5353', async () => {
  const l = lan(6);
  const u = l.host('10.0.0.3');
  const f = l.host('10.0.0.4');
  const b = l.host('10.0.0.1');
  const zone = u.dnsZone({ port: 5353, origin: 'example.test', names: { 'www.example.test': '10.0.0.3' }, records: bigRecords(40) });
  const fwd = f.dnsForwarder({ port: 53, upstream: '10.0.0.3:5353' });
  const srv = echo(u);
  b.setDnsServers(['10.0.0.4']);
  const r = await roundTrip(b, 'www.example.test');
  assert.deepEqual(r, { text: 'hello by name', remote: '10.0.0.3' });
  assert.equal(fwd.forwarder.answered['upstream'], 2, 'A and AAAA');
  const big = await lookup(b, 'big.example.test', { all: true, family: 4 });
  assert.equal((big.address as unknown[]).length, 40);
  assert.equal(fwd.forwarder.answered['upstream'], 4, 'the truncated UDP answer, then the TCP one');
  assert.deepEqual(fwd.forwarder.drops, {});
  srv.close();
  fwd.close();
  zone.close();
  b.setDnsServers([]);
  l.stop();
});

test('DHCP option 6 configures the resolver: a host with no address gets a lease, then connects by name through the forwarder on the DHCP server', async () => {
  const l = lan(7);
  const srv = l.host('192.168.7.1');
  const up = l.host('192.168.7.2');
  srv.dhcpServer({ poolStart: '192.168.7.100', poolEnd: '192.168.7.110', router: '192.168.7.1', dns: ['192.168.7.1'], leaseTime: 3600 });
  const fwd = srv.dnsForwarder({ upstream: '192.168.7.2:5353' });
  const zone = up.dnsZone({ port: 5353, origin: 'lan.test', names: { 'web.lan.test': '192.168.7.2' } });
  const web = echo(up);
  const c = l.host(null);
  const dhcp = c.dhcp();
  const cfg = await dhcp.bound;
  assert.equal(cfg.address, '192.168.7.100');
  assert.deepEqual(cfg.dns, ['192.168.7.1']);
  const r = await roundTrip(c, 'web.lan.test');
  assert.deepEqual(r, { text: 'hello by name', remote: '192.168.7.2' });
  dhcp.stop();
  web.close();
  fwd.close();
  zone.close();
  c.setDnsServers([]);
  l.stop();
});

test('the resolver asks an IPv6 server (fd00::2) just as well: connect by name over IPv6 transport', async () => {
  const l = lan(8);
  const a = l.host('10.0.0.2', { also: 'fd00::2' });
  const b = l.host('10.0.0.1', { also: 'fd00::1' });
  const zone = a.dnsZone({ origin: 'example.test', names: { 'v6.example.test': 'fd00::2' } });
  const srv = echo(a);
  b.setDnsServers(['[fd00::2]:53']);
  const r = await roundTrip(b, 'v6.example.test');
  assert.deepEqual(r, { text: 'hello by name', remote: 'fd00::2' });
  srv.close();
  zone.close();
  b.setDnsServers([]);
  l.stop();
});

test('garbage datagrams to the running DNS forwarder, zone server and DHCP server are counted drops; each still serves afterwards', async () => {
  const l = lan(9);
  const u = l.host('10.0.0.3');
  const f = l.host('10.0.0.4');
  const b = l.host('10.0.0.1');
  const zone = u.dnsZone({ port: 5353, origin: 'example.test', names: { 'www.example.test': '10.0.0.3' } });
  const fwd = f.dnsForwarder({ upstream: '10.0.0.3:5353' });
  const dhcp = f.dhcpServer({ poolStart: '10.0.0.100', poolEnd: '10.0.0.110' });
  const s = b.dgram.createSocket('udp4');
  await new Promise<void>((done) => s.bind(0, () => done()));
  // ARP first (the neighbour cache holds at most 3 datagrams per unresolved address).
  for (const addr of ['10.0.0.3', '10.0.0.4']) await new Promise<void>((done) => s.send('x', 9, addr, () => done()));
  await sleep(l, b, 1_000_000);
  const junk = [new Uint8Array(0), new Uint8Array([1, 2, 3]), new Uint8Array(300).fill(0xff), new Uint8Array(12).fill(0x80)];
  for (const j of junk) {
    for (const [port, addr] of [[53, '10.0.0.4'], [5353, '10.0.0.3'], [67, '10.0.0.4']] as const) {
      await new Promise<void>((done) => s.send(j, port, addr, () => done()));
    }
  }
  await sleep(l, b, 1_000_000);
  const count = (d: Record<string, number>): number => Object.values(d).reduce((n, v) => n + v, 0);
  assert.equal(count(fwd.forwarder.drops), junk.length, JSON.stringify([fwd.forwarder.drops, zone.zone.drops, dhcp.server.drops, f.stack.counters.drops]));
  assert.equal(count(zone.zone.drops), junk.length);
  assert.equal(count(dhcp.server.drops), junk.length);
  b.setDnsServers(['10.0.0.4']);
  assert.equal((await lookup(b, 'www.example.test', { family: 4 })).address, '10.0.0.3');
  s.close();
  dhcp.stop();
  fwd.close();
  zone.close();
  b.setDnsServers([]);
  l.stop();
});

test('a lookup in flight when the servers change (a lease ended, setDnsServers) fails with EAI_AGAIN instead of hanging', async () => {
  const l = lan(10);
  const b = l.host('10.0.0.1');
  b.setDnsServers(['10.0.0.9']); // nobody there: the query waits for its timeout
  const pending = lookup(b, 'www.example.test', { family: 4 });
  await sleep(l, b, 500_000);
  b.setDnsServers([]);
  const r = await pending;
  assert.equal(r.err?.code, 'EAI_AGAIN');
  assert.equal(r.err?.message, 'getaddrinfo EAI_AGAIN www.example.test');
  l.stop();
});
