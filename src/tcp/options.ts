/**
 * Which TCP options a connection puts on its segments, and in what order.
 *
 * SYN and SYN,ACK carry MSS (RFC 9293 §3.7.1), window scale (RFC 7323 §2),
 * SACK-permitted (RFC 2018) and timestamps (RFC 7323 §3) — the last three
 * on a SYN,ACK only when the peer's SYN offered them. The byte layout
 * follows one of two well-known stacks, so captures look familiar and
 * conformance suites that check exact bytes can be met:
 *
 *   linux:   mss, sackOK, TS, nop, wscale        (tcp_options_write)
 *   freebsd: mss, nop, wscale, sackOK, TS, eol…  (tcp_addoptions: NOPs to
 *            align each option, EOL padding to a 4-byte boundary)
 */
import type { TcpOption } from '../wire/types.ts';
import { EOL_OPTION as EOL, NOP_OPTION as NOP } from '../wire/tcp-options.ts';

export type OptionLayout = 'linux' | 'freebsd';

export interface SynOptionSet {
  mss: number;
  /** Our shift, when window scaling is offered. */
  wscale?: number;
  sackPermitted: boolean;
  /** Our TSval and the TSecr to echo, when timestamps are offered. */
  ts?: { tsval: number; tsecr: number };
}

const SACK_OK: TcpOption = Object.freeze({ kind: 'sack-permitted' }) as TcpOption;

export function synOptions(layout: OptionLayout, o: SynOptionSet): TcpOption[] {
  const out: TcpOption[] = [{ kind: 'mss', value: o.mss }];
  if (layout === 'linux') {
    if (o.ts) {
      if (o.sackPermitted) out.push(SACK_OK);
      else out.push(NOP, NOP);
      out.push({ kind: 'timestamp', tsval: o.ts.tsval, tsecr: o.ts.tsecr });
    } else if (o.sackPermitted) {
      out.push(NOP, NOP, SACK_OK);
    }
    if (o.wscale !== undefined) out.push(NOP, { kind: 'window-scale', shift: o.wscale });
    return out;
  }
  // FreeBSD: each option preceded by the NOPs that align it, then EOL padding.
  let len = 4;
  if (o.wscale !== undefined) {
    while (len % 2 !== 1) {
      out.push(NOP);
      len++;
    }
    out.push({ kind: 'window-scale', shift: o.wscale });
    len += 3;
  }
  if (o.sackPermitted) {
    while (len % 2 !== 0) {
      out.push(NOP);
      len++;
    }
    out.push(SACK_OK);
    len += 2;
  }
  if (o.ts) {
    while (len % 4 !== 2) {
      out.push(NOP);
      len++;
    }
    out.push({ kind: 'timestamp', tsval: o.ts.tsval, tsecr: o.ts.tsecr });
    len += 10;
  }
  while (len % 4 !== 0) {
    out.push(EOL);
    len++;
  }
  return out;
}

/**
 * Options of a non-SYN segment: timestamps (nop, nop, TS — both stacks use
 * this 12-byte form) and up to 4 SACK blocks (3 with timestamps, RFC 2018
 * §3: "at most 3 SACK blocks" fit beside the timestamp option).
 */
export function segmentOptions(ts: { tsval: number; tsecr: number } | null, sack: Array<[number, number]> | null): TcpOption[] {
  // Built as literals (timestamps alone, most segments: an array of exactly
  // three), not grown by push (V8 gives that one a 17-slot backing store).
  const out: TcpOption[] = ts ? [NOP, NOP, { kind: 'timestamp', tsval: ts.tsval, tsecr: ts.tsecr }] : [];
  if (sack && sack.length > 0) {
    const max = ts ? 3 : 4;
    out.push(NOP, NOP, { kind: 'sack', blocks: sack.slice(0, max) });
  }
  return out;
}
