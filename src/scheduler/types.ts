// Public types of the parallel scheduler (docs/SCHEDULER.md).
import type { NormalizedOperatorSpec, OperatorSpec } from '../keyed/spec.js';
import type { LateRow, WindowResult } from '../types.js';

/**
 * Rows going into a job: values, and with a keyed job one `Uint32Array` key
 * per row.
 *
 * @example
 * ```ts
 * const batch: Batch = { values: new Float64Array([1, 2, 3]), keys: new Uint32Array([7, 8, 7]) };
 * ```
 */
export interface Batch {
  /** One value per row. */
  values: Float64Array;
  /** One key per row; required for keyed jobs, not allowed otherwise. */
  keys?: Uint32Array;
  /** Event time (ms) per row: required by event-time operators (`kind: 'rolling'`), not allowed otherwise. */
  times?: Float64Array;
}

/**
 * Results leaving a job, in input order: `values[i]` is the result of input
 * row `offset + i` (a rolling operator has one result per row).
 */
export interface OutputBatch {
  /** Stream offset (0-based row number over the whole stream) of the first row. */
  offset: number;
  /** The results (empty for window kinds). The array is the sink's to keep, unless the sink says otherwise ({@link Sink.keepsValues}). */
  values: Float64Array;
  /** Window kinds: the input rows this batch covers (`values` is empty). @default values.length */
  rows?: number;
  /**
   * Window kinds (tumbling, hopping, session): the windows these rows
   * emitted, in the order the single operator emits them (a last batch of
   * `rows: 0` holds those the end of the stream emitted).
   */
  windows?: WindowResult[];
  /** Window kinds: the rows that reached no window (the late side output), by row. */
  late?: LateRow[];
}

/**
 * A source a job pulls from. A replayable source can `seek` back to any row
 * offset it has produced; recovery replays it from the last checkpoint. A
 * source that is not replayable is retained by the job from the last
 * checkpoint on (memory bounded by the checkpoint interval).
 *
 * @example
 * ```ts
 * const source = arraySource(values, { keys, batchRows: 65_536 });
 * ```
 */
export interface Source {
  /** True when {@link Source.seek} can go back to any offset already read. */
  readonly replayable: boolean;
  /** Makes the next `read` start at row `offset`. Required when replayable. */
  seek?(offset: number): void | Promise<void>;
  /**
   * The next batch, or `null` at the end of the stream. The job takes the
   * batch over: an array that spans its whole `ArrayBuffer` may be
   * transferred to a worker (detached); other arrays (views of part of a
   * buffer) are copied. A source that keeps its data returns copies, or views
   * that do not span their whole buffer.
   */
  read(): Batch | null | Promise<Batch | null>;
}

/** A sink's position: any JSON value; stored in checkpoints and handed back to {@link Sink.recover}. */
export type SinkPosition = null | boolean | number | string | SinkPosition[] | { [key: string]: SinkPosition };

/** The last committed checkpoint as a sink sees it. */
export interface CommittedSinkState {
  /** Checkpoint id. */
  id: number;
  /** What {@link Sink.preCommit} returned for it. */
  position: SinkPosition;
}

/**
 * Where a job's results go, exactly once. The job calls, in this order per
 * checkpoint: `write` for every output batch in stream order, `preCommit(id)`
 * right after the last batch the checkpoint covers, and once the checkpoint
 * is durable in the store, `commit(id)`. Writes after a `preCommit` belong to
 * the next checkpoint. On recovery, `recover(last)` must discard everything
 * written after the `preCommit` of `last` (or everything, when `last` is
 * null), and the job then writes those rows again.
 *
 * Two ways to meet the contract: hold writes back until `commit` (a two-phase
 * sink, as {@link memorySink}), or write through and make `recover` roll back
 * to the position (a transactional sink, as the Node file sink, which
 * truncates). Methods may return promises; the job awaits them in order.
 */
export interface Sink {
  /** Receives the next output batch, in stream order. */
  write(batch: OutputBatch): void | Promise<void>;
  /** Seals everything written so far into checkpoint `id`; returns the position to store with it. */
  preCommit(id: number): SinkPosition | Promise<SinkPosition>;
  /** Checkpoint `id` is durable: make what it covers visible. */
  commit(id: number): void | Promise<void>;
  /** Rolls back to `last` (nothing written when null) before a replay or a resume. */
  recover(last: CommittedSinkState | null): void | Promise<void>;
  /** The job finished; release resources. */
  close?(): void | Promise<void>;
  /**
   * `false`: the sink is done with `batch.values` once `write` returns (or
   * its promise resolves), as a sink that copies the results out (a file, a
   * socket). The job then hands over results in buffers it reuses, a view of
   * the batch's rows (mind `byteOffset`/`byteLength`: the buffer may be
   * larger), instead of a new array per batch: on a live stream, results
   * then allocate no memory (ArrayBuffer bytes allocated per row start the
   * coordinator's major GCs, docs/SCHEDULER.md, "Latency").
   * @default true (the array is the sink's to keep)
   */
  readonly keepsValues?: boolean;
}

/**
 * Where checkpoints are kept: opaque, checksummed bytes by id. `save` must be
 * atomic (a checkpoint is either wholly there or absent) and keeps only the
 * newest few.
 */
export interface CheckpointStore {
  /** Stores checkpoint `id` atomically, then drops all but the newest `keep`. */
  save(id: number, bytes: Uint8Array): Promise<void>;
  /**
   * Optional: as `save`, for the checkpoint whose bytes are `parts` one after
   * another. The job then hands over the key groups' states as they are,
   * without copying a checkpoint (hundreds of MiB for large state) into one
   * buffer first; the parts are never changed afterwards, so a store may
   * keep them. Without it, the job calls `save`.
   */
  saveParts?(id: number, parts: readonly Uint8Array[]): Promise<void>;
  /** Ids of the stored checkpoints, newest first. */
  list(): Promise<number[]>;
  /** The bytes of checkpoint `id` as stored (they may be corrupt; the job checks them). */
  read(id: number): Promise<Uint8Array>;
}

/** A worker thread as the scheduler sees it: see {@link WorkerAdapter}. */
export interface WorkerHandle {
  /** Posts a message, transferring (not cloning) the listed buffers. */
  post(message: unknown, transfer: ArrayBuffer[]): void;
  /** Messages from the worker. */
  onMessage(handler: (message: unknown) => void): void;
  /** An uncaught error (or WASM trap) inside the worker. */
  onError(handler: (error: Error) => void): void;
  /** The worker exited (Node: any exit; browsers: `terminate()` through this handle or the worker closing itself; a worker killed otherwise is caught by the heartbeat). */
  onExit(handler: (code: number) => void): void;
  /** Stops the worker now. */
  terminate(): void;
}

/**
 * Runs scheduler workers on one platform: Node `worker_threads`
 * (`nodeWorkers()` from `streamkernel/scheduler/node`) or Web Workers
 * (`webWorkers()` from `streamkernel/scheduler/browser`).
 */
export interface WorkerAdapter {
  /** `'node'` or `'browser'`, for messages. */
  readonly platform: string;
  /** Cores available: the default number of workers. */
  readonly concurrency: number;
  /**
   * Whether the workers can share memory with the coordinator (a
   * `SharedArrayBuffer` posted to them is shared, not copied). When true, a
   * keyed job on several workers hands each batch to every worker in one
   * shared buffer: each worker picks its own key groups' rows and writes
   * their results in place, so the coordinator neither splits batches nor
   * merges results. Node: always; browsers: only when cross-origin isolated.
   * @default false (batches are split per worker and transferred)
   */
  readonly sharedMemory?: boolean;
  /** Starts one worker running the scheduler's worker entry. */
  spawn(): WorkerHandle;
}

/**
 * When checkpoints are taken and where they go.
 *
 * @example
 * ```ts
 * const checkpoints: CheckpointOptions = { store: fileCheckpointStore('ckpt'), everyMs: 1000 };
 * ```
 */
export interface CheckpointOptions {
  /**
   * Where checkpoints go.
   * @default memoryCheckpointStore()
   */
  store?: CheckpointStore;
  /**
   * Take a checkpoint once this many rows have gone in since the last one.
   * A positive integer or Infinity.
   * @default Infinity
   */
  everyRows?: number;
  /**
   * Take a checkpoint once this many ms have passed since the last one
   * (checked as batches go in). A positive number or Infinity.
   * @default 1000
   */
  everyMs?: number;
  /**
   * Every `fullEvery`-th checkpoint is full; those between are incremental:
   * they hold only the key groups changed since the previous checkpoint and
   * name it as their base, so a restore reads the chain back to the full one
   * (a broken chain is refused, code `BROKEN_CHAIN`). The store must keep at
   * least `fullEvery` checkpoints. A positive integer; 1: every checkpoint is
   * full. A count kernel job's full checkpoints after its first are composed
   * from the previous one and the changed key groups (the same bytes).
   * @default 1
   */
  fullEvery?: number;
}

/**
 * How a job restarts after a failure: exponential backoff, and at most
 * `maxRestarts` restarts within any `windowMs`.
 *
 * @example
 * ```ts
 * const restart: RestartOptions = { maxRestarts: 5, windowMs: 60_000, initialDelayMs: 50 };
 * ```
 */
export interface RestartOptions {
  /**
   * Restarts allowed within `windowMs`; one more failure fails the job. A non-negative integer.
   * @default 3
   */
  maxRestarts?: number;
  /**
   * The sliding window over which restarts are counted, in ms. A positive number or Infinity.
   * @default 60000
   */
  windowMs?: number;
  /**
   * Delay before the first restart in a window, in ms; doubled for each further one. A non-negative number.
   * @default 100
   */
  initialDelayMs?: number;
  /**
   * The longest delay between restarts, in ms. A non-negative number ≥ `initialDelayMs`.
   * @default max(10000, initialDelayMs)
   */
  maxDelayMs?: number;
}

/**
 * How hung workers are found: each worker posts a heartbeat every
 * `intervalMs`; one silent for `timeoutMs` is declared hung and the job
 * restarts. A batch is processed without yielding, so `timeoutMs` must exceed
 * the time one batch takes.
 *
 * @example
 * ```ts
 * const heartbeat: HeartbeatOptions = { intervalMs: 100, timeoutMs: 2000 };
 * ```
 */
export interface HeartbeatOptions {
  /**
   * Interval between heartbeats, in ms. A positive number.
   * @default 250
   */
  intervalMs?: number;
  /**
   * Silence after which a worker is hung, in ms. A number greater than `intervalMs`.
   * @default max(5000, 4 × intervalMs)
   */
  timeoutMs?: number;
}

/**
 * A failure to inject, for tests: after batch number `afterBatch` (0-based,
 * counting every batch dispatched by this job, replays included) has been
 * dispatched, worker `worker` fails in the given way. Each fault fires once.
 *
 * - `'terminate'`: the coordinator terminates the worker from outside.
 * - `'exit'`: the worker calls `process.exit(1)` (browsers: `self.close()`) during its next batch.
 * - `'throw'`: an `Error` is thrown inside the kernel call of its next batch.
 * - `'trap'`: the kernel is driven out of bounds, a real WASM trap.
 * - `'hang'`: the worker blocks forever during its next batch.
 */
export interface Fault {
  /** Dispatched batches (0-based) after which the fault is armed. */
  afterBatch: number;
  /** Worker index (taken modulo the number of workers). */
  worker: number;
  /** How the worker fails. */
  kind: 'terminate' | 'exit' | 'throw' | 'trap' | 'hang';
}

/**
 * Options of {@link createJob}.
 *
 * @example
 * ```ts
 * const job = await createJob({
 *   adapter: nodeWorkers(),
 *   operator: { op: 'mean', window: 100 },
 *   keyed: true,
 *   workers: 2,
 *   sink: memorySink(),
 * });
 * ```
 */
export interface JobOptions {
  /** Runs the workers: `nodeWorkers()` or `webWorkers()`. */
  adapter: WorkerAdapter;
  /**
   * What every key runs: any kernel spec (rolling count windows, ewm),
   * rolling by duration (`{ kind: 'rolling', op, window, closed?, minPeriods?,
   * ddof?, q? }`), tumbling, hopping or session windows (a window spec
   * without `keys`), whose batches carry `times`; or count windows
   * (`{ kind: 'count', op, size, step? }`). Window kinds write window
   * records (`OutputBatch.windows`).
   */
  operator: OperatorSpec;
  /** Where results go. */
  sink: Sink;
  /**
   * Rows carry `Uint32Array` keys and each key has its own kernel state.
   * Unkeyed, every row is key 0: one series, run by one worker.
   * @default false
   */
  keyed?: boolean;
  /**
   * Worker threads: an integer from 1 to `keyGroups`.
   * @default adapter.concurrency, capped at keyGroups (at least 1)
   */
  workers?: number;
  /**
   * Key groups: the unit of state distribution and the maximum parallelism.
   * An integer from 1 to 32768; fixed for the life of a job's checkpoints.
   * @default 128
   */
  keyGroups?: number;
  /**
   * Batches in flight per worker; `push` waits while any worker a batch needs is full. A positive integer.
   * @default 4
   */
  maxInFlight?: number;
  /**
   * Checkpointing.
   * @default {} (every field at its default)
   */
  checkpoints?: CheckpointOptions;
  /**
   * Restart strategy.
   * @default {} (every field at its default)
   */
  restart?: RestartOptions;
  /**
   * Hung-worker detection.
   * @default {} (every field at its default)
   */
  heartbeat?: HeartbeatOptions;
  /**
   * Start from the store's latest valid checkpoint (falling back past corrupt
   * ones): kernel state, source offset and sink position. With none, start
   * from the beginning.
   * @default false
   */
  resume?: boolean;
  /**
   * Window kinds (tumbling, hopping, session): when no rows have come for
   * this many ms of processing time, the watermark advances as if a row at
   * (greatest timestamp + the idle time) had come, so windows are not held
   * back until the next row; checked every `heartbeat.intervalMs`. The
   * results then depend on when rows arrive, not only on the rows: a run is
   * no longer reproducible (a checkpoint holds the advanced watermark, so a
   * resume stays consistent with what was emitted). Off by default. A
   * positive number or Infinity.
   * @default Infinity
   */
  idleTimeoutMs?: number;
  /**
   * Push mode: the longest a pushed row waits for its batch, in ms (as
   * Kafka's `linger.ms` or Flink's buffer timeout). With 0, every `push`
   * goes to the workers at once, as a batch of its own. Above 0, the rows of
   * small pushes are coalesced into one batch, sent when it holds
   * `maxBatchRows` rows or its first row has waited this long, whichever
   * comes first (and by `finish` and `checkpoint`): fewer, larger batches for
   * a stream pushed a few rows at a time, at a bounded cost in latency.
   * Batching never changes the results. A non-negative finite number.
   * @default 0
   */
  maxBatchDelayMs?: number;
  /**
   * Push mode with `maxBatchDelayMs` above 0: a coalesced batch is sent once
   * it holds this many rows. A positive integer.
   * @default 65536
   */
  maxBatchRows?: number;
  /**
   * Run one of the `workers` partitions (worker 0's key groups) in the
   * coordinator's own thread instead of a worker thread: the job then has
   * `workers − 1` worker threads. The partition runs the same worker code
   * over in-thread messages, so it owns, checkpoints, fails and is restored
   * exactly as a worker thread (same results and checkpoints for any
   * setting). It trades the coordinator's time for one thread and one
   * isolate fewer: worth it only where the coordinator has time to spare
   * and the job's threads outnumber the cores.
   * @default false
   */
  coordinatorPartition?: boolean;
  /**
   * Fault injection, for tests only.
   * @default []
   */
  faults?: Fault[];
}

/**
 * Row-to-sink latency: from the moment a row is pushed (or read from a
 * source by {@link Job.run}) to the end of the sink's `write` of its result,
 * in milliseconds. Percentiles are within 1 % above the true value.
 */
export interface LatencyStats {
  /** Rows measured (rows replayed after a recovery are not measured again). */
  count: number;
  /** Mean latency, ms (0 with no rows). */
  mean: number;
  /** Median, ms. */
  p50: number;
  /** 99th percentile, ms. */
  p99: number;
  /** 99.9th percentile, ms. */
  p999: number;
  /** The largest, ms. */
  max: number;
}

/** A running job's metrics: see {@link Job.metrics}. */
export interface JobMetrics {
  /** Rows accepted so far (as {@link Job.offset}). */
  rows: number;
  /** Batches sent to the workers (coalesced pushes count once; replays count again). */
  batches: number;
  /** Row-to-sink latency of every row written so far. */
  latency: LatencyStats;
}

/** Options of {@link Job.finish}. */
export interface FinishOptions {
  /**
   * Take a final checkpoint covering every row and commit the sink.
   * @default true
   */
  checkpoint?: boolean;
}

/** What a finished job reports. */
export interface JobResult {
  /** Rows that went in (the stream offset at the end). */
  rows: number;
  /** Checkpoints committed by this job. */
  checkpoints: number;
  /** Restarts after failures. */
  restarts: number;
  /** The id of the last committed checkpoint, or 0 for none. */
  lastCheckpointId: number;
}

/**
 * A running job: see {@link createJob}.
 */
export interface Job {
  /** The normalized operator spec. */
  readonly spec: Readonly<NormalizedOperatorSpec>;
  /** Worker threads. */
  readonly workers: number;
  /** Rows accepted so far (the stream offset of the next row). On resume, starts at the checkpoint's offset. */
  readonly offset: number;
  /** Restarts so far. */
  readonly restarts: number;
  /**
   * Sends a batch in. Resolves once every worker the batch needs has room
   * (backpressure), not when it is processed. The job copies the batch's
   * rows when `push` is called (it keeps them until a checkpoint covers
   * them, for replay, in memory it reuses): its arrays may be reused or
   * changed as soon as `push` returns.
   */
  push(batch: Batch): Promise<void>;
  /** Pulls a source to its end (as fast as workers drain), then finishes. */
  run(source: Source | AsyncIterable<Batch> | Iterable<Batch>): Promise<JobResult>;
  /**
   * Waits for every result, takes a final checkpoint, commits the sink and
   * stops the workers. With `{ checkpoint: false }`: waits for every result
   * written to the sink, then stops the workers, with no final checkpoint
   * and so no commit of the results since the last one; for a caller that
   * never reads the job's checkpoints after its end and whose sink's writes
   * are final (the CLI's ops, whose memory store dies with the process).
   */
  finish(options?: FinishOptions): Promise<JobResult>;
  /**
   * Push mode: waits until every row pushed so far has its result written to
   * the sink and a checkpoint covering them is committed to the store (taking
   * one unless the last already covers them), and resolves with that
   * checkpoint's id (0 when nothing was pushed and there is none). The job
   * keeps running. A savepoint, in Flink's terms: for callers that checkpoint
   * something of their own alongside the job, such as the CLI's output file.
   */
  checkpoint(): Promise<number>;
  /** Stops the workers without a final checkpoint (results after the last checkpoint are discarded). */
  abort(): Promise<void>;
  /** Rows, batches and row-to-sink latency percentiles so far (also after the job ended). */
  metrics(): JobMetrics;
}

/**
 * Options of {@link parallelRolling}.
 *
 * @example
 * ```ts
 * const options: ParallelOptions = { adapter: nodeWorkers(), workers: 4 };
 * ```
 */
export interface ParallelOptions {
  /** Runs the workers. */
  adapter: WorkerAdapter;
  /**
   * Workers: a positive integer.
   * @default adapter.concurrency
   */
  workers?: number;
  /**
   * Rows per chunk (before its halo); chunks are handed to workers as they
   * free up. A positive integer.
   * @default ceil(values.length / workers)
   */
  chunkRows?: number;
}
