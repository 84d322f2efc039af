/**
 * The transfers again over an impaired path: the TUN link's impairment
 * stage (loss 5%, delay 20 ms, reordering, duplication, in both directions
 * between the device and the stack; this kernel has no netem) with the
 * kernel as sender and as receiver — byte-exact.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Netns, ready, skipUnlessReady, type Proc } from './helpers.ts';

const skip = skipUnlessReady(['curl']);
const IMPAIR = ['--loss', '0.05', '--delay', '20', '--jitter', '2', '--reorder', '0.05', '--duplicate', '0.05', '--seed', '7'];
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

describe('interop over an impaired path (loss 5%, delay 20 ms, reordering, duplication)', { skip, timeout: 240_000 }, () => {
  const ns = new Netns({ tag: 'impair', subnet: 3 });
  let serve: Proc;
  const S = ns.synackAddr;
  const K = ns.kernelAddr;

  before(async () => {
    ns.setup();
    serve = ns.synack('serve', ['--echo', '7', '--http', '80', ...IMPAIR], { timeoutMs: 230_000 });
    await ready(serve);
  });

  after(async () => {
    serve?.kill('SIGTERM');
    await ns.cleanup();
  });

  it('kernel → synack echo → kernel: 1 MB, SHA-256 equal', async () => {
    const r = await ns.peer(['echo-client', S, '7', String(1_000_000), 'early'], 120_000);
    assert.equal(r['received'], 1_000_000);
    assert.equal(r['received_sha'], r['sent_sha']);
  });

  it('synack → kernel (curl GET /bytes/1000000): byte-exact', () => {
    const n = 1_000_000;
    const out = ns.exec(['sh', '-c', `curl -sS --max-time 100 http://${S}/bytes/${n} | sha256sum`], 110_000);
    const want = sha(Buffer.from(Array.from({ length: n }, (_, i) => i & 0xff)));
    assert.equal(out.split(' ')[0], want);
  });

  it('synack connect → kernel echo server, impaired on the client side too: 500 kB byte-exact', async () => {
    const server = await ns.peerServer(['serve-echo', '7007']);
    const data = randomBytes(500_000);
    // The serve process holds tun0; this client uses its own namespace's second device.
    ns.exec(['ip', 'tuntap', 'add', 'dev', 'tun1', 'mode', 'tun']);
    ns.exec(['ip', 'addr', 'add', '10.213.4.1/24', 'dev', 'tun1']);
    ns.exec(['ip', 'link', 'set', 'tun1', 'up']);
    const c = ns.spawn(
      [process.execPath, '--import', 'tsx', 'src/cli/main.ts', 'connect', '--tun', 'tun1', '--addr', '10.213.4.2/24', ...IMPAIR, `10.213.4.1:7007`],
      { stdin: true, timeoutMs: 120_000 },
    );
    c.child.stdin!.on('error', () => {});
    c.input(data);
    assert.equal(await c.exited, 0, c.stderr());
    const got = Buffer.from(c.stdout(), 'latin1');
    assert.equal(got.length, data.length);
    assert.equal(sha(got), sha(data));
    await server.exited;
    void K;
  });

  it('the impairment stage did lose, duplicate and reorder packets, and synack retransmitted', async () => {
    serve.kill('SIGTERM');
    assert.equal(await serve.exited, 0);
    const err = serve.stderr();
    const m = /(\d+) retransmits/.exec(err);
    assert.ok(m && Number(m[1]) > 0, err);
    const im = /to the stack: (\d+) lost, (\d+) duplicated, (\d+) reordered.*to the device: (\d+) lost, (\d+) duplicated, (\d+) reordered/.exec(err);
    assert.ok(im, err);
    for (let i = 1; i <= 6; i++) assert.ok(Number(im[i]) > 0, err);
  });
});
