/**
 * The gateway process's young generation, kept at V8's initial size.
 *
 * Measured (docs/PERFORMANCE.md, "The gateway"): of the ~28 KB of RSS an
 * idle forwarded connection seemed to cost, the heap objects of the
 * connection were about 14 KB (heap snapshots at 0 and 500 connections,
 * compiled code included); most of the rest was V8's new space, grown by
 * the allocation rate of the burst of connects from a few MiB to 32 MiB of
 * RSS that stays. V8 grows a semi-space by `--semi-space-growth-factor`
 * whenever a scavenge finds it busy, and reads that flag each time, so
 * setting it to 1 at run time keeps the new space at its initial size.
 * The price: more frequent scavenges, and objects that live past two of
 * them reach the old generation sooner — more CPU per GB in bulk
 * transfers (measured in the same place).
 *
 * `synack gateway --small-heap` only; by default the command caps the
 * growth instead (capYoungGeneration below). Neither is done by the library
 * (a library must not change V8's flags under its host).
 */
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { PerformanceObserver, constants as perfConstants } from 'node:perf_hooks';
import { loadTunAddon } from '../links/tun.ts';
import { trimSendPool } from '../tcp/send-buffer.ts';

export function keepYoungGenerationSmall(): void {
  setFlagsFromString('--semi-space-growth-factor=1');
}

/** The new space `synack gateway` lets V8 grow to (capYoungGeneration; --small-heap keeps the initial size instead). */
export const GATEWAY_NEW_SPACE_CAP = 4 << 20;

/**
 * The young generation allowed to grow only up to `maxBytes` of new space:
 * after each scavenge (a 'gc' performance entry of kind minor) the new
 * space's size is read, and once it has reached `maxBytes` the growth
 * factor is set to 1 — V8 can then grow it by at most the one step that
 * happened in the scavenge that crossed the line. Between the default (16
 * MiB, whatever a burst of connects asks for) and `keepYoungGenerationSmall`
 * (the initial 1 MiB): fewer scavenges than the latter, less RSS than the
 * former. Returns a function that stops watching.
 */
export function capYoungGeneration(maxBytes: number): () => void {
  const newSpace = (): number => getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_size ?? 0;
  let done = false;
  const obs = new PerformanceObserver((list) => {
    if (done) return;
    for (const e of list.getEntries()) {
      if (((e as unknown as { detail?: { kind?: number } }).detail)?.kind !== perfConstants.NODE_PERFORMANCE_GC_MINOR) continue;
      if (newSpace() >= maxBytes) {
        setFlagsFromString('--semi-space-growth-factor=1');
        done = true;
        obs.disconnect();
        return;
      }
    }
  });
  if (newSpace() >= maxBytes) {
    setFlagsFromString('--semi-space-growth-factor=1');
    done = true;
  } else obs.observe({ entryTypes: ['gc'] });
  return () => {
    done = true;
    obs.disconnect();
  };
}

/**
 * When a process that was busy goes quiet, it gives back the memory the burst
 * touched: V8's low-memory collection (a full, memory-reducing GC that also
 * shrinks the young generation back to its initial size) and glibc's
 * malloc_trim (free pages inside the malloc arenas returned to the system).
 * Without it a burst of connections leaves its high-water mark of RSS
 * behind for good (measured in docs/PERFORMANCE.md, "The gateway", item 11:
 * a trim after 500 held connections took the process from 89–90 MB back
 * to 84.6–85.7 MB).
 *
 * The decision is sans-I/O (IdleTrimmer.sample): every `periodMs` the
 * process's CPU time and RSS are sampled; a trim happens on the first quiet
 * period (under `idleCpuUs` of CPU) that follows a busy one, and only when
 * RSS grew by at least `minGrowthBytes` since the last trim — an
 * interactive guest's bursts of keystrokes never cost a full GC each.
 */
export interface IdleTrimOptions {
  /** The sampling period (default 200 ms). */
  periodMs?: number;
  /** A period with less CPU time (user + system) than this is quiet (default 2 ms: 1 % of the period). */
  idleCpuUs?: number;
  /** RSS growth since the last trim that makes one worthwhile (default 256 KiB). */
  minGrowthBytes?: number;
}

export class IdleTrimmer {
  private lastCpuUs: number;
  private busy = false;
  private rssAtTrim: number;
  private readonly idleCpuUs: number;
  private readonly minGrowthBytes: number;
  /** Trims decided so far. */
  trims = 0;

  constructor(cpuUs: number, rss: number, opts: IdleTrimOptions = {}) {
    this.lastCpuUs = cpuUs;
    this.rssAtTrim = rss;
    this.idleCpuUs = opts.idleCpuUs ?? 2_000;
    this.minGrowthBytes = opts.minGrowthBytes ?? 256 << 10;
  }

  /** One period's sample: the process's CPU time so far (µs) and its RSS now. True: trim now (then call trimmed()). */
  sample(cpuUs: number, rss: number): boolean {
    const used = cpuUs - this.lastCpuUs;
    this.lastCpuUs = cpuUs;
    if (used >= this.idleCpuUs) {
      this.busy = true;
      return false;
    }
    if (!this.busy) return false;
    this.busy = false;
    if (rss - this.rssAtTrim < this.minGrowthBytes) return false;
    this.trims++;
    return true;
  }

  /** After a trim: its own CPU time is not activity; its RSS is the new baseline. */
  trimmed(cpuUs: number, rss: number): void {
    this.lastCpuUs = cpuUs;
    this.rssAtTrim = rss;
  }
}

/**
 * The native trim (the synack-tun addon's trimMemory), or null where the
 * addon, or a build of it with trimMemory, is not there. It first lets go
 * of the send buffers' pool of free blocks (tcp/send-buffer.ts, up to 4
 * MiB), so that the collection frees them.
 */
export function nativeTrimMemory(): (() => void) | null {
  try {
    const a = loadTunAddon();
    const trim = a.trimMemory?.bind(a);
    return trim
      ? () => {
          trimSendPool();
          trim();
        }
      : null;
  } catch {
    return null;
  }
}

/**
 * Trims (`trim`, e.g. nativeTrimMemory()) once now and then whenever the
 * process goes quiet after being busy (IdleTrimmer). The timer is unref'd.
 * Returns the trimmer (its count) and a stop function.
 */
export function trimMemoryWhenIdle(trim: () => void, opts: IdleTrimOptions = {}): { trimmer: IdleTrimmer; stop(): void } {
  const cpu = (): number => {
    const u = process.cpuUsage();
    return u.user + u.system;
  };
  trim();
  const trimmer = new IdleTrimmer(cpu(), process.memoryUsage.rss(), opts);
  const t = setInterval(() => {
    if (!trimmer.sample(cpu(), process.memoryUsage.rss())) return;
    trim();
    trimmer.trimmed(cpu(), process.memoryUsage.rss());
  }, opts.periodMs ?? 200);
  t.unref();
  return { trimmer, stop: () => clearInterval(t) };
}
