/**
 * The node record: everything the cluster needs to know about one node, and
 * the only thing a node ever says about itself. It is signed with the node's
 * own Ed25519 key, so the cluster key (which every member holds) is not
 * enough to forge or overwrite another node's record: membership binds a
 * name to the first key it sees for it and drops records under another key.
 *
 * Layout (big-endian), v1:
 *   0  version u8 (1)        1  flags u8 (LEFT, SUBNET_CONFIGURED, HAS_WG)
 *   2  incarnation u32       6  signing key (32, Ed25519 public)
 *  38  wg public key (32, zero unless HAS_WG)
 *  70  underlay IPv4 (4)    74  gossip port u16   76  data port u16
 *  78  vtep MAC (6)         84  vtep IPv4 (4)
 *  88  subnet claimed at, ms since the epoch, f64 (IPAM's conflict rule)
 *  96  name len u8 + UTF-8, location len u8 + UTF-8,
 *      subnet count u8 + count x (IPv4 4 + prefix length 1)
 *  end signature (64) over "weft node record v1\0" || everything before it
 *
 * One incarnation number serves both SWIM's refutation and the record's
 * version: any change, and any refutation, re-signs the record one higher.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { formatIpv4, parseIpv4 } from '../wire/addr.ts';
import type { Cidr } from '../wire/addr.ts';

export const RECORD_VERSION = 1;
export const RecordFlag = { Left: 1, SubnetConfigured: 2, HasWg: 4 } as const;
export const SIG_LEN = 64;
export const SIGNING_KEY_LEN = 32;
/** Names and labels stay short so that several records fit one 1400-byte datagram. */
export const MAX_NAME_LEN = 63;
export const MAX_LOCATION_LEN = 63;
/** A node owning more than 8 subnets is a configuration mistake, and the cap bounds the record size. */
export const MAX_SUBNETS = 8;
const FIXED_LEN = 96;
const CONTEXT = new TextEncoder().encode('weft node record v1\0');

export interface NodeRecord {
  readonly name: string;
  readonly incarnation: number;
  readonly flags: number;
  readonly signingKey: Uint8Array;
  readonly wgPublicKey: Uint8Array | null;
  /** Underlay IPv4 address, dotted decimal. */
  readonly address: string;
  readonly gossipPort: number;
  /** The data plane's UDP port there (VXLAN 8472, WireGuard 51820, ...). */
  readonly dataPort: number;
  readonly vtepMac: Uint8Array;
  readonly vtepIp: string;
  readonly subnetClaimedAt: number;
  readonly location: string;
  readonly subnets: readonly Cidr[];
}

/** What a node fills in about itself; the signing key and incarnation are added when signing. */
export type RecordFields = Omit<NodeRecord, 'signingKey' | 'incarnation'>;

export type RecordVerdict =
  | { ok: true; record: NodeRecord; body: Uint8Array; signature: Uint8Array }
  | { ok: false; reason: 'malformed' };

const enc = new TextEncoder();
const dec = new TextDecoder('utf-8', { fatal: true });

export function generateSigningKey(): { secretKey: Uint8Array; publicKey: Uint8Array } {
  const secretKey = ed25519.utils.randomSecretKey();
  return { secretKey, publicKey: ed25519.getPublicKey(secretKey) };
}

export function signingPublicKey(secretKey: Uint8Array): Uint8Array {
  return ed25519.getPublicKey(secretKey);
}

function withContext(body: Uint8Array): Uint8Array {
  const m = new Uint8Array(CONTEXT.length + body.length);
  m.set(CONTEXT);
  m.set(body, CONTEXT.length);
  return m;
}

/** Encode and sign. Throws only on a local mistake (a too-long name): our own record, never wire input. */
export function signRecord(fields: RecordFields, incarnation: number, secretKey: Uint8Array): Uint8Array {
  const name = enc.encode(fields.name);
  const loc = enc.encode(fields.location);
  if (name.length === 0 || name.length > MAX_NAME_LEN) throw new RangeError(`node name must be 1..${MAX_NAME_LEN} bytes`);
  if (loc.length > MAX_LOCATION_LEN) throw new RangeError(`location must be at most ${MAX_LOCATION_LEN} bytes`);
  if (fields.subnets.length > MAX_SUBNETS) throw new RangeError(`at most ${MAX_SUBNETS} subnets`);
  const bodyLen = FIXED_LEN + 1 + name.length + 1 + loc.length + 1 + 5 * fields.subnets.length;
  const out = new Uint8Array(bodyLen + SIG_LEN);
  const v = new DataView(out.buffer);
  out[0] = RECORD_VERSION;
  out[1] = (fields.flags & ~RecordFlag.HasWg) | (fields.wgPublicKey !== null ? RecordFlag.HasWg : 0);
  v.setUint32(2, incarnation >>> 0);
  out.set(signingPublicKey(secretKey), 6);
  if (fields.wgPublicKey !== null) out.set(fields.wgPublicKey.subarray(0, 32), 38);
  v.setUint32(70, parseIpv4(fields.address));
  v.setUint16(74, fields.gossipPort);
  v.setUint16(76, fields.dataPort);
  out.set(fields.vtepMac.subarray(0, 6), 78);
  v.setUint32(84, parseIpv4(fields.vtepIp));
  v.setFloat64(88, fields.subnetClaimedAt);
  let o = FIXED_LEN;
  out[o++] = name.length;
  out.set(name, o);
  o += name.length;
  out[o++] = loc.length;
  out.set(loc, o);
  o += loc.length;
  out[o++] = fields.subnets.length;
  for (const s of fields.subnets) {
    if (s.family !== 4) throw new RangeError('records carry IPv4 subnets only');
    out.set(s.addr, o);
    out[o + 4] = s.bits;
    o += 5;
  }
  out.set(ed25519.sign(withContext(out.subarray(0, bodyLen)), secretKey), bodyLen);
  return out;
}

/** Parse without checking the signature (membership decides whether it needs checking). Never throws. */
export function decodeRecord(bytes: Uint8Array): RecordVerdict {
  const bad = { ok: false, reason: 'malformed' } as const;
  if (bytes.length < FIXED_LEN + 3 + SIG_LEN || bytes[0] !== RECORD_VERSION) return bad;
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const bodyLen = bytes.length - SIG_LEN;
  let o = FIXED_LEN;
  const nameLen = bytes[o++]!;
  if (nameLen === 0 || nameLen > MAX_NAME_LEN || o + nameLen + 2 > bodyLen) return bad;
  const nameBytes = bytes.subarray(o, o + nameLen);
  o += nameLen;
  const locLen = bytes[o++]!;
  if (locLen > MAX_LOCATION_LEN || o + locLen + 1 > bodyLen) return bad;
  const locBytes = bytes.subarray(o, o + locLen);
  o += locLen;
  const count = bytes[o++]!;
  if (count > MAX_SUBNETS || o + 5 * count !== bodyLen) return bad;
  const subnets: Cidr[] = [];
  for (let i = 0; i < count; i++, o += 5) {
    const bits = bytes[o + 4]!;
    if (bits > 32) return bad;
    subnets.push({ family: 4, addr: bytes.slice(o, o + 4), bits });
  }
  let name: string;
  let location: string;
  try {
    name = dec.decode(nameBytes);
    location = dec.decode(locBytes);
  } catch {
    return bad;
  }
  const flags = bytes[1]!;
  const claimedAt = v.getFloat64(88);
  if (!Number.isFinite(claimedAt)) return bad;
  const record: NodeRecord = {
    name,
    incarnation: v.getUint32(2),
    flags,
    signingKey: bytes.slice(6, 38),
    wgPublicKey: (flags & RecordFlag.HasWg) !== 0 ? bytes.slice(38, 70) : null,
    address: formatIpv4(v.getUint32(70)),
    gossipPort: v.getUint16(74),
    dataPort: v.getUint16(76),
    vtepMac: bytes.slice(78, 84),
    vtepIp: formatIpv4(v.getUint32(84)),
    subnetClaimedAt: claimedAt,
    location,
    subnets,
  };
  return { ok: true, record, body: bytes.subarray(0, bodyLen), signature: bytes.subarray(bodyLen) };
}

/** Whether the record's signature is valid under the key it names. Never throws. */
export function verifyRecord(body: Uint8Array, signature: Uint8Array, signingKey: Uint8Array): boolean {
  try {
    return ed25519.verify(signature, withContext(body), signingKey);
  } catch {
    return false;
  }
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
