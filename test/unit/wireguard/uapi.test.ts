import { describe, expect, it } from 'vitest';
import { formatCidr, parseCidr } from '../../../src/wire/addr.ts';
import { EINVAL, EPROTO, formatGet, parseSet } from '../../../src/wireguard/uapi.ts';

const K1 = 'aa'.repeat(32);
const K2 = 'bb'.repeat(32);

describe('UAPI get', () => {
  it('formats the device and its peers in the protocol order, ending with errno=0 and a blank line', () => {
    const text = formatGet({
      privateKey: new Uint8Array(32).fill(0xaa),
      listenPort: 51820,
      fwmark: 0,
      peers: [
        {
          publicKey: new Uint8Array(32).fill(0xbb),
          presharedKey: undefined,
          endpoint: { address: 'fd00::2', port: 51821 },
          lastHandshakeMs: 1_700_000_000_250,
          txBytes: 10,
          rxBytes: 20,
          persistentKeepalive: 0,
          allowedIps: [parseCidr('10.244.2.0/24')],
        },
      ],
    });
    expect(text).toBe(
      [
        `private_key=${K1}`,
        'listen_port=51820',
        `public_key=${K2}`,
        'protocol_version=1',
        'endpoint=[fd00::2]:51821',
        'last_handshake_time_sec=1700000000',
        'last_handshake_time_nsec=250000000',
        'tx_bytes=10',
        'rx_bytes=20',
        'persistent_keepalive_interval=0',
        'allowed_ip=10.244.2.0/24',
        'errno=0',
        '',
        '',
      ].join('\n'),
    );
  });
});

describe('UAPI set', () => {
  it('parses device and peer keys into one change', () => {
    const r = parseSet([`private_key=${K1}`, 'listen_port=1234', 'replace_peers=true', `public_key=${K2}`, 'replace_allowed_ips=true', 'allowed_ip=10.0.0.1/8', 'endpoint=192.0.2.1:9', 'protocol_version=1']);
    if (!('change' in r)) throw new Error(r.reason);
    expect(r.change.listenPort).toBe(1234);
    expect(r.change.replacePeers).toBe(true);
    expect(r.change.peers[0]!.replaceAllowedIps).toBe(true);
    expect(r.change.peers[0]!.allowedIps.map(formatCidr)).toEqual(['10.0.0.0/8']);
    expect(r.change.peers[0]!.endpoint).toEqual({ address: '192.0.2.1', port: 9 });
  });

  const bad: Array<[string[], number, RegExp]> = [
    [['nonsense'], EINVAL, /malformed line/],
    [['private_key=xyz'], EINVAL, /private_key must be 64 hex digits/],
    [['listen_port=65536'], EINVAL, /listen_port/],
    [['endpoint=192.0.2.1:9'], EINVAL, /unknown device key "endpoint"/],
    [[`public_key=${K2}`, 'endpoint=host.example:9'], EINVAL, /endpoint "host.example:9"/],
    [[`public_key=${K2}`, 'allowed_ip=10.0.0.0/40'], EINVAL, /allowed_ip/],
    [[`public_key=${K2}`, 'protocol_version=2'], EPROTO, /protocol_version 2/],
    [[`public_key=${K2}`, 'colour=blue'], EINVAL, /unknown peer key "colour"/],
  ];
  for (const [lines, errno, reason] of bad) {
    it(`answers errno ${errno} to ${lines.at(-1)}`, () => {
      const r = parseSet(lines);
      expect('errno' in r && r.errno).toBe(errno);
      expect('reason' in r && r.reason).toMatch(reason);
    });
  }
});
