/**
 * analyzeSegments (src/viz/observer.ts): the passive observer fed with
 * segments already parsed — what the gateway's --viz page does with the
 * segments its stack's trace hook saw — follows a connection exactly as
 * analyzeCapture follows the same segments in a pcap: both endpoints'
 * states through RFC 9293's Figure 5 and the same verdicts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runDemo, type DemoOptions } from '../../src/cli/demo.ts';
import { analyzeCapture, analyzeSegments, type SeenSegment, type TraceConnection } from '../../src/viz/observer.ts';
import { parsePcap } from '../../src/wire/pcap.ts';
import { parseIpv4 } from '../../src/wire/ipv4.ts';
import { parseTcp } from '../../src/wire/tcp.ts';
import { CHECKSUM_OFFLOAD } from '../../src/wire/types.ts';

function segmentsOf(file: Uint8Array): SeenSegment[] {
  const p = parsePcap(file);
  assert.ok(p.ok);
  return p.records.map((r) => {
    const ip = parseIpv4(r.data, CHECKSUM_OFFLOAD);
    assert.ok(ip.ok);
    const t = parseTcp(ip.value.payload, ip.value.header.src, ip.value.header.dst, CHECKSUM_OFFLOAD);
    assert.ok(t.ok);
    return { timeUs: r.tsMicros, src: ip.value.header.src, dst: ip.value.header.dst, tcp: t.value };
  });
}

const summary = (c: TraceConnection) => ({ initial: c.initial, midstream: c.midstream, bytes: c.bytes, segs: c.segments.map((s) => ({ flags: s.flagsText, states: s.states, verdicts: s.verdicts, relSeq: s.relSeq, relAck: s.relAck, transitions: s.transitions })) });

for (const [name, opts] of [
  ['a clean exchange: 3-way handshake, data, 4-way close with TIME-WAIT (RFC 9293 §3.5, §3.6)', {}],
  ['with loss: retransmissions are marked the same way', { loss: 0.2, seed: 3, bytes: 20000 }],
] as Array<[string, Partial<DemoOptions>]>) {
  test(`analyzeSegments follows parsed segments as analyzeCapture follows the pcap: ${name}`, () => {
    const r = runDemo({ ...opts, pcap: true }, () => {});
    const fromPcap = analyzeCapture(r.pcap!);
    assert.ok(fromPcap.ok);
    const fromSegs = analyzeSegments(segmentsOf(r.pcap!));
    assert.equal(fromSegs.length, fromPcap.connections.length);
    assert.deepEqual(fromSegs.map(summary), fromPcap.connections.map(summary));
    const c = fromSegs[0]!;
    assert.deepEqual(c.segments.at(-1)!.states, ['TIME-WAIT', 'CLOSED']);
    if (opts.loss) assert.ok((c.counts.retransmission ?? 0) > 0, 'the lossy run has a retransmission to mark');
  });
}
