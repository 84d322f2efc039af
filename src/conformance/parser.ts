/**
 * A parser for packetdrill scripts (google/packetdrill syntax plus the NPLab
 * extensions used by the FreeBSD tcp-testsuite): `--option=value` lines,
 * `#ifdef NAME` / `#else` / `#endif` (one level, NAME defined by the
 * caller), timed events — packets (`<` inbound, `>` outbound), socket
 * calls, backquoted shell commands and `%{ }%` code blocks.
 *
 * Reference: shared/docs/packetdrill-language.md (§1.1–1.11). Pure: no
 * node: imports. Constructs this interpreter cannot run are kept as
 * `{ type: 'unsupported' }` events so that the executor fails the script
 * with a clear reason when (and only if) it reaches one.
 */
import { ACK, CWR, ECE, FIN, PSH, RST, SYN, URG, type TcpOption } from '../core.ts';

export type TimeKind = 'abs' | 'rel';

export interface TimeSpec {
  /** '*' = any time (outbound packets only). */
  kind: TimeKind | 'any';
  /** Microseconds (absolute since script start, or relative to the anchor). */
  us: number;
  /** `T1~T2`: the end of an accepted range. */
  rangeEnd?: { kind: TimeKind; us: number };
}

export interface SeqSpec {
  start: number;
  end: number;
  len: number;
  /** NPLab `!`: the numbers are absolute, not relativised. */
  absolute: boolean;
  /** NPLab `...(LEN)`: any sequence number. */
  any: boolean;
}

export interface IpInfo {
  tos?: number;
  ttl?: number;
  ecn?: 'noecn' | 'ect0' | 'ect1' | 'ce' | 'ect01';
}

/** A TCP option as a script writes it (`TS val V ecr E` keeps the script's values). */
export type ScriptOption = TcpOption;

export interface PacketAction {
  type: 'packet';
  dir: 'in' | 'out';
  ip: IpInfo;
  flags: number;
  flagsText: string;
  seq: SeqSpec;
  /** null: no `ack` given (the field is 0 and compared on outbound packets). */
  ack: number | null;
  /** null: no `win` given (not checked on outbound; mandatory inbound). */
  win: number | null;
  urg: number;
  /** null: no option list (exactly no options); 'any': `<...>`. */
  options: ScriptOption[] | 'any' | null;
}

export interface IcmpAction {
  type: 'icmp';
  dir: 'in' | 'out';
  icmpType: string;
  code: string;
  mtu: number | null;
  /** The TCP sequence range of the quoted segment (`[S:E(L)]`), if given. */
  seq: SeqSpec | null;
}

export type Expr =
  | { k: 'ellipsis' }
  | { k: 'num'; v: number }
  | { k: 'word'; v: string }
  | { k: 'str'; v: string }
  | { k: 'or'; items: Expr[] }
  | { k: 'list'; items: Expr[] }
  | { k: 'struct'; fields: Array<{ name: string | null; value: Expr }> }
  | { k: 'call'; name: string; args: Expr[] };

export interface SyscallAction {
  type: 'syscall';
  name: string;
  args: Expr[];
  result: Expr;
  /** The errno word after the result (`-1 EINPROGRESS (…)`), if any. */
  errno: string | null;
}

export interface CommandAction {
  type: 'command';
  command: string;
}

export interface CodeAction {
  type: 'code';
  code: string;
}

export interface UnsupportedAction {
  type: 'unsupported';
  reason: string;
}

export type Action = PacketAction | IcmpAction | SyscallAction | CommandAction | CodeAction | UnsupportedAction;

export interface ScriptEvent {
  /** 1-based line number in the file. */
  line: number;
  /** The event's source text (comments removed, one line). */
  text: string;
  time: TimeSpec;
  /** `T1...T2 call()`: when a blocking call is expected to return. */
  end: { kind: TimeKind; us: number } | null;
  action: Action;
}

export interface Script {
  /** `--name=value` options (value '' for a bare `--name`). */
  options: Map<string, string>;
  events: ScriptEvent[];
}

export class ScriptSyntaxError extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(`line ${line}: ${message}`);
    this.name = 'ScriptSyntaxError';
  }
}

export interface ParseOptions {
  /** Names defined for `#ifdef` (packetdrill -D NAME); default ['STANDARD']. */
  defines?: readonly string[];
}

// =============================================================================
// Lines: comments, #ifdef, continuation
// =============================================================================

interface SrcLine {
  line: number;
  text: string;
}

/** Removes comments (keeping line numbers) and applies #ifdef/#else/#endif. */
function preprocess(src: string, defines: ReadonlySet<string>): SrcLine[] {
  // Block comments → spaces (newlines kept), outside backquotes.
  let out = '';
  let inTick = false;
  for (let i = 0; i < src.length; i++) {
    const ch = src[i]!;
    if (ch === '`') inTick = !inTick;
    if (!inTick && ch === '/' && src[i + 1] === '*') {
      const end = src.indexOf('*/', i + 2);
      const stop = end < 0 ? src.length : end + 2;
      out += src.slice(i, stop).replace(/[^\n]/g, ' ');
      i = stop - 1;
      continue;
    }
    out += ch;
  }
  const lines = out.split(/\r?\n/);
  const result: SrcLine[] = [];
  const stack: boolean[] = [];
  for (let i = 0; i < lines.length; i++) {
    let t = lines[i]!;
    // Line comments, outside backquotes and strings.
    let q: string | null = null;
    for (let j = 0; j < t.length; j++) {
      const c = t[j]!;
      if (q) {
        if (c === q) q = null;
      } else if (c === '`' || c === '"') {
        q = c;
      } else if (c === '/' && t[j + 1] === '/') {
        t = t.slice(0, j);
        break;
      }
    }
    const trimmed = t.trim();
    const m = /^#\s*(ifdef|ifndef|else|endif)\b\s*(\S*)/.exec(trimmed);
    if (m) {
      if (m[1] === 'ifdef' || m[1] === 'ifndef') {
        const def = defines.has(m[2]!);
        stack.push(m[1] === 'ifdef' ? def : !def);
      } else if (m[1] === 'else') {
        if (!stack.length) throw new ScriptSyntaxError(i + 1, '#else without #ifdef');
        stack[stack.length - 1] = !stack[stack.length - 1];
      } else {
        if (!stack.length) throw new ScriptSyntaxError(i + 1, '#endif without #ifdef');
        stack.pop();
      }
      continue;
    }
    if (stack.some((x) => !x)) continue;
    if (trimmed) result.push({ line: i + 1, text: trimmed });
  }
  if (stack.length) throw new ScriptSyntaxError(lines.length, 'missing #endif');
  // Join lines inside an open backquote or %{ … }%.
  const joined: SrcLine[] = [];
  for (let i = 0; i < result.length; i++) {
    const first = result[i]!;
    let text = first.text;
    const open = (s: string) => (s.split('`').length - 1) % 2 === 1 || (s.includes('%{') && !s.includes('}%'));
    while (open(text) && i + 1 < result.length) text += ' ' + result[++i]!.text;
    joined.push({ line: first.line, text });
  }
  return joined;
}

// =============================================================================
// Script
// =============================================================================

const TIME_RE = /^(\*|(\+)?\s*(\d*\.?\d+))(?:\s*~\s*(\+)?\s*(\d*\.?\d+))?(?:\s*\.\.\.\s*(\+)?\s*(\d*\.?\d+))?\s+(.*)$/;

const toUs = (s: string): number => Math.round(parseFloat(s) * 1e6);

export function parseScript(src: string, opts: ParseOptions = {}): Script {
  const defines = new Set(opts.defines ?? ['STANDARD']);
  const options = new Map<string, string>();
  const events: ScriptEvent[] = [];
  for (const { line, text } of preprocess(src, defines)) {
    if (text.startsWith('--')) {
      const m = /^--([A-Za-z0-9_]+)(?:\s*=\s*(.*))?$/.exec(text);
      if (!m) throw new ScriptSyntaxError(line, `bad option line: ${text}`);
      options.set(m[1]!, (m[2] ?? '').trim());
      continue;
    }
    if (text.startsWith('`') && events.length === 0) {
      // An untimed init command: runs before the events, at time 0.
      events.push({ line, text, time: { kind: 'abs', us: 0 }, end: null, action: parseAction(text, line) });
      continue;
    }
    if (text.startsWith('`')) {
      // A trailing untimed cleanup command.
      events.push({ line, text, time: { kind: 'rel', us: 0 }, end: null, action: parseAction(text, line) });
      continue;
    }
    const m = TIME_RE.exec(text);
    if (!m) throw new ScriptSyntaxError(line, `expected a time at the start of: ${text}`);
    let time: TimeSpec;
    if (m[1] === '*') time = { kind: 'any', us: 0 };
    else time = { kind: m[2] ? 'rel' : 'abs', us: toUs(m[3]!) };
    if (m[5] !== undefined) {
      if (time.kind === 'any') throw new ScriptSyntaxError(line, '`*` cannot start a range');
      time.rangeEnd = { kind: m[4] ? 'rel' : 'abs', us: toUs(m[5]) };
    }
    const end = m[7] !== undefined ? { kind: (m[6] ? 'rel' : 'abs') as TimeKind, us: toUs(m[7]) } : null;
    const body = m[8]!.trim();
    events.push({ line, text: body, time, end, action: parseAction(body, line) });
  }
  return { options, events };
}

function parseAction(body: string, line: number): Action {
  if (body.startsWith('`')) {
    const end = body.lastIndexOf('`');
    if (end <= 0) throw new ScriptSyntaxError(line, 'unterminated backquote');
    return { type: 'command', command: body.slice(1, end).trim() };
  }
  if (body.startsWith('%{')) {
    const end = body.lastIndexOf('}%');
    if (end < 0) throw new ScriptSyntaxError(line, 'unterminated %{ }%');
    return { type: 'code', code: body.slice(2, end).trim() };
  }
  if (body.startsWith('<') || body.startsWith('>')) return parsePacket(body, line);
  if (/^[A-Za-z_][A-Za-z0-9_]*\s*\(/.test(body)) return parseSyscall(body, line);
  return { type: 'unsupported', reason: `unsupported event: ${body}` };
}

// =============================================================================
// Packets
// =============================================================================

const FLAG_BITS: Record<string, number> = { S: SYN, F: FIN, R: RST, P: PSH, '.': ACK, U: URG, E: ECE, W: CWR };

export function parseFlags(word: string): number | null {
  if (word === '-') return 0;
  let f = 0;
  for (const c of word) {
    const b = FLAG_BITS[c];
    if (b === undefined) return null;
    f |= b;
  }
  return f;
}

function parseSeq(s: string): { seq: SeqSpec; rest: string } | null {
  let m = /^(\d+):(\d+)\((\d+)\)(!)?/.exec(s);
  if (m) {
    const start = Number(m[1]);
    const end = Number(m[2]);
    const len = Number(m[3]);
    return { seq: { start, end, len, absolute: m[4] === '!', any: false }, rest: s.slice(m[0].length).trim() };
  }
  m = /^\.\.\.\s*\((\d+)\)/.exec(s);
  if (m) {
    const len = Number(m[1]);
    return { seq: { start: 0, end: len, len, absolute: false, any: true }, rest: s.slice(m[0].length).trim() };
  }
  return null;
}

function parseIpInfo(info: string, line: number): IpInfo | string {
  const ip: IpInfo = {};
  for (const part of info.split(',').map((x) => x.trim()).filter(Boolean)) {
    let m: RegExpExecArray | null;
    if ((m = /^tos\s+(0x[0-9a-fA-F]+|\d+)$/.exec(part))) ip.tos = Number(m[1]);
    else if ((m = /^ttl\s+(\d+)$/.exec(part))) ip.ttl = Number(m[1]);
    else if (/^(noecn|ect0|ect1|ce|ect01)$/.test(part)) ip.ecn = part as IpInfo['ecn'];
    else return `unsupported IP header field: ${part}`;
  }
  void line;
  return ip;
}

function parseOptions(s: string, line: number): ScriptOption[] | string {
  const out: ScriptOption[] = [];
  for (const raw of s.split(',')) {
    const p = raw.trim();
    if (!p) continue;
    let m: RegExpExecArray | null;
    if (p === 'nop') out.push({ kind: 'nop' });
    else if (p === 'eol') out.push({ kind: 'eol' });
    else if (p === 'sackOK') out.push({ kind: 'sack-permitted' });
    else if ((m = /^mss\s+(\d+)$/.exec(p))) out.push({ kind: 'mss', value: Number(m[1]) });
    else if ((m = /^wscale\s+(\d+)$/.exec(p))) out.push({ kind: 'window-scale', shift: Number(m[1]) });
    else if ((m = /^TS\s+val\s+(\d+)\s+ecr\s+(\d+)$/.exec(p))) out.push({ kind: 'timestamp', tsval: Number(m[1]) >>> 0, tsecr: Number(m[2]) >>> 0 });
    else if ((m = /^sack((?:\s+\d+:\d+)+)$/.exec(p))) {
      const blocks = m[1]!
        .trim()
        .split(/\s+/)
        .map((b) => b.split(':').map(Number) as [number, number]);
      out.push({ kind: 'sack', blocks });
    } else return `unsupported TCP option: ${p}`;
  }
  void line;
  return out;
}

function parsePacket(body: string, line: number): Action {
  const dir = body[0] === '<' ? 'in' : 'out';
  let s = body.slice(1).trim();
  if (/^icmp\b/.test(s)) return parseIcmp(dir, s.slice(4).trim(), line);
  if (/^(udp|udplite|sctp|ipv4|ipv6|gre|mpls|encap)\b/.test(s)) return { type: 'unsupported', reason: `unsupported packet type: ${s.split(/\s/)[0]}` };
  let ip: IpInfo = {};
  const ipm = /^(\(([^)]*)\)|\[([^\]]*)\])\s*/.exec(s);
  if (ipm) {
    const r = parseIpInfo(ipm[2] ?? ipm[3] ?? '', line);
    if (typeof r === 'string') return { type: 'unsupported', reason: r };
    ip = r;
    s = s.slice(ipm[0].length);
  }
  if (/^\d+\s*>\s*\d+\s/.test(s)) return { type: 'unsupported', reason: 'unsupported: explicit port numbers in a packet line' };
  const fm = /^(\S+)\s+/.exec(s);
  if (!fm) throw new ScriptSyntaxError(line, `bad packet line: ${body}`);
  const flagsText = fm[1]!;
  const flags = parseFlags(flagsText);
  if (flags === null) return { type: 'unsupported', reason: `unsupported TCP flags: ${flagsText}` };
  s = s.slice(fm[0].length);
  const sq = parseSeq(s);
  if (!sq) throw new ScriptSyntaxError(line, `bad sequence range in: ${body}`);
  if (!sq.seq.any && sq.seq.end - sq.seq.start !== sq.seq.len && !(sq.seq.end < sq.seq.start)) {
    throw new ScriptSyntaxError(line, `inconsistent sequence range ${sq.seq.start}:${sq.seq.end}(${sq.seq.len})`);
  }
  s = sq.rest;
  let ack: number | null = null;
  let win: number | null = null;
  let urg = 0;
  let options: PacketAction['options'] = null;
  while (s.length) {
    let m: RegExpExecArray | null;
    if ((m = /^ack\s+(\d+)\s*/.exec(s))) ack = Number(m[1]) >>> 0;
    else if ((m = /^win\s+(\d+)\s*/.exec(s))) win = Number(m[1]);
    else if ((m = /^urg\s+(\d+)\s*/.exec(s))) urg = Number(m[1]);
    else if ((m = /^<\.\.\.>\s*/.exec(s))) options = 'any';
    else if ((m = /^<([^>]*)>\s*/.exec(s))) {
      const r = parseOptions(m[1]!, line);
      if (typeof r === 'string') return { type: 'unsupported', reason: r };
      options = r;
    } else if (/^\/udp/.test(s)) return { type: 'unsupported', reason: 'unsupported: TCP over UDP encapsulation (/udp)' };
    else throw new ScriptSyntaxError(line, `unexpected "${s}" in packet line`);
    s = s.slice(m[0].length);
  }
  if (dir === 'in' && win === null) throw new ScriptSyntaxError(line, 'inbound packets need `win`');
  if (dir === 'in' && options === 'any') throw new ScriptSyntaxError(line, '`<...>` is allowed on outbound packets only');
  if (dir === 'in' && sq.seq.any) throw new ScriptSyntaxError(line, '`...(LEN)` is allowed on outbound packets only');
  return { type: 'packet', dir, ip, flags, flagsText, seq: sq.seq, ack, win, urg, options };
}

function parseIcmp(dir: 'in' | 'out', s: string, line: number): Action {
  const m = /^(\w+)(?:\s+(\w+))?(?:\s+mtu\s+(\d+))?\s*(?:\[(.*)\])?\s*$/.exec(s);
  if (!m) throw new ScriptSyntaxError(line, `bad icmp line: ${s}`);
  let seq: SeqSpec | null = null;
  if (m[4] !== undefined) {
    const q = parseSeq(m[4].trim());
    if (!q) return { type: 'unsupported', reason: `unsupported icmp quote: [${m[4]}]` };
    seq = q.seq;
  }
  return { type: 'icmp', dir, icmpType: m[1]!, code: m[2] ?? '', mtu: m[3] !== undefined ? Number(m[3]) : null, seq };
}

// =============================================================================
// System calls and expressions
// =============================================================================

type Tok = { t: 'num' | 'word' | 'str' | 'punct'; v: string };

function tokenize(s: string, line: number): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (s.startsWith('...', i)) {
      out.push({ t: 'punct', v: '...' });
      i += 3;
      continue;
    }
    if (c === '"') {
      const end = s.indexOf('"', i + 1);
      if (end < 0) throw new ScriptSyntaxError(line, 'unterminated string');
      out.push({ t: 'str', v: s.slice(i + 1, end) });
      i = end + 1;
      continue;
    }
    const num = /^-?(0x[0-9a-fA-F]+|\d+)/.exec(s.slice(i));
    if (num && (c !== '-' || /\d/.test(s[i + 1] ?? ''))) {
      out.push({ t: 'num', v: num[0] });
      i += num[0].length;
      continue;
    }
    const w = /^[A-Za-z_][A-Za-z0-9_.]*/.exec(s.slice(i));
    if (w) {
      out.push({ t: 'word', v: w[0] });
      i += w[0].length;
      continue;
    }
    out.push({ t: 'punct', v: c });
    i++;
  }
  return out;
}

class ExprParser {
  i = 0;
  constructor(
    readonly toks: Tok[],
    readonly line: number,
  ) {}
  peek(): Tok | undefined {
    return this.toks[this.i];
  }
  take(v?: string): Tok {
    const t = this.toks[this.i];
    if (!t || (v !== undefined && t.v !== v)) throw new ScriptSyntaxError(this.line, `expected ${v ?? 'a token'}, found ${t?.v ?? 'end of line'}`);
    this.i++;
    return t;
  }
  expr(): Expr {
    const first = this.atom();
    if (this.peek()?.v !== '|') return first;
    const items = [first];
    while (this.peek()?.v === '|') {
      this.take('|');
      items.push(this.atom());
    }
    return { k: 'or', items };
  }
  atom(): Expr {
    const t = this.take();
    if (t.v === '...' && t.t === 'punct') return { k: 'ellipsis' };
    if (t.t === 'num') return { k: 'num', v: Number(t.v) };
    if (t.t === 'str') return { k: 'str', v: t.v };
    if (t.t === 'word') {
      if (this.peek()?.v === '(') {
        this.take('(');
        const args = this.list(')');
        return { k: 'call', name: t.v, args };
      }
      return { k: 'word', v: t.v };
    }
    if (t.v === '[') return { k: 'list', items: this.list(']') };
    if (t.v === '{') {
      const fields: Array<{ name: string | null; value: Expr }> = [];
      while (this.peek()?.v !== '}') {
        const a = this.peek();
        const b = this.toks[this.i + 1];
        if (a?.t === 'word' && b?.v === '=') {
          this.i += 2;
          fields.push({ name: a.v, value: this.expr() });
        } else {
          fields.push({ name: null, value: this.expr() });
        }
        if (this.peek()?.v === ',') this.take(',');
      }
      this.take('}');
      return { k: 'struct', fields };
    }
    throw new ScriptSyntaxError(this.line, `unexpected "${t.v}" in expression`);
  }
  list(close: string): Expr[] {
    const items: Expr[] = [];
    while (this.peek()?.v !== close) {
      items.push(this.expr());
      if (this.peek()?.v === ',') this.take(',');
      else break;
    }
    this.take(close);
    return items;
  }
}

function parseSyscall(body: string, line: number): Action {
  const toks = tokenize(body, line);
  const p = new ExprParser(toks, line);
  const name = p.take().v;
  p.take('(');
  const args = p.list(')');
  p.take('=');
  const result = p.expr();
  let errno: string | null = null;
  const t = p.peek();
  if (t?.t === 'word' && /^E[A-Z0-9]+$/.test(t.v)) {
    errno = t.v;
    p.take();
  }
  // Anything left is a parenthesised note: "(Operation now in progress)", "(flags O_RDWR)".
  return { type: 'syscall', name, args, result, errno };
}

// =============================================================================
// Formatting (for messages)
// =============================================================================

export function formatOptions(options: readonly ScriptOption[]): string {
  return options
    .map((o) => {
      switch (o.kind) {
        case 'nop':
          return 'nop';
        case 'eol':
          return 'eol';
        case 'mss':
          return `mss ${o.value}`;
        case 'window-scale':
          return `wscale ${o.shift}`;
        case 'sack-permitted':
          return 'sackOK';
        case 'sack':
          return `sack ${o.blocks.map(([l, r]) => `${l}:${r}`).join(' ')}`;
        case 'timestamp':
          return `TS val ${o.tsval} ecr ${o.tsecr}`;
        case 'unknown':
          return `opt${o.code}`;
      }
    })
    .join(',');
}

export function formatFlags(flags: number): string {
  let s = '';
  if (flags & SYN) s += 'S';
  if (flags & FIN) s += 'F';
  if (flags & RST) s += 'R';
  if (flags & PSH) s += 'P';
  if (flags & URG) s += 'U';
  if (flags & ECE) s += 'E';
  if (flags & CWR) s += 'W';
  if (flags & ACK) s += '.';
  return s || '-';
}
