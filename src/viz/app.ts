/**
 * The page: wires the live session (session.ts), the ladder (ladder.ts), the
 * state diagram (state-diagram.ts), the inspector (inspector.ts) and the
 * capture observer (observer.ts) to the DOM. The virtual clock moves with
 * requestAnimationFrame (setTimeout while the tab is hidden) at the chosen
 * play speed.
 */
import { VizSession, SIDES, type Side, type SegmentView } from './session.ts';
import { renderLadder, nowY, type LadderArrow, type LadderModel, type MarkKind } from './ladder.ts';
import { renderStateDiagram, type StateDiagramInput } from './state-diagram.ts';
import { decodeSegment } from './inspector.ts';
import { analyzeCapture, roleOf, type TraceConnection, type Verdict } from './observer.ts';
import { TEXT, type Lang } from './i18n.ts';
import { FIGURE_5, type TcpState } from '../tcp/state.ts';
import { formatIpAddr, type IpAddr } from '../wire/ipv6.ts';

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} is missing`);
  return el as T;
};

let lang: Lang = (new URLSearchParams(location.search).get('lang') as Lang) === 'ko' ? 'ko' : 'en';
const tx = () => TEXT[lang];
let session = new VizSession();
let mode: 'live' | 'capture' = 'live';
let capture: { name: string; conns: TraceConnection[]; packets: number; index: number } | null = null;
let selected: number | null = null;
let playing = true;
let speed = 0.1;
let stepMode = false;
let stepping: number | null = null;
let lastTs = 0;
let lastRenderKey = '';
let lastSdKey = '';
let lastInspKey = '';
let lastLogLen = -1;
let followNow = true;

// =============================================================================
// Static text
// =============================================================================

function applyText(): void {
  const t = tx();
  document.documentElement.lang = lang;
  document.title = t.title;
  for (const el of Array.from(document.querySelectorAll<HTMLElement>('[data-t]'))) {
    const key = el.dataset['t'] as keyof typeof t;
    const v = t[key];
    if (typeof v === 'string') el.textContent = v;
  }
  for (const el of Array.from(document.querySelectorAll<HTMLInputElement>('[data-ph]'))) {
    const key = el.dataset['ph'] as keyof typeof t;
    const v = t[key];
    if (typeof v === 'string') el.placeholder = v;
  }
  $('btn-lang').textContent = t.lang;
  lastRenderKey = lastSdKey = lastInspKey = '';
  lastLogLen = -1;
}

// =============================================================================
// Controls
// =============================================================================

function flash(msg: string | null): void {
  const el = $('message');
  el.textContent = msg ?? '';
  el.classList.toggle('show', !!msg);
}

function bind(): void {
  const on = (id: string, fn: () => void) => $(id).addEventListener('click', fn);
  on('btn-connect', () => flash(session.connect()));
  on('btn-simopen', () => flash(session.simultaneousOpen()));
  on('btn-simclose', () => flash(session.simultaneousClose()));
  for (const side of SIDES) {
    on(`btn-send-${side}`, () => flash(session.send(side, $<HTMLInputElement>(`text-${side}`).value)));
    on(`btn-close-${side}`, () => flash(session.close(side)));
    on(`btn-abort-${side}`, () => flash(session.abort(side)));
    $<HTMLInputElement>(`text-${side}`).addEventListener('keydown', (e) => {
      if (e.key === 'Enter') flash(session.send(side, $<HTMLInputElement>(`text-${side}`).value));
    });
  }
  on('btn-drop', () => {
    session.dropNextSegment();
    flash(null);
  });
  const loss = $<HTMLInputElement>('loss');
  loss.addEventListener('input', () => {
    session.setLoss(Number(loss.value) / 100);
    $('loss-val').textContent = `${loss.value}%`;
  });
  const delay = $<HTMLInputElement>('delay');
  delay.addEventListener('input', () => {
    session.setDelay(Number(delay.value) * 1000);
    $('delay-val').textContent = `${delay.value} ms`;
  });
  const sp = $<HTMLSelectElement>('speed');
  sp.addEventListener('change', () => (speed = Number(sp.value)));
  on('btn-play', () => {
    playing = !playing;
    stepping = null;
    updatePlay();
  });
  $<HTMLInputElement>('chk-step').addEventListener('change', (e) => {
    stepMode = (e.target as HTMLInputElement).checked;
    playing = !stepMode;
    stepping = null;
    updatePlay();
  });
  on('btn-step', () => {
    if (session.nextDeadline() === Infinity) return;
    stepping = session.mark();
  });
  $<HTMLInputElement>('chk-autoclose').addEventListener('change', (e) => {
    session.opts.autoClose = (e.target as HTMLInputElement).checked;
  });
  // IPv6 (issue 12): a new session over fd00::1 → fd00::2 (or back to IPv4).
  $<HTMLInputElement>('chk-ipv6').addEventListener('change', () => resetSession());
  on('btn-reset', () => resetSession());
  on('btn-pcap', () => download(session.pcapBytes(), 'synack-session.pcap'));
  on('btn-lang', () => {
    lang = lang === 'en' ? 'ko' : 'en';
    applyText();
  });
  $<HTMLInputElement>('file').addEventListener('change', (e) => {
    const f = (e.target as HTMLInputElement).files?.[0];
    if (f) void loadFile(f);
  });
  on('btn-live', () => {
    mode = 'live';
    selected = null;
    document.body.dataset['mode'] = 'live';
    lastRenderKey = lastSdKey = lastInspKey = '';
  });
  $<HTMLSelectElement>('capture-conn').addEventListener('change', (e) => {
    if (!capture) return;
    capture.index = Number((e.target as HTMLSelectElement).value);
    selected = null;
    lastRenderKey = lastSdKey = lastInspKey = '';
  });
  // Drag and drop a capture anywhere on the page.
  document.addEventListener('dragover', (e) => {
    e.preventDefault();
    document.body.classList.add('dragging');
  });
  document.addEventListener('dragleave', () => document.body.classList.remove('dragging'));
  document.addEventListener('drop', (e) => {
    e.preventDefault();
    document.body.classList.remove('dragging');
    const f = e.dataTransfer?.files?.[0];
    if (f) void loadFile(f);
  });
  // Select an arrow (pointerdown: the ladder is redrawn between frames).
  $('ladder').addEventListener('pointerdown', (e) => {
    const g = (e.target as Element).closest('.seg') as SVGGElement | null;
    if (!g) return;
    selected = Number(g.dataset['id']);
    lastRenderKey = lastInspKey = lastSdKey = '';
  });
  $('ladder-scroll').addEventListener('scroll', () => {
    const el = $('ladder-scroll');
    followNow = el.scrollTop + el.clientHeight >= el.scrollHeight - 40;
  });
}

function updatePlay(): void {
  $('btn-play').textContent = playing ? tx().pause : tx().play;
  $('btn-play').classList.toggle('on', playing);
  ($('btn-step') as HTMLButtonElement).disabled = !stepMode;
}

function resetSession(): void {
  session = new VizSession({
    delayUs: Number($<HTMLInputElement>('delay').value) * 1000,
    loss: Number($<HTMLInputElement>('loss').value) / 100,
    autoClose: $<HTMLInputElement>('chk-autoclose').checked,
    ipv6: $<HTMLInputElement>('chk-ipv6').checked,
  });
  selected = null;
  stepping = null;
  followNow = true;
  flash(null);
  lastRenderKey = lastSdKey = lastInspKey = '';
  lastLogLen = -1;
}

function download(bytes: Uint8Array, name: string): void {
  const blob = new Blob([bytes as BlobPart], { type: 'application/vnd.tcpdump.pcap' });
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.appendChild(a);
  a.click();
  setTimeout(() => {
    URL.revokeObjectURL(a.href);
    a.remove();
  }, 1000);
}

async function loadFile(f: File): Promise<void> {
  const buf = new Uint8Array(await f.arrayBuffer());
  loadCapture(f.name, buf);
}

function loadCapture(name: string, buf: Uint8Array): string | null {
  const a = analyzeCapture(buf);
  if (!a.ok) {
    flash(`${name}: ${a.error}`);
    return a.error;
  }
  capture = { name, conns: a.connections, packets: a.packets, index: 1 };
  mode = 'capture';
  selected = null;
  document.body.dataset['mode'] = 'capture';
  const sel = $<HTMLSelectElement>('capture-conn');
  sel.innerHTML = '';
  for (const c of a.connections) {
    const o = document.createElement('option');
    o.value = String(c.index);
    o.textContent = `#${c.index}  ${c.endpoints[0]} ⇄ ${c.endpoints[1]}  (${c.segments.length})`;
    sel.appendChild(o);
  }
  $('capture-info').textContent = `${name}: ${tx().captureInfo(a.packets, a.connections.length)}`;
  flash(null);
  lastRenderKey = lastSdKey = lastInspKey = '';
  return null;
}

// =============================================================================
// Clock
// =============================================================================

function tick(ts: number): void {
  try {
    step(ts);
  } finally {
    loop();
  }
}

function step(ts: number): void {
  const dt = lastTs === 0 ? 0 : Math.min(100, ts - lastTs);
  lastTs = ts;
  if (mode === 'live' && (playing || stepping !== null)) {
    const idle = !session.inFlight;
    const rate = speed * 1000 * (idle ? 10 : 1); // virtual µs per real ms
    session.advance(dt * rate);
    if (stepping !== null && (session.mark() !== stepping || session.nextDeadline() === Infinity)) stepping = null;
    $('clock-idle').textContent = idle && session.nextDeadline() !== Infinity ? tx().idle : '';
  } else {
    $('clock-idle').textContent = mode === 'live' ? tx().paused : '';
  }
  render();
}

function loop(): void {
  if (document.hidden) setTimeout(() => tick(performance.now()), 50);
  else requestAnimationFrame((ts) => tick(ts));
}

// =============================================================================
// Rendering
// =============================================================================

function sideName(s: Side): string {
  return tx()[s];
}

/** `addr:port`, an IPv6 address in brackets (RFC 5952 §6). */
function endpoint(addr: IpAddr, port: number): string {
  return typeof addr === 'string' ? `[${formatIpAddr(addr)}]:${port}` : `${formatIpAddr(addr)}:${port}`;
}

function liveModel(): LadderModel {
  const t = tx();
  const arrows: LadderArrow[] = session.segments.map((s) => liveArrow(s));
  const states = session.stateChanges
    .filter((c) => c.order >= session.initialMark)
    .map((c) => ({ left: c.side === 'client', t: c.timeUs, o: c.order, state: c.to }));
  return {
    leftTitle: t.client,
    rightTitle: t.server,
    leftSub: formatIpAddr(session.addr.client),
    rightSub: endpoint(session.addr.server, 80),
    initial: [session.initial.client, session.initial.server],
    arrows,
    states,
    now: session.now,
    selected,
    capture: false,
    timeLabel: (us) => `${(us / 1000).toFixed(1)} ms`,
    gapLabel: (us) => `+${(us / 1e6).toFixed(2)} s`,
    emptyText: t.empty,
  };
}

function detail(relSeq: number | null, relAck: number | null, win: number, len: number): string {
  return `seq=${relSeq ?? '?'}  ack=${relAck ?? '–'}  win=${win}  len=${len}`;
}

function liveArrow(s: SegmentView): LadderArrow {
  const t = tx();
  const marks: LadderArrow['marks'] = [];
  if (s.retransmission) marks.push({ kind: 'rtx', text: t.rtx(s.retransmission) });
  if (s.lost) marks.push({ kind: 'lost', text: t.lost });
  return {
    id: s.id,
    fromLeft: s.from === 'client',
    t0: s.sentUs,
    o0: s.order,
    t1: s.arrivedUs,
    o1: s.arriveOrder ?? s.order,
    expected: s.expectedUs,
    lost: s.lost,
    flags: s.flagsText,
    detail: detail(s.relSeq, s.relAck, s.windowBytes, s.len),
    marks,
    data: {
      flags: s.flagsText,
      from: s.from,
      lost: s.lost ? '1' : '0',
      retx: s.retransmission ? '1' : '0',
      arrived: s.arrivedUs !== null ? '1' : '0',
    },
  };
}

const VERDICT_MARK: Partial<Record<Verdict, MarkKind>> = {
  retransmission: 'rtx',
  'fast-retransmission': 'rtx',
  'spurious-retransmission': 'rtx',
  'out-of-order': 'ooo',
  'zero-window': 'zw',
  'zero-window-probe': 'info',
  reset: 'rst',
  'dup-ack': 'info',
  'keep-alive': 'info',
  'previous-segment-lost': 'info',
};

function verdictText(v: Verdict): string {
  const t = tx();
  switch (v) {
    case 'retransmission':
      return t.rtxCapture;
    case 'fast-retransmission':
      return t.rtx('fast');
    case 'spurious-retransmission':
      return t.rtx('spurious');
    case 'out-of-order':
      return t.ooo;
    case 'zero-window':
      return t.zw;
    case 'zero-window-probe':
      return t.zwp;
    case 'reset':
      return t.rst;
    case 'dup-ack':
      return t.dupAck;
    case 'keep-alive':
      return t.keepAlive;
    case 'previous-segment-lost':
      return t.prevLost;
  }
}

function captureConn(): TraceConnection | null {
  if (!capture) return null;
  return capture.conns.find((c) => c.index === capture!.index) ?? capture.conns[0] ?? null;
}

function captureModel(c: TraceConnection): LadderModel {
  const t = tx();
  const arrows: LadderArrow[] = c.segments.map((s, i) => ({
    id: i,
    fromLeft: s.from === 0,
    t0: s.timeUs,
    o0: i * 2,
    t1: null,
    o1: i * 2 + 1,
    expected: null,
    lost: false,
    flags: s.flagsText,
    detail: detail(s.relSeq, s.relAck, s.windowBytes, s.len),
    marks: s.verdicts.filter((v) => v !== 'reset').map((v) => ({ kind: VERDICT_MARK[v] ?? 'info', text: verdictText(v) })),
    data: { flags: s.flagsText, from: s.from === 0 ? 'a' : 'b', frame: String(s.frame), verdicts: s.verdicts.join(' ') },
  }));
  const states: LadderModel['states'] = [];
  c.segments.forEach((s, i) => {
    for (const tr of s.transitions) states.push({ left: tr.side === 0, t: s.timeUs, o: i * 2 + 1, state: tr.to });
  });
  return {
    leftTitle: roleOf(c, 0),
    rightTitle: roleOf(c, 1),
    leftSub: c.endpoints[0],
    rightSub: c.endpoints[1],
    initial: c.initial,
    arrows,
    states,
    now: null,
    selected,
    capture: true,
    timeLabel: (us) => `+${((us - c.startUs) / 1000).toFixed(3)}`,
    gapLabel: (us) => `+${(us / 1e6).toFixed(2)} s`,
    emptyText: t.emptyCapture,
  };
}

function render(): void {
  const t = tx();
  let model: LadderModel | null = null;
  if (mode === 'live') model = liveModel();
  else {
    const c = captureConn();
    if (c) model = captureModel(c);
  }
  // Ladder
  const key = model ? `${mode}|${lang}|${selected}|${model.arrows.length}|${model.now}|${session.mark()}|${capture?.index}` : 'none';
  if (model && key !== lastRenderKey) {
    lastRenderKey = key;
    $('ladder').innerHTML = renderLadder(model);
    if (mode === 'live' && followNow) {
      const y = nowY(model);
      const el = $('ladder-scroll');
      if (y !== null && (y > el.scrollTop + el.clientHeight - 60 || y < el.scrollTop)) el.scrollTop = Math.max(0, y - el.clientHeight + 120);
    }
  }
  // Current states, transitions, state diagram
  let sd: StateDiagramInput;
  if (mode === 'live') {
    const last = (side: Side) => {
      const ch = [...session.stateChanges].reverse().find((c) => c.side === side);
      return ch ? { from: ch.from, to: ch.to, label: ch.transition?.label ?? ch.cause } : null;
    };
    sd = { client: session.state.client, server: session.state.server, lastClient: last('client'), lastServer: last('server'), names: [t.client, t.server] };
    $('state-client').textContent = session.state.client;
    $('state-server').textContent = session.state.server;
    $('state-client').dataset['state'] = session.state.client;
    $('state-server').dataset['state'] = session.state.server;
  } else {
    const c = captureConn();
    const segs = c?.segments ?? [];
    const upto = selected !== null ? selected : segs.length - 1;
    const s = segs[upto];
    const st: [TcpState, TcpState] = s ? s.states : (c?.initial ?? ['CLOSED', 'CLOSED']);
    const lastOf = (side: 0 | 1) => {
      for (let i = upto; i >= 0; i--) {
        const tr = segs[i]!.transitions.filter((x) => x.side === side).pop();
        if (tr) return { from: tr.from, to: tr.to, label: tr.label };
      }
      return null;
    };
    const names: [string, string] = c ? [roleOf(c, 0), roleOf(c, 1)] : ['A', 'B'];
    sd = { client: st[0], server: st[1], lastClient: lastOf(0), lastServer: lastOf(1), names };
    $('state-client').textContent = st[0];
    $('state-server').textContent = st[1];
    $('state-client').dataset['state'] = st[0];
    $('state-server').dataset['state'] = st[1];
  }
  const sdKey = JSON.stringify(sd) + lang;
  if (sdKey !== lastSdKey) {
    lastSdKey = sdKey;
    $('state-diagram').innerHTML = renderStateDiagram(sd);
    const lines: string[] = [];
    for (const [last, who] of [
      [sd.lastClient, sd.names[0]],
      [sd.lastServer, sd.names[1]],
    ] as const) {
      if (!last) continue;
      const fig = FIGURE_5.some((f) => f.from === last.from && f.to === last.to);
      lines.push(`<div class="tr-line">${escHtml(t.transition(who, last.from, last.to, last.label))}${fig ? '' : ` <span class="muted">(${t.noFigure5})</span>`}</div>`);
    }
    $('transition').innerHTML = lines.join('');
  }
  // Counters (live)
  if (mode === 'live') renderCounters();
  // Inspector
  const inspKey = `${mode}|${lang}|${selected}|${capture?.index}|${selected !== null && mode === 'live' ? (session.segments[selected]?.lost ? 'l' : '') + (session.segments[selected]?.arrivedUs ?? '') : ''}`;
  if (inspKey !== lastInspKey) {
    lastInspKey = inspKey;
    renderInspector();
  }
  // Application log
  if (mode === 'live' && session.notes.length !== lastLogLen) {
    lastLogLen = session.notes.length;
    renderLog();
  }
  $('drop-armed').textContent = session.dropPending > 0 ? t.dropArmed(session.dropPending) : '';
  $('clock').textContent = mode === 'live' ? `t = ${(session.now / 1000).toFixed(1)} ms` : '';
}

function escHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function fmtUs(us: number | null): string {
  return us === null ? '–' : `${(us / 1000).toFixed(1)} ms`;
}

function fmtN(n: number | null): string {
  return n === null ? '–' : String(n);
}

function renderCounters(): void {
  const t = tx();
  const c = session.status('client');
  const s = session.status('server');
  const rows: Array<[string, string, string, string]> = [
    ['retransmits', t.retransmissions, String(c.retransmits), String(s.retransmits)],
    ['srtt', t.srtt, fmtUs(c.srttUs), fmtUs(s.srttUs)],
    ['rto', t.rto, fmtUs(c.rtoUs), fmtUs(s.rtoUs)],
    ['cwnd', t.cwnd, fmtN(c.cwnd), fmtN(s.cwnd)],
    ['snd-wnd', t.sndWnd, fmtN(c.sndWnd), fmtN(s.sndWnd)],
    ['rcv-wnd', t.rcvWnd, fmtN(c.rcvWnd), fmtN(s.rcvWnd)],
    ['in-flight', t.inFlight, fmtN(c.bytesInFlight), fmtN(s.bytesInFlight)],
    ['segs-out', t.segsOut, String(c.segmentsOut), String(s.segmentsOut)],
  ];
  const html =
    `<table class="kv"><thead><tr><th></th><th>${escHtml(t.client)}</th><th>${escHtml(t.server)}</th></tr></thead><tbody>` +
    rows.map(([k, name, a, b]) => `<tr data-k="${k}"><td>${escHtml(name)}</td><td class="num" data-side="client">${a}</td><td class="num" data-side="server">${b}</td></tr>`).join('') +
    `</tbody></table>`;
  const el = $('counters');
  if (el.innerHTML !== html) el.innerHTML = html;
}

function renderInspector(): void {
  const t = tx();
  const el = $('inspector');
  let bytes: Uint8Array | null = null;
  let rel: { seqBase: number | null; ackBase: number | null; windowBytes?: number } = { seqBase: null, ackBase: null };
  let extra = '';
  if (selected !== null && mode === 'live') {
    const s = session.segments[selected];
    if (s) {
      bytes = s.bytes;
      rel = { seqBase: session.isnOf(s.from), ackBase: session.isnOf(s.to), windowBytes: s.windowBytes };
      const st = s.lost ? t.lost : s.arrivedUs === null ? '…' : `→ ${fmtUs(s.arrivedUs)}`;
      extra = `#${s.id} · ${escHtml(sideName(s.from))} → ${escHtml(sideName(s.to))} · ${fmtUs(s.sentUs)} ${st}${s.retransmission ? ` · ${escHtml(t.rtx(s.retransmission))}` : ''}`;
    }
  } else if (selected !== null && mode === 'capture') {
    const c = captureConn();
    const s = c?.segments[selected];
    if (c && s) {
      bytes = s.bytes;
      const base0 = ((s.tcp.seq >>> 0) - s.relSeq) >>> 0;
      const base1 = s.relAck !== null ? ((s.tcp.ack >>> 0) - s.relAck) >>> 0 : null;
      rel = { seqBase: base0, ackBase: base1, windowBytes: s.windowBytes };
      extra = `frame ${s.frame} · ${escHtml(roleOf(c, s.from))} → ${escHtml(roleOf(c, s.from === 0 ? 1 : 0))}${s.verdicts.length ? ' · ' + s.verdicts.map((v) => escHtml(verdictText(v))).join(', ') : ''}`;
    }
  }
  if (!bytes) {
    el.innerHTML = `<p class="muted">${escHtml(t.clickArrow)}</p>`;
    return;
  }
  const d = decodeSegment(bytes, lang, rel);
  const table = (rows: Array<{ name: string; value: string; note?: string }>) =>
    `<table class="kv">${rows.map((r) => `<tr><td>${escHtml(r.name)}</td><td class="mono">${escHtml(r.value)}</td><td class="muted">${escHtml(r.note ?? '')}</td></tr>`).join('')}</table>`;
  el.innerHTML =
    `<div class="insp-head">${extra}<div class="mono">${escHtml(d.summary)}</div></div>` +
    `<div class="insp-cols"><section><h4>${escHtml(d.ip[0]?.value === '6' ? t.ip6Header : t.ipHeader)}</h4>${table(d.ip)}</section>` +
    `<section><h4>${escHtml(t.tcpHeader)}</h4>${table(d.tcp)}</section></div>` +
    `<h4>${escHtml(t.flagBits)}</h4><table class="flags">${d.flags
      .map((f) => `<tr class="${f.set ? 'set' : ''}" data-flag="${f.name}"><td class="bit">${f.set ? '1' : '0'}</td><td class="fname">${f.name}</td><td>${escHtml(f.meaning)}</td></tr>`)
      .join('')}</table>` +
    `<h4>${escHtml(t.options)}</h4>${d.options.length ? table(d.options) : `<p class="muted">${escHtml(t.noOptions)}</p>`}` +
    `<h4>${escHtml(t.payload)}</h4><p class="mono">${d.payload.length} ${escHtml(t.bytes)}${d.payload.length ? `: “${escHtml(d.payload.text)}”` : ''}</p>` +
    (d.error ? `<p class="error">${escHtml(d.error)}</p>` : '');
}

function renderLog(): void {
  const t = tx();
  const items = session.notes.slice(-60).map((n) => {
    const note = n.note;
    const who = note.side ? sideName(note.side) : '';
    let text: string;
    switch (note.kind) {
      case 'received':
        text = t.received(who, note.text, note.bytes);
        break;
      case 'end':
        text = t.end(who);
        break;
      case 'call':
        text = t.call(who, note.call, note.detail ?? '');
        break;
      case 'closed':
        text = t.closed(who, note.reason);
        break;
      case 'error':
        text = `${who}: ${note.text}`;
        break;
    }
    return `<li class="note note-${note.kind} side-${note.side ?? ''}"><span class="t">${(n.timeUs / 1000).toFixed(1)} ms</span> ${escHtml(text)}</li>`;
  });
  const el = $('log');
  el.innerHTML = items.join('');
  el.scrollTop = el.scrollHeight;
}

// =============================================================================
// Start
// =============================================================================

declare global {
  interface Window {
    synackViz: {
      session: () => VizSession;
      loadCapture: (name: string, bytes: Uint8Array) => string | null;
      setSpeed: (x: number) => void;
    };
  }
}

window.synackViz = {
  session: () => session,
  loadCapture,
  setSpeed: (x: number) => {
    speed = x;
  },
};

document.body.dataset['mode'] = 'live';
applyText();
bind();
updatePlay();
speed = Number($<HTMLSelectElement>('speed').value);
loop();
