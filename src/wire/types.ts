/**
 * Plain representations shared by every layer. The codecs in this folder
 * parse bytes into these and emit these into bytes; nothing here holds state.
 *
 * Contract (smoltcp's Packet/Repr split): parsing untrusted bytes never
 * throws — it returns `{ ok: false, reason }` with a `DropReason` that the
 * stack counts. Emission writes into a caller-provided buffer.
 */
import type { IpAddr } from './ipv6.ts';

/** Why a packet or segment was dropped. Counted per reason by the stack. */
export type DropReason =
  // IPv4
  | 'ipv4-truncated'
  | 'ipv4-bad-version'
  | 'ipv4-bad-ihl'
  | 'ipv4-bad-total-length'
  | 'ipv4-bad-checksum'
  | 'ipv4-fragment'
  | 'ipv4-bad-options'
  | 'ipv4-not-for-us'
  /** The loopback interface's queue was full (stack/loopback.ts, like Linux's netdev_max_backlog). */
  | 'loopback-queue-full'
  | 'ipv4-unknown-protocol'
  | 'ipv4-martian-source'
  // IPv6 (RFC 8200) and ICMPv6 (RFC 4443): issue 12. The walk of the
  // extension-header chain (wire/ipv6.ts) returns the first group; the
  // reassembler (ip/reassembly.ts) counts the 'frag-' group for both families.
  | 'ipv6-truncated'
  | 'ipv6-bad-version'
  | 'ipv6-bad-payload-length'
  | 'ipv6-bad-extension-header'
  | 'ipv6-hop-by-hop-not-first'
  | 'ipv6-unknown-next-header'
  | 'ipv6-routing-type-0'
  | 'ipv6-unknown-routing-type'
  | 'ipv6-unknown-option'
  | 'ipv6-bad-option'
  | 'ipv6-no-next-header'
  /** The destination is none of our IPv6 addresses (multicast included: synack joins no group). */
  | 'ipv6-not-for-us'
  /** A source no packet may carry: multicast, unspecified, loopback from outside, IPv4-mapped, or our own (RFC 4291). */
  | 'ipv6-martian-source'
  | 'icmpv6-truncated'
  | 'icmpv6-bad-checksum'
  | 'icmpv6-unknown-informational'
  | 'icmpv6-bad-quote'
  | 'icmpv6-error-for-error'
  | 'icmpv6-error-for-multicast'
  | 'icmpv6-error-for-bad-source'
  | 'icmpv6-rate-limited'
  // IP fragment reassembly, IPv4 (RFC 791, RFC 815) and IPv6 (RFC 8200 §4.5)
  | 'frag-truncated'
  | 'frag-bad-length'
  | 'frag-too-big'
  | 'frag-overlap'
  | 'frag-after-overlap'
  | 'frag-duplicate'
  | 'frag-inconsistent-end'
  | 'frag-incomplete-header-chain'
  | 'frag-too-many-fragments'
  | 'frag-limit-source'
  | 'frag-limit-global'
  | 'frag-timeout'
  // TCP
  | 'tcp-truncated'
  | 'tcp-bad-data-offset'
  | 'tcp-bad-checksum'
  | 'tcp-bad-option'
  | 'tcp-bad-port'
  // ICMP
  | 'icmp-truncated'
  | 'icmp-bad-checksum'
  | 'icmp-unsupported'
  /** An ICMP error quotes a datagram that is not one of our TCP segments (malformed, or no connection). */
  | 'icmp-no-connection'
  /** RFC 5927 §4.1: the quoted sequence number is outside SND.UNA..SND.NXT. */
  | 'icmp-out-of-window'
  /** An echo reply no ping session of ours expected (unknown identifier, a sequence number not outstanding, wrong source or data; stack/echo.ts). */
  | 'icmp-echo-unmatched'
  /** RFC 6633: Source Quench is ignored. */
  | 'icmp-source-quench'
  /** RFC 1191 "fragmentation needed" with a next-hop MTU we do not act on (too small, or not smaller). */
  | 'icmp-pmtu-ignored'
  // Link layer and its services (issue 13): Ethernet II, ARP, UDP, DHCPv4, DNS.
  // The first of each group are returned by the wire codecs; the rest are for
  // the stack's filters (a codec cannot know which MAC or VLAN is its own).
  // Ethernet (RFC 894, IEEE 802.1Q/802.1ad)
  | 'eth-truncated'
  | 'eth-not-ethernet-ii'
  | 'eth-too-many-tags'
  | 'eth-vlan-tagged'
  | 'eth-not-for-us'
  | 'eth-unknown-ethertype'
  // ARP (RFC 826)
  | 'arp-truncated'
  | 'arp-unsupported-hardware'
  | 'arp-unsupported-protocol'
  | 'arp-bad-op'
  // The neighbour layer of the stack (stack/neighbor.ts, stack/ethernet.ts)
  | 'arp-not-for-us'
  | 'arp-own-address'
  | 'neigh-queue-full'
  | 'neigh-unresolved'
  | 'neigh-table-full'
  // NDP (RFC 4861, wire/ndp.ts)
  | 'ndp-unsupported'
  | 'ndp-bad-length'
  | 'ndp-bad-option'
  | 'ndp-invalid'
  | 'ndp-not-for-us'
  /** RFC 4862 §5.5.3: a Router Advertisement prefix past the MAX_AUTOCONF_ADDRESSES addresses SLAAC may form (stack/ethernet.ts). */
  | 'slaac-address-limit'
  // UDP (RFC 768, RFC 8200 §8.1)
  | 'udp-truncated'
  | 'udp-bad-length'
  | 'udp-bad-checksum'
  | 'udp-zero-checksum'
  /** RFC 1122 §4.1.3.1: no socket is bound to the destination port (answered with a rate-limited ICMP port unreachable). */
  | 'udp-no-port'
  /** The socket's receive queue holds its SO_RCVBUF worth of datagrams. */
  | 'udp-rcvbuf-full'
  /** An ICMP error about one of our datagrams that Linux does not report either (a soft error, or an unconnected socket). */
  | 'icmp-udp-soft-error'
  /** An ICMPv4 error we would originate, suppressed by the rate limit (RFC 1812 §4.3.2.8). */
  | 'icmp-rate-limited'
  // DHCPv4 (RFC 2131, RFC 2132)
  | 'dhcp-truncated'
  | 'dhcp-bad-op'
  | 'dhcp-bad-hlen'
  | 'dhcp-bad-cookie'
  | 'dhcp-bad-option'
  | 'dhcp-bad-overload'
  | 'dhcp-no-message-type'
  // DNS (RFC 1035 §4)
  | 'dns-truncated'
  | 'dns-bad-label'
  | 'dns-bad-pointer'
  | 'dns-pointer-loop'
  | 'dns-name-too-long'
  | 'dns-bad-rdata'
  // stack / connection
  | 'tcp-no-connection'
  | 'tcp-listen-backlog-full'
  | 'tcp-stack-connection-limit'
  | 'tcp-unacceptable-segment'
  | 'tcp-bad-ack'
  | 'tcp-rst-ignored'
  | 'tcp-syn-ignored'
  | 'tcp-closed'
  | 'tcp-ooo-limit'
  | 'tcp-receive-window-full'
  | 'tcp-broadcast'
  | 'tcp-challenge-ack-limited'
  | 'tcp-syn-flood'
  | 'tcp-paws'
  | 'tcp-persist-limit'
  // forwarding (stack/forward.ts)
  /** A retransmitted SYN of a forwarded connection whose decision is still pending: absorbed. */
  | 'tcp-forward-syn-pending'
  /** A SYN to be forwarded while the interface holds its maximum of pending requests. */
  | 'tcp-forward-pending-full'
  /** A RST from the guest for a pending forwarded SYN: the request is cancelled. */
  | 'tcp-forward-cancelled'
  /** A pending forwarded SYN evicted after its timeout to make room for a new one. */
  | 'tcp-forward-expired'
  /** A forwarded UDP datagram the application did not take (no handler, or it refused it). */
  | 'udp-forward-refused';

export type ParseResult<T> = { ok: true; value: T } | { ok: false; reason: DropReason };

/** TCP flag bits as they appear in byte 13 of the header (RFC 9293 §3.1, RFC 3168). */
export const FIN = 0x01;
export const SYN = 0x02;
export const RST = 0x04;
export const PSH = 0x08;
export const ACK = 0x10;
export const URG = 0x20;
export const ECE = 0x40;
export const CWR = 0x80;

/** One TCP option, in the order it appears on the wire. */
export type TcpOption =
  | { kind: 'eol' }
  | { kind: 'nop' }
  /** RFC 9293 §3.2, kind 2. */
  | { kind: 'mss'; value: number }
  /** RFC 7323 §2, kind 3: the shift count as sent (clamping to 14 is the receiver's job). */
  | { kind: 'window-scale'; shift: number }
  /** RFC 2018, kind 4. */
  | { kind: 'sack-permitted' }
  /** RFC 2018, kind 5: [left, right) edges, unsigned 32-bit. */
  | { kind: 'sack'; blocks: Array<[number, number]> }
  /** RFC 7323 §3, kind 8. */
  | { kind: 'timestamp'; tsval: number; tsecr: number }
  /** Any other kind: skipped by the connection, re-emitted byte for byte. */
  | { kind: 'unknown'; code: number; data: Uint8Array };

export interface TcpRepr {
  srcPort: number;
  dstPort: number;
  /** Unsigned 32-bit sequence number. */
  seq: number;
  /** Unsigned 32-bit acknowledgment number (meaningful only when ACK is set; 0 otherwise on emit). */
  ack: number;
  /** Bit set of FIN|SYN|RST|PSH|ACK|URG|ECE|CWR. */
  flags: number;
  /** The raw 16-bit window field (unscaled). */
  window: number;
  urgentPointer: number;
  /** Options in wire order. Emission pads with NOPs/EOL to a 4-byte boundary. */
  options: TcpOption[];
  payload: Uint8Array;
}

/** IPv4 addresses are unsigned 32-bit numbers in host order (1.2.3.4 = 0x01020304). */
export type Ipv4Addr = number;
/** An IPv4 address (u32) or an IPv6 address (wire/ipv6.ts). */
export type { IpAddr } from './ipv6.ts';

export const IPPROTO_ICMP = 1;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;

export interface Ipv4Repr {
  src: Ipv4Addr;
  dst: Ipv4Addr;
  protocol: number;
  ttl: number;
  /** The whole TOS byte: DSCP << 2 | ECN. */
  tos: number;
  ident: number;
  dontFragment: boolean;
  /** Length of the IP payload (total length - header length). */
  payloadLen: number;
}

/** Parsed IPv4 packet: the header and a view of its payload (no copy). */
export interface Ipv4Packet {
  header: Ipv4Repr;
  payload: Uint8Array;
}

/** ICMP echo request (type 8) or reply (type 0), RFC 792. */
export interface IcmpEchoRepr {
  type: 'echo-request' | 'echo-reply';
  ident: number;
  seqNo: number;
  data: Uint8Array;
}

/**
 * What an ICMP error message reports, independent of the ICMP version (ICMPv6
 * errors map onto the same kinds): RFC 792 types 3, 4, 11 and 12 with the
 * codes of RFC 792, RFC 1122 §3.2.2.1 and RFC 1812 §5.2.7.1.
 */
export type IcmpErrorKind =
  | 'net-unreachable'
  | 'host-unreachable'
  | 'protocol-unreachable'
  | 'port-unreachable'
  /** "Fragmentation needed and DF set" (v4) / "Packet Too Big" (v6): path MTU discovery (RFC 1191). */
  | 'packet-too-big'
  | 'source-route-failed'
  /** Communication administratively prohibited (codes 9, 10, 13). */
  | 'admin-prohibited'
  | 'source-quench'
  | 'ttl-exceeded'
  | 'reassembly-timeout'
  | 'parameter-problem';

/** An ICMP error message and the header of the datagram it quotes (one of ours). */
export interface IcmpErrorRepr {
  type: number;
  code: number;
  kind: IcmpErrorKind;
  /** Next-Hop MTU of a 'packet-too-big' (RFC 1191 §4); 0 when the router did not fill it in. */
  mtu: number;
  /** The quoted datagram's IP header: its source is us. */
  quoted: { src: IpAddr; dst: IpAddr; protocol: number; totalLength: number };
  /** The quoted transport-layer bytes: at least the first 8 (RFC 792: "64 bits of Data Datagram"). */
  transport: Uint8Array;
}

/**
 * Whether a link wants checksums computed on transmit and verified on
 * receive (smoltcp's ChecksumCapabilities). A link that cannot corrupt
 * (the in-memory one without corruption) may offload both, like Linux's
 * loopback.
 */
export interface ChecksumCaps {
  verifyRx: boolean;
  fillTx: boolean;
}

export const CHECKSUM_FULL: ChecksumCaps = Object.freeze({ verifyRx: true, fillTx: true });
export const CHECKSUM_OFFLOAD: ChecksumCaps = Object.freeze({ verifyRx: false, fillTx: false });
