import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isWeftError } from '../../../src/errors.ts';
import { Link } from '../../../src/tun/link.ts';

// A stand-in for iproute2's `ip`: logs its arguments and answers like ip does
// for the cases the tests need, so no root and no real interface are needed.
const dir = mkdtempSync(join(tmpdir(), 'weft-link-'));
const log = join(dir, 'log');
const fakeIp = join(dir, 'ip');
writeFileSync(
  fakeIp,
  `#!/bin/sh
echo "$*" >> '${log}'
case "$*" in
  *"route add 10.9.0.0/16"*) echo "RTNETLINK answers: File exists" >&2; exit 2;;
  *"address del 10.1.0.2/24"*) echo "Error: ipv4: Address not found." >&2; exit 2;;
  *"route del 10.7.0.0/16"*) echo "RTNETLINK answers: No such process" >&2; exit 2;;
  *"route del 10.8.0.0/16"*) echo "RTNETLINK answers: Operation not permitted" >&2; exit 2;;
esac
exit 0
`,
);
chmodSync(fakeIp, 0o755);

function calls(): string[] {
  try {
    return readFileSync(log, 'utf8').trim().split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (err) {
    return isWeftError(err) ? err.code : String(err);
  }
  return undefined;
}

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('Link address and route validation (through src/wire/addr.ts)', () => {
  it('takes interface addresses with host bits and refuses malformed ones before running ip', async () => {
    const link = new Link('weft0', { netns: 'ns1', ipPath: fakeIp });
    for (const bad of ['10.0.0.1', '10.0.0.1/33', '10.0.0/8', '10.0.0.1/-1', '10.0.0.1/8x', 'fd00::/129', 'x/8', '/8', '10.0.0.256/8']) {
      expect(await codeOf(link.addAddress(bad)), bad).toBe('LINK_CONFIG');
    }
    expect(await codeOf(link.addAddress('10.203.0.1/24'))).toBeUndefined();
    expect(await codeOf(link.addAddress('fd00::1/64'))).toBeUndefined();
  });

  it('takes only network addresses as route destinations', async () => {
    const link = new Link('weft0', { netns: 'ns1', ipPath: fakeIp });
    for (const ok of ['10.244.0.0/16', '0.0.0.0/0', '10.0.0.1/32', 'fd00:1::/32', '::ffff:10.0.0.0/104']) {
      expect(await codeOf(link.addRoute(ok)), ok).toBeUndefined();
    }
    for (const bad of ['10.244.1.0/16', 'fd00:1::1/64', '::ffff:10.0.0.1/120']) {
      expect(await codeOf(link.addRoute(bad)), bad).toBe('LINK_CONFIG');
    }
  });
});

describe('Link', () => {
  it('rejects bad input with LINK_CONFIG before running ip', async () => {
    const link = new Link('weft0', { netns: 'ns1', ipPath: fakeIp });
    const before = calls().length;
    expect(await codeOf(link.setMtu(67))).toBe('LINK_CONFIG');
    expect(await codeOf(link.setMtu(65536))).toBe('LINK_CONFIG');
    expect(await codeOf(link.setMtu(1500.5))).toBe('LINK_CONFIG');
    expect(await codeOf(link.addAddress('10.0.0.1'))).toBe('LINK_CONFIG');
    expect(await codeOf(link.addRoute('10.9.0.1/16'))).toBe('LINK_CONFIG');
    expect(await codeOf(link.addRoute('10.9.0.0/16', { via: 'fd00::1' }))).toBe('LINK_CONFIG');
    expect(await codeOf(link.addRoute('10.9.0.0/16', { metric: -1 }))).toBe('LINK_CONFIG');
    expect(await codeOf(link.removeRoute('nope'))).toBe('LINK_CONFIG');
    expect(calls().length).toBe(before);
    expect(() => new Link('a'.repeat(16))).toThrow(/invalid interface name/u);
    expect(() => new Link('weft0', { netns: 'a b' })).toThrow(/invalid network namespace name/u);
    expect(() => new Link('-weft0')).toThrow(/invalid interface name/u);
  });

  it("runs ip -n <netns> and reports failures as LINK_FAILED with the command and ip's stderr", async () => {
    const link = new Link('weft0', { netns: 'ns1', ipPath: fakeIp });
    await link.setMtu(1400);
    await link.setUp();
    await link.addRoute('10.10.0.0/16', { via: '10.0.0.1', src: '10.0.0.2', metric: 7 });
    expect(calls().slice(-3)).toEqual([
      '-n ns1 link set dev weft0 mtu 1400',
      '-n ns1 link set dev weft0 up',
      '-n ns1 route add 10.10.0.0/16 dev weft0 via 10.0.0.1 src 10.0.0.2 metric 7',
    ]);
    let err: unknown;
    try {
      await link.addRoute('10.9.0.0/16');
    } catch (e) {
      err = e;
    }
    expect(isWeftError(err, 'LINK_FAILED')).toBe(true);
    expect((err as Error).message).toBe('ip -n ns1 route add 10.9.0.0/16 dev weft0 failed: RTNETLINK answers: File exists');
    await link.close();
  });

  it('close() removes exactly what it added, newest first, ignores "not found", and is idempotent', async () => {
    const link = new Link('weft1', { ipPath: fakeIp });
    await link.addAddress('10.1.0.1/24');
    await link.addAddress('10.1.0.2/24');
    await link.addRoute('10.5.0.0/16', { metric: 3 });
    await link.addRoute('10.7.0.0/16');
    const before = calls().length;
    await link.close();
    expect(calls().slice(before)).toEqual([
      'route del 10.7.0.0/16 dev weft1', // "No such process": ignored
      'route del 10.5.0.0/16 dev weft1 metric 3',
      'address del 10.1.0.2/24 dev weft1', // "Address not found": ignored
      'address del 10.1.0.1/24 dev weft1',
    ]);
    await link.close();
    expect(calls().length).toBe(before + 4);
  });

  it('removeRoute removes a recorded route so close() does not try again; real failures still surface', async () => {
    const link = new Link('weft2', { ipPath: fakeIp });
    await link.addRoute('10.6.0.0/16');
    await link.removeRoute('10.6.0.0/16');
    await link.addRoute('10.8.0.0/16');
    const before = calls().length;
    expect(await codeOf(link.close())).toBe('LINK_FAILED');
    expect(calls().slice(before)).toEqual(['route del 10.8.0.0/16 dev weft2']);
  });

  it('says how to fix a missing ip binary', async () => {
    const link = new Link('weft0', { ipPath: join(dir, 'no-such-ip') });
    let err: unknown;
    try {
      await link.setUp();
    } catch (e) {
      err = e;
    }
    expect(isWeftError(err, 'LINK_FAILED')).toBe(true);
    expect((err as Error).message).toMatch(/install iproute2/u);
  });
});
