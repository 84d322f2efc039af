/**
 * Full connection cycles, sequential: connect, a small request and its
 * response, close both sides. A cycle counts when the client has its
 * response and both ends have closed (CLOSED or TIME-WAIT). TIME-WAIT is
 * reaped by a short MSL (virtual time) so the table does not grow.
 *
 * Application callbacks only set flags; the driver loop acts on them
 * between network steps, as an event loop would (no re-entrant calls from
 * inside segment processing).
 */
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Connection } from '../src/tcp/connection.ts';
import type { ConnectionEvent } from '../src/tcp/events.ts';
import { makePair, serverAddr, nowSec, type Family } from './lib.ts';

export const REQUEST = new TextEncoder().encode('GET / HTTP/1.0\r\n\r\n'); // 18 B
export const RESPONSE = new TextEncoder().encode('HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok'); // 40 B
/** MSL for the cycle benchmark (virtual µs): TIME-WAIT lasts 2 × 100 µs. */
export const CYCLE_MSL_US = 100;
/**
 * With zero link delay a whole cycle happens at one virtual instant, so the
 * clock would never reach a TIME-WAIT deadline. Each cycle therefore moves
 * the virtual clock on by this much (a nominal cycle time), which keeps
 * about 2·MSL / 10 µs = 20 connections in TIME-WAIT at any moment.
 */
export const CYCLE_ADVANCE_US = 10;

export interface CycleResult {
  cycles: number;
  seconds: number;
  perSec: number;
  /** Connections still in both stacks' tables at the end (TIME-WAIT not yet reaped). */
  leftover: number;
}

const isDone = (c: Connection): boolean => c.state === 'CLOSED' || c.state === 'TIME-WAIT';

export function synackCycles(cycles: number, checksumOffload: boolean, family: Family = 4): CycleResult {
  const { net: network, client, server } = makePair({
    mtu: 1500,
    checksumOffload,
    family,
    tcp: { mslUs: CYCLE_MSL_US, noDelay: true },
  });
  const vc = network.virtual!;
  let srv: Connection | null = null;
  let srvReadable = false;
  let srvEnd = false;
  const srvObserver = {
    onEvent(_c: Connection, ev: ConnectionEvent): void {
      if (ev.type === 'readable') srvReadable = true;
      else if (ev.type === 'end') srvEnd = true;
    },
  };
  server.listen(80, {
    onConnection: (c) => {
      srv = c;
      c.user = srvObserver;
    },
  });
  let cliReadable = false;
  let cliEnd = false;
  const cliObserver = {
    onEvent(_c: Connection, ev: ConnectionEvent): void {
      if (ev.type === 'readable') cliReadable = true;
      else if (ev.type === 'end') cliEnd = true;
    },
  };

  const t0 = nowSec();
  for (let i = 0; i < cycles; i++) {
    srv = null;
    srvReadable = srvEnd = cliReadable = cliEnd = false;
    const cc = client.connect(serverAddr(family), 80, { observer: cliObserver });
    let requested = false;
    let got = 0;
    let srvGot = 0;
    let responded = false;
    let cliClosed = false;
    let srvClosed = false;
    for (;;) {
      if (!requested && cc.state === 'ESTABLISHED') {
        client.send(cc, REQUEST);
        requested = true;
      }
      const s = srv as Connection | null;
      if (s && srvReadable) {
        srvReadable = false;
        for (const b of server.read(s)) srvGot += b.length;
        if (!responded && srvGot >= REQUEST.length) {
          server.send(s, RESPONSE);
          server.close(s); // half-close after the response, like HTTP/1.0
          responded = true;
          srvClosed = true;
        }
      }
      if (cliReadable) {
        cliReadable = false;
        for (const b of client.read(cc)) got += b.length;
      }
      if (cliEnd && !cliClosed && got >= RESPONSE.length) {
        client.close(cc);
        cliClosed = true;
      }
      if (s && srvEnd && !srvClosed) {
        server.close(s);
        srvClosed = true;
      }
      if (got >= RESPONSE.length && cliClosed && srvClosed && s && isDone(cc) && isDone(s)) break;
      if (!network.step()) throw new Error(`cycle ${i} stalled: client ${cc.state}, server ${s?.state}`);
    }
    vc.advanceBy(CYCLE_ADVANCE_US);
    network.runDue();
  }
  const seconds = nowSec() - t0;
  return { cycles, seconds, perSec: cycles / seconds, leftover: client.connectionCount + server.connectionCount };
}

/** node:net over loopback, one cycle at a time. */
export async function nodeCycles(cycles: number): Promise<CycleResult> {
  const reqBuf = Buffer.from(REQUEST);
  const resBuf = Buffer.from(RESPONSE);
  const srv = net.createServer((s) => {
    let n = 0;
    s.on('data', (d: Buffer) => {
      n += d.length;
      if (n >= reqBuf.length) s.end(resBuf);
    });
    s.on('end', () => s.end());
    s.on('error', () => {});
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as AddressInfo).port;
  // The server side's 'close' must also be awaited per cycle.
  const serverClosed: Array<() => void> = [];
  srv.on('connection', (s) => s.on('close', () => serverClosed.shift()?.()));
  const one = (): Promise<void> =>
    new Promise((resolve, reject) => {
      let closedBoth = 0;
      const both = (): void => {
        if (++closedBoth === 2) resolve();
      };
      serverClosed.push(both);
      let got = 0;
      const c = net.connect({ port, host: '127.0.0.1', noDelay: true }, () => c.write(reqBuf));
      c.on('data', (d: Buffer) => {
        got += d.length;
      });
      c.on('end', () => c.end());
      c.on('error', reject);
      c.on('close', () => {
        if (got < resBuf.length) reject(new Error('short response'));
        else both();
      });
    });
  for (let i = 0; i < Math.min(200, cycles); i++) await one(); // warm-up
  const t0 = nowSec();
  for (let i = 0; i < cycles; i++) await one();
  const seconds = nowSec() - t0;
  await new Promise<void>((r) => srv.close(() => r()));
  return { cycles, seconds, perSec: cycles / seconds, leftover: 0 };
}

if (process.argv[1]?.endsWith('cycles.ts')) {
  const n = Number(process.argv[2] ?? 20000);
  const which = process.argv[3] ?? 'synack';
  const family: Family = process.argv[4] === '6' ? 6 : 4;
  const r = which === 'node' ? await nodeCycles(n) : synackCycles(n, which !== 'full', family);
  console.log(JSON.stringify(r));
}
