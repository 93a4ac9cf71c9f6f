/**
 * The checks `weft up` runs before its first side effect: each failure
 * names the config field and the fix.
 */
import { DEFAULT_CAPACITY, capacityFor } from '../../../src/buf/packet-ring.ts';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkMtu, checkStateDir, overheadFor } from '../../../src/cli/config-checks.ts';
import { parseConfig } from '../../../src/cli/config.ts';
import type { NodeConfig } from '../../../src/cli/config.ts';
import { loadConfig } from '../../../src/cli/config-load.ts';
import { createLogger } from '../../../src/cli/log.ts';
import { startNode } from '../../../src/cli/up.ts';
import { useTransportAead } from '../../../src/crypto/aead.ts';
import { generateKeyText, publicKeyText } from '../../../src/crypto/keys.ts';
import { isWeftError } from '../../../src/errors.ts';
import type { WeftErrorCode } from '../../../src/errors.ts';


function config(extra: Record<string, unknown>): NodeConfig {
  return parseConfig({ name: 'node-a', underlay: { address: '192.168.50.1' }, subnet: '10.244.1.0/24', ...extra });
}

function errorOf(fn: () => unknown, code: WeftErrorCode = 'CONFIG_INVALID'): string {
  try {
    fn();
  } catch (err) {
    expect(isWeftError(err, code), String(err)).toBe(true);
    return (err as Error).message;
  }
  throw new Error('expected a WeftError');
}

describe('checkMtu', () => {
  const key = { privateKey: generateKeyText() };

  it('knows the overhead of each backend on each underlay family', () => {
    expect(overheadFor('vxlan', '10.0.0.1')).toBe(50);
    expect(overheadFor('wireguard', '10.0.0.1')).toBe(60);
    expect(overheadFor('mixed', '10.0.0.1')).toBe(60);
    expect(overheadFor('vxlan', 'fd00::1')).toBe(70);
    expect(overheadFor('wireguard', 'fd00::1')).toBe(80);
    expect(overheadFor('mixed', 'fd00::1')).toBe(80);
  });

  it('derives the TUN MTU from the underlay, per family', () => {
    expect(checkMtu(config({}), undefined)).toBe(1450);
    expect(checkMtu(config({ backend: 'wireguard', wireguard: key }), undefined)).toBe(1440);
    expect(checkMtu(config({ underlay: { address: 'fd00::1' }, transport: 'dgram' }), undefined)).toBe(1430);
    expect(checkMtu(config({ backend: 'wireguard', wireguard: key, underlay: { address: 'fd00::1' }, transport: 'dgram' }), undefined)).toBe(1420);
    expect(checkMtu(config({ tun: { mtu: 1400 } }), { name: 'eth0', mtu: 1500 })).toBe(1400);
  });

  it('refuses a tun.mtu the underlay cannot carry, naming the field, the device and the largest valid value', () => {
    const m = errorOf(() => checkMtu(config({ tun: { mtu: 9000 } }), { name: 'eth0', mtu: 1500 }));
    expect(m).toBe('config field "tun.mtu": 9000 + 50 bytes of VXLAN overhead (IPv4 underlay) exceeds the underlay MTU 1500 of eth0; set tun.mtu to 1450 or less, or leave it unset to derive it');
    expect(errorOf(() => checkMtu(config({ tun: { mtu: 1451 } }), undefined))).toMatch(/exceeds underlay.mtu 1500; set tun.mtu to 1450 or less/u);
    expect(errorOf(() => checkMtu(config({ backend: 'wireguard', wireguard: key, tun: { mtu: 1430 }, underlay: { address: 'fd00::1' }, transport: 'dgram' }), undefined))).toMatch(
      /"tun.mtu": 1430 \+ 80 bytes of WireGuard overhead \(IPv6 underlay\).*set tun.mtu to 1420 or less/u,
    );
    // The real interface is smaller than underlay.mtu says.
    expect(errorOf(() => checkMtu(config({ tun: { mtu: 1400 } }), { name: 'ul0', mtu: 1400 }))).toMatch(/MTU 1400 of ul0; set tun.mtu to 1350 or less/u);
  });

  it('refuses a derived MTU whose underlay.mtu the real interface does not have', () => {
    expect(errorOf(() => checkMtu(config({}), { name: 'ul0', mtu: 1400 }))).toMatch(/"underlay.mtu": 1500 exceeds the MTU 1400 of ul0, which holds 192.168.50.1; set underlay.mtu to 1400/u);
    // A loopback underlay (65536) is larger than underlay.mtu: fine, underlay.mtu rules.
    expect(checkMtu(config({}), { name: 'lo', mtu: 65536 })).toBe(1450);
  });

  it('takes a jumbo underlay: 8950 over 9000 with VXLAN, 8940 with WireGuard, and ring slots sized to hold it', () => {
    const jumbo = config({ underlay: { address: '192.168.50.1', mtu: 9000 }, tun: { mtu: 8950 } });
    expect(checkMtu(jumbo, { name: 'eth0', mtu: 9000 })).toBe(8950);
    expect(checkMtu(config({ underlay: { address: '192.168.50.1', mtu: 9000 }, backend: 'wireguard', wireguard: { privateKey: 'yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=' } }), { name: 'eth0', mtu: 9000 })).toBe(8940);
    expect(capacityFor(9000)).toBe(9024);
    expect(capacityFor(1500)).toBe(DEFAULT_CAPACITY);
    expect(capacityFor(65536)).toBe(65535);
  });
});

describe('peers sharing one endpoint', () => {
  it('are refused, naming both peers and both fields', () => {
    const peers = [
      { name: 'node-b', endpoint: '192.168.50.2:8472', subnet: '10.244.2.0/24' },
      { name: 'node-c', endpoint: '192.168.50.3', subnet: '10.244.3.0/24' },
      { name: 'node-d', endpoint: '192.168.50.2', subnet: '10.244.4.0/24' },
    ];
    expect(errorOf(() => config({ peers }))).toBe(
      'config field "peers[2].endpoint": peers "node-b" (peers[0].endpoint) and "node-d" (peers[2].endpoint) both have endpoint 192.168.50.2:8472; one node is one peer: remove one of them or correct its endpoint',
    );
    // Another port on the same address is another peer.
    expect(() => config({ peers: [peers[0], { ...peers[2], endpoint: '192.168.50.2:8473' }] })).not.toThrow();
  });

  it('are refused under WireGuard too, and peers without an endpoint never clash', () => {
    const pk = () => publicKeyText(generateKeyText());
    const wg = { backend: 'wireguard', wireguard: { privateKey: generateKeyText() } };
    const peers = [
      { name: 'node-b', endpoint: '[fd00::2]:51820', subnet: '10.244.2.0/24', publicKey: pk() },
      { name: 'node-c', endpoint: '[FD00::2]:51820', subnet: '10.244.3.0/24', publicKey: pk() },
    ];
    expect(errorOf(() => config({ ...wg, peers }))).toMatch(/peers "node-b" \(peers\[0\].endpoint\) and "node-c" \(peers\[1\].endpoint\) both have endpoint \[fd00::2\]:51820/iu);
    expect(() => config({ ...wg, peers: peers.map(({ endpoint: _e, ...p }) => p) })).not.toThrow();
  });
});

describe('checkStateDir', () => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-statedir-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('accepts a writable directory, or one that can be made', () => {
    expect(() => checkStateDir(dir)).not.toThrow();
    expect(() => checkStateDir(join(dir, 'a', 'b'))).not.toThrow();
    expect(existsSync(join(dir, 'a'))).toBe(false);
  });

  it('refuses kernel filesystems (a state directory under /proc used to hang weft)', () => {
    expect(errorOf(() => checkStateDir('/proc/weft'), 'STATE_DIR_UNUSABLE')).toMatch(/^config field "stateDir": \/proc\/weft is under \/proc, a kernel filesystem;.*set stateDir to a writable directory/u);
    expect(errorOf(() => checkStateDir('/sys/fs/weft'), 'STATE_DIR_UNUSABLE')).toMatch(/under \/sys/u);
    // Reached through a symbolic link: statfs sees proc.
    const link = join(dir, 'to-proc');
    rmSync(link, { force: true });
    symlinkSync('/proc/self', link);
    expect(errorOf(() => checkStateDir(join(link, 'weft')), 'STATE_DIR_UNUSABLE')).toMatch(/is on proc, a kernel filesystem/u);
  });

  it('refuses a path below a file', () => {
    const file = join(dir, 'file');
    writeFileSync(file, '');
    expect(errorOf(() => checkStateDir(join(file, 'state')), 'STATE_DIR_UNUSABLE')).toMatch(/"stateDir".*cannot be created: its parent .*file is not a directory/u);
  });
});

describe('a generated WireGuard key', () => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-genkey-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('is not written by loading the config, valid or not: startNode saves it after every check', () => {
    const stateDir = join(dir, 'state');
    const path = join(dir, 'node.json');
    writeFileSync(path, JSON.stringify({ name: 'node-a', backend: 'wireguard', underlay: { address: '192.168.50.1' }, subnet: '10.244.1.0/24', stateDir, peers: [{ name: 'x' }] }));
    expect(() => loadConfig(path, {}, {})).toThrow(/peers\[0\]/u);
    expect(existsSync(stateDir)).toBe(false);
    writeFileSync(path, JSON.stringify({ name: 'node-a', backend: 'wireguard', underlay: { address: '192.168.50.1' }, subnet: '10.244.1.0/24', stateDir }));
    const c = loadConfig(path, {}, {});
    expect(c.wireguard!.generatedKeyFile).toBe(join(stateDir, 'wireguard.key'));
    expect(c.wireguard!.privateKey).toHaveLength(32);
    expect(existsSync(stateDir)).toBe(false);
    expect(readdirSync(dir)).toEqual(['node.json']);
  });
});

describe('WEFT_AEAD', () => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-aead-env-'));
  const saved = process.env.WEFT_AEAD;
  afterAll(() => {
    if (saved === undefined) delete process.env.WEFT_AEAD;
    else process.env.WEFT_AEAD = saved;
    useTransportAead(saved);
    rmSync(dir, { recursive: true, force: true });
  });

  it('stops weft up before its first side effect when it names no transport AEAD', async () => {
    const stateDir = join(dir, 'state');
    const path = join(dir, 'node.json');
    writeFileSync(path, JSON.stringify({ name: 'node-a', backend: 'wireguard', underlay: { address: '192.168.50.1' }, subnet: '10.244.1.0/24', stateDir }));
    process.env.WEFT_AEAD = 'chacha';
    const lines: string[] = [];
    const err = await startNode(path, {}, createLogger('debug', (l) => lines.push(l) > 0)).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isWeftError(err, 'CONFIG_INVALID'), String(err)).toBe(true);
    expect((err as Error).message).toMatch(/^WEFT_AEAD=chacha is not a transport AEAD: use openssl or libsodium/u);
    expect(existsSync(stateDir)).toBe(false);
    expect(lines).toEqual([]);
  });
});
