/**
 * The gateway's DNS forwarder at 10.0.2.3 / fd00::3 (gateway/dns.ts) and
 * its IPv6 opt-in, in memory: a synack guest on createMemoryNetwork({
 * ethernet: true }) resolves names with the project's stub resolver and raw
 * queries; the upstream is a small DNS server the test runs on the host's
 * loopback (test/gateway/dns-upstream.ts). Host sockets are real I/O:
 * every wait is bounded.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { promisify } from 'node:util';
import { buildDns, dnsQuery, parseDns, DNS_RCODE_NXDOMAIN, DNS_RCODE_SERVFAIL, DNS_TYPE_A, type DnsMessage } from '../../src/wire/dns.ts';
import { DnsStreamReader, frameDns } from '../../src/services/dns-stream.ts';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultDnsUpstream, firstNameserver, parseDnsUpstream } from '../../src/gateway/dns.ts';
import { createGateway } from '../../src/gateway/gateway.ts';
import { createMemoryNetwork, type MemoryHost } from '../../src/api/memory-network.ts';
import { formatIpAddr } from '../../src/wire/ipv6.ts';
import { hostServer, memoryGateway, waitFor } from './helpers.ts';
import { BIG_COUNT, startUpstream } from './dns-upstream.ts';

type Lookup = (name: string, o: { family?: number; all?: boolean }) => Promise<unknown>;
const lookupOf = (h: MemoryHost): Lookup => promisify(h.lookup.bind(h)) as unknown as Lookup;

/** One raw UDP query from the guest to `server`:53; resolves with the answer's bytes. */
function udpQuery(guest: MemoryHost, server: string, q: Uint8Array): Promise<Uint8Array> {
  const s = guest.dgram.createSocket(server.includes(':') ? 'udp6' : 'udp4');
  return new Promise<Uint8Array>((resolve, reject) => {
    const t = setTimeout(() => {
      s.close();
      reject(new Error(`no answer from ${server}`));
    }, 10_000);
    s.on('message', (msg: Uint8Array, rinfo: { address: string; port: number }) => {
      clearTimeout(t);
      s.close();
      assert.equal(rinfo.address, server, 'the answer comes from the DNS address');
      assert.equal(rinfo.port, 53);
      resolve(new Uint8Array(msg));
    });
    s.send(q, 53, server);
  });
}

/** One query over TCP (RFC 1035 §4.2.2 framing) from the guest to `server`:53. */
function tcpQuery(guest: MemoryHost, server: string, q: Uint8Array): Promise<Uint8Array> {
  return new Promise<Uint8Array>((resolve, reject) => {
    const s = guest.net.connect(53, server);
    const r = new DnsStreamReader();
    const t = setTimeout(() => {
      s.destroy();
      reject(new Error(`no TCP answer from ${server}`));
    }, 10_000);
    s.on('error', reject);
    s.on('connect', () => s.write(frameDns(q)));
    s.on('data', (d: Uint8Array) => {
      const msgs = r.push(d);
      if (msgs && msgs.length > 0) {
        clearTimeout(t);
        s.end();
        resolve(msgs[0]!);
      }
    });
  });
}

function parsed(b: Uint8Array): DnsMessage {
  const m = parseDns(b);
  assert.ok(m.ok, 'a well-formed DNS message');
  return m.value;
}

describe('gateway DNS forwarder at 10.0.2.3 (UDP and TCP to a loopback upstream)', { timeout: 60_000 }, () => {
  test('a synack guest resolves a name through 10.0.2.3 with its stub resolver (A and AAAA); the gateway counts the queries and answers', async () => {
    const up = await startUpstream();
    const r = memoryGateway({ dnsUpstream: `127.0.0.1:${up.port}` });
    try {
      r.guest.setDnsServers(['10.0.2.3']);
      const lookup = lookupOf(r.guest);
      assert.equal(await lookup('www.example.test', { family: 4 }), '192.0.2.10');
      assert.equal(await lookup('www.example.test', { family: 6 }), '2001:db8::10');
      assert.ok(up.udpQueries >= 2, 'the upstream saw the queries');
      const st = r.gw.stats().dns;
      assert.equal(st.queries, up.udpQueries);
      assert.equal(st.answers, up.answers.length);
      assert.equal(st.failures, 0);
    } finally {
      await r.close();
      await up.close();
    }
  });

  test('RFC 1035 §4.1.1: an NXDOMAIN answer comes back unchanged — the guest\'s id, the upstream\'s bytes after it', async () => {
    const up = await startUpstream();
    const r = memoryGateway({ dnsUpstream: `127.0.0.1:${up.port}` });
    try {
      const q = buildDns(dnsQuery(0x1234, 'nope.example.test', DNS_TYPE_A));
      const a = await udpQuery(r.guest, '10.0.2.3', q);
      const m = parsed(a);
      assert.equal(m.id, 0x1234);
      assert.equal(m.rcode, DNS_RCODE_NXDOMAIN);
      assert.equal(m.authorities.length, 1, "the zone's SOA (RFC 2308 §3) is passed on");
      assert.equal(up.answers.length, 1);
      assert.deepEqual(a.subarray(2), up.answers[0]!.bytes.subarray(2));
      // The id the upstream saw was the forwarder's own (RFC 5452 §9.2), not the guest's.
      assert.equal(r.gw.stats().dns.answers, 1);
      // And the stub resolver reports it as ENOTFOUND.
      r.guest.setDnsServers(['10.0.2.3']);
      await assert.rejects(lookupOf(r.guest)('nope.example.test', { family: 4 }), (e: NodeJS.ErrnoException) => e.code === 'ENOTFOUND');
    } finally {
      await r.close();
      await up.close();
    }
  });

  test('RFC 1035 §4.2.1: a truncated UDP answer stays truncated (TC set), the guest retries over TCP to 10.0.2.3 and gets every record', async () => {
    const up = await startUpstream();
    const r = memoryGateway({ dnsUpstream: `127.0.0.1:${up.port}` });
    try {
      const q = buildDns(dnsQuery(7, 'big.example.test', DNS_TYPE_A));
      const a = parsed(await udpQuery(r.guest, '10.0.2.3', q));
      assert.equal(a.tc, true);
      assert.equal(a.id, 7);
      const t = parsed(await tcpQuery(r.guest, '10.0.2.3', q));
      assert.equal(t.tc, false);
      assert.equal(t.id, 7);
      assert.equal(t.answers.length, BIG_COUNT);
      assert.equal(up.tcpQueries, 1, 'the forwarder asked the upstream over TCP too');
      // The stub resolver does the same by itself (RFC 7766 §5: retry over TCP on TC).
      r.guest.setDnsServers(['10.0.2.3']);
      const all = (await lookupOf(r.guest)('big.example.test', { family: 4, all: true })) as Array<{ address: string }>;
      assert.equal(all.length, BIG_COUNT);
      assert.equal(up.tcpQueries, 2);
    } finally {
      await r.close();
      await up.close();
    }
  });

  test('no cache: the same question twice is asked upstream twice (every answer is the upstream\'s)', async () => {
    const up = await startUpstream();
    const r = memoryGateway({ dnsUpstream: `127.0.0.1:${up.port}` });
    try {
      const q = buildDns(dnsQuery(1, 'www.example.test', DNS_TYPE_A));
      await udpQuery(r.guest, '10.0.2.3', q);
      await udpQuery(r.guest, '10.0.2.3', q);
      assert.equal(up.udpQueries, 2);
      assert.equal(r.gw.stats().dns.answers, 2);
    } finally {
      await r.close();
      await up.close();
    }
  });

  test('RFC 5625 §6: an upstream that does not answer — the guest gets SERVFAIL after dnsTimeoutMs, counted', async () => {
    const up = await startUpstream();
    up.silent = true;
    const r = memoryGateway({ dnsUpstream: `127.0.0.1:${up.port}`, dnsTimeoutMs: 300 });
    try {
      const a = parsed(await udpQuery(r.guest, '10.0.2.3', buildDns(dnsQuery(0x55, 'www.example.test', DNS_TYPE_A))));
      assert.equal(a.id, 0x55);
      assert.equal(a.rcode, DNS_RCODE_SERVFAIL);
      assert.equal(up.udpQueries, 1);
      const st = r.gw.stats().dns;
      assert.equal(st.servfail, 1);
      assert.equal(st.answers, 0);
    } finally {
      await r.close();
      await up.close();
    }
  });

  test('a TCP client that half-closes after its query still gets the answer, then the forwarder\'s FIN', async () => {
    const up = await startUpstream();
    const r = memoryGateway({ dnsUpstream: `127.0.0.1:${up.port}` });
    try {
      const got = await new Promise<Uint8Array[]>((resolve, reject) => {
        const s = r.guest.net.connect({ port: 53, host: '10.0.2.3', allowHalfOpen: true });
        const rd = new DnsStreamReader();
        const msgs: Uint8Array[] = [];
        s.on('error', reject);
        s.on('connect', () => s.end(frameDns(buildDns(dnsQuery(3, 'www.example.test', DNS_TYPE_A)))));
        s.on('data', (d: Uint8Array) => msgs.push(...(rd.push(d) ?? [])));
        s.on('end', () => resolve(msgs));
      });
      assert.equal(got.length, 1);
      assert.equal(parsed(got[0]!).answers.length, 1);
    } finally {
      await r.close();
      await up.close();
    }
  });

  test('bad input is a counted drop, never a crash: a garbage datagram to 10.0.2.3:53, a zero-length TCP frame (RFC 1035 §4.2.2) closes that connection; the next query is answered', async () => {
    const up = await startUpstream();
    const r = memoryGateway({ dnsUpstream: `127.0.0.1:${up.port}` });
    try {
      const junk = r.guest.dgram.createSocket('udp4');
      junk.send(new Uint8Array([1, 2, 3, 4, 5]), 53, '10.0.2.3');
      await waitFor('the garbage is counted', () => r.gw.stats().dns.failures >= 1);
      junk.close();
      const closed = await new Promise<boolean>((resolve, reject) => {
        const s = r.guest.net.connect(53, '10.0.2.3');
        s.on('error', reject);
        s.on('connect', () => s.write(new Uint8Array([0, 0, 0, 0])));
        s.on('data', () => {});
        s.on('close', () => resolve(true));
      });
      assert.ok(closed);
      assert.ok(r.gw.stats().dns.failures >= 2);
      assert.equal(up.udpQueries + up.tcpQueries, 0, 'nothing went upstream');
      const a = parsed(await udpQuery(r.guest, '10.0.2.3', buildDns(dnsQuery(9, 'www.example.test', DNS_TYPE_A))));
      assert.equal(a.answers.length, 1);
    } finally {
      await r.close();
      await up.close();
    }
  });

  test('10.0.2.3 is an address of the gateway: it answers ARP and ICMP echo for it; policy (--deny) does not apply to the upstream', async () => {
    const up = await startUpstream();
    const r = memoryGateway({ dnsUpstream: `127.0.0.1:${up.port}`, deny: ['0.0.0.0/0'] });
    try {
      const p = await r.guest.ping('10.0.2.3', { count: 1, timeoutMs: 5000 });
      assert.equal(p.received, 1);
      r.guest.setDnsServers(['10.0.2.3']);
      assert.equal(await lookupOf(r.guest)('www.example.test', { family: 4 }), '192.0.2.10');
      const mac = r.guest.eth!.neighbors.get(0x0a000203)?.mac;
      assert.equal(mac, r.gw.eth.mac);
    } finally {
      await r.close();
      await up.close();
    }
  });

  test('an upstream on ::1 (--dns-upstream [::1]:PORT) answers too', async () => {
    const up = await startUpstream('::1');
    const r = memoryGateway({ dnsUpstream: `[::1]:${up.port}` });
    try {
      r.guest.setDnsServers(['10.0.2.3']);
      assert.equal(await lookupOf(r.guest)('www.example.test', { family: 4 }), '192.0.2.10');
    } finally {
      await r.close();
      await up.close();
    }
  });

  test('dnsUpstream: ADDR, ADDR:PORT and [V6]:PORT parse; anything else is a typed error; the default is the first nameserver of resolv.conf', () => {
    assert.deepEqual(parseDnsUpstream('127.0.0.1:5353'), { address: '127.0.0.1', port: 5353 });
    assert.deepEqual(parseDnsUpstream('10.0.0.1'), { address: '10.0.0.1', port: 53 });
    assert.deepEqual(parseDnsUpstream('[::1]:5353'), { address: '::1', port: 5353 });
    assert.deepEqual(parseDnsUpstream('::1'), { address: '::1', port: 53 });
    for (const bad of ['', 'resolver', '127.0.0.1:0', '127.0.0.1:70000', '[::1']) {
      assert.throws(() => parseDnsUpstream(bad), (e: Error & { code?: string }) => e.code === 'ERR_SYNACK_INVALID_ARG', bad);
    }
    assert.throws(() => createGateway({ downstream: { memory: createMemoryNetwork({ ethernet: true }) }, dnsUpstream: 'x' }), (e: Error & { code?: string }) => e.code === 'ERR_SYNACK_INVALID_ARG');
    assert.equal(firstNameserver('# generated\nsearch example\nnameserver 127.0.0.53\nnameserver 10.0.0.1\n'), '127.0.0.53');
    assert.equal(firstNameserver('nameserver fe80::1%eth0\n'), 'fe80::1');
    assert.equal(firstNameserver('nameserver bogus\nnameserver ::1\n'), '::1');
    // resolv.conf(5): "If no nameserver entries are present, the default is to use the name server on the local machine."
    assert.equal(firstNameserver(''), '127.0.0.1');
    const dir = mkdtempSync(join(tmpdir(), 'gw-dns-resolv-'));
    try {
      writeFileSync(join(dir, 'resolv.conf'), 'options edns0\nnameserver ::1\n');
      assert.equal(defaultDnsUpstream(join(dir, 'resolv.conf')), '::1');
      assert.equal(defaultDnsUpstream(join(dir, 'absent')), '127.0.0.1');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('gateway IPv6 opt-in (ipv6: true)', { timeout: 60_000 }, () => {
  test('without ipv6 the gateway has no IPv6 address and sends no Router Advertisement; fd00::2 is not reachable', async () => {
    const h = await hostServer((c) => c.end('not over v6'), '::1');
    const r = memoryGateway();
    try {
      assert.ok(r.gw.eth.iface.addrs.every((a) => typeof a.addr === 'number'));
      await waitFor('the guest is on the link', () => r.gw.eth.stats.framesIn >= 0);
      await new Promise((res) => setTimeout(res, 200));
      assert.equal(r.gw.eth.stats.raOut, 0);
      assert.deepEqual(r.guest.eth!.dnsServers, []);
      // A guest configured by hand with fd00::100 gets no answer at fd00::2 (nobody answers its neighbour solicitations).
      await waitFor('the guest finished DAD for fd00::100', () => r.guest.eth!.tentative.size === 0);
      const s = r.guest.net.connect(h.port, 'fd00::2');
      s.on('error', () => {});
      await waitFor('the guest solicited fd00::2', () => r.guest.eth!.stats.nsOut >= 2);
      s.destroy();
      assert.equal(r.gw.eth.stats.naOut, 0, 'no neighbour advertisement for fd00::2');
      assert.equal(r.gw.stats().tcp.requests, 0);
      assert.equal(h.conns.length, 0, 'nothing reached the host');
    } finally {
      await r.close();
      h.server.close();
    }
  });

  test('disableHostLoopback with ipv6: neither 10.0.2.2 nor fd00::2 reaches the host\'s loopback (ICMP administratively prohibited, no host socket)', async () => {
    let accepted = 0;
    const h4 = await hostServer(() => accepted++);
    const h6 = await hostServer(() => accepted++, '::1');
    // FreeBSD's rule makes administratively prohibited a hard error in SYN-SENT (ECONNREFUSED) for the synack guest.
    const r = memoryGateway({ ipv6: true, disableHostLoopback: true }, { icmpSynSentErrors: 'freebsd' });
    try {
      await waitFor('the guest finished DAD for fd00::100', () => r.guest.eth!.tentative.size === 0);
      for (const [port, host] of [[h4.port, '10.0.2.2'], [h6.port, 'fd00::2']] as const) {
        const err = await new Promise<NodeJS.ErrnoException>((resolve) => r.guest.net.connect(port, host).once('error', resolve));
        assert.equal(err.code, 'ECONNREFUSED', host);
      }
      const st = r.gw.stats();
      assert.equal(st.tcp.denied, 2);
      assert.equal(st.tcp.opened, 0);
      assert.equal(accepted, 0);
    } finally {
      await r.close();
      h4.server.close();
      h6.server.close();
    }
  });

  test('RFC 4861 §6.2 / RFC 8106: with ipv6 the gateway advertises fd00::/64 with the MTU option and RDNSS fd00::3; the guest resolves through fd00::3', async () => {
    const up = await startUpstream();
    const r = memoryGateway({ dnsUpstream: `127.0.0.1:${up.port}`, ipv6: true, mtu: 1500 });
    try {
      await waitFor('a Router Advertisement reached the guest', () => r.guest.eth!.stats.raIn > 0);
      assert.deepEqual(r.guest.eth!.dnsServers.map(formatIpAddr), ['fd00::3']);
      assert.equal(r.guest.eth!.advertisedMtu, 1500);
      await waitFor('the guest finished DAD for fd00::100', () => r.guest.eth!.tentative.size === 0);
      const q = buildDns(dnsQuery(0xbeef, 'www.example.test', DNS_TYPE_A));
      const a = parsed(await udpQuery(r.guest, 'fd00::3', q));
      assert.equal(a.id, 0xbeef);
      assert.equal(a.answers.length, 1);
      const t = parsed(await tcpQuery(r.guest, 'fd00::3', q));
      assert.equal(t.answers.length, 1);
      r.guest.setDnsServers(['fd00::3']);
      assert.equal(await lookupOf(r.guest)('www.example.test', { family: 6 }), '2001:db8::10');
    } finally {
      await r.close();
      await up.close();
    }
  });
});
