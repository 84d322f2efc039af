/**
 * The browser build: esbuild bundles the core, the in-memory link and the
 * page for platform "browser" (a Node built-in anywhere in the graph fails
 * the build), and the bundle imports and requires nothing from node:.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildPage } from '../../src/viz/build.ts';

test('the page bundles for browsers and its bundle contains no node: import or require', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'synack-viz-build-'));
  try {
    const b = await buildPage(dir);
    for (const f of ['index.html', 'style.css', 'app.js']) assert.ok(existsSync(join(dir, f)), `${f} written`);
    const js = readFileSync(join(dir, 'app.js'), 'utf8');
    assert.equal(js, b.js);
    const problems: string[] = [];
    for (const [re, what] of [
      [/\bfrom\s*["']node:/, 'import from node:'],
      [/\bimport\s*\(\s*["']node:/, 'dynamic import of node:'],
      [/\brequire\s*\(\s*["']node:/, 'require of node:'],
      [/\brequire\s*\(\s*["'](fs|path|os|net|http|child_process|util|crypto|stream|events|buffer)["']/, 'require of a Node built-in'],
      [/["']node:[a-z_/]+["']/, 'a node: specifier'],
    ] as Array<[RegExp, string]>) {
      if (re.test(js)) problems.push(what);
    }
    assert.deepEqual(problems, []);
    // It is the real core: the RFC's state names and Figure 5's labels are in it.
    assert.match(js, /rcv SYN,ACK \/ snd ACK/);
    assert.match(js, /SYN-RECEIVED/);
    assert.ok(b.bytes < 2_000_000, `bundle size ${b.bytes}`);
    const html = readFileSync(join(dir, 'index.html'), 'utf8');
    assert.match(html, /<script type="module" src="app.js">/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a Node built-in in the page graph fails the browser build (the check can fail)', async () => {
  const { build } = await import('esbuild');
  await assert.rejects(
    build({ stdin: { contents: "import { readFileSync } from 'node:fs'; console.log(readFileSync);", loader: 'ts' }, bundle: true, platform: 'browser', write: false, logLevel: 'silent' }),
    /node:fs/,
  );
});
