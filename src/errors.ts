/**
 * Every code a WeftError can carry. docs/ARCHITECTURE.md ("Errors") has one
 * table row per code saying when it happens and what fixes it;
 * test/unit/errors.test.ts fails when the two lists differ.
 */
export const WEFT_ERROR_CODES = [
  // Configuration and files
  'CONFIG_INVALID',
  'CONFIG_UNREADABLE',
  'STATE_DIR_UNUSABLE',
  'DIR_UNSAFE',
  'KEY_INVALID',
  'ADDR_INVALID',
  'ENDPOINT_INVALID',
  'IPAM_EXHAUSTED',
  // TUN device and links
  'TUN_NAME_INVALID',
  'TUN_NAME_TOO_LONG',
  'TUN_NAME_TAKEN',
  'TUN_UNAVAILABLE',
  'TUN_PERMISSION',
  'TUN_BUSY',
  'TUN_OPEN_FAILED',
  'TUN_IO_FAILED',
  'TUN_CLOSED',
  'TUN_CONFIG',
  'LINK_CONFIG',
  'LINK_FAILED',
  'ROUTE_EXISTS',
  // Sockets
  'PORT_IN_USE',
  'UDP_BIND_FAILED',
  'METRICS_LISTEN_FAILED',
  'SOCKET_IN_USE',
  'SOCKET_LISTEN_FAILED',
  // Control socket client and commands
  'CONTROL_UNREACHABLE',
  'CONTROL_ERROR',
  'CONTROL_TIMEOUT',
  'PEER_EXISTS',
  'PEER_UNKNOWN',
  'SHOWCONF_BACKEND',
  'SHOWCONF_NO_ADDRESS',
  // Start-up and installation
  'START_INTERRUPTED',
  'NATIVE_NOT_BUILT',
  'CRYPTO_UNAVAILABLE',
  // Programming errors
  'RING_CONFIG',
  'RING_MISUSE',
  'HANDSHAKE_STATE',
  'CRYPTO_MISUSE',
] as const;

export type WeftErrorCode = (typeof WEFT_ERROR_CODES)[number];

/**
 * One error class for local faults: configuration, devices, permissions.
 * Callers match on `code`, which is stable; the message is for people and
 * always says what went wrong and what would fix it.
 *
 * Wire input never produces a WeftError: a bad packet is dropped and counted.
 */
export class WeftError extends Error {
  override readonly name = 'WeftError';
  readonly code: WeftErrorCode;
  /** The OS errno name (EPERM, EBUSY, ...) when a syscall failed. */
  readonly errno: string | undefined;

  constructor(code: WeftErrorCode, message: string, options?: { cause?: unknown; errno?: string }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.errno = options?.errno;
  }
}

export function isWeftError(err: unknown, code?: WeftErrorCode): err is WeftError {
  return err instanceof WeftError && (code === undefined || err.code === code);
}
