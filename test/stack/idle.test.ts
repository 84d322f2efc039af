/**
 * Idle established connections cost memory only: no timer stays armed for
 * them (keep-alives are off by default, RFC 1122 §4.2.3.6), and after a long
 * idle period each one still carries data. The million-connection bench row
 * (bench/million.ts) depends on both.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Network } from '../../src/sim/network.ts';
import type { Connection } from '../../src/tcp/connection.ts';
import type { Stack } from '../../src/stack/stack.ts';
import { parseIpv4Addr } from '../../src/wire/bytes.ts';

test('RFC 1122 §4.2.3.6: idle established connections (keep-alives off by default) arm no timer, and each carries a byte after an idle hour', () => {
  const net = new Network({ seed: 7 });
  const hub = net.addHub({ mtu: 1500 });
  const server = net.addStack({ name: 'server' });
  const SRV = parseIpv4Addr('10.0.0.1')!;
  net.attach(server, hub, SRV, 8);
  // Two clients with 1,000 ephemeral ports each: 2,000 connections to one server port.
  const clients: Stack[] = [];
  for (let i = 0; i < 2; i++) {
    const c = net.addStack({ name: `client${i}`, ephemeralPorts: [40000, 40999], portSeed: i + 1 });
    net.attach(c, hub, parseIpv4Addr(`10.1.0.${i + 1}`)!, 8);
    clients.push(c);
  }
  const accepted: Connection[] = [];
  server.listen(80, { backlog: 4096, onConnection: (c) => accepted.push(c) });
  const conns: Array<[Stack, Connection]> = [];
  for (const c of clients) for (let i = 0; i < 1000; i++) conns.push([c, c.connect(SRV, 80)]);
  net.runUntil(() => accepted.length === conns.length);
  assert.ok(conns.every(([, c]) => c.state === 'ESTABLISHED'));

  net.runFor(3_600_000_000); // an idle hour of virtual time
  assert.equal(server.armedTimers + clients.reduce((n, c) => n + c.armedTimers, 0), 0, 'no timer armed for idle connections');
  assert.ok(accepted.every((c) => c.state === 'ESTABLISHED'), 'nobody timed out');

  for (const [stack, c] of conns) stack.send(c, new Uint8Array([0x2a]));
  net.runUntilIdle();
  // RCV.NXT = IRS + 1 (the SYN) + 1 (the byte) on every server connection.
  assert.equal(accepted.filter((c) => ((c.rcvNxt - c.irs) >>> 0) === 2).length, conns.length);
  assert.equal(server.armedTimers + clients.reduce((n, c) => n + c.armedTimers, 0), 0, 'idle again: every delayed ACK has fired');
});
