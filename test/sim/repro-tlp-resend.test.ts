/**
 * Core bug found by the simulator in the (uncommitted, in-progress)
 * RACK-TLP work — seed 342, shrunk to 5 actions; fixture
 * fixtures/tlp-resend-exception.json:
 *
 *   TypeError: Cannot read properties of undefined (reading 'length')
 *     at SendBuffer.slice (tcp/send-buffer.ts)
 *     at Connection.resend (tcp/connection.ts)
 *     at Connection.onTailLossProbe
 *     at Connection.onTimeout ← Stack.poll
 *
 * s1 writes 1 byte, the hub is partitioned, then s1 closes (FIN queued
 * behind the unacknowledged byte). The tail-loss probe fires and resends
 * from a send-buffer offset past the buffered data (the FIN's sequence
 * number?), so SendBuffer.slice walks off its chunk list. An exception out
 * of Stack.poll kills the whole process.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadHistory, replay, describe } from './helpers.ts';

test('a tail-loss probe after CLOSE with one byte outstanding does not throw', () => {
  const r = replay(loadHistory('tlp-resend-exception.json'));
  assert.equal(describe(r), 'ok');
});
