// `streamkernel run`'s ops on the keyed operator (src/keyed,
// src/scheduler/operator.ts), whatever the op and the worker count: per op,
// one GroupOperator in this process (--workers 1) or one scheduler job on
// worker threads (createJob, --workers N). Both fill the same result queue
// and write the same checkpoint, the scheduler's format (one per op, over
// DEFAULT_KEY_GROUPS key groups): so a checkpoint taken with any worker count
// resumes with any other, a rescale moving whole key groups.
// String keys become numeric ids in order of first appearance (kept in the
// run's checkpoint). With --max-out-of-order, rows are put in time order per
// key here (src/time/reorder.ts) before any operator sees them.

import { compiledModule } from '../engine.js';
import { createGroupOperator, mergeWindows, WindowsGroupOperator } from '../keyed/index.js';
import { isTimeSpec, isWindowSpec, moduleOf, normalizeOperatorSpec, windowSpecOf, type NormalizedOperatorSpec, type NormalizedSpecOfRows, type OperatorSpec } from '../keyed/spec.js';
import { checkCompatible, decodeCheckpoint, encodeCheckpoint } from '../scheduler/checkpoint.js';
import { CheckpointError as SchedulerCheckpointError } from '../scheduler/errors.js';
import { DEFAULT_KEY_GROUPS } from '../scheduler/hash.js';
import { KernelOperator, type GroupOperator, type RowsPart } from '../scheduler/operator.js';
import { TimeRollingOperator } from '../keyed/time-rolling.js';
import type { CheckpointStore, Job, OutputBatch, Sink } from '../scheduler/types.js';
import { Reorderer, type Released } from '../time/reorder.js';
import { ByteReader, ByteWriter } from '../time/snapshot.js';
import type { LateRow, WindowResult } from '../types.js';
import { CheckpointError, type OpsState } from './checkpoint.js';
import type { RunCommand } from './run-args.js';
import { grown } from './waiting.js';

/** Key groups of every op, in process or on workers: fixed, as checkpoints hold state per key group. */
const KEY_GROUPS = DEFAULT_KEY_GROUPS;

/** A batch's key column numbered by its source (ColumnBatch.keyIds, keyNames). */
export interface SourceKeys {
  ids: Uint32Array;
  names: readonly string[];
}

/** Rows for the ops: values, numeric keys (keyed runs), event times (time windows). */
interface Rows {
  values: Float64Array;
  keys?: Uint32Array;
  times?: Float64Array;
}

/** What the ops released: per op one result per row, for rows `rows` (undefined: `first`, `first + 1`, … in order). */
export interface OpsOutput {
  first: number;
  rows: Float64Array | undefined;
  values: Float64Array[];
}

/** How long a live batch waits for its results on workers before the jobs are settled (a failed worker is recovered then). */
const LIVE_PATIENCE_MS = 250;

/** One op's results as they arrive, in row order; read from the front. */
class ResultQueue {
  private chunks: Float64Array[] = [];
  private at = 0; // rows of chunks[0] already taken
  /** Rows received and not yet taken. */
  available = 0;
  /** Rows received so far (the stream offset of the next new row). */
  received = 0;

  /** Results of rows from `offset` on: rows already received (written again after a job's recovery) are dropped, so each row comes once. */
  write(offset: number, values: Float64Array): void {
    const skip = this.received - offset;
    if (skip < 0) throw new Error(`the operator skipped rows ${this.received} to ${offset - 1}`);
    if (skip >= values.length) return;
    const v = skip === 0 ? values : values.subarray(skip);
    this.chunks.push(v);
    this.available += v.length;
    this.received += v.length;
  }

  /** The next `n` results (n ≤ available). */
  take(n: number): Float64Array {
    const first = this.chunks[0];
    if (first !== undefined && this.at === 0 && first.length === n) {
      this.chunks.shift();
      this.available -= n;
      return first;
    }
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

/** One op's window records (window kinds) as they arrive, in the single operator's order. */
class WindowQueue {
  windows: WindowResult[] = [];
  late: LateRow[] = [];
  /** Rows covered so far (the stream offset of the next new row). */
  received = 0;

  /** The records of rows [offset, offset + rows): a batch written again after a job's recovery (offset already covered) is dropped. */
  write(offset: number, rows: number, windows: readonly WindowResult[], late: readonly LateRow[]): void {
    if (offset < this.received) return;
    if (offset > this.received) throw new Error(`the operator skipped rows ${this.received} to ${offset - 1}`);
    // Most writes find the queue empty (taken after every batch): one copy of the array, not a push per window.
    if (this.windows.length === 0) this.windows = windows.slice();
    else for (const w of windows) this.windows.push(w);
    for (const l of late) this.late.push(l);
    this.received += rows;
  }
}

/** Where an op's output goes: one result per row (ResultQueue) or window records (WindowQueue); `wake` is called after each write. */
interface OpQueues {
  rows: ResultQueue;
  windows: WindowQueue;
  wake?: (() => void) | undefined;
}

/** Rows an op's output covers so far. */
const covers = (q: OpQueues): number => Math.max(q.rows.received, q.windows.received);

/** A scheduler sink into an op's queues. */
function queueSink(q: OpQueues): Sink {
  return {
    write: (b: OutputBatch) => {
      if (b.windows !== undefined) q.windows.write(b.offset, b.rows ?? b.values.length, b.windows, b.late ?? []);
      else q.rows.write(b.offset, b.values);
      q.wake?.();
    },
    preCommit: () => ({ rows: Math.max(q.rows.received, q.windows.received) }),
    commit: () => undefined,
    recover: () => undefined,
  };
}

/** One op's keyed operator; its results go to its queues. */
interface OpHost {
  /** Rows the state covers (the restored checkpoint's, then every row pushed). */
  readonly offset: number;
  push(rows: Rows): Promise<void> | void;
  /** Waits until every row pushed has its result in the queue. */
  settle(): Promise<void>;
  /** End of input. */
  finish(): Promise<void>;
  /** A checkpoint in the scheduler's format covering every row pushed (after settle). */
  checkpoint(): Promise<Uint8Array>;
  dispose(): void;
}

/** The scheduler checkpoint `bytes` of an op, checked against the op; scheduler refusals become the run's CheckpointError. */
function decodeOpState(bytes: Uint8Array, spec: NormalizedOperatorSpec, keyed: boolean, op: number): ReturnType<typeof decodeCheckpoint> {
  try {
    const cp = decodeCheckpoint(bytes);
    checkCompatible(cp, { spec, keyGroups: KEY_GROUPS, keyed });
    if (cp.base !== undefined) throw new CheckpointError(`checkpoint ${cp.id} is incremental`);
    return cp;
  } catch (error) {
    throw new CheckpointError(`the state of op ${op + 1}: ${(error as Error).message}`);
  }
}

/** An op in this process: one GroupOperator owning every key group. */
class LocalHost implements OpHost {
  private readonly part: RowsPart = { values: new Float64Array(0), keys: undefined, out: new Float64Array(0) };

  private constructor(
    private readonly op: GroupOperator,
    /** The same operator when it emits window records. */
    private readonly windows: WindowsGroupOperator | undefined,
    private readonly spec: NormalizedOperatorSpec,
    private readonly keyed: boolean,
    private readonly queues: OpQueues,
    public offset: number,
    private id: number,
  ) {}

  static async create(spec: NormalizedOperatorSpec, keyed: boolean, queues: OpQueues, state: Uint8Array | undefined, index: number): Promise<LocalHost> {
    const windows = isWindowSpec(spec) ? new WindowsGroupOperator(windowSpecOf(spec, keyed), KEY_GROUPS) : undefined;
    const op = windows ?? (await createGroupOperator(await compiledModule(moduleOf(spec)), spec as NormalizedSpecOfRows, KEY_GROUPS));
    const make = (offset: number, id: number): LocalHost => new LocalHost(op, windows, spec, keyed, queues, offset, id);
    if (state === undefined) return make(0, 0);
    const cp = decodeOpState(state, spec, keyed, index);
    try {
      for (const [group, bytes] of cp.groups) op.restoreGroup(group, bytes);
    } catch (error) {
      if (!(error instanceof SchedulerCheckpointError)) throw error;
      throw new CheckpointError(`the state of op ${index + 1}: ${error.message}`);
    }
    for (const q of [queues.rows, queues.windows]) q.received = cp.offset;
    return make(cp.offset, cp.id);
  }

  push(rows: Rows): void {
    const n = rows.values.length;
    // Window operators write no result per row: they get one reused buffer, not a new one per batch.
    const out = this.windows === undefined ? new Float64Array(n) : this.unusedOut(n);
    const part = this.part;
    part.values = rows.values;
    part.keys = rows.keys;
    part.out = out;
    if (rows.times !== undefined) part.times = rows.times;
    this.op.processParts([part]);
    if (this.windows !== undefined) this.emit(this.windows.takeOutput(), n);
    else this.queues.rows.write(this.offset, out);
    this.offset += n;
  }

  private unused = new Float64Array(0);

  private unusedOut(n: number): Float64Array {
    if (this.unused.length < n) this.unused = new Float64Array(n);
    return this.unused.subarray(0, n);
  }

  /** Window records of `rows` rows, in the order the scheduler's merge gives (one operator: its own). */
  private emit(output: ReturnType<WindowsGroupOperator['flush']>, rows: number): void {
    const { windows, late } = mergeWindows([output]);
    this.queues.windows.write(this.offset, rows, windows, late);
  }

  /** Count kernels and rolling by duration: this op takes each batch with `leader`'s grouping by key (it gets the same batches, after the leader). */
  follow(leader: LocalHost): void {
    if (this.op instanceof KernelOperator && leader.op instanceof KernelOperator) this.op.follow(leader.op);
    else if (this.op instanceof TimeRollingOperator && leader.op instanceof TimeRollingOperator) this.op.follow(leader.op);
  }

  async settle(): Promise<void> {}

  async finish(): Promise<void> {
    if (this.windows !== undefined) this.emit(this.windows.flush(), 0);
  }

  async checkpoint(): Promise<Uint8Array> {
    const groups = new Map<number, Uint8Array>();
    for (let g = 0; g < KEY_GROUPS; g++) {
      const bytes = this.op.snapshotGroup(g);
      if (bytes !== undefined) groups.set(g, bytes);
    }
    this.id++;
    const offset = this.offset;
    return encodeCheckpoint({ id: this.id, offset, keyGroups: KEY_GROUPS, keyed: this.keyed, spec: this.spec, sinkPosition: { rows: offset }, groups });
  }

  dispose(): void {}
}

/**
 * Rows between a job's own checkpoints (besides those the run asks for): they
 * only bound what the job keeps to replay after a failed worker (12 bytes a
 * row, 16 with times). Not by time: each one snapshots every key's state on
 * the workers and checksums it here, which at 1/s took ~15% of the
 * coordinator's CPU with 1 000 keys of median w=1000 (44 MB each time).
 */
export const JOB_CHECKPOINT_ROWS = 1 << 22;

/**
 * Worker threads of an op's job for `--workers N` (N > 1): keyed, N − 1,
 * since this thread is the Nth. It parses, routes, merges and formats every
 * row (~2/3 of `--workers 1`'s CPU a row with `median --window 1000` over
 * 1 000 keys), more than the kernels' share: one more worker thread beside
 * it only adds a thread to share the cores with, and the routing of each
 * row between two ranges (issue 13). Unkeyed, one series is one key: one.
 */
export function workerThreads(cmd: Pick<RunCommand, 'key' | 'workers'>): number {
  return cmd.key !== undefined ? cmd.workers - 1 : 1;
}

/** An op on scheduler worker threads: one job, its checkpoints in a memory store. */
class JobHost implements OpHost {
  private finished = false;

  private constructor(
    private readonly job: Job,
    private readonly store: CheckpointStore,
  ) {}

  get offset(): number {
    return this.job.offset;
  }

  static async create(spec: OperatorSpec, cmd: RunCommand, queues: OpQueues, state: Uint8Array | undefined, index: number): Promise<JobHost> {
    const [{ createJob, memoryCheckpointStore }, { nodeWorkers }] = await Promise.all([import('../scheduler/index.js'), import('../scheduler/node.js')]);
    const store = memoryCheckpointStore();
    const keyed = cmd.key !== undefined;
    // Checked here: a job falls back past a corrupt checkpoint, and would start over.
    if (state !== undefined) await store.save(decodeOpState(state, normalizeOperatorSpec(spec), keyed, index).id, state);
    const job = await createJob({
      adapter: nodeWorkers(),
      operator: spec,
      keyed,
      workers: workerThreads(cmd),
      keyGroups: KEY_GROUPS,
      sink: queueSink(queues),
      checkpoints: { store, everyMs: Infinity, everyRows: JOB_CHECKPOINT_ROWS },
      resume: state !== undefined,
    });
    return new JobHost(job, store);
  }

  async push(rows: Rows): Promise<void> {
    // push() copies the arrays (the job keeps them for replay), so every op's job can share them.
    await this.job.push(rows);
  }

  async settle(): Promise<void> {
    await this.job.checkpoint();
  }

  async finish(): Promise<void> {
    // No final checkpoint: its store is in memory and nothing reads it after the end (the run's own checkpoints
    // are taken through checkpoint(), and a finished run drops them); every result is still written to the queues.
    await this.job.finish({ checkpoint: false });
    this.finished = true;
  }

  async checkpoint(): Promise<Uint8Array> {
    return this.store.read(await this.job.checkpoint());
  }

  dispose(): void {
    if (this.finished) return;
    this.finished = true;
    void this.job.abort().catch(() => undefined);
  }
}

/** Key names → numeric ids, in order of first appearance (restored from a checkpoint's list). */
export class KeyIds {
  private readonly ids = new Map<string, number>();
  /** Names by id. */
  private readonly list: string[] = [];
  /**
   * The source's names list while its ids are ours (see ofIds); undefined
   * before the first batch of ids, null once they differ (a restored list,
   * keys given as strings, a second source, or a key whose rows were dropped).
   */
  private sameAs: readonly string[] | null | undefined;
  constructor(keys: readonly string[]) {
    for (const k of keys) this.add(k);
    this.sameAs = keys.length === 0 ? undefined : null;
  }
  private add(k: string): number {
    const id = this.list.length;
    this.ids.set(k, id);
    this.list.push(k);
    return id;
  }
  of(names: readonly string[] | SourceKeys, n: number): Uint32Array {
    if (!Array.isArray(names)) return this.ofIds(names as SourceKeys, n);
    this.leaveSource();
    const keys = new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      const k = names[i] as string;
      keys[i] = this.ids.get(k) ?? this.add(k);
    }
    return keys;
  }
  /** A source's ids + 1 → ours (0: not seen yet): each source key's name is looked up once. */
  private fromSource = new Uint32Array(0);
  /**
   * Keys numbered by the source (ColumnOptions.keyIds) as ours. A fresh run's
   * source numbers keys as we do, in order of first appearance in the rows
   * we get: its ids are then ours, passed on as they are (no copy, no
   * look-up per row), checked by one comparison per row (sameIds).
   */
  private ofIds(source: SourceKeys, n: number): Uint32Array {
    const { ids, names } = source;
    if (this.sameAs === undefined) this.sameAs = names;
    if (this.sameAs === names) {
      const next = sameIds(ids, n, this.list.length);
      if (next >= 0) {
        for (let s = this.list.length; s < next; s++) this.add(names[s] as string);
        return ids.length === n ? ids : ids.subarray(0, n);
      }
    }
    this.leaveSource();
    return this.mappedIds(source, n);
  }
  /** From now on every source id is looked up (fromSource): the ids shared so far map to themselves. */
  private leaveSource(): void {
    if (this.sameAs === null) return;
    if (this.sameAs !== undefined) {
      this.fromSource = new Uint32Array(Math.max(this.list.length, 16));
      for (let s = 0; s < this.list.length; s++) this.fromSource[s] = s + 1;
    }
    this.sameAs = null;
  }
  private mappedIds({ ids, names }: SourceKeys, n: number): Uint32Array {
    if (this.fromSource.length < names.length) {
      const more = new Uint32Array(Math.max(names.length, 2 * this.fromSource.length));
      more.set(this.fromSource);
      this.fromSource = more;
    }
    const from = this.fromSource;
    const keys = new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      const s = ids[i]!;
      let id = from[s]! - 1;
      if (id < 0) {
        const k = names[s] as string;
        id = this.ids.get(k) ?? this.add(k);
        from[s] = id + 1;
      }
      keys[i] = id;
    }
    return keys;
  }
  names(): string[] {
    return [...this.list];
  }
  /** The name of id `id`. */
  name(id: number): string {
    return this.list[id] as string;
  }
}

/**
 * Whether the first `n` source ids, given ids below `known` seen before,
 * number new keys in order of first appearance (each new id is the next):
 * the count of ids seen then, else -1. A small function of its own: its loop
 * is compiled alone.
 */
export function sameIds(ids: Uint32Array, n: number, known: number): number {
  let next = known;
  for (let i = 0; i < n; i++) {
    const s = ids[i]!;
    if (s >= next) {
      if (s !== next) return -1;
      next++;
    }
  }
  return next;
}

/**
 * The restored rows held for reordering, or a fresh reorderer; undefined
 * without --max-out-of-order, and for window records, whose operators place
 * disorder themselves (their watermark).
 */
function reordererOf(cmd: RunCommand, restore: OpsState | undefined): Reorderer | undefined {
  const bound = cmd.maxOutOfOrder?.ms ?? 0;
  if (bound <= 0 || cmd.window.kind !== 'time') return undefined;
  const reorder = new Reorderer(bound);
  if (restore?.reorder !== undefined) {
    try {
      const r = new ByteReader(restore.reorder);
      reorder.install(reorder.read(r, restore.held?.pushed ?? 0, () => undefined));
      r.end();
    } catch (error) {
      throw new CheckpointError(`its rows held for reordering: ${(error as Error).message}`);
    }
  }
  return reorder;
}

/**
 * The run's ops: rows numbered in the order pushed go to every op's host
 * (after reordering, with --max-out-of-order); results come back, for the
 * rows every op has, with their row numbers.
 */
export class KeyedOps {
  private finished = false;
  /** With reordering: row numbers of the rows sent whose results are not all back, in the order sent, from `head` to `sentEnd`. */
  private sent = new Float64Array(0);
  private head = 0;
  private sentEnd = 0;
  /** Rows whose results were returned (the number of the next one, without reordering). */
  private returned: number;

  /** Rows sent to the hosts so far (their stream offset). */
  private sentRows: number;

  private constructor(
    private readonly hosts: OpHost[],
    private readonly opQueues: OpQueues[],
    private readonly queues: ResultQueue[],
    private readonly windowQueues: WindowQueue[],
    private readonly keys: KeyIds | undefined,
    private readonly reorder: Reorderer | undefined,
    private readonly timed: boolean,
    /** Rows pushed so far (the number of the next one). */
    private pushed: number,
  ) {
    this.returned = hosts[0]?.offset ?? 0;
    this.sentRows = this.returned;
  }

  /** Starts every op's host, restoring `restore` (a checkpoint of any worker count). */
  static async create(cmd: RunCommand, specs: OperatorSpec[], restore: OpsState | undefined): Promise<KeyedOps> {
    if (restore !== undefined && restore.jobs.length !== specs.length) throw new CheckpointError(`it holds ${restore.jobs.length} ops, the command has ${specs.length}`);
    const keyed = cmd.key !== undefined;
    const queues = specs.map(() => ({ rows: new ResultQueue(), windows: new WindowQueue() }));
    const reorder = reordererOf(cmd, restore);
    const state = (i: number): Uint8Array | undefined => restore?.jobs[i];
    const started = await Promise.allSettled(
      specs.map((spec, i) =>
        cmd.workers > 1
          ? JobHost.create(spec, cmd, queues[i] as OpQueues, state(i), i)
          : LocalHost.create(normalizeOperatorSpec(spec), keyed, queues[i] as OpQueues, state(i), i),
      ),
    );
    const hosts = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    // In process, the ops get the same batches in order (send): one grouping by key for all count kernels.
    const local = hosts.filter((h): h is LocalHost => h instanceof LocalHost);
    for (const h of local.slice(1)) h.follow(local[0]!);
    const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    const abort = (): void => hosts.forEach((h) => h.dispose());
    if (failed !== undefined) {
      abort();
      const reason = failed.reason as Error;
      throw reason instanceof SchedulerCheckpointError ? new CheckpointError(reason.message) : reason;
    }
    const offsets = new Set(hosts.map((h) => h.offset));
    if (offsets.size > 1) {
      abort();
      throw new CheckpointError(`the ops' states cover different numbers of rows (${[...offsets].join(', ')})`);
    }
    const offset = hosts[0]?.offset ?? 0;
    // Rows held for reordering were pushed, but no operator has them yet.
    const pushed = restore?.held?.pushed ?? offset;
    for (const q of queues) q.rows.received = q.windows.received = offset;
    const keys = keyed ? new KeyIds(restore?.keys ?? []) : undefined;
    const rowQueues = queues.map((q) => q.rows);
    const windowQueues = queues.map((q) => q.windows);
    return new KeyedOps(hosts, queues, rowQueues, windowQueues, keys, reorder, isTimeSpec(normalizeOperatorSpec(specs[0])), pushed);
  }

  /**
   * Pushes rows (times: time windows only); returns the results every op has
   * so far. `live` (a batch cut before it filled): waits for the results of
   * every row sent, so a row's output goes out with its batch, not the next.
   */
  async push(ts: Float64Array | undefined, values: Float64Array, names: readonly string[] | SourceKeys | undefined, live = false): Promise<OpsOutput> {
    const n = values.length;
    const ids = this.keys?.of(names as readonly string[] | SourceKeys, n);
    const base = this.pushed;
    this.pushed += n;
    if (this.reorder === undefined) await this.send(this.timed ? ts : undefined, values, ids);
    else await this.sendReleased(this.reorder.push(ts as Float64Array, values, ids, base));
    if (live) await this.allBack();
    return this.ready();
  }

  /**
   * --idle-timeout: every key's latest time moves on by `ms`
   * (Reorderer.advance); the rows that releases go to the ops, and their
   * results come back now.
   */
  async idle(ms: number): Promise<OpsOutput> {
    if (this.reorder !== undefined) await this.sendReleased(this.reorder.advance(ms));
    await this.allBack();
    return this.ready();
  }

  /** Waits until every op's output covers every row sent: normally a few ms on workers; if not (a failed worker recovers only when asked), the hosts are settled. */
  private async allBack(): Promise<void> {
    const done = (): boolean => this.opQueues.every((q) => covers(q) >= this.sentRows);
    const deadline = Date.now() + LIVE_PATIENCE_MS;
    while (!done() && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, deadline - Date.now());
        for (const q of this.opQueues) {
          q.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        }
      });
    }
    if (!done()) await Promise.all(this.hosts.map((h) => h.settle()));
  }

  private async sendReleased(rel: Released): Promise<void> {
    this.sent = grown(this.sent, this.sentEnd, this.sentEnd + rel.row.length, (k) => new Float64Array(k));
    this.sent.set(rel.row, this.sentEnd);
    this.sentEnd += rel.row.length;
    // Released columns are fresh arrays (Reorderer.push): sent as they are, not copied again.
    await this.send(rel.ts, rel.val, this.keys !== undefined ? rel.key : undefined);
  }

  private async send(times: Float64Array | undefined, values: Float64Array, keys: Uint32Array | undefined): Promise<void> {
    if (values.length === 0) return;
    this.sentRows += values.length;
    const rows: Rows = { values };
    if (keys !== undefined) rows.keys = keys;
    if (times !== undefined) rows.times = times;
    // In order: the first in-process op groups the batch by key for the others (LocalHost.follow).
    await Promise.all(this.hosts.map((h) => h.push(rows)));
  }

  /** The results every op has, with their rows. */
  private ready(): OpsOutput {
    let n = Infinity;
    for (const q of this.queues) n = Math.min(n, q.available);
    const first = this.returned;
    this.returned += n;
    let rows: Float64Array | undefined;
    if (this.reorder !== undefined) {
      rows = this.sent.slice(this.head, this.head + n);
      this.head += n;
      if (this.head === this.sentEnd || this.head >= 65_536) {
        this.sent.copyWithin(0, this.head, this.sentEnd);
        this.sentEnd -= this.head;
        this.head = 0;
      }
    }
    return { first, rows, values: this.queues.map((q) => q.take(n)) };
  }

  /**
   * Window kinds: the windows every op has emitted so far (per op, the same
   * windows in the same order, each with its op's value) and the late rows
   * (the same for every op: the first op's).
   */
  takeWindows(): { windows: WindowResult[][]; late: LateRow[] } {
    let n = Infinity;
    for (const q of this.windowQueues) n = Math.min(n, q.windows.length);
    // Each queue's array as it is when all of it is taken (the usual case), else its first n.
    const windows = this.windowQueues.map((q) => {
      if (n !== q.windows.length) return q.windows.splice(0, n);
      const all = q.windows;
      q.windows = [];
      return all;
    });
    const first = this.windowQueues[0] as WindowQueue;
    const late = first.late;
    for (const q of this.windowQueues) q.late = [];
    return { windows, late };
  }

  /** Rows every op's window records cover so far (window kinds). */
  covered(): number {
    let n = Infinity;
    for (const q of this.windowQueues) n = Math.min(n, q.received);
    return n;
  }

  /** The name of key id `id` (keyed runs). */
  keyName(id: number): string {
    return this.keys?.name(id) ?? '';
  }

  /** End of input: every result still out. */
  async flush(): Promise<OpsOutput> {
    if (this.reorder !== undefined) await this.sendReleased(this.reorder.flush());
    await Promise.all(this.hosts.map((h) => h.finish()));
    this.finished = true;
    return this.ready();
  }

  /** Every result of the rows pushed so far that can be known now (before a checkpoint). */
  async settle(): Promise<OpsOutput> {
    await Promise.all(this.hosts.map((h) => h.settle()));
    return this.ready();
  }

  /** Every op's checkpoint, the key names and the rows held for reordering (call settle first: no result is out). */
  async state(): Promise<OpsState> {
    const jobs = await Promise.all(this.hosts.map((h) => h.checkpoint()));
    const state: OpsState = { keys: this.keys?.names() ?? [], jobs };
    if (this.reorder !== undefined) {
      const w = new ByteWriter();
      this.reorder.write(w);
      state.reorder = w.bytes();
    }
    return state;
  }

  dispose(): void {
    if (this.finished) return;
    this.finished = true;
    for (const h of this.hosts) h.dispose();
  }
}
