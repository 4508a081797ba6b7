// Rolling aggregates over a trailing duration, keyed or not, in one WASM
// instance (assembly/kernels/timeroll.ts) that holds every key's window.
// This layer converts and checks batches, moves them through the instance's
// IO buffers, holds rows for out-of-order arrival, and (de)serializes state.
import { compiledModule, instantiateKernel } from '../engine.js';
import { SnapshotError } from '../errors.js';
import type {
  BatchKeys,
  DurationRollingSpec,
  KeyModeOf,
  NormalizedDurationRollingSpec,
  RollingOutput,
  TimeOp,
  TimeRolling,
} from '../types.js';
import { checkTimestamps, KeyMap, MAX_TIMESTAMP, OneRow, toF64 } from './keys.js';
import { ByteReader, ByteWriter, decodeTimeSnapshot, encodeTimeSnapshot, expectState, KIND_ROLLING } from './snapshot.js';
import { Reorderer, type Released } from './reorder.js';
import { normalizeDurationRolling, sameNormalized } from './spec.js';

/** Op codes of timeroll.ts. */
export const TIMEROLL_OPS: Record<TimeOp, number> = {
  sum: 0,
  mean: 1,
  count: 2,
  min: 3,
  max: 4,
  var: 5,
  std: 6,
  median: 7,
  quantile: 8,
  first: 9,
  last: 10,
};
const CLOSED_CODES = { right: 0, left: 1, both: 2, neither: 3 } as const;
/** Initial IO capacity (rows); the kernel grows it on demand (reserve) up to 2^20 rows. */
const IO_ROWS = 32768;

interface TimerollExports {
  memory: WebAssembly.Memory;
  init(op: number, window: number, closed: number, minPeriods: number, p0: number, keyed: number, ttl: number, capacity: number): number;
  reset(): number;
  tsPtr(): number;
  valPtr(): number;
  keyPtr(): number;
  outPtr(): number;
  capacity(): number;
  reserve(n: number): number;
  layoutVersion(): number;
  liveKeyCount(): number;
  slotHighWater(): number;
  arenaBytes(): number;
  stateBytes(): number;
  maybeCompact(): number;
  getMaxTs(): number;
  setMaxTs(t: number): void;
  setHostClock(on: number): void;
  maxBeforePtr(): number;
  sweep(): number;
  check(n: number, cont: number): number;
  update(n: number): number;
  slotKey(i: number): number;
  slotLen(i: number): number;
  slotFront(i: number): number;
  slotLastTs(i: number): number;
  exportRows(i: number, from: number, n: number): void;
  importKey(key: number, lastTs: number): number;
  importRows(i: number, n: number): number;
  importFinish(i: number, front: number): void;
  groupCount(): number;
  recPtr(): number;
  slotIdxPtr(): number;
  touchedPtr(): number;
  follow(nt: number, n: number): number;
}

async function instantiate(spec: NormalizedDurationRollingSpec): Promise<TimerollExports> {
  const ex = await instantiateKernel<TimerollExports>(await compiledModule('timeroll'));
  const p0 = spec.ddof ?? spec.q ?? 0;
  const status = ex.init(
    TIMEROLL_OPS[spec.op],
    spec.window,
    CLOSED_CODES[spec.closed],
    spec.minPeriods,
    p0,
    spec.keys === 'none' ? 0 : 1,
    spec.ttl,
    IO_ROWS,
  );
  if (status === 2) throw new RangeError('not enough WebAssembly memory for a duration-rolling kernel');
  if (status !== 0) throw new RangeError(`the duration-rolling kernel refused its parameters (status ${status})`);
  return ex;
}

/** The whole stream's clock for rows of it (see pushIds): per row the greatest earlier timestamp, and the greatest after them. */
export interface StreamClock {
  before: Float64Array;
  after: number;
}

interface Clock {
  rowsSeen: number;
  maxTs: number;
  lastSweep: number;
}

/** The clock at the start of a snapshot's state, checked. */
function readClock(r: ByteReader): Clock {
  const rowsSeen = r.f64();
  expectState(Number.isInteger(rowsSeen) && rowsSeen >= 0 && rowsSeen <= 2 ** 53, 'row counter out of range');
  const maxTs = r.f64();
  expectState(maxTs === -Infinity || Math.abs(maxTs) <= MAX_TIMESTAMP, 'greatest timestamp is not finite or beyond ±2^53 ms');
  const lastSweep = r.f64();
  expectState(lastSweep === -Infinity || (Number.isFinite(lastSweep) && lastSweep <= maxTs), 'sweep time out of range');
  return { rowsSeen, maxTs, lastSweep };
}

/** The operator behind {@link createTimeRolling}; the keyed operator (src/keyed/) also snapshots and merges it per key group. */
export class DurationRolling implements TimeRolling {
  readonly spec: Readonly<NormalizedDurationRollingSpec>;
  private ex: TimerollExports | undefined;
  private readonly keyMap: KeyMap;
  private rowsSeen = 0;
  private lastSweep = -Infinity;
  /** Out-of-order state (maxOutOfOrderness > 0): per key, greatest timestamp and held rows. */
  private readonly reorder: Reorderer;
  private buffer: ArrayBuffer | undefined;
  private readonly one = new OneRow();
  private viewPtr = -1;
  private viewCap = -1;
  private viewLayout = -1;
  private tsView = new Float64Array(0);
  private valView = new Float64Array(0);
  private outView = new Float64Array(0);
  private keyView = new Uint32Array(0);
  private beforeView = new Float64Array(0);
  /**
   * The arrays of the last batch run in one update (no ttl, keyed): while
   * they are the same objects, another operator over the same rows may take
   * its grouping by key from this instance (pushIdsFollowing).
   */
  private groupedTs: Float64Array | undefined;
  private groupedVals: Float64Array | undefined;
  private groupedIds: Uint32Array | undefined;

  constructor(spec: NormalizedDurationRollingSpec, ex: TimerollExports) {
    this.spec = Object.freeze(spec);
    this.ex = ex;
    this.keyMap = new KeyMap(spec.keys);
    this.reorder = new Reorderer(spec.maxOutOfOrderness);
  }

  private live(): TimerollExports {
    if (this.ex === undefined) throw new Error('operator has been disposed');
    return this.ex;
  }

  private views(ex: TimerollExports): void {
    const buffer = ex.memory.buffer as ArrayBuffer;
    const ptr = ex.tsPtr();
    const cap = ex.capacity();
    // Blocks move when the kernel compacts (between batches, or inside update()).
    const layout = ex.layoutVersion();
    if (buffer === this.buffer && ptr === this.viewPtr && cap === this.viewCap && layout === this.viewLayout) return;
    this.buffer = buffer;
    this.viewPtr = ptr;
    this.viewCap = cap;
    this.viewLayout = layout;
    this.tsView = new Float64Array(buffer, ex.tsPtr(), cap);
    this.valView = new Float64Array(buffer, ex.valPtr(), cap);
    this.outView = new Float64Array(buffer, ex.outPtr(), cap);
    this.keyView = new Uint32Array(buffer, ex.keyPtr(), cap);
    if (this.spec.ttl !== Infinity) this.beforeView = new Float64Array(buffer, ex.maxBeforePtr(), cap);
  }

  get liveKeys(): number {
    return this.live().liveKeyCount();
  }

  /** Bytes of WebAssembly memory (the high-water mark: WASM memory never shrinks). */
  get memoryBytes(): number {
    return this.live().memory.buffer.byteLength;
  }

  /** Bytes the state holds now: the key tables and every key's window (not the IO buffers, nor freed blocks). */
  get stateBytes(): number {
    return this.live().stateBytes();
  }

  private load(ex: TimerollExports, ts: Float64Array, vals: Float64Array, keys: Uint32Array | undefined, from: number, n: number, clock?: StreamClock): void {
    this.views(ex);
    this.tsView.set(ts.subarray(from, from + n));
    this.valView.set(vals.subarray(from, from + n));
    if (keys !== undefined) this.keyView.set(keys.subarray(from, from + n));
    if (clock !== undefined) this.beforeView.set(clock.before.subarray(from, from + n));
  }

  /**
   * Runs rows already in order per key through the kernel; results into out[at…]. The kernel's
   * check also refuses timestamps that are not finite or beyond ±2^53 ms (a batch it refuses is
   * given checkTimestamps' exact error first, as if that ran before). With `namesBefore`, the
   * string key names this batch added (those past that many) are dropped again when it is refused.
   */
  private run(ts: Float64Array, vals: Float64Array, keys: Uint32Array | undefined, rowOf: (i: number) => number, out: Float64Array, clock?: StreamClock, namesBefore?: number): void {
    const ex = this.live();
    this.forgetGrouping();
    ex.setHostClock(clock === undefined ? 0 : 1);
    const n = ts.length;
    // Grow the IO buffers for large batches: rows are grouped by key per chunk, so bigger chunks mean fewer visits per key.
    const cap = n > ex.capacity() ? ex.reserve(n) : ex.capacity();
    // Check everything before anything changes: a bad row leaves the state as it was.
    if (n > cap) {
      for (let from = 0; from < n; from += cap) {
        const m = Math.min(cap, n - from);
        this.load(ex, ts, vals, keys, from, m, clock);
        this.checkResult(ex.check(m, from === 0 ? 0 : 1), from, ts, keys, rowOf, namesBefore);
      }
    }
    for (let from = 0; from < n; from += cap) {
      const m = Math.min(cap, n - from);
      this.load(ex, ts, vals, keys, from, m, clock);
      this.checkResult(ex.check(m, 0), from, ts, keys, rowOf, namesBefore);
      const status = ex.update(m);
      if (status !== -1) throw new RangeError(`not enough WebAssembly memory for the keys' windows (at row ${rowOf(from - 2 - status)})`);
      this.views(ex);
      out.set(this.outView.subarray(0, m), from);
    }
    if (clock !== undefined) ex.setMaxTs(Math.max(clock.after, ex.getMaxTs()));
    else if (n <= cap && keys !== undefined && this.spec.ttl === Infinity) {
      this.groupedTs = ts;
      this.groupedVals = vals;
      this.groupedIds = keys;
    }
    this.afterBatch(ex);
  }

  private forgetGrouping(): void {
    this.groupedTs = this.groupedVals = this.groupedIds = undefined;
  }

  /**
   * pushIds for rows that `leader` (another operator of this module) has just
   * run, the same arrays: takes the leader's grouping by key (its grouped rows,
   * each row's place, the keys' runs: copied with one `set` each) instead of
   * checking and grouping them again, so a job's ops over the same rows group
   * them once. Every key gets the same operations in the same order: the same
   * results. Falls back to pushIds when the leader did not run exactly these
   * rows in one update, or this instance is not in step with it.
   */
  pushIdsFollowing(leader: DurationRolling, ts: Float64Array, vals: Float64Array, ids: Uint32Array, out: Float64Array): void {
    this.live();
    if (leader.groupedTs === ts && leader.groupedVals === vals && leader.groupedIds === ids && this.spec.ttl === Infinity && this.runFollowing(leader.live(), ts.length, out)) {
      this.rowsSeen += ts.length;
      return;
    }
    this.pushIds(ts, vals, ids, out);
  }

  /** The leader's grouping of its last n rows copied in and run (see pushIdsFollowing); false when not in step (nothing changed). */
  private runFollowing(lx: TimerollExports, n: number, out: Float64Array): boolean {
    const ex = this.ex!;
    this.forgetGrouping();
    const nt = lx.groupCount();
    if (nt === 0 || (n > ex.capacity() && ex.reserve(n) < n)) return false;
    ex.setHostClock(0);
    const from = lx.memory.buffer;
    const to = ex.memory.buffer;
    new Uint8Array(to, ex.recPtr(), 16 * n).set(new Uint8Array(from, lx.recPtr(), 16 * n));
    new Uint8Array(to, ex.slotIdxPtr(), 4 * n).set(new Uint8Array(from, lx.slotIdxPtr(), 4 * n));
    new Uint8Array(to, ex.keyPtr(), 4 * nt).set(new Uint8Array(from, lx.keyPtr(), 4 * nt));
    new Uint8Array(to, ex.touchedPtr(), 4 * nt).set(new Uint8Array(from, lx.touchedPtr(), 4 * nt));
    const status = ex.follow(nt, n);
    if (status >= 0) return false;
    if (status !== -1) throw new RangeError(`not enough WebAssembly memory for the keys' windows (at row ${this.rowsSeen - 2 - status})`);
    this.views(ex);
    out.set(this.outView.subarray(0, n));
    this.afterBatch(ex);
    return true;
  }

  /** Between batches: sweeps keys past their ttl once the clock moved a ttl on, and reclaims freed blocks. */
  private afterBatch(ex: TimerollExports): void {
    const maxTs = ex.getMaxTs();
    if (this.spec.ttl !== Infinity && maxTs - this.lastSweep >= this.spec.ttl) {
      ex.sweep();
      this.lastSweep = maxTs;
    }
    this.compact(ex);
  }

  /** A batch of the stream without rows for this operator (a keyed worker's, with a ttl): its greatest timestamp t still moves the clock. */
  advanceClock(t: number): void {
    const ex = this.live();
    ex.setMaxTs(Math.max(t, ex.getMaxTs()));
    this.afterBatch(ex);
  }

  /** Lets the kernel reclaim freed blocks (grown rings, removed keys) between batches; its buffers may move. */
  private compact(ex: TimerollExports): void {
    ex.maybeCompact(); // views() sees the move (layoutVersion)
  }

  private checkResult(r: number, from: number, ts: Float64Array, keys: Uint32Array | undefined, rowOf: (i: number) => number, namesBefore?: number): void {
    if (r === -1) return;
    // Refused (the kernel removed the keys it inserted): the names this batch added go too.
    if (namesBefore !== undefined) this.keyMap.truncate(namesBefore);
    // A bad timestamp anywhere in the batch is the error, as when checkTimestamps ran first (it throws here).
    checkTimestamps(ts, rowOf(0));
    if (r <= -2) throw new RangeError(`not enough WebAssembly memory for the keys' windows (at row ${rowOf(from - 2 - r)})`);
    const i = from + r;
    const key = keys === undefined ? '' : ` of key ${JSON.stringify(this.keyMap.keyOf(keys[i]!))}`;
    throw new RangeError(
      `row ${rowOf(i)}${key}: timestamp ${ts[i]} is earlier than the key's previous row; rolling by duration needs non-decreasing timestamps per key (or maxOutOfOrderness covering the disorder). Nothing of this batch was processed.`,
    );
  }

  push(timestamps: Float64Array | readonly number[], values: Float64Array | readonly number[], keys?: BatchKeys): RollingOutput {
    this.live();
    const ts = toF64(timestamps, 'timestamps');
    const vals = toF64(values, 'values');
    if (ts.length !== vals.length) throw new RangeError(`timestamps and values must have the same length, got ${ts.length} and ${vals.length}`);
    const base = this.rowsSeen;
    if (this.spec.maxOutOfOrderness === 0) {
      const namesBefore = this.keyMap.names.length;
      return inOrderOutput(base, this.runInOrder(ts, vals, this.inOrderIds(keys, ts), new Float64Array(ts.length), namesBefore));
    }
    checkTimestamps(ts, base);
    return this.pushOutOfOrder(ts, vals, this.keyMap.ids32(keys, ts.length));
  }

  pushInto(timestamps: Float64Array | readonly number[], values: Float64Array | readonly number[], out: Float64Array, keys?: BatchKeys): number {
    this.live();
    if (this.spec.maxOutOfOrderness !== 0) throw new TypeError('pushInto needs maxOutOfOrderness 0 (rows held for reordering come out later and in another order); use push');
    const ts = toF64(timestamps, 'timestamps');
    const vals = toF64(values, 'values');
    if (ts.length !== vals.length) throw new RangeError(`timestamps and values must have the same length, got ${ts.length} and ${vals.length}`);
    if (!(out instanceof Float64Array)) throw new TypeError(`out must be a Float64Array, got ${out === null ? 'null' : typeof out}`);
    if (out.length < ts.length) throw new RangeError(`out must hold a result per row: ${ts.length} rows, out has ${out.length}`);
    const namesBefore = this.keyMap.names.length;
    this.runInOrder(ts, vals, this.inOrderIds(keys, ts), out, namesBefore);
    return ts.length;
  }

  /**
   * The key ids of in-order rows, whose timestamps the kernel's check refuses (see run): a bad
   * key's error goes second to a bad timestamp's, as when checkTimestamps ran first. String keys
   * are checked first: their mapping must not take a batch's names before its timestamps passed.
   */
  private inOrderIds(keys: BatchKeys | undefined, ts: Float64Array): Uint32Array | undefined {
    if (this.keyMap.mode === 'string') checkTimestamps(ts, this.rowsSeen);
    try {
      return this.keyMap.ids32(keys, ts.length);
    } catch (error) {
      checkTimestamps(ts, this.rowsSeen);
      throw error;
    }
  }

  /** In-order rows (maxOutOfOrderness 0), checked but for their order and timestamps (run): results into out[0 … n); returns out. */
  private runInOrder(ts: Float64Array, vals: Float64Array, ids: Uint32Array | undefined, out: Float64Array, namesBefore?: number): Float64Array {
    const base = this.rowsSeen;
    this.run(ts, vals, ids, (i) => base + i, out, undefined, namesBefore);
    this.rowsSeen += ts.length;
    return out;
  }

  pushRow(time: number, value: number, ...key: (number | string | undefined)[]): number {
    this.live();
    if (this.spec.maxOutOfOrderness !== 0) throw new TypeError('pushRow needs maxOutOfOrderness 0 (a row held for reordering has no result yet); use push');
    const one = this.one.set(time, value);
    const namesBefore = this.keyMap.names.length;
    this.runInOrder(one.ts, one.vals, this.keyMap.ids32(OneRow.keys(key), 1), one.out, namesBefore);
    return one.out[0]!;
  }

  /**
   * In-order rows with numeric key ids (undefined: unkeyed), one result per
   * row into `out`: the keyed operator's path (no key mapping, no copies of
   * the result). Needs maxOutOfOrderness 0. With `clock` (a finite ttl), the
   * rows are some of a stream whose other rows this operator is not given:
   * the time to live is measured against the whole stream's clock.
   */
  pushIds(ts: Float64Array, vals: Float64Array, ids: Uint32Array | undefined, out: Float64Array, clock?: StreamClock): void {
    this.live();
    const base = this.rowsSeen;
    // The kernel's check refuses bad timestamps too (see run).
    this.run(ts, vals, ids, (i) => base + i, out, clock);
    this.rowsSeen += ts.length;
  }

  /** The greatest timestamp seen (−Infinity before any row). */
  get maxTimestamp(): number {
    return this.live().getMaxTs();
  }

  private pushOutOfOrder(ts: Float64Array, vals: Float64Array, ids: Uint32Array | undefined): RollingOutput {
    const ooo = this.spec.maxOutOfOrderness;
    const base = this.rowsSeen;
    const n = ts.length;
    // Check the whole batch first.
    const late = this.reorder.tooLate(ts, ids);
    if (late !== undefined) {
      const i = late.index;
      const key = ids === undefined ? '' : ` of key ${JSON.stringify(this.keyMap.keyOf(ids[i]!))}`;
      throw new RangeError(
        `row ${base + i}${key}: timestamp ${ts[i]} is more than maxOutOfOrderness (${ooo} ms) behind the key's greatest timestamp ${late.max}; it cannot be placed in order. Nothing of this batch was processed.`,
      );
    }
    const released = this.reorder.push(ts, vals, ids, base);
    this.rowsSeen += n;
    return this.release(released);
  }

  private release(rel: Released): RollingOutput {
    const out = new Float64Array(rel.ts.length);
    // The released columns are fresh typed arrays: used as they are, not copied.
    this.run(rel.ts, rel.val, this.spec.keys === 'none' ? undefined : rel.key, (i) => rel.row[i]!, out);
    return { rows: rel.row, values: out };
  }

  flush(): RollingOutput {
    this.live();
    return this.release(this.reorder.flush());
  }

  idleAdvance(ms: number): RollingOutput {
    this.live();
    if (!(ms >= 0 && ms < Infinity)) throw new RangeError(`idleAdvance needs a non-negative finite number of ms, got ${ms}`);
    return this.release(this.reorder.advance(ms));
  }

  /** The snapshot; with `keep`, of the keys it accepts only (a key group's state, which restoreState(…, keep) merges in). */
  snapshot(keep?: (key: number) => boolean): Uint8Array {
    const ex = this.live();
    const high = ex.slotHighWater();
    const live: number[] = [];
    for (let i = 0; i < high; i++) if (ex.slotLen(i) >= 0 && (keep === undefined || keep(ex.slotKey(i)))) live.push(i);
    return this.snapshotSlots(live, keep);
  }

  /**
   * The live key slots (ascending: the order snapshot() writes them) by
   * `groupOf(key)`, in one pass: for a snapshot of every key group, where
   * snapshot(keep) per group would scan every key once per group. Valid
   * until the next rows or restore.
   */
  slotsByGroup(groupOf: (key: number) => number): Map<number, number[]> {
    const ex = this.live();
    const high = ex.slotHighWater();
    const groups = new Map<number, number[]>();
    for (let i = 0; i < high; i++) {
      if (ex.slotLen(i) < 0) continue;
      const g = groupOf(ex.slotKey(i));
      const list = groups.get(g);
      if (list === undefined) groups.set(g, [i]);
      else list.push(i);
    }
    return groups;
  }

  /** snapshot(keep) given the slots of the keys `keep` accepts (ascending, from slotsByGroup). */
  snapshotSlots(live: readonly number[], keep?: (key: number) => boolean): Uint8Array {
    const ex = this.live();
    const w = new ByteWriter();
    w.f64(this.rowsSeen);
    w.f64(ex.getMaxTs());
    w.f64(this.lastSweep);
    w.u32(this.keyMap.names.length);
    for (const name of this.keyMap.names) w.str(name);
    w.u32(live.length);
    const cap = ex.capacity();
    for (const i of live) {
      const len = ex.slotLen(i);
      w.u32(ex.slotKey(i));
      w.f64(ex.slotLastTs(i));
      w.u32(len);
      w.u32(ex.slotFront(i));
      for (let from = 0; from < len; from += cap) {
        const m = Math.min(cap, len - from);
        ex.exportRows(i, from, m);
        this.views(ex);
        w.f64s(this.tsView.subarray(0, m));
        w.f64s(this.valView.subarray(0, m));
      }
    }
    this.reorder.write(w, keep);
    return encodeTimeSnapshot(KIND_ROLLING, this.spec, w.bytes());
  }

  /**
   * Loads a snapshot's state into this fresh operator, validating every field
   * first. With `keep` (numeric keys only), merges a key group's state into
   * this operator instead: every key must pass `keep` and be new here; the
   * counters and greatest timestamp become the larger of both.
   */
  restoreState(state: Uint8Array, keep?: (key: number) => boolean): void {
    const ex = this.live();
    this.forgetGrouping();
    const spec = this.spec;
    const r = new ByteReader(state);
    const { rowsSeen, maxTs, lastSweep } = readClock(r);
    const nNames = r.count(4, 'key name');
    expectState(spec.keys === 'string' || nNames === 0, 'key names in a snapshot without string keys');
    const names: string[] = [];
    for (let i = 0; i < nNames; i++) names.push(r.str());
    expectState(new Set(names).size === names.length, 'duplicate key names');
    const nSlots = r.count(24, 'key');
    expectState(spec.keys !== 'none' || nSlots <= 1, 'several keys in an unkeyed snapshot');
    const leftClosed = spec.closed === 'left' || spec.closed === 'both';
    const slots: { key: number; lastTs: number; front: number; ts: Float64Array; val: Float64Array }[] = [];
    const seen = new Set<number>();
    for (let s = 0; s < nSlots; s++) {
      const key = r.u32();
      const lastTs = r.f64();
      const len = r.count(16, 'window row');
      const front = r.u32();
      const ts = new Float64Array(len);
      const val = new Float64Array(len);
      for (let from = 0; from < len; from += IO_ROWS) {
        const m = Math.min(IO_ROWS, len - from);
        ts.set(r.f64s(m), from);
        val.set(r.f64s(m), from);
      }
      expectState(!seen.has(key), `key ${key} appears twice`);
      expectState(keep === undefined || keep(key), `key ${key} is not of this key group`);
      seen.add(key);
      expectState(spec.keys !== 'none' || key === 0, 'unkeyed snapshot with a key other than 0');
      expectState(spec.keys !== 'string' || key < names.length, `key id ${key} has no name`);
      expectState(lastTs === -Infinity ? len === 0 : Number.isFinite(lastTs) && lastTs <= maxTs, `key ${key}: last timestamp out of range`);
      const twoStack = !(spec.op === 'count' || spec.op === 'median' || spec.op === 'quantile');
      expectState(front <= len && (twoStack || front === 0), `key ${key}: stack boundary out of range`);
      for (let i = 0; i < len; i++) {
        const t = ts[i]!;
        const bound = lastTs - spec.window;
        expectState(Number.isFinite(t) && t <= lastTs && (leftClosed ? t >= bound : t > bound), `key ${key}: row ${i} of its window is outside the window`);
        expectState(i === 0 || t >= ts[i - 1]!, `key ${key}: window rows out of order`);
      }
      expectState(len === 0 || ts[len - 1] === lastTs, `key ${key}: last row's timestamp differs from the key's`);
      slots.push({ key, lastTs, front, ts, val });
    }
    const held = this.reorder.read(
      r,
      rowsSeen,
      (k) => {
        expectState(spec.keys !== 'none' || k === 0, 'unkeyed snapshot with a key other than 0');
        expectState(spec.keys !== 'string' || k < names.length, `key id ${k} has no name`);
      },
      keep,
    );
    r.end();
    // Everything is valid: build the state.
    // Merging: the keyed operator restores each key group once, before any row, so its keys are new here.
    expectState(keep === undefined || spec.keys !== 'string', 'merging needs numeric keys');
    if (keep === undefined) this.keyMap.load(names);
    const cap = ex.capacity();
    for (const slot of slots) {
      const idx = ex.importKey(slot.key, slot.lastTs);
      if (idx === 0) throw new SnapshotError('BAD_STATE', 'not enough WebAssembly memory to restore the snapshot');
      for (let from = 0; from < slot.ts.length; from += cap) {
        const m = Math.min(cap, slot.ts.length - from);
        this.views(ex);
        this.tsView.set(slot.ts.subarray(from, from + m));
        this.valView.set(slot.val.subarray(from, from + m));
        if (ex.importRows(idx - 1, m) === 0) throw new SnapshotError('BAD_STATE', 'not enough WebAssembly memory to restore the snapshot');
      }
      ex.importFinish(idx - 1, slot.front);
    }
    this.compact(ex);
    this.raiseClock({ rowsSeen, maxTs, lastSweep });
    this.reorder.install(held);
  }

  /** Raises the clock (row count, greatest timestamp, last sweep) to a snapshot's, leaving its keys out. */
  restoreClock(state: Uint8Array): void {
    this.raiseClock(readClock(new ByteReader(state)));
  }

  private raiseClock(clock: Clock): void {
    const ex = this.live();
    ex.setMaxTs(Math.max(clock.maxTs, ex.getMaxTs()));
    this.rowsSeen = Math.max(clock.rowsSeen, this.rowsSeen);
    this.lastSweep = Math.max(clock.lastSweep, this.lastSweep);
  }

  reset(): void {
    const ex = this.live();
    this.forgetGrouping();
    if (ex.reset() !== 0) throw new RangeError('not enough WebAssembly memory to reset');
    this.keyMap.clear();
    this.rowsSeen = 0;
    this.lastSweep = -Infinity;
    this.reorder.clear();
  }

  dispose(): void {
    this.forgetGrouping();
    this.ex = undefined;
  }
}

/**
 * Creates a rolling-by-duration operator: pandas' `df.rolling('5s', on='ts')`
 * per row, or `df.groupby(key).rolling('5s', on='ts')` with keys. Every
 * key's window lives in one WebAssembly instance. Throws `TypeError` /
 * `RangeError` naming the field for a bad spec.
 *
 * @example
 * ```ts
 * const op = await createTimeRolling({ op: 'mean', window: '5s', keys: 'string' });
 * const { values } = op.push([0, 1000, 6000], [1, 3, 5], ['a', 'a', 'a']); // [1, 2, 5]
 * ```
 */
export async function createTimeRolling<const S extends DurationRollingSpec>(spec: S): Promise<TimeRolling<KeyModeOf<S>>> {
  return createDurationRolling(normalizeDurationRolling(spec));
}

/** The operator of a normalized spec, with the methods the keyed operator uses. */
export async function createDurationRolling(spec: NormalizedDurationRollingSpec): Promise<DurationRolling> {
  return new DurationRolling(spec, await instantiate(spec));
}

/**
 * Restores a rolling-by-duration operator from its snapshot; it continues
 * bit-identically. Throws {@link SnapshotError} for a truncated, corrupt or
 * foreign snapshot, or (with `expected`) one of another spec.
 *
 * @example
 * ```ts
 * const copy = await restoreTimeRolling(op.snapshot());
 * ```
 */
export async function restoreTimeRolling(snapshot: Uint8Array, expected?: DurationRollingSpec): Promise<TimeRolling> {
  const { spec: raw, state } = decodeTimeSnapshot(snapshot, KIND_ROLLING);
  let spec: NormalizedDurationRollingSpec;
  try {
    spec = normalizeDurationRolling(raw);
  } catch (error) {
    throw new SnapshotError('BAD_PARAMETERS', `snapshot holds an invalid spec: ${(error as Error).message}`);
  }
  if (!sameNormalized(spec, raw)) throw new SnapshotError('BAD_PARAMETERS', `snapshot holds a spec that is not normalized: ${JSON.stringify(raw)}`);
  if (expected !== undefined) {
    const wanted = normalizeDurationRolling(expected);
    if (!sameNormalized(wanted, spec)) {
      throw new SnapshotError('OP_MISMATCH', `snapshot is of ${JSON.stringify(spec)}, expected ${JSON.stringify(wanted)}`);
    }
  }
  const op = new DurationRolling(spec, await instantiate(spec));
  op.restoreState(state);
  return op;
}

/**
 * Rolling by duration over whole columns, one result per row (in row order):
 * pandas' `df.rolling(window, on='ts').<op>()`, or per key with `keys`.
 *
 * @example
 * ```ts
 * await rollingByTime([0, 1000, 2500], [1, 2, 3], { op: 'sum', window: '2s' }); // [1, 3, 5]
 * ```
 */
export async function rollingByTime(
  timestamps: Float64Array | readonly number[],
  values: Float64Array | readonly number[],
  spec: DurationRollingSpec,
  keys?: BatchKeys,
): Promise<Float64Array> {
  const op = await createTimeRolling(spec);
  try {
    const a = op.push(timestamps, values, keys);
    const b = op.flush();
    const out = new Float64Array(a.rows.length + b.rows.length);
    for (const part of [a, b]) for (let i = 0; i < part.rows.length; i++) out[part.rows[i]!] = part.values[i]!;
    return out;
  } finally {
    op.dispose();
  }
}

/**
 * The output of rows released in push order: row numbers base, base + 1, …,
 * made on first read of `rows` (an own property all the same), since many
 * callers read only the values and the column cost as much as the result copy.
 */
function inOrderOutput(base: number, values: Float64Array): RollingOutput {
  let rows: Float64Array | undefined;
  return {
    get rows(): Float64Array {
      if (rows === undefined) {
        rows = new Float64Array(values.length);
        for (let i = 0; i < rows.length; i++) rows[i] = base + i;
      }
      return rows;
    },
    set rows(r: Float64Array) {
      rows = r;
    },
    values,
  };
}
