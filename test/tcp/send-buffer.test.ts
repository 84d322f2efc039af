/**
 * SendBuffer: `slice` (a view within one write, a copy across writes) and
 * `views` (the same bytes as views of the writes that hold them, for gather
 * output; null beyond a bound), after partial acknowledgments; `pushCopy`
 * (a copy into pooled 64 KiB blocks, handed back once acknowledged unless
 * pinned by a holder of their views).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SendBuffer, SEND_BLOCK_BYTES, pinSendBytes, sendPoolFreeBlocks, trimSendPool } from '../../src/tcp/send-buffer.ts';

function filled(n: number, from: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (from + i) & 0xff;
  return b;
}

const join = (parts: Uint8Array[]): number[] => parts.flatMap((p) => [...p]);

describe('SendBuffer', () => {
  it('views: within one write a single view of it; across writes one view per write, in order, the same bytes as slice; null past maxParts', () => {
    const b = new SendBuffer();
    const w = [filled(100, 0), filled(50, 100), filled(200, 150)];
    for (const x of w) b.push(x);
    const one = b.views(10, 80, 4)!;
    assert.equal(one.length, 1);
    assert.equal(one[0]!.buffer, w[0]!.buffer, 'a view, not a copy');
    const three = b.views(90, 100, 4)!;
    assert.deepEqual(three.map((p) => p.length), [10, 50, 40]);
    assert.deepEqual(three.map((p) => p.buffer), w.map((x) => x.buffer));
    assert.deepEqual(join(three), [...b.slice(90, 100)]);
    assert.deepEqual(join(three), [...filled(100, 90)]);
    assert.equal(b.views(90, 100, 2), null);
    assert.deepEqual(b.views(0, 0, 1), []);
    assert.throws(() => b.views(300, 51, 4), RangeError);
  });

  it('after acknowledgments (consume) offsets count from the oldest unacknowledged byte', () => {
    const b = new SendBuffer();
    b.push(filled(100, 0));
    b.push(filled(100, 100));
    b.consume(120);
    assert.equal(b.length, 80);
    const v = b.views(0, 80, 1)!;
    assert.deepEqual(join(v), [...filled(80, 120)]);
    b.push(filled(30, 200));
    assert.deepEqual(join(b.views(70, 40, 2)!), [...filled(40, 190)]);
    assert.deepEqual([...b.slice(70, 40)], [...filled(40, 190)]);
  });

  it('pushCopy: the caller keeps its buffer (later changes to it are not sent); copies fill 64 KiB blocks, one chunk per block, and read back whole across blocks', () => {
    trimSendPool();
    const b = new SendBuffer();
    const w = filled(100_000, 0);
    b.pushCopy(w);
    b.pushCopy(filled(50_000, 100_000 & 0xff));
    w.fill(0xee);
    assert.equal(b.length, 150_000);
    const parts = b.views(0, 150_000, 8)!;
    assert.deepEqual(parts.map((p) => p.length), [SEND_BLOCK_BYTES, SEND_BLOCK_BYTES, 150_000 - 2 * SEND_BLOCK_BYTES], 'one view per block: runs of copies share a chunk');
    assert.ok(parts.every((p) => p.buffer !== w.buffer));
    const all = b.slice(0, 150_000);
    assert.deepEqual([...all.subarray(0, 100_000)], [...filled(100_000, 0)]);
    assert.deepEqual([...all.subarray(100_000)], [...filled(50_000, 100_000 & 0xff)]);
    // An owned write between two copies keeps its place.
    const own = filled(10, 7);
    b.push(own);
    b.pushCopy(filled(20, 9));
    assert.deepEqual([...b.slice(150_000, 30)], [...filled(10, 7), ...filled(20, 9)]);
    assert.equal(b.views(150_000, 10, 1)![0]!.buffer, own.buffer);
  });

  it('pushCopy: a block goes back to the pool once all its bytes are acknowledged, and the next copy reuses it; the block being written to stays; a pinned block never goes back', () => {
    trimSendPool();
    const b = new SendBuffer();
    b.pushCopy(filled(3 * SEND_BLOCK_BYTES - 100, 1));
    const first = b.views(0, 10, 1)![0]!.buffer;
    const second = b.views(SEND_BLOCK_BYTES, 10, 1)![0]!.buffer;
    b.consume(SEND_BLOCK_BYTES - 1);
    assert.equal(sendPoolFreeBlocks(), 0, 'one byte of the first block still unacknowledged');
    b.consume(1);
    assert.equal(sendPoolFreeBlocks(), 1);
    pinSendBytes(b.views(0, 10, 1)![0]!);
    b.consume(SEND_BLOCK_BYTES);
    assert.equal(sendPoolFreeBlocks(), 1, 'the pinned second block is left to the garbage collector');
    b.consume(b.length);
    assert.equal(sendPoolFreeBlocks(), 1, 'the third block is still being written to');
    const c = new SendBuffer();
    c.pushCopy(filled(10, 3));
    assert.equal(c.views(0, 10, 1)![0]!.buffer, first, 'reused from the pool');
    assert.notEqual(c.views(0, 10, 1)![0]!.buffer, second);
    assert.deepEqual([...c.slice(0, 10)], [...filled(10, 3)]);
    // The third block's free space is still b's to fill.
    b.pushCopy(filled(200, 5));
    assert.deepEqual([...b.slice(0, 200)], [...filled(200, 5)]);
    assert.equal(b.views(0, 200, 2)!.length, 2, 'the rest of the third block, then a new one');
  });
});
