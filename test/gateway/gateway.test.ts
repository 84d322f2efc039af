/**
 * The gateway engine (src/gateway/gateway.ts) with real components: a
 * synack guest stack on an in-memory Ethernet link as the guest, node:net
 * and node:dgram servers on 127.0.0.1 / ::1 as the host peers. Host sockets
 * are real I/O: every wait is bounded, and the tests assert outcomes (bytes,
 * errors, counters, bounds), never speeds.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as dgram from 'node:dgram';
import * as nodeNet from 'node:net';
import { spawn } from 'node:child_process';
import { GATEWAY_TCP_DEFAULTS, parsePublish } from '../../src/gateway/gateway.ts';
import type { Socket as SynackSocket } from '../../src/api/socket.ts';
import { parseIpv4Addr } from '../../src/wire/bytes.ts';
import { emitIpv4 } from '../../src/wire/ipv4.ts';
import { emitIcmpEcho, icmpEchoLen } from '../../src/wire/icmp.ts';
import { CHECKSUM_FULL, IPPROTO_ICMP } from '../../src/wire/types.ts';
import { closedPort, collect, hostServer, HOST_SOCKETS, memoryGateway, memoryGatewayWith, pattern, sha256, waitFor, waitStalled } from './helpers.ts';

const GW = '10.0.2.2';
/** What a stalled forwarded connection may hold: its TCP buffer on the gateway's side plus under 1 MiB in the two sockets' streams. */
const UP_BOUND = GATEWAY_TCP_DEFAULTS.recvBufferBytes! + (1 << 20);
const DOWN_BOUND = GATEWAY_TCP_DEFAULTS.sendBufferBytes! + (1 << 20);

function connectGuest(net: { connect(port: number, host: string): SynackSocket }, port: number, host = GW): Promise<SynackSocket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, host);
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

function errorOf(s: { once(ev: 'error', cb: (e: NodeJS.ErrnoException) => void): unknown }): Promise<NodeJS.ErrnoException> {
  return new Promise((resolve) => s.once('error', resolve));
}

for (const hostSockets of HOST_SOCKETS) {
  describe(`gateway: TCP through host sockets (${hostSockets} host sockets)`, { timeout: 60_000 }, () => {
    const memoryGateway = memoryGatewayWith(hostSockets);
    test('a guest connection to the gateway address reaches a host server on 127.0.0.1; 4 MiB each way arrive intact (SHA-256)', async () => {
      const up = pattern(4 << 20, 7);
      const down = pattern(4 << 20, 9);
      let gotUp: Promise<Buffer> | null = null;
      const h = await hostServer((s) => {
        gotUp = collect(s);
        s.end(down);
      });
      const r = memoryGateway();
      try {
        const sock = await connectGuest(r.guest.net, h.port);
        assert.equal(sock.remoteAddress, GW);
        const gotDown = collect(sock);
        sock.end(up);
        assert.equal(sha256(await gotDown), sha256(down));
        await waitFor('the host server got the upload', () => gotUp !== null);
        assert.equal(sha256(await gotUp!), sha256(up));
        const st = r.gw.stats();
        assert.equal(st.tcp.opened, 1);
        assert.equal(st.tcp.bytesUp, up.length);
        assert.equal(st.tcp.bytesDown, down.length);
        await waitFor('the forwarded connection is gone', () => r.gw.stats().tcp.active === 0);
      } finally {
        await r.close();
        h.server.close();
      }
    });

    test('RFC 9293 §3.10.7.2: the SYN,ACK waits for the host connect — a closed host port answers the guest with RST: ECONNREFUSED, with no SYN retransmitted', async () => {
      const port = await closedPort();
      const r = memoryGateway();
      try {
        const s = r.guest.net.connect(port, GW);
        const err = await errorOf(s);
        assert.equal(err.code, 'ECONNREFUSED');
        assert.equal(r.gw.stats().tcp.refused, 1);
        assert.equal(r.gw.forwarding.stats.synAbsorbed, 0, 'the guest never had to retransmit its SYN');
        assert.equal(r.gw.stats().tcp.opened, 0);
      } finally {
        await r.close();
      }
    });

    test('IPv6: a guest connection to fd00::2 reaches a host server on ::1', async () => {
      const h = await hostServer((s) => s.end('hello over v6'), '::1');
      const r = memoryGateway({ ipv6: true });
      try {
        await waitFor('the guest finished DAD for fd00::100', () => r.guest.eth!.tentative.size === 0);
        const sock = await connectGuest(r.guest.net, h.port, 'fd00::2');
        assert.equal((await collect(sock)).toString(), 'hello over v6');
      } finally {
        await r.close();
        h.server.close();
      }
    });

    test('RFC 9293 §3.6 half-close, guest first: the guest FIN becomes end() on the host socket, and the host still answers afterwards', async () => {
      const h = await hostServer((s) => {
        collect(s).then((b) => s.end(`got ${b.toString()}`));
      });
      const r = memoryGateway();
      try {
        const sock = await connectGuest(r.guest.net, h.port);
        const reply = collect(sock);
        sock.end('ping');
        assert.equal((await reply).toString(), 'got ping');
      } finally {
        await r.close();
        h.server.close();
      }
    });

    test('RFC 9293 §3.6 half-close, host first: the host EOF becomes a FIN to the guest, and the guest still sends afterwards', async () => {
      let hostGot: Promise<Buffer> | null = null;
      const h = await hostServer((s) => {
        hostGot = collect(s);
        s.end('hello');
      });
      const r = memoryGateway();
      try {
        const sock = new r.guest.net.Socket({ allowHalfOpen: true });
        sock.connect(h.port, GW);
        const got = await collect(sock);
        assert.equal(got.toString(), 'hello');
        assert.equal(sock.writable, true, 'the guest may still write after the FIN');
        sock.end('bye');
        await waitFor('the host server got the guest data', () => hostGot !== null);
        assert.equal((await hostGot!).toString(), 'bye');
        // The gateway closed first: its TCB waits in TIME-WAIT for 2 × the gateway's 5 s MSL (RFC 9293 §3.4.2), not 4 minutes.
        await waitFor('the gateway side is in TIME-WAIT', () => r.gw.stack.connections().some((c) => c.state === 'TIME-WAIT'));
        const tw = r.gw.stack.connections().find((c) => c.state === 'TIME-WAIT')!;
        const left = tw.timeWaitAt - r.gw.stack.clock.now();
        assert.ok(left > 9_000_000 && left <= 10_000_000, `TIME-WAIT left: ${left} µs`);
      } finally {
        await r.close();
        h.server.close();
      }
    });

    test('RFC 9293 §3.10.7.4: a reset from the host peer reaches the guest as ECONNRESET', async () => {
      const h = await hostServer((s) => {
        s.once('data', () => s.resetAndDestroy());
      });
      const r = memoryGateway();
      try {
        const sock = await connectGuest(r.guest.net, h.port);
        const err = errorOf(sock);
        sock.write('x');
        assert.equal((await err).code, 'ECONNRESET');
        await waitFor('counted', () => r.gw.stats().tcp.resetsFromHost === 1);
      } finally {
        await r.close();
        h.server.close();
      }
    });

    test('RFC 9293 §3.10.7.4: a reset from the guest reaches the host peer as ECONNRESET', async () => {
      let hostErr: Promise<NodeJS.ErrnoException> | null = null;
      const h = await hostServer((s) => {
        hostErr = errorOf(s);
      });
      const r = memoryGateway();
      try {
        const sock = await connectGuest(r.guest.net, h.port);
        await waitFor('the host accepted', () => hostErr !== null);
        sock.resetAndDestroy();
        assert.equal((await hostErr!).code, 'ECONNRESET');
        assert.equal(r.gw.stats().tcp.resetsFromGuest, 1);
      } finally {
        await r.close();
        h.server.close();
      }
    });

    test('backpressure guest → host: a host peer that does not read closes the guest window; the gateway holds a bounded number of bytes; nothing is lost when it reads again', async () => {
      const total = 24 << 20;
      const data = pattern(total, 3);
      let peer: import('node:net').Socket | null = null;
      const h = await hostServer((s) => {
        peer = s;
        s.pause();
      });
      const r = memoryGateway();
      try {
        const sock = await connectGuest(r.guest.net, h.port);
        sock.end(data);
        const up = await waitStalled('bytes the gateway passed up', () => r.gw.stats().tcp.bytesUp);
        assert.ok(up < total, `the transfer stalled (${up} of ${total} bytes passed)`);
        const info = r.gw.connections()[0]!;
        assert.ok(info.buffered <= UP_BOUND, `the gateway holds ${info.buffered} bytes (bound ${UP_BOUND})`);
        const guestConn = r.guest.stack.connections().find((c) => c.state === 'ESTABLISHED' || c.state === 'FIN-WAIT-1')!;
        await waitFor('the guest sees a zero window', () => guestConn.sndWnd === 0);
        assert.ok(guestConn.sendQueued() > 0, 'and holds unsent bytes');
        assert.ok(r.gw.connections()[0]!.buffered <= UP_BOUND, 'still bounded');
        const got = collect(peer!);
        peer!.resume();
        assert.equal(sha256(await got), sha256(data));
      } finally {
        await r.close();
        h.server.close();
      }
    });

    test('backpressure host → guest: a guest that does not read pauses the host socket; the gateway holds a bounded number of bytes; nothing is lost when it reads again', async () => {
      const total = 24 << 20;
      const data = pattern(total, 4);
      const h = await hostServer((s) => s.end(data));
      const r = memoryGateway();
      try {
        const sock = await connectGuest(r.guest.net, h.port);
        sock.pause();
        const down = await waitStalled('bytes the gateway passed down', () => r.gw.stats().tcp.bytesDown);
        assert.ok(down < total, `the transfer stalled (${down} of ${total} bytes read from the host)`);
        const info = r.gw.connections()[0]!;
        assert.ok(info.buffered <= DOWN_BOUND, `the gateway holds ${info.buffered} bytes (bound ${DOWN_BOUND})`);
        const got = collect(sock);
        sock.resume();
        assert.equal(sha256(await got), sha256(data));
      } finally {
        await r.close();
        h.server.close();
      }
    });

    test('the gateway side of a forwarded connection has 4 MiB buffers by default: the guest is offered a 4 MiB window (RFC 9293 §3.8.6, RFC 7323 §2.2); options.tcp overrides them', async () => {
      const h = await hostServer(() => {});
      for (const [opts, want] of [
        [{}, 4 << 20],
        [{ tcp: { recvBufferBytes: 64 << 10 } }, 64 << 10],
      ] as const) {
        const r = memoryGateway(opts);
        try {
          const sock = await connectGuest(r.guest.net, h.port);
          const guestConn = r.guest.stack.connections().find((c) => c.state === 'ESTABLISHED')!;
          // A SYN's window is never scaled (RFC 7323 §2.2): the first ACK of data carries the scaled one, the
          // gateway's free receive buffer (within one unit of the shift).
          sock.write('x');
          await waitFor(`the guest sees a ${want}-byte window`, () => guestConn.sndWnd <= want && guestConn.sndWnd > want - (1 << 14));
        } finally {
          await r.close();
        }
      }
      h.server.close();
    });

    test('policy: a denied destination gets ICMP administratively prohibited and no host socket is opened (deny wins over allow)', async () => {
      let accepted = 0;
      const h = await hostServer(() => accepted++);
      // FreeBSD's rule makes administratively prohibited a hard error in SYN-SENT (ECONNREFUSED) for the synack guest.
      const r = memoryGateway({ allow: ['10.0.0.0/8', '198.51.100.0/24'], deny: ['10.0.2.2/32', '127.0.0.0/8'] }, { icmpSynSentErrors: 'freebsd' });
      try {
        const e1 = await errorOf(r.guest.net.connect(h.port, GW));
        assert.equal(e1.code, 'ECONNREFUSED');
        // Outside the allow list: refused the same way, and no packet leaves the machine.
        const e2 = await errorOf(r.guest.net.connect(80, '192.0.2.7'));
        assert.equal(e2.code, 'ECONNREFUSED');
        const st = r.gw.stats();
        assert.equal(st.tcp.denied, 2);
        assert.equal(st.tcp.opened, 0);
        assert.equal(st.tcp.active, 0, 'no host socket was made');
        assert.equal(accepted, 0);
      } finally {
        await r.close();
        h.server.close();
      }
    });

    test('maxConnections: a guest connection beyond the limit is refused (RST) without a host socket', async () => {
      let accepted = 0;
      const h = await hostServer(() => accepted++);
      const r = memoryGateway({ maxConnections: 2 });
      try {
        const a = await connectGuest(r.guest.net, h.port);
        const b = await connectGuest(r.guest.net, h.port);
        const err = await errorOf(r.guest.net.connect(h.port, GW));
        assert.equal(err.code, 'ECONNREFUSED');
        assert.equal(r.gw.stats().tcp.limited, 1);
        await waitFor('two host connections', () => accepted === 2);
        a.destroy();
        b.destroy();
      } finally {
        await r.close();
        h.server.close();
      }
    });
  });
}

describe('gateway: native host sockets (native/src/hostsock.cc)', { timeout: 60_000 }, () => {
  /** Libuv TCP handles of this process that 20 forwarded connections add (the host server's accepted sockets included), and that every connection carried its bytes both ways. */
  async function handlesFor20(hostSockets: 'native' | 'node'): Promise<number> {
    const tcpHandles = (): number => process.getActiveResourcesInfo().filter((x) => x === 'TCPSocketWrap').length;
    const h = await hostServer((s) => {
      s.on('data', (d) => s.write(d));
      s.on('end', () => s.end());
    });
    const r = memoryGateway({ hostSockets });
    try {
      const before = tcpHandles();
      const socks = await Promise.all(Array.from({ length: 20 }, () => connectGuest(r.guest.net, h.port)));
      await waitFor('the host server accepted 20', () => h.conns.length === 20);
      assert.equal(r.gw.stats().tcp.active, 20);
      const added = tcpHandles() - before;
      const echoes = socks.map((s, i) => {
        const got = collect(s);
        s.end(pattern(1024 + 4 * i, i + 1));
        return got;
      });
      const got = await Promise.all(echoes);
      got.forEach((g, i) => assert.equal(sha256(g), sha256(pattern(1024 + 4 * i, i + 1))));
      await waitFor('every forwarded connection is gone', () => r.gw.stats().tcp.active === 0);
      return added;
    } finally {
      await r.close();
      h.server.close();
    }
  }

  test('20 forwarded connections hold no node:net handle each (their host sockets live in the addon\'s one epoll set), where the node:net path holds one each; both carry bytes both ways', async () => {
    const native = await handlesFor20('native');
    const node = await handlesFor20('node');
    // The host server's 20 accepted sockets are this process's too.
    assert.ok(native <= 20, `native: ${native} handles added`);
    assert.ok(node >= 38, `node: ${node} handles added`);
  });
});

describe('gateway: UDP and ICMP', { timeout: 30_000 }, () => {
  test('RFC 768: a guest datagram to the gateway address reaches a host dgram server on 127.0.0.1, and the reply comes from the address the guest sent to', async () => {
    const server = dgram.createSocket('udp4');
    server.on('message', (msg, rinfo) => server.send(Buffer.concat([Buffer.from('echo:'), msg]), rinfo.port, rinfo.address));
    await new Promise<void>((resolve) => server.bind(0, '127.0.0.1', resolve));
    const port = server.address().port;
    const r = memoryGateway({ udpIdleTimeoutMs: 200 });
    try {
      const sock = r.guest.dgram.createSocket('udp4');
      const got = new Promise<{ msg: Buffer; rinfo: dgram.RemoteInfo }>((resolve) => sock.once('message', (msg, rinfo) => resolve({ msg, rinfo: rinfo as dgram.RemoteInfo })));
      sock.send('ping', port, GW);
      const { msg, rinfo } = await got;
      assert.equal(msg.toString(), 'echo:ping');
      assert.equal(rinfo.address, GW);
      assert.equal(rinfo.port, port);
      const st = r.gw.stats();
      assert.equal(st.udp.flows, 1);
      assert.equal(st.udp.datagramsUp, 1);
      assert.equal(st.udp.datagramsDown, 1);
      await waitFor('the idle flow is closed', () => r.gw.stats().udp.active === 0);
      sock.close();
    } finally {
      await r.close();
      server.close();
    }
  });

  test('policy: a datagram to a denied destination opens no host socket', async () => {
    const r = memoryGateway({ deny: ['0.0.0.0/0'] });
    try {
      const sock = r.guest.dgram.createSocket('udp4');
      sock.send('x', 53, '192.0.2.1');
      await waitFor('counted', () => r.gw.stats().udp.denied === 1);
      assert.equal(r.gw.stats().udp.flows, 0);
      sock.close();
    } finally {
      await r.close();
    }
  });

  test('RFC 792: an echo request to the gateway address is answered by the gateway itself', async () => {
    const r = memoryGateway();
    try {
      const echo = { type: 'echo-request' as const, ident: 7, seqNo: 1, data: new TextEncoder().encode('ping') };
      const len = icmpEchoLen(echo);
      const pkt = new Uint8Array(20 + len);
      emitIpv4({ src: parseIpv4Addr('10.0.2.100')!, dst: parseIpv4Addr(GW)!, protocol: IPPROTO_ICMP, ttl: 64, tos: 0, ident: 1, dontFragment: false, payloadLen: len }, pkt, 0, CHECKSUM_FULL);
      emitIcmpEcho(echo, pkt, 20);
      r.guest.eth!.transmit(pkt);
      r.lan.driver.kick();
      await waitFor('the echo reply reached the guest', () => r.guest.stack.counters.icmpIn === 1);
      assert.equal(r.gw.stack.counters.icmpEchoReplies, 1);
      assert.equal(r.gw.stats().tcp.requests + r.gw.stats().udp.flows, 0, 'nothing was forwarded');
    } finally {
      await r.close();
    }
  });
});

describe('gateway: published ports', { timeout: 30_000 }, () => {
  test('--publish HOSTPORT:GUESTPORT/tcp: a host connection reaches the guest server, with half-close carried (the host end() is the guest FIN, the guest answers after it)', async () => {
    const hostPort = await closedPort();
    const r = memoryGateway({ publish: [{ hostPort, guestPort: 7000 }] });
    try {
      await r.gw.ready;
      r.guest.net
        .createServer({ allowHalfOpen: true }, (s) => {
          collect(s).then((b) => s.end(`guest got ${b.toString()}`));
        })
        .listen(7000);
      const c = nodeNet.connect({ port: hostPort, host: '127.0.0.1', allowHalfOpen: true });
      await new Promise<void>((resolve) => c.once('connect', resolve));
      const reply = collect(c);
      c.end('hi');
      assert.equal((await reply).toString(), 'guest got hi');
      assert.equal(r.gw.stats().tcp.published, 1);
    } finally {
      await r.close();
    }
  });

  test('--publish HOSTPORT:GUESTPORT/tcp to a guest port nobody listens on: the host client is reset', async () => {
    const hostPort = await closedPort();
    const r = memoryGateway({ publish: [{ hostPort, guestPort: 7001 }] });
    try {
      await r.gw.ready;
      const c = nodeNet.connect({ port: hostPort, host: '127.0.0.1' });
      const err = await errorOf(c);
      assert.equal(err.code, 'ECONNRESET');
    } finally {
      await r.close();
    }
  });

  test('--publish HOSTPORT:GUESTPORT/udp: a host datagram reaches the guest socket and its reply comes back', async () => {
    const hostPort = await closedPort();
    const r = memoryGateway({ publish: [{ hostPort, guestPort: 5353, proto: 'udp' }] });
    try {
      await r.gw.ready;
      const gs = r.guest.dgram.createSocket('udp4');
      gs.on('message', (msg, rinfo) => gs.send(Buffer.concat([Buffer.from('re:'), msg]), rinfo.port, rinfo.address));
      await new Promise<void>((resolve) => gs.bind(5353, () => resolve()));
      const c = dgram.createSocket('udp4');
      const got = new Promise<Buffer>((resolve) => c.once('message', (m) => resolve(m)));
      c.send('q', hostPort, '127.0.0.1');
      assert.equal((await got).toString(), 're:q');
      c.close();
      gs.close();
    } finally {
      await r.close();
    }
  });

  test('parsePublish: [HOSTADDR:]HOSTPORT:GUESTPORT[/tcp|/udp], IPv6 in brackets; anything else is a typed error', () => {
    assert.deepEqual(parsePublish('8080:80'), { hostPort: 8080, guestPort: 80, proto: 'tcp' });
    assert.deepEqual(parsePublish('0.0.0.0:53:53/udp'), { hostAddr: '0.0.0.0', hostPort: 53, guestPort: 53, proto: 'udp' });
    assert.deepEqual(parsePublish('[::1]:8443:443/tcp'), { hostAddr: '::1', hostPort: 8443, guestPort: 443, proto: 'tcp' });
    for (const bad of ['80', '70000:80', '1:2/sctp', 'host:1:2', '1:0']) assert.throws(() => parsePublish(bad), { code: 'ERR_SYNACK_INVALID_ARG' }, bad);
  });
});

for (const hostSockets of HOST_SOCKETS) {
  describe(`gateway: unreachable destinations (${hostSockets} host sockets)`, { timeout: 30_000 }, () => {
    const memoryGateway = memoryGatewayWith(hostSockets);
    test('RFC 1122 §3.2.2.1: a host connect that does not complete in connectTimeoutMs answers the guest with ICMP host unreachable (a soft error for the guest, RFC 1122 §4.2.3.9)', async (t) => {
      // A host listener whose accept queue is full drops further SYNs (Linux:
      // tcp_conn_request, "ListenOverflows"): a connect to it never completes.
      const py = spawn('python3', ['-c', 'import socket,sys,time\ns=socket.socket()\ns.bind(("127.0.0.1",0))\ns.listen(0)\nprint(s.getsockname()[1],flush=True)\ntime.sleep(60)'], { stdio: ['ignore', 'pipe', 'inherit'] });
      t.after(() => py.kill());
      const port = await new Promise<number>((resolve, reject) => {
        py.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
        py.once('error', reject);
      });
      // Fill the accept queue (backlog 0 holds one; one more may sit in SYN-RECV).
      const fillers = [nodeNet.connect(port, '127.0.0.1'), nodeNet.connect(port, '127.0.0.1')];
      for (const f of fillers) f.on('error', () => {});
      t.after(() => fillers.forEach((f) => f.destroy()));
      await new Promise((r) => setTimeout(r, 200));
      const r = memoryGateway({ connectTimeoutMs: 400 });
      try {
        const s = r.guest.net.connect(port, GW);
        s.on('error', () => {});
        await waitFor('the ICMP error reached the guest', () => r.guest.stack.counters.icmpSoftErrors === 1);
        const st = r.gw.stats();
        assert.equal(st.tcp.timedOut, 1);
        assert.equal(st.tcp.unreachable, 1);
        assert.equal(st.tcp.opened, 0);
        assert.equal(r.gw.stack.counters.icmpErrorsOut, 1);
        s.destroy();
      } finally {
        await r.close();
      }
    });
  });
}
