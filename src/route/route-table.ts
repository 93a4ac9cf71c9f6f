/**
 * RouteTable: longest-prefix match from IPv4 and IPv6 prefixes to values
 * (weft stores peers). It answers the two per-packet questions: which peer
 * does this destination go to, and is this inner source inside the prefixes
 * of the peer that sent it (WireGuard's cryptokey routing, "allowed IPs").
 *
 * Structure: one path-compressed binary trie per family. Every node holds a
 * prefix (its key bits and their count); a node's children extend its prefix
 * by at least one bit, child 0 or 1 by the value of the first bit past it.
 * Chains of single-child nodes are never stored: a node without a value
 * always has two children, so a trie of n prefixes has fewer than 2n nodes,
 * and a lookup visits at most one node per prefix length (at most 33 or 129)
 * but in practice only the branching points on its path.
 *
 * Nodes live in typed arrays indexed by node number (key words, prefix
 * length, has-a-value flag, two child indices, parent index), so a lookup
 * is straight-line integer work: no allocation, no closures. (One
 * interleaved Int32Array of node records measured no faster, so the plainer
 * layout stays.) The arrays double when full (insert is cold path); freed
 * nodes are reused. A node's value sits in a plain array at the node's own
 * number: valued nodes never move, as only valueless ones are spliced out.
 *
 * Addresses are compared as 32-bit words (one for IPv4, four for IPv6),
 * most significant bit first, matching network byte order.
 */
import { readU32BE } from '../bytes/endian.ts';
import { WeftError } from '../errors.ts';
import type { Cidr } from '../wire/addr.ts';

const NONE = -1;
const INITIAL_NODES = 16;
const IPV4_WORDS = 1;
const IPV6_WORDS = 4;

/** Mask keeping the first `rem` bits (1..32) of a word; `-1 << 0` covers rem = 32. */
function headMask(rem: number): number {
  return -1 << (32 - rem);
}

/** The big-endian 32-bit word at `at`, as an int32. */
function wordAt(bytes: Uint8Array, at: number): number {
  return readU32BE(bytes, at) | 0;
}

/** A copy of `a` with room for `len` elements, the new ones set to `fill`. */
function grown<A extends Int32Array | Uint8Array>(a: A, len: number, fill: number): A {
  const out = (a instanceof Int32Array ? new Int32Array(len) : new Uint8Array(len)) as A;
  out.fill(fill, a.length);
  out.set(a);
  return out;
}

/** One family's trie: words = 1 (IPv4) or 4 (IPv6). */
class PrefixTrie<T> {
  readonly words: number;
  readonly maxBits: number;
  /** The address being looked up or inserted, as big-endian words. Reused, never reallocated. */
  readonly addr: Int32Array;
  root = NONE;
  /** Prefixes stored (nodes with a value). */
  count = 0;
  /** Nodes in use. */
  live = 0;
  private capacity = INITIAL_NODES;
  private used = 0;
  private freeHead = NONE;
  key: Int32Array;
  bits: Uint8Array;
  /** 1 when the node holds a prefix of its own, 0 for a branching node. */
  has: Uint8Array;
  child: Int32Array;
  parent: Int32Array;
  readonly values: (T | undefined)[] = [];

  constructor(words: number) {
    this.words = words;
    this.maxBits = words * 32;
    this.addr = new Int32Array(words);
    this.key = new Int32Array(INITIAL_NODES * words);
    this.bits = new Uint8Array(INITIAL_NODES);
    this.has = new Uint8Array(INITIAL_NODES);
    this.child = new Int32Array(INITIAL_NODES * 2);
    this.parent = new Int32Array(INITIAL_NODES);
  }

  /** IPv4 lookup of `a` (words = 1): the node of the longest match, or NONE. */
  find1(a: number): number {
    const key = this.key;
    const bits = this.bits;
    const has = this.has;
    const child = this.child;
    let n = this.root;
    let best = NONE;
    while (n !== NONE) {
      const c = bits[n]!;
      if (c !== 0 && ((key[n]! ^ a) & headMask(c)) !== 0) break;
      if (has[n] === 1) best = n;
      if (c === 32) break;
      n = child[2 * n + ((a >>> (31 - c)) & 1)]!;
    }
    return best;
  }

  /** Lookup of the address in `this.addr`, any word count: the node of the longest match, or NONE. */
  find(): number {
    const a = this.addr;
    const key = this.key;
    const bits = this.bits;
    const has = this.has;
    const child = this.child;
    const words = this.words;
    let n = this.root;
    let best = NONE;
    // Whole words below the last matched node's length already matched: start after them.
    let w0 = 0;
    while (n !== NONE) {
      const c = bits[n]!;
      const k = n * words;
      let w = w0;
      let rem = c - (w << 5);
      while (rem >= 32 && key[k + w] === a[w]) {
        rem -= 32;
        w++;
      }
      if (rem >= 32) break;
      if (rem > 0 && ((key[k + w]! ^ a[w]!) & headMask(rem)) !== 0) break;
      if (has[n] === 1) best = n;
      if (c === this.maxBits) break;
      w0 = c >>> 5;
      n = child[2 * n + ((a[w0]! >>> (31 - (c & 31))) & 1)]!;
    }
    return best;
  }

  /** Map prefix `this.addr`/`c` to `v`, replacing the value of an equal prefix. */
  insert(c: number, v: T): void {
    this.maskAddr(c);
    let up = NONE;
    let dir = 0;
    let n = this.root;
    while (n !== NONE) {
      const nb = this.bits[n]!;
      const common = this.commonPrefix(n, Math.min(nb, c));
      if (common === nb && nb === c) {
        if (this.has[n] === 0) this.count++;
        this.has[n] = 1;
        this.values[n] = v;
        return;
      }
      if (common === nb) {
        // n's prefix covers the new one: descend.
        up = n;
        dir = this.addrBit(nb);
        n = this.child[2 * n + dir]!;
        continue;
      }
      let top: number;
      if (common === c) {
        // The new prefix covers n: it goes between n and its parent.
        top = this.newNode(c, true, v);
      } else {
        // They differ at bit `common`: a valueless branching node takes both.
        top = this.newNode(common, false, undefined);
        this.link(top, this.addrBit(common), this.newNode(c, true, v));
      }
      this.link(top, this.keyBit(n, this.bits[top]!), n);
      this.link(up, dir, top);
      return;
    }
    this.link(up, dir, this.newNode(c, true, v));
  }

  /** The node holding exactly prefix `this.addr`/`c`, or NONE. */
  findExact(c: number): number {
    this.maskAddr(c);
    let n = this.root;
    while (n !== NONE) {
      const nb = this.bits[n]!;
      if (nb > c || this.commonPrefix(n, nb) !== nb) return NONE;
      if (nb === c) return this.has[n] === 1 ? n : NONE;
      n = this.child[2 * n + this.addrBit(nb)]!;
    }
    return NONE;
  }

  /**
   * Drop node `n`'s value and restore the shape invariant (a valueless node
   * has two children): a valueless node with one child is spliced out, with
   * none it is freed, and a valueless parent left with one child is spliced.
   */
  removeNode(n: number): void {
    this.has[n] = 0;
    this.values[n] = undefined;
    this.count--;
    const left = this.child[2 * n]!;
    const right = this.child[2 * n + 1]!;
    if (left !== NONE && right !== NONE) return;
    const p = this.parent[n]!;
    this.replace(n, left !== NONE ? left : right);
    this.free(n);
    if (left === NONE && right === NONE && p !== NONE && this.has[p] === 0) {
      const other = this.child[2 * p] !== NONE ? this.child[2 * p]! : this.child[2 * p + 1]!;
      this.replace(p, other);
      this.free(p);
    }
  }

  /** Nodes whose value is `v` (cold path: scans every node). */
  nodesWithValue(v: T): number[] {
    const out: number[] = [];
    for (let n = 0; n < this.used; n++) if (this.has[n] === 1 && this.values[n] === v) out.push(n);
    return out;
  }

  /** Valued nodes in pre-order: lower addresses first, and a prefix before those it covers. */
  nodesInOrder(): number[] {
    const out: number[] = [];
    const stack: number[] = this.root === NONE ? [] : [this.root];
    while (stack.length > 0) {
      const n = stack.pop()!;
      if (this.has[n] === 1) out.push(n);
      if (this.child[2 * n + 1] !== NONE) stack.push(this.child[2 * n + 1]!);
      if (this.child[2 * n] !== NONE) stack.push(this.child[2 * n]!);
    }
    return out;
  }

  /** Length of the common prefix of node `n`'s key and `this.addr`, at most `limit`. */
  private commonPrefix(n: number, limit: number): number {
    const k = n * this.words;
    for (let w = 0; w << 5 < limit; w++) {
      const x = this.key[k + w]! ^ this.addr[w]!;
      if (x !== 0) return Math.min(limit, (w << 5) + Math.clz32(x));
    }
    return limit;
  }

  private addrBit(pos: number): number {
    return (this.addr[pos >>> 5]! >>> (31 - (pos & 31))) & 1;
  }

  private keyBit(n: number, pos: number): number {
    return (this.key[n * this.words + (pos >>> 5)]! >>> (31 - (pos & 31))) & 1;
  }

  /** Zero the bits of `this.addr` past the first `c`. */
  private maskAddr(c: number): void {
    for (let w = 0; w < this.words; w++) {
      const rem = c - (w << 5);
      if (rem < 32) this.addr[w] = rem <= 0 ? 0 : this.addr[w]! & headMask(rem);
    }
  }

  /** A node for the first `c` bits of `this.addr` (which is left as it is). */
  private newNode(c: number, has: boolean, v: T | undefined): number {
    let n = this.freeHead;
    if (n !== NONE) {
      this.freeHead = this.child[2 * n]!;
    } else {
      if (this.used === this.capacity) this.grow();
      n = this.used++;
    }
    const k = n * this.words;
    for (let w = 0; w < this.words; w++) {
      const rem = c - (w << 5);
      this.key[k + w] = rem >= 32 ? this.addr[w]! : rem <= 0 ? 0 : this.addr[w]! & headMask(rem);
    }
    this.bits[n] = c;
    this.has[n] = has ? 1 : 0;
    this.values[n] = v;
    this.child[2 * n] = NONE;
    this.child[2 * n + 1] = NONE;
    this.parent[n] = NONE;
    if (has) this.count++;
    this.live++;
    return n;
  }

  private free(n: number): void {
    this.parent[n] = NONE;
    this.child[2 * n + 1] = NONE;
    this.live--;
    if (this.live === 0) {
      // Empty again: forget the free list and start from node 0.
      this.root = NONE;
      this.used = 0;
      this.freeHead = NONE;
      this.values.length = 0;
      return;
    }
    this.child[2 * n] = this.freeHead;
    this.freeHead = n;
  }

  /** Make `m` the child of `p` in direction `dir`, or the root when `p` is NONE. */
  private link(p: number, dir: number, m: number): void {
    if (p === NONE) this.root = m;
    else this.child[2 * p + dir] = m;
    this.parent[m] = p;
  }

  /** Put `c` (or nothing) where `n` hangs from its parent. */
  private replace(n: number, c: number): void {
    const p = this.parent[n]!;
    if (p === NONE) this.root = c;
    else this.child[2 * p + (this.child[2 * p] === n ? 0 : 1)] = c;
    if (c !== NONE) this.parent[c] = p;
  }

  private grow(): void {
    const cap = this.capacity * 2;
    this.key = grown(this.key, cap * this.words, 0);
    this.bits = grown(this.bits, cap, 0);
    this.has = grown(this.has, cap, 0);
    this.child = grown(this.child, cap * 2, NONE);
    this.parent = grown(this.parent, cap, NONE);
    this.capacity = cap;
  }
}

export class RouteTable<T> {
  private readonly v4 = new PrefixTrie<T>(IPV4_WORDS);
  private readonly v6 = new PrefixTrie<T>(IPV6_WORDS);

  /** Number of prefixes stored, both families. */
  get size(): number {
    return this.v4.count + this.v6.count;
  }

  /** Trie nodes in use, both families (at most 2 * size - 1 per family). For tests and metrics. */
  get nodes(): number {
    return this.v4.live + this.v6.live;
  }

  /** Map `cidr` to `value`, replacing the value of that exact prefix if present. Host bits are ignored. */
  insert(cidr: Cidr, value: T): void {
    this.load(cidr).insert(cidr.bits, value);
  }

  /** Remove exactly `cidr`; false if it was not there. */
  remove(cidr: Cidr): boolean {
    const trie = this.load(cidr);
    const n = trie.findExact(cidr.bits);
    if (n === NONE) return false;
    trie.removeNode(n);
    return true;
  }

  /** Remove every prefix mapped to `value` (a peer left); returns how many. */
  removeValue(value: T): number {
    let removed = 0;
    for (const trie of [this.v4, this.v6]) {
      // removeNode frees only valueless nodes, so the listed (valued) nodes stay valid.
      for (const n of trie.nodesWithValue(value)) {
        trie.removeNode(n);
        removed++;
      }
    }
    return removed;
  }

  /** Longest match for an IPv4 address given as an unsigned (or signed) 32-bit number. */
  lookupV4(addr: number): T | undefined {
    const n = this.v4.find1(addr | 0);
    return n === NONE ? undefined : this.v4.values[n];
  }

  /** Longest match for the 4 address bytes at `off` (network order), read in place. */
  lookupV4At(bytes: Uint8Array, off: number): T | undefined {
    const n = this.v4.find1(wordAt(bytes, off));
    return n === NONE ? undefined : this.v4.values[n];
  }

  /** Longest match for the 16 address bytes at `off`, read in place. */
  lookupV6At(bytes: Uint8Array, off: number): T | undefined {
    const n = this.findV6(bytes, off);
    return n === NONE ? undefined : this.v6.values[n];
  }

  /** Inner-source check: does the longest match for the IPv4 address at `off` map to exactly `value`? */
  matchesV4At(bytes: Uint8Array, off: number, value: T): boolean {
    const n = this.v4.find1(wordAt(bytes, off));
    return n !== NONE && this.v4.values[n] === value;
  }

  /** Inner-source check for the IPv6 address at `off`. */
  matchesV6At(bytes: Uint8Array, off: number, value: T): boolean {
    const n = this.findV6(bytes, off);
    return n !== NONE && this.v6.values[n] === value;
  }

  /** Every prefix and its value: IPv4 first, each family in address order, shorter prefixes first. Allocates. */
  entries(): Array<{ cidr: Cidr; value: T }> {
    const out: Array<{ cidr: Cidr; value: T }> = [];
    for (const trie of [this.v4, this.v6]) {
      const family: 4 | 6 = trie === this.v4 ? 4 : 6;
      for (const n of trie.nodesInOrder()) {
        const addr = new Uint8Array(trie.words * 4);
        const view = new DataView(addr.buffer);
        for (let w = 0; w < trie.words; w++) view.setInt32(w * 4, trie.key[n * trie.words + w]!);
        out.push({ cidr: { family, addr, bits: trie.bits[n]! }, value: trie.values[n] as T });
      }
    }
    return out;
  }

  private findV6(bytes: Uint8Array, off: number): number {
    const a = this.v6.addr;
    for (let w = 0; w < IPV6_WORDS; w++) a[w] = wordAt(bytes, off + w * 4);
    return this.v6.find();
  }

  /** Check `cidr` and copy its address into the family trie's scratch words. */
  private load(cidr: Cidr): PrefixTrie<T> {
    const trie = cidr.family === 4 ? this.v4 : cidr.family === 6 ? this.v6 : undefined;
    const bits = cidr.bits;
    if (trie === undefined || cidr.addr.length !== trie.words * 4 || !Number.isInteger(bits) || bits < 0 || bits > trie.maxBits) {
      throw new WeftError(
        'ADDR_INVALID',
        `route table: invalid prefix (family ${String(cidr.family)}, ${cidr.addr.length} address bytes, /${bits}): ` +
          'expected family 4 with 4 bytes and /0-32 or family 6 with 16 bytes and /0-128, as parseCidr returns',
      );
    }
    for (let w = 0; w < trie.words; w++) trie.addr[w] = wordAt(cidr.addr, w * 4);
    return trie;
  }
}
