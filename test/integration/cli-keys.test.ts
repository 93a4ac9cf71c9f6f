/**
 * weft's key commands against the real wg tool: keys made by either are
 * read by the other, and public keys agree.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { weftMain } from '../helpers/cluster.ts';

function run(cmd: string, args: string[], input?: string): string {
  return execFileSync(cmd, args, { input, encoding: 'utf8' }).trim();
}
const weft = (args: string[], input?: string) => run(process.execPath, [weftMain(), ...args], input);

describe('weft genkey / pubkey / genpsk against wg', () => {
  it('weft genkey | wg pubkey equals weft pubkey, and wg genkey | weft pubkey equals wg pubkey', () => {
    for (let i = 0; i < 3; i++) {
      const mine = weft(['genkey']);
      expect(mine).toMatch(/^[A-Za-z0-9+/]{43}=$/u);
      expect(weft(['pubkey'], mine)).toBe(run('wg', ['pubkey'], mine));
      const theirs = run('wg', ['genkey']);
      expect(weft(['pubkey'], theirs)).toBe(run('wg', ['pubkey'], theirs));
    }
  });

  it('genpsk prints a key wg accepts as a preshared key', () => {
    const psk = weft(['genpsk']);
    expect(psk).toMatch(/^[A-Za-z0-9+/]{43}=$/u);
    expect(Buffer.from(psk, 'base64')).toHaveLength(32);
  });

  it('pubkey rejects a malformed key with a message and exit code 1', () => {
    const r = spawnSync(process.execPath, [weftMain(), 'pubkey'], { input: 'not-a-key\n', encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/weft pubkey: private key must be 32 bytes in base64/u);
  });
});
