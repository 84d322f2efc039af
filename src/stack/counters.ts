/**
 * Counters the user can read: packets and segments in and out,
 * retransmissions, resets, and drops by reason.
 */
import type { DropReason } from '../wire/types.ts';

export class Counters {
  packetsIn = 0;
  packetsOut = 0;
  segmentsIn = 0;
  segmentsOut = 0;
  /** TCP super-segments handed to a link that cuts them (Link.transmitGso); their segments count in segmentsOut. */
  superSegmentsOut = 0;
  retransmits = 0;
  resetsSent = 0;
  resetsReceived = 0;
  activeOpens = 0;
  passiveOpens = 0;
  established = 0;
  challengeAcks = 0;
  /** RFC 4987 SYN cookies: SYN,ACKs sent without state, handshakes completed from one, ACKs whose cookie failed. */
  synCookiesSent = 0;
  synCookiesAccepted = 0;
  synCookiesInvalid = 0;
  /** Segments that arrived with the IP CE mark (RFC 3168). */
  ecnCeReceived = 0;
  icmpIn = 0;
  icmpEchoReplies = 0;
  /** Echo requests this host originated (ping, stack/echo.ts), and the replies to them its sessions took. */
  icmpEchoRequestsOut = 0;
  icmpEchoRepliesIn = 0;
  /** ICMP error messages (unreachable, time exceeded, parameter problem, source quench) received. */
  icmpErrorsIn = 0;
  /** ICMP errors that passed validation and were acted on (ignored ones are drops by reason). */
  icmpErrorsAccepted = 0;
  /** ICMP error messages this host originated (ICMPv6 Parameter Problem, Time Exceeded on reassembly timeout). */
  icmpErrorsOut = 0;
  /** IP datagrams reassembled from fragments (IPv4 and IPv6). */
  reassembled = 0;
  /** Connections aborted by an ICMP hard error in SYN-SENT. */
  icmpHardErrors = 0;
  /** Soft errors remembered for a connection (RFC 1122 §4.2.3.9). */
  icmpSoftErrors = 0;
  /** Path MTU estimates lowered by "fragmentation needed" (RFC 1191). */
  pmtuUpdates = 0;
  /** Connections resegmented to a smaller MSS by PMTU discovery. */
  pmtuResegments = 0;
  /** Packetization-layer black-hole fallbacks (RFC 4821): MSS lowered after repeated RTOs. */
  pmtuBlackholes = 0;
  /** Path MTU estimates that aged out (RFC 1191 §6.3), raising the MSS of affected connections again. */
  pmtuExpired = 0;
  /** Retransmission timeouts (every RTO expiry that retransmitted data). */
  retransmitTimeouts = 0;
  /** UDP datagrams received (well formed) and sent. */
  udpIn = 0;
  udpOut = 0;
  /** Drops by reason. */
  readonly drops: Partial<Record<DropReason, number>> = {};

  drop(reason: DropReason): void {
    this.drops[reason] = (this.drops[reason] ?? 0) + 1;
  }

  /** Checksum failures at any layer. */
  get checksumErrors(): number {
    return (this.drops['ipv4-bad-checksum'] ?? 0) + (this.drops['tcp-bad-checksum'] ?? 0) + (this.drops['icmp-bad-checksum'] ?? 0) + (this.drops['icmpv6-bad-checksum'] ?? 0) + (this.drops['udp-bad-checksum'] ?? 0);
  }

  get totalDrops(): number {
    let n = 0;
    for (const v of Object.values(this.drops)) n += v ?? 0;
    return n;
  }

  snapshot(): Record<string, number | Record<string, number>> {
    return {
      packetsIn: this.packetsIn,
      packetsOut: this.packetsOut,
      segmentsIn: this.segmentsIn,
      segmentsOut: this.segmentsOut,
      superSegmentsOut: this.superSegmentsOut,
      retransmits: this.retransmits,
      resetsSent: this.resetsSent,
      resetsReceived: this.resetsReceived,
      activeOpens: this.activeOpens,
      passiveOpens: this.passiveOpens,
      established: this.established,
      challengeAcks: this.challengeAcks,
      synCookiesSent: this.synCookiesSent,
      synCookiesAccepted: this.synCookiesAccepted,
      synCookiesInvalid: this.synCookiesInvalid,
      ecnCeReceived: this.ecnCeReceived,
      icmpIn: this.icmpIn,
      icmpEchoReplies: this.icmpEchoReplies,
      icmpEchoRequestsOut: this.icmpEchoRequestsOut,
      icmpEchoRepliesIn: this.icmpEchoRepliesIn,
      icmpErrorsIn: this.icmpErrorsIn,
      icmpErrorsAccepted: this.icmpErrorsAccepted,
      icmpErrorsOut: this.icmpErrorsOut,
      reassembled: this.reassembled,
      icmpHardErrors: this.icmpHardErrors,
      icmpSoftErrors: this.icmpSoftErrors,
      pmtuUpdates: this.pmtuUpdates,
      pmtuResegments: this.pmtuResegments,
      pmtuBlackholes: this.pmtuBlackholes,
      pmtuExpired: this.pmtuExpired,
      retransmitTimeouts: this.retransmitTimeouts,
      udpIn: this.udpIn,
      udpOut: this.udpOut,
      checksumErrors: this.checksumErrors,
      drops: { ...this.drops } as Record<string, number>,
    };
  }
}
