/**
 * A real VM online through `synack gateway --qemu-socket` (issue 15, "Real
 * clients in the tests", client 2): the guest — a Debian kernel with a
 * busybox initramfs built from Debian packages (test/support/guest-image.ts)
 * — runs in QEMU (TCG) networked only by `-netdev
 * stream,server=off,addr.type=unix` to the gateway, spawned as a process by
 * its CLI. Its /init's udhcpc gets 10.0.2.100, router 10.0.2.2, DNS
 * 10.0.2.3 and the MTU from the gateway's DHCP server; then, in the same
 * boot (test/support/guest-checks.ts), busybox in the guest
 *   - fetches a page from a node:http server on the host's 127.0.0.1 through
 *     10.0.2.2 (wget; its SHA-256 checked),
 *   - resolves www.example.test with the resolv.conf the lease wrote: UDP to
 *     the gateway's forwarder at 10.0.2.3, relayed to a zone server on the
 *     host's loopback given as --dns-upstream (never a real resolver), and
 *     gets NXDOMAIN for nx.example.test,
 *   - resolves it again over UDP to 10.0.2.2:PORT, the zone server's own
 *     port: a UDP round trip through the gateway's ordinary UDP forwarding,
 *   - connects to a closed host port through 10.0.2.2 and is refused (the
 *     host's ECONNREFUSED carried as a RST),
 *   - sends 23 893 bytes to a host server with nc, half-closes, and reads the
 *     server's answer, written only after it saw the guest's EOF, then EOF.
 * Loopback traffic only.
 *
 * ONE boot (one test) to keep CI time down; the image is built once per run
 * and cached outside git. In CI (any non-empty CI) the test must run —
 * .ci/run installs qemu-system-x86; elsewhere it skips when QEMU is absent.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inCi } from '../support/ci.ts';
import { guestImage, type GuestImage } from '../support/guest-image.ts';
import { bootQemu, type QemuBootOptions, type QemuRun } from '../support/qemu.ts';
import { withBootLock } from '../support/boot-lock.ts';
import { startGatewayCli } from '../support/gateway-cli.ts';
import { assertGuestChecks, startGuestChecks } from '../support/guest-checks.ts';

const hasQemu = spawnSync('qemu-system-x86_64', ['--version'], { stdio: 'ignore' }).status === 0;
const skip = !hasQemu && !inCi() ? 'qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)' : false;
const log = (s: string) => process.env['SYNACK_GUEST_LOG'] && console.error(s);

let image: GuestImage | undefined;
/** Builds (once) and boots the x86_64 guest, one guest on the machine at a time. */
function boot(o: Omit<QemuBootOptions, 'image'>): Promise<QemuRun> {
  return withBootLock(async () => {
    if (!image) {
      image = guestImage({ arch: 'x86_64', log: (l) => console.error(l) });
      console.error(`guest x86_64 ${image.built ? 'built' : 'from the cache'} in ${image.ms} ms (${image.dir})`);
    }
    return bootQemu({ image, ...o });
  });
}

test('QEMU -netdev stream to synack gateway --qemu-socket: the Debian guest gets 10.0.2.100 by DHCP, fetches a page from the host through 10.0.2.2 (SHA-256), resolves a name and an NXDOMAIN through 10.0.2.3 and a name over UDP to a host port through 10.0.2.2, is refused by a closed host port (RST) and half-closes a connection and still reads the answer', { skip, timeout: 600_000 }, async () => {
  const checks = await startGuestChecks({ pageSize: 100_000, seed: 0x2545f491 });
  const dir = mkdtempSync(join(tmpdir(), 'synack-qemu-gw-'));
  const path = join(dir, 'vm.sock');
  let gw: Awaited<ReturnType<typeof startGatewayCli>> | undefined;
  try {
    gw = await startGatewayCli(['--qemu-socket', path, ...checks.gatewayArgs, '--stats']);
    const run = await boot({
      netdev: `stream,id=n0,server=off,addr.type=unix,addr.path=${path}`,
      run: checks.script,
      onLine: (l, ms) => log(`${(ms / 1000).toFixed(1)} ${l}`),
    });
    console.error(`qemu via synack gateway: /init at ${run.initMs} ms, lease at ${run.leaseMs} ms, exit at ${run.ms} ms`);
    const context = () => `${run.text}\n${run.stderr}\n--- gateway:\n${gw!.output()}`;
    assert.equal(run.timedOut, false, `QEMU timed out:\n${context()}`);
    assert.deepEqual(run.insmodFailures, []);
    assert.ok(run.lease, `a lease:\n${context()}`);
    assert.deepEqual(run.lease, { ip: '10.0.2.100', mask: '24', router: '10.0.2.2', dns: '10.0.2.3', mtu: '1500' });
    assert.equal(run.exit, 0, context());
    assertGuestChecks(run.output, checks, context);
    assert.equal(run.code, 0, 'QEMU exited after the guest powered off');
    const st = await gw.stop();
    assert.equal(st.code, 0, gw.output());
    assert.equal(st.stats.dhcp.acks, 1);
    assert.equal(st.stats.tcp.opened, 2, 'the page and the half-closed connection');
    assert.equal(st.stats.tcp.refused, 1);
    assert.ok(st.stats.dns.queries >= 4 && st.stats.dns.answers === st.stats.dns.queries, JSON.stringify(st.stats.dns));
    assert.ok(st.stats.udp.flows >= 1 && st.stats.udp.datagramsUp >= 2 && st.stats.udp.datagramsDown >= 2, JSON.stringify(st.stats.udp));
  } finally {
    gw?.kill();
    await checks.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
