// The coordinator: routes batches to workers by key group, reassembles their
// results in input order, writes the sink, takes aligned checkpoints and
// recovers from failed workers. Platform-neutral: workers come from a
// WorkerAdapter (node.ts, browser.ts). See docs/SCHEDULER.md.
//
// Exactly-once, in short: every batch has a sequence number; a checkpoint is a
// barrier posted to every worker right after batch `afterSeq`. Each worker has
// one ordered input channel (the coordinator), so the barrier is aligned by
// construction: a worker's snapshot holds exactly the rows up to the barrier's
// source offset. The sink is pre-committed right after the results of
// `afterSeq` are written. When every worker's snapshot is in and the sink is
// pre-committed, the checkpoint is saved to the store in one atomic write, and
// only then is the sink committed. A failure discards everything after the
// last committed checkpoint (workers, in-flight batches, the sink's uncommitted
// part), restores it into fresh workers and replays the source from its offset.
import { compiledModule } from '../engine.js';
import { hasTtl, isTimeSpec, isWindowSpec, moduleOf, type NormalizedOperatorSpec } from '../keyed/spec.js';
import { mergeWindows, type Rises, type WindowsOutput } from '../keyed/windows.js';
import type { LateRow, WindowResult } from '../types.js';
import { applyDeltas, checkCompatible, encodeCheckpointParts, encodeCheckpointSliced, latestCheckpoint, type Checkpoint, type RefusedCheckpoint } from './checkpoint.js';
import { CheckpointError, JobFailedError, WorkerFailure } from './errors.js';
import { keyGroupOf, keyGroupRange, workerOfKeyGroup } from './hash.js';
import { LatencyHistogram } from './latency.js';
import { sharedTimesAt } from './operator.js';
import { describe, normalizeJobOptions, type NormalizedJobOptions } from './options.js';
import { unpackWindows, type PackedWindows } from './records.js';
import { ReplayLog } from './replay.js';
import { inThreadWorker } from './in-thread.js';
import { TwoWayPasses } from './two-way.js';
import type { Batch, FinishOptions, Job, JobMetrics, JobOptions, JobResult, OutputBatch, SinkPosition, Source, WorkerHandle } from './types.js';

/** Thrown inside the coordinator when a failure interrupts an operation; never escapes to users. */
const RESTART = Symbol('restart');
/** Periodic checkpoints waiting for the store at most; past that a trigger waits for one to be durable. */
const MAX_QUEUED_COMMITS = 4;

interface Slot {
  index: number;
  handle: WorkerHandle;
  inFlight: number;
  lastSeen: number;
  /**
   * Messages for this worker held in the coordinator, in order: batches
   * already routed and copied that wait for room in its own window, and the
   * barriers and faults behind them (which must not overtake them).
   */
  outbox: Outgoing[];
}

/** A message held in a slot's outbox; `counted`: a batch, which takes a place in the worker's window when posted. */
interface Outgoing {
  message: unknown;
  transfer: ArrayBuffer[];
  counted: boolean;
}

/**
 * The coordinator's routing arrays for a batch: the worker of each row, the
 * rows per worker, where each worker's rows start, and a cursor per worker;
 * for batches of `capacity` rows at most. Pooled and reused across batches
 * (issue 20: made anew for every batch, they were the coordinator's top
 * allocation, and its major GCs landed on rows' latency).
 */
interface Routing {
  capacity: number;
  rowWorker: Uint8Array | Uint16Array;
  counts: Int32Array;
  starts: Int32Array;
  at: Int32Array;
}

/**
 * A shared-memory batch: its routing and its buffer (layout in
 * dispatchShared) for `capacity` rows, with views over the whole buffer,
 * made once per buffer: a batch's regions are offsets in them.
 */
interface SharedBatch extends Routing {
  buffer: SharedArrayBuffer;
  f64: Float64Array;
  u32: Uint32Array;
  /** Two workers: the scatter and the merge in WebAssembly over this buffer (two-way.ts), where that can be made; its rowWorker is the routing's. */
  passes: TwoWayPasses | undefined;
}

interface Pending {
  seq: number;
  offset: number;
  rows: number;
  parts: number;
  /** The routing when the batch's rows were split between workers (results to merge back in row order), else undefined. */
  routing: Routing | undefined;
  partial: (Float64Array | undefined)[];
  out: Float64Array | undefined;
  /** Shared-memory batches: the buffer (values, results, keys) every worker got. */
  shared: SharedBatch | undefined;
  /** Window kinds: each worker's tagged windows, then (all in) merged. */
  records: WindowsOutput[];
  merged: { windows: WindowResult[]; late: LateRow[] } | undefined;
  /** When its rows came in, as (time, rows) pairs, for the latency metrics; undefined for replays. */
  stamps?: number[] | undefined;
}

interface PendingCheckpoint {
  id: number;
  /** Incremental: the checkpoint it changes. */
  base: number | undefined;
  /** Its place in its chain (1: full). */
  chain: number;
  /**
   * A full checkpoint composed by the coordinator: the workers send only the
   * groups changed since `baseId` (as for a delta), which are applied to the
   * base's groups, so a full checkpoint does not snapshot every key again.
   */
  composed: boolean;
  afterSeq: number;
  offset: number;
  snaps: Map<number, Uint8Array>;
  /** Groups of `snaps` that are key patches (a delta's; src/scheduler/checkpoint.ts). */
  patches: Set<number>;
  waiting: number;
  position: SinkPosition | undefined;
  preCommitted: boolean;
}

const now = (): number => (typeof performance !== 'undefined' ? performance.now() : Date.now());
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function validateBatch(batch: unknown, keyed: boolean, timed: boolean): Batch {
  if (typeof batch !== 'object' || batch === null) throw new TypeError(`batch must be an object { values, keys?, times? }, got ${describe(batch)}`);
  const { values, keys, times } = batch as { values?: unknown; keys?: unknown; times?: unknown };
  if (!(values instanceof Float64Array)) throw new TypeError(`batch.values must be a Float64Array, got ${describe(values)}`);
  if (timed) {
    if (!(times instanceof Float64Array)) throw new TypeError(`batch.times must be a Float64Array: the operator runs on event time, got ${describe(times)}`);
    if (times.length !== values.length) throw new RangeError(`batch.times must have one time per value: got ${times.length} times for ${values.length} values`);
  } else if (times !== undefined) {
    throw new TypeError("batch.times is not allowed: the operator is not an event-time one (kind: 'rolling')");
  }
  if (keyed) {
    if (keys === undefined) throw new TypeError('batch.keys is required: the job is keyed');
    if (!(keys instanceof Uint32Array)) throw new TypeError(`batch.keys must be a Uint32Array, got ${describe(keys)}`);
    if (keys.length !== values.length) {
      throw new RangeError(`batch.keys must have one key per value: got ${keys.length} keys for ${values.length} values`);
    }
  } else if (keys !== undefined) {
    throw new TypeError('batch.keys is not allowed: the job is unkeyed (set keyed: true)');
  }
  return batch as Batch;
}

/** Whether each batch's `part` follows the previous one's in the same buffer (pushes copied one after another into the replay log). */
function adjacent(batches: Batch[], part: (b: Batch) => Float64Array | Uint32Array | undefined): boolean {
  for (let i = 1; i < batches.length; i++) {
    const a = part(batches[i - 1]!);
    const b = part(batches[i]!);
    if (a === undefined || b === undefined) return a === b;
    if (a.buffer !== b.buffer || a.byteOffset + a.byteLength !== b.byteOffset) return false;
  }
  return true;
}

/** The batches (in order) as one: a view over them when they lie one after another, else a copy. */
function concatBatches(batches: Batch[]): Batch {
  if (batches.length === 1) return batches[0]!;
  const rows = batches.reduce((n, b) => n + b.values.length, 0);
  const together = adjacent(batches, (b) => b.values) && adjacent(batches, (b) => b.keys) && adjacent(batches, (b) => b.times);
  const join = <T extends Float64Array | Uint32Array>(make: (n: number) => T, part: (b: Batch) => T | undefined): T | undefined => {
    const first = part(batches[0]!);
    if (first === undefined) return undefined;
    if (together) return new (first.constructor as new (buffer: ArrayBufferLike, offset: number, length: number) => T)(first.buffer, first.byteOffset, rows);
    const out = make(rows);
    let at = 0;
    for (const b of batches) {
      out.set(part(b)!, at);
      at += b.values.length;
    }
    return out;
  };
  const keys = join((n) => new Uint32Array(n), (b) => b.keys);
  const times = join((n) => new Float64Array(n), (b) => b.times);
  return { values: join((n) => new Float64Array(n), (b) => b.values)!, ...(keys !== undefined ? { keys } : {}), ...(times !== undefined ? { times } : {}) };
}

/** A worker's reply that may carry window records. */
type PackedReply = { packed?: PackedWindows; windows?: WindowsOutput };

/** A worker's window records: packed in columns (records.ts) or as they are. */
function windowsOf(message: PackedReply): WindowsOutput | undefined {
  return message.packed !== undefined ? unpackWindows(message.packed) : message.windows;
}

function isSource(value: unknown): value is Source {
  return typeof value === 'object' && value !== null && typeof (value as Source).read === 'function';
}

/** Whether the batch's arrays can be transferred as they are (they own their whole buffer). */
function ownsBuffer(array: Float64Array | Uint32Array): boolean {
  return array.buffer instanceof ArrayBuffer && array.byteOffset === 0 && array.byteLength === array.buffer.byteLength;
}

/**
 * A routed batch's results in row order, into `out` (one per row): row i's
 * result is the next one of its worker's, whose results start at
 * `from + routing.starts[w]` in `results`.
 */
function inRowOrder(routing: Routing, out: Float64Array, results: Float64Array, from: number): Float64Array {
  if (routing.at.length === 2) return inRowOrderOfTwo(routing, out, results, from);
  const { rowWorker, at } = routing;
  const rows = out.length;
  for (let w = 0; w < at.length; w++) at[w] = from + routing.starts[w]!;
  for (let i = 0; i < rows; i++) {
    const w = rowWorker[i]!;
    const p = at[w]!;
    at[w] = p + 1;
    out[i] = results[p]!;
  }
  return out;
}

/**
 * inRowOrder for two workers: the two cursors in registers, chosen and moved
 * without a branch. A cursor in an array makes each row wait for the
 * previous row's store to it, and a branch on the worker (a coin toss per
 * row) is mispredicted half the time: scatter 12 ns/row with either, 2–3
 * without (micro-benchmark, 2^18 rows).
 */
function inRowOrderOfTwo(routing: Routing, out: Float64Array, results: Float64Array, from: number): Float64Array {
  const rowWorker = routing.rowWorker;
  const rows = out.length;
  // Worker 0's cursor, and worker 1's as a distance from it: a row of worker w (0 or 1) reads at p0 + (−w & d).
  let p0 = from;
  let d = routing.starts[1]!;
  for (let i = 0; i < rows; i++) {
    const w = rowWorker[i]!;
    out[i] = results[p0 + (-w & d)]!;
    p0 += 1 - w;
    d += 2 * w - 1;
  }
  return out;
}

/**
 * dispatchShared's scatter for two workers where the WebAssembly one
 * (two-way.ts) cannot be made: each row's value and key at its
 * worker's next position (values from 0, keys from `keysAt` in the u32
 * view), the cursors as in inRowOrderOfTwo.
 */
function scatterOfTwo(batch: SharedBatch, values: Float64Array, keys: Uint32Array, keysAt: number, rows: number): void {
  const { rowWorker, f64, u32 } = batch;
  let p0 = 0;
  let d = batch.starts[1]!;
  for (let i = 0; i < rows; i++) {
    const w = rowWorker[i]!;
    const p = p0 + (-w & d);
    p0 += 1 - w;
    d += 2 * w - 1;
    f64[p] = values[i]!;
    u32[keysAt + p] = keys[i]!;
  }
}

/** scatterOfTwo's times, from `timesAt` in the f64 view. */
function timesOfTwo(batch: SharedBatch, times: Float64Array, timesAt: number): void {
  const { rowWorker, f64 } = batch;
  let p0 = timesAt;
  let d = batch.starts[1]!;
  for (let i = 0; i < times.length; i++) {
    const w = rowWorker[i]!;
    f64[p0 + (-w & d)] = times[i]!;
    p0 += 1 - w;
    d += 2 * w - 1;
  }
}

/** Pooled buffers hold a power of two of rows, at least this many: a stream of batches of varying sizes reuses a few. */
const MIN_CAPACITY = 1024;

const capacityFor = (rows: number): number => Math.max(MIN_CAPACITY, 2 ** Math.ceil(Math.log2(rows)));

/** The routing arrays for batches of up to `capacity` rows over `workers` workers (each row's worker in `rowWorker` when given). */
function newRouting(capacity: number, workers: number, rowWorker: Uint8Array | Uint16Array = workers <= 256 ? new Uint8Array(capacity) : new Uint16Array(capacity)): Routing {
  return { capacity, rowWorker, counts: new Int32Array(workers), starts: new Int32Array(workers), at: new Int32Array(workers) };
}

/** Takes from `pool` an item for `rows` rows (the last one that fits), or undefined. */
function takeFitting<T extends { capacity: number }>(pool: T[], rows: number): T | undefined {
  for (let i = pool.length - 1; i >= 0; i--) {
    if (pool[i]!.capacity >= rows) return pool.splice(i, 1)[0];
  }
  return undefined;
}

class JobImpl implements Job {
  readonly spec: Readonly<NormalizedOperatorSpec>;
  readonly workers: number;
  /** Checkpoints the store refused when the job resumed. */
  refused: RefusedCheckpoint[] = [];
  private readonly o: NormalizedJobOptions;
  private module: WebAssembly.Module | undefined;
  private readonly groupOwner: Uint16Array;
  private slots: Slot[] = [];
  private gen = 0;
  private seq = 0;
  private _offset = 0;
  private startOffset = 0;
  private pending: Pending[] = [];
  private enqueuedSeq = -1;
  private emitChain: Promise<void> = Promise.resolve();
  private commitChain: Promise<void> = Promise.resolve();
  private committing = 0;
  private last: Checkpoint | undefined;
  /** The checkpoint the next incremental one builds on (the previous barrier's), its groups as restored, and its place in its chain (1: full). */
  private baseId: number | undefined;
  private baseGroups = new Map<number, Uint8Array>();
  /**
   * The deltas since `baseGroups` (of `last`: `lastDeltas`), applied only
   * when a restart needs them: a key patch copies its whole group (see
   * restoredGroups).
   */
  private baseDeltas: Checkpoint[] = [];
  private lastDeltas: Checkpoint[] = [];
  private chain = 0;
  /** The chain length of `last`. */
  private lastChain = 0;
  private cp: PendingCheckpoint | undefined;
  private nextId = 1;
  private lastTrigger = now();
  private rowsSinceTrigger = 0;
  /** Pushed batches, copied, until a checkpoint covers them (replay.ts); `logEnd`: the end of those handed to dispatch. */
  private readonly log = new ReplayLog();
  private logEnd = 0;
  /** The end of the rows pushed (in the log, handed to dispatch or not). */
  private pushedEnd = 0;
  private failure: Error | undefined;
  private fatal: Error | undefined;
  private waiters: (() => void)[] = [];
  private restartTimes: number[] = [];
  private _restarts = 0;
  private checkpoints = 0;
  private state: 'running' | 'finished' | 'aborted' | 'failed' = 'running';
  private mode: 'none' | 'push' | 'run' = 'none';
  private dispatched = 0;
  private faults;
  private pushChain: Promise<void> = Promise.resolve();
  private monitor: ReturnType<typeof setInterval> | undefined;
  /** When the heartbeat monitor last ran: a late run means this thread was held up. */
  private monitorAt = 0;
  /** Keyed batches on several workers go through shared memory (see dispatch). */
  private readonly shared: boolean;
  /** Batches carry event times. */
  private readonly timed: boolean;
  /** The operator emits window records; each worker gets its own rows and the rows raising the greatest time (src/keyed/windows.ts). */
  private readonly windowed: boolean;
  /** Window kinds: the greatest event time dispatched since the workers started (rows above it are rises). */
  private risesMax = -Infinity;
  /** Rolling with a ttl: the greatest event time dispatched since the workers started (the rows' stream clock, see dispatchShared). */
  private clockMax = -Infinity;
  /** Window kinds with an idle timeout: the greatest event time sent, and when rows last went out. */
  private maxTime = -Infinity;
  private lastRowsAt = now();
  /** Window kinds at the end of the stream: each worker's flushed windows. */
  private flushed = new Map<number, WindowsOutput>();
  /** Shared buffers of completed batches, for reuse within the current generation of workers. */
  private sharedPool: SharedBatch[] = [];
  /** Two workers: shared buffers in WebAssembly memory with the scatter and merge there (two-way.ts), until one cannot be made. */
  private wasmPasses = true;
  /** Routing arrays of completed split batches (the split/transfer path), for reuse. */
  private routingPool: Routing[] = [];
  /**
   * The split/transfer path: buffers the workers handed back (inputs they are
   * done with; results once merged), for the next batches' parts.
   */
  private transferPool: ArrayBuffer[] = [];
  /** The workers a dispatch waits for (one dispatch at a time: pushes and reads are chained). */
  private readonly targetSlots: Slot[] = [];
  /**
   * route()'s worker + 1 by key, for keys below 2¹⁶; made with the job (made
   * on route's first call, its construct site had no feedback in the code
   * TurboFan compiled for an earlier job, which deoptimized on each new one).
   */
  private readonly keyWorker: Uint16Array;
  /** maxBatchDelayMs: pushed batches waiting to go out as one, their rows, their (time, rows) stamps and the timer that sends them. */
  private lingering: Batch[] = [];
  private lingeringRows = 0;
  private lingeringStamps: number[] = [];
  private lingerTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly latency = new LatencyHistogram();

  constructor(o: NormalizedJobOptions) {
    this.o = o;
    this.spec = Object.freeze({ ...o.spec });
    this.workers = o.workers;
    this.faults = o.faults.map((f) => ({ ...f, fired: false }));
    this.groupOwner = new Uint16Array(o.keyGroups);
    for (let g = 0; g < o.keyGroups; g++) this.groupOwner[g] = workerOfKeyGroup(g, o.keyGroups, o.workers);
    this.shared = o.keyed && o.workers > 1 && o.adapter.sharedMemory === true && typeof SharedArrayBuffer === 'function';
    this.timed = isTimeSpec(o.spec);
    this.windowed = isWindowSpec(o.spec);
    this.keyWorker = new Uint16Array(o.keyed && o.workers > 1 ? 1 << 16 : 0);
    // A ttl is against the whole stream's clock: each worker reads every row of a batch (src/keyed/time-rolling.ts).
    if (hasTtl(o.spec) && o.keyed && o.workers > 1 && !this.shared) {
      throw new TypeError('operator.ttl on more than one worker needs an adapter with shared memory (each worker reads every row\'s time): use workers: 1, or nodeWorkers() or Web Workers with cross-origin isolation');
    }
  }

  get offset(): number {
    return this._offset + this.lingeringRows;
  }

  get restarts(): number {
    return this._restarts;
  }

  async start(): Promise<void> {
    this.module = await compiledModule(moduleOf(this.o.spec));
    if (this.o.resume) {
      const ids = await this.o.store.list();
      const { checkpoint, refused } = await latestCheckpoint(this.o.store);
      this.refused = refused;
      if (checkpoint !== undefined) {
        checkCompatible(checkpoint, { spec: this.o.spec, keyGroups: this.o.keyGroups, keyed: this.o.keyed });
        this.last = checkpoint;
        this.lastChain = checkpoint.chainLength ?? 1;
        this.startOffset = checkpoint.offset;
      }
      this.continueChain();
      this.nextId = Math.max(0, ...ids) + 1;
    }
    this._offset = this.startOffset;
    this.logEnd = this.startOffset;
    this.pushedEnd = this.startOffset;
    await this.o.sink.recover(this.last === undefined ? null : { id: this.last.id, position: this.last.sinkPosition });
    this.spawnAll();
    this.monitorAt = now();
    this.monitor = setInterval(() => this.checkHeartbeats(), this.o.heartbeatIntervalMs);
    (this.monitor as { unref?: () => void }).unref?.();
  }

  // ---- workers ------------------------------------------------------------

  private spawnAll(): void {
    const gen = ++this.gen;
    // A buffer of an earlier generation may still be written by a worker that is being terminated.
    this.sharedPool = [];
    // Restored workers resume from the checkpoint's clock: every row above it may raise theirs.
    this.risesMax = -Infinity;
    this.clockMax = -Infinity;
    // Window kinds and rolling with a ttl: key group 0 carries the stream's clock, which every worker takes (src/keyed/).
    const restored = this.restoredGroups();
    const clock = this.windowed || hasTtl(this.o.spec) ? restored.get(0) : undefined;
    const { keyGroups, workers } = this.o;
    this.slots = [];
    for (let index = 0; index < workers; index++) {
      // Worker 0's partition in this thread (coordinatorPartition): the same protocol, in-thread messages (in-thread.ts).
      const handle = index === 0 && this.o.coordinatorPartition ? inThreadWorker() : this.o.adapter.spawn();
      const slot: Slot = { index, handle, inFlight: 0, lastSeen: now(), outbox: [] };
      this.slots.push(slot);
      handle.onMessage((message) => {
        if (gen === this.gen) this.onMessage(slot, message as { t: string });
      });
      handle.onError((error) => {
        if (gen === this.gen) this.fail(new WorkerFailure('error', index, `worker ${index} threw: ${error?.message ?? String(error)}`, { cause: error }));
      });
      handle.onExit((code) => {
        if (gen === this.gen) this.fail(new WorkerFailure('exit', index, `worker ${index} exited with code ${code}`));
      });
      const groups = keyGroupRange(index, keyGroups, workers);
      const restore: [number, Uint8Array][] = [];
      const transfer: ArrayBuffer[] = [];
      if (this.last !== undefined) {
        for (const [g, bytes] of restored) {
          if (g >= groups[0] && g < groups[1]) {
            const copy = bytes.slice(); // the job keeps the checkpoint for later restarts
            restore.push([g, copy]);
            transfer.push(copy.buffer);
          }
        }
      }
      const clockCopy = clock?.slice();
      if (clockCopy !== undefined) transfer.push(clockCopy.buffer);
      handle.post(
        { t: 'init', module: this.module, spec: this.o.spec, keyed: this.o.keyed, keyGroups, groups, restore, clock: clockCopy, heartbeatMs: this.o.heartbeatIntervalMs },
        transfer,
      );
    }
  }

  private stopWorkers(): void {
    this.gen++;
    for (const slot of this.slots) {
      try {
        slot.handle.terminate();
      } catch {
        // already gone
      }
    }
    this.slots = [];
  }

  private checkHeartbeats(): void {
    if (this.state !== 'running' || this.failure !== undefined) return;
    const t = now();
    const late = t - this.monitorAt > 2 * this.o.heartbeatIntervalMs;
    this.monitorAt = t;
    // This thread itself was held up (a long task, or no CPU under load): the
    // workers' heartbeats of that time are queued, still unread, and timers run
    // before messages are read. Judge once they are read, not on stale times.
    if (late) setTimeout(() => this.judgeHeartbeats(), 0);
    else this.judgeHeartbeats();
  }

  private judgeHeartbeats(): void {
    if (this.state !== 'running' || this.failure !== undefined) return;
    const t = now();
    for (const slot of this.slots) {
      if (t - slot.lastSeen > this.o.heartbeatTimeoutMs) {
        this.fail(new WorkerFailure('hang', slot.index, `worker ${slot.index} hung: no heartbeat for ${this.o.heartbeatTimeoutMs} ms`));
        return;
      }
    }
    this.checkIdle(t);
  }

  /** Window kinds with an idle timeout: no rows for idleTimeoutMs, so the watermark advances by the idle time. */
  private checkIdle(t: number): void {
    const idle = t - this.lastRowsAt;
    if (!this.windowed || idle < this.o.idleTimeoutMs || this.maxTime === -Infinity || this.mode === 'none') return;
    this.maxTime += idle;
    this.lastRowsAt = t;
    const seq = this.seq++;
    for (const slot of this.slots) {
      // Counted now: it goes out whatever the window holds (as before), in order behind what is held.
      slot.inFlight++;
      this.send(slot, { t: 'watermark', seq, time: this.maxTime }, [], false);
    }
    this.pending.push({ seq, offset: this._offset, rows: 0, parts: this.slots.length, routing: undefined, partial: [], out: undefined, shared: undefined, records: [], merged: undefined });
  }

  private fail(cause: Error): void {
    if (this.failure !== undefined || this.state !== 'running') return;
    this.failure = cause;
    this.stopWorkers();
    this.wake();
  }

  private onMessage(slot: Slot, message: { t: string }): void {
    slot.lastSeen = now();
    switch (message.t) {
      case 'out': {
        const { seq, values, back } = message as unknown as { seq: number; values: Float64Array; back?: ArrayBuffer[] };
        slot.inFlight--;
        this.flushOutbox(slot);
        if (back !== undefined) for (const buffer of back) this.giveBack(buffer);
        this.onOut(slot.index, seq, values, windowsOf(message as PackedReply));
        break;
      }
      case 'flushed': {
        this.flushed.set(slot.index, windowsOf(message as PackedReply)!);
        this.wake();
        break;
      }
      case 'snap': {
        const { id, groups, patches } = message as unknown as { id: number; groups: [number, Uint8Array][]; patches?: number[] };
        const cp = this.cp;
        if (cp === undefined || cp.id !== id) break;
        for (const [g, bytes] of groups) cp.snaps.set(g, bytes);
        for (const g of patches ?? []) cp.patches.add(g);
        cp.waiting--;
        this.tryComplete();
        break;
      }
      case 'fatal': {
        const { code, message: text } = message as unknown as { code: string; message: string };
        const error =
          code === 'ERROR' ? new Error(text) : new CheckpointError(code as CheckpointError['code'], text);
        this.fatal = new JobFailedError(`job cannot start from checkpoint ${this.last?.id ?? 0}: ${text}`, this._restarts, { cause: error });
        this.fail(this.fatal);
        break;
      }
      default:
        break; // 'hb', 'ready'
    }
  }

  // ---- waiting --------------------------------------------------------------

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const resolve of waiters) resolve();
  }

  /** Resolves when `cond()` holds; throws RESTART (or the fatal error) when a failure interrupts. */
  private async until(cond: () => boolean): Promise<void> {
    for (;;) {
      if (this.fatal !== undefined) throw this.fatal;
      if (this.failure !== undefined) throw RESTART;
      if (cond()) return;
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  // ---- dispatch ---------------------------------------------------------------

  private async dispatch(batch: Batch, owned: boolean, stamps?: number[]): Promise<void> {
    if (this.fatal !== undefined) throw this.fatal;
    if (this.failure !== undefined) throw RESTART;
    const { values, keys, times } = batch;
    const rows = values.length;
    if (rows === 0) return;
    if (this.o.idleTimeoutMs !== Infinity && times !== undefined) {
      for (let i = 0; i < rows; i++) if (times[i]! > this.maxTime) this.maxTime = times[i]!;
    }
    const { workers, keyGroups, maxInFlight } = this.o;
    const maxPending = maxInFlight * workers;
    if (this.shared && keys !== undefined && !this.windowed) {
      await this.dispatchShared(values, keys, times, stamps);
      return;
    }
    const targets: { w: number; values: Float64Array; keys: Uint32Array | undefined; times: Float64Array | undefined; at?: Uint32Array; rises?: Rises; rows?: number }[] = [];
    let routing: Routing | undefined;
    if (keys === undefined || workers === 1) {
      const w = keys === undefined ? this.groupOwner[keyGroupOf(0, keyGroups)]! : 0;
      targets.push({
        w,
        // The results come back over the values, which the sink keeps: a copy of its own size.
        values: owned && ownsBuffer(values) ? values : values.slice(),
        keys: keys === undefined ? undefined : owned && ownsBuffer(keys) ? keys : this.part(Uint32Array, keys),
        times: times === undefined ? undefined : owned && ownsBuffer(times) ? times : this.part(Float64Array, times),
      });
    } else {
      routing = this.route(keys, takeFitting(this.routingPool, rows) ?? newRouting(capacityFor(rows), workers));
      const { rowWorker, counts, at } = routing;
      at.fill(0);
      const partValues: Float64Array[] = [];
      const partKeys: Uint32Array[] = [];
      const partTimes: Float64Array[] = [];
      // Window kinds: each row's row in the batch (their tags and `first`/`last` order by it).
      const partAt: Uint32Array[] = [];
      for (let w = 0; w < workers; w++) {
        partValues.push(this.part(Float64Array, counts[w]!));
        partKeys.push(this.part(Uint32Array, counts[w]!));
        if (times !== undefined) partTimes.push(this.part(Float64Array, counts[w]!));
        if (this.windowed) partAt.push(this.part(Uint32Array, counts[w]!));
      }
      for (let i = 0; i < rows; i++) {
        const w = rowWorker[i]!;
        const p = at[w]!;
        at[w] = p + 1;
        partValues[w]![p] = values[i]!;
        partKeys[w]![p] = keys[i]!;
        if (times !== undefined) partTimes[w]![p] = times[i]!;
        if (this.windowed) partAt[w]![p] = i;
      }
      if (this.windowed) {
        // Every worker gets its rows and the rows raising the watermark (which is every key's), even without rows of its own.
        const rises = times === undefined ? undefined : this.risesOf(times);
        for (let w = 0; w < workers; w++) targets.push({ w, values: partValues[w]!, keys: partKeys[w]!, times: partTimes[w], at: partAt[w]!, rises, rows });
        // Their results are window records, not merged by row: the routing is free again.
        this.releaseRouting(routing);
        routing = undefined;
      } else {
        for (let w = 0; w < workers; w++) if (counts[w]! > 0) targets.push({ w, values: partValues[w]!, keys: partKeys[w]!, times: partTimes[w] });
      }
    }
    await this.until(() => this.pending.length < maxPending && targets.every((t) => this.slots[t.w]!.inFlight < maxInFlight));
    const seq = this.seq++;
    for (const t of targets) {
      const slot = this.slots[t.w]!;
      const transfer = [t.values.buffer as ArrayBuffer];
      if (t.keys !== undefined) transfer.push(t.keys.buffer as ArrayBuffer);
      if (t.times !== undefined) transfer.push(t.times.buffer as ArrayBuffer);
      if (t.at === undefined) this.send(slot, { t: 'batch', seq, values: t.values, keys: t.keys, times: t.times }, transfer, true);
      else {
        transfer.push(t.at.buffer as ArrayBuffer);
        this.send(slot, { t: 'batch', seq, values: t.values, keys: t.keys, times: t.times, at: t.at, rises: t.rises, rows: t.rows }, transfer, true);
      }
    }
    this.pending.push({ seq, offset: this._offset, rows, parts: targets.length, routing, partial: [], out: undefined, shared: undefined, records: [], merged: undefined, stamps });
    this.afterDispatch(rows);
  }

  /**
   * Posts `message` to the slot's worker, in order behind what its outbox
   * holds; a batch (`counted`) waits there while the worker's window
   * (maxInFlight) is full.
   */
  private send(slot: Slot, message: unknown, transfer: ArrayBuffer[], counted: boolean): void {
    if (slot.outbox.length === 0 && (!counted || slot.inFlight < this.o.maxInFlight)) {
      if (counted) slot.inFlight++;
      slot.handle.post(message, transfer);
    } else {
      slot.outbox.push({ message, transfer, counted });
    }
  }

  /** Posts what the slot's outbox holds, up to a full window. */
  private flushOutbox(slot: Slot): void {
    const { outbox } = slot;
    let sent = 0;
    while (sent < outbox.length) {
      const next = outbox[sent]!;
      if (next.counted) {
        if (slot.inFlight >= this.o.maxInFlight) break;
        slot.inFlight++;
      }
      slot.handle.post(next.message, next.transfer);
      sent++;
    }
    if (sent > 0) outbox.splice(0, sent);
  }

  /**
   * The worker of each row and the rows per worker. Keys below 2¹⁶ (sensor
   * ids, the CLI's ids) look their worker up in a table filled as they are
   * first seen: one load per row instead of a hash.
   */
  private route<R extends Routing>(keys: Uint32Array, routing: R): R {
    const rows = keys.length;
    const { rowWorker, counts, starts } = routing;
    counts.fill(0);
    const known = this.keyWorker; // worker + 1, 0 when not seen yet
    if (counts.length === 2) {
      // Two workers: worker 1's rows summed in a register (counts[w]++ makes each row wait for the previous row's store).
      let ones = 0;
      for (let i = 0; i < rows; i++) {
        const key = keys[i]!;
        let w = key < 65536 ? known[key]! - 1 : -1;
        if (w < 0) w = this.placeKey(key);
        rowWorker[i] = w;
        ones += w;
      }
      counts[0] = rows - ones;
      counts[1] = ones;
      starts[1] = rows - ones;
      return routing;
    }
    for (let i = 0; i < rows; i++) {
      const key = keys[i]!;
      let w = key < 65536 ? known[key]! - 1 : -1;
      if (w < 0) w = this.placeKey(key);
      rowWorker[i] = w;
      counts[w]!++;
    }
    for (let w = 1; w < counts.length; w++) starts[w] = starts[w - 1]! + counts[w - 1]!;
    return routing;
  }

  /**
   * An array of `from.length` (a copy of it) or of `from` elements over a
   * buffer a worker handed back, or a new one (a power of two of rows, as
   * the shared buffers, f64 each: it serves either type later).
   */
  private part<T extends Float64Array | Uint32Array>(type: { new (buffer: ArrayBuffer, offset: number, length: number): T; readonly BYTES_PER_ELEMENT: number }, from: number | T): T {
    const n = typeof from === 'number' ? from : from.length;
    const bytes = n * type.BYTES_PER_ELEMENT;
    const pool = this.transferPool;
    let buffer: ArrayBuffer | undefined;
    for (let i = pool.length - 1; i >= 0 && buffer === undefined; i--) if (pool[i]!.byteLength >= bytes) buffer = pool.splice(i, 1)[0];
    const array = new type(buffer ?? new ArrayBuffer(capacityFor(n) * 8), 0, n);
    if (typeof from !== 'number') array.set(from);
    return array;
  }

  /** A buffer a worker handed back: pooled, up to the arrays of the batches in flight (four per worker and batch). */
  private giveBack(buffer: ArrayBuffer): void {
    if (buffer.byteLength > 0 && this.transferPool.length < 4 * (this.o.maxInFlight + 1) * this.o.workers) this.transferPool.push(buffer);
  }

  /** Back to the pool: as releaseShared. */
  private releaseRouting(routing: Routing): void {
    if (this.routingPool.length <= this.o.maxInFlight * this.o.workers) this.routingPool.push(routing);
  }

  /** route()'s worker of a key not in its table yet, entered there when below 2¹⁶. */
  private placeKey(key: number): number {
    const w = this.workerOfKey(key);
    if (key < 65536) this.keyWorker[key] = w + 1;
    return w;
  }

  private workerOfKey(key: number): number {
    return this.groupOwner[keyGroupOf(key, this.o.keyGroups)]!;
  }

  /**
   * A keyed batch through shared memory: one buffer [values f64 × rows |
   * results f64 × rows | keys u32 × rows (| pad to 8 | times f64 × rows)]
   * holding each worker's rows together (worker 0's, then worker 1's, …, each
   * in stream order). Worker w gets its range only: it reads no other
   * worker's rows and writes its results into its own range, so workers share
   * no cache line of results (writing interleaved rows made the two workers'
   * cores fight over every line); onOut puts the results back in row order.
   * A worker without rows is not sent the batch: a small batch (a live stream
   * pushed a row at a time) waits for its own rows' worker only.
   */
  private async dispatchShared(values: Float64Array, keys: Uint32Array, times: Float64Array | undefined, stamps: number[] | undefined): Promise<void> {
    const rows = values.length;
    const { maxInFlight } = this.o;
    // With a ttl every worker gets every batch, with the stream's clock per row (after its times): each one's clock moves with every row.
    const ttl = hasTtl(this.o.spec) && times !== undefined;
    const batch = this.route(keys, this.takeShared(rows, times !== undefined, ttl));
    const { rowWorker, counts, starts, at, f64, u32 } = batch;
    const targets = this.targetSlots;
    targets.length = 0;
    for (const slot of this.slots) if (ttl || counts[slot.index]! > 0) targets.push(slot);
    // Indexes in the whole-buffer views: keys at byte rows × 16, times at sharedTimesAt(rows), then the ttl's clocks.
    const keysAt = rows * 4;
    const timesAt = sharedTimesAt(rows) / 8;
    if (targets.length === 1) {
      // One worker's rows: its range is the batch.
      f64.set(values);
      u32.set(keys, keysAt);
      if (times !== undefined) f64.set(times, timesAt);
    } else if (this.o.workers === 2) {
      if (batch.passes !== undefined) batch.passes.scatter(values, keys, starts[1]!);
      else scatterOfTwo(batch, values, keys, keysAt, rows);
      if (times !== undefined) timesOfTwo(batch, times, timesAt);
    } else {
      at.set(starts);
      for (let i = 0; i < rows; i++) {
        const w = rowWorker[i]!;
        const p = at[w]!;
        at[w] = p + 1;
        f64[p] = values[i]!;
        u32[keysAt + p] = keys[i]!;
      }
      if (times !== undefined) {
        at.set(starts);
        for (let i = 0; i < rows; i++) f64[timesAt + at[rowWorker[i]!]!++] = times[i]!;
      }
    }
    let clockAfter: number | undefined;
    if (ttl) {
      // Per row the greatest earlier time of the stream since the workers started (each takes the larger of it and its restored clock).
      const before = timesAt + rows;
      at.set(starts);
      let max = this.clockMax;
      for (let i = 0; i < rows; i++) {
        f64[before + at[rowWorker[i]!]!++] = max;
        const t = times![i]!;
        if (t > max && t - t === 0) max = t; // a bad time is refused by its key's worker
      }
      this.clockMax = clockAfter = max;
    }
    // Copied in before the wait, so the batch goes out the moment there is room.
    // Room in the coordinator's window only: a worker whose own window is full
    // gets the batch from its outbox as soon as it replies (flushOutbox), so
    // the faster worker runs ahead and the coordinator routes the next batches
    // meanwhile instead of waiting for both workers (issue 13).
    const room = (): boolean => this.pending.length < maxInFlight * this.o.workers;
    if (!room()) await this.until(room);
    const seq = this.seq++;
    const { buffer } = batch;
    const timed = times !== undefined;
    for (const slot of targets) {
      const from = starts[slot.index]!;
      const to = from + counts[slot.index]!;
      this.send(slot, clockAfter === undefined ? { t: 'shared', seq, buffer, rows, timed, from, to } : { t: 'shared', seq, buffer, rows, timed, from, to, clockAfter }, [], true);
    }
    this.pending.push({ seq, offset: this._offset, rows, parts: targets.length, routing: targets.length === 1 ? undefined : batch, partial: [], out: undefined, shared: batch, records: [], merged: undefined, stamps });
    targets.length = 0;
    this.afterDispatch(rows);
  }

  /**
   * Window kinds: the rows of a batch whose time is above every earlier
   * one's, with their times (finite ones: a bad time is refused by its own
   * worker). They are what moves every worker's watermark.
   */
  private risesOf(times: Float64Array): Rises {
    const at: number[] = [];
    const ts: number[] = [];
    let max = this.risesMax;
    for (let i = 0; i < times.length; i++) {
      const t = times[i]!;
      if (t > max && t - t === 0) {
        max = t;
        at.push(i);
        ts.push(t);
      }
    }
    this.risesMax = max;
    return { at: Uint32Array.from(at), times: Float64Array.from(ts) };
  }

  /**
   * A shared batch for `rows` rows, reused when one is free. A job's batches
   * are all timed or all not, with or without a ttl: a buffer that holds more
   * rows holds a larger batch's layout.
   */
  private takeShared(rows: number, timed: boolean, ttl: boolean): SharedBatch {
    const pooled = takeFitting(this.sharedPool, rows);
    if (pooled !== undefined) return pooled;
    // None fits: drop the smallest, so the pool keeps room for the larger one made now (batches growing).
    const pool = this.sharedPool;
    if (pool.length > 0) {
      let smallest = 0;
      for (let i = 1; i < pool.length; i++) if (pool[i]!.capacity < pool[smallest]!.capacity) smallest = i;
      pool.splice(smallest, 1);
    }
    const capacity = capacityFor(rows);
    const bytes = timed ? sharedTimesAt(capacity) + capacity * (ttl ? 16 : 8) : capacity * 20;
    const passes = this.o.workers === 2 && this.wasmPasses ? TwoWayPasses.create(bytes, capacity) : undefined;
    // Without them (or once they could not be made), a plain shared buffer and the JavaScript loops.
    if (passes === undefined) this.wasmPasses = false;
    // With them, each row's worker is in their memory (route writes it there): no array of its own.
    const routing = newRouting(capacity, this.o.workers, passes?.rowWorker);
    const buffer = passes?.buffer ?? new SharedArrayBuffer(bytes);
    return { ...routing, buffer, f64: new Float64Array(buffer), u32: new Uint32Array(buffer), passes };
  }

  /** Back to the pool once every worker of its batch answered: at most one more than the batches in flight (the next one is taken before it waits). */
  private releaseShared(batch: SharedBatch): void {
    if (this.sharedPool.length <= this.o.maxInFlight * this.o.workers) this.sharedPool.push(batch);
  }

  /** Offsets, fault injection and the checkpoint trigger after a batch went out. */
  private afterDispatch(rows: number): void {
    this.lastRowsAt = now();
    this._offset += rows;
    this.rowsSinceTrigger += rows;
    const k = this.dispatched++;
    for (const f of this.faults) {
      if (!f.fired && f.afterBatch === k) {
        f.fired = true;
        const slot = this.slots[f.worker % this.slots.length]!;
        if (f.kind === 'terminate') slot.handle.terminate();
        else this.send(slot, { t: 'fault', kind: f.kind }, [], false);
      }
    }
    // A store slower than `everyRows`/`everyMs` must not queue checkpoints without bound (each holds its snapshots).
    if (this.committing < MAX_QUEUED_COMMITS && (this.rowsSinceTrigger >= this.o.everyRows || now() - this.lastTrigger >= this.o.everyMs)) this.trigger();
  }

  private onOut(worker: number, seq: number, values: Float64Array, windows: WindowsOutput | undefined): void {
    const head = this.pending[0];
    if (head === undefined) return;
    const entry = this.pending[seq - head.seq];
    if (entry === undefined || entry.seq !== seq) return;
    if (windows !== undefined) {
      entry.records.push(windows);
      if (--entry.parts === 0) {
        entry.merged = mergeWindows(entry.records);
        entry.records = [];
        entry.out = new Float64Array(0);
        if (entry.shared !== undefined) this.releaseShared(entry.shared);
        entry.shared = undefined;
      }
    } else if (entry.shared !== undefined) {
      if (--entry.parts === 0) {
        // The results follow the values: f64 rows … 2 rows − 1.
        const { f64 } = entry.shared;
        const out = this.output(entry.rows);
        const { passes } = entry.shared;
        if (entry.routing === undefined) out.set(f64.subarray(entry.rows, 2 * entry.rows));
        else if (passes !== undefined && this.o.workers === 2) passes.merge(out, entry.routing.starts[1]!);
        else inRowOrder(entry.routing, out, f64, entry.rows);
        entry.out = out;
        entry.routing = undefined;
        this.releaseShared(entry.shared);
        entry.shared = undefined;
      }
    } else {
      if (entry.routing === undefined) entry.out = values;
      else entry.partial[worker] = values;
      entry.parts--;
    }
    if (entry.parts === 0 && entry.routing !== undefined) {
      const out = this.output(entry.rows);
      const { routing, partial } = entry;
      const { rowWorker, at } = routing;
      at.fill(0);
      for (let i = 0; i < out.length; i++) {
        const w = rowWorker[i]!;
        out[i] = partial[w]![at[w]!++]!;
      }
      entry.out = out;
      for (const part of partial) if (part !== undefined) this.giveBack(part.buffer as ArrayBuffer);
      entry.partial = [];
      this.releaseRouting(routing);
      entry.routing = undefined;
    }
    while (this.pending.length > 0 && this.pending[0]!.parts === 0) {
      const done = this.pending.shift()!;
      this.enqueueWrite(done.merged === undefined ? { offset: done.offset, values: done.out! } : { offset: done.offset, values: done.out!, rows: done.rows, ...done.merged }, done.seq, done.stamps);
    }
    this.wake();
  }

  /** An array for a batch's `rows` results: the sink's own, or over a pooled buffer when the sink keeps none (Sink.keepsValues). */
  private output(rows: number): Float64Array {
    return this.o.sink.keepsValues === false ? this.part(Float64Array, rows) : new Float64Array(rows);
  }

  private enqueueWrite(batch: OutputBatch, seq: number, stamps: number[] | undefined): void {
    const gen = this.gen;
    const sink = this.o.sink;
    this.enqueuedSeq = seq;
    const cp = this.cp;
    const seal = cp !== undefined && cp.afterSeq === seq ? cp : undefined;
    this.emitChain = this.emitChain.then(async () => {
      if (gen !== this.gen) return;
      try {
        await sink.write(batch);
      } catch (error) {
        if (gen === this.gen) this.fail(new WorkerFailure('sink', -1, `sink failed to write: ${(error as Error).message}`, { cause: error }));
        return;
      }
      // A sink that keeps no results is done with their buffer: the next batches' results or parts reuse it.
      if (sink.keepsValues === false) this.giveBack(batch.values.buffer as ArrayBuffer);
      if (stamps !== undefined) this.recordLatency(stamps);
      if (seal !== undefined) await this.preCommit(seal, gen);
      this.wake();
    });
  }

  /** Rows just written: their latency since they came in. */
  private recordLatency(stamps: number[]): void {
    const t = now();
    for (let i = 0; i < stamps.length; i += 2) this.latency.record(t - stamps[i]!, stamps[i + 1]!);
  }

  private async preCommit(cp: PendingCheckpoint, gen: number): Promise<void> {
    if (gen !== this.gen) return;
    try {
      cp.position = await this.o.sink.preCommit(cp.id);
    } catch (error) {
      if (gen === this.gen) this.fail(new WorkerFailure('sink', -1, `sink failed to pre-commit checkpoint ${cp.id}: ${(error as Error).message}`, { cause: error }));
      return;
    }
    if (gen !== this.gen) return;
    cp.preCommitted = true;
    this.tryComplete();
  }

  // ---- checkpoints ------------------------------------------------------------

  /** Starts a checkpoint covering every row dispatched (`force`: even when the last one covers them, as after the end-of-stream windows). */
  private trigger(force = false): void {
    if (this.cp !== undefined || this.failure !== undefined) return;
    if (!force && this._offset === (this.last?.offset ?? this.startOffset)) return;
    // After a start or a recovery the workers' changed groups are since `last` (restored): the chain goes on from it.
    const delta = this.o.fullEvery > 1 && this.baseId !== undefined && this.chain < this.o.fullEvery;
    // Count kernels only: their groups hold only their keys' states. A time or window operator's groups also
    // carry the worker's clock, so an unchanged group's bytes still move; those full checkpoints are taken whole.
    const composed = !delta && this.baseId !== undefined && !this.timed && !this.windowed;
    const cp: PendingCheckpoint = {
      id: this.nextId++,
      base: delta ? this.baseId : undefined,
      chain: delta ? this.chain + 1 : 1,
      composed,
      afterSeq: this.seq - 1,
      offset: this._offset,
      snaps: new Map(),
      patches: new Set(),
      waiting: this.slots.length,
      position: undefined,
      preCommitted: false,
    };
    this.cp = cp;
    this.lastTrigger = now();
    this.rowsSinceTrigger = 0;
    this.baseId = cp.id;
    this.chain = cp.chain;
    // Behind the batches up to afterSeq, held ones included: the barrier stays aligned.
    for (const slot of this.slots) this.send(slot, { t: 'barrier', id: cp.id, delta: delta || composed }, [], false);
    if (this.enqueuedSeq >= cp.afterSeq) {
      const gen = this.gen;
      this.emitChain = this.emitChain.then(() => this.preCommit(cp, gen));
    }
  }

  private tryComplete(): void {
    const cp = this.cp;
    if (cp === undefined || cp.waiting > 0 || !cp.preCommitted) return;
    this.cp = undefined;
    // A composed full checkpoint: the base's groups with the deltas since and this barrier's changes applied.
    const snaps = cp.composed ? this.composedBase({ id: cp.id, groups: cp.snaps, patches: cp.patches }) : cp.snaps;
    const stored: Checkpoint = {
      id: cp.id,
      offset: cp.offset,
      keyGroups: this.o.keyGroups,
      keyed: this.o.keyed,
      spec: this.o.spec,
      sinkPosition: cp.position ?? null,
      groups: snaps,
      ...(cp.base !== undefined ? { base: cp.base, patches: cp.patches } : {}),
    };
    // What a restart restores: the base's groups, and the deltas since (applied when a restart needs them).
    const groups = cp.base === undefined ? snaps : this.baseGroups;
    const deltas = cp.base === undefined ? [] : [...this.baseDeltas, stored];
    this.baseGroups = groups;
    this.baseDeltas = deltas;
    const checkpoint: Checkpoint = { ...stored, groups };
    delete checkpoint.base;
    delete checkpoint.patches;
    this.committing++;
    // Not tied to the generation: a checkpoint complete before a failure is valid and is kept.
    this.commitChain = this.commitChain.then(async () => {
      try {
        // As parts where the store takes them: the groups are neither copied into one buffer nor checksummed again.
        // Else encoded a slice at a time, so the results of the batches behind the barrier are written in between (issue 20).
        const store = this.o.store;
        if (store.saveParts !== undefined) await store.saveParts(checkpoint.id, encodeCheckpointParts(stored));
        else await store.save(checkpoint.id, await encodeCheckpointSliced(stored));
        this.last = checkpoint;
        this.lastDeltas = deltas;
        this.lastChain = cp.chain;
        this.checkpoints++;
        this.log.dropTo(checkpoint.offset);
        await this.o.sink.commit(checkpoint.id);
      } catch (error) {
        this.fail(new WorkerFailure('store', -1, `checkpoint ${checkpoint.id} could not be committed: ${(error as Error).message}`, { cause: error }));
      } finally {
        this.committing--;
        this.wake();
      }
    });
  }

  /** A composed full checkpoint's groups: the base's with the deltas since and `next` (this barrier's changes) applied, each changed group copied once. */
  private composedBase(next: Pick<Checkpoint, 'id' | 'groups' | 'patches'>): Map<number, Uint8Array> {
    return applyDeltas(this.baseGroups, [...this.baseDeltas, next]);
  }

  /** Fresh workers restored from `last`: the next incremental checkpoint builds on it. */
  private continueChain(): void {
    this.baseId = this.last?.id;
    this.baseGroups = this.restoredGroups();
    this.baseDeltas = [];
    this.chain = this.lastChain;
  }

  /** The key groups of `last` as a restart restores them: its deltas since its base groups applied (once). */
  private restoredGroups(): Map<number, Uint8Array> {
    if (this.last === undefined) return new Map();
    if (this.lastDeltas.length > 0) {
      this.last = { ...this.last, groups: applyDeltas(this.last.groups, this.lastDeltas) };
      this.lastDeltas = [];
    }
    return this.last.groups;
  }

  // ---- recovery -----------------------------------------------------------------

  /** Restarts from the last checkpoint: fresh workers, sink rolled back. Throws JobFailedError when restarts are exhausted. */
  private async recover(): Promise<void> {
    for (;;) {
      if (this.fatal !== undefined) throw this.fatal;
      const cause = this.failure!;
      const t = now();
      this.restartTimes = this.restartTimes.filter((r) => t - r < this.o.windowMs);
      if (this.restartTimes.length >= this.o.maxRestarts) {
        this.state = 'failed';
        this.shutdown();
        throw new JobFailedError(
          `job failed: ${this.restartTimes.length} restarts within ${this.o.windowMs} ms and the failure persists (${cause.message}); the store holds checkpoint ${this.last?.id ?? 'none'}`,
          this._restarts,
          { cause },
        );
      }
      const delay = Math.min(this.o.maxDelayMs, this.o.initialDelayMs * 2 ** this.restartTimes.length);
      this.restartTimes.push(t);
      this._restarts++;
      if (delay > 0) await sleep(delay);
      await this.emitChain;
      await this.commitChain;
      this.pending = [];
      this.cp = undefined;
      this.continueChain();
      this._offset = this.last?.offset ?? this.startOffset;
      this.enqueuedSeq = this.seq - 1;
      try {
        await this.o.sink.recover(this.last === undefined ? null : { id: this.last.id, position: this.last.sinkPosition });
      } catch (error) {
        this.failure = new WorkerFailure('sink', -1, `sink failed to recover: ${(error as Error).message}`, { cause: error });
        continue;
      }
      this.failure = undefined;
      this.lastTrigger = now();
      this.rowsSinceTrigger = 0;
      this.spawnAll();
      return;
    }
  }

  /** Push mode: recover, then replay the retained batches. */
  private async recoverAndReplay(): Promise<void> {
    for (;;) {
      await this.recover();
      try {
        // By offset: a checkpoint committed meanwhile drops entries; rows pushed but not yet handed to dispatch are not replayed.
        while (this._offset < this.logEnd) {
          const batch = this.log.at(this._offset);
          if (batch === undefined) break;
          await this.dispatch(batch, false);
        }
        if (this._offset !== this.logEnd) throw new Error(`internal error: replay stopped at offset ${this._offset}, the log ends at ${this.logEnd}`);
        return;
      } catch (error) {
        if (error !== RESTART) throw error;
      }
    }
  }

  private checkRunning(): void {
    if (this.state === 'finished') throw new Error('job has finished');
    if (this.state === 'aborted') throw new Error('job was aborted');
    if (this.state === 'failed') throw new Error('job has failed');
  }

  // ---- public -------------------------------------------------------------------

  push(batch: Batch): Promise<void> {
    try {
      this.checkRunning();
      if (this.mode === 'run') throw new Error('push() cannot be used while run() pulls a source');
      validateBatch(batch, this.o.keyed, this.timed);
    } catch (error) {
      return Promise.reject(error);
    }
    this.mode = 'push';
    const rows = batch.values.length;
    // Copied now: the caller may reuse its arrays as soon as push returns, and none of them is kept.
    if (rows > 0) {
      batch = this.log.append(this.pushedEnd, batch);
      this.pushedEnd += rows;
    }
    if (this.o.maxBatchDelayMs === 0 || rows === 0) return this.chainPush(batch, [now(), rows]);
    this.lingering.push(batch);
    this.lingeringRows += rows;
    this.lingeringStamps.push(now(), rows);
    if (this.lingeringRows >= this.o.maxBatchRows) return this.flushLingering();
    // The timer's push can fail only as the job fails: the next call reports that.
    this.lingerTimer ??= setTimeout(() => void this.flushLingering().catch(() => undefined), this.o.maxBatchDelayMs);
    return Promise.resolve();
  }

  /** maxBatchDelayMs: sends the coalesced pushes as one batch, after every earlier push. */
  private flushLingering(): Promise<void> {
    if (this.lingerTimer !== undefined) clearTimeout(this.lingerTimer);
    this.lingerTimer = undefined;
    if (this.lingering.length === 0) return this.pushChain;
    const batch = concatBatches(this.lingering);
    const stamps = this.lingeringStamps;
    this.lingering = [];
    this.lingeringRows = 0;
    this.lingeringStamps = [];
    return this.chainPush(batch, stamps);
  }

  private chainPush(batch: Batch, stamps: number[]): Promise<void> {
    const result = this.pushChain.then(() => this.pushOne(batch, stamps));
    this.pushChain = result.catch(() => undefined);
    return result;
  }

  private async pushOne(batch: Batch, stamps: number[]): Promise<void> {
    this.checkRunning();
    if (batch.values.length === 0) return;
    // Its rows are in the log already (push): from now on a replay covers them.
    this.logEnd += batch.values.length;
    if (this.failure !== undefined || this.fatal !== undefined) return this.recoverAndReplay();
    try {
      await this.dispatch(batch, false, stamps);
    } catch (error) {
      if (error !== RESTART) throw error;
      await this.recoverAndReplay();
    }
  }

  /**
   * Waits for every result, then takes a checkpoint covering everything
   * (`checkpoint` false: none; the results are written, not committed).
   * Throws RESTART on failure.
   */
  private async drain(checkpoint = true): Promise<void> {
    for (;;) {
      await this.until(() => this.pending.length === 0 && this.cp === undefined && this.committing === 0);
      await this.emitChain;
      // Without a checkpoint the results written are all: a write that failed in the chain recovers (RESTART) and writes again.
      if (!checkpoint) return this.until(() => true);
      const covered = this.last?.offset ?? this.startOffset;
      if (this._offset === covered) return;
      this.trigger();
    }
  }

  async finish(options?: FinishOptions): Promise<JobResult> {
    const checkpoint = options?.checkpoint ?? true;
    if (typeof checkpoint !== 'boolean') throw new TypeError(`checkpoint must be a boolean, got ${describe(checkpoint)}`);
    await this.settle(checkpoint);
    if (this.windowed) {
      for (;;) {
        try {
          await this.endWindows(checkpoint);
          break;
        } catch (error) {
          if (error !== RESTART) throw error;
          await this.recoverAndReplay();
        }
      }
    }
    return this.close();
  }

  /**
   * Window kinds at the end of the stream: every worker flushes its open
   * windows; they are merged, written, and covered by one more checkpoint
   * (whose state has ended, so a resumed job emits them only once; with
   * `checkpoint` false, none: nothing resumes). Throws RESTART on failure.
   */
  private async endWindows(checkpoint = true): Promise<void> {
    await this.drain(checkpoint);
    this.flushed.clear();
    for (const slot of this.slots) slot.handle.post({ t: 'flush' }, []);
    await this.until(() => this.flushed.size === this.slots.length);
    const merged = mergeWindows([...this.flushed.values()]);
    const gen = this.gen;
    const batch: OutputBatch = { offset: this._offset, values: new Float64Array(0), rows: 0, ...merged };
    this.emitChain = this.emitChain.then(async () => {
      if (gen !== this.gen) return;
      try {
        await this.o.sink.write(batch);
      } catch (error) {
        if (gen === this.gen) this.fail(new WorkerFailure('sink', -1, `sink failed to write: ${(error as Error).message}`, { cause: error }));
      }
    });
    if (!checkpoint) {
      await this.emitChain;
      return this.until(() => true);
    }
    this.trigger(true);
    await this.until(() => this.cp === undefined && this.committing === 0);
  }

  async checkpoint(): Promise<number> {
    if (this.mode === 'run') throw new Error('checkpoint() cannot be used while run() pulls a source');
    await this.settle();
    return this.last?.id ?? 0;
  }

  /** Push mode: waits for every result of the rows pushed so far and for a checkpoint covering them (`checkpoint` false: none), recovering as needed. */
  private async settle(checkpoint = true): Promise<void> {
    this.checkRunning();
    await this.flushLingering();
    await this.pushChain;
    this.checkRunning();
    for (;;) {
      if (this.failure !== undefined || this.fatal !== undefined) {
        await this.recoverAndReplay();
        continue;
      }
      try {
        await this.drain(checkpoint);
        return;
      } catch (error) {
        if (error !== RESTART) throw error;
      }
    }
  }

  async run(source: Source | AsyncIterable<Batch> | Iterable<Batch>): Promise<JobResult> {
    this.checkRunning();
    if (this.mode !== 'none') throw new Error('run() must be the only way a job is fed');
    if (!isSource(source) || !source.replayable) {
      let iterable: AsyncIterable<Batch> | Iterable<Batch>;
      if (isSource(source)) {
        const s = source;
        iterable = (async function* () {
          for (;;) {
            const batch = await s.read();
            if (batch === null) return;
            yield batch;
          }
        })();
      } else {
        iterable = source;
      }
      for await (const batch of iterable) await this.push(batch);
      return this.finish();
    }
    if (typeof source.seek !== 'function') throw new TypeError('a replayable source must have seek(offset)');
    this.mode = 'run';
    await source.seek(this._offset);
    for (;;) {
      if (this.failure !== undefined || this.fatal !== undefined) {
        await this.recover();
        await source.seek(this._offset);
        continue;
      }
      const batch = await source.read();
      try {
        if (batch === null) {
          await this.drain();
          if (this.windowed) await this.endWindows();
          break;
        }
        validateBatch(batch, this.o.keyed, this.timed);
        await this.dispatch(batch, true, [now(), batch.values.length]);
      } catch (error) {
        if (error !== RESTART) throw error;
      }
    }
    return this.close();
  }

  private shutdown(): void {
    if (this.monitor !== undefined) clearInterval(this.monitor);
    this.monitor = undefined;
    if (this.lingerTimer !== undefined) clearTimeout(this.lingerTimer);
    this.lingerTimer = undefined;
    for (const slot of this.slots) {
      try {
        slot.handle.post({ t: 'stop' }, []);
      } catch {
        // gone
      }
    }
    this.stopWorkers();
    this.wake();
  }

  private async close(): Promise<JobResult> {
    this.state = 'finished';
    this.shutdown();
    await this.o.sink.close?.();
    return { rows: this._offset, checkpoints: this.checkpoints, restarts: this._restarts, lastCheckpointId: this.last?.id ?? 0 };
  }

  metrics(): JobMetrics {
    return { rows: this.offset, batches: this.dispatched, latency: this.latency.stats() };
  }

  async abort(): Promise<void> {
    if (this.state !== 'running') return;
    this.state = 'aborted';
    this.shutdown();
    await this.emitChain;
    await this.commitChain;
  }
}

/**
 * Starts a job: spawns the workers (restoring the store's latest checkpoint
 * when `resume` is set) and returns it ready for {@link Job.push} or
 * {@link Job.run}. Throws `TypeError`/`RangeError` naming the option for bad
 * options, and {@link CheckpointError} (code `INCOMPATIBLE`) when the
 * checkpoint to resume from is of another operator, keying or key-group count.
 *
 * @example
 * ```ts
 * import { createJob, memorySink } from 'streamkernel/scheduler';
 * import { nodeWorkers, fileCheckpointStore } from 'streamkernel/scheduler/node';
 *
 * const sink = memorySink();
 * const job = await createJob({
 *   adapter: nodeWorkers(),
 *   operator: { op: 'median', window: 100 },
 *   keyed: true,
 *   workers: 2,
 *   sink,
 *   checkpoints: { store: fileCheckpointStore('./ckpt'), everyMs: 1000 },
 *   resume: true,
 * });
 * for await (const batch of batches) await job.push(batch); // waits while workers are busy
 * await job.finish();
 * ```
 */
export async function createJob(options: JobOptions): Promise<
  Job & {
    /** Checkpoints refused when the job resumed (newest first), each with its error; empty without `resume`. */
    readonly refused: RefusedCheckpoint[];
  }
> {
  const job = new JobImpl(normalizeJobOptions(options));
  await job.start();
  return job;
}
