import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { checksum, fold16, incrementalUpdate16, pseudoHeaderSum, sum16 } from '../../src/wire/checksum.ts';
import { getU16, setU16 } from '../../src/wire/bytes.ts';
import { naiveChecksum, WIKIPEDIA_IPV4_HEADER } from './fixtures.ts';

describe('wire/checksum', () => {
  test('RFC 1071 §3 numerical example: the sum of 0001 f203 f4f5 f6f7 is ddf2', () => {
    const b = new Uint8Array([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]);
    assert.equal(fold16(sum16(b, 0, b.length)), 0xddf2);
    assert.equal(checksum(b, 0, b.length), 0x220d);
  });

  test('an IPv4 header checksums to 0xb861 and verifies to 0 (RFC 791 §3.1)', () => {
    const h = WIKIPEDIA_IPV4_HEADER.slice();
    assert.equal(checksum(h, 0, 20), 0);
    setU16(h, 10, 0);
    assert.equal(checksum(h, 0, 20), 0xb861);
  });

  test('an odd trailing byte is padded with zero on the right (RFC 1071 §4.1)', () => {
    assert.equal(checksum(new Uint8Array([0x12]), 0, 1), ~0x1200 & 0xffff);
    assert.equal(checksum(new Uint8Array([0x12, 0x34, 0x56]), 0, 3), ~(0x1234 + 0x5600) & 0xffff);
  });

  test('all-zero data sums to 0 and checksums to 0xffff; a sum of 0xffff checksums to 0', () => {
    assert.equal(checksum(new Uint8Array(100), 0, 100), 0xffff);
    assert.equal(checksum(new Uint8Array(0), 0, 0), 0xffff);
    const ones = new Uint8Array(200).fill(0xff);
    assert.equal(checksum(ones, 0, 200), 0);
    assert.equal(checksum(ones, 1, 200), naiveChecksum(ones, 1, 200));
  });

  test('matches the naive RFC 1071 loop for random data, lengths, offsets and views (oracle)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 0, maxLength: 1200, size: 'max' }),
        fc.nat(7),
        fc.nat(7),
        fc.nat(0xffff),
        (data, viewOffset, cut, initial) => {
          const view = data.subarray(Math.min(viewOffset, data.length));
          const start = Math.min(cut, view.length);
          assert.equal(checksum(view, start, view.length, initial), naiveChecksum(view, start, view.length, initial));
          assert.equal(checksum(view, start, view.length), naiveChecksum(view, start, view.length));
        },
      ),
      { seed: 42, numRuns: 600 },
    );
  });

  test('matches the oracle on large and saturated buffers (64 KiB of 0xff, odd start)', () => {
    const big = new Uint8Array(65536 + 3);
    let x = 7;
    for (let i = 0; i < big.length; i++) big[i] = (x = (x * 1103515245 + 12345) >>> 0) >>> 24;
    for (const [s, e] of [[0, 65536], [1, 65537], [3, 65539], [2, 4097]] as const) {
      assert.equal(checksum(big, s, e), naiveChecksum(big, s, e));
    }
    big.fill(0xff);
    assert.equal(checksum(big, 1, 65538), naiveChecksum(big, 1, 65538));
  });

  test('sum16 chains over even-length ranges', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 700, size: 'max' }), fc.nat(350), (data, k) => {
        const mid = Math.min(2 * k, data.length - (data.length % 2));
        const chained = ~fold16(sum16(data, mid, data.length, sum16(data, 0, mid))) & 0xffff;
        assert.equal(chained, naiveChecksum(data, 0, data.length));
      }),
      { seed: 42, numRuns: 200 },
    );
  });

  test('pseudoHeaderSum adds addresses, protocol and length as 16-bit words (RFC 9293 §3.1)', () => {
    const sum = pseudoHeaderSum(0xc0a8010a, 0x5db8d822, 6, 40);
    assert.equal(sum, 0xc0a8 + 0x010a + 0x5db8 + 0xd822 + 6 + 40);
  });

  test('incremental update equals recomputation when one word changes (RFC 1624 §3)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 20, maxLength: 20 }), fc.nat(9), fc.nat(0xffff), (hdr, w, v) => {
        const h = hdr.slice();
        h[0] = 0x45; // a real header is never all zero
        if (w === 5) w = 4; // word 5 is the checksum field itself
        setU16(h, 10, 0);
        setU16(h, 10, checksum(h, 0, 20));
        const old = getU16(h, 2 * w);
        const updated = incrementalUpdate16(getU16(h, 10), old, v);
        setU16(h, 2 * w, v);
        setU16(h, 10, 0);
        assert.equal(updated, checksum(h, 0, 20));
      }),
      { seed: 42, numRuns: 500 },
    );
  });

  test('incremental update of a TTL decrement (RFC 1624 §4 style)', () => {
    const h = WIKIPEDIA_IPV4_HEADER.slice();
    const oldWord = getU16(h, 8);
    h[8] = h[8]! - 1;
    const c = incrementalUpdate16(getU16(h, 10), oldWord, getU16(h, 8));
    setU16(h, 10, c);
    assert.equal(checksum(h, 0, 20), 0);
  });
});
