// Count-based tumbling and hopping windows per key: window j of a key holds
// its rows [j·step, j·step + size) in arrival order. TypeScript over
// accumulators (src/time/accumulator.ts).
import { SnapshotError } from '../errors.js';
import type { BatchKeys, CountWindowOperator, KeyModeOf, CountWindowSpec, NormalizedCountWindowSpec, WindowOutput, WindowResult } from '../types.js';
import { Acc } from './accumulator.js';
import { KeyMap, toF64 } from './keys.js';
import { ByteReader, ByteWriter, decodeTimeSnapshot, encodeTimeSnapshot, expectState, KIND_COUNT } from './snapshot.js';
import { normalizeCountWindowSpec, sameNormalized } from './spec.js';

interface Open {
  start: number;
  rows: number;
  acc: Acc;
}

interface KeyState {
  /** Rows of the key so far. */
  n: number;
  /** Open windows, oldest first. */
  open: Open[];
}

/** The operator behind {@link createCountWindows}; the keyed operator (src/keyed/) also runs it on part of the keys and snapshots it per key group. */
export class CountWindows implements CountWindowOperator {
  readonly spec: Readonly<NormalizedCountWindowSpec>;
  private readonly keyMap: KeyMap;
  private readonly state = new Map<number, KeyState>();
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
  }

  private check(): void {
    if (this.disposed) throw new Error('operator has been disposed');
    if (this.ended) throw new Error('stream has ended (flush() was called): reset() to start again');
  }

  private result(k: number, w: Open): WindowResult {
    const s = this.spec;
    return { key: this.keyMap.keyOf(k), start: w.start, end: w.start + w.rows, value: w.acc.value(s.op, s.minPeriods, this.ddof, this.q), count: w.acc.n, update: false };
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

  /** One row of key k: added to its open windows; the windows it completes are emitted. */
  private row(op: NormalizedCountWindowSpec['op'], size: number, step: number, x: number, k: number, row: number, windows: WindowResult[]): void {
    let st = this.state.get(k);
    if (st === undefined) this.state.set(k, (st = { n: 0, open: [] }));
    const p = st.n++;
    if (p % step === 0) st.open.push({ start: p, rows: 0, acc: new Acc(op) });
    for (const w of st.open) {
      w.acc.add(op, x, row, row);
      w.rows++;
    }
    while (st.open.length > 0 && st.open[0]!.rows === size) windows.push(this.result(k, st.open.shift()!));
  }

  /**
   * The keyed operator's push (numeric key ids): rows with skip[i] = 1 belong
   * to other workers and only count as rows (row numbers order `first` and
   * `last`). `marks` gets two counts of `windows` per row (the same: a count
   * window fires on its key's own row), as EventTimeWindows.pushRows, and
   * `at`/`batchRows` are as there (routed rows: only the worker's own).
   */
  pushRows(_ts: Float64Array | undefined, vals: Float64Array, ids: Uint32Array | undefined, skip: Uint8Array, marks: number[], at?: Uint32Array, batchRows = vals.length): WindowOutput {
    this.check();
    const { op, size, step } = this.spec;
    const windows: WindowResult[] = [];
    for (let i = 0; i < vals.length; i++) {
      if (skip[i] === 0) this.row(op, size, step, vals[i]!, ids === undefined ? 0 : ids[i]!, this.rowsSeen + (at === undefined ? i : at[i]!), windows);
      marks.push(windows.length, windows.length);
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
    let n = 0;
    for (const st of this.state.values()) n += 1 + st.open.length;
    return n;
  }

  flush(): WindowOutput {
    this.check();
    const windows: WindowResult[] = [];
    const keys = [...this.state.keys()].sort((a, b) => a - b);
    for (const k of keys) for (const w of this.state.get(k)!.open) windows.push(this.result(k, w));
    this.state.clear();
    this.ended = true;
    return { windows, late: [] };
  }

  /** The snapshot; with `keep`, of the keys it accepts only (a key group's state, which restoreState(…, keep) merges in). */
  snapshot(keep?: (key: number) => boolean): Uint8Array {
    if (this.disposed) throw new Error('operator has been disposed');
    const w = new ByteWriter();
    w.u8(this.ended ? 1 : 0);
    w.f64(this.rowsSeen);
    w.u32(this.keyMap.names.length);
    for (const name of this.keyMap.names) w.str(name);
    const kept = [...this.state].filter(([k]) => keep === undefined || keep(k));
    w.u32(kept.length);
    for (const [k, st] of kept) {
      w.u32(k);
      w.f64(st.n);
      w.u32(st.open.length);
      for (const o of st.open) {
        w.f64(o.start);
        w.f64(o.rows);
        o.acc.write(w);
      }
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
    const state = new Map<number, KeyState>();
    let total = 0;
    for (let i = 0; i < nKeys; i++) {
      const k = r.u32();
      const n = r.f64();
      expectState(!state.has(k) && Number.isInteger(n) && n >= 1 && n <= rowsSeen, `key ${k}: bad row count`);
      expectState(keep === undefined || (keep(k) && s.keys !== 'string'), `key ${k} is not of this key group`);
      expectState(s.keys !== 'none' || k === 0, 'unkeyed snapshot with a key other than 0');
      expectState(s.keys !== 'string' || k < names.length, `key id ${k} has no name`);
      total += n;
      const nOpen = r.count(16, 'open window');
      const open: Open[] = [];
      for (let j = 0; j < nOpen; j++) {
        const start = r.f64();
        const rows = r.f64();
        const acc = Acc.read(s.op, r);
        // Window starts are the multiples of step whose windows are not complete yet.
        expectState(Number.isInteger(start) && start % s.step === 0 && rows === Math.min(n - start, s.size) && rows >= 1 && rows < s.size, `key ${k}: open window out of range`);
        expectState(j === 0 || start === open[j - 1]!.start + s.step, `key ${k}: open windows not consecutive`);
        expectState(acc.rows === rows, `key ${k}: window counts differ from the rows it holds`);
        open.push({ start, rows, acc });
      }
      // Open: the windows j with j·step < n < j·step + size, consecutive from jlo to jhi.
      const jhi = Math.floor((n - 1) / s.step);
      const jlo = Math.max(0, Math.floor((n - s.size) / s.step) + 1);
      expectState(nOpen === Math.max(0, jhi - jlo + 1) && (nOpen === 0 || open[0]!.start === jlo * s.step), `key ${k}: open windows do not match its row count`);
      state.set(k, { n, open });
    }
    r.end();
    expectState(total <= rowsSeen, 'keys count more rows than seen');
    expectState(ended === 0 || nKeys === 0, 'ended stream with open windows');
    if (keep === undefined) this.keyMap.load(names);
    this.rowsSeen = Math.max(rowsSeen, this.rowsSeen);
    this.ended = ended === 1;
    for (const [k, st] of state) this.state.set(k, st);
  }

  reset(): void {
    if (this.disposed) throw new Error('operator has been disposed');
    this.state.clear();
    this.keyMap.clear();
    this.rowsSeen = 0;
    this.ended = false;
  }

  dispose(): void {
    this.disposed = true;
    this.state.clear();
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
