import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BOOTREPLY,
  BOOTREQUEST,
  buildDhcp,
  DHCP_BOOTP_MIN_LEN,
  DHCP_FLAG_BROADCAST,
  DHCP_MIN_LEN,
  dhcpClientMac,
  dhcpMessageLen,
  dhcpMessageType,
  DHCPDISCOVER,
  DHCPOFFER,
  emitDhcp,
  findDhcpOption,
  parseDhcp,
} from '../../src/wire/dhcp.ts';
import type { DhcpMessage } from '../../src/wire/dhcp.ts';
import { parseEthernet } from '../../src/wire/ethernet.ts';
import { parseIpv4 } from '../../src/wire/ipv4.ts';
import { parseUdp, udpPseudoV4 } from '../../src/wire/udp.ts';
import { ipv4Addr } from '../../src/wire/bytes.ts';
import { CHECKSUM_FULL } from '../../src/wire/types.ts';
import { DHCP_DISCOVER_FRAME, DHCP_OFFER } from './l2-fixtures.ts';

const MAC = Uint8Array.of(2, 0, 0, 0, 0, 1);

/** The DHCP payload of the scapy DISCOVER frame, through the Ethernet, IPv4 and UDP codecs. */
function discoverPayload(): Uint8Array {
  const eth = parseEthernet(DHCP_DISCOVER_FRAME);
  assert.ok(eth.ok);
  const ip = parseIpv4(eth.value.payload, CHECKSUM_FULL);
  assert.ok(ip.ok);
  const udp = parseUdp(ip.value.payload, udpPseudoV4(ip.value.header.src, ip.value.header.dst), CHECKSUM_FULL);
  assert.ok(udp.ok);
  assert.deepEqual([udp.value.srcPort, udp.value.dstPort], [68, 67]);
  return udp.value.payload;
}
const DISCOVER = discoverPayload();

function base(options: DhcpMessage['options']): DhcpMessage {
  return {
    op: BOOTREQUEST, htype: 1, hops: 0, xid: 0x01020304, secs: 0, flags: 0,
    ciaddr: 0, yiaddr: 0, siaddr: 0, giaddr: 0, chaddr: MAC, sname: '', file: '', options,
  };
}

/** A message with the options area replaced by `opts` (cookie kept). */
function withOptions(opts: number[], fill = 0): Uint8Array {
  const b = new Uint8Array(DHCP_MIN_LEN + opts.length).fill(fill, DHCP_MIN_LEN);
  b.set(DISCOVER.subarray(0, DHCP_MIN_LEN));
  b.set(opts, DHCP_MIN_LEN);
  return b;
}

describe('wire/dhcp', () => {
  test('RFC 2131 §2: a DISCOVER captured from scapy (Ethernet/IPv4/UDP/DHCP) decodes field by field', () => {
    const r = parseDhcp(DISCOVER);
    assert.ok(r.ok, r.ok ? '' : r.reason);
    const m = r.value;
    assert.equal(m.op, BOOTREQUEST);
    assert.equal(m.htype, 1);
    assert.equal(m.xid, 0x3903f326);
    assert.equal(m.flags, DHCP_FLAG_BROADCAST);
    assert.deepEqual([m.ciaddr, m.yiaddr, m.siaddr, m.giaddr], [0, 0, 0, 0]);
    assert.deepEqual(m.chaddr, MAC);
    assert.equal(dhcpClientMac(m), 0x020000000001);
    assert.deepEqual([m.sname, m.file], ['', '']);
    assert.deepEqual(m.options, [
      { kind: 'message-type', type: DHCPDISCOVER },
      { kind: 'client-id', data: Uint8Array.of(1, 2, 0, 0, 0, 0, 1) },
      { kind: 'requested-ip', addr: ipv4Addr(192, 168, 1, 100) },
      { kind: 'hostname', name: 'synack' },
      { kind: 'parameter-request-list', codes: [1, 3, 6, 15, 26] },
    ]);
    assert.equal(dhcpMessageType(m), DHCPDISCOVER);
  });

  test('RFC 2132: an OFFER from scapy decodes options 1, 3, 6, 15, 26, 51, 53, 54, 58, 59', () => {
    const r = parseDhcp(DHCP_OFFER);
    assert.ok(r.ok, r.ok ? '' : r.reason);
    assert.equal(r.value.op, BOOTREPLY);
    assert.equal(r.value.yiaddr, ipv4Addr(192, 168, 1, 100));
    assert.equal(r.value.siaddr, ipv4Addr(192, 168, 1, 1));
    assert.deepEqual(r.value.options, [
      { kind: 'message-type', type: DHCPOFFER },
      { kind: 'server-id', addr: ipv4Addr(192, 168, 1, 1) },
      { kind: 'lease-time', seconds: 3600 },
      { kind: 'renewal-time', seconds: 1800 },
      { kind: 'rebinding-time', seconds: 3150 },
      { kind: 'subnet-mask', mask: ipv4Addr(255, 255, 255, 0) },
      { kind: 'router', addrs: [ipv4Addr(192, 168, 1, 1)] },
      { kind: 'dns-servers', addrs: [ipv4Addr(192, 168, 1, 1), ipv4Addr(8, 8, 8, 8)] },
      { kind: 'domain-name', name: 'example.org' },
      { kind: 'mtu', mtu: 1500 },
    ]);
    assert.deepEqual(findDhcpOption(r.value, 'lease-time'), { kind: 'lease-time', seconds: 3600 });
    assert.equal(findDhcpOption(r.value, 'hostname'), undefined);
  });

  test('emit reproduces the scapy messages byte for byte (scapy sends no padding; we pad to 300 with pad options)', () => {
    for (const wire of [DISCOVER, DHCP_OFFER]) {
      const r = parseDhcp(wire);
      assert.ok(r.ok);
      const out = buildDhcp(r.value);
      assert.equal(out.length, Math.max(wire.length, DHCP_BOOTP_MIN_LEN));
      assert.deepEqual(out.subarray(0, wire.length), wire);
      assert.ok(out.subarray(wire.length).every((b) => b === 0));
      const again = parseDhcp(out);
      assert.ok(again.ok);
      assert.deepEqual(again.value, r.value);
    }
  });

  test('sname and file are NUL-terminated strings and round-trip; unknown options are kept raw', () => {
    const m = base([
      { kind: 'message-type', type: 3 },
      { kind: 'unknown', code: 81, data: Uint8Array.of(0, 0, 0, 0x61) },
      { kind: 'unknown', code: 119, data: new Uint8Array(0) },
    ]);
    m.sname = 'server.example';
    m.file = 'x'.repeat(128);
    m.flags = 0x8001;
    const out = buildDhcp(m);
    const r = parseDhcp(out);
    assert.ok(r.ok);
    assert.deepEqual(r.value, m);
  });

  test('RFC 3396: a value over 255 bytes is split on emit and the instances are concatenated on parse', () => {
    const long = Array.from({ length: 140 }, (_, i) => ipv4Addr(10, 0, i >> 8, i & 0xff));
    const m = base([{ kind: 'message-type', type: 5 }, { kind: 'dns-servers', addrs: long }]);
    const out = buildDhcp(m);
    // 560 bytes of addresses: instances of 255, 255 and 50 bytes.
    assert.equal(out.length, DHCP_MIN_LEN + 3 + (2 + 255) * 2 + (2 + 50) + 1);
    assert.deepEqual([out[243], out[244], out[243 + 257], out[244 + 257], out[243 + 514], out[244 + 514]], [6, 255, 6, 255, 6, 50]);
    const r = parseDhcp(out);
    assert.ok(r.ok);
    assert.deepEqual(findDhcpOption(r.value, 'dns-servers')?.addrs, long);
    // An address split across instances: 6 len 2 [10 0] ... 6 len 2 [0 1] is one address.
    const split = parseDhcp(withOptions([53, 1, 1, 6, 2, 10, 0, 12, 1, 0x41, 6, 2, 0, 1, 255]));
    assert.ok(split.ok, split.ok ? '' : split.reason);
    assert.deepEqual(split.value.options, [
      { kind: 'message-type', type: 1 },
      { kind: 'dns-servers', addrs: [ipv4Addr(10, 0, 0, 1)] },
      { kind: 'hostname', name: 'A' },
    ]);
  });

  test('RFC 2131 §4.1 / RFC 2132 §9.3: with option overload, options are read from file and then sname', () => {
    const b = withOptions([53, 1, 2, 52, 1, 3, 255]);
    // file (offset 108): the lease time, then the start of a host name continued in sname (RFC 3396).
    b.set([51, 4, 0, 0, 0x0e, 0x10, 12, 2, 0x61, 0x62, 255], 108);
    // sname (offset 44): the rest of the host name.
    b.set([12, 1, 0x63, 255], 44);
    const r = parseDhcp(b);
    assert.ok(r.ok, r.ok ? '' : r.reason);
    assert.deepEqual(r.value.options, [
      { kind: 'message-type', type: 2 },
      { kind: 'lease-time', seconds: 3600 },
      { kind: 'hostname', name: 'abc' },
    ]);
    assert.deepEqual([r.value.sname, r.value.file], ['', '']);
    // Overload 1 reads only file: sname is a name again.
    const one = withOptions([53, 1, 2, 52, 1, 1, 255]);
    one.set([51, 4, 0, 0, 0, 60, 255], 108);
    one.set([0x73, 0x72, 0x76], 44);
    const r1 = parseDhcp(one);
    assert.ok(r1.ok);
    assert.equal(r1.value.sname, 'srv');
    assert.equal(r1.value.file, '');
    assert.equal(findDhcpOption(r1.value, 'lease-time')?.seconds, 60);
  });

  test('an overload option with a value other than 1, 2, 3 or a length other than 1 is dhcp-bad-overload', () => {
    for (const opt of [[52, 1, 0], [52, 1, 4], [52, 2, 1, 1], [52, 0]]) {
      assert.deepEqual(parseDhcp(withOptions([53, 1, 1, ...opt, 255])), { ok: false, reason: 'dhcp-bad-overload' }, opt.join(','));
    }
  });

  test('option overflow: a length running past the options, file or sname field is dhcp-bad-option', () => {
    // In the options field: the length octet missing, and a length past the end.
    assert.deepEqual(parseDhcp(withOptions([53, 1, 1, 12])), { ok: false, reason: 'dhcp-bad-option' });
    assert.deepEqual(parseDhcp(withOptions([53, 1, 1, 12, 5, 0x61])), { ok: false, reason: 'dhcp-bad-option' });
    assert.deepEqual(parseDhcp(withOptions([53, 1, 1, 12, 255, 0x61, 0x62])), { ok: false, reason: 'dhcp-bad-option' });
    // In file: an option that would run on into the options field is cut at the end of file.
    const f = withOptions([53, 1, 1, 52, 1, 1, 255]);
    f[108 + 126] = 12;
    f[108 + 127] = 10;
    assert.deepEqual(parseDhcp(f), { ok: false, reason: 'dhcp-bad-option' });
    // In sname: likewise, it may not run into file.
    const s = withOptions([53, 1, 1, 52, 1, 2, 255]);
    s[44 + 63] = 12;
    assert.deepEqual(parseDhcp(s), { ok: false, reason: 'dhcp-bad-option' });
    // Every cut of a valid message inside its options is either fine (cut at an option boundary) or bad-option.
    const full = DHCP_OFFER;
    for (let n = DHCP_MIN_LEN; n < full.length; n++) {
      const r = parseDhcp(full.subarray(0, n));
      if (!r.ok) assert.ok(r.reason === 'dhcp-bad-option' || r.reason === 'dhcp-no-message-type', `${n}: ${r.reason}`);
    }
  });

  test('RFC 2132: known options with impossible lengths are dhcp-bad-option', () => {
    const bad: number[][] = [
      [1, 3, 255, 255, 255], // subnet mask: 4
      [3, 0], [3, 5, 1, 2, 3, 4, 5], // router: a multiple of 4, at least 4
      [6, 2, 1, 2], // dns: likewise
      [12, 0], [15, 0], // host and domain name: at least 1
      [26, 2, 0, 67], [26, 1, 5], // MTU: 2 bytes, at least 68
      [50, 3, 1, 2, 3], [51, 8, 0, 0, 0, 0, 0, 0, 0, 0], [54, 0], [58, 2, 0, 1], [59, 5, 0, 0, 0, 0, 1],
      [55, 0], // parameter request list: at least 1
      [61, 1, 1], // client id: at least 2
    ];
    for (const o of bad) assert.deepEqual(parseDhcp(withOptions([53, 1, 1, ...o, 255])), { ok: false, reason: 'dhcp-bad-option' }, o.join(','));
    assert.deepEqual(parseDhcp(withOptions([53, 2, 1, 1, 255])), { ok: false, reason: 'dhcp-bad-option' }, 'message type: 1 byte');
  });

  test('RFC 2132 §3.1/§3.2: pads are skipped, End stops parsing, a missing End ends at the field end', () => {
    const r = parseDhcp(withOptions([0, 0, 53, 1, 3, 0, 255, 12, 200, 0xff, 0xff], 0));
    assert.ok(r.ok, 'bytes after End are not options');
    assert.deepEqual(r.value.options, [{ kind: 'message-type', type: 3 }]);
    assert.ok(parseDhcp(withOptions([53, 1, 3])).ok, 'no End');
  });

  test('fixed-part checks: truncation at every length below 240, op, hlen, magic cookie, missing message type', () => {
    for (let n = 0; n < DHCP_MIN_LEN; n++) {
      assert.deepEqual(parseDhcp(DISCOVER.subarray(0, n)), { ok: false, reason: 'dhcp-truncated' }, `${n}`);
    }
    for (const op of [0, 3, 255]) {
      const b = DISCOVER.slice();
      b[0] = op;
      assert.deepEqual(parseDhcp(b), { ok: false, reason: 'dhcp-bad-op' });
    }
    const h = DISCOVER.slice();
    h[2] = 17;
    assert.deepEqual(parseDhcp(h), { ok: false, reason: 'dhcp-bad-hlen' });
    const c = DISCOVER.slice();
    c[239] ^= 1;
    assert.deepEqual(parseDhcp(c), { ok: false, reason: 'dhcp-bad-cookie' });
    assert.deepEqual(parseDhcp(withOptions([12, 1, 0x61, 255])), { ok: false, reason: 'dhcp-no-message-type' });
  });

  test('a flood of 1-byte unknown options in a 1500-byte message parses in bounded work and space', () => {
    const opts: number[] = [53, 1, 1];
    while (opts.length < 1400) opts.push(200, 1, 7);
    opts.push(255);
    const r = parseDhcp(withOptions(opts));
    assert.ok(r.ok);
    // All instances of code 200 are one option (RFC 3396), so the list stays short.
    assert.equal(r.value.options.length, 2);
    assert.equal((r.value.options[1] as { data: Uint8Array }).data.length, 466);
  });

  test('emit rejects programmer errors: small buffer, long chaddr or sname, bad option values, option 52', () => {
    const m = base([{ kind: 'message-type', type: 1 }]);
    assert.equal(dhcpMessageLen(m), 300);
    assert.throws(() => emitDhcp(m, new Uint8Array(299), 0), /too small/);
    assert.throws(() => buildDhcp({ ...m, chaddr: new Uint8Array(17) }), /chaddr/);
    assert.throws(() => buildDhcp({ ...m, sname: 'x'.repeat(65) }), /sname/);
    assert.throws(() => buildDhcp({ ...m, file: 'é€' }), /latin1/);
    assert.throws(() => buildDhcp(base([{ kind: 'mtu', mtu: 67 }])), /MTU/);
    assert.throws(() => buildDhcp(base([{ kind: 'router', addrs: [] }])), /at least one/);
    assert.throws(() => buildDhcp(base([{ kind: 'unknown', code: 52, data: Uint8Array.of(1) }])), /52/);
    assert.throws(() => buildDhcp(base([{ kind: 'unknown', code: 255, data: new Uint8Array(0) }])), /1\.\.254/);
    assert.throws(() => buildDhcp({ ...m, xid: 2 ** 32 }), /xid/);
  });
});
