/**
 * A FrameLink over one WebSocket connection (RFC 6455), in the protocol
 * v86's `relay_url` speaks: one Ethernet frame per binary message, both
 * ways. The socket is an accepted TCP connection whose opening handshake
 * (websocket.ts) is done; its bytes go through a WsDecoder.
 *
 * - A binary message is one frame to onReceive; a frame longer than the
 *   link's largest frame is a counted drop (`oversizeIn`).
 * - A text message: RFC 6455 §7.4.1 1003, "an endpoint is terminating the
 *   connection because it has received a type of data it cannot accept" —
 *   the link closes with 1003.
 * - Ping → Pong with the same data (§5.5.2); Pong is ignored (§5.5.3).
 * - Close → a Close echoing the status code, then the TCP connection is
 *   closed (§5.5.1, §7.1.1); a protocol violation → a Close with its code
 *   (§7.1.7) and the TCP connection closed.
 * - transmit(): one unmasked binary frame; when the socket's write buffer
 *   holds more than `maxQueuedBytes` the frame is dropped (counted) as a full
 *   NIC queue drops it — TCP in the guest recovers.
 */
import type { Socket } from 'node:net';
import type { FrameLink } from '../stack/link.ts';
import { CHECKSUM_FULL, type ChecksumCaps } from '../wire/types.ts';
import { FRAME_OVERHEAD } from './stream-link.ts';
import { WS_CLOSE, WS_OPCODE, WsDecoder, wsEncodeClose, wsEncodeFrame } from './websocket.ts';
import { admitFrame } from './stream-link.ts';

export interface WebSocketLinkStats {
  framesIn: number;
  framesOut: number;
  /** Frames not sent because the socket's write buffer was full. */
  queueDrops: number;
  /** Frames not sent because the WebSocket is closed. */
  noStream: number;
  /** Binary messages longer than the link's largest frame (dropped). */
  oversizeIn: number;
  /** Frames larger than the link's MTU handed to transmit (not sent). */
  oversizeOut: number;
  pings: number;
  /** The status code the connection closed with (sent or received), 0 while open. */
  closeCode: number;
}

export class WebSocketFrameLink implements FrameLink {
  onReceive: ((frame: Uint8Array) => void) | null = null;
  /** FrameLink.receivesInBatches: the messages of one chunk from the socket are a batch. */
  readonly receivesInBatches = true;
  onReceiveEnd: (() => void) | null = null;
  readonly checksum: ChecksumCaps = CHECKSUM_FULL;
  readonly stats: WebSocketLinkStats = { framesIn: 0, framesOut: 0, queueDrops: 0, noStream: 0, oversizeIn: 0, oversizeOut: 0, pings: 0, closeCode: 0 };
  /** Called after each chunk of received frames went to onReceive (e.g. `driver.kick()`). */
  onBatch: (() => void) | null = null;
  /** Called once when the WebSocket is over (closed by either side, failed, or the TCP connection lost). */
  onClose: ((code: number, reason: string) => void) | null = null;
  private open = true;
  private readonly decoder: WsDecoder;

  constructor(
    readonly socket: Socket,
    readonly mtu: number,
    /** Bytes already read after the handshake (node:http's `head`). */
    head: Uint8Array | null = null,
    readonly maxQueuedBytes = 4 * 1024 * 1024,
  ) {
    // A message is one Ethernet frame: anything much longer is not one.
    this.decoder = new WsDecoder(Math.max(this.maxFrame, 65536) + 1024);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.input(chunk));
    // A TCP connection lost without a Close frame: §7.1.5 "If _The WebSocket
    // Connection is Closed_ and no Close control frame was received by the
    // endpoint (such as could occur if the underlying transport connection
    // is lost), _The WebSocket Connection Close Code_ is considered to be
    // 1006." (a code reported, never sent).
    socket.on('error', () => this.finish(WS_CLOSE.abnormal, 'connection error'));
    socket.on('end', () => {
      // The client's FIN (the upgraded socket may be half-open): nothing more comes.
      this.finish(WS_CLOSE.abnormal, 'connection closed');
      socket.destroy();
    });
    socket.on('close', () => this.finish(WS_CLOSE.abnormal, 'connection closed'));
    if (head && head.length > 0) queueMicrotask(() => this.input(head));
  }

  get maxFrame(): number {
    return this.mtu + FRAME_OVERHEAD;
  }

  get isOpen(): boolean {
    return this.open;
  }

  private input(chunk: Uint8Array): void {
    if (!this.open) return;
    this.decode(chunk);
    // A Close in the chunk ended it early: finish() ended the batch.
    if (!this.open) return;
    this.onReceiveEnd?.();
    this.onBatch?.();
  }

  private decode(chunk: Uint8Array): void {
    for (const ev of this.decoder.push(chunk)) {
      switch (ev.type) {
        case 'message':
          if (!ev.binary) {
            this.close(WS_CLOSE.unsupportedData, 'frames are binary messages');
            return;
          }
          if (ev.data.length > this.maxFrame) {
            this.stats.oversizeIn++;
            break;
          }
          this.stats.framesIn++;
          this.onReceive?.(ev.data);
          break;
        case 'ping':
          // §5.5.2: "Upon receipt of a Ping frame, an endpoint MUST send a
          // Pong frame in response, unless it already received a Close
          // frame." §5.5.3: "A Pong frame sent in response to a Ping frame
          // must have identical "Application data" as found in the message
          // body of the Ping frame being replied to."
          this.stats.pings++;
          this.socket.write(wsEncodeFrame(WS_OPCODE.pong, ev.data));
          break;
        case 'pong':
          break;
        case 'close':
          // §5.5.1: "If an endpoint receives a Close frame and did not
          // previously send a Close frame, the endpoint MUST send a Close
          // frame in response. (When sending a Close frame in response, the
          // endpoint typically echos the status code it received.)" A 1005
          // (no status) is never sent: the answer then has no body's code but 1000.
          this.close(ev.code === WS_CLOSE.noStatus ? WS_CLOSE.normal : ev.code, '');
          return;
        case 'fail':
          // §7.1.7: "_Fail the WebSocket Connection_ ... the endpoint MAY send a Close frame with an appropriate status code".
          this.close(ev.code, ev.reason);
          return;
      }
    }
  }

  /**
   * Sends a Close and closes the TCP connection. §5.5.1: "After both sending
   * and receiving a Close message, an endpoint considers the WebSocket
   * connection closed and MUST close the underlying TCP connection. The
   * server MUST close the underlying TCP connection immediately".
   */
  close(code: number = WS_CLOSE.goingAway, reason = ''): void {
    if (!this.open) return;
    this.stats.closeCode = code;
    if (!this.socket.destroyed) {
      this.socket.end(wsEncodeClose(code, reason));
      // A client that never closes its side is not waited for long.
      setTimeout(() => this.socket.destroy(), 2000).unref();
    }
    this.finish(code, reason);
  }

  private finish(code: number, reason: string): void {
    if (!this.open) return;
    this.open = false;
    if (this.stats.closeCode === 0) this.stats.closeCode = code;
    // Whatever the guest sent before the Close is delivered (its batch
    // ended: the ACKs go); then the stack is told.
    this.onReceiveEnd?.();
    this.onBatch?.();
    this.onClose?.(code, reason);
  }

  transmit(frame: Uint8Array): void {
    if (admitFrame(this.open ? this.socket : null, frame, this.maxFrame, this.maxQueuedBytes, this.stats)) this.socket.write(wsEncodeFrame(WS_OPCODE.binary, frame));
  }
}
