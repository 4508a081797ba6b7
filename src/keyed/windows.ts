// Tumbling, hopping, session and count windows as a keyed operator: one
// EventTimeWindows (or CountWindows) per worker running the keys of its key
// groups, snapshot and restored per key group, and the results of several
// workers merged into the single operator's order.
//
// The watermark is the greatest timestamp of ALL rows. On the scheduler, a
// worker gets only its own rows (processRouted), each with its row number in
// the batch, and the rows of other workers that raise the greatest timestamp
// (the coordinator finds them): those only advance its watermark, and no
// other row could change anything here. (processRows takes every row of a
// batch and skips other workers' the same way.) Each
// result is attributed to the row whose processing emitted it, and to a phase
// of that row: 0 for the row's own windows (one key, so one worker), 1 for the
// windows its watermark advance fired, which the single operator emits in
// (end, key id, start) order whichever worker holds them. End of stream
// (flush) is phase 1 of a row after the last (count windows: phase 2, in
// (key id, start) order, as CountWindows.flush). Sorting every worker's
// results by (row, phase, then end/key/start in phase 1, key/start in phase 2)
// gives the single operator's order, for any number of workers and any batch
// split. Count windows have no watermark, but row numbers order `first` and
// `last`: their workers get their own rows with their row numbers.
//
// Key group snapshots carry the stream's clock (row count, greatest
// timestamp, end flag), but only changed groups go into an incremental
// checkpoint (rows, windows fired or purged by the watermark): group 0 is
// written whenever the clock moved, and a restore raises every worker's clock
// to group 0's (restoreClock).
import { SnapshotError } from '../errors.js';
import { CheckpointError } from '../scheduler/errors.js';
import { keyGroupOf } from '../scheduler/hash.js';
import type { GroupOperator, RowsPart } from '../scheduler/operator.js';
import { CountWindows } from '../time/count.js';
import { MAX_TIMESTAMP } from '../time/keys.js';
import { ByteReader, decodeTimeSnapshot, expectState, KIND_COUNT, KIND_WINDOWS } from '../time/snapshot.js';
import { normalizeCountWindowSpec, normalizeWindowSpec, sameNormalized } from '../time/spec.js';
import { EventTimeWindows } from '../time/windows.js';
import { restoreGroupState } from './restore.js';
import type { LateRow, NormalizedCountWindowSpec, NormalizedWindowSpec, WindowOutput, WindowResult } from '../types.js';

/** Key ids below this have their key group remembered (128 KiB at most; MAX_KEY_GROUPS + 1 fits 16 bits). */
const GROUP_CACHE_KEYS = 1 << 16;

/**
 * The first row from i on whose marks (pushRows': two counts of results per
 * row) pass w, the count before it: most rows emit nothing. A loop of its
 * own: inside run()'s, it was compiled on stack replacement over rows that
 * emitted nothing and deoptimized at the first that did, in every run.
 */
function nextEmitting(marks: Uint32Array, i: number, rows: number, w: number): number {
  while (i < rows && marks[2 * i + 1] === w) i++;
  return i;
}

/** A window result with the row (stream row number) and phase that emitted it; see the file comment. */
export interface TaggedWindow {
  row: number;
  phase: 0 | 1 | 2;
  window: WindowResult;
}

/** What the keyed operator needs of a window operator (EventTimeWindows, CountWindows). */
interface WindowEngine {
  readonly spec: object;
  readonly hasEnded: boolean;
  readonly rowCount: number;
  readonly heldItems: number;
  pushRows(ts: Float64Array | undefined, vals: Float64Array, ids: Uint32Array | undefined, skip: Uint8Array, marks: Uint32Array, at?: Uint32Array, batchRows?: number): WindowOutput;
  raiseClock(rows: number, maxTs: number, ended: boolean): void;
  flush(): WindowOutput;
  snapshot(keep: (key: number) => boolean): Uint8Array;
  restoreState(state: Uint8Array, keep: (key: number) => boolean): void;
}

/** The rows of a batch that raise its greatest timestamp: their rows in the batch (ascending) and times. */
export interface Rises {
  at: Uint32Array;
  times: Float64Array;
}

/** What a worker's window operator returns for a batch (or at the end). */
export interface WindowsOutput {
  windows: TaggedWindow[];
  late: LateRow[];
}

/**
 * The windows operator of a worker owning key groups [owned[0], owned[1])
 * (numeric keys). As a GroupOperator (for the scheduler's worker), its
 * processParts collects the tagged windows, which takeOutput() hands over;
 * results per row are not written.
 */
export class WindowsGroupOperator implements GroupOperator {
  private readonly op: WindowEngine;
  private readonly restored = new Set<number>();
  private started = false;
  /** Rows seen so far (the number of the next one), and at the last changedGroups(). */
  private rows = 0;
  private rowsAtCall = 0;
  /** Key groups whose windows changed since the last changedGroups(); the watermark moved without a row. */
  private readonly changed = new Set<number>();
  /** 1 for the groups processRows already put in `changed` (a Set add per row was a tenth of a count-window job). */
  private readonly changedMark: Uint8Array;
  private clockMoved = false;
  /** pushRows' two counts of results per row (reused: pushRows keeps no reference). */
  private marks = new Uint32Array(0);
  /** Per row of the batch in processRows: 1 for other workers' rows (reused: pushRows keeps no reference). */
  private skipScratch = new Uint8Array(0);
  /** Key group + 1 of key ids below GROUP_CACHE_KEYS (0: not known yet): a hash per row was most of processRows' own time. */
  private groupCache = new Uint16Array(0);
  /**
   * Per key id below GROUP_CACHE_KEYS, since the last changedGroups(): 0 not
   * seen, 1 this worker's (its group is in `changed`), 2 another worker's.
   * processRows reads this one byte per row (the group look-up, ownership
   * test and changed mark per row were a fifth of the keyed windows' time).
   */
  private keyMark = new Uint8Array(0);
  /** The key ids keyMark holds as seen, cleared by changedGroups(). */
  private markedKeys: number[] = [];

  /** The snapshot kind: KIND_WINDOWS, or KIND_COUNT (no watermark, no times, flush in key order). */
  private readonly kind: number;

  constructor(
    spec: NormalizedWindowSpec | NormalizedCountWindowSpec,
    private readonly keyGroups: number,
    private readonly owned: readonly [number, number] = [0, keyGroups],
  ) {
    this.changedMark = new Uint8Array(keyGroups);
    if (spec.keys === 'string') throw new TypeError("the keyed windows operator takes numeric keys (keys: 'number' or 'none')");
    if ('kind' in spec) {
      const op = new EventTimeWindows(spec);
      op.onWatermarkChange = (key) => this.markChanged(key);
      this.op = op;
      this.kind = KIND_WINDOWS;
    } else {
      this.op = new CountWindows(spec);
      this.kind = KIND_COUNT;
    }
  }

  private owns(group: number): boolean {
    return group >= this.owned[0] && group < this.owned[1];
  }

  private output: WindowsOutput = { windows: [], late: [] };

  process(values: Float64Array, keys: Uint32Array | undefined, _out: Float64Array, times?: Float64Array): void {
    this.processParts([{ values, keys, out: _out, times }]);
  }

  processParts(parts: readonly RowsPart[]): void {
    for (const { values, keys, times } of parts) {
      if (this.kind === KIND_WINDOWS && (times === undefined || times.length !== values.length)) throw new TypeError('windows need one event time per row');
      this.addOutput(this.processRows(times, values, keys));
    }
  }

  /** Adds windows and late rows to what takeOutput() hands over. */
  addOutput(out: WindowsOutput): void {
    for (const w of out.windows) this.output.windows.push(w);
    for (const l of out.late) this.output.late.push(l);
  }

  /** The windows and late rows of the rows processed since the last call. */
  takeOutput(): WindowsOutput {
    const out = this.output;
    this.output = { windows: [], late: [] };
    return out;
  }

  trap(): void {
    throw new Error('injected trap');
  }

  /** What the operator holds (windows, per-key entries, timers): to check that memory returns. */
  get heldItems(): number {
    return this.op.heldItems;
  }

  /** Whether the stream has ended here (flush was called, or an ended state restored). */
  get ended(): boolean {
    return this.op.hasEnded;
  }

  /** Every row of a batch (keys undefined: key 0); those of other workers' groups only advance the watermark. */
  processRows(times: Float64Array | undefined, values: Float64Array, keys: Uint32Array | undefined): WindowsOutput {
    this.started = true;
    const n = values.length;
    if (this.skipScratch.length < n) this.skipScratch = new Uint8Array(Math.max(n, 2 * this.skipScratch.length));
    const skip = this.skipScratch.subarray(0, n);
    if (keys === undefined) skip.fill(this.markKey(0) - 1);
    else this.markRows(keys, skip);
    return this.run(times, values, keys, skip, undefined, n);
  }

  /** skip[i] for each row by its key's worker, with a byte read per row: a key's first row since changedGroups() finds its group (markKey). */
  private markRows(keys: Uint32Array, skip: Uint8Array): void {
    let mark = this.keyMark;
    for (let i = 0; i < skip.length; i++) {
      const k = keys[i]!;
      let m = k < mark.length ? mark[k]! : 0;
      if (m === 0) {
        m = this.markKey(k);
        mark = this.keyMark;
      }
      skip[i] = m - 1;
    }
  }

  /** Key k's group (marked changed when this worker owns it), remembered in keyMark for key ids below GROUP_CACHE_KEYS: 1 this worker's, 2 another's. */
  private markKey(k: number): number {
    const group = this.groupOf(k);
    const own = this.owns(group);
    if (own && this.changedMark[group] === 0) {
      this.changedMark[group] = 1;
      this.changed.add(group);
    }
    const m = own ? 1 : 2;
    if (k < GROUP_CACHE_KEYS) {
      if (k >= this.keyMark.length) {
        const more = new Uint8Array(Math.min(GROUP_CACHE_KEYS, Math.max(k + 1, 2 * this.keyMark.length, 1024)));
        more.set(this.keyMark);
        this.keyMark = more;
      }
      this.keyMark[k] = m;
      this.markedKeys.push(k);
    }
    return m;
  }

  /**
   * The watermark hook: key's group into `changed`. Called for each window
   * a rise fires or purges (a bucket's thousand keys at its fire and again
   * at its purge): so the group comes from groupOf's cache, and changedMark
   * (1: in `changed` already) spares the Set.
   */
  private markChanged(key: number): void {
    const group = this.groupOf(key);
    if (this.changedMark[group] === 0) {
      this.changedMark[group] = 1;
      this.changed.add(group);
    }
  }

  /** keyGroupOf(key), remembered for the dense ids the CLI gives keys. */
  private groupOf(key: number): number {
    if (key >= GROUP_CACHE_KEYS) return keyGroupOf(key, this.keyGroups);
    if (key >= this.groupCache.length) {
      const more = new Uint16Array(Math.min(GROUP_CACHE_KEYS, Math.max(key + 1, 2 * this.groupCache.length, 1024)));
      more.set(this.groupCache);
      this.groupCache = more;
    }
    let g = this.groupCache[key]!;
    if (g === 0) g = this.groupCache[key] = keyGroupOf(key, this.keyGroups) + 1;
    return g - 1;
  }

  /**
   * The worker's own rows of a batch of `batchRows` rows (row at[i] of the
   * batch each, ascending), and the batch's rows that raise the greatest
   * timestamp (`rises`; window kinds): the same windows, tags and state as
   * processRows of the whole batch.
   */
  processRouted(times: Float64Array | undefined, values: Float64Array, keys: Uint32Array | undefined, at: Uint32Array, rises: Rises | undefined, batchRows: number): WindowsOutput {
    this.started = true;
    const own = values.length;
    const nr = rises === undefined ? 0 : rises.at.length;
    const m = own + nr;
    const ts = times === undefined ? undefined : new Float64Array(m);
    const vals = new Float64Array(m);
    const ids = new Uint32Array(m);
    const skip = new Uint8Array(m);
    const rowAt = new Uint32Array(m);
    // Merge by row: own rows, and other workers' rises (a rise of an own row is that row's).
    let i = 0, j = 0, e = 0;
    for (; i < own || j < nr; e++) {
      if (j < nr && (i === own || rises!.at[j]! < at[i]!)) {
        ts![e] = rises!.times[j]!;
        skip[e] = 1;
        rowAt[e] = rises!.at[j++]!;
        continue;
      }
      if (j < nr && rises!.at[j] === at[i]) j++;
      if (ts !== undefined) ts[e] = times![i]!;
      vals[e] = values[i]!;
      const key = keys === undefined ? 0 : keys[i]!;
      ids[e] = key;
      this.changed.add(keyGroupOf(key, this.keyGroups));
      rowAt[e] = at[i++]!;
    }
    return this.run(ts?.subarray(0, e), vals.subarray(0, e), ids.subarray(0, e), skip.subarray(0, e), rowAt.subarray(0, e), batchRows);
  }

  /** Runs rows through the engine (row r is the batch's row at[r], or r) and tags its windows. */
  private run(ts: Float64Array | undefined, vals: Float64Array, ids: Uint32Array | undefined, skip: Uint8Array, at: Uint32Array | undefined, batchRows: number): WindowsOutput {
    if (this.marks.length < 2 * vals.length) this.marks = new Uint32Array(Math.max(2 * vals.length, 2 * this.marks.length));
    const marks = this.marks;
    const base = this.rows;
    const out = this.op.pushRows(ts, vals, ids, skip, marks, at, batchRows);
    this.rows += batchRows;
    const windows: TaggedWindow[] = [];
    const total = out.windows.length;
    let w = 0;
    for (let i = 0; w < total; i++) {
      i = nextEmitting(marks, i, vals.length, w);
      if (i === vals.length) break; // never: every result is marked
      const row = base + (at === undefined ? i : at[i]!);
      for (const end = marks[2 * i]!; w < end; w++) windows.push({ row, phase: 0, window: out.windows[w]! });
      for (const end = marks[2 * i + 1]!; w < end; w++) windows.push({ row, phase: 1, window: out.windows[w]! });
    }
    return { windows, late: out.late };
  }

  /** Raises the watermark as a row at time t would, without a row (idle timeout): the windows it fired. */
  advanceTo(t: number): WindowsOutput {
    if (this.op.hasEnded || !(this.op instanceof EventTimeWindows)) return { windows: [], late: [] };
    this.clockMoved = true; // group 0 carries the clock
    const row = this.rows;
    return { windows: this.op.advanceTo(t).map((window) => ({ row, phase: 1 as const, window })), late: [] };
  }

  /** End of stream: every window not yet emitted (nothing when the stream has ended already). */
  flush(): WindowsOutput {
    if (this.op.hasEnded) return { windows: [], late: [] };
    // The state has changed (ended): the next checkpoint takes every group.
    for (let g = this.owned[0]; g < this.owned[1]; g++) this.changed.add(g);
    const row = this.rows;
    const phase = this.kind === KIND_WINDOWS ? 1 : 2;
    return { windows: this.op.flush().windows.map((window) => ({ row, phase, window })), late: [] };
  }

  /**
   * The groups whose windows changed (their rows, or windows the watermark
   * fired or purged), and group 0 (when this worker owns it) whenever the
   * clock moved: it carries the stream's clock for restoreClock.
   */
  changedGroups(): number[] {
    if ((this.rows !== this.rowsAtCall || this.clockMoved) && this.owns(0)) this.changed.add(0);
    this.rowsAtCall = this.rows;
    this.clockMoved = false;
    const groups = [...this.changed].sort((a, b) => a - b);
    for (const g of groups) this.changedMark[g] = 0;
    this.changed.clear();
    for (const k of this.markedKeys) this.keyMark[k] = 0;
    this.markedKeys.length = 0;
    return groups;
  }

  /**
   * A key group's windows, with the row count and watermark, which are every
   * key's: so every group of the worker has a snapshot, even without windows, and a worker
   * restored onto any groups continues with the whole stream's watermark.
   */
  snapshotGroup(group: number): Uint8Array | undefined {
    if (!this.owns(group)) return undefined;
    return this.op.snapshot((key) => keyGroupOf(key, this.keyGroups) === group);
  }

  restoreGroup(group: number, bytes: Uint8Array): void {
    restoreGroupState(group, this.owned, this.restored, this.started, (fail) => {
      const { spec: raw, state } = decodeTimeSnapshot(bytes, this.kind);
      if (!sameNormalized(raw, this.op.spec)) fail(`it is of ${JSON.stringify(raw)}, the operator of ${JSON.stringify(this.op.spec)}`);
      this.op.restoreState(state, (key) => keyGroupOf(key, this.keyGroups) === group);
    });
    this.rows = this.op.rowCount;
    this.rowsAtCall = this.rows;
  }

  /**
   * Raises the worker's clock (row count, greatest timestamp, end flag) to
   * that of key group 0's snapshot, the group every incremental checkpoint
   * writes when the clock moved (any worker's groups may be older). Before
   * any row; CheckpointError BAD_STATE for bad bytes.
   */
  restoreClock(bytes: Uint8Array): void {
    const fail = (why: string): never => {
      throw new CheckpointError('BAD_STATE', `checkpoint state of key group 0 is invalid: ${why}`);
    };
    if (this.started) fail('restored after rows were processed');
    try {
      const { spec: raw, state } = decodeTimeSnapshot(bytes, this.kind);
      if (!sameNormalized(raw, this.op.spec)) fail(`it is of ${JSON.stringify(raw)}, the operator of ${JSON.stringify(this.op.spec)}`);
      const r = new ByteReader(state);
      const ended = r.u8();
      const rows = r.f64();
      const maxTs = this.kind === KIND_WINDOWS ? r.f64() : -Infinity;
      expectState(ended <= 1 && Number.isInteger(rows) && rows >= 0 && rows <= 2 ** 53, 'bad stream clock');
      expectState(maxTs === -Infinity || Math.abs(maxTs) <= MAX_TIMESTAMP, 'greatest timestamp out of range');
      this.op.raiseClock(rows, maxTs, ended === 1);
    } catch (error) {
      if (error instanceof SnapshotError || error instanceof TypeError || error instanceof RangeError) fail(error.message);
      throw error;
    }
    this.rows = this.op.rowCount;
    this.rowsAtCall = this.rows;
  }
}

function phaseOrder(a: TaggedWindow, b: TaggedWindow): number {
  if (a.row !== b.row) return a.row - b.row;
  if (a.phase !== b.phase) return a.phase - b.phase;
  if (a.phase === 0) return 0; // one worker's, already in order (the sort is stable)
  const x = a.window, y = b.window;
  if (a.phase === 2) return x.key !== y.key ? (x.key as number) - (y.key as number) : x.start - y.start;
  if (x.end !== y.end) return x.end - y.end;
  if (x.key !== y.key) return (x.key as number) - (y.key as number);
  return x.start - y.start;
}

/**
 * Merges the outputs of every worker for the same rows into the single
 * operator's order: windows by (row, phase, end, key, start), late rows by row.
 */
export function mergeWindows(outputs: readonly WindowsOutput[]): { windows: WindowResult[]; late: LateRow[] } {
  // One worker holding every key group is the single operator: its output is in that order already (no sort of every window).
  if (outputs.length === 1) return { windows: outputs[0]!.windows.map((t) => t.window), late: [...outputs[0]!.late] };
  const windows = outputs.flatMap((o) => o.windows).sort(phaseOrder);
  const late = outputs.flatMap((o) => o.late).sort((a, b) => a.row - b.row);
  return { windows: windows.map((t) => t.window), late };
}

/** The normalized spec the keyed windows operator runs (numeric keys). */
export function keyedWindowSpec(spec: unknown, keyed: boolean): NormalizedWindowSpec | NormalizedCountWindowSpec {
  const withKeys = { ...(spec as object), keys: keyed ? 'number' : 'none' };
  return 'kind' in withKeys ? normalizeWindowSpec(withKeys) : normalizeCountWindowSpec(withKeys);
}
