import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { emitIpv4, IPV4_HEADER_LEN, ipv4HeaderLen, parseIpv4 } from '../../src/wire/ipv4.ts';
import { checksum } from '../../src/wire/checksum.ts';
import { setU16 } from '../../src/wire/bytes.ts';
import { CHECKSUM_FULL, CHECKSUM_OFFLOAD, IPPROTO_TCP } from '../../src/wire/types.ts';
import type { Ipv4Repr } from '../../src/wire/types.ts';
import { LINUX_SYN, WIKIPEDIA_IPV4_HEADER } from './fixtures.ts';

/** Rewrites the header checksum after a test mutates a header field. */
function refill(b: Uint8Array): Uint8Array {
  const hl = (b[0]! & 0x0f) * 4;
  setU16(b, 10, 0);
  setU16(b, 10, checksum(b, 0, Math.min(hl, b.length)));
  return b;
}

function reasonOf(b: Uint8Array, caps = CHECKSUM_FULL): string {
  const r = parseIpv4(b, caps);
  return r.ok ? 'ok' : r.reason;
}

const SYN_HEADER: Ipv4Repr = {
  src: 0xc0a8010a,
  dst: 0x5db8d822,
  protocol: IPPROTO_TCP,
  ttl: 64,
  tos: 0,
  ident: 0xd431,
  dontFragment: true,
  payloadLen: 40,
};

describe('wire/ipv4', () => {
  test('IPv4: a Linux SYN header decodes field by field (RFC 791 §3.1)', () => {
    const r = parseIpv4(LINUX_SYN, CHECKSUM_FULL);
    assert.ok(r.ok);
    assert.deepEqual(r.value.header, SYN_HEADER);
    assert.equal(r.value.payload.length, 40);
    assert.equal(r.value.payload.byteOffset, LINUX_SYN.byteOffset + 20);
    assert.equal(r.value.payload.buffer, LINUX_SYN.buffer, 'payload is a view, not a copy');
  });

  test('IPv4: emit writes the Linux SYN header byte for byte, checksum included (RFC 791 §3.1)', () => {
    const buf = new Uint8Array(24).fill(0xaa);
    assert.equal(emitIpv4(SYN_HEADER, buf, 2, CHECKSUM_OFFLOAD), 20);
    assert.deepEqual(buf.subarray(2, 22), LINUX_SYN.subarray(0, 20));
    assert.equal(buf[0], 0xaa);
    assert.equal(buf[22], 0xaa);
    assert.equal(ipv4HeaderLen, IPV4_HEADER_LEN);
    assert.equal(ipv4HeaderLen, 20);
  });

  test('IPv4: the Wikipedia UDP header decodes with DF and protocol 17', () => {
    const pkt = new Uint8Array(0x73);
    pkt.set(WIKIPEDIA_IPV4_HEADER);
    const r = parseIpv4(pkt, CHECKSUM_FULL);
    assert.ok(r.ok);
    assert.equal(r.value.header.protocol, 17);
    assert.equal(r.value.header.dontFragment, true);
    assert.equal(r.value.header.payloadLen, 0x73 - 20);
  });

  test('IPv4: fewer than 20 bytes is dropped as ipv4-truncated (RFC 791 §3.1)', () => {
    for (let n = 0; n < 20; n++) assert.equal(reasonOf(LINUX_SYN.subarray(0, n)), 'ipv4-truncated');
  });

  test('IPv4: a version other than 4 is dropped as ipv4-bad-version (RFC 791 §3.1)', () => {
    const b = LINUX_SYN.slice();
    b[0] = 0x65;
    assert.equal(reasonOf(refill(b)), 'ipv4-bad-version');
  });

  test('IPv4: IHL below 5 or past the buffer is dropped as ipv4-bad-ihl (RFC 791 §3.1)', () => {
    const b = LINUX_SYN.slice();
    b[0] = 0x44;
    assert.equal(reasonOf(b), 'ipv4-bad-ihl');
    const short = LINUX_SYN.slice(0, 24);
    short[0] = 0x47; // 28-byte header in 24 bytes
    assert.equal(reasonOf(short), 'ipv4-bad-ihl');
  });

  test('IPv4: a total length below the header or past the buffer is dropped as ipv4-bad-total-length', () => {
    const b = LINUX_SYN.slice();
    setU16(b, 2, 19);
    assert.equal(reasonOf(refill(b)), 'ipv4-bad-total-length');
    setU16(b, 2, 61);
    assert.equal(reasonOf(refill(b)), 'ipv4-bad-total-length');
    setU16(b, 2, 20);
    assert.equal(reasonOf(refill(b)), 'ok');
  });

  test('IPv4: bytes past the total length (link padding) are ignored', () => {
    const padded = new Uint8Array(LINUX_SYN.length + 6);
    padded.set(LINUX_SYN);
    padded.fill(0xee, LINUX_SYN.length);
    const r = parseIpv4(padded, CHECKSUM_FULL);
    assert.ok(r.ok);
    assert.equal(r.value.payload.length, 40);
    assert.equal(r.value.header.payloadLen, 40);
  });

  test('IPv4: a header checksum mismatch is dropped as ipv4-bad-checksum (RFC 791 §3.1)', () => {
    const b = LINUX_SYN.slice();
    b[8] = 63; // TTL changed, checksum not updated
    assert.equal(reasonOf(b), 'ipv4-bad-checksum');
    assert.equal(reasonOf(b, CHECKSUM_OFFLOAD), 'ok', 'not verified when the link offloads checksums');
  });

  test('IPv4: the header checksum covers the options (RFC 791 §3.1)', () => {
    const b = new Uint8Array(64);
    b.set(LINUX_SYN.subarray(0, 20));
    b[0] = 0x46;
    setU16(b, 2, 64);
    b.set([0x01, 0x01, 0x01, 0x00], 20); // NOP NOP NOP EOL
    refill(b);
    assert.equal(reasonOf(b), 'ok');
    b[21] = 0x07;
    assert.equal(reasonOf(b), 'ipv4-bad-checksum');
  });

  test('IPv4: options are skipped by the IHL and the payload starts after them', () => {
    const b = new Uint8Array(60 + 8);
    b.set(LINUX_SYN.subarray(0, 20));
    b[0] = 0x4f; // 60-byte header, 40 bytes of options (arbitrary content)
    b.fill(0x99, 20, 60);
    b.fill(0x11, 60);
    setU16(b, 2, 68);
    refill(b);
    const r = parseIpv4(b, CHECKSUM_FULL);
    assert.ok(r.ok);
    assert.equal(r.value.header.payloadLen, 8);
    assert.deepEqual([...r.value.payload], new Array(8).fill(0x11));
  });

  test('IPv4: MF set or a non-zero fragment offset is dropped as ipv4-fragment (RFC 791 §2.3)', () => {
    const mf = LINUX_SYN.slice();
    setU16(mf, 6, 0x2000);
    assert.equal(reasonOf(refill(mf)), 'ipv4-fragment');
    const off = LINUX_SYN.slice();
    setU16(off, 6, 0x4001);
    assert.equal(reasonOf(refill(off)), 'ipv4-fragment');
    const df = LINUX_SYN.slice();
    setU16(df, 6, 0x4000);
    assert.equal(reasonOf(refill(df)), 'ok');
    const reserved = LINUX_SYN.slice();
    setU16(reserved, 6, 0x8000); // the reserved flag bit is ignored
    assert.equal(reasonOf(refill(reserved)), 'ok');
  });

  test('IPv4: emit rejects a buffer too small and fields out of range (programmer errors)', () => {
    assert.throws(() => emitIpv4(SYN_HEADER, new Uint8Array(19), 0), /too small/);
    assert.throws(() => emitIpv4(SYN_HEADER, new Uint8Array(20), 1), /too small/);
    assert.throws(() => emitIpv4({ ...SYN_HEADER, ttl: 256 }, new Uint8Array(20), 0), /ttl/);
    assert.throws(() => emitIpv4({ ...SYN_HEADER, payloadLen: 65516 }, new Uint8Array(20), 0), /payloadLen/);
    assert.throws(() => emitIpv4({ ...SYN_HEADER, src: -1 }, new Uint8Array(20), 0), /src/);
  });
});
