/**
 * IPv4 addresses as the native UDP calls carry them (one number, the first
 * octet most significant) and as the rest of weft names them (dotted
 * text), with a bounded cache so that steady-state receive makes no strings.
 * Text to number is src/bytes/ipv4.ts parseIpv4.
 */

/** Bound on the number -> text cache: past it (many senders, or spoofed ones) it starts over. */
const ADDRESS_CACHE_MAX = 4096;

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
