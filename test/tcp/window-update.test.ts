/**
 * When a read's window update goes out (RFC 9293 §3.8.6.2.2 with §3.8.6.3:
 * the receiver's SWS avoidance and the delayed ACK "combine to determine
 * when an ACK segment containing the current window will really be sent").
 * The right edge advances once the window grew by min(RCV.BUFF/2, MSS); the
 * segment carrying it goes at once only when the sender may be waiting for
 * it (the window it knows is half the buffer or less) or an ACK was owed
 * already and the read emptied the buffer — otherwise it rides on the next
 * ACK, within the delayed-ACK time (tcp/user-calls.ts `read`). Driven by
 * the per-state harness: no clock but the test's.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ACK, expectSeg, inEstablished, seqAdd, type Fixture } from './harness.ts';

const SEG = 1448;
const BUF = 65535;
const cfg = { recvBufferBytes: BUF, delayedAckUs: 40_000 };

function data(f: Fixture, n = SEG): ReturnType<Fixture['peer']> {
  const sent = f.peer({ payload: new Uint8Array(n) });
  f.peerSeq = seqAdd(f.peerSeq, n);
  return sent;
}

function readAll(f: Fixture): ReturnType<Fixture['call']>['sent'] {
  return f.call((c, now) => c.read(Infinity, now)).sent;
}

describe('RFC 9293 §3.8.6.2.2 + §3.8.6.3: the window update after a read', () => {
  test('a receiver that reads as data arrives sends one ACK per two full-sized segments and no window update of its own', () => {
    const f = inEstablished(cfg);
    let acks = 0;
    for (let i = 0; i < 20; i++) {
      acks += data(f).length;
      if (i % 2 === 1) acks += readAll(f).length;
    }
    assert.equal(acks, 10, 'the data ACKs alone');
    // The window the reads opened goes out with the next ACK, or when the delayed-ACK time is up.
    const later = f.tick(f.now + 40_000);
    assert.equal(later.length, 1);
    expectSeg(later[0], { flags: ACK, ack: f.peerSeq });
    assert.equal(later[0]!.window, BUF, 'the whole buffer advertised again');
  });

  test('a read that opens a window the sender knows to be half the buffer or less is announced at once (the sender may be waiting), read by read', () => {
    const f = inEstablished(cfg);
    // 24 full-sized segments unread: the ACKs advertise an ever smaller window, 30,783 at the end.
    for (let i = 0; i < 24; i++) data(f);
    const sent = readAll(f);
    assert.equal(sent.length, 1, 'one window update');
    expectSeg(sent[0], { flags: ACK, ack: f.peerSeq });
    assert.equal(sent[0]!.window, BUF);
  });

  test('a reader that takes a full buffer back a piece at a time announces each piece while the window the sender knows is at most half the buffer', () => {
    const f = inEstablished(cfg);
    for (let i = 0; i < 45; i++) data(f); // 65,160 of 65,535 unread: the ACKs end at a window of 375
    const windows: number[] = [];
    for (let i = 0; i < 45; i += 5) {
      const sent = f.call((c, now) => c.read(5 * SEG, now)).sent;
      for (const s of sent) windows.push(s.window);
    }
    // Each read of 7,240 octets is sent at once until the window the sender knows passes half the buffer.
    assert.deepEqual(windows, [7615, 14855, 22095, 29335, 36575]);
    const later = f.tick(f.now + 40_000);
    assert.equal(later.length, 1, 'the rest rides on the delayed ACK');
    assert.equal(later[0]!.window, BUF);
  });

  test('a read that empties the buffer while an ACK is owed sends it at once, not after the delayed-ACK time', () => {
    const f = inEstablished(cfg);
    data(f);
    data(f); // the second full-sized segment: ACKed at once
    assert.equal(data(f).length, 0, 'the third waits (delayed ACK)');
    const sent = readAll(f);
    assert.equal(sent.length, 1);
    expectSeg(sent[0], { flags: ACK, ack: f.peerSeq });
    assert.equal(sent[0]!.window, BUF);
    assert.equal(f.tick(f.now + 40_000).length, 0, 'nothing left owed');
  });

  test('a read that frees less than min(RCV.BUFF/2, MSS) beyond what was advertised does not advance the window (SWS avoidance)', () => {
    const f = inEstablished(cfg);
    data(f, 100);
    assert.equal(readAll(f).length, 0);
    // The delayed ACK of the 100 octets still goes out within its time.
    const later = f.tick(f.now + 40_000);
    assert.equal(later.length, 1);
    expectSeg(later[0], { flags: ACK, ack: f.peerSeq });
  });
});
