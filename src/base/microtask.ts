/**
 * A microtask without Node's async-context bookkeeping.
 *
 * Node's `queueMicrotask` makes an AsyncResource, an options object and a
 * bound function per call, and runs the callback through
 * `runInAsyncScope` (lib/internal/process/task_queues.js): about 0.8 KB
 * of allocation per forwarded connection of the gateway, whose TAP link
 * flushes its writes once per batch (docs/PERFORMANCE.md, "The gateway").
 * A reaction on a settled promise
 * runs at the same point (V8's microtask queue: from an I/O or timer
 * callback, after process.nextTick's queue and before the next macrotask;
 * test/base/microtask.test.ts) for the cost of the reaction. For the links' flushes,
 * which need no async context. A callback that throws surfaces as an
 * unhandled rejection (the process's uncaught-error path, as before).
 */
const settled: Promise<void> = Promise.resolve();

export function microtask(fn: () => void): void {
  void settled.then(fn);
}
