/**
 * Shared helpers for the api tests: a two-host LAN, awaiting events, and
 * collecting a stream.
 */
import { once, type EventEmitter } from 'node:events';
import { createHash } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { createMemoryNetwork, type MemoryNetworkOptions } from '../../src/index.ts';

export function lan(opts: MemoryNetworkOptions = {}) {
  const l = createMemoryNetwork({ seed: 42, ...opts });
  const a = l.host('10.0.0.1', { name: 'client' });
  const b = l.host('10.0.0.2', { name: 'server' });
  return { ...l, a, b };
}

/** Resolves with the first emission of `event`, rejects on 'error' first. */
export async function next<T = unknown[]>(em: EventEmitter, event: string): Promise<T> {
  return (await once(em, event)) as T;
}

/** Resolves with the error emitted by `em` (fails if it closes without one). */
export function errorOf(em: EventEmitter): Promise<Error & Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    em.once('error', (e) => resolve(e as Error & Record<string, unknown>));
    em.once('close', () => setImmediate(() => reject(new Error('closed without an error'))));
  });
}

/** Reads a stream to its 'end' (without destroying it, unlike for-await). */
export function collect(s: Duplex): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    s.on('data', (c: Buffer) => parts.push(c));
    s.once('end', () => resolve(Buffer.concat(parts)));
    s.once('error', reject);
  });
}

export function sha256(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

/** Deterministic pseudo-random bytes (xorshift), so failures reproduce. */
export function pattern(n: number, seed = 1): Buffer {
  const b = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    b[i] = x & 0xff;
  }
  return b;
}

/** Records the order of the named events on an emitter. */
export function record(em: EventEmitter, events: string[]): string[] {
  const log: string[] = [];
  for (const e of events) em.on(e, (arg?: unknown) => log.push(e === 'close' ? `close(${String(arg)})` : e === 'error' ? `error(${(arg as { code?: string }).code})` : e));
  return log;
}

/** Resolves on 'close' (unlike events.once, an 'error' first does not reject). */
export function closed(em: EventEmitter): Promise<unknown> {
  return new Promise((resolve) => em.once('close', resolve));
}
