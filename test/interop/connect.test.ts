/**
 * synack as the client of Linux's TCP: `synack connect` (nc-like) to kernel
 * servers — 50 MB echo compared by SHA-256 with synack half-closing first,
 * a kernel server that sends and closes first, refusal and a reset — and
 * `synack get` from a kernel HTTP server.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Netns, skipUnlessReady } from './helpers.ts';

const skip = skipUnlessReady();

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

describe('interop: synack connect/get → kernel servers', { skip, timeout: 180_000 }, () => {
  const ns = new Netns({ tag: 'connect', subnet: 2 });
  const K = ns.kernelAddr;

  before(() => ns.setup());
  after(() => ns.cleanup());

  it('connect → kernel echo server: 50 MB, EOF on stdin half-closes, the echo comes back whole, exit 0', async () => {
    const server = await ns.peerServer(['serve-echo', '7007']);
    const data = randomBytes(50_000_000);
    const c = ns.synack('connect', [`${K}:7007`], { stdin: true, timeoutMs: 90_000 });
    c.child.stdin!.on('error', () => {});
    c.input(data);
    const code = await c.exited;
    assert.equal(code, 0, c.stderr());
    const got = Buffer.from(c.stdout(), 'latin1');
    assert.equal(got.length, data.length);
    assert.equal(sha(got), sha(data));
    await server.exited;
    const r = JSON.parse(server.stdout().trim().split('\n').pop()!) as Record<string, unknown>;
    assert.equal(r['received_sha'], sha(data));
  });

  it('connect ← kernel server that sends 20 MB and closes first: all bytes, exit 0', async () => {
    const server = await ns.peerServer(['serve-send', '7008', String(20_000_000)]);
    const c = ns.synack('connect', [`${K}:7008`], { stdin: true, timeoutMs: 60_000 });
    // stdin stays open: the peer's FIN alone ends the session.
    const code = await c.exited;
    assert.equal(code, 0, c.stderr());
    await server.exited;
    const r = JSON.parse(server.stdout().trim().split('\n').pop()!) as Record<string, unknown>;
    const got = Buffer.from(c.stdout(), 'latin1');
    assert.equal(got.length, 20_000_000);
    assert.equal(sha(got), r['sent_sha']);
  });

  it('connect to a closed port: exit 1, "refused"', async () => {
    const c = ns.synack('connect', [`${K}:7999`], { stdin: true, timeoutMs: 30_000 });
    assert.equal(await c.exited, 1);
    assert.match(c.stderr(), /refused \(ECONNREFUSED\)/);
  });

  it('connect, and the kernel server is killed mid-transfer: exit 1 with ECONNRESET (or a clean close)', async () => {
    const server = ns.spawn(['python3', '-c', `import socket,time\nl=socket.socket();l.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1);l.bind(('0.0.0.0',7010));l.listen(1)\nprint('"listening"',flush=True)\nc,_=l.accept()\nc.sendall(b'x'*100000)\nprint('sent',flush=True)\ntime.sleep(30)`], { timeoutMs: 40_000 });
    await server.waitFor(/listening/);
    const c = ns.synack('connect', [`${K}:7010`], { stdin: true, timeoutMs: 30_000 });
    c.child.stdin!.on('error', () => {});
    await server.waitFor(/sent/);
    // Unread bytes from synack wait in the server's socket: killing it makes the kernel send RST.
    c.child.stdin!.write(Buffer.alloc(1000, 1));
    await new Promise((r) => setTimeout(r, 300));
    server.kill('SIGKILL');
    const code = await c.exited;
    if (code !== 0) assert.match(c.stderr(), /ECONNRESET/);
    assert.ok(c.stdout().length >= 100_000 || code !== 0);
  });

  it('get → kernel HTTP server (python3 -m http.server): body byte-exact', async () => {
    const dir = ns.exec(['mktemp', '-d']).trim();
    const file = randomBytes(5_000_000);
    // The namespace shares the filesystem: write the file from here.
    const { writeFileSync, rmSync } = await import('node:fs');
    writeFileSync(`${dir}/blob`, file);
    const http = ns.spawn(['python3', '-u', '-m', 'http.server', '--bind', K, '--directory', dir, '8000'], { timeoutMs: 60_000 });
    try {
      await http.waitFor(/Serving HTTP/, 15_000);
      const g = ns.synack('get', ['--log-states', `http://${K}:8000/blob`], { timeoutMs: 60_000 });
      assert.equal(await g.exited, 0, g.stderr());
      // Over synack, not a kernel socket: synack's own connection went through the handshake.
      assert.match(g.stderr(), new RegExp(`state ${ns.synackAddr}:\\d+ ${K}:8000 SYN-SENT -> ESTABLISHED`));
      const got = Buffer.from(g.stdout(), 'latin1');
      assert.equal(got.length, file.length);
      assert.equal(sha(got), sha(file));
      const missing = ns.synack('get', [`http://${K}:8000/missing`], { timeoutMs: 30_000 });
      assert.equal(await missing.exited, 1);
      assert.match(missing.stderr(), /HTTP 404/);
    } finally {
      http.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
