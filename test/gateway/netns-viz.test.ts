/**
 * `--viz` with a real guest: a Linux network namespace (made by this test,
 * `ip netns add`) online through an in-process gateway (`createGateway({
 * downstream: { netns }, viz })`), curl in it fetching a page from a
 * node:http server on the host's 127.0.0.1 through 10.0.2.2. Read over
 * the viz server's HTTP API as the page reads it: the connection's row
 * (state, bytes, the host socket), the Linux guest's segments (its SYN with
 * the window scale option), and the passive observer's inference of the
 * Linux side's states from those segments (analyzeSegments), ending where
 * the gateway's own states say it must: the guest closed first, so it
 * waits in TIME-WAIT while the gateway's side went through LAST-ACK.
 *
 * Needs root, /dev/net/tun, ip, python3, curl and the addon: outside CI it
 * skips saying which is missing; in CI it must run. The namespace is deleted
 * at the end.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import type * as nodeNet from 'node:net';
import { Netns, skipUnlessReady } from '../interop/helpers.ts';
import { createGateway, type Gateway } from '../../src/gateway/gateway.ts';
import type { MonitorDetail, MonitorRow } from '../../src/gateway/monitor.ts';
import { loadGatewayPage } from '../../src/viz/gateway-page.ts';
import { analyzeSegments } from '../../src/viz/observer.ts';
import { parseIpv4Addr } from '../../src/wire/bytes.ts';
import { waitFor } from './helpers.ts';

const skip = skipUnlessReady(['curl']);
const BODY = 'x'.repeat(100_000);

describe('gateway --viz with a Linux guest in a network namespace', { skip, timeout: 120_000 }, () => {
  const ns = new Netns({ tag: 'gw-viz', bare: true });
  let server: http.Server;
  let port = 0;
  let gw: Gateway | null = null;

  before(async () => {
    ns.setup();
    server = http.createServer((_req, res) => res.end(BODY));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as nodeNet.AddressInfo).port;
    gw = createGateway({ downstream: { netns: ns.path }, viz: { port: 0, page: await loadGatewayPage() } });
    await gw.ready;
  });

  after(async () => {
    await gw?.close();
    server?.closeAllConnections();
    server?.close();
    await ns.cleanup();
  });

  test('curl through 10.0.2.2: the row, the Linux SYN with its window scale, and the Linux side\'s states inferred to TIME-WAIT (RFC 9293 §3.6)', async () => {
    const p = ns.spawn(['curl', '-sS', '--max-time', '30', '-o', '/dev/null', '-w', '%{size_download} %{local_port}', `http://10.0.2.2:${port}/`], { timeoutMs: 40_000 });
    assert.equal(await p.exited, 0, p.stderr());
    const [size, localPort] = p.stdout().trim().split(' ').map(Number);
    assert.equal(size, BODY.length);
    const url = gw!.viz!.url;
    const rows = async () => ((await (await fetch(new URL('api/connections', url))).json()) as { rows: MonitorRow[] }).rows;
    let list: MonitorRow[] = [];
    const end = Date.now() + 15_000;
    while (!(list[0]?.closed === true) && Date.now() < end) {
      list = await rows();
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(list.length, 1);
    const row = list[0]!;
    assert.equal(row.closed, true, JSON.stringify(row));
    assert.equal(row.guest, `10.0.2.100:${localPort}`);
    assert.equal(row.peer, `10.0.2.2:${port}`);
    assert.equal(row.host!.remote, `127.0.0.1:${port}`);
    assert.ok(row.bytesDown > BODY.length, `${row.bytesDown} bytes down: the body and the HTTP header`);
    assert.ok(row.bytesUp > 0);

    const d = (await (await fetch(new URL(`api/connections/${row.id}`, url))).json()) as MonitorDetail;
    assert.deepEqual(
      d.segments.slice(0, 3).map((s) => `${s.from}:${s.flags}`),
      ['guest:SYN', 'gateway:SYN+ACK', 'guest:ACK'],
    );
    // RFC 7323 §2.2: Linux offers window scaling on its SYN.
    assert.equal(typeof d.segments[0]!.wscale, 'number');
    assert.deepEqual([d.initial, ...d.transitions.map((t) => t.to)], ['LISTEN', 'SYN-RECEIVED', 'ESTABLISHED', 'CLOSE-WAIT', 'LAST-ACK', 'CLOSED']);

    // The page's inference of the Linux side, from the same segments.
    const g = parseIpv4Addr('10.0.2.100')!;
    const gwAddr = parseIpv4Addr('10.0.2.2')!;
    const conns = analyzeSegments(
      d.segments.map((s) => {
        const fromGuest = s.from === 'guest';
        return {
          timeUs: s.t,
          src: fromGuest ? g : gwAddr,
          dst: fromGuest ? gwAddr : g,
          tcp: {
            srcPort: fromGuest ? localPort! : port,
            dstPort: fromGuest ? port : localPort!,
            seq: s.seq,
            ack: s.ack,
            flags: s.flagBits,
            window: s.window,
            urgentPointer: 0,
            options: s.wscale !== undefined ? [{ kind: 'window-scale' as const, shift: s.wscale }] : [],
            payload: new Uint8Array(s.len),
          },
        };
      }),
    );
    assert.equal(conns.length, 1);
    const states = (side: 0 | 1) => [conns[0]!.initial[side], ...conns[0]!.segments.flatMap((s) => s.transitions.filter((t) => t.side === side).map((t) => t.to))];
    assert.deepEqual(states(0), ['CLOSED', 'SYN-SENT', 'ESTABLISHED', 'FIN-WAIT-1', 'FIN-WAIT-2', 'TIME-WAIT']);
    // The observer's view of the gateway side agrees with the gateway's own states.
    assert.deepEqual(states(1), ['LISTEN', 'SYN-RECEIVED', 'ESTABLISHED', 'CLOSE-WAIT', 'LAST-ACK', 'CLOSED']);
    await waitFor('nothing left open', () => gw!.stats().tcp.active === 0);
  });
});
