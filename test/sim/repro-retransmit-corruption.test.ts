/**
 * Core bug found by the simulator (seed 11698, shrunk to 9 actions; fixture
 * fixtures/retransmit-below-una-corrupts.json): THE APPLICATION RECEIVES
 * WRONG BYTES. In the uncommitted RACK/SACK recovery work a 'fast'
 * retransmission resends a segment that starts *below* SND.UNA (seq = ISS+1
 * after SND.UNA moved to ISS+2): its buffer offset seqDiff(seq, bufSeq) is
 * -1, and SendBuffer.slice(-1, 1448) returns bytes shifted by one (a
 * negative subarray index counts from the end of the chunk). The peer
 * already has the first byte, trims it and delivers the other 1447 bytes —
 * the wrong ones — at stream offset 1.
 *
 * Sender trace (s0): off 0 len 1 / off 1 len 1 / off 2.. (partition) / RTO
 * go-back-N from off 0 (fine) / SND.UNA → off 1 / "retransmit fast
 * seq=ISS+1 len=1448" → payload = bytes [1, 1449) labelled [0, 1448).
 * Invariant: every byte read equals the sender's byte at that offset.
 * Fix ideas: never retransmit below SND.UNA (clip to it); make
 * SendBuffer.slice reject offset < 0 and offset + len > length.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadHistory, replay, describe } from './helpers.ts';

test('a SACK/RACK retransmission never sends bytes under the wrong sequence numbers', () => {
  const r = replay(loadHistory('retransmit-below-una-corrupts.json'));
  assert.equal(describe(r), 'ok');
});
