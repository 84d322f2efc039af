/**
 * RFC 7323 timestamps and PAWS, RFC 2018 SACK, and the SYN option layouts.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ACK, FIN, RST, SYN, LOCAL, REMOTE, LOCAL_ISS, REMOTE_ISS, Fixture, inSynSent, text, seqAdd } from './harness.ts';
import { synOptions } from '../../src/tcp/options.ts';
import { tcpOptionsLen, emitTcpOptions } from '../../src/wire/tcp-options.ts';
import type { TcpOption } from '../../src/wire/types.ts';

const L1 = seqAdd(LOCAL_ISS, 1);
const R1 = seqAdd(REMOTE_ISS, 1);
const PEER_SYN_OPTS: TcpOption[] = [
  { kind: 'mss', value: 1460 },
  { kind: 'sack-permitted' },
  { kind: 'timestamp', tsval: 5000, tsecr: 0 },
  { kind: 'nop' },
  { kind: 'window-scale', shift: 7 },
];

function established(cfg = {}): Fixture {
  const f = inSynSent(cfg);
  f.peer({ flags: SYN | ACK, seq: REMOTE_ISS, ack: L1, options: PEER_SYN_OPTS.map((o) => (o.kind === 'timestamp' ? { ...o, tsecr: 1 } : o)) });
  f.peerSeq = R1;
  f.host.sent.length = 0;
  return f;
}

const tsOf = (opts: TcpOption[]) => opts.find((o) => o.kind === 'timestamp') as { tsval: number; tsecr: number } | undefined;

describe('SYN option layouts', () => {
  test('Linux layout: mss, sackOK, TS, nop, wscale (20 bytes)', () => {
    const o = synOptions('linux', { mss: 1460, wscale: 7, sackPermitted: true, ts: { tsval: 1, tsecr: 0 } });
    assert.deepEqual(o.map((x) => x.kind), ['mss', 'sack-permitted', 'timestamp', 'nop', 'window-scale']);
    assert.equal(tcpOptionsLen(o), 20);
  });
  test('FreeBSD layout: mss, nop, wscale, sackOK, TS; a bare mss+sackOK pads with EOLs', () => {
    const full = synOptions('freebsd', { mss: 1460, wscale: 6, sackPermitted: true, ts: { tsval: 1, tsecr: 0 } });
    assert.deepEqual(full.map((x) => x.kind), ['mss', 'nop', 'window-scale', 'sack-permitted', 'timestamp']);
    const small = synOptions('freebsd', { mss: 1460, sackPermitted: true });
    assert.deepEqual(small.map((x) => x.kind), ['mss', 'sack-permitted', 'eol', 'eol']);
    const buf = new Uint8Array(8);
    emitTcpOptions(small, buf, 0);
    assert.deepEqual([...buf], [2, 4, 5, 180, 4, 2, 0, 0]);
  });
  test('SYN-SENT: our SYN offers window scale, SACK-permitted and timestamps with TSecr 0 (RFC 7323 §3.2)', () => {
    const f = new Fixture({ windowScaling: true });
    f.conn.open({ ...LOCAL, ...REMOTE }, LOCAL_ISS, 0);
    const syn = f.host.sent[0]!;
    assert.deepEqual(syn.options.map((x) => x.kind), ['mss', 'sack-permitted', 'timestamp', 'nop', 'window-scale']);
    assert.equal(tsOf(syn.options)!.tsecr, 0);
  });
  test('LISTEN: the SYN,ACK carries only the options the SYN offered (RFC 7323 §2.2, RFC 2018 §2)', () => {
    const f = new Fixture({ windowScaling: true });
    f.conn.listen(LOCAL, 0);
    f.conn.remoteAddr = REMOTE.remoteAddr;
    f.conn.remotePort = REMOTE.remotePort;
    f.peer({ flags: SYN, seq: REMOTE_ISS, ack: 0, options: [{ kind: 'mss', value: 1000 }] });
    assert.deepEqual(f.host.sent[0]!.options.map((x) => x.kind), ['mss']);
  });
});

describe('timestamps (RFC 7323)', () => {
  test('ESTABLISHED: every segment carries TSval and echoes TS.Recent (RFC 7323 §3.2)', () => {
    const f = established({ noDelay: true });
    f.peer({ flags: ACK, payload: 'x', options: [{ kind: 'nop' }, { kind: 'nop' }, { kind: 'timestamp', tsval: 6000, tsecr: 1 }], at: 1000 });
    const { sent } = f.call((c, now) => c.send(text('y'), now));
    assert.equal(tsOf(sent[0]!.options)!.tsecr, 6000);
  });
  test('ESTABLISHED: PAWS drops a segment with an older TSval and ACKs it (RFC 7323 §5.3 R1)', () => {
    const f = established({ delayedAckUs: 0 });
    f.peer({ flags: ACK, payload: 'a', options: [{ kind: 'timestamp', tsval: 7000, tsecr: 1 }] });
    f.peerSeq = seqAdd(R1, 1);
    const sent = f.peer({ flags: ACK, payload: 'b', options: [{ kind: 'timestamp', tsval: 6999, tsecr: 1 }] });
    assert.equal(f.conn.readable(), 1, 'the old-timestamp segment was not accepted');
    assert.equal(sent.length, 1);
    assert.equal(sent[0]!.ack, seqAdd(R1, 1));
    assert.equal(f.host.drops.at(-1), 'tcp-paws');
  });
  test('RFC 7323 §4.3, §5.3 R3: a segment at RCV.NXT whose ACK is unacceptable does not record its TSval (no PAWS freeze by a blind segment)', () => {
    const f = established({ delayedAckUs: 0 });
    // A blind segment at RCV.NXT with a far-future TSval and an ACK of data never sent:
    // dropped in the fifth step, so it must not become TS.Recent.
    f.peer({ flags: ACK, ack: seqAdd(L1, 1 << 30), payload: 'evil', options: [{ kind: 'timestamp', tsval: 5000 + 0x40000000, tsecr: 1 }] });
    assert.equal(f.conn.readable(), 0);
    const sent = f.peer({ flags: ACK, payload: 'good', options: [{ kind: 'timestamp', tsval: 5001, tsecr: 1 }], at: 600_000 });
    assert.equal(f.conn.readable(), 4, 'the legitimate segment passes PAWS');
    assert.equal(tsOf(sent[0]!.options)!.tsecr, 5001, 'and its TSval is echoed');
  });
  test('RFC 7323 §4.3, §5.3 R3: a SYN at RCV.NXT (challenge ACK) does not record its TSval', () => {
    const f = established({ delayedAckUs: 0 });
    f.peer({ flags: SYN, ack: 0, options: [{ kind: 'timestamp', tsval: 5000 + 0x40000000, tsecr: 0 }] });
    f.peer({ flags: ACK, payload: 'good', options: [{ kind: 'timestamp', tsval: 5001, tsecr: 1 }], at: 600_000 });
    assert.equal(f.conn.readable(), 4, 'the legitimate segment passes PAWS');
  });
  test('RFC 7323 §4.3: an RST (exempt from PAWS) ignored in TIME-WAIT (RFC 1337) does not move TS.Recent backwards', () => {
    const f = established({ rfc1337: true, delayedAckUs: 0 });
    f.call((c, now) => c.close(now));
    f.peer({ flags: ACK, options: [{ kind: 'timestamp', tsval: 6000, tsecr: 1 }] }); // FIN-WAIT-2
    f.peer({ flags: FIN | ACK, options: [{ kind: 'timestamp', tsval: 7000, tsecr: 1 }] });
    assert.equal(f.state, 'TIME-WAIT');
    f.peerSeq = seqAdd(R1, 1);
    f.peer({ flags: RST, options: [{ kind: 'timestamp', tsval: 100, tsecr: 1 }] });
    assert.equal(f.state, 'TIME-WAIT', 'RFC 1337: ignored');
    // The peer retransmits its FIN: our ACK echoes TS.Recent.
    const sent = f.peer({ flags: FIN | ACK, seq: R1, options: [{ kind: 'timestamp', tsval: 7001, tsecr: 1 }], at: 1_000_000 });
    assert.equal(sent.length, 1);
    assert.equal(tsOf(sent[0]!.options)!.tsecr, 7000, 'TS.Recent did not move back to the RST\'s 100');
  });
  test('RFC 7323 §5.5: after more than 24 days idle TS.Recent is invalid, and a segment failing the basic PAWS test is accepted', () => {
    const f = established({ delayedAckUs: 0 });
    f.peer({ flags: ACK, payload: 'a', options: [{ kind: 'timestamp', tsval: 7000, tsecr: 1 }] });
    f.peerSeq = seqAdd(R1, 1);
    // 25 days later the peer's TSval clock has wrapped its sign bit relative to TS.Recent.
    const later = 25 * 24 * 3600 * 1_000_000;
    const wrapped = (7000 + 0x80000001) >>> 0;
    const sent = f.peer({ flags: ACK, payload: 'b', options: [{ kind: 'timestamp', tsval: wrapped, tsecr: 1 }], at: later });
    assert.equal(f.conn.readable(), 2, 'accepted despite SEG.TSval < TS.Recent');
    assert.equal(tsOf(sent[0]!.options)!.tsecr, wrapped, 'and TS.Recent takes the new TSval');
    assert.ok(!f.host.drops.includes('tcp-paws'));
  });
  test('RFC 7323 §5.3 R1: replies to pure ACKs that fail PAWS are throttled like other replies to unacceptable ACKs (one per 500 ms)', () => {
    const f = established({ delayedAckUs: 0 });
    f.peer({ flags: ACK, payload: 'a', options: [{ kind: 'timestamp', tsval: 7000, tsecr: 1 }] });
    f.peerSeq = seqAdd(R1, 1);
    let replies = 0;
    for (let i = 0; i < 5; i++) replies += f.peer({ flags: ACK, options: [{ kind: 'timestamp', tsval: 6000, tsecr: 1 }], at: 1_000_000 + i }).length;
    assert.equal(replies, 1);
    assert.equal(f.host.drops.filter((d) => d === 'tcp-paws').length, 5, 'each is dropped and counted');
  });
  test('RFC 5961 §4, §7: a SYN failing PAWS draws at most the throttled challenge ACK, not one ACK per SYN', () => {
    const f = established({ delayedAckUs: 0 });
    f.peer({ flags: ACK, payload: 'a', options: [{ kind: 'timestamp', tsval: 7000, tsecr: 1 }] });
    f.peerSeq = seqAdd(R1, 1);
    let replies = 0;
    for (let i = 0; i < 5; i++) replies += f.peer({ flags: SYN, seq: seqAdd(R1, 9_000_000 + i), ack: 0, options: [{ kind: 'timestamp', tsval: 1, tsecr: 0 }], at: 1_000_000 + i }).length;
    assert.equal(replies, 1);
    assert.equal(f.state, 'ESTABLISHED');
  });
  test('RFC 7323 §5.5: within 24 days TS.Recent stays valid and the same segment is dropped by PAWS', () => {
    const f = established({ delayedAckUs: 0 });
    f.peer({ flags: ACK, payload: 'a', options: [{ kind: 'timestamp', tsval: 7000, tsecr: 1 }] });
    f.peerSeq = seqAdd(R1, 1);
    const wrapped = (7000 + 0x80000001) >>> 0;
    f.peer({ flags: ACK, payload: 'b', options: [{ kind: 'timestamp', tsval: wrapped, tsecr: 1 }], at: 23 * 24 * 3600 * 1_000_000 });
    assert.equal(f.conn.readable(), 1);
    assert.equal(f.host.drops.at(-1), 'tcp-paws');
  });
  test('data segments leave room for the 12-byte timestamp option (MSS 1460 → 1448 bytes of data)', () => {
    const f = established({ noDelay: true });
    const { sent } = f.call((c, now) => c.send(new Uint8Array(3000), now));
    assert.deepEqual(sent.map((s) => s.payload.length), [1448, 1448, 104]);
  });
});

describe('SACK (RFC 2018)', () => {
  test('ESTABLISHED: out-of-order data is reported in SACK blocks, the latest arrival first (RFC 2018 §4)', () => {
    const f = established();
    f.peer({ flags: ACK, seq: seqAdd(R1, 100), payload: new Uint8Array(50), options: [{ kind: 'timestamp', tsval: 5001, tsecr: 1 }] });
    const sent = f.peer({ flags: ACK, seq: seqAdd(R1, 300), payload: new Uint8Array(50), options: [{ kind: 'timestamp', tsval: 5002, tsecr: 1 }] });
    const sack = sent[0]!.options.find((o) => o.kind === 'sack') as { blocks: Array<[number, number]> };
    assert.ok(sack, 'the duplicate ACK carries SACK blocks');
    assert.deepEqual(sack.blocks, [
      [seqAdd(R1, 300), seqAdd(R1, 350)],
      [seqAdd(R1, 100), seqAdd(R1, 150)],
    ]);
    assert.equal(sent[0]!.ack, R1);
  });
  test('no SACK blocks when the peer did not offer SACK-permitted (RFC 2018 §2)', () => {
    const f = inSynSent();
    f.peer({ flags: SYN | ACK, seq: REMOTE_ISS, ack: L1, options: [{ kind: 'mss', value: 1460 }] });
    const sent = f.peer({ flags: ACK, seq: seqAdd(R1, 100), payload: new Uint8Array(10) });
    assert.ok(!sent[0]!.options.some((o) => o.kind === 'sack'));
  });
});
