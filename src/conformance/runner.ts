/**
 * File-level driver of the conformance runner: finds .pkt scripts under
 * files or folders, runs each with the executor, and summarises by folder.
 * Uses node:fs (the executor itself is pure).
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { runScriptSource, type RunOptions, type RunResult } from './executor.ts';

/** The project root (two levels above this file). */
export const PROJECT_ROOT = resolve(new URL('../..', import.meta.url).pathname);
/** The default corpus: ../shared/conformance/tcp-testsuite relative to the project root. */
export const DEFAULT_CORPUS = resolve(PROJECT_ROOT, '../shared/conformance/tcp-testsuite');

export interface ScriptRef {
  /** The path as the user gave it (or as found under a folder the user gave). */
  script: string;
  /** Absolute path. */
  abs: string;
  /** The folder this script is summarised under. */
  folder: string;
}

export interface ScriptOutcome extends RunResult {
  script: string;
  folder: string;
  wallMs: number;
}

function walk(dir: string, out: string[]): void {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.pkt')) out.push(p);
  }
}

/**
 * Expands PATHS (files or folders, absolute or relative to `cwd`) into
 * scripts. A folder contributes every .pkt below it, in sorted order; the
 * script path keeps the form the user gave (folder + relative rest).
 */
export function collectScripts(paths: readonly string[], cwd = process.cwd()): ScriptRef[] {
  const out: ScriptRef[] = [];
  const roots = paths.length ? paths : [DEFAULT_CORPUS];
  for (const given of roots) {
    const abs = isAbsolute(given) ? given : resolve(cwd, given);
    const st = statSync(abs); // throws ENOENT with the path: the CLI reports it
    if (st.isDirectory()) {
      const files: string[] = [];
      walk(abs, files);
      for (const f of files) {
        const rel = relative(abs, f);
        const script = paths.length ? join(given, rel) : f;
        out.push({ script, abs: f, folder: folderOf(f) });
      }
    } else {
      out.push({ script: given, abs, folder: folderOf(abs) });
    }
  }
  return out;
}

/** A script's folder for the summary: relative to the corpus when inside it. */
export function folderOf(abs: string): string {
  const rel = relative(DEFAULT_CORPUS, dirname(abs));
  if (!rel.startsWith('..') && !isAbsolute(rel)) return rel || '.';
  return relative(process.cwd(), dirname(abs)) || '.';
}

export function runScriptFile(ref: ScriptRef, opts: RunOptions = {}): ScriptOutcome {
  const t0 = performance.now();
  const r = runScriptSource(readFileSync(ref.abs, 'utf8'), opts);
  return { ...r, script: ref.script, folder: ref.folder, wallMs: performance.now() - t0 };
}

/** Per-folder counts, folders sorted by name. */
export function summarize(results: readonly ScriptOutcome[]): Array<{ folder: string; passed: number; total: number }> {
  const m = new Map<string, { passed: number; total: number }>();
  for (const r of results) {
    const e = m.get(r.folder) ?? { passed: 0, total: 0 };
    e.total++;
    if (r.passed) e.passed++;
    m.set(r.folder, e);
  }
  return [...m.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([folder, v]) => ({ folder, ...v }));
}
