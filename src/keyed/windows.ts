// Tumbling, hopping, session and count windows as a keyed operator: one
// EventTimeWindows (or CountWindows) per worker running the keys of its key
// groups, snapshot and restored per key group, and the results of several
// workers merged into the single operator's order.
//
// The watermark is the greatest timestamp of ALL rows, so every worker sees
// every row: rows of other workers' groups only advance its watermark. Each
// result is attributed to the row whose processing emitted it, and to a phase
// of that row: 0 for the row's own windows (one key, so one worker), 1 for the
// windows its watermark advance fired, which the single operator emits in
// (end, key id, start) order whichever worker holds them. End of stream
// (flush) is phase 1 of a row after the last (count windows: phase 2, in
// (key id, start) order, as CountWindows.flush). Sorting every worker's
// results by (row, phase, then end/key/start in phase 1, key/start in phase 2)
// gives the single operator's order, for any number of workers and any batch
// split. Count windows have no watermark, but row numbers order `first` and
// `last`, so their workers also see every row.
import { keyGroupOf } from '../scheduler/hash.js';
import type { GroupOperator, RowsPart } from '../scheduler/operator.js';
import { CountWindows } from '../time/count.js';
import { decodeTimeSnapshot, KIND_COUNT, KIND_WINDOWS } from '../time/snapshot.js';
import { normalizeCountWindowSpec, normalizeWindowSpec, sameNormalized } from '../time/spec.js';
import { EventTimeWindows } from '../time/windows.js';
import { restoreGroupState } from './restore.js';
import type { LateRow, NormalizedCountWindowSpec, NormalizedWindowSpec, WindowOutput, WindowResult } from '../types.js';

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
  pushRows(ts: Float64Array | undefined, vals: Float64Array, ids: Uint32Array | undefined, skip: Uint8Array, marks: number[]): WindowOutput;
  flush(): WindowOutput;
  snapshot(keep: (key: number) => boolean): Uint8Array;
  restoreState(state: Uint8Array, keep: (key: number) => boolean): void;
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
  /** Per row of the batch in processRows: 1 for other workers' rows (reused: pushRows keeps no reference). */
  private skipScratch = new Uint8Array(0);

  /** The snapshot kind: KIND_WINDOWS, or KIND_COUNT (no watermark, no times, flush in key order). */
  private readonly kind: number;

  constructor(
    spec: NormalizedWindowSpec | NormalizedCountWindowSpec,
    private readonly keyGroups: number,
    private readonly owned: readonly [number, number] = [0, keyGroups],
  ) {
    if (spec.keys === 'string') throw new TypeError("the keyed windows operator takes numeric keys (keys: 'number' or 'none')");
    const timed = 'kind' in spec;
    this.op = timed ? new EventTimeWindows(spec) : new CountWindows(spec);
    this.kind = timed ? KIND_WINDOWS : KIND_COUNT;
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
      const out = this.processRows(times, values, keys);
      for (const w of out.windows) this.output.windows.push(w);
      for (const l of out.late) this.output.late.push(l);
    }
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
    for (let i = 0; i < n; i++) {
      const group = keyGroupOf(keys === undefined ? 0 : keys[i]!, this.keyGroups);
      skip[i] = this.owns(group) ? 0 : 1;
    }
    const marks: number[] = [];
    const base = this.rows;
    const out = this.op.pushRows(times, values, keys, skip, marks);
    this.rows += n;
    const windows: TaggedWindow[] = [];
    let at = 0;
    for (let i = 0; i < n; i++) {
      for (const end = marks[2 * i]!; at < end; at++) windows.push({ row: base + i, phase: 0, window: out.windows[at]! });
      for (const end = marks[2 * i + 1]!; at < end; at++) windows.push({ row: base + i, phase: 1, window: out.windows[at]! });
    }
    return { windows, late: out.late };
  }

  /** Raises the watermark as a row at time t would, without a row (idle timeout): the windows it fired. */
  advanceTo(t: number): WindowsOutput {
    if (this.op.hasEnded || !(this.op instanceof EventTimeWindows)) return { windows: [], late: [] };
    this.rowsAtCall = -1; // the watermark moved: the next checkpoint takes every group
    const row = this.rows;
    return { windows: this.op.advanceTo(t).map((window) => ({ row, phase: 1 as const, window })), late: [] };
  }

  /** End of stream: every window not yet emitted (nothing when the stream has ended already). */
  flush(): WindowsOutput {
    if (this.op.hasEnded) return { windows: [], late: [] };
    this.rowsAtCall = -1; // the state has changed (ended): the next checkpoint takes every group
    const row = this.rows;
    const phase = this.kind === KIND_WINDOWS ? 1 : 2;
    return { windows: this.op.flush().windows.map((window) => ({ row, phase, window })), late: [] };
  }

  /**
   * Every group of the worker once any row went by: each group's snapshot
   * carries the row count and watermark, which every row moves.
   */
  changedGroups(): number[] {
    const moved = this.rows !== this.rowsAtCall;
    this.rowsAtCall = this.rows;
    return moved ? Array.from({ length: this.owned[1] - this.owned[0] }, (_, i) => this.owned[0] + i) : [];
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
  const windows = outputs.flatMap((o) => o.windows).sort(phaseOrder);
  const late = outputs.flatMap((o) => o.late).sort((a, b) => a.row - b.row);
  return { windows: windows.map((t) => t.window), late };
}

/** The normalized spec the keyed windows operator runs (numeric keys). */
export function keyedWindowSpec(spec: unknown, keyed: boolean): NormalizedWindowSpec | NormalizedCountWindowSpec {
  const withKeys = { ...(spec as object), keys: keyed ? 'number' : 'none' };
  return 'kind' in withKeys ? normalizeWindowSpec(withKeys) : normalizeCountWindowSpec(withKeys);
}
