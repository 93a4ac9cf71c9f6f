/**
 * Every WeftError code is documented: the table in docs/ARCHITECTURE.md
 * ("Errors") lists exactly the codes of WEFT_ERROR_CODES, no more, no fewer.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isWeftError, WEFT_ERROR_CODES, WeftError } from '../../src/errors.ts';

/** The codes in the first column of the table in the "Errors" section. */
function documentedCodes(): string[] {
  const doc = readFileSync(new URL('../../docs/ARCHITECTURE.md', import.meta.url), 'utf8');
  const start = doc.indexOf('\n## Errors\n');
  expect(start, 'docs/ARCHITECTURE.md has an "## Errors" section').toBeGreaterThanOrEqual(0);
  const next = doc.indexOf('\n## ', start + 1);
  const section = doc.slice(start, next < 0 ? undefined : next);
  return [...section.matchAll(/^\| *`([A-Z][A-Z0-9_]*)` *\|/gmu)].map((m) => m[1]!);
}

describe('WeftError codes', () => {
  it('the docs table lists exactly the codes of the union', () => {
    const documented = documentedCodes();
    const codes = new Set<string>(WEFT_ERROR_CODES);
    expect(documented.filter((c) => !codes.has(c)), 'documented but not in WEFT_ERROR_CODES').toEqual([]);
    expect(WEFT_ERROR_CODES.filter((c) => !documented.includes(c)), 'in WEFT_ERROR_CODES but not documented').toEqual([]);
  });

  it('lists each code once, in the union and in the docs', () => {
    expect(new Set(WEFT_ERROR_CODES).size).toBe(WEFT_ERROR_CODES.length);
    const documented = documentedCodes();
    expect(new Set(documented).size).toBe(documented.length);
  });

  it('isWeftError matches on the code', () => {
    const err = new WeftError('CONFIG_INVALID', 'bad field', { errno: 'EINVAL' });
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.errno).toBe('EINVAL');
    expect(isWeftError(err)).toBe(true);
    expect(isWeftError(err, 'CONFIG_INVALID')).toBe(true);
    expect(isWeftError(err, 'KEY_INVALID')).toBe(false);
    expect(isWeftError(new Error('x'))).toBe(false);
  });
});
