/**
 * ICMP errors the stack originates pass a token bucket per family —
 * RFC 4443 §2.4 (f): "an IPv6 node MUST limit the rate of ICMPv6 error
 * messages it originates"; RFC 1812 §4.3.2.8 for IPv4 — including the Time
 * Exceeded messages of reassembly timeouts (RFC 1122 §3.3.2, RFC 8200 §4.5).
 * Incomplete datagrams from many sources time out together: a forged flood
 * of first fragments must not turn into as many ICMP messages at once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Stack } from '../../src/stack/stack.ts';
import { VirtualClock } from '../../src/base/time.ts';
import { CaptureLink } from '../../src/fuzz/target.ts';
import { emitIpv4Tcp, emitIpv6Tcp } from '../../src/wire/tcp.ts';
import { fragmentIpv4, fragmentIpv6 } from '../../src/ip/fragment.ts';
import { ipv6FromWords, parseIpv6Addr } from '../../src/wire/ipv6.ts';
import { parseIpv4Addr } from '../../src/wire/bytes.ts';
import { ACK, CHECKSUM_FULL, type TcpRepr } from '../../src/wire/types.ts';

const L4 = parseIpv4Addr('10.9.0.1')!;
const L6 = parseIpv6Addr('fd09::1')!;

function setup() {
  const clock = new VirtualClock(1_000_000);
  const link = new CaptureLink(1500, CHECKSUM_FULL);
  const s = new Stack({ clock, isnSecret: [1, 2], portSeed: 3 });
  s.addInterface({ addr: L4, prefixLen: 16, link, more: [{ addr: L6, prefixLen: 64 }] });
  return { clock, link, s };
}

const seg: TcpRepr = { srcPort: 40000, dstPort: 80, seq: 1, ack: 1, flags: ACK, window: 65535, urgentPointer: 0, options: [], payload: new Uint8Array(3000) };

test('RFC 1122 §3.3.2 / RFC 1812 §4.3.2.8: 100 IPv4 datagrams from 100 sources timing out at once draw at most the token bucket\'s 10 Time Exceeded messages; the rest are counted drops', () => {
  const { clock, link, s } = setup();
  for (let i = 0; i < 100; i++) {
    const src = parseIpv4Addr(`10.9.1.${i + 2}`)!;
    const p = emitIpv4Tcp({ src, dst: L4, ttl: 64, tos: 0, ident: i, dontFragment: false }, seg, CHECKSUM_FULL);
    // Fragment zero only: the datagram never completes.
    link.onReceive!(fragmentIpv4(p, 576)[0]!);
  }
  link.out.length = 0;
  clock.advanceBy(31_000_000);
  s.poll(clock.now());
  const timeExceeded = link.out.filter((p) => p[0]! >>> 4 === 4 && p[9] === 1 && p[20] === 11).length;
  assert.equal(s.counters.drops['frag-timeout'], 100);
  assert.equal(timeExceeded, 10, `${timeExceeded} Time Exceeded messages sent at one instant`);
  assert.equal(s.counters.drops['icmp-rate-limited'], 90);
});

test('RFC 4443 §2.4 (f) / RFC 8200 §4.5: the same over IPv6 — at most 10 Time Exceeded (code 1) at once', () => {
  const { clock, link, s } = setup();
  for (let i = 0; i < 100; i++) {
    const src = ipv6FromWords([0xfd09, 0, 0, 0, 0, 0, 1, i + 2]);
    const p = emitIpv6Tcp({ src, dst: L6, hopLimit: 64, trafficClass: 0, flowLabel: 0 }, seg, CHECKSUM_FULL);
    link.onReceive!(fragmentIpv6(p, 1280, i)[0]!);
  }
  link.out.length = 0;
  clock.advanceBy(61_000_000);
  s.poll(clock.now());
  const timeExceeded = link.out.filter((p) => p[0]! >>> 4 === 6 && p[6] === 58 && p[40] === 3).length;
  assert.equal(timeExceeded, 10);
  assert.equal(s.counters.drops['icmpv6-rate-limited'], 90);
});
