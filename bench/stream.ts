/**
 * The path users take: bulk through `host.net` streams (createMemoryNetwork,
 * real clock, the Driver on Node's event loop) and node:http over them, each
 * beside the same program over node:net on 127.0.0.1, both ends in this
 * process.
 *
 *   npx tsx bench/stream.ts [net|http] [MiB] [mtu] [gso]   one run, JSON on stdout (mtu 0: node:net)
 */
import net from 'node:net';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createMemoryNetwork } from '../src/api/memory-network.ts';
import { MiB, nowSec } from './lib.ts';

/** The application writes in chunks of this size (one shared buffer). */
export const STREAM_CHUNK_BYTES = 256 * 1024;
/** Send/receive buffers of the synack connections (node:net: kernel autotuning). */
export const STREAM_BUFFER_BYTES = 4 * MiB;

export interface StreamResult {
  bytes: number;
  seconds: number;
  gbps: number;
  /** CPU time of this process (user + system) during the run, s: steadier than wall time on a shared machine. */
  cpuSeconds: number;
}

let cpu0 = process.cpuUsage();
/** Marks the start of a measurement (wall time is taken by the caller). */
function startCpu(): void {
  cpu0 = process.cpuUsage();
}
function result(bytes: number, seconds: number): StreamResult {
  const c = process.cpuUsage(cpu0);
  return { bytes, seconds, gbps: (bytes * 8) / seconds / 1e9, cpuSeconds: (c.user + c.system) / 1e6 };
}

function chunk(): Buffer {
  const c = Buffer.alloc(STREAM_CHUNK_BYTES);
  for (let i = 0; i < c.length; i++) c[i] = i * 7;
  return c;
}

/** The client writes `total` bytes in 256 KiB writes, honouring backpressure; the server counts them. */
function pumpBulk(
  createServer: (onConn: (s: net.Socket) => void) => { listen: (port: number, host: string, cb: () => void) => void; close: () => void; address: () => unknown },
  connect: (port: number, host: string, cb: () => void) => net.Socket,
  host: string,
  total: number,
): Promise<StreamResult> {
  const buf = chunk();
  return new Promise((resolve, reject) => {
    let t0 = 0;
    let received = 0;
    let dataEvents = 0;
    const srv = createServer((s) => {
      s.on('data', (d: Buffer) => {
        dataEvents++;
        received += d.length;
        if (received >= total) {
          const seconds = nowSec() - t0;
          s.destroy();
          srv.close();
          if (process.env.SYNACK_BENCH_DEBUG) console.error({ dataEvents });
          resolve(result(total, seconds));
        }
      });
      s.on('error', reject);
    });
    srv.listen(0, host, () => {
      const port = (srv.address() as AddressInfo).port;
      const c = connect(port, host, () => {
        t0 = nowSec();
        startCpu();
        let sent = 0;
        const pump = (): void => {
          while (sent < total) {
            const n = Math.min(STREAM_CHUNK_BYTES, total - sent);
            sent += n;
            if (!c.write(n === STREAM_CHUNK_BYTES ? buf : buf.subarray(0, n))) {
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
}

export function nodeStreamBulk(total: number): Promise<StreamResult> {
  return pumpBulk(
    (f) => net.createServer(f),
    (port, host, cb) => net.connect({ port, host, noDelay: true }, cb),
    '127.0.0.1',
    total,
  );
}

/** `gso`: the hub's segmentation offload (super-segments of up to 64 KiB at any MTU, as over Linux's loopback). */
export async function synackStreamBulk(total: number, mtu: number, gso = false): Promise<StreamResult> {
  const lan = createMemoryNetwork({ mtu, segmentationOffload: gso, tcp: { sendBufferBytes: STREAM_BUFFER_BYTES, recvBufferBytes: STREAM_BUFFER_BYTES, maxOutOfOrderBytes: STREAM_BUFFER_BYTES } });
  const a = lan.host('10.0.0.1');
  const b = lan.host('10.0.0.2');
  try {
    return await pumpBulk(
      (f) => b.net.createServer(f as never) as never,
      (port, host, cb) => a.net.connect({ port, host, noDelay: true }, cb) as unknown as net.Socket,
      '10.0.0.2',
      total,
    );
  } finally {
    if (process.env.SYNACK_BENCH_DEBUG) {
      console.error({ driver: lan.driver.stats, clientOut: a.stack.counters.segmentsOut, serverOut: b.stack.counters.segmentsOut });
    }
    lan.stop();
  }
}

/** One GET whose response body is `total` bytes, written in 256 KiB chunks with backpressure; the client counts the body. */
function httpGet(
  listen: (srv: http.Server, cb: (port: number) => void) => void,
  createConnection: ((port: number) => net.Socket) | null,
  host: string,
  total: number,
): Promise<StreamResult> {
  const buf = chunk();
  return new Promise((resolve, reject) => {
    const srv = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-length': String(total), 'content-type': 'application/octet-stream' });
      let sent = 0;
      const pump = (): void => {
        while (sent < total) {
          const n = Math.min(STREAM_CHUNK_BYTES, total - sent);
          sent += n;
          if (!res.write(n === STREAM_CHUNK_BYTES ? buf : buf.subarray(0, n))) {
            res.once('drain', pump);
            return;
          }
        }
        res.end();
      };
      pump();
    });
    listen(srv, (port) => {
      const t0 = nowSec();
      startCpu();
      // No agent with createConnection: an Agent (agent: false makes one) ignores it and would dial through the kernel.
      const opts: http.RequestOptions = createConnection ? { createConnection: () => createConnection(port) } : { host, port, agent: false };
      const req = http.get({ path: '/', ...opts }, (res) => {
        let got = 0;
        if (res.statusCode !== 200) reject(new Error(`http: status ${res.statusCode}`));
        res.on('data', (d: Buffer) => (got += d.length));
        res.on('end', () => {
          const seconds = nowSec() - t0;
          srv.close();
          srv.closeAllConnections?.();
          if (got !== total) reject(new Error(`http: got ${got} of ${total} bytes`));
          else resolve(result(total, seconds));
        });
      });
      req.on('error', reject);
    });
  });
}

export function nodeHttp(total: number): Promise<StreamResult> {
  return httpGet(
    (srv, cb) => srv.listen(0, '127.0.0.1', () => cb((srv.address() as AddressInfo).port)),
    null,
    '127.0.0.1',
    total,
  );
}

export async function synackHttp(total: number, mtu: number, gso = false): Promise<StreamResult> {
  const lan = createMemoryNetwork({ mtu, segmentationOffload: gso, tcp: { sendBufferBytes: STREAM_BUFFER_BYTES, recvBufferBytes: STREAM_BUFFER_BYTES, maxOutOfOrderBytes: STREAM_BUFFER_BYTES } });
  const a = lan.host('10.0.0.1');
  const b = lan.host('10.0.0.2');
  try {
    return await httpGet(
      (srv, cb) => {
        const l = b.net.createServer((s) => srv.emit('connection', s));
        srv.on('close', () => l.close());
        l.listen(80, () => cb(80));
      },
      (port) => a.net.createConnection(port, '10.0.0.2') as unknown as net.Socket,
      '10.0.0.2',
      total,
    );
  } finally {
    lan.stop();
  }
}

if (process.argv[1]?.endsWith('stream.ts')) {
  const what = process.argv[2] ?? 'net';
  const mib = Number(process.argv[3] ?? 256);
  const mtu = Number(process.argv[4] ?? 65535);
  const total = mib * MiB;
  let r: StreamResult;
  const gso = process.argv[5] === 'gso';
  if (what === 'net') r = mtu === 0 ? await nodeStreamBulk(total) : await synackStreamBulk(total, mtu, gso);
  else r = mtu === 0 ? await nodeHttp(total) : await synackHttp(total, mtu, gso);
  console.log(JSON.stringify({ what, mib, mtu, gbps: +r.gbps.toFixed(3), seconds: +r.seconds.toFixed(3), cpuGbps: +((r.bytes * 8) / r.cpuSeconds / 1e9).toFixed(3) }));
}
