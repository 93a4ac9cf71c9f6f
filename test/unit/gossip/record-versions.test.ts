/**
 * Mixed versions in one cluster: a node that reads v2 records takes a
 * dual-stack peer's subnets of both families; a node from before v2 (its
 * decoder took version 1 only) drops the same record as a bad record,
 * counted, keeps what it knew, and still reads IPv4-only peers, whose
 * records stay v1.
 */
import { describe, expect, it } from 'vitest';
import { nameHash } from '../../../src/gossip/anti-entropy.ts';
import type { Clock } from '../../../src/gossip/clock.ts';
import { FactKind, MsgType, encodeFact, encodeMessage } from '../../../src/gossip/codec.ts';
import { Keyring } from '../../../src/gossip/keyring.ts';
import { Membership } from '../../../src/gossip/membership.ts';
import type { MemberEvent } from '../../../src/gossip/membership.ts';
import { RECORD_VERSION, decodeRecord, generateSigningKey, signRecord } from '../../../src/gossip/record.ts';
import type { RecordVerdict } from '../../../src/gossip/record.ts';
import { formatCidr, parseCidr } from '../../../src/wire/addr.ts';
import { fields } from './helpers.ts';

/** What a node before v2 did with a record: version 1 or malformed. */
const decodeV1Only = (bytes: Uint8Array): RecordVerdict => (bytes[0] === RECORD_VERSION ? decodeRecord(bytes) : { ok: false, reason: 'malformed' });

function node(decode?: (b: Uint8Array) => RecordVerdict) {
  const ring = new Keyring(new Uint8Array(32).fill(5));
  let handler: (b: Uint8Array, a: string, p: number) => void = () => {};
  const clock: Clock = { now: () => 1000, every: () => ({ cancel: () => {} }) };
  const transport = { send: () => {}, onMessage: (h: typeof handler) => (handler = h), close: () => {} };
  const m = new Membership({
    clock, transport, keyring: ring, secretKey: generateSigningKey().secretKey, self: fields('self', { address: '192.0.2.1' }), random: () => 0.5,
    ...(decode ? { decode } : {}),
  });
  const events: MemberEvent[] = [];
  m.on((e) => events.push(e));
  const gossip = (record: Uint8Array): void =>
    handler(encodeMessage({ type: MsgType.Gossip, from: 'x', facts: [encodeFact({ kind: FactKind.Alive, record })] }, ring, { sentAt: Date.now(), to: nameHash('self') }), '192.0.2.99', 7946);
  return { m, events, gossip };
}

describe('records across versions', () => {
  const dualKey = generateSigningKey();
  const v4Key = generateSigningKey();
  const v4Only = fields('node-4', { address: '192.0.2.4', subnets: [parseCidr('10.244.4.0/24')] });
  const before = fields('node-d', { address: '192.0.2.5', subnets: [parseCidr('10.244.5.0/24')] });
  const dual = fields('node-d', { address: '192.0.2.5', subnets: [parseCidr('10.244.5.0/24'), parseCidr('fd00:10:244:5::/64')], subnet6ClaimedAt: 7 });

  it('a current node takes both families from a v2 record', () => {
    const n = node();
    n.gossip(signRecord(before, 1, dualKey.secretKey));
    n.gossip(signRecord(dual, 2, dualKey.secretKey));
    expect(n.m.get('node-d')?.record.subnets.map(formatCidr)).toEqual(['10.244.5.0/24', 'fd00:10:244:5::/64']);
    expect(n.events.at(-1)?.peer.subnets.map(formatCidr)).toEqual(['10.244.5.0/24', 'fd00:10:244:5::/64']);
  });

  it('a node from before v2 drops the v2 record, counted, keeps the v1 one it had, and reads IPv4-only peers', () => {
    const old = node(decodeV1Only);
    old.gossip(signRecord(before, 1, dualKey.secretKey));
    old.gossip(signRecord(dual, 2, dualKey.secretKey));
    expect(old.m.drops.get('bad-record')).toBe(1);
    expect(old.m.get('node-d')?.incarnation).toBe(1);
    expect(old.m.get('node-d')?.record.subnets.map(formatCidr)).toEqual(['10.244.5.0/24']);
    old.gossip(signRecord(v4Only, 3, v4Key.secretKey));
    expect(old.m.get('node-4')?.record.subnets.map(formatCidr)).toEqual(['10.244.4.0/24']);
    expect(old.m.drops.get('bad-record')).toBe(1);
  });
});
