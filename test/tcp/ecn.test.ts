/**
 * Explicit Congestion Notification (RFC 3168): negotiation, the echo of CE
 * marks, the sender's reaction, and end to end over a marking bottleneck.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ACK, SYN, LOCAL, REMOTE, LOCAL_ISS, REMOTE_ISS, Fixture, inSynSent, text, seqAdd } from './harness.ts';
import { CWR, ECE } from '../../src/wire/types.ts';
import { Network } from '../../src/sim/network.ts';
import { parseIpv4Addr } from '../../src/wire/bytes.ts';
import type { Connection } from '../../src/tcp/connection.ts';

const L1 = seqAdd(LOCAL_ISS, 1);
const R1 = seqAdd(REMOTE_ISS, 1);

function ecnEstablished(): Fixture {
  const f = inSynSent({ ecn: true, noDelay: true });
  f.peer({ flags: SYN | ACK | ECE, seq: REMOTE_ISS, ack: L1, options: [{ kind: 'mss', value: 1460 }] });
  f.peerSeq = R1;
  f.host.sent.length = 0;
  return f;
}

describe('ECN (RFC 3168)', () => {
  test('negotiation: the SYN carries ECE+CWR, a SYN,ACK with ECE (not CWR) enables ECN (§6.1.1)', () => {
    const f = new Fixture({ ecn: true });
    f.conn.open({ ...LOCAL, ...REMOTE }, LOCAL_ISS, 0);
    assert.equal(f.host.sent[0]!.flags & (ECE | CWR), ECE | CWR);
    f.peer({ flags: SYN | ACK | ECE, seq: REMOTE_ISS, ack: L1 });
    assert.equal(f.conn.ecnEnabled, true);
    const g = new Fixture({ ecn: true });
    g.conn.open({ ...LOCAL, ...REMOTE }, LOCAL_ISS, 0);
    g.peer({ flags: SYN | ACK, seq: REMOTE_ISS, ack: L1 });
    assert.equal(g.conn.ecnEnabled, false, 'a peer that does not answer ECE leaves ECN off');
  });
  test('negotiation: a listener answers an ECN-setup SYN with SYN,ACK+ECE only when ECN is on (§6.1.1)', () => {
    const on = new Fixture({ ecn: true });
    on.conn.listen(LOCAL, 0);
    on.conn.remoteAddr = REMOTE.remoteAddr;
    on.conn.remotePort = REMOTE.remotePort;
    on.peer({ flags: SYN | ECE | CWR, seq: REMOTE_ISS, ack: 0 });
    assert.equal(on.host.sent[0]!.flags & (ECE | CWR), ECE);
    const off = new Fixture();
    off.conn.listen(LOCAL, 0);
    off.conn.remoteAddr = REMOTE.remoteAddr;
    off.conn.remotePort = REMOTE.remotePort;
    off.peer({ flags: SYN | ECE | CWR, seq: REMOTE_ISS, ack: 0 });
    assert.equal(off.host.sent[0]!.flags & (ECE | CWR), 0);
  });
  test('receiver: a CE-marked segment makes every ACK carry ECE until a CWR arrives (§6.1.3)', () => {
    const f = ecnEstablished();
    f.conn.onSegment({ srcPort: 80, dstPort: 49152, seq: R1, ack: L1, flags: ACK, window: 65535, urgentPointer: 0, options: [], payload: text('x') }, 0, 3);
    assert.ok(f.host.sent.at(-1)!.flags & ECE, 'the ACK of the CE segment echoes ECE');
    f.peer({ flags: ACK, seq: seqAdd(R1, 1), payload: 'y' });
    f.tick(f.conn.nextDeadline());
    assert.ok(f.host.sent.at(-1)!.flags & ECE, 'still echoing');
    f.peer({ flags: ACK | CWR, seq: seqAdd(R1, 2), payload: 'z' });
    f.tick(f.conn.nextDeadline());
    assert.equal(f.host.sent.at(-1)!.flags & ECE, 0, 'CWR ends the echo');
  });
  test('sender: an ECE reduces cwnd once per window and the next new data carries CWR; new data is ECT(0) (§6.1.2, §6.1.5)', () => {
    const f = ecnEstablished();
    const ecn: number[] = [];
    const orig = f.host.transmit.bind(f.host);
    f.host.transmit = (c, seg, ipEcn) => {
      ecn.push(ipEcn ?? 0);
      orig(c, seg);
    };
    f.conn.send(new Uint8Array(4000), 0);
    assert.ok(ecn.every((e) => e === 2), 'data segments are ECT(0)');
    const cwnd0 = f.conn.cwnd;
    f.peer({ flags: ACK | ECE, ack: seqAdd(L1, 1448), at: 1000 });
    assert.ok(f.conn.cwnd < cwnd0, 'cwnd reduced');
    const reduced = f.conn.cwnd;
    f.peer({ flags: ACK | ECE, ack: seqAdd(L1, 2896), at: 2000 });
    assert.equal(f.conn.ecnReductions, 1, 'at most once per window');
    assert.ok(f.conn.cwnd >= reduced - 1);
    const { sent } = f.call((c, now) => c.send(new Uint8Array(100), now));
    const withData = [...sent].filter((s) => s.payload.length > 0);
    assert.ok(withData.length === 0 || withData[0]!.flags & CWR, 'the next new segment carries CWR');
  });
  test('end to end: over a bottleneck that marks instead of dropping, ECN transfers with CE marks and no loss-driven retransmission', () => {
    const A = parseIpv4Addr('10.0.0.1')!;
    const B = parseIpv4Addr('10.0.0.2')!;
    const net = new Network({ seed: 4 });
    const hub = net.addHub({ impair: { delayUs: 10_000, bandwidthBps: 20e6, queueLimit: 200, ecnMarkThreshold: 20 } });
    const cfg = { ecn: true, recvBufferBytes: 4 << 20, sendBufferBytes: 4 << 20 };
    const a = net.addStack({ tcp: cfg });
    const b = net.addStack({ tcp: cfg });
    net.attach(a, hub, A);
    net.attach(b, hub, B);
    let server: Connection | null = null;
    b.listen(80, { onConnection: (c) => (server = c) });
    const c = a.connect(B, 80);
    const total = 4 << 20;
    let sent = 0;
    let got = 0;
    const chunk = new Uint8Array(64 * 1024);
    net.runUntil(() => {
      if (c.state === 'ESTABLISHED') while (sent < total) {
        const n = a.send(c, chunk.subarray(0, Math.min(chunk.length, total - sent)));
        if (!n) break;
        sent += n;
      }
      if (server) for (const p of b.read(server)) got += p.length;
      return got >= total;
    });
    assert.equal(c.ecnEnabled, true);
    assert.ok(hub.stats.ceMarked > 0, 'the bottleneck marked packets');
    assert.ok(c.ecnReductions > 0, 'the sender reacted to ECE');
    assert.equal(hub.stats.queueDrops, 0, 'the queue never overflowed');
    assert.equal(a.counters.retransmits, 0);
  });
});
