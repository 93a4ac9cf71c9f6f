/**
 * The behaviour every Transport shares (src/transport/transport.ts), written
 * once: each transport's test file calls transportContract() with a harness
 * that opens its kind of transport, and keeps only what is its own.
 *
 * Covered here: datagrams arrive byte for byte from the sender's address and
 * port; send() releases every slot once the datagram has left; the receiver
 * counts (and does not deliver) a datagram larger than a slot and one that
 * finds the ring empty; a send after close() releases its slot and reaches
 * nobody; the byte and packet counters add up.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { PacketRing } from '../../../src/buf/packet-ring.ts';
import { isWeftError } from '../../../src/errors.ts';
import type { Transport, UdpEndpoint } from '../../../src/transport/transport.ts';
import { rejectionOf } from '../../helpers/errors.ts';

export interface TransportHarness<T extends Transport = Transport> {
  readonly name: string;
  /** A new transport on `ring`, on a fresh endpoint (or on `port` when given). */
  open(ring: PacketRing, port?: number): Promise<T>;
  /** Where to send so that `t` receives. */
  endpointOf(t: T): UdpEndpoint;
  /** The address a receiver sees `t`'s datagrams come from. */
  addressOf(t: T): string;
  /** After an exchange: whatever the transport still holds (queued, in flight) is empty. */
  expectIdle?(t: T): void;
  /** The transport counts a send after close() in sendErrors and releases its slot at once. */
  readonly sendAfterCloseIsError: boolean;
  /** Binding a port that is taken fails with PORT_IN_USE (transports on real sockets). */
  readonly portInUse: boolean;
  /** How the PORT_IN_USE message names the bound address and port; default `127.0.0.1:<port>`. */
  bindText?(port: number): string;
  /** Called after each test, once every transport it opened is closed. */
  reset?(): void;
}

export function tick(): Promise<void> {
  return new Promise((r) => setImmediate(r));
}

/** Payload length of datagram `seq` when sizes vary without a pattern. */
export function varied(seq: number): number {
  return 64 + (seq % 1300);
}

export interface ExchangeOptions {
  /** Length of datagram `seq`; default varied(). */
  lengthOf?: (seq: number) => number;
  /** Yield to the event loop after this many sends so the receiver can drain; default 128. */
  yieldEvery?: number;
  /** Where the receiver sees the datagrams come from; default 127.0.0.1. */
  fromAddress?: string;
  /** Where to send; default 127.0.0.1 at b's port. */
  to?: UdpEndpoint;
}

/**
 * Send `total` numbered datagrams from `a` to `b` and check each arrives
 * intact, from a's address and port, and that every slot on both sides comes
 * back. Payload of datagram `seq`: the sequence number, then (len - 4) bytes
 * of (seq + i) & 0xff. Transports may be reused across exchanges: counters
 * are compared as deltas.
 */
export async function exchange(a: Transport, b: Transport, total: number, options: ExchangeOptions = {}): Promise<void> {
  const lengthOf = options.lengthOf ?? varied;
  const yieldEvery = options.yieldEvery ?? 128;
  const fromAddress = options.fromAddress ?? '127.0.0.1';
  const to = options.to ?? { address: '127.0.0.1', port: b.localPort };
  const sendRing = a.ring;
  const recvRing = b.ring;
  const seen = new Uint8Array(total);
  let corrupt = 0;
  const sent0 = a.stats.sentPackets;
  const errors0 = a.stats.sendErrors;
  const received0 = b.stats.receivedPackets;
  b.onReceive((slot, from, fromPort) => {
    const off = recvRing.offset[slot]!;
    const len = recvRing.length[slot]!;
    const seq = recvRing.view.getUint32(off);
    let ok = seq < total && len === lengthOf(seq) && from === fromAddress && fromPort === a.localPort;
    for (let i = 4; ok && i < len; i++) ok = recvRing.bytes[off + i] === ((seq + i) & 0xff);
    if (!ok) corrupt++;
    else seen[seq] = 1;
    recvRing.release(slot);
  });
  const deadline = Date.now() + 20_000;
  for (let seq = 0; seq < total && Date.now() < deadline; ) {
    const slot = sendRing.acquire();
    if (slot < 0) {
      await tick(); // every slot is queued or in flight: wait for completions
      continue;
    }
    const off = sendRing.offset[slot]!;
    const len = lengthOf(seq);
    sendRing.view.setUint32(off, seq);
    for (let i = 4; i < len; i++) sendRing.bytes[off + i] = (seq + i) & 0xff;
    sendRing.length[slot] = len;
    a.send(slot, to);
    seq++;
    if (seq % yieldEvery === 0) await tick(); // let the receiver drain so loopback does not drop
  }
  a.flush?.();
  const count = () => seen.reduce((s, v) => s + v, 0);
  for (let i = 0; i < 2000 && count() < total; i++) await tick();
  expect(corrupt).toBe(0);
  const received = count();
  expect(received).toBeGreaterThan(total * 0.99); // loopback UDP may still drop a few under load
  expect(b.stats.receivedPackets - received0).toBe(received);
  expect(a.stats.sentPackets - sent0).toBe(total);
  expect(a.stats.sendErrors - errors0).toBe(0);
  for (let i = 0; i < 100 && sendRing.free < sendRing.slotCount; i++) await tick();
  expect(sendRing.free).toBe(sendRing.slotCount); // every sent slot came back
  expect(recvRing.free).toBe(recvRing.slotCount); // and every received one
}

/** Fill a slot of `ring` with `len` bytes of `fill` and return it. */
function filled(ring: PacketRing, len: number, fill = 0): number {
  const s = ring.acquire();
  ring.bytes.fill(fill, ring.offset[s]!, ring.offset[s]! + len);
  ring.length[s] = len;
  return s;
}

export function transportContract<T extends Transport>(h: TransportHarness<T>): void {
  describe(`${h.name}: the Transport contract`, () => {
    const open: T[] = [];
    const transport = async (ring: PacketRing, port?: number): Promise<T> => {
      const t = await h.open(ring, port);
      open.push(t);
      return t;
    };
    afterEach(async () => {
      await Promise.all(open.splice(0).map((t) => t.close()));
      h.reset?.();
    });

    it('delivers every datagram intact while a tiny ring forces constant slot reuse', async () => {
      const a = await transport(new PacketRing({ slots: 4 }));
      const b = await transport(new PacketRing({ slots: 64 }));
      await exchange(a, b, 5000, {
        lengthOf: (seq) => 64 + (seq % 1000),
        yieldEvery: 32,
        fromAddress: h.addressOf(a),
        to: h.endpointOf(b),
      });
      h.expectIdle?.(a);
    });

    it('drops and counts datagrams larger than a slot and when the ring is full', async () => {
      const recvRing = new PacketRing({ slots: 1, capacity: 600 });
      const b = await transport(recvRing);
      const sendRing = new PacketRing({ slots: 8 });
      const a = await transport(sendRing);
      let got = 0;
      b.onReceive((_slot, from, port) => {
        expect(from).toBe(h.addressOf(a));
        expect(port).toBe(a.localPort);
        got++; // keep the only slot: later datagrams find the ring full
      });
      const to = h.endpointOf(b);
      const lengths = [601, 100, 100, 100];
      for (let k = 0; k < lengths.length; k++) {
        a.send(filled(sendRing, lengths[k]!), to);
        a.flush?.();
        for (let i = 0; i < 200 && b.stats.droppedOversize + b.stats.droppedRingFull + got < k + 1; i++) await tick();
        for (let i = 0; i < 20; i++) await tick();
      }
      expect(b.stats.droppedOversize).toBe(1);
      expect(got).toBe(1);
      expect(b.stats.droppedRingFull).toBe(2);
      expect(b.stats.receivedPackets).toBe(1);
      expect(recvRing.free).toBe(0); // the handler still owns it
      expect(sendRing.free).toBe(8);
    });

    it('counts packets and bytes both ways', async () => {
      const a = await transport(new PacketRing({ slots: 8 }));
      const b = await transport(new PacketRing({ slots: 8 }));
      const got: number[][] = [];
      b.onReceive((slot) => {
        got.push(Array.from(b.ring.packetOf(slot)));
        b.ring.release(slot);
      });
      for (const len of [10, 20, 30]) a.send(filled(a.ring, len, len), h.endpointOf(b));
      a.flush?.();
      for (let i = 0; i < 200 && got.length < 3; i++) await tick();
      expect(got).toEqual([10, 20, 30].map((len) => new Array<number>(len).fill(len)));
      expect(a.stats).toMatchObject({ sentPackets: 3, sentBytes: 60, sendErrors: 0, receivedPackets: 0 });
      expect(b.stats).toMatchObject({ receivedPackets: 3, receivedBytes: 60, droppedRingFull: 0, droppedOversize: 0, sentPackets: 0 });
    });

    it('releases the slot of a send after close instead of leaking it, and delivers nothing', async () => {
      const b = await transport(new PacketRing({ slots: 2 }));
      let got = 0;
      b.onReceive((slot) => {
        got++;
        b.ring.release(slot);
      });
      const ring = new PacketRing({ slots: 2 });
      const a = await transport(ring);
      await a.close();
      await a.close(); // idempotent
      a.send(filled(ring, 10), h.endpointOf(b));
      if (h.sendAfterCloseIsError) {
        expect(ring.free).toBe(2);
        expect(a.stats.sendErrors).toBe(1);
      }
      for (let i = 0; i < 20; i++) await tick();
      expect(ring.free).toBe(2);
      expect(got).toBe(0);
    });

    if (h.portInUse) {
      it('reports a port in use with a clear error', async () => {
        const a = await transport(new PacketRing({ slots: 2 }));
        const caught = await rejectionOf(transport(new PacketRing({ slots: 2 }), a.localPort));
        expect(isWeftError(caught, 'PORT_IN_USE')).toBe(true);
        const where = h.bindText?.(a.localPort) ?? `127.0.0.1:${a.localPort}`;
        expect(String((caught as Error).message)).toContain(`${where} is already in use`);
      });
    }
  });
}
