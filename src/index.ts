/**
 * synack — a userspace TCP/IP stack in TypeScript. The package entry for
 * Node: everything. The same parts are importable on their own:
 *
 *   synack/core  the sans-I/O core (wire, tcp, stack, sim, in-memory link): runs anywhere
 *   synack/net   the node:net-compatible API and createMemoryNetwork(): Node and browsers
 *   synack/tun   the TUN link (Linux, Node, the optional synack-tun addon)
 *
 *   const lan = createMemoryNetwork();
 *   const a = lan.host('10.0.0.1');
 *   const b = lan.host('10.0.0.2');
 *   b.net.createServer((s) => s.pipe(s)).listen(7);
 *   const c = a.net.connect(7, '10.0.0.2');
 */
export * from './core.ts';
export * from './net.ts';
export * from './tun.ts';
