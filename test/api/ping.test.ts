/**
 * `host.ping()` (issue 13, "ping both ways"): ICMP echo requests from a
 * synack host (RFC 792, RFC 4443 §4.1), replies matched by identifier and
 * sequence number, on the in-memory network under the virtual clock.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createMemoryNetwork } from '../../src/index.ts';
import { ping } from '../../src/net.ts';
import { isSynackError } from '../../src/errors.ts';
import { PingSession } from '../../src/services/ping.ts';
import { parseIpAddr } from '../../src/wire/ipv6.ts';
import { getU16 } from '../../src/wire/bytes.ts';

const DELAY_US = 5000;

function lan() {
  const l = createMemoryNetwork({ seed: 7, virtualTime: true, impair: { delayUs: DELAY_US } });
  const a = l.host('10.0.0.1', { also: 'fd00::1' });
  const b = l.host('10.0.0.2', { also: 'fd00::2' });
  return { ...l, a, b };
}

/** The ICMP (IPv4) or ICMPv6 type and sequence number of a packet without extension headers, or null. */
function echoOf(p: Uint8Array): { type: number; ident: number; seq: number } | null {
  if (p[0]! >>> 4 === 4 && p[9] === 1) return { type: p[20]!, ident: getU16(p, 24), seq: getU16(p, 26) };
  if (p[0]! >>> 4 === 6 && p[6] === 58) return { type: p[40]!, ident: getU16(p, 44), seq: getU16(p, 46) };
  return null;
}

for (const [family, target, source] of [
  ['IPv4 (RFC 792)', '10.0.0.2', '10.0.0.1'],
  ['IPv6 (RFC 4443 §4.1)', 'fd00::2', 'fd00::1'],
] as const) {
  test(`${family}: host.ping sends count echo requests of size octets and each reply is matched by identifier and sequence number, timed on the stack's clock`, async () => {
    const l = lan();
    const wire: Array<{ type: number; ident: number; seq: number; len: number }> = [];
    l.hub.tap = (_from, p) => {
      const e = echoOf(p);
      if (e) wire.push({ ...e, len: p.length });
    };
    const seen: number[] = [];
    const r = await l.a.ping(target, { count: 3, size: 100, intervalMs: 200, timeoutMs: 1000, onReply: (x) => seen.push(x.seq) });
    assert.equal(r.target, target);
    assert.equal(r.source, source);
    assert.equal(r.sent, 3);
    assert.equal(r.received, 3);
    assert.equal(r.lost, 0);
    assert.equal(r.unmatched, 0);
    assert.deepEqual(r.replies.map((x) => x.seq), [1, 2, 3]);
    assert.deepEqual(seen, [1, 2, 3], 'onReply saw each reply, before the promise resolved');
    for (const x of r.replies) {
      assert.equal(x.from, target);
      assert.equal(x.bytes, 100);
      assert.equal(x.rttMs, (2 * DELAY_US) / 1000, 'one delay each way');
    }
    assert.deepEqual(r.rttMs, { min: 10, avg: 10, max: 10, mdev: 0 });
    // On the wire: requests (8 / 128) and replies (0 / 129), all with the call's identifier.
    const req = family.startsWith('IPv4') ? 8 : 128;
    const rep = family.startsWith('IPv4') ? 0 : 129;
    assert.deepEqual(wire.filter((w) => w.type === req).map((w) => w.seq), [1, 2, 3]);
    assert.deepEqual(wire.filter((w) => w.type === rep).map((w) => w.seq), [1, 2, 3]);
    assert.ok(wire.every((w) => w.ident === r.ident));
    assert.ok(wire.every((w) => w.len === (family.startsWith('IPv4') ? 20 : 40) + 8 + 100));
    assert.equal(l.b.stack.counters.icmpEchoReplies, 3, 'the peer answered each');
    assert.equal(l.a.stack.counters.icmpEchoRequestsOut, 3);
    assert.equal(l.a.stack.counters.icmpEchoRepliesIn, 3);
    l.stop();
  });
}

test('RFC 792: a lost reply is a timeout — the request counts as lost after timeoutMs, the others are answered', async () => {
  const l = lan();
  // The hub drops the echo reply to the second request.
  l.hub.tap = (_from, p) => {
    const e = echoOf(p);
    if (e && e.type === 0 && e.seq === 2) l.hub.dropNext = 1;
  };
  const t0 = l.a.stack.clock.now();
  const r = await l.a.ping('10.0.0.2', { count: 3, intervalMs: 100, timeoutMs: 500 });
  assert.equal(r.sent, 3);
  assert.equal(r.received, 2);
  assert.equal(r.lost, 1);
  assert.deepEqual(r.replies.map((x) => x.seq), [1, 3]);
  // The call ends when the second request's timeout passes: sent at 100 ms, given up at 600 ms.
  assert.equal(l.a.stack.clock.now() - t0, 600_000);
  l.stop();
});

test('RFC 792: a reply that comes after its timeout, a duplicate, or a reply with an unknown identifier is counted unmatched, never taken', async () => {
  const l = lan();
  // Every reply takes 2 × 400 ms: longer than the 500 ms timeout.
  l.hub.setImpairments({ delayUs: 400_000 });
  const r = await l.a.ping('fd00::2', { count: 1, timeoutMs: 500 });
  assert.equal(r.received, 0);
  assert.equal(r.lost, 1);
  // The late reply arrives at 800 ms: no session has its identifier any more.
  l.network.runFor(1_000_000);
  assert.equal(l.a.stack.counters.drops['icmp-echo-unmatched'], 1);
  assert.equal(l.a.stack.counters.icmpEchoRepliesIn, 0);

  // A duplicated reply (the hub sends every packet twice): the first is taken, the second is unmatched.
  l.hub.setImpairments({ delayUs: DELAY_US, duplicate: 1 });
  const d = await l.a.ping('10.0.0.2', { count: 1 });
  l.network.runFor(1_000_000);
  assert.equal(d.received, 1);
  assert.ok(d.unmatched >= 1, 'the duplicate reply was seen by the session and refused');
  assert.equal(l.a.stack.counters.icmpEchoRepliesIn, 1);
  l.stop();
});

test('two pings at once get different identifiers and each takes only its own replies', async () => {
  const l = lan();
  const [x, y] = await Promise.all([l.a.ping('10.0.0.2', { count: 2, intervalMs: 10 }), l.a.ping('fd00::2', { count: 2, intervalMs: 10 })]);
  assert.notEqual(x.ident, y.ident);
  assert.equal(x.received, 2);
  assert.equal(y.received, 2);
  assert.equal(x.unmatched + y.unmatched, 0);
  assert.equal(l.a.stack.counters.drops['icmp-echo-unmatched'] ?? 0, 0);
  l.stop();
});

test('a reply whose data differs from the request (RFC 4443 §4.2: "returned entirely and unmodified") is not an answer', () => {
  const l = lan();
  // Corrupt the data of replies on their way back (fixing nothing else): the checksum would catch it,
  // so recompute it — what arrives is a well-formed reply with other data.
  l.hub.tap = (_from, p) => {
    const e = echoOf(p);
    if (e && e.type === 0) {
      p[30] = p[30]! ^ 0xff;
      // RFC 1624 incremental update would do; simplest: zero and recompute.
      p[22] = p[23] = 0;
      let s = 0;
      for (let i = 20; i < p.length; i += 2) s += (p[i]! << 8) | (p[i + 1] ?? 0);
      while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
      const c = ~s & 0xffff;
      p[22] = c >>> 8;
      p[23] = c & 0xff;
    }
  };
  let done = null as { received: number; unmatched: number; lost: number } | null;
  new PingSession(l.a.stack, parseIpAddr('10.0.0.2')!, { count: 1, size: 56, interval: 1_000_000, timeout: 500_000 }, { onDone: (st) => (done = st) });
  l.network.runFor(1_000_000);
  assert.deepEqual(done && { received: done.received, unmatched: done.unmatched, lost: done.lost }, { received: 0, unmatched: 1, lost: 1 });
  assert.equal(l.a.stack.counters.drops['icmp-echo-unmatched'], 1);
  l.stop();
});

test('bad arguments reject with ERR_SYNACK_INVALID_ARG; no address of the family rejects with ERR_SYNACK_NO_ROUTE and sends nothing', async () => {
  const l = createMemoryNetwork({ seed: 7, virtualTime: true });
  const a = l.host('10.0.0.1');
  l.host('10.0.0.2');
  for (const [addr, opts] of [
    ['not-an-address', {}],
    ['10.0.0.2', { count: 0 }],
    ['10.0.0.2', { size: 65508 }],
    ['10.0.0.2', { timeoutMs: -1 }],
    ['10.0.0.2', { intervalMs: NaN }],
  ] as const) {
    await assert.rejects(a.ping(addr, opts), (e: unknown) => isSynackError(e) && (e as { code: string }).code === 'ERR_SYNACK_INVALID_ARG', `${addr} ${JSON.stringify(opts)}`);
  }
  await assert.rejects(a.ping('fd00::2'), (e: unknown) => isSynackError(e) && (e as { code: string }).code === 'ERR_SYNACK_NO_ROUTE');
  assert.equal(a.stack.counters.icmpEchoRequestsOut, 0);
  // An IPv4-mapped address pings the IPv4 host.
  const m = await ping({ stack: a.stack, driver: l.driver }, '::ffff:10.0.0.2', { count: 1 });
  assert.equal(m.target, '10.0.0.2');
  assert.equal(m.received, 1);
  l.stop();
});

test('a host pings its own addresses through its loopback interface (127.0.0.1, ::1 and its own address)', async () => {
  const l = lan();
  for (const addr of ['127.0.0.1', '::1', '10.0.0.1', 'fd00::1']) {
    const r = await l.a.ping(addr, { count: 2, intervalMs: 1 });
    assert.equal(r.received, 2, addr);
    assert.equal(r.replies[0]!.from, addr);
  }
  assert.equal(l.b.stack.counters.icmpEchoReplies, 0, 'nothing left the host');
  l.stop();
});
