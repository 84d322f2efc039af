/**
 * The gateway's per-guest limits (issue 15, "Limits and safety";
 * gateway/limits.ts): the bounded host connects (ConnectGate, unit and with
 * a SYN flood from a synack guest), the memory cap over all forwarded
 * connections, and keepalive toward the guest (RFC 9293 §3.8.4) resetting
 * the host side of a dead guest's connection. Host peers are node:net
 * servers on 127.0.0.1 reached through 10.0.2.2; every wait is bounded.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type * as nodeNet from 'node:net';
import { ConnectGate, keepAliveConfig } from '../../src/gateway/limits.ts';
import { createGateway } from '../../src/gateway/gateway.ts';
import { createMemoryNetwork } from '../../src/api/memory-network.ts';
import type { Socket as SynackSocket } from '../../src/api/socket.ts';
import { closedPort, hostServer, HOST_SOCKETS, memoryGatewayWith, pattern, waitFor, waitStalled } from './helpers.ts';

const GW = '10.0.2.2';

function connectGuest(net: { connect(port: number, host: string): SynackSocket }, port: number): Promise<SynackSocket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, GW);
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

describe('ConnectGate: bounded host connects', () => {
  test('at most max connects at once; the rest wait in FIFO order and start as connects end; a waiting item that ended is skipped', () => {
    const started: number[] = [];
    const dead = new Set<number>();
    const g = new ConnectGate<number>(2, 10, (n) => started.push(n), (n) => !dead.has(n));
    for (let i = 1; i <= 5; i++) g.enter(i);
    assert.deepEqual(started, [1, 2]);
    assert.equal(g.stats.active, 2);
    assert.equal(g.stats.waiting, 3);
    dead.add(3);
    g.done();
    assert.deepEqual(started, [1, 2, 4], '3 ended while waiting: skipped');
    assert.equal(g.stats.abandoned, 1);
    g.done();
    g.done();
    assert.deepEqual(started, [1, 2, 4, 5]);
    assert.equal(g.stats.highWater, 2);
    assert.equal(g.stats.queued, 3);
    assert.equal(g.stats.waiting, 0);
  });

  test('the wait is bounded: beyond maxQueued a request is refused and counted', () => {
    const g = new ConnectGate<number>(1, 2, () => {}, () => true);
    assert.deepEqual([1, 2, 3, 4].map((i) => g.enter(i)), ['started', 'queued', 'queued', 'refused']);
    assert.equal(g.stats.overflow, 1);
  });

  test('keepAliveConfig: --keepalive SECONDS becomes the forwarded connections\' keepalive (interval min(idle, 75 s), 9 probes); bad values are typed errors', () => {
    assert.equal(keepAliveConfig({}), null);
    assert.deepEqual(keepAliveConfig({ keepAlive: { idleMs: 30_000 } }), { keepAlive: true, keepAliveIdleUs: 30_000_000, keepAliveIntervalUs: 30_000_000, keepAliveCount: 9 });
    assert.equal(keepAliveConfig({ keepAlive: { idleMs: 600_000 } })!.keepAliveIntervalUs, 75_000_000);
    assert.throws(() => keepAliveConfig({ keepAlive: { idleMs: 0 } }), { code: 'ERR_SYNACK_INVALID_ARG' });
    assert.throws(() => keepAliveConfig({ keepAlive: { idleMs: 1000, count: 1.5 } }), { code: 'ERR_SYNACK_INVALID_ARG' });
  });
});

for (const hostSockets of HOST_SOCKETS) {
  describe(`gateway: limits (${hostSockets} host sockets)`, { timeout: 60_000 }, () => {
    const memoryGateway = memoryGatewayWith(hostSockets);
    test('maxPendingConnects: a SYN flood from the guest to 40 closed host ports never has more than 3 host connects under way; every SYN is still answered (RST: ECONNREFUSED)', async () => {
      const ports: number[] = [];
      for (let i = 0; i < 40; i++) ports.push(await closedPort());
      const r = memoryGateway({ maxPendingConnects: 3 });
      try {
        const errors = await Promise.all(
          ports.map(
            (p) =>
              new Promise<string>((resolve) => {
                const s = r.guest.net.connect(p, GW);
                s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? '?'));
                s.once('connect', () => resolve('connected'));
              }),
          ),
        );
        assert.deepEqual(new Set(errors), new Set(['ECONNREFUSED']));
        const st = r.gw.stats().tcp;
        assert.equal(st.refused, 40);
        assert.ok(st.connectsHighWater <= 3, `at most 3 at once, saw ${st.connectsHighWater}`);
        assert.equal(st.connecting, 0);
        assert.equal(st.connectsWaiting, 0);
      } finally {
        await r.close();
      }
    });

    test('maxPendingConnects with maxConnections: requests that waited their turn still meet the connection limit (2 connected, 2 refused)', async () => {
      const h = await hostServer(() => {});
      const r = memoryGateway({ maxPendingConnects: 1, maxConnections: 2 });
      try {
        const socks: SynackSocket[] = [];
        const outcomes = await Promise.all(
          [0, 1, 2, 3].map(
            () =>
              new Promise<string>((resolve) => {
                const s = r.guest.net.connect(h.port, GW);
                socks.push(s);
                s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? '?'));
                s.once('connect', () => resolve('connected'));
              }),
          ),
        );
        assert.deepEqual(outcomes.slice().sort(), ['ECONNREFUSED', 'ECONNREFUSED', 'connected', 'connected']);
        const st = r.gw.stats().tcp;
        assert.equal(st.limited, 2);
        assert.equal(st.connectsHighWater, 1);
        for (const s of socks) s.destroy();
      } finally {
        await r.close();
        for (const c of h.conns) c.destroy();
        h.server.close();
      }
    });

    test('maxBufferedBytes: a guest that does not read lets the gateway buffer up to the cap; then new connections are refused (RST, counted) until it drains', async () => {
      const blob = pattern(8 << 20, 3);
      const h = await hostServer((s) => s.end(blob));
      const cap = 256 * 1024;
      const r = memoryGateway({ maxBufferedBytes: cap });
      const opened: nodeNet.Socket[] = [];
      try {
        const first = await connectGuest(r.guest.net, h.port);
        first.pause();
        // The host writes 8 MiB; the guest reads nothing: the gateway fills to its per-connection bounds.
        await waitStalled('the gateway buffer', () => r.gw.stats().tcp.buffered);
        assert.ok(r.gw.stats().tcp.buffered >= cap, `buffered ${r.gw.stats().tcp.buffered}`);
        const refused = await new Promise<string>((resolve) => {
          const s = r.guest.net.connect(h.port, GW);
          s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? '?'));
          s.once('connect', () => resolve('connected'));
        });
        assert.equal(refused, 'ECONNREFUSED');
        assert.equal(r.gw.stats().tcp.memoryLimited, 1);
        // The guest drains (reads to the end): the gateway's buffers empty, new connections are taken again.
        let got = 0;
        first.on('data', (d: Buffer) => (got += d.length));
        first.resume();
        await waitFor('the first download', () => got === blob.length, 30_000);
        await waitFor('the buffers drained', () => r.gw.stats().tcp.buffered < cap);
        const second = await connectGuest(r.guest.net, h.port);
        second.destroy();
        assert.equal(r.gw.stats().tcp.memoryLimited, 1);
      } finally {
        for (const s of opened) s.destroy();
        await r.close();
        for (const c of h.conns) c.destroy();
        h.server.close();
      }
    });

    test('keepAlive (RFC 9293 §3.8.4): an idle connection whose guest died is probed, then reset; the host peer sees its socket closed', async () => {
      let hostSock: nodeNet.Socket | null = null;
      let hostClosed = false;
      const h = await hostServer((s) => {
        hostSock = s;
        s.once('close', () => (hostClosed = true));
      });
      const lan = createMemoryNetwork({ ethernet: true, seed: 9 });
      const gw = createGateway({ downstream: { memory: lan }, keepAlive: { idleMs: 300, intervalMs: 200, count: 2 } });
      const guest = lan.host('10.0.2.100', { mac: '02:00:00:00:01:00' });
      guest.eth!.gatewayV4 = 0x0a000202;
      try {
        const s = await connectGuest(guest.net, h.port);
        s.on('error', () => {});
        await waitFor('the host accepted', () => hostSock !== null);
        // While the guest lives, its stack answers the probes: the connection
        // stays up through several probe periods (idle 300 ms, then probes;
        // 2 unanswered ones would end it after 700 ms).
        let probes = 0;
        lan.switch!.tap = (_from, f) => {
          // From the gateway's MAC (52:55:0a:00:02:02), IPv4, TCP, no payload: the connection is idle, so these are keepalives.
          if (f[6] === 0x52 && f[11] === 0x02 && f[12] === 0x08 && f[13] === 0x00 && f[23] === 6 && f.length <= 14 + 20 + 32 + 1) probes++;
        };
        await waitFor('three keepalive probes', () => probes >= 3, 10_000);
        assert.equal(hostClosed, false, 'answered probes keep the connection');
        // The guest dies: every frame on its link is lost from now on.
        lan.switch!.setImpairments({ loss: 1 });
        await waitFor('the host socket closed by the gateway', () => hostClosed, 20_000);
        assert.equal(gw.stats().tcp.active, 0);
      } finally {
        await gw.close();
        lan.stop();
        for (const c of h.conns) c.destroy();
        h.server.close();
      }
    });
  });
}
