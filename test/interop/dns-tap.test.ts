/**
 * DNS between Linux and synack over a TAP device (issue 13), in a namespace
 * of the test's own: Debian's `dig` (bind9-dnsutils) resolves through
 * `synack serve --tap tap0 --dns 53 --dns-upstream …`, over UDP and TCP.
 *
 * The upstream is never a real resolver: a Debian dnsmasq the test starts in
 * the same namespace, bound to the kernel's end of the TAP link, answering
 * only static names (--no-resolv --no-hosts). So every query goes dig →
 * kernel → tap0 → synack's forwarder → back over tap0 → dnsmasq, and the
 * reply the same way back. The test asks dnsmasq directly too and asserts
 * the forwarded answers are the same records (RFC 1035 §7: a forwarder
 * relays the response; names, TTLs, data and RCODE must arrive unchanged).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Netns, ready, skipUnlessReady, type Proc } from './helpers.ts';

const skip = skipUnlessReady(['dig', 'dnsmasq']);
const UPSTREAM_PORT = 5353;
const DNS_PORT = 53;

interface DigResult {
  status: string;
  answers: string[];
  server: string;
}

/** Parses dig's default output: the header's status, the ANSWER section's records, the SERVER line. */
function parseDig(out: string): DigResult {
  const status = /->>HEADER<<- opcode: QUERY, status: ([A-Z]+),/.exec(out)?.[1] ?? `no header in: ${out}`;
  const answers: string[] = [];
  const lines = out.split('\n');
  const at = lines.findIndex((l) => l.startsWith(';; ANSWER SECTION:'));
  if (at >= 0) {
    for (const l of lines.slice(at + 1)) {
      if (l.trim() === '') break;
      answers.push(l.trim().split(/\s+/).join(' '));
    }
  }
  const server = /;; SERVER: (\S+)/.exec(out)?.[1] ?? '';
  return { status, answers, server };
}

describe('interop: dig resolves through synack\'s DNS forwarder over a TAP device', { skip, timeout: 120_000 }, () => {
  const ns = new Netns({ tag: 'dns', subnet: 25, tap: true });
  const S = ns.synackAddr; // 10.213.25.2, synack's end
  const K = ns.kernelAddr; // 10.213.25.1, the kernel's end (and the upstream's address)
  const procs: Proc[] = [];

  const dig = (server: string, port: number, name: string, type: string, tcp: boolean): DigResult =>
    parseDig(ns.exec(['dig', `@${server}`, '-p', String(port), name, type, ...(tcp ? ['+tcp'] : []), '+time=3', '+tries=2'], 30_000));

  before(async () => {
    ns.setup();
    const upstream = ns.spawn([
      'dnsmasq', '--keep-in-foreground', '--conf-file=/dev/null', '--no-resolv', '--no-hosts', '--user=root',
      `--port=${UPSTREAM_PORT}`, `--listen-address=${K}`, '--bind-interfaces', '--local-ttl=300',
      '--address=/example.test/10.9.9.9', '--address=/example.test/fd00::99',
      // An address with no value: dnsmasq answers NXDOMAIN for the name.
      '--address=/nx.example.test/',
    ], { timeoutMs: 100_000 });
    procs.push(upstream);
    const serve = ns.synack('serve', ['--dns', String(DNS_PORT), '--dns-upstream', `${K}:${UPSTREAM_PORT}`], { timeoutMs: 100_000 });
    procs.push(serve);
    await ready(serve);
    assert.match(serve.stdout(), /ready on 10\.213\.25\.2\/24 on tap0 .*dns=53/);
  });
  after(async () => {
    for (const p of procs) p.kill('SIGTERM');
    await ns.cleanup();
  });

  // Each transport asks its own names: synack's forwarder caches positive
  // answers and counts their TTLs down, so a name asked a second time
  // could come from the cache with a lower TTL instead of from upstream.
  for (const tcp of [false, true]) {
    const via = tcp ? 'TCP (+tcp)' : 'UDP';
    const name = tcp ? 'tcp.example.test' : 'udp.example.test';
    const nx = tcp ? 'tcp.nx.example.test' : 'udp.nx.example.test';
    it(`RFC 1035 §4.2: dig over ${via} gets ${name} A 10.9.9.9 through synack's forwarder, the same record the upstream gives`, () => {
      const direct = dig(K, UPSTREAM_PORT, name, 'A', tcp);
      const fwd = dig(S, DNS_PORT, name, 'A', tcp);
      assert.ok(fwd.server.startsWith(`${S}#${DNS_PORT}(`), fwd.server);
      assert.equal(fwd.status, 'NOERROR');
      assert.deepEqual(fwd.answers, [`${name}. 300 IN A 10.9.9.9`]);
      assert.deepEqual(fwd.answers, direct.answers);
    });

    it(`RFC 3596 §2.1: dig over ${via} gets ${name} AAAA fd00::99 through synack's forwarder, unchanged`, () => {
      const direct = dig(K, UPSTREAM_PORT, name, 'AAAA', tcp);
      const fwd = dig(S, DNS_PORT, name, 'AAAA', tcp);
      assert.equal(fwd.status, 'NOERROR');
      assert.deepEqual(fwd.answers, [`${name}. 300 IN AAAA fd00::99`]);
      assert.deepEqual(fwd.answers, direct.answers);
    });

    it(`RFC 1035 §4.1.1: dig over ${via} sees the upstream's NXDOMAIN (RCODE 3) relayed with no answers`, () => {
      const direct = dig(K, UPSTREAM_PORT, nx, 'A', tcp);
      const fwd = dig(S, DNS_PORT, nx, 'A', tcp);
      assert.equal(direct.status, 'NXDOMAIN');
      assert.equal(fwd.status, 'NXDOMAIN');
      assert.deepEqual(fwd.answers, []);
    });
  }
});
