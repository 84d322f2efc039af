/**
 * Transmit packet buffers carved from shared slabs.
 *
 * Allocating a fresh `Uint8Array` for every outgoing packet costs far more
 * than emitting the packet (each one is an ArrayBuffer with its own backing
 * store, tracked by the garbage collector). Small packets are instead cut
 * from 8 KiB slabs, as Node's own Buffer pool does (8 KiB pool, requests of
 * up to half of it): measured on the bulk benchmark at MSS 1460 this takes
 * throughput from about 3.2 to 5.5–6 Gbit/s, and connection cycles from about
 * 65 k/s to 90 k/s.
 *
 * Each region is handed out once and never reused, so every packet owns its
 * bytes exactly as before (`Link.transmit` takes ownership); a packet just
 * has a non-zero `byteOffset` in a larger `buffer`. The cost is retention: a
 * view that outlives its packet (e.g. a payload chunk the application keeps
 * unread in a receive buffer) keeps its whole slab alive, at most 8 KiB per
 * chunk — the same trade-off as Node's pool.
 */

/**
 * Bytes reserved in front of every packet, owned by it: an Ethernet
 * interface writes its 14-octet header there instead of copying the packet
 * into a new frame (stack/ethernet.ts; at MTU 65520 that copy was the
 * largest single cost of the gateway's host → guest path, docs/PERFORMANCE.md).
 * 16 keeps packets 8-byte aligned.
 */
export const PACKET_HEADROOM = 16;

/** The ArrayBuffers pools carve packets from: a view into one starts an allocation that owns PACKET_HEADROOM bytes before it. */
const pooled = new WeakSet<ArrayBufferLike>();

/**
 * Whether `p` came whole from a PacketPool (so the PACKET_HEADROOM bytes
 * before it are its own to write). Only the stack's TCP output allocates
 * from the pool, and it hands each packet on whole.
 */
export function hasHeadroom(p: Uint8Array): boolean {
  return p.byteOffset >= PACKET_HEADROOM && pooled.has(p.buffer);
}

/** Bytes per slab. */
export const PACKET_POOL_SLAB_BYTES = 8192;
/** Larger packets get a buffer of their own. */
export const PACKET_POOL_MAX_BYTES = (PACKET_POOL_SLAB_BYTES >>> 1) - PACKET_HEADROOM;

export class PacketPool {
  private slab = new Uint8Array(0);
  private offset = 0;

  /** A zero-filled buffer of exactly `n` bytes that no one else holds. */
  alloc(n: number): Uint8Array {
    if (n > PACKET_POOL_MAX_BYTES) {
      const own = new Uint8Array(PACKET_HEADROOM + n);
      pooled.add(own.buffer);
      return own.subarray(PACKET_HEADROOM);
    }
    if (this.offset + PACKET_HEADROOM + n > this.slab.length) {
      this.slab = new Uint8Array(PACKET_POOL_SLAB_BYTES);
      pooled.add(this.slab.buffer);
      this.offset = 0;
    }
    const start = this.offset + PACKET_HEADROOM;
    const b = this.slab.subarray(start, start + n);
    // Keep every packet 8-byte aligned (the checksum reads 32-bit words).
    this.offset = (start + n + 7) & ~7;
    return b;
  }
}
