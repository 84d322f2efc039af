/**
 * What the stack needs from a link: send an IP packet, receive IP packets,
 * and say its MTU and checksum capabilities. Links live in src/links/.
 */
import type { ChecksumCaps } from '../wire/types.ts';

export interface Link {
  /** Largest IP packet the link carries, in bytes. */
  readonly mtu: number;
  /** Whether checksums must be filled on send and verified on receive. */
  readonly checksum: ChecksumCaps;
  /** Sends one IP packet. The link takes ownership of `packet`. */
  transmit(packet: Uint8Array): void;
  /** Set by the stack: called with each received IP packet (ownership passes to the stack). */
  onReceive: ((packet: Uint8Array) => void) | null;
}
