import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  getU16,
  getU16le,
  getU32,
  getU32le,
  ipv4Addr,
  ipv4InSubnet,
  ipv4PrefixMask,
  ipv4ToString,
  parseIpv4Addr,
  setU16,
  setU16le,
  setU32,
  setU32le,
} from '../../src/wire/bytes.ts';

describe('wire/bytes', () => {
  test('big-endian u16/u32 read network byte order and u32 is unsigned', () => {
    const b = new Uint8Array([0xff, 0xfe, 0xfd, 0xfc, 0x12]);
    assert.equal(getU16(b, 0), 0xfffe);
    assert.equal(getU16(b, 3), 0xfc12);
    assert.equal(getU32(b, 0), 0xfffefdfc);
    assert.ok(getU32(b, 0) > 0);
    assert.equal(getU32(b, 1), 0xfefdfc12);
  });

  test('big-endian setters write the low bits most-significant first', () => {
    const b = new Uint8Array(6);
    setU16(b, 0, 0x1234);
    setU32(b, 2, 0xdeadbeef);
    assert.deepEqual([...b], [0x12, 0x34, 0xde, 0xad, 0xbe, 0xef]);
    setU16(b, 0, 0x1abcd);
    assert.deepEqual([...b.subarray(0, 2)], [0xab, 0xcd]);
  });

  test('little-endian accessors (pcap) round-trip', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 0xffff }), (v32, v16) => {
        const b = new Uint8Array(6);
        setU32le(b, 0, v32);
        setU16le(b, 4, v16);
        assert.equal(b[0], v32 & 0xff);
        assert.equal(getU32le(b, 0), v32);
        assert.equal(getU16le(b, 4), v16);
        setU32(b, 0, v32);
        assert.equal(getU32(b, 0), v32);
      }),
      { seed: 42, numRuns: 200 },
    );
  });

  test('ipv4ToString and parseIpv4Addr are inverse on every address', () => {
    assert.equal(ipv4ToString(0x0a000001), '10.0.0.1');
    assert.equal(ipv4ToString(0xffffffff), '255.255.255.255');
    assert.equal(parseIpv4Addr('192.168.1.10'), 0xc0a8010a);
    assert.equal(parseIpv4Addr('0.0.0.0'), 0);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), (a) => parseIpv4Addr(ipv4ToString(a)) === a),
      { seed: 42, numRuns: 300 },
    );
  });

  test('parseIpv4Addr accepts only strict dotted quads', () => {
    for (const bad of [
      '',
      '1.2.3',
      '1.2.3.4.5',
      '256.0.0.1',
      '01.2.3.4',
      '1.2.3.04',
      ' 1.2.3.4',
      '1.2.3.4 ',
      '+1.2.3.4',
      '-1.2.3.4',
      '0x1.2.3.4',
      '1..3.4',
      '1.2.3.4\n',
      '١.2.3.4',
    ]) {
      assert.equal(parseIpv4Addr(bad), null, JSON.stringify(bad));
    }
  });

  test('ipv4InSubnet compares the prefix bits only', () => {
    const net = ipv4Addr(10, 0, 0, 0);
    assert.equal(ipv4InSubnet(ipv4Addr(10, 0, 0, 7), net, 24), true);
    assert.equal(ipv4InSubnet(ipv4Addr(10, 0, 1, 7), net, 24), false);
    assert.equal(ipv4InSubnet(ipv4Addr(10, 0, 1, 7), net, 16), true);
    assert.equal(ipv4InSubnet(ipv4Addr(200, 1, 2, 3), net, 0), true);
    assert.equal(ipv4InSubnet(ipv4Addr(10, 0, 0, 1), ipv4Addr(10, 0, 0, 1), 32), true);
    assert.equal(ipv4InSubnet(ipv4Addr(10, 0, 0, 2), ipv4Addr(10, 0, 0, 1), 32), false);
    assert.equal(ipv4InSubnet(ipv4Addr(255, 0, 0, 1), ipv4Addr(128, 0, 0, 0), 1), true);
    assert.equal(ipv4PrefixMask(8), 0xff000000);
    assert.throws(() => ipv4PrefixMask(33));
  });
});
