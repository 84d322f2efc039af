/**
 * tshark judges the IPv6 and ICMPv6 packets synack's codecs emit: a pcap
 * (LINKTYPE_RAW carries IPv6 as well as IPv4) of TCP behind extension
 * headers, echo, every error type, fragments and a reassembled datagram must
 * decode with no malformed packet, no expert error and every checksum good.
 * tshark is required in CI; outside CI the test skips when it is missing.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inCi } from '../support/ci.ts';
import { LINKTYPE_RAW, pcapGlobalHeader, pcapRecord } from '../../src/wire/pcap.ts';
import { concatBytes, setU16, setU32 } from '../../src/wire/bytes.ts';
import { checksum } from '../../src/wire/checksum.ts';
import { emitTcp } from '../../src/wire/tcp.ts';
import { emitIpv6, ipv6PseudoHeaderSum, parseIpv6, parseIpv6Addr, walkIpv6, type Ipv6Addr } from '../../src/wire/ipv6.ts';
import { emitIcmpv6, icmpv6Len, type Icmpv6Repr } from '../../src/wire/icmpv6.ts';
import { Reassembler } from '../../src/ip/reassembly.ts';
import { ACK, CHECKSUM_FULL, CHECKSUM_OFFLOAD, SYN, type TcpRepr } from '../../src/wire/types.ts';

const haveTshark = spawnSync('tshark', ['-v'], { encoding: 'utf8' }).status === 0;
const skip = !haveTshark && !inCi() ? 'tshark is not installed (required in CI)' : false;

const A = parseIpv6Addr('2001:db8::1')!;
const B = parseIpv6Addr('2001:db8::2')!;
const R = parseIpv6Addr('2001:db8::fe')!;

function ipv6(src: Ipv6Addr, dst: Ipv6Addr, nh: number, payload: Uint8Array, flowLabel = 0): Uint8Array {
  const p = new Uint8Array(40 + payload.length);
  emitIpv6({ src, dst, trafficClass: 0, flowLabel, payloadLen: payload.length, nextHeader: nh, hopLimit: 64 }, p, 0);
  p.set(payload, 40);
  return p;
}

/** A TCP segment with its checksum over the IPv6 pseudo-header (RFC 8200 §8.1). */
function tcp6(src: Ipv6Addr, dst: Ipv6Addr, repr: TcpRepr): Uint8Array {
  const seg = new Uint8Array(20 + 4 * Math.ceil(repr.options.reduce((n, o) => n + (o.kind === 'mss' ? 4 : o.kind === 'nop' ? 1 : 0), 0) / 4) + repr.payload.length);
  const n = emitTcp(repr, 0, 0, seg, 0, CHECKSUM_OFFLOAD);
  setU16(seg, 16, checksum(seg, 0, n, ipv6PseudoHeaderSum(src, dst, 6, n)));
  return seg.subarray(0, n);
}

function udp6(src: Ipv6Addr, dst: Ipv6Addr, sport: number, dport: number, data: Uint8Array): Uint8Array {
  const u = new Uint8Array(8 + data.length);
  setU16(u, 0, sport);
  setU16(u, 2, dport);
  setU16(u, 4, u.length);
  u.set(data, 8);
  setU16(u, 6, checksum(u, 0, u.length, ipv6PseudoHeaderSum(src, dst, 17, u.length)) || 0xffff);
  return u;
}

function icmp6(src: Ipv6Addr, dst: Ipv6Addr, m: Icmpv6Repr): Uint8Array {
  const b = new Uint8Array(icmpv6Len(m));
  emitIcmpv6(m, src, dst, b, 0, CHECKSUM_FULL);
  return ipv6(src, dst, 58, b);
}

function tshark(file: string, args: string[]): string {
  const r = spawnSync('tshark', ['-n', '-r', file, '-o', 'tcp.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE', ...args], { encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`tshark ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

describe('wire/ipv6 + icmpv6 judged by tshark', { skip }, () => {
  test('RFC 8200, RFC 4443: every packet synack emits decodes without a malformed flag, every checksum good', () => {
    const syn: TcpRepr = { srcPort: 40000, dstPort: 80, seq: 1, ack: 0, flags: SYN, window: 65535, urgentPointer: 0, options: [{ kind: 'mss', value: 1440 }], payload: new Uint8Array(0) };
    const synSeg = tcp6(A, B, syn);
    const packets: Uint8Array[] = [];
    // TCP directly and behind Hop-by-Hop (PadN) + Destination Options (Pad1 ×2, PadN).
    const plainSyn = ipv6(A, B, 6, synSeg, 0x12345);
    packets.push(plainSyn);
    packets.push(ipv6(A, B, 0, concatBytes([new Uint8Array([60, 0, 1, 4, 0, 0, 0, 0, 6, 0, 0, 0, 1, 2, 0, 0]), synSeg])));
    const data = new Uint8Array(1340).fill(0x7a);
    const big = ipv6(A, B, 6, tcp6(A, B, { ...syn, flags: ACK, ack: 1, options: [], payload: data }));
    packets.push(big);
    // ICMPv6 echo and errors.
    packets.push(icmp6(A, B, { kind: 'echo-request', code: 0, ident: 0x1234, seq: 1, data: new TextEncoder().encode('synack ping') }));
    packets.push(icmp6(B, A, { kind: 'echo-reply', code: 0, ident: 0x1234, seq: 1, data: new TextEncoder().encode('synack ping') }));
    const ptb = icmp6(R, A, { kind: 'packet-too-big', code: 0, mtu: 1280, invoking: big });
    assert.equal(ptb.length, 1280);
    packets.push(ptb);
    packets.push(icmp6(B, A, { kind: 'dest-unreachable', code: 4, invoking: plainSyn }));
    packets.push(icmp6(B, A, { kind: 'parameter-problem', code: 1, pointer: 6, invoking: ipv6(A, B, 253, new Uint8Array(8)) }));
    // A UDP datagram, its fragments (RFC 8200 §4.5), and the datagram reassembled by synack.
    const payload = new Uint8Array(600).map((_, i) => i & 0xff);
    const whole = ipv6(A, B, 17, udp6(A, B, 5000, 6000, payload));
    packets.push(whole);
    const frags: Uint8Array[] = [];
    const body = whole.subarray(40);
    for (let s = 0; s < body.length; s += 256) {
      const e = Math.min(body.length, s + 256);
      const fh = new Uint8Array(8);
      fh[0] = 17;
      setU16(fh, 2, s | (e < body.length ? 1 : 0));
      setU32(fh, 4, 0xabcdef01);
      frags.push(ipv6(A, B, 44, concatBytes([fh, body.subarray(s, e)])));
    }
    packets.push(...frags);
    const r = new Reassembler();
    let rebuilt: Uint8Array | null = null;
    for (const f of [...frags].reverse()) {
      const p = parseIpv6(f);
      assert.ok(p.ok);
      const w = walkIpv6(p.value.packet);
      assert.ok(w.ok && w.kind === 'fragment');
      const res = r.addV6(p.value.packet, w.fragment, 0);
      if (res.kind === 'complete') rebuilt = res.packet;
    }
    assert.ok(rebuilt !== null);
    assert.deepEqual(rebuilt, whole);
    packets.push(rebuilt);
    packets.push(icmp6(B, A, { kind: 'time-exceeded', code: 1, invoking: frags[0]! }));

    const dir = mkdtempSync(join(tmpdir(), 'synack-ipv6-'));
    try {
      const file = join(dir, 'ipv6.pcap');
      writeFileSync(file, concatBytes([pcapGlobalHeader(65535, LINKTYPE_RAW), ...packets.map((p, i) => pcapRecord(1_000_000 + i * 1000, p))]));
      const all = tshark(file, ['-T', 'fields', '-e', 'frame.number', '-e', 'ipv6.src', '-e', 'ipv6.nxt']).trim().split('\n');
      assert.equal(all.length, packets.length, 'tshark read every packet');
      for (const line of all) assert.match(line, /^\d+\t2001:db8::/, `decoded as IPv6: ${line}`);
      // The TCP segment quoted (cut at 1232 octets) in the Packet Too Big cannot have its checksum
      // verified, and tshark reports that as an expert error inside the quote: there only the
      // ICMPv6 checksum and malformation are judged.
      const bad = tshark(file, [
        '-Y',
        '_ws.malformed || icmpv6.checksum.status == 0 || (!(icmpv6.type == 2) && (_ws.expert.severity == error || tcp.checksum.status == 0 || udp.checksum.status == 0))',
      ]);
      assert.equal(bad.trim(), '', `tshark flags packets:\n${bad}`);
      // The checksums were verified good, not skipped.
      const icmpGood = tshark(file, ['-Y', 'icmpv6.checksum.status == 1', '-T', 'fields', '-e', 'icmpv6.type']).trim().split('\n');
      assert.deepEqual(icmpGood.map((l) => l.split(',')[0]), ['128', '129', '2', '1', '4', '3']);
      const tcpGood = tshark(file, ['-Y', 'tcp.checksum.status == 1 && !icmpv6', '-T', 'fields', '-e', 'frame.number']).trim().split('\n');
      assert.equal(tcpGood.length, 3, 'the three TCP segments');
      const udpGood = tshark(file, ['-Y', 'udp.checksum.status == 1 && !icmpv6', '-T', 'fields', '-e', 'frame.number']).trim().split('\n');
      assert.ok(udpGood.length >= 3, `UDP checksum good in the whole, the reassembled and tshark's own reassembly: ${udpGood.join(' ')}`);
      // The extension headers and the Packet Too Big MTU as tshark reads them.
      assert.equal(tshark(file, ['-Y', 'frame.number == 2', '-T', 'fields', '-e', 'ipv6.hopopts.nxt', '-e', 'ipv6.dstopts.nxt']).trim(), '60\t6');
      assert.equal(tshark(file, ['-Y', 'icmpv6.type == 2', '-T', 'fields', '-e', 'icmpv6.mtu']).trim(), '1280');
      assert.equal(tshark(file, ['-Y', 'frame.number == 1', '-T', 'fields', '-e', 'ipv6.flow']).trim(), '0x012345');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
