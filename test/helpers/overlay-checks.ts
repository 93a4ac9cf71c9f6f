/**
 * Assertions the two-node overlay tests share (vitest only: the benches
 * import cluster.ts, so nothing there may import vitest).
 */
import { expect } from 'vitest';
import { tcpTransfer } from './cluster.ts';
import type { OverlayNode } from './cluster.ts';
import type { NetnsSandbox } from './netns.ts';

/** Move `bytes` over TCP from `from`'s pod to `to`'s pod (sink on `port`, at `toIp`) and check they arrived whole, byte for byte. */
export async function expectTcpIntact(sb: NetnsSandbox, from: OverlayNode, to: OverlayNode, bytes: number, port = 5201, toIp = to.podIp): Promise<void> {
  const r = await tcpTransfer(sb, from.podNs, to.podNs, toIp, bytes, port);
  expect(r.received).toEqual(r.sent);
  expect(r.received.bytes).toBe(bytes);
}
