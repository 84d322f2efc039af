/**
 * In-order received bytes not yet read by the application: a queue of
 * chunks (views of received payloads; no copy).
 */
import { concatBytes } from '../wire/bytes.ts';

export class RecvBuffer {
  private chunks: Uint8Array[] = [];
  private len = 0;

  get length(): number {
    return this.len;
  }

  push(data: Uint8Array): void {
    if (data.length === 0) return;
    this.chunks.push(data);
    this.len += data.length;
  }

  /** Removes and returns up to `max` bytes, as the stored chunks (no copy). */
  readChunks(max: number): Uint8Array[] {
    const out: Uint8Array[] = [];
    let n = 0;
    while (this.chunks.length > 0 && n < max) {
      const c = this.chunks[0]!;
      if (n + c.length <= max) {
        out.push(c);
        n += c.length;
        this.chunks.shift();
      } else {
        const take = max - n;
        out.push(c.subarray(0, take));
        this.chunks[0] = c.subarray(take);
        n += take;
      }
    }
    this.len -= n;
    return out;
  }

  /** Up to `max` bytes without removing them (MSG_PEEK). */
  peek(max: number): Uint8Array {
    const n = Math.min(max, this.len);
    const out = new Uint8Array(n);
    let o = 0;
    for (const c of this.chunks) {
      if (o >= n) break;
      const take = Math.min(c.length, n - o);
      out.set(c.subarray(0, take), o);
      o += take;
    }
    return out;
  }

  /** Removes and returns up to `max` bytes as one array. */
  read(max: number): Uint8Array {
    return concatBytes(this.readChunks(max));
  }
}
