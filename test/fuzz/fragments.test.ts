/**
 * The fragment fuzzer (src/fuzz/fragments.ts) on fixed seeds: TCP data of
 * IPv4 and IPv6 peers in shuffled, lost, forged-overlapping fragments among
 * junk from many sources. Every byte delivered must be the byte sent,
 * overlapped datagrams deliver nothing, and reassembly memory stays within
 * its limits and is all freed by the timeout.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fuzzFragments } from '../../src/fuzz/fragments.ts';

test('RFC 5722 §4 / RFC 8200 §4.5 / RFC 815: seeds 1–5 of the fragment fuzzer (IPv4 and IPv6 mixed, overlaps, losses, junk): no wrong byte, no overlapped datagram delivered, memory bounded', () => {
  let overlapped = 0;
  for (let seed = 1; seed <= 5; seed++) {
    const r = fuzzFragments(seed, 300);
    assert.equal(r.failure, null);
    assert.equal(r.datagrams, 300);
    assert.ok(r.maxHeld <= 256 * 1024, `seed ${seed}: held at most ${r.maxHeld} bytes`);
    assert.ok(r.delivered > 1_000_000, `seed ${seed}: ${r.delivered} bytes delivered and checked`);
    overlapped += r.overlapped;
  }
  assert.ok(overlapped > 400, `forged overlaps were injected (${overlapped})`);
});

test('the fragment fuzzer under tight limits (8 KiB per source, 32 KiB in all): memory stays within them and the stream still arrives whole', () => {
  for (let seed = 6; seed <= 8; seed++) {
    const r = fuzzFragments(seed, 150, { maxBytes: 32 * 1024, maxBytesPerSource: 8 * 1024 });
    assert.equal(r.failure, null);
    assert.ok(r.maxHeld <= 32 * 1024, `seed ${seed}: held at most ${r.maxHeld} bytes`);
  }
});
