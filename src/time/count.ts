// Count-based tumbling and hopping windows per key: window j of a key holds
// its rows [j·step, j·step + size) in arrival order. TypeScript over
// accumulators (src/time/accumulator.ts), with per-key state in typed-array
// slabs rather than objects: a key is a slot (key id → slot in one Map), its
// row count a float64, its open windows (consecutive, oldest first) a run of
// accumulator records in one RunPool (src/time/slab.ts), and for median and
// quantile, the non-NaN values of its oldest open window (every open window
// ends at the key's latest row, so each holds a suffix of them) a run in
// another. One scratch Acc is loaded from a record, updated and stored back:
// the arithmetic is Acc's, so results and snapshot bytes are those of an
// Acc per window.
import { SnapshotError } from '../errors.js';
import type { BatchKeys, CountWindowOperator, KeyModeOf, CountWindowSpec, NormalizedCountWindowSpec, TimeOp, WindowOutput, WindowResult } from '../types.js';
import { Acc } from './accumulator.js';
import { KeyMap, toF64 } from './keys.js';
import { grow, KeySlots, RunPool } from './slab.js';
import { ByteReader, ByteWriter, decodeTimeSnapshot, encodeTimeSnapshot, expectState, KIND_COUNT } from './snapshot.js';
import { normalizeCountWindowSpec, sameNormalized } from './spec.js';

/** Float64s per window record: rows, n, s, c, m, fT, fR, fV, lT, lR, lV, then the 7 moments. */
const REC = 18;
const MO = 11;

/** Which of Acc's fields an op changes (besides rows and n): the ones a row's update moves between record and Acc. */
const enum Fields {
  Sum,
  Extremum,
  First,
  Last,
  Moments,
  None,
  All,
}

function fieldsOf(op: TimeOp): Fields {
  switch (op) {
    case 'sum':
    case 'mean':
      return Fields.Sum;
    case 'min':
    case 'max':
      return Fields.Extremum;
    case 'first':
      return Fields.First;
    case 'last':
      return Fields.Last;
    case 'var':
    case 'std':
      return Fields.Moments;
    default:
      return Fields.None; // count; median and quantile keep values, in their own run
  }
}

/** Loads record d[o…] into `a` (the fields `f`; rows and n always). */
function load(a: Acc, d: Float64Array, o: number, f: Fields): void {
  a.rows = d[o]!;
  a.n = d[o + 1]!;
  if (f === Fields.Sum || f === Fields.All) {
    a.s = d[o + 2]!;
    a.c = d[o + 3]!;
  }
  if (f === Fields.Extremum || f === Fields.All) a.m = d[o + 4]!;
  if (f === Fields.First || f === Fields.All) {
    a.fT = d[o + 5]!;
    a.fR = d[o + 6]!;
    a.fV = d[o + 7]!;
  }
  if (f === Fields.Last || f === Fields.All) {
    a.lT = d[o + 8]!;
    a.lR = d[o + 9]!;
    a.lV = d[o + 10]!;
  }
  if (f === Fields.Moments || f === Fields.All) for (let i = 0; i < 7; i++) a.mo[i] = d[o + MO + i]!;
}

/** Stores `a` into record d[o…] (the fields `f`; rows and n always). */
function store(a: Acc, d: Float64Array, o: number, f: Fields): void {
  d[o] = a.rows;
  d[o + 1] = a.n;
  if (f === Fields.Sum || f === Fields.All) {
    d[o + 2] = a.s;
    d[o + 3] = a.c;
  }
  if (f === Fields.Extremum || f === Fields.All) d[o + 4] = a.m;
  if (f === Fields.First || f === Fields.All) {
    d[o + 5] = a.fT;
    d[o + 6] = a.fR;
    d[o + 7] = a.fV;
  }
  if (f === Fields.Last || f === Fields.All) {
    d[o + 8] = a.lT;
    d[o + 9] = a.lR;
    d[o + 10] = a.lV;
  }
  if (f === Fields.Moments || f === Fields.All) for (let i = 0; i < 7; i++) d[o + MO + i] = a.mo[i]!;
}

/** One key's state read from a snapshot, before it goes into the slabs. */
interface RestoredKey {
  k: number;
  n: number;
  windows: Acc[];
}

/** The operator behind {@link createCountWindows}; the keyed operator (src/keyed/) also runs it on part of the keys and snapshots it per key group. */
export class CountWindows implements CountWindowOperator {
  readonly spec: Readonly<NormalizedCountWindowSpec>;
  private readonly keyMap: KeyMap;
  /** Key id → slot; slots are numbered in order of first appearance (the snapshot's key order). */
  private readonly slotOf = new KeySlots();
  /** Per slot: its key id, its row count. */
  private keyIds = new Uint32Array(16);
  private rowCounts = new Float64Array(16);
  /** Per slot: its row count modulo step, kept so that a row needs no floating-point `%` (it was a quarter of a row's time). */
  private phases = new Float64Array(16);
  /** Per slot: its open windows' records (REC float64s each), oldest first. */
  private readonly windows: RunPool;
  /** median/quantile, per slot: the non-NaN values of its oldest open window, in arrival order. */
  private readonly values: RunPool | undefined;
  /** The Acc every record is loaded into; INIT: a new window's record. */
  private readonly scratch: Acc;
  private readonly init = new Float64Array(REC);
  private readonly fields: Fields;
  private rowsSeen = 0;
  private disposed = false;
  private ended = false;
  private readonly ddof: number;
  private readonly q: number;

  constructor(spec: NormalizedCountWindowSpec) {
    this.spec = Object.freeze(spec);
    this.keyMap = new KeyMap(spec.keys);
    this.ddof = spec.ddof ?? 1;
    this.q = spec.q ?? 0;
    this.fields = fieldsOf(spec.op);
    this.scratch = new Acc(spec.op);
    store(new Acc(spec.op), this.init, 0, Fields.All);
    this.windows = new RunPool(Math.ceil(spec.size / spec.step) * REC);
    if (spec.op === 'median' || spec.op === 'quantile') this.values = new RunPool(spec.size);
  }

  private get keyCount(): number {
    return this.slotOf.size;
  }

  /** The slot of key id k, made when new. */
  private slot(k: number): number {
    const found = this.slotOf.get(k);
    if (found >= 0) return found;
    const s = this.windows.addSlot();
    this.values?.addSlot();
    this.slotOf.set(k, s);
    if (s === this.keyIds.length) {
      this.keyIds = grow(this.keyIds);
      this.rowCounts = grow(this.rowCounts);
      this.phases = grow(this.phases);
    }
    this.keyIds[s] = k;
    this.rowCounts[s] = 0;
    this.phases[s] = 0;
    return s;
  }

  /** Forgets every key. */
  private clearKeys(): void {
    this.slotOf.clear();
    this.windows.clear();
    this.values?.clear();
  }

  /** Loads slot s's window record at `o` into the scratch Acc, every field, with its values (median, quantile). */
  private loadWindow(s: number, o: number): Acc {
    const a = this.scratch;
    load(a, this.windows.data, o, Fields.All);
    if (this.values !== undefined) {
      const end = this.values.off(s) + this.values.len(s);
      a.vals = Array.from(this.values.data.subarray(end - a.n, end));
    }
    return a;
  }
  private check(): void {
    if (this.disposed) throw new Error('operator has been disposed');
    if (this.ended) throw new Error('stream has ended (flush() was called): reset() to start again');
  }

  /** The window of slot s whose record is at `o`, the key having `n` rows. */
  private result(s: number, o: number, n: number): WindowResult {
    const sp = this.spec;
    const a = this.loadWindow(s, o);
    return { key: this.keyMap.keyOf(this.keyIds[s]!), start: n - a.rows, end: n, value: a.value(sp.op, sp.minPeriods, this.ddof, this.q), count: a.n, update: false };
  }

  push(values: Float64Array | readonly number[], keys?: BatchKeys): WindowOutput {
    this.check();
    const vals = toF64(values, 'values');
    const ids = this.keyMap.ids32(keys, vals.length);
    const { op, size, step } = this.spec;
    const windows: WindowResult[] = [];
    for (let i = 0; i < vals.length; i++) this.row(op, size, step, vals[i]!, ids === undefined ? 0 : ids[i]!, this.rowsSeen + i, windows);
    this.rowsSeen += vals.length;
    return { windows, late: [] };
  }

  /** One row of key k: added to its open windows; the window it completes (at most one) is emitted. */
  private row(op: TimeOp, size: number, step: number, x: number, k: number, row: number, windows: WindowResult[]): void {
    const s = this.slot(k);
    const p = this.rowCounts[s]!;
    this.rowCounts[s] = p + 1;
    const phase = this.phases[s]!;
    this.phases[s] = phase + 1 === step ? 0 : phase + 1;
    const pool = this.windows;
    // append() may replace the pool's data: read it after.
    if (phase === 0) {
      const o = pool.append(s, REC);
      pool.data.set(this.init, o);
    }
    if (this.values !== undefined && x === x && pool.len(s) > 0) {
      const o = this.values.append(s, 1); // rows between windows (step > size) are in none
      this.values.data[o] = x;
    }
    const d = pool.data;
    const a = this.scratch;
    const f = this.fields;
    const first = pool.off(s);
    const end = first + pool.len(s);
    if (f === Fields.None) {
      // count, median, quantile: only the counts move (the values are in their run), as Acc.add counts them.
      const nonNaN = x === x ? 1 : 0;
      for (let o = first; o < end; o += REC) {
        d[o] = d[o]! + 1;
        d[o + 1] = d[o + 1]! + nonNaN;
      }
    } else {
      for (let o = first; o < end; o += REC) {
        load(a, d, o, f);
        a.add(op, x, row, row);
        store(a, d, o, f);
      }
    }
    if (end > first && d[first] === size) {
      windows.push(this.result(s, first, p + 1));
      pool.dropFront(s, REC);
      // The values the next window does not hold (all when none is open).
      if (this.values !== undefined) this.values.dropFront(s, this.values.len(s) - (pool.len(s) > 0 ? d[pool.off(s) + 1]! : 0));
    }
  }

  /**
   * The keyed operator's push (numeric key ids): rows with skip[i] = 1 belong
   * to other workers and only count as rows (row numbers order `first` and
   * `last`). `marks` gets two counts of `windows` per row (entries 2i and 2i + 1) (the same: a count
   * window fires on its key's own row), as EventTimeWindows.pushRows, and
   * `at`/`batchRows` are as there (routed rows: only the worker's own).
   */
  pushRows(_ts: Float64Array | undefined, vals: Float64Array, ids: Uint32Array | undefined, skip: Uint8Array, marks: Uint32Array, at?: Uint32Array, batchRows = vals.length): WindowOutput {
    this.check();
    const { op, size, step } = this.spec;
    const windows: WindowResult[] = [];
    for (let i = 0; i < vals.length; i++) {
      if (skip[i] === 0) this.row(op, size, step, vals[i]!, ids === undefined ? 0 : ids[i]!, this.rowsSeen + (at === undefined ? i : at[i]!), windows);
      marks[2 * i] = marks[2 * i + 1] = windows.length;
    }
    this.rowsSeen += batchRows;
    return { windows, late: [] };
  }

  /** Raises the row count and end flag to a key group snapshot's (see EventTimeWindows.raiseClock). */
  raiseClock(rows: number, _maxTs: number, ended: boolean): void {
    this.rowsSeen = Math.max(this.rowsSeen, rows);
    this.ended ||= ended;
  }

  /** Whether flush() ended the stream. */
  get hasEnded(): boolean {
    return this.ended;
  }

  /** Rows pushed so far (the number of the next one). */
  get rowCount(): number {
    return this.rowsSeen;
  }

  /** What the operator holds: per key its row count and its open windows (to check that memory returns). */
  get heldItems(): number {
    return this.keyCount + this.openWindows();
  }

  private openWindows(): number {
    let n = 0;
    for (let s = 0; s < this.keyCount; s++) n += this.windows.len(s) / REC;
    return n;
  }

  flush(): WindowOutput {
    this.check();
    const windows: WindowResult[] = [];
    const slots = [...this.slotOf.values()].sort((a, b) => this.keyIds[a]! - this.keyIds[b]!);
    for (const s of slots) this.eachWindow(s, (o) => windows.push(this.result(s, o, this.rowCounts[s]!)));
    this.clearKeys();
    this.ended = true;
    return { windows, late: [] };
  }

  /** Calls `fn` with the record offset of each of slot s's open windows, oldest first. */
  private eachWindow(s: number, fn: (o: number) => void): void {
    const first = this.windows.off(s);
    const end = first + this.windows.len(s);
    for (let o = first; o < end; o += REC) fn(o);
  }

  /** The snapshot; with `keep`, of the keys it accepts only (a key group's state, which restoreState(…, keep) merges in). */
  snapshot(keep?: (key: number) => boolean): Uint8Array {
    if (this.disposed) throw new Error('operator has been disposed');
    const w = new ByteWriter();
    w.u8(this.ended ? 1 : 0);
    w.f64(this.rowsSeen);
    w.u32(this.keyMap.names.length);
    for (const name of this.keyMap.names) w.str(name);
    const kept: number[] = [];
    for (let s = 0; s < this.keyCount; s++) if (keep === undefined || keep(this.keyIds[s]!)) kept.push(s);
    w.u32(kept.length);
    for (const s of kept) {
      const n = this.rowCounts[s]!;
      w.u32(this.keyIds[s]!);
      w.f64(n);
      w.u32(this.windows.len(s) / REC);
      this.eachWindow(s, (o) => {
        const a = this.loadWindow(s, o);
        w.f64(n - a.rows); // start
        w.f64(a.rows);
        a.write(w);
      });
    }
    return encodeTimeSnapshot(KIND_COUNT, this.spec, w.bytes());
  }

  /**
   * Loads a snapshot's state into this fresh operator, validating every field
   * first. With `keep` (numeric keys only), merges a key group's state in
   * instead: every key must pass `keep`; the row counter becomes the larger.
   */
  restoreState(bytes: Uint8Array, keep?: (key: number) => boolean): void {
    const s = this.spec;
    const r = new ByteReader(bytes);
    const ended = r.u8();
    expectState(ended <= 1, 'bad end-of-stream flag');
    const rowsSeen = r.f64();
    expectState(Number.isInteger(rowsSeen) && rowsSeen >= 0 && rowsSeen <= 2 ** 53, 'row counter out of range');
    const nNames = r.count(4, 'key name');
    expectState(s.keys === 'string' || nNames === 0, 'key names in a snapshot without string keys');
    const names: string[] = [];
    for (let i = 0; i < nNames; i++) names.push(r.str());
    expectState(new Set(names).size === names.length, 'duplicate key names');
    const nKeys = r.count(16, 'key');
    const seen = new Set<number>();
    const keys: RestoredKey[] = [];
    let total = 0;
    for (let i = 0; i < nKeys; i++) {
      const k = r.u32();
      const n = r.f64();
      expectState(!seen.has(k) && this.slotOf.get(k) < 0 && Number.isInteger(n) && n >= 1 && n <= rowsSeen, `key ${k}: bad row count`);
      expectState(keep === undefined || (keep(k) && s.keys !== 'string'), `key ${k} is not of this key group`);
      expectState(s.keys !== 'none' || k === 0, 'unkeyed snapshot with a key other than 0');
      expectState(s.keys !== 'string' || k < names.length, `key id ${k} has no name`);
      seen.add(k);
      total += n;
      const nOpen = r.count(16, 'open window');
      const windows: Acc[] = [];
      let prev = 0;
      for (let j = 0; j < nOpen; j++) {
        const start = r.f64();
        const rows = r.f64();
        const acc = Acc.read(s.op, r);
        // Window starts are the multiples of step whose windows are not complete yet.
        expectState(Number.isInteger(start) && start % s.step === 0 && rows === Math.min(n - start, s.size) && rows >= 1 && rows < s.size, `key ${k}: open window out of range`);
        expectState(j === 0 || start === prev + s.step, `key ${k}: open windows not consecutive`);
        expectState(acc.rows === rows, `key ${k}: window counts differ from the rows it holds`);
        // Every open window ends at the key's latest row: each holds the last of the values of the one before.
        const older = windows[j - 1]?.vals;
        expectState(older === undefined || acc.vals!.every((v, i) => Object.is(v, older[older.length - acc.vals!.length + i])), `key ${k}: open windows hold different values`);
        prev = start;
        windows.push(acc);
      }
      // Open: the windows j with j·step < n < j·step + size, consecutive from jlo to jhi.
      const jhi = Math.floor((n - 1) / s.step);
      const jlo = Math.max(0, Math.floor((n - s.size) / s.step) + 1);
      expectState(nOpen === Math.max(0, jhi - jlo + 1) && (nOpen === 0 || n - windows[0]!.rows === jlo * s.step), `key ${k}: open windows do not match its row count`);
      keys.push({ k, n, windows });
    }
    r.end();
    expectState(total <= rowsSeen, 'keys count more rows than seen');
    expectState(ended === 0 || nKeys === 0, 'ended stream with open windows');
    if (keep === undefined) this.keyMap.load(names);
    this.rowsSeen = Math.max(rowsSeen, this.rowsSeen);
    this.ended = ended === 1;
    for (const key of keys) this.restoreKey(key);
  }

  /** Puts a validated key's state into the slabs. */
  private restoreKey({ k, n, windows }: RestoredKey): void {
    const s = this.slot(k);
    this.rowCounts[s] = n;
    this.phases[s] = n % this.spec.step;
    for (const acc of windows) {
      const o = this.windows.append(s, REC);
      store(acc, this.windows.data, o, Fields.All);
    }
    const vals = windows[0]?.vals;
    if (this.values !== undefined && vals !== undefined && vals.length > 0) {
      const o = this.values.append(s, vals.length);
      this.values.data.set(vals, o);
    }
  }

  reset(): void {
    if (this.disposed) throw new Error('operator has been disposed');
    this.clearKeys();
    this.keyMap.clear();
    this.rowsSeen = 0;
    this.ended = false;
  }

  dispose(): void {
    this.disposed = true;
    this.clearKeys();
  }
}

/**
 * Creates a count-window operator: tumbling (`step` = `size`) or hopping
 * windows of `size` rows every `step` rows, per key in arrival order. Each
 * complete window is emitted as its last row arrives; `flush()` emits the
 * partial ones.
 *
 * @example
 * ```ts
 * const op = await createCountWindows({ op: 'mean', size: 3 });
 * op.push([1, 2, 3, 4]).windows; // [{ key: 0, start: 0, end: 3, value: 2, count: 3, update: false }]
 * op.flush().windows;            // [{ key: 0, start: 3, end: 4, value: 4, count: 1, update: false }]
 * ```
 */
export async function createCountWindows<const S extends CountWindowSpec>(spec: S): Promise<CountWindowOperator<KeyModeOf<S>>> {
  return new CountWindows(normalizeCountWindowSpec(spec));
}

/**
 * Restores a count-window operator from its snapshot. Throws
 * {@link SnapshotError} as {@link restoreWindows} does.
 *
 * @example
 * ```ts
 * const copy = await restoreCountWindows(op.snapshot());
 * ```
 */
export async function restoreCountWindows(snapshot: Uint8Array, expected?: CountWindowSpec): Promise<CountWindowOperator> {
  const { spec: raw, state } = decodeTimeSnapshot(snapshot, KIND_COUNT);
  let spec: NormalizedCountWindowSpec;
  try {
    spec = normalizeCountWindowSpec(raw);
  } catch (error) {
    throw new SnapshotError('BAD_PARAMETERS', `snapshot holds an invalid spec: ${(error as Error).message}`);
  }
  if (!sameNormalized(spec, raw)) throw new SnapshotError('BAD_PARAMETERS', `snapshot holds a spec that is not normalized: ${JSON.stringify(raw)}`);
  if (expected !== undefined) {
    const wanted = normalizeCountWindowSpec(expected);
    if (!sameNormalized(wanted, spec)) throw new SnapshotError('OP_MISMATCH', `snapshot is of ${JSON.stringify(spec)}, expected ${JSON.stringify(wanted)}`);
  }
  const op = new CountWindows(spec);
  op.restoreState(state);
  return op;
}
