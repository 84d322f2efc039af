import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { formatIcmpEcho, formatPacket, formatSegment, formatTcpOption, tcpdumpFlags } from '../../src/wire/pretty.ts';
import { emitIpv4Tcp } from '../../src/wire/tcp.ts';
import { ACK, CHECKSUM_FULL, ECE, FIN, PSH, RST, SYN, URG } from '../../src/wire/types.ts';
import type { TcpRepr } from '../../src/wire/types.ts';
import { LINUX_SYN } from './fixtures.ts';

const A = 0x0a000001;
const B = 0x0a000002;
const BASE: TcpRepr = {
  srcPort: 49152,
  dstPort: 80,
  seq: 123,
  ack: 0,
  flags: SYN,
  window: 65535,
  urgentPointer: 0,
  options: [],
  payload: new Uint8Array(0),
};

describe('wire/pretty', () => {
  test('formatSegment prints a SYN like tcpdump', () => {
    const s = formatSegment(
      { src: A, dst: B },
      { ...BASE, options: [{ kind: 'mss', value: 1460 }, { kind: 'nop' }, { kind: 'window-scale', shift: 7 }] },
    );
    assert.equal(s, '10.0.0.1.49152 > 10.0.0.2.80: Flags [S], seq 123, win 65535, options [mss 1460,nop,wscale 7], length 0');
  });

  test('formatSegment shows ack when ACK is set, seq first:end with data, and urg with URG', () => {
    const s = formatSegment(
      { src: B, dst: A },
      { ...BASE, srcPort: 80, dstPort: 49152, seq: 0xfffffffe, ack: 124, flags: PSH | ACK, window: 502, payload: new Uint8Array(5) },
    );
    assert.equal(s, '10.0.0.2.80 > 10.0.0.1.49152: Flags [P.], seq 4294967294:3, ack 124, win 502, length 5');
    const u = formatSegment({ src: A, dst: B }, { ...BASE, flags: URG | ACK, ack: 1, urgentPointer: 9 });
    assert.equal(u, '10.0.0.1.49152 > 10.0.0.2.80: Flags [.U], seq 123, ack 1, win 65535, urg 9, length 0');
  });

  test('tcpdump flag letters and option spellings', () => {
    assert.equal(tcpdumpFlags(SYN | ACK), 'S.');
    assert.equal(tcpdumpFlags(FIN | ACK), 'F.');
    assert.equal(tcpdumpFlags(RST), 'R');
    assert.equal(tcpdumpFlags(SYN | ECE), 'SE');
    assert.equal(tcpdumpFlags(0), 'none');
    assert.equal(formatTcpOption({ kind: 'sack-permitted' }), 'sackOK');
    assert.equal(formatTcpOption({ kind: 'timestamp', tsval: 1, tsecr: 2 }), 'TS val 1 ecr 2');
    assert.equal(formatTcpOption({ kind: 'sack', blocks: [[1, 2], [5, 9]] }), 'sack 2 {1:2}{5:9}');
    assert.equal(formatTcpOption({ kind: 'unknown', code: 30, data: new Uint8Array([0xab, 1]) }), 'unknown-30 0xab01');
    assert.equal(formatTcpOption({ kind: 'eol' }), 'eol');
  });

  test('formatPacket formats raw IPv4 packets and never throws on garbage', () => {
    assert.equal(
      formatPacket(LINUX_SYN, CHECKSUM_FULL),
      '192.168.1.10.49152 > 93.184.216.34.80: Flags [S], seq 2403080747, win 64240, options [mss 1460,sackOK,TS val 2886793013 ecr 0,nop,wscale 7], length 0',
    );
    assert.equal(formatPacket(new Uint8Array(3)), '[drop ipv4-truncated] 3 bytes');
    const pkt = emitIpv4Tcp({ src: A, dst: B, ttl: 64, tos: 0, ident: 0, dontFragment: false }, BASE, CHECKSUM_FULL);
    pkt[20] = 0;
    pkt[21] = 0; // source port 0
    assert.equal(formatPacket(pkt), '10.0.0.1 > 10.0.0.2: [drop tcp-bad-port] 20 bytes');
    assert.equal(
      formatIcmpEcho({ src: A, dst: B }, { type: 'echo-request', ident: 1, seqNo: 2, data: new Uint8Array(56) }),
      '10.0.0.1 > 10.0.0.2: ICMP echo request, id 1, seq 2, length 64',
    );
  });
});
