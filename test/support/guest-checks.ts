/**
 * What a real guest proves in its one boot through `synack gateway` (issue
 * 15, "Done when": DHCP, DNS, TCP and UDP working, half-closes and resets
 * carried faithfully), shared by test/guests/qemu.test.ts and
 * test/guests/v86.test.ts so both guests prove the same things.
 *
 * On the host's loopback only:
 *   - the page server (test/support/page-server.ts): seeded bytes over HTTP;
 *   - a DNS zone server for example.test (test/gateway/dns-upstream.ts),
 *     given to the gateway as `--dns-upstream 127.0.0.1:PORT` — never a real
 *     resolver;
 *   - a TCP port with nothing listening on it (taken and closed);
 *   - a half-close server (allowHalfOpen): it reads until the guest's EOF,
 *     only then answers with what it got and ends its side.
 *
 * The guest runs `script` (busybox sh; every step bounded by busybox
 * `timeout` so a failure cannot hang the boot) and prints one line
 * `STEP NAME rc=N` after each step; `parseSteps` reads them back:
 *
 *   fetch      wget the page through 10.0.2.2 and sha256sum it
 *   dns        nslookup www.example.test with the nameserver udhcpc wrote
 *              into /etc/resolv.conf from the lease (10.0.2.3): UDP to the
 *              gateway's forwarder, relayed to the zone server (this and
 *              `udp`: up to three tries until the AAAA record shows, see
 *              the script)
 *   nxdomain   nslookup nx.example.test 10.0.2.3: the NXDOMAIN comes back
 *   udp        nslookup -port=PORT www.example.test 10.0.2.2: a UDP flow
 *              through the gateway's ordinary UDP forwarding (not the
 *              forwarder) to the zone server's own port on the host's
 *              127.0.0.1, the answer back from the address the guest sent to
 *              (busybox's nc has no -u; this is the UDP round trip)
 *   refused    nc to the closed host port through 10.0.2.2: the host's
 *              ECONNREFUSED is carried to the guest as a RST
 *   halfclose  `seq 1 5000 | nc 10.0.2.2 PORT`: busybox nc shuts down its
 *              sending side (shutdown(SHUT_WR)) at the end of its stdin and
 *              keeps reading; the host server sees EOF, answers, ends; nc
 *              prints the answer and exits 0 on the gateway's FIN.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as nodeNet from 'node:net';
import { pageServer, type PageServer } from './page-server.ts';
import { startUpstream, type TestUpstream } from '../gateway/dns-upstream.ts';

/** What the guest sends in the half-close step: busybox `seq 1 5000`. */
export const HALF_CLOSE_COUNT = 5000;
export const halfClosePayload = (): Buffer => Buffer.from(Array.from({ length: HALF_CLOSE_COUNT }, (_, i) => `${i + 1}\n`).join(''));
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** What the half-close server saw of one connection. */
export interface HalfCloseRecord {
  /** Bytes read before the guest's EOF. */
  bytes: number;
  sha256: string;
  /** The guest's EOF arrived (then the answer was written). */
  eof: boolean;
  /** The answer was flushed and the server's side ended. */
  answered: boolean;
  error?: string;
}

export interface GuestChecks {
  pages: PageServer;
  dns: TestUpstream;
  /** A host TCP port with nothing listening. */
  closedPort: number;
  halfClosePort: number;
  halfCloses: HalfCloseRecord[];
  /** The options for `synack gateway` beyond the downstream. */
  gatewayArgs: string[];
  /** The guest's shell text. */
  script: string;
  /** The line the half-close server answers with. */
  halfCloseAnswer: string;
  close(): Promise<void>;
}

export async function startGuestChecks(o: { pageSize: number; seed: number }): Promise<GuestChecks> {
  const pages = await pageServer(o.pageSize, o.seed);
  const dns = await startUpstream('127.0.0.1');

  const probe = nodeNet.createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const closedPort = (probe.address() as nodeNet.AddressInfo).port;
  await new Promise<void>((r) => probe.close(() => r()));

  const want = halfClosePayload();
  const halfCloseAnswer = `host read ${want.length} bytes sha256 ${sha(want)} then EOF`;
  const halfCloses: HalfCloseRecord[] = [];
  const socks = new Set<nodeNet.Socket>();
  const hc = nodeNet.createServer({ allowHalfOpen: true }, (s) => {
    socks.add(s);
    const rec: HalfCloseRecord = { bytes: 0, sha256: '', eof: false, answered: false };
    halfCloses.push(rec);
    const chunks: Buffer[] = [];
    s.on('data', (d: Buffer) => chunks.push(d));
    s.on('error', (e) => (rec.error = e.message));
    s.on('close', () => socks.delete(s));
    s.on('end', () => {
      const got = Buffer.concat(chunks);
      rec.eof = true;
      rec.bytes = got.length;
      rec.sha256 = sha(got);
      // Answer only after the guest's EOF: the answer says what was read.
      s.end(`host read ${got.length} bytes sha256 ${rec.sha256} then EOF\n`, () => (rec.answered = true));
    });
  });
  await new Promise<void>((r) => hc.listen(0, '127.0.0.1', r));
  const halfClosePort = (hc.address() as nodeNet.AddressInfo).port;

  const script = [
    'step() { echo "STEP $1 rc=$2"; }',
    `timeout 60 wget -q -O /tmp/page http://10.0.2.2:${pages.port}/page && sha256sum /tmp/page; step fetch $?`,
    'cat /etc/resolv.conf',
    // A lookup of www.example.test, up to three tries until the AAAA record
    // shows. Now and then (about 1 run in 15) busybox nslookup in the v86
    // guest prints the A record and "No answer" for AAAA — through the
    // forwarder and through plain UDP forwarding alike, where the gateway
    // rewrites nothing, so it is the guest's: most likely its glibc draws
    // both queries' ids from CLOCK_MONOTONIC (random_bits) in the same tick
    // of v86's clock, and busybox, matching replies by id alone, drops the
    // AAAA reply as a duplicate of the A one. The gateway's counters still
    // require every query it relayed to have been answered.
    'lookup() { for t in 1 2 3; do timeout 20 nslookup "$@" >/tmp/dns 2>&1; r=$?; grep -q "^Address: *2001:db8::10$" /tmp/dns && break; done; cat /tmp/dns; echo "lookup tries $t"; return $r; }',
    'lookup www.example.test; step dns $?',
    'timeout 20 nslookup nx.example.test 10.0.2.3 2>&1; step nxdomain $?',
    `lookup -port=${dns.port} www.example.test 10.0.2.2; step udp $?`,
    `timeout 20 nc 10.0.2.2 ${closedPort} </dev/null 2>&1; step refused $?`,
    `seq 1 ${HALF_CLOSE_COUNT} | timeout 30 nc 10.0.2.2 ${halfClosePort} 2>&1; step halfclose $?`,
    'exit 0',
  ].join('\n');

  return {
    pages,
    dns,
    closedPort,
    halfClosePort,
    halfCloses,
    gatewayArgs: ['--dns-upstream', `127.0.0.1:${dns.port}`],
    script,
    halfCloseAnswer,
    async close() {
      pages.close();
      for (const s of socks) s.destroy();
      await new Promise<void>((r) => hc.close(() => r()));
      await dns.close();
    },
  };
}

/** One step's output (the lines since the previous step's line) and exit status. */
export interface Step {
  output: string;
  rc: number;
}

/** Reads `STEP NAME rc=N` lines out of the command's output. */
export function parseSteps(output: string): Record<string, Step> {
  const steps: Record<string, Step> = {};
  let buf: string[] = [];
  for (const line of output.split('\n')) {
    const m = /^STEP (\S+) rc=(\d+)$/.exec(line.trim());
    if (m) {
      steps[m[1]!] = { output: buf.join('\n'), rc: Number(m[2]) };
      buf = [];
    } else buf.push(line);
  }
  return steps;
}

/**
 * The assertions both guest tests make on the command's output and on what
 * the host side saw (`context` is appended to every failure: the console
 * and the gateway's log).
 */
export function assertGuestChecks(output: string, c: GuestChecks, context: () => string): void {
  const steps = parseSteps(output);
  const step = (name: string): Step => {
    const s = steps[name];
    assert.ok(s, `step ${name} ran:\n${context()}`);
    return s;
  };
  const why = (name: string) => `step ${name}:\n${steps[name]?.output}\n--- context:\n${context()}`;

  // TCP, host → guest: the page, byte for byte.
  const fetch = step('fetch');
  assert.equal(fetch.rc, 0, why('fetch'));
  assert.match(fetch.output, new RegExp(`^${c.pages.sha256}  /tmp/page$`, 'm'), why('fetch'));
  assert.deepEqual(c.pages.requests, ['GET /page from 127.0.0.1']);

  // DNS over UDP with the nameserver the lease gave: the zone server's A and AAAA records.
  const dns = step('dns');
  assert.match(dns.output, /^nameserver 10\.0\.2\.3$/m, why('dns'));
  assert.equal(dns.rc, 0, why('dns'));
  assert.match(dns.output, /^Server:\s+10\.0\.2\.3$/m, why('dns'));
  assert.match(dns.output, /^Address:\s*192\.0\.2\.10$/m, why('dns'));
  assert.match(dns.output, /^Address:\s*2001:db8::10$/m, why('dns'));
  // NXDOMAIN comes back unchanged: nslookup says so and fails.
  const nx = step('nxdomain');
  assert.notEqual(nx.rc, 0, why('nxdomain'));
  assert.match(nx.output, /can't find nx\.example\.test: NXDOMAIN/, why('nxdomain'));
  assert.doesNotMatch(nx.output, /^Address:\s*\d+\.\d+\.\d+\.\d+$/m, why('nxdomain'));
  // UDP through 10.0.2.2 to a host port (ordinary forwarding): the same zone server answers, from the address the guest sent to.
  const udp = step('udp');
  assert.equal(udp.rc, 0, why('udp'));
  assert.match(udp.output, new RegExp(`^Address:\\s+10\\.0\\.2\\.2:${c.dns.port}$`, 'm'), why('udp'));
  assert.match(udp.output, /^Address:\s*192\.0\.2\.10$/m, why('udp'));
  assert.match(udp.output, /^Address:\s*2001:db8::10$/m, why('udp'));
  assert.ok(c.dns.udpQueries >= 6, `the zone server got the guest's queries over UDP (A and AAAA for each of three lookups): ${c.dns.udpQueries}`);
  assert.equal(c.dns.tcpQueries, 0);

  // A reset carried: ECONNREFUSED on the host is a RST to the guest, not a timeout (busybox `timeout` would exit 143).
  const refused = step('refused');
  assert.equal(refused.rc, 1, why('refused'));
  assert.match(refused.output, /can't connect to remote host \(10\.0\.2\.2\): Connection refused/, why('refused'));

  // A half-close carried both ways: the host read all of it, saw EOF, answered; the guest read the answer and then EOF (nc exits 0).
  const hc = step('halfclose');
  assert.equal(hc.rc, 0, why('halfclose'));
  assert.match(hc.output, new RegExp(`^${c.halfCloseAnswer}$`, 'm'), why('halfclose'));
  const payload = halfClosePayload();
  assert.deepEqual(c.halfCloses, [{ bytes: payload.length, sha256: sha(payload), eof: true, answered: true }]);
}
