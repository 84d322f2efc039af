/**
 * Path MTU discovery against a real router (RFC 1191): synack on a TUN
 * device in namespace A; the kernel of A forwards to namespace B over a veth
 * pair. Mid-transfer the veth MTU drops from 1500 to 1280, so the kernel
 * router answers synack's 1500-byte DF packets with ICMP "fragmentation
 * needed" (type 3 code 4, next-hop MTU 1280). The download must complete
 * byte for byte, synack's path MTU counter must move, and the loss must be
 * repaired without a retransmission timeout (the ICMP message triggers an
 * immediate retransmission at the new size: at most about one RTT lost).
 * Traffic stays inside the two namespaces this test creates.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { spawn, spawnSync } from 'node:child_process';
import { Netns, ready, skipUnlessReady, type Proc } from './helpers.ts';

const skip = skipUnlessReady(['curl', 'sha256sum']);

describe('path MTU discovery over TUN: the kernel router sends "fragmentation needed"', { skip, timeout: 120_000 }, () => {
  const ns = new Netns({ tag: 'pmtu', subnet: 9 });
  const far = `synack-pmtu-far-${process.pid}`;
  const S = ns.synackAddr; // 10.213.9.2 (synack, on tun0)
  const ROUTER = '10.214.9.1'; // namespace A's end of the veth
  const CLIENT = '10.214.9.2'; // namespace B
  let serve: Proc;
  let farCreated = false;

  const inFar = (argv: string[]): string => {
    const r = spawnSync('ip', ['netns', 'exec', far, ...argv], { encoding: 'utf8', timeout: 20_000 });
    if (r.status !== 0) throw new Error(`${argv.join(' ')} in ${far} failed: ${r.stderr}`);
    return r.stdout;
  };

  before(async () => {
    ns.setup();
    spawnSync('ip', ['netns', 'del', far], { stdio: 'ignore' });
    const add = spawnSync('ip', ['netns', 'add', far], { encoding: 'utf8' });
    if (add.status !== 0) throw new Error(`ip netns add ${far}: ${add.stderr}`);
    farCreated = true;
    process.once('exit', () => spawnSync('ip', ['netns', 'del', far], { stdio: 'ignore' }));
    ns.exec(['ip', 'link', 'add', 'veth0', 'type', 'veth', 'peer', 'name', 'veth1', 'netns', far]);
    ns.exec(['ip', 'addr', 'add', `${ROUTER}/24`, 'dev', 'veth0']);
    ns.exec(['ip', 'link', 'set', 'veth0', 'up']);
    ns.exec(['sysctl', '-qw', 'net.ipv4.ip_forward=1']);
    inFar(['ip', 'link', 'set', 'lo', 'up']);
    inFar(['ip', 'addr', 'add', `${CLIENT}/24`, 'dev', 'veth1']);
    inFar(['ip', 'link', 'set', 'veth1', 'up']);
    inFar(['ip', 'route', 'add', '10.213.9.0/24', 'via', ROUTER]);
    // A small receive buffer in B keeps synack window-limited: most of the
    // download is still to be sent when the path shrinks.
    inFar(['sysctl', '-qw', 'net.ipv4.tcp_rmem=4096 131072 262144']);
    serve = ns.synack('serve', ['--http', '80', '--stats'], { timeoutMs: 110_000 });
    await ready(serve);
  });

  after(async () => {
    serve?.kill('SIGTERM');
    await ns.cleanup();
    if (farCreated) spawnSync('ip', ['netns', 'del', far], { stdio: 'ignore' });
  });

  it('RFC 1191: a PMTU drop from 1500 to 1280 mid-download loses no byte and needs no RTO', async () => {
    const n = 6_000_000;
    // curl in namespace B, rate-limited so the drop lands mid-transfer.
    const curl = spawn('ip', ['netns', 'exec', far, 'sh', '-c', `curl -sS --max-time 60 --limit-rate 2M http://${S}/bytes/${n} | sha256sum`], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    curl.stdout.on('data', (d: Buffer) => (out += d.toString()));
    curl.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const done = new Promise<number | null>((resolve) => curl.once('close', (code) => resolve(code)));
    const killer = setTimeout(() => curl.pid && process.kill(curl.pid, 'SIGKILL'), 80_000);
    await new Promise((r) => setTimeout(r, 1000));
    // The path shrinks: the router's egress (and the far end) now carry 1280 bytes.
    ns.exec(['ip', 'link', 'set', 'veth0', 'mtu', '1280']);
    inFar(['ip', 'link', 'set', 'veth1', 'mtu', '1280']);
    const code = await done;
    clearTimeout(killer);
    assert.equal(code, 0, err);
    const want = createHash('sha256').update(Buffer.from(Array.from({ length: n }, (_, i) => i & 0xff))).digest('hex');
    assert.equal(out.split(' ')[0], want, 'byte-identical');
    serve.kill('SIGTERM');
    await serve.exited;
    const m = /stats (\{.*\})/.exec(serve.stdout());
    assert.ok(m, serve.stdout() + serve.stderr());
    const stats = JSON.parse(m[1]!) as Record<string, number>;
    const nstat = ns.exec(['sh', '-c', 'nstat -az 2>/dev/null | grep -E "IcmpOutDestUnreachs|IpFragFails|IcmpOutRateLimit|IpForwDatagrams|IcmpOutMsgs" || true']);
    const link = ns.exec(['ip', 'link', 'show', 'veth0']);
    assert.ok(stats['pmtuUpdates']! >= 1, `PMTU updates: ${m[1]}\n${nstat}\n${link}`);
    assert.ok(stats['icmpErrorsAccepted']! >= 1, m[1]);
    assert.equal(stats['retransmitTimeouts'], 0, `no RTO: ${m[1]}`);
    // RFC 1191 §6.5: "One MUST not retransmit in response to every Datagram
    // Too Big message": the connection is resegmented once, and what it
    // resends is at most the flight the path dropped — one receive window
    // of B (tcp_rmem max 262144) at the new MSS, 1228 bytes with timestamps
    // (7 or 8 segments measured: curl's rate limit keeps the flight small).
    assert.equal(stats['pmtuResegments'], 1, `resegmented once: ${m[1]}`);
    assert.ok(stats['retransmits']! <= Math.ceil(262144 / 1228), `at most one window resent: ${m[1]}`);
  });
});
