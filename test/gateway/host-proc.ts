/**
 * Host-side processes for the namespace tests (test/gateway/netns*.test.ts)
 * and the gateway bench (bench/gateway.ts): spawned from the project root,
 * their output collected (extra pipes — e.g. slirp4netns's --ready-fd=3 —
 * count as output), waited on by pattern, killed by PID.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { ROOT } from '../interop/helpers.ts';

/** A process on the host (not in the namespace), killed by PID in `after`. */
export interface HostProc {
  child: ChildProcess;
  out(): string;
  err(): string;
  exited: Promise<number | string>;
  waitFor(re: RegExp, timeoutMs: number): Promise<void>;
  /** Signals the process by its PID if it still runs (default SIGKILL). */
  kill(sig?: NodeJS.Signals): void;
}

/** Spawns argv directly (its PID is the process's), killed after `timeoutMs`; `extraFds` more pipes (fd 3…) read as output. */
export function hostSpawn(argv: string[], timeoutMs: number, extraFds = 0): HostProc {
  const stdio: Array<'ignore' | 'pipe'> = ['ignore', 'pipe', 'pipe'];
  for (let i = 0; i < extraFds; i++) stdio.push('pipe');
  const child = spawn(argv[0]!, argv.slice(1), { cwd: ROOT, stdio, env: { ...process.env, NO_COLOR: '1' } });
  child.once('error', () => {});
  let out = '';
  let err = '';
  const waiters: Array<() => void> = [];
  const poke = (): void => {
    for (const w of waiters.splice(0)) w();
  };
  child.stdout!.setEncoding('utf8');
  child.stderr!.setEncoding('utf8');
  child.stdout!.on('data', (d: string) => ((out += d), poke()));
  child.stderr!.on('data', (d: string) => ((err += d), poke()));
  for (let i = 3; i < 3 + extraFds; i++) {
    const extra = child.stdio[i] as NodeJS.ReadableStream;
    extra.setEncoding('utf8');
    extra.on('data', (d: string) => ((out += d), poke()));
  }
  const limit = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  limit.unref();
  let done = false;
  const exited = new Promise<number | string>((resolve) =>
    child.once('close', (code, sig) => {
      done = true;
      clearTimeout(limit);
      poke();
      resolve(code ?? sig ?? 'unknown');
    }),
  );
  return {
    child,
    out: () => out,
    err: () => err,
    exited,
    waitFor: (re, ms) =>
      new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`timed out waiting for ${re}:\n${out}\n--- stderr:\n${err}`)), ms);
        const check = (): void => {
          if (re.test(out + '\n' + err)) {
            clearTimeout(t);
            resolve();
          } else if (done) {
            clearTimeout(t);
            reject(new Error(`exited before ${re}:\n${out}\n--- stderr:\n${err}`));
          } else waiters.push(check);
        };
        check();
      }),
    kill(sig: NodeJS.Signals = 'SIGKILL') {
      if (!done && child.pid) {
        try {
          process.kill(child.pid, sig);
        } catch {
          // already gone
        }
      }
    },
  };
}

export function killByPid(p: HostProc | null, sig: NodeJS.Signals = 'SIGKILL'): void {
  if (p && p.child.exitCode === null && p.child.signalCode === null && p.child.pid) {
    try {
      process.kill(p.child.pid, sig);
    } catch {
      // already gone
    }
  }
}
