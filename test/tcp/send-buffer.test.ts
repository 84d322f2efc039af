/**
 * SendBuffer: `slice` (a view within one write, a copy across writes) and
 * `views` (the same bytes as views of the writes that hold them, for gather
 * output; null beyond a bound), after partial acknowledgments.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SendBuffer } from '../../src/tcp/send-buffer.ts';

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
});
