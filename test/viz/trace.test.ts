/**
 * The passive observer and `synack trace` on captures of synack's own demo:
 * connections listed, states inferred through Figure 5, retransmissions and
 * resets marked — and the verdicts equal tshark's tcp.analysis flags.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runDemo, type DemoOptions } from '../../src/cli/demo.ts';
import { main } from '../../src/cli/main.ts';
import { analyzeCapture } from '../../src/viz/observer.ts';
import { parsePcap, pcapGlobalHeader, pcapRecord } from '../../src/wire/pcap.ts';
import { decodeSegment } from '../../src/viz/inspector.ts';
import { disagreements, hasTshark, observerVerdicts, tsharkVerdicts } from './helpers.ts';
import { inCi } from '../support/ci.ts';
import { memIo } from '../cli/mem-io.ts';

function demoPcap(opts: Partial<DemoOptions> = {}): Uint8Array {
  const r = runDemo({ ...opts, pcap: true }, () => {});
  assert.ok(r.pcap);
  return r.pcap!;
}

const dir = mkdtempSync(join(tmpdir(), 'synack-viz-trace-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

function seqOf(c: { initial: [string, string]; segments: Array<{ transitions: Array<{ side: 0 | 1; to: string }> }> }, side: 0 | 1): string[] {
  return [c.initial[side], ...c.segments.flatMap((s) => s.transitions.filter((t) => t.side === side).map((t) => t.to))];
}

test('the observer follows the demo: the same state sequences the stacks went through, every arrow from Figure 5', () => {
  const a = analyzeCapture(demoPcap());
  assert.ok(a.ok);
  if (!a.ok) return;
  assert.equal(a.connections.length, 1);
  const c = a.connections[0]!;
  assert.deepEqual(c.endpoints[1], '10.0.0.2:80');
  assert.deepEqual(seqOf(c, 0), ['CLOSED', 'SYN-SENT', 'ESTABLISHED', 'FIN-WAIT-1', 'FIN-WAIT-2', 'TIME-WAIT']);
  assert.deepEqual(seqOf(c, 1), ['LISTEN', 'SYN-RECEIVED', 'ESTABLISHED', 'CLOSE-WAIT', 'LAST-ACK', 'CLOSED']);
  for (const s of c.segments) for (const t of s.transitions) assert.ok(t.figure5, `${t.from} → ${t.to}`);
  assert.deepEqual(
    c.segments.slice(0, 3).map((s) => [s.flagsText, s.relSeq, s.relAck]),
    [
      ['SYN', 0, null],
      ['SYN+ACK', 0, 1],
      ['ACK', 1, 1],
    ],
  );
});

test('simultaneous open and close in a capture: both sides SYN-SENT → SYN-RECEIVED, both FINs cross, both end in TIME-WAIT', () => {
  const a = analyzeCapture(demoPcap({ simultaneousOpen: true, simultaneousClose: true }));
  assert.ok(a.ok);
  if (!a.ok) return;
  const c = a.connections[0]!;
  assert.deepEqual(c.initial, ['CLOSED', 'CLOSED'], 'neither side was listening');
  const both = [seqOf(c, 0), seqOf(c, 1)];
  for (const st of both) {
    assert.deepEqual(st.slice(0, 5), ['CLOSED', 'SYN-SENT', 'SYN-RECEIVED', 'ESTABLISHED', 'FIN-WAIT-1'], st.join(' → '));
    assert.equal(st[st.length - 1], 'TIME-WAIT', st.join(' → '));
  }
  // Which side is seen in CLOSING depends on the order the crossing ACKs were captured; at least one is.
  assert.ok(both.some((st) => st.includes('CLOSING')), both.map((s) => s.join(' → ')).join(' | '));
});

test('a reset in a capture closes both sides and is marked', () => {
  const a = analyzeCapture(demoPcap({ reset: true }));
  assert.ok(a.ok);
  if (!a.ok) return;
  const c = a.connections[0]!;
  const rst = c.segments.find((s) => s.verdicts.includes('reset'));
  assert.ok(rst);
  assert.deepEqual(c.segments[c.segments.length - 1]!.states, ['CLOSED', 'CLOSED']);
});

test('the observer matches tshark tcp.analysis on lossy demo captures (retransmissions, resets)', { skip: !hasTshark() && !inCi() ? 'tshark is not installed' : false }, () => {
  let marked = 0;
  for (const seed of [1, 2, 3]) {
    const bytes = demoPcap({ loss: 0.25, seed, bytes: 20_000 });
    const f = join(dir, `loss-${seed}.pcap`);
    writeFileSync(f, bytes);
    const ours = observerVerdicts(bytes);
    assert.deepEqual(disagreements(ours, tsharkVerdicts(f)), [], `seed ${seed}`);
    for (const s of ours.values()) if (s.size) marked++;
  }
  assert.ok(marked > 5, `the lossy runs had marked segments (${marked})`);
});

test('RFC 8200: an IPv6 capture (synack demo --ipv6) is followed like an IPv4 one: endpoints in brackets, the same state sequences', () => {
  const a = analyzeCapture(demoPcap({ ipv6: true }));
  assert.ok(a.ok);
  if (!a.ok) return;
  assert.equal(a.nonTcp, 0);
  assert.equal(a.connections.length, 1);
  const c = a.connections[0]!;
  assert.match(c.endpoints[0], /^\[fd00::1\]:\d+$/);
  assert.equal(c.endpoints[1], '[fd00::2]:80');
  assert.deepEqual(seqOf(c, 0), ['CLOSED', 'SYN-SENT', 'ESTABLISHED', 'FIN-WAIT-1', 'FIN-WAIT-2', 'TIME-WAIT']);
  assert.deepEqual(seqOf(c, 1), ['LISTEN', 'SYN-RECEIVED', 'ESTABLISHED', 'CLOSE-WAIT', 'LAST-ACK', 'CLOSED']);
});

test('RFC 8200 §3: the visualizer\'s segment inspector decodes an IPv6 packet: the IPv6 header fields, v6 addresses, the TCP behind it', () => {
  const p = parsePcap(demoPcap({ ipv6: true }));
  assert.ok(p.ok);
  if (!p.ok) return;
  const d = decodeSegment(p.records[0]!.data, 'en', { seqBase: null, ackBase: null });
  assert.equal(d.error, null);
  assert.match(d.summary, /^\[fd00::1\]:\d+ → \[fd00::2\]:80$/);
  const f = Object.fromEntries(d.ip.map((x) => [x.name, x.value]));
  assert.equal(f['Version'], '6');
  assert.equal(f['Source'], 'fd00::1');
  assert.equal(f['Destination'], 'fd00::2');
  assert.equal(f['Next Header'], '6 (TCP)');
  assert.ok(d.flags.find((x) => x.name === 'SYN')!.set);
});

test('tshark reads an IPv6 capture of the stacks (LINKTYPE_RAW): no malformed packet, no bad checksum, its tcp.analysis equals the observer', { skip: !hasTshark() && !inCi() ? 'tshark is not installed (required in CI)' : false }, () => {
  const bytes = demoPcap({ ipv6: true, loss: 0.25, seed: 2, bytes: 20_000 });
  const f = join(dir, 'v6.pcap');
  writeFileSync(f, bytes);
  // TCP stream desegmentation off: on a lossy capture it reports retransmitted
  // payload as "New fragment overlaps old data" (a reassembly heuristic about
  // the application stream, not a malformed packet).
  const r = spawnSync('tshark', ['-r', f, '-o', 'tcp.check_checksum:TRUE', '-o', 'tcp.desegment_tcp_streams:FALSE', '-T', 'fields', '-e', 'ipv6.src', '-e', '_ws.malformed', '-e', 'tcp.checksum.status', '-e', '_ws.expert.severity'], {
    encoding: 'utf8',
    env: { ...process.env, LC_ALL: 'C' },
  });
  assert.equal(r.status, 0, r.stderr);
  const rows = r.stdout.trim().split('\n').map((l) => l.split('\t'));
  assert.ok(rows.length > 10);
  for (const [src, malformed, ck] of rows) {
    assert.match(src!, /^fd00::[12]$/, 'every packet is IPv6');
    assert.equal(malformed, '', 'not malformed');
    assert.equal(ck, '1', 'TCP checksum good (tcp.checksum.status: 0 bad, 1 good, 2 unverified)');
  }
  const ours = observerVerdicts(bytes);
  assert.deepEqual(disagreements(ours, tsharkVerdicts(f)), []);
});

test('port reuse starts a new connection; a capture that starts mid-stream assumes ESTABLISHED', () => {
  const one = demoPcap();
  const a1 = analyzeCapture(one);
  assert.ok(a1.ok);
  if (!a1.ok) return;
  // The same capture twice in a row (the second shifted in time): same 4-tuple, so the second SYN repeats the ISN — one connection
  // whose second half is all retransmissions; with the second copy's ISN changed it becomes a second connection.
  const recs = a1.connections[0]!.segments;
  const parts = [pcapGlobalHeader()];
  for (const s of recs) parts.push(pcapRecord(s.timeUs, s.bytes));
  for (const s of recs.slice(3)) parts.push(pcapRecord(s.timeUs + 5_000_000, s.bytes));
  const mid = analyzeCapture(concat(parts));
  assert.ok(mid.ok);
  if (!mid.ok) return;
  assert.equal(mid.connections.length, 1);
  const midOnly = [pcapGlobalHeader(), ...recs.slice(3).map((s) => pcapRecord(s.timeUs, s.bytes))];
  const m = analyzeCapture(concat(midOnly));
  assert.ok(m.ok);
  if (!m.ok) return;
  assert.equal(m.connections[0]!.midstream, true);
  assert.deepEqual(m.connections[0]!.initial, ['ESTABLISHED', 'ESTABLISHED']);
});

function concat(parts: Uint8Array[]): Uint8Array {
  const n = parts.reduce((a, p) => a + p.length, 0);
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

test('synack trace lists the connections and draws the ladder with inferred states and marks', async () => {
  const f = join(dir, 'demo-loss.pcap');
  writeFileSync(f, demoPcap({ loss: 0.2, seed: 1 }));
  const io = memIo();
  assert.equal(await main(['trace', f], io), 0, io.err.join('\n'));
  const text = io.out.join('\n');
  assert.match(text, /1 TCP connection/);
  assert.match(text, /10\.0\.0\.1:\d+ ⇄ 10\.0\.0\.2:80/);
  const rows = io.out.filter((l) => /[▶◀]/.test(l));
  assert.match(rows[0]!, /SYN-SENT\s+─+ SYN ─+▶ LISTEN/);
  assert.ok(rows.some((l) => /◀─+ SYN\+ACK ─+ SYN-RECEIVED/.test(l)));
  assert.ok(rows.some((l) => /retransmission$/.test(l)), 'a retransmission is marked');
  assert.match(text, /client states:\s+CLOSED → SYN-SENT → ESTABLISHED → FIN-WAIT-1 → FIN-WAIT-2 → TIME-WAIT/);
  assert.match(text, /server states:\s+LISTEN → SYN-RECEIVED → ESTABLISHED → CLOSE-WAIT → LAST-ACK → CLOSED/);
});

test('synack trace --json and --conn; errors have exit codes', async () => {
  const f = join(dir, 'demo.pcap');
  writeFileSync(f, demoPcap());
  let io = memIo();
  assert.equal(await main(['trace', f, '--json', '--conn', '1'], io), 0);
  const j = JSON.parse(io.out.join('\n'));
  assert.equal(j.connections.length, 1);
  assert.equal(j.ladder.segments[0].flags, 'SYN');
  assert.deepEqual(j.ladder.segments[0].states, ['SYN-SENT', 'LISTEN']);
  io = memIo();
  assert.equal(await main(['trace', f, '--conn', '2'], io), 1);
  assert.match(io.err.join('\n'), /no connection 2/);
  io = memIo();
  assert.equal(await main(['trace'], io), 2);
  io = memIo();
  assert.equal(await main(['trace', f, '--conn', 'x'], io), 2);
  const bad = join(dir, 'bad.pcap');
  writeFileSync(bad, new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25]));
  io = memIo();
  assert.equal(await main(['trace', bad], io), 1);
  assert.match(io.err.join('\n'), /not a pcap file/);
});
