/**
 * The CNI specification's fixed parts that weft-cni speaks: the versions it
 * answers, the well-known error codes, and the one error type every failure
 * becomes on stdout ({"cniVersion","code","msg","details"}, non-zero exit).
 *
 * Written from the specification (SPEC.md, version 1.1.0, sections 2 and 5),
 * not from another plugin.
 */

/**
 * Versions weft-cni answers, oldest first. 0.1.0 and 0.2.0 are left out:
 * their result format (ip4/ip6 keys) predates every runtime still in use,
 * and a config asking for them gets error 1 naming these.
 */
export const SUPPORTED_VERSIONS = ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] as const;
export type CniVersion = (typeof SUPPORTED_VERSIONS)[number];
export const LATEST_VERSION: CniVersion = '1.1.0';

/** Well-known error codes (SPEC.md, "Error"). 100 and up are weft-cni's own. */
export const ErrorCode = {
  INCOMPATIBLE_VERSION: 1,
  UNSUPPORTED_FIELD: 2,
  UNKNOWN_CONTAINER: 3,
  INVALID_ENVIRONMENT: 4,
  IO_FAILURE: 5,
  DECODE_FAILURE: 6,
  INVALID_CONFIG: 7,
  TRY_AGAIN_LATER: 11,
  NOT_AVAILABLE: 50,
  NOT_AVAILABLE_LIMITED: 51,
  /** ADD for a (container ID, interface) that already holds an address here. */
  ALREADY_ATTACHED: 100,
  /** Every address of the node's subnet is taken. */
  ADDRESSES_EXHAUSTED: 101,
  /** A device or address could not be set up (the `ip` command failed). */
  LINK_FAILED: 102,
  /** CHECK found the attachment not as ADD left it. */
  CHECK_FAILED: 103,
} as const;
export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode];

/** A failure reported to the runtime: `msg` says what, `details` what a person can do about it. */
export class CniError extends Error {
  override readonly name = 'CniError';

  constructor(
    readonly code: ErrorCodeValue,
    readonly msg: string,
    readonly details: string,
  ) {
    super(`${msg}: ${details}`);
  }
}

/** The error result, keys in the specification's order. */
export function errorJson(err: CniError, version: string): string {
  return JSON.stringify({ cniVersion: version, code: err.code, msg: err.msg, details: err.details });
}

export function isSupportedVersion(v: string): v is CniVersion {
  return (SUPPORTED_VERSIONS as readonly string[]).includes(v);
}

/** a >= b for two supported versions (the list is ordered). */
export function versionAtLeast(a: CniVersion, b: CniVersion): boolean {
  return SUPPORTED_VERSIONS.indexOf(a) >= SUPPORTED_VERSIONS.indexOf(b);
}

/** The VERSION result. */
export function versionJson(version: string): string {
  return JSON.stringify({ cniVersion: version, supportedVersions: SUPPORTED_VERSIONS });
}
