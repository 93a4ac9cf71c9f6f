import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isWeftError } from '../../../src/errors.ts';
import { IDENTITY_FILE, loadOrCreateIdentity } from '../../../src/gossip/identity.ts';
import { signingPublicKey } from '../../../src/gossip/record.ts';
import { UdpGossipTransport } from '../../../src/gossip/udp-transport.ts';

const dirs: string[] = [];
const closers: (() => void)[] = [];
afterEach(() => {
  for (const c of closers.splice(0)) c();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('node identity', () => {
  it('is created once with mode 0600 and loaded the same afterwards', () => {
    const dir = mkdtempSync(join(tmpdir(), 'weft-id-'));
    dirs.push(dir);
    const a = loadOrCreateIdentity(join(dir, 'state'));
    const b = loadOrCreateIdentity(join(dir, 'state'));
    expect(b.secretKey).toEqual(a.secretKey);
    expect(b.publicKey).toEqual(signingPublicKey(a.secretKey));
    expect(statSync(join(dir, 'state', IDENTITY_FILE)).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(dir, 'state', IDENTITY_FILE), 'utf8')).toMatch(/^[A-Za-z0-9+/]{43}=\n$/);
  });

  it('refuses a damaged key file instead of silently replacing the identity', () => {
    const dir = mkdtempSync(join(tmpdir(), 'weft-id-'));
    dirs.push(dir);
    writeFileSync(join(dir, IDENTITY_FILE), 'not a key\n');
    try {
      loadOrCreateIdentity(dir);
      expect.unreachable();
    } catch (err) {
      expect(isWeftError(err, 'KEY_INVALID')).toBe(true);
    }
  });
});

describe('UdpGossipTransport (loopback only)', () => {
  it('sends and receives datagrams on 127.0.0.1 and closes cleanly', async () => {
    const a = await UdpGossipTransport.bind('127.0.0.1', 0);
    closers.push(() => a.close());
    const b = await UdpGossipTransport.bind('127.0.0.1', 0);
    closers.push(() => b.close());
    const got = new Promise<{ bytes: Uint8Array; port: number }>((resolve) => b.onMessage((bytes, _addr, port) => resolve({ bytes, port })));
    a.send('127.0.0.1', b.port, Uint8Array.of(1, 2, 3));
    const r = await got;
    expect(Array.from(r.bytes)).toEqual([1, 2, 3]);
    expect(r.port).toBe(a.port);
    await expect(UdpGossipTransport.bind('127.0.0.1', b.port)).rejects.toMatchObject({ code: 'PORT_IN_USE' });
  });
});
