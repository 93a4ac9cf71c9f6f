/**
 * The ADD result (SPEC.md section 5, "ADD Success"), written in the format
 * of the configuration's cniVersion:
 *
 *   0.3.0, 0.3.1, 0.4.0  each IP carries "version": "4" or "6"
 *   1.0.0                no "version" (the address says the family)
 *   1.1.0                as 1.0.0, plus "mtu" on each interface
 *
 * Keys are written in the specification's order, so a result is the same
 * bytes every time for the same attachment (the conformance test compares
 * them whole).
 */
import { versionAtLeast } from './spec.ts';
import type { CniVersion } from './spec.ts';
import { CniError, ErrorCode } from './spec.ts';

export interface ResultInterface {
  name: string;
  mac: string;
  mtu: number;
  /** The container's netns path; absent for interfaces on the host. */
  sandbox?: string;
}

export interface ResultIp {
  address: string;
  gateway: string;
  interface: number;
}

export interface ResultRoute {
  dst: string;
  gw: string;
}

/** Entries of a previous plugin's result, kept as they came (a later plugin's own fields included). */
type Raw = Record<string, unknown>;

export interface Result {
  interfaces: Array<ResultInterface | Raw>;
  ips: Array<ResultIp | Raw>;
  routes: Array<ResultRoute | Raw>;
  dns: Raw;
}

function list(prev: Raw, key: string): Raw[] {
  const v = prev[key];
  if (v === undefined) return [];
  if (!Array.isArray(v) || v.some((e) => typeof e !== 'object' || e === null || Array.isArray(e))) {
    throw new CniError(ErrorCode.INVALID_CONFIG, `invalid network configuration: prevResult.${key}`, `"prevResult.${key}" must be an array of objects, as a plugin's result has it; got ${JSON.stringify(v)}`);
  }
  return v as Raw[];
}

/** A previous plugin's result, as the start of ours (SPEC.md: an interface plugin in a chain adds to it). */
export function fromPrevious(prev: Raw | undefined): Result {
  if (prev === undefined) return { interfaces: [], ips: [], routes: [], dns: {} };
  const dns = prev.dns;
  return { interfaces: list(prev, 'interfaces'), ips: list(prev, 'ips'), routes: list(prev, 'routes'), dns: typeof dns === 'object' && dns !== null && !Array.isArray(dns) ? (dns as Raw) : {} };
}

/**
 * Append one attachment's interfaces, IPs (one per family, IPv4 first) and
 * routes; each IP's interface index counts from the ones already there.
 */
export function appendAttachment(r: Result, interfaces: ResultInterface[], ips: Array<Omit<ResultIp, 'interface'> & { interfaceOffset: number }>, routes: ResultRoute[], dns: Raw | undefined): Result {
  const base = r.interfaces.length;
  return {
    interfaces: [...r.interfaces, ...interfaces],
    ips: [...r.ips, ...ips.map((ip) => ({ address: ip.address, gateway: ip.gateway, interface: base + ip.interfaceOffset }))],
    routes: [...r.routes, ...routes],
    dns: dns ?? r.dns,
  };
}

function formatInterface(i: Raw, version: CniVersion): Raw {
  const { name, mac, mtu, sandbox, ...rest } = i;
  return {
    name,
    ...(mac === undefined ? {} : { mac }),
    ...(mtu === undefined || !versionAtLeast(version, '1.1.0') ? {} : { mtu }),
    ...(sandbox === undefined ? {} : { sandbox }),
    ...rest,
  };
}

function formatIp(ip: Raw, version: CniVersion): Raw {
  const { version: _family, address, gateway, interface: index, ...rest } = ip;
  const family = typeof address === 'string' && address.includes(':') ? '6' : '4';
  return {
    ...(versionAtLeast(version, '1.0.0') ? {} : { version: family }),
    address,
    ...(gateway === undefined ? {} : { gateway }),
    ...(index === undefined ? {} : { interface: index }),
    ...rest,
  };
}

/** The result as the runtime reads it: JSON in the configuration's version. */
export function resultJson(r: Result, version: CniVersion): string {
  return JSON.stringify({
    cniVersion: version,
    interfaces: r.interfaces.map((i) => formatInterface(i as Raw, version)),
    ips: r.ips.map((ip) => formatIp(ip as Raw, version)),
    routes: r.routes,
    dns: r.dns,
  });
}
