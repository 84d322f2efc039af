import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { seqAdd, seqDiff, seqGe, seqGt, seqInRange, seqLe, seqLt } from '../../src/tcp/seq.ts';

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const near = fc.integer({ min: -(2 ** 31) + 1, max: 2 ** 31 - 1 });

test('sequence arithmetic is modulo 2^32 across the wrap (RFC 9293 §3.4)', () => {
  assert.equal(seqAdd(0xffffffff, 1), 0);
  assert.equal(seqAdd(0xfffffff0, 0x20), 0x10);
  assert.equal(seqAdd(0x7fffffff, 1) >>> 0, 0x80000000, 'results are int32; >>> 0 gives the wire form');
  assert.ok(seqLt(0xfffffff0, 0x10));
  assert.ok(seqGt(0x10, 0xfffffff0));
  assert.equal(seqDiff(0x10, 0xfffffff0), 0x20);
  assert.ok(seqInRange(0, 0xffffff00, 0x100));
  assert.ok(!seqInRange(0x100, 0xffffff00, 0x100));
});

test('sequence comparisons agree with BigInt arithmetic for any distance under 2^31 (property, RFC 9293 §3.4)', () => {
  fc.assert(
    fc.property(u32, near, (a, d) => {
      const b = seqAdd(a, d);
      const big = (BigInt(a) + BigInt(d) + 2n ** 32n) % 2n ** 32n;
      assert.equal(BigInt(b >>> 0), big);
      assert.equal(seqDiff(b, a), d);
      assert.equal(seqLt(a, b), d > 0);
      assert.equal(seqLe(a, b), d >= 0);
      assert.equal(seqGe(a, b), d <= 0);
    }),
    { seed: 42, numRuns: 2000 },
  );
});
