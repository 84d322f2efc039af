/**
 * Core bug found by the simulator (seed 15649, shrunk to 8 actions; fixture
 * fixtures/fin-probe-loop.json): two connections stay in FIN-WAIT-1 for
 * ever (the drain phase ends 300 s after the network healed with both still
 * there): a lost data byte is never retransmitted.
 *
 * Each side wrote 1 byte during a partition (lost), then both closed
 * (simultaneous close, FIN at SND.UNA+1). After the network heals, every
 * ~230 ms each side sends FIN+ACK seq=<its FIN> len=0 — never the data byte
 * at SND.UNA — and the peer, missing that byte, can only ACK its RCV.NXT.
 * The timer does not back off and the connections never reach the
 * retransmission limit: the retransmission that fires resends the tail
 * (FIN) instead of going back to SND.UNA (in the uncommitted RACK-TLP work
 * the probe presumably keeps re-arming ahead of the RTO). Invariant: every
 * connection reaches CLOSED after the network heals.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadHistory, replay, describe } from './helpers.ts';

test('a lost data byte before a FIN is retransmitted, and a simultaneous close completes', () => {
  const r = replay(loadHistory('fin-probe-loop.json'));
  assert.equal(describe(r), 'ok');
});
