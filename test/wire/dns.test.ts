import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  buildDns,
  DNS_CLASS_IN,
  DNS_TYPE_A,
  DNS_TYPE_AAAA,
  DNS_TYPE_CNAME,
  DNS_TYPE_OPT,
  dnsEdns,
  dnsMessageLen,
  dnsNameKey,
  dnsNameLabels,
  dnsQuery,
  emitDns,
  parseDns,
} from '../../src/wire/dns.ts';
import type { DnsMessage } from '../../src/wire/dns.ts';
import { ipv4Addr } from '../../src/wire/bytes.ts';
import { hexBytes } from './fixtures.ts';
import { DNS_QUERY, DNS_RESPONSE } from './l2-fixtures.ts';

const V6 = hexBytes('2606 2800 0220 0001 0248 1893 25c8 1946');

const RESPONSE: DnsMessage = {
  id: 0x1234, qr: true, opcode: 0, aa: false, tc: false, rd: true, ra: true, z: false, ad: false, cd: false, rcode: 0,
  questions: [{ name: 'www.example.com', type: DNS_TYPE_A, class: DNS_CLASS_IN }],
  answers: [
    { name: 'www.example.com', type: DNS_TYPE_CNAME, class: DNS_CLASS_IN, ttl: 300, data: { kind: 'name', name: 'example.com' } },
    { name: 'example.com', type: DNS_TYPE_A, class: DNS_CLASS_IN, ttl: 60, data: { kind: 'a', address: ipv4Addr(93, 184, 216, 34) } },
    { name: 'example.com', type: DNS_TYPE_AAAA, class: DNS_CLASS_IN, ttl: 60, data: { kind: 'aaaa', address: V6 } },
  ],
  authorities: [],
  additionals: [{ name: '', type: DNS_TYPE_OPT, class: 1232, ttl: 0x8000, data: { kind: 'raw', data: new Uint8Array(0) } }],
};

/** A header with the given counts followed by `body`. */
function msg(counts: [number, number, number, number], body: number[], flags = 0x0100): Uint8Array {
  const h = [0xab, 0xcd, flags >>> 8, flags & 0xff];
  for (const c of counts) h.push(c >>> 8, c & 0xff);
  return Uint8Array.from([...h, ...body]);
}

describe('wire/dns', () => {
  test('RFC 1035 §4.1: a query captured from scapy decodes field by field and is emitted byte for byte', () => {
    const r = parseDns(DNS_QUERY);
    assert.ok(r.ok, r.ok ? '' : r.reason);
    assert.deepEqual(r.value, dnsQuery(0x1234, 'www.example.com', DNS_TYPE_A));
    assert.deepEqual(buildDns(r.value), DNS_QUERY);
    assert.deepEqual(buildDns(r.value, false), DNS_QUERY);
  });

  test('RFC 1035 §4.1.4: a compressed response from scapy (CNAME, A, AAAA, OPT) decodes field by field', () => {
    const r = parseDns(DNS_RESPONSE);
    assert.ok(r.ok, r.ok ? '' : r.reason);
    assert.deepEqual(r.value, RESPONSE);
  });

  test('RFC 1035 §4.1.4: emit compresses exactly as scapy does; uncompressed emission parses to the same message', () => {
    assert.deepEqual(buildDns(RESPONSE), DNS_RESPONSE);
    const plain = buildDns(RESPONSE, false);
    assert.ok(plain.length > DNS_RESPONSE.length);
    const r = parseDns(plain);
    assert.ok(r.ok);
    assert.deepEqual(r.value, RESPONSE);
    assert.equal(dnsMessageLen(RESPONSE, false), plain.length);
  });

  test('RFC 6891 §6.1: the OPT record is kept raw and its fields are read by dnsEdns', () => {
    const r = parseDns(DNS_RESPONSE);
    assert.ok(r.ok);
    assert.deepEqual(dnsEdns(r.value), { udpPayloadSize: 1232, extendedRcode: 0, version: 0, dnssecOk: true, options: new Uint8Array(0) });
    assert.equal(dnsEdns(dnsQuery(1, 'a', 1)), null);
  });

  test('RFC 1035 §4.1.1: every header bit is kept and emitted back', () => {
    for (let bit = 0; bit < 16; bit++) {
      const b = DNS_QUERY.slice();
      b[2] = (1 << bit) >>> 8;
      b[3] = (1 << bit) & 0xff;
      const r = parseDns(b);
      assert.ok(r.ok);
      assert.deepEqual(buildDns(r.value), b, `bit ${bit}`);
    }
    const r = parseDns(msg([0, 0, 0, 0], [], 0xfbb5));
    assert.ok(r.ok);
    const v = r.value;
    assert.deepEqual([v.qr, v.opcode, v.aa, v.tc, v.rd, v.ra, v.z, v.ad, v.cd, v.rcode], [true, 15, false, true, true, true, false, true, true, 5]);
  });

  test('RFC 1035 §4.1.4: a pointer to itself is a counted drop (dns-pointer-loop), not a hang', () => {
    assert.deepEqual(parseDns(msg([1, 0, 0, 0], [0xc0, 12, 0, 1, 0, 1])), { ok: false, reason: 'dns-pointer-loop' });
  });

  test('RFC 1035 §4.1.4: a label followed by a pointer back to that label is dns-pointer-loop', () => {
    assert.deepEqual(parseDns(msg([1, 0, 0, 0], [1, 0x61, 0xc0, 12, 0, 1, 0, 1])), { ok: false, reason: 'dns-pointer-loop' });
  });

  test('RFC 1035 §4.1.4: two pointers to each other are dns-pointer-loop, from either end', () => {
    // Offset 12: pointer to 14; offset 14: pointer to 12. One question at 12, one answer owner at 14.
    const m = msg([1, 1, 0, 0], [0xc0, 14, 0xc0, 12, 0, 1, 0, 1]);
    assert.deepEqual(parseDns(m), { ok: false, reason: 'dns-pointer-loop' });
    // A record whose name points back to a name that points forward again.
    const n = msg([1, 1, 0, 0], [1, 0x61, 0xc0, 20, 0, 1, 0, 1, 1, 0x62, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0]);
    const r = parseDns(n);
    assert.ok(!r.ok);
    assert.equal(r.reason, 'dns-pointer-loop');
  });

  test('a pointer past the end of the message is dns-bad-pointer; reserved label types 01 and 10 are dns-bad-label', () => {
    assert.deepEqual(parseDns(msg([1, 0, 0, 0], [0xc1, 0x00, 0, 1, 0, 1])), { ok: false, reason: 'dns-bad-pointer' });
    assert.deepEqual(parseDns(msg([1, 0, 0, 0], [0x40, 0, 0, 1, 0, 1])), { ok: false, reason: 'dns-bad-label' });
    assert.deepEqual(parseDns(msg([1, 0, 0, 0], [0x80, 0, 0, 1, 0, 1])), { ok: false, reason: 'dns-bad-label' });
  });

  test('a chain of more than 127 pointers to pointers, or more hops than bytes in the message, is dns-bad-pointer: parsing stays linear', () => {
    // Question: the root name (TXT, IN) at 12. Answer 1: owner root, its RDATA a chain of pointers, the first
    // to 12 and each next to the one before. Answer 2: owner a pointer to the last link, so reading it takes
    // `hops` jumps.
    const chained = (hops: number, owners = 1): Uint8Array => {
      const links = hops - 1;
      const body: number[] = [0, 0, 16, 0, 1, 0, 0, 16, 0, 1, 0, 0, 0, 0, (2 * links) >>> 8, (2 * links) & 0xff];
      for (let i = 0; i < links; i++) {
        const prev = i === 0 ? 12 : 28 + 2 * (i - 1);
        body.push(0xc0 | (prev >>> 8), prev & 0xff);
      }
      const last = 28 + 2 * (links - 1);
      for (let i = 0; i < owners; i++) body.push(0xc0 | (last >>> 8), last & 0xff, 0, 16, 0, 1, 0, 0, 0, 0, 0, 0);
      return msg([1, 1 + owners, 0, 0], body);
    };
    const ok = parseDns(chained(127));
    assert.ok(ok.ok, ok.ok ? '' : ok.reason);
    assert.equal(ok.value.answers[1]!.name, '');
    assert.deepEqual(parseDns(chained(128)), { ok: false, reason: 'dns-bad-pointer' });
    // Per message, the hops are budgeted at one per byte: two owners at the end of the chain (254 hops in
    // a 304-byte message) are fine, three (381 hops in 316 bytes) are refused.
    assert.ok(parseDns(chained(127, 2)).ok);
    assert.equal(chained(127, 3).length, 316);
    assert.deepEqual(parseDns(chained(127, 3)), { ok: false, reason: 'dns-bad-pointer' });
  });

  test('RFC 1035 §2.3.4 "names 255 octets or less": 255 is accepted, 256 is dns-name-too-long, also when built from pointers', () => {
    const label = (n: number): number[] => [n, ...new Array(n).fill(0x61)];
    // 3 × (1 + 63) + (1 + 61) + 1 = 255.
    const ok255 = [...label(63), ...label(63), ...label(63), ...label(61), 0];
    const r = parseDns(msg([1, 0, 0, 0], [...ok255, 0, 1, 0, 1]));
    assert.ok(r.ok, r.ok ? '' : r.reason);
    assert.equal(r.value.questions[0]!.name.length, 253);
    const bad256 = [...label(63), ...label(63), ...label(63), ...label(62), 0];
    assert.deepEqual(parseDns(msg([1, 0, 0, 0], [...bad256, 0, 1, 0, 1])), { ok: false, reason: 'dns-name-too-long' });
    // A chain of backward pointers, each adding a 50-byte label: the sixth name is 6 × 51 + 1 = 307 octets.
    const body: number[] = [...label(50), 0, 0, 1, 0, 1];
    let prev = 12;
    for (let i = 1; i < 6; i++) {
      const at = 12 + body.length;
      body.push(...label(50), 0xc0, prev, 0, 1, 0, 1);
      prev = at;
    }
    assert.deepEqual(parseDns(msg([6, 0, 0, 0], body)), { ok: false, reason: 'dns-name-too-long' });
    assert.ok(parseDns(msg([4, 0, 0, 0], body)).ok, 'the first four names (≤ 205 octets) are fine');
  });

  test('RFC 1035 §4.1.1 TC: a truncated response keeps its complete records; without TC any cut is dns-truncated', () => {
    for (let n = 0; n < DNS_RESPONSE.length; n++) {
      assert.deepEqual(parseDns(DNS_RESPONSE.subarray(0, n)), { ok: false, reason: 'dns-truncated' }, `${n}`);
    }
    const tc = DNS_RESPONSE.slice();
    tc[2] |= 0x02;
    const counts: number[] = [];
    for (let n = 12; n <= tc.length; n++) {
      const r = parseDns(tc.subarray(0, n));
      assert.ok(r.ok, `${n}: ${r.ok ? '' : r.reason}`);
      assert.ok(r.value.tc);
      counts.push(r.value.questions.length + r.value.answers.length + r.value.additionals.length);
    }
    assert.deepEqual([...new Set(counts)], [0, 1, 2, 3, 4, 5], 'records appear one by one as the cut moves');
  });

  test('RFC 1035 §3.4.1 and RFC 3596 §2.2: A with RDLENGTH ≠ 4 and AAAA with ≠ 16 are dns-bad-rdata; so is a CNAME with junk after its name', () => {
    const a = buildDns({ ...RESPONSE, answers: [{ ...RESPONSE.answers[1]!, data: { kind: 'raw', data: Uint8Array.of(1, 2, 3) } }], additionals: [] });
    assert.deepEqual(parseDns(a), { ok: false, reason: 'dns-bad-rdata' });
    const aaaa = buildDns({ ...RESPONSE, answers: [{ ...RESPONSE.answers[2]!, data: { kind: 'raw', data: new Uint8Array(4) } }], additionals: [] });
    assert.deepEqual(parseDns(aaaa), { ok: false, reason: 'dns-bad-rdata' });
    const cname = buildDns({ ...RESPONSE, answers: [{ ...RESPONSE.answers[0]!, data: { kind: 'raw', data: Uint8Array.of(1, 0x61, 0, 0) } }], additionals: [] });
    assert.deepEqual(parseDns(cname), { ok: false, reason: 'dns-bad-rdata' });
    const cut = buildDns({ ...RESPONSE, answers: [{ ...RESPONSE.answers[0]!, data: { kind: 'raw', data: Uint8Array.of(3, 0x61) } }], additionals: [] });
    assert.deepEqual(parseDns(cut), { ok: false, reason: 'dns-bad-rdata' });
    // An A record in another class is not an address: kept raw.
    const chaos = parseDns(buildDns({ ...RESPONSE, answers: [{ ...RESPONSE.answers[1]!, class: 3, data: { kind: 'raw', data: Uint8Array.of(1, 2, 3) } }], additionals: [] }));
    assert.ok(chaos.ok);
  });

  test('names with dots, backslashes, spaces and binary bytes inside labels round-trip through the \\DDD escapes', () => {
    const name = 'a\\.b.c\\\\d.\\000\\032\\255x.example';
    const labels = dnsNameLabels(name);
    assert.deepEqual(labels.map((l) => Array.from(l)), [[0x61, 0x2e, 0x62], [0x63, 0x5c, 0x64], [0, 32, 255, 0x78], Array.from(new TextEncoder().encode('example'))]);
    const m = dnsQuery(7, name, DNS_TYPE_A);
    const r = parseDns(buildDns(m));
    assert.ok(r.ok);
    assert.equal(r.value.questions[0]!.name, name);
    assert.deepEqual(dnsNameLabels('example.com.'), dnsNameLabels('example.com'));
    assert.deepEqual(dnsNameLabels(''), []);
    assert.equal(dnsNameKey('WWW.Example.COM'), 'www.example.com');
  });

  test('compression on emit preserves case (exact suffix match) and stays within 14-bit offsets', () => {
    const m: DnsMessage = {
      ...RESPONSE,
      answers: [
        { name: 'big.example.com', type: 16, class: 1, ttl: 0, data: { kind: 'raw', data: new Uint8Array(0x4100) } },
        { name: 'after.example.com', type: 16, class: 1, ttl: 0, data: { kind: 'raw', data: new Uint8Array(1) } },
        { name: 'after.example.com', type: 16, class: 1, ttl: 0, data: { kind: 'raw', data: new Uint8Array(1) } },
        { name: 'EXAMPLE.com', type: 1, class: 1, ttl: 0, data: { kind: 'a', address: 1 } },
      ],
      additionals: [],
    };
    const out = buildDns(m);
    const r = parseDns(out);
    assert.ok(r.ok, r.ok ? '' : r.reason);
    // The 'after' name lies past 0x4000, so it cannot be pointed at: written twice as label + pointer.
    assert.equal(out.length, dnsMessageLen(m));
    assert.equal(r.value.answers[3]!.name, 'EXAMPLE.com', 'the spelling is kept (only .com is pointed at)');
    assert.deepEqual(r.value, m);
    assert.equal(r.value.answers[2]!.name, 'after.example.com');
  });

  test('emit rejects names that cannot be encoded and a buffer too small', () => {
    assert.throws(() => buildDns(dnsQuery(1, 'a'.repeat(64) + '.com', 1)), /63/);
    assert.throws(() => buildDns(dnsQuery(1, Array(5).fill('a'.repeat(63)).join('.'), 1)), /255/);
    assert.throws(() => buildDns(dnsQuery(1, 'a..com', 1)), /empty label/);
    assert.throws(() => buildDns(dnsQuery(1, 'a\\256', 1)), /255/);
    assert.throws(() => buildDns(dnsQuery(1, 'ü€', 1)), /0xff/);
    assert.throws(() => emitDns(dnsQuery(1, 'a', 1), new Uint8Array(18), 0), /too small/);
    assert.throws(() => buildDns({ ...dnsQuery(70000, 'a', 1) }), /id/);
  });
});
