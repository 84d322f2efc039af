/**
 * The page a real guest fetches from the host (test/guests): `size` bytes
 * from a fixed-seed xorshift generator, served by node:http on the host's
 * 127.0.0.1, every request recorded.
 */
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface PageServer {
  body: Buffer;
  /** SHA-256 of the body, hex. */
  sha256: string;
  port: number;
  /** `METHOD URL from ADDRESS`, in order. */
  requests: string[];
  close(): void;
}

export function page(size: number, seed: number): Buffer {
  const b = Buffer.alloc(size);
  let x = seed | 0;
  for (let i = 0; i < b.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

export async function pageServer(size: number, seed: number): Promise<PageServer> {
  const body = page(size, seed);
  const requests: string[] = [];
  const http = createServer((req, res) => {
    requests.push(`${req.method} ${req.url} from ${req.socket.remoteAddress}`);
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length }).end(body);
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  return { body, sha256: createHash('sha256').update(body).digest('hex'), port: (http.address() as AddressInfo).port, requests, close: () => http.close() };
}
