/**
 * The gossip UDP transport (src/gossip/udp-transport.ts) on IPv6, loopback
 * only: ::1, and ::ffff:127.0.0.1 for a udp6 socket that gossips with IPv4
 * members. Its IPv4 behaviour is tested beside the node identity
 * (test/unit/gossip/identity-transport.test.ts).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { UdpGossipTransport } from '../../../src/gossip/udp-transport.ts';

const closers: (() => void)[] = [];
afterEach(() => {
  for (const c of closers.splice(0)) c();
});

async function bind(address: string, port = 0): Promise<UdpGossipTransport> {
  const t = await UdpGossipTransport.bind(address, port);
  closers.push(() => t.close());
  return t;
}

function next(t: UdpGossipTransport): Promise<{ bytes: number[]; address: string; port: number }> {
  return new Promise((resolve) => t.onMessage((bytes, address, port) => resolve({ bytes: Array.from(bytes), address, port })));
}

describe('UdpGossipTransport on IPv6 (loopback only)', () => {
  it('binds ::1, sends and receives, and names the sender ::1', async () => {
    const a = await bind('::1');
    const b = await bind('::1');
    const got = next(b);
    a.send('::1', b.port, Uint8Array.of(6, 6));
    expect(await got).toEqual({ bytes: [6, 6], address: '::1', port: a.port });
    await expect(UdpGossipTransport.bind('::1', b.port)).rejects.toMatchObject({
      code: 'PORT_IN_USE',
      message: expect.stringContaining(`[::1]:${b.port}`) as unknown as string,
    });
  });

  it('a udp6 socket gossips with an IPv4 member and names it in dotted text both ways', async () => {
    const six = await bind('::ffff:127.0.0.1');
    const four = await bind('127.0.0.1');
    let got = next(four);
    six.send('127.0.0.1', four.port, Uint8Array.of(4));
    expect(await got).toEqual({ bytes: [4], address: '127.0.0.1', port: six.port });
    got = next(six);
    four.send('127.0.0.1', six.port, Uint8Array.of(5));
    expect(await got).toEqual({ bytes: [5], address: '127.0.0.1', port: four.port });
  });

  it('counts a send to the other family from an IPv4 socket instead of throwing', async () => {
    const four = await bind('127.0.0.1');
    four.send('::1', 9, Uint8Array.of(1));
    for (let i = 0; i < 50 && four.stats.sendErrors === 0; i++) await new Promise((r) => setImmediate(r));
    expect(four.stats.sendErrors).toBe(1);
  });
});
