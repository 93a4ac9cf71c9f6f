import { describe, expect, it, vi } from 'vitest';
import { serveControl } from '../../src/cli/control.ts';
import type { ControlHandlers } from '../../src/cli/control.ts';
import { FakeSocket, Fuzz, check, fuzzCount } from './fuzz-helpers.ts';

// The control socket's connection handler, captured so a fake socket can drive it with chunks of our choosing.
const captured = vi.hoisted(() => ({ onConnection: null as null | ((socket: unknown) => void) }));
vi.mock('../../src/transport/unix-socket.ts', () => ({
  listenUnix: async (path: string, onConnection: (socket: unknown) => void) => {
    captured.onConnection = onConnection;
    return { path, close: async () => {} };
  },
}));

const SEED = 0xc0_17_01;
const COUNT = fuzzCount(100_000);
const MAX_BUFFERED = 64 * 1024;

const STATUS = { name: 'node-a', peers: [{ name: 'node-b', up: true }], counters: { rx: 1, tx: 2 } };
const handlers: ControlHandlers = {
  status: () => STATUS,
  peers: () => STATUS.peers,
  nothing: () => null,
  broken: () => {
    throw new Error('the node is stopping');
  },
  unsendable: () => ({ n: 1n }),
};
/** Names every object has through its prototype: none of them is a command. */
const PROTOTYPE_NAMES = ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', 'isPrototypeOf', 'propertyIsEnumerable', 'toLocaleString', '__defineGetter__', '__lookupGetter__'];

/** What a request line must be answered with: the handler's value, or an error. */
function verdict(line: string): { ok: unknown } | 'error' {
  let req: unknown;
  try {
    req = JSON.parse(line);
  } catch {
    return 'error';
  }
  const cmd = typeof req === 'object' && req !== null ? (req as { cmd?: unknown }).cmd : undefined;
  if (typeof cmd !== 'string' || !Object.hasOwn(handlers, cmd) || cmd === 'broken' || cmd === 'unsendable') return 'error';
  return { ok: handlers[cmd]!() };
}

function requestLine(f: Fuzz, corpus: readonly string[]): string {
  const r = f.rand();
  const cmd = f.pick([...Object.keys(handlers), ...PROTOTYPE_NAMES, 'Status', 'status ', '', 'stop']);
  let line: string;
  if (r < 0.3) line = JSON.stringify({ cmd });
  else if (r < 0.4) line = JSON.stringify(f.pick([{ cmd: 1 }, { cmd: null }, { cmd: [cmd] }, { cmd: { cmd } }, { Cmd: cmd }, [cmd], cmd, null, 0, true, { cmd, extra: 1 }]));
  else if (r < 0.5) line = `{"__proto__":{"cmd":"${cmd}"}}`;
  else if (r < 0.6) line = f.text(60);
  else line = f.mutateText(f.pick(corpus), ['{', '}', '"cmd"', ':', '"status"', '"constructor"', '"__proto__"', 'null', '\\u0000', '\\"', ','], corpus);
  return line.replace(/\n/gu, ' ');
}

describe(`control socket under hostile input (seed ${SEED.toString(16)})`, () => {
  it('answers every prototype name with an error, never ok', async () => {
    await serveControl('/nonexistent/node.sock', handlers);
    const socket = new FakeSocket();
    captured.onConnection!(socket);
    for (const name of PROTOTYPE_NAMES) socket.emit('data', `${JSON.stringify({ cmd: name })}\n`);
    const answers = socket.out.split('\n').slice(0, -1).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(answers.length).toBe(PROTOTYPE_NAMES.length);
    for (const [i, a] of answers.entries()) {
      expect(a, `{"cmd":"${PROTOTYPE_NAMES[i]}"}`).not.toHaveProperty('ok');
      expect(typeof a.error, `{"cmd":"${PROTOTYPE_NAMES[i]}"}`).toBe('string');
    }
  });

  it(`answers ${COUNT} random and mutated request lines, sent in random chunks, one JSON line each, in order`, async () => {
    const f = new Fuzz(SEED);
    await serveControl('/nonexistent/node.sock', handlers);
    const serve = captured.onConnection!;
    const corpus = ['{"cmd":"status"}', '{"cmd":"peers"}', '{"cmd":"constructor"}', '{"cmd":"__proto__"}', '{ "cmd" : "nothing" }', '{"cmd":"broken"}'];
    let sent = 0;
    let okAnswers = 0;
    while (sent < COUNT) {
      const lines = Array.from({ length: 1 + f.int(60) }, () => requestLine(f, corpus));
      const tail = f.chance(0.3) ? requestLine(f, corpus) : ''; // unfinished: never answered
      const stream = lines.map((l) => `${l}\n`).join('') + tail;
      const socket = new FakeSocket();
      serve(socket);
      for (let o = 0; o < stream.length && !socket.destroyed && !socket.ended;) {
        const n = f.chance(0.2) ? 1 : 1 + f.int(f.chance(0.5) ? 8 : 500);
        socket.emit('data', stream.slice(o, o + n));
        o += n;
      }
      check(!socket.destroyed && !socket.ended, 'a stream of short lines was cut');
      const answers = socket.out.split('\n');
      check(answers.pop() === '', 'an answer is not newline-terminated');
      check(answers.length === lines.length, `${lines.length} requests, ${answers.length} answers`);
      for (const [i, text] of answers.entries()) {
        const a = JSON.parse(text) as Record<string, unknown>;
        const keys = Object.keys(a);
        check(keys.length === 1 && (keys[0] === 'ok' || keys[0] === 'error'), `answer ${text}`);
        const want = verdict(lines[i]!);
        if (want === 'error') {
          if (typeof a.error !== 'string') expect(a, `request ${JSON.stringify(lines[i])}`).toHaveProperty('error');
        } else {
          okAnswers++;
          if (JSON.stringify(a.ok) !== JSON.stringify(want.ok)) expect(a, `request ${JSON.stringify(lines[i])}`).toEqual(want);
        }
      }
      sent += lines.length;
    }
    expect(okAnswers).toBeGreaterThan(COUNT * 0.05);
  });

  it('refuses a line that grows past 64 KiB, even one byte at a time, with an error and the end of the connection', async () => {
    await serveControl('/nonexistent/node.sock', handlers);
    const socket = new FakeSocket();
    captured.onConnection!(socket);
    socket.emit('data', '{"cmd":"status"}\n{"cmd":"');
    const t0 = performance.now();
    let n = 0;
    while (!socket.destroyed && !socket.ended && n < 2 * MAX_BUFFERED) {
      socket.emit('data', 'x');
      n++;
    }
    const ms = performance.now() - t0;
    expect(socket.destroyed || socket.ended).toBe(true);
    expect(n).toBeLessThanOrEqual(MAX_BUFFERED);
    const answers = socket.out.split('\n');
    expect(JSON.parse(answers[0]!)).toEqual({ ok: STATUS });
    if (socket.ended) {
      expect(answers.length).toBe(3);
      expect(JSON.parse(answers[1]!)).toHaveProperty('error');
    }
    expect(ms).toBeLessThan(5000);
  });
});
