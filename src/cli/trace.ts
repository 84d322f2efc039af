/**
 * `synack trace FILE.pcap [--conn N] [--json]`: reads a capture (tcpdump,
 * Wireshark, `synack demo --pcap`), lists its TCP connections and draws the
 * ladder of one, with both endpoints' states as a passive observer infers
 * them through RFC 9293 Figure 5 (src/viz/observer.ts) and the segments
 * marked as Wireshark's TCP analysis would (retransmission, out-of-order,
 * zero window, reset, …).
 *
 * Must be imported through main.ts (it imports main.ts for UsageError).
 */
import { readFileSync } from 'node:fs';
import { parseOptions, UsageError, type CliIo, type Command } from './options.ts';
import { analyzeCapture, roleOf, type TraceConnection, type TraceSegment, type Verdict } from '../viz/observer.ts';
import { drawArrow, displayWidth } from './demo.ts';

const TRACE_HELP = `Usage: synack trace FILE.pcap [--conn N] [--json]

Reads a pcap capture (classic pcap; raw IP, Ethernet or Linux cooked link
types) and lists its TCP connections. For one connection (--conn N, or the
only one) it draws a ladder diagram: one row per segment with its flags,
relative seq/ack, window and length, both endpoints' states as a passive
observer infers them (SYN-SENT, SYN-RECEIVED, ..., TIME-WAIT), and marks for
retransmissions, out-of-order segments, zero windows and resets (the rules of
Wireshark's tcp.analysis).

Options:
  --conn N     draw connection N of the list (1-based)
  --json       one JSON document instead of text
  -h, --help   this help

Examples:
  synack demo --loss 0.2 --pcap demo.pcap && synack trace demo.pcap
  tcpdump -i eth0 -w web.pcap port 80; synack trace web.pcap --conn 2`;

const TRACE_OPTIONS = {
  conn: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

const VERDICT_TEXT: Record<Verdict, string> = {
  retransmission: 'retransmission',
  'fast-retransmission': 'fast retransmission',
  'spurious-retransmission': 'spurious retransmission',
  'out-of-order': 'out-of-order',
  'zero-window': 'zero window',
  'zero-window-probe': 'zero-window probe',
  'keep-alive': 'keep-alive',
  'dup-ack': 'dup ACK',
  reset: 'reset',
  'previous-segment-lost': 'previous segment not captured',
};

const STATE_W = 13;
const ARROW_W = 26;

function pad(s: string, w: number): string {
  const n = displayWidth(s);
  return n >= w ? s : s + ' '.repeat(w - n);
}

function padL(s: string, w: number): string {
  return s.length >= w ? s : ' '.repeat(w - s.length) + s;
}

function countsText(c: TraceConnection): string {
  const parts = (Object.keys(c.counts) as Verdict[]).filter((v) => v !== 'dup-ack').map((v) => `${VERDICT_TEXT[v]} ${c.counts[v]}`);
  return parts.join(', ');
}

function listLines(file: string, packets: number, conns: TraceConnection[]): string[] {
  const out = [`${file}: ${packets} packets, ${conns.length} TCP connection${conns.length === 1 ? '' : 's'}`];
  if (conns.length === 0) return out;
  out.push('');
  const epW = Math.max(11, ...conns.map((c) => c.endpoints[0].length + 3 + c.endpoints[1].length));
  out.push(`${padL('#', 4)}  ${pad('connection', epW)}  ${padL('segs', 5)}  ${padL('bytes →', 9)}  ${padL('bytes ←', 9)}  ${pad('final states', 27)}  marks`);
  for (const c of conns) {
    const last = c.segments[c.segments.length - 1];
    const st = last ? `${last.states[0]} / ${last.states[1]}` : '';
    out.push(
      `${padL(String(c.index), 4)}  ${pad(`${c.endpoints[0]} ⇄ ${c.endpoints[1]}`, epW)}  ${padL(String(c.segments.length), 5)}  ${padL(String(c.bytes[0]), 9)}  ${padL(String(c.bytes[1]), 9)}  ${pad(st, 27)}  ${countsText(c)}`,
    );
  }
  return out;
}

function ladderLines(c: TraceConnection): string[] {
  const out: string[] = [];
  const a = `${roleOf(c, 0)} ${c.endpoints[0]}`;
  const b = `${roleOf(c, 1)} ${c.endpoints[1]}`;
  out.push('');
  out.push(`connection ${c.index}: ${a} ⇄ ${b}${c.midstream ? '  (capture starts mid-connection: states before it are assumed)' : ''}`);
  out.push('seq/ack relative to each side\'s ISN; win in bytes (window scaling applied); states as a passive observer infers them');
  out.push('');
  out.push(`${padL('frame', 6)} ${padL('time ms', 10)}  ${pad(roleOf(c, 0), STATE_W)} ${pad('', ARROW_W)} ${pad(roleOf(c, 1), STATE_W)} ${padL('seq', 10)} ${padL('ack', 10)} ${padL('win', 8)} ${padL('len', 6)}  marks`);
  out.push(`${' '.repeat(6 + 1 + 10 + 2)}${pad(c.initial[0], STATE_W)} ${' '.repeat(ARROW_W)} ${c.initial[1]}`);
  for (const s of c.segments) out.push(row(c, s));
  const last = c.segments[c.segments.length - 1];
  if (last && (last.states[0] === 'TIME-WAIT' || last.states[1] === 'TIME-WAIT')) {
    out.push(`${' '.repeat(19)}(TIME-WAIT ends 2×MSL later, after the capture: the endpoint then deletes its TCB → CLOSED)`);
  }
  const trs = c.segments.flatMap((s) => s.transitions);
  for (const side of [0, 1] as const) {
    const seq = [c.initial[side], ...trs.filter((t) => t.side === side).map((t) => t.to)];
    out.push(`${pad(roleOf(c, side) + ' states:', 16)} ${seq.join(' → ')}`);
  }
  const marks = countsText(c);
  if (marks) out.push(`${pad('marks:', 16)} ${marks}`);
  return out;
}

function row(c: TraceConnection, s: TraceSegment): string {
  const right = s.from === 0;
  const t = ((s.timeUs - c.startUs) / 1000).toFixed(3);
  const [st0, st1] = s.states;
  const marks = s.verdicts.map((v) => VERDICT_TEXT[v]);
  for (const tr of s.transitions) if (!tr.figure5) marks.push(`${roleOf(c, tr.side)}: ${tr.label}`);
  return (
    `${padL(String(s.frame), 6)} ${padL(t, 10)}  ${pad(st0, STATE_W)} ${drawArrow(s.flagsText, right, false, ARROW_W)} ${pad(st1, STATE_W)} ` +
    `${padL(String(s.relSeq), 10)} ${padL(s.relAck === null ? '-' : String(s.relAck), 10)} ${padL(String(s.windowBytes), 8)} ${padL(String(s.len), 6)}  ${marks.join('; ')}`
  );
}

function toJson(file: string, packets: number, conns: TraceConnection[], chosen: TraceConnection | null): unknown {
  return {
    file,
    packets,
    connections: conns.map((c) => ({
      index: c.index,
      endpoints: c.endpoints,
      initial: c.initial,
      midstream: c.midstream,
      segments: c.segments.length,
      bytes: c.bytes,
      final: c.segments.length ? c.segments[c.segments.length - 1]!.states : c.initial,
      marks: c.counts,
    })),
    ladder: chosen
      ? {
          index: chosen.index,
          roles: [roleOf(chosen, 0), roleOf(chosen, 1)],
          segments: chosen.segments.map((s) => ({
            frame: s.frame,
            timeUs: s.timeUs - chosen.startUs,
            from: s.from,
            flags: s.flagsText,
            seq: s.relSeq,
            ack: s.relAck,
            win: s.windowBytes,
            len: s.len,
            verdicts: s.verdicts,
            states: s.states,
            transitions: s.transitions,
          })),
        }
      : null,
  };
}

export const traceCommand: Command = {
  name: 'trace',
  summary: 'list the TCP connections of a pcap and draw one as a ladder with inferred states',
  help: TRACE_HELP,
  run(argv: string[], io: CliIo): number {
    const { values: v, positionals } = parseOptions('trace', argv, TRACE_OPTIONS, true);
    if (v.help) {
      io.stdout(TRACE_HELP);
      return 0;
    }
    if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? 'expects a pcap file' : 'expects one pcap file', 'trace');
    const file = positionals[0]!;
    let conn: number | null = null;
    if (v.conn !== undefined) {
      conn = Number(v.conn);
      if (!Number.isInteger(conn) || conn < 1) throw new UsageError(`--conn expects a connection number (1, 2, ...), got '${v.conn}'`, 'trace');
    }
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(file);
    } catch (e) {
      io.stderr(`synack trace: cannot read ${file}: ${(e as Error).message}`);
      return 1;
    }
    const a = analyzeCapture(bytes);
    if (!a.ok) {
      io.stderr(`synack trace: ${file}: ${a.error}`);
      return 1;
    }
    const conns = a.connections;
    let chosen: TraceConnection | null = null;
    if (conn !== null) {
      chosen = conns.find((c) => c.index === conn) ?? null;
      if (!chosen) {
        io.stderr(`synack trace: ${file} has ${conns.length} TCP connection${conns.length === 1 ? '' : 's'}; there is no connection ${conn}`);
        return 1;
      }
    } else if (conns.length === 1) {
      chosen = conns[0]!;
    }
    if (v.json) {
      io.stdout(JSON.stringify(toJson(file, a.packets, conns, chosen)));
      return 0;
    }
    for (const l of listLines(file, a.packets, conns)) io.stdout(l);
    if (a.truncated) io.stdout('(the file ends in the middle of a packet: the capture was cut short)');
    if (chosen) for (const l of ladderLines(chosen)) io.stdout(l);
    else if (conns.length > 1) io.stdout(`\nDraw one with: synack trace ${file} --conn N`);
    return 0;
  },
};
