import { describe, expect, it } from 'vitest';
import { encodeKey } from '../../../src/crypto/keys.ts';
import { publicKey } from '../../../src/crypto/x25519.ts';
import { isWeftError } from '../../../src/errors.ts';
import { formatCidr } from '../../../src/wire/addr.ts';
import { parseWgConf } from '../../../src/wireguard/conf.ts';

// RFC 7748 section 6.1: Alice's private key, whose public key is known.
const alicePriv = Buffer.from('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a', 'hex');
const alicePub = Buffer.from('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a', 'hex');
const bobPub = Buffer.from('de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f', 'hex');
const psk = new Uint8Array(32).fill(7);

const full = `# a wg-quick file
[Interface]
PrivateKey = ${encodeKey(alicePriv)}
ListenPort = 51820
Address = 10.77.0.1/24, fd77::1/64
MTU = 1420
DNS = 10.77.0.53

[Peer]
# bob
PublicKey = ${encodeKey(bobPub)}
PresharedKey = ${encodeKey(psk)}
AllowedIPs = 10.77.0.2/32, 10.244.2.0/24
AllowedIPs = fd77::2
Endpoint = [fd00::2]:51820
PersistentKeepalive = 25

[peer]
publickey = ${encodeKey(alicePub)}
allowedips = 10.244.3.7/24
endpoint = 192.168.50.3:51821
persistentkeepalive = off
`;

function errorOf(text: string): string {
  try {
    parseWgConf(text, 'wg0.conf');
  } catch (err) {
    expect(isWeftError(err, 'CONFIG_INVALID') || isWeftError(err, 'KEY_INVALID')).toBe(true);
    return (err as Error).message;
  }
  throw new Error('expected an error');
}

describe('parseWgConf', () => {
  it('reads a wg-quick file: keys, port, addresses, MTU, peers, accumulating AllowedIPs', () => {
    const c = parseWgConf(full);
    expect(Buffer.from(c.privateKey)).toEqual(alicePriv);
    expect(Buffer.from(c.publicKey)).toEqual(Buffer.from(publicKey(alicePriv)));
    expect(Buffer.from(c.publicKey)).toEqual(alicePub);
    expect(c.listenPort).toBe(51820);
    expect(c.addresses).toEqual(['10.77.0.1/24', 'fd77::1/64']);
    expect(c.mtu).toBe(1420);
    expect(c.ignored).toEqual(['DNS']);
    expect(c.peers).toHaveLength(2);
    const [bob, other] = c.peers;
    expect(Buffer.from(bob!.publicKey)).toEqual(bobPub);
    expect(Array.from(bob!.presharedKey!)).toEqual(Array.from(psk));
    expect(bob!.allowedIps.map(formatCidr)).toEqual(['10.77.0.2/32', '10.244.2.0/24', 'fd77::2/128']);
    expect(bob!.endpoint).toEqual({ address: 'fd00::2', port: 51820 });
    expect(bob!.persistentKeepalive).toBe(25);
    // Host bits are masked as wg masks them; keys are case-insensitive; "off" is 0.
    expect(other!.allowedIps.map(formatCidr)).toEqual(['10.244.3.0/24']);
    expect(other!.endpoint).toEqual({ address: '192.168.50.3', port: 51821 });
    expect(other!.persistentKeepalive).toBe(0);
    expect(other!.presharedKey).toBeUndefined();
  });

  const cases: Array<[string, string, RegExp]> = [
    ['no private key', '[Interface]\nListenPort = 1\n', /wg0.conf: \[Interface\] needs a PrivateKey \(make one with: weft genkey\)/],
    ['a short key', `[Interface]\nPrivateKey = abc=\n`, /wg0.conf line 2: PrivateKey must be 32 bytes in base64/],
    ['a key outside a section', `PrivateKey = ${encodeKey(alicePriv)}\n`, /line 1: "PrivateKey" before any \[Interface\]/],
    ['an unknown section', `[Interfaces]\n`, /line 1: unknown section \[Interfaces\]/],
    ['two interfaces', `[Interface]\nPrivateKey = ${encodeKey(alicePriv)}\n[Interface]\n`, /line 3: a second \[Interface\] section/],
    ['an unknown key', `[Interface]\nPrivateKey = ${encodeKey(alicePriv)}\nListenPorts = 1\n`, /line 3: unknown \[Interface\] key "ListenPorts"; known: PrivateKey/],
    ['a bad port', `[Interface]\nPrivateKey = ${encodeKey(alicePriv)}\nListenPort = 70000\n`, /line 3: ListenPort must be an integer from 0 to 65535, got "70000"/],
    ['a line without =', `[Interface]\nPrivateKey\n`, /line 2: expected "Key = Value", got "PrivateKey"/],
    ['a peer without a key', `[Interface]\nPrivateKey = ${encodeKey(alicePriv)}\n[Peer]\nAllowedIPs = 10.0.0.0/8\n`, /line 3: \[Peer\] needs a PublicKey/],
    ['a duplicate peer', `[Interface]\nPrivateKey = ${encodeKey(alicePriv)}\n[Peer]\nPublicKey = ${encodeKey(bobPub)}\n[Peer]\nPublicKey = ${encodeKey(bobPub)}\n`, /line 5: the same PublicKey appears in two \[Peer\] sections/],
    ['a bad prefix', `[Interface]\nPrivateKey = ${encodeKey(alicePriv)}\n[Peer]\nPublicKey = ${encodeKey(bobPub)}\nAllowedIPs = 10.0.0.0/33\n`, /line 5: AllowedIPs entry "10.0.0.0\/33" is not an IP prefix/],
    ['a host-name endpoint', `[Interface]\nPrivateKey = ${encodeKey(alicePriv)}\n[Peer]\nPublicKey = ${encodeKey(bobPub)}\nEndpoint = vpn.example.com:51820\n`, /line 5: Endpoint "vpn.example.com:51820": weft takes IP addresses, not host names/],
    ['an unbracketed IPv6 endpoint', `[Interface]\nPrivateKey = ${encodeKey(alicePriv)}\n[Peer]\nPublicKey = ${encodeKey(bobPub)}\nEndpoint = fd00::2:51820\n`, /line 5: Endpoint "fd00::2:51820" must be address:port, with IPv6 in brackets/],
  ];
  for (const [what, text, message] of cases) {
    it(`rejects ${what}, naming the line`, () => {
      expect(errorOf(text)).toMatch(message);
    });
  }
});
