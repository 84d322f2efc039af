/**
 * TCP header codec (RFC 9293 §3.1) over IPv4.
 *
 * `parseTcp` validates untrusted bytes and never throws. It keeps every
 * field as read so that `emitTcp(parseTcp(x))` reproduces `x` exactly: all
 * 8 flag bits, the raw acknowledgment number even when ACK is clear, the
 * options in wire order (NOP and EOL included). The 4 reserved bits are
 * ignored (emitted as 0). The payload is a view of the input (no copy).
 *
 * `emitTcp` writes header, options and payload into a caller-provided buffer
 * and fills the checksum (IPv4 pseudo-header) when `caps.fillTx`, else
 * writes 0. It throws only for programmer errors.
 *
 *      0                   1                   2                   3
 *      0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *     |          Source Port          |       Destination Port        |
 *     |                        Sequence Number                        |
 *     |                    Acknowledgment Number                      |
 *     |  Data |       |C|E|U|A|P|R|S|F|                               |
 *     | Offset| Rsrvd |W|C|R|C|S|S|Y|I|            Window             |
 *     |           Checksum            |         Urgent Pointer        |
 *     |                           [Options]                           |
 */

import { checksum, fold16, pseudoHeaderSum } from './checksum.ts';
import { getU16, getU32, setU16, setU32 } from './bytes.ts';
import { emitIpv4, IPV4_HEADER_LEN, IPV4_MAX_TOTAL_LEN } from './ipv4.ts';
import { emitTcpOptions, parseTcpOptions, tcpOptionsLen, TCP_MAX_OPTIONS_LEN } from './tcp-options.ts';
import { ACK, CWR, ECE, FIN, IPPROTO_TCP, PSH, RST, SYN, URG } from './types.ts';
import type { ChecksumCaps, Ipv4Repr, ParseResult, TcpRepr } from './types.ts';
import { writeIpv6Header, ipv6PseudoHeaderSum, IPV6_HEADER_LEN, type IpAddr, type Ipv6Addr } from './ipv6.ts';

/**
 * The pseudo-header sum of either family: RFC 9293 §3.1's for IPv4, RFC
 * 8200 §8.1's for IPv6 ("Any transport or other upper-layer protocol that
 * includes the addresses from the IP header in its checksum computation
 * must be modified for use over IPv6, to include the 128-bit IPv6 addresses
 * instead of 32-bit IPv4 addresses").
 */
function tcpPseudoSum(src: IpAddr, dst: IpAddr, len: number): number {
  if (typeof src === 'string') return ipv6PseudoHeaderSum(src, dst as Ipv6Addr, IPPROTO_TCP, len);
  return pseudoHeaderSum(src, dst as number, IPPROTO_TCP, len);
}

export {
  findMss,
  findSack,
  findTimestamp,
  findWindowScale,
  hasSackPermitted,
  tcpOptionsLen,
} from './tcp-options.ts';

/** Length of a TCP header without options. */
export const TCP_HEADER_LEN = 20;

/**
 * Parses a TCP segment carried in an IPv4 packet from `src` to `dst`.
 * Checks, in order: at least 20 bytes ('tcp-truncated'), 5 ≤ data offset and
 * data offset*4 ≤ length ('tcp-bad-data-offset'), the checksum over the
 * pseudo-header when `caps.verifyRx` ('tcp-bad-checksum'), non-zero ports
 * ('tcp-bad-port'), and the options ('tcp-bad-option').
 */
export function parseTcp(bytes: Uint8Array, src: IpAddr, dst: IpAddr, caps: ChecksumCaps): ParseResult<TcpRepr> {
  const len = bytes.length;
  if (len < TCP_HEADER_LEN) return { ok: false, reason: 'tcp-truncated' };
  const headerLen = (bytes[12]! >>> 4) * 4;
  if (headerLen < TCP_HEADER_LEN || headerLen > len) return { ok: false, reason: 'tcp-bad-data-offset' };
  // RFC 9293 §3.1: the checksum covers the pseudo-header, the header and the data.
  if (caps.verifyRx && checksum(bytes, 0, len, tcpPseudoSum(src, dst, len)) !== 0) {
    return { ok: false, reason: 'tcp-bad-checksum' };
  }
  const srcPort = getU16(bytes, 0);
  const dstPort = getU16(bytes, 2);
  // Port 0 is reserved and never valid on the wire.
  if (srcPort === 0 || dstPort === 0) return { ok: false, reason: 'tcp-bad-port' };
  let options: TcpRepr['options'];
  if (headerLen === TCP_HEADER_LEN) {
    options = [];
  } else {
    const parsed = parseTcpOptions(bytes, TCP_HEADER_LEN, headerLen);
    if (!parsed.ok) return parsed;
    options = parsed.value;
  }
  return {
    ok: true,
    value: {
      srcPort,
      dstPort,
      seq: getU32(bytes, 4),
      ack: getU32(bytes, 8),
      flags: bytes[13]!,
      window: getU16(bytes, 14),
      urgentPointer: getU16(bytes, 18),
      options,
      payload: bytes.subarray(headerLen),
    },
  };
}

/** Header length (20 + padded options) of `repr`, in bytes. */
export function tcpHeaderLen(repr: TcpRepr): number {
  return TCP_HEADER_LEN + tcpOptionsLen(repr.options);
}

/** Length of the whole segment (header, options and payload), in bytes. */
export function tcpBufferLen(repr: TcpRepr): number {
  return tcpHeaderLen(repr) + repr.payload.length;
}

function checkField(name: string, value: number, max: number): void {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new Error(`TCP ${name} must be an integer in 0..${max}, got ${value}`);
  }
}

/**
 * Writes the segment `repr` (header, options, payload) at `buf[offset]`.
 * The checksum covers the IPv4 pseudo-header for `src` → `dst` and is filled
 * when `caps.fillTx`, else written as 0. Returns the number of bytes written
 * (`tcpBufferLen(repr)`). Throws for programmer errors: a buffer too small,
 * options over 40 bytes, fields out of range.
 */
export function emitTcp(
  repr: TcpRepr,
  src: IpAddr,
  dst: IpAddr,
  buf: Uint8Array,
  offset: number,
  caps: ChecksumCaps,
  headerOnlyPayloadLen = -1,
  more: readonly Uint8Array[] | null = null,
): number {
  const headerOnly = headerOnlyPayloadLen >= 0;
  const optionsLen = tcpOptionsLen(repr.options);
  if (optionsLen > TCP_MAX_OPTIONS_LEN) throw new Error(`TCP options take ${optionsLen} bytes, more than 40`);
  const headerLen = TCP_HEADER_LEN + optionsLen;
  const total = headerLen + (headerOnly ? headerOnlyPayloadLen : repr.payload.length + partsLen(more));
  if (total > IPV4_MAX_TOTAL_LEN - (typeof src === 'string' ? 0 : IPV4_HEADER_LEN)) throw new Error(`TCP segment of ${total} bytes is too long for IP`);
  if (offset < 0 || offset + (headerOnly ? headerLen : total) > buf.length) {
    throw new Error(`emitTcp: buffer too small (${buf.length} bytes, ${total} needed at ${offset})`);
  }
  checkField('srcPort', repr.srcPort, 0xffff);
  checkField('dstPort', repr.dstPort, 0xffff);
  checkField('seq', repr.seq, 0xffffffff);
  checkField('ack', repr.ack, 0xffffffff);
  checkField('flags', repr.flags, 0xff);
  checkField('window', repr.window, 0xffff);
  checkField('urgentPointer', repr.urgentPointer, 0xffff);
  setU16(buf, offset, repr.srcPort);
  setU16(buf, offset + 2, repr.dstPort);
  setU32(buf, offset + 4, repr.seq);
  setU32(buf, offset + 8, repr.ack);
  buf[offset + 12] = (headerLen >>> 2) << 4;
  buf[offset + 13] = repr.flags;
  setU16(buf, offset + 14, repr.window);
  setU16(buf, offset + 16, 0);
  setU16(buf, offset + 18, repr.urgentPointer);
  if (optionsLen > 0) emitTcpOptions(repr.options, buf, offset + TCP_HEADER_LEN);
  if (headerOnly) {
    // A partial checksum (as Linux's CHECKSUM_PARTIAL): the folded
    // pseudo-header sum, which the device completes over header and payload.
    setU16(buf, offset + 16, fold16(tcpPseudoSum(src, dst, total)));
    return headerLen;
  }
  if (repr.payload.length > 0) buf.set(repr.payload, offset + headerLen);
  if (more !== null) {
    let o = offset + headerLen + repr.payload.length;
    for (const p of more) {
      buf.set(p, o);
      o += p.length;
    }
  }
  if (caps.fillTx) {
    setU16(buf, offset + 16, checksum(buf, offset, offset + total, tcpPseudoSum(src, dst, total)));
  }
  return total;
}

/** Total length of `more` (payload views after the first), 0 for null. */
function partsLen(more: readonly Uint8Array[] | null): number {
  let n = 0;
  if (more !== null) for (const p of more) n += p.length;
  return n;
}

/**
 * Allocates one buffer of the exact size and emits an IPv4 header (protocol
 * TCP, payload length computed) followed by the segment. The IPv4 header
 * checksum is always filled; the TCP checksum obeys `caps.fillTx`.
 * `alloc` supplies the zero-filled buffer (the stack passes a packet pool);
 * by default a new `Uint8Array`. `more`: further payload views, copied
 * after `tcp.payload` (a payload held in several send-buffer chunks,
 * joined in the packet itself).
 */
export function emitIpv4Tcp(
  ipHeader: Omit<Ipv4Repr, 'payloadLen' | 'protocol'>,
  tcp: TcpRepr,
  caps: ChecksumCaps,
  alloc?: (n: number) => Uint8Array,
  more: readonly Uint8Array[] | null = null,
): Uint8Array {
  const tcpLen = tcpBufferLen(tcp) + partsLen(more);
  const buf = alloc ? alloc(IPV4_HEADER_LEN + tcpLen) : new Uint8Array(IPV4_HEADER_LEN + tcpLen);
  emitTcp(tcp, ipHeader.src, ipHeader.dst, buf, IPV4_HEADER_LEN, caps, -1, more);
  emitIpv4(tcpIpv4Repr(ipHeader, tcpLen), buf, 0, caps);
  return buf;
}

/** The IPv4 header of a TCP segment of `payloadLen` octets (TCP header included). */
function tcpIpv4Repr(ipHeader: Omit<Ipv4Repr, 'payloadLen' | 'protocol'>, payloadLen: number): Ipv4Repr {
  return {
    src: ipHeader.src,
    dst: ipHeader.dst,
    protocol: IPPROTO_TCP,
    ttl: ipHeader.ttl,
    tos: ipHeader.tos,
    ident: ipHeader.ident,
    dontFragment: ipHeader.dontFragment,
    payloadLen,
  };
}

/**
 * The IPv4 and TCP headers of a segment whose payload travels separately
 * (gather output to a link that completes checksums, `Link.transmitPartial`):
 * a buffer from `alloc` of IPV4_HEADER_LEN + the TCP header length, the IP
 * total length counting `payloadLen` bytes of payload (by default
 * `tcp.payload`'s), the IPv4 header checksum complete
 * and the TCP checksum field holding the folded pseudo-header sum — the
 * partial checksum a device offload (VIRTIO_NET_HDR_F_NEEDS_CSUM,
 * csum_start = the TCP header, csum_offset 16) completes over the header
 * and the payload. The payload is not copied.
 */
export function emitIpv4TcpHead(
  ipHeader: Omit<Ipv4Repr, 'payloadLen' | 'protocol'>,
  tcp: TcpRepr,
  payloadLen = tcp.payload.length,
  alloc?: (n: number) => Uint8Array,
): Uint8Array {
  const hl = tcpHeaderLen(tcp);
  const buf = alloc ? alloc(IPV4_HEADER_LEN + hl) : new Uint8Array(IPV4_HEADER_LEN + hl);
  emitTcp(tcp, ipHeader.src, ipHeader.dst, buf, IPV4_HEADER_LEN, NO_FILL, payloadLen);
  emitIpv4(tcpIpv4Repr(ipHeader, hl + payloadLen), buf, 0);
  return buf;
}

/** `emitIpv4TcpHead` for IPv6 (no extension headers; RFC 8200 §8.1's pseudo-header). */
export function emitIpv6TcpHead(
  ipHeader: { src: Ipv6Addr; dst: Ipv6Addr; hopLimit: number; trafficClass: number; flowLabel: number },
  tcp: TcpRepr,
  payloadLen = tcp.payload.length,
  alloc?: (n: number) => Uint8Array,
): Uint8Array {
  const hl = tcpHeaderLen(tcp);
  const buf = alloc ? alloc(IPV6_HEADER_LEN + hl) : new Uint8Array(IPV6_HEADER_LEN + hl);
  emitTcp(tcp, ipHeader.src, ipHeader.dst, buf, IPV6_HEADER_LEN, NO_FILL, payloadLen);
  writeIpv6Header(buf, 0, ipHeader.trafficClass, ipHeader.flowLabel, hl + payloadLen, IPPROTO_TCP, ipHeader.hopLimit, ipHeader.src, ipHeader.dst);
  return buf;
}

const NO_FILL: ChecksumCaps = { verifyRx: false, fillTx: false };

/**
 * The whole packet of a gather segment (`head` from emitIpv4TcpHead or
 * emitIpv6TcpHead, then the `payload` parts) in one new buffer, its TCP
 * checksum completed: for a path that needs flat bytes (a capture, a next
 * hop not yet resolved). `l4Off` is where the TCP header starts in `head`.
 * `complete` false: the field is set to 0 instead (a path that offloads
 * checksums, where no packet carries one).
 */
export function joinPartialTcp(head: Uint8Array, payload: readonly Uint8Array[], l4Off: number, complete = true): Uint8Array {
  let n = head.length;
  for (const p of payload) n += p.length;
  const out = new Uint8Array(n);
  out.set(head, 0);
  let o = head.length;
  for (const p of payload) {
    out.set(p, o);
    o += p.length;
  }
  // The field holds the pseudo-header sum: the sum over the segment with it
  // in place is the whole checksum's complement.
  const at = l4Off + 16;
  const c = complete ? checksum(out, l4Off, out.length) : 0;
  out[at] = c >>> 8;
  out[at + 1] = c & 0xff;
  return out;
}

/**
 * Software segmentation of a super-segment (what a NIC's TSO or Linux's
 * tcp_gso_segment does in hardware or in the kernel, for a path that must
 * have whole packets: a capture, a next hop not yet resolved): `head` (any
 * link header, the IP header at `l3Off`, the TCP header at `l4Off`, as
 * from emitIpv4TcpHead / emitIpv6TcpHead) followed by the `payload` parts
 * becomes packets of at most `gsoSize` payload octets each, every one with
 * complete checksums. The IPv4 total length and identification (the
 * first's, then one more per packet, as Linux numbers TSO segments) or the
 * IPv6 Payload Length (RFC 8200 §3: "Length of the IPv6 payload, i.e., the
 * rest of the packet following this IPv6 header, in octets") are each
 * packet's; the sequence number advances by the payload before; PSH and
 * FIN stay only on the last packet, CWR only on the first (RFC 3168
 * §6.1.2: CWR is set on the first new data segment after the reduction).
 */
export function segmentPartialTcp(head: Uint8Array, payload: readonly Uint8Array[], l3Off: number, l4Off: number, gsoSize: number): Uint8Array[] {
  let total = 0;
  for (const p of payload) total += p.length;
  const v6 = head[l3Off]! >> 4 === 6;
  const hdr = head.length;
  const out: Uint8Array[] = [];
  const seq0 = getU32(head, l4Off + 4);
  const ident0 = v6 ? 0 : getU16(head, l3Off + 4);
  const flags = head[l4Off + 13]!;
  let part = 0;
  let partOff = 0;
  for (let off = 0, k = 0; off < total || (total === 0 && k === 0); off += gsoSize, k++) {
    const len = Math.min(gsoSize, total - off);
    const pkt = new Uint8Array(hdr + len);
    pkt.set(head, 0);
    // The payload of this packet, from as many parts as it spans.
    let o = hdr;
    while (o < hdr + len) {
      const p = payload[part]!;
      const take = Math.min(p.length - partOff, hdr + len - o);
      pkt.set(p.subarray(partOff, partOff + take), o);
      o += take;
      partOff += take;
      if (partOff === p.length) {
        part++;
        partOff = 0;
      }
    }
    const tcpLen = hdr - l4Off + len;
    const last = off + len >= total;
    let f = flags;
    if (!last) f &= ~(PSH | FIN);
    if (k > 0) f &= ~CWR;
    pkt[l4Off + 13] = f;
    setU32(pkt, l4Off + 4, (seq0 + off) >>> 0);
    let pseudo: number;
    if (v6) {
      setU16(pkt, l3Off + 4, tcpLen);
      let a = 0;
      for (let i = l3Off + 8; i < l3Off + 40; i += 2) a += (pkt[i]! << 8) | pkt[i + 1]!;
      pseudo = a + tcpLen + IPPROTO_TCP;
    } else {
      const ihl = l4Off - l3Off;
      setU16(pkt, l3Off + 2, ihl + tcpLen);
      setU16(pkt, l3Off + 4, (ident0 + k) & 0xffff);
      setU16(pkt, l3Off + 10, 0);
      setU16(pkt, l3Off + 10, checksum(pkt, l3Off, l4Off));
      pseudo = pseudoHeaderSum(getU32(pkt, l3Off + 12), getU32(pkt, l3Off + 16), IPPROTO_TCP, tcpLen);
    }
    setU16(pkt, l4Off + 16, 0);
    setU16(pkt, l4Off + 16, checksum(pkt, l4Off, pkt.length, pseudo));
    out.push(pkt);
  }
  return out;
}

/**
 * An IPv6 packet with one TCP segment (no extension headers), in a buffer
 * from `alloc` when given. RFC 8200 §8.1: the checksum covers the IPv6
 * pseudo-header with Next Header 6.
 */
export function emitIpv6Tcp(
  ipHeader: { src: Ipv6Addr; dst: Ipv6Addr; hopLimit: number; trafficClass: number; flowLabel: number },
  tcp: TcpRepr,
  caps: ChecksumCaps,
  alloc?: (n: number) => Uint8Array,
  more: readonly Uint8Array[] | null = null,
): Uint8Array {
  const tcpLen = tcpBufferLen(tcp) + partsLen(more);
  const buf = alloc ? alloc(IPV6_HEADER_LEN + tcpLen) : new Uint8Array(IPV6_HEADER_LEN + tcpLen);
  emitTcp(tcp, ipHeader.src, ipHeader.dst, buf, IPV6_HEADER_LEN, caps, -1, more);
  writeIpv6Header(buf, 0, ipHeader.trafficClass, ipHeader.flowLabel, tcpLen, IPPROTO_TCP, ipHeader.hopLimit, ipHeader.src, ipHeader.dst);
  return buf;
}

/** Flag names in display order. */
const FLAG_NAMES: ReadonlyArray<readonly [number, string]> = [
  [SYN, 'SYN'],
  [FIN, 'FIN'],
  [RST, 'RST'],
  [PSH, 'PSH'],
  [URG, 'URG'],
  [ACK, 'ACK'],
  [ECE, 'ECE'],
  [CWR, 'CWR'],
];

/**
 * A readable name for a flag set, the flags joined by '+' in the order
 * SYN FIN RST PSH URG ACK ECE CWR: "SYN", "SYN+ACK", "PSH+ACK", "FIN+ACK",
 * "RST+ACK", "ACK", "SYN+ECE+CWR". No flag at all gives "none".
 */
export function flagsToString(flags: number): string {
  const parts: string[] = [];
  for (const [bit, name] of FLAG_NAMES) if ((flags & bit) !== 0) parts.push(name);
  return parts.length === 0 ? 'none' : parts.join('+');
}
