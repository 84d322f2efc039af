/**
 * Link-layer and service packets for the wire tests, built with scapy 2.5
 * (Debian python3-scapy) — an independent implementation — by
 * test/wire/l2-fixtures.py; the hex below is its output verbatim.
 */
import { hexBytes } from './fixtures.ts';

/** Ether(dst=ff:ff:ff:ff:ff:ff, src=02:00:00:00:00:01)/ARP(who-has 10.0.0.2 tell 10.0.0.1), unpadded (42 bytes). */
export const ARP_REQUEST_FRAME = hexBytes(
  'ffffffffffff020000000001080600010800060400010200000000010a0000010000000000000a000002',
);

/** Ether/Dot1Q(vlan=100, prio=5)/IP(10.0.0.1 → 10.0.0.2, id 1)/UDP(1234 → 7)/"hi". */
export const VLAN_FRAME = hexBytes(
  '0200000000020200000000018100a06408004500001e00010000401166cc0a0000010a00000204d20007000a7e956869',
);

/** Ether(type=0x88a8)/Dot1AD(vlan=10, prio=3)/Dot1Q(vlan=20)/IP/UDP/"hi". */
export const QINQ_FRAME = hexBytes(
  '02000000000202000000000188a8600a8100001408004500001e00010000401166cc0a0000010a00000204d20007000a7e956869',
);

/** IP(192.168.1.10 → 192.168.1.1, id 0x1c46)/UDP(54321 → 53)/"hello, udp!" (checksum 0xbe21). */
export const UDP_IPV4_PACKET = hexBytes(
  '450000271c4600004011db24c0a8010ac0a80101d43100350013be2168656c6c6f2c2075647021',
);

/**
 * Ether/IP(0.0.0.0 → 255.255.255.255)/UDP(68 → 67)/BOOTP(xid 0x3903f326,
 * broadcast flag, chaddr 02:00:00:00:00:01)/DHCP(discover, client_id
 * 01:02:00:00:00:00:01, requested_addr 192.168.1.100, hostname "synack",
 * param_req_list [1, 3, 6, 15, 26], end).
 */
export const DHCP_DISCOVER_FRAME = hexBytes(
  'ffffffffffff02000000000108004500012e00000000401179c000000000ffffffff00440043011ab36d010106003903f32600008000' +
    '00000000000000000000000000000000020000000001' +
    '00'.repeat(10 + 64 + 128) +
    '638253633501013d07010200000000013204c0a801640c0673796e61636b37050103060f1aff',
);

/**
 * BOOTP(op=2, xid 0x3903f326, yiaddr 192.168.1.100, siaddr 192.168.1.1)/
 * DHCP(offer, server_id 192.168.1.1, lease_time 3600, renewal_time 1800,
 * rebinding_time 3150, subnet_mask 255.255.255.0, router 192.168.1.1,
 * name_server 192.168.1.1 8.8.8.8, domain "example.org", interface-mtu 1500, end).
 */
export const DHCP_OFFER = hexBytes(
  '020106003903f3260000000000000000c0a80164c0a801010000000002000000000100000000000000000000' +
    '00'.repeat(64 + 128) +
    '638253633501023604c0a80101330400000e103a04000007083b0400000c4e0104ffffff000304c0a801010608c0a80101080808080f0b6578616d706c652e6f72671a0205dcff',
);

/** DNS(id=0x1234, rd=1, qd=DNSQR("www.example.com", A)). */
export const DNS_QUERY = hexBytes('12340100000100000000000003777777076578616d706c6503636f6d0000010001');

/**
 * DNS(id=0x1234, qr=1, rd=1, ra=1, qd=("www.example.com", A),
 * an=CNAME www.example.com → example.com (ttl 300), A example.com
 * 93.184.216.34 (ttl 60), AAAA example.com 2606:2800:220:1:248:1893:25c8:1946
 * (ttl 60), ar=OPT(udp size 1232, DO)).compress(): names after the question
 * are pointers (0xc00c, 0xc010).
 */
export const DNS_RESPONSE = hexBytes(
  '12348180000100030000000103777777076578616d706c6503636f6d0000010001c00c000500010000012c0002c010c010000100010000003c00045db8d822c010001c00010000003c001026062800022000010248189325c8194600002904d0000080000000',
);
