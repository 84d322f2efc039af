/**
 * The layering of docs/ARCHITECTURE.md, enforced: the table under
 * "## Layers" is read from the doc (one row per layer, top first); every
 * import between files of src/ must point to a lower row or stay inside its
 * own module, no two files may import each other in a circle at run time,
 * no circle may join modules, and every source file must belong to a row.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';

const repo = new URL('../../', import.meta.url).pathname;
const src = join(repo, 'src');

/** The layer rows of docs/ARCHITECTURE.md: each an array of module names ('cli/', 'links/memory.ts', 'index.ts'). */
export function parseLayers(doc: string): string[][] {
  const section = doc.split(/^## /m).find((s) => s.startsWith('Layers'));
  if (!section) throw new Error('docs/ARCHITECTURE.md has no "## Layers" section');
  const block = /```\n([\s\S]*?)```/.exec(section);
  if (!block) throw new Error('the Layers section has no fenced table');
  const rows: string[][] = [];
  for (const line of block[1]!.split('\n')) {
    if (line === '' || /^\s/.test(line)) continue; // indented lines detail a module
    // The modules, two spaces apart, then at least three spaces and the description.
    const modules = line.split(/\s{3,}/)[0]!.trim().split(/\s+/);
    for (const m of modules) if (!/^[a-z][\w-]*(\/|\.ts)$|^[a-z][\w-]*\/[\w.-]+\.ts$/.test(m)) throw new Error(`not a module name in the layer table: '${m}' (${line})`);
    rows.push(modules);
  }
  return rows;
}

export interface Edge {
  from: string;
  to: string;
  typeOnly: boolean;
}

/** Relative imports and re-exports of one source file (static and dynamic), resolved to paths under src/. */
function importsOf(file: string): Edge[] {
  const text = readFileSync(join(src, file), 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const edges: Edge[] = [];
  const re = /^\s*(import|export)\s+(type\s+)?([^;]*?)\s*from\s*['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)/gm;
  for (const m of text.matchAll(re)) {
    const spec = m[4] ?? m[5]!;
    const typeOnly = m[2] !== undefined || (m[3] !== undefined && /^\{[^}]*\}$/.test(m[3]) && m[3].slice(1, -1).split(',').every((x) => x.trim() === '' || /^type\s/.test(x.trim())));
    edges.push({ from: file, to: normalize(join(dirname(file), spec)), typeOnly });
  }
  return edges;
}

function sourceFiles(dir = src): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sourceFiles(p));
    else if (name.endsWith('.ts')) out.push(relative(src, p));
  }
  return out;
}

/** The module a file belongs to: the most specific row entry naming it (a file, else its longest folder). */
export function moduleOf(file: string, rows: string[][]): string | null {
  let best: string | null = null;
  for (const m of rows.flat()) {
    const hit = m.endsWith('/') ? file.startsWith(m) : file === m;
    if (hit && (best === null || m.length > best.length)) best = m;
  }
  return best;
}

/** Every violation of the layer rules in a graph: upward/sideways imports, files in no row, circles. */
export function check(files: string[], edges: Edge[], rows: string[][]): string[] {
  const problems: string[] = [];
  const rank = new Map<string, number>();
  rows.forEach((row, i) => row.forEach((m) => rank.set(m, i)));
  for (const f of files) if (moduleOf(f, rows) === null) problems.push(`${f} is in no layer of docs/ARCHITECTURE.md`);
  const moduleEdges = new Map<string, Set<string>>();
  for (const e of edges) {
    const a = moduleOf(e.from, rows);
    const b = moduleOf(e.to, rows);
    if (a === null || b === null || a === b) continue;
    if (rank.get(b)! <= rank.get(a)!) {
      problems.push(`${e.from} imports ${e.to}: ${a} may not import ${b} (${rank.get(b)! < rank.get(a)! ? 'a higher layer' : 'the same layer'})`);
    }
    if (!moduleEdges.has(a)) moduleEdges.set(a, new Set());
    moduleEdges.get(a)!.add(b);
  }
  const runtime = new Map<string, string[]>();
  for (const e of edges) if (!e.typeOnly) (runtime.get(e.from) ?? runtime.set(e.from, []).get(e.from)!).push(e.to);
  for (const c of circles(runtime)) problems.push(`a circle of imports between files: ${c.join(' → ')}`);
  const mods = new Map([...moduleEdges].map(([k, v]) => [k, [...v]]));
  for (const c of circles(mods)) problems.push(`a circle between modules: ${c.join(' → ')}`);
  return problems;
}

/** The circles of a directed graph (one per back edge found by depth-first search). */
function circles(graph: Map<string, string[]>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, 1 | 2>();
  const path: string[] = [];
  const visit = (u: string): void => {
    state.set(u, 1);
    path.push(u);
    for (const v of graph.get(u) ?? []) {
      if (state.get(v) === 1) found.push([...path.slice(path.indexOf(v)), v]);
      else if (!state.has(v)) visit(v);
    }
    path.pop();
    state.set(u, 2);
  };
  for (const u of [...graph.keys()].sort()) if (!state.has(u)) visit(u);
  return found;
}

const rows = parseLayers(readFileSync(join(repo, 'docs/ARCHITECTURE.md'), 'utf8'));

test('docs/ARCHITECTURE.md states the layer order: index.ts on top, base/ at the bottom, core below api/', () => {
  const flat = rows.flat();
  assert.deepEqual(rows[0], ['index.ts']);
  assert.deepEqual(rows[rows.length - 1], ['base/']);
  for (const m of ['cli/', 'cli/options.ts', 'viz/', 'api/', 'bsd/', 'core.ts', 'sim/', 'links/memory.ts', 'stack/', 'tcp/', 'wire/', 'errors.ts']) assert.ok(flat.includes(m), m);
  const at = (m: string) => rows.findIndex((r) => r.includes(m));
  assert.ok(at('cli/') < at('viz/') && at('viz/') < at('cli/options.ts') && at('api/') < at('core.ts') && at('sim/') < at('links/memory.ts') && at('stack/') < at('tcp/') && at('tcp/') < at('wire/'));
});

test('every import in src/ points down the layers of docs/ARCHITECTURE.md, with no circle and no file outside a layer', () => {
  const files = sourceFiles();
  assert.ok(files.length > 50);
  const edges = files.flatMap(importsOf);
  assert.ok(edges.length > 200, 'imports were found');
  for (const e of edges) assert.ok(files.includes(e.to), `${e.from} imports ${e.to}, which exists`);
  assert.deepEqual(check(files, edges, rows), []);
});

test('the layer check catches an upward import, a sideways one, a circle and a file in no layer (it can fail)', () => {
  const files = ['tcp/a.ts', 'tcp/b.ts', 'stack/s.ts', 'api/x.ts', 'bsd/y.ts', 'nowhere/z.ts'];
  const e = (from: string, to: string, typeOnly = false): Edge => ({ from, to, typeOnly });
  const problems = check(files, [e('tcp/a.ts', 'stack/s.ts'), e('api/x.ts', 'bsd/y.ts'), e('tcp/a.ts', 'tcp/b.ts'), e('tcp/b.ts', 'tcp/a.ts'), e('stack/s.ts', 'tcp/a.ts')], rows);
  assert.ok(problems.some((p) => p.startsWith('tcp/a.ts imports stack/s.ts') && p.includes('a higher layer')), problems.join('\n'));
  assert.ok(problems.some((p) => p.startsWith('api/x.ts imports bsd/y.ts') && p.includes('the same layer')));
  assert.ok(problems.some((p) => p.startsWith('a circle of imports between files: tcp/a.ts → tcp/b.ts → tcp/a.ts')));
  assert.ok(problems.some((p) => p.startsWith('a circle between modules')));
  assert.ok(problems.includes('nowhere/z.ts is in no layer of docs/ARCHITECTURE.md'));
  // A type-only import back inside a module is no runtime circle.
  assert.deepEqual(check(['tcp/a.ts', 'tcp/b.ts'], [e('tcp/a.ts', 'tcp/b.ts'), e('tcp/b.ts', 'tcp/a.ts', true)], rows), []);
});
