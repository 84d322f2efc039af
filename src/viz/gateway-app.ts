/**
 * The page of `synack gateway --viz PORT`: the guest's connections as a
 * table (state, bytes, rate, the host socket each maps to), fed live by
 * the gateway's Server-Sent Events (gateway/viz-server.ts); a click on a
 * row draws that connection's segments as a ladder (ladder.ts: the guest on
 * the left, the gateway on the right) and the gateway side's place in RFC
 * 9293's state diagram (state-diagram.ts). Bundled for the browser by
 * gateway-page.ts.
 */
import type { MonitorDetail, MonitorRow, MonitorStats } from '../gateway/monitor.ts';
import type { TcpState } from '../tcp/state.ts';
import { esc, renderLadder, STATE_COLORS, type LadderArrow, type LadderModel } from './ladder.ts';
import { renderStateDiagram } from './state-diagram.ts';

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
        `<td>${r.id}</td><td>${r.kind}</td><td class="mono">${esc(r.guest)}</td><td class="mono">${esc(r.peer)}</td><td>${chip(r.state)}</td>` +
        `<td class="num">${bytes(r.bytesUp)}</td><td class="num">${bytes(r.bytesDown)}</td><td class="num">${rate(r.rateUp)}</td><td class="num">${rate(r.rateDown)}</td>` +
        `<td class="mono host">${r.host ? esc(`${r.host.local} → ${r.host.remote}`) : '–'}</td><td class="num">${r.segments}</td></tr>`,
    )
    .join('');
  $('conns').querySelector('tbody')!.innerHTML = body;
  $('empty').style.display = rows.length ? 'none' : '';
  const open = rows.filter((r) => !r.closed).length;
  $('summary').textContent = `${open} open, ${rows.length - open} closed${stats.evicted ? `, ${stats.evicted} older closed ones dropped` : ''}${stats.untracked ? `, ${stats.untracked} not tracked (table full)` : ''}`;
}

function ladderModel(d: MonitorDetail): LadderModel {
  const arrows: LadderArrow[] = d.segments.map((s) => ({
    id: s.n,
    fromLeft: s.from === 'guest',
    t0: s.t,
    o0: s.n * 2,
    t1: null,
    o1: s.n * 2 + 1,
    expected: null,
    lost: false,
    flags: s.flags,
    detail: `seq=${s.relSeq}  ack=${s.relAck ?? '–'}  win=${s.window}  len=${s.len}`,
    marks: s.flags.includes('RST') ? [{ kind: 'rst', text: 'reset' }] : [],
    data: { flags: s.flags, from: s.from, n: String(s.n) },
  }));
  const first = d.segments[0]?.n ?? 0;
  const states: LadderModel['states'] = d.transitions
    .filter((t) => t.afterSegments >= first)
    .map((t) => ({ left: false, t: t.t, o: t.afterSegments * 2 - 0.5, state: t.to }));
  const t0 = d.segments[0]?.t ?? 0;
  const initial = d.initial === 'CONNECTING' ? null : d.initial;
  return {
    leftTitle: 'guest',
    rightTitle: 'gateway',
    leftSub: d.row.guest,
    rightSub: d.row.peer,
    initial: [null, first === 0 ? initial : null],
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
  $('ladder').innerHTML = renderLadder(ladderModel(d));
  const last = d.transitions.at(-1);
  const state: TcpState | null = d.row.state === 'CONNECTING' ? null : d.row.state;
  $('state-diagram').innerHTML = renderStateDiagram({
    client: null,
    server: state,
    lastClient: null,
    lastServer: last ? { from: last.from, to: last.to, label: last.cause } : null,
    names: ['guest', 'gateway'],
  });
  $('conn-state').textContent = d.row.state;
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
    const t = JSON.parse((ev as MessageEvent<string>).data) as { rows: MonitorRow[]; stats: MonitorStats };
    renderTable(t.rows, t.stats);
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
