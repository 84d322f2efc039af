/**
 * The sans-I/O rule (docs/ARCHITECTURE.md): wire/, ip/, tcp/, stack/, sim/ and the
 * in-memory link import no node: module and never read a wall clock, set a
 * timer or draw from Math.random — so the core runs in a browser and every
 * history replays from its seed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('../../src/', import.meta.url).pathname;
const PURE = ['base', 'wire', 'services', 'ip', 'tcp', 'stack', 'sim', 'links/memory.ts', 'links/switch.ts', 'links/stream-framing.ts', 'bsd', 'conformance/parser.ts', 'conformance/executor.ts', 'conformance/profile.ts'];
const FORBIDDEN: Array<[RegExp, string]> = [
  [/from\s+['"]node:/, "imports a node: module"],
  [/import\(\s*['"]node:/, "imports a node: module dynamically"],
  [/require\(/, 'calls require()'],
  [/\bDate\.now\s*\(/, 'calls Date.now()'],
  [/\bnew Date\s*\(/, 'constructs a Date'],
  [/\bperformance\.now\s*\(/, 'calls performance.now()'],
  [/\bsetTimeout\s*\(/, 'calls setTimeout()'],
  [/\bsetInterval\s*\(/, 'calls setInterval()'],
  [/\bsetImmediate\s*\(/, 'calls setImmediate()'],
  [/\bMath\.random\s*\(/, 'calls Math.random()'],
  [/\bprocess\./, 'touches process'],
  [/\bBuffer\b/, 'uses Buffer (Node-only)'],
];

function files(p: string): string[] {
  const full = join(root, p);
  if (!statSync(full).isDirectory()) return [full];
  const out: string[] = [];
  for (const name of readdirSync(full)) out.push(...files(join(p, name)));
  return out.filter((f) => f.endsWith('.ts'));
}

/** Drops comments so that quoted RFC text or notes do not count. */
function code(src: string): string {
  return src.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
}

test('the sans-I/O core (wire, ip, tcp, stack, sim, memory link, bsd sockets, conformance engine) imports no node: module and reads no clock, timer or Math.random', () => {
  const problems: string[] = [];
  const all = PURE.flatMap(files);
  assert.ok(all.length > 10, 'the core folders hold source files');
  for (const f of all) {
    const src = code(readFileSync(f, 'utf8'));
    for (const [re, what] of FORBIDDEN) if (re.test(src)) problems.push(`${f.slice(root.length)} ${what}`);
  }
  assert.deepEqual(problems, []);
});

test('the purity check itself catches a forbidden call (it can fail)', () => {
  const sample = "import x from 'node:fs';\nconst t = Date.now();";
  const hits = FORBIDDEN.filter(([re]) => re.test(code(sample))).map(([, w]) => w);
  assert.deepEqual(hits, ['imports a node: module', 'calls Date.now()']);
});
