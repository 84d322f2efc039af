/**
 * Segment processing (tcp/segment-arrives.ts, RFC 9293 §3.10.7) reaches the
 * connection only through the narrow SegmentTcb interface declared at its
 * top: it reads the TCB's variables and changes them only through named
 * operations. Before this interface it read and wrote the Connection class
 * directly (73 members touched, 35 of them written). This test keeps it so
 * without being brittle: it fails on an import of Connection, on a member
 * not declared in SegmentTcb, on any write, and when the interface grows
 * past a ceiling that a deliberate widening may raise.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

const FILE = new URL('../../src/tcp/segment-arrives.ts', import.meta.url).pathname;
/** The interface has 51 members today; widening it is a design decision, made here. */
const CEILING = 55;

function stripComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '').replace(/'[^'\n]*'/g, "''");
}

/** The members declared by `interface SegmentTcb { ... }`. */
export function interfaceMembers(text: string): string[] {
  const body = /export interface SegmentTcb \{([\s\S]*?)\n\}/.exec(stripComments(text));
  if (!body) throw new Error('no SegmentTcb interface');
  return [...body[1]!.matchAll(/^\s*(?:readonly\s+)?([A-Za-z_$][\w$]*)\s*[(:?]/gm)].map((m) => m[1]!);
}

/** Every `c.<member>` access of the code, split into members read and members written. */
export function accesses(text: string): { read: Set<string>; written: Set<string> } {
  const code = stripComments(text).replace(/export interface SegmentTcb \{[\s\S]*?\n\}/, '');
  const read = new Set<string>();
  const written = new Set<string>();
  for (const m of code.matchAll(/\bc\.([A-Za-z_$][\w$]*)(\s*(?:\?\?=|\|\|=|&&=|\+=|-=|\+\+|--|=(?!=)))?/g)) {
    (m[2] ? written : read).add(m[1]!);
  }
  return { read, written };
}

const text = readFileSync(FILE, 'utf8');

test('segment-arrives.ts does not import Connection: it sees the connection only as a SegmentTcb', () => {
  assert.doesNotMatch(text, /from\s+['"]\.\/connection\.ts['"]/);
  assert.match(text, /function segmentArrives\(c: SegmentTcb,/);
});

test('segment-arrives.ts uses only members of SegmentTcb, writes none, and SegmentTcb stays narrow', () => {
  const members = interfaceMembers(text);
  const { read, written } = accesses(text);
  assert.ok(members.length > 20, `the interface was parsed (${members.length} members)`);
  assert.ok(members.length <= CEILING, `SegmentTcb has ${members.length} members (ceiling ${CEILING})`);
  assert.deepEqual([...written], [], 'segment-arrives.ts writes no member of the connection');
  const undeclared = [...read].filter((m) => !members.includes(m));
  assert.deepEqual(undeclared, [], 'every member used is declared in SegmentTcb');
  const unused = members.filter((m) => !read.has(m));
  assert.deepEqual(unused, [], 'every member declared is used');
});

test('the SegmentTcb check catches a write and an undeclared member (it can fail)', () => {
  const sample = `export interface SegmentTcb {\n  readonly rcvNxt: number;\n  acknowledge(): void;\n}\nfunction f(c: SegmentTcb) {\n  c.rcvNxt = 1;\n  c.ackNow = true;\n  c.segsSinceAck++;\n  c.acknowledge();\n  if (c.rcvUp > 0) return;\n}`;
  assert.deepEqual(interfaceMembers(sample), ['rcvNxt', 'acknowledge']);
  const { read, written } = accesses(sample);
  assert.deepEqual([...written].sort(), ['ackNow', 'rcvNxt', 'segsSinceAck']);
  assert.ok(read.has('rcvUp') && read.has('acknowledge'));
});
