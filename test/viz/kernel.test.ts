/**
 * Real kernel-to-kernel TCP, captured by tshark on a veth between two network
 * namespaces that this test creates (and removes in `after`, even on
 * failure): the observer's verdicts (retransmission, out-of-order, zero
 * window, reset) must match tshark's tcp.analysis flags frame by frame, and
 * its inferred states must follow the connections through the handshake,
 * the close and the reset.
 *
 * Traffic stays inside the namespaces. A tbf qdisc with a small queue on the
 * client's side drops packets of the bulk transfer, so the kernel
 * retransmits; a receiver with a tiny buffer that sleeps closes its window;
 * SO_LINGER 0 sends a RST. Needs root: skipped outside CI when not root.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { analyzeCapture } from '../../src/viz/observer.ts';
import { disagreements, observerVerdicts, tally, tsharkVerdicts } from './helpers.ts';
import { inCi } from '../support/ci.ts';

const isRoot = process.getuid?.() === 0;
const skip = !isRoot && !inCi() ? 'needs root to create network namespaces (runs in CI)' : false;

const pid = process.pid;
const NS_A = `synack-viz-a-${pid}`;
const NS_B = `synack-viz-b-${pid}`;
const VA = `sva${pid}`.slice(0, 15);
const VB = `svb${pid}`.slice(0, 15);
const ADDR_A = '10.213.77.1';
const ADDR_B = '10.213.77.2';
const dir = mkdtempSync(join(tmpdir(), 'synack-viz-kernel-'));
const peer = new URL('./kernel_peer.py', import.meta.url).pathname;
const children: ChildProcess[] = [];

function sh(args: string[]): void {
  const r = spawnSync(args[0]!, args.slice(1), { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${args.join(' ')} failed (${r.status}): ${r.stderr}`);
}

after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  spawnSync('ip', ['netns', 'del', NS_A], { stdio: 'ignore' });
  spawnSync('ip', ['netns', 'del', NS_B], { stdio: 'ignore' });
  rmSync(dir, { recursive: true, force: true });
});

function waitFor(child: ChildProcess, stream: 'stdout' | 'stderr', re: RegExp, ms: number): Promise<void> {
  return new Promise((ok, fail) => {
    let buf = '';
    const timer = setTimeout(() => fail(new Error(`timed out waiting for ${re} (got: ${buf})`)), ms);
    child[stream]!.on('data', (d: Buffer) => {
      buf += d.toString();
      if (re.test(buf)) {
        clearTimeout(timer);
        ok();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (!re.test(buf)) fail(new Error(`exited (${code}) before ${re}: ${buf}`));
    });
  });
}

function exited(child: ChildProcess, ms: number): Promise<number | null> {
  return new Promise((ok, fail) => {
    if (child.exitCode !== null) return ok(child.exitCode);
    const timer = setTimeout(() => fail(new Error('process did not exit in time')), ms);
    child.once('exit', (code) => {
      clearTimeout(timer);
      ok(code);
    });
  });
}

test('kernel TCP on a veth: the observer agrees with tshark tcp.analysis frame by frame and follows the states', { skip, timeout: 90_000 }, async () => {
  for (const tool of ['ip', 'tc', 'tshark', 'python3']) {
    assert.equal(spawnSync('sh', ['-c', `command -v ${tool}`]).status, 0, `${tool} is installed`);
  }
  sh(['ip', 'netns', 'add', NS_A]);
  sh(['ip', 'netns', 'add', NS_B]);
  sh(['ip', 'netns', 'exec', NS_A, 'ip', 'link', 'add', VA, 'type', 'veth', 'peer', 'name', VB, 'netns', NS_B]);
  sh(['ip', 'netns', 'exec', NS_A, 'ip', 'addr', 'add', `${ADDR_A}/24`, 'dev', VA]);
  sh(['ip', 'netns', 'exec', NS_B, 'ip', 'addr', 'add', `${ADDR_B}/24`, 'dev', VB]);
  for (const [ns, dev] of [
    [NS_A, VA],
    [NS_B, VB],
  ] as const) {
    sh(['ip', 'netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up']);
    sh(['ip', 'netns', 'exec', ns, 'ip', 'link', 'set', dev, 'up']);
  }
  // A small queue at a bottleneck: slow start overflows it and the kernel retransmits.
  sh(['ip', 'netns', 'exec', NS_A, 'tc', 'qdisc', 'add', 'dev', VA, 'root', 'tbf', 'rate', '40mbit', 'burst', '12kb', 'limit', '16kb']);

  const pcap = join(dir, 'kernel.pcap');
  const cap = spawn('ip', ['netns', 'exec', NS_B, 'tshark', '-i', VB, '-f', 'tcp', '-F', 'pcap', '-w', pcap], { stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(cap);
  await waitFor(cap, 'stderr', /Capturing on/, 20_000);

  const server = spawn('ip', ['netns', 'exec', NS_B, 'python3', peer, 'server', ADDR_B], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(server);
  await waitFor(server, 'stdout', /ready/, 10_000);
  const client = spawnSync('ip', ['netns', 'exec', NS_A, 'python3', peer, 'client', ADDR_B], { encoding: 'utf8', timeout: 40_000 });
  assert.equal(client.status, 0, `client: ${client.stdout}${client.stderr}`);
  assert.equal(await exited(server, 20_000), 0);
  await new Promise((r) => setTimeout(r, 500));
  cap.kill('SIGINT');
  await exited(cap, 20_000);
  assert.ok(existsSync(pcap), 'tshark wrote the capture');

  const bytes = readFileSync(pcap);
  const a = analyzeCapture(bytes);
  assert.ok(a.ok, 'the capture parses');
  if (!a.ok) return;
  assert.equal(a.connections.length, 3, `three connections: ${a.connections.map((c) => c.endpoints.join(' ')).join('; ')}`);

  const ours = observerVerdicts(bytes);
  const theirs = tsharkVerdicts(pcap);
  const t = tally(theirs);
  console.log('kernel capture: tshark', JSON.stringify(t), 'observer', JSON.stringify(tally(ours)), 'frames', theirs.size);
  assert.deepEqual(disagreements(ours, theirs), [], `verdicts differ (tshark tally ${JSON.stringify(t)})`);
  // The scenario produced what it was built to produce.
  assert.ok(t.zero_window > 0, `zero windows on the wire: ${JSON.stringify(t)}`);
  assert.ok(t.reset > 0, `a reset on the wire: ${JSON.stringify(t)}`);
  assert.ok(t.retransmission + t.out_of_order > 0, `the bottleneck caused retransmissions: ${JSON.stringify(t)}`);

  // States: the two graceful connections go through the handshake and the close; the third ends in a reset.
  const [bulk, zw, rst] = a.connections;
  for (const c of [bulk!, zw!]) {
    const seq0 = [c.initial[0], ...c.segments.flatMap((s) => s.transitions.filter((x) => x.side === 0).map((x) => x.to))];
    const seq1 = [c.initial[1], ...c.segments.flatMap((s) => s.transitions.filter((x) => x.side === 1).map((x) => x.to))];
    assert.deepEqual(seq0.slice(0, 4), ['CLOSED', 'SYN-SENT', 'ESTABLISHED', 'FIN-WAIT-1'], `client of ${c.endpoints.join(' ')}: ${seq0.join(' → ')}`);
    assert.deepEqual(seq1.slice(0, 3), ['LISTEN', 'SYN-RECEIVED', 'ESTABLISHED'], `server of ${c.endpoints.join(' ')}: ${seq1.join(' → ')}`);
    assert.ok(seq0.includes('TIME-WAIT'), `the client reaches TIME-WAIT: ${seq0.join(' → ')}`);
    assert.equal(seq1[seq1.length - 1], 'CLOSED', `the server ends CLOSED: ${seq1.join(' → ')}`);
  }
  const last = rst!.segments[rst!.segments.length - 1]!;
  assert.ok(rst!.segments.some((s) => s.verdicts.includes('reset')), 'the third connection carries a RST');
  assert.deepEqual(last.states, ['CLOSED', 'CLOSED'], 'both ends are CLOSED after the reset');
  assert.ok((zw!.counts['zero-window'] ?? 0) > 0, 'the zero window is on the second connection');
});
