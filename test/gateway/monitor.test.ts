/**
 * The gateway monitor (gateway.watch(), src/gateway/monitor.ts) — what
 * `synack gateway --viz` shows — with real components: a synack guest on an
 * in-memory Ethernet link making connections through the gateway to
 * node:net servers on 127.0.0.1. The rows carry each connection's state,
 * bytes, host socket and segments; the records stay bounded.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as dgram from 'node:dgram';
import * as nodeNet from 'node:net';
import type { Socket as SynackSocket } from '../../src/api/socket.ts';
import { closedPort, collect, hostServer, memoryGateway, pattern, waitFor } from './helpers.ts';

const GW = '10.0.2.2';

function connectGuest(net: { connect(port: number, host: string): SynackSocket }, port: number, host = GW): Promise<SynackSocket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, host);
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

/** A host server that reads the upload to its end, then answers `reply` and ends. */
async function replyServer(reply: Buffer) {
  const peers: Array<{ port: number; up: Promise<Buffer> }> = [];
  const h = await hostServer((s) => {
    const up = collect(s);
    peers.push({ port: s.remotePort!, up });
    void up.then(() => s.end(reply));
  });
  return { ...h, peers };
}

describe('gateway monitor: the guest connections, live', { timeout: 60_000 }, () => {
  test('RFC 9293 §3.5: a forwarded connection is one row — states through the handshake and close, bytes each way, the host socket it maps to, its segments', async () => {
    const down = pattern(3000, 3);
    const h = await replyServer(down);
    const r = memoryGateway();
    const mon = r.gw.watch();
    try {
      const sock = await connectGuest(r.guest.net, h.port);
      const got = collect(sock);
      sock.end(pattern(1000, 4));
      assert.equal((await got).length, down.length);
      await waitFor('the gateway side of the connection closed', () => mon.rows()[0]?.closed === true);
      const rows = mon.rows();
      assert.equal(rows.length, 1);
      const row = rows[0]!;
      assert.equal(row.kind, 'forwarded');
      assert.equal(row.guest, `10.0.2.100:${sock.localPort}`);
      assert.equal(row.peer, `${GW}:${h.port}`);
      assert.equal(row.state, 'CLOSED');
      assert.equal(row.bytesUp, 1000);
      assert.equal(row.bytesDown, 3000);
      assert.deepEqual([row.rateUp, row.rateDown], [0, 0], 'a closed connection has no rate');
      // The host socket: from the gateway's ephemeral port on 127.0.0.1 to the server.
      assert.deepEqual(row.host, { local: `127.0.0.1:${h.peers[0]!.port}`, remote: `127.0.0.1:${h.port}` });

      const d = mon.detail(row.id)!;
      assert.equal(d.segments.length, row.segments);
      // The three-way handshake, as the ladder draws it.
      assert.deepEqual(
        d.segments.slice(0, 3).map((s) => `${s.from}:${s.flags}`),
        ['guest:SYN', 'gateway:SYN+ACK', 'guest:ACK'],
      );
      assert.equal(d.segments[0]!.relSeq, 0);
      assert.equal(d.segments[1]!.relSeq, 0);
      assert.equal(d.segments[1]!.relAck, 1, 'the SYN,ACK acknowledges the SYN: relative ack 1');
      const upBytes = d.segments.filter((s) => s.from === 'guest').reduce((n, s) => n + s.len, 0);
      assert.equal(upBytes, 1000);
      // The gateway's side: passive open, then the guest closes first (CLOSE-WAIT, LAST-ACK).
      assert.equal(d.initial, 'LISTEN');
      const path = [d.initial, ...d.transitions.map((t) => t.to)];
      assert.deepEqual(path, ['LISTEN', 'SYN-RECEIVED', 'ESTABLISHED', 'CLOSE-WAIT', 'LAST-ACK', 'CLOSED']);
      assert.ok(d.segments.some((s) => s.from === 'guest' && s.flags.includes('FIN')));
      assert.ok(d.segments.some((s) => s.from === 'gateway' && s.flags.includes('FIN')));
    } finally {
      mon.close();
      await r.close();
      h.server.close();
    }
  });

  test('IPv6: a guest connection to fd00::2 is a row with bracketed addresses, its host socket on ::1', async () => {
    const h = await hostServer((s) => s.end('over v6'), '::1');
    const r = memoryGateway({ ipv6: true });
    const mon = r.gw.watch();
    try {
      await waitFor('the guest finished DAD for fd00::100', () => r.guest.eth!.tentative.size === 0);
      const sock = await connectGuest(r.guest.net, h.port, 'fd00::2');
      assert.equal((await collect(sock)).toString(), 'over v6');
      sock.end();
      await waitFor('the row', () => mon.rows()[0]?.bytesDown === 7);
      const row = mon.rows()[0]!;
      assert.equal(row.guest, `[fd00::100]:${sock.localPort}`);
      assert.equal(row.peer, `[fd00::2]:${h.port}`);
      assert.match(row.host!.local, /^\[::1\]:\d+$/);
      assert.equal(row.host!.remote, `[::1]:${h.port}`);
    } finally {
      mon.close();
      await r.close();
      h.server.close();
    }
  });

  test('RFC 9293 §3.10.7.2: a connection the host refuses is a closed row with the guest SYN and the RST that answered it, and no host socket', async () => {
    const port = await closedPort();
    const r = memoryGateway();
    const mon = r.gw.watch();
    try {
      const s = r.guest.net.connect(port, GW);
      await new Promise((resolve) => s.once('error', resolve));
      await waitFor('the row', () => mon.rows()[0]?.closed === true);
      const row = mon.rows()[0]!;
      assert.equal(row.state, 'CLOSED');
      assert.equal(row.failure, 'refused');
      assert.equal(row.host, null);
      assert.equal(row.bytesUp + row.bytesDown, 0);
      assert.deepEqual(
        mon.detail(row.id)!.segments.map((x) => `${x.from}:${x.flags}`),
        ['guest:SYN', 'gateway:RST+ACK'],
      );
    } finally {
      mon.close();
      await r.close();
    }
  });

  for (const v6 of [false, true]) {
    test(`RFC ${v6 ? '4443 §3.1' : '792'}: a guest SYN the gateway answers with ICMP Destination Unreachable (policy) is a closed row marked unreachable${v6 ? ' (IPv6)' : ''}`, async () => {
      const r = memoryGateway({ deny: ['127.0.0.0/8', '::1/128'], ...(v6 ? { ipv6: true } : {}) });
      const mon = r.gw.watch();
      try {
        if (v6) await waitFor('the guest finished DAD for fd00::100', () => r.guest.eth!.tentative.size === 0);
        const s = r.guest.net.connect(8080, v6 ? 'fd00::2' : GW);
        s.on('error', () => {});
        await waitFor('the ICMP error ended the row', () => mon.rows()[0]?.closed === true);
        const row = mon.rows()[0]!;
        assert.equal(r.gw.stats().tcp.denied, 1);
        assert.equal(row.state, 'CLOSED');
        assert.equal(row.failure, 'unreachable');
        assert.equal(row.peer, v6 ? '[fd00::2]:8080' : `${GW}:8080`);
        assert.deepEqual(
          mon.detail(row.id)!.segments.map((x) => `${x.from}:${x.flags}`),
          ['guest:SYN'],
        );
        s.destroy();
      } finally {
        mon.close();
        await r.close();
      }
    });
  }

  test('bounded: at most maxConnections records (the oldest closed ones are evicted) and the last maxSegments segments each', async () => {
    const h = await replyServer(pattern(20_000, 5));
    const r = memoryGateway();
    const mon = r.gw.watch({ maxConnections: 3, maxSegments: 10 });
    try {
      const ports: number[] = [];
      for (let i = 0; i < 5; i++) {
        const sock = await connectGuest(r.guest.net, h.port);
        ports.push(sock.localPort!);
        const got = collect(sock);
        sock.end(pattern(5000, i));
        await got;
        await waitFor('the connection closed', () => mon.rows().every((x) => x.closed));
      }
      const rows = mon.rows();
      assert.equal(rows.length, 3);
      assert.deepEqual(
        rows.map((x) => x.guest),
        ports.slice(2).map((p) => `10.0.2.100:${p}`),
        'the newest three remain',
      );
      assert.deepEqual(mon.stats(), { tracked: 3, evicted: 2, untracked: 0 });
      for (const row of rows) {
        assert.ok(row.segments > 10, `connection ${row.id} had ${row.segments} segments`);
        const d = mon.detail(row.id)!;
        assert.equal(d.segments.length, 10);
        assert.equal(d.segments.at(-1)!.n, row.segments - 1, 'the newest segments are kept');
        assert.equal(row.bytesDown, 20_000);
      }
    } finally {
      mon.close();
      await r.close();
      h.server.close();
    }
  });

  test('bounded: when every record is open, a new connection is counted as untracked (and still forwarded)', async () => {
    const h = await hostServer(() => {});
    const r = memoryGateway();
    const mon = r.gw.watch({ maxConnections: 1 });
    try {
      const a = await connectGuest(r.guest.net, h.port);
      const b = await connectGuest(r.guest.net, h.port);
      assert.equal(r.gw.stats().tcp.opened, 2);
      assert.equal(mon.rows().length, 1);
      assert.equal(mon.rows()[0]!.guest, `10.0.2.100:${a.localPort}`);
      assert.equal(mon.stats().untracked, 1);
      a.destroy();
      b.destroy();
    } finally {
      mon.close();
      await r.close();
      h.server.close();
    }
  });

  test('the rate is the bytes forwarded over the sampling interval, each way (on the monitor clock)', async () => {
    let echoed = 0;
    const h = await hostServer((s) => {
      s.on('data', (d: Buffer) => {
        echoed += d.length;
        s.write(Buffer.concat([d, d]));
      });
    });
    const r = memoryGateway();
    let now = 0;
    const mon = r.gw.watch({ now: () => now });
    try {
      const sock = await connectGuest(r.guest.net, h.port);
      let got = 0;
      sock.on('data', (d: Buffer) => (got += d.length));
      sock.write(pattern(4000, 1));
      await waitFor('the echo', () => echoed === 4000 && got === 8000);
      await waitFor('the counters', () => mon.rows()[0]!.bytesDown === 8000);
      assert.deepEqual([mon.rows()[0]!.rateUp, mon.rows()[0]!.rateDown], [0, 0], 'no interval has passed');
      now = 2000;
      const row = mon.rows()[0]!;
      assert.deepEqual([row.rateUp, row.rateDown], [2000, 4000], '4000 B up and 8000 B down in 2 s');
      now = 3000;
      assert.deepEqual([mon.rows()[0]!.rateUp, mon.rows()[0]!.rateDown], [0, 0], 'idle for the next second');
      sock.destroy();
    } finally {
      mon.close();
      await r.close();
      h.server.close();
    }
  });

  test('UDP: a guest flow through a host dgram socket is a row of udp() — datagrams and bytes each way, the host socket — until it closes when idle', async () => {
    const echo = dgram.createSocket('udp4');
    echo.on('message', (m, rinfo) => echo.send(Buffer.concat([m, m]), rinfo.port, rinfo.address));
    await new Promise<void>((resolve) => echo.bind(0, '127.0.0.1', resolve));
    const port = (echo.address() as { port: number }).port;
    const r = memoryGateway({ udpIdleTimeoutMs: 300 });
    const mon = r.gw.watch();
    try {
      const u = r.guest.dgram.createSocket('udp4');
      let replies = 0;
      u.on('message', () => replies++);
      await new Promise<void>((resolve) => u.bind(0, () => resolve()));
      for (let i = 0; i < 3; i++) u.send(Buffer.from('hello'), port, GW);
      await waitFor('three echoes', () => replies === 3);
      const rows = mon.udp();
      assert.equal(rows.length, 1);
      const f = rows[0]!;
      assert.equal(f.guest, `10.0.2.100:${u.address().port}`);
      assert.equal(f.peer, `${GW}:${port}`);
      assert.deepEqual([f.datagramsUp, f.datagramsDown, f.bytesUp, f.bytesDown], [3, 3, 15, 30]);
      assert.match(f.host.local, /^0\.0\.0\.0:\d+$/);
      assert.equal(f.host.remote, `127.0.0.1:${port}`);
      await waitFor('the idle flow closed', () => mon.udp().length === 0);
      u.close();
    } finally {
      mon.close();
      await r.close();
      echo.close();
    }
  });

  test('a published port: the host client connection is a "published" row, the gateway opening toward the guest port', async () => {
    const hostPort = await closedPort();
    const r = memoryGateway({ publish: [{ hostPort, guestPort: 80 }] });
    const mon = r.gw.watch();
    try {
      await r.gw.ready;
      const srv = r.guest.net.createServer({ allowHalfOpen: true }, (s) => {
        s.resume();
        s.end('hi from the guest');
      });
      await new Promise<void>((resolve) => srv.listen(80, resolve));
      const client = nodeNet.connect(hostPort, '127.0.0.1');
      const got = collect(client);
      await new Promise((resolve) => client.once('connect', resolve));
      const clientPort = client.localPort!;
      client.end('hello');
      assert.equal((await got).toString(), 'hi from the guest');
      // Up is what the guest sent, down what it received.
      await waitFor('the row', () => mon.rows()[0]?.bytesUp === 17 && mon.rows()[0]?.bytesDown === 5);
      const row = mon.rows()[0]!;
      assert.equal(row.kind, 'published');
      assert.equal(row.guest, '10.0.2.100:80');
      assert.match(row.peer, /^10\.0\.2\.2:\d+$/);
      assert.deepEqual(row.host, { local: `127.0.0.1:${hostPort}`, remote: `127.0.0.1:${clientPort}` });
      assert.deepEqual(
        mon.detail(row.id)!.segments.slice(0, 3).map((s) => `${s.from}:${s.flags}`),
        ['gateway:SYN', 'guest:SYN+ACK', 'gateway:ACK'],
      );
      srv.close();
    } finally {
      mon.close();
      await r.close();
    }
  });
});
