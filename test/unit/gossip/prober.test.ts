import { describe, expect, it } from 'vitest';
import { Awareness } from '../../../src/gossip/awareness.ts';
import { MsgType } from '../../../src/gossip/codec.ts';
import type { Message } from '../../../src/gossip/codec.ts';
import { DEFAULT_CONFIG, Member, MemberState } from '../../../src/gossip/member.ts';
import { NACK_AFTER, Prober } from '../../../src/gossip/prober.ts';
import type { ProberHost } from '../../../src/gossip/prober.ts';
import { decodeRecord, generateSigningKey, signRecord } from '../../../src/gossip/record.ts';
import { seededRandom } from '../../helpers/random.ts';
import { fields } from './helpers.ts';

function member(name: string, i: number): Member {
  const bytes = signRecord(fields(name, { address: `192.0.2.${i}` }), 0, generateSigningKey().secretKey);
  const v = decodeRecord(bytes);
  if (!v.ok) throw new Error('record');
  const m = new Member(v.record, bytes, i, 0);
  m.state = MemberState.Alive;
  return m;
}

/** A prober over `n` live members, with a host that records what it sends and the verdicts it gives. */
function setup(n: number) {
  const members = new Map<string, Member>();
  for (let i = 1; i <= n; i++) members.set(`m${i}`, member(`m${i}`, i));
  let now = 0;
  const random = seededRandom(3);
  const sent: { at: number; to: string; msg: Message }[] = [];
  const failed: { name: string; since: number; at: number }[] = [];
  const host: ProberHost = {
    selfName: 'self',
    now: () => now,
    random,
    lookup: (name) => members.get(name),
    send: (_a, _p, msg, to) => sent.push({ at: now, to, msg }),
    take: () => [],
    failed: (t, since) => failed.push({ name: t.name, since, at: now }),
  };
  const awareness = new Awareness();
  const prober = new Prober(host, DEFAULT_CONFIG, awareness);
  for (const m of members.values()) prober.add(m);
  prober.start(0);
  const tickUntil = (t: number): void => {
    for (; now <= t; now += DEFAULT_CONFIG.tickMs) prober.tick(now, true);
    now -= DEFAULT_CONFIG.tickMs;
  };
  return { prober, sent, failed, awareness, tickUntil, advanceTo: (t: number) => (now = t) };
}

describe('Prober', () => {
  it('gives a silent member a second chance of two intervals, six relays at once and three pings, before suspecting it from the first failure', () => {
    const { prober, sent, failed, awareness, tickUntil } = setup(20);
    const interval = DEFAULT_CONFIG.probeIntervalMs;
    const timeout = DEFAULT_CONFIG.probeTimeoutMs;
    tickUntil(interval); // the first probe starts at a random phase within the first interval
    const first = sent.find((s) => s.msg.type === MsgType.Ping)!;
    const target = first.to;
    const t0 = first.at;
    const firstDeadline = t0 + interval - DEFAULT_CONFIG.tickMs;
    tickUntil(firstDeadline - DEFAULT_CONFIG.tickMs);
    const firstProbe = sent.filter((s) => s.at < firstDeadline);
    expect(firstProbe.filter((s) => s.msg.type === MsgType.Ping).map((s) => s.at - t0)).toEqual([0, timeout]);
    expect(firstProbe.filter((s) => s.msg.type === MsgType.PingReq).map((s) => s.at - t0)).toEqual([timeout, timeout, timeout]);
    // The relays' nacks arrive before the verdict, as they do from live relays: the silence is the target's.
    for (let i = 0; i < 3; i++) prober.onNack((first.msg as { seq: number }).seq);
    tickUntil(firstDeadline);
    expect(awareness.score).toBe(0);
    // No verdict yet: the second chance starts at once, asks six relays and pings.
    expect(failed).toEqual([]);
    const second = sent.filter((s) => s.at === firstDeadline);
    expect(second.filter((s) => s.msg.type === MsgType.PingReq).length).toBe(DEFAULT_CONFIG.secondChanceChecks);
    expect(second.filter((s) => s.msg.type === MsgType.Ping && s.to === target).length).toBe(1);
    const verdictAt = firstDeadline + 2 * interval - DEFAULT_CONFIG.tickMs;
    tickUntil(verdictAt - DEFAULT_CONFIG.tickMs);
    expect(failed).toEqual([]);
    const pings = sent.filter((s) => s.at >= firstDeadline && s.msg.type === MsgType.Ping && s.to === target).map((s) => s.at - firstDeadline);
    expect(pings).toEqual([0, 250, 500]);
    tickUntil(verdictAt);
    expect(failed).toEqual([{ name: target, since: firstDeadline, at: verdictAt }]);
    // The second chance's relays sent no nacks here: now our own health is in doubt too (Lifeguard).
    expect(awareness.score).toBeGreaterThan(0);
  });

  it('an ack during the second chance saves the member from suspicion', () => {
    const { prober, sent, failed, tickUntil } = setup(10);
    tickUntil(DEFAULT_CONFIG.probeIntervalMs);
    const first = sent.find((s) => s.msg.type === MsgType.Ping)!;
    const secondAt = first.at + DEFAULT_CONFIG.probeIntervalMs - DEFAULT_CONFIG.tickMs;
    tickUntil(secondAt + 600);
    const ping = sent.filter((s) => s.msg.type === MsgType.Ping && s.at >= secondAt).pop()!;
    prober.onAck((ping.msg as { seq: number }).seq);
    // Up to when its verdict would have come: the next probe (of another member, also silent here) starts after.
    tickUntil(secondAt + 2 * DEFAULT_CONFIG.probeIntervalMs - DEFAULT_CONFIG.tickMs);
    expect(failed).toEqual([]);
    expect(prober.stats.secondChances).toBe(1);
    expect(prober.stats.savedBySecondChance).toBe(1);
  });

  it('a relay nacks at 0.8 of the probe timeout, so the nack reaches the asker before its verdict', () => {
    const { prober, sent, advanceTo } = setup(3);
    advanceTo(10_000);
    prober.onPingReq('m1', 77, '192.0.2.99', 7946, 'asker');
    const nackAt = 10_000 + NACK_AFTER * DEFAULT_CONFIG.probeTimeoutMs;
    for (let t = 10_000; t < nackAt; t += 10) {
      advanceTo(t);
      prober.tick(t, false);
    }
    expect(sent.filter((s) => s.msg.type === MsgType.Nack)).toEqual([]);
    advanceTo(nackAt);
    prober.tick(nackAt, false);
    const nacks = sent.filter((s) => s.msg.type === MsgType.Nack);
    expect(nacks.map((s) => [s.to, (s.msg as { seq: number }).seq])).toEqual([['asker', 77]]);
    // Asked at the asker's timeout (150 ms in) and sent on our next tick at worst, it leaves before 350 ms.
    expect(DEFAULT_CONFIG.probeTimeoutMs + NACK_AFTER * DEFAULT_CONFIG.probeTimeoutMs + DEFAULT_CONFIG.tickMs)
      .toBeLessThan(DEFAULT_CONFIG.probeIntervalMs - DEFAULT_CONFIG.tickMs);
  });
});
