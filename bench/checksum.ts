/**
 * Micro-benchmark: synack's Internet checksum against a naive byte loop
 * (one 16-bit word per iteration, folded at the end), on a 1500-byte packet
 * and a 64 KiB segment. Run with `npx tsx bench/checksum.ts`.
 */
import { pathToFileURL } from 'node:url';
import { checksum } from '../src/wire/checksum.ts';

export interface ChecksumBenchResult {
  name: string;
  /** Throughput of synack's checksum, in GB/s (10^9 bytes per second). */
  gbps: number;
  /** Throughput of the naive byte loop, in GB/s. */
  naiveGbps: number;
}

/** The textbook RFC 1071 loop, as a baseline. */
export function naiveChecksum(buf: Uint8Array, start: number, end: number): number {
  let sum = 0;
  let i = start;
  for (; i + 1 < end; i += 2) sum += (buf[i]! << 8) | buf[i + 1]!;
  if (i < end) sum += buf[i]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

type ChecksumFn = (buf: Uint8Array, start: number, end: number) => number;

function measure(fn: ChecksumFn, buf: Uint8Array, durationMs: number): number {
  let sink = 0;
  for (let k = 0; k < 1000; k++) sink ^= fn(buf, 0, buf.length); // warm-up
  let iterations = 0;
  const t0 = performance.now();
  let elapsed = 0;
  do {
    for (let k = 0; k < 64; k++) sink ^= fn(buf, 0, buf.length);
    iterations += 64;
    elapsed = performance.now() - t0;
  } while (elapsed < durationMs);
  if (sink === -1) console.log('unreachable'); // keeps `sink` alive
  return (iterations * buf.length) / (elapsed / 1000) / 1e9;
}

/** Measures both implementations for ~`durationMs` each per size. */
export function benchChecksum(durationMs = 500): ChecksumBenchResult[] {
  const results: ChecksumBenchResult[] = [];
  for (const size of [1500, 65536]) {
    const buf = new Uint8Array(size);
    let x = 0x12345678;
    for (let i = 0; i < size; i++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      buf[i] = x >>> 24;
    }
    if (checksum(buf, 0, size) !== naiveChecksum(buf, 0, size)) throw new Error('checksum mismatch');
    results.push({
      name: `checksum ${size} B`,
      gbps: measure(checksum, buf, durationMs),
      naiveGbps: measure(naiveChecksum, buf, durationMs),
    });
  }
  return results;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const r of benchChecksum()) {
    console.log(
      `${r.name.padEnd(20)} synack ${r.gbps.toFixed(2)} GB/s   naive ${r.naiveGbps.toFixed(2)} GB/s   ×${(r.gbps / r.naiveGbps).toFixed(1)}`,
    );
  }
}
