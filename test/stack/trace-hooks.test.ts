/**
 * The stack's hooks see each received segment as parsed: sequence and
 * acknowledgment numbers unsigned 32-bit (wire/types.ts TcpRepr), also in
 * a repr a hook keeps — the connection's own int32 view of them (tcp/seq.ts,
 * made in place by Connection.onSegment) is not the hook's.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Network } from '../../src/sim/network.ts';
import type { TcpRepr } from '../../src/wire/types.ts';
import { parseIpv4Addr } from '../../src/wire/bytes.ts';

test('a segment a hook keeps still carries its unsigned sequence and acknowledgment numbers after the connection processed it (RFC 9293 §3.4: 32-bit sequence space)', () => {
  const net = new Network({ seed: 3 });
  const hub = net.addHub({ mtu: 1500 });
  const server = net.addStack({ name: 'server' });
  const client = net.addStack({ name: 'client' });
  const SRV = parseIpv4Addr('10.0.0.1')!;
  net.attach(server, hub, SRV, 8);
  net.attach(client, hub, parseIpv4Addr('10.0.0.2')!, 8);
  const kept: Array<{ tcp: TcpRepr; seq: number; ack: number }> = [];
  server.addHook((ev) => {
    if (ev.type === 'segment' && ev.dir === 'in') kept.push({ tcp: ev.tcp, seq: ev.tcp.seq, ack: ev.tcp.ack });
  });
  server.listen(80);
  // Enough connections that some sequence numbers lie above 2^31 (where int32 and unsigned differ).
  for (let i = 0; i < 16; i++) client.connect(SRV, 80);
  net.runFor(1_000_000);
  assert.ok(kept.some((k) => k.seq >= 2 ** 31 || k.ack >= 2 ** 31), 'some numbers above 2^31 were seen');
  for (const k of kept) {
    assert.equal(k.tcp.seq, k.seq);
    assert.equal(k.tcp.ack, k.ack);
    assert.ok(k.tcp.seq >= 0 && k.tcp.ack >= 0);
  }
});
