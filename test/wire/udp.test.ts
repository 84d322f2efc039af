import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { emitUdp, parseUdp, UDP_HEADER_LEN, udpLen, udpPseudoV4, udpPseudoV6 } from '../../src/wire/udp.ts';
import type { UdpRepr } from '../../src/wire/udp.ts';
import { parseIpv4 } from '../../src/wire/ipv4.ts';
import { checksum } from '../../src/wire/checksum.ts';
import { getU16, ipv4Addr, setU16 } from '../../src/wire/bytes.ts';
import { CHECKSUM_FULL, CHECKSUM_OFFLOAD } from '../../src/wire/types.ts';
import { hexBytes, naiveChecksum } from './fixtures.ts';
import { UDP_IPV4_PACKET, VLAN_FRAME } from './l2-fixtures.ts';

const SRC = ipv4Addr(192, 168, 1, 10);
const DST = ipv4Addr(192, 168, 1, 1);
const DGRAM = UDP_IPV4_PACKET.subarray(20);
const V6_SRC = hexBytes('fe80 0000 0000 0000 0200 00ff fe00 0001');
const V6_DST = hexBytes('fe80 0000 0000 0000 0200 00ff fe00 0002');

/** The RFC 8200 §8.1 pseudo-header written out, for the naive oracle. */
function v6PseudoHeader(len: number): Uint8Array {
  const p = new Uint8Array(40);
  p.set(V6_SRC, 0);
  p.set(V6_DST, 16);
  p[34] = len >>> 8;
  p[35] = len & 0xff;
  p[39] = 17;
  return p;
}

describe('wire/udp', () => {
  test('RFC 768: a datagram captured from scapy decodes field by field and its checksum verifies', () => {
    const ip = parseIpv4(UDP_IPV4_PACKET, CHECKSUM_FULL);
    assert.ok(ip.ok);
    const r = parseUdp(ip.value.payload, udpPseudoV4(SRC, DST), CHECKSUM_FULL);
    assert.ok(r.ok);
    assert.deepEqual(r.value, { srcPort: 54321, dstPort: 53, payload: new TextEncoder().encode('hello, udp!') });
    assert.equal(r.value.payload.buffer, UDP_IPV4_PACKET.buffer, 'payload is a view');
  });

  test('RFC 768: emit writes the scapy datagram byte for byte (odd length: zero-padded checksum)', () => {
    const repr: UdpRepr = { srcPort: 54321, dstPort: 53, payload: new TextEncoder().encode('hello, udp!') };
    const buf = new Uint8Array(udpLen(repr) + 3);
    assert.equal(emitUdp(repr, udpPseudoV4(SRC, DST), buf, 2, CHECKSUM_FULL), 19);
    assert.deepEqual(buf.subarray(2, 21), DGRAM);
  });

  test('the UDP inside the scapy 802.1Q frame verifies too (10.0.0.1:1234 → 10.0.0.2:7, checksum 0x7e95)', () => {
    const ip = parseIpv4(VLAN_FRAME.subarray(18), CHECKSUM_FULL);
    assert.ok(ip.ok);
    const r = parseUdp(ip.value.payload, udpPseudoV4(ip.value.header.src, ip.value.header.dst), CHECKSUM_FULL);
    assert.ok(r.ok);
    assert.equal(r.value.dstPort, 7);
  });

  test('RFC 768: a checksum mismatch is udp-bad-checksum; not verified when the link offloads', () => {
    const b = DGRAM.slice();
    b[10] ^= 1;
    assert.deepEqual(parseUdp(b, udpPseudoV4(SRC, DST), CHECKSUM_FULL), { ok: false, reason: 'udp-bad-checksum' });
    assert.deepEqual(parseUdp(DGRAM, udpPseudoV4(SRC, DST + 1), CHECKSUM_FULL), { ok: false, reason: 'udp-bad-checksum' }, 'the pseudo-header counts');
    assert.ok(parseUdp(b, udpPseudoV4(SRC, DST), CHECKSUM_OFFLOAD).ok);
  });

  test('RFC 768 "An all zero transmitted checksum value means that the transmitter generated no checksum": accepted on IPv4', () => {
    const b = DGRAM.slice();
    setU16(b, 6, 0);
    b[10] ^= 0xff; // any content: nothing to verify
    assert.ok(parseUdp(b, udpPseudoV4(SRC, DST), CHECKSUM_FULL).ok);
  });

  test('RFC 8200 §8.1 "IPv6 receivers must discard UDP packets containing a zero checksum": udp-zero-checksum', () => {
    const repr: UdpRepr = { srcPort: 1, dstPort: 2, payload: Uint8Array.of(1, 2, 3) };
    const b = new Uint8Array(udpLen(repr));
    emitUdp(repr, udpPseudoV6(V6_SRC, V6_DST), b, 0, CHECKSUM_FULL);
    assert.ok(parseUdp(b, udpPseudoV6(V6_SRC, V6_DST), CHECKSUM_FULL).ok);
    setU16(b, 6, 0);
    assert.deepEqual(parseUdp(b, udpPseudoV6(V6_SRC, V6_DST), CHECKSUM_FULL), { ok: false, reason: 'udp-zero-checksum' });
    assert.ok(parseUdp(b, udpPseudoV4(SRC, DST), CHECKSUM_FULL).ok, 'the same bytes are fine on IPv4');
  });

  test('RFC 8200 §8.1: the IPv6 checksum covers the 40-byte pseudo-header (naive oracle)', () => {
    const repr: UdpRepr = { srcPort: 5353, dstPort: 5353, payload: Uint8Array.from({ length: 301 }, (_, i) => i * 7) };
    const b = new Uint8Array(udpLen(repr));
    emitUdp(repr, udpPseudoV6(V6_SRC, V6_DST), b, 0, CHECKSUM_FULL);
    const sent = getU16(b, 6);
    setU16(b, 6, 0);
    const whole = new Uint8Array(40 + b.length);
    whole.set(v6PseudoHeader(b.length));
    whole.set(b, 40);
    assert.equal(sent, naiveChecksum(whole, 0, whole.length) || 0xffff);
    setU16(b, 6, sent);
    assert.equal(checksum(b, 0, b.length, udpPseudoV6(V6_SRC, V6_DST).addrSum + 17 + b.length), 0);
  });

  test('RFC 768 "If the computed checksum is zero, it is transmitted as all ones": v4 and v6', () => {
    // Find a payload whose checksum computes to zero, then check it goes out as 0xffff and verifies.
    for (const pseudo of [udpPseudoV4(SRC, DST), udpPseudoV6(V6_SRC, V6_DST)]) {
      const repr: UdpRepr = { srcPort: 1000, dstPort: 2000, payload: new Uint8Array(2) };
      const b = new Uint8Array(10);
      emitUdp(repr, pseudo, b, 0, CHECKSUM_FULL);
      // Adjust the payload word so that the complemented sum becomes 0: add the current checksum to it.
      const c = getU16(b, 6);
      repr.payload = Uint8Array.of(c >>> 8, c & 0xff);
      emitUdp(repr, pseudo, b, 0, CHECKSUM_FULL);
      assert.equal(getU16(b, 6), 0xffff, 'zero is sent as all ones');
      assert.ok(parseUdp(b, pseudo, CHECKSUM_FULL).ok, 'and all ones verifies');
    }
  });

  test('without fillTx the checksum is 0 ("none" on IPv4)', () => {
    const b = new Uint8Array(9);
    emitUdp({ srcPort: 1, dstPort: 2, payload: Uint8Array.of(9) }, udpPseudoV4(SRC, DST), b, 0, CHECKSUM_OFFLOAD);
    assert.equal(getU16(b, 6), 0);
    assert.ok(parseUdp(b, udpPseudoV4(SRC, DST), CHECKSUM_FULL).ok);
  });

  test('RFC 768 "the minimum value of the length is eight": short or overlong length fields are udp-bad-length; cuts below 8 are udp-truncated', () => {
    for (let n = 0; n < UDP_HEADER_LEN; n++) {
      assert.deepEqual(parseUdp(DGRAM.subarray(0, n), udpPseudoV4(SRC, DST), CHECKSUM_FULL), { ok: false, reason: 'udp-truncated' }, `${n}`);
    }
    for (let n = UDP_HEADER_LEN; n < DGRAM.length; n++) {
      assert.deepEqual(parseUdp(DGRAM.subarray(0, n), udpPseudoV4(SRC, DST), CHECKSUM_OFFLOAD), { ok: false, reason: 'udp-bad-length' }, `${n}`);
    }
    for (const len of [0, 7]) {
      const b = DGRAM.slice();
      setU16(b, 4, len);
      assert.deepEqual(parseUdp(b, udpPseudoV4(SRC, DST), CHECKSUM_OFFLOAD), { ok: false, reason: 'udp-bad-length' }, `${len}`);
    }
  });

  test('bytes past the UDP length (link padding) are ignored, for the payload and the checksum', () => {
    const padded = new Uint8Array(DGRAM.length + 27);
    padded.set(DGRAM);
    padded.fill(0xaa, DGRAM.length);
    const r = parseUdp(padded, udpPseudoV4(SRC, DST), CHECKSUM_FULL);
    assert.ok(r.ok);
    assert.equal(r.value.payload.length, 11);
  });

  test('emit rejects programmer errors: small buffer, ports out of range, over 65535 bytes, bad IPv6 address', () => {
    const repr: UdpRepr = { srcPort: 1, dstPort: 2, payload: new Uint8Array(4) };
    assert.throws(() => emitUdp(repr, udpPseudoV4(SRC, DST), new Uint8Array(11), 0, CHECKSUM_FULL), /too small/);
    assert.throws(() => emitUdp({ ...repr, dstPort: 65536 }, udpPseudoV4(SRC, DST), new Uint8Array(12), 0, CHECKSUM_FULL), /dstPort/);
    assert.throws(() => emitUdp({ ...repr, payload: new Uint8Array(65528) }, udpPseudoV4(SRC, DST), new Uint8Array(70000), 0, CHECKSUM_FULL), /65535/);
    assert.throws(() => udpPseudoV6(new Uint8Array(4), V6_DST), /16 bytes/);
  });
});
