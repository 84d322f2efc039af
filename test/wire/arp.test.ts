import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ARP_LEN,
  arpAnnounce,
  arpProbe,
  arpReplyTo,
  arpRequest,
  buildArpFrame,
  emitArp,
  isArpProbe,
  isGratuitousArp,
  parseArp,
} from '../../src/wire/arp.ts';
import type { ArpRepr } from '../../src/wire/arp.ts';
import { ETHERTYPE_ARP, MAC_BROADCAST, parseEthernet } from '../../src/wire/ethernet.ts';
import { ipv4Addr } from '../../src/wire/bytes.ts';
import { ARP_REQUEST_FRAME } from './l2-fixtures.ts';

const A = 0x020000000001;
const B = 0x020000000002;
const IP_A = ipv4Addr(10, 0, 0, 1);
const IP_B = ipv4Addr(10, 0, 0, 2);
const ARP_BODY = ARP_REQUEST_FRAME.subarray(14);

describe('wire/arp', () => {
  test('RFC 826: a request captured from scapy decodes field by field', () => {
    const r = parseArp(ARP_BODY);
    assert.ok(r.ok);
    assert.deepEqual(r.value, { op: 'request', senderMac: A, senderIp: IP_A, targetMac: 0, targetIp: IP_B });
    assert.deepEqual(r.value, arpRequest(A, IP_A, IP_B));
  });

  test('RFC 826: emit writes the scapy request byte for byte; a whole frame is padded to 60 bytes', () => {
    const buf = new Uint8Array(30);
    assert.equal(emitArp(arpRequest(A, IP_A, IP_B), buf, 1), ARP_LEN);
    assert.deepEqual(buf.subarray(1, 29), ARP_BODY);
    const frame = buildArpFrame(arpRequest(A, IP_A, IP_B));
    assert.equal(frame.length, 60);
    assert.deepEqual(frame.subarray(0, 42), ARP_REQUEST_FRAME);
    const eth = parseEthernet(frame);
    assert.ok(eth.ok);
    assert.equal(eth.value.header.ethertype, ETHERTYPE_ARP);
    const again = parseArp(eth.value.payload);
    assert.ok(again.ok, 'the 18 bytes of padding are ignored');
    assert.equal(again.value.targetIp, IP_B);
  });

  test('RFC 826 "Swap hardware and protocol fields ... Set the ar$op field to ares_op$REPLY": the reply goes unicast to the requester', () => {
    const req = arpRequest(A, IP_A, IP_B);
    const rep = arpReplyTo(req, B);
    assert.deepEqual(rep, { op: 'reply', senderMac: B, senderIp: IP_B, targetMac: A, targetIp: IP_A });
    const frame = buildArpFrame(rep);
    const eth = parseEthernet(frame);
    assert.ok(eth.ok);
    assert.equal(eth.value.header.dst, A);
    assert.equal(eth.value.header.src, B);
    const back = parseArp(eth.value.payload);
    assert.ok(back.ok);
    assert.deepEqual(back.value, rep);
  });

  test('RFC 5227 §2.1.1 probe and §2.3 announcement: sender IP zero, then sender = target IP; both broadcast', () => {
    const probe = arpProbe(A, IP_A);
    assert.deepEqual(probe, { op: 'request', senderMac: A, senderIp: 0, targetMac: 0, targetIp: IP_A });
    assert.ok(isArpProbe(probe) && !isGratuitousArp(probe));
    const ann = arpAnnounce(A, IP_A);
    assert.deepEqual(ann, { op: 'request', senderMac: A, senderIp: IP_A, targetMac: 0, targetIp: IP_A });
    assert.ok(isGratuitousArp(ann) && !isArpProbe(ann));
    assert.ok(!isGratuitousArp(arpRequest(A, IP_A, IP_B)) && !isArpProbe(arpRequest(A, IP_A, IP_B)));
    for (const r of [probe, ann]) {
      const eth = parseEthernet(buildArpFrame(r));
      assert.ok(eth.ok);
      assert.equal(eth.value.header.dst, MAC_BROADCAST);
      const back = parseArp(eth.value.payload);
      assert.ok(back.ok);
      assert.deepEqual(back.value, r);
    }
  });

  test('RFC 826 "?Do I have the hardware type in ar$hrd?": other hardware types or lengths are arp-unsupported-hardware', () => {
    for (const [at, v] of [[1, 6], [0, 1], [4, 8], [4, 0]] as const) {
      const b = ARP_BODY.slice();
      b[at] = v;
      assert.deepEqual(parseArp(b), { ok: false, reason: 'arp-unsupported-hardware' }, `byte ${at} = ${v}`);
    }
  });

  test('RFC 826 "?Do I speak the protocol in ar$pro?": other protocols or lengths are arp-unsupported-protocol', () => {
    for (const [at, v] of [[2, 0x86], [3, 0xdd], [5, 16], [5, 0]] as const) {
      const b = ARP_BODY.slice();
      b[at] = v;
      assert.deepEqual(parseArp(b), { ok: false, reason: 'arp-unsupported-protocol' }, `byte ${at} = ${v}`);
    }
  });

  test('opcodes other than request (1) and reply (2) — RARP 3/4, InARP 8/9, 0 — are arp-bad-op', () => {
    for (const op of [0, 3, 4, 8, 9, 0x100, 0xffff]) {
      const b = ARP_BODY.slice();
      b[6] = op >>> 8;
      b[7] = op & 0xff;
      assert.deepEqual(parseArp(b), { ok: false, reason: 'arp-bad-op' }, `${op}`);
    }
    const b = ARP_BODY.slice();
    b[7] = 2;
    const r = parseArp(b);
    assert.ok(r.ok);
    assert.equal(r.value.op, 'reply');
  });

  test('a packet cut at every length below 28 bytes is arp-truncated', () => {
    for (let n = 0; n < ARP_LEN; n++) {
      assert.deepEqual(parseArp(ARP_BODY.subarray(0, n)), { ok: false, reason: 'arp-truncated' }, `${n}`);
    }
  });

  test('emit rejects programmer errors: small buffer, out-of-range addresses', () => {
    const r: ArpRepr = arpRequest(A, IP_A, IP_B);
    assert.throws(() => emitArp(r, new Uint8Array(27), 0), /too small/);
    assert.throws(() => emitArp({ ...r, senderMac: 2 ** 48 }, new Uint8Array(28), 0), /48-bit/);
    assert.throws(() => emitArp({ ...r, targetIp: 2 ** 32 }, new Uint8Array(28), 0), /targetIp/);
  });
});
