/**
 * Property tests for every codec (STYLE.md convention 11): emit-then-parse
 * is the identity on valid representations, and no byte string — random or
 * a mutation of a valid packet — makes a parser throw.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { emitIpv4, parseIpv4 } from '../../src/wire/ipv4.ts';
import { emitIpv4Tcp, emitTcp, parseTcp, tcpBufferLen } from '../../src/wire/tcp.ts';
import { emitIcmpEcho, icmpEchoLen, parseIcmp, parseIcmpError } from '../../src/wire/icmp.ts';
import { parsePcap, pcapGlobalHeader, pcapRecord } from '../../src/wire/pcap.ts';
import { formatPacket } from '../../src/wire/pretty.ts';
import { CHECKSUM_FULL, CHECKSUM_OFFLOAD } from '../../src/wire/types.ts';
import type { ChecksumCaps, DropReason } from '../../src/wire/types.ts';
import { icmpEchoRepr, ipv4Addr, ipv4Repr, tcpRepr } from './arbitraries.ts';
import { LINUX_SYN } from './fixtures.ts';

const caps = fc.constantFrom<ChecksumCaps>(CHECKSUM_FULL, CHECKSUM_OFFLOAD);

const IPV4_REASONS = new Set<DropReason>([
  'ipv4-truncated',
  'ipv4-bad-version',
  'ipv4-bad-ihl',
  'ipv4-bad-total-length',
  'ipv4-bad-checksum',
  'ipv4-fragment',
]);
const TCP_REASONS = new Set<DropReason>([
  'tcp-truncated',
  'tcp-bad-data-offset',
  'tcp-bad-checksum',
  'tcp-bad-option',
  'tcp-bad-port',
]);
const ICMP_REASONS = new Set<DropReason>(['icmp-truncated', 'icmp-bad-checksum', 'icmp-unsupported']);

/** Runs every parser on `bytes`; each must return ok or one of its own reasons. */
function parseAll(bytes: Uint8Array, c: ChecksumCaps, src: number, dst: number): void {
  const ip = parseIpv4(bytes, c);
  if (!ip.ok) assert.ok(IPV4_REASONS.has(ip.reason), ip.reason);
  const tcp = parseTcp(bytes, src, dst, c);
  if (!tcp.ok) assert.ok(TCP_REASONS.has(tcp.reason), tcp.reason);
  else assert.ok(tcp.value.payload.length <= bytes.length - 20);
  if (ip.ok) {
    const inner = parseTcp(ip.value.payload, ip.value.header.src, ip.value.header.dst, c);
    if (!inner.ok) assert.ok(TCP_REASONS.has(inner.reason), inner.reason);
  }
  const icmp = parseIcmp(bytes, c);
  if (!icmp.ok) assert.ok(ICMP_REASONS.has(icmp.reason), icmp.reason);
  const icmpErr = parseIcmpError(bytes, c);
  if (!icmpErr.ok) assert.ok(ICMP_REASONS.has(icmpErr.reason), icmpErr.reason);
  else assert.ok(icmpErr.value.transport.length >= 8 && icmpErr.value.transport.length <= bytes.length - 28);
  const pcap = parsePcap(bytes);
  assert.equal(typeof pcap.ok, 'boolean');
  assert.equal(typeof formatPacket(bytes, c), 'string');
}

/** A mutation of a valid packet: flip bytes, truncate, or extend. */
const mutation = fc.record({
  flips: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
  cut: fc.option(fc.nat(), { nil: undefined }),
  extra: fc.uint8Array({ maxLength: 8 }),
});

function mutate(base: Uint8Array, m: { flips: Array<[number, number]>; cut: number | undefined; extra: Uint8Array }): Uint8Array {
  let b = base.slice();
  for (const [at, v] of m.flips) if (b.length > 0) b[at % b.length] = v;
  if (m.cut !== undefined) b = b.subarray(0, m.cut % (b.length + 1));
  const out = new Uint8Array(b.length + m.extra.length);
  out.set(b);
  out.set(m.extra, b.length);
  return out;
}

describe('wire properties', () => {
  test('TCP: parse(emit(repr)) deep-equals repr for arbitrary valid segments (RFC 9293 §3.1)', () => {
    fc.assert(
      fc.property(tcpRepr, ipv4Addr, ipv4Addr, fc.nat(3), (repr, src, dst, offset) => {
        const len = tcpBufferLen(repr);
        const buf = new Uint8Array(offset + len + 3);
        assert.equal(emitTcp(repr, src, dst, buf, offset, CHECKSUM_FULL), len);
        const r = parseTcp(buf.subarray(offset, offset + len), src, dst, CHECKSUM_FULL);
        assert.ok(r.ok, r.ok ? '' : r.reason);
        assert.deepEqual(r.value, repr);
        // And the bytes are a fixed point: emitting the parsed value again gives the same bytes.
        const again = new Uint8Array(len);
        emitTcp(r.value, src, dst, again, 0, CHECKSUM_FULL);
        assert.deepEqual(again, buf.subarray(offset, offset + len));
      }),
      { seed: 42, numRuns: 500 },
    );
  });

  test('IPv4: parse(emit(repr)) deep-equals repr for arbitrary valid headers (RFC 791 §3.1)', () => {
    fc.assert(
      fc.property(ipv4Repr, fc.nat(3), (repr, offset) => {
        const buf = new Uint8Array(offset + 20 + repr.payloadLen);
        emitIpv4(repr, buf, offset, CHECKSUM_FULL);
        const r = parseIpv4(buf.subarray(offset), CHECKSUM_FULL);
        assert.ok(r.ok, r.ok ? '' : r.reason);
        assert.deepEqual(r.value.header, repr);
        assert.equal(r.value.payload.length, repr.payloadLen);
      }),
      { seed: 42, numRuns: 300 },
    );
  });

  test('IPv4+TCP: emitIpv4Tcp then parseIpv4 and parseTcp give back both representations', () => {
    fc.assert(
      fc.property(ipv4Repr, tcpRepr, (ip, tcp) => {
        const { payloadLen: _p, protocol: _q, ...hdr } = ip;
        const pkt = emitIpv4Tcp(hdr, tcp, CHECKSUM_FULL);
        const r = parseIpv4(pkt, CHECKSUM_FULL);
        assert.ok(r.ok);
        assert.deepEqual(r.value.header, { ...ip, protocol: 6, payloadLen: pkt.length - 20 });
        const t = parseTcp(r.value.payload, ip.src, ip.dst, CHECKSUM_FULL);
        assert.ok(t.ok);
        assert.deepEqual(t.value, tcp);
      }),
      { seed: 42, numRuns: 200 },
    );
  });

  test('ICMP: parse(emit(repr)) deep-equals repr for arbitrary echo messages (RFC 792)', () => {
    fc.assert(
      fc.property(icmpEchoRepr, (repr) => {
        const buf = new Uint8Array(icmpEchoLen(repr));
        emitIcmpEcho(repr, buf, 0);
        const r = parseIcmp(buf, CHECKSUM_FULL);
        assert.ok(r.ok, r.ok ? '' : r.reason);
        assert.deepEqual(r.value, repr);
      }),
      { seed: 42, numRuns: 300 },
    );
  });

  test('pcap: parsePcap reads back arbitrary records written by pcapRecord', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 2 ** 40 }), fc.uint8Array({ maxLength: 80, size: 'max' })), { maxLength: 6 }),
        (recs) => {
          const parts = [pcapGlobalHeader(), ...recs.map(([t, d]) => pcapRecord(t, d))];
          const file = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
          let at = 0;
          for (const p of parts) {
            file.set(p, at);
            at += p.length;
          }
          const r = parsePcap(file);
          assert.ok(r.ok);
          assert.deepEqual(
            r.records.map((x) => [x.tsMicros, x.data]),
            recs,
          );
        },
      ),
      { seed: 42, numRuns: 200 },
    );
  });

  test('arbitrary bytes never make a parser throw; each returns ok or one of its reasons', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120, size: 'max' }), caps, ipv4Addr, ipv4Addr, (bytes, c, src, dst) => {
        parseAll(bytes, c, src, dst);
      }),
      { seed: 42, numRuns: 1000 },
    );
  });

  test('mutations of valid packets never make a parser throw', () => {
    const validTcp = fc.tuple(ipv4Repr, tcpRepr).map(([ip, tcp]) => emitIpv4Tcp(ip, tcp, CHECKSUM_FULL));
    const pcapFile = fc.constant(
      (() => {
        const h = pcapGlobalHeader();
        const r = pcapRecord(1, LINUX_SYN);
        const f = new Uint8Array(h.length + r.length * 2);
        f.set(h);
        f.set(r, h.length);
        f.set(r, h.length + r.length);
        return f;
      })(),
    );
    fc.assert(
      fc.property(fc.oneof(validTcp, fc.constant(LINUX_SYN), pcapFile), mutation, caps, (base, m, c) => {
        const bytes = mutate(base, m);
        parseAll(bytes, c, 0x0a000001, 0x0a000002);
        // Also from the inside: the mutated IP payload as a TCP segment.
        parseAll(bytes.subarray(20), c, 0x0a000001, 0x0a000002);
      }),
      { seed: 42, numRuns: 1000 },
    );
  });

  test('a TCP header with every possible option byte layout never throws (bounded exhaustive sweep)', () => {
    const seg = LINUX_SYN.slice(20);
    let ok = 0;
    for (let kind = 0; kind < 256; kind++) {
      for (let len = 0; len < 256; len += 1) {
        seg[20] = kind;
        seg[21] = len;
        const r = parseTcp(seg, 1, 2, CHECKSUM_OFFLOAD);
        if (r.ok) ok++;
        else assert.ok(TCP_REASONS.has(r.reason));
      }
    }
    assert.ok(ok > 0);
  });
});
