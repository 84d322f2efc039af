/**
 * TapLink without a kernel (issue 13): a fake TAP device stands in for the
 * addon, so the link's framing — Ethernet frames in and out, offloads whose
 * virtio_net_hdr offsets count from the frame's start, TSO writes with the
 * Ethernet header in front — and its Ethernet interface (ARP through the
 * link) are tested anywhere (no root, no /dev/net/tun). The kernel side is
 * test/interop/tap.test.ts.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FakeTapDevice } from './fake-tap.ts';
import { attachTap, TapLink } from '../../src/links/tap.ts';
import { completePartialChecksum, decodeVnetHdr, encodeVnetHdr, VNET_F_NEEDS_CSUM, VNET_GSO_TCPV4, VNET_HDR_LEN } from '../../src/links/vnet.ts';
import { emitIpv4Tcp, parseTcp } from '../../src/wire/tcp.ts';
import { parseIpv4 } from '../../src/wire/ipv4.ts';
import { ACK, FIN, PSH, SYN, CHECKSUM_FULL } from '../../src/wire/types.ts';
import { buildEthernetFrame, ETHERTYPE_ARP, ETHERTYPE_IPV4, parseEthernet } from '../../src/wire/ethernet.ts';
import { arpRequest, buildArpFrame, parseArp } from '../../src/wire/arp.ts';
import { Network } from '../../src/sim/network.ts';
import { checksumComputed, completeForCapture } from '../../src/stack/rx-verified.ts';

const KERNEL_MAC = 0x0a0000000001;
const SYNACK_MAC = 0x020000000002;
const KERNEL_IP = 0x0a000001;
const SYNACK_IP = 0x0a000002;


function tcpSeg(seq: number, len: number, flags = ACK): Uint8Array {
  return emitIpv4Tcp(
    { src: SYNACK_IP, dst: KERNEL_IP, ttl: 64, tos: 0, ident: 1, dontFragment: true },
    { srcPort: 80, dstPort: 5000, seq, ack: 1, flags, window: 1000, urgentPointer: 0, options: [], payload: new Uint8Array(len).fill(seq & 0xff) },
    CHECKSUM_FULL,
  );
}

const frameOf = (ip: Uint8Array, src = SYNACK_MAC, dst = KERNEL_MAC): Uint8Array => buildEthernetFrame({ dst, src, ethertype: ETHERTYPE_IPV4, tags: [] }, ip);
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('TapLink (fake TAP device)', () => {
  it('RFC 826 over the TAP link: the Ethernet interface announces its address, answers an ARP request with a reply to the asker, and a frame shorter than an Ethernet header is a counted drop', async () => {
    const net = new Network({ seed: 1 });
    const stack = net.addStack({ name: 'synack' });
    const dev = new FakeTapDevice();
    const { link, eth } = attachTap(stack, { name: 'faketap0', device: dev, mtu: 1500 }, { mac: SYNACK_MAC, addrs: [{ addr: SYNACK_IP, prefixLen: 24 }] });
    await tick();
    // RFC 5227 §2.3 announcement, broadcast.
    assert.equal(dev.chains.length, 1);
    const ann = parseEthernet(dev.frames()[0]!);
    assert.ok(ann.ok && ann.value.header.ethertype === ETHERTYPE_ARP && ann.value.header.dst === 0xffffffffffff);
    dev.deliver([{ frame: buildArpFrame(arpRequest(KERNEL_MAC, KERNEL_IP, SYNACK_IP)) }, { frame: new Uint8Array(13) }]);
    await tick();
    assert.equal(link.stats.dropsNotIp, 1, 'the 13-byte runt');
    assert.equal(dev.chains.length, 2);
    const f = parseEthernet(dev.frames()[1]!);
    assert.ok(f.ok);
    assert.equal(f.value.header.dst, KERNEL_MAC);
    assert.equal(f.value.header.src, SYNACK_MAC);
    const r = parseArp(f.value.payload);
    assert.ok(r.ok);
    assert.equal(r.value.op, 'reply');
    assert.equal(r.value.senderIp, SYNACK_IP);
    assert.equal(r.value.senderMac, SYNACK_MAC);
    assert.equal(r.value.targetMac, KERNEL_MAC);
    assert.equal(eth.stats.arpRepliesOut, 1);
    // RFC 826: the asker was merged into the neighbour cache.
    assert.equal(eth.neighbors.get(KERNEL_IP)?.mac, KERNEL_MAC);
    link.close();
  });

  for (const mode of ['tap', 'stack', 'other receiver'] as const) {
  const withTap = mode !== 'stack';
  it(`[${mode}] a GSO frame (a 20 KB TCP segment, partial checksum, offsets from the frame's start) reaches the interface whole, ${withTap ? 'its checksum completed (the link has a tap, or the receiver is not the stack)' : 'its partial checksum trusted as the kernel trusts it (marked; completed for a capture)'}`, () => {
    const dev = new FakeTapDevice();
    const link = new TapLink({ name: 'faketap0', device: dev, mtu: 1500 });
    if (mode === 'tap') link.tap = () => {};
    // The stack (or an Ethernet interface) says it takes partial checksums; another receiver does not.
    link.partialChecksumsIn = mode !== 'other receiver';
    assert.equal(link.l2Len, 14);
    const seg = tcpSeg(1000, 20_000);
    const full = [seg[36]!, seg[37]!];
    const pseudo = 0x0a00 + 0x0001 + 0x0a00 + 0x0002 + 6 + (seg.length - 20);
    seg[36] = pseudo >> 8;
    seg[37] = pseudo & 0xff;
    const hdr = new Uint8Array(VNET_HDR_LEN);
    encodeVnetHdr({ flags: VNET_F_NEEDS_CSUM, gsoType: VNET_GSO_TCPV4, hdrLen: 14 + 40, gsoSize: 1460, csumStart: 14 + 20, csumOffset: 16 }, hdr);
    const got: Uint8Array[] = [];
    const marked: boolean[] = [];
    const asReceived: number[][] = [];
    link.onReceive = (f) => {
      // What the stack sees, while the link hands the frame up.
      marked.push(checksumComputed(f.subarray(14 + 20)));
      asReceived.push([f[14 + 36]!, f[14 + 37]!]);
      completeForCapture(f);
      got.push(f);
    };
    dev.deliver([{ frame: frameOf(seg, KERNEL_MAC, SYNACK_MAC), hdr }]);
    assert.equal(got.length, 1);
    assert.equal(got[0]!.length, 14 + 20_040);
    assert.deepEqual(marked, [true], 'the stack does not verify it again');
    assert.deepEqual(asReceived[0], withTap ? full : [pseudo >> 8, pseudo & 0xff]);
    assert.equal(checksumComputed(got[0]!.subarray(14 + 20)), false, 'the mark ends with the delivery');
    assert.deepEqual([got[0]![14 + 36], got[0]![14 + 37]], full);
    assert.ok(parseTcp(got[0]!.subarray(14 + 20), KERNEL_IP, SYNACK_IP, CHECKSUM_FULL).ok);
    assert.equal(link.stats.gsoIn, 1);
    assert.equal(link.stats.csumCompleted, withTap ? 1 : 0);
    assert.equal(link.stats.csumTrusted, withTap ? 0 : 1);
    link.close();
  });
  }

  it('a run of frames of one flow leaves as one TSO write, the Ethernet header in front and the offsets counted from it; a frame of MTU + 14 bytes goes out, one byte more is dropped', async () => {
    const dev = new FakeTapDevice();
    const link = new TapLink({ name: 'faketap0', device: dev, mtu: 1500 });
    const segs = [0, 1, 2, 3].map((i) => tcpSeg(1000 + i * 1460, 1460, i === 3 ? ACK | PSH : ACK));
    for (const s of segs) link.transmit(frameOf(s));
    // A different destination MAC ends the run.
    link.transmit(frameOf(tcpSeg(1000 + 4 * 1460, 1460), SYNACK_MAC, 0x0a0000000009));
    await tick();
    assert.equal(dev.chains.length, 2);
    const h = decodeVnetHdr(dev.chains[0]!);
    assert.deepEqual(h, { flags: VNET_F_NEEDS_CSUM, gsoType: VNET_GSO_TCPV4, hdrLen: 14 + 40, gsoSize: 1460, csumStart: 14 + 20, csumOffset: 16 });
    const frame = dev.frames()[0]!.slice();
    assert.equal(frame.length, 14 + 40 + 4 * 1460);
    assert.deepEqual([...frame.subarray(0, 14)], [...frameOf(segs[0]!).subarray(0, 14)], 'the Ethernet header of the run');
    assert.ok(completePartialChecksum(frame, h.csumStart, h.csumOffset));
    const ip = parseIpv4(frame.subarray(14), CHECKSUM_FULL);
    assert.ok(ip.ok);
    const t = parseTcp(ip.value.payload, SYNACK_IP, KERNEL_IP, CHECKSUM_FULL);
    assert.ok(t.ok);
    assert.equal(t.value.flags, ACK | PSH);
    assert.deepEqual([...t.value.payload], segs.flatMap((s) => [...s.subarray(40)]));
    assert.equal(link.stats.gsoOut, 1);
    assert.equal(link.stats.gsoOutSegments, 4);

    link.transmit(new Uint8Array(1514));
    link.transmit(new Uint8Array(1515));
    await tick();
    assert.equal(dev.chains.length, 3);
    assert.equal(dev.frames()[2]!.length, 1514);
    assert.equal(link.stats.dropsTooBig, 1);
    link.close();
  });
  it('received TCP segments without payload or SYN (ACK, FIN) are copied into one shared slab, a segment with payload or a SYN into a buffer of its own; a partial-checksum mark covers only the segment being delivered, not its neighbours in the slab', () => {
    const dev = new FakeTapDevice();
    const link = new TapLink({ name: 'faketap0', device: dev, mtu: 1500 });
    link.partialChecksumsIn = true;
    // From the kernel: an ACK and a FIN,ACK with partial checksums (the
    // pseudo-header sum in the field), a 10-octet data segment, a SYN.
    const partial = (seq: number, flags: number): { frame: Uint8Array; hdr: Uint8Array; full: number[] } => {
      const seg = tcpSeg(seq, 0, flags);
      const full = [seg[36]!, seg[37]!];
      const pseudo = 0x0a00 + 0x0001 + 0x0a00 + 0x0002 + 6 + (seg.length - 20);
      seg[36] = pseudo >> 8;
      seg[37] = pseudo & 0xff;
      const hdr = new Uint8Array(VNET_HDR_LEN);
      encodeVnetHdr({ flags: VNET_F_NEEDS_CSUM, gsoType: 0, hdrLen: 14 + 40, gsoSize: 0, csumStart: 14 + 20, csumOffset: 16 }, hdr);
      return { frame: frameOf(seg, KERNEL_MAC, SYNACK_MAC), hdr, full };
    };
    const ack = partial(1, ACK);
    const fin = partial(1, FIN | ACK);
    const got: Uint8Array[] = [];
    const marks: Array<[boolean, boolean]> = [];
    link.onReceive = (f) => {
      // While this frame is handed up: is it marked, and is the frame before it (same slab or not)?
      const prev = got[got.length - 1];
      marks.push([checksumComputed(f.subarray(14 + 20)), prev !== undefined && checksumComputed(prev.subarray(14 + 20))]);
      got.push(f);
    };
    dev.deliver([ack, fin, { frame: frameOf(tcpSeg(1, 10, ACK | PSH), KERNEL_MAC, SYNACK_MAC) }, { frame: frameOf(tcpSeg(0, 0, SYN), KERNEL_MAC, SYNACK_MAC) }]);
    assert.equal(got.length, 4);
    assert.equal(link.stats.packetsBare, 2);
    assert.equal(got[0]!.buffer, got[1]!.buffer, 'the ACK and the FIN share a slab');
    assert.notEqual(got[0]!.byteOffset, got[1]!.byteOffset);
    assert.ok(got[0]!.buffer.byteLength > got[0]!.length);
    for (const own of [got[2]!, got[3]!]) {
      assert.equal(own.byteOffset, 0, 'a segment with payload, or a SYN, owns its buffer');
      assert.equal(own.buffer.byteLength, own.length);
    }
    assert.deepEqual(marks, [[true, false], [true, false], [false, false], [false, false]], 'each bare segment marked while it is handed up; its slab neighbour never');
    // Completed for a capture while marked: the FIN's bytes, and not the ACK's beside it.
    link.onReceive = (f) => completeForCapture(f);
    dev.deliver([fin]);
    const again = got[1]!;
    assert.deepEqual([again[14 + 36], again[14 + 37]], [fin.frame[14 + 36], fin.frame[14 + 37]], 'the earlier copy is untouched');
    link.onReceive = (f) => {
      completeForCapture(f);
      got.push(f);
    };
    dev.deliver([ack, fin]);
    assert.deepEqual([got[4]![14 + 36], got[4]![14 + 37]], ack.full);
    assert.deepEqual([got[5]![14 + 36], got[5]![14 + 37]], fin.full);
    assert.equal(got[4]!.buffer, got[5]!.buffer);
    for (const f of [got[4]!, got[5]!]) {
      const ip = parseIpv4(f.subarray(14), CHECKSUM_FULL);
      assert.ok(ip.ok);
      assert.ok(parseTcp(ip.value.payload, SYNACK_IP, KERNEL_IP, CHECKSUM_FULL).ok, 'a checksum a capture can verify');
    }
    link.close();
  });
});
