/**
 * TCP over IPv6 in the Stack (RFC 8200, RFC 4443, RFC 8201, RFC 6437, RFC
 * 5095), dual-stack listeners, and IP fragment reassembly wired into the
 * receive path of both families — over the in-memory network under the
 * virtual clock. A raw port ("the router") sends crafted packets and
 * records what the stacks send it.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Network } from '../../src/sim/network.ts';
import { Rng } from '../../src/base/rng.ts';
import { getU16, getU32, parseIpv4Addr, setU16 } from '../../src/wire/bytes.ts';
import { emitIpv4 } from '../../src/wire/ipv4.ts';
import { checksum } from '../../src/wire/checksum.ts';
import { emitIpv6, parseIpv6, parseIpv6Addr, walkIpv6, type Ipv6Addr } from '../../src/wire/ipv6.ts';
import { emitIcmpv6, icmpv6Len, parseIcmpv6, type Icmpv6Repr } from '../../src/wire/icmpv6.ts';
import { emitTcp, parseTcp, tcpBufferLen } from '../../src/wire/tcp.ts';
import { CHECKSUM_FULL, IPPROTO_ICMP, SYN } from '../../src/wire/types.ts';
import { Reassembler } from '../../src/ip/reassembly.ts';
import { fragmentIpv4, fragmentIpv6 } from '../../src/ip/fragment.ts';
import type { Connection } from '../../src/tcp/connection.ts';
import type { TcpConfig } from '../../src/tcp/config.ts';

const v6 = (s: string): Ipv6Addr => parseIpv6Addr(s)!;
const A6 = v6('fd00::1');
const B6 = v6('fd00::2');
const R6 = v6('fd00::fe');
const A4 = parseIpv4Addr('10.0.0.1')!;
const B4 = parseIpv4Addr('10.0.0.2')!;
const R4 = parseIpv4Addr('10.0.0.254')!;

/** Dual-stack stacks A and B on one hub; a router port (fd00::fe, 10.0.0.254) that records what it receives. */
function rig(opts: { tcp?: Partial<TcpConfig>; seed?: number; loss?: number; mtu?: number } = {}) {
  const net = new Network({ seed: opts.seed ?? 7 });
  const hub = net.addHub({ checksumOffload: false, mtu: opts.mtu ?? 1500, impair: { delayUs: 5000, loss: opts.loss ?? 0 } });
  const a = net.addStack({ name: 'a', tcp: opts.tcp });
  const b = net.addStack({ name: 'b', tcp: opts.tcp });
  net.attach(a, hub, A6, 64, [{ addr: A4 }]);
  net.attach(b, hub, B6, 64, [{ addr: B4 }]);
  const router = hub.attach(R6).claim(R4);
  const atRouter: Uint8Array[] = [];
  router.onReceive = (p) => atRouter.push(p);
  const wire: Uint8Array[] = [];
  hub.tap = (_from, p) => wire.push(p.slice());
  return { net, hub, a, b, router, atRouter, wire };
}

/** A bulk transfer a → `to`:80 on b; returns progress and a byte-exact check. */
function bulk(r: ReturnType<typeof rig>, to: Ipv6Addr | number, size: number) {
  const data = new Uint8Array(size);
  new Rng(99).fill(data);
  const got = createHash('sha256');
  let received = 0;
  let ended = false;
  let server: Connection | null = null;
  r.b.listen(80, {
    onConnection: (c) => {
      server = c;
      c.user = {
        onEvent: (conn: Connection, ev: { type: string }) => {
          if (ev.type === 'readable' || ev.type === 'end') {
            for (const chunk of r.b.read(conn)) {
              got.update(chunk);
              received += chunk.length;
            }
          }
          if (ev.type === 'end') {
            ended = true;
            r.b.close(conn);
          }
        },
      };
    },
  });
  const conn = r.a.connect(to, 80);
  let off = 0;
  let closed = false;
  const pump = (): void => {
    while (off < size && conn.state === 'ESTABLISHED') {
      const n = r.a.send(conn, data.subarray(off, Math.min(size, off + 65536)));
      if (n === 0) break;
      off += n;
    }
    if (off === size && !closed && conn.state === 'ESTABLISHED') {
      closed = true;
      r.a.close(conn);
    }
  };
  conn.user = { onEvent: () => pump() };
  return {
    conn,
    server: () => server,
    done: () => received === size && ended,
    received: () => received,
    sameBytes: () => got.copy().digest('hex') === createHash('sha256').update(data).digest('hex'),
  };
}

function ipv6Packet(src: Ipv6Addr, dst: Ipv6Addr, nextHeader: number, payload: Uint8Array, flowLabel = 0): Uint8Array {
  const buf = new Uint8Array(40 + payload.length);
  emitIpv6({ src, dst, trafficClass: 0, flowLabel, payloadLen: payload.length, nextHeader, hopLimit: 64 }, buf, 0);
  buf.set(payload, 40);
  return buf;
}

function icmpv6Packet(src: Ipv6Addr, dst: Ipv6Addr, m: Icmpv6Repr): Uint8Array {
  const body = new Uint8Array(icmpv6Len(m));
  emitIcmpv6(m, src, dst, body, 0, CHECKSUM_FULL);
  return ipv6Packet(src, dst, 58, body);
}

/** The IPv6 packets (cut to their length) of `list` whose source is `src`. */
function v6From(list: Uint8Array[], src: Ipv6Addr): Uint8Array[] {
  return list.filter((p) => p[0]! >>> 4 === 6).filter((p) => {
    const r = parseIpv6(p);
    return r.ok && r.value.header.src === src;
  });
}

/** The ICMPv6 messages among `list`. */
function icmpv6Of(list: Uint8Array[]): Icmpv6Repr[] {
  const out: Icmpv6Repr[] = [];
  for (const p of list) {
    const r = parseIpv6(p);
    if (!r.ok) continue;
    const w = walkIpv6(r.value.packet);
    if (!w.ok || w.kind !== 'upper' || w.protocol !== 58) continue;
    const m = parseIcmpv6(r.value.packet.subarray(w.offset), r.value.header.src, r.value.header.dst, CHECKSUM_FULL);
    if (m.ok) out.push(m.value);
  }
  return out;
}

describe('TCP over IPv6 (RFC 8200, RFC 9293)', () => {
  test('RFC 8200 §8.1: handshake, 300 kB with 2 % loss and close over IPv6: every byte arrives, every checksum on the wire verifies', () => {
    const r = rig({ loss: 0.02, seed: 5 });
    const x = bulk(r, B6, 300_000);
    r.net.runUntil(() => x.done() && x.conn.state === 'CLOSED', { maxSteps: 2_000_000 });
    assert.ok(x.sameBytes());
    assert.ok(r.a.counters.retransmits > 0, 'the loss was recovered by retransmission');
    // The MSS of a 1500-octet link over IPv6 is 1500 − 60.
    assert.equal(x.conn.sndMss, 1440);
    let tcp = 0;
    for (const p of r.wire) {
      const ip = parseIpv6(p);
      assert.ok(ip.ok, 'every packet on the wire is IPv6');
      const seg = parseTcp(ip.value.payload, ip.value.header.src, ip.value.header.dst, CHECKSUM_FULL);
      assert.ok(seg.ok, `TCP checksum over the IPv6 pseudo-header: ${seg.ok ? '' : seg.reason}`);
      tcp++;
    }
    assert.ok(tcp > 200);
    assert.equal(r.a.counters.checksumErrors + r.b.counters.checksumErrors, 0);
    assert.equal(r.a.connectionCount, 0);
  });

  test('RFC 6437 §3: every packet of a connection carries one non-zero flow label; two connections differ', () => {
    const r = rig();
    r.b.listen(80);
    const c1 = r.a.connect(B6, 80);
    const c2 = r.a.connect(B6, 80);
    r.net.runUntil(() => c1.state === 'ESTABLISHED' && c2.state === 'ESTABLISHED');
    r.a.send(c1, new Uint8Array(5000));
    r.a.send(c2, new Uint8Array(5000));
    r.net.runFor(1_000_000);
    const labels = new Map<number, Set<number>>();
    for (const p of v6From(r.wire, A6)) {
      const ip = parseIpv6(p);
      assert.ok(ip.ok);
      const port = getU16(ip.value.payload, 0);
      if (!labels.has(port)) labels.set(port, new Set());
      labels.get(port)!.add(ip.value.header.flowLabel);
    }
    const [l1, l2] = [labels.get(c1.localPort)!, labels.get(c2.localPort)!];
    assert.equal(l1.size, 1);
    assert.equal(l2.size, 1);
    assert.notEqual([...l1][0], 0);
    assert.notEqual([...l1][0], [...l2][0]);
  });

  test('RFC 6528 over IPv6: the ISN depends on the whole 128-bit address (sources differing in the last group get unrelated ISNs)', () => {
    const net = new Network({ seed: 3 });
    const hub = net.addHub();
    const s = net.addStack({ isnSecret: [1, 2] });
    net.attach(s, hub, v6('fd00::10'));
    const c1 = s.connect(v6('fd00::1:0:0:1'), 80, { localPort: 40000 });
    const c2 = s.connect(v6('fd00::1:0:0:2'), 80, { localPort: 40000 });
    const c3 = s.connect(v6('fd00::2:0:0:1'), 80, { localPort: 40000 });
    const isns = new Set([c1.iss, c2.iss, c3.iss]);
    assert.equal(isns.size, 3);
    // Same clock, same ports: only the address differs; the difference is not a small offset.
    assert.ok(Math.abs(c1.iss - c2.iss) > 1000 && Math.abs(c1.iss - c3.iss) > 1000);
  });

  test('RFC 9293 §3.4.1 (demux by the whole socket pair) over IPv6: interleaved segments of four connections from two hosts, each with the same ports twice, reach their own connection', () => {
    // Segments of (fd00::1, fd00::2) and (fd00::3, fd00::2) alternate on the
    // hub, so lookup()'s last-found connection misses on nearly every segment
    // and the keyed hash of the IPv6 4-tuple decides.
    const r = rig();
    const c = r.net.addStack({ name: 'c' });
    const C6 = v6('fd00::3');
    r.net.attach(c, r.hub, C6, 64);
    const got = new Map<string, number[]>();
    r.b.listen(80, {
      onConnection: (conn) => {
        const id = `${conn.remoteAddr === A6 ? 'a' : conn.remoteAddr === C6 ? 'c' : '?'}:${conn.remotePort}`;
        got.set(id, []);
        conn.user = {
          onEvent: (x: Connection) => {
            for (const chunk of r.b.read(x)) got.get(id)!.push(...chunk);
          },
        };
      },
    });
    const conns = [
      { host: r.a, name: 'a', port: 40001, tag: 1 },
      { host: r.a, name: 'a', port: 40002, tag: 2 },
      { host: c, name: 'c', port: 40001, tag: 3 },
      { host: c, name: 'c', port: 40002, tag: 4 },
    ].map((x) => ({ ...x, conn: x.host.connect(B6, 80, { localPort: x.port }) }));
    r.net.runUntil(() => conns.every((x) => x.conn.state === 'ESTABLISHED') && got.size === 4);
    for (let round = 0; round < 50; round++) {
      for (const x of conns) x.host.send(x.conn, new Uint8Array(700).fill(x.tag * 16 + (round & 15)));
      r.net.runFor(2000);
    }
    r.net.runUntil(() => [...got.values()].every((v) => v.length === 50 * 700));
    for (const x of conns) {
      const bytes = got.get(`${x.name}:${x.port}`)!;
      assert.equal(bytes.length, 50 * 700);
      for (let round = 0; round < 50; round++) assert.equal(bytes[round * 700], x.tag * 16 + (round & 15), `${x.name}:${x.port} round ${round}`);
    }
    assert.equal(r.b.counters.drops['tcp-no-connection'] ?? 0, 0);
  });

  test('RFC 9293 §3.10.7.1 over IPv6: a SYN to a closed port gets a RST from the right address and port', () => {
    const r = rig();
    const seg = { srcPort: 5555, dstPort: 81, seq: 1000, ack: 0, flags: SYN, window: 1000, urgentPointer: 0, options: [], payload: new Uint8Array(0) };
    const body = new Uint8Array(tcpBufferLen(seg));
    emitTcp(seg, R6, B6, body, 0, CHECKSUM_FULL);
    r.router.transmit(ipv6Packet(R6, B6, 6, body));
    r.net.runFor(50_000);
    const rst = v6From(r.atRouter, B6);
    assert.equal(rst.length, 1);
    const ip = parseIpv6(rst[0]!);
    assert.ok(ip.ok);
    const t = parseTcp(ip.value.payload, B6, R6, CHECKSUM_FULL);
    assert.ok(t.ok);
    assert.equal(t.value.dstPort, 5555);
    assert.equal(t.value.ack, 1001);
    assert.equal(r.b.counters.drops['tcp-no-connection'], 1);
  });

  test('dual stack: listen() without an address takes IPv4 and IPv6; v6Only refuses IPv4 with a RST', () => {
    const r = rig();
    r.b.listen(80);
    const c4 = r.a.connect(B4, 80);
    const c6 = r.a.connect(B6, 80);
    r.net.runUntil(() => c4.state === 'ESTABLISHED' && c6.state === 'ESTABLISHED');
    assert.equal(c4.localAddr, A4);
    assert.equal(c6.localAddr, A6);
    r.b.listen(81, { v6Only: true });
    const d4 = r.a.connect(B4, 81);
    const d6 = r.a.connect(B6, 81);
    r.net.runFor(200_000);
    assert.equal(d6.state, 'ESTABLISHED');
    assert.equal(d4.state, 'CLOSED');
    assert.equal(d4.closeReason, 'refused');
    // An IPv4 listener on the same port is free to take IPv4 beside a v6-only one.
    r.b.listen(81, { addr: 0 });
    assert.throws(() => r.b.listen(80, { addr: 0 }), /already listening/);
  });

  test('RFC 8200 §5: an IPv6 address needs a link MTU of at least 1280', () => {
    const net = new Network();
    const hub = net.addHub({ mtu: 1000 });
    const s = net.addStack();
    assert.throws(() => net.attach(s, hub, A6), /1280/);
  });

  test('RFC 4291: packets from multicast, unspecified, IPv4-mapped or our own address, and to others, are counted drops', () => {
    const r = rig();
    const ping = (src: Ipv6Addr, dst: Ipv6Addr): Uint8Array => icmpv6Packet(src, dst, { kind: 'echo-request', code: 0, ident: 1, seq: 1, data: new Uint8Array(8) });
    r.router.transmit(ping(v6('ff02::1'), B6));
    r.router.transmit(ping(v6('::'), B6));
    r.router.transmit(ping(v6('::ffff:10.0.0.254'), B6));
    r.router.transmit(ping(B6, B6));
    r.router.transmit(ping(R6, v6('fd00::99')));
    r.net.runFor(50_000);
    assert.equal(r.b.counters.drops['ipv6-martian-source'], 4);
    assert.equal(r.b.counters.icmpEchoReplies, 0);
  });

  test('RFC 4291 checks follow address changes: the last accepted source/destination pair is remembered only until an address is added or removed', () => {
    const r = rig();
    const ping = (src: Ipv6Addr, dst: Ipv6Addr, seq: number): Uint8Array => icmpv6Packet(src, dst, { kind: 'echo-request', code: 0, ident: 1, seq, data: new Uint8Array(8) });
    r.router.transmit(ping(R6, B6, 1));
    r.net.runFor(50_000);
    assert.equal(r.b.counters.icmpEchoReplies, 1, 'accepted');
    // The same pair again after B6 stops being B's: not for us any more.
    const iface = r.b.interfaces[0]!;
    assert.ok(r.b.removeAddress(iface, B6));
    r.b.receive(iface, ping(R6, B6, 2));
    assert.equal(r.b.counters.drops['ipv6-not-for-us'], 1);
    assert.equal(r.b.counters.icmpEchoReplies, 1);
    // Back again, then the source becomes one of B's own addresses: martian.
    r.b.addAddress(iface, B6, 64);
    r.b.receive(iface, ping(R6, B6, 3));
    r.net.runFor(50_000);
    assert.equal(r.b.counters.icmpEchoReplies, 2);
    r.b.addAddress(iface, R6, 64);
    r.b.receive(iface, ping(R6, B6, 4));
    assert.equal(r.b.counters.drops['ipv6-martian-source'], 1);
    assert.equal(r.b.counters.icmpEchoReplies, 2);
  });

  test('routeFrom answers from the current addresses: a remembered route is dropped when an address is added or removed', () => {
    const r = rig();
    const far = v6('fd01::5');
    const first = r.b.routeFrom(far);
    assert.equal(first?.src, B6, 'default route: the first IPv6 address');
    assert.equal(r.b.routeFrom(far), first);
    const iface = r.b.interfaces[0]!;
    const mine = v6('fd01::2');
    r.b.addAddress(iface, mine, 64);
    assert.equal(r.b.routeFrom(far)?.src, mine, 'the new on-link subnet wins');
    r.b.removeAddress(iface, mine);
    assert.equal(r.b.routeFrom(far)?.src, B6);
    r.b.addAddress(iface, far, 128);
    assert.equal(r.b.routeFrom(far)?.iface, r.b.loopback, 'an address of ours is reached through the loopback interface');
  });
});

describe('ICMPv6 (RFC 4443) and extension headers (RFC 8200 §4, RFC 5095)', () => {
  test('RFC 4443 §4.2: an echo request is answered from the address it was sent to, with its data unchanged', () => {
    const r = rig();
    const data = new TextEncoder().encode('ping over IPv6');
    r.router.transmit(icmpv6Packet(R6, B6, { kind: 'echo-request', code: 0, ident: 77, seq: 3, data }));
    r.net.runFor(50_000);
    const replies = icmpv6Of(v6From(r.atRouter, B6));
    assert.equal(replies.length, 1);
    const m = replies[0]!;
    assert.equal(m.kind, 'echo-reply');
    if (m.kind !== 'echo-reply') return;
    assert.equal(m.ident, 77);
    assert.equal(m.seq, 3);
    assert.deepEqual([...m.data], [...data]);
    assert.equal(r.b.counters.icmpEchoReplies, 1);
  });

  test('RFC 5095 §3: a type 0 Routing header with Segments Left > 0 is dropped and answered with Parameter Problem code 0 pointing at the type', () => {
    const r = rig();
    // Routing header: Next Header 58, Hdr Ext Len 2 (24 octets), type 0, Segments Left 1, reserved, one address.
    const rh = new Uint8Array(24);
    rh[0] = 58;
    rh[1] = 2;
    rh[2] = 0;
    rh[3] = 1;
    const echo = new Uint8Array(16);
    emitIcmpv6({ kind: 'echo-request', code: 0, ident: 1, seq: 1, data: new Uint8Array(8) }, R6, B6, echo, 0, CHECKSUM_FULL);
    r.router.transmit(ipv6Packet(R6, B6, 43, new Uint8Array([...rh, ...echo])));
    r.net.runFor(50_000);
    assert.equal(r.b.counters.drops['ipv6-routing-type-0'], 1);
    assert.equal(r.b.counters.icmpEchoReplies, 0);
    const errs = icmpv6Of(v6From(r.atRouter, B6));
    assert.equal(errs.length, 1);
    assert.equal(errs[0]!.kind, 'parameter-problem');
    if (errs[0]!.kind !== 'parameter-problem') return;
    assert.equal(errs[0]!.code, 0);
    assert.equal(errs[0]!.pointer, 42);
  });

  test('RFC 8200 §4 + RFC 4443 §2.4 (f): an unknown Next Header draws Parameter Problem code 1, at most 10 in a burst (token bucket), every drop counted', () => {
    const r = rig();
    for (let i = 0; i < 25; i++) r.router.transmit(ipv6Packet(R6, B6, 253, new Uint8Array(8)));
    r.net.runFor(20_000);
    const errs = icmpv6Of(v6From(r.atRouter, B6));
    assert.equal(errs.length, 10);
    for (const e of errs) {
      assert.equal(e.kind, 'parameter-problem');
      if (e.kind === 'parameter-problem') {
        assert.equal(e.code, 1);
        assert.equal(e.pointer, 6);
      }
    }
    assert.equal(r.b.counters.drops['ipv6-unknown-next-header'], 25);
    assert.equal(r.b.counters.drops['icmpv6-rate-limited'], 15);
    assert.equal(r.b.counters.icmpErrorsOut, 10);
    // One second later the bucket has refilled.
    r.net.runFor(1_000_000);
    r.router.transmit(ipv6Packet(R6, B6, 253, new Uint8Array(8)));
    r.net.runFor(20_000);
    assert.equal(icmpv6Of(v6From(r.atRouter, B6)).length, 11);
  });

  test('RFC 4443 §2.4 (e.1): no ICMPv6 error about an ICMPv6 error', () => {
    const r = rig();
    // An unknown option with action 11 in a Destination Options header in front of an ICMPv6 error.
    const inner = new Uint8Array(48);
    const err = new Uint8Array(8 + inner.length);
    emitIcmpv6({ kind: 'dest-unreachable', code: 4, invoking: inner }, R6, B6, err, 0, CHECKSUM_FULL);
    const dst = new Uint8Array(8);
    dst[0] = 58;
    dst[1] = 0;
    dst[2] = 0xc7; // unknown option, action 11
    dst[3] = 4;
    r.router.transmit(ipv6Packet(R6, B6, 60, new Uint8Array([...dst, ...err])));
    r.net.runFor(20_000);
    assert.equal(r.b.counters.drops['ipv6-unknown-option'], 1);
    assert.equal(r.b.counters.drops['icmpv6-error-for-error'], 1);
    assert.equal(v6From(r.atRouter, B6).length, 0);
  });
});

describe('ICMPv6 errors for TCP and Packet Too Big (RFC 4443, RFC 5927, RFC 8201)', () => {
  /** The router answers the next large data segment from A with Packet Too Big for `mtu` (the segment is delivered anyway). */
  function tooBigOnNextData(r: ReturnType<typeof rig>, mtu: number, seqShift = 0): void {
    let done = false;
    r.hub.tap = (_from, p) => {
      r.wire.push(p.slice());
      if (done || p[0]! >>> 4 !== 6 || p.length < 1000) return;
      const ip = parseIpv6(p);
      if (!ip.ok || ip.value.header.src !== A6) return;
      done = true;
      const invoking = p.slice();
      if (seqShift) {
        const seq = getU32(invoking, 44);
        invoking[44] = ((seq + seqShift) >>> 24) & 0xff;
        invoking[45] = ((seq + seqShift) >>> 16) & 0xff;
        invoking[46] = ((seq + seqShift) >>> 8) & 0xff;
        invoking[47] = (seq + seqShift) & 0xff;
      }
      r.router.transmit(icmpv6Packet(R6, A6, { kind: 'packet-too-big', code: 0, mtu, invoking }));
    };
  }

  test('RFC 8201 §4: Packet Too Big mid-transfer lowers the path MTU to 1280: resegmented at MSS 1220, no byte lost', () => {
    const r = rig();
    tooBigOnNextData(r, 1280);
    const x = bulk(r, B6, 200_000);
    r.net.runUntil(() => x.done(), { maxSteps: 1_000_000 });
    assert.ok(x.sameBytes());
    assert.equal(x.conn.sndMss, 1220);
    assert.equal(r.a.pathMtu(B6), 1280);
    assert.equal(r.a.counters.pmtuUpdates, 1);
    assert.equal(r.a.counters.pmtuResegments, 1);
    // After the ICMP arrived, nothing A sent is larger than 1280.
    const big = v6From(r.wire, A6).filter((p) => p.length > 1280);
    assert.ok(big.length >= 1 && big.length < 20, 'only the segments in flight before the message were large');
    assert.ok(v6From(r.wire, A6).slice(-20).every((p) => p.length <= 1280));
  });

  test('RFC 8201 §4: a Packet Too Big below 1280 is discarded (counted), the MSS stays', () => {
    const r = rig();
    tooBigOnNextData(r, 1000);
    const x = bulk(r, B6, 50_000);
    r.net.runUntil(() => x.done(), { maxSteps: 1_000_000 });
    assert.equal(x.conn.sndMss, 1440);
    assert.equal(r.a.counters.drops['icmp-pmtu-ignored'], 1);
    assert.equal(r.a.counters.pmtuUpdates, 0);
  });

  test('RFC 5927 §4.1 over IPv6: a Packet Too Big quoting a sequence number outside SND.UNA..SND.NXT is dropped', () => {
    const r = rig();
    tooBigOnNextData(r, 1280, 0x40000000);
    const x = bulk(r, B6, 50_000);
    r.net.runUntil(() => x.done(), { maxSteps: 1_000_000 });
    assert.equal(x.conn.sndMss, 1440);
    assert.equal(r.a.counters.drops['icmp-out-of-window'], 1);
  });

  test('RFC 4443 §3.1 + RFC 1122 §4.2.3.9: port unreachable (code 4) in SYN-SENT aborts the connection as refused', () => {
    const r = rig();
    const nobody = v6('fd00::77');
    const conn = r.a.connect(nobody, 80);
    const syn = v6From(r.wire, A6)[0]!;
    r.router.transmit(icmpv6Packet(R6, A6, { kind: 'dest-unreachable', code: 4, invoking: syn }));
    r.net.runFor(20_000);
    assert.equal(conn.state, 'CLOSED');
    assert.equal(conn.closeReason, 'refused');
    assert.equal(r.a.counters.icmpHardErrors, 1);
  });
});

describe('fragment reassembly in the stack (RFC 791, RFC 8200 §4.5, RFC 5722)', () => {
  function echo4(src: number, dst: number, data: Uint8Array): Uint8Array {
    const len = 8 + data.length;
    const buf = new Uint8Array(20 + len);
    emitIpv4({ src, dst, protocol: IPPROTO_ICMP, ttl: 64, tos: 0, ident: 4242, dontFragment: false, payloadLen: len }, buf, 0, CHECKSUM_FULL);
    buf[20] = 8;
    setU16(buf, 24, 9);
    setU16(buf, 26, 1);
    buf.set(data, 28);
    setU16(buf, 22, checksum(buf, 20, buf.length));
    return buf;
  }

  function reassembleFrom(list: Uint8Array[]): Uint8Array | null {
    const ra = new Reassembler();
    for (const p of list) {
      const ip6 = p[0]! >>> 4 === 6;
      let out;
      if (ip6) {
        const ip = parseIpv6(p);
        if (!ip.ok) continue;
        const w = walkIpv6(ip.value.packet);
        if (!w.ok) continue;
        if (w.kind === 'upper') return p;
        out = ra.addV6(ip.value.packet, w.fragment, 0);
      } else {
        out = ra.addV4(p, 0);
      }
      if (out.kind === 'complete') return out.packet;
    }
    return null;
  }

  test('RFC 791 §3.2: an IPv4 echo request of 4000 octets in fragments is reassembled and answered, the reply fragmented to the link MTU', () => {
    const r = rig();
    const data = new Uint8Array(4000);
    new Rng(1).fill(data);
    for (const f of fragmentIpv4(echo4(R4, B4, data), 1500).reverse()) r.router.transmit(f);
    r.net.runFor(50_000);
    assert.equal(r.b.counters.reassembled, 1);
    assert.equal(r.b.counters.icmpEchoReplies, 1);
    const fromB = r.atRouter.filter((p) => p[0]! >>> 4 === 4 && getU32(p, 12) === B4);
    assert.ok(fromB.length >= 3 && fromB.every((p) => p.length <= 1500));
    const whole = reassembleFrom(fromB);
    assert.ok(whole);
    assert.equal(whole[20], 0, 'an echo reply');
    assert.deepEqual([...whole.subarray(28)], [...data]);
  });

  test('RFC 8200 §4.5: an ICMPv6 echo request of 3000 octets in fragments is reassembled and answered in fragments', () => {
    const r = rig();
    const data = new Uint8Array(3000);
    new Rng(2).fill(data);
    const req = icmpv6Packet(R6, B6, { kind: 'echo-request', code: 0, ident: 5, seq: 6, data });
    for (const f of fragmentIpv6(req, 1280, 0xabcdef)) r.router.transmit(f);
    r.net.runFor(50_000);
    assert.equal(r.b.counters.reassembled, 1);
    const fromB = v6From(r.atRouter, B6);
    assert.ok(fromB.length >= 2 && fromB.every((p) => p.length <= 1500));
    const whole = reassembleFrom(fromB);
    assert.ok(whole);
    const m = icmpv6Of([whole]);
    assert.equal(m.length, 1);
    assert.equal(m[0]!.kind, 'echo-reply');
    if (m[0]!.kind === 'echo-reply') assert.deepEqual([...m[0]!.data], [...data]);
  });

  test('RFC 5722: overlapping IPv6 fragments discard the datagram: no reply, the overlap counted', () => {
    const r = rig();
    const data = new Uint8Array(3000);
    const req = icmpv6Packet(R6, B6, { kind: 'echo-request', code: 0, ident: 5, seq: 6, data });
    const frags = fragmentIpv6(req, 1280, 7);
    // A copy of the second fragment moved back by 8 octets overlaps the first.
    const evil = frags[1]!.slice();
    setU16(evil, 42, (getU16(evil, 42) - 8) | 1);
    r.router.transmit(frags[0]!);
    r.router.transmit(evil);
    for (const f of frags.slice(1)) r.router.transmit(f);
    r.net.runFor(50_000);
    assert.equal(r.b.counters.reassembled, 0);
    assert.equal(r.b.counters.icmpEchoReplies, 0);
    assert.equal(r.b.counters.drops['frag-overlap'], 1);
    assert.ok((r.b.counters.drops['frag-after-overlap'] ?? 0) >= 1);
  });

  test('RFC 8200 §4.5: an incomplete datagram times out after 60 s with a counted drop and Time Exceeded code 1 to its source', () => {
    const r = rig();
    const req = icmpv6Packet(R6, B6, { kind: 'echo-request', code: 0, ident: 5, seq: 6, data: new Uint8Array(3000) });
    r.router.transmit(fragmentIpv6(req, 1280, 9)[0]!);
    r.net.runFor(59_000_000);
    assert.equal(r.b.counters.drops['frag-timeout'] ?? 0, 0);
    r.net.runFor(2_000_000);
    assert.equal(r.b.counters.drops['frag-timeout'], 1);
    const errs = icmpv6Of(v6From(r.atRouter, B6));
    assert.equal(errs.length, 1);
    assert.equal(errs[0]!.kind, 'time-exceeded');
    assert.equal(errs[0]!.code, 1);
    assert.equal(r.b.nextDeadline(), Infinity);
  });

  test('a TCP segment that arrives in IPv4 fragments is delivered', () => {
    const r = rig();
    let got = 0;
    r.b.listen(80, {
      onConnection: (c) => {
        c.user = { onEvent: (conn: Connection, ev: { type: string }) => { if (ev.type === 'readable') for (const ch of r.b.read(conn)) got += ch.length; } };
      },
    });
    const conn = r.a.connect(B4, 80);
    r.net.runUntil(() => conn.state === 'ESTABLISHED');
    // A's segments are fragmented in flight (a router on a 576-octet path would do it).
    r.hub.tap = null;
    const origCarry = r.hub.carry.bind(r.hub);
    r.hub.carry = (from, p) => {
      if (p[0]! >>> 4 === 4 && getU32(p, 12) === A4 && p.length > 576) {
        p[6] = p[6]! & ~0x40; // clear DF as the sender's router would not — this test models a fragmenting middlebox
        for (const f of fragmentIpv4(p, 576)) origCarry(from, f);
      } else {
        origCarry(from, p);
      }
    };
    r.a.send(conn, new Uint8Array(10_000).fill(7));
    r.net.runFor(2_000_000);
    assert.equal(got, 10_000);
    assert.ok(r.b.counters.reassembled >= 7);
  });
});





describe('the in-memory hub carries IPv6', () => {
  test('RFC 3168 marking of the hub touches IPv4 headers only: an IPv6 transfer through a marking bottleneck arrives intact', () => {
    const net = new Network({ seed: 9 });
    const hub = net.addHub({ checksumOffload: false, impair: { delayUs: 2000, bandwidthBps: 10_000_000, ecnMarkThreshold: 2 } });
    const a = net.addStack({ tcp: { ecn: true } });
    const b = net.addStack({ tcp: { ecn: true } });
    net.attach(a, hub, A6);
    net.attach(b, hub, B6);
    const r = { net, hub, a, b } as unknown as ReturnType<typeof rig>;
    const x = bulk(r, B6, 200_000);
    net.runUntil(() => x.done(), { maxSteps: 1_000_000 });
    assert.ok(x.sameBytes());
    assert.deepEqual({ ...a.counters.drops, ...b.counters.drops }, {});
  });
});
