/**
 * The node record: everything the cluster needs to know about one node, and
 * the only thing a node ever says about itself. It is signed with the node's
 * own Ed25519 key, so the cluster key (which every member holds) is not
 * enough to forge or overwrite another node's record: membership binds a
 * name to the first key it sees for it and drops records under another key.
 *
 * Layout (big-endian), v1:
 *   0  version u8 (1)        1  flags u8 (LEFT, SUBNET_CONFIGURED, HAS_WG,
 *                               FINISHES_CHECKSUMS: send it TCP checksums
 *                               partial, src/offload/partial-checksum.ts)
 *   2  incarnation u32       6  signing key (32, Ed25519 public)
 *  38  wg public key (32, zero unless HAS_WG)
 *  70  underlay IPv4 (4)    74  gossip port u16   76  data port u16
 *  78  vtep MAC (6)         84  vtep IPv4 (4)
 *  88  subnet claimed at, ms since the epoch, f64 (IPAM's conflict rule)
 *  96  name len u8 + UTF-8, location len u8 + UTF-8,
 *      subnet count u8 + count x (IPv4 4 + prefix length 1)
 *  end signature (64) over "weft node record v1\0" || everything before it
 *
 * v2 carries subnets of both families (dual-stack) and an IPv6 underlay
 * address. Bytes 0..95 are v1's, with version 2 and one more flag
 * (SUBNET6_CONFIGURED); then
 *  96  IPv6 subnet claimed at, f64 (the conflict rule runs per family)
 * 104  underlay IPv6 (16): all zero when the underlay is IPv4 (then the
 *      IPv4 at 70 is the address); else the IPv6 address. The IPv4 at 70
 *      is zero on an IPv6-only underlay; a node on both underlay families
 *      (dual underlay) fills both, and each reader picks a family both
 *      have, IPv6 when they share both (reachableAddress)
 * 120  name len u8 + UTF-8, location len u8 + UTF-8,
 *      subnet count u8 + count x (family u8 (4 or 6) + address (4 or 16)
 *      + prefix length u8), host bits clear
 *  end signature (64) over the same context || everything before it
 * The version byte is inside the signed body, so nobody can relabel one
 * version as the other.
 *
 * Mixed versions: a node signs v1 whenever it has no IPv6 subnet and only an
 * IPv4 underlay, so an IPv4-only cluster sends exactly the bytes it always
 * did, and nodes of either version read each other. A node older than v2
 * drops a v2 record as malformed (counted, as any record it cannot read): it
 * never reads an IPv6 subnet as an IPv4 one or half a record as a whole. It
 * keeps the last v1 record it had of that node, and acks keep the node
 * alive there, but it cannot take the node's refutations any more (they are
 * v2), so a suspicion ends in a death on the old node. Enable IPv6 only once
 * every node runs a version that reads v2. (No layout could do better: the
 * v1 decoder takes version 1 at exactly the v1 length and nothing else.)
 * A v2 reader from before dual underlays took the IPv6 address of a record
 * that has both and ignored the IPv4 one, so it reaches a dual-underlay
 * node over IPv6 only.
 *
 * One incarnation number serves both SWIM's refutation and the record's
 * version: any change, and any refutation, re-signs the record one higher.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { isIP } from 'node:net';
import { formatIpv4, formatIpv6, parseIpv4, parseIpv6 } from '../wire/addr.ts';
import type { Cidr } from '../wire/addr.ts';

/** The version a record with no IPv6 subnet is signed as: what every weft before dual-stack reads. */
export const RECORD_VERSION = 1;
/** The version that carries subnets of both families. */
export const RECORD_VERSION_DUAL = 2;
/** SubnetConfigured is the IPv4 subnet's; Subnet6Configured (v2 only) the IPv6 one's. */
export const RecordFlag = { Left: 1, SubnetConfigured: 2, HasWg: 4, Subnet6Configured: 8, FinishesChecksums: 16 } as const;
export const SIG_LEN = 64;
export const SIGNING_KEY_LEN = 32;
/** Names and labels stay short so that several records fit one 1400-byte datagram. */
export const MAX_NAME_LEN = 63;
export const MAX_LOCATION_LEN = 63;
/** A node owning more than 8 subnets is a configuration mistake, and the cap bounds the record size. */
export const MAX_SUBNETS = 8;
const FIXED_LEN = 96;
const FIXED_LEN_DUAL = 120;
/** Where a v2 record holds an IPv6 underlay address. */
const ADDRESS6_OFFSET = 104;
const CONTEXT = new TextEncoder().encode('weft node record v1\0');

export interface NodeRecord {
  readonly name: string;
  readonly incarnation: number;
  readonly flags: number;
  readonly signingKey: Uint8Array;
  readonly wgPublicKey: Uint8Array | null;
  /**
   * Underlay address: dotted IPv4, or IPv6 text (v2 records only). A dual-underlay
   * node's IPv4 one, its IPv6 one in `address6`; a reader may replace it with the
   * one it reaches (reachableAddress) before membership uses it.
   */
  readonly address: string;
  /** The IPv6 underlay address of a node whose `address` is IPv4 and which has both (v2 only). */
  readonly address6?: string;
  readonly gossipPort: number;
  /** The data plane's UDP port there (VXLAN 8472, WireGuard 51820, ...). */
  readonly dataPort: number;
  readonly vtepMac: Uint8Array;
  readonly vtepIp: string;
  /** When the IPv4 subnet was claimed (wall-clock ms); 0 with none. */
  readonly subnetClaimedAt: number;
  /** When the IPv6 subnet was claimed; absent (v1 records) reads as 0. */
  readonly subnet6ClaimedAt?: number;
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

/** Bytes one subnet takes in the subnet list of a record of `version`. */
function entryLen(version: number, family: 4 | 6): number {
  return version === RECORD_VERSION ? 5 : family === 4 ? 6 : 18;
}

/** Encode and sign. Throws only on a local mistake (a too-long name): our own record, never wire input. */
export function signRecord(fields: RecordFields, incarnation: number, secretKey: Uint8Array): Uint8Array {
  const name = enc.encode(fields.name);
  const loc = enc.encode(fields.location);
  if (name.length === 0 || name.length > MAX_NAME_LEN) throw new RangeError(`node name must be 1..${MAX_NAME_LEN} bytes`);
  if (loc.length > MAX_LOCATION_LEN) throw new RangeError(`location must be at most ${MAX_LOCATION_LEN} bytes`);
  if (fields.subnets.length > MAX_SUBNETS) throw new RangeError(`at most ${MAX_SUBNETS} subnets`);
  const underlay6 = isIP(fields.address) === 6;
  const second = fields.address6;
  if (second !== undefined && (underlay6 || isIP(second) !== 6)) throw new RangeError('address6 is an IPv6 address beside an IPv4 address');
  // v1 whenever it can say everything: an IPv4-only node stays readable by every older node.
  const version = !underlay6 && second === undefined && fields.subnets.every((s) => s.family === 4) ? RECORD_VERSION : RECORD_VERSION_DUAL;
  const fixed = version === RECORD_VERSION ? FIXED_LEN : FIXED_LEN_DUAL;
  let listLen = 0;
  for (const s of fields.subnets) listLen += entryLen(version, s.family);
  const bodyLen = fixed + 1 + name.length + 1 + loc.length + 1 + listLen;
  const out = new Uint8Array(bodyLen + SIG_LEN);
  const v = new DataView(out.buffer);
  let flags = (fields.flags & ~RecordFlag.HasWg) | (fields.wgPublicKey !== null ? RecordFlag.HasWg : 0);
  if (version === RECORD_VERSION) flags &= ~RecordFlag.Subnet6Configured;
  out[0] = version;
  out[1] = flags;
  v.setUint32(2, incarnation >>> 0);
  out.set(signingPublicKey(secretKey), 6);
  if (fields.wgPublicKey !== null) out.set(fields.wgPublicKey.subarray(0, 32), 38);
  if (underlay6) out.set(parseIpv6(fields.address), ADDRESS6_OFFSET);
  else v.setUint32(70, parseIpv4(fields.address));
  if (second !== undefined) out.set(parseIpv6(second), ADDRESS6_OFFSET);
  v.setUint16(74, fields.gossipPort);
  v.setUint16(76, fields.dataPort);
  out.set(fields.vtepMac.subarray(0, 6), 78);
  v.setUint32(84, parseIpv4(fields.vtepIp));
  v.setFloat64(88, fields.subnetClaimedAt);
  if (version === RECORD_VERSION_DUAL) v.setFloat64(96, fields.subnet6ClaimedAt ?? 0);
  let o = fixed;
  out[o++] = name.length;
  out.set(name, o);
  o += name.length;
  out[o++] = loc.length;
  out.set(loc, o);
  o += loc.length;
  out[o++] = fields.subnets.length;
  for (const s of fields.subnets) {
    if (version === RECORD_VERSION_DUAL) out[o++] = s.family;
    out.set(s.addr, o);
    o += s.addr.length;
    out[o++] = s.bits;
  }
  out.set(ed25519.sign(withContext(out.subarray(0, bodyLen)), secretKey), bodyLen);
  return out;
}

/** Whether `addr` has no bit set beyond the first `bits` (a prefix, not an address inside one). */
function hostBitsClear(addr: Uint8Array, bits: number): boolean {
  for (let i = 0; i < addr.length; i++) {
    const keep = Math.max(0, Math.min(8, bits - 8 * i));
    if ((addr[i]! & (0xff >> keep)) !== 0) return false;
  }
  return true;
}

/** The subnet list from `o` to exactly `end`, or null when it does not parse as `version`'s. */
function decodeSubnets(bytes: Uint8Array, o: number, end: number, version: number): Cidr[] | null {
  const count = bytes[o++]!;
  if (count > MAX_SUBNETS) return null;
  const subnets: Cidr[] = [];
  for (let i = 0; i < count; i++) {
    const family = version === RECORD_VERSION ? 4 : bytes[o++];
    if (family !== 4 && family !== 6) return null;
    const len = family === 4 ? 4 : 16;
    if (o + len + 1 > end) return null;
    const bits = bytes[o + len]!;
    if (bits > 8 * len) return null;
    const addr = bytes.slice(o, o + len);
    if (version !== RECORD_VERSION && !hostBitsClear(addr, bits)) return null;
    subnets.push({ family, addr, bits });
    o += len + 1;
  }
  return o === end ? subnets : null;
}

/** Parse without checking the signature (membership decides whether it needs checking). Never throws. */
export function decodeRecord(bytes: Uint8Array): RecordVerdict {
  const bad = { ok: false, reason: 'malformed' } as const;
  const version = bytes[0];
  if (version !== RECORD_VERSION && version !== RECORD_VERSION_DUAL) return bad;
  const fixed = version === RECORD_VERSION ? FIXED_LEN : FIXED_LEN_DUAL;
  if (bytes.length < fixed + 3 + SIG_LEN) return bad;
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const bodyLen = bytes.length - SIG_LEN;
  let o = fixed;
  const nameLen = bytes[o++]!;
  if (nameLen === 0 || nameLen > MAX_NAME_LEN || o + nameLen + 2 > bodyLen) return bad;
  const nameBytes = bytes.subarray(o, o + nameLen);
  o += nameLen;
  const locLen = bytes[o++]!;
  if (locLen > MAX_LOCATION_LEN || o + locLen + 1 > bodyLen) return bad;
  const locBytes = bytes.subarray(o, o + locLen);
  o += locLen;
  const subnets = decodeSubnets(bytes, o, bodyLen, version);
  if (subnets === null) return bad;
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
  const claimed6At = version === RECORD_VERSION_DUAL ? v.getFloat64(96) : 0;
  if (!Number.isFinite(claimed6At)) return bad;
  const address4 = formatIpv4(v.getUint32(70));
  const has6 = version === RECORD_VERSION_DUAL && bytes.subarray(ADDRESS6_OFFSET, ADDRESS6_OFFSET + 16).some((b) => b !== 0);
  const address6 = has6 ? formatIpv6(bytes, ADDRESS6_OFFSET) : undefined;
  // Both addresses: a dual underlay. An IPv6 one alone: the IPv4 field is zero, not an address.
  const dualUnderlay = address6 !== undefined && v.getUint32(70) !== 0;
  const record: NodeRecord = {
    name,
    incarnation: v.getUint32(2),
    flags,
    signingKey: bytes.slice(6, 38),
    wgPublicKey: (flags & RecordFlag.HasWg) !== 0 ? bytes.slice(38, 70) : null,
    address: address6 !== undefined && !dualUnderlay ? address6 : address4,
    ...(dualUnderlay ? { address6 } : {}),
    gossipPort: v.getUint16(74),
    dataPort: v.getUint16(76),
    vtepMac: bytes.slice(78, 84),
    vtepIp: formatIpv4(v.getUint32(84)),
    subnetClaimedAt: claimedAt,
    ...(version === RECORD_VERSION_DUAL ? { subnet6ClaimedAt: claimed6At } : {}),
    location,
    subnets,
  };
  return { ok: true, record, body: bytes.subarray(0, bodyLen), signature: bytes.subarray(bodyLen) };
}

/** The record's underlay address of `family`, if it has one. */
export function underlayAddressOf(record: NodeRecord, family: 4 | 6): string | undefined {
  if (isIP(record.address) === family) return record.address;
  return family === 6 ? record.address6 : undefined;
}

/**
 * The address a node on the underlay `families` reaches `record`'s node at:
 * of a family both have, IPv6 when they share both. Both ends must choose
 * the same family, since each knows the other by the address it sends from
 * (gossip's verified sources, VXLAN's senders by address), so the choice is
 * a rule of the pair, not either side's preference. Undefined when they
 * share no family: there is no direct path between the two nodes.
 */
export function reachableAddress(record: NodeRecord, families: readonly (4 | 6)[]): string | undefined {
  for (const family of [6, 4] as const) {
    const address = families.includes(family) ? underlayAddressOf(record, family) : undefined;
    if (address !== undefined) return address;
  }
  return undefined;
}

/**
 * A decoder for a node on the underlay `families`: each record's `address`
 * is the one this node reaches it at (reachableAddress), so membership's every send (probes,
 * gossip, syncs) and the data plane's peer endpoint use a family this node
 * has. A record sharing no family keeps its own address (sends to it fail,
 * counted by the socket; the member is probed indirectly through others).
 */
export function decodeReachable(families: readonly (4 | 6)[]): (bytes: Uint8Array) => RecordVerdict {
  return (bytes) => {
    const v = decodeRecord(bytes);
    if (!v.ok || v.record.address6 === undefined) return v;
    const address = reachableAddress(v.record, families);
    return address === undefined || address === v.record.address ? v : { ...v, record: { ...v.record, address } };
  };
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
