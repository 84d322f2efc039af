/**
 * Forwarded TCP connections on node:net (GatewayOptions.hostSockets
 * 'node', the default where the addon is not built; the published ports'
 * host side always): each connection is a node:net Socket spliced to a
 * synack Socket (api/socket.ts) by two relays, with backpressure both ways
 * (a write that fills one side pauses the other) and half-close and resets
 * carried (RFC 9293 §3.6). gateway/native-flows.ts is the default path.
 */

import * as nodeNet from 'node:net';
import type { Connection } from '../tcp/connection.ts';
import type { ConnectionEvent } from '../tcp/events.ts';
import type { TcpForwardRequest, UnreachableKind } from '../stack/forward.ts';
import type { SynackNet } from '../api/net.ts';
import type { Socket as SynackSocket } from '../api/socket.ts';
import { formatIpAddr } from '../wire/ipv6.ts';
import { resetHostSocket, unreachableFor } from './options.ts';
import { endText, type NativeFlowsContext, type TcpFlow } from './native-flows.ts';

/** A forwarded connection on the node:net path: a node:net Socket spliced to a synack Socket. */
export interface NodeFlow extends TcpFlow {
  host: nodeNet.Socket;
  guest: SynackSocket | null;
}

/** What the node:net path needs beyond the native path's context: the gateway stack's node:net-compatible API. */
export interface NodeFlowsContext extends NativeFlowsContext {
  net: SynackNet;
}

export class NodeFlows {
  constructor(private readonly ctx: NodeFlowsContext) {}

  /** A flow record for a host socket and (once connected) its guest socket. */
  flow(guestText: string, targetText: string, host: nodeNet.Socket, guest: SynackSocket | null): NodeFlow {
    return {
      guestText,
      targetText,
      host,
      guest,
      conn: null,
      bytesUp: 0,
      bytesDown: 0,
      buffered(): number {
        const g = this.guest;
        const c = this.conn;
        return this.host.readableLength + this.host.writableLength + (g ? g.readableLength + g.writableLength : 0) + (c ? c.readable() + c.sendQueued() : 0);
      },
      hostEnds() {
        const h = this.host;
        return h.remoteAddress === undefined ? null : { local: endText(h.localAddress, h.localPort), remote: endText(h.remoteAddress, h.remotePort) };
      },
      guestEnds() {
        const g = this.guest;
        return g && g.localPort !== undefined ? { peer: endText(g.localAddress, g.localPort), guest: endText(g.remoteAddress, g.remotePort) } : null;
      },
      reset(): void {
        if (this.guest && !this.guest.destroyed) this.guest.resetAndDestroy();
        resetHostSocket(this.host);
      },
    };
  }

  /** The host connect of a guest's SYN (node:net); ctx.connectDone() once it ends. */
  connect(req: TcpForwardRequest, target: string): void {
    const guestText = `${formatIpAddr(req.remoteAddr)}:${req.remotePort}`;
    const flow = this.flow(guestText, `${target}:${req.localPort}`, nodeNet.connect({ host: target, port: req.localPort, allowHalfOpen: true, noDelay: true }), null);
    this.ctx.added(flow);
    const host = flow.host;
    let connected = false;
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      this.ctx.connectDone();
    };
    host.once('connect', release);
    host.once('close', release);
    const timer = setTimeout(() => {
      if (connected) return;
      this.ctx.st.tcp.timedOut++;
      fail('host', 'ETIMEDOUT');
    }, this.ctx.connectTimeoutMs);
    const fail = (kind: UnreachableKind | 'refused', code: string): void => {
      clearTimeout(timer);
      host.destroy();
      release();
      if (kind === 'refused') {
        if (req.reject()) this.ctx.st.tcp.refused++;
      } else if (req.unreachable(kind)) {
        this.ctx.st.tcp.unreachable++;
      }
      this.ctx.log(`tcp ${flow.guestText} -> ${flow.targetText}: ${code}`);
      this.ctx.settle();
    };
    req.oncancel = () => {
      this.ctx.st.tcp.cancelled++;
      clearTimeout(timer);
      host.destroy();
      release();
    };
    host.on('error', (err: NodeJS.ErrnoException) => {
      // Before the connect; afterwards splice() handles errors.
      if (!connected) fail(unreachableFor(err.code), err.code ?? 'error');
    });
    host.once('close', () => {
      clearTimeout(timer);
      this.ctx.removed(flow);
    });
    host.once('connect', () => {
      connected = true;
      clearTimeout(timer);
      if (this.ctx.closing() || req.state !== 'pending') {
        host.destroy();
        return;
      }
      // Until the guest completes the handshake, what the host sends waits
      // in the host socket (flowing mode starts when it is piped).
      host.pause();
      const observer = {
        onEvent: (_c: Connection, ev: ConnectionEvent): void => {
          // The handshake failed (a RST or timeout in SYN-RECEIVED).
          if ((ev.type === 'closed' || (ev.type === 'state' && ev.from === 'SYN-RECEIVED' && ev.to === 'LISTEN')) && !flow.guest) host.destroy();
        },
      };
      // The stack's own TcpConfig is the gateway's (tcpCfg): no per-connection copy unless keepalive is asked for.
      const conn = req.accept({ onEstablished: (c) => this.established(flow, c), observer, ...(this.ctx.acceptTcp ? { tcp: this.ctx.acceptTcp } : {}) });
      if (!conn) host.destroy();
      else this.ctx.st.tcp.opened++;
      this.ctx.settle();
    });
  }

  private established(flow: NodeFlow, conn: Connection): void {
    const host = flow.host;
    if (host.destroyed) {
      this.ctx.stack.abort(conn);
      return;
    }
    const guest = new this.ctx.net.Socket({ allowHalfOpen: true });
    guest._attachAccepted(conn, null, false);
    flow.guest = guest;
    flow.conn = conn;
    this.splice(flow);
  }

  /**
   * Joins a flow's guest socket and host socket both ways. RFC 9293 §3.6: a
   * FIN is "no more data from sender" for one direction only: each side's
   * end is the other's end() (pipe's default), and the other direction goes
   * on (allowHalfOpen on both sockets). A reset either way resets the other.
   */
  splice(flow: NodeFlow): void {
    const host = flow.host;
    const guest = flow.guest!;
    const st = this.ctx.st;
    this.ctx.spliced(flow);
    process.nextTick(() => {
      this.relay(flow, guest, host, true);
      this.relay(flow, host, guest, false);
      host.resume();
    });
    guest.on('error', (err: NodeJS.ErrnoException) => {
      // A RST from the guest (or a failure of its connection): reset the host side.
      if (err.code === 'ECONNRESET') st.tcp.resetsFromGuest++;
      resetHostSocket(host);
    });
    host.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNRESET') st.tcp.resetsFromHost++;
      if (!guest.destroyed) guest.resetAndDestroy();
    });
    guest.once('close', () => {
      // Closed without both directions finishing (destroyed): no half-open host socket is left behind.
      if (!host.writableEnded) resetHostSocket(host);
    });
    host.once('close', () => {
      if (!guest.destroyed && !guest.writableEnded) guest.resetAndDestroy();
    });
  }

  /**
   * One direction of a flow: what `src.pipe(dst)` does for a socket pair,
   * without pipe()'s nine closures and listener arrays per direction (what
   * an idle forwarded connection costs is mostly such objects: heap
   * snapshots, docs/PERFORMANCE.md). Backpressure: a write that fills
   * `dst` pauses `src` until 'drain'; `src`'s end (a FIN) is `dst.end()`.
   * Errors and closes are splice()'s.
   */
  private relay(flow: NodeFlow, src: nodeNet.Socket | SynackSocket, dst: nodeNet.Socket | SynackSocket, up: boolean): void {
    const st = this.ctx.st;
    src.on('data', (d: Buffer) => {
      if (up) {
        flow.bytesUp += d.length;
        st.tcp.bytesUp += d.length;
      } else {
        flow.bytesDown += d.length;
        st.tcp.bytesDown += d.length;
      }
      if (!dst.write(d)) src.pause();
    });
    dst.on('drain', () => src.resume());
    src.once('end', () => dst.end());
  }
}
