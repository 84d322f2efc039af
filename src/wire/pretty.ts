/**
 * tcpdump-style one-line formatting of segments and packets, for traces,
 * the CLI and test failure messages. Pure: no state, no I/O.
 *
 *   10.0.0.1.49152 > 10.0.0.2.80: Flags [S], seq 123, win 65535, options [mss 1460,nop,wscale 7], length 0
 *
 * Flags use tcpdump's letters, in its order: F S R P . (ACK) U E W, or
 * "none". Sequence numbers are absolute (tcpdump -S); a segment with data
 * shows `seq first:end`.
 */

import { ipv4ToString } from './bytes.ts';
import { parseIcmp } from './icmp.ts';
import { parseIpv4 } from './ipv4.ts';
import { parseTcp } from './tcp.ts';
import { ACK, CHECKSUM_OFFLOAD, CWR, ECE, FIN, IPPROTO_ICMP, IPPROTO_TCP, PSH, RST, SYN, URG } from './types.ts';
import type { ChecksumCaps, IcmpEchoRepr, Ipv4Addr, TcpOption, TcpRepr } from './types.ts';

const TCPDUMP_FLAGS: ReadonlyArray<readonly [number, string]> = [
  [FIN, 'F'],
  [SYN, 'S'],
  [RST, 'R'],
  [PSH, 'P'],
  [ACK, '.'],
  [URG, 'U'],
  [ECE, 'E'],
  [CWR, 'W'],
];

/** tcpdump's flag letters: "S", "S.", "P.", "F.", "R.", ".", or "none". */
export function tcpdumpFlags(flags: number): string {
  let s = '';
  for (const [bit, letter] of TCPDUMP_FLAGS) if ((flags & bit) !== 0) s += letter;
  return s === '' ? 'none' : s;
}

function hex(data: Uint8Array): string {
  let s = '';
  for (let i = 0; i < data.length; i++) s += data[i]!.toString(16).padStart(2, '0');
  return s;
}

/** One option as tcpdump prints it: "mss 1460", "wscale 7", "sackOK", "TS val 1 ecr 0", "sack 1 {1:2}". */
export function formatTcpOption(o: TcpOption): string {
  switch (o.kind) {
    case 'eol':
      return 'eol';
    case 'nop':
      return 'nop';
    case 'mss':
      return `mss ${o.value}`;
    case 'window-scale':
      return `wscale ${o.shift}`;
    case 'sack-permitted':
      return 'sackOK';
    case 'sack':
      return `sack ${o.blocks.length} ${o.blocks.map(([l, r]) => `{${l}:${r}}`).join('')}`;
    case 'timestamp':
      return `TS val ${o.tsval} ecr ${o.tsecr}`;
    case 'unknown':
      return o.data.length > 0 ? `unknown-${o.code} 0x${hex(o.data)}` : `unknown-${o.code}`;
  }
}

/** A tcpdump-like one-line summary of a TCP segment between two IPv4 addresses. */
export function formatSegment(ip: { src: Ipv4Addr; dst: Ipv4Addr }, tcp: TcpRepr): string {
  const len = tcp.payload.length;
  let s = `${ipv4ToString(ip.src)}.${tcp.srcPort} > ${ipv4ToString(ip.dst)}.${tcp.dstPort}: Flags [${tcpdumpFlags(tcp.flags)}]`;
  s += len > 0 ? `, seq ${tcp.seq}:${(tcp.seq + len) >>> 0}` : `, seq ${tcp.seq}`;
  if ((tcp.flags & ACK) !== 0) s += `, ack ${tcp.ack}`;
  s += `, win ${tcp.window}`;
  if ((tcp.flags & URG) !== 0) s += `, urg ${tcp.urgentPointer}`;
  if (tcp.options.length > 0) s += `, options [${tcp.options.map(formatTcpOption).join(',')}]`;
  s += `, length ${len}`;
  return s;
}

/** A tcpdump-like summary of an ICMP echo: "10.0.0.1 > 10.0.0.2: ICMP echo request, id 1, seq 2, length 64". */
export function formatIcmpEcho(ip: { src: Ipv4Addr; dst: Ipv4Addr }, icmp: IcmpEchoRepr): string {
  const what = icmp.type === 'echo-request' ? 'echo request' : 'echo reply';
  return `${ipv4ToString(ip.src)} > ${ipv4ToString(ip.dst)}: ICMP ${what}, id ${icmp.ident}, seq ${icmp.seqNo}, length ${8 + icmp.data.length}`;
}

/**
 * Formats a raw IPv4 packet (TCP, ICMP echo, or any other protocol by
 * number). Never throws: a packet that does not parse is shown as
 * "[drop <reason>] <length> bytes". Checksums are not verified by default.
 */
export function formatPacket(bytes: Uint8Array, caps: ChecksumCaps = CHECKSUM_OFFLOAD): string {
  const ip = parseIpv4(bytes, caps);
  if (!ip.ok) return `[drop ${ip.reason}] ${bytes.length} bytes`;
  const h = ip.value.header;
  if (h.protocol === IPPROTO_TCP) {
    const tcp = parseTcp(ip.value.payload, h.src, h.dst, caps);
    if (!tcp.ok) return `${ipv4ToString(h.src)} > ${ipv4ToString(h.dst)}: [drop ${tcp.reason}] ${h.payloadLen} bytes`;
    return formatSegment(h, tcp.value);
  }
  if (h.protocol === IPPROTO_ICMP) {
    const icmp = parseIcmp(ip.value.payload, caps);
    if (!icmp.ok) return `${ipv4ToString(h.src)} > ${ipv4ToString(h.dst)}: [drop ${icmp.reason}] ${h.payloadLen} bytes`;
    return formatIcmpEcho(h, icmp.value);
  }
  return `${ipv4ToString(h.src)} > ${ipv4ToString(h.dst)}: ip-proto-${h.protocol} ${h.payloadLen}`;
}
