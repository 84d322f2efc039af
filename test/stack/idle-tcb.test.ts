/**
 * What an idle connection keeps: the parts of a TCB made on first use
 * (SACK scoreboard, buffers, reassembly queue, congestion controller, the
 * boxes of rarely used state) are not there before they are needed, and
 * the buffers go again once they are empty; and no number in the TCB is a
 * V8 heap number (issue 14 item 5: ≤ 1 KB of heap per idle connection;
 * bench/heap-breakdown.ts shows the breakdown).
 *
 * A field's representation is shared by every object of its class: once
 * any connection in the process stores a non-Smi there (a timestamp past
 * 2³¹ µs, 36 minutes of clock), every TCB carries a heap number for that
 * field. So these tests run in a process of their own, on a young virtual
 * clock (test/stack/idle.test.ts, which idles for an hour, is separate).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { Network } from '../../src/sim/network.ts';
import type { Connection } from '../../src/tcp/connection.ts';
import type { Stack } from '../../src/stack/stack.ts';
import { parseIpv4Addr } from '../../src/wire/bytes.ts';
import { seqAdd } from '../../src/tcp/seq.ts';

/** A private or public field of an object, for the tests below (they look at what a TCB holds). */
const field = (o: object, name: string): unknown => (o as Record<string, unknown>)[name];
/** c.board, read afresh (no narrowing from an earlier assertion). */
const boardOf = (c: Connection): Connection['board'] => c.board;

// V8's %IsSmi, for the check below (node --test runs each file in a process of its own).
setFlagsFromString('--allow-natives-syntax');
const isSmi = new Function('x', 'return %IsSmi(x)') as (x: unknown) => boolean;

/**
 * The own numeric fields of `o` that V8 keeps as heap numbers. A small
 * integer (Smi) lives in the field itself; anything else — Infinity, a
 * fraction, a uint32 above 2³¹, or an integer that arrived as a heap
 * number — makes the field a double, and then every object of the class
 * carries a 16-byte heap number for it, whatever its value (a value read
 * from a double field is never a Smi, which is what this sees). Values
 * from 2³⁰ on are only required to be int32 (V8 builds with pointer
 * compression have 31-bit Smis).
 */
function heapNumberFields(o: object): string[] {
  return Object.entries(o)
    .filter(([, v]) => typeof v === 'number' && ((v | 0) !== v || (Math.abs(v) < 2 ** 30 && !isSmi(v))))
    .map(([k, v]) => `${k}=${v}`);
}

function establishedPair(delayUs: number): { net: Network; client: Stack; server: Stack; c: Connection; s: Connection } {
  const net = new Network({ seed: 11 });
  const hub = net.addHub({ mtu: 1500, impair: { delayUs } });
  const server = net.addStack({ name: 'server' });
  const client = net.addStack({ name: 'client' });
  const SRV = parseIpv4Addr('10.0.0.1')!;
  net.attach(server, hub, SRV, 8);
  net.attach(client, hub, parseIpv4Addr('10.0.0.2')!, 8);
  let s: Connection | null = null;
  server.listen(80, { onConnection: (conn) => (s = conn) });
  const c = client.connect(SRV, 80);
  net.runUntil(() => s !== null && c.state === 'ESTABLISHED');
  net.runFor(1_000_000);
  return { net, client, server, c, s: s! };
}

test('an idle ESTABLISHED connection that never carried data has no scoreboard, buffers, reassembly, congestion controller or rare-state boxes, and no heap number in its TCB', () => {
  const { c, s } = establishedPair(5_000);
  for (const [who, conn] of [['client', c], ['server', s]] as const) {
    assert.equal(conn.state, 'ESTABLISHED');
    assert.ok(conn.sackEnabled, `${who}: SACK negotiated (the scoreboard would be used)`);
    assert.equal(conn.board, null, `${who}: no SACK scoreboard before the first data segment`);
    assert.equal(conn.sendBuf, null, `${who}: no send buffer`);
    assert.equal(conn.recvBuf, null, `${who}: no receive buffer`);
    assert.equal(conn.ooo, null, `${who}: no reassembly queue`);
    assert.equal(conn.sackMru, null, `${who}: no SACK block list`);
    assert.equal(field(conn, 'ccImpl'), null, `${who}: no congestion controller`);
    assert.equal(field(conn, 'rare'), null, `${who}: no persist, keepalive, throttle or ECN box`);
    assert.deepEqual(heapNumberFields(conn), [], `${who}: no heap number in the TCB`);
    assert.equal(conn.nextDeadline(), Infinity, `${who}: no timer armed`);
  }
});

test('a connection whose data went both ways, all acknowledged and read, drops its send and receive buffers and its SACK scoreboard (RACK.min_RTT stays in the TCB); CUBIC in slow start keeps no congestion-avoidance state', () => {
  const { net, client, server, c, s } = establishedPair(5_000);
  const payload = new Uint8Array(20_000).fill(7);
  let got = 0;
  client.send(c, payload);
  net.runUntil(() => s.readable() === payload.length);
  for (const chunk of server.read(s)) got += chunk.length;
  server.send(s, payload);
  net.runUntil(() => c.readable() === payload.length);
  for (const chunk of client.read(c)) got += chunk.length;
  net.runFor(1_000_000);
  assert.equal(got, 2 * payload.length);
  for (const [who, conn] of [['client', c], ['server', s]] as const) {
    assert.equal(conn.sendQueued(), 0);
    assert.equal(conn.sendBuf, null, `${who}: everything written was acknowledged: no send buffer`);
    assert.equal(conn.recvBuf, null, `${who}: everything was read: no receive buffer`);
    assert.equal(conn.board, null, `${who}: nothing outstanding: no scoreboard`);
    assert.ok(conn.rackMinRtt >= 10_000, `${who}: RACK.min_RTT (two 5 ms hops) kept for the next scoreboard, got ${conn.rackMinRtt}`);
    assert.equal(conn.cc.name, 'cubic');
    assert.ok(conn.cwnd < conn.ssthresh, `${who}: still in slow start`);
    assert.equal(field(conn.cc, 'ep'), null, `${who}: no CUBIC epoch state before congestion avoidance`);
    assert.equal(field(conn, 'rare'), null, `${who}: no rare-state box`);
    assert.deepEqual(heapNumberFields(conn), [], `${who}: no heap number in the TCB`);
    assert.equal(conn.nextDeadline(), Infinity, `${who}: no timer armed`);
  }
});

test('while data is outstanding a SACK connection has its scoreboard, with the RACK.min_RTT of earlier flights; its segment list is the shared empty one once a cumulative ACK empties it', () => {
  const { net, client, c, s } = establishedPair(5_000);
  client.send(c, new Uint8Array(1000));
  net.runUntil(() => s.readable() === 1000);
  net.runFor(1_000_000);
  const minRtt = c.rackMinRtt;
  assert.ok(minRtt >= 10_000, `RACK.min_RTT after the first flight, got ${minRtt}`);
  assert.equal(boardOf(c), null, 'nothing outstanding: no scoreboard');
  client.send(c, new Uint8Array(3000));
  const board = boardOf(c);
  assert.ok(board, 'data outstanding: a scoreboard');
  assert.ok(board.segs.length > 0, 'segments in flight');
  assert.equal(board.minRttUs, minRtt, 'the new board starts from the RACK.min_RTT of the last one');
  assert.equal(field(board, 'prr'), null, 'no PRR counters without a recovery');
  // An empty board (what a cumulative ACK leaves) holds the shared frozen list, not an array of its own.
  board.onAck(seqAdd(c.sndUna, 3000), undefined, net.clock.now());
  assert.equal(board.segs.length, 0);
  assert.ok(Object.isFrozen(field(board, 'segsArr')));
  assert.deepEqual(heapNumberFields(board), [], 'no heap number in the scoreboard');
});
