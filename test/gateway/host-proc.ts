/**
 * Host-side processes for the namespace tests (test/gateway/netns*.test.ts):
 * spawned from the project root, their output collected, waited on by
 * pattern, killed by PID.
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
}

export function hostSpawn(argv: string[], timeoutMs: number): HostProc {
  const child = spawn(argv[0]!, argv.slice(1), { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
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
