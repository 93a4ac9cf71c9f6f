/**
 * The cluster script's device names: WireGuard's UAPI sockets live in one
 * directory for every namespace, so two clusters must never share a name.
 */
import { describe, expect, it } from 'vitest';
import { devicePrefix } from '../../../scripts/cluster/cluster.ts';

describe('devicePrefix', () => {
  it('keeps a short plain name readable', () => {
    expect(devicePrefix('demo')).toBe('wdemo');
  });

  it('gives names that cutting short would merge different prefixes, each short enough for an interface name', () => {
    const names = ['lab-east', 'lab-eastern', 'labeast', 'ci1234w', 'ci1234v', 'cluster-one-a', 'cluster-one-b', 'Demo', 'demo-'];
    const prefixes = names.map(devicePrefix);
    expect(new Set(prefixes).size).toBe(names.length);
    // With a node index of up to 3 digits the device name stays within IFNAMSIZ - 1 (15 bytes).
    for (const p of prefixes) expect(p.length + 3).toBeLessThanOrEqual(15);
  });
});
