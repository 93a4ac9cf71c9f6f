import { describe, expect, it } from 'vitest';
import { DgramTransport, makeEndpoint } from '../../../src/transport/dgram-transport.ts';
import { transportContract } from './transport-contract.ts';

// Loopback only: both ends are sockets of this process on 127.0.0.1. The
// unit-async-udp project runs this file again with --test-udp-no-try-send.
transportContract<DgramTransport>({
  name: 'DgramTransport',
  open: (ring, port = 0) => DgramTransport.open({ ring, port, bindAddress: '127.0.0.1' }),
  endpointOf: (t) => makeEndpoint('127.0.0.1', t.localPort),
  addressOf: () => '127.0.0.1',
  // The FIFO of in-flight slots drains with the completions.
  expectIdle: (t) => expect(t.inFlightCount).toBe(0),
  sendAfterCloseIsError: true,
  portInUse: true,
});

describe('makeEndpoint', () => {
  it('validates endpoints: IP literals and ports only', () => {
    expect(makeEndpoint('10.0.0.1', 8472)).toEqual({ address: '10.0.0.1', port: 8472 });
    expect(makeEndpoint('fd00::1', 51820).address).toBe('fd00::1');
    expect(() => makeEndpoint('example.com', 1)).toThrow(/IPv4 or IPv6 literal/);
    expect(() => makeEndpoint('10.0.0.1', 0)).toThrow(/1 to 65535/);
    expect(() => makeEndpoint('10.0.0.1', 70000, 'peer node-2 endpoint')).toThrow(/peer node-2 endpoint port/);
  });
});
