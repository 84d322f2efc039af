/**
 * What the guest tests read off a downstream: QEMU's `-netdev stream` framing
 * (each Ethernet frame preceded by its length, a 4-byte big-endian integer —
 * the framing of passt and gvisor-tap-vsock too) and a DHCP DISCOVER
 * recognised with synack's own codecs (Ethernet → IPv4 → UDP 68→67 → DHCP
 * message type 1), checksums verified.
 */
import { parseEthernet, ETHERTYPE_IPV4, MAC_BROADCAST, macToString } from '../../src/wire/ethernet.ts';
import { parseIpv4 } from '../../src/wire/ipv4.ts';
import { parseUdp, udpPseudoV4 } from '../../src/wire/udp.ts';
import { parseDhcp, dhcpMessageType, dhcpClientMac, DHCPDISCOVER, BOOTREQUEST } from '../../src/wire/dhcp.ts';
import { CHECKSUM_FULL } from '../../src/wire/types.ts';

/** Splits a byte stream into length-prefixed frames; call `push` with each chunk. */
export class StreamDeframer {
  private buf: Buffer = Buffer.alloc(0);
  /** Frames whose length field was 0 or over 65536 (the stream is then out of step and reading stops). */
  bad = 0;
  constructor(private readonly onFrame: (frame: Buffer) => void) {}
  push(chunk: Buffer): void {
    if (this.bad) return;
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    while (this.buf.length >= 4) {
      const len = this.buf.readUInt32BE(0);
      if (len === 0 || len > 65536) {
        this.bad++;
        return;
      }
      if (this.buf.length < 4 + len) break;
      this.onFrame(this.buf.subarray(4, 4 + len));
      this.buf = this.buf.subarray(4 + len);
    }
  }
}

/** One frame in the stream framing. */
export function streamFrame(frame: Uint8Array): Buffer {
  const b = Buffer.alloc(4 + frame.length);
  b.writeUInt32BE(frame.length, 0);
  b.set(frame, 4);
  return b;
}

export interface Discover {
  /** the Ethernet source, as aa:bb:… */
  srcMac: string;
  /** the DHCP chaddr */
  clientMac: string;
  xid: number;
}

/**
 * The DHCP DISCOVER in this Ethernet frame, or null: broadcast destination,
 * EtherType IPv4, a valid IPv4 header, UDP 68 → 67 with a valid checksum, a
 * BOOTREQUEST whose message type (option 53) is DHCPDISCOVER.
 */
export function dhcpDiscover(frame: Uint8Array): Discover | null {
  const eth = parseEthernet(frame);
  if (!eth.ok || eth.value.header.ethertype !== ETHERTYPE_IPV4 || eth.value.header.dst !== MAC_BROADCAST) return null;
  const ip = parseIpv4(eth.value.payload, CHECKSUM_FULL);
  if (!ip.ok || ip.value.header.protocol !== 17) return null;
  const udp = parseUdp(ip.value.payload, udpPseudoV4(ip.value.header.src, ip.value.header.dst), CHECKSUM_FULL);
  if (!udp.ok || udp.value.srcPort !== 68 || udp.value.dstPort !== 67) return null;
  const dhcp = parseDhcp(udp.value.payload);
  if (!dhcp.ok || dhcp.value.op !== BOOTREQUEST || dhcpMessageType(dhcp.value) !== DHCPDISCOVER) return null;
  const client = dhcpClientMac(dhcp.value);
  return { srcMac: macToString(eth.value.header.src), clientMac: client === null ? '' : macToString(client), xid: dhcp.value.xid };
}
