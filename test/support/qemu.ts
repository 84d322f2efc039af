/**
 * Boots a guest from `guest-image.ts` in QEMU (Debian's qemu-system-x86, TCG:
 * there is no KVM) and returns its serial console.
 *
 * One QEMU at a time per test file, `-nographic`-style with the serial
 * console on stdout (a pipe), `-no-reboot` (a panic or power-off ends the
 * process), 128 MiB, one CPU, a hard timeout after which the process is
 * killed by its PID. The network is whatever `netdev` says; the harness adds
 * the NIC the image was built for, attached to netdev id `n0`:
 *
 *   bootQemu({ image, netdev: 'user,id=n0', run: 'wget -O- http://10.0.2.2:8080/' })
 *   bootQemu({ image, netdev: `stream,id=n0,server=off,addr.type=unix,addr.path=${sock}`, … })
 */
import { spawn } from 'node:child_process';
import { guestCmdline, parseTranscript, type GuestImage, type Transcript } from './guest-image.ts';

const NIC_DEVICE = { virtio: 'virtio-net-pci', e1000: 'e1000', ne2k: 'ne2k_pci' } as const;

export interface QemuBootOptions {
  image: GuestImage;
  /** the `-netdev` value; its id must be `n0` */
  netdev: string;
  /** shell text /init runs after DHCP; its output and exit status land in the transcript */
  run?: string;
  /** false: skip udhcpc (default true) */
  dhcp?: boolean;
  /** the guest's MAC (default 52:54:00:12:34:56, QEMU's own default) */
  mac?: string;
  /** default 128 */
  memMb?: number;
  /** hard limit; QEMU is killed (SIGKILL, by PID) when it passes. Default 240 s. */
  timeoutMs?: number;
  /** stop early: QEMU is killed by PID */
  signal?: AbortSignal;
  /** each console line as it arrives, with ms since spawn */
  onLine?: (line: string, ms: number) => void;
}

export interface QemuRun extends Transcript {
  /** QEMU's exit code (0 after the guest powered off), null when killed */
  code: number | null;
  timedOut: boolean;
  aborted: boolean;
  /** ms from spawn to exit */
  ms: number;
  /** ms from spawn to the guest's first /init line, and to its lease line */
  initMs?: number;
  leaseMs?: number;
  /** QEMU's own stderr */
  stderr: string;
}

/** The QEMU argument list (exported so a test can show it). */
export function qemuArgs(o: QemuBootOptions): string[] {
  if (o.image.arch !== 'x86_64') throw new Error(`bootQemu boots x86_64 images (this one is ${o.image.arch})`);
  const mac = o.mac ?? '52:54:00:12:34:56';
  return [
    '-nodefaults', '-nographic', '-no-reboot',
    '-serial', 'stdio', '-monitor', 'none',
    '-accel', 'tcg', '-smp', '1', '-m', String(o.memMb ?? 128),
    '-kernel', o.image.kernel, '-initrd', o.image.initrd,
    '-append', guestCmdline({ console: 'ttyS0', run: o.run, dhcp: o.dhcp }),
    '-netdev', o.netdev,
    // romfile= : no iPXE option ROM, the kernel is booted directly.
    '-device', `${NIC_DEVICE[o.image.nic]},netdev=n0,mac=${mac},romfile=`,
  ];
}

export function bootQemu(o: QemuBootOptions): Promise<QemuRun> {
  const t0 = performance.now();
  const ms = () => Math.round(performance.now() - t0);
  const child = spawn('qemu-system-x86_64', qemuArgs(o), { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let partial = '';
  let initMs: number | undefined;
  let leaseMs: number | undefined;
  let timedOut = false;
  let aborted = false;
  const kill = () => {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  };
  child.stdout.setEncoding('latin1').on('data', (s: string) => {
    out += s;
    partial += s;
    let nl: number;
    while ((nl = partial.indexOf('\n')) >= 0) {
      const line = partial.slice(0, nl).replace(/\r$/, '');
      partial = partial.slice(nl + 1);
      const t = ms();
      if (initMs === undefined && line.includes('SYNACK-GUEST: init')) initMs = t;
      if (leaseMs === undefined && line.includes('SYNACK-GUEST: lease')) leaseMs = t;
      o.onLine?.(line, t);
    }
  });
  child.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
  const timer = setTimeout(() => {
    timedOut = true;
    kill();
  }, o.timeoutMs ?? 240_000);
  const onAbort = () => {
    aborted = true;
    kill();
  };
  if (o.signal?.aborted) onAbort();
  else o.signal?.addEventListener('abort', onAbort, { once: true });
  return new Promise((resolve, reject) => {
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', onAbort);
      resolve({ ...parseTranscript(out), code, timedOut, aborted, ms: ms(), initMs, leaseMs, stderr: err });
    });
  });
}
