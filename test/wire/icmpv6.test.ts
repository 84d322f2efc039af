import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  ICMPV6_MAX_QUOTE,
  ICMPV6_RATE_LIMIT_DEFAULT,
  Icmpv6RateLimiter,
  emitIcmpv6,
  icmpv6Len,
  mayGenerateError,
  parseIcmpv6,
  parseIcmpv6Quote,
  type Icmpv6Repr,
} from '../../src/wire/icmpv6.ts';
import { IPV6_HEADER_LEN, IPV6_MIN_MTU, emitIpv6, parseIpv6Addr, walkIpv6, writeIpv6Addr, type Ipv6Addr } from '../../src/wire/ipv6.ts';
import { CHECKSUM_FULL, CHECKSUM_OFFLOAD } from '../../src/wire/types.ts';
import { ms, seconds } from '../../src/base/time.ts';
import { V6_ECHO_REPLY, V6_EXT_ECHO, V6_PARAMPROB, V6_PTB, V6_SYN } from './ipv6-fixtures.ts';

const A = parseIpv6Addr('2001:db8::1')!;
const B = parseIpv6Addr('2001:db8::2')!;
const ROUTER = parseIpv6Addr('2001:db8::fe')!;
const MC = parseIpv6Addr('ff02::1')!;

/** The ICMPv6 part of an IPv6 packet with no extension headers. */
function icmpOf(p: Uint8Array): Uint8Array {
  return p.subarray(IPV6_HEADER_LEN);
}

/** An IPv6 packet `src` → `dst` around an upper-layer payload. */
function wrap(nh: number, payload: Uint8Array, src: Ipv6Addr = A, dst: Ipv6Addr = B): Uint8Array {
  const p = new Uint8Array(IPV6_HEADER_LEN + payload.length);
  emitIpv6({ src, dst, trafficClass: 0, flowLabel: 0, payloadLen: payload.length, nextHeader: nh, hopLimit: 64 }, p, 0);
  p.set(payload, IPV6_HEADER_LEN);
  return p;
}

function icmpPacket(repr: Icmpv6Repr, src: Ipv6Addr = A, dst: Ipv6Addr = B): Uint8Array {
  const m = new Uint8Array(icmpv6Len(repr));
  emitIcmpv6(repr, src, dst, m, 0, CHECKSUM_FULL);
  return wrap(58, m, src, dst);
}

describe('wire/icmpv6: messages (RFC 4443)', () => {
  test('RFC 4443 §4.1: the scapy echo request behind two extension headers parses, checksum verified', () => {
    const w = walkIpv6(V6_EXT_ECHO);
    assert.ok(w.ok && w.kind === 'upper');
    const r = parseIcmpv6(V6_EXT_ECHO.subarray(w.offset), A, B, CHECKSUM_FULL);
    assert.ok(r.ok);
    assert.equal(r.value.kind, 'echo-request');
    if (r.value.kind !== 'echo-request') return;
    assert.equal(r.value.ident, 0x1234);
    assert.equal(r.value.seq, 7);
    assert.equal(new TextDecoder().decode(r.value.data), 'synack ping');
  });

  test('RFC 4443 §2.3: the checksum covers the pseudo-header — a flipped bit, or other addresses, fail', () => {
    const m = icmpOf(V6_ECHO_REPLY).slice();
    assert.ok(parseIcmpv6(m, B, A, CHECKSUM_FULL).ok);
    assert.deepEqual(parseIcmpv6(m, ROUTER, A, CHECKSUM_FULL), { ok: false, reason: 'icmpv6-bad-checksum' }, 'another source address');
    m[9] ^= 0x01;
    assert.deepEqual(parseIcmpv6(m, B, A, CHECKSUM_FULL), { ok: false, reason: 'icmpv6-bad-checksum' });
    assert.ok(parseIcmpv6(m, B, A, CHECKSUM_OFFLOAD).ok, 'a link that cannot corrupt skips the check');
  });

  test('RFC 4443 §4.2: an echo reply emitted by synack is the scapy reply byte for byte', () => {
    const out = icmpPacket({ kind: 'echo-reply', code: 0, ident: 0x1234, seq: 7, data: new TextEncoder().encode('synack ping') }, B, A);
    assert.deepEqual(out, V6_ECHO_REPLY);
  });

  test('RFC 4443 §3.2, §2.4 (c): a Packet Too Big about a 1400-octet packet quotes 1232 octets — 1280 in all, as scapy built it', () => {
    const quoted = V6_PTB.subarray(48);
    assert.equal(quoted.length, ICMPV6_MAX_QUOTE);
    // The original: the quote plus the 168 'z' octets that did not fit.
    const original = new Uint8Array(1400).fill(0x7a);
    original.set(quoted);
    const out = icmpPacket({ kind: 'packet-too-big', code: 0, mtu: 1280, invoking: original }, ROUTER, A);
    assert.equal(out.length, IPV6_MIN_MTU);
    assert.deepEqual(out, V6_PTB);
    const r = parseIcmpv6(icmpOf(V6_PTB), ROUTER, A, CHECKSUM_FULL);
    assert.ok(r.ok && r.value.kind === 'packet-too-big');
    assert.equal(r.value.mtu, 1280);
    assert.equal(r.value.invoking.length, 1232);
  });

  test('RFC 4443 §2.4 (d): the quoted packet yields the upper-layer protocol and the TCP ports', () => {
    const r = parseIcmpv6(icmpOf(V6_PTB), ROUTER, A, CHECKSUM_FULL);
    assert.ok(r.ok && r.value.kind === 'packet-too-big');
    const q = parseIcmpv6Quote(r.value.invoking);
    assert.ok(q.ok);
    assert.equal(q.value.protocol, 6);
    assert.equal(q.value.header.payloadLen, 1360, 'the original Payload Length, though only part was quoted');
    assert.equal((q.value.upper[0]! << 8) | q.value.upper[1]!, 40000);
    assert.equal((q.value.upper[2]! << 8) | q.value.upper[3]!, 80);
  });

  test('RFC 4443 §2.4 (d): a quote cut before the upper layer\'s first 8 octets, or not IPv6, is silently dropped', () => {
    const inv = icmpOf(V6_PTB).subarray(8);
    for (let n = 0; n < 48; n++) assert.deepEqual(parseIcmpv6Quote(inv.subarray(0, n)), { ok: false, reason: 'icmpv6-bad-quote' }, `quote of ${n}`);
    assert.ok(parseIcmpv6Quote(inv.subarray(0, 48)).ok);
    const v4 = inv.slice(0, 60);
    v4[0] = 0x45;
    assert.deepEqual(parseIcmpv6Quote(v4), { ok: false, reason: 'icmpv6-bad-quote' });
    // A quoted later fragment has no upper-layer header.
    const frag = wrap(44, new Uint8Array([6, 0, 0, 0x10, 0, 0, 0, 1, ...new Array<number>(20).fill(0)]));
    assert.deepEqual(parseIcmpv6Quote(frag), { ok: false, reason: 'icmpv6-bad-quote' });
    // A quoted first fragment does.
    frag[43] = 0x01;
    assert.equal(parseIcmpv6Quote(frag).ok, true);
  });

  test('RFC 4443 §3.4: the scapy Parameter Problem (code 1, pointer 6) parses with its pointer', () => {
    const r = parseIcmpv6(icmpOf(V6_PARAMPROB), B, A, CHECKSUM_FULL);
    assert.ok(r.ok && r.value.kind === 'parameter-problem');
    assert.equal(r.value.code, 1);
    assert.equal(r.value.pointer, 6);
    assert.equal(r.value.invoking.length, 48);
  });

  test('RFC 4443 §2.4 (a), (b): unknown errors are passed up, unknown informational messages discarded; NDP kept raw', () => {
    const unknownError = icmpPacket({ kind: 'unknown-error', type: 100, code: 3, body: new Uint8Array([1, 2, 3, 4]) });
    assert.deepEqual(parseIcmpv6(icmpOf(unknownError), A, B, CHECKSUM_FULL), { ok: true, value: { kind: 'unknown-error', type: 100, code: 3, body: new Uint8Array([1, 2, 3, 4]) } });
    const info = icmpPacket({ kind: 'unknown-error', type: 200, code: 0, body: new Uint8Array(4) });
    assert.deepEqual(parseIcmpv6(icmpOf(info), A, B, CHECKSUM_FULL), { ok: false, reason: 'icmpv6-unknown-informational' });
    const ns = icmpPacket({ kind: 'ndp', type: 135, code: 0, body: new Uint8Array(20) });
    const r = parseIcmpv6(icmpOf(ns), A, B, CHECKSUM_FULL);
    assert.ok(r.ok && r.value.kind === 'ndp' && r.value.type === 135 && r.value.body.length === 20);
  });

  test('RFC 4443 §3.1: destination unreachable codes 0–6 and time exceeded 0–1 round trip', () => {
    const inv = V6_SYN;
    for (let code = 0; code <= 6; code++) {
      const p = icmpPacket({ kind: 'dest-unreachable', code, invoking: inv }, B, A);
      const r = parseIcmpv6(icmpOf(p), B, A, CHECKSUM_FULL);
      assert.deepEqual(r, { ok: true, value: { kind: 'dest-unreachable', code, invoking: inv } });
      // "Unused ... must be initialized to zero by the originator"
      assert.deepEqual([...p.subarray(44, 48)], [0, 0, 0, 0]);
    }
    for (const code of [0, 1]) {
      const p = icmpPacket({ kind: 'time-exceeded', code, invoking: inv }, B, A);
      assert.deepEqual(parseIcmpv6(icmpOf(p), B, A, CHECKSUM_FULL), { ok: true, value: { kind: 'time-exceeded', code, invoking: inv } });
    }
  });

  test('every truncation of an ICMPv6 message is refused with a reason or parsed, never thrown', () => {
    for (const full of [icmpOf(V6_PTB), icmpOf(V6_ECHO_REPLY), icmpOf(V6_PARAMPROB)]) {
      for (let n = 0; n < 12; n++) {
        const r = parseIcmpv6(full.subarray(0, n), B, A, CHECKSUM_OFFLOAD);
        if (n < 8) assert.deepEqual(r, { ok: false, reason: 'icmpv6-truncated' }, `length ${n}`);
        else assert.ok(r.ok);
      }
    }
  });

  test('emit then parse gives the message back (property, seed 4443)', () => {
    const bytes = fc.uint8Array({ maxLength: 64 });
    const repr: fc.Arbitrary<Icmpv6Repr> = fc.oneof(
      fc.record({ kind: fc.constant('dest-unreachable' as const), code: fc.integer({ min: 0, max: 6 }), invoking: bytes }),
      fc.record({ kind: fc.constant('packet-too-big' as const), code: fc.constant(0), mtu: fc.integer({ min: 0, max: 0xffffffff }), invoking: bytes }),
      fc.record({ kind: fc.constant('time-exceeded' as const), code: fc.integer({ min: 0, max: 1 }), invoking: bytes }),
      fc.record({ kind: fc.constant('parameter-problem' as const), code: fc.integer({ min: 0, max: 3 }), pointer: fc.integer({ min: 0, max: 0xffffffff }), invoking: bytes }),
      fc.record({ kind: fc.constantFrom('echo-request' as const, 'echo-reply' as const), code: fc.constant(0), ident: fc.integer({ min: 0, max: 0xffff }), seq: fc.integer({ min: 0, max: 0xffff }), data: bytes }),
    );
    fc.assert(
      fc.property(repr, (m) => {
        const p = icmpPacket(m);
        const r = parseIcmpv6(icmpOf(p), A, B, CHECKSUM_FULL);
        assert.ok(r.ok);
        assert.deepEqual(r.value, { ...m });
      }),
      { seed: 4443, numRuns: 500 },
    );
  });

  test('arbitrary bytes never throw parseIcmpv6 or parseIcmpv6Quote (property, seed 44431)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.boolean(), (b, verify) => {
        if (b.length > 48) b[8] = 0x60;
        parseIcmpv6(b, A, B, verify ? CHECKSUM_FULL : CHECKSUM_OFFLOAD);
        parseIcmpv6Quote(b);
        parseIcmpv6Quote(b.subarray(Math.min(8, b.length)));
        mayGenerateError({ type: 1, code: 4 }, { packet: b });
      }),
      { seed: 44431, numRuns: 2000 },
    );
  });
});

describe('wire/icmpv6: when an error may be sent (RFC 4443 §2.4 (e))', () => {
  const PORT_UNREACH = { type: 1, code: 4 };
  const tcpTo = (dst: Ipv6Addr, src: Ipv6Addr = A): Uint8Array => {
    const p = V6_SYN.slice();
    writeIpv6Addr(src, p, 8);
    writeIpv6Addr(dst, p, 24);
    return p;
  };

  test('RFC 4443 §2.4 (e): an error about an ordinary unicast TCP packet may be sent', () => {
    assert.deepEqual(mayGenerateError(PORT_UNREACH, { packet: V6_SYN }), { ok: true });
    // So may one about an echo request (an informational message).
    assert.deepEqual(mayGenerateError(PORT_UNREACH, { packet: V6_EXT_ECHO }), { ok: true });
  });

  test('RFC 4443 §2.4 (e.1), (e.2): never about an ICMPv6 error message or a Redirect, even behind extension headers', () => {
    assert.deepEqual(mayGenerateError(PORT_UNREACH, { packet: V6_PTB }), { ok: false, reason: 'icmpv6-error-for-error' });
    assert.deepEqual(mayGenerateError({ type: 4, code: 0 }, { packet: V6_PARAMPROB }), { ok: false, reason: 'icmpv6-error-for-error' });
    const redirect = icmpPacket({ kind: 'ndp', type: 137, code: 0, body: new Uint8Array(36) });
    assert.deepEqual(mayGenerateError(PORT_UNREACH, { packet: redirect }), { ok: false, reason: 'icmpv6-error-for-error' });
    // An error behind a Destination Options header.
    const err = new Uint8Array(icmpv6Len({ kind: 'dest-unreachable', code: 4, invoking: V6_SYN }));
    emitIcmpv6({ kind: 'dest-unreachable', code: 4, invoking: V6_SYN }, A, B, err, 0, CHECKSUM_FULL);
    const behind = wrap(60, new Uint8Array([58, 0, 1, 4, 0, 0, 0, 0, ...err]));
    assert.deepEqual(mayGenerateError(PORT_UNREACH, { packet: behind }), { ok: false, reason: 'icmpv6-error-for-error' });
    // A packet too short to tell is not answered.
    assert.deepEqual(mayGenerateError(PORT_UNREACH, { packet: V6_SYN.subarray(0, 30) }), { ok: false, reason: 'icmpv6-error-for-error' });
  });

  test('RFC 4443 §2.4 (e.3)–(e.5): not about a packet to a multicast address or sent as link multicast/broadcast — except Packet Too Big and Parameter Problem code 2 for a 10 option', () => {
    const mcast = tcpTo(MC);
    assert.equal(mcast[24], 0xff);
    assert.deepEqual(mayGenerateError(PORT_UNREACH, { packet: mcast }), { ok: false, reason: 'icmpv6-error-for-multicast' });
    assert.deepEqual(mayGenerateError({ type: 3, code: 0 }, { packet: mcast }), { ok: false, reason: 'icmpv6-error-for-multicast' });
    assert.deepEqual(mayGenerateError({ type: 4, code: 1 }, { packet: mcast }), { ok: false, reason: 'icmpv6-error-for-multicast' });
    assert.deepEqual(mayGenerateError({ type: 4, code: 2 }, { packet: mcast }), { ok: false, reason: 'icmpv6-error-for-multicast' }, 'an option with high-order bits 11');
    assert.deepEqual(mayGenerateError({ type: 4, code: 2, multicastExempt: true }, { packet: mcast }), { ok: true }, 'an option with high-order bits 10');
    assert.deepEqual(mayGenerateError({ type: 2, code: 0 }, { packet: mcast }), { ok: true }, 'Packet Too Big');
    for (const link of [{ linkMulticast: true }, { linkBroadcast: true }]) {
      assert.deepEqual(mayGenerateError(PORT_UNREACH, { packet: V6_SYN, ...link }), { ok: false, reason: 'icmpv6-error-for-multicast' });
      assert.deepEqual(mayGenerateError({ type: 2, code: 0 }, { packet: V6_SYN, ...link }), { ok: true });
      assert.deepEqual(mayGenerateError({ type: 4, code: 2, multicastExempt: true }, { packet: V6_SYN, ...link }), { ok: true });
    }
  });

  test('RFC 4443 §2.4 (e.6): not about a packet whose source is unspecified, multicast or a known anycast address', () => {
    assert.deepEqual(mayGenerateError(PORT_UNREACH, { packet: tcpTo(B, parseIpv6Addr('::')!) }), { ok: false, reason: 'icmpv6-error-for-bad-source' });
    assert.deepEqual(mayGenerateError({ type: 2, code: 0 }, { packet: tcpTo(B, MC) }), { ok: false, reason: 'icmpv6-error-for-bad-source' });
    assert.deepEqual(mayGenerateError(PORT_UNREACH, { packet: V6_SYN, sourceIsKnownAnycast: true }), { ok: false, reason: 'icmpv6-error-for-bad-source' });
  });
});

describe('wire/icmpv6: rate limiting (RFC 4443 §2.4 (f))', () => {
  test('RFC 4443 §2.4 (f): the default bucket (B=10, N=10/s) lets a burst of 10 through, then one per 100 ms', () => {
    const t0 = seconds(5);
    const rl = new Icmpv6RateLimiter(t0);
    assert.deepEqual(ICMPV6_RATE_LIMIT_DEFAULT, { perSecond: 10, burst: 10 });
    let sent = 0;
    for (let i = 0; i < 50; i++) if (rl.tryTake(t0)) sent++;
    assert.equal(sent, 10);
    assert.equal(rl.nextTokenAt(t0), t0 + ms(100));
    assert.equal(rl.tryTake(t0 + ms(99)), false);
    assert.equal(rl.tryTake(t0 + ms(100)), true);
    assert.equal(rl.tryTake(t0 + ms(100)), false);
    // A long silence refills to B, not more.
    let later = 0;
    for (let i = 0; i < 50; i++) if (rl.tryTake(t0 + seconds(60))) later++;
    assert.equal(later, 10);
    // A clock that goes backwards adds nothing.
    assert.equal(rl.tryTake(t0), false);
    assert.throws(() => new Icmpv6RateLimiter(0, { perSecond: 0, burst: 1 }));
  });

  test('RFC 4443 §2.4 (f): over any window of T seconds at most B + N·T errors go out (property, seed 2446)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: 1, max: 20 }),
        fc.array(fc.integer({ min: 0, max: ms(300) }), { minLength: 1, maxLength: 400 }),
        (perSecond, burst, gaps) => {
          const rl = new Icmpv6RateLimiter(0, { perSecond, burst });
          let t = 0;
          const sentAt: number[] = [];
          for (const g of gaps) {
            t += g;
            if (rl.tryTake(t)) sentAt.push(t);
          }
          const cost = Math.round(1_000_000 / perSecond);
          for (let i = 0; i < sentAt.length; i++) {
            for (let j = i; j < sentAt.length; j++) {
              const n = j - i + 1;
              assert.ok(n <= burst + Math.floor((sentAt[j]! - sentAt[i]!) / cost), `${n} sent in ${sentAt[j]! - sentAt[i]!} µs`);
            }
          }
        },
      ),
      { seed: 2446, numRuns: 200 },
    );
  });
});
