/**
 * wire/ — pure codecs for IPv4, TCP, ICMP echo, Ethernet II, ARP, UDP,
 * DHCPv4, DNS and pcap bytes.
 *
 * Contract (smoltcp's Packet/Repr split): parsing untrusted bytes never
 * throws and returns `{ ok: false, reason }` with a counted `DropReason`;
 * emission writes into a caller-provided buffer and throws only for
 * programmer errors. Nothing here keeps state, reads a clock, draws random
 * numbers or imports Node modules.
 */

export * from './types.ts';
export * from './bytes.ts';
export * from './checksum.ts';
export * from './ipv4.ts';
export * from './tcp-options.ts';
export {
  emitIpv4Tcp,
  emitTcp,
  flagsToString,
  parseTcp,
  tcpBufferLen,
  tcpHeaderLen,
  TCP_HEADER_LEN,
} from './tcp.ts';
export * from './icmp.ts';
export * from './pcap.ts';
export * from './pretty.ts';
export * from './ethernet.ts';
export * from './arp.ts';
export * from './udp.ts';
export * from './dhcp.ts';
export * from './dns.ts';
