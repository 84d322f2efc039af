/**
 * The DNS engines against a real DNS server: Debian's dnsmasq bound on
 * 127.0.0.1 (a free port), answering example.test from its own --address
 * lines and nothing else (no upstream: --no-resolv, --local=/test/). The
 * resolver's UDP and TCP go through node:dgram and node:net on loopback;
 * the forwarder relays to dnsmasq. In CI dnsmasq must be installed
 * (.ci/run installs dnsmasq-base); outside CI the test skips without it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import type { Socket as UdpSocket } from 'node:dgram';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { Rng } from '../../src/base/rng.ts';
import { DNS_TYPE_A } from '../../src/wire/dns.ts';
import { DnsForwarder } from '../../src/services/dns-forwarder.ts';
import type { ForwarderStep } from '../../src/services/dns-forwarder.ts';
import { DnsResolverEngine, StubResolver } from '../../src/services/dns-resolver.ts';
import type { DnsResult, LookupAddress, ResolverTransport } from '../../src/services/dns-resolver.ts';
import { inCi } from '../support/ci.ts';

const DNSMASQ = ['/usr/sbin/dnsmasq', '/usr/bin/dnsmasq'].find((p) => spawnSync('test', ['-x', p]).status === 0);
const skip = DNSMASQ === undefined && !inCi() ? 'dnsmasq is not installed (apt-get install dnsmasq-base)' : false;

/** A ResolverTransport on Node: node:dgram, node:net and real timers (µs from performance.now). */
function nodeTransport(sock: UdpSocket, r: () => StubResolver): ResolverTransport {
  const conns = new Map<number, Socket>();
  return {
    now: () => Math.round(performance.now() * 1000),
    setTimer: (at, fn) => {
      const t = setTimeout(fn, Math.max(0, (at - performance.now() * 1000) / 1000));
      return () => clearTimeout(t);
    },
    sendUdp: (d) => sock.send(d.payload, d.port, d.address),
    tcp: (a) => {
      if (a.type === 'close') {
        conns.get(a.conn)?.destroy();
        conns.delete(a.conn);
        return;
      }
      const c = connect(a.port, a.address, () => c.write(a.data));
      conns.set(a.conn, c);
      c.on('data', (b) => r().receiveTcp(a.conn, new Uint8Array(b)));
      c.on('close', () => { if (conns.delete(a.conn)) r().tcpClosed(a.conn); });
      c.on('error', () => {});
    },
  };
}

describe('DNS engines against dnsmasq on loopback', { skip }, () => {
  let proc: ChildProcess;
  let port = 0;
  const socks: UdpSocket[] = [];

  before(async () => {
    if (DNSMASQ === undefined) throw new Error('dnsmasq must be installed in CI (apt-get install dnsmasq-base)');
    const probe = createSocket('udp4');
    await new Promise<void>((res) => probe.bind(0, '127.0.0.1', res));
    port = probe.address().port;
    probe.close();
    const big: string[] = [];
    for (let i = 1; i <= 40; i++) big.push(`--host-record=big.example.test,192.0.2.${i}`);
    proc = spawn(DNSMASQ, [
      '--keep-in-foreground', '--conf-file=/dev/null', '--no-resolv', '--no-hosts', '--no-poll', '--user=root',
      '--listen-address=127.0.0.1', '--bind-interfaces', `--port=${port}`, '--local=/test/',
      '--address=/www.example.test/192.0.2.44', '--address=/www.example.test/2001:db8::44', ...big,
    ], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    proc.stderr!.on('data', (b) => { err += String(b); });
    // Wait until it answers (bounded: 5 s).
    for (let i = 0; i < 50; i++) {
      await new Promise((r) => setTimeout(r, 100));
      if (proc.exitCode !== null) throw new Error(`dnsmasq exited: ${err}`);
      const ok = await new Promise<boolean>((res) => {
        const c = connect(port, '127.0.0.1', () => { c.destroy(); res(true); });
        c.on('error', () => res(false));
      });
      if (ok) return;
    }
    throw new Error(`dnsmasq did not start: ${err}`);
  });

  after(() => {
    for (const s of socks) s.close();
    if (proc && proc.exitCode === null) proc.kill('SIGTERM');
  });

  async function resolver(server: { address: string; port: number }): Promise<StubResolver> {
    const sock = createSocket('udp4');
    socks.push(sock);
    await new Promise<void>((res) => sock.bind(0, '127.0.0.1', res));
    let r: StubResolver;
    const eng = new DnsResolverEngine({ servers: [server], rng: new Rng(11) });
    r = new StubResolver(eng, nodeTransport(sock, () => r));
    sock.on('message', (b, rinfo) => r.receiveUdp(new Uint8Array(b), rinfo));
    return r;
  }

  test('RFC 1035: the stub resolver gets A and AAAA from dnsmasq over UDP, NXDOMAIN is ENOTFOUND', async () => {
    const r = await resolver({ address: '127.0.0.1', port });
    const all = await new Promise<LookupAddress[]>((res, rej) => r.lookup('www.example.test', { all: true }, (e, a) => (e ? rej(e) : res(a as LookupAddress[]))));
    assert.deepEqual(all, [{ address: '192.0.2.44', family: 4 }, { address: '2001:db8::44', family: 6 }]);
    const err = await new Promise<Error & { code?: string }>((res) => r.lookup('nope.example.test', 4, (e) => res(e!)));
    assert.equal(err.code, 'ENOTFOUND');
  });

  test('RFC 1035 §4.2.1 / §4.2.2: a truncated answer from dnsmasq is retried over TCP and gives all 40 records', async () => {
    const r = await resolver({ address: '127.0.0.1', port });
    const res = await new Promise<DnsResult>((done) => r.resolve('big.example.test', DNS_TYPE_A, done));
    assert.ok(res.ok, JSON.stringify(res));
    assert.equal(res.records.length, 40);
  });

  test('the forwarder relays the resolver\'s queries to dnsmasq (UDP) with rewritten ids', async () => {
    const front = createSocket('udp4');
    const back = createSocket('udp4');
    socks.push(front, back);
    await new Promise<void>((res) => front.bind(0, '127.0.0.1', res));
    await new Promise<void>((res) => back.bind(0, '127.0.0.1', res));
    const f = new DnsForwarder({ upstream: { address: '127.0.0.1', port }, rng: new Rng(5) });
    const now = (): number => Math.round(performance.now() * 1000);
    const apply = (s: ForwarderStep): void => {
      for (const d of s.out) (d.address === '127.0.0.1' && d.port === port ? back : front).send(d.payload, d.port, d.address);
    };
    front.on('message', (b, rinfo) => apply(f.handleClientUdp(new Uint8Array(b), rinfo, now())));
    back.on('message', (b, rinfo) => apply(f.handleUpstreamUdp(new Uint8Array(b), rinfo, now())));
    const r = await resolver({ address: '127.0.0.1', port: front.address().port });
    const a = await new Promise<string>((res, rej) => r.lookup('www.example.test', 4, (e, addr) => (e ? rej(e) : res(addr as string))));
    assert.equal(a, '192.0.2.44');
    assert.equal(f.answered['upstream'], 1);
    assert.equal(f.outstanding, 0);
  });
});
