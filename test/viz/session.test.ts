/**
 * The live session behind the page (pure, virtual clock): the handshake,
 * data, the 4-way close and TIME-WAIT, a dropped segment and its
 * retransmission, simultaneous open and close, abort, the pcap export, and
 * the SVG views built from it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VizSession, type Side } from '../../src/viz/session.ts';
import { renderLadder, type LadderModel } from '../../src/viz/ladder.ts';
import { renderStateDiagram } from '../../src/viz/state-diagram.ts';
import { decodeSegment } from '../../src/viz/inspector.ts';
import { parsePcap } from '../../src/wire/pcap.ts';
import { ALL_STATES, FIGURE_5 } from '../../src/tcp/state.ts';
import { hasTshark } from './helpers.ts';

function states(s: VizSession, side: Side): string[] {
  return [s.initial[side], ...s.stateChanges.filter((c) => c.side === side && c.order >= s.initialMark).map((c) => c.to)];
}

test('connect draws SYN, SYN+ACK, ACK and both sides reach ESTABLISHED; each change names its Figure 5 arrow', () => {
  const s = new VizSession();
  assert.equal(s.connect(), null);
  s.advance(200_000);
  assert.deepEqual(
    s.segments.map((r) => [r.from, r.flagsText, r.relSeq, r.relAck]),
    [
      ['client', 'SYN', 0, null],
      ['server', 'SYN+ACK', 0, 1],
      ['client', 'ACK', 1, 1],
    ],
  );
  assert.deepEqual(s.state, { client: 'ESTABLISHED', server: 'ESTABLISHED' });
  assert.deepEqual(states(s, 'client'), ['CLOSED', 'SYN-SENT', 'ESTABLISHED']);
  assert.deepEqual(states(s, 'server'), ['LISTEN', 'SYN-RECEIVED', 'ESTABLISHED']);
  for (const c of s.stateChanges) assert.ok(c.transition, `${c.from} → ${c.to} is an arrow of Figure 5`);
  assert.equal(s.segments[1]!.sentUs - s.segments[0]!.sentUs, 40_000, 'one-way delay 40 ms');
});

test('send, then close: data is read by the peer, the 4-way close runs and the client waits in TIME-WAIT, then CLOSED', () => {
  const s = new VizSession();
  s.connect();
  s.advance(200_000);
  assert.equal(s.send('client', 'hello'), null);
  s.advance(200_000);
  assert.ok(s.notes.some((n) => n.note.kind === 'received' && n.note.side === 'server' && n.note.text === 'hello'));
  s.close('client');
  s.advance(200_000);
  const close = s.segments.slice(-4).map((r) => `${r.from}:${r.flagsText}`);
  assert.deepEqual(close, ['client:FIN+ACK', 'server:ACK', 'server:FIN+ACK', 'client:ACK']);
  assert.equal(s.state.client, 'TIME-WAIT');
  assert.equal(s.state.server, 'CLOSED');
  assert.deepEqual(states(s, 'client'), ['CLOSED', 'SYN-SENT', 'ESTABLISHED', 'FIN-WAIT-1', 'FIN-WAIT-2', 'TIME-WAIT']);
  assert.deepEqual(states(s, 'server'), ['LISTEN', 'SYN-RECEIVED', 'ESTABLISHED', 'CLOSE-WAIT', 'LAST-ACK', 'CLOSED']);
  s.advance(1_100_000);
  assert.equal(s.state.client, 'CLOSED', '2×MSL = 1 s later');
  // A second connection works after the first.
  assert.equal(s.connect(), null);
  s.advance(200_000);
  assert.deepEqual(s.state, { client: 'ESTABLISHED', server: 'ESTABLISHED' });
});

test('"drop the next segment" loses exactly one segment, drawn lost, and its retransmission follows (RTO)', () => {
  const s = new VizSession();
  s.connect();
  s.advance(200_000);
  s.dropNextSegment();
  s.send('client', 'x');
  s.advance(3_000_000);
  const lost = s.segments.filter((r) => r.lost);
  assert.equal(lost.length, 1);
  assert.equal(lost[0]!.droppedOnPurpose, true);
  assert.equal(lost[0]!.len, 1);
  const rtx = s.segments.filter((r) => r.retransmission !== null);
  assert.equal(rtx.length, 1);
  assert.equal(rtx[0]!.retransmission, 'RTO');
  assert.equal(rtx[0]!.relSeq, lost[0]!.relSeq);
  assert.ok(rtx[0]!.arrivedUs !== null);
  assert.equal(s.status('client').retransmits, 1);
  assert.ok(s.status('client').srttUs! > 0);
});

test('simultaneous open and simultaneous close take the rare arrows: SYN-SENT → SYN-RECEIVED and FIN-WAIT-1 → CLOSING', () => {
  const s = new VizSession();
  assert.equal(s.simultaneousOpen(), null);
  s.advance(300_000);
  assert.deepEqual(s.state, { client: 'ESTABLISHED', server: 'ESTABLISHED' });
  assert.equal(s.simultaneousClose(), null);
  s.advance(200_000);
  assert.deepEqual(s.state, { client: 'TIME-WAIT', server: 'TIME-WAIT' });
  for (const side of ['client', 'server'] as const) {
    const st = states(s, side);
    assert.ok(st.includes('SYN-RECEIVED') && st.includes('CLOSING'), `${side}: ${st.join(' → ')}`);
  }
});

test('abort sends RST and both sides are CLOSED at once (no TIME-WAIT)', () => {
  const s = new VizSession();
  s.connect();
  s.advance(200_000);
  s.abort('server');
  s.advance(100_000);
  const last = s.segments[s.segments.length - 1]!;
  assert.equal(last.from, 'server');
  assert.match(last.flagsText, /RST/);
  assert.deepEqual(s.state, { client: 'CLOSED', server: 'CLOSED' });
  assert.ok(s.notes.some((n) => n.note.kind === 'closed' && n.note.side === 'client' && n.note.reason === 'reset'));
});

test('the pcap export is LINKTYPE_RAW with virtual timestamps, and tshark reads it with valid checksums', () => {
  const s = new VizSession();
  s.connect();
  s.advance(200_000);
  s.send('client', 'hello');
  s.advance(200_000);
  const bytes = s.pcapBytes();
  const p = parsePcap(bytes);
  assert.ok(p.ok);
  if (!p.ok) return;
  assert.equal(p.linkType, 101);
  assert.equal(p.records.length, s.segments.length);
  assert.deepEqual(
    p.records.map((r) => r.tsMicros),
    s.segments.map((r) => r.sentUs),
  );
  if (!hasTshark()) return;
  const dir = mkdtempSync(join(tmpdir(), 'synack-viz-pcap-'));
  try {
    const f = join(dir, 's.pcap');
    writeFileSync(f, bytes);
    const r = spawnSync('tshark', ['-r', f, '-o', 'tcp.check_checksum:TRUE', '-T', 'fields', '-e', 'tcp.flags.str', '-e', 'tcp.checksum.status'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, s.segments.length);
    for (const l of lines) assert.match(l, /\t(1|Good)$/, `checksum good: ${l}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the ladder SVG has one arrow per segment with its flags, lost ones end in ✗ and retransmissions are marked', () => {
  const s = new VizSession();
  s.connect();
  s.advance(200_000);
  s.dropNextSegment();
  s.send('client', 'x');
  s.advance(3_000_000);
  const model: LadderModel = {
    leftTitle: 'client',
    rightTitle: 'server',
    leftSub: '',
    rightSub: '',
    initial: [s.initial.client, s.initial.server],
    arrows: s.segments.map((r) => ({
      id: r.id,
      fromLeft: r.from === 'client',
      t0: r.sentUs,
      o0: r.order,
      t1: r.arrivedUs,
      o1: r.arriveOrder ?? r.order,
      expected: r.expectedUs,
      lost: r.lost,
      flags: r.flagsText,
      detail: `seq=${r.relSeq}`,
      marks: r.retransmission ? [{ kind: 'rtx' as const, text: 'retransmission' }] : [],
      data: { flags: r.flagsText },
    })),
    states: s.stateChanges.filter((c) => c.order >= s.initialMark).map((c) => ({ left: c.side === 'client', t: c.timeUs, o: c.order, state: c.to })),
    now: s.now,
    selected: null,
    capture: false,
    timeLabel: (us) => `${us / 1000}`,
    gapLabel: (us) => `${us}`,
    emptyText: '',
  };
  const svg = renderLadder(model);
  assert.equal((svg.match(/<g class="seg /g) ?? []).length, s.segments.length);
  assert.equal((svg.match(/class="lost-x"/g) ?? []).length, 1);
  assert.match(svg, /mark-rtx/);
  assert.match(svg, /data-flags="SYN\+ACK"/);
  assert.match(svg, />ESTABLISHED</);
});

test('the state diagram draws all 11 states and every arrow of Figure 5, with both endpoints highlighted', () => {
  const svg = renderStateDiagram({ client: 'SYN-SENT', server: 'LISTEN', lastClient: { from: 'CLOSED', to: 'SYN-SENT', label: '' }, lastServer: null, names: ['client', 'server'] });
  for (const st of ALL_STATES) assert.match(svg, new RegExp(`data-state="${st}"`));
  assert.equal((svg.match(/<path [^>]*class="sd-edge/g) ?? []).length, FIGURE_5.length);
  assert.match(svg, /class="sd-node at-client" data-state="SYN-SENT"/);
  assert.match(svg, /class="sd-node at-server" data-state="LISTEN"/);
  assert.match(svg, /taken-client" marker-end="url\(#sd-ah-c\)" data-from="CLOSED" data-to="SYN-SENT"/);
});

test('the inspector decodes a SYN: header fields, the eight flag bits with explanations, and the options', () => {
  const s = new VizSession();
  s.connect();
  const syn = s.segments[0]!;
  const d = decodeSegment(syn.bytes, 'en', { seqBase: s.isnOf('client'), ackBase: null });
  assert.equal(d.error, null);
  assert.deepEqual(
    d.flags.map((f) => [f.name, f.set]),
    [
      ['CWR', false],
      ['ECE', false],
      ['URG', false],
      ['ACK', false],
      ['PSH', false],
      ['RST', false],
      ['SYN', true],
      ['FIN', false],
    ],
  );
  for (const f of d.flags) assert.ok(f.meaning.length > 10);
  assert.ok(d.options.some((o) => o.value.startsWith('mss ')));
  assert.ok(d.tcp.some((f) => f.name === 'Sequence Number' && f.note === 'relative 0'));
  assert.ok(d.ip.some((f) => f.name === 'Header Checksum' && f.note === 'correct'));
  const ko = decodeSegment(syn.bytes, 'ko', { seqBase: null, ackBase: null });
  assert.match(ko.flags.find((f) => f.name === 'SYN')!.meaning, /동기화/);
});

test('issue 12: an IPv6 session (fd00::1 → fd00::2) runs the same handshake, data, 4-way close and TIME-WAIT; the inspector shows the IPv6 header and addresses; the pcap holds IPv6 packets tshark reads with valid checksums', () => {
  const s = new VizSession({ ipv6: true });
  assert.equal(s.connect(), null);
  s.advance(200_000);
  assert.deepEqual(s.state, { client: 'ESTABLISHED', server: 'ESTABLISHED' });
  s.send('client', 'hello over IPv6');
  s.advance(200_000);
  assert.ok(s.notes.some((n) => n.note.kind === 'received' && n.note.side === 'server' && n.note.text === 'hello over IPv6'));
  s.close('client');
  s.advance(200_000);
  assert.deepEqual(s.segments.slice(0, 3).map((r) => `${r.from}:${r.flagsText}`), ['client:SYN', 'server:SYN+ACK', 'client:ACK']);
  assert.deepEqual(s.segments.slice(-4).map((r) => `${r.from}:${r.flagsText}`), ['client:FIN+ACK', 'server:ACK', 'server:FIN+ACK', 'client:ACK']);
  assert.equal(s.state.client, 'TIME-WAIT');
  assert.deepEqual(states(s, 'server'), ['LISTEN', 'SYN-RECEIVED', 'ESTABLISHED', 'CLOSE-WAIT', 'LAST-ACK', 'CLOSED']);
  for (const r of s.segments) assert.equal(r.bytes[0]! >>> 4, 6, 'every packet is IPv6');
  assert.ok(s.notes.some((n) => n.note.kind === 'call' && n.note.call === 'connect' && n.note.detail === '[fd00::2]:80'), 'the log names the IPv6 endpoint');
  // Relative numbers work as over IPv4.
  assert.deepEqual(s.segments.slice(0, 3).map((r) => [r.relSeq, r.relAck]), [[0, null], [0, 1], [1, 1]]);
  const d = decodeSegment(s.segments[0]!.bytes, 'en', { seqBase: s.isnOf('client'), ackBase: null });
  assert.equal(d.error, null);
  const ip = Object.fromEntries(d.ip.map((f) => [f.name, f.value]));
  assert.equal(ip['Version'], '6');
  assert.equal(ip['Source'], 'fd00::1');
  assert.equal(ip['Destination'], 'fd00::2');
  assert.ok(d.flags.find((f) => f.name === 'SYN')!.set);
  const p = parsePcap(s.pcapBytes());
  assert.ok(p.ok);
  if (!p.ok) return;
  assert.equal(p.records.length, s.segments.length);
  if (!hasTshark()) return;
  const dir = mkdtempSync(join(tmpdir(), 'synack-viz-pcap6-'));
  try {
    const f = join(dir, 's6.pcap');
    writeFileSync(f, s.pcapBytes());
    const r = spawnSync('tshark', ['-r', f, '-o', 'tcp.check_checksum:TRUE', '-T', 'fields', '-e', 'ipv6.src', '-e', 'ipv6.dst', '-e', 'tcp.checksum.status'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, s.segments.length);
    for (const l of lines) assert.match(l, /^fd00::[12]\tfd00::[12]\t(1|Good)$/, l);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
