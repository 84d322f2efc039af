/**
 * base/microtask.ts: the links' flush runs where queueMicrotask's would —
 * from an I/O or timer callback, after the process.nextTick queue and
 * before the next macrotask — and in the order queued.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { microtask } from '../../src/base/microtask.ts';

/** Runs `queue` inside a macrotask (as a link's poll callback runs) and returns the order things ran in. */
function orderFromMacrotask(queue: (seen: string[]) => void): Promise<string[]> {
  const seen: string[] = [];
  return new Promise((resolve) => {
    setImmediate(() => {
      setImmediate(() => {
        seen.push('next macrotask');
        resolve(seen);
      });
      queue(seen);
    });
  });
}

test('microtask() runs after the nextTick queue and before the next macrotask, in the order queued with queueMicrotask', async () => {
  const seen = await orderFromMacrotask((s) => {
    microtask(() => s.push('microtask 1'));
    queueMicrotask(() => s.push('queueMicrotask'));
    microtask(() => s.push('microtask 2'));
    process.nextTick(() => s.push('nextTick'));
  });
  assert.deepEqual(seen, ['nextTick', 'microtask 1', 'queueMicrotask', 'microtask 2', 'next macrotask']);
});

test('microtask() queued inside a nextTick callback still runs before the next macrotask', async () => {
  const seen = await orderFromMacrotask((s) => {
    process.nextTick(() => {
      s.push('nextTick');
      microtask(() => s.push('microtask'));
    });
  });
  assert.deepEqual(seen, ['nextTick', 'microtask', 'next macrotask']);
});
