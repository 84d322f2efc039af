import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  emitIpv4Tcp,
  emitTcp,
  flagsToString,
  parseTcp,
  tcpBufferLen,
  tcpHeaderLen,
} from '../../src/wire/tcp.ts';
import { parseIpv4 } from '../../src/wire/ipv4.ts';
import { checksum, pseudoHeaderSum } from '../../src/wire/checksum.ts';
import { getU16, setU16 } from '../../src/wire/bytes.ts';
import {
  ACK,
  CHECKSUM_FULL,
  CHECKSUM_OFFLOAD,
  CWR,
  ECE,
  FIN,
  IPPROTO_TCP,
  PSH,
  RST,
  SYN,
  URG,
} from '../../src/wire/types.ts';
import type { TcpRepr } from '../../src/wire/types.ts';
import { LINUX_SYN, naiveChecksum } from './fixtures.ts';

const SRC = 0xc0a8010a; // 192.168.1.10
const DST = 0x5db8d822; // 93.184.216.34
const SYN_SEGMENT = LINUX_SYN.subarray(20);

const SYN_REPR: TcpRepr = {
  srcPort: 49152,
  dstPort: 80,
  seq: 0x8f3c1a2b,
  ack: 0,
  flags: SYN,
  window: 64240,
  urgentPointer: 0,
  options: [
    { kind: 'mss', value: 1460 },
    { kind: 'sack-permitted' },
    { kind: 'timestamp', tsval: 2886793013, tsecr: 0 },
    { kind: 'nop' },
    { kind: 'window-scale', shift: 7 },
  ],
  payload: new Uint8Array(0),
};

/** Rewrites the TCP checksum after a test mutates the segment. */
function refill(seg: Uint8Array): Uint8Array {
  setU16(seg, 16, 0);
  setU16(seg, 16, checksum(seg, 0, seg.length, pseudoHeaderSum(SRC, DST, IPPROTO_TCP, seg.length)));
  return seg;
}

function reasonOf(seg: Uint8Array, caps = CHECKSUM_FULL): string {
  const r = parseTcp(seg, SRC, DST, caps);
  return r.ok ? 'ok' : r.reason;
}

describe('wire/tcp', () => {
  test('TCP: a Linux SYN with MSS, SACK-permitted, TS, NOP, WS decodes field by field (RFC 9293 §3.1)', () => {
    const r = parseTcp(SYN_SEGMENT, SRC, DST, CHECKSUM_FULL);
    assert.ok(r.ok);
    assert.equal(r.value.srcPort, 49152);
    assert.equal(r.value.dstPort, 80);
    assert.equal(r.value.seq, 0x8f3c1a2b);
    assert.equal(r.value.ack, 0);
    assert.equal(r.value.flags, SYN);
    assert.equal(r.value.window, 64240);
    assert.equal(r.value.urgentPointer, 0);
    assert.deepEqual(r.value.options, SYN_REPR.options);
    assert.equal(r.value.payload.length, 0);
    assert.deepEqual(r.value, SYN_REPR);
    assert.equal(tcpHeaderLen(r.value), 40);
  });

  test('TCP: emit writes the Linux SYN byte for byte, checksum included (RFC 9293 §3.1)', () => {
    const buf = new Uint8Array(44).fill(0xaa);
    assert.equal(emitTcp(SYN_REPR, SRC, DST, buf, 2, CHECKSUM_FULL), 40);
    assert.deepEqual(buf.subarray(2, 42), SYN_SEGMENT);
    assert.equal(buf[1], 0xaa);
    assert.equal(buf[42], 0xaa);
  });

  test('TCP: emitIpv4Tcp allocates the exact packet and reproduces the Linux SYN', () => {
    const pkt = emitIpv4Tcp(
      { src: SRC, dst: DST, ttl: 64, tos: 0, ident: 0xd431, dontFragment: true },
      SYN_REPR,
      CHECKSUM_FULL,
    );
    assert.deepEqual(pkt, LINUX_SYN);
  });

  test('TCP: a segment with payload emits, verifies and parses back; the payload is a view', () => {
    const repr: TcpRepr = {
      srcPort: 80,
      dstPort: 49152,
      seq: 0xfffffff0,
      ack: 0x8f3c1a2c,
      flags: PSH | ACK,
      window: 502,
      urgentPointer: 0,
      options: [{ kind: 'nop' }, { kind: 'nop' }, { kind: 'timestamp', tsval: 1, tsecr: 2886793013 }],
      payload: new TextEncoder().encode('HTTP/1.1 200 OK\r\n'), // odd length
    };
    const pkt = emitIpv4Tcp({ src: DST, dst: SRC, ttl: 57, tos: 0, ident: 0, dontFragment: true }, repr, CHECKSUM_FULL);
    assert.equal(pkt.length, 20 + tcpBufferLen(repr));
    const ip = parseIpv4(pkt, CHECKSUM_FULL);
    assert.ok(ip.ok);
    const seg = ip.value.payload;
    assert.equal(naiveChecksum(seg, 0, seg.length, pseudoHeaderSum(DST, SRC, IPPROTO_TCP, seg.length)), 0);
    const r = parseTcp(seg, DST, SRC, CHECKSUM_FULL);
    assert.ok(r.ok);
    assert.deepEqual(r.value, repr);
    assert.equal(r.value.payload.buffer, pkt.buffer, 'payload is a view, not a copy');
  });

  test('TCP: fewer than 20 bytes is dropped as tcp-truncated (RFC 9293 §3.1)', () => {
    for (let n = 0; n < 20; n++) assert.equal(reasonOf(SYN_SEGMENT.subarray(0, n)), 'tcp-truncated');
  });

  test('TCP: a data offset below 5 or past the segment is dropped as tcp-bad-data-offset (RFC 9293 §3.1)', () => {
    const low = SYN_SEGMENT.slice();
    low[12] = 0x40;
    assert.equal(reasonOf(refill(low)), 'tcp-bad-data-offset');
    const high = SYN_SEGMENT.slice();
    high[12] = 0xb0; // 44 bytes in a 40-byte segment
    assert.equal(reasonOf(refill(high)), 'tcp-bad-data-offset');
    const zero = SYN_SEGMENT.slice();
    zero[12] = 0x00;
    assert.equal(reasonOf(zero, CHECKSUM_OFFLOAD), 'tcp-bad-data-offset');
  });

  test('TCP: a checksum mismatch is dropped as tcp-bad-checksum (RFC 9293 §3.1)', () => {
    const b = SYN_SEGMENT.slice();
    b[4] ^= 0x01;
    assert.equal(reasonOf(b), 'tcp-bad-checksum');
    assert.equal(reasonOf(b, CHECKSUM_OFFLOAD), 'ok', 'not verified when the link offloads checksums');
    // The pseudo-header is covered: the same bytes from another address fail.
    const r = parseTcp(SYN_SEGMENT, SRC + 1, DST, CHECKSUM_FULL);
    assert.deepEqual(r, { ok: false, reason: 'tcp-bad-checksum' });
  });

  test('TCP: source or destination port 0 is dropped as tcp-bad-port (RFC 9293 §3.1)', () => {
    const s = SYN_SEGMENT.slice();
    setU16(s, 0, 0);
    assert.equal(reasonOf(refill(s)), 'tcp-bad-port');
    const d = SYN_SEGMENT.slice();
    setU16(d, 2, 0);
    assert.equal(reasonOf(refill(d)), 'tcp-bad-port');
  });

  test('TCP: a malformed option in the header is dropped as tcp-bad-option (RFC 9293 §3.1)', () => {
    const b = SYN_SEGMENT.slice();
    b[21] = 5; // MSS length 5
    assert.equal(reasonOf(refill(b)), 'tcp-bad-option');
    const past = SYN_SEGMENT.slice();
    past[36] = 0x1e; // the NOP before WS becomes kind 30 of length 9,
    past[37] = 9; // running past the 40-byte header
    assert.equal(reasonOf(refill(past)), 'tcp-bad-option');
  });

  test('TCP: all 8 flag bits are kept and the 4 reserved bits ignored (RFC 9293 §3.1, RFC 3168 §23.2)', () => {
    const b = SYN_SEGMENT.slice();
    b[12] = 0xaf; // data offset 10, reserved bits set
    b[13] = 0xff;
    const r = parseTcp(refill(b), SRC, DST, CHECKSUM_FULL);
    assert.ok(r.ok);
    assert.equal(r.value.flags, FIN | SYN | RST | PSH | ACK | URG | ECE | CWR);
    const out = new Uint8Array(40);
    emitTcp(r.value, SRC, DST, out, 0, CHECKSUM_FULL);
    assert.equal(out[12], 0xa0, 'reserved bits are emitted as zero');
    assert.equal(out[13], 0xff);
  });

  test('TCP: the acknowledgment field is kept as read even when ACK is clear (exact round trip)', () => {
    const b = SYN_SEGMENT.slice();
    b.set([0xde, 0xad, 0xbe, 0xef], 8);
    const r = parseTcp(refill(b), SRC, DST, CHECKSUM_FULL);
    assert.ok(r.ok);
    assert.equal(r.value.flags & ACK, 0);
    assert.equal(r.value.ack, 0xdeadbeef);
    const out = new Uint8Array(40);
    emitTcp(r.value, SRC, DST, out, 0, CHECKSUM_FULL);
    assert.deepEqual(out, b);
  });

  test('TCP: without fillTx the checksum field is written as 0 (offload)', () => {
    const out = new Uint8Array(40);
    emitTcp(SYN_REPR, SRC, DST, out, 0, CHECKSUM_OFFLOAD);
    assert.equal(getU16(out, 16), 0);
    out.set(SYN_SEGMENT.subarray(16, 18), 16);
    assert.deepEqual(out, SYN_SEGMENT);
  });

  test('TCP: emit rejects a small buffer, oversized options and out-of-range fields (programmer errors)', () => {
    assert.throws(() => emitTcp(SYN_REPR, SRC, DST, new Uint8Array(39), 0, CHECKSUM_FULL), /too small/);
    const many = { ...SYN_REPR, options: Array.from({ length: 41 }, () => ({ kind: 'nop' }) as const) };
    assert.throws(() => emitTcp(many, SRC, DST, new Uint8Array(100), 0, CHECKSUM_FULL), /more than 40/);
    assert.throws(() => emitTcp({ ...SYN_REPR, seq: -1 }, SRC, DST, new Uint8Array(40), 0, CHECKSUM_FULL), /seq/);
    assert.throws(() => emitTcp({ ...SYN_REPR, srcPort: 65536 }, SRC, DST, new Uint8Array(40), 0, CHECKSUM_FULL));
    const huge = { ...SYN_REPR, payload: new Uint8Array(65535 - 20 - 40 + 1) };
    assert.throws(() => emitTcp(huge, SRC, DST, new Uint8Array(70000), 0, CHECKSUM_FULL), /too long/);
  });

  test('flagsToString names flags in the order SYN FIN RST PSH URG ACK ECE CWR', () => {
    assert.equal(flagsToString(SYN), 'SYN');
    assert.equal(flagsToString(SYN | ACK), 'SYN+ACK');
    assert.equal(flagsToString(PSH | ACK), 'PSH+ACK');
    assert.equal(flagsToString(FIN | ACK), 'FIN+ACK');
    assert.equal(flagsToString(RST | ACK), 'RST+ACK');
    assert.equal(flagsToString(ACK), 'ACK');
    assert.equal(flagsToString(RST), 'RST');
    assert.equal(flagsToString(SYN | ECE | CWR), 'SYN+ECE+CWR');
    assert.equal(flagsToString(URG | ACK), 'URG+ACK');
    assert.equal(flagsToString(0), 'none');
  });
});
