import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Reassembler, REASSEMBLY_DEFAULTS, type FragmentResult } from '../../src/ip/reassembly.ts';
import { emitIpv6, parseIpv6, parseIpv6Addr, walkIpv6, writeIpv6Addr, type Ipv6Addr } from '../../src/wire/ipv6.ts';
import { getU16, setU16, setU32 } from '../../src/wire/bytes.ts';
import { checksum } from '../../src/wire/checksum.ts';
import { emitIpv4 } from '../../src/wire/ipv4.ts';
import { CHECKSUM_FULL } from '../../src/wire/types.ts';
import { seconds } from '../../src/base/time.ts';
import { V4_FRAG0, V4_FRAG1, V4_FRAG2, V4_WHOLE_UDP, V6_FRAG0, V6_FRAG1, V6_FRAG2, V6_WHOLE_UDP } from '../wire/ipv6-fixtures.ts';

const A = parseIpv6Addr('2001:db8::1')!;
const B = parseIpv6Addr('2001:db8::2')!;
const T0 = seconds(100);

/** An IPv4 fragment [start, end) of the data of `whole` (an unfragmented IPv4 packet with a 20-octet header). */
function fragV4(whole: Uint8Array, start: number, end: number, more: boolean): Uint8Array {
  const f = new Uint8Array(20 + end - start);
  f.set(whole.subarray(0, 20));
  f.set(whole.subarray(20 + start, 20 + end), 20);
  setU16(f, 2, f.length);
  setU16(f, 6, (getU16(whole, 6) & 0x4000) | (more ? 0x2000 : 0) | (start / 8));
  setU16(f, 10, 0);
  setU16(f, 10, checksum(f, 0, 20));
  return f;
}

/** An IPv6 fragment [start, end) of the payload of `whole` (an IPv6 packet without extension headers). */
function fragV6(whole: Uint8Array, ident: number, start: number, end: number, more: boolean): Uint8Array {
  const f = new Uint8Array(48 + end - start);
  f.set(whole.subarray(0, 40));
  f[6] = 44;
  setU16(f, 4, 8 + end - start);
  f[40] = whole[6]!;
  setU16(f, 42, start | (more ? 1 : 0));
  setU32(f, 44, ident);
  f.set(whole.subarray(40 + start, 40 + end), 48);
  return f;
}

function addV6(r: Reassembler, p: Uint8Array, now = T0): FragmentResult {
  const parsed = parseIpv6(p);
  assert.ok(parsed.ok, 'the fragment is a valid IPv6 packet');
  const w = walkIpv6(parsed.value.packet);
  assert.ok(w.ok && w.kind === 'fragment', 'the walk stops at the Fragment header');
  return r.addV6(parsed.value.packet, w.fragment, now);
}

function v4Datagram(len: number, ident = 0x1234, src = 0x0a000001, fill = (i: number) => (i * 7 + 3) & 0xff): Uint8Array {
  const p = new Uint8Array(20 + len);
  emitIpv4({ src, dst: 0x0a000002, protocol: 17, ttl: 64, tos: 0, ident, dontFragment: false, payloadLen: len }, p, 0, CHECKSUM_FULL);
  for (let i = 0; i < len; i++) p[20 + i] = fill(i);
  return p;
}

function v6Datagram(len: number, src: Ipv6Addr = A, fill = (i: number) => (i * 13 + 5) & 0xff): Uint8Array {
  const p = new Uint8Array(40 + len);
  emitIpv6({ src, dst: B, trafficClass: 0, flowLabel: 0, payloadLen: len, nextHeader: 17, hopLimit: 64 }, p, 0);
  for (let i = 0; i < len; i++) p[40 + i] = fill(i);
  return p;
}

function permutations<T>(xs: T[]): T[][] {
  if (xs.length <= 1) return [xs];
  return xs.flatMap((x, i) => permutations([...xs.slice(0, i), ...xs.slice(i + 1)]).map((p) => [x, ...p]));
}

function assertEmpty(r: Reassembler): void {
  assert.equal(r.bytes, 0, 'no bytes held');
  assert.equal(r.datagrams, 0, 'no datagram held');
}

describe('ip/reassembly: IPv4 (RFC 791 §3.2)', () => {
  test('RFC 791: scapy\'s three fragments reassemble to the original datagram byte for byte, in all 6 orders', () => {
    for (const order of permutations([V4_FRAG0, V4_FRAG1, V4_FRAG2])) {
      const r = new Reassembler();
      const results = order.map((f) => r.addV4(f, T0));
      assert.deepEqual(results.slice(0, 2), [{ kind: 'pending' }, { kind: 'pending' }]);
      const last = results[2]!;
      assert.ok(last.kind === 'complete');
      assert.deepEqual(last.packet, V4_WHOLE_UDP);
      assert.notEqual(last.packet.buffer, V4_FRAG0.buffer, 'a fresh buffer');
      assert.equal(r.reassembled, 1);
      assertEmpty(r);
    }
  });

  test('RFC 791: fragments are keyed by (src, dst, id, protocol): another protocol or id does not mix in', () => {
    const r = new Reassembler();
    const other = V4_FRAG1.slice();
    other[9] = 6;
    setU16(other, 10, 0);
    setU16(other, 10, checksum(other, 0, 20));
    assert.equal(r.addV4(V4_FRAG0, T0).kind, 'pending');
    assert.equal(r.addV4(other, T0).kind, 'pending');
    assert.equal(r.addV4(V4_FRAG2, T0).kind, 'pending');
    assert.equal(r.datagrams, 2);
    assert.equal(r.addV4(V4_FRAG1, T0).kind, 'complete');
  });

  test('RFC 791 §3.2: a non-last fragment whose data is not a multiple of 8 octets is dropped; so is one past 65,535 octets', () => {
    const r = new Reassembler();
    const whole = v4Datagram(100);
    assert.deepEqual(r.addV4(fragV4(whole, 0, 20, true), T0), { kind: 'dropped', reason: 'frag-bad-length', icmp: null });
    const far = fragV4(whole, 0, 16, true);
    setU16(far, 6, 0x2000 | 0x1fff);
    assert.deepEqual(r.addV4(far, T0), { kind: 'dropped', reason: 'frag-too-big', icmp: null });
    assert.deepEqual(r.drops, { 'frag-bad-length': 1, 'frag-too-big': 1 });
    assertEmpty(r);
  });

  test('truncated or inconsistent IPv4 headers are counted drops, never throws', () => {
    const r = new Reassembler();
    for (let n = 0; n < V4_FRAG1.length; n++) {
      const res = r.addV4(V4_FRAG1.subarray(0, n), T0);
      assert.deepEqual(res, { kind: 'dropped', reason: 'frag-truncated', icmp: null }, `length ${n}`);
    }
    assertEmpty(r);
  });
});

describe('ip/reassembly: IPv6 (RFC 8200 §4.5)', () => {
  test('RFC 8200 §4.5: scapy\'s fragment6 fragments reassemble to the unfragmented packet, in all 6 orders', () => {
    for (const order of permutations([V6_FRAG0, V6_FRAG1, V6_FRAG2])) {
      const r = new Reassembler();
      const results = order.map((f) => addV6(r, f));
      const last = results[2]!;
      assert.deepEqual(results.slice(0, 2).map((x) => x.kind), ['pending', 'pending']);
      assert.ok(last.kind === 'complete');
      // The Fragment header is gone, the IPv6 Next Header is the fragment's (17), the Payload Length is recomputed.
      assert.deepEqual(last.packet, V6_WHOLE_UDP);
      assertEmpty(r);
    }
  });

  test('RFC 8200 §4.5: the Unfragmentable Part (here a Destination Options header) is kept, its Next Header rewritten', () => {
    const whole = v6Datagram(64);
    const withDst = (start: number, end: number, more: boolean): Uint8Array => {
      const f = fragV6(whole, 9, start, end, more);
      const g = new Uint8Array(f.length + 8);
      g.set(f.subarray(0, 40));
      g[6] = 60;
      setU16(g, 4, getU16(f, 4) + 8);
      g.set([44, 0, 1, 4, 0, 0, 0, 0], 40);
      g.set(f.subarray(40), 48);
      return g;
    };
    const r = new Reassembler();
    assert.equal(addV6(r, withDst(32, 64, false)).kind, 'pending');
    const done = addV6(r, withDst(0, 32, true));
    assert.ok(done.kind === 'complete');
    const p = parseIpv6(done.packet);
    assert.ok(p.ok);
    assert.equal(p.value.header.payloadLen, 8 + 64);
    assert.equal(p.value.header.nextHeader, 60);
    assert.equal(done.packet[40], 17, 'the Destination Options header now names UDP');
    assert.deepEqual(done.packet.subarray(48), whole.subarray(40));
    assert.deepEqual(walkIpv6(done.packet), { ok: true, kind: 'upper', protocol: 17, offset: 48, nextHeaderAt: 40 });
  });

  test('RFC 6946 §4: an atomic fragment is processed in isolation, even with the id of a pending datagram', () => {
    const r = new Reassembler();
    const whole = v6Datagram(48);
    assert.equal(addV6(r, fragV6(whole, 77, 0, 24, true)).kind, 'pending');
    const atomicWhole = v6Datagram(30, A, (i) => 0xee ^ i);
    const atomic = addV6(r, fragV6(atomicWhole, 77, 0, 30, false));
    assert.ok(atomic.kind === 'complete');
    assert.deepEqual(atomic.packet, atomicWhole);
    // The pending datagram is untouched and completes with its own last fragment.
    const done = addV6(r, fragV6(whole, 77, 24, 48, false));
    assert.ok(done.kind === 'complete');
    assert.deepEqual(done.packet, whole);
    assertEmpty(r);
  });

  test('RFC 8200 §4.5: a non-last fragment whose length is not a multiple of 8 → Parameter Problem code 0 at the Payload Length', () => {
    const r = new Reassembler();
    assert.deepEqual(addV6(r, fragV6(v6Datagram(100), 1, 0, 20, true)), { kind: 'dropped', reason: 'frag-bad-length', icmp: { type: 4, code: 0, pointer: 4, multicastExempt: false } });
  });

  test('RFC 8200 §4.5: a fragment that would make the Payload Length exceed 65,535 → Parameter Problem code 0 at the Fragment Offset', () => {
    const r = new Reassembler();
    const f = fragV6(v6Datagram(100), 1, 0, 16, true);
    setU16(f, 42, 0xfff8 | 1);
    assert.deepEqual(addV6(r, f), { kind: 'dropped', reason: 'frag-too-big', icmp: { type: 4, code: 0, pointer: 42, multicastExempt: false } });
    // 65,528 + 8 = 65,536 > 65,535; 65,520 + 8 + 7 fits.
    const edge = fragV6(v6Datagram(100), 1, 0, 8, false);
    setU16(edge, 42, 0xfff8);
    assert.equal(addV6(r, edge).kind, 'dropped');
  });

  test('RFC 8200 §4.5, RFC 7112 §5: a first fragment without the whole header chain → Parameter Problem code 3, pointer 0', () => {
    const r = new Reassembler();
    // The fragmentable part starts with a 16-octet Destination Options header, cut after 8 octets.
    const whole = v6Datagram(64);
    whole[6] = 60;
    whole.set([17, 1, 1, 12, 0, 0, 0, 0], 40);
    assert.deepEqual(addV6(r, fragV6(whole, 5, 0, 8, true)), { kind: 'dropped', reason: 'frag-incomplete-header-chain', icmp: { type: 4, code: 3, pointer: 0, multicastExempt: false } });
    // With the upper-layer header cut: UDP needs its 8 octets.
    const udp = v6Datagram(64);
    udp.set([17, 0, 1, 4, 0, 0, 0, 0], 40);
    udp[6] = 60;
    assert.equal(addV6(r, fragV6(udp, 6, 0, 8, true)).kind, 'dropped');
    assert.equal(addV6(r, fragV6(udp, 7, 0, 16, true)).kind, 'pending');
  });

  test('RFC 8200 §4.5: Time Exceeded code 1 after 60 s when the first fragment arrived; silence when it did not', () => {
    const r = new Reassembler();
    const whole = v6Datagram(64);
    const first = fragV6(whole, 1, 0, 32, true);
    assert.equal(addV6(r, first, T0).kind, 'pending');
    assert.equal(addV6(r, fragV6(whole, 2, 32, 64, false), T0 + seconds(1)).kind, 'pending');
    assert.equal(r.nextDeadline(), T0 + seconds(60));
    assert.deepEqual(r.onTimeout(T0 + seconds(60) - 1), []);
    assert.equal(r.datagrams, 2);
    const out = r.onTimeout(T0 + seconds(60));
    assert.equal(out.length, 1);
    assert.deepEqual(out[0]!.icmp, { type: 3, code: 1 });
    assert.equal(out[0]!.family, 6);
    assert.deepEqual(out[0]!.invoking, first);
    assert.equal(r.nextDeadline(), T0 + seconds(61));
    assert.deepEqual(r.onTimeout(T0 + seconds(61)), [], 'no first fragment: no error');
    assert.equal(r.drops['frag-timeout'], 2);
    assert.equal(r.nextDeadline(), Infinity);
    assertEmpty(r);
    // A late fragment starts afresh.
    assert.equal(addV6(r, fragV6(whole, 1, 32, 64, false), T0 + seconds(62)).kind, 'pending');
  });

  test('RFC 1122 §3.3.2: IPv4 times out after 30 s (Linux\'s ipfrag_time), with Time Exceeded code 1 when fragment zero arrived', () => {
    const r = new Reassembler();
    assert.equal(r.addV4(V4_FRAG0, T0).kind, 'pending');
    assert.equal(addV6(r, V6_FRAG0, T0).kind, 'pending');
    assert.equal(r.nextDeadline(), T0 + seconds(30));
    const out = r.onTimeout(T0 + seconds(30));
    assert.deepEqual(out, [{ family: 4, icmp: { type: 11, code: 1 }, invoking: V4_FRAG0 }]);
    assert.equal(r.nextDeadline(), T0 + seconds(60));
    // The missing fragments arrive too late: they start a new datagram that never completes without the first.
    assert.equal(r.addV4(V4_FRAG1, T0 + seconds(31)).kind, 'pending');
    assert.equal(r.addV4(V4_FRAG2, T0 + seconds(31)).kind, 'pending');
  });
});

describe('ip/reassembly: overlaps (RFC 5722, RFC 8200 §4.5) and duplicates', () => {
  // The RFC 5722 §3 shapes: an overlap at the start, at the end, a fragment inside another, one around another.
  const SHAPES: Array<[string, [number, number, boolean], [number, number, boolean]]> = [
    ['a later fragment overlapping the end of an earlier one', [0, 32, true], [24, 48, true]],
    ['an earlier fragment overlapping the start of a later one', [24, 48, true], [0, 32, true]],
    ['a fragment inside another', [0, 48, true], [8, 16, true]],
    ['a fragment around another', [8, 16, true], [0, 48, true]],
    ['the same range with other octets', [8, 16, true], [8, 16, true]],
    ['a last fragment overlapping', [0, 40, true], [32, 64, false]],
  ];

  for (const [name, a, b] of SHAPES) {
    test(`RFC 5722 §4: ${name} discards the whole IPv6 datagram, and its later fragments too`, () => {
      const r = new Reassembler();
      const whole = v6Datagram(64);
      const other = v6Datagram(64, A, (i) => 0xff - i);
      assert.equal(addV6(r, fragV6(whole, 3, ...a)).kind, 'pending');
      assert.deepEqual(addV6(r, fragV6(name.startsWith('the same') ? other : whole, 3, ...b)), { kind: 'dropped', reason: 'frag-overlap', icmp: null });
      assert.equal(r.bytes, 256, 'only the record of the discarded datagram remains');
      // Every fragment of the original that follows is refused: nothing is delivered.
      for (const [s, e, m] of [[0, 8, true], [8, 16, true], [16, 48, true], [48, 64, false]] as const) {
        const res = addV6(r, fragV6(whole, 3, s, e, m));
        assert.notEqual(res.kind, 'complete');
      }
      assert.ok((r.drops['frag-after-overlap'] ?? 0) >= 1);
      assert.equal(r.reassembled, 0);
      r.onTimeout(T0 + seconds(60));
      assertEmpty(r);
      assert.equal(r.drops['frag-timeout'], undefined, 'a discarded datagram is not counted again at its deadline');
    });

    test(`RFC 5722 applied to IPv4 (issue 12): ${name} discards the whole datagram`, () => {
      const r = new Reassembler();
      const whole = v4Datagram(64);
      const other = v4Datagram(64, 0x1234, 0x0a000001, (i) => 0xff - i);
      assert.equal(r.addV4(fragV4(whole, ...a), T0).kind, 'pending');
      assert.deepEqual(r.addV4(fragV4(name.startsWith('the same') ? other : whole, ...b), T0), { kind: 'dropped', reason: 'frag-overlap', icmp: null });
      for (const [s, e, m] of [[0, 8, true], [8, 16, true], [16, 48, true], [48, 64, false]] as const) assert.notEqual(r.addV4(fragV4(whole, s, e, m), T0).kind, 'complete');
      assert.equal(r.reassembled, 0);
    });
  }

  test('RFC 8200 §4.5: an exact duplicate fragment is dropped alone; the datagram still completes (both families)', () => {
    const r = new Reassembler();
    assert.equal(addV6(r, V6_FRAG1).kind, 'pending');
    assert.deepEqual(addV6(r, V6_FRAG1), { kind: 'dropped', reason: 'frag-duplicate', icmp: null });
    assert.equal(addV6(r, V6_FRAG2).kind, 'pending');
    assert.deepEqual(addV6(r, V6_FRAG2), { kind: 'dropped', reason: 'frag-duplicate', icmp: null });
    const done = addV6(r, V6_FRAG0);
    assert.ok(done.kind === 'complete');
    assert.deepEqual(done.packet, V6_WHOLE_UDP);
    assert.equal(r.addV4(V4_FRAG0, T0).kind, 'pending');
    assert.equal(r.addV4(V4_FRAG0, T0).kind, 'dropped');
    assert.equal(r.addV4(V4_FRAG2, T0).kind, 'pending');
    assert.equal(r.addV4(V4_FRAG1, T0).kind, 'complete');
    assert.deepEqual(r.drops, { 'frag-duplicate': 3 });
    assertEmpty(r);
  });

  test('two last fragments with different ends, or data past the end, discard the datagram', () => {
    const r = new Reassembler();
    const whole = v6Datagram(64);
    assert.equal(addV6(r, fragV6(whole, 1, 32, 64, false)).kind, 'pending');
    assert.deepEqual(addV6(r, fragV6(whole, 1, 32, 48, false)), { kind: 'dropped', reason: 'frag-inconsistent-end', icmp: null });
    assert.equal(addV6(r, fragV6(whole, 2, 16, 32, false)).kind, 'pending');
    assert.deepEqual(addV6(r, fragV6(whole, 2, 32, 48, true)), { kind: 'dropped', reason: 'frag-inconsistent-end', icmp: null });
    assert.equal(addV6(r, fragV6(whole, 3, 32, 48, true)).kind, 'pending');
    assert.deepEqual(addV6(r, fragV6(whole, 3, 8, 24, false)), { kind: 'dropped', reason: 'frag-inconsistent-end', icmp: null });
  });
});

describe('ip/reassembly: bounds', () => {
  test('datagrams per source, then globally, are bounded; a new source still gets in until the global bound', () => {
    const r = new Reassembler({ maxDatagramsPerSource: 3, maxDatagrams: 5 });
    const mk = (id: number, src: number) => fragV4(v4Datagram(64, id, src), 0, 32, true);
    for (let id = 0; id < 3; id++) assert.equal(r.addV4(mk(id, 1), T0).kind, 'pending');
    assert.deepEqual(r.addV4(mk(3, 1), T0), { kind: 'dropped', reason: 'frag-limit-source', icmp: null });
    assert.equal(r.addV4(mk(0, 2), T0).kind, 'pending');
    assert.equal(r.addV4(mk(1, 2), T0).kind, 'pending');
    assert.deepEqual(r.addV4(mk(2, 3), T0), { kind: 'dropped', reason: 'frag-limit-global', icmp: null });
    // A fragment of a datagram already held still gets in.
    assert.equal(r.addV4(fragV4(v4Datagram(64, 0, 1), 32, 64, false), T0).kind, 'complete');
    assert.equal(r.addV4(mk(2, 3), T0).kind, 'pending');
  });

  test('bytes per source and globally are bounded, counting each fragment\'s packet and a fixed overhead', () => {
    const r = new Reassembler({ maxBytesPerSource: 2000, maxBytes: 3000 });
    const whole = v6Datagram(4000);
    let held = 0;
    let refused: FragmentResult | null = null;
    for (let s = 0; s < 3000; s += 400) {
      const res = addV6(r, fragV6(whole, 1, s, s + 400, true));
      if (res.kind === 'pending') held++;
      else {
        refused = res;
        break;
      }
    }
    assert.deepEqual(refused, { kind: 'dropped', reason: 'frag-limit-source', icmp: null });
    assert.ok(r.bytes <= 2000, `${r.bytes} bytes held`);
    assert.equal(held, 3, '3 × (448 + 64) + 256 = 1792; a 4th would pass 2000');
    const other = parseIpv6Addr('2001:db8::99')!;
    const w2 = v6Datagram(4000, other);
    assert.equal(addV6(r, fragV6(w2, 1, 0, 400, true)).kind, 'pending');
    assert.deepEqual(addV6(r, fragV6(w2, 1, 400, 800, true)), { kind: 'dropped', reason: 'frag-limit-global', icmp: null });
    assert.ok(r.bytes <= 3000);
  });

  test('fragments per datagram are bounded: one too many discards the datagram', () => {
    const r = new Reassembler({ maxFragmentsPerDatagram: 4 });
    const whole = v6Datagram(64);
    for (let i = 0; i < 4; i++) assert.equal(addV6(r, fragV6(whole, 1, i * 8, i * 8 + 8, true)).kind, 'pending');
    assert.deepEqual(addV6(r, fragV6(whole, 1, 32, 40, true)), { kind: 'dropped', reason: 'frag-too-many-fragments', icmp: null });
    assert.equal(addV6(r, fragV6(whole, 1, 40, 64, false)).kind, 'dropped');
  });

  test('the defaults: 30 s / 60 s, 4 MiB, 1024 datagrams', () => {
    assert.equal(REASSEMBLY_DEFAULTS.timeoutV4, seconds(30));
    assert.equal(REASSEMBLY_DEFAULTS.timeoutV6, seconds(60));
    assert.equal(REASSEMBLY_DEFAULTS.maxBytes, 4 * 1024 * 1024);
    assert.equal(REASSEMBLY_DEFAULTS.maxDatagrams, 1024);
  });
});

/** Random cut points (multiples of 8) of [0, len): the fragments' ranges. */
function fragmentation(len: number, cuts: number[]): Array<[number, number, boolean]> {
  const points = [...new Set(cuts.map((c) => (c * 8) % len).filter((c) => c > 0 && c % 8 === 0))].sort((a, b) => a - b);
  const bounds = [0, ...points, len];
  const out: Array<[number, number, boolean]> = [];
  for (let i = 0; i + 1 < bounds.length; i++) out.push([bounds[i]!, bounds[i + 1]!, i + 2 < bounds.length]);
  return out;
}

function shuffle<T>(xs: T[], keys: number[]): T[] {
  return xs.map((x, i) => [x, keys[i % keys.length]! + i * 1e-9] as const).sort((a, b) => a[1] - b[1]).map(([x]) => x);
}

describe('ip/reassembly: properties', () => {
  const plan = fc.record({
    len: fc.integer({ min: 1, max: 1500 }),
    cuts: fc.array(fc.integer({ min: 1, max: 200 }), { maxLength: 40 }),
    keys: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 50 }),
    dups: fc.array(fc.nat(), { maxLength: 5 }),
    v6: fc.boolean(),
    seed: fc.nat(255),
  });

  test('random fragmentations of a random datagram, in random order with exact duplicates, reassemble to the original (seed 815)', () => {
    fc.assert(
      fc.property(plan, ({ len, cuts, keys, dups, v6, seed }) => {
        const whole = v6 ? v6Datagram(len, A, (i) => (i * 31 + seed) & 0xff) : v4Datagram(len, seed, 0x0a000001, (i) => (i * 31 + seed) & 0xff);
        const ranges = fragmentation(len, cuts);
        const frags = ranges.map(([s, e, m]) => (v6 ? fragV6(whole, seed, s, e, m) : fragV4(whole, s, e, m)));
        for (const d of dups) frags.push(frags[d % frags.length]!);
        const order = shuffle(frags, keys);
        const r = new Reassembler();
        const done: Uint8Array[] = [];
        for (const f of order) {
          const res = v6 ? addV6(r, f) : r.addV4(f, T0);
          if (res.kind === 'complete') done.push(res.packet);
          else if (res.kind === 'dropped') assert.equal(res.reason, 'frag-duplicate');
        }
        // Delivered at least once, and only ever as the original. (Duplicates that arrive after
        // the datagram completed start it anew and may complete it again: IP does not promise
        // at-most-once delivery, and neither does Linux's reassembly.)
        assert.ok(done.length >= 1, 'delivered');
        if (dups.length === 0) assert.equal(done.length, 1, 'delivered once without duplicates');
        for (const d of done) assert.deepEqual(d, whole);
        r.onTimeout(T0 + seconds(61));
        assertEmpty(r);
      }),
      { seed: 815, numRuns: 300 },
    );
  });

  test('RFC 5722: one overlapping fragment among a random fragmentation, in any order, and nothing is ever delivered (seed 5722)', () => {
    let tried = 0;
    fc.assert(
      fc.property(plan, fc.nat(), fc.nat(), fc.nat(), ({ len, cuts, keys, v6, seed }, a, b, at) => {
        const n = Math.max(16, len - (len % 8));
        const whole = v6 ? v6Datagram(n, A) : v4Datagram(n, seed);
        const ranges = fragmentation(n, cuts);
        if (ranges.length < 2) return; // one whole packet is not a fragment
        // An overlapping fragment: a range of 8-octet units that intersects some original range but is not one of them.
        const s = ((a % (n / 8)) * 8);
        const e = Math.min(n, s + 8 * (1 + (b % 8)));
        // One end inside an original fragment: then no set of disjoint fragments holding it covers the
        // datagram, so it can only go by the overlap with the original fragment around that end.
        const bounds = new Set([0, ...ranges.map(([, re]) => re)]);
        if (bounds.has(s) && bounds.has(e)) return;
        const more = e < n;
        const bad = v6 ? fragV6(whole, seed, s, e, more) : fragV4(whole, s, e, more);
        const frags = ranges.map(([rs, re, m]) => (v6 ? fragV6(whole, seed, rs, re, m) : fragV4(whole, rs, re, m)));
        const order = shuffle(frags, keys);
        order.splice(at % order.length, 0, bad);
        const r = new Reassembler();
        tried++;
        for (const f of order) {
          const res = v6 ? addV6(r, f) : r.addV4(f, T0);
          assert.notEqual(res.kind, 'complete');
        }
        assert.equal(r.reassembled, 0);
        assert.equal(r.drops['frag-overlap'], 1);
      }),
      { seed: 5722, numRuns: 300 },
    );
    assert.ok(tried >= 150, `${tried} of 300 runs had an overlap (the rest were filtered out)`);
  });

  test('arbitrary bytes never throw and memory stays within its bounds (seed 791)', () => {
    const limits = { maxBytes: 20_000, maxBytesPerSource: 8_000, maxDatagrams: 16, maxDatagramsPerSource: 4 };
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.uint8Array({ minLength: 0, maxLength: 300 }), fc.boolean(), fc.nat(4), fc.integer({ min: 0, max: seconds(20) })), { maxLength: 60 }), (inputs) => {
        const r = new Reassembler(limits);
        let now = T0;
        for (const [b, v6, src, dt] of inputs) {
          now += dt;
          if (v6) {
            if (b.length >= 48) {
              b[0] = 0x60;
              setU16(b, 4, b.length - 40);
              b[6] = 44;
              writeIpv6Addr(parseIpv6Addr(`2001:db8::${src}`)!, b, 8);
            }
            const p = parseIpv6(b);
            if (p.ok) {
              const w = walkIpv6(p.value.packet);
              if (w.ok && w.kind === 'fragment') r.addV6(p.value.packet, w.fragment, now);
            }
          } else {
            if (b.length >= 20) {
              b[0] = 0x45;
              setU16(b, 2, b.length);
              b[12] = src;
            }
            r.addV4(b, now);
          }
          r.onTimeout(now);
          assert.ok(r.bytes <= limits.maxBytes, `${r.bytes} bytes`);
          assert.ok(r.datagrams <= limits.maxDatagrams);
          assert.ok(r.nextDeadline() > now);
        }
        r.onTimeout(now + seconds(60));
        assertEmpty(r);
      }),
      { seed: 791, numRuns: 300 },
    );
  });
});
