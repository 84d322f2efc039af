/**
 * Resource bounds over TUN (issue 6 items 4 and 6): synack's chargen service
 * (which writes as fast as the peer takes it) faces a slow reader and 20
 * zero-window peers (kernel sockets with a ~2 KiB SO_RCVBUF that never
 * read). The bytes synack holds per connection must stay bounded — the send
 * buffer is capped (`--window`; `sendQueuedMax` in the stats), chargen waits
 * for 'drain' (`writableMax`) — counted, not measured as RSS (RSS is printed
 * for information only: it depends on the GC, not on synack's bounds) — the
 * slow reader must keep being served, and the zero-window connections must
 * be dropped by the persist limit (`--persist-timeout 2`; with the persist timer's backoff the drop comes
 * some seconds later), counted in
 * drops['tcp-persist-limit'].
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Netns, ready, type Proc } from '../interop/helpers.ts';
import { attackPeer, attackSkip, readStats, rssKiB, sleep } from './lib.ts';

const skip = attackSkip([]);
const WINDOW = 256 * 1024;
const ZERO_WINDOW_PEERS = 20;
const PERSIST_S = 2;
/** chargen's write unit (src/cli/serve.ts chargenBlock); the stream queue holds at most one beyond its high-water mark. */
const CHARGEN_BLOCK = 64 * 1024;
const WRITABLE_LIMIT = CHARGEN_BLOCK + 64 * 1024;

describe('attack: a slow reader and zero-window peers against synack chargen over TUN', { skip, timeout: 90_000 }, () => {
  const ns = new Netns({ tag: 'resources', subnet: 203 });
  let serve: Proc;
  const S = ns.synackAddr;

  before(async () => {
    ns.setup();
    serve = ns.synack('serve', ['--chargen', '19', '--window', String(WINDOW), '--persist-timeout', String(PERSIST_S), '--stats'], { timeoutMs: 85_000 });
    await ready(serve);
  });

  after(async () => {
    serve?.kill('SIGTERM');
    await ns.cleanup();
  });

  it('the bytes held per connection stay within the send buffer, the slow reader is served, the zero-window peers are dropped by the persist limit', async () => {
    await sleep(500);
    const base = rssKiB(serve.pid);
    assert.ok(base !== null, 'synack serve is running');
    let peak = base;
    const samples: number[] = [];
    const sampler = setInterval(() => {
      const r = rssKiB(serve.pid);
      if (r !== null) {
        samples.push(r);
        peak = Math.max(peak, r);
      }
    }, 100);
    try {
      const slow = attackPeer(ns, ['slow-reader', S, '19', '18', '4096', '0.05'], 40_000);
      const zero = attackPeer(ns, ['zero-window', S, '19', String(ZERO_WINDOW_PEERS), '18'], 40_000);
      // While both run: once the persist limit has had time to act, the zero-window connections are gone.
      let mid = await readStats(serve);
      let sendQueuedMax = mid['sendQueuedMax']!;
      let writableMax = mid['writableMax']!;
      const t0 = Date.now();
      while (((mid.drops['tcp-persist-limit'] ?? 0) < ZERO_WINDOW_PEERS || mid['openSockets'] !== 1) && Date.now() - t0 < 16_000) {
        await sleep(250);
        mid = await readStats(serve);
        sendQueuedMax = Math.max(sendQueuedMax, mid['sendQueuedMax']!);
        writableMax = Math.max(writableMax, mid['writableMax']!);
      }
      const droppedAfter = (Date.now() - t0) / 1000;
      const [s, z] = await Promise.all([slow, zero]);
      const end = await readStats(serve);
      console.log(
        `# held per connection at most: ${sendQueuedMax} B in the send buffer (window ${WINDOW}), ${writableMax} B in the stream queue (limit ${WRITABLE_LIMIT}); ` +
          `RSS (information only) ${Math.round(base / 1024)} MiB idle, peak ${Math.round(peak / 1024)} MiB; ` +
          `slow reader got ${s['received']} bytes in ${Number(s['seconds']).toFixed(1)} s; zero-window peers (rcvbuf ${z['rcvbuf']}) dropped by the persist limit within ${droppedAfter.toFixed(1)} s of the check; ` +
          `drops ${JSON.stringify(end.drops)}`,
      );
      assert.equal(s['error'], null, `the slow reader was served to the end: ${JSON.stringify(s)}`);
      assert.ok((s['received'] as number) >= (s['reads'] as number) * 1024, 'the slow reader got data on every read');
      assert.equal(mid.drops['tcp-persist-limit'], ZERO_WINDOW_PEERS, `every zero-window connection hit the persist limit: ${JSON.stringify(mid)}`);
      assert.equal(mid['openSockets'], 1, 'only the slow reader was left');
      assert.ok(typeof sendQueuedMax === 'number' && sendQueuedMax > 0, 'chargen filled a send buffer');
      assert.ok(sendQueuedMax <= WINDOW, `no connection held more than its send buffer: ${sendQueuedMax} B`);
      assert.ok(writableMax <= WRITABLE_LIMIT, `chargen waited for 'drain': at most ${writableMax} B queued in a stream`);
      assert.ok(rssKiB(serve.pid) !== null, 'synack serve is still running');
    } finally {
      clearInterval(sampler);
    }
  });
});
