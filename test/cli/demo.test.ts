/**
 * `synack demo`: the ladder diagram, its options, the JSON and pcap outputs,
 * and the CLI's exit codes. Everything runs on the virtual clock, so the
 * assertions are about content and order, never about time taken.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runDemo, drawArrow, type DemoOptions, type DemoResult } from '../../src/cli/demo.ts';
import { main, type CliIo } from '../../src/cli/main.ts';
import { parsePcap } from '../../src/wire/pcap.ts';
import { parseIpv4 } from '../../src/wire/ipv4.ts';
import { parseTcp, flagsToString } from '../../src/wire/tcp.ts';
import { ACK, CHECKSUM_FULL, IPPROTO_TCP, SYN } from '../../src/wire/types.ts';
import { inCi } from '../support/ci.ts';

const repo = new URL('../../', import.meta.url).pathname;

function demo(opts: Partial<DemoOptions> = {}): { lines: string[]; text: string; result: DemoResult } {
  const lines: string[] = [];
  const result = runDemo(opts, (l) => lines.push(l));
  return { lines, text: lines.join('\n'), result };
}

/** The ladder rows (lines with an arrow), in order. */
function ladderRows(lines: string[]): string[] {
  return lines.filter((l) => /[▶◀✗]/.test(l) && /^\s+\d/.test(l));
}

/** Asserts that `needles` occur in `hay` in this order. */
function assertInOrder(hay: string[], needles: string[], what: string): void {
  let at = 0;
  for (const n of needles) {
    const i = hay.indexOf(n, at);
    assert.ok(i >= 0, `${what}: expected ${n} after position ${at} in ${hay.join(' → ')}`);
    at = i + 1;
  }
}

/** Memory CLI io for main(). */
function memIo(): CliIo & { out: string[]; err: string[]; files: Map<string, Uint8Array> } {
  const out: string[] = [];
  const err: string[] = [];
  const files = new Map<string, Uint8Array>();
  return {
    out,
    err,
    files,
    stdout: (l) => out.push(l),
    stderr: (l) => err.push(l),
    isTTY: false,
    env: {},
    writeFile: (p, d) => files.set(p, d),
  };
}

test('the default demo draws SYN, SYN+ACK, ACK as the first three rows, in the right directions', () => {
  const { lines, result } = demo();
  const rows = ladderRows(lines);
  assert.ok(rows.length >= 9, `at least 9 rows:\n${lines.join('\n')}`);
  assert.match(rows[0]!, /─ SYN ─+▶/);
  assert.match(rows[1]!, /◀─+ SYN\+ACK ─/);
  assert.match(rows[2]!, /─ ACK ─+▶/);
  assert.deepEqual(
    result.rows.slice(0, 3).map((r) => [r.flags, r.from]),
    [
      ['SYN', 'client'],
      ['SYN+ACK', 'server'],
      ['ACK', 'client'],
    ],
  );
  assert.equal(result.completed, true);
});

test('the default demo shows the whole state sequence of both sides in order, in the result and in the text', () => {
  const { lines, text, result } = demo();
  assert.deepEqual(result.clientStates, ['CLOSED', 'SYN-SENT', 'ESTABLISHED', 'FIN-WAIT-1', 'FIN-WAIT-2', 'TIME-WAIT', 'CLOSED']);
  assert.deepEqual(result.serverStates, ['LISTEN', 'SYN-RECEIVED', 'ESTABLISHED', 'CLOSE-WAIT', 'LAST-ACK', 'CLOSED']);
  // The ladder: the client column (first state on a row) and the server column (second).
  const rows = ladderRows(lines);
  const cells = rows.map((r) => r.match(/\b(CLOSED|LISTEN|SYN-SENT|SYN-RECEIVED|ESTABLISHED|FIN-WAIT-1|FIN-WAIT-2|CLOSE-WAIT|CLOSING|LAST-ACK|TIME-WAIT)\b/g) ?? []);
  const client = cells.map((c) => c[0]!);
  const server = cells.map((c) => c[c.length - 1]!);
  assertInOrder(client, ['SYN-SENT', 'ESTABLISHED', 'FIN-WAIT-1', 'FIN-WAIT-2', 'TIME-WAIT'], 'client column');
  assertInOrder(server, ['SYN-RECEIVED', 'ESTABLISHED', 'CLOSE-WAIT', 'LAST-ACK', 'CLOSED'], 'server column');
  // TIME-WAIT ends by its timer, on a row of its own, and the summary lists both sequences.
  assert.match(text, /CLOSED .*2×MSL timer expired, TIME-WAIT → CLOSED/);
  assert.match(text, /client states:\s+CLOSED → SYN-SENT → ESTABLISHED → FIN-WAIT-1 → FIN-WAIT-2 → TIME-WAIT → CLOSED/);
  assert.match(text, /server states:\s+LISTEN → SYN-RECEIVED → ESTABLISHED → CLOSE-WAIT → LAST-ACK → CLOSED/);
  assert.match(text, /2×MSL = 1 s/);
});

test('the default demo annotates the three handshake steps, the data and the four close steps', () => {
  const { lines } = demo();
  const notes = ladderRows(lines).join('\n');
  for (const n of ['handshake step 1', 'handshake step 2', 'handshake step 3', 'close step 1', 'close step 2', 'close step 3', 'close step 4']) {
    assert.ok(notes.includes(n), `missing "${n}"`);
  }
  const text = lines.join('\n');
  assert.ok(text.indexOf('3-way handshake') < text.indexOf('data transfer'));
  assert.ok(text.indexOf('data transfer') < text.indexOf('4-way close'));
  assert.match(text, /server received "hello, synack"/);
});

test('the summary has one line for each of the six flags', () => {
  const { lines } = demo();
  for (const f of ['URG', 'ACK', 'PSH', 'RST', 'SYN', 'FIN']) {
    assert.equal(lines.filter((l) => l.startsWith(`  ${f}  `)).length, 1, `one line for ${f}`);
  }
  assert.ok(lines.some((l) => /^segments: 9 sent/.test(l)));
  assert.ok(lines.some((l) => /^retransmissions: 0$/.test(l)));
});

test('relative seq/ack start at 0 and 1 as in textbooks; --absolute shows the raw numbers', () => {
  const { result } = demo();
  const [syn, synAck, ack] = result.rows;
  assert.equal(syn!.relSeq, 0);
  assert.equal(syn!.relAck, null);
  assert.equal(synAck!.relSeq, 0);
  assert.equal(synAck!.relAck, 1);
  assert.equal(ack!.relSeq, 1);
  assert.equal(ack!.relAck, 1);
  const rel = ladderRows(demo().lines);
  assert.match(rel[1]!, /\s0\s+1\s+65535\s+0\s/);
  const abs = ladderRows(demo({ absolute: true }).lines);
  assert.ok(abs[1]!.includes(` ${synAck!.tcp.seq} `) && abs[1]!.includes(` ${synAck!.tcp.ack} `), abs[1]);
});

test('--ipv6: the same ladder over IPv6 (RFC 8200): fd00::1 and fd00::2, every segment an IPv6 packet in the capture', () => {
  const lines: string[] = [];
  const r = runDemo({ ipv6: true, pcap: true }, (l) => lines.push(l));
  assert.match(lines[0]!, /client \[fd00::1\]:\d+ ⇄ server \[fd00::2\]:80/);
  assert.deepEqual(r.rows.slice(0, 3).map((x) => x.tcp.flags), [SYN, SYN | ACK, ACK]);
  assert.equal(r.rows[0]!.dst, '[fd00::2]:80');
  const p = parsePcap(r.pcap!);
  assert.ok(p.ok);
  if (!p.ok) return;
  assert.equal(p.records.length, r.rows.length);
  for (const rec of p.records) assert.equal(rec.data[0]! >>> 4, 6);
  assert.ok(lines.some((l) => l.includes('client received "hi, client: got 13 bytes"')));
});

test('--simultaneous-open shows both sides go from SYN-SENT to SYN-RECEIVED', () => {
  const { result, lines } = demo({ simultaneousOpen: true });
  assertInOrder(result.clientStates, ['CLOSED', 'SYN-SENT', 'SYN-RECEIVED'], 'client');
  assertInOrder(result.serverStates, ['CLOSED', 'SYN-SENT', 'SYN-RECEIVED'], 'server');
  const rows = ladderRows(lines);
  assert.match(rows[0]!, /─ SYN ─+▶/);
  assert.match(rows[1]!, /◀─+ SYN ─/);
  assert.ok(rows.slice(0, 4).some((r) => /─ SYN\+ACK ─+▶/.test(r)) && rows.slice(0, 4).some((r) => /◀─+ SYN\+ACK ─/.test(r)), 'SYN,ACK crosses in both directions (Figure 8)');
});

test(
  '--simultaneous-open completes: SYN-SENT → SYN-RECEIVED → ESTABLISHED on both sides (RFC 9293 Figure 8)',
  () => {
    const { result } = demo({ simultaneousOpen: true });
    assert.equal(result.completed, true, result.error ?? '');
    assertInOrder(result.clientStates, ['SYN-SENT', 'SYN-RECEIVED', 'ESTABLISHED'], 'client');
    assertInOrder(result.serverStates, ['SYN-SENT', 'SYN-RECEIVED', 'ESTABLISHED'], 'server');
  },
);

test('--simultaneous-close shows FIN-WAIT-1 → CLOSING → TIME-WAIT on both sides', () => {
  const { result, text } = demo({ simultaneousClose: true });
  assert.equal(result.completed, true, result.error ?? '');
  for (const states of [result.clientStates, result.serverStates]) {
    assertInOrder(states, ['ESTABLISHED', 'FIN-WAIT-1', 'CLOSING', 'TIME-WAIT', 'CLOSED'], 'closing side');
  }
  assert.match(text, /client states:.*CLOSING/);
  assert.match(text, /server states:.*CLOSING/);
  assert.equal(result.rows.filter((r) => r.note.includes('simultaneous close: FIN')).length, 2);
});

test('--reset shows an RST, and both sides end CLOSED without TIME-WAIT', () => {
  const { result, lines, text } = demo({ reset: true });
  assert.equal(result.completed, true, result.error ?? '');
  const rst = result.rows.filter((r) => r.tcp.flags & 0x04);
  assert.equal(rst.length, 1);
  assert.equal(rst[0]!.from, 'client');
  assert.equal(rst[0]!.senderState, 'CLOSED');
  assert.equal(rst[0]!.receiverState, 'CLOSED');
  assert.ok(!result.clientStates.includes('TIME-WAIT') && !result.serverStates.includes('TIME-WAIT'));
  assert.equal(result.clientStates.at(-1), 'CLOSED');
  assert.equal(result.serverStates.at(-1), 'CLOSED');
  assert.ok(ladderRows(lines).some((r) => /─ RST ─+▶/.test(r)));
  assert.match(text, /RST  .*1 segment/);
});

test('--loss with a fixed seed shows a lost segment and its retransmission, and still completes', () => {
  const { result, lines } = demo({ loss: 0.2, seed: 1 });
  assert.equal(result.completed, true, result.error ?? '');
  assert.ok(result.lost > 0, 'something was lost');
  assert.ok(result.retransmissions > 0, 'something was retransmitted');
  const rows = ladderRows(lines);
  assert.ok(rows.some((r) => r.includes('✗') && r.includes('lost')), 'a row ending in ✗');
  assert.ok(rows.some((r) => r.includes('retransmission (')), 'a labelled retransmission');
  assert.equal(result.clientStates.at(-1), 'CLOSED');
  assert.equal(result.serverStates.at(-1), 'CLOSED');
});

test('the same options and seed print identical output twice', () => {
  for (const opts of [{}, { loss: 0.3, seed: 9 }, { bytes: 20000, loss: 0.1, seed: 4 }, { json: true, loss: 0.2, seed: 2 }]) {
    assert.equal(demo(opts).text, demo(opts).text, JSON.stringify(opts));
  }
});

test('--bytes N carries N bytes in several segments and collapses long runs of rows', () => {
  const { result, lines } = demo({ bytes: 100_000 });
  assert.equal(result.completed, true, result.error ?? '');
  const dataBytes = result.rows.filter((r) => r.from === 'client').reduce((n, r) => n + r.len, 0);
  assert.equal(dataBytes, 100_000);
  assert.ok(result.rows.filter((r) => r.len > 0).length > 10);
  assert.ok(lines.some((l) => /… \d+ more segments \(/.test(l)), 'a collapsed run');
  assert.ok(ladderRows(lines).length < 30, 'readable');
  const full = demo({ bytes: 100_000, full: true });
  assert.equal(ladderRows(full.lines).length, full.result.rows.length);
});

test('--json prints one JSON object per line: segments with all fields and state changes', () => {
  const { lines, result } = demo({ json: true });
  const objs = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(objs[0]!['type'], 'start');
  assert.equal(objs.at(-1)!['type'], 'summary');
  const segs = objs.filter((o) => o['type'] === 'segment');
  assert.equal(segs.length, result.segments);
  for (const k of ['time_us', 'arrived_us', 'from', 'to', 'src', 'dst', 'flags', 'seq', 'ack', 'rel_seq', 'rel_ack', 'window', 'len', 'options', 'sender_state', 'receiver_state', 'phase']) {
    assert.ok(k in segs[0]!, `segment has ${k}`);
  }
  assert.deepEqual(segs.slice(0, 3).map((s) => s['flags']), ['SYN', 'SYN+ACK', 'ACK']);
  const states = objs.filter((o) => o['type'] === 'state' && o['side'] === 'client').map((o) => o['to']);
  assert.deepEqual(states, ['SYN-SENT', 'ESTABLISHED', 'FIN-WAIT-1', 'FIN-WAIT-2', 'TIME-WAIT', 'CLOSED']);
  assert.ok(!lines.some((l) => l.includes('\x1b[')), 'no colour in JSON');
});

test('--pcap captures every packet; the file parses with parsePcap and its packets as IPv4/TCP with valid checksums', () => {
  const io = memIo();
  return main(['demo', '--pcap', 'x.pcap', '--loss', '0.2', '--seed', '1'], io).then((code) => {
    assert.equal(code, 0, io.err.join('\n'));
    const bytes = io.files.get('x.pcap');
    assert.ok(bytes, 'the file was written');
    const p = parsePcap(bytes);
    assert.ok(p.ok, p.ok ? '' : p.error);
    assert.equal(p.linkType, 101);
    assert.equal(p.truncated, false);
    const flags: string[] = [];
    let prevTs = -1;
    for (const rec of p.records) {
      const ip = parseIpv4(rec.data, CHECKSUM_FULL);
      assert.ok(ip.ok, 'IPv4 parses (checksum verified)');
      assert.equal(ip.value.header.protocol, IPPROTO_TCP);
      const tcp = parseTcp(ip.value.payload, ip.value.header.src, ip.value.header.dst, CHECKSUM_FULL);
      assert.ok(tcp.ok, 'TCP parses (checksum verified)');
      flags.push(flagsToString(tcp.value.flags));
      assert.ok(rec.tsMicros >= prevTs, 'virtual timestamps never go back');
      prevTs = rec.tsMicros;
    }
    // Lost packets were captured too (at the sender), so the count is every row.
    const lines = io.out;
    const segs = Number(/^segments: (\d+) sent/m.exec(lines.join('\n'))![1]);
    assert.equal(p.records.length, segs);
    assert.deepEqual(flags.slice(0, 1), ['SYN']);
    assert.ok(flags.includes('SYN+ACK') && flags.includes('FIN+ACK'));
  });
});

test('tshark reads the pcap and sees the flags of every packet', (t) => {
  const has = spawnSync('sh', ['-c', 'command -v tshark'], { encoding: 'utf8' }).status === 0;
  if (!has) {
    if (inCi()) assert.fail('tshark is not installed, and CI requires it (apt-get install -y tshark)');
    t.skip('tshark is not installed (in CI this is a failure)');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'synack-demo-'));
  try {
    const file = join(dir, 'demo.pcap');
    const io = memIo();
    const ioFs: CliIo = { ...io, writeFile: (p, d) => writeFileSync(p, d) };
    return main(['demo', '--pcap', file], ioFs).then((code) => {
      assert.equal(code, 0);
      const r = spawnSync('tshark', ['-r', file, '-T', 'fields', '-e', 'tcp.flags.str'], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      const flags = r.stdout.trim().split('\n').map((l) => l.replace(/[·\s]/g, ''));
      // tcp.flags.str reads like "··········S·": keep the letters.
      assert.deepEqual(flags, ['S', 'AS', 'A', 'AP', 'AP', 'AF', 'A', 'AF', 'A']);
      const check = spawnSync('tshark', ['-r', file, '-o', 'tcp.check_checksum:TRUE', '-T', 'fields', '-e', 'tcp.checksum.status'], { encoding: 'utf8' });
      assert.deepEqual(new Set(check.stdout.trim().split('\n')), new Set(['1']), 'every TCP checksum is good');
      rmSync(dir, { recursive: true, force: true });
    });
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
});


test('colour is used only when asked for; plain output has no ANSI escapes', () => {
  assert.ok(!demo().text.includes('\x1b['));
  assert.ok(demo({ color: true }).text.includes('\x1b['));
  const io = memIo();
  return main(['demo'], { ...io, isTTY: true, env: { NO_COLOR: '1' } }).then(() => {
    assert.ok(!io.out.join('\n').includes('\x1b['), 'NO_COLOR wins over a TTY');
  });
});

test('the CLI exits 2 with a clear message for an unknown option, a bad value or an unknown command', () => {
  const cli = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: repo, encoding: 'utf8' });
  const unknown = cli('demo', '--frobnicate');
  assert.equal(unknown.status, 2);
  assert.match(unknown.stderr, /synack demo: .*'--frobnicate'/);
  assert.match(unknown.stderr, /synack demo --help/);
  assert.equal(unknown.stdout, '');
  const bad = cli('demo', '--loss', 'lots');
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--loss expects a probability/);
  const cmd = cli('nope');
  assert.equal(cmd.status, 2);
  assert.match(cmd.stderr, /unknown command 'nope'/);
  const ok = cli('demo', '--reset');
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /RST/);
});

test('synack help and synack demo --help describe the commands and options', async () => {
  const io = memIo();
  assert.equal(await main(['help'], io), 0);
  assert.match(io.out.join('\n'), /demo\s+draw a TCP connection/);
  const io2 = memIo();
  assert.equal(await main(['demo', '--help'], io2), 0);
  for (const o of ['--loss', '--seed', '--bytes', '--simultaneous-open', '--simultaneous-close', '--reset', '--pcap', '--json', '--absolute', '--delay', '--no-color']) {
    assert.ok(io2.out.join('\n').includes(o), `help mentions ${o}`);
  }
});

test('bin/synack.mjs runs the CLI through tsx', () => {
  const r = spawnSync(process.execPath, ['bin/synack.mjs', 'demo', '--json'], { cwd: repo, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const last = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { type: string; completed: boolean };
  assert.deepEqual([last.type, last.completed], ['summary', true]);
});

test('drawArrow points the way the segment travels and ends in ✗ when it is lost', () => {
  assert.match(drawArrow('SYN', true, false), /^─+ SYN ─+▶$/);
  assert.match(drawArrow('SYN+ACK', false, false), /^◀─+ SYN\+ACK ─+$/);
  assert.match(drawArrow('ACK', true, true), /^─+ ACK ─+✗ *$/);
  assert.match(drawArrow('FIN', false, true), /^ *✗─+ FIN ─+$/);
  assert.equal(drawArrow('SYN', true, false).length, drawArrow('PSH+ACK', false, false).length);
});
