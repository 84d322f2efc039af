/**
 * What the heap holds per connection, by constructor: two heap snapshots
 * (node:v8 writeHeapSnapshot) around holding N of something, self sizes
 * summed per constructor name (arrays, heap numbers, closures… by their
 * snapshot node type) and divided by N. The breakdown behind the "heap per
 * idle conn" rows; run in a child of its own (a snapshot of a large heap
 * takes seconds and memory):
 *
 *   node --expose-gc --import tsx bench/heap-breakdown.ts [pairs] [--late]
 *
 * holds `pairs` (default 1,000) idle in-memory synack connection pairs, as
 * bench/idle-memory.ts does, and prints the table per connection (two per
 * pair). `--late` first moves the virtual clock past 2³² µs (71 minutes),
 * as in a process that has run that long: the TCB's timestamps are then
 * beyond V8's small integers. `heapBreakdown(before, after, n)` is reused by
 * bench/gateway-heap.ts (`--breakdown`).
 */
import { writeHeapSnapshot } from 'node:v8';
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { idlePairs } from './lib.ts';

/** Self size and count per constructor (or node type) in one snapshot. */
export type HeapCensus = Map<string, { count: number; bytes: number }>;

interface RawSnapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]]; edge_fields: string[] } };
  nodes: number[];
  edges: number[];
  strings: string[];
}

/** Writes a heap snapshot (after a full GC, if exposed) and counts it. */
export function heapCensus(): HeapCensus {
  (globalThis as { gc?: () => void }).gc?.();
  const file = writeHeapSnapshot(join(tmpdir(), `synack-census-${process.pid}-${Date.now()}.heapsnapshot`));
  try {
    const raw = JSON.parse(readFileSync(file, 'utf8')) as RawSnapshot;
    const fields = raw.snapshot.meta.node_fields;
    const types = raw.snapshot.meta.node_types[0];
    const width = fields.length;
    const iType = fields.indexOf('type');
    const iName = fields.indexOf('name');
    const iSize = fields.indexOf('self_size');
    const iEdges = fields.indexOf('edge_count');
    const edgeWidth = raw.snapshot.meta.edge_fields.length;
    const iTo = raw.snapshot.meta.edge_fields.indexOf('to_node');
    // A heap number is named after the object holding it (a double field's
    // box, or a number stored in a tagged field): "(number) ← Connection".
    const holder = new Map<number, string>();
    for (let i = 0, e = 0; i < raw.nodes.length; i += width) {
      const from = types[raw.nodes[i + iType]!] === 'object' ? raw.strings[raw.nodes[i + iName]!]! : null;
      const end = e + raw.nodes[i + iEdges]! * edgeWidth;
      for (; e < end; e += edgeWidth) {
        const to = raw.edges[e + iTo]!;
        if (from !== null && types[raw.nodes[to + iType]!] === 'number' && !holder.has(to)) holder.set(to, from);
      }
    }
    const out: HeapCensus = new Map();
    for (let i = 0; i < raw.nodes.length; i += width) {
      const type = types[raw.nodes[i + iType]!]!;
      const name = raw.strings[raw.nodes[i + iName]!]!;
      // Objects by constructor; everything else by its node type (a
      // string's name is its text, a closure's its function name).
      const key =
        type === 'object' ? name
        : type === 'number' ? `(number) ← ${holder.get(i) ?? '?'}`
        : type === 'hidden' || type === 'native' ? `(${type}) ${name}`
        : `(${type})`;
      const e = out.get(key) ?? { count: 0, bytes: 0 };
      e.count++;
      e.bytes += raw.nodes[i + iSize]!;
      out.set(key, e);
    }
    return out;
  } finally {
    rmSync(file, { force: true });
  }
}

/** The rows of after − before per unit of `n`, largest first; rows under `minBytes` per unit are summed into one. */
export function heapBreakdown(before: HeapCensus, after: HeapCensus, n: number, minBytes = 4): string {
  const rows: Array<{ key: string; bytes: number; count: number }> = [];
  for (const [key, a] of after) {
    const b = before.get(key) ?? { count: 0, bytes: 0 };
    rows.push({ key, bytes: (a.bytes - b.bytes) / n, count: (a.count - b.count) / n });
  }
  rows.sort((x, y) => y.bytes - x.bytes);
  let total = 0;
  let rest = 0;
  const lines: string[] = [];
  for (const r of rows) {
    total += r.bytes;
    if (Math.abs(r.bytes) < minBytes) {
      rest += r.bytes;
      continue;
    }
    lines.push(`${r.bytes.toFixed(1).padStart(9)} B  ${r.count.toFixed(2).padStart(7)} ×  ${r.key}`);
  }
  lines.push(`${rest.toFixed(1).padStart(9)} B             (rows under ${minBytes} B)`);
  lines.push(`${total.toFixed(1).padStart(9)} B             total self size per unit`);
  return lines.join('\n');
}

if (process.argv[1]?.endsWith('heap-breakdown.ts')) {
  const pairs = Number(process.argv.slice(2).find((a) => !a.startsWith('--')) ?? 1000);
  const { before, after } = await idlePairs(pairs, heapCensus, { late: process.argv.includes('--late') });
  console.log(`per idle connection (${pairs} pairs, ${2 * pairs} connections):`);
  console.log(heapBreakdown(before, after, 2 * pairs));
}
