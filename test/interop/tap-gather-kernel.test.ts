/**
 * Gather output with checksum offload against Linux (issue 15): synack
 * serves over a TAP device at MTU 65520, so its segments carry up to 64 KiB
 * and leave as [NEEDS_CSUM header, frame headers, payload view] with only
 * the pseudo-header sum in the TCP checksum field. A kernel client (curl in
 * the test's namespace) downloads 5 MB byte-exact, the link counts the
 * gather writes, and tshark finds every TCP checksum in synack's capture
 * (--pcap, LINKTYPE_ETHERNET) valid: the capture holds each frame as the
 * device completes it. (The receiving kernel trusts a NEEDS_CSUM packet as
 * a NIC's CHECKSUM_PARTIAL and does not verify it; that the completed
 * checksum is the segment's is test/interop/tap-gather.test.ts.)
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { Netns, ready, skipUnlessReady, serveStats, type Proc } from './helpers.ts';

const skip = skipUnlessReady(['curl', 'tshark']);

describe('interop: gather output with checksum offload, Linux ↔ synack over a TAP device at MTU 65520', { skip, timeout: 120_000 }, () => {
  const ns = new Netns({ name: `gwdown-gather-${process.pid}`, tag: 'gather', subnet: 57, tap: true, mtu: 65520 });
  const S = ns.synackAddr;
  const dir = mkdtempSync(join(tmpdir(), 'synack-gather-'));
  const pcap = join(dir, 'serve.pcap');
  let serve: Proc;

  before(async () => {
    ns.setup();
    serve = ns.synack('serve', ['--http', '80', '--discard', '9', '--stats', '--pcap', pcap], { timeoutMs: 100_000 });
    await ready(serve);
  });

  after(async () => {
    serve?.kill('SIGTERM');
    await ns.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('curl downloads 5 MB byte-exact and the kernel sends 5 MB to discard; synack\'s segments left as gather writes with partial checksums, the kernel\'s partial checksums were trusted; tshark finds every checksum in the capture valid (both ways)', async () => {
    const n = 5_000_000;
    const got = ns.exec(['sh', '-c', `curl -sS --max-time 30 http://${S}/bytes/${n} | sha256sum`]).split(' ')[0];
    const want = createHash('sha256').update(Buffer.from(Array.from({ length: n }, (_, i) => i & 0xff))).digest('hex');
    assert.equal(got, want);
    ns.exec(['bash', '-c', `head -c ${n} /dev/urandom > /dev/tcp/${S}/9`], 30_000);
    const st = await serveStats<{ link: Record<string, number> }>(serve);
    assert.ok(st.link['csumOffloadOut']! > 0, `gather writes: ${JSON.stringify(st.link)}`);
    assert.ok(st.link['csumTrusted']! > 0, `trusted partial checksums in: ${JSON.stringify(st.link)}`);
    serve.kill('SIGTERM');
    await serve.exited;
    const r = spawnSync('tshark', ['-n', '-r', pcap, '-o', 'ip.check_checksum:TRUE', '-o', 'tcp.check_checksum:TRUE', '-Y', 'tcp.len > 16384'], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    const large = r.stdout.trim().split('\n');
    assert.ok(large.filter((l) => l.includes(`${S} → `) || l.includes(`${S} -> `)).length >= 10, `large segments from synack captured:\n${r.stdout.slice(0, 500)}`);
    assert.ok(large.filter((l) => l.includes(`→ ${S} `) || l.includes(`-> ${S} `)).length >= 10, `large segments to synack captured:\n${r.stdout.slice(0, 500)}`);
    const bad = spawnSync('tshark', ['-n', '-r', pcap, '-o', 'ip.check_checksum:TRUE', '-o', 'tcp.check_checksum:TRUE', '-Y', '_ws.malformed || ip.checksum.status == 0 || tcp.checksum.status == 0'], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(bad.status, 0, bad.stderr);
    assert.equal(bad.stdout.trim(), '', 'frames with a bad checksum');
  });
});
