// `streamkernel run --workers N` (N > 1): the ops on the parallel scheduler
// (docs/SCHEDULER.md), count windows (ParallelCountRunner) and time windows
// (ParallelTimeOps, behind run.ts's TimeRunner). One scheduler job per op,
// each fed the same rows; string keys become numeric ids in order of first
// appearance. Results come back in input order; rows go out once every op
// has their results, so the output is byte for byte that of the in-process
// path (--workers 1).
// With --checkpoint, each of the run's checkpoints holds one scheduler
// checkpoint per op (Job.checkpoint: every row read so far has its result
// written) and the key names; on resume the jobs restore from them, onto any
// number of workers. Loaded only when --workers > 1 (run.ts imports it
// dynamically).

import type { ColumnBatch, ResultBatch } from '../connectors/types.js';
import type { OperatorSpec } from '../keyed/spec.js';
import { Reorderer, type Released } from '../time/reorder.js';
import { ByteReader, ByteWriter } from '../time/snapshot.js';
import { CheckpointError as SchedulerCheckpointError } from '../scheduler/errors.js';
import { createJob, decodeCheckpoint, memoryCheckpointStore } from '../scheduler/index.js';
import { nodeWorkers } from '../scheduler/node.js';
import type { CheckpointStore, Job, OutputBatch, Sink } from '../scheduler/types.js';
import { CheckpointError, type OpsState } from './checkpoint.js';
import type { RunCommand } from './run-args.js';
import type { Runner, TimeOps } from './run.js';
import type { RollingOutput } from '../types.js';

/** One op's results as they arrive from its job, in input order; read from the front. */
class ResultQueue {
  private chunks: Float64Array[] = [];
  private at = 0; // rows of chunks[0] already taken
  /** Rows received and not yet taken. */
  available = 0;
  /** Rows received so far (the stream offset of the next new row). */
  received = 0;
  private wake: (() => void) | undefined;

  /** Resolves once `rows` rows are available, or after `ms` (whichever is first). */
  async reached(rows: number, ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (this.available < rows && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, deadline - Date.now());
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  /**
   * The job's sink: results are deterministic and carry their stream offset,
   * so rows written again after a recovery (offsets already received) are
   * dropped here — each row is delivered exactly once.
   */
  sink(): Sink {
    return {
      write: (b: OutputBatch) => {
        const skip = this.received - b.offset;
        if (skip < 0) throw new Error(`scheduler skipped rows ${this.received} to ${b.offset - 1}`);
        if (skip >= b.values.length) return;
        const v = skip === 0 ? b.values : b.values.subarray(skip);
        this.chunks.push(v);
        this.available += v.length;
        this.received += v.length;
        this.wake?.();
      },
      preCommit: () => ({ rows: this.received }),
      commit: () => undefined,
      recover: () => undefined,
    };
  }

  /** The next `n` rows of results (n ≤ available). */
  take(n: number): Float64Array {
    const out = new Float64Array(n);
    let filled = 0;
    while (filled < n) {
      const c = this.chunks[0] as Float64Array;
      const m = Math.min(n - filled, c.length - this.at);
      out.set(c.subarray(this.at, this.at + m), filled);
      filled += m;
      this.at += m;
      if (this.at === c.length) {
        this.chunks.shift();
        this.at = 0;
      }
    }
    this.available -= n;
    return out;
  }
}

/** Joins batches (in order) into one; the last one's `end`, the sum of `skipped`. */
function concat(batches: ColumnBatch[]): ColumnBatch {
  if (batches.length === 1) return batches[0] as ColumnBatch;
  const last = batches[batches.length - 1] as ColumnBatch;
  const length = batches.reduce((s, b) => s + b.length, 0);
  const values = new Float64Array(length);
  let at = 0;
  for (const b of batches) {
    values.set(b.values, at);
    at += b.length;
  }
  const first = batches[0] as ColumnBatch;
  let timestamps: Float64Array | undefined;
  if (first.timestamps !== undefined) {
    timestamps = new Float64Array(length);
    at = 0;
    for (const b of batches) {
      timestamps.set(b.timestamps as Float64Array, at);
      at += b.length;
    }
  }
  return {
    length,
    values,
    ...(timestamps !== undefined ? { timestamps } : {}),
    ...(first.timeText !== undefined ? { timeText: batches.flatMap((b) => b.timeText as readonly string[]) } : {}),
    ...(first.keys !== undefined ? { keys: batches.flatMap((b) => b.keys as readonly string[]) } : {}),
    end: last.end,
    skipped: batches.reduce((s, b) => s + b.skipped, 0),
  };
}

/** How long a batch cut before it filled waits for its results before the jobs are settled (a failed worker is recovered then). */
const LIVE_PATIENCE_MS = 250;

/**
 * Live input (a batch cut before it filled: live stdin, or the input's last
 * batch): the results of the `rows` rows pushed and not yet taken go out with this batch,
 * not the next one. They normally come back within a few ms; if not (a
 * worker failed and the jobs only recover on the next call), the jobs are
 * settled, which recovers and waits for every result.
 */
async function awaitLive(jobs: Job[], queues: ResultQueue[], rows: number): Promise<void> {
  await Promise.all(queues.map((q) => q.reached(rows, LIVE_PATIENCE_MS)));
  if (queues.some((q) => q.available < rows)) await Promise.all(jobs.map((j) => j.checkpoint()));
}

/** Puts the run checkpoint's scheduler checkpoints (one per op, checked here) into the jobs' stores. */
async function seedStores(restore: OpsState, stores: CheckpointStore[]): Promise<void> {
  const state = restore.parallel;
  if (state === undefined) throw new CheckpointError('it was taken with --workers 1; resume with --workers 1');
  if (state.jobs.length !== stores.length) throw new CheckpointError(`it holds ${state.jobs.length} ops, the command has ${stores.length}`);
  for (let i = 0; i < stores.length; i++) {
    const bytes = state.jobs[i] as Uint8Array;
    let id: number;
    try {
      id = decodeCheckpoint(bytes).id;
    } catch (error) {
      throw new CheckpointError(`the state of op ${i + 1}: ${(error as Error).message}`);
    }
    await (stores[i] as CheckpointStore).save(id, bytes);
  }
}

/** Key names → numeric ids, in order of first appearance (restored from a checkpoint's list). */
class KeyIds {
  private readonly ids = new Map<string, number>();
  constructor(keys: readonly string[]) {
    for (const k of keys) this.ids.set(k, this.ids.size);
  }
  of(names: readonly string[], n: number): Uint32Array {
    const keys = new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      const k = names[i] as string;
      let id = this.ids.get(k);
      if (id === undefined) {
        id = this.ids.size;
        this.ids.set(k, id);
      }
      keys[i] = id;
    }
    return keys;
  }
  names(): string[] {
    return [...this.ids.keys()];
  }
}

/**
 * Starts one job per op (restoring the run checkpoint's scheduler
 * checkpoints). Keyed: `workers` threads per op, keys spread over them by key
 * group. Unkeyed: one series is one key, so each op's job runs on one thread
 * (the ops run in parallel with each other).
 */
async function startJobs(specs: OperatorSpec[], cmd: RunCommand, queues: ResultQueue[], stores: CheckpointStore[], restore: OpsState | undefined): Promise<Job[]> {
  const keyed = cmd.key !== undefined;
  const adapter = nodeWorkers();
  if (restore !== undefined) await seedStores(restore, stores);
  const started = await Promise.allSettled(
    specs.map((operator, i) =>
      createJob({
        adapter,
        operator,
        keyed,
        workers: keyed ? cmd.workers : 1,
        sink: (queues[i] as ResultQueue).sink(),
        checkpoints: { store: stores[i] as CheckpointStore },
        resume: restore !== undefined,
      }),
    ),
  );
  const jobs = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed !== undefined) {
    await Promise.all(jobs.map((j) => j.abort().catch(() => undefined)));
    const reason = failed.reason as Error;
    throw reason instanceof SchedulerCheckpointError ? new CheckpointError(reason.message) : reason;
  }
  const offsets = new Set(jobs.map((j) => j.offset));
  if (offsets.size !== 1) {
    await Promise.all(jobs.map((j) => j.abort().catch(() => undefined)));
    throw new CheckpointError(`the ops' states cover different numbers of rows (${[...offsets].join(', ')})`);
  }
  for (const q of queues) q.received = jobs[0]?.offset ?? 0;
  return jobs;
}

/** One scheduler checkpoint per op, covering every row pushed, and the key names. */
async function jobsState(jobs: Job[], stores: CheckpointStore[], keys: KeyIds): Promise<OpsState> {
  const ids = await Promise.all(jobs.map((j) => j.checkpoint()));
  const bytes = await Promise.all(ids.map((id, i) => (stores[i] as CheckpointStore).read(id)));
  return { entries: [], parallel: { keys: keys.names(), jobs: bytes } };
}

/**
 * Time-window ops (rolling by duration) on scheduler worker threads, for
 * run.ts's TimeRunner, which checks the order of the rows and keeps the
 * output in input order. With --max-out-of-order, rows are put in order per
 * key here (the same Reorderer as in process) and go to the jobs as
 * released. Rows are numbered in the order pushed; results are returned once
 * every op has them.
 */
export class ParallelTimeOps implements TimeOps {
  private finished = false;
  /** Row numbers of the rows sent to the jobs whose results are not all back, in the order sent, from `head`. */
  private sent: number[] = [];
  private head = 0;

  private constructor(
    private readonly jobs: Job[],
    private readonly stores: CheckpointStore[],
    private readonly queues: ResultQueue[],
    private readonly keys: KeyIds | undefined,
    private readonly reorder: Reorderer | undefined,
    /** Rows pushed so far (the number of the next one). */
    private pushed: number,
    /** Rows per full batch: a batch with fewer was cut early (live input, see awaitLive). */
    private readonly batchSize: number,
  ) {}

  static async create(cmd: RunCommand, specs: OperatorSpec[], restore: OpsState | undefined): Promise<ParallelTimeOps> {
    const queues = specs.map(() => new ResultQueue());
    const stores = specs.map(() => memoryCheckpointStore());
    const bound = cmd.maxOutOfOrder?.ms ?? 0;
    const pushed = restore?.held?.pushed ?? 0;
    let reorder: Reorderer | undefined;
    if (bound > 0) {
      reorder = new Reorderer(bound);
      const held = restore?.parallel?.reorder;
      if (held !== undefined) {
        try {
          const r = new ByteReader(held);
          reorder.install(reorder.read(r, pushed, () => undefined));
          r.end();
        } catch (error) {
          throw new CheckpointError(`its rows held for reordering: ${(error as Error).message}`);
        }
      }
    }
    const jobs = await startJobs(specs, cmd, queues, stores, restore);
    const keys = cmd.key !== undefined ? new KeyIds(restore?.parallel?.keys ?? []) : undefined;
    return new ParallelTimeOps(jobs, stores, queues, keys, reorder, pushed, cmd.batchSize);
  }

  async push(ts: Float64Array, values: Float64Array, names: readonly string[] | undefined): Promise<RollingOutput[]> {
    const n = values.length;
    const ids = this.keys?.of(names as readonly string[], n);
    const base = this.pushed;
    this.pushed += n;
    if (this.reorder === undefined) {
      for (let i = 0; i < n; i++) this.sent.push(base + i);
      await this.send(ts, values, ids);
    } else {
      await this.sendReleased(this.reorder.push(ts, values, ids, base));
    }
    if (n < this.batchSize) await awaitLive(this.jobs, this.queues, this.sent.length - this.head);
    return this.ready();
  }

  private async sendReleased(rel: Released): Promise<void> {
    for (const row of rel.row) this.sent.push(row);
    await this.send(Float64Array.from(rel.ts), Float64Array.from(rel.val), this.keys !== undefined ? Uint32Array.from(rel.key) : undefined);
  }

  /** Rows to every job: push() copies the arrays (the job keeps them for replay), so the jobs share them. */
  private async send(times: Float64Array, values: Float64Array, keys: Uint32Array | undefined): Promise<void> {
    if (values.length === 0) return;
    const b = keys !== undefined ? { values, times, keys } : { values, times };
    await Promise.all(this.jobs.map((j) => j.push(b)));
  }

  /** The results every op has, in the order the rows were sent. */
  private ready(): RollingOutput[] {
    const n = Math.min(...this.queues.map((q) => q.available));
    const rows = Float64Array.from(this.sent.slice(this.head, this.head + n));
    this.head += n;
    if (this.head === this.sent.length || this.head >= 65_536) {
      this.sent = this.sent.slice(this.head);
      this.head = 0;
    }
    return this.queues.map((q) => ({ rows, values: q.take(n) }));
  }

  /** --idle-timeout: the reordering's latest times move on by `ms`; the rows that releases go to the jobs, and their results come back now. */
  async idle(ms: number): Promise<RollingOutput[]> {
    if (this.reorder !== undefined) await this.sendReleased(this.reorder.advance(ms));
    await awaitLive(this.jobs, this.queues, this.sent.length - this.head);
    return this.ready();
  }

  async flush(): Promise<RollingOutput[]> {
    if (this.reorder !== undefined) await this.sendReleased(this.reorder.flush());
    await Promise.all(this.jobs.map((j) => j.finish()));
    this.finished = true;
    return this.ready();
  }

  async settle(): Promise<RollingOutput[]> {
    await Promise.all(this.jobs.map((j) => j.checkpoint()));
    return this.ready();
  }

  /** The jobs' checkpoints and the rows held for reordering (call settle first: no result is out). */
  async state(): Promise<OpsState> {
    const state = await jobsState(this.jobs, this.stores, this.keys ?? new KeyIds([]));
    if (this.reorder !== undefined) {
      const w = new ByteWriter();
      this.reorder.write(w);
      state.parallel!.reorder = w.bytes();
    }
    return state;
  }

  dispose(): void {
    if (this.finished) return;
    this.finished = true;
    for (const j of this.jobs) void j.abort().catch(() => undefined);
  }
}

/** Count-window ops on scheduler worker threads. */
export class ParallelCountRunner implements Runner {
  readonly names: string[];
  readonly valueBuffer = undefined;
  readonly late = 0;
  readonly reordered = 0;
  /** Batches pushed whose results are not all back yet, in input order. */
  private waiting: ColumnBatch[] = [];
  private finished = false;

  private constructor(
    private readonly jobs: Job[],
    private readonly stores: CheckpointStore[],
    private readonly queues: ResultQueue[],
    names: string[],
    private readonly ids: KeyIds | undefined,
    /** Rows per full batch: a batch with fewer was cut early (live input, see awaitLive). */
    private readonly batchSize: number,
  ) {
    this.names = names;
  }

  static async create(cmd: RunCommand, restore?: OpsState): Promise<ParallelCountRunner> {
    const queues = cmd.ops.map(() => new ResultQueue());
    const stores = cmd.ops.map(() => memoryCheckpointStore());
    const jobs = await startJobs(cmd.ops.map((o) => o.spec), cmd, queues, stores, restore);
    const ids = cmd.key !== undefined ? new KeyIds(restore?.parallel?.keys ?? []) : undefined;
    return new ParallelCountRunner(jobs, stores, queues, cmd.ops.map((o) => o.name), ids, cmd.batchSize);
  }

  async process(batch: ColumnBatch): Promise<ResultBatch> {
    if (batch.length > 0) {
      const keys = this.ids?.of(batch.keys as readonly string[], batch.length);
      // push() copies the arrays (the job keeps them for replay), so every job can share them.
      const b = keys !== undefined ? { values: batch.values, keys } : { values: batch.values };
      this.waiting.push(batch);
      await Promise.all(this.jobs.map((j) => j.push(b)));
      if (batch.length < this.batchSize) await awaitLive(this.jobs, this.queues, this.waiting.reduce((n, w) => n + w.length, 0));
    }
    return this.take(batch);
  }

  /** The waiting batches whose results are all back, as one batch (empty when none; `end`/`skipped` those of `at`). */
  private take(at: ColumnBatch): ResultBatch {
    const ready = Math.min(...this.queues.map((q) => q.available));
    let rows = 0;
    let n = 0;
    while (n < this.waiting.length && rows + (this.waiting[n] as ColumnBatch).length <= ready) rows += (this.waiting[n++] as ColumnBatch).length;
    const done = this.waiting.slice(0, n);
    this.waiting = this.waiting.slice(n);
    const results = this.queues.map((q) => q.take(rows));
    if (done.length === 0) {
      return { batch: { length: 0, values: new Float64Array(0), ...(this.ids !== undefined ? { keys: [] } : {}), timeText: [], end: at.end, skipped: at.skipped }, results };
    }
    const batch = concat(done);
    // Progress and the skipped count follow the batch just read, not the ones written.
    return { batch: { ...batch, end: at.end, skipped: at.skipped }, results };
  }

  async finish(): Promise<ResultBatch | undefined> {
    await Promise.all(this.jobs.map((j) => j.finish()));
    this.finished = true;
    if (this.waiting.length === 0) return undefined;
    const last = this.waiting[this.waiting.length - 1] as ColumnBatch;
    const out = this.take({ ...last, skipped: 0 });
    if (this.waiting.length !== 0) throw new Error(`${this.waiting.reduce((s, b) => s + b.length, 0)} rows have no results at the end of the input`);
    return out;
  }

  /** Waits for the results of every row pushed, and returns those not yet taken. */
  async settle(): Promise<ResultBatch | undefined> {
    await Promise.all(this.jobs.map((j) => j.checkpoint()));
    if (this.waiting.length === 0) return undefined;
    const last = this.waiting[this.waiting.length - 1] as ColumnBatch;
    return this.take({ ...last, skipped: 0 });
  }

  /** One scheduler checkpoint per op, covering every row pushed (call settle first), and the key names. */
  state(): Promise<OpsState> {
    return jobsState(this.jobs, this.stores, this.ids ?? new KeyIds([]));
  }

  dispose(): void {
    if (this.finished) return;
    this.finished = true;
    for (const j of this.jobs) void j.abort().catch(() => undefined);
  }
}
