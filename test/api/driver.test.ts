/**
 * The real-clock and virtual-clock driver: processes exit when their
 * handles are closed or unref()'d, the virtual clock never spins without
 * ref'd handles, and the real timer drives delayed links.
 */
import { test as nodeTest } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { closed, collect, lan } from './helpers.ts';

const test = (name: string, fn: () => Promise<void>) => nodeTest(name, { timeout: 15_000 }, fn);
const fixture = fileURLToPath(new URL('./fixtures/exit-when-closed.ts', import.meta.url));

function runChild(mode: string) {
  // Generous: a loaded machine takes seconds just to start tsx in a child.
  return spawnSync(process.execPath, ['--import', 'tsx', fixture, mode], { encoding: 'utf8', timeout: 60_000 });
}

test('a script exits by itself once its sockets and servers are closed', async () => {
  const r = runChild('close');
  assert.equal(r.signal, null, 'not killed by the timeout: it exited by itself');
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'done');
});

test('unref() on an open socket and a listening server lets the script exit', async () => {
  const r = runChild('unref');
  assert.equal(r.signal, null, 'not killed by the timeout: it exited by itself');
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'done');
});

test('the real-clock driver arms its timer for link delays and TCP timers', async () => {
  const { a, b, driver } = lan({ impair: { delayUs: 3000 } });
  const srv = b.net.createServer((s) => s.end('delayed'));
  srv.listen(80);
  const c = a.net.connect(80, '10.0.0.2');
  assert.equal((await collect(c)).toString(), 'delayed');
  assert.ok(driver.stats.timerFirings > 0, 'the Node timer fired for the 3 ms link delay');
  await closed(c);
  srv.close();
});

test('settle() after work done outside a turn re-arms the timer without a turn, and what it made due still runs when due', async () => {
  // A link batch or a host socket event runs the stack synchronously; what
  // is left are deadlines (here: the SYN in flight on a 3 ms link).
  const { a, b, driver } = lan({ impair: { delayUs: 3000 } });
  b.stack.listen(80);
  await new Promise((r) => setImmediate(r));
  const turns = driver.stats.turns;
  const conn = a.stack.connect(0x0a000002, 80);
  driver.settle();
  assert.equal(driver.stats.settles, 1, 'the timer was re-armed in place');
  await new Promise((r) => setImmediate(r));
  assert.equal(driver.stats.turns, turns, 'no setImmediate turn ran for it');
  // The timer alone drives the rest of the handshake.
  for (let i = 0; i < 200 && conn.state !== 'ESTABLISHED'; i++) await new Promise((r) => setTimeout(r, 5));
  assert.equal(conn.state, 'ESTABLISHED');
  assert.ok(driver.stats.timerFirings > 0);
});

test('settle() with something due already runs a turn for it', async () => {
  const { a, b, driver } = lan();
  b.stack.listen(80);
  await new Promise((r) => setImmediate(r));
  const conn = a.stack.connect(0x0a000002, 80);
  const settles = driver.stats.settles;
  const turns = driver.stats.turns;
  driver.settle();
  assert.equal(driver.stats.settles, settles, 'not merely re-armed: the SYN is due now');
  for (let i = 0; i < 200 && conn.state !== 'ESTABLISHED'; i++) await new Promise((r) => setImmediate(r));
  assert.equal(conn.state, 'ESTABLISHED');
  assert.ok(driver.stats.turns > turns);
});

test('virtual time runs as fast as possible while handles are ref\'d, then stops (no spinning)', async () => {
  const { a, b, driver, network } = lan({ virtualTime: true, impair: { delayUs: 50_000 } });
  const srv = b.net.createServer((s) => s.end('virtual'));
  srv.listen(80);
  const c = a.net.connect(80, '10.0.0.2');
  assert.equal((await collect(c)).toString(), 'virtual');
  await closed(c);
  await new Promise((r) => srv.close(r));
  assert.ok(network.clock.now() >= 150_000, 'virtual time advanced past a few 50 ms link delays');
  assert.equal(driver.refCount, 0);
  // TIME-WAIT (4 virtual minutes) is still pending, but nothing is ref'd: the clock must stop.
  assert.ok(network.nextDeadline() < Infinity, 'a TIME-WAIT timer is pending');
  const jumps = driver.stats.jumps;
  const t = network.clock.now();
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
  assert.equal(driver.stats.jumps, jumps);
  assert.equal(network.clock.now(), t);
});

test('a connection timeout in virtual time: ETIMEDOUT after the SYN retries, quickly', async () => {
  const { a, hub } = lan({ virtualTime: true });
  hub.setImpairments({ loss: 1 });
  const c = a.net.connect(80, '10.0.0.2');
  const [e] = (await once(c, 'error').catch((x) => [x])) as [Error & { code?: string; syscall?: string }];
  assert.equal(e.code, 'ETIMEDOUT');
  assert.equal(e.syscall, 'connect');
  assert.equal(e.message, 'connect ETIMEDOUT 10.0.0.2:80');
});
