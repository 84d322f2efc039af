/**
 * The guests' shared checks without a boot (test/support/guest-checks.ts):
 * the step lines parse back, and every networked step of the script is
 * bounded by busybox `timeout` so a failure cannot hang a boot.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSteps, startGuestChecks } from './guest-checks.ts';

test('parseSteps: each STEP line closes the output since the previous one, with its exit status', () => {
  const steps = parseSteps(['abc  /tmp/page', 'STEP fetch rc=0', 'nc: can\'t connect to remote host (10.0.2.2): Connection refused', 'STEP refused rc=1', 'trailing'].join('\n'));
  assert.deepEqual(steps, {
    fetch: { output: 'abc  /tmp/page', rc: 0 },
    refused: { output: "nc: can't connect to remote host (10.0.2.2): Connection refused", rc: 1 },
  });
});

test('the guest script: six steps, each networked command under busybox timeout, aimed at 10.0.2.2 / 10.0.2.3 only; the gateway is given the loopback zone server', async () => {
  const c = await startGuestChecks({ pageSize: 10, seed: 1 });
  try {
    const lines = c.script.split('\n');
    assert.deepEqual(lines.map((l) => /step (\w+) \$\?$/.exec(l)?.[1]).filter(Boolean), ['fetch', 'dns', 'nxdomain', 'udp', 'refused', 'halfclose']);
    for (const l of lines.filter((l) => /\b(wget|nslookup|nc) /.test(l))) assert.match(l, /\btimeout \d+ (wget|nslookup|nc) /, l);
    assert.deepEqual(c.script.match(/\b\d+\.\d+\.\d+\.\d+\b/g)!.filter((a) => a !== '10.0.2.2' && a !== '10.0.2.3'), []);
    assert.deepEqual(c.gatewayArgs, ['--dns-upstream', `127.0.0.1:${c.dns.port}`]);
  } finally {
    await c.close();
  }
});
