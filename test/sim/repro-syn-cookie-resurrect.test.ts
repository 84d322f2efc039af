/**
 * Core bug (or a policy to decide) found by the simulator (seed 6455,
 * shrunk to 12 actions; fixture fixtures/syn-cookie-resurrects.json), in
 * the uncommitted SYN-cookie work: a connection the application ABORTED
 * comes back to life.
 *
 * s2 (listener on 81, backlog 1 → in cookie mode) accepts s0's connection
 * via a SYN cookie; s2's application aborts it (the RST is lost); a second
 * later s0 closes and sends FIN+ACK with SEG.ACK = ISS+1 — which still
 * validates as a cookie, so the listener builds the connection again
 * (LISTEN → SYN-RECEIVED → ESTABLISHED → CLOSE-WAIT) and hands it to the
 * application a second time, with the same ISS. The application sees a
 * connection it already destroyed. Linux accepts cookie ACKs only while
 * its SYN queue overflowed recently; a FIN (or data) bearing ACK long after
 * is normally answered with a RST. Invariant: one (4-tuple, ISS) stream is
 * handed to the application once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadHistory, replay, describe } from './helpers.ts';

test('an aborted connection is not rebuilt from a SYN cookie by the peer\'s later FIN', () => {
  const r = replay(loadHistory('syn-cookie-resurrects.json'));
  assert.equal(describe(r), 'ok');
});

test('a late retransmission of data does not rebuild a connection made from a SYN cookie and then aborted (seed 3551540198)', () => {
  // s2 aborts a cookie connection, the RST is lost, and s1 retransmits its
  // first data segment (SEG.ACK = ISS+1): the cookie is spent and refused.
  const r = replay(loadHistory('syn-cookie-late-retransmission.json'));
  assert.equal(describe(r), 'ok');
});
