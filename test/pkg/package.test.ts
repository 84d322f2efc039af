/**
 * synack as a user gets it: `npm pack` makes the two tarballs (synack and
 * the TUN addon synack-tun), and they are installed into an empty project
 * with no registry access (npm ci --offline: the dependencies come from the
 * npm cache that `npm ci` filled here). Then, as that user, on plain Node
 * (no tsx there):
 *  - `import { createMemoryNetwork } from 'synack'` runs an echo;
 *  - `synack gateway --viz 0` serves the page prebuilt into dist/viz/gateway/;
 *  - `npx synack demo` prints the ladder; `--help` works; `serve --tun`
 *    without the addon says how to get it, and with it serves over TUN (as
 *    root, in a network namespace this test makes);
 *  - a TypeScript consumer type-checks with moduleResolution nodenext and
 *    bundler;
 *  - esbuild bundles synack/core and synack/net for the browser with no
 *    node: import;
 *  - headless Chromium runs the README's browser snippet (1 MiB echoed
 *    through the node:net API, checked by SHA-256 with crypto.subtle) and a
 *    pipe from one socket into another with backpressure — the same file
 *    that runs in Node here too.
 * With CI set every part must run; elsewhere the Chromium part skips when
 * /usr/bin/chromium is absent and the TUN part when not root.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { CHROMIUM, launchChromium } from '../support/chromium.ts';
import { inCi } from '../support/ci.ts';

const repo = new URL('../../', import.meta.url).pathname;
const ci = inCi();
const isRoot = process.getuid?.() === 0;
const tmp = mkdtempSync(join(tmpdir(), 'synack-pkg-'));
const app = join(tmp, 'app');
const tgz = join(tmp, 'tgz');

function sh(cmd: string, args: string[], cwd: string, timeout = 120_000) {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout, env: { ...process.env, npm_config_update_notifier: 'false' } });
  return { code: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '', error: r.error };
}
function ok(r: ReturnType<typeof sh>, what: string): string {
  assert.equal(r.code, 0, `${what} failed (${r.error?.message ?? ''}):\n${r.stdout.slice(-2000)}\n${r.stderr.slice(-2000)}`);
  return r.stdout;
}

/**
 * The empty project's lockfile: the two tarballs and, for their
 * dependencies, the very entries of synack's own lockfile (so `npm ci
 * --offline` finds every tarball in the cache that `npm ci` filled).
 */
function consumerLock(files: Record<string, string>): object {
  const rootLock = JSON.parse(readFileSync(join(repo, 'package-lock.json'), 'utf8')) as { packages: Record<string, Record<string, unknown>> };
  const manifests: Record<string, Record<string, unknown>> = {
    synack: JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')),
    'synack-tun': JSON.parse(readFileSync(join(repo, 'native/package.json'), 'utf8')),
  };
  const packages: Record<string, object> = { '': { name: 'consumer', version: '1.0.0', dependencies: Object.fromEntries(Object.entries(files).map(([n, f]) => [n, `file:${f}`])) } };
  const todo: string[] = [];
  for (const [name, m] of Object.entries(manifests)) {
    const e: Record<string, unknown> = { version: m['version'], resolved: `file:${files[name]}` };
    for (const k of ['dependencies', 'optionalDependencies', 'bin', 'os', 'engines']) if (m[k]) e[k] = m[k];
    if ((m['scripts'] as Record<string, string> | undefined)?.['install']) e['hasInstallScript'] = true;
    packages[`node_modules/${name}`] = e;
    todo.push(...Object.keys((m['dependencies'] as object | undefined) ?? {}));
  }
  while (todo.length) {
    const key = `node_modules/${todo.pop()!}`;
    if (packages[key]) continue;
    const e = rootLock.packages[key];
    assert.ok(e, `${key} is in synack's lockfile`);
    const { dev: _d, devOptional: _o, peer: _p, ...rest } = e;
    // With its tarball's URL, npm takes the tarball from the cache by
    // integrity and never asks the registry for the package's metadata.
    const name = key.slice('node_modules/'.length);
    packages[key] = { resolved: `${REGISTRY}${name}/-/${name.split('/').pop()}-${String(e['version'])}.tgz`, ...rest };
    todo.push(...Object.keys((e['dependencies'] as object | undefined) ?? {}));
  }
  return { name: 'consumer', version: '1.0.0', lockfileVersion: 3, requires: true, packages };
}

let tarballs: string[] = [];
const REGISTRY = (() => {
  const r = sh('npm', ['config', 'get', 'registry'], repo).stdout.trim() || 'https://registry.npmjs.org/';
  return r.endsWith('/') ? r : `${r}/`;
})();

before(() => {
  mkdirSync(tgz, { recursive: true });
  mkdirSync(app, { recursive: true });
  // prepack builds dist/ (tsc) first.
  ok(sh('npm', ['pack', '--workspaces', '--include-workspace-root', '--pack-destination', tgz, '--silent'], repo, 180_000), 'npm pack');
  tarballs = readdirSync(tgz).sort();
  assert.deepEqual(tarballs, ['synack-0.1.0.tgz', 'synack-tun-0.1.0.tgz']);
  const files = { synack: '../tgz/synack-0.1.0.tgz', 'synack-tun': '../tgz/synack-tun-0.1.0.tgz' };
  writeFileSync(
    join(app, 'package.json'),
    JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, type: 'module', dependencies: Object.fromEntries(Object.entries(files).map(([n, f]) => [n, `file:${f}`])), allowScripts: { 'synack-tun': true } }, null, 2),
  );
  writeFileSync(join(app, 'package-lock.json'), JSON.stringify(consumerLock(files), null, 2));
  ok(sh('npm', ['ci', '--offline', '--no-audit', '--no-fund'], app, 180_000), 'npm ci --offline in the empty project');
});

after(() => rmSync(tmp, { recursive: true, force: true }));

describe('the packed tarballs, installed offline into an empty project', { timeout: 300_000 }, () => {
  test('the synack tarball holds dist/ (JS, .d.ts, maps), platform/, bin/ and the README — no sources, no tests; synack-tun holds the addon sources', () => {
    const list = (f: string) => ok(sh('tar', ['tzf', join(tgz, f)], tmp), 'tar').split('\n').filter(Boolean);
    const files = list('synack-0.1.0.tgz');
    for (const f of ['package/dist/index.js', 'package/dist/index.d.ts', 'package/dist/index.js.map', 'package/dist/core.js', 'package/dist/net.d.ts', 'package/dist/tun.js', 'package/dist/cli/main.js', 'package/platform/browser.js', 'package/bin/synack.mjs', 'package/README.md', 'package/dist/viz/gateway/app.js', 'package/dist/viz/gateway/index.html']) {
      assert.ok(files.includes(f), `${f} is in the tarball`);
    }
    assert.deepEqual(files.filter((f) => /\.test\.|^package\/(src|test|bench|native|scripts)\//.test(f) || (f.endsWith('.ts') && !f.endsWith('.d.ts'))), []);
    const tun = list('synack-tun-0.1.0.tgz');
    for (const f of ['package/binding.gyp', 'package/src/tun.cc', 'package/build.cjs', 'package/index.cjs', 'package/index.d.ts']) assert.ok(tun.includes(f), f);
    assert.ok(!tun.some((f) => f.includes('/build/')), 'no compiled addon in the tarball: it builds at install');
  });

  test("on Node, without tsx: import { createMemoryNetwork } from 'synack' runs an echo; synack/core, synack/net, synack/tun, synack/gateway load", () => {
    assert.ok(!existsSync(join(app, 'node_modules/tsx')), 'no tsx in the project');
    writeFileSync(
      join(app, 'echo.mjs'),
      `import { createMemoryNetwork } from 'synack';
import * as core from 'synack/core';
import * as net from 'synack/net';
import * as tun from 'synack/tun';
import * as gateway from 'synack/gateway';
const lan = createMemoryNetwork();
const server = lan.host('10.0.0.2'), client = lan.host('10.0.0.1');
server.net.createServer((s) => s.pipe(s)).listen(7);
const sock = client.net.connect(7, '10.0.0.2', () => sock.end('hello'));
let got = '';
sock.on('data', (d) => (got += d)).on('close', () => {
  lan.stop();
  console.log('echo:', got, typeof core.Network, typeof net.Socket, typeof tun.TunLink, typeof gateway.createGateway, 'createMemoryNetwork' in core);
});
`,
    );
    const out = ok(sh(process.execPath, ['echo.mjs'], app), 'node echo.mjs');
    assert.equal(out.trim(), 'echo: hello function function function function false');
  });

  test('npx synack demo prints the ladder; synack --help exits 0; an unknown option exits 2', () => {
    const demo = ok(sh('npx', ['--offline', 'synack', 'demo'], app), 'npx synack demo');
    assert.match(demo, /── 3-way handshake/);
    assert.match(demo, /SYN-SENT\s+─+ SYN ─+▶ SYN-RECEIVED/);
    assert.match(demo, /client states:\s+CLOSED → SYN-SENT → ESTABLISHED → FIN-WAIT-1 → FIN-WAIT-2 → TIME-WAIT → CLOSED/);
    assert.match(ok(sh('npx', ['--offline', 'synack', '--help'], app), 'synack --help'), /^Usage: synack <command>/);
    const bad = sh('npx', ['--offline', 'synack', 'demo', '--bogus'], app);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /bogus/);
  });

  test('synack gateway --viz 0 serves its prebuilt page from the package (no esbuild installed) and prints the URL in the ready line', async () => {
    assert.ok(!existsSync(join(app, 'node_modules/esbuild')), 'no esbuild in the project');
    const p = spawn(process.execPath, [join(app, 'node_modules/.bin/synack'), 'gateway', '--qemu-socket', join(tmp, 'viz.sock'), '--viz', '0'], { cwd: app, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    const exited = new Promise<number | null>((resolve) => p.on('close', resolve));
    try {
      const end = Date.now() + 30_000;
      while (!/ready.* viz http/.test(out) && Date.now() < end && p.exitCode === null) await new Promise((r) => setTimeout(r, 50));
      const m = / viz (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
      assert.ok(m, `${out}\n${err}`);
      const js = await fetch(new URL('app.js', m[1]));
      assert.equal(js.status, 200);
      assert.equal(Buffer.from(await js.arrayBuffer()).toString(), readFileSync(join(app, 'node_modules/synack/dist/viz/gateway/app.js'), 'utf8'));
      p.kill('SIGTERM');
      assert.equal(await exited, 0, err);
    } finally {
      if (p.exitCode === null) p.kill('SIGKILL');
    }
  });

  test('the addon was built at install; without it, synack serve --tun says how to get it', () => {
    const built = join(app, 'node_modules/synack-tun/build');
    assert.ok(existsSync(join(built, 'Release/synack_tun.node')), 'node-gyp built synack-tun from its tarball');
    renameSync(built, `${built}.off`);
    try {
      const r = sh('npx', ['--offline', 'synack', 'serve', '--tun', 'tun0', '--addr', '10.9.0.2/24', '--echo', '7'], app);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(r.stderr, /synack-tun/);
      assert.match(r.stderr, /npm install synack-tun/);
    } finally {
      renameSync(`${built}.off`, built);
    }
  });

  test('as root, in a network namespace: the installed synack serve --tun answers the kernel over TUN', { skip: !isRoot && !ci ? 'needs root (CAP_NET_ADMIN) for a TUN device' : false }, async () => {
    const ns = `synack-pkg-${process.pid}`;
    const ip = (...a: string[]) => ok(sh('ip', a, tmp), `ip ${a.join(' ')}`);
    ip('netns', 'add', ns);
    try {
      ip('-n', ns, 'link', 'set', 'lo', 'up');
      ip('-n', ns, 'tuntap', 'add', 'dev', 'tun0', 'mode', 'tun');
      ip('-n', ns, 'addr', 'add', '10.9.0.1/24', 'dev', 'tun0');
      ip('-n', ns, 'link', 'set', 'tun0', 'up');
      const p = spawn('ip', ['netns', 'exec', ns, process.execPath, join(app, 'node_modules/.bin/synack'), 'serve', '--tun', 'tun0', '--addr', '10.9.0.2/24', '--http', '80'], { cwd: app, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      p.stdout.on('data', (d) => (out += d));
      p.stderr.on('data', (d) => (out += d));
      try {
        await new Promise<void>((resolve, reject) => {
          const t = setTimeout(() => reject(new Error(`synack serve did not print ready: ${out}`)), 20_000);
          p.stdout.on('data', () => /ready/.test(out) && (clearTimeout(t), resolve()));
          p.on('exit', (code) => (clearTimeout(t), reject(new Error(`synack serve exited ${code}: ${out}`))));
        });
        const r = sh('ip', ['netns', 'exec', ns, 'curl', '-s', '--max-time', '10', 'http://10.9.0.2/'], tmp);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /synack/);
      } finally {
        p.kill('SIGTERM');
        await new Promise((r) => p.once('close', r));
      }
    } finally {
      sh('ip', ['netns', 'del', ns], tmp);
    }
  });

  test('a TypeScript consumer type-checks against the published .d.ts with moduleResolution nodenext and bundler, and a wrong use is a type error', async () => {
    const checks = (['nodenext', 'bundler'] as const).map((resolution) => {
      const dir = join(app, `ts-${resolution}`);
      mkdirSync(dir, { recursive: true });
      writeFileSync(
        join(dir, 'main.ts'),
        `import { createMemoryNetwork, Network, type MemoryNetwork } from 'synack';
import { Stack, parseIpv4Addr, type TcpState } from 'synack/core';
import { Socket, createMemoryNetwork as cmn } from 'synack/net';
import { TunLink, tunAvailable } from 'synack/tun';
const lan: MemoryNetwork = createMemoryNetwork({ seed: 1 });
const host = lan.host('10.0.0.1');
const sock: Socket = host.net.connect(7, '10.0.0.2');
const ok: boolean = sock.write(new Uint8Array(4));
const state: TcpState = 'ESTABLISHED';
const stack: Stack = host.stack;
const n = new Network({ seed: 2 });
const a: number | null = parseIpv4Addr('10.0.0.1');
void [ok, state, stack, n, a, cmn, TunLink, tunAvailable()];
// @ts-expect-error: hosts is a Map, not a number — the types are real, not any
const wrong: number = lan.hosts;
void wrong;
`,
      );
      const module = resolution === 'nodenext' ? 'nodenext' : 'esnext';
      // nodenext also checks the published .d.ts files themselves (skipLibCheck off).
      writeFileSync(
        join(dir, 'tsconfig.json'),
        JSON.stringify({ compilerOptions: { strict: true, noEmit: true, module, moduleResolution: resolution, target: 'es2022', lib: ['es2022', 'dom'], types: ['node'], typeRoots: [join(repo, 'node_modules/@types')], skipLibCheck: resolution === 'bundler' }, files: ['main.ts'] }),
      );
      if (resolution === 'nodenext') writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
      return new Promise<[string, number | null, string]>((resolve) => {
        const p = spawn(process.execPath, [join(repo, 'node_modules/typescript/bin/tsc'), '-p', dir], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        p.stdout.on('data', (d) => (out += d));
        p.stderr.on('data', (d) => (out += d));
        p.on('close', (code) => resolve([resolution, code, out]));
      });
    });
    for (const [resolution, code, out] of await Promise.all(checks)) assert.equal(code, 0, `tsc with moduleResolution ${resolution}:\n${out}`);
  });

  test('esbuild bundles synack/core and synack/net for the browser with no node: import', async () => {
    for (const entry of ['synack/core', 'synack/net']) {
      const r = await build({ stdin: { contents: `export * from '${entry}';`, resolveDir: app, loader: 'js' }, bundle: true, platform: 'browser', format: 'esm', write: false, metafile: true, logLevel: 'silent' });
      const text = r.outputFiles[0]!.text;
      assert.doesNotMatch(text, /["']node:/, `${entry}: no node: import in the bundle`);
      const inputs = Object.keys(r.metafile.inputs);
      assert.ok(inputs.some((i) => i.includes('node_modules/synack/dist/')), `${entry} came from the installed package`);
      if (entry === 'synack/net') {
        for (const pkg of ['readable-stream', 'events', 'buffer']) assert.ok(inputs.some((i) => i.includes(`node_modules/${pkg}/`)), `synack/net in a browser uses the ${pkg} package`);
        assert.ok(inputs.some((i) => i.endsWith('synack/platform/browser.js')));
      } else {
        assert.ok(!inputs.some((i) => i.includes('readable-stream') || i.includes('/platform/')), 'the core needs no stream polyfill');
      }
    }
  });

  test('the same pipe-with-backpressure file runs in Node on node:stream', () => {
    copyFileSync(join(repo, 'test/pkg/fixtures/pipe.mjs'), join(app, 'pipe.mjs'));
    const out = ok(sh(process.execPath, ['pipe.mjs'], app), 'node pipe.mjs');
    assert.equal(out.trim(), 'core: ESTABLISHED at 10000 µs; pipe: 1048576 bytes, SHA-256 matches, write() false yes, source paused yes, drained yes');
  });

  test(
    "in headless Chromium: the README's browser snippet echoes 1 MiB (SHA-256 by crypto.subtle) and a socket pipes into another with backpressure",
    { skip: !existsSync(CHROMIUM) && !ci ? `${CHROMIUM} is not installed` : false },
    async () => {
      const readme = readFileSync(join(repo, 'README.md'), 'utf8');
      const section = readme.split(/^## /m).find((s) => s.startsWith('Use it in a browser'));
      assert.ok(section, 'README has a "Use it in a browser" section');
      const snippet = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
      assert.ok(snippet && snippet.includes("from 'synack/net'"), 'its snippet imports synack/net');
      const web = join(app, 'web');
      mkdirSync(web, { recursive: true });
      writeFileSync(join(app, 'readme-snippet.ts'), snippet);
      copyFileSync(join(repo, 'test/pkg/fixtures/pipe.mjs'), join(app, 'pipe.mjs'));
      const r = await build({ entryPoints: { readme: join(app, 'readme-snippet.ts'), pipe: join(app, 'pipe.mjs') }, bundle: true, platform: 'browser', format: 'esm', outdir: web, absWorkingDir: app, logLevel: 'silent', metafile: true });
      for (const f of Object.keys(r.metafile.outputs)) assert.doesNotMatch(readFileSync(join(app, f), 'utf8'), /["']node:/, `${f}: no node: import`);
      writeFileSync(join(web, 'index.html'), '<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><title>synack</title><script type="module" src="readme.js"></script><script type="module" src="pipe.js"></script>');
      const server: Server = createServer((req, res) => {
        const name = (req.url ?? '/') === '/' ? 'index.html' : (req.url ?? '').slice(1);
        if (!/^[\w.-]+$/.test(name) || !existsSync(join(web, name))) return void res.writeHead(404).end();
        res.writeHead(200, { 'content-type': name.endsWith('.js') ? 'text/javascript' : 'text/html' }).end(readFileSync(join(web, name)));
      });
      await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
      const profile = mkdtempSync(join(tmpdir(), 'synack-pkg-chromium-'));
      const ctx = await launchChromium(profile);
      try {
        const page = ctx.pages()[0] ?? (await ctx.newPage());
        const errors: string[] = [];
        const logs: string[] = [];
        page.on('pageerror', (e) => errors.push(e.message));
        page.on('console', (m) => (m.type() === 'error' ? errors.push(m.text()) : logs.push(m.text())));
        const addr = server.address() as { port: number };
        await page.goto(`http://127.0.0.1:${addr.port}/`);
        await page.waitForFunction(() => (globalThis as { __pipeResult?: string }).__pipeResult !== undefined && document.readyState === 'complete', null, { timeout: 60_000 });
        for (let i = 0; i < 600 && !logs.some((l) => l.startsWith('echoed')) && errors.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
        assert.deepEqual(errors, [], 'no errors in the page');
        assert.ok(logs.includes('echoed 1048576 bytes, SHA-256 matches'), `the README snippet's output: ${logs.join(' | ')}`);
        assert.ok(logs.includes('core: ESTABLISHED at 10000 µs; pipe: 1048576 bytes, SHA-256 matches, write() false yes, source paused yes, drained yes'), logs.join(' | '));
      } finally {
        await ctx.close().catch(() => {});
        server.close();
        rmSync(profile, { recursive: true, force: true });
      }
    },
  );
});
