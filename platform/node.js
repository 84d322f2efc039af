// '#platform' on Node (package.json "imports", condition "default"): what
// api/ (the node:net-compatible API) takes from the runtime. Node's own
// streams, events, Buffer, timers and process.nextTick.
export { Duplex } from 'node:stream';
export { EventEmitter } from 'node:events';
export { Buffer } from 'node:buffer';
export { setImmediate, clearImmediate, setTimeout, clearTimeout, setInterval, clearInterval } from 'node:timers';
export { default as process } from 'node:process';
