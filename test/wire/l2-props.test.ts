/**
 * Property tests for the link-layer and service codecs (STYLE.md
 * convention 11): emit-then-parse is the identity on valid representations,
 * and no byte string — random or a mutation of a valid packet — makes a
 * parser throw or return a reason outside its own group.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { buildEthernetFrame, ethernetHeaderLen, parseEthernet } from '../../src/wire/ethernet.ts';
import { emitArp, parseArp } from '../../src/wire/arp.ts';
import { emitUdp, parseUdp, udpLen, udpPseudoV4, udpPseudoV6 } from '../../src/wire/udp.ts';
import { buildDhcp, parseDhcp } from '../../src/wire/dhcp.ts';
import { buildDns, parseDns } from '../../src/wire/dns.ts';
import { CHECKSUM_FULL, CHECKSUM_OFFLOAD } from '../../src/wire/types.ts';
import type { ChecksumCaps } from '../../src/wire/types.ts';
import { u32 } from './arbitraries.ts';
import { arpRepr, dhcpMessage, dnsMessage, ethernetRepr, udpRepr } from './l2-arbitraries.ts';
import { ARP_REQUEST_FRAME, DHCP_DISCOVER_FRAME, DHCP_OFFER, DNS_QUERY, DNS_RESPONSE, QINQ_FRAME, UDP_IPV4_PACKET, VLAN_FRAME } from './l2-fixtures.ts';

const caps = fc.constantFrom<ChecksumCaps>(CHECKSUM_FULL, CHECKSUM_OFFLOAD);
const v6addr = fc.uint8Array({ minLength: 16, maxLength: 16 });

/** Runs every parser; each must return ok or a reason of its own group. */
function parseAll(bytes: Uint8Array, c: ChecksumCaps, src: number, dst: number): void {
  const e = parseEthernet(bytes);
  if (!e.ok) assert.match(e.reason, /^eth-/);
  else assert.ok(e.value.payload.length <= bytes.length - 14);
  const a = parseArp(bytes);
  if (!a.ok) assert.match(a.reason, /^arp-/);
  for (const p of [udpPseudoV4(src, dst), udpPseudoV6(new Uint8Array(16).fill(src & 0xff), new Uint8Array(16))]) {
    const u = parseUdp(bytes, p, c);
    if (!u.ok) assert.match(u.reason, /^udp-/);
    else assert.ok(u.value.payload.length <= bytes.length - 8);
  }
  const d = parseDhcp(bytes);
  if (!d.ok) assert.match(d.reason, /^dhcp-/);
  const n = parseDns(bytes);
  if (!n.ok) assert.match(n.reason, /^dns-/);
  else for (const q of n.value.questions) assert.ok(q.name.length <= 4 * 255);
}

const mutation = fc.record({
  flips: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
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

describe('wire properties: Ethernet, ARP, UDP, DHCP, DNS', () => {
  test('Ethernet: parse(build(repr, payload)) gives back the header and payload (RFC 894, IEEE 802.1Q)', () => {
    fc.assert(
      fc.property(ethernetRepr, fc.uint8Array({ maxLength: 80 }), (repr, payload) => {
        const f = buildEthernetFrame(repr, payload);
        assert.ok(f.length >= 60);
        const r = parseEthernet(f);
        assert.ok(r.ok, r.ok ? '' : r.reason);
        assert.deepEqual(r.value.header, repr);
        assert.deepEqual(r.value.payload.subarray(0, payload.length), payload);
        assert.equal(r.value.payload.length, f.length - ethernetHeaderLen(repr));
      }),
      { seed: 42, numRuns: 300 },
    );
  });

  test('ARP: parse(emit(repr)) deep-equals repr (RFC 826)', () => {
    fc.assert(
      fc.property(arpRepr, (repr) => {
        const b = new Uint8Array(28);
        emitArp(repr, b, 0);
        const r = parseArp(b);
        assert.ok(r.ok);
        assert.deepEqual(r.value, repr);
      }),
      { seed: 42, numRuns: 300 },
    );
  });

  test('UDP: parse(emit(repr)) deep-equals repr over IPv4 and IPv6 pseudo-headers, checksum verified (RFC 768, RFC 8200 §8.1)', () => {
    fc.assert(
      fc.property(udpRepr, u32, u32, v6addr, v6addr, fc.boolean(), (repr, s4, d4, s6, d6, v6) => {
        const p = v6 ? udpPseudoV6(s6, d6) : udpPseudoV4(s4, d4);
        const b = new Uint8Array(udpLen(repr));
        emitUdp(repr, p, b, 0, CHECKSUM_FULL);
        assert.notEqual((b[6]! << 8) | b[7]!, 0, 'a filled checksum is never 0');
        const r = parseUdp(b, p, CHECKSUM_FULL);
        assert.ok(r.ok, r.ok ? '' : r.reason);
        assert.deepEqual(r.value, repr);
      }),
      { seed: 42, numRuns: 500 },
    );
  });

  test('DHCP: parse(build(msg)) deep-equals msg, long options split and joined (RFC 2131, RFC 2132, RFC 3396)', () => {
    fc.assert(
      fc.property(dhcpMessage, (m) => {
        const b = buildDhcp(m);
        assert.ok(b.length >= 300);
        const r = parseDhcp(b);
        assert.ok(r.ok, r.ok ? '' : r.reason);
        assert.deepEqual(r.value, m);
      }),
      { seed: 42, numRuns: 300 },
    );
  });

  test('DNS: parse(build(msg)) deep-equals msg with and without compression (RFC 1035 §4)', () => {
    fc.assert(
      fc.property(dnsMessage, fc.boolean(), (m, compress) => {
        const b = buildDns(m, compress);
        const r = parseDns(b);
        assert.ok(r.ok, r.ok ? '' : r.reason);
        assert.deepEqual(r.value, m);
      }),
      { seed: 42, numRuns: 300 },
    );
  });

  test('arbitrary bytes never make a parser throw; each returns ok or one of its reasons', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400, size: 'max' }), caps, u32, u32, (bytes, c, s, d) => parseAll(bytes, c, s, d)),
      { seed: 42, numRuns: 2000 },
    );
  });

  test('arbitrary bytes behind a valid DNS header or DHCP cookie never make a parser throw', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300, size: 'max' }), fc.nat(0xffff), (tail, counts) => {
        const dns = new Uint8Array(12 + tail.length);
        dns.set(DNS_RESPONSE.subarray(0, 12));
        dns[5] = counts & 7;
        dns[7] = counts >>> 3 & 7;
        dns[11] = counts >>> 6 & 7;
        dns.set(tail, 12);
        parseAll(dns, CHECKSUM_OFFLOAD, 1, 2);
        const dhcp = new Uint8Array(240 + tail.length);
        dhcp.set(DHCP_OFFER.subarray(0, 240));
        dhcp.set(tail, 240);
        parseAll(dhcp, CHECKSUM_OFFLOAD, 1, 2);
      }),
      { seed: 42, numRuns: 2000 },
    );
  });

  test('mutations of valid frames and messages never make a parser throw', () => {
    const bases = [ARP_REQUEST_FRAME, VLAN_FRAME, QINQ_FRAME, UDP_IPV4_PACKET.subarray(20), DHCP_DISCOVER_FRAME.subarray(42), DHCP_OFFER, DNS_QUERY, DNS_RESPONSE];
    fc.assert(
      fc.property(fc.constantFrom(...bases), mutation, caps, (base, m, c) => {
        const bytes = mutate(base, m);
        parseAll(bytes, c, 0x0a000001, 0x0a000002);
        parseAll(bytes.subarray(14), c, 0x0a000001, 0x0a000002);
      }),
      { seed: 42, numRuns: 3000 },
    );
  });
});
