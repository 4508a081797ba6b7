// Event-time tumbling, hopping and session windows with a watermark,
// bounded out-of-orderness, allowed lateness, update re-emissions and a late
// side output. Per-key window state lives in TypeScript Maps of accumulators
// (src/time/accumulator.ts); see docs/TIME-WINDOWS.md for why.
//
// Rows are processed one at a time, in arrival order, and every decision
// (lateness, firing, purging) is taken after each row, so the output is the
// same for any split of the rows into batches. Timers are ordered by
// (time, fire before purge, key id, window start), all derived from window
// state, so a snapshot needs no timer queue: restore rebuilds it.
import { SnapshotError } from '../errors.js';
import type { BatchKeys, LateRow, NormalizedWindowSpec, WindowOperator, WindowOutput, WindowResult, WindowSpec } from '../types.js';
import { Acc } from './accumulator.js';
import { checkTimestamps, KeyMap, toF64 } from './keys.js';
import { ByteReader, ByteWriter, decodeTimeSnapshot, encodeTimeSnapshot, expectState, KIND_WINDOWS } from './snapshot.js';
import { normalizeWindowSpec, sameNormalized } from './spec.js';

interface Range {
  start: number;
  end: number;
}

class Win {
  /** Pending timer versions: a timer whose version differs is stale. */
  version = 0;
  alive = true;
  /** A fire timer is pending for the current end. */
  pendingFire = false;
  /** The last range emitted, if any. */
  emitted: Range | undefined;
  /** Ranges emitted by sessions merged into this one since its last emission. */
  merged: Range[] = NO_RANGES;
  constructor(
    readonly key: number,
    public start: number,
    public end: number,
    readonly acc: Acc,
  ) {}
}

const FIRE = 0;
const PURGE = 1;
/** Shared empty list (never mutated): most windows merge nothing. */
const NO_RANGES: Range[] = [];

interface Timer {
  time: number;
  type: number;
  win: Win;
  version: number;
}

function timerLess(a: Timer, b: Timer): boolean {
  if (a.time !== b.time) return a.time < b.time;
  if (a.type !== b.type) return a.type < b.type;
  if (a.win.key !== b.win.key) return a.win.key < b.win.key;
  return a.win.start < b.win.start;
}

class TimerHeap {
  private items: Timer[] = [];
  get size(): number {
    return this.items.length;
  }
  peek(): Timer | undefined {
    return this.items[0];
  }
  push(t: Timer): void {
    const a = this.items;
    a.push(t);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!timerLess(a[i]!, a[p]!)) break;
      const tmp = a[i]!;
      a[i] = a[p]!;
      a[p] = tmp;
      i = p;
    }
  }
  pop(): Timer {
    const a = this.items;
    const top = a[0]!;
    const last = a.pop()!;
    if (a.length > 0) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        if (l < a.length && timerLess(a[l]!, a[m]!)) m = l;
        if (r < a.length && timerLess(a[r]!, a[m]!)) m = r;
        if (m === i) break;
        const tmp = a[i]!;
        a[i] = a[m]!;
        a[m] = tmp;
        i = m;
      }
    }
    return top;
  }
  clear(): void {
    this.items = [];
  }
}

/**
 * Tumbling/hopping windows of one grid index j (all start at j·step + offset):
 * every live window by key, in creation order, and how many await their fire.
 */
class Bucket {
  readonly byKey = new Map<number, Win>();
  pending = 0;
  constructor(
    readonly j: number,
    readonly end: number,
  ) {}
}

/** Scratch for sorting the windows a bucket fires by key. */
let sortScratch = new Float64Array(1024);

/** The windows of a bucket that await their fire, in key order (keys are unique within a bucket). */
function pendingByKey(b: Bucket): Win[] {
  const wins: Win[] = [];
  for (const w of b.byKey.values()) if (w.pendingFire) wins.push(w);
  const n = wins.length;
  if (n < 2) return wins;
  if (n >= 2 ** 20) return wins.sort((a, c) => a.key - c.key);
  if (sortScratch.length < n) sortScratch = new Float64Array(Math.max(n, 2 * sortScratch.length));
  // key · 2^20 + index < 2^52: exact, and sorted by key (then index), with the native numeric sort.
  const packed = sortScratch.subarray(0, n);
  for (let i = 0; i < n; i++) packed[i] = wins[i]!.key * 1048576 + i;
  packed.sort();
  const out: Win[] = new Array<Win>(n);
  for (let i = 0; i < n; i++) out[i] = wins[packed[i]! % 1048576]!;
  return out;
}

/** The first window index j with j·step + offset + size > t, and the last with j·step + offset ≤ t. */
export function windowIndexRange(t: number, size: number, step: number, offset: number): [number, number] {
  let hi = Math.floor((t - offset) / step);
  while (hi * step + offset > t) hi--;
  while ((hi + 1) * step + offset <= t) hi++;
  let lo = Math.floor((t - offset - size) / step) + 1;
  while (lo * step + offset + size <= t) lo++;
  while ((lo - 1) * step + offset + size > t) lo--;
  return [lo, hi];
}

class EventTimeWindows implements WindowOperator {
  readonly spec: Readonly<NormalizedWindowSpec>;
  private readonly keyMap: KeyMap;
  private disposed = false;
  private ended = false;
  private rowsSeen = 0;
  private maxTs = -Infinity;
  private late = 0;
  /** Tumbling/hopping: grid index → its windows. */
  private readonly buckets = new Map<number, Bucket>();
  /** Tumbling/hopping: grid indices of the buckets, ascending. */
  private bucketJs: number[] = [];
  /** Session: key → sessions sorted by start. */
  private readonly sessions = new Map<number, Win[]>();
  /** Session: key → greatest end of its purged sessions. */
  private readonly purgedEnd = new Map<number, number>();
  private readonly timers = new TimerHeap();
  /** Scratch: windows a row changed after they fired. */
  private readonly touched: Win[] = [];
  private readonly ddof: number;
  private readonly q: number;

  constructor(spec: NormalizedWindowSpec) {
    this.spec = Object.freeze(spec);
    this.keyMap = new KeyMap(spec.keys);
    this.ddof = spec.ddof ?? 1;
    this.q = spec.q ?? 0;
  }

  get watermark(): number {
    return this.maxTs - this.spec.maxOutOfOrderness;
  }

  get lateCount(): number {
    return this.late;
  }

  private check(): void {
    if (this.disposed) throw new Error('operator has been disposed');
    if (this.ended) throw new Error('stream has ended (flush() was called): reset() to start again');
  }

  private result(win: Win): WindowResult {
    const s = this.spec;
    const r: WindowResult = {
      key: this.keyMap.keyOf(win.key),
      start: win.start,
      end: win.end,
      value: win.acc.value(s.op, s.minPeriods, this.ddof, this.q),
      count: win.acc.n,
      update: win.emitted !== undefined || win.merged.length > 0,
    };
    if (s.kind === 'session') {
      const replaces = [...win.merged];
      if (win.emitted !== undefined && (win.emitted.start !== win.start || win.emitted.end !== win.end)) replaces.unshift(win.emitted);
      if (replaces.length > 0) r.replaces = replaces;
    }
    // A grid window's range never changes: it is its own emitted range (no allocation).
    win.emitted = s.kind === 'session' ? { start: win.start, end: win.end } : win;
    win.merged = NO_RANGES;
    return r;
  }

  private schedule(win: Win, wm: number): void {
    win.version++;
    win.pendingFire = win.end > wm;
    if (win.pendingFire) this.timers.push({ time: win.end, type: FIRE, win, version: win.version });
    // With no allowed lateness, the fire timer also purges (purging is due at the same watermark).
    if (this.spec.allowedLateness > 0 || !win.pendingFire) this.timers.push({ time: win.end + this.spec.allowedLateness, type: PURGE, win, version: win.version });
  }

  /** Fires and purges every timer due at watermark wm (or every fire timer, at the end). */
  private advance(wm: number, out: WindowResult[], end: boolean): void {
    if (this.spec.kind !== 'session') {
      this.advanceGrid(wm, out, end);
      return;
    }
    const timers = this.timers;
    for (;;) {
      const top = timers.peek();
      if (top === undefined || (!end && top.time > wm)) break;
      timers.pop();
      const win = top.win;
      if (!win.alive || top.version !== win.version) continue;
      if (top.type === FIRE) {
        win.pendingFire = false;
        out.push(this.result(win));
        if (!end && this.spec.allowedLateness === 0) this.remove(win);
      } else if (!end) {
        this.remove(win);
      }
    }
  }

  /**
   * Tumbling/hopping: fires every window whose end the watermark reached, in
   * (end, key) order, and purges the buckets past end + allowedLateness (at
   * the end of the stream: fires every pending window, purges nothing). Grid
   * windows are never rescheduled, so this is the timer order of sessions:
   * (time, fire before purge, key, start); purges emit nothing.
   */
  private advanceGrid(wm: number, out: WindowResult[], end: boolean): void {
    const js = this.bucketJs;
    const lateness = this.spec.allowedLateness;
    let i = 0;
    let purged = 0;
    for (; i < js.length; i++) {
      const b = this.buckets.get(js[i]!)!;
      if (!end && b.end > wm) break;
      if (b.pending > 0) {
        for (const win of pendingByKey(b)) {
          win.pendingFire = false;
          out.push(this.result(win));
        }
        b.pending = 0;
      }
      if (!end && b.end + lateness <= wm) {
        for (const win of b.byKey.values()) win.alive = false;
        this.buckets.delete(b.j);
        purged++;
      } else if (purged > 0) {
        js[i - purged] = js[i]!;
      }
    }
    if (purged > 0) {
      for (; i < js.length; i++) js[i - purged] = js[i]!;
      js.length -= purged;
    }
  }

  private addToBucket(win: Win, j: number): void {
    let b = this.buckets.get(j);
    if (b === undefined) {
      b = new Bucket(j, win.end);
      this.buckets.set(j, b);
      const js = this.bucketJs;
      let at = js.length;
      while (at > 0 && js[at - 1]! > j) at--;
      js.splice(at, 0, j);
    }
    b.byKey.set(win.key, win);
    if (win.pendingFire) b.pending++;
  }

  /** Removes a session (grid windows leave with their bucket, in advanceGrid). */
  private remove(win: Win): void {
    win.alive = false;
    const list = this.sessions.get(win.key)!;
    list.splice(list.indexOf(win), 1);
    if (list.length === 0) this.sessions.delete(win.key);
    this.purgedEnd.set(win.key, Math.max(this.purgedEnd.get(win.key) ?? -Infinity, win.end));
  }


  push(timestamps: Float64Array | readonly number[], values: Float64Array | readonly number[], keys?: BatchKeys): WindowOutput {
    this.check();
    const ts = toF64(timestamps, 'timestamps');
    const vals = toF64(values, 'values');
    if (ts.length !== vals.length) throw new RangeError(`timestamps and values must have the same length, got ${ts.length} and ${vals.length}`);
    checkTimestamps(ts, this.rowsSeen);
    const ids = this.keyMap.ids32(keys, ts.length);
    const windows: WindowResult[] = [];
    const late: LateRow[] = [];
    for (let i = 0; i < ts.length; i++) {
      this.row(ts[i]!, vals[i]!, ids === undefined ? 0 : ids[i]!, this.rowsSeen + i, windows, late);
    }
    this.rowsSeen += ts.length;
    return { windows, late };
  }

  private row(t: number, x: number, k: number, row: number, windows: WindowResult[], late: LateRow[]): void {
    const s = this.spec;
    const wm = this.maxTs - s.maxOutOfOrderness;
    const touched = this.touched;
    touched.length = 0;
    let missed = 0;
    if (s.kind === 'session') {
      const win = this.session(t, k, wm);
      if (win === undefined) missed = 1;
      else {
        win.acc.add(s.op, x, t, row);
        if (win.end <= wm) touched.push(win);
      }
    } else {
      const { size, step, offset } = s;
      // windowIndexRange, without allocating
      let hi = Math.floor((t - offset) / step);
      while (hi * step + offset > t) hi--;
      while ((hi + 1) * step + offset <= t) hi++;
      let lo = Math.floor((t - offset - size) / step) + 1;
      while (lo * step + offset + size <= t) lo++;
      while ((lo - 1) * step + offset + size > t) lo--;
      for (let j = lo; j <= hi; j++) {
        const start = j * step + offset;
        const end = start + size;
        let win = this.buckets.get(j)?.byKey.get(k);
        if (win === undefined) {
          if (end + s.allowedLateness <= wm) {
            missed++;
            continue;
          }
          win = new Win(k, start, end, new Acc(s.op));
          // As schedule(): a fire is pending unless the watermark passed the end already.
          win.pendingFire = end > wm;
          this.addToBucket(win, j);
        }
        win.acc.add(s.op, x, t, row);
        if (end <= wm) touched.push(win);
      }
    }
    if (missed > 0) {
      late.push({ row, key: this.keyMap.keyOf(k), ts: t, value: x, missed });
      this.late++;
    }
    for (const win of touched) windows.push(this.result(win));
    if (t > this.maxTs) {
      this.maxTs = t;
      this.advance(t - s.maxOutOfOrderness, windows, false);
    }
  }

  /** The session a row at t of key k joins (created or merged), or undefined when it is late. */
  private session(t: number, k: number, wm: number): Win | undefined {
    const s = this.spec;
    const gap = s.gap;
    if (t + gap + s.allowedLateness <= wm || t < (this.purgedEnd.get(k) ?? -Infinity)) return undefined;
    let list = this.sessions.get(k);
    if (list === undefined) this.sessions.set(k, (list = []));
    // Sessions within gap of t: start < t + gap and t < end.
    let first = -1, last = -1;
    for (let i = 0; i < list.length; i++) {
      const w = list[i]!;
      if (w.start < t + gap && t < w.end) {
        if (first < 0) first = i;
        last = i;
      }
    }
    if (first < 0) {
      const win = new Win(k, t, t + gap, new Acc(s.op));
      let at = 0;
      while (at < list.length && list[at]!.start < t) at++;
      list.splice(at, 0, win);
      this.schedule(win, wm);
      return win;
    }
    const target = list[first]!;
    const oldStart = target.start, oldEnd = target.end;
    for (let i = first + 1; i <= last; i++) {
      const o = list[i]!;
      target.acc.merge(s.op, o.acc);
      if (target.merged === NO_RANGES && (o.emitted !== undefined || o.merged.length > 0)) target.merged = [];
      if (o.emitted !== undefined) target.merged.push(o.emitted);
      for (const m of o.merged) target.merged.push(m);
      target.end = Math.max(target.end, o.end);
      o.alive = false;
    }
    list.splice(first + 1, last - first);
    target.start = Math.min(target.start, t);
    target.end = Math.max(target.end, t + gap);
    if (target.start !== oldStart || target.end !== oldEnd || last > first) this.schedule(target, wm);
    return target;
  }

  flush(): WindowOutput {
    this.check();
    const windows: WindowResult[] = [];
    this.advance(Infinity, windows, true);
    this.ended = true;
    this.clearWindows();
    return { windows, late: [] };
  }

  private clearWindows(): void {
    this.buckets.clear();
    this.bucketJs = [];
    this.sessions.clear();
    this.purgedEnd.clear();
    this.timers.clear();
  }

  private allWindows(): Win[] {
    const out: Win[] = [];
    for (const j of this.bucketJs) for (const w of this.buckets.get(j)!.byKey.values()) out.push(w);
    for (const list of this.sessions.values()) for (const w of list) out.push(w);
    return out;
  }

  snapshot(): Uint8Array {
    if (this.disposed) throw new Error('operator has been disposed');
    const w = new ByteWriter();
    w.u8(this.ended ? 1 : 0);
    w.f64(this.rowsSeen);
    w.f64(this.maxTs);
    w.f64(this.late);
    w.u32(this.keyMap.names.length);
    for (const name of this.keyMap.names) w.str(name);
    const wins = this.allWindows();
    w.u32(wins.length);
    for (const win of wins) {
      w.u32(win.key);
      w.f64(win.start);
      w.f64(win.end);
      w.u8(win.pendingFire ? 1 : 0);
      w.u8(win.emitted === undefined ? 0 : 1);
      if (win.emitted !== undefined) {
        w.f64(win.emitted.start);
        w.f64(win.emitted.end);
      }
      w.u32(win.merged.length);
      for (const m of win.merged) {
        w.f64(m.start);
        w.f64(m.end);
      }
      win.acc.write(w);
    }
    w.u32(this.purgedEnd.size);
    for (const [k, e] of this.purgedEnd) {
      w.u32(k);
      w.f64(e);
    }
    return encodeTimeSnapshot(KIND_WINDOWS, this.spec, w.bytes());
  }

  restoreState(state: Uint8Array): void {
    const s = this.spec;
    const r = new ByteReader(state);
    const ended = r.u8();
    expectState(ended <= 1, 'bad end-of-stream flag');
    const rowsSeen = r.f64();
    expectState(Number.isInteger(rowsSeen) && rowsSeen >= 0 && rowsSeen <= 2 ** 53, 'row counter out of range');
    const maxTs = r.f64();
    expectState(maxTs === -Infinity || Number.isFinite(maxTs), 'greatest timestamp out of range');
    const late = r.f64();
    expectState(Number.isInteger(late) && late >= 0 && late <= rowsSeen, 'late counter out of range');
    const nNames = r.count(4, 'key name');
    expectState(s.keys === 'string' || nNames === 0, 'key names in a snapshot without string keys');
    const names: string[] = [];
    for (let i = 0; i < nNames; i++) names.push(r.str());
    expectState(new Set(names).size === names.length, 'duplicate key names');
    const wm = maxTs - s.maxOutOfOrderness;
    const nWins = r.count(40, 'window');
    const wins: Win[] = [];
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
        expectState(end - start === s.size && merged.length === 0, 'window length differs from size');
        const j = Math.round((start - s.offset) / s.step);
        expectState(j * s.step + s.offset === start, 'window start off the grid');
        expectState(emitted === undefined || (emitted.start === start && emitted.end === end), 'emitted range differs from the window');
      }
      expectState(acc.rows <= rowsSeen && acc.rows >= 1, 'window counts out of range');
      const win = new Win(key, start, end, acc);
      win.pendingFire = pending === 1;
      win.emitted = emitted;
      win.merged = merged;
      wins.push(win);
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
    // Sessions of a key must not overlap; grid windows must be unique.
    const byKey = new Map<number, Win[]>();
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
    this.keyMap.load(names);
    this.ended = ended === 1;
    this.rowsSeen = rowsSeen;
    this.maxTs = maxTs;
    this.late = late;
    for (const [k, list] of byKey) {
      if (s.kind !== 'session') {
        for (const win of list) this.addToBucket(win, Math.round((win.start - s.offset) / s.step));
        continue;
      }
      this.sessions.set(k, list);
      for (const win of list) {
        if (win.pendingFire) this.timers.push({ time: win.end, type: FIRE, win, version: 0 });
        if (s.allowedLateness > 0 || !win.pendingFire) this.timers.push({ time: win.end + s.allowedLateness, type: PURGE, win, version: 0 });
      }
    }
    for (const [k, e] of purged) this.purgedEnd.set(k, e);
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
export async function createWindows(spec: WindowSpec): Promise<WindowOperator> {
  return new EventTimeWindows(normalizeWindowSpec(spec));
}

/** The input form of a normalized window spec (fields of other kinds dropped). */
function inputForm(raw: Record<string, unknown>): Record<string, unknown> {
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
