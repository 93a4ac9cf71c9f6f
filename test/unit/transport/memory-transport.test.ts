import { describe, expect, it } from 'vitest';
import { PacketRing } from '../../../src/buf/packet-ring.ts';
import { MemoryNetwork, type MemoryTransport } from '../../../src/transport/memory-transport.ts';
import { transportContract } from './transport-contract.ts';

// One network per test; each transport attaches under the next address.
let net = new MemoryNetwork();
let hosts = 0;
transportContract<MemoryTransport>({
  name: 'MemoryTransport',
  open: (ring) => Promise.resolve(net.attach(ring, `192.0.2.${++hosts}`, 8472)),
  endpointOf: (t) => ({ address: t.address, port: t.localPort }),
  addressOf: (t) => t.address,
  // A send after close still "leaves" (a microtask later) but reaches nobody.
  sendAfterCloseIsError: false,
  portInUse: false,
  reset: () => {
    net = new MemoryNetwork();
    hosts = 0;
  },
});

describe('MemoryNetwork', () => {
  it('delivers a copy into the receiver ring and releases the sender slot a microtask later', async () => {
    const net = new MemoryNetwork();
    const ra = new PacketRing({ slots: 2 });
    const rb = new PacketRing({ slots: 2 });
    const a = net.attach(ra, '192.0.2.1', 8472);
    const b = net.attach(rb, '192.0.2.2', 8472);
    const got: Array<[number[], string, number]> = [];
    b.onReceive((slot, addr, port) => {
      got.push([Array.from(rb.packetOf(slot)), addr, port]);
      rb.release(slot);
    });
    const s = ra.acquire();
    ra.bytes.set([1, 2, 3], ra.offset[s]!);
    ra.length[s] = 3;
    a.send(s, { address: '192.0.2.2', port: 8472 });
    expect(ra.free).toBe(1); // in flight until the microtask runs
    await Promise.resolve();
    await Promise.resolve();
    expect(ra.free).toBe(2);
    expect(got).toEqual([[[1, 2, 3], '192.0.2.1', 8472]]);
    expect(rb.free).toBe(2);
  });

  it('loses datagrams at the configured rate, deterministically', async () => {
    const net = new MemoryNetwork();
    let x = 1;
    net.random = () => ((x = (x * 48271) % 2147483647) / 2147483647);
    net.lossRate = 0.25;
    const ra = new PacketRing({ slots: 1024 });
    const rb = new PacketRing({ slots: 1024 });
    const a = net.attach(ra, '192.0.2.1', 1);
    const b = net.attach(rb, '192.0.2.2', 1);
    let n = 0;
    b.onReceive((slot) => {
      n++;
      rb.release(slot);
    });
    for (let i = 0; i < 1000; i++) {
      const s = ra.acquire();
      ra.length[s] = 1;
      a.send(s, { address: '192.0.2.2', port: 1 });
    }
    await new Promise((r) => setImmediate(r));
    expect(n + net.lost).toBe(1000);
    expect(net.lost).toBeGreaterThan(180);
    expect(net.lost).toBeLessThan(320);
  });
});
