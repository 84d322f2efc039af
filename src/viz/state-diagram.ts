/**
 * The RFC 9293 state diagram (§3.3.2, Figure 5) as SVG markup: the eleven
 * states laid out as in the RFC, every arrow of `FIGURE_5`, each endpoint's
 * current state highlighted (client blue, server orange) and the arrow just
 * taken drawn as it animates. Pure string building.
 */
import { ALL_STATES, FIGURE_5, type TcpState, type Transition } from '../tcp/state.ts';
import { STATE_COLORS, esc } from './ladder.ts';

export const SD_W = 640;
export const SD_H = 600;
const NW = 128;
const NH = 34;

export const NODE_POS: Record<TcpState, [number, number]> = {
  CLOSED: [320, 50],
  LISTEN: [320, 132],
  'SYN-RECEIVED': [120, 214],
  'SYN-SENT': [520, 214],
  ESTABLISHED: [320, 296],
  'FIN-WAIT-1': [120, 378],
  'CLOSE-WAIT': [520, 378],
  'FIN-WAIT-2': [120, 466],
  CLOSING: [320, 466],
  'LAST-ACK': [520, 466],
  'TIME-WAIT': [320, 552],
};

type Pt = [number, number];

/** Where the segment from the centre of `a` towards `b` leaves a's box. */
function border(a: Pt, b: Pt): Pt {
  const dx = b[0] - a[0];
  const dy = b[1] - a[1];
  const sx = dx === 0 ? Infinity : NW / 2 / Math.abs(dx);
  const sy = dy === 0 ? Infinity : NH / 2 / Math.abs(dy);
  const s = Math.min(sx, sy);
  return [a[0] + dx * s, a[1] + dy * s];
}

/** The SVG path of one arrow, and a point near its middle for its label. */
export function edgePath(t: Transition): { d: string; mid: Pt } {
  const key = `${t.from}>${t.to}`;
  const custom: Record<string, { d: string; mid: Pt }> = {
    'CLOSED>SYN-SENT': { d: 'M 384 42 L 540 42 Q 556 42 556 58 L 556 195', mid: [562, 120] },
    'SYN-SENT>CLOSED': { d: 'M 496 197 L 496 72 Q 496 58 482 58 L 386 58', mid: [490, 110] },
    'LAST-ACK>CLOSED': { d: 'M 584 466 L 612 466 Q 628 466 628 450 L 628 30 Q 628 14 612 14 L 336 14 Q 320 14 320 30 L 320 31', mid: [622, 300] },
    'TIME-WAIT>CLOSED': { d: 'M 256 552 L 28 552 Q 12 552 12 536 L 12 66 Q 12 50 28 50 L 254 50', mid: [20, 300] },
  };
  if (custom[key]) return custom[key]!;
  const a = NODE_POS[t.from];
  const b = NODE_POS[t.to];
  // Arrows that have a partner in the other direction are drawn side by side.
  const paired = FIGURE_5.some((u) => u.from === t.to && u.to === t.from);
  let off = 0;
  if (paired) off = t.from < t.to ? 6 : -6;
  const dx = b[0] - a[0];
  const dy = b[1] - a[1];
  const len = Math.hypot(dx, dy) || 1;
  const ox = (-dy / len) * off;
  const oy = (dx / len) * off;
  const p0 = border(a, b);
  const p1 = border(b, a);
  const s: Pt = [p0[0] + ox, p0[1] + oy];
  const e: Pt = [p1[0] + ox, p1[1] + oy];
  return { d: `M ${s[0].toFixed(1)} ${s[1].toFixed(1)} L ${e[0].toFixed(1)} ${e[1].toFixed(1)}`, mid: [(s[0] + e[0]) / 2, (s[1] + e[1]) / 2] };
}

export interface StateDiagramInput {
  /** Each endpoint's state; null: not shown (the gateway's page knows only its own side). */
  client: TcpState | null;
  server: TcpState | null;
  /** The arrow just taken by each side (animated), if any. */
  lastClient: { from: TcpState; to: TcpState; label: string } | null;
  lastServer: { from: TcpState; to: TcpState; label: string } | null;
  /** Names for the two endpoints ("client"/"server", or "A"/"B" for captures). */
  names: [string, string];
}

/** Approximate width in px of a badge's text (Hangul is about twice as wide). */
function textW(s: string): number {
  let w = 0;
  for (const ch of s) w += ch.codePointAt(0)! >= 0x1100 ? 12 : 7;
  return w;
}

export function renderStateDiagram(inp: StateDiagramInput): string {
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" class="sd-svg" width="${SD_W}" height="${SD_H}" viewBox="0 0 ${SD_W} ${SD_H}" role="img" aria-label="RFC 9293 state diagram">`,
    `<defs><marker id="sd-ah" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="6" markerHeight="6" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#8791a3"/></marker>`,
    `<marker id="sd-ah-c" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="6" markerHeight="6" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#1f66d1"/></marker>`,
    `<marker id="sd-ah-s" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="6" markerHeight="6" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#e0711b"/></marker></defs>`,
  );
  const taken = (t: Transition, last: StateDiagramInput['lastClient']): boolean => last !== null && last.from === t.from && last.to === t.to;
  for (const t of FIGURE_5) {
    const { d } = edgePath(t);
    const c = taken(t, inp.lastClient);
    const s = taken(t, inp.lastServer);
    const cls = ['sd-edge'];
    if (c) cls.push('taken', 'taken-client');
    if (s) cls.push('taken', 'taken-server');
    const marker = c ? 'sd-ah-c' : s ? 'sd-ah-s' : 'sd-ah';
    out.push(`<path d="${d}" class="${cls.join(' ')}" marker-end="url(#${marker})" data-from="${t.from}" data-to="${t.to}"><title>${esc(`${t.from} → ${t.to}: ${t.label}`)}</title></path>`);
  }
  // Labels of the arrows just taken.
  for (const [last, who] of [
    [inp.lastClient, 'client'],
    [inp.lastServer, 'server'],
  ] as const) {
    if (!last) continue;
    const t = FIGURE_5.find((u) => u.from === last.from && u.to === last.to);
    if (!t) continue;
    const { d, mid } = edgePath(t);
    out.push(`<circle r="5" class="sd-token sd-token-${who}"><animateMotion dur="0.9s" fill="freeze" path="${d}"/></circle>`);
    const anchor = mid[0] > SD_W - 140 ? 'end' : mid[0] < 140 ? 'start' : 'middle';
    out.push(`<text x="${mid[0].toFixed(0)}" y="${(mid[1] - 8).toFixed(0)}" text-anchor="${anchor}" class="sd-edge-label sd-edge-label-${who}">${esc(t.label)}</text>`);
  }
  for (const st of ALL_STATES) {
    const [x, y] = NODE_POS[st];
    const atC = inp.client === st;
    const atS = inp.server === st;
    const cls = ['sd-node'];
    if (atC) cls.push('at-client');
    if (atS) cls.push('at-server');
    out.push(`<g class="${cls.join(' ')}" data-state="${st}">`);
    out.push(`<rect x="${x - NW / 2}" y="${y - NH / 2}" width="${NW}" height="${NH}" rx="9" class="sd-box" style="--c:${STATE_COLORS[st]}"/>`);
    out.push(`<text x="${x}" y="${y + 5}" text-anchor="middle" class="sd-name">${st}</text>`);
    if (atC) out.push(`<g class="sd-badge sd-badge-client"><rect x="${x - NW / 2 - 6}" y="${y - NH / 2 - 10}" width="${textW(inp.names[0]) + 12}" height="17" rx="8"/><text x="${x - NW / 2}" y="${y - NH / 2 + 3}">${esc(inp.names[0])}</text></g>`);
    if (atS) {
      const w = textW(inp.names[1]) + 12;
      out.push(`<g class="sd-badge sd-badge-server"><rect x="${x + NW / 2 + 6 - w}" y="${y - NH / 2 - 10}" width="${w}" height="17" rx="8"/><text x="${x + NW / 2 + 6 - w + 6}" y="${y - NH / 2 + 3}">${esc(inp.names[1])}</text></g>`);
    }
    out.push(`</g>`);
  }
  out.push(`</svg>`);
  return out.join('');
}
