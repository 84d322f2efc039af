/**
 * The README's code runs. Every ```ts block in README.md is extracted and run
 * as it stands (node + tsx, from the repository root), with `'synack'`
 * imports pointed at this checkout's own source (src/index.ts) — whatever
 * package.json's "exports" say for the published package. A block is skipped
 * only when the line before it (blank lines aside) is the marker
 *
 *   <!-- readme-test: not runnable -->
 *
 * (for snippets that need a browser, root or a network). Markers of the form
 *
 *   <!-- readme-test: prints /REGEX/ -->
 *
 * before a block add an assertion on its standard output. examples/readme-*.ts
 * must each be one of the README's blocks (their leading comment lines
 * aside), so the README and examples/ cannot drift apart.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('../../', import.meta.url).pathname;

export interface ReadmeBlock {
  /** 1-based line of the opening fence. */
  line: number;
  code: string;
  runnable: boolean;
  prints: RegExp[];
}

/** The ```ts blocks of a Markdown text, with the readme-test markers that precede each. */
export function tsBlocks(markdown: string): ReadmeBlock[] {
  const lines = markdown.split('\n');
  const blocks: ReadmeBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!/^```(ts|typescript)\s*$/.test(lines[i]!)) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !/^```\s*$/.test(lines[i]!); i++) body.push(lines[i]!);
    // The markers: the comment lines directly above the fence (blank lines aside).
    let runnable = true;
    const prints: RegExp[] = [];
    for (let j = start - 1; j >= 0; j--) {
      const l = lines[j]!.trim();
      if (l === '') continue;
      const m = /^<!--\s*readme-test:\s*(.*?)\s*-->$/.exec(l);
      if (!m) break;
      if (/^not runnable\b/.test(m[1]!)) runnable = false;
      const p = /^prints \/(.*)\/([a-z]*)$/.exec(m[1]!);
      if (p) prints.unshift(new RegExp(p[1]!, p[2]));
    }
    blocks.push({ line: start + 1, code: body.join('\n') + '\n', runnable, prints });
  }
  return blocks;
}

const normalize = (code: string): string =>
  code
    .split('\n')
    .map((l) => l.replace(/\s+/g, ' ').trimEnd())
    .filter((l, i, a) => !(l === '' && (i === 0 || a[i - 1] === '')))
    .join('\n')
    .trim();

/** examples/ files start with comment lines that say where they come from; the code follows. */
const withoutHeader = (code: string): string => code.replace(/^(\/\/[^\n]*\n)+/, '');

test('the extractor finds ```ts blocks, honours "not runnable" and collects "prints" markers', () => {
  const md = ['# x', '```ts', 'a();', '```', '<!-- readme-test: not runnable -->', '', '```ts', 'b();', '```', '<!-- readme-test: prints /ok/ -->', '```ts', 'c();', '```', '```sh', 'ls', '```'].join('\n');
  const b = tsBlocks(md);
  assert.deepEqual(b.map((x) => [x.line, x.code, x.runnable, x.prints.map(String)]), [
    [2, 'a();\n', true, []],
    [7, 'b();\n', false, []],
    [11, 'c();\n', true, ['/ok/']],
  ]);
});

const OWN_SOURCE = join(root, 'src', 'index.ts');
/** `from 'synack'` and `import('synack')` → this checkout's src/index.ts; `'synack/core'`, `/net`, `/tun`, `/gateway`, `/workers` → src/core.ts, net.ts, tun.ts, gateway.ts, workers.ts. */
export function toOwnSource(code: string, entry = OWN_SOURCE): string {
  return code.replace(/(\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(['"])synack(?:\/(core|net|tun|gateway|workers))?\2/g, (_m, pre: string, q: string, sub: string | undefined) =>
    `${pre}${q}${sub ? entry.replace(/index\.ts$/, `${sub}.ts`) : entry}${q}`,
  );
}

test('README blocks import synack from this checkout\'s source', () => {
  assert.equal(toOwnSource("import { a } from 'synack';\nconst m = await import(\"synack\");\nimport 'synack';\nimport x from 'synack-tun';", '/r/src/index.ts'),
    "import { a } from '/r/src/index.ts';\nconst m = await import(\"/r/src/index.ts\");\nimport '/r/src/index.ts';\nimport x from 'synack-tun';");
  assert.equal(toOwnSource("import { b } from 'synack/net';\nimport { c } from \"synack/core\";\nimport { d } from 'synack/tun';\nimport { e } from 'synack/nope';", '/r/src/index.ts'),
    "import { b } from '/r/src/net.ts';\nimport { c } from \"/r/src/core.ts\";\nimport { d } from '/r/src/tun.ts';\nimport { e } from 'synack/nope';");
});

const readme = readFileSync(join(root, 'README.md'), 'utf8');
const blocks = tsBlocks(readme);
const outDir = join(root, 'test-output', 'readme');

test('README.md has runnable ```ts blocks', () => {
  assert.ok(blocks.filter((b) => b.runnable).length >= 2, `found ${blocks.length} blocks`);
});

for (const [i, b] of blocks.entries()) {
  const title = `README.md line ${b.line}: the \`\`\`ts block runs${b.prints.length ? ` and prints ${b.prints.map(String).join(', ')}` : ''}`;
  test(title, b.runnable ? {} : { skip: 'marked <!-- readme-test: not runnable -->' }, () => {
    mkdirSync(outDir, { recursive: true });
    const file = join(outDir, `block-${i + 1}-line-${b.line}.ts`);
    writeFileSync(file, toOwnSource(b.code));
    const r = spawnSync(process.execPath, ['--import', 'tsx', file], { cwd: root, encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, `exit ${r.status} ${r.signal ?? ''}\n${r.stderr}`);
    for (const re of b.prints) assert.match(r.stdout, re);
  });
}

test('examples/readme-*.ts are the README blocks, so the two cannot drift apart', () => {
  const dir = join(root, 'examples');
  const files = readdirSync(dir).filter((n) => /^readme-.*\.ts$/.test(n));
  assert.ok(files.length > 0);
  const inReadme = new Set(blocks.map((b) => normalize(b.code)));
  for (const f of files) {
    const code = normalize(withoutHeader(readFileSync(join(dir, f), 'utf8')));
    assert.ok(inReadme.has(code), `examples/${f} differs from every \`\`\`ts block in README.md`);
  }
});
