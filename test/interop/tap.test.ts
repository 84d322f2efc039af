/**
 * Linux and synack on a TAP device (issue 13): Ethernet frames between the
 * kernel and synack's Ethernet interface, in a namespace of the test's own.
 *
 * - RFC 826: the kernel resolves synack's MAC by ARP (its neighbour table
 *   holds synack's --mac) and synack's neighbour cache holds the kernel's
 *   (learned from the kernel's request, RFC 826's merge); and synack
 *   resolves the kernel's MAC by its own ARP request (`synack connect` to a
 *   kernel server, judged in its capture).
 * - kernel → synack ping over IPv4 and IPv6 (synack → kernel, `synack
 *   ping`, is test/interop/ping.test.ts), curl → synack's HTTP server,
 *   a 50 MB echo compared by SHA-256.
 * - RFC 4861 §6.2 / RFC 4862: from synack's router advertisements (--ra)
 *   the kernel forms its own address (EUI-64 of tap0's MAC in the
 *   advertised prefix) and reaches synack over it with curl -6 and ping -6.
 * - RFC 862 over UDP: --udp-echo answers a kernel socket over IPv4 and IPv6.
 * - tshark judges synack's LINKTYPE_ETHERNET captures: no malformed frame,
 *   no bad IP/TCP/UDP/ICMP checksum.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { Netns, ready, skipUnlessReady, type Proc, serveStats } from './helpers.ts';

const skip = skipUnlessReady(['curl', 'ping', 'tshark']);

const SYNACK_MAC = '02:00:00:13:00:02';

interface Stats {
  drops: Record<string, number>;
  udpIn: number;
  udpOut: number;
  eth: { arpRepliesOut: number; naOut: number; raOut: number; framesIn: number; neighbors: Array<{ ip: string; mac: string | null; state: string }> };
}

const stats = (p: Proc): Promise<Stats> => serveStats<Stats>(p);

function tshark(file: string, args: string[]): string {
  const r = spawnSync('tshark', ['-n', '-r', file, '-o', 'ip.check_checksum:TRUE', '-o', 'tcp.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE', ...args], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (r.status !== 0) throw new Error(`tshark ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

/**
 * Frames tshark flags: malformed, expert errors, bad checksums of any layer.
 * `extra` may pin a port's payload to the "data" dissector: random bytes on
 * an unregistered port otherwise go through tshark's heuristic dissectors,
 * and one of them (THRIFT) once called a random payload malformed.
 */
function flagged(file: string, extra: string[] = []): string {
  return tshark(file, [
    ...extra,
    '-Y',
    '_ws.malformed || _ws.expert.severity == error || ip.checksum.status == 0 || tcp.checksum.status == 0 || udp.checksum.status == 0 || icmp.checksum.status == 0 || icmpv6.checksum.status == 0',
  ]).trim();
}

/** RFC 4291 Appendix A: the modified EUI-64 interface identifier of a MAC, in `prefix` (a "fd13:x::" string). */
function eui64(prefix: string, mac: string): string {
  const b = mac.split(':').map((h) => parseInt(h, 16));
  b[0]! ^= 0x02;
  const w = [(b[0]! << 8) | b[1]!, (b[2]! << 8) | 0xff, (0xfe << 8) | b[3]!, (b[4]! << 8) | b[5]!];
  return prefix + w.map((x) => x.toString(16)).join(':');
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('interop: Linux ↔ synack over a TAP device', { skip, timeout: 240_000 }, () => {
  const ns = new Netns({ tag: 'tap', subnet: 21, tap: true, ipv6: true });
  const S = ns.synackAddr;
  const K = ns.kernelAddr;
  const S6 = ns.synackAddr6!;
  const prefix = 'fd13:15::';
  const dir = mkdtempSync(join(tmpdir(), 'synack-tap-'));
  const servePcap = join(dir, 'serve.pcap');
  const connectPcap = join(dir, 'connect.pcap');
  let serve: Proc;
  let kernelMac: string;

  before(async () => {
    ns.setup();
    kernelMac = (JSON.parse(ns.exec(['ip', '-j', 'link', 'show', 'tap0'])) as Array<{ address: string }>)[0]!.address;
    serve = ns.synack('serve', ['--mac', SYNACK_MAC, '--ra', `${prefix}/64`, '--http', '80', '--echo', '7', '--udp-echo', '7', '--stats', '--pcap', servePcap], { timeoutMs: 200_000 });
    await ready(serve);
  });

  after(async () => {
    serve?.kill('SIGTERM');
    await ns.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the ready line names the TAP device, its MTU and synack\'s MAC', () => {
    assert.match(serve.stdout(), new RegExp(`ready on ${S.replace(/\./g, '\\.')}/24, ${S6}/64 on tap0 \\(mtu 1500, mac ${SYNACK_MAC}\\): echo=7 http=80 udp-echo=7`));
  });

  it('RFC 826: the kernel resolves synack\'s MAC by ARP and pings it; synack\'s neighbour cache holds the kernel\'s MAC', async () => {
    const out = ns.exec(['ping', '-c', '3', '-i', '0.2', '-W', '3', S]);
    assert.match(out, /3 packets transmitted, 3 received/);
    const neigh = JSON.parse(ns.exec(['ip', '-j', 'neigh', 'show', 'dev', 'tap0'])) as Array<{ dst: string; lladdr?: string; state: string[] }>;
    const n = neigh.find((e) => e.dst === S);
    assert.ok(n, `no neighbour entry for ${S}: ${JSON.stringify(neigh)}`);
    assert.equal(n.lladdr, SYNACK_MAC);
    assert.ok(!n.state.includes('FAILED') && !n.state.includes('INCOMPLETE'), n.state.join());
    const st = await stats(serve);
    assert.ok(st.eth.arpRepliesOut >= 1, `ARP replies sent: ${st.eth.arpRepliesOut}`);
    const mine = st.eth.neighbors.find((e) => e.ip === K);
    assert.ok(mine, `synack has no neighbour entry for ${K}: ${JSON.stringify(st.eth.neighbors)}`);
    assert.equal(mine.mac, kernelMac);
    assert.notEqual(mine.state, 'incomplete');
  });

  it('curl → synack\'s HTTP server over the TAP link', () => {
    const body = ns.exec(['curl', '-sS', '--max-time', '20', `http://${S}/`]);
    assert.match(body, /hello from synack/);
    const n = 2_000_000;
    const got = ns.exec(['sh', '-c', `curl -sS --max-time 30 http://${S}/bytes/${n} | sha256sum`]).split(' ')[0];
    const want = createHash('sha256').update(Buffer.from(Array.from({ length: n }, (_, i) => i & 0xff))).digest('hex');
    assert.equal(got, want);
  });

  it('RFC 4862: the kernel forms its address from synack\'s router advertisement and reaches synack over it (curl -6, ping -6)', async () => {
    // EUI-64 of tap0's MAC in the advertised prefix, once its DAD is done.
    const want = eui64(prefix, kernelMac);
    let addrs: Array<{ local: string; dynamic?: boolean; tentative?: boolean }> = [];
    const deadline = Date.now() + 30_000;
    for (;;) {
      const j = JSON.parse(ns.exec(['ip', '-j', '-6', 'addr', 'show', 'dev', 'tap0', 'scope', 'global'])) as Array<{ addr_info: Array<{ local: string; dynamic?: boolean; tentative?: boolean }> }>;
      addrs = j[0]?.addr_info ?? [];
      if (addrs.some((a) => a.local === want && !a.tentative)) break;
      if (Date.now() > deadline) assert.fail(`the kernel formed no address ${want} from the advertisement: ${JSON.stringify(addrs)}`);
      await sleep(200);
    }
    const a = addrs.find((x) => x.local === want)!;
    assert.equal(a.dynamic, true, 'an address from a Router Advertisement (with lifetimes)');
    const out = ns.exec(['curl', '-sS', '-6', '--max-time', '20', '-w', '\\n%{local_ip}', `http://[${S6}]/`]);
    assert.match(out, /hello from synack/);
    assert.equal(out.trim().split('\n').pop(), want, 'curl used the address formed from the advertisement');
    const ping = ns.exec(['ping', '-6', '-c', '3', '-i', '0.2', '-W', '3', S6]);
    assert.match(ping, /3 packets transmitted, 3 received/);
    // The kernel's neighbour entry for synack's IPv6 address (RFC 4861 NS/NA), and synack's for the kernel's new address.
    const neigh = JSON.parse(ns.exec(['ip', '-j', '-6', 'neigh', 'show', 'dev', 'tap0'])) as Array<{ dst: string; lladdr?: string }>;
    assert.equal(neigh.find((e) => e.dst === S6)?.lladdr, SYNACK_MAC);
    const st = await stats(serve);
    assert.ok(st.eth.raOut >= 1 && st.eth.naOut >= 1, `RAs ${st.eth.raOut}, NAs ${st.eth.naOut}`);
    assert.equal(st.eth.neighbors.find((e) => e.ip === want)?.mac, kernelMac);
  });

  it('RFC 862 over UDP: a kernel socket\'s datagrams come back from --udp-echo over IPv4 and IPv6', async () => {
    const py = [
      'import socket, sys, json',
      'res = []',
      `for fam, addr in ((socket.AF_INET, '${S}'), (socket.AF_INET6, '${S6}')):`,
      '    s = socket.socket(fam, socket.SOCK_DGRAM); s.settimeout(5)',
      '    for n in (1, 1000, 1400):',
      '        msg = bytes((i * 7 + n) % 256 for i in range(n))',
      '        s.sendto(msg, (addr, 7))',
      '        data, peer = s.recvfrom(65535)',
      '        res.append([addr, n, data == msg, peer[0], peer[1]])',
      'print(json.dumps(res))',
    ].join('\n');
    const res = JSON.parse(ns.exec(['python3', '-c', py])) as Array<[string, number, boolean, string, number]>;
    assert.equal(res.length, 6);
    for (const [addr, n, same, from, port] of res) {
      assert.ok(same, `${addr}: ${n} bytes echoed unchanged`);
      assert.equal(from, addr);
      assert.equal(port, 7);
    }
    const st = await stats(serve);
    assert.ok(st.udpIn >= 6 && st.udpOut >= 6, `udpIn ${st.udpIn}, udpOut ${st.udpOut}`);
  });

  it('tshark judges synack\'s capture of that session (LINKTYPE_ETHERNET): no malformed frame, no bad checksum', async () => {
    serve.kill('SIGTERM');
    await serve.exited;
    assert.ok(statSync(servePcap).size > 1000);
    assert.equal(flagged(servePcap), '', 'tshark flags frames');
    const protos = new Set(tshark(servePcap, ['-T', 'fields', '-e', 'frame.protocols']).trim().split('\n'));
    for (const p of ['eth:ethertype:arp', 'eth:ethertype:ip:icmp:data', 'eth:ethertype:ip:tcp:http', 'eth:ethertype:ip:udp:echo', 'eth:ethertype:ipv6:udp:echo', 'eth:ethertype:ipv6:icmpv6']) {
      assert.ok([...protos].some((x) => x.startsWith(p)), `${p} in ${[...protos].join(' | ')}`);
    }
    // The advertisement: from synack's link-local address with its prefix.
    const ra = tshark(servePcap, ['-Y', 'icmpv6.type == 134', '-T', 'fields', '-e', 'eth.src', '-e', 'icmpv6.opt.prefix']).trim().split('\n')[0]!;
    assert.equal(ra, `${SYNACK_MAC}\t${prefix}`);
    const good = tshark(servePcap, ['-Y', 'tcp.checksum.status == 1 || udp.checksum.status == 1', '-T', 'fields', '-e', 'frame.number']).trim().split('\n').length;
    assert.ok(good > 10, `${good} checksums verified good`);
  });

  it('50 MB echo from a kernel client over the TAP link, SHA-256 equal', async () => {
    const s2 = ns.synack('serve', ['--mac', SYNACK_MAC, '--echo', '7'], { timeoutMs: 150_000 });
    await ready(s2);
    const r = await ns.peer(['echo-client', S, '7', String(50_000_000), 'early']);
    assert.equal(r['received'], 50_000_000);
    assert.equal(r['received_sha'], r['sent_sha']);
    s2.kill('SIGTERM');
    await s2.exited;
  });

  it('RFC 826: synack resolves the kernel\'s MAC by its own ARP request and fetches from a kernel server (synack connect)', async () => {
    const server = await ns.peerServer(['serve-send', '9000', String(300_000)]);
    const c = ns.synack('connect', ['--mac', SYNACK_MAC, '--pcap', connectPcap, `${K}:9000`], { timeoutMs: 60_000, stdin: true });
    c.input(null);
    assert.equal(await c.exited, 0, c.stderr());
    await server.exited;
    const sent = JSON.parse(server.stdout().trim().split('\n').pop()!) as Record<string, unknown>;
    const got = Buffer.from(c.stdout(), 'latin1');
    assert.equal(got.length, 300_000);
    assert.equal(createHash('sha256').update(got).digest('hex'), sent['sent_sha']);
    // synack's ARP request for the kernel's address, broadcast, and the kernel's reply to synack's MAC.
    const req = tshark(connectPcap, ['-Y', `arp.opcode == 1 && arp.src.hw_mac == ${SYNACK_MAC} && arp.dst.proto_ipv4 == ${K}`, '-T', 'fields', '-e', 'eth.dst']).trim();
    assert.equal(req.split('\n')[0], 'ff:ff:ff:ff:ff:ff');
    const rep = tshark(connectPcap, ['-Y', `arp.opcode == 2 && arp.src.proto_ipv4 == ${K}`, '-T', 'fields', '-e', 'arp.src.hw_mac', '-e', 'eth.dst']).trim();
    assert.equal(rep.split('\n')[0], `${kernelMac}\t${SYNACK_MAC}`);
    assert.equal(flagged(connectPcap, ['-d', 'tcp.port==9000,data']), '', 'tshark flags frames');
  });
});
