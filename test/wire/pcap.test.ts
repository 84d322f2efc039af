import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  LINKTYPE_ETHERNET,
  LINKTYPE_LINUX_SLL,
  LINKTYPE_LINUX_SLL2,
  LINKTYPE_RAW,
  parsePcap,
  pcapGlobalHeader,
  pcapRecord,
} from '../../src/wire/pcap.ts';
import { getU32, setU16, setU32, setU32le } from '../../src/wire/bytes.ts';
import { hexBytes, LINUX_SYN } from './fixtures.ts';

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A big-endian file header with the given magic and link type. */
function beHeader(magic: number, linkType: number): Uint8Array {
  const h = new Uint8Array(24);
  setU32(h, 0, magic);
  setU16(h, 4, 2);
  setU16(h, 6, 4);
  setU32(h, 16, 65535);
  setU32(h, 20, linkType);
  return h;
}

function beRecord(sec: number, frac: number, frame: Uint8Array): Uint8Array {
  const h = new Uint8Array(16);
  setU32(h, 0, sec);
  setU32(h, 4, frac);
  setU32(h, 8, frame.length);
  setU32(h, 12, frame.length);
  return concat(h, frame);
}

describe('wire/pcap', () => {
  test('pcap: the global header is magic a1b2c3d4 (LE), version 2.4, snaplen, LINKTYPE_RAW', () => {
    assert.deepEqual(pcapGlobalHeader(), hexBytes('d4c3b2a1 0200 0400 00000000 00000000 ffff0000 65000000'));
    assert.deepEqual(pcapGlobalHeader(1500).subarray(16, 20), hexBytes('dc050000'));
  });

  test('pcap: a record header holds seconds, microseconds, captured and original length', () => {
    const r = pcapRecord(1_700_000_000_123_456, LINUX_SYN);
    assert.equal(r.length, 16 + 60);
    assert.deepEqual(r.subarray(0, 16), hexBytes('00f15365 40e20100 3c000000 3c000000'));
    assert.deepEqual(r.subarray(16), LINUX_SYN);
    assert.throws(() => pcapRecord(-1, LINUX_SYN));
  });

  test('pcap: a written file parses back (raw IPv4, little-endian, microseconds)', () => {
    const file = concat(pcapGlobalHeader(), pcapRecord(5, LINUX_SYN), pcapRecord(2_000_001, new Uint8Array(0)));
    const r = parsePcap(file);
    assert.ok(r.ok);
    assert.equal(r.linkType, LINKTYPE_RAW);
    assert.equal(r.nanos, false);
    assert.equal(r.truncated, false);
    assert.equal(r.records.length, 2);
    assert.equal(r.records[0]!.tsMicros, 5);
    assert.deepEqual(r.records[0]!.data, LINUX_SYN);
    assert.equal(r.records[0]!.origLen, 60);
    assert.equal(r.records[1]!.tsMicros, 2_000_001);
  });

  test('pcap: big-endian nanosecond files are read, timestamps truncated to µs', () => {
    const file = concat(beHeader(0xa1b23c4d, LINKTYPE_RAW), beRecord(3, 999_999_999, LINUX_SYN));
    const r = parsePcap(file);
    assert.ok(r.ok);
    assert.equal(r.nanos, true);
    assert.equal(r.records[0]!.tsMicros, 3_999_999);
    assert.deepEqual(r.records[0]!.data, LINUX_SYN);
  });

  test('pcap: Ethernet frames lose 14 bytes (18 with 802.1Q); non-IPv4 frames are skipped', () => {
    const eth = concat(hexBytes('020000000001 020000000002 0800'), LINUX_SYN);
    const vlan = concat(hexBytes('020000000001 020000000002 8100 0064 0800'), LINUX_SYN);
    const arp = concat(hexBytes('ffffffffffff 020000000002 0806'), new Uint8Array(28));
    const file = concat(beHeader(0xa1b2c3d4, LINKTYPE_ETHERNET), beRecord(1, 0, eth), beRecord(1, 1, arp), beRecord(1, 2, vlan));
    const r = parsePcap(file);
    assert.ok(r.ok);
    assert.equal(r.skipped, 1);
    assert.equal(r.records.length, 2);
    assert.deepEqual(r.records[0]!.data, LINUX_SYN);
    assert.deepEqual(r.records[1]!.data, LINUX_SYN);
    assert.equal(r.records[1]!.origLen, 78);
  });

  test('pcap: Linux SLL strips 16 bytes and SLL2 strips 20 bytes', () => {
    const sll = concat(hexBytes('0000 0001 0006 020000000001 0000 0800'), LINUX_SYN);
    const sll2 = concat(hexBytes('0800 0000 00000002 0001 00 06 020000000001 0000'), LINUX_SYN);
    for (const [lt, frame] of [[LINKTYPE_LINUX_SLL, sll], [LINKTYPE_LINUX_SLL2, sll2]] as const) {
      const hdr = pcapGlobalHeader(65535, lt);
      const r = parsePcap(concat(hdr, pcapRecord(0, frame)));
      assert.ok(r.ok, String(lt));
      assert.equal(r.linkType, lt);
      assert.deepEqual(r.records[0]!.data, LINUX_SYN);
    }
  });

  test('RFC 2464 §3: IPv6 (EtherType 86DD) is kept behind Ethernet, 802.1Q, SLL and SLL2 headers; ARP is still skipped', () => {
    // A minimal IPv6 header (version 6, no payload, next header 59 = none, hop limit 64), fd00::1 → fd00::2.
    const v6 = hexBytes('60000000 0000 3b 40 fd000000000000000000000000000001 fd000000000000000000000000000002');
    const cases: Array<[number, Uint8Array]> = [
      [LINKTYPE_ETHERNET, concat(hexBytes('020000000001 020000000002 86dd'), v6)],
      [LINKTYPE_ETHERNET, concat(hexBytes('020000000001 020000000002 8100 0064 86dd'), v6)],
      [LINKTYPE_LINUX_SLL, concat(hexBytes('0000 0001 0006 020000000001 0000 86dd'), v6)],
      [LINKTYPE_LINUX_SLL2, concat(hexBytes('86dd 0000 00000002 0001 00 06 020000000001 0000'), v6)],
    ];
    for (const [lt, frame] of cases) {
      const arp = concat(hexBytes('ffffffffffff 020000000002 0806'), new Uint8Array(28));
      const records = lt === LINKTYPE_ETHERNET ? [pcapRecord(0, frame), pcapRecord(1, arp)] : [pcapRecord(0, frame)];
      const r = parsePcap(concat(pcapGlobalHeader(65535, lt), ...records));
      assert.ok(r.ok, String(lt));
      assert.equal(r.records.length, 1);
      assert.deepEqual(r.records[0]!.data, v6);
      assert.equal(r.skipped, lt === LINKTYPE_ETHERNET ? 1 : 0);
    }
  });

  test('pcap: a file cut inside its last record keeps the complete records and sets truncated', () => {
    const file = concat(pcapGlobalHeader(), pcapRecord(1, LINUX_SYN), pcapRecord(2, LINUX_SYN));
    for (const cut of [file.length - 1, file.length - 60, file.length - 70]) {
      const r = parsePcap(file.subarray(0, cut));
      assert.ok(r.ok);
      assert.equal(r.truncated, true);
      assert.equal(r.records.length, 1);
    }
  });

  test('pcap: bad magic, pcapng, bad version, unsupported link types and huge records are errors', () => {
    assert.equal(parsePcap(new Uint8Array(10)).ok, false);
    assert.equal(parsePcap(new Uint8Array(24)).ok, false);
    const ng = new Uint8Array(24);
    setU32(ng, 0, 0x0a0d0d0a);
    const rng = parsePcap(ng);
    assert.ok(!rng.ok && /pcapng/.test(rng.error));
    const v = pcapGlobalHeader();
    v[4] = 1;
    assert.equal(parsePcap(v).ok, false);
    assert.equal(parsePcap(pcapGlobalHeader(65535, 105)).ok, false);
    const huge = concat(pcapGlobalHeader(), new Uint8Array(16));
    setU32le(huge, 24 + 8, 0x100000);
    const rh = parsePcap(huge);
    assert.ok(!rh.ok && /claims/.test(rh.error));
    assert.equal(getU32(pcapGlobalHeader(), 0), 0xd4c3b2a1);
  });
});
