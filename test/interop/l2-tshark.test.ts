/**
 * The link-layer and service codecs judged by tshark: frames emitted by
 * src/wire (Ethernet II with and without 802.1Q/802.1ad tags, ARP request,
 * reply, RFC 5227 probe and announcement, UDP over IPv4 and IPv6, DHCP
 * DISCOVER and OFFER, a DNS query and a compressed response with CNAME, A,
 * AAAA and OPT) are written to a pcap with LINKTYPE_ETHERNET, and tshark
 * must decode every one without a malformed packet or an expert error, with
 * every UDP checksum verified good and the fields we put in read back.
 *
 * Needs only tshark (no root): skipped outside CI when it is missing, a
 * failure in CI.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { inCi } from '../support/ci.ts';
import {
  arpAnnounce,
  arpProbe,
  arpReplyTo,
  arpRequest,
  buildArpFrame,
  buildDhcp,
  buildDns,
  buildEthernetFrame,
  CHECKSUM_FULL,
  concatBytes,
  DHCP_FLAG_BROADCAST,
  dnsQuery,
  emitIpv4,
  emitUdp,
  ETHERTYPE_IPV4,
  ETHERTYPE_IPV6,
  ETHERTYPE_QINQ,
  ETHERTYPE_VLAN,
  ipv4Addr,
  IPPROTO_UDP,
  LINKTYPE_ETHERNET,
  MAC_BROADCAST,
  pcapGlobalHeader,
  pcapRecord,
  udpLen,
  udpPseudoV4,
  udpPseudoV6,
} from '../../src/wire/index.ts';
import type { DhcpMessage, DnsMessage, EthernetRepr, UdpRepr, VlanTag } from '../../src/wire/index.ts';
import { hexBytes } from '../wire/fixtures.ts';

function tsharkMissing(): string | false {
  if (spawnSync('tshark', ['--version'], { stdio: 'ignore' }).status === 0) return false;
  if (inCi()) throw new Error('tshark must be installed in CI (apt-get install tshark)');
  return 'tshark is not installed';
}
const skip = tsharkMissing();

const A = 0x020000000001;
const B = 0x020000000002;
const IP_A = ipv4Addr(10, 0, 0, 1);
const IP_B = ipv4Addr(10, 0, 0, 2);
const V6_A = hexBytes('fe80 0000 0000 0000 0000 00ff fe00 0001');
const V6_B = hexBytes('fe80 0000 0000 0000 0000 00ff fe00 0002');

function eth(dst: number, src: number, ethertype: number, tags: VlanTag[] = []): EthernetRepr {
  return { dst, src, ethertype, tags };
}

/** Ethernet / IPv4 / UDP, every layer from src/wire. */
function udp4(src: number, dst: number, srcMac: number, dstMac: number, u: UdpRepr, tags: VlanTag[] = []): Uint8Array {
  const n = udpLen(u);
  const ip = new Uint8Array(20 + n);
  emitIpv4({ src, dst, protocol: IPPROTO_UDP, ttl: 64, tos: 0, ident: 7, dontFragment: false, payloadLen: n }, ip, 0);
  emitUdp(u, udpPseudoV4(src, dst), ip, 20, CHECKSUM_FULL);
  return buildEthernetFrame(eth(dstMac, srcMac, ETHERTYPE_IPV4, tags), ip);
}

/** Ethernet / IPv6 (fixed header written here) / UDP. */
function udp6(u: UdpRepr): Uint8Array {
  const n = udpLen(u);
  const p = new Uint8Array(40 + n);
  p[0] = 0x60;
  p[4] = n >>> 8;
  p[5] = n & 0xff;
  p[6] = IPPROTO_UDP;
  p[7] = 64;
  p.set(V6_A, 8);
  p.set(V6_B, 24);
  emitUdp(u, udpPseudoV6(V6_A, V6_B), p, 40, CHECKSUM_FULL);
  return buildEthernetFrame(eth(0x333300000001, A, ETHERTYPE_IPV6), p);
}

function dhcp(m: DhcpMessage, toServer: boolean): Uint8Array {
  const payload = buildDhcp(m);
  return toServer
    ? udp4(0, 0xffffffff, A, MAC_BROADCAST, { srcPort: 68, dstPort: 67, payload })
    : udp4(IP_B, 0xffffffff, B, MAC_BROADCAST, { srcPort: 67, dstPort: 68, payload });
}

const DISCOVER: DhcpMessage = {
  op: 1, htype: 1, hops: 0, xid: 0xdeadbeef, secs: 3, flags: DHCP_FLAG_BROADCAST,
  ciaddr: 0, yiaddr: 0, siaddr: 0, giaddr: 0, chaddr: Uint8Array.of(2, 0, 0, 0, 0, 1), sname: '', file: '',
  options: [
    { kind: 'message-type', type: 1 },
    { kind: 'client-id', data: Uint8Array.of(1, 2, 0, 0, 0, 0, 1) },
    { kind: 'hostname', name: 'synack-client' },
    { kind: 'parameter-request-list', codes: [1, 3, 6, 15, 26, 51, 54, 58, 59] },
  ],
};
const OFFER: DhcpMessage = {
  ...DISCOVER, op: 2, secs: 0, yiaddr: ipv4Addr(10, 0, 0, 100), siaddr: IP_B, sname: 'synack', file: 'boot.img',
  options: [
    { kind: 'message-type', type: 2 },
    { kind: 'server-id', addr: IP_B },
    { kind: 'lease-time', seconds: 3600 },
    { kind: 'renewal-time', seconds: 1800 },
    { kind: 'rebinding-time', seconds: 3150 },
    { kind: 'subnet-mask', mask: ipv4Addr(255, 255, 255, 0) },
    { kind: 'router', addrs: [IP_B] },
    { kind: 'dns-servers', addrs: [IP_B, ipv4Addr(10, 0, 0, 53)] },
    { kind: 'domain-name', name: 'synack.test' },
    { kind: 'mtu', mtu: 1500 },
    { kind: 'unknown', code: 252, data: new TextEncoder().encode('http://wpad/') },
  ],
};
const RESPONSE: DnsMessage = {
  ...dnsQuery(0xbeef, 'www.synack.test', 1), qr: true, ra: true, tc: true,
  answers: [
    { name: 'www.synack.test', type: 5, class: 1, ttl: 300, data: { kind: 'name', name: 'host.synack.test' } },
    { name: 'host.synack.test', type: 1, class: 1, ttl: 60, data: { kind: 'a', address: ipv4Addr(10, 0, 0, 80) } },
    { name: 'host.synack.test', type: 28, class: 1, ttl: 60, data: { kind: 'aaaa', address: V6_B } },
  ],
  additionals: [{ name: '', type: 41, class: 1232, ttl: 0, data: { kind: 'raw', data: new Uint8Array(0) } }],
};

const FRAMES: Array<[string, Uint8Array]> = [
  ['arp request', buildArpFrame(arpRequest(A, IP_A, IP_B))],
  ['arp reply', buildArpFrame(arpReplyTo(arpRequest(A, IP_A, IP_B), B))],
  ['arp probe', buildArpFrame(arpProbe(A, IP_A))],
  ['arp announce', buildArpFrame(arpAnnounce(A, IP_A))],
  ['udp4 tiny (padded)', udp4(IP_A, IP_B, A, B, { srcPort: 40000, dstPort: 7, payload: Uint8Array.of(0x68, 0x69) })],
  ['udp4 802.1Q', udp4(IP_A, IP_B, A, B, { srcPort: 40000, dstPort: 9, payload: new Uint8Array(100).fill(0x5a) }, [{ tpid: ETHERTYPE_VLAN, pcp: 5, dei: false, vid: 100 }])],
  ['udp4 802.1ad', udp4(IP_A, IP_B, A, B, { srcPort: 40000, dstPort: 9, payload: new Uint8Array(3) }, [{ tpid: ETHERTYPE_QINQ, pcp: 3, dei: false, vid: 10 }, { tpid: ETHERTYPE_VLAN, pcp: 0, dei: true, vid: 20 }])],
  ['udp6', udp6({ srcPort: 40001, dstPort: 9, payload: new TextEncoder().encode('hello over ipv6') })],
  ['dhcp discover', dhcp(DISCOVER, true)],
  ['dhcp offer', dhcp(OFFER, false)],
  ['dns query', udp4(IP_A, IP_B, A, B, { srcPort: 33333, dstPort: 53, payload: buildDns(dnsQuery(0xbeef, 'www.synack.test', 1)) })],
  ['dns response', udp4(IP_B, IP_A, B, A, { srcPort: 53, dstPort: 33333, payload: buildDns(RESPONSE) })],
];

describe('interop: Ethernet, ARP, UDP, DHCP and DNS frames judged by tshark', { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'synack-l2-'));
  const file = join(dir, 'l2.pcap');

  function tshark(args: string[]): string[] {
    const r = spawnSync(
      'tshark',
      ['-n', '-r', file, '-o', 'ip.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE', ...args],
      { encoding: 'utf8', timeout: 60_000 },
    );
    if (r.status !== 0) throw new Error(`tshark ${args.join(' ')} failed: ${r.stderr}`);
    return r.stdout.split('\n').filter((l) => l !== '');
  }
  /** One line per frame: the values of `fields`, tab-separated. */
  const fields = (...f: string[]): string[] => tshark(['-T', 'fields', ...f.flatMap((x) => ['-e', x])]);

  before(() => {
    writeFileSync(file, concatBytes([pcapGlobalHeader(65535, LINKTYPE_ETHERNET), ...FRAMES.map(([, f], i) => pcapRecord(i * 1000, f))]));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('every frame decodes with no malformed packet and no expert error', () => {
    assert.equal(fields('frame.number').length, FRAMES.length);
    const bad = tshark(['-Y', '_ws.malformed || _ws.expert.severity >= 8388608 || ip.checksum.status == 0 || udp.checksum.status == 0']);
    assert.deepEqual(bad, [], `tshark flags frames:\n${bad.join('\n')}`);
    assert.deepEqual(fields('frame.len'), FRAMES.map(([, f]) => String(f.length)));
    assert.ok(FRAMES.every(([, f]) => f.length >= 60), 'RFC 894 padding');
  });

  it('protocols as tshark sees them', () => {
    const protos = fields('frame.protocols').map((p) => p.split(':').filter((x) => x !== 'eth' && x !== 'ethertype').join(':'));
    assert.deepEqual(protos, [
      'arp', 'arp', 'arp', 'arp',
      'ip:udp:echo', 'vlan:ip:udp:data', 'ieee8021ad:vlan:ip:udp:data', 'ipv6:udp:data',
      'ip:udp:dhcp', 'ip:udp:dhcp', 'ip:udp:dns', 'ip:udp:dns',
    ]);
  });

  it('ARP: opcodes, RFC 5227 probe and announcement recognised', () => {
    const rows = fields('arp.opcode', 'arp.src.proto_ipv4', 'arp.dst.proto_ipv4', 'arp.isprobe', 'arp.isannouncement').slice(0, 4);
    assert.deepEqual(rows, [
      '1\t10.0.0.1\t10.0.0.2\t\t',
      '2\t10.0.0.2\t10.0.0.1\t\t',
      '1\t0.0.0.0\t10.0.0.1\t1\t',
      '1\t10.0.0.1\t10.0.0.1\t\t1',
    ]);
  });

  it('UDP checksums verified good over IPv4 and IPv6 (status 1), VLAN ids read back', () => {
    const st = fields('udp.checksum.status').filter((x) => x !== '');
    assert.equal(st.length, 8);
    assert.ok(st.every((x) => x === '1'), st.join(','));
    assert.deepEqual(fields('vlan.id', 'vlan.priority').filter((x) => x !== '\t'), ['100\t5', '20\t0']);
    assert.deepEqual(fields('ieee8021ad.id', 'ieee8021ad.priority').filter((x) => x !== '\t'), ['10\t3']);
  });

  it('DHCP: message types, options and names read back', () => {
    const rows = fields('dhcp.option.dhcp', 'dhcp.option.hostname', 'dhcp.option.ip_address_lease_time', 'dhcp.option.domain_name', 'dhcp.option.interface_mtu', 'dhcp.option.dhcp_server_id', 'dhcp.server', 'dhcp.file', 'dhcp.flags.bc').slice(8, 10);
    assert.deepEqual(rows, [
      '1\tsynack-client\t\t\t\t\t\t\t1',
      '2\t\t3600\tsynack.test\t1500\t10.0.0.2\tsynack\tboot.img\t1',
    ]);
  });

  it('DNS: the compressed response decodes to the CNAME, A, AAAA and EDNS payload size we wrote; TC is set', () => {
    const rows = fields('dns.qry.name', 'dns.cname', 'dns.a', 'dns.aaaa', 'dns.rr.udp_payload_size', 'dns.flags.truncated').slice(10, 12);
    assert.deepEqual(rows, [
      'www.synack.test\t\t\t\t\t0',
      'www.synack.test\thost.synack.test\t10.0.0.80\tfe80::ff:fe00:2\t1232\t1',
    ]);
  });
});
