/**
 * The IP output of a stack: a TCP segment in an IPv4 or IPv6 packet (with
 * its flow label, RFC 6437), any packet to its link, and packets we
 * originate that may need fragmenting (echo replies).
 */
import type { TcpRepr } from '../wire/types.ts';
import { CWR, FIN, PSH, RST, SYN } from '../wire/types.ts';
import { emitIpv4Tcp, emitIpv4TcpHead, emitIpv6Tcp, emitIpv6TcpHead } from '../wire/tcp.ts';
import { readIpv6Addr, type IpAddr, type Ipv6Addr } from '../wire/ipv6.ts';
import { concatBytes } from '../wire/bytes.ts';
import type { Connection } from '../tcp/connection.ts';
import { pinSendBytes } from '../tcp/send-buffer.ts';
import { fragmentIpv4, fragmentIpv6 } from '../ip/fragment.ts';
import { halfSipHash24 } from './isn.ts';
import type { NetInterface } from './types.ts';
import type { Stack } from './stack.ts';

/**
 * Segments with at least this much payload go to a link with
 * `transmitPartial` as headers + payload view with a partial checksum;
 * smaller ones are built whole (a copy of a small payload costs little, and
 * a TUN/TAP link coalesces runs of whole MSS-sized segments into TSO
 * writes). With stack hooks (traces, captures at the stack) every segment
 * is built whole.
 */
export const GATHER_MIN_PAYLOAD = 16384;

/**
 * The largest TCP segment (TCP header and payload, in octets) the link
 * towards `dst` takes as one super-segment that it cuts itself
 * (Link.transmitGso: a TUN/TAP device with TSO), or 0 when it does not —
 * and always 0 with stack hooks attached, which see every segment as it
 * goes on the wire. The IP header comes off the link's largest packet:
 * IPv4's Total Length counts it (RFC 791), IPv6's Payload Length does not
 * (RFC 8200 §3: "Length of the IPv6 payload, i.e., the rest of the packet
 * following this IPv6 header, in octets"), but the link's bound is on the
 * whole packet, so 40 octets come off there too.
 */
export function gsoMaxSegment(s: Stack, dst: IpAddr): number {
  if (s.hooks.length !== 0) return 0;
  const link = s.route(dst)?.link;
  if (link === undefined || link.transmitGso === undefined || link.tsoMaxBytes === undefined) return 0;
  return link.tsoMaxBytes - (typeof dst === 'string' ? 40 : 20);
}

/**
 * Sends one TCP segment from `src` to `dst` (same family). With `gsoSize`
 * (> 0, from a connection that asked gsoMaxSegment) it is a super-segment
 * of several segments of `gsoSize` payload octets, handed to the link to
 * cut (Link.transmitGso); should the route have changed meanwhile to a
 * link that cannot, it is cut here into segments sent one by one.
 */
export function sendSegment(s: Stack, src: IpAddr, dst: IpAddr, seg: TcpRepr, conn: Connection | null, ipEcn = 0, more: readonly Uint8Array[] | null = null, gsoSize = 0): void {
  const iface = s.route(dst);
  if (!iface) {
    s.drop(conn, typeof dst === 'string' ? 'ipv6-not-for-us' : 'ipv4-not-for-us');
    return;
  }
  const link = iface.link;
  let payloadLen = seg.payload.length;
  if (more !== null) for (const p of more) payloadLen += p.length;
  if (gsoSize > 0 && payloadLen > gsoSize) {
    if (link.transmitGso !== undefined && s.hooks.length === 0) {
      const v6 = typeof dst === 'string';
      const head = v6
        ? emitIpv6TcpHead({ src: src as Ipv6Addr, dst, hopLimit: s.ttl, trafficClass: ipEcn & 3, flowLabel: flowLabel(s, conn, seg) }, seg, payloadLen, s.allocTx)
        : emitIpv4TcpHead({ src: src as number, dst, ttl: s.ttl, tos: ipEcn & 3, ident: s.nextIdent(), dontFragment: true }, seg, payloadLen, s.allocTx);
      const segs = Math.ceil(payloadLen / gsoSize);
      s.counters.segmentsOut += segs;
      s.counters.packetsOut += segs;
      s.counters.superSegmentsOut++;
      link.transmitGso(head, more === null ? [seg.payload] : [seg.payload, ...more], v6 ? 40 : 20, gsoSize);
      return;
    }
    cutSegment(s, src, dst, seg, conn, ipEcn, more, payloadLen, gsoSize);
    return;
  }
  if (link.transmitPartial !== undefined && payloadLen >= GATHER_MIN_PAYLOAD && s.hooks.length === 0) {
    // Gather output: the headers in a pool packet, the payload by reference,
    // the checksum left to the device (Link.transmitPartial).
    const v6 = typeof dst === 'string';
    const head = v6
      ? emitIpv6TcpHead({ src: src as Ipv6Addr, dst, hopLimit: s.ttl, trafficClass: ipEcn & 3, flowLabel: flowLabel(s, conn, seg) }, seg, payloadLen, s.allocTx)
      : emitIpv4TcpHead({ src: src as number, dst, ttl: s.ttl, tos: ipEcn & 3, ident: s.nextIdent(), dontFragment: true }, seg, payloadLen, s.allocTx);
    s.counters.segmentsOut++;
    s.counters.packetsOut++;
    link.transmitPartial(head, more === null ? [seg.payload] : [seg.payload, ...more], v6 ? 40 : 20);
    return;
  }
  if (more !== null && s.hooks.length !== 0) {
    // Hooks see the segment as one payload.
    seg = { ...seg, payload: concatBytes([seg.payload, ...more]) };
    more = null;
  }
  // No gather here: the payload's views are copied into the packet.
  const bytes =
    typeof dst === 'string'
      ? emitIpv6Tcp(
          { src: src as Ipv6Addr, dst, hopLimit: s.ttl, trafficClass: ipEcn & 3, flowLabel: flowLabel(s, conn, seg) },
          seg,
          iface.caps,
          s.allocTx,
          more,
        )
      : emitIpv4Tcp({ src: src as number, dst, ttl: s.ttl, tos: ipEcn & 3, ident: s.nextIdent(), dontFragment: true }, seg, iface.caps, s.allocTx, more);
  s.counters.segmentsOut++;
  if (seg.flags & RST) s.counters.resetsSent++;
  if (s.hooks.length) {
    // A hook may keep the segment (its payload a send-buffer view): its
    // send-buffer block is not reused. (A link that keeps the views of a
    // gather packet pins them itself, Link.transmitPartial.)
    pinSendBytes(seg.payload);
    s.trace({ type: 'segment', dir: 'out', time: s.clock.now(), src, dst, tcp: seg, conn, bytes });
  }
  sendPacket(s, iface, bytes);
}

/**
 * A super-segment whose link cannot cut it (the route changed, or a hook
 * was attached, since the connection asked): sent as segments of `gsoSize`
 * payload octets, PSH and FIN on the last only, as the device would have.
 */
function cutSegment(s: Stack, src: IpAddr, dst: IpAddr, seg: TcpRepr, conn: Connection | null, ipEcn: number, more: readonly Uint8Array[] | null, payloadLen: number, gsoSize: number): void {
  const all = new Uint8Array(payloadLen);
  all.set(seg.payload, 0);
  let o = seg.payload.length;
  if (more !== null)
    for (const p of more) {
      all.set(p, o);
      o += p.length;
    }
  for (let off = 0; off < payloadLen; off += gsoSize) {
    const last = off + gsoSize >= payloadLen;
    const flags = last ? seg.flags : seg.flags & ~(PSH | FIN);
    sendSegment(s, src, dst, { ...seg, seq: (seg.seq + off) >>> 0, flags: off > 0 ? flags & ~CWR : flags, payload: all.subarray(off, Math.min(payloadLen, off + gsoSize)) }, conn, ipEcn);
  }
}

/**
 * The flow label of a TCP segment. RFC 6437 §3: "It is therefore
 * RECOMMENDED that source hosts support the flow label by setting the
 * flow label field for all packets of a given flow to the same value
 * chosen from an approximation to a discrete uniform distribution." and
 * "stateless methods" may compute it as a hash of the 5-tuple with a
 * secret (its §3 and Appendix A): here a keyed PRF of the connection's
 * ISS (itself a keyed function of the 4-tuple, RFC 6528) and its ports,
 * so no field is added to the TCB and the label cannot be predicted off
 * path. A stateless segment (a RST, a SYN cookie's SYN,ACK) labels with
 * its own sequence numbers; a cookie's ISS is the connection's ISS, so
 * the connection made from it keeps that label. Never 0 ("unlabeled").
 */
function flowLabel(s: Stack, conn: Connection | null, seg: TcpRepr): number {
  const ports = ((seg.srcPort << 16) | seg.dstPort) >>> 0;
  const id = (conn ? conn.iss : seg.flags & SYN ? seg.seq : seg.seq ^ seg.ack) >>> 0;
  // The same inputs give the same label (RFC 6437 §3: "the same value" for
  // all packets of a flow): the stack remembers the last one.
  if (id === s.flowMemoId && ports === s.flowMemoPorts) return s.flowMemoLabel;
  const label = halfSipHash24(s.flowKey[0], s.flowKey[1], id, ports, 0x464c4f57) & 0xfffff || 1;
  s.flowMemoId = id;
  s.flowMemoPorts = ports;
  s.flowMemoLabel = label;
  return label;
}

export function sendPacket(s: Stack, iface: NetInterface, bytes: Uint8Array): void {
  s.counters.packetsOut++;
  if (s.hooks.length) s.trace({ type: 'packet', dir: 'out', time: s.clock.now(), bytes });
  iface.link.transmit(bytes);
}

/**
 * Sends an IP packet we originate that is not TCP (an echo reply, an ICMP
 * error), in fragments when it is larger than the path MTU of its
 * destination (ip/fragment.ts): an echo request that arrived in fragments
 * gets its whole reply.
 */
export function sendDatagram(s: Stack, iface: NetInterface, bytes: Uint8Array): void {
  const v6 = bytes[0]! >>> 4 === 6;
  const dst: IpAddr = v6 ? readIpv6Addr(bytes, 24) : ((bytes[16]! << 24) | (bytes[17]! << 16) | (bytes[18]! << 8) | bytes[19]!) >>> 0;
  const mtu = Math.min(iface.mtu, s.pmtu.get(dst) ?? Infinity);
  if (bytes.length <= mtu) {
    sendPacket(s, iface, bytes);
    return;
  }
  // RFC 7739 §5.1 asks for unpredictable IPv6 fragment identifications: a
  // keyed PRF of a counter.
  const parts = v6 ? fragmentIpv6(bytes, mtu, halfSipHash24(s.flowKey[1], s.flowKey[0], ++s.fragIdent >>> 0, 0, 0x46524147)) : fragmentIpv4(bytes, mtu);
  for (const p of parts) sendPacket(s, iface, p);
}

