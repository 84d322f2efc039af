/**
 * Fragmentation of a packet this host originates that is larger than the
 * MTU of its link — only ICMP echo replies to large (reassembled) echo
 * requests: synack never fragments TCP (its segments fit the path MTU). Sans
 * I/O; each fragment is a fresh buffer.
 */
import { getU16, setU16, setU32 } from '../wire/bytes.ts';
import { checksum } from '../wire/checksum.ts';
import { IPPROTO_IPV6_FRAGMENT, IPV6_HEADER_LEN } from '../wire/ipv6.ts';

/**
 * RFC 791 §3.2 (fragmentation): "the data portion must be broken on 8 octet
 * boundaries"; each fragment carries the header, "the more-fragments flag
 * is set" on all but the last, and "the fragment offset field ... is set to
 * the value of that field in the original datagram plus NFB" (in 8-octet
 * units). `packet` is a whole IPv4 datagram without DF; returns it alone
 * when it fits `mtu`.
 */
export function fragmentIpv4(packet: Uint8Array, mtu: number): Uint8Array[] {
  if (packet.length <= mtu) return [packet];
  const ihl = (packet[0]! & 0x0f) * 4;
  const data = packet.subarray(ihl, getU16(packet, 2));
  const per = ((mtu - ihl) >> 3) << 3;
  const out: Uint8Array[] = [];
  for (let off = 0; off < data.length; off += per) {
    const chunk = data.subarray(off, Math.min(data.length, off + per));
    const more = off + chunk.length < data.length;
    const f = new Uint8Array(ihl + chunk.length);
    f.set(packet.subarray(0, ihl), 0);
    f.set(chunk, ihl);
    setU16(f, 2, f.length);
    setU16(f, 6, (more ? 0x2000 : 0) | (off >> 3));
    setU16(f, 10, 0);
    setU16(f, 10, checksum(f, 0, ihl));
    out.push(f);
  }
  return out;
}

/**
 * RFC 8200 §4.5: "The Unfragmentable Part consists of the IPv6 header plus
 * any extension headers that must be processed by nodes en route to the
 * destination" (none in what synack sends: the whole payload is the
 * Fragmentable Part). "The lengths of the fragments must be chosen such that
 * the resulting fragment packets fit within the MTU of the path to the
 * packets' destination(s). Each complete fragment, except possibly the last
 * ("rightmost") one, is an integer multiple of 8 octets long." Each fragment
 * is the IPv6 header with "the Payload Length of the original IPv6 header
 * changed to contain the length of this fragment packet only (excluding the
 * length of the IPv6 header itself), and the Next Header field of the last
 * header of the Unfragmentable Part changed to 44", then a Fragment header
 * with the original Next Header, the offset, the M flag and `ident`.
 */
export function fragmentIpv6(packet: Uint8Array, mtu: number, ident: number): Uint8Array[] {
  if (packet.length <= mtu) return [packet];
  const nextHeader = packet[6]!;
  const data = packet.subarray(IPV6_HEADER_LEN);
  const per = ((mtu - IPV6_HEADER_LEN - 8) >> 3) << 3;
  const out: Uint8Array[] = [];
  for (let off = 0; off < data.length; off += per) {
    const chunk = data.subarray(off, Math.min(data.length, off + per));
    const more = off + chunk.length < data.length;
    const f = new Uint8Array(IPV6_HEADER_LEN + 8 + chunk.length);
    f.set(packet.subarray(0, IPV6_HEADER_LEN), 0);
    setU16(f, 4, 8 + chunk.length);
    f[6] = IPPROTO_IPV6_FRAGMENT;
    f[IPV6_HEADER_LEN] = nextHeader;
    f[IPV6_HEADER_LEN + 1] = 0;
    setU16(f, IPV6_HEADER_LEN + 2, off | (more ? 1 : 0));
    setU32(f, IPV6_HEADER_LEN + 4, ident >>> 0);
    f.set(chunk, IPV6_HEADER_LEN + 8);
    out.push(f);
  }
  return out;
}
