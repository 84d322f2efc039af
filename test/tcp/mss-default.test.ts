/**
 * RFC 9293 §3.7.1 (MUST-15): "If an MSS Option is not received at
 * connection setup, TCP implementations MUST assume a default send MSS of
 * 536 (576 - 40) for IPv4 or 1220 (1280 - 60) for IPv6". Found by the
 * segment fuzzer's IPv6 inputs (src/fuzz/fuzzer.ts): a SYN over IPv6
 * without an MSS option left the connection sending 536-byte segments.
 * A raw peer sends the SYN (no options) and reads what the stack sends.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Stack } from '../../src/stack/stack.ts';
import { VirtualClock } from '../../src/base/time.ts';
import { CaptureLink } from '../../src/fuzz/target.ts';
import { emitIpv4Tcp, emitIpv6Tcp } from '../../src/wire/tcp.ts';
import { parseIpv6Addr, type IpAddr } from '../../src/wire/ipv6.ts';
import { tcpOfPacket } from '../support/packets.ts';
import { parseIpv4Addr } from '../../src/wire/bytes.ts';
import { ACK, SYN, CHECKSUM_FULL, type TcpRepr } from '../../src/wire/types.ts';

const L4 = parseIpv4Addr('10.9.0.1')!;
const P4 = parseIpv4Addr('10.9.0.2')!;
const L6 = parseIpv6Addr('fd09::1')!;
const P6 = parseIpv6Addr('fd09::2')!;

/** Handshake from a raw peer at `peer` whose SYN has no options; returns the payload sizes of the stack's first data segments. */
function firstSegments(peer: IpAddr, synCookies: 'never' | 'always', mtu = 9000): number[] {
  const clock = new VirtualClock(1_000_000);
  const link = new CaptureLink(mtu, CHECKSUM_FULL);
  const s = new Stack({ clock, isnSecret: [1, 2], portSeed: 3, synCookies, tcp: { initialCwndSegments: 10 } });
  s.addInterface({ addr: L4, prefixLen: 24, link, more: [{ addr: L6, prefixLen: 64 }] });
  let conn: ReturnType<Stack['connections']>[number] | null = null;
  s.listen(80, { onConnection: (c) => (conn = c) });
  const local = typeof peer === 'string' ? L6 : L4;
  const emit = (seg: TcpRepr): Uint8Array =>
    typeof peer === 'string'
      ? emitIpv6Tcp({ src: peer, dst: local as typeof peer, hopLimit: 64, trafficClass: 0, flowLabel: 0 }, seg, CHECKSUM_FULL)
      : emitIpv4Tcp({ src: peer, dst: local as number, ttl: 64, tos: 0, ident: 1, dontFragment: true }, seg, CHECKSUM_FULL);
  const parse = tcpOfPacket;
  const iss = 1000;
  link.onReceive!(emit({ srcPort: 40000, dstPort: 80, seq: iss, ack: 0, flags: SYN, window: 65535, urgentPointer: 0, options: [], payload: new Uint8Array(0) }));
  const synAck = parse(link.out.shift()!);
  assert.equal(synAck.flags, SYN | ACK);
  link.onReceive!(emit({ srcPort: 40000, dstPort: 80, seq: iss + 1, ack: (synAck.seq + 1) >>> 0, flags: ACK, window: 65535, urgentPointer: 0, options: [], payload: new Uint8Array(0) }));
  assert.ok(conn, 'the connection was accepted');
  link.out.length = 0;
  s.send(conn!, new Uint8Array(5000));
  return link.out.map((p) => parse(p).payload.length).filter((n) => n > 0);
}

test('RFC 9293 §3.7.1 MUST-15: an IPv6 SYN without an MSS option means a send MSS of 1220 (1280 - 60), not 536', () => {
  // (The last 120 bytes wait for an ACK: Nagle, RFC 9293 §3.7.4.)
  assert.deepEqual(firstSegments(P6, 'never'), [1220, 1220, 1220, 1220]);
});

test('RFC 9293 §3.7.1 MUST-15: the same over a SYN cookie (the MSS the cookie encodes for an IPv6 SYN without the option is not below 1220)', () => {
  const sizes = firstSegments(P6, 'always');
  assert.ok(sizes.length > 0);
  assert.ok(sizes[0]! >= 1220 && sizes[0]! <= 1220, `first segment ${sizes[0]} bytes`);
});

test('RFC 9293 §3.7.1 MUST-15: an IPv4 SYN without an MSS option still means 536 (576 - 40)', () => {
  assert.deepEqual(firstSegments(P4, 'never').slice(0, 2), [536, 536]);
});
