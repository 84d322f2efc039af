/**
 * Demultiplexing by the full 4-tuple (RFC 9293 §3.10.7: a segment goes to
 * the connection of its <local address, local port, remote address, remote
 * port>): connections that share a port pair must not share a bucket, or a
 * spoofer who fixes the ports makes every lookup a linear scan.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Network } from '../../src/sim/network.ts';
import { parseIpv4Addr } from '../../src/wire/bytes.ts';

describe('demux by 4-tuple', () => {
  test('RFC 9293 §3.10.7: 10,000 connections with the same port pair from different addresses each get their own bucket, and each is found', () => {
    const net = new Network({ seed: 1 });
    const hub = net.addHub();
    const s = net.addStack({ name: 's', maxConnections: 20_000 });
    net.attach(s, hub, parseIpv4Addr('10.0.0.1')!, 8);
    const base = parseIpv4Addr('10.1.0.0')!;
    const conns = [];
    for (let i = 0; i < 10_000; i++) conns.push(s.connect(base + i, 443, { localPort: 40_000 }));
    const st = s.demuxStats();
    assert.equal(s.connectionCount, 10_000);
    assert.ok(st.buckets >= 9_990, `${st.buckets} buckets`);
    assert.ok(st.largestBucket <= 2, `largest bucket holds ${st.largestBucket}`);
    for (let i = 0; i < 10_000; i += 997) assert.equal(s.lookup(s.interfaces[0]!.addr, 40_000, base + i, 443), conns[i]);
    assert.equal(s.lookup(s.interfaces[0]!.addr, 40_000, base + 10_000, 443), null);
    assert.equal(s.lookup(s.interfaces[0]!.addr, 40_001, base, 443), null);
  });

  test('RFC 9293 §3.10.7: the last-found connection is answered from a one-entry cache, and a removed connection is never found again', () => {
    const net = new Network({ seed: 1 });
    const hub = net.addHub();
    const s = net.addStack({ name: 's' });
    net.attach(s, hub, parseIpv4Addr('10.0.0.1')!, 8);
    const local = s.interfaces[0]!.addr;
    const peer = parseIpv4Addr('10.0.0.9')!;
    const a = s.connect(peer, 80, { localPort: 40_000 });
    const b = s.connect(peer, 80, { localPort: 40_001 });
    assert.equal(s.lookup(local, 40_000, peer, 80), a);
    assert.equal(s.lookup(local, 40_000, peer, 80), a, 'the same answer twice (the second from the cache)');
    assert.equal(s.lookup(local, 40_001, peer, 80), b, 'a different port is not the cached connection');
    assert.equal(s.lookup(local, 40_000, peer, 81), null);
    s.abort(b); // b was found last: it sits in the cache
    assert.equal(s.lookup(local, 40_001, peer, 80), null, 'an aborted connection has left the table and the cache');
    assert.equal(s.lookup(local, 40_000, peer, 80), a);
  });
});
