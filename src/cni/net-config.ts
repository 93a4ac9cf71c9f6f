/**
 * The network configuration a runtime writes on stdin (SPEC.md section 1 and
 * section 3, "Deriving request configuration"), parsed without trusting it:
 * any malformed input is a CniError naming the field and the fix, never an
 * exception escaping to the runtime.
 */
import { CniError, ErrorCode, isSupportedVersion, SUPPORTED_VERSIONS } from './spec.ts';
import type { CniVersion } from './spec.ts';

/** Where weft writes its subnet.env unless the node's config says otherwise (src/cli/config.ts). */
export const DEFAULT_SUBNET_ENV = '/run/flannel/subnet.env';
/** Address reservations live on disk, so they outlive a reboot as the node's subnet lease does. */
export const DEFAULT_DATA_DIR = '/var/lib/weft/cni';
/** Flannel's bridge name: an operator moving from Flannel finds the same device. */
export const DEFAULT_BRIDGE = 'cni0';

export interface Attachment {
  containerId: string;
  ifname: string;
}

export interface NetConfig {
  cniVersion: CniVersion;
  name: string;
  subnetEnv: string;
  dataDir: string;
  bridge: string;
  /** weft's control socket: when set, STATUS asks the node itself whether it runs. */
  controlSocket: string | undefined;
  /** The previous plugin's result (ADD in a chain) or the ADD's result (CHECK, DEL), as given. */
  prevResult: Record<string, unknown> | undefined;
  /** `dns` of the config, echoed in the result. */
  dns: Record<string, unknown> | undefined;
  /** GC's still-valid attachments; undefined when the runtime sent none. */
  validAttachments: Attachment[] | undefined;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/u;
const IFNAME = /^[^/:\s]{1,15}$/u;

function invalid(field: string, details: string): CniError {
  return new CniError(ErrorCode.INVALID_CONFIG, `invalid network configuration: ${field}`, details);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function optionalPath(j: Record<string, unknown>, field: string, fallback: string): string {
  const v = j[field];
  if (v === undefined) return fallback;
  if (typeof v !== 'string' || !v.startsWith('/')) throw invalid(field, `"${field}" must be an absolute path, got ${JSON.stringify(v)}; remove it for the default ${fallback}`);
  return v;
}

/** Parse stdin's JSON into an object, or CniError 6 saying where it broke. */
export function parseJsonObject(text: string): Record<string, unknown> {
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch (err) {
    throw new CniError(ErrorCode.DECODE_FAILURE, 'network configuration is not JSON', `stdin must hold one JSON object (the network configuration); ${(err as Error).message}`);
  }
  if (!isObject(j)) throw new CniError(ErrorCode.DECODE_FAILURE, 'network configuration is not a JSON object', `stdin must hold one JSON object, got ${Array.isArray(j) ? 'an array' : typeof j}`);
  return j;
}

/** The configuration's cniVersion, checked: missing is error 7, one weft-cni does not speak is error 1. */
export function configVersion(j: Record<string, unknown>): CniVersion {
  const v = j.cniVersion;
  if (typeof v !== 'string') throw invalid('cniVersion', `"cniVersion" must be a string such as "1.0.0", got ${JSON.stringify(v)}`);
  if (!isSupportedVersion(v)) {
    throw new CniError(ErrorCode.INCOMPATIBLE_VERSION, `incompatible CNI version ${v}`, `weft-cni supports ${SUPPORTED_VERSIONS.join(', ')}; set "cniVersion" in the conflist to one of them`);
  }
  return v;
}

export function parseNetConfig(j: Record<string, unknown>): NetConfig {
  const cniVersion = configVersion(j);
  if (typeof j.name !== 'string' || !NAME.test(j.name)) {
    throw invalid('name', `"name" must be the network's name (a letter or digit, then letters, digits, "_", "." or "-"), got ${JSON.stringify(j.name)}`);
  }
  if (j.ipam !== undefined) {
    throw new CniError(
      ErrorCode.UNSUPPORTED_FIELD,
      `unsupported field ipam: ${JSON.stringify(j.ipam)}`,
      'weft-cni hands out addresses itself, from the subnet weft leased for this node (subnet.env); remove "ipam" from the weft plugin entry',
    );
  }
  const bridge = j.bridge === undefined ? DEFAULT_BRIDGE : j.bridge;
  if (typeof bridge !== 'string' || !IFNAME.test(bridge)) throw invalid('bridge', `"bridge" must be an interface name of 1 to 15 characters, got ${JSON.stringify(bridge)}`);
  const controlSocket = j.controlSocket === undefined ? undefined : optionalPath(j, 'controlSocket', '');
  if (j.prevResult !== undefined && !isObject(j.prevResult)) throw invalid('prevResult', `"prevResult" must be the previous plugin's result object, got ${JSON.stringify(j.prevResult)}`);
  if (j.dns !== undefined && !isObject(j.dns)) throw invalid('dns', `"dns" must be an object such as {"nameservers":["10.96.0.10"]}, got ${JSON.stringify(j.dns)}`);
  return {
    cniVersion,
    name: j.name,
    subnetEnv: optionalPath(j, 'subnetEnv', DEFAULT_SUBNET_ENV),
    dataDir: optionalPath(j, 'dataDir', DEFAULT_DATA_DIR),
    bridge,
    controlSocket,
    prevResult: j.prevResult as Record<string, unknown> | undefined,
    dns: j.dns as Record<string, unknown> | undefined,
    validAttachments: attachments(j),
  };
}

/**
 * GC's list of attachments still valid. The specification names the key
 * `cni.dev/valid-attachments`; libcni 1.2.0 sent `cni.dev/attachments`, and
 * later libcni sends both, so either is read (both: their union).
 */
function attachments(j: Record<string, unknown>): Attachment[] | undefined {
  const keys = ['cni.dev/valid-attachments', 'cni.dev/attachments'].filter((k) => j[k] !== undefined);
  if (keys.length === 0) return undefined;
  const out: Attachment[] = [];
  for (const key of keys) {
    const list = j[key];
    if (!Array.isArray(list)) throw invalid(key, `"${key}" must be an array of {"containerID": ..., "ifname": ...}, got ${JSON.stringify(list)}`);
    for (const [i, a] of list.entries()) {
      if (!isObject(a) || typeof a.containerID !== 'string' || typeof a.ifname !== 'string') {
        throw invalid(`${key}[${i}]`, `each attachment must be {"containerID": "<id>", "ifname": "<name>"}, got ${JSON.stringify(a)}`);
      }
      out.push({ containerId: a.containerID, ifname: a.ifname });
    }
  }
  return out;
}
