/**
 * Core bug found by the simulator (seeds 67 and 103 of `npm run sim`):
 * with window scaling, a receiver whose application does not read keeps
 * moving the right edge of its advertised window past its buffer.
 *
 * Connection.advertiseWindow() rounds the scaled window field *up* when
 * rounding down would shrink the window below the last promise
 * (RCV.ADV); it then records the rounded edge as the new promise. Every ACK
 * can so add up to 2^shift - 1 bytes beyond the buffer, and the next ACK
 * starts from the inflated promise: the excess accumulates. The receive
 * buffer then holds more than recvBufferBytes (66 498 bytes in a
 * 65 535-byte buffer at shift 7 after one 91 KB write; at 1-byte segments
 * from a hostile peer, 127 extra bytes per ACK: unbounded).
 *
 * Invariant: unread + out-of-order bytes <= recvBufferBytes (+ one scale
 * unit of rounding); advertised window <= free space (+ one unit).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Network } from '../../src/sim/network.ts';
import { parseIpv4Addr } from '../../src/wire/bytes.ts';
import type { Connection } from '../../src/tcp/connection.ts';

const A = parseIpv4Addr('10.0.0.1')!;
const B = parseIpv4Addr('10.0.0.2')!;

test('a receiver that does not read never holds more than its buffer (window scale 7, 65535-byte buffer)', () => {
  const net = new Network({ seed: 1 });
  const hub = net.addHub({ impair: { delayUs: 5000 } });
  const a = net.addStack({ name: 'a' });
  const b = net.addStack({ name: 'b', tcp: { recvBufferBytes: 65535, windowScaleShift: 7 } });
  net.attach(a, hub, A);
  net.attach(b, hub, B);
  let server: Connection | null = null;
  b.listen(80, { onConnection: (c) => (server = c) });
  const c = a.connect(B, 80);
  net.runUntil(() => server !== null);
  a.send(c, new Uint8Array(200_000));
  let worst = 0;
  let worstAdv = 0;
  for (let i = 0; i < 2000 && net.step(); i++) {
    const s = server as Connection | null;
    if (!s) continue;
    worst = Math.max(worst, s.readable() + (s.ooo?.byteCount ?? 0));
    worstAdv = Math.max(worstAdv, s.readable() + ((s.rcvAdv - s.rcvNxt) | 0));
  }
  assert.ok(worst <= 65535 + 128, `the receiver holds ${worst} bytes in a 65535-byte buffer`);
  assert.ok(worstAdv <= 65535 + 128, `buffered + advertised reached ${worstAdv} bytes`);
});

test('1-byte segments from the peer cannot inflate the window without bound (window scale 7)', () => {
  const net = new Network({ seed: 2 });
  const hub = net.addHub({ impair: { delayUs: 1000 } });
  const a = net.addStack({ name: 'a', tcp: { noDelay: true } });
  const b = net.addStack({ name: 'b', tcp: { recvBufferBytes: 8192, windowScaleShift: 7, delayedAckUs: 0 } });
  net.attach(a, hub, A);
  net.attach(b, hub, B);
  let server: Connection | null = null;
  b.listen(80, { onConnection: (c) => (server = c) });
  const c = a.connect(B, 80);
  net.runUntil(() => server !== null);
  // One byte per round trip (Nagle off, each write after the previous ACK):
  // each ACK re-advertises the full 8192 bytes (8191 rounded up to 64 << 7).
  for (let i = 0; i < 9000; i++) {
    if (a.send(c, new Uint8Array([i & 255])) === 0) break;
    net.runFor(3000);
  }
  const s = server as unknown as Connection;
  assert.ok(s.readable() <= 8192 + 128, `the receiver holds ${s.readable()} bytes in an 8192-byte buffer`);
});
