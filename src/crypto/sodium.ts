/**
 * sodium-native's raw binding, loaded in one place. weft calls the binding
 * rather than sodium-native's documented wrappers because the wrappers
 * throw where the C function returns -1, and hostile input must cost a
 * comparison, not a stack trace. The binding is an internal of
 * sodium-native, so every caller names the functions it needs and a
 * missing one fails at load with a clear error instead of at the first packet.
 */
import { createRequire } from 'node:module';
import { WeftError } from '../errors.ts';

const require = createRequire(import.meta.url);
// Loading the public module first runs its setup (sodium_init); the binding
// is the module object the public one wraps.
require('sodium-native');
const binding = require('sodium-native/binding') as Record<string, unknown>;

/** The binding typed as `T`, after checking that each of `names` is a function. */
export function sodiumBinding<T>(names: readonly string[]): T {
  const missing = names.filter((n) => typeof binding[n] !== 'function');
  if (missing.length > 0) {
    throw new WeftError('CRYPTO_UNAVAILABLE', `sodium-native does not expose ${missing.join(', ')} in its binding; reinstall sodium-native 5.x`);
  }
  return binding as T;
}
