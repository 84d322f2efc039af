/**
 * `synack gateway --netns` relaying ICMP echo through unprivileged host
 * echo sockets, and UDP port unreachables (issue 15), with real Linux
 * clients. Three namespaces of the test's own:
 *
 *   GUEST (tap0 10.0.2.100, made by the gateway)
 *     ⇅ TAP
 *   OUTER — the gateway process runs here (`ip netns exec OUTER synack
 *           gateway --netns /run/netns/GUEST`), with
 *           net.ipv4.ping_group_range = "0 2147483647" (its own: the sysctl
 *           is per namespace); veth0 192.168.77.2/24
 *     ⇅ veth
 *   FAR — veth1 192.168.77.1/24, the destination the guest pings, and a
 *         router (ip_forward) to
 *     ⇅ veth
 *   FAR2 — veth3 192.168.78.2/24, one hop further
 *
 * A second gateway in OUTER2, where ping_group_range keeps its default
 * ("1 0": no group may open an echo socket), shows the unavailable case.
 * Traffic stays inside these namespaces. Every process is killed by PID and
 * the namespaces deleted at the end.
 *
 * Needs root, /dev/net/tun, ip, ping (iputils), python3 and the addon:
 * outside CI it skips saying which is missing; in CI (.ci/run installs
 * them) it must run.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { ROOT, skipUnlessReady } from '../interop/helpers.ts';

const skip = skipUnlessReady(['ping']);
const TAG = `gw-icmp-${process.pid}`;
const OUTER = `${TAG}-outer`;
const OUTER2 = `${TAG}-outer2`;
const GUEST = `${TAG}-guest`;
const GUEST2 = `${TAG}-guest2`;
const FAR = `${TAG}-far`;
const FAR2 = `${TAG}-far2`;
const ALL = [OUTER, OUTER2, GUEST, GUEST2, FAR, FAR2];

function sh(argv: string[], timeoutMs = 20_000): string {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: timeoutMs });
  if (r.status !== 0) throw new Error(`${argv.join(' ')} failed (${r.status ?? r.signal}): ${r.stderr}`);
  return r.stdout;
}
const inNs = (ns: string, argv: string[], timeoutMs?: number): string => sh(['ip', 'netns', 'exec', ns, ...argv], timeoutMs);

/** Runs a command in a namespace to its end (bounded); its output and exit code. */
function run(ns: string, argv: string[], timeoutMs = 30_000): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn('ip', ['netns', 'exec', ns, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('close', (code) => {
      clearTimeout(t);
      resolve({ code, out, err });
    });
  });
}

/** A gateway process inside a namespace (killed by PID in `after`). */
class GatewayProc {
  child: ChildProcess;
  out = '';
  err = '';
  private waiters: Array<() => void> = [];
  constructor(ns: string, args: string[]) {
    this.child = spawn('ip', ['netns', 'exec', ns, process.execPath, '--import', 'tsx', 'src/cli/main.ts', 'gateway', ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout!.setEncoding('utf8').on('data', (d: string) => ((this.out += d), this.poke()));
    this.child.stderr!.setEncoding('utf8').on('data', (d: string) => ((this.err += d), this.poke()));
    this.child.once('close', () => this.poke());
  }
  private poke(): void {
    for (const w of this.waiters.splice(0)) w();
  }
  waitFor(re: RegExp, timeoutMs: number, from = 0): Promise<string> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`timed out waiting for ${re}:\n${this.out}\n--- stderr:\n${this.err}`)), timeoutMs);
      const check = (): void => {
        const m = re.exec(this.out.slice(from));
        if (m) {
          clearTimeout(t);
          resolve(m[0]);
        } else if (this.child.exitCode !== null || this.child.signalCode !== null) {
          clearTimeout(t);
          reject(new Error(`exited before ${re}:\n${this.out}\n--- stderr:\n${this.err}`));
        } else this.waiters.push(check);
      };
      check();
    });
  }
  /** The counters (--stats prints them on SIGUSR1). */
  async stats(): Promise<{ icmp: Record<string, number>; udp: Record<string, number> }> {
    const from = this.out.length;
    // `ip netns exec` execs node: the child's PID is the gateway's.
    process.kill(this.child.pid!, 'SIGUSR1');
    const line = await this.waitFor(/stats (\{.*\})\n/, 10_000, from);
    return JSON.parse(line.slice('stats '.length)) as { icmp: Record<string, number>; udp: Record<string, number> };
  }
  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null && this.child.pid) {
      try {
        process.kill(this.child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}

/** Waits (bounded) until the guest's tap0 has a global IPv6 address past Duplicate Address Detection (fd00::100, configured by the gateway with --ipv6). */
async function guestIpv6(ns: string): Promise<string> {
  const end = Date.now() + 20_000;
  for (;;) {
    const out = inNs(ns, ['ip', '-6', '-o', 'addr', 'show', 'dev', 'tap0', 'scope', 'global']);
    const m = /inet6 (fd00:[0-9a-f:]+)\/64/.exec(out);
    if (m && !/tentative/.test(out)) return m[1]!;
    if (Date.now() > end) throw new Error(`the guest got no IPv6 address: ${out}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function deleteAll(): void {
  for (const n of ALL) spawnSync('ip', ['netns', 'del', n], { stdio: 'ignore' });
}

describe('synack gateway --netns: ICMP echo relayed through host echo sockets, UDP port unreachable (real ping and python3)', { skip }, () => {
  let gw: GatewayProc | null = null;
  let gw2: GatewayProc | null = null;

  before(async () => {
    deleteAll();
    process.once('exit', deleteAll);
    for (const n of ALL) sh(['ip', 'netns', 'add', n]);
    for (const n of [OUTER, OUTER2, FAR, FAR2]) inNs(n, ['ip', 'link', 'set', 'lo', 'up']);
    sh(['ip', '-n', OUTER, 'link', 'add', 'veth0', 'type', 'veth', 'peer', 'name', 'veth1', 'netns', FAR]);
    inNs(OUTER, ['ip', 'addr', 'add', '192.168.77.2/24', 'dev', 'veth0']);
    inNs(FAR, ['ip', 'addr', 'add', '192.168.77.1/24', 'dev', 'veth1']);
    inNs(OUTER, ['ip', 'link', 'set', 'veth0', 'up']);
    inNs(FAR, ['ip', 'link', 'set', 'veth1', 'up']);
    // FAR routes to FAR2 (192.168.78.0/24), one hop further.
    sh(['ip', '-n', FAR, 'link', 'add', 'veth2', 'type', 'veth', 'peer', 'name', 'veth3', 'netns', FAR2]);
    inNs(FAR, ['ip', 'addr', 'add', '192.168.78.1/24', 'dev', 'veth2']);
    inNs(FAR2, ['ip', 'addr', 'add', '192.168.78.2/24', 'dev', 'veth3']);
    inNs(FAR, ['ip', 'link', 'set', 'veth2', 'up']);
    inNs(FAR2, ['ip', 'link', 'set', 'veth3', 'up']);
    inNs(FAR, ['sysctl', '-qw', 'net.ipv4.ip_forward=1']);
    inNs(OUTER, ['ip', 'route', 'add', '192.168.78.0/24', 'via', '192.168.77.1']);
    inNs(FAR2, ['ip', 'route', 'add', 'default', 'via', '192.168.78.1']);
    inNs(FAR, ['ip', 'addr', 'add', 'fd78::1/64', 'dev', 'veth2', 'nodad']);
    inNs(FAR2, ['ip', 'addr', 'add', 'fd78::2/64', 'dev', 'veth3', 'nodad']);
    inNs(FAR, ['sysctl', '-qw', 'net.ipv6.conf.all.forwarding=1']);
    inNs(FAR2, ['ip', '-6', 'route', 'add', 'default', 'via', 'fd78::1']);
    // IPv6 on the veth too (no DAD: usable at once).
    inNs(OUTER, ['ip', 'addr', 'add', 'fd77::2/64', 'dev', 'veth0', 'nodad']);
    inNs(FAR, ['ip', 'addr', 'add', 'fd77::1/64', 'dev', 'veth1', 'nodad']);
    inNs(FAR, ['sysctl', '-qw', 'net.ipv6.conf.all.hop_limit=33', 'net.ipv6.conf.veth1.hop_limit=33']);
    inNs(OUTER, ['ip', '-6', 'route', 'add', 'fd78::/64', 'via', 'fd77::1']);
    // The far host's replies leave with TTL 33: the guest sees it only if the relay passes the reply's TTL on (synack's own is 64).
    inNs(FAR, ['sysctl', '-qw', 'net.ipv4.ip_default_ttl=33']);
    // Echo sockets for every group, in OUTER only (the sysctl is per network namespace).
    inNs(OUTER, ['sysctl', '-qw', 'net.ipv4.ping_group_range=0 2147483647']);
    gw = new GatewayProc(OUTER, ['--netns', `/run/netns/${GUEST}`, '--ipv6', '--stats', '--deny', '192.168.77.9', '--max-echo-flows', '16', '--keepalive', '30', '--max-pending-connects', '64', '--max-buffered-bytes', String(64 << 20)]);
    gw2 = new GatewayProc(OUTER2, ['--netns', `/run/netns/${GUEST2}`, '--stats']);
    await gw.waitFor(/ready on tap0/, 60_000);
    await gw2.waitFor(/ready on tap0/, 60_000);
  });

  after(() => {
    gw?.kill();
    gw2?.kill();
    deleteAll();
  });

  test('ping -c 3 192.168.77.1 from the guest gets 3 replies through the relay, with the far host\'s TTL (33) and 3000-octet data intact (RFC 792 echo, RFC 4443 §4.2 source)', async () => {
    const r = await run(GUEST, ['ping', '-n', '-c', '3', '-i', '0.2', '-W', '5', '192.168.77.1']);
    assert.equal(r.code, 0, r.out + r.err);
    assert.match(r.out, /3 packets transmitted, 3 received/);
    assert.match(r.out, /from 192\.168\.77\.1: icmp_seq=1 ttl=33/);
    // A request larger than the guest MTU: fragmented by the guest, reassembled by the gateway, sent whole, the reply fragmented back.
    const big = await run(GUEST, ['ping', '-n', '-c', '1', '-s', '3000', '-W', '5', '192.168.77.1']);
    assert.equal(big.code, 0, big.out + big.err);
    assert.match(big.out, /3008 bytes from 192\.168\.77\.1: icmp_seq=1/);
    const st = await gw!.stats();
    assert.ok(st.icmp.replies! >= 4, JSON.stringify(st.icmp));
    assert.ok(st.icmp.flows! >= 1);
  });

  test('IPv6: ping -6 -c 3 fd77::1 gets 3 replies through an ICMPv6 echo socket, with the far host\'s hop limit (33) (RFC 4443 §4.2)', async () => {
    await guestIpv6(GUEST);
    const r = await run(GUEST, ['ping', '-6', '-n', '-c', '3', '-i', '0.2', '-W', '5', 'fd77::1']);
    assert.equal(r.code, 0, r.out + r.err);
    assert.match(r.out, /3 packets transmitted, 3 received/);
    assert.match(r.out, /from fd77::1: icmp_seq=1 ttl=33/);
  });

  test('IPv6: a UDP datagram to a closed port of the far host: the guest\'s connected socket gets ECONNREFUSED (ICMPv6 port unreachable, RFC 4443 §3.1)', async () => {
    await guestIpv6(GUEST);
    const py = [
      'import socket',
      's = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)',
      's.settimeout(10)',
      's.connect(("fd77::1", 9))',
      's.send(b"anyone there?")',
      'try:',
      '  s.recv(100)',
      '  print("reply")',
      'except OSError as e:',
      '  print(type(e).__name__, e.errno)',
    ].join('\n');
    const r = await run(GUEST, ['python3', '-c', py]);
    assert.equal(r.out.trim(), 'ConnectionRefusedError 111', r.err);
  });

  test('ping 10.0.2.2 (the gateway) is answered by the gateway itself: no host echo socket is opened', async () => {
    const before = (await gw!.stats()).icmp;
    const r = await run(GUEST, ['ping', '-n', '-c', '2', '-i', '0.2', '-W', '5', '10.0.2.2']);
    assert.equal(r.code, 0, r.out + r.err);
    assert.match(r.out, /2 packets transmitted, 2 received/);
    const now = (await gw!.stats()).icmp;
    assert.equal(now.requests, before.requests);
    assert.equal(now.flows, before.flows);
  });

  test('--deny applies to echo before any socket: ping 192.168.77.9 gets nothing, counted as denied', async () => {
    const r = await run(GUEST, ['ping', '-n', '-c', '1', '-W', '2', '192.168.77.9']);
    assert.notEqual(r.code, 0);
    assert.match(r.out, /1 packets transmitted, 0 received/);
    const st = await gw!.stats();
    assert.equal(st.icmp.denied, 1);
  });

  test('a UDP datagram to a closed port of the far host: the guest\'s connected socket gets ECONNREFUSED (ICMP port unreachable, RFC 1122 §3.2.2.1)', async () => {
    const py = [
      'import socket',
      's = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)',
      's.settimeout(10)',
      's.connect(("192.168.77.1", 9))',
      's.send(b"anyone there?")',
      'try:',
      '  s.recv(100)',
      '  print("reply")',
      'except OSError as e:',
      '  print(type(e).__name__, e.errno)',
    ].join('\n');
    const r = await run(GUEST, ['python3', '-c', py]);
    assert.equal(r.out.trim(), 'ConnectionRefusedError 111', r.err);
    const st = await gw!.stats();
    assert.ok(st.udp.portUnreachable! >= 1);
  });

  test('a UDP datagram to an address the gateway has no route to (OUTER has no default route): the host connect fails with ENETUNREACH, the guest gets an ICMP net unreachable, the gateway goes on', async () => {
    const before = (await gw!.stats()).udp;
    const py = [
      'import socket',
      's = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)',
      'r = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)',
      'r.settimeout(10)',
      's.sendto(b"hello?", ("203.0.113.5", 53))',
      'while True:',
      '  p = r.recv(2000)',
      '  if p[20] == 3:',
      '    print("unreachable", p[21], socket.inet_ntoa(p[12:16]))',
      '    break',
    ].join('\n');
    const r = await run(GUEST, ['python3', '-c', py]);
    assert.equal(r.out.trim(), 'unreachable 0 203.0.113.5', r.err);
    const st = (await gw!.stats()).udp;
    assert.equal(st.unreachable! - before.unreachable!, 1);
    const alive = await run(GUEST, ['ping', '-n', '-c', '1', '-W', '5', '10.0.2.2']);
    assert.match(alive.out, /1 received/);
  });

  test('ping to an address the gateway has no route to: the echo socket\'s send fails (ENETUNREACH) and the guest gets "Destination Net Unreachable", as from libslirp', async () => {
    const before = (await gw!.stats()).icmp;
    const r = await run(GUEST, ['ping', '-n', '-c', '1', '-W', '3', '203.0.113.5']);
    assert.match(r.out, /Destination Net Unreachable/);
    const st = (await gw!.stats()).icmp;
    assert.equal(st.sendErrors! - before.sendErrors!, 1);
  });

  test('RFC 792 Time Exceeded through the relay: ping -t 1 to a host one router beyond gets "Time to live exceeded" from the router (the host echo socket\'s error queue, IP_RECVERR); -t 2 reaches it', async () => {
    const before = (await gw!.stats()).icmp;
    const r = await run(GUEST, ['ping', '-n', '-c', '1', '-t', '1', '-W', '5', '192.168.78.2']);
    assert.match(r.out, /From 192\.168\.77\.1 icmp_seq=1 Time to live exceeded/);
    const ok = await run(GUEST, ['ping', '-n', '-c', '1', '-t', '2', '-W', '5', '192.168.78.2']);
    assert.match(ok.out, /1 received/);
    assert.match(ok.out, /from 192\.168\.78\.2: icmp_seq=1 ttl=63/);
    const st = (await gw!.stats()).icmp;
    assert.equal(st.errors! - before.errors!, 1);
  });

  test('RFC 4443 §3.3 Time Exceeded through the relay: ping -6 -t 1 to a host one router beyond gets "Hop limit" exceeded from the router; -t 2 reaches it', async () => {
    await guestIpv6(GUEST);
    const r = await run(GUEST, ['ping', '-6', '-n', '-c', '1', '-t', '1', '-W', '5', 'fd78::2']);
    assert.match(r.out, /From fd77::1 icmp_seq=1 Time exceeded: Hop limit/);
    const ok = await run(GUEST, ['ping', '-6', '-n', '-c', '1', '-t', '2', '-W', '5', 'fd78::2']);
    assert.match(ok.out, /1 received/);
  });

  test('RFC 792 Destination Unreachable through the relay: a router that finds no host (ARP fails) says "Destination Host Unreachable", passed on to the guest', async () => {
    const r = await run(GUEST, ['ping', '-n', '-c', '1', '-W', '8', '192.168.78.9'], 30_000);
    assert.match(r.out, /From 192\.168\.77\.1 icmp_seq=1 Destination Host Unreachable/);
  });

  test('--max-echo-flows 16: each ping process is a flow (its own identifier); beyond 16 at once, requests of new flows are dropped and counted', async () => {
    const before = (await gw!.stats()).icmp;
    assert.ok(before.active! < 16);
    const room = 16 - before.active!;
    let answered = 0;
    for (let i = 0; i < room + 2; i++) {
      const r = await run(GUEST, ['ping', '-n', '-c', '1', '-W', '1', '192.168.77.1']);
      if (/1 received/.test(r.out)) answered++;
    }
    // (Flows idle for 60 s close meanwhile on a very slow machine: then more fit, never more than 16 at once.)
    const st = (await gw!.stats()).icmp;
    assert.ok(answered >= room && answered < room + 2, `${answered} answered, room for ${room}`);
    assert.equal(st.active, 16);
    assert.equal(st.limited! - before.limited!, room + 2 - answered);
  });

  test('where ping_group_range excludes the gateway (OUTER2\'s default "1 0"), echo requests are dropped, counted as unavailable, logged once; the gateway goes on', async () => {
    const r = await run(GUEST2, ['ping', '-n', '-c', '2', '-i', '0.2', '-W', '2', '192.168.77.1']);
    assert.match(r.out, /2 packets transmitted, 0 received/);
    const st = await gw2!.stats();
    assert.equal(st.icmp.unavailable, 2);
    assert.equal(st.icmp.flows, 0);
    assert.equal(gw2!.err.match(/echo requests to IPv4 destinations are not relayed/g)?.length, 1, gw2!.err);
    const local = await run(GUEST2, ['ping', '-n', '-c', '1', '-W', '5', '10.0.2.2']);
    assert.match(local.out, /1 packets transmitted, 1 received/);
  });
});
