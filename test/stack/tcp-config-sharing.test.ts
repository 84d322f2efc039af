/**
 * Per-connection TCP options (Stack.connect / listen / a forwarded accept
 * with `tcp`) are merged over the stack's TcpConfig once per set of values
 * and shared, so a gateway's keepalive or a socket's noDelay costs each
 * connection no config of its own; a connection that changes an option
 * later gets a copy and leaves the others as they were.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Network } from '../../src/sim/network.ts';
import type { Connection } from '../../src/tcp/connection.ts';
import { deriveTcpConfig, makeTcpConfig } from '../../src/tcp/config.ts';
import { parseIpv4Addr } from '../../src/wire/bytes.ts';

const SRV = parseIpv4Addr('10.0.0.1')!;

function pair(): { net: Network; client: ReturnType<Network['addStack']>; server: ReturnType<Network['addStack']> } {
  const net = new Network({ seed: 3 });
  const hub = net.addHub({ mtu: 1500 });
  const server = net.addStack({ name: 'server' });
  const client = net.addStack({ name: 'client' });
  net.attach(server, hub, SRV, 8);
  net.attach(client, hub, parseIpv4Addr('10.0.0.2')!, 8);
  return { net, client, server };
}

test('connections opened with equal TCP options share one TcpConfig (options objects of their own included); other values get another; setNoDelay on one gives it a copy and leaves the shared one alone', () => {
  const { net, client, server } = pair();
  const accepted: Connection[] = [];
  server.listen(80, { onConnection: (c) => accepted.push(c), tcp: { keepAlive: true, keepAliveIdleUs: 30_000_000 } });
  // A fresh options object per connect, as host.net's sockets make them.
  const a = client.connect(SRV, 80, { tcp: { noDelay: true } });
  const b = client.connect(SRV, 80, { tcp: { noDelay: true } });
  const other = client.connect(SRV, 80, { tcp: { noDelay: true, keepAlive: true } });
  net.runUntil(() => accepted.length === 3);
  assert.equal(a.config, b.config, 'equal options, one config');
  assert.notEqual(a.config, client.tcpConfig, 'merged over the stack default');
  assert.equal(a.config.noDelay, true);
  assert.notEqual(other.config, a.config);
  assert.equal(other.config.keepAlive, true);
  assert.equal(a.config.keepAlive, false, 'the other set of values did not leak into the shared config');
  // The accepted side: the listener's options, one config for all three.
  assert.equal(accepted[0]!.config, accepted[1]!.config);
  assert.equal(accepted[1]!.config, accepted[2]!.config);
  assert.equal(accepted[0]!.config.keepAliveIdleUs, 30_000_000);
  // A connection changing an option gets a copy (copy-on-write).
  const shared = a.config;
  a.setNoDelay(false, net.clock.now());
  assert.notEqual(a.config, shared);
  assert.equal(a.config.noDelay, false);
  assert.equal(b.config, shared);
  assert.equal(shared.noDelay, true, 'the shared config is unchanged');
});

test('deriveTcpConfig: the same options object with changed values gets a new config; an invalid value throws as makeTcpConfig does; values that are not primitives are merged each time', () => {
  const base = makeTcpConfig();
  const opts: { keepAliveIdleUs: number } = { keepAliveIdleUs: 10_000_000 };
  const first = deriveTcpConfig(base, opts);
  assert.equal(deriveTcpConfig(base, { keepAliveIdleUs: 10_000_000 }), first);
  opts.keepAliveIdleUs = 20_000_000;
  const second = deriveTcpConfig(base, opts);
  assert.notEqual(second, first);
  assert.equal(second.keepAliveIdleUs, 20_000_000);
  assert.equal(first.keepAliveIdleUs, 10_000_000);
  // Another base: its own config.
  const base2 = makeTcpConfig({ noDelay: true });
  const third = deriveTcpConfig(base2, { keepAliveIdleUs: 20_000_000 });
  assert.notEqual(third, second);
  assert.equal(third.noDelay, true);
  assert.throws(() => deriveTcpConfig(base, { recvBufferBytes: -1 }), (e: Error & { code?: string }) => e.code === 'ERR_SYNACK_INVALID_ARG');
  const odd = { noDelay: true, extra: { x: 1 } } as unknown as Parameters<typeof deriveTcpConfig>[1];
  assert.notEqual(deriveTcpConfig(base, odd), deriveTcpConfig(base, odd));
});
