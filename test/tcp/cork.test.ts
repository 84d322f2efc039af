/**
 * SENDs without PUSH (Stack.cork / uncork). RFC 9293 §3.9.1.2: "If the
 * PUSH flag is not set, the data may be combined with data from subsequent
 * SENDs for transmission efficiency." A relay that reads the host socket
 * in chunks that are not a multiple of the MSS (the gateway: one wake-up's
 * reads) corks the stack for the batch: full segments go as they fill, the
 * short tail waits for uncork() — Nagle off or not — and nothing waits
 * longer than that. Two stacks on the in-memory network, virtual clock.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Network } from '../../src/sim/network.ts';
import type { Connection } from '../../src/tcp/connection.ts';
import type { Stack } from '../../src/stack/stack.ts';
import { parseIpv4Addr } from '../../src/wire/bytes.ts';

const SRV = parseIpv4Addr('10.0.0.1')!;

function pair(mtu: number): { net: Network; client: Stack; server: Stack; c: Connection; s: () => Connection; sent: number[] } {
  const net = new Network({ seed: 3 });
  const hub = net.addHub({ mtu, impair: { delayUs: 1000 } });
  const server = net.addStack({ name: 'server' });
  const client = net.addStack({ name: 'client' });
  net.attach(server, hub, SRV, 8);
  net.attach(client, hub, parseIpv4Addr('10.0.0.2')!, 8);
  let s: Connection | null = null;
  // Buffers of the gateway's size (the window never cuts a segment short here).
  server.listen(80, { tcp: { recvBufferBytes: 4 << 20 }, onConnection: (conn) => (s = conn) });
  const c = client.connect(SRV, 80, { tcp: { noDelay: true, sendBufferBytes: 4 << 20 } });
  net.runUntil(() => s !== null && c.state === 'ESTABLISHED');
  // New data only (a tail loss probe may resend the last segment while its ACK is delayed).
  const sent: number[] = [];
  let next = c.sndNxt;
  client.addHook((ev) => {
    if (ev.type !== 'segment' || ev.dir !== 'out' || ev.tcp.payload.length === 0 || ev.tcp.seq !== next) return;
    sent.push(ev.tcp.payload.length);
    next = (next + ev.tcp.payload.length) >>> 0;
  });
  return { net, client, server, c, s: () => s!, sent };
}

function readAll(server: Stack, s: Connection): number {
  let n = 0;
  for (const chunk of server.read(s)) n += chunk.length;
  return n;
}

describe('RFC 9293 §3.9.1.2: SENDs without PUSH (Stack.cork)', () => {
  test('with Nagle off, every SEND of 2,000 octets sends its short tail at once (the baseline)', () => {
    const { client, c, sent } = pair(1500);
    const mss = c.sndMss - 12; // timestamps on every segment
    for (let i = 0; i < 3; i++) client.send(c, new Uint8Array(2000));
    assert.ok(sent.some((n) => n < mss), `short segments: ${sent.join(',')}`);
    assert.ok(sent.length > Math.ceil(6000 / mss), 'more segments than the bytes need');
  });

  test('corked, three SENDs of 2,000 octets go as full segments, and the short tail goes at uncork() — not later', () => {
    const { net, client, server, c, s, sent } = pair(1500);
    const mss = c.sndMss - 12;
    client.cork();
    for (let i = 0; i < 3; i++) client.send(c, new Uint8Array(2000));
    assert.deepEqual(sent, Array(Math.floor(6000 / mss)).fill(mss), 'only full segments while corked');
    client.uncork();
    assert.deepEqual(sent, [...Array(Math.floor(6000 / mss)).fill(mss), 6000 % mss], 'the tail, at once');
    net.runUntil(() => c.unackedData() === 0);
    assert.equal(readAll(server, s()), 6000, 'every byte delivered');
  });

  test('a tail held by the cork arms no persist timer: once it is acknowledged the idle connection has no timer armed', () => {
    const { net, client, c, sent } = pair(1500);
    client.cork();
    client.send(c, new Uint8Array(100));
    assert.equal(c.persistAt, Infinity, 'no persist timer for a tail the batch will push');
    client.uncork();
    assert.deepEqual(sent, [100]);
    net.runUntil(() => c.unackedData() === 0);
    net.runFor(1_000_000);
    assert.equal(c.nextDeadline(), Infinity, 'nothing armed on the idle connection');
  });

  test('corks nest: only the outermost uncork() pushes', () => {
    const { client, c, sent } = pair(1500);
    client.cork();
    client.cork();
    client.send(c, new Uint8Array(100));
    client.uncork();
    assert.deepEqual(sent, [], 'still corked');
    client.uncork();
    assert.deepEqual(sent, [100]);
    client.uncork(); // unbalanced: no effect
    client.send(c, new Uint8Array(10));
    assert.deepEqual(sent, [100, 10], 'uncorked: Nagle off sends at once');
  });

  test('a FIN queued while corked goes with the tail at once (CLOSE pushes)', () => {
    const { client, c, sent } = pair(1500);
    client.cork();
    client.send(c, new Uint8Array(100));
    client.close(c);
    assert.deepEqual(sent, [100], 'the FIN flushed the tail');
    assert.equal(c.state, 'FIN-WAIT-1');
    client.uncork();
    assert.deepEqual(sent, [100]);
  });

  test('reads of 64 KiB toward an MSS of 65,483 (MTU 65535): one tail per corked batch, where each SEND alone sends a full segment and a 53-octet one', () => {
    const run = (corked: boolean): number[] => {
      const { net, client, server, c, s, sent } = pair(65535);
      let got = 0;
      for (let batch = 0; batch < 3; batch++) {
        if (corked) client.cork();
        for (let i = 0; i < 4; i++) client.send(c, new Uint8Array(65536));
        if (corked) client.uncork();
        net.runUntil(() => {
          got += readAll(server, s());
          return c.sendQueued() === 0;
        });
      }
      assert.equal(got, 3 * 4 * 65536);
      return sent;
    };
    const mss = 65535 - 40 - 12;
    const plain = run(false).filter((n) => n < mss);
    const corked = run(true);
    assert.ok(plain.length >= 6, `uncorked: short segments ${plain.join(',')}`);
    assert.deepEqual(corked.filter((n) => n < mss), [212, 212, 212], `one tail per batch: ${corked.join(',')}`);
    assert.equal(corked.reduce((a, b) => a + b, 0), 3 * 4 * 65536);
  });
});
