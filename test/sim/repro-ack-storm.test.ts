/**
 * Core bug found by the simulator (seed 13757, shrunk to 6 actions; fixture
 * fixtures/ack-storm-zero-window.json): an endless ACK ping-pong (at zero
 * link delay, more than 200 000 packets at one instant; with delay, one
 * exchange per RTT forever while the link is clean).
 *
 * s3 (FIN-WAIT-1, finWithAck = BSD style, receive buffer full → window 0)
 * and s2 (CLOSING, its FIN and 1024 bytes beyond s3's window):
 *   s2 → ACK seq=SND.MAX (BSD rule: pure ACKs carry SND.MAX), which is past
 *        s3's zero window → unacceptable at s3 → s3 must ACK;
 *   s3 → its ACK rides as FIN+ACK (finWithAck) with seq = its FIN, which s2
 *        already has (below RCV.NXT) → unacceptable at s2 → s2 must ACK; …
 * Neither ACK changes any state, so it never ends. RFC 9293 §3.10.7.4 says
 * to ACK unacceptable segments; Linux breaks such loops by rate limiting
 * those ACKs (tcp_invalid_ratelimit, 500 ms), and BSD does not send a pure
 * ACK beyond the peer's window. Invariant: bounded work per instant / no
 * self-sustaining exchange of unacceptable segments.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadHistory, replay, describe } from './helpers.ts';

test('two endpoints never answer each other\'s unacceptable ACKs forever', () => {
  const r = replay(loadHistory('ack-storm-zero-window.json'));
  assert.equal(describe(r), 'ok');
});

test('two FIN-WAIT-1 endpoints with a hole each do not answer each other\'s FIN-bearing ACKs forever (seed 4217174942)', () => {
  // Simultaneous close where each side lost the other's last data byte, with
  // finWithAck: each FIN beyond the hole used to trigger an immediate
  // FIN,ACK back — a ping-pong at one instant.
  const r = replay(loadHistory('fin-ack-pingpong.json'));
  assert.equal(describe(r), 'ok');
});
