/**
 * A CliIo that records what a command prints (stdout and stderr lines) and
 * writes no file: the CLI tests call `main(argv, memIo())` in-process.
 */
import type { CliIo } from '../../src/cli/main.ts';

export function memIo(): CliIo & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, stdout: (l) => out.push(l), stderr: (l) => err.push(l), isTTY: false, env: {}, writeFile: () => {} };
}
