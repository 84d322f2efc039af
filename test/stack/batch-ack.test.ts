/**
 * RFC 9293 §3.10.7.4 MUST-58/MUST-59: "if the TCP endpoint is processing a
 * series of queued segments, it MUST process them all before sending any
 * ACK segments". A link that hands packets over in batches
 * (Link.receivesInBatches: a TAP read, a stream chunk) gets one ACK per
 * connection per batch; a segment out of order is still ACKed at once
 * (RFC 5681 §4.2), and a link without batches keeps the ACK for every
 * second full-sized segment (§3.8.6.3 SHLD-19).
 *
 * Two real stacks; the wire between them is the test's: it holds each
 * side's packets and hands them over when and in what batches it says.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Network } from '../../src/sim/network.ts';
import { parseIpv4Addr } from '../../src/wire/bytes.ts';
import { tcpOfPacket } from '../support/packets.ts';
import { ACK, CHECKSUM_FULL } from '../../src/wire/types.ts';
import type { Link } from '../../src/stack/link.ts';
import type { TcpRepr } from '../../src/wire/types.ts';
import type { Connection } from '../../src/tcp/connection.ts';

const A = parseIpv4Addr('10.9.0.1')!;
const B = parseIpv4Addr('10.9.0.2')!;
/** A full-sized segment's payload: MSS 1460 less the timestamps option (RFC 7323). */
const MSS = 1448;

/** A link whose sent packets wait in `out` until the test delivers them. */
function heldLink(batches: boolean): Link & { out: Uint8Array[] } {
  const out: Uint8Array[] = [];
  return {
    mtu: 1500,
    checksum: CHECKSUM_FULL,
    out,
    transmit: (p: Uint8Array) => void out.push(p.slice()),
    onReceive: null,
    ...(batches ? { receivesInBatches: true, onReceiveEnd: null } : {}),
  };
}

const tcpOf = tcpOfPacket;

/** A (the receiver, on a link with or without batches) accepts B's connection; B has sent nothing yet. */
function setup(batches: boolean) {
  const net = new Network({ seed: 7 });
  const a = net.addStack({ name: 'a' });
  const b = net.addStack({ name: 'b' });
  const la = heldLink(batches);
  const lb = heldLink(false);
  a.addInterface({ addr: A, prefixLen: 24, link: la });
  b.addInterface({ addr: B, prefixLen: 24, link: lb });
  /** Delivers what A sent to B, one packet at a time. */
  const toB = (): void => {
    for (const p of la.out.splice(0)) lb.onReceive!(p);
  };
  /** Delivers what B sent to A: as one batch (when A's link batches), or packet by packet. */
  const toA = (pick: (p: Uint8Array, i: number) => boolean = () => true): { duringBatch: TcpRepr[] } => {
    const ps = lb.out.splice(0).filter(pick);
    const duringBatch: TcpRepr[] = [];
    for (const p of ps) {
      const before = la.out.length;
      la.onReceive!(p);
      for (const q of la.out.slice(before)) duringBatch.push(tcpOf(q));
    }
    la.onReceiveEnd?.();
    return { duringBatch };
  };
  const l = a.listen(80);
  const cb = b.connect(A, 80, { tcp: { noDelay: true } });
  toA();
  toB();
  toA();
  const ca = l.accept() as Connection;
  assert.ok(ca, 'A accepted');
  assert.equal(cb.state, 'ESTABLISHED');
  la.out.length = 0;
  return { a, b, la, lb, ca, cb, toA, toB };
}

/** B sends `n` full-sized segments (within its initial window). */
function sendSegments(r: ReturnType<typeof setup>, n: number): void {
  r.b.send(r.cb, new Uint8Array(n * MSS).fill(0x61));
  const data = r.lb.out.map(tcpOf).filter((s) => s.payload.length > 0);
  assert.equal(data.length, n, `B sent ${n} segments`);
  assert.ok(data.every((s) => s.payload.length === MSS));
}

test('RFC 9293 §3.10.7.4 MUST-59: a batch of in-order segments is processed whole, then one ACK covers it', () => {
  const r = setup(true);
  sendSegments(r, 8);
  const { duringBatch } = r.toA();
  assert.equal(duringBatch.length, 0, 'no ACK before the batch is done');
  const acks = r.la.out.map(tcpOf);
  assert.equal(acks.length, 1, 'one ACK for the eight segments');
  assert.equal(acks[0]!.flags & ACK, ACK);
  assert.equal(acks[0]!.payload.length, 0);
  assert.equal(r.ca.readable(), 8 * MSS);
  // It acknowledges every byte: B's whole flight.
  r.toB();
  assert.equal(r.cb.status().sndUna, r.cb.status().sndNxt);
});

test('RFC 9293 §3.8.6.3 SHLD-19: without batches, an ACK for every second full-sized segment', () => {
  const r = setup(false);
  sendSegments(r, 8);
  r.toA();
  const acks = r.la.out.map(tcpOf);
  assert.equal(acks.length, 4);
});

test('RFC 5681 §4.2: inside a batch, a segment out of order is ACKed at once (a duplicate ACK each), and the batch end adds none', () => {
  const r = setup(true);
  sendSegments(r, 8);
  const lost = 2;
  const { duringBatch } = r.toA((_, i) => i !== lost);
  // Segments 0-1 wait for the batch end; 3..7 come above the hole: five ACKs at once, each for the hole's start.
  assert.equal(duringBatch.length, 5);
  const holeStart = duringBatch[0]!.ack;
  assert.ok(duringBatch.every((s) => s.ack === holeStart && s.payload.length === 0));
  assert.equal(r.la.out.length, 5, 'the batch end sent nothing more');
  assert.equal(r.ca.readable(), 2 * MSS);
});

test('MUST-59 across connections: each connection of a batch sends its own ACK at the end, in the order their segments came', () => {
  const r = setup(true);
  const l2 = r.a.listen(81);
  const cb2 = r.b.connect(A, 81);
  r.toA();
  r.toB();
  r.toA();
  const ca2 = l2.accept() as Connection;
  assert.ok(ca2);
  r.la.out.length = 0;
  r.b.send(cb2, new Uint8Array(2 * MSS).fill(1));
  r.b.send(r.cb, new Uint8Array(2 * MSS).fill(2));
  const { duringBatch } = r.toA();
  assert.equal(duringBatch.length, 0);
  const acks = r.la.out.map(tcpOf);
  assert.deepEqual(
    acks.map((s) => s.srcPort),
    [81, 80],
  );
  assert.equal(ca2.readable(), 2 * MSS);
  assert.equal(r.ca.readable(), 2 * MSS);
});

test('a batching link that never ends its batch delays output by one poll at most', () => {
  const r = setup(true);
  sendSegments(r, 4);
  const ps = r.lb.out.splice(0);
  for (const p of ps) r.la.onReceive!(p);
  assert.equal(r.la.out.length, 0);
  assert.equal(r.a.nextDeadline(), r.a.clock.now(), 'the held output is due at once');
  r.a.poll();
  assert.equal(r.la.out.map(tcpOf).length, 1);
});
