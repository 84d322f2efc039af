/**
 * Linux's TCP as the client of `synack serve` on a TUN device: curl → HTTP,
 * 50 MB echo compared by SHA-256 in both half-close orders, daytime's
 * active close through FIN-WAIT-1/FIN-WAIT-2/TIME-WAIT, ping, 200
 * concurrent connections, and a kernel peer killed mid-transfer.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Netns, ready, skipUnlessReady, type Proc } from './helpers.ts';

const skip = skipUnlessReady(['curl', 'ping']);

describe('interop: kernel clients → synack serve', { skip, timeout: 180_000 }, () => {
  const ns = new Netns({ tag: 'serve', subnet: 1 });
  let serve: Proc;
  const S = ns.synackAddr;

  before(async () => {
    ns.setup();
    serve = ns.synack('serve', ['--echo', '7', '--discard', '9', '--daytime', '13', '--chargen', '19', '--http', '80', '--log-states'], { timeoutMs: 170_000 });
    await ready(serve);
  });

  after(async () => {
    serve?.kill('SIGTERM');
    await ns.cleanup();
  });

  it('curl GET / and GET /bytes/N (byte-exact)', async () => {
    const body = ns.exec(['curl', '-sS', '--max-time', '20', `http://${S}/`]);
    assert.match(body, /hello from synack/);
    const n = 3_000_000;
    const out = ns.exec(['sh', '-c', `curl -sS --max-time 30 http://${S}/bytes/${n} | sha256sum`]);
    const want = createHash('sha256')
      .update(Buffer.from(Array.from({ length: n }, (_, i) => i & 0xff)))
      .digest('hex');
    assert.equal(out.split(' ')[0], want);
    const code = ns.exec(['curl', '-sS', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '20', `http://${S}/nope`]);
    assert.equal(code, '404');
  });

  for (const order of ['early', 'late'] as const) {
    it(`echo: 50 MB from a kernel client, SHA-256 equal (client shuts down writing ${order === 'early' ? 'right after sending' : 'after every byte came back'})`, async () => {
      const r = await ns.peer(['echo-client', S, '7', String(50_000_000), order]);
      assert.equal(r['received'], 50_000_000);
      assert.equal(r['received_sha'], r['sent_sha']);
      assert.equal(r['eof'], true, 'the echo server closed after echoing everything');
    });
  }

  it('discard: 20 MB from a kernel client, then a clean close', async () => {
    const r = await ns.peer(['send', S, '9', String(20_000_000)]);
    assert.equal(r['received'], 0);
  });

  it('daytime: synack closes actively through FIN-WAIT-1, FIN-WAIT-2 (or CLOSING) and TIME-WAIT', async () => {
    const r = await ns.peer(['recv', S, '13']);
    assert.ok((r['received'] as number) > 10, 'one line of time');
    // Find this connection's transitions in the --log-states output.
    const m = await serve.waitFor(/state \S+:13 (\S+) FIN-WAIT-\d -> TIME-WAIT/);
    const peer = m[1]!;
    const log = serve
      .stdout()
      .split('\n')
      .filter((l) => l.startsWith(`state ${S}:13 ${peer} `))
      .map((l) => l.replace(/^state \S+ \S+ /, '').replace(/ \(.*\)$/, ''));
    assert.ok(log.includes('ESTABLISHED -> FIN-WAIT-1'), log.join('\n'));
    assert.ok(log.includes('FIN-WAIT-1 -> FIN-WAIT-2') || log.includes('FIN-WAIT-1 -> CLOSING'), log.join('\n'));
    assert.ok(log.includes('FIN-WAIT-2 -> TIME-WAIT') || log.includes('CLOSING -> TIME-WAIT'), log.join('\n'));
  });

  it('ping: the stack answers ICMP echo', () => {
    const out = ns.exec(['ping', '-c', '3', '-i', '0.2', '-W', '2', '-s', '1000', S]);
    assert.match(out, /3 packets transmitted, 3 received/);
  });

  it('200 concurrent connections at once', async () => {
    const r = await ns.peer(['many', S, '7', '200']);
    assert.deepEqual(r['errors'], []);
    assert.equal(r['ok'], 200);
  });

  it('a kernel peer killed mid-transfer: ECONNRESET (or a clean close), and the server keeps serving', async () => {
    const reader = ns.spawn(['python3', '-c', `import socket,time\ns=socket.create_connection(('${S}',19))\ns.recv(100000)\nprint('reading',flush=True)\ntime.sleep(30)`], { timeoutMs: 40_000 });
    await reader.waitFor(/reading/);
    reader.kill('SIGKILL');
    await reader.exited;
    // The kernel resets the connection (unread data was queued): synack's chargen sees ECONNRESET.
    await serve.waitFor(/chargen \S+: (ECONNRESET|.*closed)/, 10_000);
    const body = ns.exec(['curl', '-sS', '--max-time', '20', `http://${S}/`]);
    assert.match(body, /hello from synack/);
    const r = await ns.peer(['echo-client', S, '7', '100000', 'early']);
    assert.equal(r['received_sha'], r['sent_sha']);
  });

  it('SIGTERM stops the server gracefully (exit 0)', async () => {
    serve.kill('SIGTERM');
    assert.equal(await serve.exited, 0);
    assert.match(serve.stderr(), /stopped \(/);
  });
});
