/**
 * DHCP between Linux and synack over a TAP device (issue 13), in a
 * namespace of the test's own:
 *
 * - Debian's busybox udhcpc obtains a lease from `synack serve
 *   --dhcp-server` (udhcpc does not set the broadcast bit, so synack's
 *   OFFER and ACK go to its MAC and yiaddr without ARP, RFC 2131 §4.1) and
 *   then reaches synack's HTTP server from the leased address;
 * - `synack serve --tap tap0 --dhcp` (no --addr) obtains its address from
 *   Debian's dnsmasq, prints it in the ready line and is reached by curl;
 *   offered an address the kernel already holds, it finds out by its ARP
 *   probe (RFC 5227), declines it and binds another.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import { Netns, ready, skipUnlessReady, ROOT, type Proc } from './helpers.ts';

const skip = skipUnlessReady(['curl', 'busybox', 'dnsmasq', 'tshark']);
const MAIN = join(ROOT, 'src/cli/main.ts');

describe('interop: DHCP between Linux and synack over a TAP device', { skip, timeout: 120_000 }, () => {
  const ns = new Netns({ tag: 'dhcp', subnet: 23, tap: true });
  const S = ns.synackAddr; // 10.213.23.2
  const procs: Proc[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'synack-dhcp-'));
  const pcap = join(dir, 'serve.pcap');

  before(() => ns.setup());
  after(async () => {
    for (const p of procs) p.kill('SIGTERM');
    await ns.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('busybox udhcpc gets a lease from synack serve --dhcp-server (unicast OFFER/ACK to its MAC), then curl reaches synack from the leased address', async () => {
    const serve = ns.synack('serve', ['--http', '80', '--dhcp-server', '10.213.23.100-10.213.23.120', '--dhcp-router', S, '--dhcp-lease', '600', '--pcap', pcap], { timeoutMs: 100_000 });
    procs.push(serve);
    await ready(serve);
    assert.match(serve.stdout(), /ready on 10\.213\.23\.2\/24 on tap0 .*http=80 dhcp-server=10\.213\.23\.100-10\.213\.23\.120/);
    // The kernel's side forgets its static address and asks synack for one.
    ns.exec(['ip', 'addr', 'flush', 'dev', 'tap0']);
    // udhcpc logs to stderr; -s /bin/true: the test configures the address itself.
    const out = ns.exec(['sh', '-c', 'busybox udhcpc -i tap0 -f -q -n -t 5 -T 2 -s /bin/true 2>&1'], 30_000);
    const m = /lease of (\d+\.\d+\.\d+\.\d+) obtained from (\d+\.\d+\.\d+\.\d+), lease time (\d+)/.exec(out);
    assert.ok(m, `udhcpc said: ${out}`);
    assert.deepEqual([m[1], m[2], m[3]], ['10.213.23.100', S, '600']);
    ns.exec(['ip', 'addr', 'add', `${m[1]}/24`, 'dev', 'tap0']);
    const body = ns.exec(['curl', '-sS', '--max-time', '20', `http://${S}/`]);
    assert.match(body, /hello from synack/);
    serve.kill('SIGTERM');
    await serve.exited;
    ns.exec(['ip', 'addr', 'flush', 'dev', 'tap0']);
    // udhcpc sets no broadcast bit: synack's OFFER and ACK went to its MAC and the offered address, not to ff:ff:ff:ff:ff:ff.
    const r = spawnSync('tshark', ['-n', '-r', pcap, '-Y', 'dhcp.option.dhcp == 2 || dhcp.option.dhcp == 5', '-T', 'fields', '-e', 'eth.dst', '-e', 'ip.dst', '-e', 'dhcp.flags.bc'], { encoding: 'utf8', timeout: 60_000 });
    const rows = r.stdout.trim().split('\n').map((l) => l.split('\t'));
    assert.ok(rows.length >= 2, r.stdout + r.stderr);
    for (const [eth, ip, bc] of rows) {
      assert.notEqual(eth, 'ff:ff:ff:ff:ff:ff');
      assert.equal(ip, '10.213.23.100');
      assert.ok(bc === '0' || bc === 'False', `broadcast flag ${bc}`);
    }
  });

  it('synack serve --tap tap0 --dhcp (no --addr) is bound by dnsmasq, shows the lease in its ready line, and curl reaches it there', async () => {
    ns.exec(['ip', 'addr', 'add', '10.213.23.1/24', 'dev', 'tap0']);
    const dnsmasq = ns.spawn([
      'dnsmasq', '--keep-in-foreground', '--conf-file=/dev/null', '--no-resolv', '--no-hosts', '--port=0', '--user=root',
      '--interface=tap0', '--bind-interfaces', '--dhcp-range=10.213.23.150,10.213.23.160,255.255.255.0,600',
      '--dhcp-option=option:router,10.213.23.1', '--dhcp-leasefile=/dev/null', '--log-dhcp',
    ], { timeoutMs: 100_000 });
    procs.push(dnsmasq);
    const serve = ns.spawn([process.execPath, '--import', 'tsx', MAIN, 'serve', '--tap', 'tap0', '--dhcp', '--http', '80'], { timeoutMs: 100_000 });
    procs.push(serve);
    await ready(serve);
    const m = /ready on no address \(DHCP\) on tap0 .*http=80 dhcp=(10\.213\.23\.1[56]\d)\/24 gw=10\.213\.23\.1 mtu=1500/.exec(serve.stdout());
    assert.ok(m, `ready line: ${serve.stdout()}\n${serve.stderr()}`);
    const body = ns.exec(['curl', '-sS', '--max-time', '20', `http://${m[1]}/`]);
    assert.match(body, /hello from synack/);
    serve.kill('SIGTERM');
    dnsmasq.kill('SIGTERM');
    await Promise.all([serve.exited, dnsmasq.exited]);
  });

  it('RFC 2131 §4.4.1 + RFC 5227: the address dnsmasq offers is in use (the kernel holds it) — synack\'s ARP probe finds it, declines it, and binds the next one', async () => {
    // The kernel's side holds .150, which dnsmasq reserves for synack's MAC; --no-ping keeps dnsmasq
    // from finding out itself (its ICMP check), so the offer is .150 and only the client's probe can tell.
    ns.exec(['ip', 'addr', 'replace', '10.213.23.1/24', 'dev', 'tap0']);
    ns.exec(['ip', 'addr', 'add', '10.213.23.150/24', 'dev', 'tap0']);
    const dnsmasq = ns.spawn([
      'dnsmasq', '--keep-in-foreground', '--conf-file=/dev/null', '--no-resolv', '--no-hosts', '--port=0', '--user=root', '--no-ping',
      '--interface=tap0', '--bind-interfaces', '--dhcp-range=10.213.23.150,10.213.23.160,255.255.255.0,600',
      '--dhcp-host=02:00:00:23:00:02,10.213.23.150', '--dhcp-leasefile=/dev/null', '--log-dhcp', '--log-facility=-',
    ], { timeoutMs: 100_000 });
    procs.push(dnsmasq);
    const p2 = join(dir, 'probe.pcap');
    const serve = ns.spawn([process.execPath, '--import', 'tsx', MAIN, 'serve', '--tap', 'tap0', '--mac', '02:00:00:23:00:02', '--dhcp', '--http', '80', '--pcap', p2], { timeoutMs: 100_000 });
    procs.push(serve);
    await serve.waitFor(/ready on /, 60_000);
    const m = /dhcp=(10\.213\.23\.\d+)\/24/.exec(serve.stdout());
    assert.ok(m, serve.stdout() + serve.stderr());
    assert.notEqual(m[1], '10.213.23.150', `the address in use was not taken: ${serve.stdout()}\n${dnsmasq.stderr()}`);
    assert.match(dnsmasq.stdout() + dnsmasq.stderr(), /DHCPDECLINE\(tap0\) 10\.213\.23\.150/);
    const body = ns.exec(['curl', '-sS', '--max-time', '20', `http://${m[1]}/`]);
    assert.match(body, /hello from synack/);
    serve.kill('SIGTERM');
    dnsmasq.kill('SIGTERM');
    await Promise.all([serve.exited, dnsmasq.exited]);
    // In synack's capture: ARP Probes for .150 (sender 0.0.0.0) and the kernel's reply.
    const r = spawnSync('tshark', ['-n', '-r', p2, '-Y', 'arp.dst.proto_ipv4 == 10.213.23.150 || arp.src.proto_ipv4 == 10.213.23.150', '-T', 'fields', '-e', 'arp.opcode', '-e', 'arp.src.proto_ipv4'], { encoding: 'utf8', timeout: 60_000 });
    const rows = r.stdout.trim().split('\n');
    assert.ok(rows.includes('1\t0.0.0.0'), r.stdout);
    assert.ok(rows.includes('2\t10.213.23.150'), r.stdout);
  });
});
