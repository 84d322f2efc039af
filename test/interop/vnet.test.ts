/**
 * The virtio_net_hdr codec, the completion of a partial checksum
 * (VIRTIO_NET_HDR_F_NEEDS_CSUM) and the coalescing of a run of TCP segments
 * into one TSO write (src/links/vnet.ts) — no kernel needed: a coalesced
 * segment, its partial checksum completed as the kernel would, parses with
 * verified IP and TCP checksums and carries every payload byte in order.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { coalesceTcp, completePartialChecksum, decodeVnetHdr, encodeVnetHdr, TUN_F_TSO4, VNET_F_NEEDS_CSUM, VNET_GSO_TCPV4, VNET_GSO_TCPV6, VNET_HDR_LEN, ZERO_VNET_HDR } from '../../src/links/vnet.ts';
import { emitIpv4Tcp, emitIpv6Tcp, parseTcp } from '../../src/wire/tcp.ts';
import { parseIpv6, parseIpv6Addr } from '../../src/wire/ipv6.ts';
import { concatBytes } from '../../src/wire/bytes.ts';
import { parseIpv4 } from '../../src/wire/ipv4.ts';
import { ACK, PSH, CHECKSUM_FULL } from '../../src/wire/types.ts';

const SRC = 0x0a000002;
const DST = 0x0a000001;

function seg(seq: number, len: number, flags = ACK, fill = seq & 0xff): Uint8Array {
  const payload = new Uint8Array(len).map((_, i) => (fill + i) & 0xff);
  return emitIpv4Tcp(
    { src: SRC, dst: DST, ttl: 64, tos: 0, ident: seq & 0xffff, dontFragment: true },
    { srcPort: 7, dstPort: 40000, seq, ack: 12345, flags, window: 512, urgentPointer: 0, options: [{ kind: 'timestamp', tsval: 99, tsecr: 77 }], payload },
    CHECKSUM_FULL,
  );
}


describe('virtio_net_hdr (src/links/vnet.ts)', () => {
  it('encodes and decodes the 10-byte header, little-endian', () => {
    const b = new Uint8Array(VNET_HDR_LEN);
    const h = { flags: 1, gsoType: 4, hdrLen: 0x0134, gsoSize: 1428, csumStart: 40, csumOffset: 16 };
    encodeVnetHdr(h, b);
    assert.deepEqual([...b], [1, 4, 0x34, 0x01, 1428 & 0xff, 1428 >> 8, 40, 0, 16, 0]);
    assert.deepEqual(decodeVnetHdr(b), h);
  });

  it('a partial checksum (the folded pseudo-header sum in the field) is completed to the full TCP checksum', () => {
    const p = seg(1000, 300);
    const full = [p[36]!, p[37]!];
    // What the kernel hands over with NEEDS_CSUM: the pseudo-header sum only.
    const pseudo = (SRC >>> 16) + (SRC & 0xffff) + (DST >>> 16) + (DST & 0xffff) + 6 + (p.length - 20);
    const folded = (pseudo & 0xffff) + (pseudo >>> 16);
    p[36] = folded >> 8;
    p[37] = folded & 0xff;
    assert.ok(!parseTcp(p.subarray(20), SRC, DST, CHECKSUM_FULL).ok, 'partial: does not verify yet');
    assert.equal(completePartialChecksum(p, 20, 16), true);
    assert.deepEqual([p[36], p[37]], full);
    assert.ok(parseTcp(p.subarray(20), SRC, DST, CHECKSUM_FULL).ok);
    // Offsets outside the packet: refused, packet untouched.
    assert.equal(completePartialChecksum(p, p.length - 1, 16), false);
  });

  it('a run of contiguous full-sized segments of one flow becomes one TSO write; after the kernel\'s checksum it parses whole', () => {
    const a = seg(5000, 1000);
    const b = seg(6000, 1000);
    const c = seg(7000, 400, ACK | PSH);
    const parts: Uint8Array[] = [];
    const counts: number[] = [];
    assert.equal(coalesceTcp([a, b, c], parts, counts), 1);
    assert.deepEqual(counts, [4]);
    const h = decodeVnetHdr(parts[0]!);
    const hdrLen = 20 + 32;
    assert.deepEqual(h, { flags: VNET_F_NEEDS_CSUM, gsoType: VNET_GSO_TCPV4, hdrLen, gsoSize: 1000, csumStart: 20, csumOffset: 16 });
    const pkt = concatBytes(parts).subarray(VNET_HDR_LEN).slice();
    assert.equal(pkt.length, hdrLen + 2400);
    assert.ok(completePartialChecksum(pkt, h.csumStart, h.csumOffset));
    const ip = parseIpv4(pkt, CHECKSUM_FULL);
    assert.ok(ip.ok, 'IP header checksum and total length right');
    const t = parseTcp(ip.value.payload, SRC, DST, CHECKSUM_FULL);
    assert.ok(t.ok, 'TCP checksum right');
    assert.equal(t.value.seq, 5000);
    assert.equal(t.value.flags, ACK | PSH, 'PSH of the last segment');
    assert.deepEqual([...t.value.payload], [...a.subarray(hdrLen), ...b.subarray(hdrLen), ...c.subarray(hdrLen)]);
    // The payloads are views of the stack's packets, not copies.
    assert.equal(parts[1]!.buffer, a.buffer);
  });

  it('a gap in sequence numbers, a different ACK or a lone segment is written as it is, behind an all-zero header', () => {
    const parts: Uint8Array[] = [];
    const counts: number[] = [];
    const a = seg(1000, 500);
    const gap = seg(1600, 500);
    const lone = seg(3000, 500, ACK | PSH);
    assert.equal(coalesceTcp([a, gap, lone], parts, counts), 0);
    assert.deepEqual(counts, [2, 2, 2]);
    assert.equal(parts[0], ZERO_VNET_HDR);
    assert.equal(parts[1], a);
    const b1 = seg(1000, 500);
    const b2 = emitIpv4Tcp(
      { src: SRC, dst: DST, ttl: 64, tos: 0, ident: 1, dontFragment: true },
      { srcPort: 7, dstPort: 40000, seq: 1500, ack: 99999, flags: ACK, window: 512, urgentPointer: 0, options: [{ kind: 'timestamp', tsval: 99, tsecr: 77 }], payload: new Uint8Array(500) },
      CHECKSUM_FULL,
    );
    const p2: Uint8Array[] = [];
    const c2: number[] = [];
    assert.equal(coalesceTcp([b1, b2], p2, c2), 0);
    // A longer segment after a shorter one ends the run too.
    const p3: Uint8Array[] = [];
    const c3: number[] = [];
    assert.equal(coalesceTcp([seg(1, 500), seg(501, 600)], p3, c3), 0);
  });

  it('RFC 8200 §3, §8.1: a run of IPv6 segments becomes one TSO6 write (Payload Length set, the pseudo-header sum partial); with TSO4 only, IPv6 segments are written as they are', () => {
    const src6 = parseIpv6Addr('fd00::2')!;
    const dst6 = parseIpv6Addr('fd00::100')!;
    const seg6 = (seq: number, len: number, flags = ACK): Uint8Array =>
      emitIpv6Tcp(
        { src: src6, dst: dst6, hopLimit: 64, trafficClass: 0, flowLabel: 0x12345 },
        { srcPort: 7, dstPort: 40000, seq, ack: 12345, flags, window: 512, urgentPointer: 0, options: [{ kind: 'timestamp', tsval: 99, tsecr: 77 }], payload: new Uint8Array(len).map((_, i) => (seq + i) & 0xff) },
        CHECKSUM_FULL,
      );
    const a = seg6(5000, 1200);
    const b = seg6(6200, 1200);
    const c = seg6(7400, 300, ACK | PSH);
    const parts: Uint8Array[] = [];
    const counts: number[] = [];
    assert.equal(coalesceTcp([a, b, c], parts, counts), 1);
    assert.deepEqual(counts, [4]);
    const h = decodeVnetHdr(parts[0]!);
    const hdrLen = 40 + 32;
    assert.deepEqual(h, { flags: VNET_F_NEEDS_CSUM, gsoType: VNET_GSO_TCPV6, hdrLen, gsoSize: 1200, csumStart: 40, csumOffset: 16 });
    const pkt = concatBytes(parts).subarray(VNET_HDR_LEN).slice();
    assert.equal(pkt.length, hdrLen + 2700);
    assert.ok(completePartialChecksum(pkt, h.csumStart, h.csumOffset));
    const ip = parseIpv6(pkt);
    assert.ok(ip.ok, 'the Payload Length is the packet\'s');
    assert.equal(ip.value.header.flowLabel, 0x12345);
    assert.equal(ip.value.header.payloadLen, 32 + 2700);
    const t = parseTcp(ip.value.payload, src6, dst6, CHECKSUM_FULL);
    assert.ok(t.ok, 'TCP checksum right over the IPv6 pseudo-header');
    assert.equal(t.value.seq, 5000);
    assert.equal(t.value.flags, ACK | PSH);
    assert.deepEqual([...t.value.payload], [...a.subarray(hdrLen), ...b.subarray(hdrLen), ...c.subarray(hdrLen)]);
    // A device that accepted TSO4 but not TSO6: IPv6 segments go one by one.
    const p4: Uint8Array[] = [];
    const c4: number[] = [];
    assert.equal(coalesceTcp([a, b, c], p4, c4, 0, TUN_F_TSO4), 0);
    assert.deepEqual(c4, [2, 2, 2]);
    // A different flow label ends the run (the kernel copies the first header onto every segment).
    const other = emitIpv6Tcp(
      { src: src6, dst: dst6, hopLimit: 64, trafficClass: 0, flowLabel: 0x54321 },
      { srcPort: 7, dstPort: 40000, seq: 6200, ack: 12345, flags: ACK, window: 512, urgentPointer: 0, options: [{ kind: 'timestamp', tsval: 99, tsecr: 77 }], payload: new Uint8Array(1200) },
      CHECKSUM_FULL,
    );
    const p5: Uint8Array[] = [];
    const c5: number[] = [];
    assert.equal(coalesceTcp([a, other], p5, c5), 0);
  });
});

