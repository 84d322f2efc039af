/**
 * Every failing input the fuzzer found, minimized, as a fixture in
 * fixtures/: replayed on the same target (seed, checksum mode), it must
 * raise no exception and break no invariant. A fixture whose core bug is
 * still open carries `todo` (the test is then reported as TODO).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { replayInputs, type Input } from '../../src/fuzz/fuzzer.ts';

interface Fixture {
  kind: string;
  message: string;
  seed: number;
  checksums: boolean;
  inputs: Input[];
  todo?: string;
}

const dir = new URL('./fixtures/', import.meta.url);
const names = readdirSync(dir).filter((n) => n.endsWith('.json')).sort();

for (const name of names) {
  const f = JSON.parse(readFileSync(new URL(name, dir), 'utf8')) as Fixture;
  test(`fuzz regression ${name}: ${f.kind} — ${f.message}`, f.todo ? { todo: f.todo } : {}, () => {
    const r = replayInputs(f.seed, f.checksums, f.inputs);
    assert.equal(r ? `${r.kind}: ${r.message.split('\n')[0]}` : 'ok', 'ok');
  });
}

test('fuzz regressions: the replay catches a failure (the harness can fail)', () => {
  // A packet that is no packet must not throw; an invalid hex input is the harness's own error.
  assert.equal(replayInputs(1, false, [{ p: '' }, { p: '45' }, { t: 1000 }, { r: 1 }]), null);
});
