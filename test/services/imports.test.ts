/**
 * services/ sits above stack/ in the layer table; the engines import only
 * base/ and wire/ (sans I/O), and only the runners that bind them to a
 * stack (udp-service.ts, dhcp-host.ts, arp-probe.ts, ping.ts) reach into
 * stack/ and udp/.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';

const RUNNERS = new Set(['udp-service.ts', 'dhcp-host.ts', 'arp-probe.ts', 'ping.ts']);

test('services/ engines import only base/, wire/ and their own files; the runners also stack/ and udp/', () => {
  const dir = new URL('../../src/services/', import.meta.url).pathname;
  const bad: string[] = [];
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.ts'))) {
    for (const m of readFileSync(dir + f, 'utf8').matchAll(/from\s+'([^']+)'/g)) {
      const ok = RUNNERS.has(f) ? /^\.\.\/(base|wire|stack|udp)\/|^\.\/[\w-]+\.ts$/ : /^\.\.\/(base|wire)\/|^\.\/[\w-]+\.ts$/;
      if (!ok.test(m[1]!)) bad.push(`${f}: ${m[1]}`);
    }
  }
  assert.deepEqual(bad, []);
});
