/**
 * A TAP device handle for link tests that need no kernel (test/interop/
 * tap-link.test.ts, tap-gather.test.ts): opened with IFF_VNET_HDR and every
 * offload accepted, it records each chain written (its parts as given —
 * views, not copies — but the virtio_net_hdr as it was at the write) and delivers frames as one readable batch, as the
 * addon's TunDevice does. The kernel itself is in tap.test.ts and
 * tap-gather-kernel.test.ts.
 */
import type { TunDeviceHandle } from '../../src/links/tun.ts';
import { concatBytes } from '../../src/wire/bytes.ts';
import { TUN_F_CSUM, TUN_F_TSO4, TUN_F_TSO6, VNET_HDR_LEN } from '../../src/links/vnet.ts';

export class FakeTapDevice implements TunDeviceHandle {
  readonly name = 'faketap0';
  readonly fd = 99;
  readonly tap = true;
  readonly vnetHdrLen = VNET_HDR_LEN;
  readonly offloads = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;
  readonly offloadErrno = 0;
  readonly arena = new ArrayBuffer(1 << 20);
  readonly lengths = new Uint32Array(256);
  writeErrno = 0;
  closed = false;
  /** Each written chain: its parts as given (the virtio_net_hdr first). */
  chainParts: Uint8Array[][] = [];
  private cb: ((count: number, errno: number) => void) | null = null;

  /** Each written chain, its parts joined. */
  get chains(): Uint8Array[] {
    return this.chainParts.map((c) => concatBytes(c));
  }

  /** The frames written (virtio_net_hdr removed), joined. */
  frames(): Uint8Array[] {
    return this.chains.map((c) => c.subarray(VNET_HDR_LEN));
  }

  start(cb: (count: number, errno: number) => void): void {
    this.cb = cb;
  }
  stop(): void {}
  write(): number {
    throw new Error('vnet mode writes through writeChains');
  }
  writeBatch(): number {
    throw new Error('vnet mode writes through writeChains');
  }
  writeChains(parts: Uint8Array[], counts: number[], start = 0, end = counts.length): number {
    let pi = 0;
    for (let i = 0; i < start; i++) pi += counts[i]!;
    for (let i = start; i < end; i++) {
      // The device takes the bytes at the write: the header is recorded as
      // it was (the link reuses its header memory for the next write), the
      // rest as the views given (the tests check they were not copied).
      const chain = parts.slice(pi, pi + counts[i]!);
      chain[0] = chain[0]!.slice();
      this.chainParts.push(chain);
      pi += counts[i]!;
    }
    return end - start;
  }
  close(): void {
    this.closed = true;
  }
  ref(): void {}
  unref(): void {}
  stats(): Record<string, number> {
    return {};
  }
  /** One readable batch: each frame behind the given (or an all-zero) virtio_net_hdr. */
  deliver(frames: Array<{ frame: Uint8Array; hdr?: Uint8Array }>): void {
    const a = new Uint8Array(this.arena);
    let off = 0;
    frames.forEach(({ frame, hdr }, i) => {
      a.fill(0, off, off + VNET_HDR_LEN);
      if (hdr) a.set(hdr, off);
      a.set(frame, off + VNET_HDR_LEN);
      this.lengths[i] = VNET_HDR_LEN + frame.length;
      off += VNET_HDR_LEN + frame.length;
    });
    this.cb!(frames.length, 0);
  }
}
