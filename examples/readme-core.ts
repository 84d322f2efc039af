// The README's second example, kept runnable: `npx tsx examples/readme-core.ts`.
import { Network, parseIpv4Addr } from 'synack/core';

const net = new Network({ seed: 7 }); // VirtualClock: time moves only when the network steps
const hub = net.addHub({ impair: { delayUs: 5000, loss: 0.05 } });
const a = net.addStack({ name: 'a' }), b = net.addStack({ name: 'b' });
net.attach(a, hub, parseIpv4Addr('10.0.0.1')!);
net.attach(b, hub, parseIpv4Addr('10.0.0.2')!);
b.addHook((ev) => ev.type === 'conn' && ev.event.type === 'state' && console.log(ev.event.from, '→', ev.event.to));
b.listen(80, { onConnection: (c) => b.send(c, new TextEncoder().encode('hi')) });
const c = a.connect(parseIpv4Addr('10.0.0.2')!, 80);
net.runUntil(() => c.readable() === 2); // same seed ⇒ same history, bit for bit
console.log(a.counters.snapshot(), c.status());
