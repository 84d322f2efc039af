/**
 * The gateway's side of `--viz`: the monitors made by `gateway.watch()`
 * (monitor.ts), told of each guest connection when the gateway pairs it
 * with its host socket, and the viz server of the `viz` option
 * (viz-server.ts), started once the gateway exists and stopped with it.
 */
import type { Stack } from '../stack/stack.ts';
import { watchStack, type GatewayMonitor, type MonitoredFlow, type MonitoredUdpFlow, type MonitorOptions } from './monitor.ts';
import { serveGatewayViz, type GatewayVizOptions, type GatewayVizServer } from './viz-server.ts';

export type GatewayVizOption = GatewayVizOptions & { monitor?: MonitorOptions };

export class GatewayWatch {
  private readonly monitors = new Set<GatewayMonitor>();
  /** The viz server (option `viz`), once `ready` resolved. */
  server: GatewayVizServer | null = null;
  /** Resolves when the viz server listens (at once without the option). */
  readonly ready: Promise<void>;

  constructor(
    private readonly stack: Stack,
    private readonly flows: () => Iterable<MonitoredFlow>,
    viz: GatewayVizOption | undefined,
    private readonly udpFlows: () => Iterable<MonitoredUdpFlow> = () => [],
  ) {
    // Started after the constructor returns (a then() callback).
    this.ready = viz
      ? Promise.resolve(viz).then(async (v) => {
          this.server = await serveGatewayViz(this.watch(v.monitor), v);
        })
      : Promise.resolve();
  }

  watch(opts?: MonitorOptions): GatewayMonitor {
    const m = watchStack(this.stack, opts, this.udpFlows);
    for (const f of this.flows()) m.attach(f);
    this.monitors.add(m);
    const stop = m.close;
    m.close = () => {
      this.monitors.delete(m);
      stop();
    };
    return m;
  }

  /** The gateway paired a guest connection with its host socket. */
  attach(flow: MonitoredFlow): void {
    for (const m of this.monitors) m.attach(flow);
  }

  async close(): Promise<void> {
    for (const m of [...this.monitors]) m.close();
    await this.ready.catch(() => {});
    await this.server?.close();
    this.server = null;
  }
}
