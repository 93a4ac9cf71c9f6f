/**
 * The batch transport tells how long each received datagram waited in its
 * socket's queue (kernel arrival stamps, SO_TIMESTAMPNS): what the router's
 * inbound CoDel acts on. Loopback only, in this process.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { PacketRing } from '../../../src/buf/packet-ring.ts';
import { BatchUdpTransport } from '../../../src/transport/batch-udp-transport.ts';
import { DgramTransport } from '../../../src/transport/dgram-transport.ts';
import type { Transport } from '../../../src/transport/transport.ts';
import { tick } from './transport-contract.ts';

const LOOPBACK = '127.0.0.1';
const open: Transport[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((t) => t.close()));
});

/** Send `count` datagrams of `size` bytes from `a` to `b` and hand them to the kernel now. */
function sendBurst(a: Transport, b: Transport, count: number, size: number): void {
  for (let i = 0; i < count; i++) {
    const slot = a.ring.acquire();
    if (slot < 0) throw new Error('sender ring exhausted');
    a.ring.bytes.fill(i & 0xff, a.ring.offset[slot]!, a.ring.offset[slot]! + size);
    a.ring.length[slot] = size;
    a.send(slot, { address: LOOPBACK, port: b.localPort });
  }
  a.flush?.();
}

/** Hold the event loop (so nothing is received) for `ms`. */
function hold(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // busy: the datagrams sit in the socket's queue meanwhile
  }
}

/** Wait until `b` has received `count` datagrams, recording receiveWaitMs for each. */
async function receiveWaits(b: Transport, count: number): Promise<number[]> {
  const waits: number[] = [];
  b.onReceive((slot) => {
    waits.push(b.receiveWaitMs ?? Number.NaN);
    b.ring.release(slot);
  });
  for (let i = 0; i < 2000 && waits.length < count; i++) await tick();
  return waits;
}

/**
 * Linux turns arrival stamping on for the whole stack (a static key) in a
 * deferred work item after the first socket asks; until it runs, a
 * datagram is stamped when it is received, and so seems not to have
 * waited. Wait (bounded) until a held datagram shows its wait.
 */
async function untilStamping(a: Transport, b: Transport): Promise<void> {
  for (let i = 0; i < 200; i++) {
    sendBurst(a, b, 1, 64);
    hold(2);
    const [w] = await receiveWaits(b, 1);
    if (w !== undefined && w >= 1.5) return;
  }
  throw new Error('the kernel never stamped a datagram on arrival');
}

describe('receiveWaitMs', () => {
  for (const gro of [false, true]) {
    it(`reports how long datagrams waited in the socket's queue (${gro ? 'UDP GRO runs' : 'plain batches'})`, async () => {
      const a = await BatchUdpTransport.open({ ring: new PacketRing({ slots: 128 }), port: 0, bindAddress: LOOPBACK, gso: gro });
      const b = await BatchUdpTransport.open({ ring: new PacketRing({ slots: 256 }), port: 0, bindAddress: LOOPBACK, gro });
      open.push(a, b);
      await untilStamping(a, b);
      sendBurst(a, b, 40, 1000);
      hold(30);
      const waits = await receiveWaits(b, 40);
      expect(waits).toHaveLength(40);
      // Every one of them sat in the queue for the 30 ms the loop was held (less a little clock skew between
      // the kernel's stamp and the wall clock read after the receive).
      for (const w of waits) expect(w).toBeGreaterThanOrEqual(29);
      // Read at once, a datagram has waited less than it did behind the held loop.
      sendBurst(a, b, 1, 100);
      const [fresh] = await receiveWaits(b, 1);
      expect(fresh).toBeGreaterThanOrEqual(0);
      expect(fresh).toBeLessThan(Math.min(...waits));
    });
  }

  it('is absent where the transport cannot tell (dgram): its datagrams count as not having waited', async () => {
    const d = await DgramTransport.open({ ring: new PacketRing({ slots: 8 }), port: 0, bindAddress: LOOPBACK });
    open.push(d);
    expect((d as Transport).receiveWaitMs).toBeUndefined();
  });
});

describe('receive budget under UDP GRO', () => {
  it('hands over a long queue in several readiness turns, so the other side of the loop gets its turn', async () => {
    const a = await BatchUdpTransport.open({ ring: new PacketRing({ slots: 256 }), port: 0, bindAddress: LOOPBACK, gso: true });
    const b = await BatchUdpTransport.open({ ring: new PacketRing({ slots: 512 }), port: 0, bindAddress: LOOPBACK, gro: true });
    open.push(a, b);
    // 2,000 datagrams queued at once: runs of 64 (one GSO message each), 32 of them.
    for (let i = 0; i < 2000; i += 100) sendBurst(a, b, 100, 1000);
    hold(20);
    const perTurn: number[] = [];
    let received = 0;
    b.onReceive((slot) => {
      received++;
      b.ring.release(slot);
    });
    for (let i = 0; i < 2000 && received < 2000; i++) {
      const before = received;
      await tick();
      if (received > before) perTurn.push(received - before);
    }
    expect(received).toBe(2000);
    // One receive brings up to 16 runs; after it the budget (256 datagrams) is spent and the rest waits a turn.
    expect(perTurn.length).toBeGreaterThan(1);
    expect(Math.max(...perTurn)).toBeLessThanOrEqual(16 * 64);
  });
});
