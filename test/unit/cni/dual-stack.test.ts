/**
 * weft-cni on a dual-stack node, its pure parts: Flannel's IPv6 pair in
 * subnet.env (absent, well formed, malformed), the IPv6 reservations in the
 * address store (names on disk, round-robin, exhaustion, release and GC of
 * both families), and results listing both families in each version's format.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AddressStore, ipv6FileName } from '../../../src/cni/address-store.ts';
import { appendAttachment, fromPrevious, resultJson } from '../../../src/cni/result.ts';
import { CniError } from '../../../src/cni/spec.ts';
import { formatIpv6Value, parseSubnetEnv } from '../../../src/cni/subnet-env.ts';
import { seededRandom } from '../../helpers/random.ts';

const V4 = 'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\n';
const V6 = 'FLANNEL_IPV6_NETWORK=fd00:10:244::/56\nFLANNEL_IPV6_SUBNET=fd00:10:244:1::1/64\n';
const TAIL = 'FLANNEL_MTU=1450\nFLANNEL_IPMASQ=false\n';
/** As src/cli/subnet-env.ts writes it for a dual-stack node: the IPv6 pair after the IPv4 one. */
const DUAL = `${V4}${V6}${TAIL}`;

function errorOf(f: () => unknown): { code: number; details: string } | string {
  try {
    f();
    return 'no error';
  } catch (err) {
    return err instanceof CniError ? { code: err.code, details: err.details } : `not a CniError: ${String(err)}`;
  }
}

describe('subnet.env on a dual-stack node', () => {
  it('reads the IPv6 pair beside the IPv4 one', () => {
    const net = parseSubnetEnv('f', DUAL);
    expect(net.v6).toEqual({
      clusterCidr: { network: 0xfd000010024400000000000000000000n, bits: 56 },
      subnet: { network: 0xfd000010024400010000000000000000n, bits: 64 },
      gateway: 0xfd000010024400010000000000000001n,
    });
    expect(formatIpv6Value(net.v6!.gateway)).toBe('fd00:10:244:1::1');
    expect(parseSubnetEnv('f', `${V4}${TAIL}`).v6).toBeUndefined();
  });

  it.each([
    ['FLANNEL_IPV6_NETWORK=fd00:10:244::/56\n', 'FLANNEL_IPV6_NETWORK=fd00:10:244::/56 is given without FLANNEL_IPV6_SUBNET; a dual-stack node writes both, such as FLANNEL_IPV6_SUBNET=fd00:10:244:1::1/64'],
    ['FLANNEL_IPV6_SUBNET=fd00:10:244:1::1/64\n', 'FLANNEL_IPV6_SUBNET=fd00:10:244:1::1/64 is given without FLANNEL_IPV6_NETWORK; a dual-stack node writes both, such as FLANNEL_IPV6_NETWORK=fd00:10:244::/56'],
    ['FLANNEL_IPV6_NETWORK=10.0.0.0/8\nFLANNEL_IPV6_SUBNET=fd00:10:244:1::1/64\n', 'FLANNEL_IPV6_NETWORK=10.0.0.0/8 is not an IPv6 prefix such as fd00:10:244::/56'],
    ['FLANNEL_IPV6_NETWORK=fd00:10:244::/56\nFLANNEL_IPV6_SUBNET=fd00:10:244:1::1\n', 'FLANNEL_IPV6_SUBNET=fd00:10:244:1::1 is not an IPv6 prefix such as fd00:10:244:1::1/64'],
    ['FLANNEL_IPV6_NETWORK=fd00:10:244::/56\nFLANNEL_IPV6_SUBNET=fd00:10:244:1::/64\n', 'FLANNEL_IPV6_SUBNET=fd00:10:244:1::/64 names the network address; it must name the gateway, such as fd00:10:244:1::1/64'],
    ['FLANNEL_IPV6_NETWORK=fd00:10:244::/56\nFLANNEL_IPV6_SUBNET=fd00:10:244:1::1/127\n', 'FLANNEL_IPV6_SUBNET=fd00:10:244:1::1/127 leaves no addresses for pods (a /126 or larger is needed)'],
  ])('a malformed pair %j is error 7 naming the key and the fix', (pair, why) => {
    expect(errorOf(() => parseSubnetEnv('/run/flannel/subnet.env', `${V4}${pair}${TAIL}`))).toEqual({
      code: 7,
      details: `${why}; weft writes this file itself (subnetEnv in its config), so check that "subnetEnv" in the conflist names the file of this node's weft`,
    });
  });
});

describe('subnet.env, hostile', () => {
  it('any text is a network or a CniError, never an exception of another kind', () => {
    const rnd = seededRandom(14);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
    const keys = ['FLANNEL_NETWORK', 'FLANNEL_SUBNET', 'FLANNEL_MTU', 'FLANNEL_IPV6_NETWORK', 'FLANNEL_IPV6_SUBNET', 'X', ''];
    const values = ['10.244.0.0/16', '10.244.1.1/24', '1450', 'fd00:10:244::/56', 'fd00:10:244:1::1/64', 'fd00::1/128', 'fd00::/0', '::1/126', '::ffff:10.0.0.1/120', '1:2:3:4:5:6:7:8:9/64', 'fd00::1%eth0/64', '/64', 'fd00::1/', '', '=', 'fd00::1/1e2'];
    for (let i = 0; i < 3000; i++) {
      const lines = Array.from({ length: Math.floor(rnd() * 7) }, () => `${pick(keys)}${pick(['=', '= ', ''])}${pick(values)}`);
      const text = `${V4}${TAIL}${lines.join('\n')}`;
      const outcome = errorOf(() => parseSubnetEnv('f', text));
      expect(outcome === 'no error' || typeof outcome === 'object', `${JSON.stringify(text)}: ${JSON.stringify(outcome)}`).toBe(true);
    }
  });
});

describe('address store, both families', () => {
  const dirs: string[] = [];
  afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));
  const store = () => {
    const dir = mkdtempSync(join(tmpdir(), 'wd-store-'));
    dirs.push(dir);
    return new AddressStore(dir, 'net');
  };
  const a = { containerId: 'a', ifname: 'eth0' };
  const b = { containerId: 'b', ifname: 'eth0' };

  it('names an IPv6 reservation by its canonical text, colons as dashes, and reads only such names back', () => {
    expect(ipv6FileName(0xfd000010024400010000000000000002n)).toBe('fd00-10-244-1--2');
    const s = store();
    const net = parseSubnetEnv('f', DUAL);
    expect(s.reserve(net.v4!, a)).toBe(0x0af40102);
    expect(s.reserve6(net.v6!, a)).toBe(0xfd000010024400010000000000000002n);
    expect(readdirSync(s.dir).sort()).toEqual(['10.244.1.2', 'fd00-10-244-1--2', 'last-reserved', 'last-reserved6']);
    expect(readFileSync(join(s.dir, 'fd00-10-244-1--2'), 'utf8')).toBe('a\neth0\n');
    expect(readFileSync(join(s.dir, 'last-reserved6'), 'utf8')).toBe('fd00:10:244:1::2\n');
    // Another spelling of an address is not a reservation: the canonical name alone decides.
    writeFileSync(join(s.dir, 'fd00-10-244-1-0-0-0-9'), 'x\neth0\n');
    writeFileSync(join(s.dir, 'fd00:10:244:1::8'), 'x\neth0\n');
    expect(s.list6()).toEqual([{ address: 0xfd000010024400010000000000000002n, attachment: a }]);
    expect(s.list().map((r) => r.address)).toEqual([0x0af40102]);
  });

  it('hands out IPv6 addresses round-robin past the gateway, refuses a second ADD (100) and a full subnet (101)', () => {
    const s = store();
    // A /126: ::0 the network (never handed out), ::1 the gateway, ::2 and ::3 for pods.
    const net6 = parseSubnetEnv('f', `${V4}FLANNEL_IPV6_NETWORK=fd00::/120\nFLANNEL_IPV6_SUBNET=fd00::1/126\n${TAIL}`).v6!;
    expect(formatIpv6Value(s.reserve6(net6, a))).toBe('fd00::2');
    expect(errorOf(() => s.reserve6(net6, a))).toEqual({ code: 100, details: 'it holds fd00::2; a runtime calls DEL before adding the same container and interface again' });
    expect(formatIpv6Value(s.reserve6(net6, b))).toBe('fd00::3');
    expect(errorOf(() => s.reserve6(net6, { containerId: 'c', ifname: 'eth0' }))).toMatchObject({ code: 101 });
    expect(s.release(a)).toEqual(['fd00::2']);
    // After ::3 the walk wraps to ::1 (the gateway, skipped), then ::2.
    expect(formatIpv6Value(s.reserve6(net6, a))).toBe('fd00::2');
  });

  it('DEL releases both families, GC keeps exactly the valid attachments in both', () => {
    const s = store();
    const net = parseSubnetEnv('f', DUAL);
    for (const id of ['a', 'b', 'c']) {
      s.reserve(net.v4!, { containerId: id, ifname: 'eth0' });
      s.reserve6(net.v6!, { containerId: id, ifname: 'eth0' });
    }
    expect(s.release(a)).toEqual(['10.244.1.2', 'fd00:10:244:1::2']);
    // A leak in one family only (an ADD killed between the two reservations) is an attachment too.
    s.reserve6(net.v6!, { containerId: 'd', ifname: 'eth0' });
    expect(s.attachments().map((x) => x.containerId)).toEqual(['b', 'c', 'd']);
    expect(s.collect([b])).toEqual(['10.244.1.4', 'fd00:10:244:1::4', 'fd00:10:244:1::5']);
    expect(s.list().map((r) => r.attachment.containerId)).toEqual(['b']);
    expect(s.list6().map((r) => r.attachment.containerId)).toEqual(['b']);
  });
});

describe('results with both families', () => {
  const interfaces = [
    { name: 'cni0', mac: '0a:58:0a:f4:01:01', mtu: 1450 },
    { name: 'veth0', mac: '0e:58:0a:f4:01:02', mtu: 1450 },
    { name: 'eth0', mac: '0a:58:0a:f4:01:02', mtu: 1450, sandbox: '/run/netns/x' },
  ];
  const ips = [
    { address: '10.244.1.2/24', gateway: '10.244.1.1', interfaceOffset: 2 },
    { address: 'fd00:10:244:1::2/64', gateway: 'fd00:10:244:1::1', interfaceOffset: 2 },
  ];
  const routes = [
    { dst: '10.244.0.0/16', gw: '10.244.1.1' },
    { dst: '0.0.0.0/0', gw: '10.244.1.1' },
    { dst: 'fd00:10:244::/56', gw: 'fd00:10:244:1::1' },
    { dst: '::/0', gw: 'fd00:10:244:1::1' },
  ];
  const r = appendAttachment(fromPrevious(undefined), interfaces, ips, routes, undefined);
  const ROUTES = '"routes":[{"dst":"10.244.0.0/16","gw":"10.244.1.1"},{"dst":"0.0.0.0/0","gw":"10.244.1.1"},{"dst":"fd00:10:244::/56","gw":"fd00:10:244:1::1"},{"dst":"::/0","gw":"fd00:10:244:1::1"}]';

  it.each([
    ['0.3.1', '"version":"4",', '"version":"6",'],
    ['0.4.0', '"version":"4",', '"version":"6",'],
    ['1.0.0', '', ''],
  ])('%s: ips carry the family only before 1.0.0', (version, v4, v6) => {
    expect(resultJson(r, version as '0.3.1')).toBe(
      `{"cniVersion":"${version}","interfaces":[{"name":"cni0","mac":"0a:58:0a:f4:01:01"},{"name":"veth0","mac":"0e:58:0a:f4:01:02"},{"name":"eth0","mac":"0a:58:0a:f4:01:02","sandbox":"/run/netns/x"}],` +
        `"ips":[{${v4}"address":"10.244.1.2/24","gateway":"10.244.1.1","interface":2},{${v6}"address":"fd00:10:244:1::2/64","gateway":"fd00:10:244:1::1","interface":2}],${ROUTES},"dns":{}}`,
    );
  });
});
