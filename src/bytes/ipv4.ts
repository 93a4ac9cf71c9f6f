/**
 * IPv4 dotted-decimal text to a number, without throwing or allocating, so
 * that a per-send path (the batch transport) and a cold path (configuration,
 * which wraps it in a WeftError: src/wire/addr.ts) read text the same way.
 */

/**
 * '10.0.0.1' -> 0x0a000001 (unsigned), or -1 for anything that is not four
 * decimal octets. A leading zero is refused rather than read as decimal:
 * inet_aton() reads "010" as octal 8, so accepting it would let the same text
 * mean two addresses depending on who parses it (RFC 6943 section 3.1.1).
 */
export function parseIpv4(address: string): number {
  let value = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < address.length; i++) {
    const c = address.charCodeAt(i);
    if (c === 46 /* . */) {
      if (digits === 0 || dots === 3) return -1;
      value = value * 256 + octet;
      octet = 0;
      digits = 0;
      dots++;
    } else if (c >= 48 && c <= 57) {
      if (digits > 0 && octet === 0) return -1; // no leading zeros: 010 is ambiguous
      octet = octet * 10 + (c - 48);
      if (octet > 255) return -1;
      digits++;
    } else return -1;
  }
  if (digits === 0 || dots !== 3) return -1;
  return value * 256 + octet;
}
