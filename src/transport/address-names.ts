/**
 * Addresses as the native UDP calls carry them, and as the rest of weft
 * names them (text), for either family of socket:
 *
 * - IPv4: one number per address, the first octet most significant, in a
 *   Uint32Array; text is dotted decimal.
 * - IPv6: 16 bytes per address in network order (sin6_addr), in a
 *   Uint8Array; text is RFC 5952's canonical form. An IPv4 peer of a
 *   dual-stack socket arrives as ::ffff:a.b.c.d and is named in dotted
 *   decimal, because that is how it was configured or gossiped (the peer
 *   table finds a sender by that text); an IPv4 endpoint is sent to as
 *   ::ffff:a.b.c.d for the same reason.
 *
 * Both directions are cached so that steady state makes no strings and
 * parses nothing: an endpoint's address is parsed once per endpoint object
 * (endpoints are made when a peer is configured or roams, not per packet),
 * and a sender's text is made once per address, in a bounded cache.
 * Text to bytes is src/bytes/ipv4.ts and src/wire/addr.ts (cold path).
 */
import { readU32BE } from '../bytes/endian.ts';
import { parseIpv4 } from '../bytes/ipv4.ts';
import { formatIpv6, parseIpv6 } from '../wire/addr.ts';
import type { UdpEndpoint } from './transport.ts';

/** Bound on each number -> text cache: past it (many senders, or spoofed ones) it starts over. */
const ADDRESS_CACHE_MAX = 4096;
/** Bytes of one IPv6 address in a native address array. */
export const IPV6_BYTES = 16;

/** 0x0a000001 -> '10.0.0.1'. Allocates a string: callers cache it. */
export function formatIpv4(value: number): string {
  return `${value >>> 24}.${(value >>> 16) & 0xff}.${(value >>> 8) & 0xff}.${value & 0xff}`;
}

/**
 * Senders' addresses as text, each formatted once: underlay senders are a
 * handful of peer nodes, so a Map lookup by number replaces a new string
 * per datagram. Bounded: cleared when it reaches ADDRESS_CACHE_MAX entries.
 */
export class Ipv4Names {
  private readonly names = new Map<number, string>();

  /** Bound once, so it can be handed around without a closure per use. */
  readonly nameOf = (addr: number): string => {
    let name = this.names.get(addr);
    if (name === undefined) {
      if (this.names.size >= ADDRESS_CACHE_MAX) this.names.clear();
      name = formatIpv4(addr);
      this.names.set(addr, name);
    }
    return name;
  };
}

/**
 * IPv6 addresses (16 bytes at an offset) as text, each formatted once.
 * A 128-bit key fits no number, and a string key is the allocation this
 * exists to avoid, so this is an open-addressing table over typed arrays:
 * the four 32-bit words are the key, linear probing, at most half full
 * (probes end at an empty entry), cleared at ADDRESS_CACHE_MAX names. The
 * hash is seeded per table, so spoofed senders cannot aim at one chain.
 */
export class Ipv6Names {
  private static readonly ENTRIES = ADDRESS_CACHE_MAX * 2;
  private readonly keys = new Uint32Array(Ipv6Names.ENTRIES * 4);
  /** '' marks an empty entry (no address formats to ''). */
  private readonly names: string[] = new Array<string>(Ipv6Names.ENTRIES).fill('');
  private size = 0;
  private readonly seed = (Math.random() * 0x100000000) >>> 0;
  private readonly v4 = new Ipv4Names();

  /** The text of the address at bytes[off .. off + 16). */
  nameAt(bytes: Uint8Array, off: number): string {
    const w0 = readU32BE(bytes, off);
    const w1 = readU32BE(bytes, off + 4);
    const w2 = readU32BE(bytes, off + 8);
    const w3 = readU32BE(bytes, off + 12);
    if (w0 === 0 && w1 === 0 && w2 === 0xffff) return this.v4.nameOf(w3); // ::ffff:a.b.c.d
    const mask = Ipv6Names.ENTRIES - 1;
    let h = Math.imul(this.seed ^ w0, 0x9e3779b1);
    h = Math.imul(h ^ w1, 0x85ebca6b);
    h = Math.imul(h ^ w2, 0xc2b2ae35);
    h = Math.imul(h ^ w3, 0x27d4eb2f);
    h = (h ^ (h >>> 15)) & mask;
    const keys = this.keys;
    const names = this.names;
    for (;;) {
      const name = names[h]!;
      if (name === '') break;
      const k = h * 4;
      if (keys[k] === w0 && keys[k + 1] === w1 && keys[k + 2] === w2 && keys[k + 3] === w3) return name;
      h = (h + 1) & mask;
    }
    if (this.size >= ADDRESS_CACHE_MAX) {
      // Start over; the entry found empty above is empty still.
      names.fill('');
      this.size = 0;
    }
    const name = formatIpv6(bytes, off);
    const k = h * 4;
    keys[k] = w0;
    keys[k + 1] = w1;
    keys[k + 2] = w2;
    keys[k + 3] = w3;
    names[h] = name;
    this.size++;
    return name;
  }

  /** Names held now: at most ADDRESS_CACHE_MAX. For tests. */
  get cached(): number {
    return this.size;
  }
}

/**
 * One socket family's address arrays for the native calls: a transport
 * makes its send and receive arrays here, puts destinations in, and reads
 * senders' names out. Per transport, so its caches serve all its arrays.
 */
export interface AddressFamily<A extends Uint32Array | Uint8Array = Uint32Array | Uint8Array> {
  readonly family: 4 | 6;
  /** An array for `count` addresses, of the type udpRecvBatch / udpSendBatch read for this family. */
  array(count: number): A;
  /** Put `to`'s address at index i; false when a socket of this family cannot send there. */
  put(addrs: A, i: number, to: UdpEndpoint): boolean;
  /** The text of address i (cached). */
  nameAt(addrs: A, i: number): string;
}

/** IPv4 sockets: numbers; IPv6 endpoints cannot be reached. */
export class Ipv4Family implements AddressFamily<Uint32Array> {
  readonly family = 4;
  private readonly names = new Ipv4Names();
  /** Each endpoint's address parsed once, -1 when it is not IPv4; a WeakMap never holds a dead peer. */
  private readonly parsed = new WeakMap<UdpEndpoint, number>();

  array(count: number): Uint32Array {
    return new Uint32Array(count);
  }

  put(addrs: Uint32Array, i: number, to: UdpEndpoint): boolean {
    let addr = this.parsed.get(to);
    if (addr === undefined) {
      addr = parseIpv4(to.address);
      this.parsed.set(to, addr);
    }
    if (addr < 0) return false;
    addrs[i] = addr;
    return true;
  }

  nameAt(addrs: Uint32Array, i: number): string {
    return this.names.nameOf(addrs[i]!);
  }
}

/** IPv6 sockets: 16 bytes each; IPv4 endpoints as ::ffff:a.b.c.d (reachable when the socket is dual-stack). */
export class Ipv6Family implements AddressFamily<Uint8Array> {
  readonly family = 6;
  private readonly names = new Ipv6Names();
  /** Each endpoint's 16 bytes, parsed once; null when the text is no address (a zone index, say). */
  private readonly parsed = new WeakMap<UdpEndpoint, Uint8Array | null>();

  array(count: number): Uint8Array {
    return new Uint8Array(count * IPV6_BYTES);
  }

  put(addrs: Uint8Array, i: number, to: UdpEndpoint): boolean {
    let bytes = this.parsed.get(to);
    if (bytes === undefined) {
      bytes = ipv6BytesOf(to.address);
      this.parsed.set(to, bytes);
    }
    if (bytes === null) return false;
    addrs.set(bytes, i * IPV6_BYTES);
    return true;
  }

  nameAt(addrs: Uint8Array, i: number): string {
    return this.names.nameAt(addrs, i * IPV6_BYTES);
  }
}

/** Endpoint text to the 16 bytes an IPv6 socket sends to, or null. Cold: once per endpoint. */
export function ipv6BytesOf(address: string): Uint8Array | null {
  const v4 = parseIpv4(address);
  if (v4 >= 0) {
    const out = new Uint8Array(IPV6_BYTES);
    out[10] = 0xff;
    out[11] = 0xff;
    out[12] = v4 >>> 24;
    out[13] = (v4 >>> 16) & 0xff;
    out[14] = (v4 >>> 8) & 0xff;
    out[15] = v4 & 0xff;
    return out;
  }
  try {
    return parseIpv6(address);
  } catch {
    return null; // not an address this socket can name
  }
}
