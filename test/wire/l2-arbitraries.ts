/** fast-check arbitraries for the link-layer and service codecs (Ethernet, ARP, UDP, DHCP, DNS). */
import fc from 'fast-check';
import type { EthernetRepr, VlanTag } from '../../src/wire/ethernet.ts';
import type { ArpRepr } from '../../src/wire/arp.ts';
import type { UdpRepr } from '../../src/wire/udp.ts';
import type { DhcpMessage, DhcpOption } from '../../src/wire/dhcp.ts';
import { dnsNameLabels } from '../../src/wire/dns.ts';
import type { DnsMessage, DnsRecord } from '../../src/wire/dns.ts';
import { u16, u32, u8 } from './arbitraries.ts';

export const mac = fc.integer({ min: 0, max: 0xffffffffffff });

export const vlanTag: fc.Arbitrary<VlanTag> = fc
  .record({ tpid: fc.constantFrom(0x8100, 0x88a8, 0x9100), pcp: fc.integer({ min: 0, max: 7 }), dei: fc.boolean(), vid: fc.integer({ min: 0, max: 0xfff }) })
  .map((r) => ({ ...r }));

export const ethernetRepr: fc.Arbitrary<EthernetRepr> = fc
  .record({
    dst: mac,
    src: mac,
    // Not a TPID: that would read as one more tag.
    ethertype: fc.integer({ min: 0x0600, max: 0xffff }).filter((t) => t !== 0x8100 && t !== 0x88a8 && t !== 0x9100),
    tags: fc.array(vlanTag, { maxLength: 2 }),
  })
  .map((r) => ({ ...r }));

export const arpRepr: fc.Arbitrary<ArpRepr> = fc
  .record({ op: fc.constantFrom<ArpRepr['op']>('request', 'reply'), senderMac: mac, senderIp: u32, targetMac: mac, targetIp: u32 })
  .map((r) => ({ ...r }));

export const udpRepr: fc.Arbitrary<UdpRepr> = fc
  .record({ srcPort: u16, dstPort: u16, payload: fc.uint8Array({ maxLength: 120, size: 'max' }) })
  .map((r) => ({ ...r }));

const latin1 = (min: number, max: number): fc.Arbitrary<string> =>
  fc.array(fc.integer({ min: 1, max: 255 }), { minLength: min, maxLength: max }).map((a) => String.fromCharCode(...a));
const addrs = fc.array(u32, { minLength: 1, maxLength: 80 });
const KNOWN = new Set([0, 1, 3, 6, 12, 15, 26, 50, 51, 52, 53, 54, 55, 58, 59, 61, 255]);

const dhcpOption: fc.Arbitrary<DhcpOption> = fc.oneof(
  u32.map((mask): DhcpOption => ({ kind: 'subnet-mask', mask })),
  addrs.map((a): DhcpOption => ({ kind: 'router', addrs: a })),
  addrs.map((a): DhcpOption => ({ kind: 'dns-servers', addrs: a })),
  latin1(1, 300).map((name): DhcpOption => ({ kind: 'hostname', name })),
  latin1(1, 40).map((name): DhcpOption => ({ kind: 'domain-name', name })),
  fc.integer({ min: 68, max: 0xffff }).map((mtu): DhcpOption => ({ kind: 'mtu', mtu })),
  u32.map((addr): DhcpOption => ({ kind: 'requested-ip', addr })),
  u32.map((seconds): DhcpOption => ({ kind: 'lease-time', seconds })),
  u32.map((addr): DhcpOption => ({ kind: 'server-id', addr })),
  fc.array(fc.integer({ min: 1, max: 254 }), { minLength: 1, maxLength: 20 }).map((codes): DhcpOption => ({ kind: 'parameter-request-list', codes })),
  u32.map((seconds): DhcpOption => ({ kind: 'renewal-time', seconds })),
  u32.map((seconds): DhcpOption => ({ kind: 'rebinding-time', seconds })),
  fc.uint8Array({ minLength: 2, maxLength: 20 }).map((data): DhcpOption => ({ kind: 'client-id', data })),
  fc
    .tuple(fc.integer({ min: 1, max: 254 }).filter((c) => !KNOWN.has(c)), fc.uint8Array({ maxLength: 300 }))
    .map(([code, data]): DhcpOption => ({ kind: 'unknown', code, data })),
);

/** Messages whose options have distinct codes (repeats are concatenated on parse, RFC 3396), message type first. */
export const dhcpMessage: fc.Arbitrary<DhcpMessage> = fc
  .record({
    op: fc.constantFrom(1, 2),
    htype: u8,
    hops: u8,
    xid: u32,
    secs: u16,
    flags: u16,
    ciaddr: u32,
    yiaddr: u32,
    siaddr: u32,
    giaddr: u32,
    chaddr: fc.uint8Array({ maxLength: 16 }),
    sname: latin1(0, 64),
    file: latin1(0, 128),
    type: fc.integer({ min: 1, max: 255 }),
    rest: fc.uniqueArray(dhcpOption, { maxLength: 8, selector: (o) => (o.kind === 'unknown' ? o.code : o.kind) }),
  })
  .map(({ type, rest, ...m }) => ({ ...m, options: [{ kind: 'message-type', type } as DhcpOption, ...rest] }));

const label = fc.oneof(
  fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,20}$/),
  fc.constantFrom('xn--bcher-kva', '_tcp', '*', 'a\\.b', '\\000\\255', 'A'.repeat(63), 'Example', 'COM'),
);
export const dnsName: fc.Arbitrary<string> = fc
  .array(fc.oneof(label, fc.constantFrom('example', 'com', 'org')), { maxLength: 5 })
  .map((ls) => ls.join('.'))
  .filter((n) => dnsNameLabels(n).reduce((len, l) => len + 1 + l.length, 1) <= 255);

const record: fc.Arbitrary<DnsRecord> = fc.oneof(
  fc.tuple(dnsName, u32, u32).map(([name, ttl, address]): DnsRecord => ({ name, type: 1, class: 1, ttl, data: { kind: 'a', address } })),
  fc.tuple(dnsName, u32, fc.uint8Array({ minLength: 16, maxLength: 16 })).map(([name, ttl, address]): DnsRecord => ({ name, type: 28, class: 1, ttl, data: { kind: 'aaaa', address } })),
  fc.tuple(dnsName, u32, fc.constantFrom(2, 5, 12), dnsName).map(([name, ttl, type, target]): DnsRecord => ({ name, type, class: 1, ttl, data: { kind: 'name', name: target } })),
  fc.tuple(dnsName, u32, fc.constantFrom(16, 15, 6, 41, 99), u16, fc.uint8Array({ maxLength: 40 })).map(([name, ttl, type, cls, data]): DnsRecord => ({ name, type, class: cls, ttl, data: { kind: 'raw', data } })),
);

export const dnsMessage: fc.Arbitrary<DnsMessage> = fc
  .record({
    id: u16,
    qr: fc.boolean(),
    opcode: fc.integer({ min: 0, max: 15 }),
    aa: fc.boolean(),
    tc: fc.boolean(),
    rd: fc.boolean(),
    ra: fc.boolean(),
    z: fc.boolean(),
    ad: fc.boolean(),
    cd: fc.boolean(),
    rcode: fc.integer({ min: 0, max: 15 }),
    questions: fc.array(fc.record({ name: dnsName, type: u16, class: u16 }).map((q) => ({ ...q })), { maxLength: 3 }),
    answers: fc.array(record, { maxLength: 4 }),
    authorities: fc.array(record, { maxLength: 2 }),
    additionals: fc.array(record, { maxLength: 2 }),
  })
  .map((r) => ({ ...r }));
