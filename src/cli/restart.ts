/**
 * A command restarting itself in place for settings a process can only be
 * given when it starts: environment variables read by the C library before
 * the first allocation (glibc's MALLOC_ARENA_MAX), or V8 flags that cannot
 * change once the heap exists (`--single-threaded-gc`: set at run time, V8
 * aborts). execve(2) through the synack-tun addon — the same PID, stdio and
 * open descriptors; the same Node, flags and arguments, plus what is wanted.
 *
 * Used by `synack gateway` (MALLOC_ARENA_MAX=1; docs/PERFORMANCE.md has
 * the figures). Only a variable the environment does not set and a flag Node
 * was not given are added; with nothing to add, or when `commandArgv` is
 * not this process's own command line (the CLI run inside another program,
 * e.g. a test), nothing happens.
 */
import { loadTunAddon } from '../links/tun.ts';

export interface RestartWants {
  /** Environment variables to set, unless already set (to anything). */
  env?: Record<string, string>;
  /** Node/V8 flags to add, unless already among process.execArgv. */
  nodeFlags?: string[];
}

/**
 * Restarts this process (execve) with `wants` added. Returns only when it
 * did not, with the reason: nothing to add (also after the restart), not
 * Linux, not this process's command line, the addon (or a build of it
 * with execve) absent, or execve failed.
 */
export function restartInPlace(commandArgv: readonly string[], wants: RestartWants, env: NodeJS.ProcessEnv = process.env): string {
  const addEnv = Object.entries(wants.env ?? {}).filter(([k]) => env[k] === undefined);
  const addFlags = (wants.nodeFlags ?? []).filter((f) => !process.execArgv.includes(f));
  if (addEnv.length === 0 && addFlags.length === 0) return 'nothing to add';
  if (process.platform !== 'linux') return 'not Linux';
  const own = process.argv.slice(2);
  if (own.length !== commandArgv.length || own.some((a, i) => a !== commandArgv[i])) return "not this process's command line";
  let execve: ((path: string, argv: string[], env: string[]) => string) | undefined;
  try {
    const a = loadTunAddon();
    execve = a.execve?.bind(a);
  } catch {
    return 'the synack-tun addon is not built';
  }
  if (!execve) return 'the synack-tun addon has no execve (rebuild it)';
  const envList = Object.entries(env)
    .filter((e): e is [string, string] => e[1] !== undefined)
    .map(([k, v]) => `${k}=${v}`);
  for (const [k, v] of addEnv) envList.push(`${k}=${v}`);
  const err = execve(process.execPath, [process.execPath, ...process.execArgv, ...addFlags, ...process.argv.slice(1)], envList);
  return `execve failed: ${err}`;
}
