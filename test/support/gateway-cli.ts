/**
 * `synack gateway` as a process for the real-guest tests: spawned through
 * the CLI exactly as a script would run it, waited for until it prints its
 * `ready` line, stopped with SIGTERM (its --stats line parsed) and, in any
 * case, killed by its PID at the end.
 */
import { spawn } from 'node:child_process';

const ROOT = new URL('../../', import.meta.url).pathname;

export interface GatewayProcess {
  /** The ready line. */
  ready: string;
  /** stdout and stderr so far. */
  output(): string;
  /** SIGTERM; resolves with the exit code and the last `stats {…}` line's counters. */
  stop(): Promise<{ code: number | string | null; stats: any }>;
  /** SIGKILL by PID if it still runs. */
  kill(): void;
}

export async function startGatewayCli(args: string[], timeoutMs = 60_000): Promise<GatewayProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'gateway', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
  const exited = new Promise<number | string | null>((resolve) => child.once('close', (code, sig) => resolve(code ?? sig)));
  const kill = (): void => {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  };
  const end = Date.now() + timeoutMs;
  for (;;) {
    const m = /^.*ready.*$/m.exec(out);
    if (m) {
      return {
        ready: m[0],
        output: () => out,
        kill,
        async stop() {
          if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGTERM');
          const t = setTimeout(kill, 20_000);
          const code = await exited;
          clearTimeout(t);
          const line = out.split('\n').filter((l) => l.startsWith('stats ')).pop();
          return { code, stats: line ? JSON.parse(line.slice(6)) : null };
        },
      };
    }
    if (child.exitCode !== null || Date.now() > end) {
      kill();
      throw new Error(`synack gateway ${args.join(' ')} did not get ready:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}
