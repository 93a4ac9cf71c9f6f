import { afterEach, describe, expect, it } from 'vitest';
import { PacketRing } from '../../../src/buf/packet-ring.ts';
import { DgramTransport, makeEndpoint } from '../../../src/transport/dgram-transport.ts';
import { isWeftError } from '../../../src/errors.ts';

// Loopback only: both ends are sockets of this process on 127.0.0.1.
const open: DgramTransport[] = [];
async function transport(ring: PacketRing, port = 0): Promise<DgramTransport> {
  const t = await DgramTransport.open({ ring, port, bindAddress: '127.0.0.1' });
  open.push(t);
  return t;
}
afterEach(async () => {
  await Promise.all(open.splice(0).map((t) => t.close()));
});

function tick(): Promise<void> {
  return new Promise((r) => setImmediate(r));
}

describe('DgramTransport', () => {
  it('delivers every datagram intact while a tiny ring forces constant slot reuse', async () => {
    const sendRing = new PacketRing({ slots: 4 });
    const recvRing = new PacketRing({ slots: 64 });
    const a = await transport(sendRing);
    const b = await transport(recvRing);
    const to = makeEndpoint('127.0.0.1', b.localPort);
    const total = 5000;
    const seen = new Uint8Array(total);
    let corrupt = 0;
    b.onReceive((slot, fromAddress, fromPort) => {
      const off = recvRing.offset[slot]!;
      const len = recvRing.length[slot]!;
      const seq = recvRing.view.getUint32(off);
      // Payload: the sequence number, then (len - 4) bytes of (seq + i) & 0xff.
      let ok = len === 64 + (seq % 1000) && fromAddress === '127.0.0.1' && fromPort === a.localPort;
      for (let i = 4; ok && i < len; i++) ok = recvRing.bytes[off + i] === ((seq + i) & 0xff);
      if (!ok || seq >= total) corrupt++;
      else seen[seq] = 1;
      recvRing.release(slot);
    });
    const deadline = Date.now() + 20_000;
    for (let seq = 0; seq < total && Date.now() < deadline; ) {
      const slot = sendRing.acquire();
      if (slot < 0) {
        await tick(); // every slot is in flight: wait for completions
        continue;
      }
      const off = sendRing.offset[slot]!;
      const len = 64 + (seq % 1000);
      sendRing.view.setUint32(off, seq);
      for (let i = 4; i < len; i++) sendRing.bytes[off + i] = (seq + i) & 0xff;
      sendRing.length[slot] = len;
      a.send(slot, to);
      seq++;
      if (seq % 32 === 0) await tick(); // let the receiver drain so loopback does not drop
    }
    for (let i = 0; i < 2000 && seen.reduce((s, v) => s + v, 0) < total; i++) await tick();
    expect(corrupt).toBe(0);
    const received = seen.reduce((s, v) => s + v, 0);
    expect(received).toBeGreaterThan(total * 0.99); // loopback UDP can still drop a few under load
    for (let i = 0; i < 100 && sendRing.free < 4; i++) await tick();
    expect(sendRing.free).toBe(4); // every slot came back
    expect(a.inFlightCount).toBe(0);
    expect(a.stats.sentPackets).toBe(total);
    expect(b.stats.receivedPackets).toBe(received);
  });

  it('drops and counts datagrams larger than a slot and when the ring is full', async () => {
    const recvRing = new PacketRing({ slots: 1, capacity: 600 });
    const b = await transport(recvRing);
    const sendRing = new PacketRing({ slots: 8 });
    const a = await transport(sendRing);
    let got = 0;
    b.onReceive(() => {
      got++; // keep the only slot: the next datagram finds the ring full
    });
    const to = makeEndpoint('127.0.0.1', b.localPort);
    for (const len of [601, 100, 100]) {
      const s = sendRing.acquire();
      sendRing.length[s] = len;
      a.send(s, to);
      for (let i = 0; i < 200 && b.stats.droppedOversize + b.stats.droppedRingFull + got < 1; i++) await tick();
      for (let i = 0; i < 50; i++) await tick();
    }
    expect(b.stats.droppedOversize).toBe(1);
    expect(got).toBe(1);
    expect(b.stats.droppedRingFull).toBe(1);
  });

  it('releases the slot of a send after close instead of leaking it', async () => {
    const ring = new PacketRing({ slots: 2 });
    const a = await transport(ring);
    await a.close();
    const s = ring.acquire();
    ring.length[s] = 10;
    a.send(s, makeEndpoint('127.0.0.1', 9));
    expect(ring.free).toBe(2);
    expect(a.stats.sendErrors).toBe(1);
  });

  it('reports a port in use with a clear error', async () => {
    const a = await transport(new PacketRing({ slots: 2 }));
    let caught: unknown;
    try {
      await transport(new PacketRing({ slots: 2 }), a.localPort);
    } catch (err) {
      caught = err;
    }
    expect(isWeftError(caught, 'PORT_IN_USE')).toBe(true);
    expect(String((caught as Error).message)).toContain(`127.0.0.1:${a.localPort} is already in use`);
  });

  it('validates endpoints: IP literals and ports only', () => {
    expect(makeEndpoint('10.0.0.1', 8472)).toEqual({ address: '10.0.0.1', port: 8472 });
    expect(makeEndpoint('fd00::1', 51820).address).toBe('fd00::1');
    expect(() => makeEndpoint('example.com', 1)).toThrow(/IPv4 or IPv6 literal/);
    expect(() => makeEndpoint('10.0.0.1', 0)).toThrow(/1 to 65535/);
    expect(() => makeEndpoint('10.0.0.1', 70000, 'peer node-2 endpoint')).toThrow(/peer node-2 endpoint port/);
  });
});
