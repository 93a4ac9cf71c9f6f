/**
 * The field parsers every part of the config uses: each checks one value
 * and, when it is wrong, throws CONFIG_INVALID naming the field, what was
 * expected (with a valid example) and what was given.
 */
import { isIP } from 'node:net';
import { WeftError } from '../errors.ts';
import { cidrContains, parseCidr, parseMac } from '../wire/addr.ts';
import type { Cidr } from '../wire/addr.ts';

export type Json = Record<string, unknown>;

export function fail(field: string, expected: string, got: unknown): never {
  let shown: string | undefined;
  try {
    shown = typeof got === 'string' ? `"${got}"` : JSON.stringify(got);
  } catch {
    // A YAML alias can make a value that contains itself (a: &x [*x]); JSON cannot show it.
    shown = 'a value that contains itself (a YAML alias loop)';
  }
  throw new WeftError('CONFIG_INVALID', `config field "${field}": expected ${expected}, got ${shown}`);
}

export function object(v: unknown, field: string): Json {
  if (v === undefined) return {};
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(field, 'an object', v);
  return v as Json;
}

export function onlyKeys(o: Json, field: string, allowed: readonly string[]): void {
  for (const key of Object.keys(o)) {
    if (!allowed.includes(key)) {
      const where = field ? `${field}.${key}` : key;
      throw new WeftError('CONFIG_INVALID', `config field "${where}" is not known; valid fields here: ${allowed.join(', ')}`);
    }
  }
}

export function string(v: unknown, field: string, example: string): string {
  if (typeof v !== 'string' || v.length === 0) fail(field, `a non-empty string such as "${example}"`, v);
  return v;
}

export function integer(v: unknown, field: string, min: number, max: number, fallback?: number): number {
  if (v === undefined && fallback !== undefined) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) fail(field, `an integer from ${min} to ${max}`, v);
  return v;
}

export function cidr(v: unknown, field: string, example: string): Cidr {
  const text = string(v, field, example);
  try {
    return parseCidr(text);
  } catch (err) {
    fail(field, `a CIDR with no host bits set, such as ${example} (${(err as Error).message})`, v);
  }
}

export function mac(v: unknown, field: string): Uint8Array {
  const text = string(v, field, '0e:00:00:00:00:01');
  let bytes: Uint8Array;
  try {
    bytes = parseMac(text);
  } catch {
    fail(field, 'a MAC address such as 0e:00:00:00:00:01', v);
  }
  if ((bytes[0]! & 1) !== 0) fail(field, 'a unicast MAC address (the low bit of the first byte clear)', v);
  return bytes;
}

/** "192.168.50.2:8472" or "[fd00::2]:8472"; the port defaults to `defaultPort`. */
export function endpoint(v: unknown, field: string, defaultPort: number): { address: string; port: number } {
  const text = string(v, field, '192.168.50.2:8472');
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(text) ?? /^([^:]+)(?::(\d+))?$/.exec(text);
  const address = m?.[1];
  if (address === undefined || isIP(address) === 0) fail(field, 'an IP address and optional port, such as 192.168.50.2:8472 or [fd00::2]:8472', v);
  const port = m?.[2] === undefined ? defaultPort : Number(m[2]);
  if (port < 1 || port > 65535) fail(field, 'a port from 1 to 65535', v);
  return { address, port };
}

export function boolean(v: unknown, field: string, fallback: boolean): boolean {
  if (v === undefined) return fallback;
  if (typeof v !== 'boolean') fail(field, 'true or false', v);
  return v;
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  if (a.family !== b.family) return false;
  return a.bits <= b.bits ? cidrContains(a, b.addr) : cidrContains(b, a.addr);
}
