/**
 * The stack: RST generation for segments that reach no connection
 * (RFC 9293 §3.10.7.1), listeners and backlog, demux, ports, ISNs
 * (RFC 6528), ICMP echo, counters.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Network } from '../../src/sim/network.ts';
import { parseIpv4Addr } from '../../src/wire/bytes.ts';
import { parseIpv4 } from '../../src/wire/ipv4.ts';
import { parseTcp, emitIpv4Tcp } from '../../src/wire/tcp.ts';
import { emitIpv4 } from '../../src/wire/ipv4.ts';
import { emitIcmpEcho, icmpEchoLen, parseIcmp } from '../../src/wire/icmp.ts';
import { ACK, FIN, RST, SYN, CHECKSUM_FULL, IPPROTO_ICMP } from '../../src/wire/types.ts';
import type { TcpRepr } from '../../src/wire/types.ts';
import { AddrWords, IsnGenerator, addrWord, halfSipHash24 } from '../../src/stack/isn.ts';
import { parseIpAddr } from '../../src/wire/ipv6.ts';
import type { Stack } from '../../src/stack/stack.ts';
import type { MemoryPort } from '../../src/links/memory.ts';

const A = parseIpv4Addr('10.0.0.1')!;
const B = parseIpv4Addr('10.0.0.2')!;
const EVIL = parseIpv4Addr('10.0.0.66')!;

/** A stack B on a hub, plus a raw port at 10.0.0.66 the test uses to inject and capture packets. */
function rig(opts: { backlog?: number; synCookies?: 'auto' | 'always' | 'never'; seed?: number; challengeAckLimit?: number } = {}) {
  const net = new Network({ seed: opts.seed ?? 3 });
  const hub = net.addHub({ checksumOffload: false });
  const b = net.addStack({ name: 'b', defaultBacklog: opts.backlog ?? 16, synCookies: opts.synCookies ?? 'auto', ...(opts.challengeAckLimit !== undefined ? { challengeAckLimit: opts.challengeAckLimit } : {}) });
  net.attach(b, hub, B);
  const raw: MemoryPort = hub.attach(EVIL);
  const got: TcpRepr[] = [];
  const gotIcmp: ReturnType<typeof parseIcmp>[] = [];
  raw.onReceive = (bytes) => {
    const ip = parseIpv4(bytes, CHECKSUM_FULL);
    assert.ok(ip.ok);
    if (ip.value.header.protocol === IPPROTO_ICMP) {
      gotIcmp.push(parseIcmp(ip.value.payload, CHECKSUM_FULL));
      return;
    }
    const t = parseTcp(ip.value.payload, ip.value.header.src, ip.value.header.dst, CHECKSUM_FULL);
    assert.ok(t.ok, 'the stack emits valid TCP with correct checksums');
    got.push(t.value);
  };
  const inject = (seg: Partial<TcpRepr>): void => {
    const full: TcpRepr = { srcPort: 40000, dstPort: 80, seq: 1000, ack: 0, flags: SYN, window: 65535, urgentPointer: 0, options: [], payload: new Uint8Array(0), ...seg };
    raw.transmit(emitIpv4Tcp({ src: EVIL, dst: B, ttl: 64, tos: 0, ident: 1, dontFragment: true }, full, CHECKSUM_FULL));
    net.runDue();
  };
  return { net, hub, b, raw, got, gotIcmp, inject };
}

describe('segments that reach no connection (§3.10.7.1)', () => {
  test('CLOSED: a segment without ACK elicits <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>', () => {
    const r = rig();
    r.inject({ flags: SYN, seq: 1000, dstPort: 81 });
    assert.equal(r.got.length, 1);
    assert.equal(r.got[0]!.flags, RST | ACK);
    assert.equal(r.got[0]!.seq, 0);
    assert.equal(r.got[0]!.ack, 1001);
  });
  test('CLOSED: data and FIN count in SEG.LEN of the RST,ACK', () => {
    const r = rig();
    r.inject({ flags: FIN, seq: 5000, dstPort: 81, payload: new Uint8Array(10) });
    assert.equal(r.got[0]!.ack, 5011);
  });
  test('CLOSED: a segment with ACK elicits <SEQ=SEG.ACK><CTL=RST>', () => {
    const r = rig();
    r.inject({ flags: ACK, seq: 1000, ack: 777, dstPort: 81 });
    assert.equal(r.got[0]!.flags, RST);
    assert.equal(r.got[0]!.seq, 777);
  });
  test('CLOSED: an incoming RST is discarded without reply', () => {
    const r = rig();
    r.inject({ flags: RST, dstPort: 81 });
    assert.equal(r.got.length, 0);
    assert.equal(r.b.counters.drops['tcp-no-connection'], 1);
  });
});

describe('listeners', () => {
  test('LISTEN: a SYN gets SYN,ACK and the handshake completes into the accept queue', () => {
    const r = rig();
    const l = r.b.listen(80);
    r.inject({ flags: SYN, seq: 1000 });
    const synack = r.got[0]!;
    assert.equal(synack.flags, SYN | ACK);
    assert.equal(synack.ack, 1001);
    r.inject({ flags: ACK, seq: 1001, ack: (synack.seq + 1) >>> 0 });
    const c = l.accept();
    assert.ok(c);
    assert.equal(c.state, 'ESTABLISHED');
    assert.equal(r.b.counters.passiveOpens, 1);
  });
  test('LISTEN: SYNs beyond the backlog are dropped and counted when SYN cookies are off', () => {
    const r = rig({ backlog: 2, synCookies: 'never' });
    r.b.listen(80);
    for (let i = 0; i < 5; i++) r.inject({ flags: SYN, seq: 1000, srcPort: 40000 + i });
    assert.equal(r.got.length, 2);
    assert.equal(r.b.counters.drops['tcp-listen-backlog-full'], 3);
  });
  test('LISTEN: a RST to a listener is ignored; an ACK gets <SEQ=SEG.ACK><CTL=RST> (§3.10.7.2)', () => {
    const r = rig();
    r.b.listen(80);
    r.inject({ flags: RST, seq: 1 });
    assert.equal(r.got.length, 0);
    r.inject({ flags: ACK, seq: 1, ack: 4242 });
    assert.equal(r.got[0]!.flags, RST);
    assert.equal(r.got[0]!.seq, 4242);
  });
  test('SYN-RECEIVED: a RST returns to LISTEN — the spawned TCB is gone and the listener still accepts', () => {
    const r = rig();
    const l = r.b.listen(80);
    r.inject({ flags: SYN, seq: 1000 });
    assert.equal(r.b.connectionCount, 1);
    r.inject({ flags: RST, seq: 1001 });
    assert.equal(r.b.connectionCount, 0);
    assert.equal(l.halfOpen, 0);
    r.inject({ flags: SYN, seq: 9000 });
    assert.equal(r.got.at(-1)!.flags, SYN | ACK);
  });
  test('listen on a port in use fails with ERR_SYNACK_ADDRESS_IN_USE', () => {
    const r = rig();
    r.b.listen(80);
    assert.throws(() => r.b.listen(80), { code: 'ERR_SYNACK_ADDRESS_IN_USE' });
  });
  test('connect to a bad port fails with ERR_SYNACK_INVALID_ARG', () => {
    const r = rig();
    assert.throws(() => r.b.connect(A, 0), { code: 'ERR_SYNACK_INVALID_ARG' });
    assert.throws(() => r.b.connect(A, 70000), { code: 'ERR_SYNACK_INVALID_ARG' });
  });
});

describe('ports and demux', () => {
  test('ephemeral ports are distinct for concurrent connections and demux finds each by 4-tuple', () => {
    const net = new Network({ seed: 9 });
    const hub = net.addHub();
    const a = net.addStack();
    const b = net.addStack();
    net.attach(a, hub, A);
    net.attach(b, hub, B);
    const accepted: number[] = [];
    b.listen(80, { onConnection: (c) => accepted.push(c.remotePort) });
    const conns = Array.from({ length: 200 }, () => a.connect(B, 80));
    net.runUntil(() => accepted.length === 200);
    const ports = new Set(conns.map((c) => c.localPort));
    assert.equal(ports.size, 200);
    for (const c of conns) assert.equal(a.lookup(A, c.localPort, B, 80), c);
    assert.deepEqual(new Set(accepted), ports);
  });
});

describe('ISNs (RFC 6528)', () => {
  test('ISN = M + F(4-tuple, secret): it advances with the 4 µs clock and differs per 4-tuple and per secret', () => {
    const g = new IsnGenerator(1, 2);
    const i0 = g.isn(A, 1000, B, 80, 0);
    assert.equal(g.isn(A, 1000, B, 80, 4000), (i0 + 1000) >>> 0);
    assert.notEqual(g.isn(A, 1001, B, 80, 0), i0);
    assert.notEqual(new IsnGenerator(1, 3).isn(A, 1000, B, 80, 0), i0);
  });
  test('RFC 6528 §3 F() over IPv6: the memoised address words equal addrWord, in any order of addresses', () => {
    const addrs = ['fd00::1', 'fd00::2', 'fd00::3', '2001:db8::1', '::1'].map((t) => parseIpAddr(t)!);
    const w = new AddrWords(0x01234567, 0x89abcdef);
    const order = [0, 0, 1, 0, 1, 1, 2, 0, 3, 4, 1, 2, 2, 0, 4, 4, 3, 1];
    for (const i of order) assert.equal(w.word(addrs[i]!), addrWord(0x01234567, 0x89abcdef, addrs[i]!));
    assert.equal(w.word(0x0a000001), 0x0a000001, 'an IPv4 address is its own word');
    // The ISN of an IPv6 4-tuple is the same whatever the generator saw before.
    const g1 = new IsnGenerator(5, 6);
    const g2 = new IsnGenerator(5, 6);
    for (const i of order) g1.isn(addrs[i]!, 1000, addrs[(i + 1) % 5]!, 80, 0);
    assert.equal(g1.isn(addrs[0]!, 1000, addrs[1]!, 80, 0), g2.isn(addrs[0]!, 1000, addrs[1]!, 80, 0));
  });
  test('HalfSipHash-2-4 spreads single-bit input changes over about half the output bits', () => {
    let total = 0;
    const n = 256;
    for (let i = 0; i < n; i++) {
      const x = halfSipHash24(0x01234567, 0x89abcdef, i, 0, 0) ^ halfSipHash24(0x01234567, 0x89abcdef, i ^ 1, 0, 0);
      total += popcount(x >>> 0);
    }
    const avg = total / n;
    assert.ok(avg > 12 && avg < 20, `average flipped bits ${avg}`);
  });
});

describe('ICMP', () => {
  test('an echo request is answered with an echo reply carrying the same data (RFC 792)', () => {
    const r = rig();
    const req = { type: 'echo-request' as const, ident: 7, seqNo: 3, data: new TextEncoder().encode('ping!') };
    const len = icmpEchoLen(req);
    const buf = new Uint8Array(20 + len);
    emitIpv4({ src: EVIL, dst: B, protocol: IPPROTO_ICMP, ttl: 64, tos: 0, ident: 9, dontFragment: false, payloadLen: len }, buf, 0, CHECKSUM_FULL);
    emitIcmpEcho(req, buf, 20);
    r.raw.transmit(buf);
    r.net.runDue();
    assert.equal(r.gotIcmp.length, 1);
    const rep = r.gotIcmp[0]!;
    assert.ok(rep.ok);
    assert.equal(rep.value.type, 'echo-reply');
    assert.equal(rep.value.ident, 7);
    assert.equal(new TextDecoder().decode(rep.value.data), 'ping!');
    assert.equal(r.b.counters.icmpEchoReplies, 1);
  });
});

describe('bad input', () => {
  test('malformed packets are dropped and counted by reason, never thrown', () => {
    const r = rig();
    const b: Stack = r.b;
    r.b.listen(80);
    const junk = [new Uint8Array(0), new Uint8Array([0x45]), new Uint8Array(40).fill(0xff), new Uint8Array([0x60, 0, 0, 0])];
    for (const j of junk) r.raw.transmit(j.length >= 20 ? j : j);
    // Packets shorter than an IP header cannot be routed by the hub; deliver directly.
    for (const j of junk) b.receive(b.interfaces[0]!, j);
    assert.ok(b.counters.totalDrops >= 4);
    const good = emitIpv4Tcp({ src: EVIL, dst: B, ttl: 64, tos: 0, ident: 1, dontFragment: true }, { srcPort: 1, dstPort: 80, seq: 1, ack: 0, flags: SYN, window: 1, urgentPointer: 0, options: [], payload: new Uint8Array(0) }, CHECKSUM_FULL);
    good[good.length - 1] ^= 0xff; // break the TCP checksum
    r.raw.transmit(good);
    r.net.runDue();
    assert.equal(b.counters.drops['tcp-bad-checksum'], 1);
    assert.equal(b.counters.checksumErrors, 1);
  });
});

function popcount(x: number): number {
  let n = 0;
  while (x) {
    n += x & 1;
    x >>>= 1;
  }
  return n;
}

describe('listener policy', () => {
  test('LISTEN: a SYN,ACK gets a RST by default (§3.10.7.2) and is dropped silently with listenAckReset off', () => {
    const r = rig();
    r.b.listen(80);
    r.inject({ flags: SYN | ACK, seq: 17, ack: 34 });
    assert.equal(r.got.at(-1)!.flags, RST);
    const q = rig();
    q.b.listen(80, { tcp: { listenAckReset: false } });
    q.inject({ flags: SYN | ACK, seq: 17, ack: 34 });
    assert.equal(q.got.length, 0);
    q.inject({ flags: ACK, seq: 17, ack: 34 });
    assert.equal(q.got.at(-1)!.flags, RST, 'a bare ACK still gets its RST');
  });
});

describe('SYN cookies (RFC 4987 §3.6)', () => {
  test('with the backlog full of half-open connections, SYNs get stateless cookie SYN,ACKs and a completing ACK creates the connection', () => {
    const r = rig({ backlog: 2 });
    const l = r.b.listen(80);
    // A flood: SYNs from spoofed ports that never complete.
    for (let i = 0; i < 50; i++) r.inject({ flags: SYN, seq: 1000 + i, srcPort: 30000 + i });
    assert.equal(r.b.connectionCount, 2, 'only the backlog holds state');
    assert.equal(r.b.counters.synCookiesSent, 48);
    // A legitimate client among them completes its handshake.
    r.inject({ flags: SYN, seq: 7000, srcPort: 41000, options: [{ kind: 'mss', value: 1400 }] });
    const synack = r.got.at(-1)!;
    assert.equal(synack.flags, SYN | ACK);
    assert.equal(r.b.connectionCount, 2, 'still no state for it');
    r.inject({ flags: ACK, seq: 7001, ack: (synack.seq + 1) >>> 0, srcPort: 41000, payload: new TextEncoder().encode('GET /') });
    const c = l.accept();
    assert.ok(c, 'the cookie ACK produced an established connection');
    assert.equal(c.state, 'ESTABLISHED');
    assert.equal(c.sndMss, 1220, 'the MSS came back from the cookie (largest table value ≤ 1400)');
    assert.equal(new TextDecoder().decode(r.b.read(c)[0]), 'GET /');
    assert.equal(r.b.counters.synCookiesAccepted, 1);
  });
  test('an ACK with a forged cookie gets a RST and creates nothing', () => {
    const r = rig({ synCookies: 'always' });
    r.b.listen(80);
    r.inject({ flags: SYN, seq: 5000, srcPort: 42000 });
    const synack = r.got.at(-1)!;
    r.inject({ flags: ACK, seq: 5001, ack: (synack.seq + 2) >>> 0, srcPort: 42000 });
    assert.equal(r.got.at(-1)!.flags, RST);
    assert.equal(r.b.connectionCount, 0);
    assert.equal(r.b.counters.synCookiesInvalid, 1);
  });
  test('with timestamps the cookie keeps window scale and SACK-permitted (in TSval), as Linux does', () => {
    const r = rig({ synCookies: 'always' });
    const l = r.b.listen(80);
    r.inject({ flags: SYN, seq: 9000, srcPort: 43000, options: [{ kind: 'mss', value: 1460 }, { kind: 'sack-permitted' }, { kind: 'timestamp', tsval: 777, tsecr: 0 }, { kind: 'nop' }, { kind: 'window-scale', shift: 7 }] });
    const synack = r.got.at(-1)!;
    const ts = synack.options.find((o) => o.kind === 'timestamp') as { tsval: number; tsecr: number };
    assert.ok(ts && ts.tsecr === 777);
    assert.ok(synack.options.some((o) => o.kind === 'window-scale'));
    r.inject({ flags: ACK, seq: 9001, ack: (synack.seq + 1) >>> 0, srcPort: 43000, options: [{ kind: 'nop' }, { kind: 'nop' }, { kind: 'timestamp', tsval: 778, tsecr: ts.tsval }] });
    const c = l.accept()!;
    assert.equal(c.state, 'ESTABLISHED');
    assert.equal(c.sndWndShift, 7);
    assert.equal(c.sackEnabled, true);
    assert.equal(c.tsEnabled, true);
  });
  test('end to end: a client still connects through a listener whose backlog is flooded', () => {
    const net = new Network({ seed: 11 });
    const hub = net.addHub();
    const a = net.addStack();
    const b = net.addStack({ defaultBacklog: 1 });
    net.attach(a, hub, A);
    net.attach(b, hub, B);
    const raw = hub.attach(EVIL);
    raw.onReceive = () => {};
    const got: string[] = [];
    b.listen(80, { onConnection: (c) => (c.user = { onEvent: () => got.push(...b.read(c).map((x) => new TextDecoder().decode(x))) }) });
    for (let i = 0; i < 20; i++) {
      raw.transmit(emitIpv4Tcp({ src: EVIL, dst: B, ttl: 64, tos: 0, ident: i, dontFragment: true }, { srcPort: 20000 + i, dstPort: 80, seq: i, ack: 0, flags: SYN, window: 1000, urgentPointer: 0, options: [], payload: new Uint8Array(0) }, CHECKSUM_FULL));
    }
    net.runFor(1000);
    const c = a.connect(B, 80);
    net.runUntil(() => c.state === 'ESTABLISHED');
    a.send(c, new TextEncoder().encode('still here'));
    net.runUntil(() => got.join('') === 'still here');
    assert.ok(b.counters.synCookiesAccepted >= 1);
  });
});

describe('stack-wide receive memory', () => {
  test('when the stack-wide budget is spent, connections advertise no new window and hold no new out-of-order data; reading frees it', () => {
    const net = new Network({ seed: 21 });
    const hub = net.addHub();
    const a = net.addStack({ tcp: { noDelay: true } });
    const b = net.addStack({ maxReceiveMemoryBytes: 64 * 1024, tcp: { recvBufferBytes: 256 * 1024 } });
    net.attach(a, hub, A);
    net.attach(b, hub, B);
    const servers: import('../../src/tcp/connection.ts').Connection[] = [];
    b.listen(80, { onConnection: (c) => servers.push(c) });
    const clients = [a.connect(B, 80), a.connect(B, 80), a.connect(B, 80)];
    net.runUntil(() => servers.length === 3);
    // Nobody reads at b: each client pushes as much as b's windows take.
    for (const c of clients) a.send(c, new Uint8Array(200 * 1024));
    net.runFor(5_000_000);
    const held = servers.reduce((n, s) => n + s.readable(), 0);
    // Each handshake promised one unscaled SYN window (≤ 64 KiB) before the
    // budget could be consulted; beyond that, nothing is promised.
    assert.ok(held <= 64 * 1024 + 3 * 65535, `bounded: ${held} bytes held`);
    assert.ok(held < 3 * 200 * 1024, 'senders were held back');
    assert.ok(b.budget.used <= 64 * 1024 + 3 * 65535, `charged ${b.budget.used}`);
    // Reading releases the budget and the transfers go on.
    let got = 0;
    net.runUntil(() => {
      for (const s of servers) for (const p of b.read(s)) got += p.length;
      return got >= 3 * 200 * 1024;
    });
    for (const c of clients) a.close(c);
    for (const s of servers) b.close(s);
    net.runFor(300_000_000);
    assert.equal(b.connectionCount, 0);
    assert.equal(b.budget.used, 0, 'every charge is given back');
  });
});

describe('SYN cookies: regressions from the attack tests', () => {
  test('a cookie SYN,ACK never carries a TSval ahead of the connection clock, so the peer\'s PAWS keeps our data (RFC 7323 §5)', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const net = new Network({ seed });
      const hub = net.addHub();
      const a = net.addStack({ name: 'client' });
      const b = net.addStack({ name: 'server', synCookies: 'always' });
      net.attach(a, hub, A);
      net.attach(b, hub, B);
      b.listen(80, { onConnection: (c) => b.send(c, new TextEncoder().encode('hello')) });
      net.runFor(seed * 7_000); // vary the clock's low bits
      const c = a.connect(B, 80);
      net.runUntil(() => c.state === 'ESTABLISHED');
      const t0 = net.clock.now();
      net.runUntil(() => a.read(c).length > 0);
      assert.equal(a.counters.drops['tcp-paws'] ?? 0, 0, `seed ${seed}: the client dropped our data as old`);
      assert.ok(net.clock.now() - t0 < 100_000, `seed ${seed}: data arrived without waiting for an RTO`);
    }
  });
  test('a cookie-completing segment that carries FIN (and data) is accepted, not reset', () => {
    const r = rig({ synCookies: 'always' });
    const l = r.b.listen(80);
    r.inject({ flags: SYN, seq: 1000, srcPort: 44000 });
    const synack = r.got.at(-1)!;
    r.inject({ flags: ACK | 0x08 | FIN, seq: 1001, ack: (synack.seq + 1) >>> 0, srcPort: 44000, payload: new TextEncoder().encode('hello') });
    assert.notEqual(r.got.at(-1)!.flags & RST, RST, 'no reset');
    const c = l.accept();
    assert.ok(c);
    assert.equal(c.state, 'CLOSE-WAIT');
    assert.equal(new TextDecoder().decode(r.b.read(c)[0]), 'hello');
  });
});

describe('challenge-ACK rate limit (RFC 5961 §7, CVE-2016-5696)', () => {
  /** `n` established connections from EVIL's ports 41000.. to B:80; returns each one's RCV.NXT seen from B (the peer's next seq). */
  function established(r: ReturnType<typeof rig>, n: number): number[] {
    r.b.listen(80, { backlog: 1024 });
    const next: number[] = [];
    for (let i = 0; i < n; i++) {
      const port = 41000 + i;
      r.inject({ flags: SYN, seq: 1000, srcPort: port });
      const synack = r.got.at(-1)!;
      r.inject({ flags: ACK, seq: 1001, ack: (synack.seq + 1) >>> 0, srcPort: port });
      next.push(1001);
    }
    return next;
  }

  /** Per virtual second, one blind segment per connection (alternately an in-window RST and an out-of-window SYN); challenge ACKs counted per second. */
  function perSecond(seed: number, limit: number, conns: number, seconds: number): number[] {
    const r = rig({ seed });
    r.b.challengeAckLimit = limit;
    established(r, conns);
    const counts: number[] = [];
    for (let t = 0; t < seconds; t++) {
      r.net.runFor(1_000_000);
      const before = r.got.length;
      for (let i = 0; i < conns; i++) {
        if (i % 2 === 0) r.inject({ flags: RST, seq: 1001 + 10 + t, srcPort: 41000 + i });
        else r.inject({ flags: SYN, seq: 1001 + 10_000_000, srcPort: 41000 + i });
      }
      counts.push(r.got.slice(before).filter((g) => g.flags === ACK).length);
    }
    return counts;
  }

  test('the stack-wide budget is drawn at random each second between half and 1.5 × challengeAckLimit, and covers RST and SYN challenge ACKs', () => {
    const counts = perSecond(3, 10, 40, 12);
    for (const c of counts) assert.ok(c >= 5 && c < 15, `a second's challenge ACKs (${c}) lie in [limit/2, 1.5 × limit)`);
    assert.ok(new Set(counts).size > 1, `the budget changes from second to second (${counts.join(', ')}): an attacker cannot count it`);
    assert.deepEqual(perSecond(3, 10, 40, 12), counts, 'deterministic under the same seed');
    assert.notDeepEqual(perSecond(4, 10, 40, 12), counts, 'another stack secret draws other budgets');
  });

  test('suppressed challenge ACKs are counted: challengeAcks + tcp-challenge-ack-limited = blind segments', () => {
    const r = rig();
    r.b.challengeAckLimit = 4;
    established(r, 20);
    r.net.runFor(1_000_000);
    const before = r.got.length;
    for (let i = 0; i < 20; i++) r.inject({ flags: RST, seq: 1001 + 10, srcPort: 41000 + i });
    const acks = r.got.slice(before).filter((s) => s.flags === ACK).length;
    assert.ok(acks >= 2 && acks < 6, `${acks} challenge ACKs within [2, 6)`);
    assert.equal(r.b.counters.challengeAcks, acks);
    assert.equal(r.b.counters.drops['tcp-challenge-ack-limited'], 20 - acks);
  });

  test('StackConfig.challengeAckLimit sets the limit; 0 sends none', () => {
    const r = rig({ challengeAckLimit: 0 });
    established(r, 3);
    const before = r.got.length;
    for (let i = 0; i < 3; i++) r.inject({ flags: RST, seq: 1001 + 10, srcPort: 41000 + i });
    assert.equal(r.got.slice(before).length, 0);
    assert.equal(r.b.counters.drops['tcp-challenge-ack-limited'], 3);
  });
});

describe('TIME-WAIT reuse by a new SYN (RFC 9293 §3.6.1, RFC 1122 4.2.2.13, RFC 6191)', () => {
  const ts = (tsval: number): TcpRepr['options'] => [{ kind: 'timestamp', tsval, tsecr: 0 }];
  /**
   * B accepts a connection from EVIL:41000 (with timestamps when `tsval` is
   * given), closes first and ends in TIME-WAIT with RCV.NXT = 1002 and
   * TS.Recent = tsval + 2.
   */
  function timeWait(opts: { tsval?: number; reuse?: boolean } = {}) {
    const r = rig();
    const l = r.b.listen(80, opts.reuse === false ? { tcp: { timeWaitReuse: false } } : {});
    const o = (v: number) => (opts.tsval !== undefined ? { options: ts(opts.tsval + v) } : {});
    r.inject({ flags: SYN, seq: 1000, srcPort: 41000, ...o(0) });
    const synack = r.got.at(-1)!;
    r.inject({ flags: ACK, seq: 1001, ack: (synack.seq + 1) >>> 0, srcPort: 41000, ...o(1) });
    const c = l.accept()!;
    assert.ok(c);
    r.b.close(c);
    r.net.runDue();
    const fin = r.got.at(-1)!;
    assert.ok(fin.flags & FIN, 'B sent its FIN');
    r.inject({ flags: FIN | ACK, seq: 1001, ack: (fin.seq + 1) >>> 0, srcPort: 41000, ...o(2) });
    assert.equal(c.state, 'TIME-WAIT');
    return { r, c, before: r.got.length };
  }
  const replies = (w: ReturnType<typeof timeWait>) => w.r.got.slice(w.before);
  const accepted = (w: ReturnType<typeof timeWait>): boolean => {
    const out = replies(w);
    return w.c.state === 'CLOSED' && out.length === 1 && out[0]!.flags === (SYN | ACK);
  };
  const refused = (w: ReturnType<typeof timeWait>): boolean => w.c.state === 'TIME-WAIT' && replies(w).every((s) => !(s.flags & SYN));

  test('without timestamps: a SYN whose sequence number is above RCV.NXT reopens the connection (SYN,ACK, old TCB gone)', () => {
    const w = timeWait();
    w.r.inject({ flags: SYN, seq: 900_000, srcPort: 41000 });
    assert.ok(accepted(w), `replies ${JSON.stringify(replies(w).map((s) => s.flags))}, old state ${w.c.state}`);
  });
  test('without timestamps: a SYN whose sequence number is not above RCV.NXT is refused: TIME-WAIT stays, no SYN,ACK', () => {
    const w = timeWait();
    w.r.inject({ flags: SYN, seq: 500, srcPort: 41000 });
    assert.ok(refused(w));
  });
  test('RFC 6191: with timestamps, a SYN whose TSval is above the last one seen reopens the connection even with a lower sequence number', () => {
    const w = timeWait({ tsval: 100 });
    w.r.inject({ flags: SYN, seq: 500, srcPort: 41000, options: ts(200) });
    assert.ok(accepted(w), `replies ${JSON.stringify(replies(w).map((s) => s.flags))}, old state ${w.c.state}`);
  });
  test('RFC 6191: with timestamps, a SYN whose TSval is below the last one seen is refused even with a higher sequence number', () => {
    const w = timeWait({ tsval: 100 });
    w.r.inject({ flags: SYN, seq: 900_000, srcPort: 41000, options: ts(50) });
    assert.ok(refused(w), `replies ${JSON.stringify(replies(w).map((s) => s.flags))}, old state ${w.c.state}`);
  });
  test('RFC 6191: with timestamps, an equal TSval reopens only with a higher sequence number', () => {
    const w = timeWait({ tsval: 100 });
    w.r.inject({ flags: SYN, seq: 500, srcPort: 41000, options: ts(102) });
    assert.ok(refused(w), 'equal TSval, lower sequence number: refused');
    const v = timeWait({ tsval: 100 });
    v.r.inject({ flags: SYN, seq: 900_000, srcPort: 41000, options: ts(102) });
    assert.ok(accepted(v), 'equal TSval, higher sequence number: accepted');
  });
  test('RFC 6191: the previous incarnation used timestamps but the new SYN carries none: the sequence number decides', () => {
    const w = timeWait({ tsval: 100 });
    w.r.inject({ flags: SYN, seq: 900_000, srcPort: 41000 });
    assert.ok(accepted(w));
    const v = timeWait({ tsval: 100 });
    v.r.inject({ flags: SYN, seq: 500, srcPort: 41000 });
    assert.ok(refused(v));
  });
  test('timeWaitReuse off (the FreeBSD profile): even a higher sequence number is refused', () => {
    const w = timeWait({ reuse: false });
    w.r.inject({ flags: SYN, seq: 900_000, srcPort: 41000 });
    assert.ok(refused(w));
  });
});
