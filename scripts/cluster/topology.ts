/**
 * A test cluster on one machine, built from network namespaces:
 *
 *   <name>-ul        the underlay: a bridge (br0) every node plugs into
 *   <name>-n<i>      node i: ul0 (10.99.0.<i>/24, or fd99::<i>/64 on an IPv6 underlay,
 *                    or both on a dual underlay) on the underlay, cni0 (10.244.<i>.1/24, and the IPv6 subnet's ::1
 *                    when dual-stack) the pods' bridge, and weft routing the cluster
 *                    CIDRs into its TUN device
 *   <name>-n<i>-p<j> pod j of node i: eth0 10.244.<i>.<j+1>/24 (and <subnet6>::<j+1>,
 *                    or that alone in an IPv6-only pod network), default routes via cni0
 *
 * Pods are attached as the CNI bridge and host-local plugins would attach
 * them: a veth pair with one end on the node's bridge. Every address lives in
 * namespaces this module creates, and `destroy` removes them all. The
 * namespaces, veths and commands come from the lab (scripts/lab/netns.ts)
 * the tests use too; the namespaces outlive this process, so they are
 * named here and removed by name.
 */
import { addNamespace, addVeth, deleteNamespace, listNamespaces, nsRun } from '../lab/netns.ts';

export interface ClusterNode {
  index: number;
  ns: string;
  /** The node's underlay address: IPv4, or IPv6 on an IPv6-only underlay. */
  underlayIp: string;
  /** A dual-underlay node's IPv6 address beside its IPv4 `underlayIp`. */
  underlayIp6?: string;
  subnet: string;
  gateway: string;
  /** The node's IPv6 subnet, in a dual-stack cluster (known once its weft is ready). */
  subnet6?: string;
  /**
   * A pod is a namespace wired by hand (`ns`), or with --containers a podman container (`container`);
   * `ip` its address (IPv6 in an IPv6-only pod network, whose `subnet` is then the IPv6 /64), `ip6` its second when dual-stack.
   */
  pods: Array<{ ns: string; ip: string; ip6?: string; container?: string }>;
}

export interface ClusterLayout {
  name: string;
  underlayNs: string;
  nodes: ClusterNode[];
}

/** Create namespace `name` (loopback up); throws if it cannot. */
async function namespace(name: string): Promise<void> {
  const r = await addNamespace(name);
  if (r.code !== 0) throw new Error(`ip netns add ${name} failed: ${r.stderr.trim()}`);
}

/** A node's underlay families: IPv4 only, IPv6 only, or both (a dual underlay). */
export type UnderlayFamilies = '4' | '6' | '46';

/**
 * `underlay` 6: the nodes reach each other over IPv6 only; a list gives
 * node i the families of its ((i - 1) mod length)-th entry.
 */
export function layout(name: string, nodes: number, pods: number, underlay: 4 | 6 | readonly UnderlayFamilies[] = 4): ClusterLayout {
  const familiesOf = (i: number): UnderlayFamilies => (typeof underlay === 'number' ? (String(underlay) as UnderlayFamilies) : underlay[(i - 1) % underlay.length]!);
  return {
    name,
    underlayNs: `${name}-ul`,
    nodes: Array.from({ length: nodes }, (_, k) => {
      const i = k + 1;
      const families = familiesOf(i);
      return {
        index: i,
        ns: `${name}-n${i}`,
        underlayIp: families === '6' ? `fd99::${i}` : `10.99.0.${i}`,
        ...(families === '46' ? { underlayIp6: `fd99::${i}` } : {}),
        subnet: `10.244.${i}.0/24`,
        gateway: `10.244.${i}.1`,
        pods: Array.from({ length: pods }, (_, j) => ({ ns: `${name}-n${i}-p${j + 1}`, ip: `10.244.${i}.${j + 2}` })),
      };
    }),
  };
}

export interface Impairment {
  /** Packet loss on every node's underlay link, in percent. */
  lossPercent: number;
  /** One-way delay on every node's underlay link, in milliseconds. */
  delayMs: number;
}

/**
 * Create the underlay and every node namespace (pods come with addPods, once a
 * node's subnet is known). `bridge` false leaves the pods' bridge to weft-cni,
 * which makes it at the first container's ADD.
 */
export async function build(l: ClusterLayout, podMtu: number, impair: Impairment, bridge = true): Promise<void> {
  await namespace(l.underlayNs);
  await nsRun(l.underlayNs, ['ip', 'link', 'add', 'br0', 'type', 'bridge']);
  await nsRun(l.underlayNs, ['ip', 'link', 'set', 'br0', 'up']);
  for (const n of l.nodes) {
    await namespace(n.ns);
    await nsRun(n.ns, ['sysctl', '-qw', 'net.ipv4.ip_forward=1', 'net.ipv4.conf.all.rp_filter=0', 'net.ipv4.conf.default.rp_filter=0', 'net.ipv6.conf.all.forwarding=1']);
    // Underlay: ul0 in the node, its peer on the shared bridge.
    await addVeth(n.ns, 'ul0', l.underlayNs, `ul${n.index}`);
    await nsRun(l.underlayNs, ['ip', 'link', 'set', `ul${n.index}`, 'master', 'br0']);
    // nodad: an IPv6 address is usable at once, not after duplicate address detection.
    for (const ip of [n.underlayIp, ...(n.underlayIp6 !== undefined ? [n.underlayIp6] : [])]) {
      await nsRun(n.ns, ['ip', 'addr', 'add', ...(ip.includes(':') ? [`${ip}/64`, 'nodad'] : [`${ip}/24`]), 'dev', 'ul0']);
    }
    if (impair.lossPercent > 0 || impair.delayMs > 0) {
      await nsRun(n.ns, ['tc', 'qdisc', 'add', 'dev', 'ul0', 'root', 'netem', 'loss', `${impair.lossPercent}%`, 'delay', `${impair.delayMs}ms`]);
    }
    if (!bridge) continue;
    // The pods' bridge, as the CNI bridge plugin makes it.
    await nsRun(n.ns, ['ip', 'link', 'add', 'cni0', 'type', 'bridge']);
    await nsRun(n.ns, ['ip', 'link', 'set', 'cni0', 'mtu', String(podMtu), 'up']);
  }
}

/**
 * Give node `n` its pods: the bridge takes the subnet's first address as
 * gateway and each pod the next ones, as the host-local plugin hands them
 * out from the node's subnet. `n.subnet` must be set (configured, or what
 * the node's weft claimed).
 */
export async function addPods(n: ClusterNode, podMtu: number): Promise<void> {
  if (n.subnet.includes(':')) return addPodsIpv6Only(n, podMtu);
  const [a, b, c] = n.subnet.split('/')[0]!.split('.');
  const bits = n.subnet.split('/')[1]!;
  n.gateway = `${a}.${b}.${c}.1`;
  await nsRun(n.ns, ['ip', 'addr', 'add', `${n.gateway}/${bits}`, 'dev', 'cni0']);
  for (const [j, pod] of n.pods.entries()) {
    pod.ip = `${a}.${b}.${c}.${j + 2}`;
    await namespace(pod.ns);
    const hostEnd = `veth${j + 1}`;
    await addVeth(n.ns, hostEnd, pod.ns, 'eth0', podMtu);
    await nsRun(n.ns, ['ip', 'link', 'set', hostEnd, 'master', 'cni0']);
    await nsRun(pod.ns, ['ip', 'addr', 'add', `${pod.ip}/${bits}`, 'dev', 'eth0']);
    await nsRun(pod.ns, ['ip', 'route', 'add', 'default', 'via', n.gateway]);
  }
  if (n.subnet6 !== undefined) await addPods6(n);
}

/** A dual-stack node's pods get an IPv6 address too: the subnet's ::1 on the bridge, ::2 onward for pods. */
async function addPods6(n: ClusterNode): Promise<void> {
  const [prefix, bits] = n.subnet6!.split('/') as [string, string];
  const base = prefix.endsWith('::') ? prefix : `${prefix}::`;
  await nsRun(n.ns, ['ip', 'addr', 'add', `${base}1/${bits}`, 'dev', 'cni0', 'nodad']);
  for (const [j, pod] of n.pods.entries()) {
    pod.ip6 = `${base}${(j + 2).toString(16)}`;
    await nsRun(pod.ns, ['ip', 'addr', 'add', `${pod.ip6}/${bits}`, 'dev', 'eth0', 'nodad']);
    await nsRun(pod.ns, ['ip', '-6', 'route', 'add', 'default', 'via', `${base}1`]);
  }
}

/**
 * An IPv6-only pod network: `n.subnet` is the node's IPv6 /64, and each pod's
 * one address (`ip`) is IPv6: the subnet's ::1 on the bridge, ::2 onward.
 */
async function addPodsIpv6Only(n: ClusterNode, podMtu: number): Promise<void> {
  const [prefix, bits] = n.subnet.split('/') as [string, string];
  const base = prefix.endsWith('::') ? prefix : `${prefix}::`;
  n.gateway = `${base}1`;
  await nsRun(n.ns, ['ip', 'addr', 'add', `${n.gateway}/${bits}`, 'dev', 'cni0', 'nodad']);
  for (const [j, pod] of n.pods.entries()) {
    pod.ip = `${base}${(j + 2).toString(16)}`;
    await namespace(pod.ns);
    const hostEnd = `veth${j + 1}`;
    await addVeth(n.ns, hostEnd, pod.ns, 'eth0', podMtu);
    await nsRun(n.ns, ['ip', 'link', 'set', hostEnd, 'master', 'cni0']);
    await nsRun(pod.ns, ['ip', 'addr', 'add', `${pod.ip}/${bits}`, 'dev', 'eth0', 'nodad']);
    await nsRun(pod.ns, ['ip', '-6', 'route', 'add', 'default', 'via', n.gateway]);
  }
}

/** Kill whatever still runs in the cluster's namespaces and delete them. Never throws. */
export async function destroy(l: ClusterLayout): Promise<string[]> {
  const all = [...l.nodes.flatMap((n) => [n.ns, ...n.pods.map((p) => p.ns)]), l.underlayNs];
  const existing = new Set(await listNamespaces());
  const removed: string[] = [];
  for (const ns of all) {
    if (existing.has(ns) && (await deleteNamespace(ns)).code === 0) removed.push(ns);
  }
  return removed;
}
