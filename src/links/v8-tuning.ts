/**
 * Process-wide V8 tuning for a process that moves packets at line rate
 * (Node only).
 *
 * Every large packet synack receives lives in an ArrayBuffer of its own
 * (links/tun.ts copies it out of the read arena; the stream API hands those
 * bytes to the application, as node:net hands out a fresh buffer per read),
 * so kernel → synack at 16 Gbit/s allocates ~2 GB of ArrayBuffer memory a
 * second. V8 frees the dead ones after each scavenge, but by default on its
 * helper threads (concurrent ArrayBuffer sweeping), and it subtracts their
 * bytes from its external-memory count only when that background job is
 * done. On a busy machine — two CPUs, the kernel's sender on one, synack on
 * the other — the helpers get no CPU in time, the count runs past V8's
 * external-memory limit, and V8 starts a full mark-compact; the marking then
 * takes the helper threads, which delays the next sweep further: a storm of
 * ~30 mark-compacts a second that holds until the load changes. That was the
 * bimodal spread of the TUN bench (8–20 Gbit/s; docs/PERFORMANCE.md, "TUN
 * with offloads"). Sweeping on the main thread, inside the scavenge, frees
 * those bytes at once: the storm never starts.
 */
import v8 from 'node:v8';

let applied = false;

/**
 * Makes V8 free dead ArrayBuffers inside the scavenge that finds them, on
 * the main thread (`--no-concurrent-array-buffer-sweeping`), rather than
 * later on its helper threads. Process-wide; idempotent. The `synack`
 * command does this at start; an embedder that moves bulk data through
 * synack (a TUN link, a gateway, host.net streams) calls it once.
 */
export function sweepArrayBuffersOnMainThread(): void {
  if (applied) return;
  v8.setFlagsFromString('--no-concurrent-array-buffer-sweeping');
  applied = true;
}

/** Whether sweepArrayBuffersOnMainThread() ran in this process. */
export function sweepsArrayBuffersOnMainThread(): boolean {
  return applied;
}
