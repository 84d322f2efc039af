/**
 * TCP option codec (RFC 9293 §3.1/§3.2, RFC 7323, RFC 2018).
 *
 * Options are kept in wire order, including 'nop' and 'eol' entries, so
 * that emitting a parsed option list reproduces the original bytes. Parsing
 * stops at EOL (the bytes after it are padding and ignored); emission pads
 * the option area with zero bytes, which is what EOL padding is.
 *
 * Kinds and lengths:
 *   0 EOL (1 byte) · 1 NOP (1) · 2 MSS (4) · 3 window scale (3) ·
 *   4 SACK-permitted (2) · 5 SACK (2 + 8n, n = 1..4) · 8 timestamps (10) ·
 *   any other kind: length ≥ 2, kept as { kind: 'unknown', code, data }.
 */

import { getU16, getU32, setU16, setU32 } from './bytes.ts';
import type { ParseResult, TcpOption } from './types.ts';

export const TCP_OPT_EOL = 0;
export const TCP_OPT_NOP = 1;
export const TCP_OPT_MSS = 2;
export const TCP_OPT_WINDOW_SCALE = 3;
export const TCP_OPT_SACK_PERMITTED = 4;
export const TCP_OPT_SACK = 5;
export const TCP_OPT_TIMESTAMP = 8;

/** The option area is at most 40 bytes (data offset ≤ 15 words). */
export const TCP_MAX_OPTIONS_LEN = 40;

const KNOWN_KINDS = new Set([
  TCP_OPT_EOL,
  TCP_OPT_NOP,
  TCP_OPT_MSS,
  TCP_OPT_WINDOW_SCALE,
  TCP_OPT_SACK_PERMITTED,
  TCP_OPT_SACK,
  TCP_OPT_TIMESTAMP,
]);

/** The options without data, shared by every parse and by tcp/options.ts (a segment's NOPs allocate nothing; options are never mutated). */
export const EOL_OPTION: TcpOption = Object.freeze({ kind: 'eol' });
export const NOP_OPTION: TcpOption = Object.freeze({ kind: 'nop' });

/**
 * Parses the option area `bytes[start..end)`. A malformed option (a missing
 * length byte, a length below 2 or running past the header, a known kind
 * with the wrong length) is 'tcp-bad-option'. Never throws.
 */
export function parseTcpOptions(bytes: Uint8Array, start: number, end: number): ParseResult<TcpOption[]> {
  // The option area of nearly every segment once timestamps are on (RFC
  // 7323 Appendix A's layout: NOP, NOP, TSopt): an array of exactly three,
  // not one grown by push, whose backing store V8 makes 17 slots long.
  if (end - start === 12 && bytes[start] === TCP_OPT_NOP && bytes[start + 1] === TCP_OPT_NOP && bytes[start + 2] === TCP_OPT_TIMESTAMP && bytes[start + 3] === 10) {
    return { ok: true, value: [NOP_OPTION, NOP_OPTION, timestampOption(bytes, start + 2)] };
  }
  const options: TcpOption[] = [];
  let i = start;
  while (i < end) {
    const kind = bytes[i]!;
    if (kind === TCP_OPT_EOL) {
      options.push(EOL_OPTION);
      break;
    }
    if (kind === TCP_OPT_NOP) {
      options.push(NOP_OPTION);
      i += 1;
      continue;
    }
    if (i + 1 >= end) return { ok: false, reason: 'tcp-bad-option' };
    const len = bytes[i + 1]!;
    if (len < 2 || i + len > end) return { ok: false, reason: 'tcp-bad-option' };
    switch (kind) {
      case TCP_OPT_MSS:
        if (len !== 4) return { ok: false, reason: 'tcp-bad-option' };
        options.push({ kind: 'mss', value: getU16(bytes, i + 2) });
        break;
      case TCP_OPT_WINDOW_SCALE:
        if (len !== 3) return { ok: false, reason: 'tcp-bad-option' };
        options.push({ kind: 'window-scale', shift: bytes[i + 2]! });
        break;
      case TCP_OPT_SACK_PERMITTED:
        if (len !== 2) return { ok: false, reason: 'tcp-bad-option' };
        options.push({ kind: 'sack-permitted' });
        break;
      case TCP_OPT_SACK: {
        // RFC 2018 §3: length 2 + 8n; at most 4 blocks fit in 40 bytes.
        const n = (len - 2) >>> 3;
        if (n < 1 || n > 4 || len !== 2 + 8 * n) return { ok: false, reason: 'tcp-bad-option' };
        const blocks: Array<[number, number]> = [];
        for (let b = 0; b < n; b++) {
          const at = i + 2 + 8 * b;
          blocks.push([getU32(bytes, at), getU32(bytes, at + 4)]);
        }
        options.push({ kind: 'sack', blocks });
        break;
      }
      case TCP_OPT_TIMESTAMP:
        if (len !== 10) return { ok: false, reason: 'tcp-bad-option' };
        options.push(timestampOption(bytes, i));
        break;
      default:
        // Copied: a connection may keep it after the packet buffer is reused.
        options.push({ kind: 'unknown', code: kind, data: bytes.slice(i + 2, i + len) });
    }
    i += len;
  }
  return { ok: true, value: options };
}

/** The timestamps option (RFC 7323 §3) whose kind octet is at `at`. */
function timestampOption(bytes: Uint8Array, at: number): TcpOption {
  return { kind: 'timestamp', tsval: getU32(bytes, at + 2), tsecr: getU32(bytes, at + 6) };
}

/** The encoded length of one option, in bytes. */
export function tcpOptionLen(option: TcpOption): number {
  switch (option.kind) {
    case 'eol':
    case 'nop':
      return 1;
    case 'mss':
      return 4;
    case 'window-scale':
      return 3;
    case 'sack-permitted':
      return 2;
    case 'sack':
      return 2 + 8 * option.blocks.length;
    case 'timestamp':
      return 10;
    case 'unknown':
      return 2 + option.data.length;
  }
}

/** The length of the option area for `options`: their sum rounded up to a multiple of 4. */
export function tcpOptionsLen(options: readonly TcpOption[]): number {
  let n = 0;
  for (let k = 0; k < options.length; k++) n += tcpOptionLen(options[k]!);
  return (n + 3) & ~3;
}

function checkInt(what: string, value: number, max: number): void {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new Error(`TCP option ${what} must be an integer in 0..${max}, got ${value}`);
  }
}

/**
 * Writes `options` at `buf[offset]` and pads them with zero bytes (EOL) to a
 * multiple of 4. Returns the number of bytes written (`tcpOptionsLen`).
 * Throws for programmer errors: more than 40 bytes, values out of range, a
 * SACK with 0 or more than 4 blocks, an 'unknown' option with a known kind.
 */
export function emitTcpOptions(options: readonly TcpOption[], buf: Uint8Array, offset: number): number {
  const total = tcpOptionsLen(options);
  if (total > TCP_MAX_OPTIONS_LEN) throw new Error(`TCP options take ${total} bytes, more than 40`);
  if (offset < 0 || offset + total > buf.length) throw new Error('emitTcpOptions: buffer too small');
  let i = offset;
  for (let k = 0; k < options.length; k++) {
    const o = options[k]!;
    switch (o.kind) {
      case 'eol':
        buf[i++] = TCP_OPT_EOL;
        break;
      case 'nop':
        buf[i++] = TCP_OPT_NOP;
        break;
      case 'mss':
        checkInt('mss', o.value, 0xffff);
        buf[i] = TCP_OPT_MSS;
        buf[i + 1] = 4;
        setU16(buf, i + 2, o.value);
        i += 4;
        break;
      case 'window-scale':
        checkInt('window-scale shift', o.shift, 0xff);
        buf[i] = TCP_OPT_WINDOW_SCALE;
        buf[i + 1] = 3;
        buf[i + 2] = o.shift;
        i += 3;
        break;
      case 'sack-permitted':
        buf[i] = TCP_OPT_SACK_PERMITTED;
        buf[i + 1] = 2;
        i += 2;
        break;
      case 'sack': {
        const n = o.blocks.length;
        if (n < 1 || n > 4) throw new Error(`TCP SACK option must carry 1..4 blocks, got ${n}`);
        buf[i] = TCP_OPT_SACK;
        buf[i + 1] = 2 + 8 * n;
        for (let b = 0; b < n; b++) {
          const [left, right] = o.blocks[b]!;
          checkInt('SACK edge', left, 0xffffffff);
          checkInt('SACK edge', right, 0xffffffff);
          setU32(buf, i + 2 + 8 * b, left);
          setU32(buf, i + 6 + 8 * b, right);
        }
        i += 2 + 8 * n;
        break;
      }
      case 'timestamp':
        checkInt('tsval', o.tsval, 0xffffffff);
        checkInt('tsecr', o.tsecr, 0xffffffff);
        buf[i] = TCP_OPT_TIMESTAMP;
        buf[i + 1] = 10;
        setU32(buf, i + 2, o.tsval);
        setU32(buf, i + 6, o.tsecr);
        i += 10;
        break;
      case 'unknown':
        checkInt('kind', o.code, 0xff);
        if (KNOWN_KINDS.has(o.code)) throw new Error(`TCP option kind ${o.code} is not 'unknown'`);
        buf[i] = o.code;
        buf[i + 1] = 2 + o.data.length;
        buf.set(o.data, i + 2);
        i += 2 + o.data.length;
        break;
    }
  }
  // RFC 9293 §3.1: the header is padded with zeros (EOL) to a 32-bit boundary.
  buf.fill(0, i, offset + total);
  return total;
}

/** The MSS option's value (RFC 9293 §3.7.1), if present. */
export function findMss(options: readonly TcpOption[]): number | undefined {
  for (const o of options) if (o.kind === 'mss') return o.value;
  return undefined;
}

/** The window-scale shift as sent (RFC 7323 §2.2; the receiver clamps it to 14), if present. */
export function findWindowScale(options: readonly TcpOption[]): number | undefined {
  for (const o of options) if (o.kind === 'window-scale') return o.shift;
  return undefined;
}

/** Whether the SACK-permitted option (RFC 2018 §2) is present. */
export function hasSackPermitted(options: readonly TcpOption[]): boolean {
  for (const o of options) if (o.kind === 'sack-permitted') return true;
  return false;
}

/** The timestamps option (RFC 7323 §3), if present. */
export function findTimestamp(options: readonly TcpOption[]): { tsval: number; tsecr: number } | undefined {
  for (const o of options) if (o.kind === 'timestamp') return { tsval: o.tsval, tsecr: o.tsecr };
  return undefined;
}

/** The SACK blocks (RFC 2018 §3), if a SACK option is present. */
export function findSack(options: readonly TcpOption[]): Array<[number, number]> | undefined {
  for (const o of options) if (o.kind === 'sack') return o.blocks;
  return undefined;
}
