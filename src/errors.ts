import type { SnapshotErrorCode } from './types.js';

/**
 * A snapshot was refused: truncated, corrupt, from another build, or for
 * another op. Nothing was restored.
 *
 * @example
 * ```ts
 * try { await restoreKernel(bytes); }
 * catch (e) { if (e instanceof SnapshotError && e.code === 'CHECKSUM_MISMATCH') { … } }
 * ```
 */
export class SnapshotError extends Error {
  /** What is wrong, for programs; the message says it for people. */
  readonly code: SnapshotErrorCode;

  constructor(code: SnapshotErrorCode, message: string) {
    super(message);
    this.name = 'SnapshotError';
    this.code = code;
  }
}
