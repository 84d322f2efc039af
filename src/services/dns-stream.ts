/**
 * DNS over TCP framing (RFC 1035 §4.2.2): "The message is prefixed with a
 * two byte length field which gives the message length, excluding the two
 * byte length field. This length field allows the low-level processing to
 * assemble a complete message before beginning to parse it."
 */
import { getU16, setU16 } from '../wire/bytes.ts';
import type { DnsMessage, DnsQuestion } from '../wire/dns.ts';
import { dnsNameKey } from '../wire/dns.ts';

/** `msg` with its two-byte length prefix. */
export function frameDns(msg: Uint8Array): Uint8Array {
  if (msg.length > 0xffff) throw new Error(`frameDns: a DNS message over TCP is at most 65535 bytes, got ${msg.length}`);
  const out = new Uint8Array(2 + msg.length);
  setU16(out, 0, msg.length);
  out.set(msg, 2);
  return out;
}

/**
 * Reassembles length-prefixed messages from a byte stream. Holds at most one
 * partial message (≤ 65537 bytes); a zero length is an error (no DNS message
 * is empty) and poisons the stream.
 */
export class DnsStreamReader {
  private buf = new Uint8Array(0);
  private bad = false;

  get broken(): boolean {
    return this.bad;
  }

  /** Appends `bytes`; returns the messages completed by them (empty while partial), or null on a framing error. */
  push(bytes: Uint8Array): Uint8Array[] | null {
    if (this.bad) return null;
    const all = new Uint8Array(this.buf.length + bytes.length);
    all.set(this.buf, 0);
    all.set(bytes, this.buf.length);
    const out: Uint8Array[] = [];
    let at = 0;
    while (all.length - at >= 2) {
      const len = getU16(all, at);
      if (len === 0) {
        this.bad = true;
        return null;
      }
      if (all.length - at - 2 < len) break;
      out.push(all.slice(at + 2, at + 2 + len));
      at += 2 + len;
    }
    this.buf = all.slice(at);
    return out;
  }
}

/** Whether two questions are the same (names compare case-insensitively, RFC 1035 §2.3.3). */
export function sameQuestion(a: DnsQuestion, b: DnsQuestion): boolean {
  return a.type === b.type && a.class === b.class && dnsNameKey(a.name) === dnsNameKey(b.name);
}

/**
 * RFC 5452 §4.1 (and RFC 1035 §7.3): a response is accepted only if its
 * question section matches the query's: one question, the same name, type
 * and class.
 */
export function answersQuestion(m: DnsMessage, q: DnsQuestion): boolean {
  return m.qr && m.questions.length === 1 && sameQuestion(m.questions[0]!, q);
}
