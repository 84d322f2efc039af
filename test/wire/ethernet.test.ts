import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  buildEthernetFrame,
  emitEthernet,
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  ETHERTYPE_QINQ,
  ETHERTYPE_VLAN,
  ethernetFrameLen,
  ethernetHeaderLen,
  getMac,
  ipv4MulticastMac,
  ipv6MulticastMac,
  isBroadcastMac,
  isLocalMac,
  isMulticastMac,
  isUnicastMac,
  MAC_BROADCAST,
  macFromSeed,
  macToBytes,
  macToString,
  parseEthernet,
  parseMac,
  setMac,
} from '../../src/wire/ethernet.ts';
import type { EthernetRepr } from '../../src/wire/ethernet.ts';
import { hexBytes } from './fixtures.ts';
import { ARP_REQUEST_FRAME, QINQ_FRAME, VLAN_FRAME } from './l2-fixtures.ts';

const A = 0x020000000001;
const B = 0x020000000002;

describe('wire/ethernet: MAC addresses', () => {
  test('parse and format "02:00:00:00:00:01" both ways, either case and "-" separators', () => {
    assert.equal(parseMac('02:00:00:00:00:01'), A);
    assert.equal(parseMac('FF-FF-FF-FF-FF-FF'), MAC_BROADCAST);
    assert.equal(parseMac('aa:bb:cc:dd:ee:ff'), 0xaabbccddeeff);
    assert.equal(macToString(0xaabbccddeeff), 'aa:bb:cc:dd:ee:ff');
    assert.equal(macToString(A), '02:00:00:00:00:01');
    assert.equal(macToString(0), '00:00:00:00:00:00');
    for (const bad of ['', '02:00:00:00:00', '02:00:00:00:00:01:02', '2:00:00:00:00:01', '02:00-00:00:00:01', 'gg:00:00:00:00:01', ' 02:00:00:00:00:01']) {
      assert.equal(parseMac(bad), null, bad);
    }
  });

  test('getMac/setMac keep all 48 bits, the top octet included', () => {
    const b = new Uint8Array(8);
    for (const mac of [0, 1, 0xffffffff, 0x100000000, 0x800000000000, MAC_BROADCAST, 0xfedcba987654]) {
      setMac(b, 1, mac);
      assert.equal(getMac(b, 1), mac);
    }
    assert.deepEqual(macToBytes(0x0a0b0c0d0e0f), Uint8Array.of(10, 11, 12, 13, 14, 15));
  });

  test('RFC 7042 §2.1: the I/G bit makes a group address, the U/L bit a local one', () => {
    assert.ok(isBroadcastMac(MAC_BROADCAST) && isMulticastMac(MAC_BROADCAST));
    assert.ok(isMulticastMac(0x01005e000001) && !isUnicastMac(0x01005e000001));
    assert.ok(isMulticastMac(0x333300000001));
    assert.ok(isUnicastMac(A) && isLocalMac(A) && !isBroadcastMac(A));
    assert.ok(!isLocalMac(0x001122334455) && isUnicastMac(0x001122334455));
  });

  test('macFromSeed: deterministic, locally administered unicast, distinct for distinct seeds', () => {
    assert.equal(macFromSeed(1), macFromSeed(1));
    assert.equal(macFromSeed('host-a'), macFromSeed('host-a'));
    const seen = new Set<number>();
    for (let s = 0; s < 2000; s++) {
      for (const mac of [macFromSeed(s), macFromSeed(`host-${s}`)]) {
        assert.ok(mac >= 0 && mac <= MAC_BROADCAST && Number.isInteger(mac));
        assert.ok(isLocalMac(mac) && isUnicastMac(mac), macToString(mac));
        seen.add(mac);
      }
    }
    assert.equal(seen.size, 4000, 'no collisions among 4000 seeds');
    assert.notEqual(macFromSeed(2 ** 32), macFromSeed(0), 'high seed bits count');
  });

  test('RFC 1112 §6.4 and RFC 2464 §7: multicast group → Ethernet multicast address', () => {
    assert.equal(macToString(ipv4MulticastMac(0xe0000001)), '01:00:5e:00:00:01');
    // The 24th bit from the end is not mapped: 224.128.0.1 and 224.0.0.1 share a MAC.
    assert.equal(ipv4MulticastMac(0xe0800001), ipv4MulticastMac(0xe0000001));
    assert.equal(macToString(ipv4MulticastMac(0xeffffffa)), '01:00:5e:7f:ff:fa');
    const solicited = hexBytes('ff02 0000 0000 0000 0000 0001 ff12 3456');
    assert.equal(macToString(ipv6MulticastMac(solicited)), '33:33:ff:12:34:56');
  });
});

describe('wire/ethernet: frames', () => {
  test('an ARP request frame captured from scapy decodes field by field', () => {
    const r = parseEthernet(ARP_REQUEST_FRAME);
    assert.ok(r.ok);
    assert.deepEqual(r.value.header, { dst: MAC_BROADCAST, src: A, ethertype: ETHERTYPE_ARP, tags: [] });
    assert.equal(r.value.payload.length, 28);
    assert.equal(r.value.payload.buffer, ARP_REQUEST_FRAME.buffer, 'payload is a view');
  });

  test('IEEE 802.1Q: a tagged frame reports the VLAN id, priority and DEI and the inner EtherType', () => {
    const r = parseEthernet(VLAN_FRAME);
    assert.ok(r.ok);
    assert.deepEqual(r.value.header, {
      dst: B,
      src: A,
      ethertype: ETHERTYPE_IPV4,
      tags: [{ tpid: ETHERTYPE_VLAN, pcp: 5, dei: false, vid: 100 }],
    });
    assert.equal(r.value.payload[0], 0x45, 'the payload starts at the IPv4 header');
  });

  test('IEEE 802.1ad: a Q-in-Q frame reports both tags, outermost first', () => {
    const r = parseEthernet(QINQ_FRAME);
    assert.ok(r.ok);
    assert.deepEqual(r.value.header.tags, [
      { tpid: ETHERTYPE_QINQ, pcp: 3, dei: false, vid: 10 },
      { tpid: ETHERTYPE_VLAN, pcp: 0, dei: false, vid: 20 },
    ]);
    assert.equal(r.value.header.ethertype, ETHERTYPE_IPV4);
    assert.equal(r.value.payload.length, 30);
  });

  test('three stacked tags are dropped as eth-too-many-tags', () => {
    const f = hexBytes('020000000002 020000000001 88a8 0001 8100 0002 8100 0003 0800 4500');
    assert.deepEqual(parseEthernet(f), { ok: false, reason: 'eth-too-many-tags' });
  });

  test('IEEE 802.3 length field (below 0x0600) is not Ethernet II: eth-not-ethernet-ii', () => {
    for (const t of [0x0000, 0x002e, 0x05dc, 0x05ff]) {
      const f = ARP_REQUEST_FRAME.slice();
      f[12] = t >>> 8;
      f[13] = t & 0xff;
      assert.deepEqual(parseEthernet(f), { ok: false, reason: 'eth-not-ethernet-ii' }, t.toString(16));
    }
    const f = ARP_REQUEST_FRAME.slice();
    f[12] = 0x06;
    f[13] = 0x00;
    assert.ok(parseEthernet(f).ok, '0x0600 is an EtherType');
  });

  test('a frame cut at every length below its header (and inside a tag) is eth-truncated', () => {
    for (let n = 0; n < 14; n++) assert.deepEqual(parseEthernet(ARP_REQUEST_FRAME.subarray(0, n)), { ok: false, reason: 'eth-truncated' }, `${n}`);
    for (let n = 14; n < 18; n++) assert.deepEqual(parseEthernet(VLAN_FRAME.subarray(0, n)), { ok: false, reason: 'eth-truncated' }, `${n}`);
    for (let n = 18; n < 22; n++) assert.deepEqual(parseEthernet(QINQ_FRAME.subarray(0, n)), { ok: false, reason: 'eth-truncated' }, `${n}`);
    assert.ok(parseEthernet(VLAN_FRAME.subarray(0, 18)).ok, 'header complete, empty payload');
  });

  test('RFC 894: a short payload is zero-padded to a 60-byte frame; the padding reaches the parser as payload', () => {
    const repr: EthernetRepr = { dst: MAC_BROADCAST, src: A, ethertype: ETHERTYPE_ARP, tags: [] };
    const body = new Uint8Array(28).fill(0xab);
    const frame = buildEthernetFrame(repr, body);
    assert.equal(frame.length, 60);
    assert.deepEqual(frame.subarray(0, 42), concatHeader(repr, body));
    assert.ok(frame.subarray(42).every((b) => b === 0), 'padding is zero');
    const r = parseEthernet(frame);
    assert.ok(r.ok);
    assert.equal(r.value.payload.length, 46);
    // Padding is overwritten even in a dirty buffer.
    const dirty = new Uint8Array(64).fill(0xee);
    assert.equal(emitEthernet(repr, 28, dirty, 2), 60);
    assert.ok(dirty.subarray(2 + 14 + 28, 62).every((b) => b === 0));
    assert.equal(dirty[62], 0xee, 'nothing written past the frame');
    // A payload of 46 bytes or more is not padded.
    assert.equal(ethernetFrameLen(repr, 46), 60);
    assert.equal(ethernetFrameLen(repr, 1500), 1514);
    assert.equal(ethernetFrameLen({ ...repr, tags: [{ tpid: ETHERTYPE_VLAN, pcp: 0, dei: false, vid: 1 }] }, 1500), 1518);
  });

  test('emit → parse round-trips tagged and untagged headers byte for byte', () => {
    for (const tags of [[], [{ tpid: ETHERTYPE_VLAN, pcp: 7, dei: true, vid: 4095 }], [{ tpid: ETHERTYPE_QINQ, pcp: 1, dei: false, vid: 0 }, { tpid: ETHERTYPE_VLAN, pcp: 2, dei: true, vid: 2 }]]) {
      const repr: EthernetRepr = { dst: 0x333300000001, src: 0xfedcba987654, ethertype: 0x86dd, tags };
      const payload = Uint8Array.from({ length: 100 }, (_, i) => i);
      const frame = buildEthernetFrame(repr, payload);
      assert.equal(frame.length, ethernetHeaderLen(repr) + 100);
      const r = parseEthernet(frame);
      assert.ok(r.ok);
      assert.deepEqual(r.value.header, repr);
      assert.deepEqual(r.value.payload, payload);
    }
    // The scapy frames (sent unpadded) come back byte for byte, then padded to 60.
    for (const f of [VLAN_FRAME, QINQ_FRAME]) {
      const r = parseEthernet(f);
      assert.ok(r.ok);
      const again = buildEthernetFrame(r.value.header, r.value.payload);
      assert.equal(again.length, 60);
      assert.deepEqual(again.subarray(0, f.length), f);
      assert.ok(again.subarray(f.length).every((x) => x === 0));
    }
  });

  test('emit rejects programmer errors: small buffer, bad MAC, 802.3 length, bad tag fields, 3 tags', () => {
    const repr: EthernetRepr = { dst: B, src: A, ethertype: ETHERTYPE_IPV4, tags: [] };
    assert.throws(() => emitEthernet(repr, 28, new Uint8Array(59), 0), /too small/);
    assert.throws(() => emitEthernet({ ...repr, dst: 2 ** 48 }, 46, new Uint8Array(60), 0), /dst/);
    assert.throws(() => emitEthernet({ ...repr, src: -1 }, 46, new Uint8Array(60), 0), /src/);
    assert.throws(() => emitEthernet({ ...repr, ethertype: 1500 }, 46, new Uint8Array(60), 0), /0x0600/);
    const tag = { tpid: ETHERTYPE_VLAN, pcp: 0, dei: false, vid: 1 };
    assert.throws(() => emitEthernet({ ...repr, tags: [{ ...tag, vid: 4096 }] }, 46, new Uint8Array(64), 0), /vid/);
    assert.throws(() => emitEthernet({ ...repr, tags: [{ ...tag, pcp: 8 }] }, 46, new Uint8Array(64), 0), /pcp/);
    assert.throws(() => emitEthernet({ ...repr, tags: [{ ...tag, tpid: 0x0800 }] }, 46, new Uint8Array(64), 0), /TPID/);
    assert.throws(() => emitEthernet({ ...repr, tags: [tag, tag, tag] }, 46, new Uint8Array(80), 0), /at most 2/);
  });
});

function concatHeader(repr: EthernetRepr, body: Uint8Array): Uint8Array {
  const h = new Uint8Array(14 + body.length);
  setMac(h, 0, repr.dst);
  setMac(h, 6, repr.src);
  h[12] = repr.ethertype >>> 8;
  h[13] = repr.ethertype & 0xff;
  h.set(body, 14);
  return h;
}
