/**
 * The loopback interface (stack/loopback.ts): 127.0.0.0/8, ::1 and every
 * address of the stack reach the stack itself without touching a link,
 * delivered on the next poll of the virtual clock, never recursively.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Network } from '../../src/sim/network.ts';
import { Rng } from '../../src/base/rng.ts';
import { parseIpv4Addr } from '../../src/wire/bytes.ts';
import { formatIpAddr, parseIpv6Addr, type IpAddr } from '../../src/wire/ipv6.ts';
import { emitIpv4Tcp } from '../../src/wire/tcp.ts';
import { CHECKSUM_FULL, SYN } from '../../src/wire/types.ts';
import type { TcpRepr } from '../../src/wire/types.ts';
import type { Connection } from '../../src/tcp/connection.ts';
import { LOOPBACK_MTU } from '../../src/stack/loopback.ts';

const ip4 = (s: string): number => parseIpv4Addr(s)!;
const ip6 = (s: string): IpAddr => parseIpv6Addr(s)!;

/** One dual-stack stack on a hub; counts every packet its hub interface sends. */
function rig() {
  const net = new Network({ seed: 11 });
  const hub = net.addHub({ checksumOffload: false, impair: { delayUs: 5000 } });
  const s = net.addStack({ name: 's' });
  const iface = net.attach(s, hub, ip4('10.0.0.2'), 24, [{ addr: ip6('fd00::2') }]);
  let onWire = 0;
  hub.tap = () => onWire++;
  return { net, s, iface, onWire: () => onWire };
}

/** An echo server on port 7 of `s`, a client to `to`; sends `size` bytes, returns what came back and the client. */
function echo(r: ReturnType<typeof rig>, to: IpAddr, size: number) {
  const data = new Uint8Array(size);
  new Rng(5).fill(data);
  r.s.listen(7, {
    onConnection: (c) => {
      let pending = new Uint8Array(0);
      let done = false;
      const pump = (conn: Connection): void => {
        for (;;) {
          if (pending.length === 0) {
            const chunks = r.s.read(conn, 65536);
            if (chunks.length === 0) break;
            pending = Buffer.concat(chunks);
          }
          const n = r.s.send(conn, pending);
          pending = pending.subarray(n);
          if (pending.length > 0) return;
        }
        if (conn.eof && !done) {
          done = true;
          r.s.close(conn);
        }
      };
      c.user = { onEvent: (conn: Connection) => pump(conn) };
      pump(c);
    },
  });
  const got: Uint8Array[] = [];
  let sent = 0;
  let closed = false;
  const c = r.s.connect(to, 7, {
    observer: {
      onEvent: (conn, ev) => {
        if (ev.type === 'connected' || ev.type === 'writable') {
          if (sent < size) sent += r.s.send(conn, data.subarray(sent));
          if (sent === size) r.s.close(conn);
        }
        if (ev.type === 'readable' || ev.type === 'end') got.push(...r.s.read(conn).map((x) => x.slice()));
        if (ev.type === 'closed') closed = true;
      },
    },
  });
  r.net.runUntil(() => closed, { maxSteps: 1_000_000 });
  const back = Buffer.concat(got);
  return { c, same: back.length === size && createHash('sha256').update(back).digest('hex') === createHash('sha256').update(data).digest('hex'), back };
}

describe('loopback interface (RFC 1122 §3.2.1.3, RFC 4291 §2.5.3)', () => {
  test('every stack has a loopback interface: 127.0.0.1/8 and ::1/128, MTU 65536 like Linux', () => {
    const r = rig();
    assert.equal(r.s.loopback.mtu, LOOPBACK_MTU);
    assert.equal(LOOPBACK_MTU, 65536);
    assert.deepEqual(r.s.loopback.addrs.map((a) => `${formatIpAddr(a.addr)}/${a.prefixLen}`), ['127.0.0.1/8', '::1/128']);
    assert.ok(r.s.isLocalAddr(ip4('127.0.0.1')) && r.s.isLocalAddr(ip4('127.45.6.7')) && r.s.isLocalAddr(ip6('::1')));
    assert.ok(!r.s.interfaces.includes(r.s.loopback), 'not one of the links to other hosts');
  });

  for (const [name, to, local] of [
    ['127.0.0.1', '127.0.0.1', '127.0.0.1'],
    ['any 127.0.0.0/8 address (127.1.2.3, answered from 127.0.0.1)', '127.1.2.3', '127.0.0.1'],
    ["the stack's own IPv4 address", '10.0.0.2', '10.0.0.2'],
  ] as const) {
    test(`RFC 1122 §3.2.1.3 (g): a connection to ${name} echoes 300 kB through the loopback interface and no packet reaches the link`, () => {
      const r = rig();
      const e = echo(r, ip4(to), 300_000);
      assert.ok(e.same, 'every byte echoed, in order');
      assert.equal(formatIpAddr(e.c.localAddr), local);
      assert.equal(formatIpAddr(e.c.remoteAddr), to);
      assert.equal(r.onWire(), 0, 'nothing on the hub');
      assert.equal(r.s.counters.drops['ipv4-martian-source'] ?? 0, 0);
    });
  }

  for (const [name, to] of [
    ['::1', '::1'],
    ["the stack's own IPv6 address", 'fd00::2'],
  ] as const) {
    test(`RFC 4291 §2.5.3: a connection to ${name} ("used by a node to send an IPv6 packet to itself") echoes 300 kB and no packet reaches the link`, () => {
      const r = rig();
      const e = echo(r, ip6(to), 300_000);
      assert.ok(e.same);
      assert.equal(formatIpAddr(e.c.localAddr), to);
      assert.equal(r.onWire(), 0);
    });
  }

  test('RFC 1122 §3.2.1.3: a looped-back packet is delivered on the next poll, not inside the call that sent it', () => {
    const r = rig();
    r.s.listen(80);
    const now = r.net.clock.now();
    r.s.connect(ip4('127.0.0.1'), 80);
    assert.equal(r.s.connectionCount, 1, 'the SYN has not reached the listener yet');
    assert.equal(r.s.nextDeadline(), now, 'the loopback queue makes the stack due now');
    r.net.runDue();
    assert.equal(r.s.connectionCount, 2, 'after one round of the network, the listener made its TCB');
    r.net.runUntil(() => r.s.connections().every((c) => c.state === 'ESTABLISHED'));
    assert.equal(r.net.clock.now(), now, 'loopback takes no virtual time');
  });

  test('a loopback connection uses the loopback MTU: segments up to 65536 − 40 octets', () => {
    const r = rig();
    let largest = 0;
    r.s.addHook((ev) => {
      if (ev.type === 'segment' && ev.dir === 'out') largest = Math.max(largest, ev.tcp.payload.length);
    });
    const e = echo(r, ip4('127.0.0.1'), 300_000);
    assert.ok(e.same);
    assert.ok(largest > 1460, `segments larger than an Ethernet MSS (largest ${largest})`);
    assert.ok(largest <= 65536 - 40);
  });

  test('RFC 1122 §3.2.1.3 (g): a packet addressed to 127.0.0.1 that arrives from a link is dropped (ipv4-not-for-us), not answered', () => {
    const r = rig();
    r.s.listen(80);
    const seg: TcpRepr = { srcPort: 40000, dstPort: 80, seq: 1, ack: 0, flags: SYN, window: 65535, urgentPointer: 0, options: [], payload: new Uint8Array(0) };
    r.s.receive(r.iface, emitIpv4Tcp({ src: ip4('10.0.0.66'), dst: ip4('127.0.0.1'), ttl: 64, tos: 0, ident: 1, dontFragment: true }, seg, CHECKSUM_FULL));
    r.net.runFor(100_000);
    assert.equal(r.s.connectionCount, 0);
    assert.equal(r.onWire(), 0);
    assert.equal(r.s.counters.drops['ipv4-not-for-us'], 1);
  });

  test('a loopback source cannot be used toward another host (ERR_SYNACK_NO_ROUTE)', () => {
    const r = rig();
    assert.throws(() => r.s.connect(ip4('10.0.0.3'), 80, { localAddr: ip4('127.0.0.1') }), { code: 'ERR_SYNACK_NO_ROUTE' });
  });
});
