/**
 * Goodput over an emulated wide-area path, synack's TCP beside Linux's own,
 * in the same run (issue 5, item 6). This kernel has no netem, so the path
 * is emulated in synack's TUN impairment stage (src/links/impair.ts), in both
 * directions: 25 ms one-way delay (50 ms RTT), a 100 Mbit/s bottleneck with
 * a drop-tail queue of 1.5 × BDP, and random loss.
 *
 * In a network namespace of its own (tun0: kernel .1, synack .2), for each
 * loss rate:
 *   - "Linux sends": a Python sender with TCP_CONGESTION=cubic → synack
 *     discard; goodput = bytes acknowledged (sent − SIOCOUTQ) / elapsed;
 *   - "synack sends", once per synack congestion control (newreno, cubic):
 *     synack chargen → a Python reader; goodput = bytes read / elapsed.
 * Every run moves `megabytes` (default 100 MB) or stops after `seconds`
 * (default 10), whichever comes first, and reports what it achieved.
 * One `synack serve` per (loss, cc) with `--loss --delay --bandwidth --queue
 * --cc`; the impairment RNG has the same seed in every run.
 *
 * The in-memory synack → synack figures are in bench/impaired.ts.
 *
 * The path runs in real time inside synack's process (Node timers), so the
 * figures are noisier than the in-memory ones: a busy machine delays the
 * stage's timers and synack's, which shows up as extra queueing and the odd
 * spurious RTO. The Linux reference shares the same stage, so the ratio is
 * the figure to read. Defaults take about 2¼ minutes (4 × 3 runs of ≤ 10 s).
 *
 * Runnable alone (as root): `npx tsx bench/tun-impaired.ts [--quick]`.
 */
import { spawnSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { Netns, ready, missingPrerequisite, type Proc } from '../test/interop/helpers.ts';

export type CongestionControl = 'newreno' | 'cubic';

export interface TunImpairedRow {
  /** Random loss per packet, each direction (0.01 = 1 %). */
  loss: number;
  /** synack's congestion control in the "synack sends" run. */
  cc: CongestionControl;
  /** synack chargen → Linux reader. */
  synackMbps: number;
  synackBytes: number;
  synackSeconds: number;
  /** synack's retransmitted segments in that run (from `synack serve`'s counters). */
  synackRetransmits: number;
  /** Linux (cubic) → synack discard, over the same path, same run (shared by both cc rows of a loss rate). */
  linuxMbps: number;
  linuxBytes: number;
  linuxSeconds: number;
  /** Linux's tcpi_total_retrans for that run. */
  linuxRetransmits: number;
  /** synackMbps / linuxMbps */
  ratio: number;
}

export interface TunImpairedOptions {
  /** Bytes per transfer, in MB of 10^6 bytes (default 100). */
  megabytes?: number;
  /** Loss rates (default 0, 0.001, 0.01, 0.05). */
  losses?: number[];
  /** Time cap per transfer, seconds (default 10). */
  seconds?: number;
  /** synack congestion controls (default newreno, cubic). */
  ccs?: CongestionControl[];
  /** Path (defaults: 50 ms RTT, 100 Mbit/s, queue 1.5 × BDP). */
  rttMs?: number;
  bandwidthMbps?: number;
  /** Bottleneck queue, packets (default 1.5 × BDP in 1500-byte packets). */
  queuePackets?: number;
  /** Progress and results, one line each; nothing is printed without it. */
  log?: (line: string) => void;
}

/** The kernel-side peer: one time-bounded transfer, one JSON line. */
const PEER_PY = String.raw`
import fcntl, json, select, socket, struct, sys, termios, time
mode, host, port, nbytes, secs, cc = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), sys.argv[6]
s = socket.socket()
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, cc.encode())
s.settimeout(10)
s.connect((host, port))
s.setblocking(False)
def info():
    b = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 256)
    rtt = struct.unpack_from('I', b, 68)[0]
    retrans = struct.unpack_from('I', b, 100)[0]
    return rtt, retrans
t0 = time.monotonic()
end = t0 + secs
done = False
if mode == 'send':
    buf = memoryview(bytearray(1 << 20))
    sent = 0
    while sent < nbytes:
        left = end - time.monotonic()
        if left <= 0:
            break
        _, w, _ = select.select([], [s], [], left)
        if w:
            try:
                sent += s.send(buf[:min(len(buf), nbytes - sent)])
            except BlockingIOError:
                pass
    # Goodput counts only what the receiver acknowledged.
    while True:
        outq = struct.unpack('i', fcntl.ioctl(s, termios.TIOCOUTQ, b'\0\0\0\0'))[0]
        now = time.monotonic()
        if outq == 0 or now >= end:
            break
        time.sleep(0.002)
    total = sent - outq
    done = total >= nbytes
    t1 = min(now, end)
else:
    buf = bytearray(1 << 20)
    total = 0
    while total < nbytes:
        left = end - time.monotonic()
        if left <= 0:
            break
        r, _, _ = select.select([s], [], [], left)
        if r:
            try:
                n = s.recv_into(buf, min(len(buf), nbytes - total))
            except BlockingIOError:
                continue
            if n == 0:
                break
            total += n
    t1 = min(time.monotonic(), end)
    done = total >= nbytes
rtt, retrans = info()
# Abort (RST) rather than leave an orphan still sending into the next run.
s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
s.close()
print(json.dumps({'bytes': total, 'seconds': t1 - t0, 'done': done, 'rtt_us': rtt, 'retrans': retrans}))
`;

interface PeerResult {
  bytes: number;
  seconds: number;
  done: boolean;
  rtt_us: number;
  retrans: number;
}

function peerRun(ns: Netns, mode: 'send' | 'recv', host: string, port: number, bytes: number, seconds: number): PeerResult {
  const r = spawnSync('ip', ['netns', 'exec', ns.name, 'python3', '-c', PEER_PY, mode, host, String(port), String(bytes), String(seconds), 'cubic'], {
    encoding: 'utf8',
    timeout: (seconds + 30) * 1000,
    killSignal: 'SIGKILL',
  });
  if (r.status !== 0) throw new Error(`kernel peer (${mode}) failed (${r.status ?? r.signal}): ${(r.stderr || r.error?.message || '').slice(-1500)}`);
  const lines = r.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]!) as PeerResult;
}

interface ServeStats {
  retransmits: number;
  /** "to the stack: … ; to the device: …" */
  impairments: string;
}

/** Stops a serve process (SIGTERM, then SIGKILL after 5 s) and parses its counters. */
async function stopServe(p: Proc): Promise<ServeStats> {
  p.kill('SIGTERM');
  const t = setTimeout(() => p.kill('SIGKILL'), 5000);
  await p.exited;
  clearTimeout(t);
  const err = p.stderr();
  const m = /(\d+) retransmits/.exec(err);
  const im = /impairments: (.*)/.exec(err);
  return { retransmits: m ? Number(m[1]) : NaN, impairments: im ? im[1]! : '' };
}

const pct = (x: number): string => `${+(x * 100).toFixed(2)}%`;
const f1 = (x: number): string => x.toFixed(1);

export async function benchTunImpaired(opts: TunImpairedOptions = {}): Promise<TunImpairedRow[]> {
  const why = missingPrerequisite();
  if (why) throw new Error(`TUN impairment benchmark needs: ${why}`);
  const log = opts.log ?? (() => {});
  const bytes = Math.round((opts.megabytes ?? 100) * 1e6);
  const losses = opts.losses ?? [0, 0.001, 0.01, 0.05];
  const secs = opts.seconds ?? 10;
  const ccs = opts.ccs ?? ['newreno', 'cubic'];
  const rttMs = opts.rttMs ?? 50;
  const mbps = opts.bandwidthMbps ?? 100;
  const bdpPackets = Math.ceil((mbps * 1e6 * (rttMs / 1000)) / 8 / 1500);
  const queue = opts.queuePackets ?? Math.ceil(bdpPackets * 1.5);
  // Buffers cover BDP + queue with room to spare (4 MiB = Linux's tcp_wmem max).
  const window = 4 << 20;
  const rows: TunImpairedRow[] = [];

  const ns = new Netns({ tag: 'tunimp', subnet: 9, mtu: 1500 });
  try {
    ns.setup();
    // Linux must not start a run with an ssthresh cached from the previous (lossy) one.
    ns.exec(['sysctl', '-q', '-w', 'net.ipv4.tcp_no_metrics_save=1']);
    const S = ns.synackAddr;
    // Real time on a shared machine: a busy CPU delays synack's timers and inflates the variance.
    log(`tun-impaired: ${rttMs} ms RTT, ${mbps} Mbit/s, queue ${queue} packets, ${bytes / 1e6} MB or ${secs} s per run; namespace ${ns.name}; load average ${loadavg()[0]!.toFixed(1)}`);
    for (const loss of losses) {
      let linux: PeerResult | null = null;
      for (const cc of ccs) {
        const serve = ns.synack(
          'serve',
          [
            '--discard', '9', '--chargen', '19', '--window', String(window), '--cc', cc,
            '--delay', String(rttMs / 2), '--bandwidth', String(mbps), '--queue', String(queue), '--loss', String(loss), '--seed', '1',
          ],
          { timeoutMs: (secs * 2 + 60) * 1000 },
        );
        // On failure ns.cleanup() (below) kills it by PID.
        await ready(serve);
        if (linux === null) {
          linux = peerRun(ns, 'send', S, 9, bytes, secs);
          log(`  loss ${pct(loss)}: Linux cubic → synack: ${f1(linux.bytes / 1e6)} MB in ${linux.seconds.toFixed(2)} s = ${f1((linux.bytes * 8) / linux.seconds / 1e6)} Mbit/s, ${linux.retrans} retransmits, srtt ${f1(linux.rtt_us / 1000)} ms`);
        }
        const synack = peerRun(ns, 'recv', S, 19, bytes, secs);
        const st = await stopServe(serve);
        const sM = (synack.bytes * 8) / synack.seconds / 1e6;
        const lM = (linux.bytes * 8) / linux.seconds / 1e6;
        log(`  loss ${pct(loss)}: synack ${cc.padEnd(7)} → Linux: ${f1(synack.bytes / 1e6)} MB in ${synack.seconds.toFixed(2)} s = ${f1(sM)} Mbit/s, ${st.retransmits} retransmits (serve total); ${st.impairments}`);
        rows.push({
          loss,
          cc,
          synackMbps: sM,
          synackBytes: synack.bytes,
          synackSeconds: synack.seconds,
          synackRetransmits: st.retransmits,
          linuxMbps: lM,
          linuxBytes: linux.bytes,
          linuxSeconds: linux.seconds,
          linuxRetransmits: linux.retrans,
          ratio: lM > 0 ? sM / lM : 0,
        });
      }
    }
  } finally {
    await ns.cleanup();
  }
  return rows;
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/^.*\//, '/'))) {
  const quick = process.argv.includes('--quick');
  const rows = await benchTunImpaired({ megabytes: quick ? 20 : 100, seconds: quick ? 5 : 10, log: (s) => console.log(s) });
  console.log('\nloss    cc        synack sends   Linux (cubic) sends   ratio');
  for (const r of rows) {
    console.log(`${pct(r.loss).padEnd(7)} ${r.cc.padEnd(8)} ${(f1(r.synackMbps) + ' Mbit/s').padStart(14)} ${(f1(r.linuxMbps) + ' Mbit/s').padStart(21)}   ${r.ratio.toFixed(2)}×`);
  }
}
