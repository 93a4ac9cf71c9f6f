/**
 * Every socket and file weft creates has its mode set explicitly: under
 * `umask 000` (the worst case) the modes are exactly the intended ones, so
 * no local user can read a private key through the UAPI socket (get=1) or
 * the key file, or rewrite subnet.env.
 */
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveControl } from '../../../src/cli/control.ts';
import { saveGeneratedKey, writeFileExact, writeSubnetEnv } from '../../../src/cli/node-files.ts';
import { generateKeyText } from '../../../src/crypto/keys.ts';
import { isWeftError } from '../../../src/errors.ts';
import { IDENTITY_FILE, loadOrCreateIdentity } from '../../../src/gossip/identity.ts';
import { leasePath, writeLease } from '../../../src/ipam/lease-file.ts';
import { makeDirs } from '../../../src/transport/unix-socket.ts';
import { parseCidr } from '../../../src/wire/addr.ts';
import { UapiServer } from '../../../src/wireguard/uapi-server.ts';

const modeOf = (path: string) => lstatSync(path).mode & 0o7777;

describe('modes under umask 000', () => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-modes-'));
  let umask = 0;
  beforeAll(() => {
    umask = process.umask(0);
  });
  afterAll(() => {
    process.umask(umask);
    rmSync(dir, { recursive: true, force: true });
  });

  it('the control socket is 0600 and the directories made for it 0755', async () => {
    const path = join(dir, 'run', 'weft', 'node-a.sock');
    const server = await serveControl(path, { status: () => ({}) });
    try {
      expect(lstatSync(path).isSocket()).toBe(true);
      expect(modeOf(path).toString(8)).toBe('600');
      expect(modeOf(join(dir, 'run', 'weft')).toString(8)).toBe('755');
      expect(modeOf(join(dir, 'run')).toString(8)).toBe('755');
    } finally {
      await server.close();
    }
    expect(() => lstatSync(path)).toThrow(/ENOENT/u);
    // The umask is what it was: listening restores it.
    expect(process.umask(0)).toBe(0);
  });

  it('the UAPI socket is 0700 (as wireguard-go makes it) in a 0755 directory', async () => {
    const uapiDir = join(dir, 'wireguard');
    const server = await UapiServer.listen('wgm0', { state: () => ({ privateKey: new Uint8Array(32), listenPort: 1, fwmark: 0, peers: [] }), apply: () => 0 }, uapiDir);
    try {
      expect(modeOf(join(uapiDir, 'wgm0.sock')).toString(8)).toBe('700');
      expect(modeOf(uapiDir).toString(8)).toBe('755');
    } finally {
      await server.close();
    }
  });

  it('a generated WireGuard key is 0600 in a 0700 state directory, and never overwrites a key', () => {
    const stateDir = join(dir, 'state', 'node-a');
    const file = join(stateDir, 'wireguard.key');
    saveGeneratedKey(file, generateKeyText());
    expect(modeOf(file).toString(8)).toBe('600');
    expect(modeOf(stateDir).toString(8)).toBe('700');
    expect(modeOf(join(dir, 'state')).toString(8)).toBe('700');
    expect(() => saveGeneratedKey(file, generateKeyText())).toThrow(/EEXIST/u);
  });

  it('subnet.env is 0644 in a 0755 directory, replaced atomically, and removed by its undo', () => {
    const path = join(dir, 'flannel', 'subnet.env');
    // A leftover temporary file of a crashed run with our pid, world-writable: its mode must not survive.
    mkdirSync(join(dir, 'flannel'));
    chmodSync(join(dir, 'flannel'), 0o755);
    writeFileSync(`${path}.${process.pid}.tmp`, 'old', { mode: 0o666 });
    const remove = writeSubnetEnv(path, 'FLANNEL_MTU=1450\n');
    expect(modeOf(path).toString(8)).toBe('644');
    remove();
    expect(() => statSync(path)).toThrow(/ENOENT/u);
    const fresh = join(dir, 'fresh', 'flannel', 'subnet.env');
    writeSubnetEnv(fresh, 'x\n');
    expect(modeOf(fresh).toString(8)).toBe('644');
    expect(modeOf(join(dir, 'fresh', 'flannel')).toString(8)).toBe('755');
  });

  it('the gossip identity is 0600 in a 0700 directory, the subnet lease 0644', () => {
    const stateDir = join(dir, 'gossip-state');
    loadOrCreateIdentity(stateDir);
    expect(modeOf(join(stateDir, IDENTITY_FILE)).toString(8)).toBe('600');
    expect(modeOf(stateDir).toString(8)).toBe('700');
    writeLease(leasePath(stateDir), { cluster: parseCidr('10.244.0.0/16'), subnet: parseCidr('10.244.1.0/24'), claimedAt: 1 });
    expect(modeOf(leasePath(stateDir)).toString(8)).toBe('644');
  });

  it('writeFileExact gives the mode asked for, whatever the umask', () => {
    const path = join(dir, 'exact');
    writeFileExact(path, 'x', 0o640);
    expect(modeOf(path).toString(8)).toBe('640');
  });

  it('refuses a socket directory any user may write to (no sticky bit), and accepts /tmp-style sticky ones', async () => {
    const open = join(dir, 'open');
    mkdirSync(open);
    chmodSync(open, 0o777);
    let err: unknown;
    try {
      await serveControl(join(open, 'n.sock'), { status: () => ({}) });
    } catch (e) {
      err = e;
    }
    expect(isWeftError(err, 'DIR_UNSAFE')).toBe(true);
    expect((err as Error).message).toMatch(/writable by every user \(mode 777\).*chmod 755/u);
    chmodSync(open, 0o1777);
    expect(() => makeDirs(open, 0o755)).not.toThrow();
  });
});
