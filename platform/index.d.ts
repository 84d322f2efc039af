// Types of '#platform' (package.json "imports"): platform/node.js on Node,
// platform/browser.js in browsers — the same names with Node's types.
export { Duplex, type DuplexOptions } from 'node:stream';
export { EventEmitter } from 'node:events';
export { Buffer } from 'node:buffer';
export { setImmediate, clearImmediate, setTimeout, clearTimeout, setInterval, clearInterval } from 'node:timers';
/** Only process.nextTick is used (and provided in browsers). */
export declare const process: { nextTick(callback: (...args: any[]) => void, ...args: any[]): void };
