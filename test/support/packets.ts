/**
 * Reading the packets a stack sends, for tests that capture them raw.
 */
import assert from 'node:assert/strict';
import { parseTcp } from '../../src/wire/tcp.ts';
import { parseIpv4 } from '../../src/wire/ipv4.ts';
import { parseIpv6 } from '../../src/wire/ipv6.ts';
import { CHECKSUM_FULL, type TcpRepr } from '../../src/wire/types.ts';

/** The TCP segment of an IPv4 or IPv6 packet, both checksums verified (the test fails on anything else). */
export function tcpOfPacket(p: Uint8Array): TcpRepr {
  const ip = p[0]! >>> 4 === 6 ? parseIpv6(p) : parseIpv4(p, CHECKSUM_FULL);
  assert.ok(ip.ok, 'a valid IP packet');
  const t = parseTcp(ip.value.payload, ip.value.header.src, ip.value.header.dst, CHECKSUM_FULL);
  assert.ok(t.ok, 'a valid TCP segment with a correct checksum');
  return t.value;
}
