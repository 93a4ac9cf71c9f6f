/**
 * The control socket's "forget" command (src/cli/forget.ts): the name
 * travels as the request's argument, each refusal says what to do, and a
 * forgotten gossip peer leaves the data plane (a static one stays).
 */
import { describe, expect, it } from 'vitest';
import { answerLine } from '../../../src/cli/control.ts';
import { forgetHandler } from '../../../src/cli/forget.ts';
import type { ForgetOutcome } from '../../../src/cli/forget.ts';
import type { PeerControl } from '../../../src/dataplane/peer.ts';

function fakeDataplane(names: string[]): PeerControl & { removed: string[] } {
  const removed: string[] = [];
  return {
    removed,
    addPeer: () => {},
    updatePeer: () => {},
    removePeer: (name: string) => {
      removed.push(name);
      return true;
    },
    hasPeer: (name: string) => names.includes(name),
  } as unknown as PeerControl & { removed: string[] };
}

function ask(outcome: ForgetOutcome, line: string, peers: string[] = [], staticPeers: string[] = []): { reply: { ok?: unknown; error?: string }; asked: string[]; removed: string[]; synced: number } {
  const asked: string[] = [];
  const dp = fakeDataplane(peers);
  let synced = 0;
  const handler = forgetHandler({ forget: (n) => (asked.push(n), outcome) }, dp, () => staticPeers, () => synced++);
  const reply = answerLine(line, { forget: handler }) as { ok?: unknown; error?: string };
  return { reply, asked, removed: dp.removed, synced };
}

describe('weft forget through the control socket', () => {
  it('passes the name, answers what was forgotten, and drops a gossip peer of that name with its routes', () => {
    const r = ask('forgotten', '{"cmd":"forget","name":"node-b"}', ['node-b']);
    expect(r.reply).toEqual({ ok: { forgotten: 'node-b' } });
    expect(r.asked).toEqual(['node-b']);
    expect(r.removed).toEqual(['node-b']);
    expect(r.synced).toBe(1);
  });

  it('leaves a static peer of the same name alone', () => {
    const r = ask('forgotten', '{"cmd":"forget","name":"node-b"}', ['node-b'], ['node-b']);
    expect(r.reply.ok).toEqual({ forgotten: 'node-b' });
    expect(r.removed).toEqual([]);
  });

  it('refuses with what to do: unknown, itself, alive, suspected, full; nothing removed', () => {
    const cases: Array<[ForgetOutcome, RegExp]> = [
      ['unknown', /^no node named "node-b" is known here, alive or dead: check the name/u],
      ['self', /^"node-b" is this node; run weft forget on another node$/u],
      ['alive', /^node-b is alive: forget only ends the tombstone of a dead or departed node; stop node-b first/u],
      ['suspect', /^node-b is suspected but not yet declared dead: wait a few seconds/u],
      ['full', /^64 forgets are in force here already/u],
    ];
    for (const [outcome, message] of cases) {
      const r = ask(outcome, '{"cmd":"forget","name":"node-b"}', ['node-b']);
      expect(r.reply.ok, outcome).toBeUndefined();
      expect(r.reply.error, outcome).toMatch(message);
      expect(r.removed).toEqual([]);
    }
  });

  it('asks for a name when none or a non-string is given, without calling gossip', () => {
    for (const line of ['{"cmd":"forget"}', '{"cmd":"forget","name":""}', '{"cmd":"forget","name":7}', '{"cmd":"forget","name":["node-b"]}']) {
      const r = ask('forgotten', line);
      expect(r.reply.error, line).toBe('forget needs the name of a node, such as {"cmd":"forget","name":"node-b"}');
      expect(r.asked).toEqual([]);
    }
  });

  it('on a node without gossip says there is nothing to forget', () => {
    const handler = forgetHandler(undefined, fakeDataplane([]), () => [], () => {});
    const reply = answerLine('{"cmd":"forget","name":"node-b"}', { forget: handler }) as { error?: string };
    expect(reply.error).toBe('this node runs without gossip: there is no tombstone to forget (its peers come from its config)');
  });
});
