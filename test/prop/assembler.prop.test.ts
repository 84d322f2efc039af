/**
 * The reassembly queue against an obviously correct bitmap (smoltcp's
 * test_random): any order of inserts delivers exactly the bytes a bitmap
 * says are contiguous, with the bytes that were sent, and counts its
 * ranges right — across the 2^32 wrap.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Assembler } from '../../src/tcp/assembler.ts';

test('Assembler: random inserts match a bitmap oracle (content, contiguity, range count), across the wrap', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 0xffffffff }),
      fc.array(fc.tuple(fc.integer({ min: 1, max: 400 }), fc.integer({ min: 1, max: 60 })), { minLength: 1, maxLength: 60 }),
      (base0, inserts) => {
        const base = base0 | 0;
        const N = 512;
        const stream = Uint8Array.from({ length: N }, (_, i) => (i * 7 + 3) & 0xff);
        const have = new Array<boolean>(N).fill(false);
        const a = new Assembler(1 << 20, 1 << 20);
        for (const [off, len] of inserts) {
          const end = Math.min(N, off + len);
          assert.ok(a.insert(base, (base + off) | 0, stream.subarray(off, end)));
          for (let i = off; i < end; i++) have[i] = true;
          // Range count = runs of held bytes after offset 0 (offset 0 is never inserted here).
          let runs = 0;
          for (let i = 1; i < N; i++) if (have[i] && !have[i - 1]) runs++;
          assert.equal(a.rangeCount, runs);
          let bytes = 0;
          for (let i = 0; i < N; i++) if (have[i]) bytes++;
          assert.equal(a.byteCount, bytes);
        }
        // Fill offset 0 and take what is contiguous.
        have[0] = true;
        a.insert(base, base, stream.subarray(0, 1));
        const got = a.takeContiguous(base);
        let contiguous = 0;
        while (contiguous < N && have[contiguous]) contiguous++;
        const flat = Uint8Array.from(got.flatMap((g) => [...g]));
        // takeContiguous only returns data held in the queue; offset 0 was inserted too.
        assert.equal(flat.length, contiguous);
        assert.deepEqual(flat, stream.subarray(0, contiguous));
      },
    ),
    { seed: 42, numRuns: 300 },
  );
});

test('Assembler: the range bound refuses a new hole but accepts data that joins an existing range', () => {
  const a = new Assembler(1 << 20, 2);
  assert.ok(a.insert(0, 10, new Uint8Array(5)));
  assert.ok(a.insert(0, 30, new Uint8Array(5)));
  assert.equal(a.insert(0, 50, new Uint8Array(5)), false, 'a third hole is refused');
  assert.ok(a.insert(0, 15, new Uint8Array(5)), 'extending a range is accepted');
  assert.equal(a.rangeCount, 2);
});
