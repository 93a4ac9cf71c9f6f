/** src/bytes sits at the bottom of the layer table: it imports nothing of weft and nothing of Node. */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const DIR = join(import.meta.dirname, '../../../src/bytes');

describe('src/bytes', () => {
  it('imports only its own files', () => {
    for (const f of readdirSync(DIR).filter((n) => n.endsWith('.ts'))) {
      const text = readFileSync(join(DIR, f), 'utf8');
      for (const m of text.matchAll(/^\s*(?:import|export)[^;]*?from\s+'([^']+)'/gm)) {
        expect(m[1], `${f} imports ${m[1]}`).toMatch(/^\.\/[^/]+\.ts$/);
      }
    }
  });
});
