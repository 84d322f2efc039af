/**
 * Ethernet frames over a byte stream, as QEMU's `-netdev stream` (and
 * `-netdev socket`, passt, gvisor-tap-vsock) carry them: each frame is
 * preceded by its length as a 4-byte big-endian integer (QEMU's
 * net/stream.c: `uint32_t len = htonl(size)` before the frame; the reader's
 * net_fill_rstate gathers the four length octets, then the frame, across
 * any number of reads).
 *
 * `FrameDecoder` takes the stream in chunks of any size (a read may end
 * inside a length or a frame, or hold many frames) and yields whole frames.
 * A zero length carries no frame (counted, skipped). A length above the
 * limit cannot be resynchronised — the stream has no other marker — so it
 * is fatal: counted, and the decoder refuses everything after it (the owner
 * closes the stream). `encodeFrame` writes one frame with its prefix.
 *
 * Pure: no node: import.
 */

/** The length prefix: 4 octets, big-endian. */
export const FRAME_PREFIX_LEN = 4;

/** What the decoder counts. */
export interface FrameDecoderStats {
  frames: number;
  bytes: number;
  /** Zero-length records (skipped). */
  empty: number;
  /** Lengths above the limit (fatal). */
  oversize: number;
}

export class FrameDecoder {
  readonly stats: FrameDecoderStats = { frames: 0, bytes: 0, empty: 0, oversize: 0 };
  /** Set once an oversize length was read: the stream is unusable. */
  failed = false;
  private readonly head = new Uint8Array(FRAME_PREFIX_LEN);
  private headLen = 0;
  private frame: Uint8Array | null = null;
  private frameLen = 0;

  /** `maxFrame`: the largest frame accepted, in octets (header included, no FCS). */
  constructor(readonly maxFrame: number) {}

  /** Feeds a chunk; calls `onFrame` with each whole frame (a fresh copy it may keep). Returns false when the stream is unusable (oversize length). */
  push(chunk: Uint8Array, onFrame: (frame: Uint8Array) => void): boolean {
    if (this.failed) return false;
    let i = 0;
    while (i < chunk.length) {
      if (this.frame === null) {
        const take = Math.min(FRAME_PREFIX_LEN - this.headLen, chunk.length - i);
        this.head.set(chunk.subarray(i, i + take), this.headLen);
        this.headLen += take;
        i += take;
        if (this.headLen < FRAME_PREFIX_LEN) break;
        this.headLen = 0;
        const len = ((this.head[0]! << 24) | (this.head[1]! << 16) | (this.head[2]! << 8) | this.head[3]!) >>> 0;
        if (len === 0) {
          this.stats.empty++;
          continue;
        }
        if (len > this.maxFrame) {
          this.stats.oversize++;
          this.failed = true;
          return false;
        }
        this.frame = new Uint8Array(len);
        this.frameLen = 0;
        continue;
      }
      const take = Math.min(this.frame.length - this.frameLen, chunk.length - i);
      this.frame.set(chunk.subarray(i, i + take), this.frameLen);
      this.frameLen += take;
      i += take;
      if (this.frameLen === this.frame.length) {
        const f = this.frame;
        this.frame = null;
        this.stats.frames++;
        this.stats.bytes += f.length;
        onFrame(f);
      }
    }
    return true;
  }

  /** Octets of an unfinished record held (a partial length or frame). */
  get pending(): number {
    return this.frame === null ? this.headLen : this.frameLen + FRAME_PREFIX_LEN;
  }
}

/** One frame with its 4-octet big-endian length prefix. */
export function encodeFrame(frame: Uint8Array): Uint8Array {
  const out = new Uint8Array(FRAME_PREFIX_LEN + frame.length);
  const n = frame.length;
  out[0] = n >>> 24;
  out[1] = (n >>> 16) & 0xff;
  out[2] = (n >>> 8) & 0xff;
  out[3] = n & 0xff;
  out.set(frame, FRAME_PREFIX_LEN);
  return out;
}
