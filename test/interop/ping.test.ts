/**
 * `synack ping` against Linux (issue 13, "ping both ways"): synack's stack
 * sends ICMP echo requests (RFC 792; ICMPv6, RFC 4443 §4.1) and the kernel
 * answers, over a TUN device and over a TAP device (where synack resolves
 * the kernel by ARP and Neighbor Discovery first), in namespaces the tests
 * create. The other direction — the kernel's ping answered by synack — is
 * in test/interop/tap.test.ts and test/interop/ipv6.test.ts.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { Netns, skipUnlessReady } from './helpers.ts';

const skip = skipUnlessReady(['tshark']);

/** The ICMP/ICMPv6 type, sequence number and whether tshark finds the checksum good, per echo message in a capture. */
function echoes(file: string): string[] {
  const r = spawnSync('tshark', ['-n', '-r', file, '-o', 'ip.check_checksum:TRUE', '-Y', 'icmp.type == 8 || icmp.type == 0 || icmpv6.type == 128 || icmpv6.type == 129', '-T', 'fields', '-e', 'icmp.type', '-e', 'icmpv6.type', '-e', 'icmp.seq', '-e', 'icmpv6.echo.sequence_number', '-e', 'icmp.checksum.status', '-e', 'icmpv6.checksum.status'], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (r.status !== 0) throw new Error(`tshark failed: ${r.stderr}`);
  return r.stdout.trim().split('\n').map((l) => l.split('\t').filter((x) => x !== '').join(' '));
}

async function pingFrom(ns: Netns, args: string[]): Promise<{ code: number | string; out: string; err: string }> {
  const p = ns.synack('ping', args, { timeoutMs: 60_000 });
  const code = await p.exited;
  return { code, out: p.stdout(), err: p.stderr() };
}

describe('interop: synack pings Linux over a TUN device (IPv4 and IPv6)', { skip, timeout: 180_000 }, () => {
  const ns = new Netns({ tag: 'ping', subnet: 27, ipv6: true });
  const dir = mkdtempSync(join(tmpdir(), 'synack-ping-'));
  before(() => ns.setup());
  after(async () => {
    await ns.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('RFC 792: synack ping → the kernel answers every echo request; iputils-style lines and statistics; exit 0', async () => {
    const pcap = join(dir, 'v4.pcap');
    const r = await pingFrom(ns, ['-c', '3', '-i', '0.1', '-W', '2', '--pcap', pcap, ns.kernelAddr]);
    assert.equal(r.code, 0, r.err);
    for (const seq of [1, 2, 3]) assert.match(r.out, new RegExp(`64 bytes from ${ns.kernelAddr.replace(/\./g, '\\.')}: icmp_seq=${seq} time=[0-9.]+ ms`));
    assert.match(r.out, /3 packets transmitted, 3 received, 0% packet loss/);
    assert.match(r.out, /rtt min\/avg\/max\/mdev = [0-9.]+\/[0-9.]+\/[0-9.]+\/[0-9.]+ ms/);
    // In synack's capture: requests (8) and the kernel's replies (0), checksums good (status 1).
    assert.deepEqual(echoes(pcap), ['8 1 1', '0 1 1', '8 2 1', '0 2 1', '8 3 1', '0 3 1']);
  });

  it('RFC 4443 §4.1: synack ping to the kernel\'s IPv6 address — ICMPv6 echo requests answered', async () => {
    const pcap = join(dir, 'v6.pcap');
    const r = await pingFrom(ns, ['-c', '3', '-i', '0.1', '-W', '2', '--pcap', pcap, ns.kernelAddr6!]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /3 packets transmitted, 3 received, 0% packet loss/);
    assert.deepEqual(echoes(pcap), ['128 1 1', '129 1 1', '128 2 1', '129 2 1', '128 3 1', '129 3 1']);
  });

  it('a 4000-octet request goes in fragments both ways (RFC 791 §2.3, RFC 8200 §4.5) and its reply is reassembled and matched', async () => {
    for (const dst of [ns.kernelAddr, ns.kernelAddr6!]) {
      const r = await pingFrom(ns, ['-c', '2', '-i', '0.1', '-W', '2', '-s', '4000', dst]);
      assert.equal(r.code, 0, `${dst}: ${r.err}`);
      assert.match(r.out, new RegExp(`4008 bytes from ${dst.replace(/\./g, '\\.')}: icmp_seq=1`));
      assert.match(r.out, /2 packets transmitted, 2 received/);
    }
  });

  it('no host at the address: every request times out, 100 % loss, exit 1', async () => {
    const r = await pingFrom(ns, ['-c', '2', '-i', '0.1', '-W', '0.3', ns.kernelAddr.replace(/\.1$/, '.99')]);
    assert.equal(r.code, 1);
    assert.match(r.out, /2 packets transmitted, 0 received, 100% packet loss/);
    assert.doesNotMatch(r.out, /rtt min/);
  });
});

describe('interop: synack pings Linux over a TAP device (ARP and NDP first)', { skip, timeout: 180_000 }, () => {
  const ns = new Netns({ tag: 'pingtap', subnet: 29, tap: true, ipv6: true });
  const K6 = 'fd13:1d::1';
  before(() => {
    ns.setup();
    // The kernel's side of a TAP namespace has no static IPv6 address (helpers.ts): give it one.
    ns.exec(['ip', '-6', 'addr', 'add', `${K6}/64`, 'dev', 'tap0', 'nodad']);
  });
  after(() => ns.cleanup());

  it('RFC 792 and RFC 4443 §4.1 over Ethernet: synack resolves the kernel (ARP, Neighbor Solicitation), pings it over IPv4 and IPv6, every reply matched', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'synack-pingtap-'));
    try {
      for (const [dst, resolve] of [
        [ns.kernelAddr, `arp.opcode == 1 && arp.src.proto_ipv4 == ${ns.synackAddr} && arp.dst.proto_ipv4 == ${ns.kernelAddr}`],
        [K6, `icmpv6.type == 135 && icmpv6.nd.ns.target_address == ${K6}`],
      ] as const) {
        const pcap = join(dir, 'p.pcap');
        const r = await pingFrom(ns, ['-c', '3', '-i', '0.1', '-W', '2', '--pcap', pcap, dst]);
        assert.equal(r.code, 0, `${dst}: ${r.err}`);
        assert.match(r.out, /3 packets transmitted, 3 received, 0% packet loss/, dst);
        // synack asked for the kernel's MAC before its first request.
        const t = spawnSync('tshark', ['-n', '-r', pcap, '-Y', resolve], { encoding: 'utf8', timeout: 60_000 });
        assert.notEqual(t.stdout.trim(), '', `${dst}: no ${resolve} in the capture`);
        assert.equal(echoes(pcap).filter((e) => e.endsWith(' 1')).length, 6, `${dst}: 3 requests and 3 replies with good checksums`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
