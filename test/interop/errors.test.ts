/**
 * Bad devices and clear errors: a busy device, a device that vanishes under
 * a running server, a device that is not a TUN device, bad link options —
 * each a message and a non-zero exit, never a hang.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Netns, ready, skipUnlessReady } from './helpers.ts';

const skip = skipUnlessReady();

describe('interop: device errors', { skip, timeout: 90_000 }, () => {
  const ns = new Netns({ tag: 'errors', subnet: 7 });
  before(() => ns.setup());
  after(() => ns.cleanup());

  it('a second process on the same device: "busy", exit 1', async () => {
    const first = ns.synack('serve', ['--echo', '7'], { timeoutMs: 30_000 });
    await ready(first);
    const second = ns.synack('serve', ['--echo', '7'], { timeoutMs: 30_000 });
    assert.equal(await second.exited, 1);
    assert.match(second.stderr(), /tun0 is busy: another process has it open/);
    first.kill('SIGTERM');
    assert.equal(await first.exited, 0);
  });

  it('the device is deleted under a running server: a message and exit 1', async () => {
    ns.exec(['ip', 'tuntap', 'add', 'dev', 'tun9', 'mode', 'tun']);
    const p = ns.spawn([process.execPath, '--import', 'tsx', 'src/cli/main.ts', 'serve', '--tun', 'tun9', '--addr', '10.213.9.2/24', '--echo', '7'], { timeoutMs: 30_000 });
    await ready(p);
    ns.exec(['ip', 'link', 'del', 'tun9']);
    assert.equal(await p.exited, 1);
    assert.match(p.stderr(), /TUN device tun9 went away/);
  });

  it('a device that is not a TUN device (lo): a clear message, exit 1', async () => {
    const p = ns.spawn([process.execPath, '--import', 'tsx', 'src/cli/main.ts', 'serve', '--tun', 'lo', '--addr', '10.213.9.2/24', '--echo', '7'], { timeoutMs: 30_000 });
    assert.equal(await p.exited, 1);
    assert.match(p.stderr(), /lo is not a single-queue TUN device/);
  });

  it('bad link options: usage errors, exit 2', async () => {
    for (const args of [
      ['serve', '--tun', 'tun0', '--echo', '7'],
      ['serve', '--tun', 'tun0', '--addr', '10.1.2/24', '--echo', '7'],
      ['serve', '--tun', 'tun0', '--addr', '10.1.2.3/24'],
      ['serve', '--tun', 'tun0', '--addr', '10.1.2.3/24', '--echo', '7', '--mtu', '70000'],
      ['connect', '--tun', 'tun0', '--addr', '10.1.2.3/24', 'nohost'],
      ['get', '--tun', 'tun0', '--addr', '10.1.2.3/24', 'https://10.1.2.1/'],
    ]) {
      const p = ns.spawn([process.execPath, '--import', 'tsx', 'src/cli/main.ts', ...args], { timeoutMs: 20_000 });
      assert.equal(await p.exited, 2, `${args.join(' ')}: ${p.stderr()}`);
      assert.match(p.stderr(), /Run 'synack \w+ --help'/);
    }
  });
});
