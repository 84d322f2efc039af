/**
 * A FrameLink over a byte stream (a Unix stream socket to QEMU's
 * `-netdev stream`): frames go out with their 4-octet big-endian length
 * (links/stream-framing.ts) and come in through a FrameDecoder. Used by the
 * gateway for its downstream and by a synack guest connecting to one (the
 * tests), so both sides speak the same framing.
 *
 * Bounds: a frame longer than the link's largest frame, either way, is a
 * counted drop (coming in, it makes the stream unusable: the link closes
 * it); when the stream's write buffer holds more than `maxQueuedBytes` the
 * frame is dropped (counted) as a full NIC queue drops it — TCP recovers.
 */
import type { Socket } from 'node:net';
import type { FrameLink } from '../stack/link.ts';
import { CHECKSUM_FULL, type ChecksumCaps } from '../wire/types.ts';
import { encodeFrame, FrameDecoder } from '../links/stream-framing.ts';

/** Ethernet header plus two VLAN tags: a frame carries mtu + 22 octets at most. */
export const FRAME_OVERHEAD = 14 + 8;

export interface StreamLinkStats {
  framesIn: number;
  framesOut: number;
  /** Frames not sent because the stream's write buffer was full. */
  queueDrops: number;
  /** Frames not sent because no stream is attached. */
  noStream: number;
  /** Records of length 0 received (skipped). */
  emptyIn: number;
  /** Lengths above the limit received: the stream was closed. */
  oversizeIn: number;
  /** Frames larger than the link's MTU handed to transmit (not sent). */
  oversizeOut: number;
}

export class StreamFrameLink implements FrameLink {
  onReceive: ((frame: Uint8Array) => void) | null = null;
  /** FrameLink.receivesInBatches: the frames of one chunk of the stream are a batch. */
  readonly receivesInBatches = true;
  onReceiveEnd: (() => void) | null = null;
  readonly checksum: ChecksumCaps = CHECKSUM_FULL;
  readonly stats: StreamLinkStats = { framesIn: 0, framesOut: 0, queueDrops: 0, noStream: 0, emptyIn: 0, oversizeIn: 0, oversizeOut: 0 };
  /** Called after each chunk of received frames went to onReceive (e.g. `driver.kick()`). */
  onBatch: (() => void) | null = null;
  /** Called when the attached stream ends or fails (after it was detached). */
  onDetach: ((why: 'end' | 'error' | 'oversize') => void) | null = null;
  private stream: Socket | null = null;

  constructor(
    readonly mtu: number,
    readonly maxQueuedBytes = 4 * 1024 * 1024,
  ) {}

  get maxFrame(): number {
    return this.mtu + FRAME_OVERHEAD;
  }

  get attached(): boolean {
    return this.stream !== null;
  }

  /** Starts carrying frames over `stream` (one at a time: a previous stream is detached). */
  attach(stream: Socket): void {
    this.detach();
    this.stream = stream;
    const dec = new FrameDecoder(this.maxFrame);
    const onData = (chunk: Buffer): void => {
      if (this.stream !== stream) return;
      const emptyBefore = dec.stats.empty;
      const ok = dec.push(chunk, (frame) => {
        this.stats.framesIn++;
        this.onReceive?.(frame);
      });
      this.stats.emptyIn += dec.stats.empty - emptyBefore;
      this.onReceiveEnd?.();
      this.onBatch?.();
      if (!ok) {
        this.stats.oversizeIn++;
        this.detach();
        stream.destroy();
        this.onDetach?.('oversize');
      }
    };
    stream.on('data', onData);
    stream.once('close', () => {
      if (this.stream !== stream) return;
      this.detach();
      this.onDetach?.('end');
    });
    stream.on('error', () => {
      if (this.stream !== stream) return;
      this.detach();
      this.onDetach?.('error');
    });
  }

  /** Stops using the current stream (it is not closed). */
  detach(): void {
    this.stream = null;
  }

  transmit(frame: Uint8Array): void {
    const s = this.stream;
    if (admitFrame(s, frame, this.maxFrame, this.maxQueuedBytes, this.stats)) s!.write(encodeFrame(frame));
  }
}

/**
 * Whether a frame for the guest may be written to its byte stream — each
 * refusal a counted drop: no open stream (`noStream`), larger than the link
 * carries (`oversizeOut`), or the stream's write queue past its bound (a
 * guest that does not read; `queueDrops`). Counts `framesOut` when it may.
 * Shared by the qemu-socket and WebSocket links.
 */
export function admitFrame(
  s: { destroyed: boolean; writable: boolean; writableLength: number } | null,
  frame: Uint8Array,
  maxFrame: number,
  maxQueuedBytes: number,
  stats: { noStream: number; oversizeOut: number; queueDrops: number; framesOut: number },
): boolean {
  if (!s || s.destroyed || !s.writable) {
    stats.noStream++;
    return false;
  }
  if (frame.length > maxFrame) {
    stats.oversizeOut++;
    return false;
  }
  if (s.writableLength > maxQueuedBytes) {
    stats.queueDrops++;
    return false;
  }
  stats.framesOut++;
  return true;
}
