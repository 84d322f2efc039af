/**
 * Found by the simulator once the timer table of tcp/timers.ts became an
 * invariant (`timer-table`: the retransmission and persist timers never run
 * together) — seed 267, shrunk to 4 actions; fixture
 * fixtures/tlp-while-persisting.json.
 *
 * A tail loss probe (RFC 8985 §7) armed while data was in flight was not
 * cancelled when the peer's window closed and the persist timer took over:
 * it fired, resent a segment into the zero window and armed the
 * retransmission timer beside the persist timer — two timers probing one
 * closed window, the RTO cutting the persist backoff short. Fix: arming the
 * persist timer cancels the TLP (tcp/timers.ts armPersist).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadHistory, replay, describe } from './helpers.ts';

test('a tail loss probe armed before the window closed does not fire while persisting (RFC 8985 §7, RFC 9293 §3.8.6.1)', () => {
  const r = replay(loadHistory('tlp-while-persisting.json'));
  assert.equal(describe(r), 'ok');
});
