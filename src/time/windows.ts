// Event-time tumbling, hopping and session windows with a watermark,
// bounded out-of-orderness, allowed lateness, update re-emissions and a late
// side output. Tumbling/hopping window state lives in typed arrays by grid
// bucket (src/time/grid.ts); sessions, their keys and timers in typed-array
// slabs (src/time/sessions.ts), with grid.ts's accumulator layout; see
// docs/TIME-WINDOWS.md.
//
// Rows are processed one at a time, in arrival order, and every decision
// (lateness, firing, purging) is taken after each row, so the output is the
// same for any split of the rows into batches. Timers are ordered by
// (time, fire before purge, key id, window start), all derived from window
// state, so a snapshot needs no timer queue: restore rebuilds it.
import { SnapshotError } from '../errors.js';
import type { BatchKeys, KeyModeOf, LateRow, NormalizedWindowSpec, WindowColumns, WindowOperator, WindowOutput, WindowResult, WindowSpec } from '../types.js';
import { Acc } from './accumulator.js';
import { type AccStore, addSum, addTo, EMITTED, fromAcc, GridBucket, opCode, OP_SUM, OP_VALS, PENDING, pendingByKey, RangeSlots, STRIDE, toAcc, valueOf } from './grid.js';
import { FIRE, FIRE_QUEUED, FORGET, PENDING_FIRE, PURGE, PURGE_QUEUED, type Range, SessionStore, TimerQueue } from './sessions.js';
import { WindowColumnsBuilder } from './columns.js';
import { primeRecordShape } from './record-shape.js';
import { checkGridTimestamps, checkWindowTimestamps, KeyMap, MAX_TIMESTAMP, OneRow, toF64 } from './keys.js';
import { ByteReader, ByteWriter, decodeTimeSnapshot, encodeTimeSnapshot, expectState, KIND_WINDOWS } from './snapshot.js';
import { normalizeWindowSpec, sameNormalized } from './spec.js';

// The records' start and end are tagged fields before the first record is made (record-shape.ts).
primeRecordShape();

/** A window read from a snapshot, before it is installed. */
interface RestoredWindow {
  key: number;
  start: number;
  end: number;
  pendingFire: boolean;
  emitted: Range | undefined;
  merged: Range[];
  acc: Acc;
}

/** Shared empty list (never mutated): most windows merge nothing. */
const NO_RANGES: Range[] = [];

/**
 * The first window index j with j·step + offset + size > t, and the last with
 * j·step + offset ≤ t. Throws RangeError where the indices are not exact
 * integers (the loops below could not step).
 */
export function windowIndexRange(t: number, size: number, step: number, offset: number): [number, number] {
  checkGridTimestamps(Float64Array.of(t), 0, size, step, offset);
  gridRange(t, size, step, offset);
  return [range.lo, range.hi];
}

/** push()'s grid rows go in chunks of at most this many: a batch out of order in one place loses the in-order path for that chunk only. */
const GRID_CHUNK = 16_384;
/** Chunks shorter than this take the row-at-a-time path (a live row, pushRow, checks no order). */
const IN_ORDER_MIN = 16;

/** What gridRange computes: the grid indices [lo, hi] of the windows holding t, and the span [from, to) of times with the same ones. */
const range = { lo: 0, hi: -1, from: Infinity, to: -Infinity };

/** The windows holding t into `range`, without allocating (windowIndexRange returns them); as pushGrid computes it. */
function gridRange(t: number, size: number, step: number, offset: number): void {
  let hi = Math.floor((t - offset) / step);
  while (hi * step + offset > t) hi--;
  while ((hi + 1) * step + offset <= t) hi++;
  let lo = Math.floor((t - offset - size) / step) + 1;
  while (lo * step + offset + size <= t) lo++;
  while ((lo - 1) * step + offset + size > t) lo--;
  range.lo = lo;
  range.hi = hi;
  range.from = Math.max(hi * step + offset, (lo - 1) * step + offset + size);
  range.to = Math.min((hi + 1) * step + offset, lo * step + offset + size);
}

/** Whether ts is in non-decreasing order from a first row at or past wm (no row of it can be late or reach a fired window). */
function inOrderFrom(ts: Float64Array, wm: number): boolean {
  let prev = ts[0]!;
  if (!(prev >= wm)) return false;
  for (let r = 1; r < ts.length; r++) {
    const t = ts[r]!;
    if (!(t >= prev)) return false;
    prev = t;
  }
  return true;
}

/**
 * onTimeRun's loop: rows r0, r0 + 1, … while each is at or past the watermark
 * (clock[0] − delay) and in the range [rFrom, rTo) whose nw buckets are
 * `cb`, and its rise reaches no watermark at which a bucket fires or is
 * purged (nextDue: nextDueWatermark); other
 * workers' rows (skip) only raise clock[0]. Writes both marks of each row
 * (`count`) from marks[m] on; returns the first row it leaves. A function of
 * its own whose code after the loop reads no property: the code compiled on
 * stack replacement, entered again by every call, had no feedback there and
 * deoptimized at each return.
 */
function addOnTimeRows(
  ts: Float64Array,
  vals: Float64Array,
  ids: Uint32Array | undefined,
  skip: Uint8Array,
  marks: Uint32Array,
  at: Uint32Array | undefined,
  r0: number,
  to: number,
  m: number,
  count: number,
  cb: GridBucket[],
  nw: number,
  rFrom: number,
  rTo: number,
  nextDue: number,
  delay: number,
  clock: Float64Array,
  code: number,
  base: number,
): number {
  let maxTs = clock[0]!;
  let r = r0;
  for (; r < to; r++) {
    const t = ts[r]!;
    // pushGrid's test of the rise: nothing is due while the watermark stays below nextDue.
    if (t > maxTs && nextDue <= t - delay) break;
    if (skip[r] === 0) {
      if (!(t >= rFrom && t < rTo && t >= maxTs - delay)) break;
      const k = ids === undefined ? 0 : ids[r]!;
      for (let w = 0; w < nw; w++) {
        const b = cb[w]!;
        let i = b.find(k);
        if (i < 0) i = b.insert(k, i, code, true);
        if (code === OP_SUM) addSum(b.acc, i * 4, vals[r]!);
        else addTo(b, i, code, ts, vals, r, base + (at === undefined ? r : at[r]!));
      }
    }
    marks[m++] = count;
    marks[m++] = count;
    if (t > maxTs) clock[0] = maxTs = t;
  }
  return r;
}

/**
 * pushGridInOrder's rows of one tumbling range into its one bucket, sum and
 * mean: rows r0, r0 + 1, … while t < to (the chunk is in order, so every row
 * from r0 on is at or past the range's start); returns the first row it
 * leaves. A function of its own over the bucket's arrays in locals: the
 * probe inline and Neumaier's add (addSum, small enough for TurboFan to
 * inline), no per-row test of the op, the range width or the slots.
 */
function addSumRun(ts: Float64Array, vals: Float64Array, ids: Uint32Array | undefined, r0: number, to: number, b: GridBucket): number {
  let table = b.table, acc = b.acc;
  let mask = (table.length >> 1) - 1, shift = b.shift;
  const n = ts.length;
  let r = r0;
  for (; r < n; r++) {
    if (!(ts[r]! < to)) break;
    const k = ids === undefined ? 0 : ids[r]!;
    const key = k | 0;
    let h = Math.imul(k, 0x9e3779b1) >>> shift;
    let i: number;
    for (;;) {
      const e = table[2 * h]!;
      if (e === 0) {
        i = b.insert(k, -1 - h, OP_SUM, true);
        // insert may grow the arrays or rehash the table.
        table = b.table;
        acc = b.acc;
        mask = (table.length >> 1) - 1;
        shift = b.shift;
        break;
      }
      if (table[2 * h + 1] === key) {
        i = e - 1;
        break;
      }
      h = (h + 1) & mask;
    }
    addSum(acc, i * 4, vals[r]!);
  }
  return r;
}

/** The operator behind {@link createWindows}; the keyed operator (src/keyed/) also runs it on part of the keys and snapshots it per key group. */
export class EventTimeWindows implements WindowOperator {
  readonly spec: Readonly<NormalizedWindowSpec>;
  private readonly keyMap: KeyMap;
  private readonly one = new OneRow();
  private disposed = false;
  private ended = false;
  private rowsSeen = 0;
  private maxTs = -Infinity;
  private late = 0;
  /** Tumbling/hopping: grid index → its windows. */
  private readonly buckets = new Map<number, GridBucket>();
  /** Tumbling/hopping: the buckets, by ascending grid index. */
  private bucketList: GridBucket[] = [];
  /** Tumbling/hopping: buckets by grid index mod 64, a cache in front of `buckets` (purged buckets have j = NaN). */
  private readonly bucketCache: (GridBucket | undefined)[] = new Array<GridBucket | undefined>(64).fill(undefined);
  /** Tumbling/hopping: purged buckets, for reuse. */
  private bucketPool: GridBucket[] = [];
  /** Tumbling/hopping: accumulator layout (grid.ts). */
  private readonly code: number;
  /** The op is mean (with code OP_SUM). */
  private readonly mean: boolean;
  /** Tumbling/hopping: the grid indices [rangeLo, rangeHi] of the windows holding every t in [rangeFrom, rangeTo). */
  private rangeLo = 0;
  private rangeHi = -1;
  private rangeFrom = Infinity;
  private rangeTo = -Infinity;
  /** Session: the sessions and their keys' purged ends. */
  private store: SessionStore;
  private timers = new TimerQueue();
  private readonly ddof: number;
  private readonly q: number;
  /** onTimeRun's greatest timestamp, as addOnTimeRows raises it. */
  private readonly runClock = new Float64Array(1);
  /** pushGridInOrder's scratch: the buckets of the current row's windows. */
  private readonly rangeBuckets: GridBucket[] = [];
  /** pushGridInOrder's scratch: per key, its windows' indices in rangeBuckets. */
  private readonly rangeSlots = new RangeSlots();
  /**
   * The keyed operator's path (pushRows): rows of other workers' key groups
   * (skip[r] = 1) only advance the watermark, and per row two marks record
   * how many results there were after its own windows and after its
   * watermark advance (to merge workers' results into one order).
   */
  private skip: Uint8Array | undefined;
  private marks: Uint32Array | undefined;
  /** The next entry of `marks`. */
  private markAt = 0;
  /** The keyed operator's routed path: per row given, its row in the batch (rows of other workers are left out). */
  private at: Uint32Array | undefined;
  /**
   * The keyed operator's hook: called with each key whose windows a rising
   * watermark changed (fired, purged, or its purged end forgotten), so that
   * only changed key groups go into incremental checkpoints. Only those: a
   * fired grid window held for its allowed lateness is not reported again
   * until its purge (its snapshot bytes do not change; an update of it by a
   * late row is emitted at once, and the row marks its group).
   */
  onWatermarkChange: ((key: number) => void) | undefined;
  /** pushColumns/flushColumns: windows go here instead of into result objects (set during those calls only). */
  private columns: WindowColumnsBuilder | undefined;
  /** The scratch columns, kept between calls. */
  private columnScratch: WindowColumnsBuilder | undefined;

  constructor(spec: NormalizedWindowSpec) {
    this.spec = Object.freeze(spec);
    this.keyMap = new KeyMap(spec.keys);
    this.ddof = spec.ddof ?? 1;
    this.q = spec.q ?? 0;
    this.code = opCode(spec.op);
    this.mean = spec.op === 'mean';
    this.store = this.newStore();
  }

  private newStore(): SessionStore {
    return new SessionStore(STRIDE[this.code]!, this.code);
  }

  get watermark(): number {
    return this.maxTs - this.spec.maxOutOfOrderness;
  }

  get lateCount(): number {
    return this.late;
  }

  /** Whether flush() ended the stream. */
  get hasEnded(): boolean {
    return this.ended;
  }

  /** Rows pushed so far (the number of the next one). */
  get rowCount(): number {
    return this.rowsSeen;
  }

  private check(): void {
    if (this.disposed) throw new Error('operator has been disposed');
    if (this.ended) throw new Error('stream has ended (flush() was called): reset() to start again');
  }

  /** Emits session w into out, or the columns (pushColumns/flushColumns); marks it emitted. */
  private emitSession(w: number, out: WindowResult[]): void {
    if (this.columns !== undefined) this.sessionColumns(w, this.columns);
    else out.push(this.result(w));
  }

  /** result(w)'s fields straight into the columns: no object (a `replaces` list only as columns, rare). */
  private sessionColumns(w: number, columns: WindowColumnsBuilder): void {
    const st = this.store;
    const start = st.start[w]!, end = st.end[w]!;
    const emStart = st.emStart[w]!, emEnd = st.emEnd[w]!;
    const merged = st.merged.size === 0 ? undefined : st.merged.get(w);
    const emitted = emStart === emStart;
    const update = emitted || (merged !== undefined && merged.length > 0) ? 1 : 0;
    columns.add(st.key[w]!, start, end, this.accValue(st, w), st.acc[w * st.stride + 1]!, update);
    if (emitted && (emStart !== start || emEnd !== end)) columns.addReplaced(emStart, emEnd);
    if (merged !== undefined) {
      for (const m of merged) columns.addReplaced(m.start, m.end);
      st.merged.delete(w);
    }
    st.emStart[w] = start;
    st.emEnd[w] = end;
  }

  /** Session w's result; marks it emitted. */
  private result(w: number): WindowResult {
    const st = this.store;
    const start = st.start[w]!, end = st.end[w]!;
    const emStart = st.emStart[w]!, emEnd = st.emEnd[w]!;
    // Merges are rare: no Map lookup while none is held.
    const merged = st.merged.size === 0 ? NO_RANGES : (st.merged.get(w) ?? NO_RANGES);
    const emitted = emStart === emStart;
    const n = st.acc[w * st.stride + 1]!;
    const r: WindowResult = {
      key: this.keyMap.keyOf(st.key[w]!),
      start,
      end,
      value: this.accValue(st, w),
      // The same integer, stored untagged (see gridResultOf).
      count: n <= 0x3fffffff ? n | 0 : n,
      update: emitted || merged.length > 0,
    };
    const moved = emitted && (emStart !== start || emEnd !== end);
    // Most results replace nothing: no list is made for them.
    if (moved || merged.length > 0) r.replaces = moved ? [{ start: emStart, end: emEnd }, ...merged] : [...merged];
    st.emStart[w] = start;
    st.emEnd[w] = end;
    if (merged !== NO_RANGES) st.merged.delete(w);
    return r;
  }

  /** The value of window i of a grid bucket or session store. */
  private accValue(b: AccStore, i: number): number {
    if (this.code !== OP_SUM) return valueOf(b, i, this.code, this.spec.op, this.spec.minPeriods, this.ddof, this.q);
    // valueOf, inlined for sum and mean
    const a = b.acc;
    const p = i * 4;
    const n = a[p + 1]!;
    const sum = a[p + 2]!;
    const v = sum - sum === 0 ? sum + a[p + 3]! : sum;
    return n < this.spec.minPeriods ? NaN : !this.mean ? v : n === 0 ? NaN : v / n;
  }

  private gridResultOf(k: number, b: GridBucket, value: number, n: number, update: boolean): WindowResult {
    return {
      key: this.keyMap.keyOf(k),
      start: b.start,
      end: b.end,
      value,
      // The same integer; as an int32 it is stored untagged (a small integer), not as a boxed double.
      count: n <= 0x3fffffff ? n | 0 : n,
      update,
    };
  }

  /** Emits window i of a grid bucket (changed after its fire) into out, or the columns; marks it emitted. */
  private emitGridResult(b: GridBucket, i: number, out: WindowResult[]): void {
    const f = b.flags[i]!;
    b.flags[i] = f | EMITTED;
    const value = this.accValue(b, i), n = b.acc[i * b.stride + 1]!;
    if (this.columns !== undefined) this.columns.add(b.keys[i]!, b.start, b.end, value, n, (f & EMITTED) !== 0 ? 1 : 0);
    else out.push(this.gridResultOf(b.keys[i]!, b, value, n, (f & EMITTED) !== 0));
  }

  /** Emits the windows of b whose fire is pending, in key order. */
  private fire(b: GridBucket, out: WindowResult[]): void {
    const m = b.pending;
    const p = pendingByKey(b);
    const { idx, keys, perm, value, count, update } = p;
    const flags = b.flags, acc = b.acc, stride = b.stride;
    const hook = this.onWatermarkChange;
    if (hook !== undefined) for (let c = 0; c < m; c++) hook(keys[c]!);
    // Values in creation order (sequential reads of the bucket), then the results in key order.
    for (let c = 0; c < m; c++) {
      const i = idx[c]!;
      const f = flags[i]!;
      update[c] = f & EMITTED;
      flags[i] = (f & ~PENDING) | EMITTED;
      value[c] = this.accValue(b, i);
      count[c] = acc[i * stride + 1]!;
    }
    const columns = this.columns;
    if (columns !== undefined) {
      for (let o = 0; o < m; o++) {
        const c = perm[o]!;
        columns.add(keys[o]!, b.start, b.end, value[c]!, count[c]!, update[c]!);
      }
    } else {
      for (let o = 0; o < m; o++) {
        const c = perm[o]!;
        out.push(this.gridResultOf(keys[o]!, b, value[c]!, count[c]!, update[c] !== 0));
      }
    }
    b.pending = 0;
  }

  private schedule(w: number): void {
    const st = this.store;
    st.flags[w] = st.end[w]! > this.watermark ? st.flags[w]! | PENDING_FIRE : st.flags[w]! & ~PENDING_FIRE;
    this.queueTimers(w);
  }

  /**
   * Whether session w has a timer of `type` due: FIRE while its fire is
   * pending, PURGE with allowed lateness or once the fire is not pending (with
   * none, the fire timer also purges, as purging is due at the same
   * watermark). It is due at its end (FIRE) or end + allowedLateness (PURGE):
   * the callers add that themselves, as a double returned by a call that V8
   * does not inline is boxed (epoch-ms times are no small integers).
   */
  private hasDue(w: number, type: number): boolean {
    const pending = (this.store.flags[w]! & PENDING_FIRE) !== 0;
    return type === FIRE ? pending : this.spec.allowedLateness > 0 || !pending;
  }

  /**
   * Queues session w's timers that are due and not queued yet. A session
   * only grows (its end never moves earlier), so a queued timer is never
   * late: when it comes up before its due time, advance() moves it on to
   * that time. Growing a session by a row therefore queues nothing, where a
   * new timer per row left the heap one stale timer per row; in a stream in
   * event-time order, the fire timer is moved to the queue's tail at once
   * (O(1)), so it never comes up early.
   */
  private queueTimers(w: number): void {
    const st = this.store, timers = this.timers;
    if (this.hasDue(w, FIRE)) {
      if ((st.flags[w]! & FIRE_QUEUED) === 0) {
        st.flags[w] = st.flags[w]! | FIRE_QUEUED;
        // The time and start written here, not passed (see TimerQueue.claim).
        const r = timers.claim();
        timers.time[r] = st.end[w]!;
        timers.start[r] = st.start[w]!;
        st.fireRec[w] = timers.queue(r, FIRE, st.key[w]!, w, st.serial[w]!);
      } else {
        // Moved on now when that is O(1) (rows in event-time order), rather than when it comes up.
        const r = st.fireRec[w]!;
        if (timers.time[r]! < st.end[w]!) timers.moveToTail(r, st.end, st.start, w);
      }
    }
    if ((st.flags[w]! & PURGE_QUEUED) === 0 && this.hasDue(w, PURGE)) {
      st.flags[w] = st.flags[w]! | PURGE_QUEUED;
      const r = timers.claim();
      timers.time[r] = st.end[w]! + this.spec.allowedLateness;
      timers.start[r] = st.start[w]!;
      timers.queue(r, PURGE, st.key[w]!, w, st.serial[w]!);
    }
  }

  /**
   * Fires and purges every timer due at the watermark (or every fire timer,
   * at the end). It takes no time argument: a double passed to a call that
   * is not inlined is boxed, an allocation per row.
   */
  private advance(out: WindowResult[], end: boolean): void {
    const wm = this.watermark;
    if (this.spec.kind !== 'session') {
      this.advanceGrid(wm, out, end);
      return;
    }
    const timers = this.timers, st = this.store;
    for (;;) {
      const top = timers.peek();
      if (top < 0 || (!end && timers.time[top]! > wm)) break;
      if (this.moveOn(top)) continue;
      timers.pop();
      // Read before anything queues a timer (which may reuse the record).
      const time = timers.time[top]!, type = timers.type[top]!, w = timers.session[top]!;
      if (type === FORGET) {
        if (!end) this.forget(top);
        continue;
      }
      // The session was removed (merged or purged) since: its id may be another session's now.
      if (st.serial[w] !== timers.serial[top]) continue;
      st.flags[w] = st.flags[w]! & ~(type === FIRE ? FIRE_QUEUED : PURGE_QUEUED);
      if (!this.hasDue(w, type)) continue; // no longer due: a row made the session's fire pending again, or the fire came early
      if (time < st.end[w]! + (type === FIRE ? 0 : this.spec.allowedLateness)) {
        // The session grew since: the timer moves on (pops again in the order a timer queued at `due` would).
        this.queueTimers(w);
        continue;
      }
      this.onWatermarkChange?.(st.key[w]!);
      if (type === FIRE) {
        st.flags[w] = st.flags[w]! & ~PENDING_FIRE;
        this.emitSession(w, out);
        if (!end && this.spec.allowedLateness === 0) this.remove(w);
      } else if (!end) {
        this.remove(w);
      }
    }
    if (st.sparse || timers.sparse) this.compactSessions();
  }

  /**
   * When timer `top` (at the heap's top) came up before its session's due
   * time (the session grew since), moves it on to that time in place, as
   * popping it and queueing it again would (see queueTimers): true then.
   */
  private moveOn(top: number): boolean {
    const timers = this.timers, st = this.store;
    const type = timers.type[top]!;
    if (type === FORGET) return false;
    const w = timers.session[top]!;
    if (st.serial[w] !== timers.serial[top]) return false;
    if (!this.hasDue(w, type)) return false;
    const due = st.end[w]! + (type === FIRE ? 0 : this.spec.allowedLateness);
    if (!(timers.time[top]! < due)) return false;
    // retimeTop(due, start), the time written here (see TimerQueue.claim).
    const r = timers.take();
    timers.time[r] = due;
    timers.start[r] = st.start[w]!;
    timers.place(r);
    return true;
  }

  /** Gives back the room of sessions, keys and timers gone (a burst of keys that all closed): memory returns. */
  private compactSessions(): void {
    const moved = new Int32Array(this.store.idRoom).fill(-1);
    this.store = this.store.compacted(moved);
    this.timers = this.timers.compacted(moved, this.store.serial);
    const st = this.store, timers = this.timers;
    for (const r of timers.records()) {
      const w = timers.session[r]!;
      if (timers.type[r] === FIRE && st.serial[w] === timers.serial[r]) st.fireRec[w] = r;
    }
  }

  /**
   * Tumbling/hopping: the least watermark at which advanceGrid may change
   * anything: the end of the first bucket not fired yet (past the watermark:
   * onTimeRun may have just created it, empty) or with a fire pending, or the
   * first bucket's purge time (end + allowedLateness). A fired bucket held
   * for its lateness (an update of it is emitted at once, so no fire becomes
   * pending there) changes nothing until its purge, so rows rising past its
   * end stay on onTimeRun's path.
   */
  private nextDueWatermark(): number {
    const list = this.bucketList;
    if (list.length === 0) return Infinity;
    const wm = this.watermark;
    const due = list[0]!.end + this.spec.allowedLateness;
    for (let i = 0; i < list.length; i++) {
      const b = list[i]!;
      if (b.end >= due) break;
      if (b.pending > 0 || b.end > wm) return b.end;
    }
    return due;
  }

  /**
   * Tumbling/hopping: fires every window whose end the watermark reached, in
   * (end, key) order, and purges the buckets past end + allowedLateness (at
   * the end of the stream: fires every pending window, purges nothing). Grid
   * windows are never rescheduled, so this is the timer order of sessions:
   * (time, fire before purge, key, start); purges emit nothing.
   */
  private advanceGrid(wm: number, out: WindowResult[], end: boolean): void {
    const list = this.bucketList;
    const lateness = this.spec.allowedLateness;
    const hook = this.onWatermarkChange;
    let i = 0;
    let purged = 0;
    for (; i < list.length; i++) {
      const b = list[i]!;
      if (!end && b.end > wm) break;
      // The hook gets only the keys whose windows change here: a fired bucket held for its lateness changes at its purge alone.
      if (b.pending > 0) this.fire(b, out);
      if (!end && b.end + lateness <= wm) {
        if (hook !== undefined) for (let w = 0; w < b.n; w++) hook(b.keys[w]!);
        this.dropBucket(b);
        purged++;
      } else if (purged > 0) {
        list[i - purged] = b;
      }
    }
    if (purged > 0) {
      for (; i < list.length; i++) list[i - purged] = list[i]!;
      list.length -= purged;
    }
  }

  /** Forgets a purged bucket, keeping a few for reuse. */
  private dropBucket(b: GridBucket): void {
    this.buckets.delete(b.j);
    const c = b.j & 63;
    if (this.bucketCache[c] === b) this.bucketCache[c] = undefined;
    b.j = NaN;
    if (this.bucketPool.length < 4) this.bucketPool.push(b);
  }

  /** The bucket of grid index j, if any. */
  private bucketOf(j: number): GridBucket | undefined {
    const c = j & 63;
    const hit = this.bucketCache[c];
    if (hit !== undefined && hit.j === j) return hit;
    const b = this.buckets.get(j);
    if (b !== undefined) this.bucketCache[c] = b;
    return b;
  }

  /** Creates the (absent) bucket of grid index j. */
  private newBucket(j: number, start: number, end: number): GridBucket {
    const b = this.bucketPool.pop() ?? new GridBucket(STRIDE[this.code]!, 16, this.code);
    b.reuse(j, start, end);
    this.buckets.set(j, b);
    this.bucketCache[j & 63] = b;
    const list = this.bucketList;
    let at = list.length;
    while (at > 0 && list[at - 1]!.j > j) at--;
    if (at === list.length) list.push(b);
    else list.splice(at, 0, b);
    return b;
  }

  /** Removes session w (grid windows leave with their bucket, in advanceGrid). */
  private remove(w: number): void {
    const st = this.store;
    const k = st.key[w]!;
    const slot = st.slots.get(k);
    // The end read by the callees (see TimerQueue.claim); dropping w leaves it in place.
    st.drop(slot, w);
    st.purgeToEnd(slot, w);
    this.scheduleForget(k, st.end, w);
  }

  /**
   * A purged end e keeps rows of its key before e late. Once the watermark
   * reaches e + gap + allowedLateness, every such row is late anyway (its
   * session would end by e + gap), so the key's entry goes: a key whose
   * sessions have all closed holds nothing, and results are unchanged.
   */
  private scheduleForget(k: number, ends: Float64Array, i: number): void {
    // The end e = ends[i] read and the time written here (see TimerQueue.claim).
    const timers = this.timers, r = timers.claim();
    const e = ends[i]!;
    timers.time[r] = e + this.spec.gap + this.spec.allowedLateness;
    timers.start[r] = e;
    timers.queue(r, FORGET, k, -1, 0);
  }

  /** The FORGET timer r (popped: its fields stay readable until the next push), of key k's purged end e. */
  private forget(r: number): void {
    const st = this.store;
    const k = this.timers.key[r]!, e = this.timers.start[r]!;
    const slot = st.slots.get(k);
    if (slot >= 0 && st.purged[slot]! !== -Infinity && st.purged[slot]! <= e) {
      st.forget(slot);
      this.onWatermarkChange?.(k);
    }
  }

  /** pushRows: records a count of results (two per row; see marks). */
  private mark(n: number): void {
    if (this.marks !== undefined) this.marks[this.markAt++] = n;
  }

  /** The row number of the r-th row given to pushRows. */
  private rowOf(r: number): number {
    return this.rowsSeen + (this.at === undefined ? r : this.at[r]!);
  }

  /**
   * Raises the row count, greatest timestamp and end flag to a key group
   * snapshot's (the keyed operator's restore of the stream's clock, without
   * its windows): windows are not fired, as the clock's snapshot was taken
   * when every due window had fired.
   */
  raiseClock(rows: number, maxTs: number, ended: boolean): void {
    this.rowsSeen = Math.max(this.rowsSeen, rows);
    this.maxTs = Math.max(this.maxTs, maxTs);
    this.ended ||= ended;
  }

  /** Sessions: bytes of the typed arrays holding sessions, keys and timers, room included (to check that memory returns). */
  get sessionBytes(): number {
    return this.store.bytes + this.timers.bytes;
  }

  /** What the operator holds: windows, purged session ends and timers (to check that memory returns). */
  get heldItems(): number {
    let n = this.store.purgedCount + this.timers.size + this.store.count;
    for (const b of this.bucketList) n += b.n;
    return n;
  }


  push(timestamps: Float64Array | readonly number[], values: Float64Array | readonly number[], keys?: BatchKeys): WindowOutput {
    this.check();
    const ts = toF64(timestamps, 'timestamps');
    const vals = toF64(values, 'values');
    if (ts.length !== vals.length) throw new RangeError(`timestamps and values must have the same length, got ${ts.length} and ${vals.length}`);
    const descent = checkWindowTimestamps(ts, this.rowsSeen, this.spec.kind !== 'session' ? this.spec : undefined);
    const ids = this.keyMap.ids32(keys, ts.length);
    const windows: WindowResult[] = [];
    const late: LateRow[] = [];
    if (this.spec.kind === 'session') {
      this.pushSessions(ts, vals, ids, windows, late);
      this.rowsSeen += ts.length;
    } else this.pushGridChunks(ts, vals, ids, windows, late, descent);
    return { windows, late };
  }

  /**
   * push()'s tumbling/hopping rows, in chunks: a chunk in event-time order
   * whose first row is at or past the watermark takes pushGridInOrder, any
   * other (and a short batch) the row-at-a-time pushGrid. Results do not depend on how a batch
   * is split, so neither do they on the path a chunk takes.
   */
  private pushGridChunks(ts: Float64Array, vals: Float64Array, ids: Uint32Array | undefined, windows: WindowResult[], late: LateRow[], descent: number): void {
    const n = ts.length;
    if (n < IN_ORDER_MIN || this.onWatermarkChange !== undefined) {
      this.pushGrid(ts, vals, ids, windows, late);
      this.rowsSeen += n;
      return;
    }
    for (let from = 0; from < n; from += GRID_CHUNK) {
      const to = Math.min(n, from + GRID_CHUNK);
      const cts = ts.subarray(from, to), cvals = vals.subarray(from, to), cids = ids?.subarray(from, to);
      // The batch's first descent (checkWindowTimestamps) settles most chunks' order without a pass of their own.
      const inOrder = descent >= to ? cts[0]! >= this.watermark : descent <= from && inOrderFrom(cts, this.watermark);
      if (to - from >= IN_ORDER_MIN && inOrder) this.pushGridInOrder(cts, cvals, cids, windows);
      else this.pushGrid(cts, cvals, cids, windows, late);
      this.rowsSeen += to - from;
    }
  }

  /**
   * Puts in rangeBuckets the buckets of the windows holding t (grid indices
   * range.lo, range.lo + 1, …; created as needed), with gridRange's span of
   * times in `range`; returns how many (0 between the windows of a grid with
   * gaps). The in-order paths call it once per range, not per row.
   */
  private loadRangeBuckets(t: number): number {
    const { size, step, offset } = this.spec;
    gridRange(t, size, step, offset);
    const lo = range.lo, nw = range.hi - lo + 1;
    const cb = this.rangeBuckets;
    for (let w = 0; w < nw; w++) {
      const start = (lo + w) * step + offset;
      cb[w] = this.bucketOf(lo + w) ?? this.newBucket(lo + w, start, start + size);
    }
    return nw;
  }

  /**
   * Tumbling/hopping rows in event-time order, the first at or past the
   * watermark: no row is late or reaches a window that has fired, and a
   * window fires only once a later row (or a later batch) passes its end, so
   * each window gets exactly its rows before it fires, and the one watermark
   * advance at the chunk's end fires and purges what the advances after each
   * row would have, in the same order. So the row loop does none of
   * pushGrid's per-row tests (late, re-emission, the watermark): it finds or
   * creates each of the row's windows (in row order, so a bucket holds its
   * windows in the same order: the snapshot's) and adds the row.
   */
  private pushGridInOrder(ts: Float64Array, vals: Float64Array, ids: Uint32Array | undefined, windows: WindowResult[]): void {
    const code = this.code;
    const base = this.rowsSeen;
    // The buckets of the current range's windows, grid indices lo, lo + 1, …
    const cb = this.rangeBuckets;
    const slots = this.rangeSlots;
    const WIDTH = RangeSlots.WIDTH;
    let stamp = slots.stamp, idx = slots.idx, gen = -1;
    let from = Infinity, to = -Infinity, nw = 0;
    const tumblingSum = code === OP_SUM && this.spec.step === this.spec.size;
    for (let r = 0; r < ts.length; r++) {
      const t = ts[r]!;
      if (!(t >= from && t < to)) {
        nw = this.loadRangeBuckets(t);
        from = range.from;
        to = range.to;
        if (tumblingSum && nw === 1) {
          // One window per row: the range's rows in one tight loop.
          r = addSumRun(ts, vals, ids, r, to, cb[0]!) - 1;
          continue;
        }
        slots.next();
        // One window (tumbling: a probe costs what the slots' look-up does) or more than the slots' row: the hash probes alone (no key has stamp −1).
        gen = nw >= 2 && nw <= WIDTH ? slots.gen : -1;
      }
      const k = ids === undefined ? 0 : ids[r]!;
      if (k < stamp.length && stamp[k] === gen) {
        // The key's windows in this range are known: no probe.
        const at = k * WIDTH;
        for (let w = 0; w < nw; w++) {
          const b = cb[w]!;
          if (code === OP_SUM) addSum(b.acc, idx[at + w]! * 4, vals[r]!);
          else addTo(b, idx[at + w]!, code, ts, vals, r, base + r);
        }
        continue;
      }
      const keep = gen >= 0 && slots.room(k);
      if (keep) {
        stamp = slots.stamp;
        idx = slots.idx;
      }
      for (let w = 0; w < nw; w++) {
        const b = cb[w]!;
        let i = b.find(k);
        if (i < 0) i = b.insert(k, i, code, true);
        if (keep) idx[k * WIDTH + w] = i;
        if (code === OP_SUM) addSum(b.acc, i * 4, vals[r]!);
        else addTo(b, i, code, ts, vals, r, base + r);
      }
      if (keep) stamp[k] = gen;
    }
    cb.length = 0;
    // The watermark: the chunk's last row is its greatest.
    const t = ts[ts.length - 1]!;
    if (t > this.maxTs) {
      this.maxTs = t;
      const first = this.bucketList[0];
      const wm = t - this.spec.maxOutOfOrderness;
      if (first !== undefined && first.end <= wm) this.advanceGrid(wm, windows, false);
    }
  }

  pushColumns(timestamps: Float64Array | readonly number[], values: Float64Array | readonly number[], keys?: BatchKeys): WindowColumns {
    const columns = this.startColumns();
    try {
      return columns.finish(this.push(timestamps, values, keys).late, this.keyNames());
    } finally {
      columns.clear();
      this.columns = undefined;
    }
  }

  flushColumns(): WindowColumns {
    const columns = this.startColumns();
    try {
      return columns.finish(this.flush().late, this.keyNames());
    } finally {
      columns.clear();
      this.columns = undefined;
    }
  }

  private startColumns(): WindowColumnsBuilder {
    return (this.columns = this.columnScratch ??= new WindowColumnsBuilder());
  }

  private keyNames(): readonly string[] | undefined {
    return this.spec.keys === 'string' ? this.keyMap.names : undefined;
  }

  pushRow(time: number, value: number, ...key: (number | string | undefined)[]): WindowOutput {
    const one = this.one.set(time, value);
    return this.push(one.ts, one.vals, OneRow.keys(key));
  }

  /**
   * The keyed operator's push (numeric key ids, checked timestamps): rows
   * with skip[r] = 1 belong to other workers and only advance the watermark
   * (which is every key's: the greatest timestamp of all rows). `marks` gets
   * two counts of `windows` per row: after the row's own windows, and after
   * the watermark advance it caused. Routed (`at` given): the rows given are
   * some of a batch of `batchRows` rows, row r being the batch's row at[r]
   * (the worker's own rows and the other rows that raise the greatest
   * timestamp, skipped); the other rows cannot change anything here.
   */
  pushRows(ts: Float64Array, vals: Float64Array, ids: Uint32Array | undefined, skip: Uint8Array, marks: Uint32Array, at?: Uint32Array, batchRows = ts.length): WindowOutput {
    this.check();
    checkWindowTimestamps(ts, this.rowsSeen, this.spec.kind !== 'session' ? this.spec : undefined);
    const windows: WindowResult[] = [];
    const late: LateRow[] = [];
    this.skip = skip;
    this.marks = marks;
    this.markAt = 0;
    this.at = at;
    try {
      if (this.spec.kind === 'session') this.pushSessions(ts, vals, ids, windows, late);
      else this.pushGridRowChunks(ts, vals, ids, windows, late);
    } finally {
      this.skip = undefined;
      this.marks = undefined;
      this.at = undefined;
    }
    this.rowsSeen += batchRows;
    return { windows, late };
  }

  /**
   * pushRows' tumbling/hopping rows: a short batch (a live row) row at a
   * time (pushGrid), any other by pushGridRowsOnTime.
   */
  private pushGridRowChunks(ts: Float64Array, vals: Float64Array, ids: Uint32Array | undefined, windows: WindowResult[], late: LateRow[]): void {
    if (ts.length < IN_ORDER_MIN) this.pushGrid(ts, vals, ids, windows, late);
    else this.pushGridRowsOnTime(ts, vals, ids, windows, late);
  }

  /**
   * pushRows' rows: runs of rows at or past the watermark that stay in one
   * grid range and fire nothing (onTimeRun), and each row between them (one
   * behind the watermark: late, or an update of a fired window; one whose
   * rise fires or purges buckets) through pushGrid alone. So each row does
   * what pushGrid would, the watermark rising row by row: the marks tie each
   * fired window to the row that fired it, which the keyed operator's merge
   * of several workers' results needs. No order check is needed.
   */
  private pushGridRowsOnTime(ts: Float64Array, vals: Float64Array, ids: Uint32Array | undefined, windows: WindowResult[], late: LateRow[]): void {
    const n = ts.length;
    let r = 0;
    while (r < n) {
      r = this.onTimeRun(ts, vals, ids, r, n, windows.length);
      if (r < n) this.pushGrid(ts, vals, ids, windows, late, r, ++r);
    }
  }

  /**
   * Rows r0, r0 + 1, … of pushRows in the grid range of its first own row
   * (found or created here, when that row is at or past the watermark: the
   * range's windows end after it, so none has fired), while each is at or
   * past the watermark (not late, re-emits nothing) and its rise fires
   * nothing: pushGridInOrder's row (find or create the key's window in each
   * of the range's buckets, add), both marks the count of results so far
   * (`count`: nothing is emitted here). Returns the first row it leaves to
   * the caller. The loop (addOnTimeRows) holds no rare call: a loop with
   * pushGrid's or advanceGrid's call in it was compiled on stack replacement
   * before that call ran, deoptimized at it, and compiled again, in the
   * first batch of every run.
   */
  private onTimeRun(ts: Float64Array, vals: Float64Array, ids: Uint32Array | undefined, r0: number, to: number, count: number): number {
    const delay = this.spec.maxOutOfOrderness;
    const code = this.code;
    const skip = this.skip!, marks = this.marks!, at = this.at;
    const base = this.rowsSeen;
    const cb = this.rangeBuckets;
    let maxTs = this.maxTs;
    // The range of the first own row, if it is at or past the watermark then (other workers' rows before it raise it).
    let f = r0, mx = maxTs;
    for (; f < to && skip[f] !== 0; f++) if (ts[f]! > mx) mx = ts[f]!;
    let rFrom = NaN, rTo = NaN, nw = 0;
    if (f < to && ts[f]! >= mx - delay) {
      nw = this.loadRangeBuckets(ts[f]!);
      rFrom = range.from;
      rTo = range.to;
    }
    const clock = this.runClock;
    clock[0] = maxTs;
    const r = addOnTimeRows(ts, vals, ids, skip, marks, at, r0, to, this.markAt, count, cb, nw, rFrom, rTo, this.nextDueWatermark(), delay, clock, code, base);
    cb.length = 0;
    this.markAt += 2 * (r - r0);
    this.maxTs = clock[0]!;
    return r;
  }

  /**
   * Raises the watermark as a row at time t would, without a row (the
   * scheduler's idle timeout): returns the windows it fired.
   */
  advanceTo(t: number): WindowResult[] {
    this.check();
    const windows: WindowResult[] = [];
    this.rise(t, windows);
    return windows;
  }

  /** A row at t raises the watermark: fire and purge what is due. */
  private rise(t: number, windows: WindowResult[]): void {
    if (t > this.maxTs) {
      this.maxTs = t;
      this.advance(windows, false);
    }
  }

  /**
   * Session rows (push, and pushRows with its skip, marks and at), one at a
   * time in arrival order. The usual row (inside its key's only session,
   * whose fire is pending and whose timers are queued, and on time) is
   * handled here, without session()'s search and schedule()'s cases: it
   * moves the session's end on (and its fire timer with it, as queueTimers
   * would; a queued purge timer stays, as there); the spec, the clock and the
   * store's arrays are in locals. Any other row goes to sessionRow, another
   * worker's row to the watermark. Same decisions in the same order as
   * session() and schedule(), row by row.
   */
  private pushSessions(ts: Float64Array, vals: Float64Array, ids: Uint32Array | undefined, windows: WindowResult[], late: LateRow[]): void {
    const { gap, allowedLateness: lateness, maxOutOfOrderness: delay } = this.spec;
    const code = this.code, sum = code === OP_SUM;
    // Without allowed lateness the fire timer also purges (dueTime): no purge timer is queued.
    const queued = lateness === 0 ? PENDING_FIRE | FIRE_QUEUED : PENDING_FIRE | FIRE_QUEUED | PURGE_QUEUED;
    // pushRows' extras (undefined for push): they cost a test per row.
    const skip = this.skip, marks = this.marks;
    let st = this.store, timers = this.timers;
    let { firstByKey, next, start, end, flags, purged, fireRec, acc } = st;
    let time = timers.time;
    let maxTs = this.maxTs;
    // A lower bound of the first timer's time: the usual row only moves timers later, so while a
    // rise stays below it nothing is due and the queue's top is not read (−Infinity: read it).
    let firstDue = -Infinity;
    for (let i = 0; i < ts.length; i++) {
      const t = ts[i]!;
      if (skip !== undefined && skip[i] !== 0) {
        // Another worker's row: only its timestamp counts here.
        this.mark(windows.length);
        if (t <= maxTs) {
          this.mark(windows.length);
          continue;
        }
        maxTs = this.maxTs = t;
        this.advance(windows, false);
        this.mark(windows.length);
      } else {
        const k = ids === undefined ? 0 : ids[i]!;
        // The key's first session (a key id beyond the table: by its slot).
        const first = firstByKey[k];
        const w = first !== undefined ? first - 1 : st.firstOf(k);
        const e = t + gap;
        const wm = maxTs - delay;
        // On time: a row at or past the greatest timestamp is (its session ends past the watermark,
        // and a purged end is at most the watermark); any other takes the general test, as a row
        // inside a long session may still be gap + allowedLateness or more behind the watermark.
        // At or past it, t < end[w] is enough to be inside the key's only session: every session
        // starts at a row's time (at most maxTs), so t >= start[w], and a later session of the key
        // would start at or after end[w] > t >= maxTs. Two loads fewer on the usual row.
        if (w >= 0 && t < end[w]! && flags[w] === queued && (t >= maxTs ? true : next[w]! < 0 && t >= start[w]! && e + lateness > wm && t >= purged[st.slots.get(k)]!)) {
          if (e > end[w]!) {
            end[w] = e;
            // The fire timer is at most the old end (it only ever moves to the session's end), so before e: no test.
            timers.moveToTail(fireRec[w]!, end, start, w);
          }
          if (sum) addSum(acc, w * 4, vals[i]!);
          else if (code === OP_VALS) {
            // addTo's median/quantile case, without its switch.
            const x = vals[i]!, p = w * 2;
            acc[p]!++;
            if (x === x) {
              acc[p + 1]!++;
              st.vals.append(w, x);
            }
          } else addTo(st, w, code, ts, vals, i, this.rowOf(i));
          if (end[w]! <= wm) this.emitSession(w, windows);
          if (marks !== undefined) marks[this.markAt++] = windows.length;
          let due = false;
          if (t > maxTs) {
            maxTs = t;
            // Nothing is due while the first timer is after the watermark.
            if (t - delay >= firstDue) {
              const top = timers.peek();
              firstDue = top >= 0 ? time[top]! : Infinity;
              due = firstDue <= t - delay;
            }
          }
          if (due) {
            this.maxTs = t;
            this.advance(windows, false);
          }
          if (marks !== undefined) marks[this.markAt++] = windows.length;
          if (!due) continue;
        } else {
          this.maxTs = maxTs;
          this.sessionRow(ts, vals, ids, i, this.rowOf(i), windows, late);
          maxTs = this.maxTs;
        }
      }
      // A new session, an advance or a compaction may have replaced the store's arrays or the timers.
      st = this.store;
      timers = this.timers;
      ({ firstByKey, next, start, end, flags, purged, fireRec, acc } = st);
      time = timers.time;
      firstDue = -Infinity;
    }
    this.maxTs = maxTs;
  }

  /**
   * Row i of a batch (row number `row` of the stream) that is not the usual
   * row (pushSessions tested that): a new session, a merge, or a late row.
   * Takes the columns, not the row's doubles (see advance).
   */
  private sessionRow(ts: Float64Array, vals: Float64Array, ids: Uint32Array | undefined, i: number, row: number, windows: WindowResult[], late: LateRow[]): void {
    const t = ts[i]!, x = vals[i]!;
    const k = ids === undefined ? 0 : ids[i]!;
    const w = this.session(ts, i, k);
    if (w < 0) {
      late.push({ row, key: this.keyMap.keyOf(k), ts: t, value: x, missed: 1 });
      this.late++;
    } else {
      const st = this.store;
      if (this.code === OP_SUM) addSum(st.acc, w * 4, x);
      else addTo(st, w, this.code, ts, vals, i, row);
      if (st.end[w]! <= this.watermark) this.emitSession(w, windows);
    }
    this.mark(windows.length);
    if (t > this.maxTs) {
      this.maxTs = t;
      // Nothing is due while the first timer is after the watermark.
      const top = this.timers.peek();
      if (top >= 0 && this.timers.time[top]! <= this.watermark) this.advance(windows, false);
    }
    this.mark(windows.length);
  }

  /**
   * Tumbling/hopping rows, one at a time in arrival order: each row is added
   * to every window holding it (created as needed), windows it changed after
   * their fire are re-emitted, rows that reach a purged window go to the late
   * output, and a rising watermark fires and purges buckets (advanceGrid).
   */
  private pushGrid(ts: Float64Array, vals: Float64Array, ids: Uint32Array | undefined, windows: WindowResult[], late: LateRow[], from = 0, to = ts.length): void {
    const s = this.spec;
    const { size, step, offset } = s;
    const lateness = s.allowedLateness;
    const delay = s.maxOutOfOrderness;
    const code = this.code;
    const list = this.bucketList;
    // The clock and the grid range in locals (a double field is a box in memory), written back when read elsewhere.
    let maxTs = this.maxTs;
    let lo = this.rangeLo, hi = this.rangeHi;
    let rangeFrom = this.rangeFrom, rangeTo = this.rangeTo;
    let last: GridBucket | undefined;
    const skip = this.skip;
    for (let r = from; r < to; r++) {
      const t = ts[r]!, x = vals[r]!;
      if (skip !== undefined && skip[r] !== 0) {
        // Another worker's row: only its timestamp counts here.
        this.maxTs = maxTs;
        this.mark(windows.length);
        this.rise(t, windows);
        maxTs = this.maxTs;
        this.mark(windows.length);
        continue;
      }
      const k = ids === undefined ? 0 : ids[r]!;
      const wm = maxTs - delay;
      if (!(t >= rangeFrom && t < rangeTo)) {
        // windowIndexRange, without allocating
        hi = Math.floor((t - offset) / step);
        while (hi * step + offset > t) hi--;
        while ((hi + 1) * step + offset <= t) hi++;
        lo = Math.floor((t - offset - size) / step) + 1;
        while (lo * step + offset + size <= t) lo++;
        while ((lo - 1) * step + offset + size > t) lo--;
        // lo and hi are unique, so they hold for every t the tests of these loops allow.
        this.rangeLo = lo;
        this.rangeHi = hi;
        this.rangeFrom = rangeFrom = Math.max(hi * step + offset, (lo - 1) * step + offset + size);
        this.rangeTo = rangeTo = Math.min((hi + 1) * step + offset, lo * step + offset + size);
      }
      let missed = 0;
      for (let j = lo; j <= hi; j++) {
        const start = j * step + offset;
        const end = start + size;
        // A purged bucket has j = NaN: `last` never stands for a closed window.
        const found = last !== undefined && last.j === j ? last : this.bucketOf(j);
        let i = found === undefined ? -1 : found.find(k);
        if (i < 0 && end + lateness <= wm) {
          missed++;
          continue;
        }
        let b: GridBucket;
        if (found === undefined) {
          b = this.newBucket(j, start, end);
          i = b.find(k);
        } else b = found;
        last = b;
        // A new window's fire is pending unless the watermark passed its end already.
        if (i < 0) i = b.insert(k, i, code, end > wm);
        if (code === OP_SUM) {
          addSum(b.acc, i * 4, x);
        } else addTo(b, i, code, ts, vals, r, this.rowOf(r));
        // Changed after its fire: re-emitted now (each window of a row gets this one row, so
        // emitting it before the row's later windows are updated changes nothing).
        if (end <= wm) this.emitGridResult(b, i, windows);
      }
      if (missed > 0) {
        late.push({ row: this.rowOf(r), key: this.keyMap.keyOf(k), ts: t, value: x, missed });
        this.late++;
      }
      this.mark(windows.length);
      if (t > maxTs) {
        maxTs = t;
        // Buckets are by ascending end: nothing is due while the first ends after the watermark.
        const first = list[0];
        if (first !== undefined && first.end <= t - delay) {
          this.maxTs = t;
          this.advanceGrid(t - delay, windows, false);
        }
      }
      this.mark(windows.length);
    }
    this.maxTs = maxTs;
  }

  /** The session row i of a batch (at t = ts[i], of key k) joins (created or merged), or −1 when it is late. */
  private session(ts: Float64Array, i: number, k: number): number {
    const s = this.spec, st = this.store;
    const t = ts[i]!, wm = this.watermark;
    const gap = s.gap;
    const found = st.slots.get(k);
    if (t + gap + s.allowedLateness <= wm || (found >= 0 && t < st.purged[found]!)) return -1;
    const slot = found >= 0 ? found : st.slotOf(k);
    // Sessions within gap of t (start < t + gap and t < end): consecutive, as a key's sessions are disjoint and by start.
    let first = -1, last = -1;
    for (let w = st.head[slot]!; w >= 0 && st.start[w]! < t + gap; w = st.next[w]!) {
      if (t < st.end[w]!) {
        if (first < 0) first = w;
        last = w;
      }
    }
    if (first < 0) {
      // The bounds written here, not passed (see SessionStore.open).
      const w = st.open(slot);
      st.start[w] = t;
      st.end[w] = t + gap;
      st.link(slot, w);
      this.schedule(w);
      return w;
    }
    const target = first;
    const oldStart = st.start[target]!, oldEnd = st.end[target]!;
    if (last !== first) this.mergeInto(slot, target, last);
    st.start[target] = Math.min(st.start[target]!, t);
    st.end[target] = Math.max(st.end[target]!, t + gap);
    if (st.start[target] !== oldStart || st.end[target] !== oldEnd || last !== first) this.schedule(target);
    return target;
  }

  /** Merges the sessions after `target` up to `last` of a slot into it (a row bridged them), with what they emitted. */
  private mergeInto(slot: number, target: number, last: number): void {
    const st = this.store, op = this.spec.op;
    const acc = toAcc(st, target, this.code, op);
    let merged = st.merged.get(target);
    for (;;) {
      const o = st.next[target]!;
      acc.merge(op, toAcc(st, o, this.code, op));
      const mine = st.merged.get(o);
      if (st.emStart[o] === st.emStart[o] || mine !== undefined) {
        if (merged === undefined) st.merged.set(target, (merged = []));
        if (st.emStart[o] === st.emStart[o]) merged.push({ start: st.emStart[o]!, end: st.emEnd[o]! });
        if (mine !== undefined) for (const m of mine) merged.push(m);
      }
      st.end[target] = Math.max(st.end[target]!, st.end[o]!);
      st.dropAfter(slot, target, o);
      if (o === last) break;
    }
    fromAcc(st, target, this.code, acc);
  }

  flush(): WindowOutput {
    this.check();
    const windows: WindowResult[] = [];
    this.advance(windows, true);
    this.ended = true;
    this.clearWindows();
    return { windows, late: [] };
  }

  private clearWindows(): void {
    this.buckets.clear();
    this.bucketList = [];
    this.bucketCache.fill(undefined);
    this.bucketPool = [];
    this.store = this.newStore();
    this.timers.clear();
  }

  /** Every session (of the keys `keep` accepts), in the snapshot's order. */
  private allSessions(keep?: (key: number) => boolean): number[] {
    const st = this.store;
    const out: number[] = [];
    for (const slot of st.liveSlots()) {
      if (keep !== undefined && !keep(st.slotKey[slot]!)) continue;
      for (let w = st.head[slot]!; w >= 0; w = st.next[w]!) out.push(w);
    }
    return out;
  }

  /**
   * The snapshot; with `keep`, of the windows of the keys it accepts only (a
   * key group's state, which restoreState(…, keep) merges in; its late count
   * is 0: the count is the whole operator's).
   */
  snapshot(keep?: (key: number) => boolean): Uint8Array {
    if (this.disposed) throw new Error('operator has been disposed');
    const w = new ByteWriter();
    w.u8(this.ended ? 1 : 0);
    w.f64(this.rowsSeen);
    w.f64(this.maxTs);
    w.f64(keep === undefined ? this.late : 0);
    w.u32(this.keyMap.names.length);
    for (const name of this.keyMap.names) w.str(name);
    // Grid windows by bucket, in creation order, then sessions; a grid window is its own emitted range.
    const sessions = this.allSessions(keep);
    let nWins = sessions.length;
    for (const b of this.bucketList) for (let i = 0; i < b.n; i++) if (keep === undefined || keep(b.keys[i]!)) nWins++;
    w.u32(nWins);
    const writeWindow = (key: number, start: number, end: number, pending: boolean, emitted: Range | undefined, merged: readonly Range[], acc: Acc): void => {
      w.u32(key);
      w.f64(start);
      w.f64(end);
      w.u8(pending ? 1 : 0);
      w.u8(emitted === undefined ? 0 : 1);
      if (emitted !== undefined) {
        w.f64(emitted.start);
        w.f64(emitted.end);
      }
      w.u32(merged.length);
      for (const m of merged) {
        w.f64(m.start);
        w.f64(m.end);
      }
      acc.write(w);
    };
    for (const b of this.bucketList) {
      for (let i = 0; i < b.n; i++) {
        if (keep !== undefined && !keep(b.keys[i]!)) continue;
        const f = b.flags[i]!;
        writeWindow(b.keys[i]!, b.start, b.end, (f & PENDING) !== 0, (f & EMITTED) !== 0 ? b : undefined, NO_RANGES, toAcc(b, i, this.code, this.spec.op));
      }
    }
    const st = this.store;
    for (const i of sessions) {
      const emitted = st.emStart[i] === st.emStart[i] ? { start: st.emStart[i]!, end: st.emEnd[i]! } : undefined;
      writeWindow(st.key[i]!, st.start[i]!, st.end[i]!, (st.flags[i]! & PENDING_FIRE) !== 0, emitted, st.merged.get(i) ?? NO_RANGES, toAcc(st, i, this.code, this.spec.op));
    }
    const purged = st.purgedSlots().filter((slot) => keep === undefined || keep(st.slotKey[slot]!));
    w.u32(purged.length);
    for (const slot of purged) {
      w.u32(st.slotKey[slot]!);
      w.f64(st.purged[slot]!);
    }
    return encodeTimeSnapshot(KIND_WINDOWS, this.spec, w.bytes());
  }

  /**
   * Loads a snapshot's state into this fresh operator, validating every field
   * first. With `keep` (numeric keys only), merges a key group's state in
   * instead: every key must pass `keep`; the row counter and greatest
   * timestamp become the larger of both, late counts add up.
   */
  restoreState(state: Uint8Array, keep?: (key: number) => boolean): void {
    const s = this.spec;
    const r = new ByteReader(state);
    const ended = r.u8();
    expectState(ended <= 1, 'bad end-of-stream flag');
    const rowsSeen = r.f64();
    expectState(Number.isInteger(rowsSeen) && rowsSeen >= 0 && rowsSeen <= 2 ** 53, 'row counter out of range');
    const maxTs = r.f64();
    expectState(maxTs === -Infinity || Math.abs(maxTs) <= MAX_TIMESTAMP, 'greatest timestamp out of range');
    const late = r.f64();
    expectState(Number.isInteger(late) && late >= 0 && late <= rowsSeen, 'late counter out of range');
    const nNames = r.count(4, 'key name');
    expectState(s.keys === 'string' || nNames === 0, 'key names in a snapshot without string keys');
    const names: string[] = [];
    for (let i = 0; i < nNames; i++) names.push(r.str());
    expectState(new Set(names).size === names.length, 'duplicate key names');
    const wm = maxTs - s.maxOutOfOrderness;
    const nWins = r.count(40, 'window');
    const wins: RestoredWindow[] = [];
    const range = (): Range => {
      const start = r.f64();
      const end = r.f64();
      expectState(Number.isFinite(start) && Number.isFinite(end) && start < end, 'window range out of order');
      return { start, end };
    };
    for (let i = 0; i < nWins; i++) {
      const key = r.u32();
      const { start, end } = range();
      const pending = r.u8();
      const hasEmitted = r.u8();
      expectState(pending <= 1 && hasEmitted <= 1, 'bad window flags');
      const emitted = hasEmitted === 1 ? range() : undefined;
      const nMerged = r.count(16, 'merged range');
      const merged: Range[] = [];
      for (let j = 0; j < nMerged; j++) merged.push(range());
      const acc = Acc.read(s.op, r);
      expectState(s.keys !== 'none' || key === 0, 'unkeyed snapshot with a key other than 0');
      expectState(s.keys !== 'string' || key < names.length, `key id ${key} has no name`);
      // A window is held until its purge time; it has fired unless a fire is pending.
      expectState(end + s.allowedLateness > wm, 'window held past its purge time');
      expectState(pending === 1 ? end > wm : end <= wm && (emitted !== undefined || merged.length > 0), 'window fire state inconsistent with the watermark');
      if (s.kind === 'session') {
        expectState(end - start >= s.gap, 'session shorter than its gap');
      } else {
        expectState(end - start === s.size && start + s.size === end && merged.length === 0, 'window length differs from size');
        const j = Math.round((start - s.offset) / s.step);
        expectState(j * s.step + s.offset === start, 'window start off the grid');
        expectState(emitted === undefined || (emitted.start === start && emitted.end === end), 'emitted range differs from the window');
      }
      expectState(acc.rows <= rowsSeen && acc.rows >= 1, 'window counts out of range');
      wins.push({ key, start, end, pendingFire: pending === 1, emitted, merged, acc });
    }
    const nPurged = r.count(12, 'purged session end');
    const purged = new Map<number, number>();
    for (let i = 0; i < nPurged; i++) {
      const k = r.u32();
      const e = r.f64();
      expectState(s.kind === 'session' && Number.isFinite(e) && e + s.allowedLateness <= wm && !purged.has(k), 'bad purged session end');
      expectState(s.keys !== 'none' || k === 0, 'unkeyed snapshot with a key other than 0');
      expectState(s.keys !== 'string' || k < names.length, `key id ${k} has no name`);
      purged.set(k, e);
    }
    r.end();
    expectState(ended === 0 || (nWins === 0 && nPurged === 0), 'ended stream with open windows');
    if (keep !== undefined) {
      // Merging: the keyed operator restores each key group once, before any row, so its keys are new here.
      expectState(s.keys !== 'string', 'merging needs numeric keys');
      for (const win of wins) expectState(keep(win.key), `key ${win.key} is not of this key group`);
      for (const k of purged.keys()) expectState(keep(k), `key ${k} is not of this key group`);
    }
    // Sessions of a key must not overlap; grid windows must be unique.
    const byKey = new Map<number, RestoredWindow[]>();
    for (const win of wins) {
      let list = byKey.get(win.key);
      if (list === undefined) byKey.set(win.key, (list = []));
      list.push(win);
    }
    for (const list of byKey.values()) {
      list.sort((a, b) => a.start - b.start);
      for (let i = 1; i < list.length; i++) {
        if (s.kind === 'session') expectState(list[i - 1]!.end <= list[i]!.start, 'overlapping sessions of one key');
        else expectState(list[i - 1]!.start !== list[i]!.start, 'duplicate window');
      }
    }
    // Valid: install.
    if (keep === undefined) this.keyMap.load(names);
    this.ended = ended === 1;
    this.rowsSeen = Math.max(rowsSeen, this.rowsSeen);
    this.maxTs = Math.max(maxTs, this.maxTs);
    this.late += late;
    for (const [k, list] of byKey) {
      if (s.kind !== 'session') {
        for (const win of list) {
          const j = Math.round((win.start - s.offset) / s.step);
          const b = this.bucketOf(j) ?? this.newBucket(j, win.start, win.end);
          const i = b.insert(win.key, b.find(win.key), this.code, win.pendingFire);
          fromAcc(b, i, this.code, win.acc);
          if (win.emitted !== undefined) b.flags[i] = b.flags[i]! | EMITTED;
        }
        continue;
      }
      this.restoreSessions(k, list);
    }
    for (const [k, e] of purged) {
      this.store.purge(this.store.slotOf(k), e);
      this.scheduleForget(k, Float64Array.of(e), 0);
    }
  }

  /** Installs a key's restored sessions (by start) and queues their timers. */
  private restoreSessions(k: number, list: readonly RestoredWindow[]): void {
    const st = this.store;
    const slot = st.slotOf(k);
    for (const win of list) {
      const w = st.restore(slot, win.start, win.end);
      fromAcc(st, w, this.code, win.acc);
      if (win.pendingFire) st.flags[w] = PENDING_FIRE;
      if (win.emitted !== undefined) {
        st.emStart[w] = win.emitted.start;
        st.emEnd[w] = win.emitted.end;
      }
      if (win.merged.length > 0) st.merged.set(w, win.merged);
      this.queueTimers(w);
    }
  }

  reset(): void {
    if (this.disposed) throw new Error('operator has been disposed');
    this.clearWindows();
    this.keyMap.clear();
    this.ended = false;
    this.rowsSeen = 0;
    this.maxTs = -Infinity;
    this.late = 0;
  }

  dispose(): void {
    this.disposed = true;
    this.clearWindows();
  }
}

/**
 * Creates an event-time window operator: tumbling, hopping or session
 * windows per key, emitted when the watermark (greatest timestamp −
 * `maxOutOfOrderness`) passes their end, re-emitted with `update: true` for
 * rows up to `allowedLateness` late, and later rows returned on the late side
 * output. Throws `TypeError`/`RangeError` naming the field for a bad spec.
 *
 * @example
 * ```ts
 * const op = await createWindows({ kind: 'tumbling', op: 'sum', size: '1m', keys: 'string' });
 * const { windows, late } = op.push(ts, values, hosts);
 * const rest = op.flush(); // end of stream: every open window
 * ```
 */
export async function createWindows<const S extends WindowSpec>(spec: S): Promise<WindowOperator<KeyModeOf<S>>> {
  return new EventTimeWindows(normalizeWindowSpec(spec));
}

/** The input form of a normalized window spec (fields of other kinds dropped). */
export function inputForm(raw: Record<string, unknown>): Record<string, unknown> {
  const copy = { ...raw };
  if (raw.kind === 'tumbling') {
    delete copy.step;
    delete copy.gap;
  } else if (raw.kind === 'hopping') delete copy.gap;
  else if (raw.kind === 'session') {
    delete copy.size;
    delete copy.step;
    delete copy.offset;
  }
  return copy;
}

/**
 * Restores an event-time window operator from its snapshot; it continues to
 * the same results. Throws {@link SnapshotError} for a truncated, corrupt or
 * foreign snapshot, or (with `expected`) one of another spec.
 *
 * @example
 * ```ts
 * const copy = await restoreWindows(op.snapshot());
 * ```
 */
export async function restoreWindows(snapshot: Uint8Array, expected?: WindowSpec): Promise<WindowOperator> {
  const { spec: raw, state } = decodeTimeSnapshot(snapshot, KIND_WINDOWS);
  let spec: NormalizedWindowSpec;
  try {
    spec = normalizeWindowSpec(inputForm(raw));
  } catch (error) {
    throw new SnapshotError('BAD_PARAMETERS', `snapshot holds an invalid spec: ${(error as Error).message}`);
  }
  if (!sameNormalized(spec, raw)) throw new SnapshotError('BAD_PARAMETERS', `snapshot holds a spec that is not normalized: ${JSON.stringify(raw)}`);
  if (expected !== undefined) {
    const wanted = normalizeWindowSpec(expected);
    if (!sameNormalized(wanted, spec)) throw new SnapshotError('OP_MISMATCH', `snapshot is of ${JSON.stringify(spec)}, expected ${JSON.stringify(wanted)}`);
  }
  const op = new EventTimeWindows(spec);
  op.restoreState(state);
  return op;
}

/**
 * Event-time windows over whole columns: every window, then the late rows,
 * after the end of the stream.
 *
 * @example
 * ```ts
 * const { windows } = await windowsByTime([0, 500, 1500], [1, 2, 3], { kind: 'tumbling', op: 'sum', size: '1s' });
 * // [{ key: 0, start: 0, end: 1000, value: 3, count: 2, update: false }, { …start: 1000, value: 3… }]
 * ```
 */
export async function windowsByTime(
  timestamps: Float64Array | readonly number[],
  values: Float64Array | readonly number[],
  spec: WindowSpec,
  keys?: BatchKeys,
): Promise<WindowOutput> {
  const op = await createWindows(spec);
  const a = op.push(timestamps, values, keys);
  const b = op.flush();
  return { windows: [...a.windows, ...b.windows], late: [...a.late, ...b.late] };
}
