/**
 * Core bug found by the simulator (seed 383, shrunk to 5 actions; fixture
 * fixtures/persist-probe-stall.json): a connection ends up with one
 * unacknowledged sequence number (its zero-window probe byte) and no timer
 * that would ever resend it — a stall.
 *
 * Sequence (s1 → s3, 1024-byte buffers both ways, Nagle on):
 *   1. s3 advertises a zero window; s1's persist timer sends a 1-byte probe
 *      at SND.UNA (SND.NXT = SND.MAX = SND.UNA + 1).
 *   2. A reordered, older segment from s3 arrives: it carries data, does not
 *      acknowledge the probe (SEG.ACK = SND.UNA) but opens the window.
 *   3. segment-arrives.ts (window update): `wasZero && newWnd > 0` clears
 *      persistAt — but the probe byte is outstanding and no RTO is armed.
 *   4. output(): the remaining 1023 bytes are "all queued data" with 1 byte
 *      in flight, so Nagle holds them; output() arms persist only when
 *      SND.NXT = SND.UNA. Nothing is armed: the connection waits forever
 *      for an ACK that the peer has no reason to send.
 * Invariant: unacknowledged sequence space ⇒ an RTO (or persist/RACK/TLP)
 * timer is armed. Fix idea: when cancelling persist with SND.MAX > SND.UNA,
 * arm the RTO (or have output() arm it whenever data is outstanding).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadHistory, replay, describe } from './helpers.ts';

test('a zero-window probe that the window update does not acknowledge keeps a retransmission timer', () => {
  const r = replay(loadHistory('persist-probe-stall.json'));
  assert.equal(describe(r), 'ok');
});
