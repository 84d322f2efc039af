/**
 * Linux's IPv6 against synack over TUN (issue 12), in one network namespace
 * of the test's own (tun0: kernel 10.213.11.1 and fd13:b::1, synack .2 and
 * fd13:b::2 — one dual-stack `synack serve`) plus, for the path MTU drop, a
 * second namespace behind a veth pair with the first's kernel as the router:
 *
 * - curl -6 to `synack serve --http`, ping -6 (and a 4000-byte ping whose
 *   request the kernel fragments and whose reply synack fragments), 50 MB
 *   echoes from a kernel client in both half-close orders compared by
 *   SHA-256;
 * - RFC 8201: mid-download the router's egress MTU drops from 1500 to 1280,
 *   the kernel router answers with ICMPv6 Packet Too Big, no byte is lost
 *   and no retransmission timeout is needed;
 * - synack → kernel over IPv6: `synack connect [fd13:b::1]:PORT` (50 MB
 *   echo, a server that closes first) and `synack get http://[…]/`;
 * - tshark judges IPv6 captures (--pcap) of a serve and a connect session:
 *   no malformed packets, no bad TCP or ICMPv6 checksums.
 *
 * The kernel's side of tun0 has its IPv6 address without Duplicate Address
 * Detection (nodad) and sends no router solicitations (helpers.ts): the
 * serve's drop counters stay at zero, which the last test checks.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { Netns, ready, skipUnlessReady, type Proc, serveStats } from './helpers.ts';

const skip = skipUnlessReady(['curl', 'ping', 'tshark', 'sha256sum']);

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const patternSha = (n: number): string => sha(Buffer.from(Array.from({ length: n }, (_, i) => i & 0xff)));

const stats = (p: Proc): Promise<Record<string, number> & { drops: Record<string, number> }> => serveStats(p);

/**
 * The drops of the IP and ICMP layers (reasons 'ipv4-…', 'ipv6-…',
 * 'frag…', 'icmp…'), but for Packet Too Big messages that name an MTU already in the
 * cache (after the first, the router's others for the packets in flight;
 * RFC 8201 §4: "A node MUST NOT increase its estimate of the Path MTU in
 * response to the contents of a Packet Too Big message"). TCP's own drops
 * (an old duplicate under load is 'tcp-unacceptable-segment') are TCP
 * working, not a stray packet.
 */
function ipLayerDrops(drops: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(drops).filter(([k]) => /^(ipv4-|ipv6-|icmp|frag)/.test(k) && k !== 'icmp-pmtu-ignored'));
}

function tshark(file: string, args: string[]): string {
  const r = spawnSync('tshark', ['-n', '-r', file, '-o', 'tcp.check_checksum:TRUE', ...args], { encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`tshark ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

describe('interop over IPv6: Linux and synack on a TUN device', { skip, timeout: 420_000 }, () => {
  const ns = new Netns({ tag: 'ipv6', subnet: 11, ipv6: true, router6: true });
  const S6 = ns.synackAddr6!; // fd13:b::2
  const K6 = ns.kernelAddr6!; // fd13:b::1
  const far = `synack-ipv6-far-${process.pid}`;
  const ROUTER6 = 'fd14:b::1'; // the first namespace's end of the veth
  const CLIENT6 = 'fd14:b::2'; // the far namespace
  let farCreated = false;
  const dir = mkdtempSync(join(tmpdir(), 'synack-ipv6-'));

  const inFar = (argv: string[]): string => {
    const r = spawnSync('ip', ['netns', 'exec', far, ...argv], { encoding: 'utf8', timeout: 20_000 });
    if (r.status !== 0) throw new Error(`${argv.join(' ')} in ${far} failed: ${r.stderr}`);
    return r.stdout;
  };

  before(() => {
    ns.setup();
    // The far namespace, routed through the first one's kernel (forwarding on).
    spawnSync('ip', ['netns', 'del', far], { stdio: 'ignore' });
    const add = spawnSync('ip', ['netns', 'add', far], { encoding: 'utf8' });
    if (add.status !== 0) throw new Error(`ip netns add ${far}: ${add.stderr}`);
    farCreated = true;
    process.once('exit', () => spawnSync('ip', ['netns', 'del', far], { stdio: 'ignore' }));
    ns.exec(['ip', 'link', 'add', 'veth0', 'type', 'veth', 'peer', 'name', 'veth1', 'netns', far]);
    ns.exec(['ip', '-6', 'addr', 'add', `${ROUTER6}/64`, 'dev', 'veth0', 'nodad']);
    ns.exec(['ip', 'link', 'set', 'veth0', 'up']);
    inFar(['ip', 'link', 'set', 'lo', 'up']);
    inFar(['ip', '-6', 'addr', 'add', `${CLIENT6}/64`, 'dev', 'veth1', 'nodad']);
    inFar(['ip', 'link', 'set', 'veth1', 'up']);
    inFar(['ip', '-6', 'route', 'add', 'fd13:b::/64', 'via', ROUTER6]);
    // A small receive buffer keeps synack window-limited, so most of the
    // download is still to be sent when the path shrinks.
    inFar(['sysctl', '-qw', 'net.ipv4.tcp_rmem=4096 131072 262144']);
  });

  after(async () => {
    await ns.cleanup();
    if (farCreated) spawnSync('ip', ['netns', 'del', far], { stdio: 'ignore' });
    rmSync(dir, { recursive: true, force: true });
  });

  describe('kernel clients → synack serve over IPv6', () => {
    let serve: Proc;

    before(async () => {
      serve = ns.synack('serve', ['--echo', '7', '--daytime', '13', '--http', '80', '--stats'], { timeoutMs: 300_000 });
      await ready(serve);
    });

    after(() => serve?.kill('SIGKILL'));

    it('the ready line lists both addresses', () => {
      assert.match(serve.stdout(), /ready on 10\.213\.11\.2\/24, fd13:b::2\/64 on tun0 \(mtu 1500\): echo=7 daytime=13 http=80/);
    });

    it('curl -6: GET / and GET /bytes/N byte-exact; the same server answers curl -4', () => {
      const body = ns.exec(['curl', '-6', '-sS', '--max-time', '20', `http://[${S6}]/`]);
      assert.match(body, /hello from synack/);
      const n = 3_000_000;
      const out = ns.exec(['sh', '-c', `curl -6 -sS --max-time 30 'http://[${S6}]/bytes/${n}' | sha256sum`]);
      assert.equal(out.split(' ')[0], patternSha(n));
      assert.equal(ns.exec(['curl', '-6', '-sS', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '20', `http://[${S6}]/nope`]), '404');
      assert.match(ns.exec(['curl', '-4', '-sS', '--max-time', '20', `http://${ns.synackAddr}/`]), /hello from synack/);
    });

    it('ping -6: the stack answers ICMPv6 echo (RFC 4443 §4.2), also a 4000-byte request that arrives in fragments (RFC 8200 §4.5) with a fragmented reply', () => {
      const out = ns.exec(['ping', '-6', '-c', '3', '-i', '0.2', '-W', '2', '-s', '1000', S6]);
      assert.match(out, /3 packets transmitted, 3 received/);
      const big = ns.exec(['ping', '-6', '-c', '2', '-i', '0.2', '-W', '2', '-s', '4000', S6]);
      assert.match(big, /2 packets transmitted, 2 received/);
      assert.match(big, /4008 bytes from fd13:b::2/);
    });

    for (const order of ['early', 'late'] as const) {
      it(`echo over IPv6: 50 MB from a kernel client, SHA-256 equal (client shuts down writing ${order === 'early' ? 'right after sending' : 'after every byte came back'})`, async () => {
        const r = await ns.peer(['echo-client', S6, '7', String(50_000_000), order], 150_000);
        assert.equal(r['received'], 50_000_000);
        assert.equal(r['received_sha'], r['sent_sha']);
        assert.equal(r['eof'], true, 'the echo server closed after echoing everything');
      });
    }

    it('daytime over IPv6: one line, then synack closes', async () => {
      const r = await ns.peer(['recv', S6, '13']);
      assert.ok((r['received'] as number) > 10);
    });

    it('RFC 8201: the path MTU drops from 1500 to 1280 mid-download; the kernel router sends Packet Too Big; no byte lost, no RTO', async () => {
      const before = await stats(serve);
      const n = 6_000_000;
      const curl = spawn('ip', ['netns', 'exec', far, 'sh', '-c', `curl -6 -sS --max-time 60 --limit-rate 2M 'http://[${S6}]/bytes/${n}' | sha256sum`], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      curl.stdout.on('data', (d: Buffer) => (out += d.toString()));
      curl.stderr.on('data', (d: Buffer) => (err += d.toString()));
      const done = new Promise<number | null>((resolve) => curl.once('close', (code) => resolve(code)));
      const killer = setTimeout(() => curl.pid && process.kill(curl.pid, 'SIGKILL'), 80_000);
      await new Promise((r) => setTimeout(r, 1000));
      // The path shrinks to the IPv6 minimum: the router's egress (and the far end) now carry 1280 octets.
      ns.exec(['ip', 'link', 'set', 'veth0', 'mtu', '1280']);
      inFar(['ip', 'link', 'set', 'veth1', 'mtu', '1280']);
      const code = await done;
      clearTimeout(killer);
      assert.equal(code, 0, err);
      assert.equal(out.split(' ')[0], patternSha(n), 'byte-identical');
      const after = await stats(serve);
      const d = (k: string): number => after[k]! - before[k]!;
      const nstat = ns.exec(['sh', '-c', 'nstat -az 2>/dev/null | grep -E "Icmp6OutPktTooBigs|Ip6FragFails|Ip6OutForwDatagrams|Icmp6OutErrors" || true']);
      const detail = `before ${JSON.stringify(before)}\nafter ${JSON.stringify(after)}\n${nstat}`;
      assert.ok(d('pmtuUpdates') >= 1, `PMTU updates: ${detail}`);
      assert.ok(d('icmpErrorsAccepted') >= 1, detail);
      assert.equal(d('retransmitTimeouts'), 0, `no RTO: ${detail}`);
      // RFC 8201 §5.4 / RFC 1191 §6.5: resegmented once, and what it resends
      // is at most the flight the path dropped: one receive window of B at
      // the new MSS (1280 − 60 − 12 = 1208 bytes with timestamps; 26 measured).
      assert.equal(d('pmtuResegments'), 1, `resegmented once: ${detail}`);
      assert.ok(d('retransmits') <= Math.ceil(262144 / 1208), `at most one window resent: ${detail}`);
      // The router sends a Packet Too Big for every oversize packet in flight;
      // after the first, the others name the MTU already in the cache.
      // RFC 8201 §4: "A node MUST NOT increase its estimate of the Path MTU
      // in response to the contents of a Packet Too Big message." They are
      // counted as ignored; the IP layer drops nothing else.
      const delta = Object.fromEntries(Object.entries(after.drops).map(([k, v]) => [k, v - (before.drops[k] ?? 0)]).filter(([, v]) => (v as number) > 0));
      assert.deepEqual(ipLayerDrops(delta), {}, detail);
    });

    it('SIGTERM stops the server (exit 0); its IP layer dropped nothing: no router solicitation, no MLD report, no stray packet reached it', async () => {
      serve.kill('SIGTERM');
      assert.equal(await serve.exited, 0, serve.stderr());
      const lines = serve.stdout().match(/^stats (\{.*\})$/gm)!;
      const st = JSON.parse(lines[lines.length - 1]!.slice('stats '.length)) as { drops: Record<string, number>; checksumErrors: number; icmpEchoReplies: number };
      assert.deepEqual(ipLayerDrops(st.drops), {}, serve.stdout().slice(-3000));
      assert.equal(st.checksumErrors, 0);
      assert.ok(st.icmpEchoReplies >= 5);
      assert.match(serve.stderr(), /0 non-IP packets dropped/);
    });
  });

  describe('--peer-addr with IPv6: synack sets up the kernel side', () => {
    it('a device synack creates gets the kernel-side addresses at once (nodad) and sends no router solicitations to synack', async () => {
      const p = ns.spawn(
        [process.execPath, '--import', 'tsx', 'src/cli/main.ts', 'serve', '--tun', 'tun2', '--addr', '10.213.12.2/24', '--addr', 'fd13:d::2/64', '--peer-addr', '10.213.12.1/24', '--peer-addr', 'fd13:d::1/64', '--echo', '7', '--stats'],
        { timeoutMs: 60_000 },
      );
      await ready(p);
      assert.match(p.stdout(), /ready on 10\.213\.12\.2\/24, fd13:d::2\/64 on tun2/);
      const addrs = ns.exec(['ip', '-6', 'addr', 'show', 'dev', 'tun2']);
      assert.match(addrs, /inet6 fd13:d::1\/64 scope global nodad/);
      assert.doesNotMatch(addrs, /tentative/);
      // Usable at once: no wait for Duplicate Address Detection.
      assert.match(ns.exec(['ping', '-6', '-c', '1', '-W', '2', 'fd13:d::2']), /1 received/);
      const r = await ns.peer(['echo-client', 'fd13:d::2', '7', '100000', 'early']);
      assert.equal(r['received_sha'], r['sent_sha']);
      // Linux makes a link-local address when the device comes up and, once
      // it is valid, solicits routers (RFC 4861 §6.3.7) — every few seconds.
      await new Promise((res) => setTimeout(res, 3500));
      p.kill('SIGTERM');
      assert.equal(await p.exited, 0, p.stderr());
      const st = JSON.parse(/^stats (\{.*\})$/m.exec(p.stdout())![1]!) as { drops: Record<string, number> };
      assert.deepEqual(ipLayerDrops(st.drops), {}, p.stdout());
    });
  });

  describe('synack connect/get → kernel servers over IPv6', () => {
    it('connect → kernel echo server at [fd13:b::1]: 50 MB, EOF on stdin half-closes, the echo comes back whole, exit 0', async () => {
      const server = await ns.peerServer(['serve-echo', '7007']);
      const data = randomBytes(50_000_000);
      const c = ns.synack('connect', ['--log-states', `[${K6}]:7007`], { stdin: true, timeoutMs: 150_000 });
      c.child.stdin!.on('error', () => {});
      c.input(data);
      const code = await c.exited;
      assert.equal(code, 0, c.stderr());
      assert.match(c.stderr(), new RegExp(`state ${S6}:\\d+ ${K6}:7007 SYN-SENT -> ESTABLISHED`), 'an IPv6 connection of synack');
      const got = Buffer.from(c.stdout(), 'latin1');
      assert.equal(got.length, data.length);
      assert.equal(sha(got), sha(data));
      await server.exited;
      const r = JSON.parse(server.stdout().trim().split('\n').pop()!) as Record<string, unknown>;
      assert.equal(r['received_sha'], sha(data));
    });

    it('connect ← kernel server that sends 20 MB and closes first: all bytes, exit 0', async () => {
      const server = await ns.peerServer(['serve-send', '7008', String(20_000_000)]);
      const c = ns.synack('connect', [`[${K6}]:7008`], { stdin: true, timeoutMs: 60_000 });
      const code = await c.exited;
      assert.equal(code, 0, c.stderr());
      await server.exited;
      const r = JSON.parse(server.stdout().trim().split('\n').pop()!) as Record<string, unknown>;
      const got = Buffer.from(c.stdout(), 'latin1');
      assert.equal(got.length, 20_000_000);
      assert.equal(sha(got), r['sent_sha']);
    });

    it('connect to a closed IPv6 port: exit 1, "refused"', async () => {
      const c = ns.synack('connect', [`[${K6}]:7999`], { stdin: true, timeoutMs: 30_000 });
      assert.equal(await c.exited, 1);
      assert.match(c.stderr(), /\[fd13:b::1\]:7999 refused \(ECONNREFUSED\)/);
    });

    it('get http://[fd13:b::1]:8000/ from python3 -m http.server: body byte-exact', async () => {
      const file = randomBytes(5_000_000);
      writeFileSync(join(dir, 'blob'), file);
      const http = ns.spawn(['python3', '-u', '-m', 'http.server', '--bind', K6, '--directory', dir, '8000'], { timeoutMs: 60_000 });
      try {
        await http.waitFor(/Serving HTTP/, 15_000);
        const g = ns.synack('get', [`http://[${K6}]:8000/blob`], { timeoutMs: 60_000 });
        assert.equal(await g.exited, 0, g.stderr());
        const got = Buffer.from(g.stdout(), 'latin1');
        assert.equal(got.length, file.length);
        assert.equal(sha(got), sha(file));
      } finally {
        http.kill('SIGKILL');
      }
    });
  });

  describe('--pcap of IPv6 sessions judged by tshark', () => {
    const servePcap = join(dir, 'serve6.pcap');
    const connectPcap = join(dir, 'connect6.pcap');

    before(async () => {
      // A second device, so these captures hold only this short session.
      ns.exec(['ip', 'tuntap', 'add', 'dev', 'tun1', 'mode', 'tun']);
      ns.exec(['sysctl', '-qw', 'net.ipv6.conf.tun1.accept_ra=0', 'net.ipv6.conf.tun1.router_solicitations=0', 'net.ipv6.conf.tun1.addr_gen_mode=1']);
      ns.exec(['ip', '-6', 'addr', 'add', 'fd13:c::1/64', 'dev', 'tun1', 'nodad']);
      ns.exec(['ip', 'link', 'set', 'tun1', 'up']);
      const synack = (cmd: string, args: string[], stdin = false): Proc =>
        ns.spawn([process.execPath, '--import', 'tsx', 'src/cli/main.ts', cmd, '--tun', 'tun1', '--addr', 'fd13:c::2/64', ...args], { stdin, timeoutMs: 60_000 });
      const serve = synack('serve', ['--echo', '7', '--daytime', '13', '--http', '80', '--pcap', servePcap]);
      await ready(serve);
      ns.exec(['curl', '-6', '-sS', '--max-time', '20', '-o', '/dev/null', 'http://[fd13:c::2]/bytes/300000']);
      await ns.peer(['recv', 'fd13:c::2', '13']);
      await ns.peer(['echo-client', 'fd13:c::2', '7', '200000', 'early']);
      ns.exec(['ping', '-6', '-c', '2', '-i', '0.2', '-W', '2', '-s', '3000', 'fd13:c::2']);
      serve.kill('SIGTERM');
      assert.equal(await serve.exited, 0, serve.stderr());
      const server = await ns.peerServer(['serve-echo', '7017']);
      const c = synack('connect', ['--pcap', connectPcap, '[fd13:c::1]:7017'], true);
      c.input('hello over synack and IPv6\n'.repeat(1000));
      assert.equal(await c.exited, 0, c.stderr());
      await server.exited;
    });

    for (const [name, file] of [
      ['serve', () => servePcap],
      ['connect', () => connectPcap],
    ] as const) {
      it(`${name}: IPv6 only, no malformed packets, no bad TCP or ICMPv6 checksums, complete handshakes`, () => {
        assert.ok(statSync(file()).size > 24, 'the capture has packets');
        const total = tshark(file(), ['-T', 'fields', '-e', 'frame.number']).trim().split('\n').length;
        assert.ok(total > 20, `${total} packets`);
        const v6 = tshark(file(), ['-Y', 'ipv6 && !ip', '-T', 'fields', '-e', 'frame.number']).trim().split('\n').length;
        assert.equal(v6, total, 'every packet is IPv6');
        const bad = tshark(file(), ['-Y', '_ws.malformed || _ws.expert.severity == error || tcp.checksum.status == 0 || icmpv6.checksum.status == 0']);
        assert.equal(bad.trim(), '', `tshark flags packets:\n${bad}`);
        const good = tshark(file(), ['-Y', 'tcp.checksum.status == 1', '-T', 'fields', '-e', 'frame.number']).trim().split('\n').length;
        assert.ok(good > 10, `${good} TCP checksums verified good`);
        // tcp.completeness: 1 SYN, 2 SYN-ACK, 4 ACK, 8 data, 16 FIN, 32 RST.
        const lines = tshark(file(), ['-Y', 'tcp.flags.fin == 1', '-T', 'fields', '-e', 'tcp.stream', '-e', 'tcp.completeness']).trim().split('\n');
        assert.ok(lines.some((l) => (Number(l.split('\t')[1]) & 0x3f) === 0x1f), `a stream with SYN, SYN-ACK, ACK, data and FIN, no RST: ${lines.join(' | ')}`);
      });
    }

    it('serve: the fragmented echo requests were answered with fragmented replies, checksums good', () => {
      const replies = tshark(servePcap, ['-Y', 'icmpv6.type == 129', '-T', 'fields', '-e', 'icmpv6.checksum.status', '-e', 'ipv6.reassembled.length']).trim().split('\n').filter(Boolean);
      assert.equal(replies.length, 2, replies.join(' | '));
      for (const r of replies) assert.equal(r.split('\t')[0], '1', 'ICMPv6 checksum good');
      const frags = tshark(servePcap, ['-Y', 'ipv6.fraghdr && ipv6.src == fd13:c::2', '-T', 'fields', '-e', 'frame.number']).trim().split('\n').filter(Boolean);
      assert.ok(frags.length >= 6, `${frags.length} fragments from synack`);
    });
  });
});
