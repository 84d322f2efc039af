/**
 * The virtio_net_hdr of a TUN device opened with IFF_VNET_HDR (Linux
 * include/uapi/linux/virtio_net.h; the 10-byte form without num_buffers),
 * in host byte order (little-endian here; TUNSETVNETLE/BE are not used):
 *
 *     struct virtio_net_hdr {
 *       __u8 flags;        // VIRTIO_NET_HDR_F_NEEDS_CSUM (1), _DATA_VALID (2)
 *       __u8 gso_type;     // NONE 0, TCPV4 1, UDP 3, TCPV6 4, | ECN 0x80
 *       __u16 hdr_len;     // Ethernet + IP + TCP header bytes (here: IP + TCP)
 *       __u16 gso_size;    // bytes of payload per segment after segmentation
 *       __u16 csum_start;  // where checksumming starts (the TCP header)
 *       __u16 csum_offset; // where the checksum goes, from csum_start (16 for TCP)
 *     };
 *
 * With TUNSETOFFLOAD (TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6) the kernel hands
 * this side packets whose transport checksum is partial (NEEDS_CSUM: the
 * field holds the folded pseudo-header sum, the rest is ours to add) and TCP
 * segments of up to 64 KiB (gso_type TCPV4/TCPV6, gso_size = the MSS they
 * would be cut into); and it takes such packets from this side and cuts
 * them itself. Here: the header codec, the completion of a partial checksum,
 * and `coalesceTcp`, which turns runs of consecutive MSS-sized TCP segments
 * of one flow (as the stack emits them in one turn) into one large segment
 * with a TSO header — the stack's segments stay what they are (its SACK,
 * RACK, persist and PMTU logic see only MSS-sized segments); the kernel
 * recreates the very same segments on its side. (New data from the stack's
 * TCP output on such a link comes as super-segments instead, built once:
 * Link.transmitGso, links/tun.ts; what is left to coalesce here is the
 * rest — retransmissions, and everything when stack hooks are attached.)
 */
import { checksum, fold16, pseudoHeaderSum, sum16 } from '../wire/checksum.ts';

export const VNET_HDR_LEN = 10;
export const VNET_F_NEEDS_CSUM = 1;
export const VNET_F_DATA_VALID = 2;
export const VNET_GSO_NONE = 0;
export const VNET_GSO_TCPV4 = 1;
export const VNET_GSO_UDP = 3;
export const VNET_GSO_TCPV6 = 4;
export const VNET_GSO_ECN = 0x80;

/** The Linux TUN_F_* offload bits (TUNSETOFFLOAD). */
export const TUN_F_CSUM = 0x01;
export const TUN_F_TSO4 = 0x02;
export const TUN_F_TSO6 = 0x04;

export interface VnetHdr {
  flags: number;
  gsoType: number;
  hdrLen: number;
  gsoSize: number;
  csumStart: number;
  csumOffset: number;
}

const u16 = (b: Uint8Array, o: number): number => b[o]! | (b[o + 1]! << 8);
const put16 = (b: Uint8Array, o: number, v: number): void => {
  b[o] = v & 0xff;
  b[o + 1] = (v >>> 8) & 0xff;
};

/** Decodes the header at `off` (the caller checked that 10 bytes are there). */
export function decodeVnetHdr(b: Uint8Array, off = 0): VnetHdr {
  return { flags: b[off]!, gsoType: b[off + 1]!, hdrLen: u16(b, off + 2), gsoSize: u16(b, off + 4), csumStart: u16(b, off + 6), csumOffset: u16(b, off + 8) };
}

/** Encodes `h` at `off` of `b`. */
export function encodeVnetHdr(h: VnetHdr, b: Uint8Array, off = 0): void {
  b[off] = h.flags;
  b[off + 1] = h.gsoType;
  put16(b, off + 2, h.hdrLen);
  put16(b, off + 4, h.gsoSize);
  put16(b, off + 6, h.csumStart);
  put16(b, off + 8, h.csumOffset);
}

/**
 * Completes a partial checksum in place (what a NIC does for
 * CHECKSUM_PARTIAL, Linux skb_checksum_help): the 16-bit field at
 * `csumStart + csumOffset` holds the folded pseudo-header sum; the checksum
 * of `pkt[csumStart..]` including that field is what goes there. Returns
 * false (and leaves `pkt` alone) when the offsets do not fit the packet.
 */
export function completePartialChecksum(pkt: Uint8Array, csumStart: number, csumOffset: number): boolean {
  const at = csumStart + csumOffset;
  if (csumStart >= pkt.length || at + 2 > pkt.length) return false;
  const c = checksum(pkt, csumStart, pkt.length);
  pkt[at] = c >>> 8;
  pkt[at + 1] = c & 0xff;
  return true;
}

/** The all-zero header: a plain packet, checksums complete, no segmentation. */
export const ZERO_VNET_HDR: Uint8Array = new Uint8Array(VNET_HDR_LEN);

// TCP flags
const FIN = 0x01;
const SYN = 0x02;
const RST = 0x04;
const PSH = 0x08;
const ACK = 0x10;
const URG = 0x20;
const CWR = 0x80;

/** Largest IPv4 packet a coalesced segment may become. */
export const GSO_MAX_BYTES = 65535;
/** Most segments in one coalesced segment (the addon's writev takes 64 parts: header + 63 payloads). */
export const GSO_MAX_SEGS = 63;

/** The TCP header at `t` of a packet of `len` octets starts a run: a data segment with ACK and no other flag (PSH/FIN only end a run). */
function tcpStarts(p: Uint8Array, t: number): boolean {
  if (p.length < t + 20) return false;
  const doff = (p[t + 12]! >> 4) * 4;
  if (doff < 20 || t + doff >= p.length) return false; // no payload
  const fl = p[t + 13]!;
  return (fl & ACK) !== 0 && (fl & (SYN | RST | URG | CWR | FIN | PSH)) === 0;
}

/** The IPv4 TCP data segment `p` may start a run: returns its IP header length, or 0. */
function tcp4Start(p: Uint8Array): number {
  if (p.length < 40 || p[0]! >> 4 !== 4 || p[9] !== 6) return 0;
  const ihl = (p[0]! & 15) * 4;
  if (ihl < 20) return 0;
  // not a fragment (MF clear, offset 0)
  if ((p[6]! & 0x3f) !== 0 || p[7] !== 0) return 0;
  const totalLen = (p[2]! << 8) | p[3]!;
  if (totalLen !== p.length) return 0;
  return tcpStarts(p, ihl) ? ihl : 0;
}

/**
 * The IPv6 TCP data segment `p` may start a run: returns 40 (the fixed
 * header; RFC 8200 §3), or 0. Only a TCP header right after it (Next Header
 * 6, no extension headers: the kernel's TSO6 takes those too, but the stack
 * sends none) and a Payload Length that is the packet's.
 */
function tcp6Start(p: Uint8Array): number {
  if (p.length < 60 || p[0]! >> 4 !== 6 || p[6] !== 6) return 0;
  if (((p[4]! << 8) | p[5]!) !== p.length - 40) return 0;
  return tcpStarts(p, 40) ? 40 : 0;
}

/** An untagged Ethernet II frame (header `l2` = 14 bytes) carrying IPv4 / IPv6. */
function isEthIpv4(f: Uint8Array, l2: number): boolean {
  return l2 === 14 && f.length > l2 && f[12] === 0x08 && f[13] === 0x00;
}
function isEthIpv6(f: Uint8Array, l2: number): boolean {
  return l2 === 14 && f.length > l2 && f[12] === 0x86 && f[13] === 0xdd;
}

/** The same link header (destination, source, EtherType) on both frames. */
function sameL2(a: Uint8Array, b: Uint8Array, l2: number): boolean {
  if (b.length <= l2) return false;
  for (let i = 0; i < l2; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Whether `q`'s IPv4 header continues `first`'s: the same but for total length, id and checksum. */
function ip4Continues(first: Uint8Array, ihl: number, q: Uint8Array): boolean {
  if (q[0] !== first[0] || q[1] !== first[1]) return false;
  if (((q[2]! << 8) | q[3]!) !== q.length) return false;
  for (let i = 6; i < 10; i++) if (q[i] !== first[i]) return false;
  for (let i = 12; i < 20; i++) if (q[i] !== first[i]) return false;
  for (let i = 20; i < ihl; i++) if (q[i] !== first[i]) return false;
  return true;
}

/** Whether `q`'s IPv6 header continues `first`'s: the same but for Payload Length (traffic class and flow label included). */
function ip6Continues(first: Uint8Array, q: Uint8Array): boolean {
  for (let i = 0; i < 4; i++) if (q[i] !== first[i]) return false;
  if (((q[4]! << 8) | q[5]!) !== q.length - 40) return false;
  for (let i = 6; i < 40; i++) if (q[i] !== first[i]) return false;
  return true;
}

/** Whether `q` continues the run of `first` after `prevEndSeq`: same headers but seq, IP length (IPv4: id, checksum), TCP checksum, and PSH/FIN. */
function continues(first: Uint8Array, ihl: number, doff: number, q: Uint8Array, prevEndSeq: number, v6: boolean): boolean {
  if (q.length <= ihl + doff) return false;
  if (v6 ? !ip6Continues(first, q) : !ip4Continues(first, ihl, q)) return false;
  const t = ihl;
  for (let i = 0; i < 4; i++) if (q[t + i] !== first[t + i]) return false;
  const seq = ((q[t + 4]! << 24) | (q[t + 5]! << 16) | (q[t + 6]! << 8) | q[t + 7]!) >>> 0;
  if (seq !== prevEndSeq) return false;
  for (let i = 8; i < 13; i++) if (q[t + i] !== first[t + i]) return false; // ack, data offset
  const fl = q[t + 13]!;
  if ((fl & ~(PSH | FIN)) !== first[t + 13]) return false;
  for (let i = 14; i < 16; i++) if (q[t + i] !== first[t + i]) return false; // window
  for (let i = 18; i < doff; i++) if (q[t + i] !== first[t + i]) return false; // urgent, options
  return true;
}

/**
 * Plans the writes of `packets` on a TUN device with TSO4 / TSO6 (`tso`:
 * the TUN_F_TSO* bits the kernel accepted): each run of consecutive TCP
 * segments of one flow — contiguous sequence numbers, identical headers but
 * for what the kernel's segmentation rewrites (IPv4 total length, id and
 * checksum, or IPv6 Payload Length; TCP sequence number and checksum; PSH
 * and FIN, which only the last may carry), every payload but the last
 * exactly the first's size — becomes one chain: a new buffer with the
 * virtio_net_hdr (NEEDS_CSUM, TCPV4 or TCPV6, gso_size = that size) and the
 * run's IP and TCP header (lengths set; an IPv4 header checksum complete;
 * the TCP checksum the folded pseudo-header sum the kernel expects of a
 * partial checksum), then the payloads as views of the original packets
 * (no copy).
 * Every other packet becomes [ZERO_VNET_HDR, packet]. Appends to `parts`
 * and `counts` (parts per chain); returns the number of coalesced chains.
 *
 * `l2` is the link header in front of each IP packet: 0 on a TUN device,
 * 14 on a TAP device (untagged Ethernet II frames, whose headers must then
 * be identical and carry EtherType IPv4 or IPv6; the virtio_net_hdr's hdr_len and
 * csum_start count from the frame's start, and the kernel copies the
 * Ethernet header onto every segment it cuts).
 */
export function coalesceTcp(packets: readonly Uint8Array[], parts: Uint8Array[], counts: number[], l2 = 0, tso = TUN_F_TSO4 | TUN_F_TSO6): number {
  let merged = 0;
  const n = packets.length;
  let i = 0;
  while (i < n) {
    const frame = packets[i]!;
    const p = l2 === 0 ? frame : frame.subarray(l2);
    let ihl = 0;
    let v6 = false;
    if (l2 === 0 ? p[0]! >> 4 === 4 : isEthIpv4(frame, l2)) ihl = (tso & TUN_F_TSO4) !== 0 ? tcp4Start(p) : 0;
    else if (l2 === 0 ? p[0]! >> 4 === 6 : isEthIpv6(frame, l2)) {
      ihl = (tso & TUN_F_TSO6) !== 0 ? tcp6Start(p) : 0;
      v6 = true;
    }
    if (ihl === 0 || i + 1 === n) {
      parts.push(ZERO_VNET_HDR, frame);
      counts.push(2);
      i++;
      continue;
    }
    const doff = (p[ihl + 12]! >> 4) * 4;
    const hdr = ihl + doff;
    const mss = p.length - hdr;
    let total = p.length;
    let endSeq = ((((p[ihl + 4]! << 24) | (p[ihl + 5]! << 16) | (p[ihl + 6]! << 8) | p[ihl + 7]!) >>> 0) + mss) >>> 0;
    let j = i + 1;
    let lastFlags = 0;
    while (j < n && j - i < GSO_MAX_SEGS) {
      const qf = packets[j]!;
      if (l2 !== 0 && !sameL2(frame, qf, l2)) break;
      const q = l2 === 0 ? qf : qf.subarray(l2);
      const qlen = q.length - hdr;
      // IPv4: the whole packet within 65535 octets; IPv6: its Payload Length.
      if (qlen <= 0 || qlen > mss || total + qlen - (v6 ? 40 : 0) > GSO_MAX_BYTES || !continues(p, ihl, doff, q, endSeq, v6)) break;
      total += qlen;
      endSeq = (endSeq + qlen) >>> 0;
      j++;
      lastFlags = q[ihl + 13]! & (PSH | FIN);
      if (qlen < mss || lastFlags !== 0) break; // a short segment or PSH/FIN ends the run
    }
    if (j - i < 2) {
      parts.push(ZERO_VNET_HDR, frame);
      counts.push(2);
      i++;
      continue;
    }
    const head = new Uint8Array(VNET_HDR_LEN + l2 + hdr);
    encodeVnetHdr({ flags: VNET_F_NEEDS_CSUM, gsoType: v6 ? VNET_GSO_TCPV6 : VNET_GSO_TCPV4, hdrLen: l2 + hdr, gsoSize: mss, csumStart: l2 + ihl, csumOffset: 16 }, head, 0);
    if (l2 !== 0) head.set(frame.subarray(0, l2), VNET_HDR_LEN);
    const h = head.subarray(VNET_HDR_LEN + l2);
    h.set(p.subarray(0, hdr));
    let ps: number;
    if (v6) {
      // RFC 8200 §3 Payload Length; §8.1 the pseudo-header: both addresses, the upper-layer length and Next Header 6.
      const plen = total - 40;
      h[4] = plen >>> 8;
      h[5] = plen & 0xff;
      ps = fold16(sum16(h, 8, 40) + plen + 6);
    } else {
      h[2] = total >>> 8;
      h[3] = total & 0xff;
      h[10] = 0;
      h[11] = 0;
      const ipc = checksum(h, 0, ihl);
      h[10] = ipc >>> 8;
      h[11] = ipc & 0xff;
      const src = ((h[12]! << 24) | (h[13]! << 16) | (h[14]! << 8) | h[15]!) >>> 0;
      const dst = ((h[16]! << 24) | (h[17]! << 16) | (h[18]! << 8) | h[19]!) >>> 0;
      ps = fold16(pseudoHeaderSum(src, dst, 6, total - ihl));
    }
    h[ihl + 13] = p[ihl + 13]! | lastFlags;
    h[ihl + 16] = ps >>> 8;
    h[ihl + 17] = ps & 0xff;
    parts.push(head);
    for (let k = i; k < j; k++) parts.push(packets[k]!.subarray(l2 + hdr));
    counts.push(1 + j - i);
    merged++;
    i = j;
  }
  return merged;
}
