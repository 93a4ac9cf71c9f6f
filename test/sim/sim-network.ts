/**
 * The simulated network: datagrams between simulated nodes with latency,
 * jitter, random loss, partitions and node pauses, on the virtual clock.
 * A paused node receives nothing until it resumes, then everything that
 * arrived meanwhile (a stalled process's socket buffer), after its late tick.
 */
import type { GossipHandler, GossipTransport } from '../../src/gossip/transport.ts';
import type { NodeClock, Scheduler } from './virtual-clock.ts';

export interface NetworkOptions {
  /** One-way latency: base + uniform jitter, ms. LAN defaults: 0.5 ms + up to 1 ms. */
  latencyMs: number;
  jitterMs: number;
  /** Probability that any one datagram is lost. */
  loss: number;
}

interface Endpoint {
  handler: GossipHandler | null;
  clock: NodeClock;
  group: number;
  up: boolean;
  sentBytes: number;
  sentPackets: number;
}

export class SimNetwork {
  readonly opts: NetworkOptions;
  private readonly endpoints = new Map<string, Endpoint>();
  delivered = 0;
  lost = 0;
  /** Every datagram a node sends, before loss (a capture point for replay tests). */
  tap: ((fromAddr: string, fromPort: number, to: string, bytes: Uint8Array) => void) | null = null;
  /** Bytes and datagrams sent toward each address:port, whether or not anyone is there. */
  private readonly toward = new Map<string, { bytes: number; packets: number }>();

  constructor(
    private readonly sched: Scheduler,
    private readonly random: () => number,
    opts: Partial<NetworkOptions> = {},
  ) {
    this.opts = { latencyMs: 0.5, jitterMs: 1, loss: 0, ...opts };
  }

  /** Attach a node at address:port; returns its transport. */
  attach(address: string, port: number, clock: NodeClock): GossipTransport {
    const key = `${address}:${port}`;
    const ep: Endpoint = { handler: null, clock, group: 0, up: true, sentBytes: 0, sentPackets: 0 };
    this.endpoints.set(key, ep);
    return {
      send: (a, p, bytes) => this.send(ep, address, port, `${a}:${p}`, bytes),
      onMessage: (h) => {
        ep.handler = h;
      },
      close: () => {
        ep.up = false;
        ep.handler = null;
      },
    };
  }

  private send(from: Endpoint, fromAddr: string, fromPort: number, to: string, bytes: Uint8Array): void {
    if (!from.up) return;
    from.sentBytes += bytes.length;
    from.sentPackets++;
    const t = this.toward.get(to);
    if (t === undefined) this.toward.set(to, { bytes: bytes.length, packets: 1 });
    else {
      t.bytes += bytes.length;
      t.packets++;
    }
    this.tap?.(fromAddr, fromPort, to, bytes);
    const dst = this.endpoints.get(to);
    if (dst === undefined || !dst.up || dst.group !== from.group || this.random() < this.opts.loss) {
      this.lost++;
      return;
    }
    const copy = bytes.slice();
    const deliver = (): void => {
      if (!dst.up || dst.handler === null) return;
      if (this.sched.now < dst.clock.pausedUntil) {
        // Just after the resumed node's late tick (ticks are scheduled first at the same instant).
        this.sched.at(dst.clock.pausedUntil + 0.01, deliver);
        return;
      }
      this.delivered++;
      dst.handler(copy, fromAddr, fromPort);
    };
    this.sched.after(this.opts.latencyMs + this.random() * this.opts.jitterMs, deliver);
  }

  /**
   * Deliver `bytes` to a node as if sent from fromAddr:fromPort, which need not exist: an
   * attacker's datagram with a spoofed source. No loss; the usual latency.
   */
  inject(fromAddr: string, fromPort: number, toAddr: string, toPort: number, bytes: Uint8Array): void {
    const dst = this.endpoints.get(`${toAddr}:${toPort}`);
    if (dst === undefined) return;
    const copy = bytes.slice();
    this.sched.after(this.opts.latencyMs, () => {
      if (dst.up && dst.handler !== null) dst.handler(copy, fromAddr, fromPort);
    });
  }

  /** Bytes and datagrams the simulated nodes sent toward address:port so far. */
  sentToward(address: string, port: number): { bytes: number; packets: number } {
    const t = this.toward.get(`${address}:${port}`);
    return { bytes: t?.bytes ?? 0, packets: t?.packets ?? 0 };
  }

  /** Put a node in a partition group; only nodes in the same group can talk. */
  setGroup(address: string, port: number, group: number): void {
    const ep = this.endpoints.get(`${address}:${port}`);
    if (ep !== undefined) ep.group = group;
  }

  /** Bytes and datagrams sent by one node so far. */
  sent(address: string, port: number): { bytes: number; packets: number } {
    const ep = this.endpoints.get(`${address}:${port}`);
    return { bytes: ep?.sentBytes ?? 0, packets: ep?.sentPackets ?? 0 };
  }

  /** Drop every datagram to and from this node from now on (a crash). */
  kill(address: string, port: number): void {
    const ep = this.endpoints.get(`${address}:${port}`);
    if (ep !== undefined) ep.up = false;
  }
}
