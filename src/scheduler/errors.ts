// The scheduler's typed errors. Like SnapshotError, each carries a `code`
// for programs and a message saying what is wrong for people.

/** Why a checkpoint was refused: see {@link CheckpointError}. */
export type CheckpointErrorCode =
  | 'BAD_LENGTH'
  | 'BAD_MAGIC'
  | 'UNSUPPORTED_VERSION'
  | 'CHECKSUM_MISMATCH'
  | 'BAD_FORMAT'
  | 'OTHER_BUILD'
  | 'INCOMPATIBLE'
  | 'BAD_STATE'
  | 'BROKEN_CHAIN'
  | 'NO_CHECKPOINT';

/**
 * A checkpoint was refused (truncated, corrupt, from another build, of another
 * job) or none could be found. Nothing was restored from it.
 *
 * @example
 * ```ts
 * try { decodeCheckpoint(bytes); }
 * catch (e) { if (e instanceof CheckpointError && e.code === 'CHECKSUM_MISMATCH') { … } }
 * ```
 */
export class CheckpointError extends Error {
  /** What is wrong, for programs; the message says it for people. */
  readonly code: CheckpointErrorCode;

  constructor(code: CheckpointErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CheckpointError';
    this.code = code;
  }
}

/** How a worker failed: see {@link WorkerFailure}. */
export type WorkerFailureKind = 'exit' | 'error' | 'hang' | 'terminated' | 'sink' | 'store';

/**
 * A worker (or the sink or checkpoint store) failed while a job ran. The job
 * restarts from its last checkpoint; when restarts are exhausted it fails with
 * a {@link JobFailedError} whose `cause` is the last of these.
 *
 * @example
 * ```ts
 * // 'worker 1 exited with code 1', 'worker 0 hung: no heartbeat for 5000 ms'
 * ```
 */
export class WorkerFailure extends Error {
  /** What happened. */
  readonly kind: WorkerFailureKind;
  /** The worker's index, or -1 for the sink and the store. */
  readonly worker: number;

  constructor(kind: WorkerFailureKind, worker: number, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'WorkerFailure';
    this.kind = kind;
    this.worker = worker;
  }
}

/**
 * A job gave up: its restart strategy was exhausted, or it cannot run at all
 * (a checkpoint that does not fit it). `cause` is the failure that ended it;
 * the checkpoint store still holds the last good state.
 *
 * @example
 * ```ts
 * try { await job.finish(); }
 * catch (e) { if (e instanceof JobFailedError) console.error(e.message, e.cause); }
 * ```
 */
export class JobFailedError extends Error {
  /** Restarts made before giving up. */
  readonly restarts: number;

  constructor(message: string, restarts: number, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'JobFailedError';
    this.restarts = restarts;
  }
}
