import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isIPv6 } from 'node:net';
import fc from 'fast-check';
import {
  IPV6_HEADER_LEN,
  IPV6_LOOPBACK,
  IPV6_UNSPECIFIED,
  emitIpv6,
  findUpperLayer,
  formatIpv6Addr,
  ipv6FromWords,
  ipv6MappedFromV4,
  ipv6MappedToV4,
  ipv6PseudoHeaderSum,
  ipv6ToBytes,
  isIpv6Documentation,
  isIpv6LinkLocal,
  isIpv6Loopback,
  isIpv6Multicast,
  isIpv6Unspecified,
  isIpv6V4Mapped,
  parseIpv6,
  parseIpv6Addr,
  readIpv6Addr,
  walkIpv6,
  type Ipv6Addr,
  type Ipv6Repr,
} from '../../src/wire/ipv6.ts';
import { checksum } from '../../src/wire/checksum.ts';
import { setU16 } from '../../src/wire/bytes.ts';
import { naiveChecksum } from './fixtures.ts';
import { V6_EXT_ECHO, V6_FRAG0, V6_FRAG1, V6_RH0, V6_SYN } from './ipv6-fixtures.ts';

const A = parseIpv6Addr('2001:db8::1')!;
const B = parseIpv6Addr('2001:db8::2')!;

function addr(s: string): Ipv6Addr {
  const a = parseIpv6Addr(s);
  assert.ok(a !== null, `${s} parses`);
  return a;
}

/** An IPv6 packet: header from `src`/`dst`, `nh`, and the given payload octets. */
function packet(nh: number, payload: number[] | Uint8Array, dst: Ipv6Addr = B): Uint8Array {
  const p = new Uint8Array(IPV6_HEADER_LEN + payload.length);
  emitIpv6({ src: A, dst, trafficClass: 0, flowLabel: 0, payloadLen: payload.length, nextHeader: nh, hopLimit: 64 }, p, 0);
  p.set(payload, IPV6_HEADER_LEN);
  return p;
}

/** A TCP header's worth of octets (the walk only needs the upper layer to start). */
const TCP20 = new Array<number>(20).fill(0);

describe('wire/ipv6: the fixed header (RFC 8200 §3)', () => {
  test('RFC 8200 §3: a scapy-built TCP SYN decodes field by field', () => {
    const r = parseIpv6(V6_SYN);
    assert.ok(r.ok);
    const h = r.value.header;
    assert.equal(formatIpv6Addr(h.src), '2001:db8::1');
    assert.equal(formatIpv6Addr(h.dst), '2001:db8::2');
    assert.equal(h.trafficClass, 0x28);
    assert.equal(h.flowLabel, 0x12345);
    assert.equal(h.payloadLen, 24);
    assert.equal(h.nextHeader, 6);
    assert.equal(h.hopLimit, 64);
    assert.equal(r.value.payload.length, 24);
    assert.equal(r.value.payload.buffer, V6_SYN.buffer, 'the payload is a view');
  });

  test('RFC 8200 §3: emit writes the scapy header byte for byte', () => {
    const r = parseIpv6(V6_SYN);
    assert.ok(r.ok);
    const buf = new Uint8Array(44).fill(0xaa);
    assert.equal(emitIpv6(r.value.header, buf, 2), 40);
    assert.deepEqual(buf.subarray(2, 42), V6_SYN.subarray(0, 40));
    assert.equal(buf[0], 0xaa);
    assert.equal(buf[42], 0xaa);
  });

  test('RFC 8200 §3: every truncation is refused with a reason, never a throw', () => {
    for (let n = 0; n < V6_SYN.length; n++) {
      const r = parseIpv6(V6_SYN.subarray(0, n));
      assert.equal(r.ok, false, `length ${n}`);
      if (!r.ok) assert.equal(r.reason, n < 40 ? 'ipv6-truncated' : 'ipv6-bad-payload-length');
    }
  });

  test('RFC 8200 §3: version must be 6; link padding past the payload is cut off', () => {
    const v4 = V6_SYN.slice();
    v4[0] = 0x45;
    const r = parseIpv6(v4);
    assert.ok(!r.ok && r.reason === 'ipv6-bad-version');
    const padded = new Uint8Array(V6_SYN.length + 6);
    padded.set(V6_SYN);
    const p = parseIpv6(padded);
    assert.ok(p.ok);
    assert.equal(p.value.packet.length, V6_SYN.length);
    assert.equal(p.value.payload.length, 24);
  });

  test('emit refuses fields out of range (programmer errors)', () => {
    const h: Ipv6Repr = { src: A, dst: B, trafficClass: 0, flowLabel: 0, payloadLen: 0, nextHeader: 59, hopLimit: 1 };
    const buf = new Uint8Array(40);
    assert.throws(() => emitIpv6({ ...h, flowLabel: 0x100000 }, buf, 0), /flow label/);
    assert.throws(() => emitIpv6({ ...h, trafficClass: 256 }, buf, 0), /traffic class/);
    assert.throws(() => emitIpv6({ ...h, payloadLen: 0x10000 }, buf, 0), /payload length/);
    assert.throws(() => emitIpv6({ ...h, src: '::1' as Ipv6Addr }, buf, 0), /8 groups/);
    assert.throws(() => emitIpv6(h, buf, 1), /40 bytes/);
    // Negative, fractional and NaN values of every field, and the one past each maximum.
    for (const [field, name, max] of [['trafficClass', /traffic class/, 0xff], ['flowLabel', /flow label/, 0xfffff], ['payloadLen', /payload length/, 0xffff], ['nextHeader', /next header/, 0xff], ['hopLimit', /hop limit/, 0xff]] as const) {
      for (const bad of [-1, 1.5, NaN, max + 1, 2 ** 32 + 1]) assert.throws(() => emitIpv6({ ...h, [field]: bad }, buf, 0), name, `${field} ${bad}`);
      emitIpv6({ ...h, [field]: max }, buf, 0);
    }
    assert.throws(() => emitIpv6(h, buf, NaN), /40 bytes/);
  });

  test('emit writes the fields and both addresses, whether or not the addresses were read from a packet lately', () => {
    const h: Ipv6Repr = { src: A, dst: B, trafficClass: 0xb5, flowLabel: 0xabcde, payloadLen: 0x1234, nextHeader: 6, hopLimit: 255 };
    const fresh = new Uint8Array(40 + 0x1234);
    emitIpv6({ ...h, src: parseIpv6Addr('2001:db8:ffff:8000::7fff:1')!, dst: parseIpv6Addr('fe80::8001')! }, fresh, 0);
    assert.deepEqual([...fresh.subarray(0, 8)], [0x6b, 0x5a, 0xbc, 0xde, 0x12, 0x34, 6, 255]);
    assert.deepEqual([...fresh.subarray(8, 24)], [0x20, 0x01, 0x0d, 0xb8, 0xff, 0xff, 0x80, 0, 0, 0, 0, 0, 0x7f, 0xff, 0, 1]);
    assert.deepEqual([...fresh.subarray(24, 40)], [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80, 0x01]);
    // Read back (the addresses are now the ones readIpv6Addr remembers) and written again: the same octets.
    const p = parseIpv6(fresh);
    assert.ok(p.ok);
    const again = new Uint8Array(40);
    emitIpv6(p.value.header, again, 0);
    assert.deepEqual([...again], [...fresh.subarray(0, 40)]);
  });

  test('RFC 8200 §3: emit then parse gives the header back (property, seed 612)', () => {
    const word = fc.integer({ min: 0, max: 0xffff });
    const address = fc.array(word, { minLength: 8, maxLength: 8 }).map(ipv6FromWords);
    fc.assert(
      fc.property(
        fc.record({
          src: address,
          dst: address,
          trafficClass: fc.integer({ min: 0, max: 0xff }),
          flowLabel: fc.integer({ min: 0, max: 0xfffff }),
          payloadLen: fc.integer({ min: 0, max: 64 }),
          nextHeader: fc.integer({ min: 0, max: 0xff }),
          hopLimit: fc.integer({ min: 0, max: 0xff }),
        }),
        (h) => {
          const buf = new Uint8Array(40 + h.payloadLen);
          emitIpv6(h, buf, 0);
          const r = parseIpv6(buf);
          assert.ok(r.ok);
          assert.deepEqual(r.value.header, { ...h });
        },
      ),
      { seed: 612, numRuns: 300 },
    );
  });
});

describe('wire/ipv6: addresses (RFC 4291 §2.2, RFC 5952)', () => {
  test('RFC 5952 §4: the canonical text form of the RFC examples', () => {
    const cases: Array<[string, string]> = [
      // §4.1 leading zeros
      ['2001:0db8::0001', '2001:db8::1'],
      // §4.2.1 "::" to its maximum capability
      ['2001:db8:0:0:0:0:2:1', '2001:db8::2:1'],
      // §4.2.2 not for a single 16-bit 0 field
      ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
      // §4.2.3 the longest run; the first on a tie
      ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'],
      ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
      // §4.3 lowercase
      ['2001:DB8::ABCD', '2001:db8::abcd'],
      // §2.1 of RFC 5952's list of equivalent forms
      ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
      ['2001:0db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
      ['2001:db8::0:1:0:0:1', '2001:db8::1:0:0:1'],
      ['2001:db8:0000:0:1::1', '2001:db8::1:0:0:1'],
      ['2001:DB8:0:0:1::1', '2001:db8::1:0:0:1'],
      // RFC 4291 §2.2's examples
      ['2001:DB8:0:0:8:800:200C:417A', '2001:db8::8:800:200c:417a'],
      ['FF01:0:0:0:0:0:0:101', 'ff01::101'],
      ['0:0:0:0:0:0:0:1', '::1'],
      ['0:0:0:0:0:0:0:0', '::'],
      ['0:0:0:0:0:0:13.1.68.3', '::d01:4403'],
      ['::13.1.68.3', '::d01:4403'],
      // §5: IPv4-mapped addresses in mixed notation
      ['0:0:0:0:0:FFFF:129.144.52.38', '::ffff:129.144.52.38'],
      ['::FFFF:129.144.52.38', '::ffff:129.144.52.38'],
      ['::ffff:c000:201', '::ffff:192.0.2.1'],
      // ends and single zero groups
      ['1:0:0:0:0:0:0:0', '1::'],
      ['1:2:3:4:5:6:7:0', '1:2:3:4:5:6:7:0'],
      ['0:1:2:3:4:5:6:7', '0:1:2:3:4:5:6:7'],
      ['1:2:3:4:5:6:7::', '1:2:3:4:5:6:7:0'],
      ['fe80::1:2', 'fe80::1:2'],
    ];
    for (const [input, canonical] of cases) assert.equal(formatIpv6Addr(addr(input)), canonical, input);
  });

  test('RFC 4291 §2.2: malformed text forms are refused', () => {
    for (const bad of [
      '', ':', ':::', '1::2::3', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7', '12345::', 'g::', ':1::', '1::2:', ':1:2:3:4:5:6:7:8',
      '1:2:3:4:5:6:7:8::', '::1:2:3:4:5:6:7:8', 'fe80::1%eth0', '[::1]', '::1/128', '::ffff:1.2.3', '::ffff:01.2.3.4',
      '::ffff:256.1.1.1', '1.2.3.4::', '1.2.3.4', '::1.2.3.4:5', ' ::1', '::1 ', '1:2:3:4:5:6:7:1.2.3.4', '0x1::',
    ]) {
      assert.equal(parseIpv6Addr(bad), null, JSON.stringify(bad));
    }
  });

  test('text forms agree with node:net isIPv6 (zone indexes aside)', () => {
    const samples = ['::', '::1', '1::', '2001:db8::1', '::ffff:1.2.3.4', '1:2:3:4:5:6:1.2.3.4', '1::2::3', ':::', '1:2:3:4:5:6:7:8:9', '12345::', '::ffff:1.2.3', 'ff02::1:ff00:1', '1:2:3:4:5:6:7::', '::2:3:4:5:6:7:8', 'a:b:c:d:e:f:0:1'];
    for (const s of samples) assert.equal(parseIpv6Addr(s) !== null, isIPv6(s), s);
  });

  test('RFC 5952: format agrees with the WHATWG URL serializer and parses back (property, seed 5952)', () => {
    // Runs of zeros are likely so that "::" placement is exercised.
    const word = fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 0, max: 0xffff }));
    fc.assert(
      fc.property(fc.array(word, { minLength: 8, maxLength: 8 }), (w) => {
        const a = ipv6FromWords(w);
        const text = formatIpv6Addr(a);
        assert.equal(parseIpv6Addr(text), a);
        assert.equal(parseIpv6Addr(text.toUpperCase()), a);
        if (!isIpv6V4Mapped(a)) assert.equal(text, new URL(`http://[${text}]/`).hostname.slice(1, -1));
        assert.ok(isIPv6(text));
      }),
      { seed: 5952, numRuns: 1000 },
    );
  });

  test('RFC 4291 §2.5.5.2: IPv4-mapped addresses convert both ways', () => {
    const m = ipv6MappedFromV4(0x0a000001);
    assert.equal(formatIpv6Addr(m), '::ffff:10.0.0.1');
    assert.equal(ipv6MappedToV4(m), 0x0a000001);
    assert.equal(ipv6MappedToV4(addr('::ffff:255.255.255.255')), 0xffffffff);
    assert.equal(ipv6MappedToV4(addr('::1.2.3.4')), null, 'the deprecated IPv4-compatible form is not mapped');
    assert.equal(ipv6MappedToV4(A), null);
  });

  test('bytes round trip; the address is a value (a Map key compared by content)', () => {
    const a = addr('2001:db8:dead:beef:0:ffff:d800:1');
    const b = ipv6ToBytes(a);
    assert.deepEqual([...b], [0x20, 0x01, 0x0d, 0xb8, 0xde, 0xad, 0xbe, 0xef, 0, 0, 0xff, 0xff, 0xd8, 0, 0, 1]);
    assert.equal(readIpv6Addr(b, 0), a);
    // A surrogate-range group (0xd800) survives.
    const m = new Map<Ipv6Addr, number>([[a, 7]]);
    assert.equal(m.get(readIpv6Addr(b.slice(), 0)), 7);
  });

  test('readIpv6Addr gives the address of the octets, also when it reuses a recently read one', () => {
    // The reader keeps the last few addresses it made (wire/ipv6.ts): a hit,
    // a miss, an evicted entry read again, :: (all-zero words) and an address
    // that differs from a kept one in the last octet only all read right.
    const texts = ['fd00::1', 'fd00::2', '::', 'fd00::1', '2001:db8::1', '2001:db8::2', '2001:db8::3', '2001:db8::4', 'fd00::1', 'fd00::2', '::1', '::', 'fd00::1:0:0:1', 'fd00::1'];
    for (let round = 0; round < 3; round++) {
      for (const t of texts) {
        const b = ipv6ToBytes(addr(t));
        const buf = new Uint8Array(24);
        buf.set(b, 5);
        assert.equal(formatIpv6Addr(readIpv6Addr(buf, 5)), formatIpv6Addr(addr(t)), t);
        assert.equal(readIpv6Addr(buf, 5), addr(t), t);
      }
    }
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ minLength: 16, maxLength: 16 }), { minLength: 1, maxLength: 12 }), (list) => {
        for (const b of [...list, ...list]) assert.deepEqual([...ipv6ToBytes(readIpv6Addr(b, 0))], [...b]);
      }),
      { seed: 6, numRuns: 200 },
    );
  });

  test('RFC 4291 §2.4, §2.5, RFC 3849: address classes', () => {
    const classes = (s: string): string[] => {
      const a = addr(s);
      const out: string[] = [];
      if (isIpv6Unspecified(a)) out.push('unspecified');
      if (isIpv6Loopback(a)) out.push('loopback');
      if (isIpv6Multicast(a)) out.push('multicast');
      if (isIpv6LinkLocal(a)) out.push('link-local');
      if (isIpv6V4Mapped(a)) out.push('v4-mapped');
      if (isIpv6Documentation(a)) out.push('documentation');
      return out;
    };
    assert.deepEqual(classes('::'), ['unspecified']);
    assert.deepEqual(classes('::1'), ['loopback']);
    assert.deepEqual(classes('ff02::1'), ['multicast']);
    assert.deepEqual(classes('ff05::1:3'), ['multicast']);
    assert.deepEqual(classes('fe80::1'), ['link-local']);
    assert.deepEqual(classes('febf:ffff::1'), ['link-local']);
    assert.deepEqual(classes('fec0::1'), [], 'fec0::/10 (deprecated site-local) is not link-local');
    assert.deepEqual(classes('::ffff:10.0.0.1'), ['v4-mapped']);
    assert.deepEqual(classes('2001:db8::1'), ['documentation']);
    assert.deepEqual(classes('2001:db9::1'), []);
    assert.deepEqual(classes('fd00::1'), []);
    assert.equal(IPV6_UNSPECIFIED, addr('::'));
    assert.equal(IPV6_LOOPBACK, addr('::1'));
  });
});

describe('wire/ipv6: the upper-layer pseudo-header (RFC 8200 §8.1)', () => {
  test('RFC 8200 §8.1: the scapy SYN and echo request verify over the IPv6 pseudo-header', () => {
    const syn = parseIpv6(V6_SYN);
    assert.ok(syn.ok);
    const seg = syn.value.payload;
    assert.equal(checksum(seg, 0, seg.length, ipv6PseudoHeaderSum(syn.value.header.src, syn.value.header.dst, 6, seg.length)), 0);
    // The echo request sits behind two extension headers: the pseudo-header
    // uses Next Header 58 and the ICMPv6 length, not the IPv6 header's.
    const echo = parseIpv6(V6_EXT_ECHO);
    assert.ok(echo.ok);
    const w = walkIpv6(echo.value.packet);
    assert.ok(w.ok && w.kind === 'upper');
    const icmp = echo.value.packet.subarray(w.offset);
    assert.equal(checksum(icmp, 0, icmp.length, ipv6PseudoHeaderSum(echo.value.header.src, echo.value.header.dst, 58, icmp.length)), 0);
    // And a wrong Next Header in the pseudo-header does not verify.
    assert.notEqual(checksum(icmp, 0, icmp.length, ipv6PseudoHeaderSum(echo.value.header.src, echo.value.header.dst, 0, icmp.length)), 0);
  });

  test('RFC 8200 §8.1: the sum equals the RFC 1071 sum of the 40-octet pseudo-header laid out in bytes (property, seed 81)', () => {
    const word = fc.integer({ min: 0, max: 0xffff });
    const address = fc.array(word, { minLength: 8, maxLength: 8 }).map(ipv6FromWords);
    fc.assert(
      fc.property(address, address, fc.integer({ min: 0, max: 0xff }), fc.integer({ min: 0, max: 0xfffff }), fc.uint8Array({ maxLength: 64 }), (s, d, nh, len, data) => {
        const ph = new Uint8Array(40);
        ph.set(ipv6ToBytes(s), 0);
        ph.set(ipv6ToBytes(d), 16);
        ph[32] = len >>> 24;
        ph[33] = (len >>> 16) & 0xff;
        ph[34] = (len >>> 8) & 0xff;
        ph[35] = len & 0xff;
        ph[39] = nh;
        const both = new Uint8Array(40 + data.length);
        both.set(ph);
        both.set(data, 40);
        assert.equal(checksum(data, 0, data.length, ipv6PseudoHeaderSum(s, d, nh, len)), naiveChecksum(both, 0, both.length));
      }),
      { seed: 81, numRuns: 300 },
    );
  });
});

describe('wire/ipv6: the extension-header walk (RFC 8200 §4)', () => {
  test('RFC 8200 §4: no extension header — TCP at offset 40, named by the IPv6 header', () => {
    assert.deepEqual(walkIpv6(V6_SYN), { ok: true, kind: 'upper', protocol: 6, offset: 40, nextHeaderAt: 6 });
  });

  test('RFC 8200 §4.2: Hop-by-Hop (PadN) then Destination Options (Pad1, Pad1, PadN) are walked to ICMPv6', () => {
    assert.deepEqual(walkIpv6(V6_EXT_ECHO), { ok: true, kind: 'upper', protocol: 58, offset: 56, nextHeaderAt: 48 });
  });

  test('RFC 8200 §4.1: a Hop-by-Hop header anywhere but first → Parameter Problem code 1 at the Next Header that names it', () => {
    // IPv6 → Destination Options (next: 0) → Hop-by-Hop
    const p = packet(60, [0, 0, 1, 4, 0, 0, 0, 0, 6, 0, 1, 4, 0, 0, 0, 0, ...TCP20]);
    assert.deepEqual(walkIpv6(p), { ok: false, reason: 'ipv6-hop-by-hop-not-first', icmp: { type: 4, code: 1, pointer: 40, multicastExempt: false } });
  });

  test('RFC 8200 §4: an unrecognised Next Header → Parameter Problem code 1 pointing at it', () => {
    assert.deepEqual(walkIpv6(packet(253, [1, 2, 3, 4])), { ok: false, reason: 'ipv6-unknown-next-header', icmp: { type: 4, code: 1, pointer: 6, multicastExempt: false } });
    // Behind a Destination Options header, the pointer is that header's Next Header field.
    assert.deepEqual(walkIpv6(packet(60, [253, 0, 1, 4, 0, 0, 0, 0])), { ok: false, reason: 'ipv6-unknown-next-header', icmp: { type: 4, code: 1, pointer: 40, multicastExempt: false } });
    // A caller may recognise more upper layers.
    assert.equal(walkIpv6(packet(253, [1, 2, 3, 4]), new Set([253])).ok, true);
  });

  test('RFC 8200 §4.7: No Next Header (59) ends the walk with nothing to deliver and no error', () => {
    assert.deepEqual(walkIpv6(packet(59, [0xde, 0xad])), { ok: false, reason: 'ipv6-no-next-header', icmp: null });
    assert.deepEqual(walkIpv6(packet(60, [59, 0, 1, 4, 0, 0, 0, 0, 0xff])), { ok: false, reason: 'ipv6-no-next-header', icmp: null });
  });

  test('RFC 5095 §3: a type 0 Routing header with Segments Left 1 (scapy) → Parameter Problem code 0 at the Routing Type', () => {
    assert.deepEqual(walkIpv6(V6_RH0), { ok: false, reason: 'ipv6-routing-type-0', icmp: { type: 4, code: 0, pointer: 42, multicastExempt: false } });
  });

  test('RFC 8200 §4.4, RFC 5095 §3: any Routing header with Segments Left 0 is ignored (type 0 included)', () => {
    const rh0 = V6_RH0.slice();
    rh0[43] = 0;
    assert.deepEqual(walkIpv6(rh0), { ok: true, kind: 'upper', protocol: 17, offset: 64, nextHeaderAt: 40 });
    const other = packet(43, [6, 0, 253, 0, 0, 0, 0, 0, ...TCP20]);
    assert.deepEqual(walkIpv6(other), { ok: true, kind: 'upper', protocol: 6, offset: 48, nextHeaderAt: 40 });
  });

  test('RFC 8200 §4.4: an unrecognised Routing Type with Segments Left > 0 → Parameter Problem code 0 at the Routing Type', () => {
    for (const type of [2, 3, 4, 253]) {
      const p = packet(43, [6, 0, type, 1, 0, 0, 0, 0, ...TCP20]);
      assert.deepEqual(walkIpv6(p), { ok: false, reason: 'ipv6-unknown-routing-type', icmp: { type: 4, code: 0, pointer: 42, multicastExempt: false } }, `type ${type}`);
    }
  });

  test('RFC 8200 §4.5: the walk stops at a Fragment header with its fields (scapy fragments)', () => {
    assert.deepEqual(walkIpv6(V6_FRAG0), { ok: true, kind: 'fragment', fragment: { headerAt: 40, nextHeaderAt: 6, nextHeader: 17, offset: 0, more: true, ident: 0xabcdef01 } });
    assert.deepEqual(walkIpv6(V6_FRAG1), { ok: true, kind: 'fragment', fragment: { headerAt: 40, nextHeaderAt: 6, nextHeader: 17, offset: 152, more: true, ident: 0xabcdef01 } });
  });

  test('RFC 8200 §4.2: the two high-order bits of an unrecognised option type decide, for unicast and multicast destinations', () => {
    const mc = addr('ff02::1');
    // A Destination Options header: one unrecognised option of type `t` with 2 data octets, then PadN of 2.
    const withOption = (t: number, dst: Ipv6Addr): Uint8Array => packet(60, [6, 0, t, 2, 0, 0, 1, 0, ...TCP20], dst);
    const ok = { ok: true, kind: 'upper', protocol: 6, offset: 48, nextHeaderAt: 40 };
    // 00: skip over this option and continue
    assert.deepEqual(walkIpv6(withOption(0x1e, B)), ok);
    assert.deepEqual(walkIpv6(withOption(0x1e, mc)), ok);
    // 01: discard the packet
    assert.deepEqual(walkIpv6(withOption(0x5e, B)), { ok: false, reason: 'ipv6-unknown-option', icmp: null });
    assert.deepEqual(walkIpv6(withOption(0x5e, mc)), { ok: false, reason: 'ipv6-unknown-option', icmp: null });
    // 10: discard and send code 2 pointing at the option type, even to a multicast destination
    const p10 = { ok: false, reason: 'ipv6-unknown-option', icmp: { type: 4, code: 2, pointer: 42, multicastExempt: true } };
    assert.deepEqual(walkIpv6(withOption(0x9e, B)), p10);
    assert.deepEqual(walkIpv6(withOption(0x9e, mc)), p10);
    // 11: discard and send code 2 only if the destination was not multicast
    assert.deepEqual(walkIpv6(withOption(0xde, B)), { ok: false, reason: 'ipv6-unknown-option', icmp: { type: 4, code: 2, pointer: 42, multicastExempt: false } });
    assert.deepEqual(walkIpv6(withOption(0xde, mc)), { ok: false, reason: 'ipv6-unknown-option', icmp: null });
    // The Jumbo Payload option (0xC2, RFC 2675) is not supported: its 11 applies. In a Hop-by-Hop header the pointer is its offset too.
    assert.deepEqual(walkIpv6(packet(0, [6, 0, 0xc2, 4, 0, 1, 0, 0, ...TCP20])), { ok: false, reason: 'ipv6-unknown-option', icmp: { type: 4, code: 2, pointer: 42, multicastExempt: false } });
    // Router Alert (5) has 00: skipped.
    assert.deepEqual(walkIpv6(packet(0, [6, 0, 5, 2, 0, 0, 1, 0, ...TCP20])), { ok: true, kind: 'upper', protocol: 6, offset: 48, nextHeaderAt: 40 });
  });

  test('RFC 8200 §4.2: an option or a header that runs past its end is malformed and dropped without an error', () => {
    // PadN claiming 6 data octets in a 6-octet options area.
    assert.deepEqual(walkIpv6(packet(60, [6, 0, 1, 6, 0, 0, 0, 0, ...TCP20])), { ok: false, reason: 'ipv6-bad-option', icmp: null });
    // An option type in the last octet with no room for its length.
    assert.deepEqual(walkIpv6(packet(60, [6, 0, 0, 0, 0, 0, 0, 0x1e, ...TCP20])), { ok: false, reason: 'ipv6-bad-option', icmp: null });
    // A Destination Options header of 16 octets in a 12-octet payload.
    assert.deepEqual(walkIpv6(packet(60, [6, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])), { ok: false, reason: 'ipv6-bad-extension-header', icmp: null });
    // A Fragment header cut short.
    assert.deepEqual(walkIpv6(packet(44, [17, 0, 0, 1])), { ok: false, reason: 'ipv6-bad-extension-header', icmp: null });
  });

  test('RFC 8200 §4: truncating the scapy packets at every length never throws and never reports an upper layer past the end', () => {
    for (const full of [V6_EXT_ECHO, V6_RH0, V6_FRAG0, V6_SYN]) {
      for (let n = 0; n <= full.length; n++) {
        const cut = full.slice(0, n);
        if (n >= 40) setU16(cut, 4, n - 40);
        const w = walkIpv6(cut);
        if (w.ok && w.kind === 'upper') assert.ok(w.offset <= n);
        if (w.ok && w.kind === 'fragment') assert.ok(w.fragment.headerAt + 8 <= n);
        const u = findUpperLayer(cut, n >= 40 ? cut[6]! : 59, 40);
        if (u.kind === 'upper') assert.ok(u.offset <= n);
      }
    }
  });

  test('arbitrary bytes never throw parseIpv6, walkIpv6 or findUpperLayer (property, seed 8200)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 160 }), fc.integer({ min: 0, max: 0xff }), (b, nh) => {
        if (b.length >= 1) b[0] = (b[0]! & 0x0f) | 0x60;
        if (b.length >= 6) setU16(b, 4, Math.max(0, b.length - 40));
        const r = parseIpv6(b);
        const w = walkIpv6(r.ok ? r.value.packet : b);
        if (w.ok && w.kind === 'upper') assert.ok(w.offset <= b.length);
        findUpperLayer(b, nh, Math.min(40, b.length));
      }),
      { seed: 8200, numRuns: 3000 },
    );
  });
});
