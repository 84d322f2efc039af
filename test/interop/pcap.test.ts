/**
 * `--pcap` judged by tshark: a captured interop session (curl, daytime,
 * echo, ping against `synack serve`, and `synack connect` to a kernel
 * server) has no malformed packets and no bad IP/TCP/ICMP checksums, and
 * tshark sees complete 3-way and 4-way handshakes — with TUN offloads on
 * (GSO segments in, their partial checksums completed before capture) and
 * off (--no-offload).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { Netns, ready, skipUnlessReady } from './helpers.ts';

const skip = skipUnlessReady(['curl', 'ping', 'tshark']);

function tshark(file: string, args: string[]): string {
  const r = spawnSync(
    'tshark',
    ['-n', '-r', file, '-o', 'ip.check_checksum:TRUE', '-o', 'tcp.check_checksum:TRUE', ...args],
    { encoding: 'utf8', timeout: 60_000 },
  );
  if (r.status !== 0) throw new Error(`tshark ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

for (const offload of [true, false]) {
  describe(`interop: --pcap output judged by tshark, offloads ${offload ? 'on' : 'off'}`, { skip, timeout: 120_000 }, () => {
    const ns = new Netns({ tag: offload ? 'pcap' : 'pcapnooff', subnet: 5 });
    const dir = mkdtempSync(join(tmpdir(), 'synack-pcap-'));
    const servePcap = join(dir, 'serve.pcap');
    const connectPcap = join(dir, 'connect.pcap');
    const S = ns.synackAddr;
    const flag = offload ? [] : ['--no-offload'];

    before(async () => {
      ns.setup();
      const serve = ns.synack('serve', ['--echo', '7', '--daytime', '13', '--http', '80', '--pcap', servePcap, ...flag], { timeoutMs: 60_000 });
      await ready(serve);
      ns.exec(['curl', '-sS', '--max-time', '20', '-o', '/dev/null', `http://${S}/bytes/300000`]);
      await ns.peer(['recv', S, '13']);
      await ns.peer(['echo-client', S, '7', '200000', 'early']);
      ns.exec(['ping', '-c', '2', '-i', '0.2', '-W', '2', S]);
      serve.kill('SIGTERM');
      assert.equal(await serve.exited, 0, serve.stderr());
      // synack as the client, with its own capture.
      ns.exec(['ip', 'tuntap', 'add', 'dev', 'tun1', 'mode', 'tun']);
      ns.exec(['ip', 'addr', 'add', '10.213.6.1/24', 'dev', 'tun1']);
      ns.exec(['ip', 'link', 'set', 'tun1', 'up']);
      const server = await ns.peerServer(['serve-echo', '7007']);
      const c = ns.spawn(
        [process.execPath, '--import', 'tsx', 'src/cli/main.ts', 'connect', '--tun', 'tun1', '--addr', '10.213.6.2/24', '--pcap', connectPcap, ...flag, '10.213.6.1:7007'],
        { stdin: true, timeoutMs: 60_000 },
      );
      c.input('hello over synack\n'.repeat(1000));
      assert.equal(await c.exited, 0, c.stderr());
      await server.exited;
    });

    after(async () => {
      await ns.cleanup();
      rmSync(dir, { recursive: true, force: true });
    });

    for (const [name, file] of [
      ['serve', servePcap],
      ['connect', connectPcap],
    ] as const) {
      it(`${name}: no malformed packets, no bad checksums`, () => {
        assert.ok(statSync(file).size > 24, 'the capture has packets');
        const total = tshark(file, ['-T', 'fields', '-e', 'frame.number']).trim().split('\n').length;
        assert.ok(total > 20, `${total} packets`);
        const bad = tshark(file, ['-Y', '_ws.malformed || _ws.expert.severity == error || ip.checksum.status == 0 || tcp.checksum.status == 0 || icmp.checksum.status == 0']);
        assert.equal(bad.trim(), '', `tshark flags packets:\n${bad}`);
        // Checksums were really verified (status 1 = good), not skipped.
        const good = tshark(file, ['-Y', 'tcp.checksum.status == 1', '-T', 'fields', '-e', 'frame.number']).trim().split('\n').length;
        assert.ok(good > 10, `${good} TCP checksums verified good`);
      });

      it(`${name}: tshark sees the 3-way and 4-way handshakes`, () => {
        // tcp.completeness: 1 SYN, 2 SYN-ACK, 4 ACK, 8 data, 16 FIN, 32 RST.
        const lines = tshark(file, ['-Y', 'tcp.flags.fin == 1', '-T', 'fields', '-e', 'tcp.stream', '-e', 'tcp.completeness']).trim().split('\n');
        const complete = lines.map((l) => Number(l.split('\t')[1])).filter((c) => (c & 0x1f) === 0x1f && !(c & 32));
        assert.ok(complete.length > 0, `no stream with SYN, SYN-ACK, ACK, data and FIN: ${lines.join(' | ')}`);
        // The 4-way close: a FIN from each side, each acknowledged.
        const streams = tshark(file, ['-Y', 'tcp.flags.fin == 1', '-T', 'fields', '-e', 'tcp.stream', '-e', 'ip.src']).trim().split('\n');
        const finsBy = new Map<string, Set<string>>();
        for (const l of streams) {
          const [st, src] = l.split('\t');
          if (!finsBy.has(st!)) finsBy.set(st!, new Set());
          finsBy.get(st!)!.add(src!);
        }
        assert.ok([...finsBy.values()].some((s) => s.size === 2), 'some stream has a FIN from both ends');
        const handshakes = tshark(file, ['-Y', 'tcp.flags.syn == 1 && tcp.flags.ack == 1', '-T', 'fields', '-e', 'tcp.stream']).trim().split('\n');
        assert.ok(handshakes.length >= 1);
      });
    }

    it('serve: ICMP echo replies are in the capture', () => {
      const replies = tshark(servePcap, ['-Y', 'icmp.type == 0', '-T', 'fields', '-e', 'frame.number']).trim().split('\n').filter(Boolean);
      assert.equal(replies.length, 2);
    });
  });
}
