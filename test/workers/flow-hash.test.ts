/**
 * The flow hash of src/workers/flow-hash.ts: symmetric, the same from a
 * packet as from its 4-tuple, for both IP versions, and steering fragments
 * and non-TCP/UDP packets by their addresses.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { packetFlowHash, tupleFlowHash, tupleWorker, workerOf } from '../../src/workers/flow-hash.ts';
import { parseIpAddr, writeIpv6Addr, type Ipv6Addr } from '../../src/wire/ipv6.ts';

const SEED = 0x1234abcd;

function v4(src: number, dst: number, sport: number, dport: number, proto = 6, frag = 0): Uint8Array {
  const p = new Uint8Array(40);
  p[0] = 0x45;
  p[6] = frag >>> 8;
  p[7] = frag & 0xff;
  p[9] = proto;
  new DataView(p.buffer).setUint32(12, src);
  new DataView(p.buffer).setUint32(16, dst);
  new DataView(p.buffer).setUint16(20, sport);
  new DataView(p.buffer).setUint16(22, dport);
  return p;
}

function v6(src: Ipv6Addr, dst: Ipv6Addr, sport: number, dport: number, nh = 6): Uint8Array {
  const p = new Uint8Array(60);
  p[0] = 0x60;
  p[6] = nh;
  writeIpv6Addr(src, p, 8);
  writeIpv6Addr(dst, p, 24);
  new DataView(p.buffer).setUint16(40, sport);
  new DataView(p.buffer).setUint16(42, dport);
  return p;
}

const A = parseIpAddr('10.0.0.1') as number;
const B = parseIpAddr('10.0.0.2') as number;
const A6 = parseIpAddr('fd00::1') as Ipv6Addr;
const B6 = parseIpAddr('fd00::2') as Ipv6Addr;

test('an IPv4 TCP packet hashes as its 4-tuple, the same in both directions', () => {
  for (let port = 40000; port < 40100; port++) {
    const h = tupleFlowHash(SEED, A, port, B, 80);
    assert.equal(packetFlowHash(SEED, v4(A, B, port, 80)), h);
    assert.equal(packetFlowHash(SEED, v4(B, A, 80, port)), h);
    assert.equal(tupleFlowHash(SEED, B, 80, A, port), h);
  }
});

test('an IPv6 TCP packet hashes as its 4-tuple, the same in both directions', () => {
  for (let port = 40000; port < 40100; port++) {
    const h = tupleFlowHash(SEED, A6, port, B6, 443);
    assert.equal(packetFlowHash(SEED, v6(A6, B6, port, 443)), h);
    assert.equal(packetFlowHash(SEED, v6(B6, A6, 443, port)), h);
  }
});

test('UDP hashes with its protocol; fragments and ICMP by their addresses only', () => {
  assert.equal(packetFlowHash(SEED, v4(A, B, 5353, 53, 17)), tupleFlowHash(SEED, A, 5353, B, 53, 17));
  assert.notEqual(packetFlowHash(SEED, v4(A, B, 5353, 53, 17)), packetFlowHash(SEED, v4(A, B, 5353, 53, 6)));
  const addrsOnly = tupleFlowHash(SEED, A, 0, B, 0, 0);
  assert.equal(packetFlowHash(SEED, v4(A, B, 1, 2, 1)), addrsOnly, 'ICMP');
  assert.equal(packetFlowHash(SEED, v4(A, B, 1, 2, 6, 0x2000)), addrsOnly, 'first fragment (MF)');
  assert.equal(packetFlowHash(SEED, v4(B, A, 1, 2, 6, 0x0010)), addrsOnly, 'later fragment, other direction');
  assert.equal(packetFlowHash(SEED, v6(A6, B6, 1, 2, 44)), tupleFlowHash(SEED, A6, 0, B6, 0, 0), 'IPv6 fragment header');
  assert.equal(packetFlowHash(SEED, new Uint8Array(10)), -1, 'too short');
});

test('workers get even shares of flows, and the seed changes which', () => {
  const counts = [0, 0, 0];
  let moved = 0;
  for (let port = 1024; port < 4096; port++) {
    const w = tupleWorker(SEED, 3, A, port, B, 80);
    counts[w]!++;
    if (w !== tupleWorker(SEED + 1, 3, A, port, B, 80)) moved++;
  }
  for (const c of counts) assert.ok(c > 900 && c < 1150, `shares ${counts.join('/')}`);
  assert.ok(moved > 1500, `${moved} flows moved under another seed`);
  assert.equal(tupleWorker(SEED, 1, A, 1, B, 2), 0);
  assert.equal(workerOf(0xffffffff, 4), 3);
  assert.equal(workerOf(0, 4), 0);
});
