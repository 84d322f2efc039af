/**
 * The ladder (sequence) diagram as SVG markup: two lifelines, one slanted
 * arrow per segment, labelled like the textbook figures of the 3-way
 * handshake and the 4-way close — flags above the arrow; seq, ack (relative),
 * window and length below it — and each side's state written beside its
 * lifeline where it changes. Lost segments end in ✗; retransmissions,
 * out-of-order segments, zero windows and resets are marked.
 *
 * Time runs down. The axis is compressed: a gap between two instants grows
 * with the logarithm of the time between them, so a 1 s timer does not push
 * the handshake off the screen and segments sent at one instant still get
 * a row each.
 *
 * Pure (string building only): the page inserts the markup, tests read it.
 */
import type { TcpState } from '../tcp/state.ts';

export type MarkKind = 'rtx' | 'ooo' | 'zw' | 'rst' | 'lost' | 'info';

export interface LadderArrow {
  id: number;
  /** Sent by the left endpoint. */
  fromLeft: boolean;
  t0: number;
  o0: number;
  /** Arrival time and order (null: not arrived, or a capture, which has one instant per segment). */
  t1: number | null;
  o1: number;
  /** Expected arrival (live sessions): where an in-flight or lost arrow is headed. */
  expected: number | null;
  lost: boolean;
  flags: string;
  detail: string;
  marks: Array<{ kind: MarkKind; text: string }>;
  /** data-* attributes for the arrow's group (tests and the page read them). */
  data: Record<string, string>;
}

export interface LadderStateMark {
  left: boolean;
  t: number;
  o: number;
  state: TcpState;
}

export interface LadderModel {
  leftTitle: string;
  rightTitle: string;
  leftSub: string;
  rightSub: string;
  initial: [TcpState | null, TcpState | null];
  arrows: LadderArrow[];
  states: LadderStateMark[];
  /** The live clock (draws the "now" line and in-flight arrows); null for captures. */
  now: number | null;
  selected: number | null;
  /** A capture: each segment is seen at one instant and drawn with a fixed slant. */
  capture: boolean;
  /** Label of a time on the axis. */
  timeLabel: (us: number) => string;
  /** Label of a long gap ("+1.00 s"). */
  gapLabel: (us: number) => string;
  emptyText: string;
}

export const STATE_COLORS: Record<TcpState, string> = {
  CLOSED: '#9aa3b2',
  LISTEN: '#6f87ad',
  'SYN-SENT': '#e0a322',
  'SYN-RECEIVED': '#e0a322',
  ESTABLISHED: '#2f9e5f',
  'FIN-WAIT-1': '#d4663f',
  'FIN-WAIT-2': '#d4663f',
  CLOSING: '#d4663f',
  'TIME-WAIT': '#8a56c2',
  'CLOSE-WAIT': '#3b82c4',
  'LAST-ACK': '#3b82c4',
};

export const W = 760;
const L = 205;
const R = 600;
const TOP = 86;
const SLANT = 26;

interface Pt {
  t: number;
  o: number;
  kind: 'start' | 'end' | 'state' | 'now';
  key: string;
}

export function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** y of every point, by key; plus long-gap markers. */
function layout(m: LadderModel): { y: Map<string, number>; gaps: Array<{ y: number; dt: number }>; bottom: number } {
  const pts: Pt[] = [];
  for (const a of m.arrows) {
    pts.push({ t: a.t0, o: a.o0, kind: 'start', key: `s${a.id}` });
    if (a.t1 !== null) pts.push({ t: a.t1, o: a.o1, kind: 'end', key: `e${a.id}` });
    else if (a.expected !== null) pts.push({ t: a.expected, o: a.o0 + 0.5, kind: 'end', key: `e${a.id}` });
  }
  m.states.forEach((s, i) => pts.push({ t: s.t, o: s.o, kind: 'state', key: `m${i}` }));
  if (m.now !== null) pts.push({ t: m.now, o: Number.MAX_SAFE_INTEGER, kind: 'now', key: 'now' });
  pts.sort((a, b) => a.t - b.t || a.o - b.o);
  const y = new Map<string, number>();
  const gaps: Array<{ y: number; dt: number }> = [];
  const base = m.capture ? 50 : 34;
  let cur = TOP + 30;
  let prev: Pt | null = null;
  for (const p of pts) {
    if (prev) {
      const dt = p.t - prev.t;
      let gap = 0;
      if (dt > 0) {
        gap = Math.min(m.capture ? 70 : 118, base + 22 * Math.log10(1 + dt / 1000));
        if (m.capture && p.kind !== 'start') gap = 0;
        if (dt >= 250_000 && !m.capture) gaps.push({ y: cur + gap / 2, dt });
      } else if (p.kind === 'start' && (prev.kind === 'start' || m.capture)) {
        gap = m.capture ? base : 40;
      } else if (p.kind === 'start' && prev.kind === 'state') {
        // a reply right after a state change at the same instant shares the row
        gap = 0;
      }
      if (m.capture && p.kind === 'start' && dt > 0) gap = Math.max(gap, base);
      cur += gap;
    }
    y.set(p.key, cur);
    prev = p;
  }
  return { y, gaps, bottom: cur + (m.capture ? SLANT + 40 : 50) };
}

/** The SVG markup of the ladder. */
export function renderLadder(m: LadderModel): string {
  const { y, gaps, bottom } = layout(m);
  const H = Math.max(bottom, TOP + 200);
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" class="ladder-svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="ladder diagram">`,
    `<defs>`,
    `<marker id="ah-l" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#1f4f96"/></marker>`,
    `<marker id="ah-r" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#9a4a1c"/></marker>`,
    `<marker id="ah-sel" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#c2185b"/></marker>`,
    `</defs>`,
  );
  // Endpoint headers.
  for (const [x, title, sub] of [
    [L, m.leftTitle, m.leftSub],
    [R, m.rightTitle, m.rightSub],
  ] as Array<[number, string, string]>) {
    out.push(
      `<g class="endpoint"><rect x="${x - 80}" y="10" width="160" height="50" rx="8" fill="#f4f6fa" stroke="#c9d1de"/>`,
      `<text x="${x}" y="31" text-anchor="middle" class="ep-title">${esc(title)}</text>`,
      `<text x="${x}" y="50" text-anchor="middle" class="ep-sub">${esc(sub)}</text></g>`,
    );
  }
  // Lifelines with state bands.
  const bandsFor = (left: boolean): void => {
    const x = left ? L : R;
    const marks = m.states.map((s, i) => ({ s, y: y.get(`m${i}`)! })).filter((e) => e.s.left === left);
    const init = m.initial[left ? 0 : 1];
    const segs: Array<{ state: TcpState | null; y0: number; y1: number }> = [];
    let st: TcpState | null = init;
    let y0 = TOP;
    for (const e of marks) {
      segs.push({ state: st, y0, y1: e.y });
      st = e.s.state;
      y0 = e.y;
    }
    segs.push({ state: st, y0, y1: H - 12 });
    out.push(`<line x1="${x}" y1="${TOP - 14}" x2="${x}" y2="${H - 8}" class="lifeline"/>`);
    for (const s of segs) {
      if (s.state === null || s.y1 <= s.y0) continue;
      out.push(`<rect x="${x - 4}" y="${s.y0}" width="8" height="${s.y1 - s.y0}" fill="${STATE_COLORS[s.state]}" opacity="0.85" class="band"><title>${s.state}</title></rect>`);
    }
    const lx = left ? x - 14 : x + 14;
    const anchor = left ? 'end' : 'start';
    if (init) out.push(`<text x="${lx}" y="${TOP + 4}" text-anchor="${anchor}" class="state-label" fill="${STATE_COLORS[init]}" data-side="${left ? 'left' : 'right'}">${init}</text>`);
    let lastY = -100;
    for (const e of marks) {
      const ty = Math.max(e.y + 4, lastY + 13);
      out.push(`<text x="${lx}" y="${ty}" text-anchor="${anchor}" class="state-label" fill="${STATE_COLORS[e.s.state]}" data-side="${left ? 'left' : 'right'}">${e.s.state}</text>`);
      out.push(`<line x1="${left ? x - 10 : x + 4}" y1="${e.y}" x2="${left ? x - 4 : x + 10}" y2="${e.y}" stroke="${STATE_COLORS[e.s.state]}" stroke-width="2"/>`);
      lastY = ty;
    }
  };
  bandsFor(true);
  bandsFor(false);
  for (const g of gaps) {
    out.push(`<text x="${(L + R) / 2}" y="${g.y + 4}" text-anchor="middle" class="gap-label">⋯ ${esc(m.gapLabel(g.dt))} ⋯</text>`);
  }
  if (m.arrows.length === 0) {
    out.push(`<text x="${(L + R) / 2}" y="${TOP + 60}" text-anchor="middle" class="empty-label">${esc(m.emptyText)}</text>`);
  }
  // Time axis labels.
  let lastLabel = -100;
  for (const a of m.arrows) {
    const ys = y.get(`s${a.id}`)!;
    if (ys - lastLabel < 14) continue;
    out.push(`<text x="8" y="${ys + 4}" class="time-label">${esc(m.timeLabel(a.t0))}</text>`);
    lastLabel = ys;
  }
  // Arrows.
  for (const a of m.arrows) {
    const x0 = a.fromLeft ? L + 5 : R - 5;
    const x1 = a.fromLeft ? R - 5 : L + 5;
    const y0 = y.get(`s${a.id}`)!;
    const y1 = y.get(`e${a.id}`) ?? y0 + SLANT;
    let frac = 1;
    let inFlight = false;
    if (a.lost) frac = 0.6;
    else if (a.t1 === null && a.expected !== null && m.now !== null) {
      const span = a.expected - a.t0;
      frac = span > 0 ? Math.max(0.02, Math.min(1, (m.now - a.t0) / span)) : 1;
      inFlight = frac < 1;
    }
    const xe = x0 + (x1 - x0) * frac;
    const ye = y0 + (y1 - y0) * frac;
    const sel = m.selected === a.id;
    const cls = ['seg', a.fromLeft ? 'from-left' : 'from-right'];
    if (a.lost) cls.push('lost');
    if (inFlight) cls.push('in-flight');
    if (sel) cls.push('selected');
    for (const mk of a.marks) cls.push(`mark-${mk.kind}`);
    const data = Object.entries(a.data)
      .map(([k, v]) => ` data-${k}="${esc(v)}"`)
      .join('');
    const marker = a.lost ? '' : ` marker-end="url(#${sel ? 'ah-sel' : a.fromLeft ? 'ah-l' : 'ah-r'})"`;
    const dash = a.marks.some((mk) => mk.kind === 'rtx') ? ' stroke-dasharray="7 4"' : '';
    out.push(`<g class="${cls.join(' ')}" data-id="${a.id}"${data}>`);
    out.push(`<line x1="${x0}" y1="${y0}" x2="${x1}" y2="${y1}" class="hit"/>`);
    out.push(`<line x1="${x0}" y1="${y0}" x2="${xe.toFixed(1)}" y2="${ye.toFixed(1)}" class="arrow"${marker}${dash}/>`);
    if (a.lost) out.push(`<text x="${xe.toFixed(1)}" y="${(ye + 6).toFixed(1)}" text-anchor="middle" class="lost-x">✗</text>`);
    if (inFlight) out.push(`<circle cx="${xe.toFixed(1)}" cy="${ye.toFixed(1)}" r="4" class="packet"/>`);
    // Labels along the arrow, reading left to right.
    const lx0 = a.fromLeft ? x0 : x1;
    const ly0 = a.fromLeft ? y0 : y1;
    const lx1 = a.fromLeft ? x1 : x0;
    const ly1 = a.fromLeft ? y1 : y0;
    const angle = (Math.atan2(ly1 - ly0, lx1 - lx0) * 180) / Math.PI;
    const f = a.lost ? 0.3 : 0.5;
    const mx = x0 + (x1 - x0) * f;
    const my = y0 + (y1 - y0) * f;
    const marks = a.marks
      .filter((mk) => mk.kind !== 'lost')
      .map((mk) => `<tspan class="mk mk-${mk.kind}" dx="8">${esc(mk.text)}</tspan>`)
      .join('');
    out.push(`<g transform="translate(${mx.toFixed(1)} ${my.toFixed(1)}) rotate(${angle.toFixed(2)})">`);
    out.push(`<text y="-6" text-anchor="middle" class="flags-label">${esc(a.flags)}${marks}</text>`);
    out.push(`<text y="13" text-anchor="middle" class="detail-label">${esc(a.detail)}</text>`);
    out.push(`</g></g>`);
  }
  if (m.now !== null) {
    const yn = y.get('now')!;
    out.push(`<line x1="${L - 40}" y1="${yn}" x2="${R + 40}" y2="${yn}" class="now-line"/>`);
    out.push(`<text x="${R + 44}" y="${yn + 4}" class="now-label">${esc(m.timeLabel(m.now))}</text>`);
  }
  out.push(`</svg>`);
  return out.join('');
}

/** The y of the "now" line, for scrolling it into view. */
export function nowY(m: LadderModel): number | null {
  return m.now === null ? null : (layout(m).y.get('now') ?? null);
}
