/**
 * Bulk throughput of one connection: the client writes `totalBytes` of
 * application payload, the server reads it all. synack runs two stacks over
 * the in-memory hub on a VirtualClock driven as fast as possible; the
 * reference is node:net over the kernel loopback, both ends in this process.
 */
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Connection } from '../src/tcp/connection.ts';
import { makePair, serverAddr, MiB, nowSec, type Family } from './lib.ts';

/** Send/receive buffers of both synack connections. */
export const BULK_BUFFER_BYTES = 4 * MiB;
/** The application writes in chunks of this size (one shared, never-modified buffer). */
export const BULK_CHUNK_BYTES = 256 * 1024;

export interface BulkResult {
  bytes: number;
  seconds: number;
  /** Application payload, Gbit/s. */
  gbps: number;
  segments: number;
}

export function synackBulk(totalBytes: number, mtu: number, checksumOffload: boolean, family: Family = 4): BulkResult {
  const { net, client, server } = makePair({
    mtu,
    checksumOffload,
    family,
    tcp: { sendBufferBytes: BULK_BUFFER_BYTES, recvBufferBytes: BULK_BUFFER_BYTES, maxOutOfOrderBytes: BULK_BUFFER_BYTES },
  });
  const chunk = new Uint8Array(BULK_CHUNK_BYTES);
  for (let i = 0; i < chunk.length; i++) chunk[i] = i * 7;
  let sc: Connection | null = null;
  server.listen(5001, { onConnection: (c) => (sc = c) });
  const cc = client.connect(serverAddr(family), 5001);
  net.runUntil(() => sc !== null && cc.state === 'ESTABLISHED');
  const srv = sc! as Connection;

  const t0 = nowSec();
  let sent = 0;
  let received = 0;
  let pending: Uint8Array | null = null; // the unaccepted tail of the current chunk
  while (received < totalBytes) {
    // Offer as much as the send buffer takes.
    while (sent < totalBytes) {
      let data: Uint8Array | null = pending;
      if (!data) {
        const n = Math.min(BULK_CHUNK_BYTES, totalBytes - sent);
        data = n === BULK_CHUNK_BYTES ? chunk : chunk.subarray(0, n);
      }
      const took = client.send(cc, data);
      sent += took;
      if (took < data.length) {
        pending = data.subarray(took);
        break;
      }
      pending = null;
    }
    if (!net.step()) {
      // Nothing scheduled: the receiver must read to open its window.
    }
    if (srv.readable() > 0) {
      for (const c of server.read(srv)) received += c.length;
    }
  }
  const seconds = nowSec() - t0;
  const segments = client.counters.segmentsOut + server.counters.segmentsOut;
  client.close(cc);
  server.close(srv);
  net.runUntilIdle();
  return { bytes: totalBytes, seconds, gbps: (totalBytes * 8) / seconds / 1e9, segments };
}

export async function nodeBulk(totalBytes: number): Promise<BulkResult> {
  const chunk = Buffer.alloc(BULK_CHUNK_BYTES);
  for (let i = 0; i < chunk.length; i++) chunk[i] = i * 7;
  let received = 0;
  let t0 = 0;
  const done = new Promise<number>((resolve, reject) => {
    const srv = net.createServer((s) => {
      s.on('data', (d: Buffer) => {
        received += d.length;
        if (received >= totalBytes) {
          const seconds = nowSec() - t0;
          s.destroy();
          srv.close();
          resolve(seconds);
        }
      });
      s.on('error', () => {});
    });
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as AddressInfo).port;
      const c = net.connect({ port, host: '127.0.0.1', noDelay: true }, () => {
        t0 = nowSec();
        let sent = 0;
        const pump = (): void => {
          while (sent < totalBytes) {
            const n = Math.min(BULK_CHUNK_BYTES, totalBytes - sent);
            sent += n;
            if (!c.write(n === BULK_CHUNK_BYTES ? chunk : chunk.subarray(0, n))) {
              c.once('drain', pump);
              return;
            }
          }
          c.end();
        };
        pump();
      });
      c.on('error', () => {});
    });
  });
  const seconds = await done;
  return { bytes: totalBytes, seconds, gbps: (totalBytes * 8) / seconds / 1e9, segments: 0 };
}

/** Runs one measurement at a time from the command line: `tsx bench/bulk.ts [MiB] [mtu] [full|offload] [4|6]`. */
if (process.argv[1]?.endsWith('bulk.ts')) {
  const mib = Number(process.argv[2] ?? 128);
  const mtu = Number(process.argv[3] ?? 1500);
  const offload = process.argv[4] !== 'full';
  const family: Family = process.argv[5] === '6' ? 6 : 4;
  const r = mtu === 0 ? await nodeBulk(mib * MiB) : synackBulk(mib * MiB, mtu, offload, family);
  console.log(JSON.stringify(r));
}
