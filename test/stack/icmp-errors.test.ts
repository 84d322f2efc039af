/**
 * ICMP errors for TCP (RFC 1122 §4.2.3.9, RFC 5927, RFC 6633) and path MTU
 * discovery (RFC 1191) with black-hole detection (RFC 4821), over the
 * in-memory network under the virtual clock. A raw port plays the router
 * that sends the ICMP messages.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Network } from '../../src/sim/network.ts';
import { Rng } from '../../src/base/rng.ts';
import { parseIpv4Addr, getU16, getU32, setU16 } from '../../src/wire/bytes.ts';
import { emitIpv4 } from '../../src/wire/ipv4.ts';
import { checksum } from '../../src/wire/checksum.ts';
import { parseIcmpError } from '../../src/wire/icmp.ts';
import { CHECKSUM_FULL, IPPROTO_ICMP } from '../../src/wire/types.ts';
import { closeReasonError } from '../../src/api/errors.ts';
import { PMTU_AGE_US } from '../../src/stack/stack.ts';
import type { Connection } from '../../src/tcp/connection.ts';
import type { TcpConfig } from '../../src/tcp/config.ts';

const A = parseIpv4Addr('10.0.0.1')!;
const B = parseIpv4Addr('10.0.0.2')!;
const ROUTER = parseIpv4Addr('10.0.0.254')!;
/** An address on the hub that no port claims: packets to it vanish. */
const NOBODY = parseIpv4Addr('10.0.0.3')!;

/**
 * An ICMP error from ROUTER to `to`, quoting `offending` (an IPv4 packet we
 * sent): its IP header and the first 8 bytes of its TCP header (RFC 792).
 */
function icmpError(to: number, type: number, code: number, offending: Uint8Array, mtu = 0): Uint8Array {
  const ihl = (offending[0]! & 0x0f) * 4;
  const quote = offending.subarray(0, ihl + 8);
  const len = 8 + quote.length;
  const buf = new Uint8Array(20 + len);
  emitIpv4({ src: ROUTER, dst: to, protocol: IPPROTO_ICMP, ttl: 64, tos: 0, ident: 7, dontFragment: false, payloadLen: len }, buf, 0, CHECKSUM_FULL);
  buf[20] = type;
  buf[21] = code;
  setU16(buf, 26, mtu);
  buf.set(quote, 28);
  setU16(buf, 22, checksum(buf, 20, buf.length));
  return buf;
}

/** Stacks A (client) and B (server) on a hub; a router port that sees every packet. */
function rig(tcp: Partial<TcpConfig> = {}, seed = 11) {
  const net = new Network({ seed });
  const hub = net.addHub({ checksumOffload: false, impair: { delayUs: 5000 } });
  const a = net.addStack({ name: 'a', tcp });
  const b = net.addStack({ name: 'b', tcp });
  net.attach(a, hub, A);
  net.attach(b, hub, B);
  const router = hub.attach(ROUTER);
  const fromA: Uint8Array[] = [];
  hub.tap = (_from, p) => {
    if (getU32(p, 12) === A) fromA.push(p.slice());
  };
  return { net, hub, a, b, router, fromA };
}

/** A bulk transfer A → B of `size` bytes; returns what B received (hashed) and A's connection. */
function bulk(r: ReturnType<typeof rig>, size: number) {
  const data = new Uint8Array(size);
  new Rng(99).fill(data);
  const got = createHash('sha256');
  let received = 0;
  r.b.listen(80, {
    onConnection: (c) => {
      c.user = {
        onEvent: (conn: Connection, ev: { type: string }) => {
          if (ev.type === 'readable') for (const chunk of r.b.read(conn)) {
            got.update(chunk);
            received += chunk.length;
          }
        },
      };
    },
  });
  const conn = r.a.connect(B, 80);
  let off = 0;
  const pump = (): void => {
    while (off < size && conn.state === 'ESTABLISHED') {
      const n = r.a.send(conn, data.subarray(off, Math.min(size, off + 65536)));
      if (n === 0) break;
      off += n;
    }
  };
  conn.user = { onEvent: () => pump() };
  return {
    conn,
    pump,
    done: () => received === size,
    received: () => received,
    sameBytes: () => got.copy().digest('hex') === createHash('sha256').update(data).digest('hex'),
  };
}

/** The router answers A's next data segment with "fragmentation needed" for `mtu` (the segment itself is delivered). */
function tooBigOnNextData(r: ReturnType<typeof rig>, mtu: number): void {
  let done = false;
  r.hub.tap = (_from, p) => {
    if (getU32(p, 12) !== A) return;
    r.fromA.push(p.slice());
    if (!done && p.length > 100) {
      done = true;
      r.router.transmit(icmpError(A, 3, 4, p, mtu));
    }
  };
}

describe('ICMP errors for TCP (RFC 1122 §4.2.3.9, RFC 5927)', () => {
  test('wire: "fragmentation needed" parses with its next-hop MTU and the quoted header (RFC 1191 §4)', () => {
    const offending = new Uint8Array(60);
    emitIpv4({ src: A, dst: B, protocol: 6, ttl: 64, tos: 0, ident: 1, dontFragment: true, payloadLen: 1480 }, offending, 0, CHECKSUM_FULL);
    setU16(offending, 20, 49152);
    setU16(offending, 22, 80);
    const icmp = icmpError(A, 3, 4, offending, 1280).subarray(20);
    const r = parseIcmpError(icmp, CHECKSUM_FULL);
    assert.ok(r.ok);
    assert.equal(r.value.kind, 'packet-too-big');
    assert.equal(r.value.mtu, 1280);
    assert.deepEqual(r.value.quoted, { src: A, dst: B, protocol: 6, totalLength: 1500 });
    assert.equal(getU16(r.value.transport, 0), 49152);
    const short = parseIcmpError(icmp.subarray(0, 8 + 20 + 4), { verifyRx: false, fillTx: false });
    assert.deepEqual(short, { ok: false, reason: 'icmp-truncated' });
  });

  test('RFC 1122 §4.2.3.9: port unreachable in SYN-SENT aborts the connection: ECONNREFUSED', () => {
    const r = rig();
    const conn = r.a.connect(NOBODY, 80);
    const syn = r.fromA[0]!;
    r.router.transmit(icmpError(A, 3, 3, syn));
    r.net.runFor(20_000);
    assert.equal(conn.state, 'CLOSED');
    assert.equal(conn.closeReason, 'refused');
    assert.equal(r.a.counters.icmpHardErrors, 1);
    assert.equal(closeReasonError(conn.closeReason, true, '10.0.0.3', 80)?.code, 'ECONNREFUSED');
  });

  test('RFC 5927 §4.1: an ICMP error quoting a sequence number outside SND.UNA..SND.NXT is counted and ignored', () => {
    const r = rig();
    const conn = r.a.connect(NOBODY, 80);
    const syn = r.fromA[0]!.slice();
    // The quoted sequence number is ISS − 1: not a segment we sent.
    const seq = getU32(syn, 24);
    syn[24] = ((seq - 1) >>> 24) & 0xff;
    syn[25] = ((seq - 1) >>> 16) & 0xff;
    syn[26] = ((seq - 1) >>> 8) & 0xff;
    syn[27] = (seq - 1) & 0xff;
    r.router.transmit(icmpError(A, 3, 3, syn));
    r.net.runFor(20_000);
    assert.equal(conn.state, 'SYN-SENT');
    assert.equal(r.a.counters.drops['icmp-out-of-window'], 1);
    assert.equal(r.a.counters.icmpHardErrors, 0);
  });

  test('RFC 1122 §4.2.3.9: host unreachable is soft — no abort; reported as EHOSTUNREACH only when the connection times out', () => {
    const r = rig({ synRetries: 2 });
    const conn = r.a.connect(NOBODY, 80); // nobody answers
    r.router.transmit(icmpError(A, 3, 1, r.fromA[0]!));
    r.net.runFor(500_000);
    assert.equal(conn.state, 'SYN-SENT', 'a soft error does not abort');
    assert.equal(r.a.counters.icmpSoftErrors, 1);
    r.net.runUntil(() => conn.state === 'CLOSED');
    assert.equal(conn.closeReason, 'host-unreachable');
    assert.equal(closeReasonError(conn.closeReason, true, '10.0.0.2', 80)?.code, 'EHOSTUNREACH');
  });

  test('RFC 1122 §4.2.3.9: net unreachable is remembered as ENETUNREACH', () => {
    const r = rig({ synRetries: 1 });
    const conn = r.a.connect(NOBODY, 80);
    r.router.transmit(icmpError(A, 3, 0, r.fromA[0]!));
    r.net.runUntil(() => conn.state === 'CLOSED');
    assert.equal(closeReasonError(conn.closeReason, true, '10.0.0.2', 80)?.code, 'ENETUNREACH');
  });

  test('RFC 6633: Source Quench is silently discarded (counted)', () => {
    const r = rig();
    const conn = r.a.connect(NOBODY, 80);
    r.router.transmit(icmpError(A, 4, 0, r.fromA[0]!));
    r.net.runFor(20_000);
    assert.equal(conn.state, 'SYN-SENT');
    assert.equal(r.a.counters.drops['icmp-source-quench'], 1);
  });
});

describe('path MTU discovery (RFC 1191) and black-hole detection (RFC 4821)', () => {
  /** The router: once the path MTU is `mtu`, a larger packet from A is dropped and answered with "fragmentation needed". */
  function shrinkPath(r: ReturnType<typeof rig>, mtu: number): void {
    r.hub.mtu = mtu;
    r.fromA.length = 0;
    r.hub.tap = (_from, p) => {
      if (getU32(p, 12) === A) r.fromA.push(p.slice());
      if (getU32(p, 12) === A && p.length > mtu) r.router.transmit(icmpError(A, 3, 4, p, mtu));
    };
  }

  test('RFC 1191 §6.5: "fragmentation needed" mid-transfer lowers the MSS and retransmits at once: every byte arrives, no RTO', () => {
    const r = rig({ sendBufferBytes: 256 * 1024, recvBufferBytes: 256 * 1024 });
    const t = bulk(r, 2_000_000);
    r.net.runUntil(() => t.received() > 200_000);
    shrinkPath(r, 1280);
    r.net.runUntil(() => t.done(), { until: 600_000_000 });
    assert.ok(t.sameBytes(), 'byte-identical');
    assert.equal(r.a.counters.pmtuUpdates, 1);
    assert.equal(r.a.counters.retransmitTimeouts, 0, 'recovered without waiting for an RTO');
    assert.equal(t.conn.status().sndMss, 1240);
    assert.ok(r.a.pathMtu(B) === 1280);
    // Only the burst in flight when the path shrank was too large: a
    // window's worth, not one per RTO.
    const tooBig = r.fromA.filter((p) => p.length > 1280);
    assert.ok(tooBig.length >= 1 && tooBig.length <= 200, `${tooBig.length} oversized packets`);
  });

  test('RFC 1191 §3 / RFC 5927 §7: a next-hop MTU below 552 is not honoured (counted)', () => {
    const r = rig();
    const t = bulk(r, 200_000);
    r.net.runUntil(() => t.received() > 20_000);
    tooBigOnNextData(r, 300);
    r.net.runUntil(() => t.done());
    assert.equal(r.a.counters.pmtuUpdates, 0);
    assert.equal(r.a.counters.drops['icmp-pmtu-ignored'], 1, JSON.stringify(r.a.counters.snapshot()));
    assert.equal(t.conn.status().sndMss, 1460);
  });

  test('RFC 1191 §6.3: the lowered estimate ages out after 10 minutes and the MSS goes back up', () => {
    const r = rig({ keepAlive: false });
    const t = bulk(r, 200_000);
    r.net.runUntil(() => t.received() > 20_000);
    tooBigOnNextData(r, 1400);
    r.net.runUntil(() => t.done());
    assert.equal(t.conn.status().sndMss, 1360);
    r.net.runFor(PMTU_AGE_US + 1_000_000);
    assert.equal(r.a.counters.pmtuExpired, 1);
    assert.equal(t.conn.status().sndMss, 1460);
    assert.equal(r.a.pathMtu(B), 1500);
  });

  test('RFC 1191 §5: a new connection to the same destination starts at the cached path MTU', () => {
    const r = rig();
    const t = bulk(r, 100_000);
    r.net.runUntil(() => t.received() > 20_000);
    tooBigOnNextData(r, 1300);
    r.net.runUntil(() => t.done());
    const c2 = r.a.connect(B, 80);
    r.net.runUntil(() => c2.state === 'ESTABLISHED');
    assert.equal(c2.status().sndMss, 1260);
  });

  test('RFC 4821 §7.7: a black hole (large packets lost, no ICMP) falls back to MSS 1024 after repeated RTOs; every byte arrives', () => {
    const r = rig({ sendBufferBytes: 256 * 1024, recvBufferBytes: 256 * 1024 });
    const t = bulk(r, 1_000_000);
    r.net.runUntil(() => t.received() > 100_000);
    r.hub.mtu = 1200; // silently: no ICMP
    r.net.runUntil(() => t.done(), { until: 600_000_000 });
    assert.ok(t.sameBytes());
    assert.equal(r.a.counters.pmtuBlackholes, 1);
    // The fallback to 1024 is followed by RFC 4821 probing upward
    // (tcp/mtu-probe.ts, test/tcp/mtu-probe.test.ts): the MSS ends within
    // the search threshold of what the 1200-octet path carries.
    const mss = t.conn.status().sndMss;
    assert.ok(mss <= 1160 && mss > 1160 - 8, `MSS ${mss}`);
    assert.ok(r.a.counters.retransmitTimeouts >= 3);
  });
});

