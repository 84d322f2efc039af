/**
 * The page of `synack gateway --viz PORT`: the guest's connections as a
 * table (state, bytes, rate, the host socket each maps to), fed live by
 * the gateway's Server-Sent Events (gateway/viz-server.ts); a click on a
 * row draws that connection's segments as a ladder (ladder.ts: the guest on
 * the left, the gateway on the right) and both sides' places in RFC 9293's
 * state diagram (state-diagram.ts): the gateway's are its connection's own
 * states, the guest's are inferred from the segments by the passive
 * observer (observer.ts, as `synack trace` does), which also marks
 * retransmissions, out-of-order segments and zero windows. Bundled for the
 * browser by gateway-page.ts.
 */
import type { MonitorDetail, MonitorRow, MonitorStats, MonitorUdpRow } from '../gateway/monitor.ts';
import type { TcpState } from '../tcp/state.ts';
import { esc, renderLadder, STATE_COLORS, type LadderArrow, type LadderModel, type MarkKind } from './ladder.ts';
import { renderStateDiagram, type StateDiagramInput } from './state-diagram.ts';
import { analyzeSegments, type TraceConnection, type Verdict } from './observer.ts';
import { parseIpv4Addr } from '../wire/bytes.ts';
import { parseIpv6Addr, type IpAddr } from '../wire/ipv6.ts';
import type { TcpOption } from '../wire/types.ts';

const $ = (id: string): HTMLElement => document.getElementById(id)!;

let selected: number | null = null;
let source: EventSource | null = null;
let lastDetailKey = '';

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1 << 20) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1 << 30) return `${(n / (1 << 20)).toFixed(1)} MiB`;
  return `${(n / (1 << 30)).toFixed(2)} GiB`;
}

function rate(n: number): string {
  return n === 0 ? '–' : `${bytes(n)}/s`;
}

function chip(state: string): string {
  const c = (STATE_COLORS as Record<string, string>)[state] ?? '#9aa3b2';
  return `<span class="state-chip" style="background:${c}">${esc(state)}</span>`;
}

function renderTable(rows: MonitorRow[], stats: MonitorStats): void {
  const body = rows
    .slice()
    .reverse()
    .map(
      (r) =>
        `<tr data-id="${r.id}" data-state="${esc(r.state)}" class="${r.closed ? 'closed' : ''}${r.id === selected ? ' selected' : ''}">` +
        `<td>${r.id}</td><td>${r.kind}</td><td class="mono">${esc(r.guest)}</td><td class="mono">${esc(r.peer)}</td><td>${chip(r.state)}${r.failure ? ` <span class="muted small failure">${r.failure}</span>` : ''}</td>` +
        `<td class="num">${bytes(r.bytesUp)}</td><td class="num">${bytes(r.bytesDown)}</td><td class="num">${rate(r.rateUp)}</td><td class="num">${rate(r.rateDown)}</td>` +
        `<td class="mono host">${r.host ? esc(`${r.host.local} → ${r.host.remote}`) : '–'}</td><td class="num">${r.segments}</td></tr>`,
    )
    .join('');
  $('conns').querySelector('tbody')!.innerHTML = body;
  $('empty').style.display = rows.length ? 'none' : '';
  const open = rows.filter((r) => !r.closed).length;
  $('summary').textContent = `${open} open, ${rows.length - open} closed${stats.evicted ? `, ${stats.evicted} older closed ones dropped` : ''}${stats.untracked ? `, ${stats.untracked} not tracked (table full)` : ''}`;
}

function renderUdp(flows: MonitorUdpRow[]): void {
  $('udp').querySelector('tbody')!.innerHTML = flows
    .map(
      (f) =>
        `<tr><td class="mono">${esc(f.guest)}</td><td class="mono">${esc(f.peer)}</td><td class="num">${f.datagramsUp}</td><td class="num">${f.datagramsDown}</td>` +
        `<td class="num">${bytes(f.bytesUp)}</td><td class="num">${bytes(f.bytesDown)}</td><td class="mono host">${esc(`${f.host.local} → ${f.host.remote}`)}</td></tr>`,
    )
    .join('');
  $('udp-summary').textContent = flows.length ? `${flows.length} open (closed when idle)` : 'none open';
}

/** "10.0.2.100:40000" or "[fd00::100]:40000" → address and port. */
function parseEndpoint(text: string): { addr: IpAddr; port: number } | null {
  const i = text.lastIndexOf(':');
  const host = text.slice(0, i).replace(/^\[|\]$/g, '');
  const addr = parseIpv4Addr(host) ?? parseIpv6Addr(host);
  return addr === null ? null : { addr, port: Number(text.slice(i + 1)) };
}

/** The guest side, inferred by the passive observer (observer.ts) from the segments the gateway saw — as `synack trace` does for a capture. */
function observeGuest(d: MonitorDetail): { conn: TraceConnection; guestSide: 0 | 1 } | null {
  const g = parseEndpoint(d.row.guest);
  const p = parseEndpoint(d.row.peer);
  if (!g || !p || d.segments.length === 0) return null;
  const conns = analyzeSegments(
    d.segments.map((s) => {
      const [src, dst] = s.from === 'guest' ? [g, p] : [p, g];
      const options: TcpOption[] = s.wscale !== undefined ? [{ kind: 'window-scale', shift: s.wscale }] : [];
      return { timeUs: s.t, src: src.addr, dst: dst.addr, tcp: { srcPort: src.port, dstPort: dst.port, seq: s.seq, ack: s.ack, flags: s.flagBits, window: s.window, urgentPointer: 0, options, payload: new Uint8Array(s.len) } };
    }),
  );
  const conn = conns.at(-1);
  if (!conn || conns.length !== 1) return null;
  return { conn, guestSide: conn.endpoints[0] === d.row.guest ? 0 : 1 };
}

const VERDICT_MARK: Partial<Record<Verdict, MarkKind>> = {
  retransmission: 'rtx',
  'fast-retransmission': 'rtx',
  'spurious-retransmission': 'rtx',
  'out-of-order': 'ooo',
  'zero-window': 'zw',
};

function ladderModel(d: MonitorDetail, o: ReturnType<typeof observeGuest>): LadderModel {
  const arrows: LadderArrow[] = d.segments.map((s, i) => {
    const seen = o?.conn.segments[i];
    const verdicts = seen ? seen.verdicts.filter((v) => v !== 'reset') : [];
    return {
      id: s.n,
      fromLeft: s.from === 'guest',
      t0: s.t,
      o0: s.n * 2,
      t1: null,
      o1: s.n * 2 + 1,
      expected: null,
      lost: false,
      flags: s.flags,
      detail: `seq=${s.relSeq}  ack=${s.relAck ?? '–'}  win=${seen ? seen.windowBytes : s.window}  len=${s.len}`,
      marks: [...(s.flags.includes('RST') ? [{ kind: 'rst' as const, text: 'reset' }] : []), ...verdicts.map((v) => ({ kind: VERDICT_MARK[v] ?? ('info' as const), text: v }))],
      data: { flags: s.flags, from: s.from, n: String(s.n), verdicts: verdicts.join(' ') },
    };
  });
  const first = d.segments[0]?.n ?? 0;
  // The gateway's states are its connection's own; the guest's are inferred from what it sent and received.
  const states: LadderModel['states'] = d.transitions.filter((t) => t.afterSegments >= first).map((t) => ({ left: false, t: t.t, o: t.afterSegments * 2 - 0.5, state: t.to }));
  if (o) {
    o.conn.segments.forEach((seen, i) => {
      for (const tr of seen.transitions) if (tr.side === o.guestSide) states.push({ left: true, t: seen.timeUs, o: d.segments[i]!.n * 2 + 1, state: tr.to });
    });
  }
  const t0 = d.segments[0]?.t ?? 0;
  const initial = d.initial === 'CONNECTING' ? null : d.initial;
  return {
    leftTitle: 'guest',
    rightTitle: 'gateway',
    leftSub: d.row.guest,
    rightSub: d.row.peer,
    initial: [o ? o.conn.initial[o.guestSide] : null, first === 0 ? initial : null],
    arrows,
    states,
    now: null,
    selected: null,
    capture: true,
    timeLabel: (us) => `+${((us - t0) / 1000).toFixed(3)} ms`,
    gapLabel: (us) => `+${(us / 1e6).toFixed(2)} s`,
    emptyText: 'no segment yet',
  };
}

function renderDetail(d: MonitorDetail | null): void {
  if (!d) {
    $('conn-title').textContent = 'that connection is no longer in the table';
    return;
  }
  const key = `${d.row.id}|${d.row.segments}|${d.row.state}|${d.transitions.length}`;
  if (key === lastDetailKey) return;
  lastDetailKey = key;
  $('conn-title').textContent = `#${d.row.id} ${d.row.guest} → ${d.row.peer}${d.row.host ? ` (host ${d.row.host.local} → ${d.row.host.remote})` : ''}${d.segments.length && d.segments[0]!.n > 0 ? ` — the last ${d.segments.length} of ${d.row.segments} segments` : ''}`;
  const o = observeGuest(d);
  $('ladder').innerHTML = renderLadder(ladderModel(d, o));
  const last = d.transitions.at(-1);
  const state: TcpState | null = d.row.state === 'CONNECTING' ? null : d.row.state;
  let guest: TcpState | null = null;
  let lastGuest: StateDiagramInput['lastClient'] = null;
  if (o) {
    const segs = o.conn.segments;
    guest = segs.length ? segs[segs.length - 1]!.states[o.guestSide] : o.conn.initial[o.guestSide];
    for (const seen of segs) for (const tr of seen.transitions) if (tr.side === o.guestSide) lastGuest = { from: tr.from, to: tr.to, label: tr.label };
  }
  $('state-diagram').innerHTML = renderStateDiagram({
    client: guest,
    server: state,
    lastClient: lastGuest,
    lastServer: last ? { from: last.from, to: last.to, label: last.cause } : null,
    names: ['guest', 'gateway'],
  });
  $('conn-state').textContent = `guest ${guest ?? '?'} · gateway ${d.row.state}`;
  $('transitions').innerHTML = d.transitions.map((t) => `<div>${esc(`${t.from} → ${t.to}`)} <span class="muted">(${esc(t.cause)})</span></div>`).join('');
}

function connect(): void {
  source?.close();
  const es = new EventSource(selected === null ? 'events' : `events?conn=${selected}`);
  source = es;
  es.addEventListener('open', () => {
    $('feed-status').textContent = 'live';
    $('feed-status').className = 'small';
  });
  es.addEventListener('error', () => {
    $('feed-status').textContent = 'feed lost: reconnecting…';
    $('feed-status').className = 'small down';
  });
  es.addEventListener('table', (ev) => {
    const t = JSON.parse((ev as MessageEvent<string>).data) as { rows: MonitorRow[]; udp: MonitorUdpRow[]; stats: MonitorStats };
    renderTable(t.rows, t.stats);
    renderUdp(t.udp);
  });
  es.addEventListener('conn', (ev) => renderDetail(JSON.parse((ev as MessageEvent<string>).data) as MonitorDetail | null));
}

$('conns').addEventListener('click', (ev) => {
  const tr = (ev.target as HTMLElement).closest('tr[data-id]') as HTMLElement | null;
  if (!tr) return;
  selected = Number(tr.dataset['id']);
  lastDetailKey = '';
  $('conns')
    .querySelectorAll('tbody tr')
    .forEach((r) => r.classList.toggle('selected', r === tr));
  $('conn-title').textContent = `#${selected}: loading…`;
  connect();
});

connect();
