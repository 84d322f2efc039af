/**
 * links/stream-framing.ts: Ethernet frames over a byte stream with a 4-octet
 * big-endian length before each (QEMU's -netdev stream), decoded from reads
 * of any size.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { encodeFrame, FrameDecoder } from '../../src/links/stream-framing.ts';
import { StreamFrameLink } from '../../src/gateway/stream-link.ts';
import { unixSocketPair } from './helpers.ts';

const frame = (n: number, seed: number) => new Uint8Array(n).map((_, i) => (i * 31 + seed) & 0xff);

test('a frame is its length as 4 big-endian octets, then the frame', () => {
  const out = encodeFrame(frame(0x0102, 1));
  assert.deepEqual([...out.subarray(0, 4)], [0, 0, 1, 2]);
  assert.equal(out.length, 4 + 0x0102);
});

test('frames split at every possible point across reads (one octet at a time included) come out whole and in order', () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 1, max: 1600 }), { minLength: 1, maxLength: 8 }),
      fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 40 }),
      (sizes, cuts) => {
        const frames = sizes.map((n, i) => frame(n, i));
        const stream = Buffer.concat(frames.map(encodeFrame));
        const dec = new FrameDecoder(1600);
        const got: Uint8Array[] = [];
        let off = 0;
        let k = 0;
        while (off < stream.length) {
          const n = Math.min(cuts[k++ % cuts.length]!, stream.length - off);
          assert.equal(
            dec.push(stream.subarray(off, off + n), (f) => got.push(f)),
            true,
          );
          off += n;
        }
        assert.deepEqual(got, frames);
        assert.equal(dec.pending, 0);
        assert.equal(dec.stats.frames, frames.length);
      },
    ),
    { seed: 42, numRuns: 200 },
  );
});

test('a zero length carries no frame: counted and skipped, the next frame still decodes', () => {
  const dec = new FrameDecoder(1514);
  const got: Uint8Array[] = [];
  assert.equal(dec.push(Buffer.concat([Buffer.from([0, 0, 0, 0]), encodeFrame(frame(60, 3))]), (f) => got.push(f)), true);
  assert.equal(dec.stats.empty, 1);
  assert.deepEqual(got, [frame(60, 3)]);
});

test('a length above the limit is fatal: counted, nothing after it is decoded, nothing allocated for it', () => {
  const dec = new FrameDecoder(1514);
  const got: Uint8Array[] = [];
  const bad = Buffer.from([0xff, 0xff, 0xff, 0xf0]);
  assert.equal(dec.push(Buffer.concat([encodeFrame(frame(60, 1)), bad, encodeFrame(frame(60, 2))]), (f) => got.push(f)), false);
  assert.equal(got.length, 1, 'the frame before it was delivered');
  assert.equal(dec.stats.oversize, 1);
  assert.equal(dec.failed, true);
  assert.equal(dec.push(encodeFrame(frame(60, 4)), (f) => got.push(f)), false, 'the stream cannot be resynchronised');
  assert.equal(got.length, 1);
});

test('the qemu-socket link ends each chunk of frames for the stack after its frames and before onBatch (Link.onReceiveEnd, RFC 9293 MUST-59)', async () => {
  const pair = await unixSocketPair();
  const link = new StreamFrameLink(1500);
  assert.equal(link.receivesInBatches, true);
  const calls: string[] = [];
  link.onReceive = (f) => calls.push(`frame ${f.length}`);
  link.onReceiveEnd = () => calls.push('end');
  link.onBatch = () => calls.push('batch');
  link.attach(pair.near);
  try {
    const got = new Promise<void>((r) => {
      link.onBatch = () => {
        calls.push('batch');
        if (calls.filter((c) => c.startsWith('frame')).length === 2) r();
      };
    });
    pair.far.write(Buffer.concat([encodeFrame(frame(60, 1)), encodeFrame(frame(70, 2))]));
    await got;
    // However the stream cut the bytes: every frame is followed by an end before the owner's onBatch.
    assert.deepEqual(calls.filter((c) => c.startsWith('frame')), ['frame 60', 'frame 70']);
    assert.equal(calls.at(-2), 'end');
    assert.equal(calls.at(-1), 'batch');
    for (let i = 0; i < calls.length; i++) if (calls[i] === 'batch') assert.equal(calls[i - 1], 'end');
  } finally {
    pair.close();
  }
});
