// '#platform' in a browser (package.json "imports", condition "browser"):
// the same API as platform/node.js on the registry's packages — Node's
// stream module as readable-stream, events as events, Buffer as buffer —
// and small stand-ins for the two Node scheduling calls api/ uses.
// No node: import: a bundler resolves all of this for a web page.
export { Duplex } from 'readable-stream';
export { EventEmitter } from 'events';
export { Buffer } from 'buffer';

/** process.nextTick: runs `fn(...args)` after the current task, before any timer or I/O (a microtask). */
export const process = {
  nextTick(fn, ...args) {
    queueMicrotask(() => fn(...args));
  },
};

// setImmediate: a macrotask that runs after pending I/O events — a message
// to ourselves through a MessageChannel (not clamped like setTimeout(0)).
const queue = [];
let channel = null;
function runOne() {
  const h = queue.shift();
  if (h && !h.cleared) h.fn(...h.args);
}
export function setImmediate(fn, ...args) {
  if (channel === null) {
    channel = new MessageChannel();
    channel.port1.onmessage = runOne;
  }
  const h = { fn, args, cleared: false, ref() { return h; }, unref() { return h; }, hasRef() { return false; } };
  queue.push(h);
  channel.port2.postMessage(0);
  return h;
}
export function clearImmediate(h) {
  if (h) h.cleared = true;
}

// Timers: the browser's, in a handle with Node's ref()/unref() (which mean
// nothing in a page: a page does not exit).
class Timeout {
  constructor(id) {
    this.id = id;
  }
  ref() {
    return this;
  }
  unref() {
    return this;
  }
  hasRef() {
    return false;
  }
  [Symbol.toPrimitive]() {
    return this.id;
  }
}
const unwrap = (t) => (t !== null && typeof t === 'object' ? t.id : t);
export function setTimeout(fn, ms, ...args) {
  return new Timeout(globalThis.setTimeout(fn, ms, ...args));
}
export function clearTimeout(t) {
  globalThis.clearTimeout(unwrap(t));
}
export function setInterval(fn, ms, ...args) {
  return new Timeout(globalThis.setInterval(fn, ms, ...args));
}
export function clearInterval(t) {
  globalThis.clearInterval(unwrap(t));
}
