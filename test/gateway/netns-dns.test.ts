/**
 * `synack gateway --netns PATH --ipv6 --dns-upstream 127.0.0.1:PORT` with
 * real Linux clients (issue 15): the test makes a bare network namespace
 * (gw-dns-PID), runs a small DNS server on the host's 127.0.0.1 (the
 * forwarder's upstream, test/gateway/dns-upstream.ts — never a real
 * resolver) and ONE gateway process for the whole file, then runs dig,
 * busybox nslookup, ping and curl inside the namespace: DNS through
 * 10.0.2.3 and fd00::3 (UDP, TCP, NXDOMAIN, truncation), the kernel's IPv6
 * configuration (fd00::100, a default route via fd00::2, the Router
 * Advertisement it accepted), and the Router Advertisement's fields read
 * back from the gateway's --pcap. Traffic stays on loopback and inside the
 * namespace; every process is killed by PID and the namespace deleted.
 *
 * Needs root, /dev/net/tun, ip, python3, dig, busybox, curl, ping and the
 * addon: outside CI it skips saying which is missing; in CI (.ci/run
 * installs them) it must run.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Netns, skipUnlessReady } from '../interop/helpers.ts';
import { hostServer } from './helpers.ts';
import { hostSpawn, killByPid, type HostProc } from './host-proc.ts';
import { BIG_COUNT, startUpstream, type TestUpstream } from './dns-upstream.ts';
import { parsePcap } from '../../src/wire/pcap.ts';
import { parseNdp, type NdpMessage } from '../../src/wire/ndp.ts';
import { formatIpAddr, readIpv6Addr } from '../../src/wire/ipv6.ts';

const skip = skipUnlessReady(['dig', 'busybox', 'curl', 'ping', 'nsenter']);
const MTU = 1500;

describe('synack gateway --netns --ipv6 --dns-upstream: DNS at 10.0.2.3 / fd00::3 and IPv6 for a namespace, with real Linux clients', { skip }, () => {
  const ns = new Netns({ tag: 'gwdns', name: `gw-dns-${process.pid}`, bare: true });
  const dir = mkdtempSync(join(tmpdir(), 'gw-dns-'));
  const pcap = join(dir, 'guest.pcap');
  let up: TestUpstream;
  let gw: HostProc | null = null;
  const closers: Array<() => void> = [];

  /** Runs a command in the namespace to its end. */
  async function run(argv: string[], timeoutMs = 30_000): Promise<{ code: number | string; out: string; err: string }> {
    const p = ns.spawn(argv, { timeoutMs });
    const code = await p.exited;
    return { code, out: p.stdout(), err: p.stderr() };
  }

  before(async () => {
    ns.setup();
    up = await startUpstream('127.0.0.1');
    gw = hostSpawn(
      [process.execPath, '--import', 'tsx', 'src/cli/main.ts', 'gateway', '--netns', ns.path, '--mtu', String(MTU), '--ipv6', '--dns-upstream', `127.0.0.1:${up.port}`, '--pcap', pcap, '--stats'],
      300_000,
    );
    await gw.waitFor(/ready on tap0/, 30_000);
  });

  after(async () => {
    killByPid(gw);
    for (const c of closers) c();
    await up?.close();
    await ns.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the ready line names the DNS forwarder and its upstream, and the IPv6 addresses', () => {
    assert.match(gw!.out(), new RegExp(`dns 10\\.0\\.2\\.3, fd00::3 -> 127\\.0\\.0\\.1:${up.port}`));
    assert.match(gw!.out(), /fd00::100\/64/);
  });

  test('dig @10.0.2.3: A and AAAA answers from the upstream on the host\'s loopback (UDP)', async () => {
    const a = await run(['dig', '@10.0.2.3', '+short', '+tries=1', '+time=5', 'www.example.test', 'A']);
    assert.equal(a.code, 0, a.err + a.out);
    assert.equal(a.out.trim(), '192.0.2.10');
    const aaaa = await run(['dig', '@10.0.2.3', '+short', '+tries=1', '+time=5', 'www.example.test', 'AAAA']);
    assert.equal(aaaa.code, 0, aaaa.err + aaaa.out);
    assert.equal(aaaa.out.trim(), '2001:db8::10');
  });

  test('dig +tcp @10.0.2.3 (RFC 1035 §4.2.2): the forwarder answers over TCP and asks the upstream over TCP', async () => {
    const before = up.tcpQueries;
    const r = await run(['dig', '@10.0.2.3', '+tcp', '+short', '+tries=1', '+time=5', 'www.example.test', 'A']);
    assert.equal(r.code, 0, r.err + r.out);
    assert.equal(r.out.trim(), '192.0.2.10');
    assert.equal(up.tcpQueries, before + 1);
  });

  test('dig @10.0.2.3 for a name that does not exist: status NXDOMAIN, the upstream\'s SOA passed on', async () => {
    const r = await run(['dig', '@10.0.2.3', '+tries=1', '+time=5', 'nope.example.test', 'A']);
    assert.equal(r.code, 0, r.err + r.out);
    assert.match(r.out, /status: NXDOMAIN/);
    assert.match(r.out, /AUTHORITY: 1/);
    assert.match(r.out, /example\.test\.\s+\d+\s+IN\s+SOA/);
  });

  test('RFC 1035 §4.2.1: without EDNS a 40-record answer comes back truncated over UDP and dig retries over TCP, getting every record', async () => {
    const r = await run(['dig', '@10.0.2.3', '+noedns', '+tries=1', '+time=5', 'big.example.test', 'A']);
    assert.equal(r.code, 0, r.err + r.out);
    assert.match(r.out + r.err, /Truncated, retrying in TCP mode/);
    const lines = r.out.split('\n').filter((l) => /^big\.example\.test\.\s+\d+\s+IN\s+A\s+198\.51\.100\./.test(l));
    assert.equal(lines.length, BIG_COUNT);
  });

  test('busybox nslookup through 10.0.2.3', async () => {
    const r = await run(['busybox', 'nslookup', 'www.example.test', '10.0.2.3']);
    assert.equal(r.code, 0, r.err + r.out);
    assert.match(r.out, /192\.0\.2\.10/);
  });

  test('--ipv6: the kernel in the namespace has fd00::100/64 and a default route via fd00::2', () => {
    assert.match(ns.exec(['ip', '-6', '-o', 'addr', 'show', 'dev', 'tap0']), /inet6 fd00::100\/64 /);
    assert.match(ns.exec(['ip', '-6', 'route', 'show', 'default']), /default via fd00::2 dev tap0/);
  });

  test('ping -6 fd00::2 is answered by the gateway; curl -6 http://[fd00::2]:PORT/ reaches a server on the host\'s ::1', async () => {
    const p = await run(['ping', '-6', '-c', '1', '-W', '5', 'fd00::2']);
    assert.equal(p.code, 0, p.err + p.out);
    assert.match(p.out, /1 received/);
    const h = await hostServer((s) => s.once('data', () => s.end('HTTP/1.0 200 OK\r\ncontent-length: 13\r\n\r\nhello via ::1')), '::1');
    closers.push(() => h.server.close());
    const c = await run(['curl', '-6', '-sS', '--max-time', '20', `http://[fd00::2]:${h.port}/`]);
    assert.equal(c.code, 0, c.err);
    assert.equal(c.out, 'hello via ::1');
    assert.equal(h.conns.length, 1);
  });

  test('dig @fd00::3 (IPv6 transport to the forwarder), UDP and TCP', async () => {
    const r = await run(['dig', '@fd00::3', '+short', '+tries=1', '+time=5', 'www.example.test', 'AAAA']);
    assert.equal(r.code, 0, r.err + r.out);
    assert.equal(r.out.trim(), '2001:db8::10');
    const t = await run(['dig', '@fd00::3', '+tcp', '+short', '+tries=1', '+time=5', 'www.example.test', 'A']);
    assert.equal(t.code, 0, t.err + t.out);
    assert.equal(t.out.trim(), '192.0.2.10');
  });

  test('RFC 4861 §6.3.4: the kernel accepted the gateway\'s Router Advertisement (a default route learned from it, proto ra)', async () => {
    // The first advertisements go out within MAX_INITIAL_RTR_ADVERT_INTERVAL (16 s) and at once in answer to a solicitation.
    const end = Date.now() + 30_000;
    let routes = '';
    while (Date.now() < end) {
      routes = ns.exec(['ip', '-6', 'route', 'show', 'default']);
      if (/default via fe80::[0-9a-f:]+ dev tap0 proto ra/.test(routes)) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    assert.match(routes, /default via fe80::[0-9a-f:]+ dev tap0 proto ra/);
  });

  test('SIGTERM: exit 0, the stats count the DNS queries; the pcap holds the Router Advertisement with prefix fd00::/64 (L and A), MTU and RDNSS fd00::3 (RFC 4861 §4.2, RFC 8106 §5.1)', async () => {
    const g = gw!;
    killByPid(g, 'SIGTERM');
    assert.equal(await g.exited, 0, g.err());
    const line = g.out().split('\n').find((l) => l.startsWith('stats '));
    assert.ok(line, g.out());
    const st = JSON.parse(line.slice(6)) as { dns: { queries: number; answers: number } };
    assert.ok(st.dns.queries >= 10, JSON.stringify(st.dns));
    assert.equal(st.dns.queries, up.udpQueries + up.tcpQueries);
    assert.ok(st.dns.answers >= 10, JSON.stringify(st.dns));

    const file = parsePcap(new Uint8Array(readFileSync(pcap)));
    assert.ok(file.ok);
    const ras: NdpMessage[] = [];
    for (const r of file.records) {
      const p = r.data;
      // IPv6, next header ICMPv6 (58), type 134: a Router Advertisement; its body after type, code and checksum.
      if (p.length > 44 && p[0]! >> 4 === 6 && p[6] === 58 && p[40] === 134) {
        const m = parseNdp(134, p.subarray(44));
        if (m.ok) ras.push(m.value);
        assert.ok(formatIpAddr(readIpv6Addr(p, 8)).startsWith('fe80:'), 'sent from the link-local address');
      }
    }
    assert.ok(ras.length >= 1, 'a Router Advertisement was captured');
    const ra = ras[0]! as Extract<NdpMessage, { type: 'ra' }>;
    assert.equal(ra.type, 'ra');
    assert.ok(ra.routerLifetime > 0, 'a default router');
    const pfx = ra.opts.prefixes?.[0];
    assert.ok(pfx);
    assert.equal(formatIpAddr(pfx.prefix), 'fd00::');
    assert.equal(pfx.prefixLen, 64);
    assert.equal(pfx.onLink, true);
    assert.equal(pfx.autonomous, true);
    assert.equal(ra.opts.mtu, MTU);
    assert.deepEqual(ra.opts.rdnss?.servers.map(formatIpAddr), ['fd00::3']);
    assert.notEqual(spawnSync('ip', ['netns', 'exec', ns.name, 'ip', 'link', 'show', 'dev', 'tap0'], { stdio: 'ignore' }).status, 0, 'tap0 is removed');
  });
});
