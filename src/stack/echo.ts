/**
 * ICMP echo requests this host originates, and the echo replies to them
 * (RFC 792, RFC 4443 §4.1/§4.2), for both families. The stack answers echo
 * requests itself (icmp.ts); this is the other direction — what `ping` needs.
 *
 * RFC 792 (Echo or Echo Reply Message): "The identifier and sequence number
 * may be used by the echo sender to aid in matching the replies with the
 * echo requests. For example, the identifier might be used like a port in
 * TCP or UDP to identify a session, and the sequence number might be
 * incremented on each echo request sent. The echoer returns these same
 * values in the echo reply." So a session opens an *echo port*: an
 * identifier of its own (none of two open sessions share one), and the
 * replies carrying that identifier go to it; the session matches the
 * sequence number. RFC 4443 §4.1 says the same for ICMPv6 ("An identifier to
 * aid in matching Echo Replies to this Echo Request").
 *
 * A reply no open session takes — an unknown identifier, or one its session
 * did not expect (a late or duplicated reply, a wrong source, altered data)
 * — is a counted drop ('icmp-echo-unmatched').
 *
 * Per stack, made on first use: a stack that never pings holds a null.
 */
import { IPPROTO_ICMP } from '../wire/types.ts';
import { emitIpv4 } from '../wire/ipv4.ts';
import { emitIcmpEcho, icmpEchoLen } from '../wire/icmp.ts';
import { emitIpv6, IPPROTO_ICMPV6, IPV6_HEADER_LEN, type IpAddr, type Ipv6Addr } from '../wire/ipv6.ts';
import { emitIcmpv6, icmpv6Len, type Icmpv6Repr } from '../wire/icmpv6.ts';
import { CHECKSUM_FULL } from '../wire/types.ts';
import type { Stack } from './stack.ts';

/** An echo reply handed to the session whose identifier it carries. */
export interface EchoReply {
  /** The source of the reply. */
  from: IpAddr;
  /** Our address it was sent to. */
  to: IpAddr;
  seq: number;
  /** The data, a view into the packet (copy it to keep it). */
  data: Uint8Array;
}

/**
 * Takes a reply with this session's identifier; returns false when the
 * session did not expect it (the stack then counts it as unmatched).
 */
export type EchoHandler = (reply: EchoReply) => boolean;

/** An open echo session: its identifier, a way to send requests, and close. */
export interface EchoPort {
  readonly ident: number;
  /**
   * Sends one echo request to `dst` with sequence number `seq` and `data`.
   * Returns our source address, or null when no interface has an address
   * of `dst`'s family (nothing is sent).
   */
  send(dst: IpAddr, seq: number, data: Uint8Array): IpAddr | null;
  close(): void;
}

/** The echo sessions of a stack, by identifier. */
export class EchoPorts {
  private readonly handlers = new Map<number, EchoHandler>();
  private next: number;

  constructor(
    private readonly stack: Stack,
    seed: number,
  ) {
    this.next = seed & 0xffff;
  }

  get size(): number {
    return this.handlers.size;
  }

  /**
   * Opens a session with an identifier no open session has (the next one
   * after a per-stack starting point derived from its secret, as ping's
   * process ids differ from run to run). Throws when all 65536 are taken.
   */
  open(handler: EchoHandler): EchoPort {
    if (this.handlers.size >= 0x10000) throw new Error('every ICMP echo identifier is in use');
    let id = this.next;
    while (this.handlers.has(id)) id = (id + 1) & 0xffff;
    this.next = (id + 1) & 0xffff;
    this.handlers.set(id, handler);
    const s = this.stack;
    return {
      ident: id,
      send: (dst, seq, data) => sendEchoRequest(s, dst, id, seq, data),
      close: () => {
        if (this.handlers.get(id) === handler) this.handlers.delete(id);
      },
    };
  }

  /**
   * An echo reply addressed to us. RFC 4443 §4.2: "Echo Reply messages MUST
   * be passed to the process that originated an Echo Request message." —
   * the session with the reply's identifier.
   */
  deliver(ident: number, reply: EchoReply): void {
    const h = this.handlers.get(ident);
    if (h === undefined || !h(reply)) this.stack.drop(null, 'icmp-echo-unmatched');
  }
}

/**
 * Sends an echo request (RFC 792 type 8; RFC 4443 §4.1 type 128) from our
 * address on the route to `dst`. Larger than the path MTU, it goes in
 * fragments (stack.sendDatagram), as Linux's ping -s 4000 does.
 */
export function sendEchoRequest(s: Stack, dst: IpAddr, ident: number, seq: number, data: Uint8Array): IpAddr | null {
  const r = s.routeFrom(dst);
  if (r === null) return null;
  let buf: Uint8Array;
  if (typeof dst === 'number') {
    // RFC 792: "Type 8 for echo message; 0 for echo reply message." "Code 0".
    const m = { type: 'echo-request' as const, ident, seqNo: seq, data };
    const len = icmpEchoLen(m);
    buf = new Uint8Array(20 + len);
    emitIpv4({ src: r.src as number, dst, protocol: IPPROTO_ICMP, ttl: s.ttl, tos: 0, ident: s.nextIdent(), dontFragment: false, payloadLen: len }, buf, 0, CHECKSUM_FULL);
    emitIcmpEcho(m, buf, 20);
  } else {
    // RFC 4443 §4.1: "Type 128", "Code 0", Identifier, Sequence Number,
    // "Data: Zero or more octets of arbitrary data."
    const m: Icmpv6Repr = { kind: 'echo-request', code: 0, ident, seq, data };
    const len = icmpv6Len(m);
    buf = new Uint8Array(IPV6_HEADER_LEN + len);
    emitIpv6({ src: r.src as Ipv6Addr, dst, trafficClass: 0, flowLabel: 0, payloadLen: len, nextHeader: IPPROTO_ICMPV6, hopLimit: s.ttl }, buf, 0);
    emitIcmpv6(m, r.src as Ipv6Addr, dst, buf, IPV6_HEADER_LEN, CHECKSUM_FULL);
  }
  s.counters.icmpEchoRequestsOut++;
  s.sendDatagram(r.iface, buf);
  return r.src;
}
