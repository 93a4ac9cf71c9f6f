/**
 * One error class for local faults: configuration, devices, permissions.
 * Callers match on `code`, which is stable; the message is for people and
 * always says what went wrong and what would fix it.
 *
 * Wire input never produces a WeftError: a bad packet is dropped and counted.
 */
export class WeftError extends Error {
  override readonly name = 'WeftError';
  readonly code: string;
  /** The OS errno name (EPERM, EBUSY, ...) when a syscall failed. */
  readonly errno: string | undefined;

  constructor(code: string, message: string, options?: { cause?: unknown; errno?: string }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.errno = options?.errno;
  }
}

export function isWeftError(err: unknown, code?: string): err is WeftError {
  return err instanceof WeftError && (code === undefined || err.code === code);
}
