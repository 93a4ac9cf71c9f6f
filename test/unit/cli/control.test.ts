/**
 * The control socket against hostile requests: names inherited from
 * Object.prototype are not commands, and any bytes in give one JSON error
 * line out, never a throw (a throw in a socket handler would kill the node).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { answerLine, serveControl } from '../../../src/cli/control.ts';
import { request } from '../../../src/transport/control-client.ts';
import { isWeftError } from '../../../src/errors.ts';
import { seededRandom } from '../../helpers/random.ts';

const handlers = { status: () => ({ node: 'a' }) };
const INHERITED = ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__', 'isPrototypeOf', 'toLocaleString'];

/** Send raw bytes, read until `lines` answers have arrived (bounded by the socket closing or a timeout). */
function exchange(path: string, bytes: Uint8Array | string, lines: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const s = connect(path);
    let got = '';
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`only ${JSON.stringify(got)} within 5 s`));
    }, 5000);
    const done = () => {
      clearTimeout(timer);
      s.destroy();
      resolve(got.split('\n').filter((l) => l.length > 0));
    };
    s.on('connect', () => s.write(bytes));
    s.setEncoding('utf8');
    s.on('data', (d: string) => {
      got += d;
      if (got.split('\n').length - 1 >= lines) done();
    });
    s.on('close', done);
    s.on('error', () => done());
  });
}

describe('control socket requests', () => {
  it('does not treat names inherited from Object.prototype as commands', () => {
    for (const cmd of INHERITED) {
      const reply = answerLine(JSON.stringify({ cmd }), handlers) as { error?: string; ok?: unknown };
      expect(reply.ok, cmd).toBeUndefined();
      expect(reply.error, cmd).toMatch(/unknown command .*known: status$/u);
    }
    expect(answerLine('{"cmd":"status"}', handlers)).toEqual({ ok: { node: 'a' } });
  });

  it('answers JSON that is not an object with {cmd} with an error, not a throw', () => {
    for (const line of ['null', '[]', '"status"', '1', 'true', '{}', '{"cmd":null}', '{"cmd":["status"]}', '{"cmd":{"toString":1}}', '', ' ', '\u0000', '{"cmd":"status"', '\uFFFD\uFFFD']) {
      const reply = answerLine(line, handlers) as { error?: unknown };
      expect(typeof reply.error, line).toBe('string');
    }
  });

  it('answers thousands of random byte strings with one JSON object each', () => {
    const rand = seededRandom(0x7e57);
    const alphabet = '{}[]":,\\ \tcmdstatus0123456789nulltruefalse_proto__constructor\u00e9\u2028\uD800';
    for (let i = 0; i < 5000; i++) {
      const len = Math.floor(rand() * 80);
      let line = '';
      for (let j = 0; j < len; j++) line += rand() < 0.5 ? alphabet[Math.floor(rand() * alphabet.length)] : String.fromCharCode(Math.floor(rand() * 0x10000));
      const reply = answerLine(line, handlers);
      expect(() => JSON.stringify(reply)).not.toThrow();
      expect(typeof reply === 'object' && reply !== null && ('ok' in reply || 'error' in reply)).toBe(true);
    }
  });

  it('turns a handler that throws or returns something JSON cannot hold into an error', () => {
    const bad = { boom: () => { throw new Error('kaput'); }, big: () => 1n, loop: () => { const o: Record<string, unknown> = {}; o.self = o; return o; } };
    expect(answerLine('{"cmd":"boom"}', bad)).toEqual({ error: 'kaput' });
    for (const cmd of ['big', 'loop']) {
      const reply = answerLine(JSON.stringify({ cmd }), bad) as { error?: string };
      expect(reply.error, cmd).toMatch(/cannot be sent as JSON/u);
    }
  });
});

describe('control socket over a unix socket', () => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-control-'));
  const path = join(dir, 'node.sock');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('answers hostile bytes with JSON errors and keeps serving', async () => {
    const server = await serveControl(path, { status: () => ({ node: 'a' }), big: () => 1n });
    try {
      const lines = await exchange(path, '{"cmd":"constructor"}\nnull\n{"cmd":"__proto__"}\n{"cmd":"big"}\n\xff\xfe\n{"cmd":"status"}\n', 6);
      const replies = lines.map((l) => JSON.parse(l) as { ok?: unknown; error?: string });
      expect(replies).toHaveLength(6);
      for (const r of replies.slice(0, 5)) expect(typeof r.error).toBe('string');
      expect(replies[5]).toEqual({ ok: { node: 'a' } });
      // Invalid UTF-8 and NUL bytes, then an over-long line: an error, then the end.
      const raw = new Uint8Array([0xff, 0xc0, 0x80, 0x00, 0x0a]);
      expect(JSON.parse((await exchange(path, raw, 1))[0]!)).toHaveProperty('error');
      const long = await exchange(path, 'x'.repeat(70 * 1024), 1);
      expect(JSON.parse(long[0]!)).toEqual({ error: expect.stringMatching(/longer than 65536 bytes/u) as string });
      expect(await request(path, 'status')).toEqual({ node: 'a' });
      await expect(request(path, 'constructor')).rejects.toSatisfy((e: unknown) => isWeftError(e, 'CONTROL_ERROR'));
    } finally {
      await server.close();
    }
  });
});
