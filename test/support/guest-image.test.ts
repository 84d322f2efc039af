/**
 * The pieces of the guest builder that need no boot (test/support/guest-image.ts):
 * the initramfs archive is read back by GNU cpio (the judge of the "newc"
 * format), module dependencies come from `.modinfo`, and console markers
 * parse. (The stream framing the guests speak is src/links/stream-framing.ts,
 * tested in test/gateway/stream-framing.test.ts.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { inCi } from './ci.ts';
import { cpioNewc, guestCmdline, moduleDepends, parseTranscript } from './guest-image.ts';

const hasCpio = spawnSync('cpio', ['--version'], { stdio: 'ignore' }).status === 0;

test('cpioNewc: GNU cpio lists the directories, the console device node and the files with their sizes and modes', { skip: !hasCpio && !inCi() ? 'cpio is not installed (apt-get install cpio)' : false }, () => {
  const archive = cpioNewc([
    { name: 'bin', mode: 0o040755 },
    { name: 'dev', mode: 0o040755 },
    { name: 'dev/console', mode: 0o020600, rdev: [5, 1] },
    { name: 'init', mode: 0o100755, data: Buffer.from('#!/bin/sh\necho hi\n') },
    { name: 'bin/odd', mode: 0o100644, data: Buffer.alloc(5, 0x61) },
  ]);
  assert.equal(archive.length % 4, 0);
  const r = spawnSync('cpio', ['-itv', '--quiet'], { input: archive, encoding: 'utf8', env: { ...process.env, LC_ALL: 'C', TZ: 'UTC' } });
  assert.equal(r.status, 0, r.stderr);
  const rows = r.stdout.trim().split('\n').map((l) => l.split(/\s+/));
  assert.deepEqual(rows.map((c) => [c[0], c.at(-1)]), [
    ['drwxr-xr-x', 'bin'],
    ['drwxr-xr-x', 'dev'],
    ['crw-------', 'dev/console'],
    ['-rwxr-xr-x', 'init'],
    ['-rw-r--r--', 'bin/odd'],
  ]);
  assert.match(r.stdout, /5,\s+1 .* dev\/console/);
  const x = spawnSync('cpio', ['-i', '--quiet', '--to-stdout', 'bin/odd'], { input: archive });
  assert.equal(x.stdout.toString(), 'aaaaa');
});

test('moduleDepends reads depends= from a module\'s .modinfo strings (empty when it has none)', () => {
  const ko = Buffer.from('\x7fELF....\0license=GPL\0depends=virtio,virtio_ring,net_failover\0retpoline=Y\0name=virtio_net\0');
  assert.deepEqual(moduleDepends(ko), ['virtio', 'virtio_ring', 'net_failover']);
  assert.deepEqual(moduleDepends(Buffer.from('\0license=GPL\0depends=\0name=failover\0')), []);
  assert.deepEqual(moduleDepends(Buffer.from('\0name=x\0')), []);
});

test('guestCmdline carries the command base64-encoded; parseTranscript reads lease, output and exit status', () => {
  const cmd = 'wget -q -O - "http://10.0.2.2:8080/a b" | sha256sum';
  const line = guestCmdline({ console: 'ttyS0', run: cmd, dhcp: false });
  assert.match(line, /^console=ttyS0 quiet panic=-1 rdinit=\/init synack_dhcp=0 synack_run=\S+$/);
  assert.equal(Buffer.from(line.split('synack_run=')[1]!, 'base64').toString(), cmd);
  const t = parseTranscript(
    'SeaBIOS\r\nSYNACK-GUEST: init x86_64 6.1\r\nSYNACK-GUEST: link 52:54:00:12:34:56\r\n' +
      'SYNACK-GUEST: lease ip=10.0.2.15 mask=24 router=10.0.2.2 dns=10.0.2.3 mtu=1500\r\nSYNACK-GUEST: run\r\nabc  -\r\nline 2\r\nSYNACK-GUEST: exit 3\r\n[ 4.1] reboot: Power down\r\n',
  );
  assert.deepEqual(t.lease, { ip: '10.0.2.15', mask: '24', router: '10.0.2.2', dns: '10.0.2.3', mtu: '1500' });
  assert.equal(t.output, 'abc  -\nline 2');
  assert.equal(t.exit, 3);
  assert.equal(t.dhcpFailed, false);
  assert.deepEqual(parseTranscript('SYNACK-GUEST: dhcp-failed\nSYNACK-GUEST: insmod e1000 failed\n'), {
    text: 'SYNACK-GUEST: dhcp-failed\nSYNACK-GUEST: insmod e1000 failed\n', dhcpFailed: true, output: '', insmodFailures: ['insmod e1000 failed'],
  });
});
