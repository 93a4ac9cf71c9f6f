import { describe, expect, it } from 'vitest';
import { isWeftError, WeftError } from '../../../src/errors.ts';
import { openTun, tunOpenError, validateTunName } from '../../../src/tun/native-tun.ts';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return isWeftError(err) ? err.code : `not a WeftError: ${String(err)}`;
  }
  return undefined;
}

/** What the addon throws for a failed syscall. */
function sysError(code: string, syscall: string): Error {
  return Object.assign(new Error(`${syscall} 'weft0': ${code}`), { code, syscall, errno: -1 });
}

describe('validateTunName', () => {
  it('accepts names of 1 to 15 bytes, including kernel %d templates', () => {
    for (const name of ['w', 'weft0', 'a'.repeat(15), 'weft%d', 'tun-x_1.2', 'é'.repeat(7)]) {
      expect(codeOf(() => validateTunName(name)), name).toBeUndefined();
    }
  });

  it('rejects names longer than 15 bytes, counting UTF-8 bytes', () => {
    expect(codeOf(() => validateTunName('a'.repeat(16)))).toBe('TUN_NAME_TOO_LONG');
    expect(codeOf(() => validateTunName('é'.repeat(8)))).toBe('TUN_NAME_TOO_LONG'); // 16 bytes, 8 chars
  });

  it("rejects what the kernel's dev_valid_name rejects", () => {
    for (const name of ['', '.', '..', 'a/b', 'a:b', 'a b', 'a\tb', 'a\nb', 'a\0b']) {
      expect(codeOf(() => validateTunName(name)), JSON.stringify(name)).toBe('TUN_NAME_INVALID');
    }
    expect(codeOf(() => validateTunName(undefined))).toBe('TUN_NAME_INVALID');
    expect(codeOf(() => validateTunName(42))).toBe('TUN_NAME_INVALID');
  });

  it('openTun validates the name before touching the addon or the kernel', () => {
    expect(codeOf(() => openTun({ name: 'x'.repeat(16) }))).toBe('TUN_NAME_TOO_LONG');
    expect(codeOf(() => openTun({ name: '..' }))).toBe('TUN_NAME_INVALID');
    expect(codeOf(() => openTun({ name: 'ok0', maxBatch: 0 }))).toBe('TUN_CONFIG');
  });
});

describe('tunOpenError', () => {
  const cases: [string, string, string, RegExp][] = [
    ['ENOENT', 'open', 'TUN_UNAVAILABLE', /modprobe tun|\/dev\/net\/tun/u],
    ['ENODEV', 'open', 'TUN_UNAVAILABLE', /load the tun module/u],
    ['EPERM', 'ioctl(TUNSETIFF)', 'TUN_PERMISSION', /root or CAP_NET_ADMIN/u],
    ['EACCES', 'open', 'TUN_PERMISSION', /root or CAP_NET_ADMIN/u],
    ['EBUSY', 'ioctl(TUNSETIFF)', 'TUN_BUSY', /already open in another process/u],
    ['EINVAL', 'ioctl(TUNSETIFF)', 'TUN_BUSY', /not a TUN device/u],
    ['EMFILE', 'open', 'TUN_OPEN_FAILED', /weft0/u],
    ['EINVAL', 'fcntl(O_NONBLOCK)', 'TUN_OPEN_FAILED', /weft0/u],
  ];
  for (const [errno, syscall, code, message] of cases) {
    it(`${syscall} ${errno} -> ${code}`, () => {
      const cause = sysError(errno, syscall);
      const err = tunOpenError(cause, 'weft0');
      expect(err).toBeInstanceOf(WeftError);
      expect(err.code).toBe(code);
      expect(err.errno).toBe(errno);
      expect(err.message).toMatch(message);
      expect(err.message).toContain("'weft0'");
      expect(err.cause).toBe(cause);
    });
  }

  it('wraps anything else as TUN_OPEN_FAILED without an errno', () => {
    const err = tunOpenError(new TypeError('bad argument'), 'weft0');
    expect(err.code).toBe('TUN_OPEN_FAILED');
    expect(err.errno).toBeUndefined();
    expect(err.message).toContain('bad argument');
  });
});
