/**
 * Blind injection over TUN (issue 6 items 1 and 6; RFC 5961): while a kernel
 * client streams data through synack's echo service, a scapy attacker on
 * the kernel side (test/attack/inject.py) spoofs the client's 4-tuple with
 * guessed, in-window sequence numbers:
 *
 *   - RST in the window but not exactly at RCV.NXT (RFC 5961 §3)
 *   - SYN in the window (RFC 5961 §4)
 *   - data in the window (and at RCV.NXT) whose ACK is outside the
 *     acceptable range: older than SND.UNA − MAX.SND.WND (RFC 5961 §5) and
 *     beyond anything synack sent (RFC 9293 §3.10.7.4)
 *
 * The connection must survive and the echoed stream must be byte-identical
 * (SHA-256); synack's challengeAcks counter must rise and it must not count
 * an accepted reset.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Netns, ready, type Proc } from '../interop/helpers.ts';
import { ATTACK_PEER, INJECT, attackSkip, readStats, scapyPython } from './lib.ts';

const skip = attackSkip([], { scapy: true });
// A multiple of 16 KiB, so every segment the client sends has an even length
// (the injector's odd offsets then never land exactly on RCV.NXT).
const BYTES = 16 * 1024 * 1024;
const SECONDS = 8;

describe('attack: blind RST, SYN and data injection (scapy) against synack echo over TUN', { skip, timeout: 90_000 }, () => {
  const ns = new Netns({ tag: 'inject', subnet: 202 });
  let serve: Proc;
  const S = ns.synackAddr;

  before(async () => {
    ns.setup();
    serve = ns.synack('serve', ['--echo', '7', '--stats'], { timeoutMs: 85_000 });
    await ready(serve);
  });

  after(async () => {
    serve?.kill('SIGTERM');
    await ns.cleanup();
  });

  it('the connection survives and the echoed stream is unchanged', async () => {
    const py = scapyPython()!;
    const before = await readStats(serve);
    // The attacker starts watching first, then attacks from 1.5 s into the connection for 5 s.
    const attacker = ns.spawn([py, INJECT, 'tun0', S, '7', '1.5', '5'], { timeoutMs: 60_000 });
    await attacker.waitFor(/"listening"/, 20_000);
    const client = ns.spawn(['python3', ATTACK_PEER, 'paced-echo', S, '7', String(BYTES), String(SECONDS)], { timeoutMs: 60_000 });
    const [ac, cc] = await Promise.all([attacker.exited, client.exited]);
    const after = await readStats(serve);
    assert.equal(ac, 0, `injector: ${attacker.stdout()} ${attacker.stderr().slice(-2000)}`);
    assert.equal(cc, 0, `client: ${client.stderr().slice(-2000)}`);
    const a = JSON.parse(attacker.stdout().trim().split('\n').at(-1)!) as { sent: Record<string, number>; rounds: number; seen: number; min_offset: number; max_offset: number };
    const r = JSON.parse(client.stdout().trim().split('\n').at(-1)!) as { sent: number; received: number; sent_sha: string; received_sha: string; errors: string[]; seconds: number };
    const challenge = after.challengeAcks - before.challengeAcks;
    const drops = Object.fromEntries(Object.entries(after.drops).map(([k, v]) => [k, v - (before.drops[k] ?? 0)]).filter(([, v]) => (v as number) > 0));
    console.log(
      `# injected ${JSON.stringify(a.sent)} in ${a.rounds} rounds (RST offsets ${a.min_offset}..${a.max_offset} past the highest client byte seen); ` +
        `client echoed ${r.received} bytes in ${r.seconds.toFixed(1)} s; synack: challenge ACKs +${challenge}, resets received +${after.resetsReceived - before.resetsReceived}, drops ${JSON.stringify(drops)}`,
    );
    assert.ok(a.sent['rst']! > 0 && a.sent['syn']! > 0 && a.sent['data-old']! > 0 && a.sent['data-new']! > 0, 'every kind of segment was injected');
    assert.deepEqual(r.errors, [], 'the connection was neither reset nor broken');
    assert.equal(r.received, BYTES, 'every byte came back');
    assert.equal(r.received_sha, r.sent_sha, 'the echoed stream is byte-identical: nothing injected was accepted');
    // Nearly every RST and SYN lands in the window (a few race the stream and
    // fall behind RCV.NXT: those are dropped as unacceptable). Each one draws
    // a challenge ACK or, beyond the per-connection limit (RFC 5961 §7: one
    // per 500 ms), is counted as suppressed.
    const rstSyn = a.sent['rst']! + a.sent['syn']!;
    const limited = drops['tcp-challenge-ack-limited'] ?? 0;
    assert.ok(challenge >= 1, `synack answered blind RSTs/SYNs with challenge ACKs (+${challenge})`);
    assert.ok(challenge + limited >= rstSyn / 2, `each blind RST/SYN in the window drew a challenge ACK or was counted as throttled (+${challenge} sent, +${limited} throttled, for ${rstSyn})`);
    assert.ok(limited > 0, `the per-connection limit (one per 500 ms; exact in test/tcp/states.test.ts) throttled the rest (+${limited})`);
    assert.ok((drops['tcp-bad-ack'] ?? 0) > 0, 'the injected data with an unacceptable ACK was dropped');
    assert.equal(after.resetsReceived, before.resetsReceived, 'no injected RST was accepted');
  });
});
