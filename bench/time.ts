// `node dist/bench/time.js`: the time-window layer against plain-JS
// implementations with per-key Map state, same data, same run, in million
// rows/s (median of tinybench samples, each this process's CPU time unless --wall).
//
// - keyed rolling mean and median by duration: 10 000 keys, 1e6 rows,
//   window 10 s (about 10 rows per key window); targets ≥ 3× (mean) and
//   ≥ 2× (median) the plain-JS loop;
// - tumbling (1 s) and hopping (10 s every 2 s) sums over the same keyed rows
//   (worst case: about one row per window per key), and over the same rows
//   with 100 keys (typical: ~100 rows per tumbling window per key). The
//   plain-JS loops build the same result objects ({ key, start, end, value,
//   count, update }) as the operator returns: a loop that emits nothing is
//   not doing the same job.
//
// - issue 15's grid: 1e6 rows, 1 000 keys, mean and median over rolling by
//   duration (10 s), tumbling (1 s), hopping (10 s every 2 s) and session
//   (gap 300 ms) windows, targets ≥ 3× (mean) and ≥ 2× (median) the plain-JS
//   per-key Map loops; and keyed rolling mean over count windows (100 rows
//   per key, the kernel operator the CLI's `run --key` uses), target ≥ 4×.
//   The plain-JS window loops keep each open window's rows (median: sorted
//   when the window is emitted) or its sum and count (mean), and emit a
//   window when a later row of its key passes its end; each case is also
//   measured (same run, a third task) against the same loops emitting by the
//   watermark, in (end, key) order, as the operator does ("plain JS by
//   watermark", no target: the fairness check of issue 15). Sessions take
//   their target against the faster of two such loops (a Map kept in order of
//   last rows, a FIFO of session ends), checked window for window and in
//   order against the operator; the by-key ratio is printed as the old measure.
//   Tumbling and hopping are measured a third way, with columnar output on both sides
//   ("columns both sides": the operator's pushColumns/flushColumns against
//   jsGridColumns, the by-key loop appending to typed arrays); the first
//   rows (objects both sides) are unchanged. Sessions too (pushColumns
//   against the by-key, Map-order and FIFO-of-ends loops writing columns;
//   the target row against the faster of the two by watermark, as above,
//   and against the by-key loop, the issue's measure), in a tinybench run
//   of their own after the object rows' run, which is unchanged.
//   Rolling by duration is also measured against its plain-JS loop writing
//   into a fresh output array per pass ("plain JS with a fresh output
//   array", no target): push() returns fresh columns, which the loop of the
//   target's row does not allocate (it reuses one array); and, in a tinybench run of its own
//   after, with the output reused on both sides ("output reused both sides": pushInto into a
//   kept array against the same loop into its kept array).
// - issue 15's real timestamps: the grid's tumbling, hopping and session
//   rows again on the same data with its times offset to epoch ms
//   (Date.UTC(2026, 0, 1) + the same ms: above 2³¹, no V8 small integer, as
//   real users' times), labelled "epoch-ms times", against the same plain-JS
//   loops on the same times; the rows above keep the small times. The
//   --quick modes run ours (and --against's build) on both in one rotation.
//
// Flags: --rows N (default 1e6), --keys K (default 10 000), --few-keys F (default 100),
// --issue-keys I (default 1 000), --only rolling|windows|issue|keyed|session|rolling-issue|tumbling-issue|hopping-issue
// (one part of the suite; keyed: the grid's keyed rolling mean over count windows alone; session: its
// session rows alone; rolling-issue, tumbling-issue, hopping-issue: the grid's rows of that kind alone,
// the same workloads and tasks as in --only issue), --stat mean|median (the grid's rows of that statistic alone),
// --wall (samples in wall time; default: this process's CPU time, as bench/run.ts).
// --only session --quick [--passes P] [--against DIR]: the session rows' workload (the same data
// and specs) without tinybench: P passes (default 9) of each task in turn, in one process, each
// pass's CPU time, medians in ns per row after the first two (warm-up); with --against DIR (a
// build's dist directory), that build's operator runs in the same rotation (old and new alternated
// under the same load). The tinybench rows above are unchanged and still run without --quick.
// --only tumbling-issue|hopping-issue --quick [--passes P] [--against DIR]: the same for that
// kind's grid rows (ours, the plain-JS loops by key and by watermark, columns both sides).
// --only rolling-issue --quick [--passes P] [--against DIR]: the same for rolling by duration (ours
// by push and by pushInto a kept array, the plain-JS loop into a kept and into a fresh array; the
// other build by push, and by pushInto where it has it), then the ratios of the plain-JS loop's
// CPU time to ours'.
// Every --quick mode also runs ours (and --against's) and the plain-JS loop by key on the same
// rows with epoch-ms times ("epoch-ms times"; --no-epoch leaves them out).
import os from 'node:os';
import { rowsPerSecond as measureRowsPerSecond } from './measure.js';
import { createTimeRolling, createWindows, normalizeSpec, type WindowSpec } from '../src/index.js';
import { compiledModule } from '../src/engine.js';
import { createKernelOperator } from '../src/scheduler/operator.js';
import { planFor } from '../src/spec.js';
import { DEFAULT_KEY_GROUPS } from '../src/scheduler/hash.js';

const args = process.argv.slice(2);
const argNum = (name: string, fallback: number): number => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] !== undefined ? Number(args[i + 1]) : fallback;
};
const N = argNum('--rows', 1e6);
const KEYS = argNum('--keys', 10_000);
const FEW_KEYS = argNum('--few-keys', 100);
const ISSUE_KEYS = argNum('--issue-keys', 1000);
const CLOCK = args.includes('--wall') ? 'wall' : 'cpu';
const WINDOW = 10_000;
const ONLY = args.includes('--only') ? args[args.indexOf('--only') + 1] : undefined;
// --only session: issue 15's session rows alone (mean and median).
// --only rolling-issue|tumbling-issue|hopping-issue: issue 15's rows of that kind alone.
const ONLY_KIND = ONLY === 'rolling-issue' ? 'rolling' : ONLY === 'tumbling-issue' ? 'tumbling' : ONLY === 'hopping-issue' ? 'hopping' : undefined;
const STAT = args.includes('--stat') ? args[args.indexOf('--stat') + 1] : undefined;
const QUICK = args.includes('--quick');
const PASSES = argNum('--passes', 9);
const AGAINST = args.includes('--against') ? args[args.indexOf('--against') + 1] : undefined;
const EPOCH_ROWS = !args.includes('--no-epoch');
/** Issue 15's real timestamps: the same rows' times as epoch ms (2026-01-01 + the same ms), above 2³¹. */
const EPOCH = Date.UTC(2026, 0, 1);
const EPOCH_LABEL = ', epoch-ms times';

/** The same rows with their times offset to epoch ms. */
function atEpoch(d: { ts: Float64Array; xs: Float64Array; keys: Uint32Array }): { ts: Float64Array; xs: Float64Array; keys: Uint32Array } {
  return { ...d, ts: d.ts.map((t) => EPOCH + t) };
}

function data(nKeys = KEYS): { ts: Float64Array; xs: Float64Array; keys: Uint32Array } {
  const ts = new Float64Array(N), xs = new Float64Array(N), keys = new Uint32Array(N);
  let s = 12345;
  for (let i = 0; i < N; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    ts[i] = i / 10; // 10 rows per ms over all keys: ~1 row per key per second
    keys[i] = s % nKeys;
    xs[i] = s % 101 === 0 ? NaN : 100 + ((s >>> 8) / 16777216 - 0.5) * 20;
  }
  return { ts, xs, keys };
}

// ---------------------------------------------------------------------------
// Plain-JS baselines: what a careful developer writes with a Map per key.

interface MeanState {
  ts: number[];
  xs: number[];
  head: number;
  sum: number;
  count: number;
}

function jsKeyedMean(ts: Float64Array, xs: Float64Array, keys: Uint32Array, w: number, out: Float64Array): void {
  const states = new Map<number, MeanState>();
  for (let i = 0; i < ts.length; i++) {
    const k = keys[i]!, t = ts[i]!, x = xs[i]!;
    let st = states.get(k);
    if (st === undefined) states.set(k, (st = { ts: [], xs: [], head: 0, sum: 0, count: 0 }));
    const bound = t - w;
    while (st.head < st.ts.length && st.ts[st.head]! <= bound) {
      const old = st.xs[st.head]!;
      if (old === old) {
        st.sum -= old;
        st.count--;
      }
      st.head++;
    }
    if (st.head > 64 && st.head * 2 > st.ts.length) {
      st.ts = st.ts.slice(st.head);
      st.xs = st.xs.slice(st.head);
      st.head = 0;
    }
    st.ts.push(t);
    st.xs.push(x);
    if (x === x) {
      st.sum += x;
      st.count++;
    }
    out[i] = st.count > 0 ? st.sum / st.count : NaN;
  }
}

interface MedianState {
  ts: number[];
  xs: number[];
  head: number;
  sorted: number[];
}

function lowerBound(a: number[], x: number): number {
  let lo = 0, hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (a[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function jsKeyedMedian(ts: Float64Array, xs: Float64Array, keys: Uint32Array, w: number, out: Float64Array): void {
  const states = new Map<number, MedianState>();
  for (let i = 0; i < ts.length; i++) {
    const k = keys[i]!, t = ts[i]!, x = xs[i]!;
    let st = states.get(k);
    if (st === undefined) states.set(k, (st = { ts: [], xs: [], head: 0, sorted: [] }));
    const bound = t - w;
    while (st.head < st.ts.length && st.ts[st.head]! <= bound) {
      const old = st.xs[st.head]!;
      if (old === old) st.sorted.splice(lowerBound(st.sorted, old), 1);
      st.head++;
    }
    if (st.head > 64 && st.head * 2 > st.ts.length) {
      st.ts = st.ts.slice(st.head);
      st.xs = st.xs.slice(st.head);
      st.head = 0;
    }
    st.ts.push(t);
    st.xs.push(x);
    if (x === x) st.sorted.splice(lowerBound(st.sorted, x), 0, x);
    const s = st.sorted, n = s.length;
    out[i] = n === 0 ? NaN : n % 2 === 1 ? s[(n - 1) >> 1]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
  }
}

interface JsWindow {
  key: number;
  start: number;
  end: number;
  value: number;
  count: number;
  update: boolean;
}

/** In-order tumbling sums: one running window per key, emitted (as a result object) when the key moves to the next window. */
function jsTumbling(ts: Float64Array, xs: Float64Array, keys: Uint32Array, size: number): JsWindow[] {
  const states = new Map<number, { start: number; sum: number; count: number }>();
  const out: JsWindow[] = [];
  for (let i = 0; i < ts.length; i++) {
    const k = keys[i]!, t = ts[i]!, x = xs[i]!;
    const start = Math.floor(t / size) * size;
    let st = states.get(k);
    if (st === undefined) states.set(k, (st = { start, sum: 0, count: 0 }));
    else if (st.start !== start) {
      out.push({ key: k, start: st.start, end: st.start + size, value: st.sum, count: st.count, update: false });
      st.start = start;
      st.sum = 0;
      st.count = 0;
    }
    if (x === x) {
      st.sum += x;
      st.count++;
    }
  }
  for (const [k, st] of states) out.push({ key: k, start: st.start, end: st.start + size, value: st.sum, count: st.count, update: false });
  return out;
}

/** In-order hopping sums: per key, a Map of open windows by start; a window is emitted once a row of its key passes its end. */
function jsHopping(ts: Float64Array, xs: Float64Array, keys: Uint32Array, size: number, step: number): JsWindow[] {
  const states = new Map<number, Map<number, { sum: number; count: number }>>();
  const out: JsWindow[] = [];
  for (let i = 0; i < ts.length; i++) {
    const k = keys[i]!, t = ts[i]!, x = xs[i]!;
    let wins = states.get(k);
    if (wins === undefined) states.set(k, (wins = new Map()));
    for (const [start, w] of wins) {
      if (start + size <= t) {
        wins.delete(start);
        out.push({ key: k, start, end: start + size, value: w.sum, count: w.count, update: false });
      }
    }
    for (let start = Math.floor(t / step) * step; start > t - size; start -= step) {
      let w = wins.get(start);
      if (w === undefined) wins.set(start, (w = { sum: 0, count: 0 }));
      if (x === x) {
        w.sum += x;
        w.count++;
      }
    }
  }
  for (const [k, wins] of states) for (const [start, w] of wins) out.push({ key: k, start, end: start + size, value: w.sum, count: w.count, update: false });
  return out;
}

// Issue 15's plain-JS window loops, mean or median: per key a Map of open
// windows, each with its rows (median) or its sum and count (mean).

type Stat = 'mean' | 'median';

/** One open window's aggregate, as a careful developer keeps it. */
class JsAgg {
  sum = 0;
  count = 0;
  readonly rows: number[] = [];
  constructor(private readonly stat: Stat) {}
  add(x: number): void {
    if (x !== x) return;
    this.count++;
    if (this.stat === 'mean') this.sum += x;
    else this.rows.push(x);
  }
  value(): number {
    if (this.count === 0) return NaN;
    if (this.stat === 'mean') return this.sum / this.count;
    const s = this.rows.sort((a, b) => a - b), n = s.length;
    return n % 2 === 1 ? s[(n - 1) >> 1]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
  }
}

const emit = (out: JsWindow[], key: number, start: number, end: number, a: JsAgg): number =>
  out.push({ key, start, end, value: a.value(), count: a.count, update: false });

/** In-order tumbling or hopping windows (tumbling: step = size): per key, a Map of open windows by start. */
function jsGrid(stat: Stat, ts: Float64Array, xs: Float64Array, keys: Uint32Array, size: number, step: number): JsWindow[] {
  const states = new Map<number, Map<number, JsAgg>>();
  const out: JsWindow[] = [];
  for (let i = 0; i < ts.length; i++) {
    const k = keys[i]!, t = ts[i]!, x = xs[i]!;
    let wins = states.get(k);
    if (wins === undefined) states.set(k, (wins = new Map()));
    for (const [start, a] of wins) {
      if (start + size <= t) {
        wins.delete(start);
        emit(out, k, start, start + size, a);
      }
    }
    for (let start = Math.floor(t / step) * step; start > t - size; start -= step) {
      let a = wins.get(start);
      if (a === undefined) wins.set(start, (a = new JsAgg(stat)));
      a.add(x);
    }
  }
  for (const [k, wins] of states) for (const [start, a] of wins) emit(out, k, start, start + size, a);
  return out;
}

/** In-order sessions: per key one open session [start, last + gap), emitted when a row of its key comes gap or more after its last row. */
function jsSession(stat: Stat, ts: Float64Array, xs: Float64Array, keys: Uint32Array, gap: number): JsWindow[] {
  const states = new Map<number, { start: number; last: number; agg: JsAgg }>();
  const out: JsWindow[] = [];
  for (let i = 0; i < ts.length; i++) {
    const k = keys[i]!, t = ts[i]!;
    let st = states.get(k);
    if (st !== undefined && t >= st.last + gap) {
      emit(out, k, st.start, st.last + gap, st.agg);
      st = undefined;
    }
    if (st === undefined) states.set(k, (st = { start: t, last: t, agg: new JsAgg(stat) }));
    st.last = t;
    st.agg.add(xs[i]!);
  }
  for (const [k, st] of states) emit(out, k, st.start, st.last + gap, st.agg);
  return out;
}

// The grid loop with columnar output (the twin of the operator's pushColumns/flushColumns):
// each emitted window's fields appended to growable typed arrays, no object per window.

/** Windows as columns: what jsGridColumns emits (and the operator's WindowColumns hold); scratch kept from call to call, as the operator keeps its own. */
class JsColumns {
  length = 0;
  keys = new Uint32Array(1024);
  start = new Float64Array(1024);
  end = new Float64Array(1024);
  value = new Float64Array(1024);
  count = new Float64Array(1024);
  add(key: number, start: number, end: number, a: JsAgg): void {
    const i = this.length;
    if (i === this.keys.length) this.grow();
    this.keys[i] = key;
    this.start[i] = start;
    this.end[i] = end;
    this.value[i] = a.value();
    this.count[i] = a.count;
    this.length = i + 1;
  }
  /** Exact-size copies of the windows so far; empties the scratch. */
  finish(): { length: number; keys: Uint32Array; start: Float64Array; end: Float64Array; value: Float64Array; count: Float64Array } {
    const n = this.length;
    this.length = 0;
    return { length: n, keys: this.keys.slice(0, n), start: this.start.slice(0, n), end: this.end.slice(0, n), value: this.value.slice(0, n), count: this.count.slice(0, n) };
  }
  private grow(): void {
    const more = <T extends Uint32Array | Float64Array>(x: T): T => {
      const y = new (x.constructor as new (n: number) => T)(2 * x.length);
      y.set(x);
      return y;
    };
    this.keys = more(this.keys);
    this.start = more(this.start);
    this.end = more(this.end);
    this.value = more(this.value);
    this.count = more(this.count);
  }
}

const jsColumnScratch = new JsColumns();

/** jsGrid with columnar output: per key, a Map of open windows by start, emitted into typed arrays. */
function jsGridColumns(stat: Stat, ts: Float64Array, xs: Float64Array, keys: Uint32Array, size: number, step: number): ReturnType<JsColumns['finish']> {
  const states = new Map<number, Map<number, JsAgg>>();
  const out = jsColumnScratch;
  for (let i = 0; i < ts.length; i++) {
    const k = keys[i]!, t = ts[i]!, x = xs[i]!;
    let wins = states.get(k);
    if (wins === undefined) states.set(k, (wins = new Map()));
    for (const [start, a] of wins) {
      if (start + size <= t) {
        wins.delete(start);
        out.add(k, start, start + size, a);
      }
    }
    for (let start = Math.floor(t / step) * step; start > t - size; start -= step) {
      let a = wins.get(start);
      if (a === undefined) wins.set(start, (a = new JsAgg(stat)));
      a.add(x);
    }
  }
  for (const [k, wins] of states) for (const [start, a] of wins) out.add(k, start, start + size, a);
  return out.finish();
}

/** Columns (the operator's or jsGridColumns') as window objects, for checkSameWindows. */
function columnWindows(...parts: { length: number; keys: Uint32Array; start: Float64Array; end: Float64Array; value: Float64Array; count: Float64Array }[]): JsWindow[] {
  const out: JsWindow[] = [];
  for (const c of parts) for (let i = 0; i < c.length; i++) out.push({ key: c.keys[i]!, start: c.start[i]!, end: c.end[i]!, value: c.value[i]!, count: c.count[i]!, update: false });
  return out;
}

// The same loops with the operator's emission rule (issue 15's fairness check): a window is
// emitted once the watermark (the greatest timestamp so far) reaches its end, windows due at
// once in (end, key) order, not when a later row of its own key comes. The loops above emit
// the same windows (as multisets) but a window of a key that goes quiet waits for the flush.

/** In-order tumbling or hopping windows emitted by the watermark: open windows by start (ascending), each a Map of its keys' aggregates. */
function jsGridWatermark(stat: Stat, ts: Float64Array, xs: Float64Array, keys: Uint32Array, size: number, step: number): JsWindow[] {
  const byStart = new Map<number, Map<number, JsAgg>>();
  const starts: number[] = [];
  const out: JsWindow[] = [];
  const emitStart = (start: number): void => {
    const wins = byStart.get(start)!;
    for (const k of [...wins.keys()].sort((a, b) => a - b)) emit(out, k, start, start + size, wins.get(k)!);
    byStart.delete(start);
  };
  let head = 0;
  for (let i = 0; i < ts.length; i++) {
    const k = keys[i]!, t = ts[i]!, x = xs[i]!;
    while (head < starts.length && starts[head]! + size <= t) emitStart(starts[head++]!);
    for (let start = Math.floor(t / step) * step; start > t - size; start -= step) {
      let wins = byStart.get(start);
      if (wins === undefined) {
        byStart.set(start, (wins = new Map()));
        // In order: a new start is above every open one, except a hopping row's earlier windows (created by its first row).
        let at = starts.length;
        while (at > head && starts[at - 1]! > start) at--;
        starts.splice(at, 0, start);
      }
      let a = wins.get(k);
      if (a === undefined) wins.set(k, (a = new JsAgg(stat)));
      a.add(x);
    }
  }
  while (head < starts.length) emitStart(starts[head++]!);
  return out;
}

/** In-order sessions emitted by the watermark: open sessions in a Map kept in order of their last row (a row moves its key to the end), so the first ends first. */
function jsSessionWatermark(stat: Stat, ts: Float64Array, xs: Float64Array, keys: Uint32Array, gap: number): JsWindow[] {
  const open = new Map<number, { start: number; last: number; agg: JsAgg }>();
  const out: JsWindow[] = [];
  const due: number[] = [];
  const emitDue = (): void => {
    if (due.length > 1) due.sort((a, b) => open.get(a)!.last - open.get(b)!.last || a - b);
    for (const k of due) {
      const st = open.get(k)!;
      emit(out, k, st.start, st.last + gap, st.agg);
      open.delete(k);
    }
    due.length = 0;
  };
  for (let i = 0; i < ts.length; i++) {
    const k = keys[i]!, t = ts[i]!;
    for (const [key, st] of open) {
      if (st.last + gap > t) break;
      due.push(key);
    }
    if (due.length > 0) emitDue();
    let st = open.get(k);
    if (st === undefined) open.set(k, (st = { start: t, last: t, agg: new JsAgg(stat) }));
    else {
      open.delete(k);
      open.set(k, st);
    }
    st.last = t;
    st.agg.add(xs[i]!);
  }
  for (const k of open.keys()) due.push(k);
  emitDue();
  return out;
}

/**
 * In-order sessions emitted by the watermark, as a careful developer writes it: each row queues
 * (its session's new end, the session) at the tail of a FIFO (rows in event-time order queue ends
 * in order); the watermark pops the entries it reaches and emits a session when the entry is its
 * current end (an entry left behind by a row that moved the end on is skipped). Sessions due at
 * once go in (end, key) order, as the operator's. One Map look-up per row, no Map reordering.
 */
function jsSessionQueue(stat: Stat, ts: Float64Array, xs: Float64Array, keys: Uint32Array, gap: number): JsWindow[] {
  type Open = { key: number; start: number; last: number; agg: JsAgg; done: boolean };
  const open = new Map<number, Open>();
  // A ring of (end, session): it holds the rows within gap of the watermark, and the session itself (no look-up when an entry pops).
  let qEnd = new Float64Array(1024), qSession = new Array<Open | undefined>(1024).fill(undefined);
  let head = 0, size = 0;
  const out: JsWindow[] = [];
  const due: Open[] = [];
  const emitDue = (): void => {
    // Entries pop in end order; ties of one end go by key.
    if (due.length > 1) due.sort((a, b) => a.last - b.last || a.key - b.key);
    for (const st of due) {
      emit(out, st.key, st.start, st.last + gap, st.agg);
      open.delete(st.key);
    }
    due.length = 0;
  };
  for (let i = 0; i < ts.length; i++) {
    const k = keys[i]!, t = ts[i]!;
    const mask = qEnd.length - 1;
    while (size > 0 && qEnd[head]! <= t) {
      const st = qSession[head]!;
      if (!st.done && st.last + gap === qEnd[head]) {
        st.done = true;
        due.push(st);
      }
      qSession[head] = undefined;
      head = (head + 1) & mask;
      size--;
    }
    if (due.length > 0) emitDue();
    let st = open.get(k);
    if (st === undefined) open.set(k, (st = { key: k, start: t, last: t, agg: new JsAgg(stat), done: false }));
    st.last = t;
    st.agg.add(xs[i]!);
    if (size === qEnd.length) {
      // Full: twice the room, oldest first.
      const ends = new Float64Array(2 * size), sessions = new Array<Open | undefined>(2 * size).fill(undefined);
      for (let j = 0; j < size; j++) {
        ends[j] = qEnd[(head + j) & mask]!;
        sessions[j] = qSession[(head + j) & mask];
      }
      qEnd = ends;
      qSession = sessions;
      head = 0;
    }
    const at = (head + size++) & (qEnd.length - 1);
    qEnd[at] = t + gap;
    qSession[at] = st;
  }
  for (const st of open.values()) due.push(st);
  emitDue();
  return out;
}

// The session loops with columnar output (the twins of the operator's pushColumns/flushColumns):
// jsSession, jsSessionWatermark and jsSessionQueue, each emitted window appended to JsColumns.

/** jsSession (by key) with columnar output. */
function jsSessionColumns(stat: Stat, ts: Float64Array, xs: Float64Array, keys: Uint32Array, gap: number): ReturnType<JsColumns['finish']> {
  const states = new Map<number, { start: number; last: number; agg: JsAgg }>();
  const out = jsColumnScratch;
  for (let i = 0; i < ts.length; i++) {
    const k = keys[i]!, t = ts[i]!;
    let st = states.get(k);
    if (st !== undefined && t >= st.last + gap) {
      out.add(k, st.start, st.last + gap, st.agg);
      st = undefined;
    }
    if (st === undefined) states.set(k, (st = { start: t, last: t, agg: new JsAgg(stat) }));
    st.last = t;
    st.agg.add(xs[i]!);
  }
  for (const [k, st] of states) out.add(k, st.start, st.last + gap, st.agg);
  return out.finish();
}

/** jsSessionWatermark (a Map kept in order of last rows) with columnar output. */
function jsSessionWatermarkColumns(stat: Stat, ts: Float64Array, xs: Float64Array, keys: Uint32Array, gap: number): ReturnType<JsColumns['finish']> {
  const open = new Map<number, { start: number; last: number; agg: JsAgg }>();
  const out = jsColumnScratch;
  const due: number[] = [];
  const emitDue = (): void => {
    if (due.length > 1) due.sort((a, b) => open.get(a)!.last - open.get(b)!.last || a - b);
    for (const k of due) {
      const st = open.get(k)!;
      out.add(k, st.start, st.last + gap, st.agg);
      open.delete(k);
    }
    due.length = 0;
  };
  for (let i = 0; i < ts.length; i++) {
    const k = keys[i]!, t = ts[i]!;
    for (const [key, st] of open) {
      if (st.last + gap > t) break;
      due.push(key);
    }
    if (due.length > 0) emitDue();
    let st = open.get(k);
    if (st === undefined) open.set(k, (st = { start: t, last: t, agg: new JsAgg(stat) }));
    else {
      open.delete(k);
      open.set(k, st);
    }
    st.last = t;
    st.agg.add(xs[i]!);
  }
  for (const k of open.keys()) due.push(k);
  emitDue();
  return out.finish();
}

/** jsSessionQueue (a FIFO of session ends) with columnar output. */
function jsSessionQueueColumns(stat: Stat, ts: Float64Array, xs: Float64Array, keys: Uint32Array, gap: number): ReturnType<JsColumns['finish']> {
  type Open = { key: number; start: number; last: number; agg: JsAgg; done: boolean };
  const open = new Map<number, Open>();
  let qEnd = new Float64Array(1024), qSession = new Array<Open | undefined>(1024).fill(undefined);
  let head = 0, size = 0;
  const out = jsColumnScratch;
  const due: Open[] = [];
  const emitDue = (): void => {
    if (due.length > 1) due.sort((a, b) => a.last - b.last || a.key - b.key);
    for (const st of due) {
      out.add(st.key, st.start, st.last + gap, st.agg);
      open.delete(st.key);
    }
    due.length = 0;
  };
  for (let i = 0; i < ts.length; i++) {
    const k = keys[i]!, t = ts[i]!;
    const mask = qEnd.length - 1;
    while (size > 0 && qEnd[head]! <= t) {
      const st = qSession[head]!;
      if (!st.done && st.last + gap === qEnd[head]) {
        st.done = true;
        due.push(st);
      }
      qSession[head] = undefined;
      head = (head + 1) & mask;
      size--;
    }
    if (due.length > 0) emitDue();
    let st = open.get(k);
    if (st === undefined) open.set(k, (st = { key: k, start: t, last: t, agg: new JsAgg(stat), done: false }));
    st.last = t;
    st.agg.add(xs[i]!);
    if (size === qEnd.length) {
      const ends = new Float64Array(2 * size), sessions = new Array<Open | undefined>(2 * size).fill(undefined);
      for (let j = 0; j < size; j++) {
        ends[j] = qEnd[(head + j) & mask]!;
        sessions[j] = qSession[(head + j) & mask];
      }
      qEnd = ends;
      qSession = sessions;
      head = 0;
    }
    const at = (head + size++) & (qEnd.length - 1);
    qEnd[at] = t + gap;
    qSession[at] = st;
  }
  for (const st of open.values()) due.push(st);
  emitDue();
  return out.finish();
}

/** Keyed rolling mean over count windows: per key a ring of its last w rows and a running sum (NaN: missing). */
function jsKeyedCountMean(xs: Float64Array, keys: Uint32Array, w: number, out: Float64Array): void {
  const states = new Map<number, { ring: Float64Array; pos: number; sum: number; count: number }>();
  for (let i = 0; i < xs.length; i++) {
    const k = keys[i]!, x = xs[i]!;
    let st = states.get(k);
    if (st === undefined) states.set(k, (st = { ring: new Float64Array(w).fill(NaN), pos: 0, sum: 0, count: 0 }));
    const old = st.ring[st.pos]!;
    if (old === old) {
      st.sum -= old;
      st.count--;
    }
    st.ring[st.pos] = x;
    st.pos = st.pos + 1 === w ? 0 : st.pos + 1;
    if (x === x) {
      st.sum += x;
      st.count++;
    }
    out[i] = st.count > 0 ? st.sum / st.count : NaN;
  }
}

type SomeWindow = { key: number | string; start: number; end: number; count: number; value: number };
const closeTo = (x: number, y: number): boolean => (Number.isNaN(x) && Number.isNaN(y)) || Math.abs(x - y) <= 1e-9 * Math.abs(y);

/** Throws unless both emit the same windows (as multisets by key, start, end, count), values within 1e-9 relative. */
function checkSameWindows(what: string, ours: readonly SomeWindow[], ref: readonly JsWindow[]): void {
  const enc = (w: { key: number | string; start: number; end: number; count: number }): string => `${w.key}/${w.start}/${w.end}/${w.count}`;
  const byEnc = (ws: readonly SomeWindow[]) => [...ws].sort((a, b) => (enc(a) < enc(b) ? -1 : enc(a) > enc(b) ? 1 : 0));
  const a = byEnc(ours), b = byEnc(ref);
  if (a.length !== b.length || a.some((w, i) => enc(w) !== enc(b[i]!) || !closeTo(w.value, b[i]!.value))) throw new Error(`${what}: windows differ from the plain-JS loop`);
}

/** Throws unless both emit the same windows in the same order (key, start, end, count; values within 1e-9 relative). */
function checkSameOrder(what: string, ours: readonly SomeWindow[], ref: readonly JsWindow[]): void {
  const i = ours.findIndex((w, i) => { const r = ref[i]; return r === undefined || w.key !== r.key || w.start !== r.start || w.end !== r.end || w.count !== r.count || !closeTo(w.value, r.value); });
  if (i >= 0 || ours.length !== ref.length) throw new Error(`${what}: windows differ from the plain-JS loop or come in another order (at ${i})`);
}

// ---------------------------------------------------------------------------

function rowsPerSecond(tasks: Record<string, () => void>): Promise<Record<string, number>> {
  return measureRowsPerSecond(N, tasks, { time: 1500, warmupTime: 300, clock: CLOCK });
}

const fmt = (x: number): string => (x >= 100 ? x.toFixed(0) : x.toFixed(2));

async function main(): Promise<void> {
  const { ts, xs, keys } = data();
  const out = new Float64Array(N);
  console.log(`time windows: ${N.toExponential(0)} rows, ${KEYS} keys (issue 15 grid: ${ISSUE_KEYS} keys), ${os.cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}, ${CLOCK} time, load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  const rows: string[] = [];
  const report = (name: string, ours: number, js: number, target?: number): void => {
    const ratio = ours / js;
    const verdict = target === undefined ? '' : ratio >= target ? `met ≥${target}×` : `MISSED ≥${target}×`;
    const line = `${name.padEnd(34)} streamkernel ${fmt(ours).padStart(7)}  plain JS ${fmt(js).padStart(7)} M rows/s  ${ratio.toFixed(2)}×  ${verdict}`;
    console.log(line);
    rows.push(line);
  };

  if (ONLY === undefined || ONLY === 'issue' || ONLY === 'session' || ONLY_KIND !== undefined) await issueGrid(report);
  if (ONLY === 'keyed') await keyedCountMean(report);

  for (const op of ONLY !== undefined && ONLY !== 'rolling' ? [] : (['mean', 'median'] as const)) {
    const kernel = await createTimeRolling({ op, window: WINDOW, keys: 'number' });
    // Check once that both compute the same thing.
    const ref = new Float64Array(N);
    (op === 'mean' ? jsKeyedMean : jsKeyedMedian)(ts, xs, keys, WINDOW, ref);
    const got = kernel.push(ts, xs, keys).values;
    for (let i = 0; i < N; i += 9973) {
      if (!(Math.abs(got[i]! - ref[i]!) <= 1e-9 * Math.abs(ref[i]!)) && !(Number.isNaN(got[i]!) && Number.isNaN(ref[i]!))) {
        throw new Error(`keyed ${op}: row ${i} differs: ${got[i]} vs ${ref[i]}`);
      }
    }
    const r = await rowsPerSecond({
      ours: () => {
        kernel.reset();
        kernel.push(ts, xs, keys);
      },
      js: () => (op === 'mean' ? jsKeyedMean : jsKeyedMedian)(ts, xs, keys, WINDOW, out),
    });
    report(`keyed rolling ${op} by duration (10 s)`, r.ours!, r.js!, op === 'mean' ? 3 : 2);
    kernel.dispose();
  }

  const gridCases = [
    ['', { ts, xs, keys }],
    [`, ${FEW_KEYS} keys`, data(FEW_KEYS)],
  ] as const;
  for (const [label, d] of ONLY !== undefined && ONLY !== 'windows' ? [] : gridCases) {
    const tumbling = await createWindows({ kind: 'tumbling', op: 'sum', size: '1s', keys: 'number' });
    const hopping = await createWindows({ kind: 'hopping', op: 'sum', size: '10s', step: '2s', keys: 'number' });
    // Check once that both emit the same windows (as multisets: the operator emits in (end, key) order).
    for (const [op, js] of [
      [tumbling, () => jsTumbling(d.ts, d.xs, d.keys, 1000)],
      [hopping, () => jsHopping(d.ts, d.xs, d.keys, 10_000, 2000)],
    ] as const) {
      op.reset();
      const ours = [...op.push(d.ts, d.xs, d.keys).windows, ...op.flush().windows];
      const ref = js();
      const enc = (w: { key: number | string; start: number; count: number }): string => `${w.key}/${w.start}/${w.count}`;
      const a = ours.map(enc).sort(), b = ref.map(enc).sort();
      if (a.length !== b.length || a.some((x, i) => x !== b[i])) throw new Error(`${op.spec.kind}${label}: windows differ from the plain-JS loop`);
    }
    const t = await rowsPerSecond({
      ours: () => {
        tumbling.reset();
        tumbling.push(d.ts, d.xs, d.keys);
        tumbling.flush();
      },
      js: () => jsTumbling(d.ts, d.xs, d.keys, 1000),
    });
    report(`keyed tumbling sum (1 s)${label}`, t.ours!, t.js!);
    const h = await rowsPerSecond({
      ours: () => {
        hopping.reset();
        hopping.push(d.ts, d.xs, d.keys);
        hopping.flush();
      },
      js: () => jsHopping(d.ts, d.xs, d.keys, 10_000, 2000),
    });
    report(`keyed hopping sum (10 s every 2 s)${label}`, h.ours!, h.js!);
  }
}

/** Issue 15's grid: ISSUE_KEYS keys, mean and median over every kind of time window, and keyed rolling mean over count windows. */
async function issueGrid(report: (name: string, ours: number, js: number, target?: number) => void): Promise<void> {
  const d = data(ISSUE_KEYS);
  const out = new Float64Array(N);
  const label = `${ISSUE_KEYS} keys`;
  for (const stat of ['mean', 'median'] as const) {
    if (STAT !== undefined && STAT !== stat) continue;
    if (ONLY === 'session' && QUICK) {
      await sessionQuick(stat, d);
      continue;
    }
    if (ONLY === 'session') {
      await sessionCase(stat, d, report);
      continue;
    }
    if ((ONLY_KIND === 'tumbling' || ONLY_KIND === 'hopping') && QUICK) {
      await gridQuick(stat, ONLY_KIND, d);
      continue;
    }
    if (ONLY_KIND === 'rolling' && QUICK) {
      await rollingQuick(stat, d);
      continue;
    }
    const target = stat === 'mean' ? 3 : 2;
    if (ONLY_KIND === undefined || ONLY_KIND === 'rolling') await rollingCase(stat, d, out, report);
    if (ONLY_KIND === 'rolling') continue;
    // Each with the plain-JS loop emitting by key (the issue's measure) and the one emitting by the watermark.
    const kinds: [string, WindowSpec, () => JsWindow[], () => JsWindow[]][] = [
      ['tumbling (1 s)', { kind: 'tumbling', op: stat, size: '1s' }, () => jsGrid(stat, d.ts, d.xs, d.keys, 1000, 1000), () => jsGridWatermark(stat, d.ts, d.xs, d.keys, 1000, 1000)],
      ['hopping (10 s every 2 s)', { kind: 'hopping', op: stat, size: '10s', step: '2s' }, () => jsGrid(stat, d.ts, d.xs, d.keys, 10_000, 2000), () => jsGridWatermark(stat, d.ts, d.xs, d.keys, 10_000, 2000)],
    ];
    for (const [name, spec, js, jsWatermark] of kinds) {
      if (ONLY_KIND !== undefined && ONLY_KIND !== spec.kind) continue;
      const op = await createWindows({ ...spec, keys: 'number' });
      checkSameWindows(`${name} ${stat}`, [...op.push(d.ts, d.xs, d.keys).windows, ...op.flush().windows], js());
      checkSameWindows(`${name} ${stat}, plain JS by watermark`, jsWatermark(), js());
      // Tumbling and hopping also as columns on both sides (pushColumns against jsGridColumns), a third pair of the same run.
      const grid = spec.kind !== 'session';
      const size = spec.kind === 'hopping' ? 10_000 : 1000, step = spec.kind === 'hopping' ? 2000 : 1000;
      const jsColumns = (): ReturnType<JsColumns['finish']> => jsGridColumns(stat, d.ts, d.xs, d.keys, size, step);
      if (grid) {
        op.reset();
        checkSameWindows(`${name} ${stat}, columns`, columnWindows(op.pushColumns(d.ts, d.xs, d.keys), op.flushColumns()), js());
        checkSameWindows(`${name} ${stat}, plain JS columns`, columnWindows(jsColumns()), js());
      }
      const columnTasks: Record<string, () => void> = grid
        ? {
            oursColumns: () => {
              op.reset();
              op.pushColumns(d.ts, d.xs, d.keys);
              op.flushColumns();
            },
            jsColumns,
          }
        : {};
      const t = await rowsPerSecond({
        ours: () => {
          op.reset();
          op.push(d.ts, d.xs, d.keys);
          op.flush();
        },
        js,
        jsWatermark,
        ...columnTasks,
      });
      report(`${spec.kind} ${stat} ${name.slice(spec.kind.length + 1)}, ${label}`, t.ours!, t.js!, target);
      report(`  ${spec.kind} ${stat}, plain JS by watermark`, t.ours!, t.jsWatermark!);
      if (grid) report(`  ${spec.kind} ${stat}, columns both sides`, t.oursColumns!, t.jsColumns!, target);
      if (EPOCH_ROWS && grid) {
        // The same rows at epoch-ms times, a run of their own (the run above is unchanged).
        const e = atEpoch(d);
        const jsEpoch = (): JsWindow[] => jsGrid(stat, e.ts, e.xs, e.keys, size, step);
        op.reset();
        checkSameWindows(`${name} ${stat}${EPOCH_LABEL}`, [...op.push(e.ts, e.xs, e.keys).windows, ...op.flush().windows], jsEpoch());
        const te = await rowsPerSecond({
          ours: () => {
            op.reset();
            op.push(e.ts, e.xs, e.keys);
            op.flush();
          },
          js: jsEpoch,
          oursColumns: () => {
            op.reset();
            op.pushColumns(e.ts, e.xs, e.keys);
            op.flushColumns();
          },
          jsColumns: () => jsGridColumns(stat, e.ts, e.xs, e.keys, size, step),
        });
        report(`  ${spec.kind} ${stat}${EPOCH_LABEL}`, te.ours!, te.js!, target);
        report(`  ${spec.kind} ${stat}, columns both sides${EPOCH_LABEL}`, te.oursColumns!, te.jsColumns!, target);
      }
      op.dispose();
    }
    if (ONLY_KIND === undefined) await sessionCase(stat, d, report);
  }

  if (ONLY !== 'session' && ONLY_KIND === undefined) await keyedCountMean(report);
}

/** Issue 15's rolling-by-duration row (10 s) of one statistic. */
async function rollingCase(stat: Stat, d: { ts: Float64Array; xs: Float64Array; keys: Uint32Array }, out: Float64Array, report: (name: string, ours: number, js: number, target?: number) => void): Promise<void> {
  const label = `${ISSUE_KEYS} keys`;
  const target = stat === 'mean' ? 3 : 2;
  const rolling = await createTimeRolling({ op: stat, window: WINDOW, keys: 'number' });
  const ref = new Float64Array(N);
  (stat === 'mean' ? jsKeyedMean : jsKeyedMedian)(d.ts, d.xs, d.keys, WINDOW, ref);
  const got = rolling.push(d.ts, d.xs, d.keys).values;
  for (let i = 0; i < N; i++) {
    if (!(Math.abs(got[i]! - ref[i]!) <= 1e-9 * Math.abs(ref[i]!)) && !(Number.isNaN(got[i]!) && Number.isNaN(ref[i]!))) throw new Error(`rolling ${stat}, ${label}: row ${i} differs: ${got[i]} vs ${ref[i]}`);
  }
  const r = await rowsPerSecond({
    ours: () => {
      rolling.reset();
      rolling.push(d.ts, d.xs, d.keys);
    },
    js: () => (stat === 'mean' ? jsKeyedMean : jsKeyedMedian)(d.ts, d.xs, d.keys, WINDOW, out),
    // push() returns fresh result and row-number columns (2 × 8 bytes a row, first touched then); the loop above writes into one array made once.
    jsFreshOutput: () => (stat === 'mean' ? jsKeyedMean : jsKeyedMedian)(d.ts, d.xs, d.keys, WINDOW, new Float64Array(N)),
  });
  report(`rolling ${stat} by duration (10 s), ${label}`, r.ours!, r.js!, target);
  report(`  rolling ${stat}, plain JS with a fresh output array`, r.ours!, r.jsFreshOutput!);
  // Both sides reusing their output: pushInto a kept array against the plain-JS loop into its kept
  // array. A run of its own, after: tinybench warms every task of a run up before it measures any,
  // so a task added to the run above would change what its rows measure.
  const kept = new Float64Array(N);
  rolling.reset();
  rolling.pushInto(d.ts, d.xs, kept, d.keys);
  if (kept.some((y, i) => !Object.is(y, got[i]))) throw new Error(`rolling ${stat}, ${label}: pushInto differs from push`);
  const k = await rowsPerSecond({
    oursInto: () => {
      rolling.reset();
      rolling.pushInto(d.ts, d.xs, kept, d.keys);
    },
    js: () => (stat === 'mean' ? jsKeyedMean : jsKeyedMedian)(d.ts, d.xs, d.keys, WINDOW, out),
  });
  report(`  rolling ${stat}, output reused both sides (pushInto)`, k.oursInto!, k.js!, target);
  rolling.dispose();
}

/**
 * Issue 15's session case (gap 300 ms). The issue's measure is the plain-JS loop closing a session
 * when a later row of its own key comes (jsSession): it emits the same windows, but not by the
 * watermark nor in the operator's (end, key) order, so it skips work the operator must do. The
 * target is therefore taken against the faster of the two plain-JS loops that do emit by the
 * watermark in (end, key) order, checked window for window and in order against ours: the FIFO of
 * ends (jsSessionQueue) and the Map kept in order of last rows (jsSessionWatermark). The by-key
 * ratio is still printed ("by key, old measure").
 */
async function sessionCase(stat: Stat, d: { ts: Float64Array; xs: Float64Array; keys: Uint32Array }, report: (name: string, ours: number, js: number, target?: number) => void): Promise<void> {
  const target = stat === 'mean' ? 3 : 2;
  const label = `${ISSUE_KEYS} keys`;
  const gap = 300;
  const op = await createWindows({ kind: 'session', op: stat, gap: '300ms', keys: 'number' });
  const ours = [...op.push(d.ts, d.xs, d.keys).windows, ...op.flush().windows];
  const byKey = () => jsSession(stat, d.ts, d.xs, d.keys, gap);
  const byWatermark = () => jsSessionWatermark(stat, d.ts, d.xs, d.keys, gap);
  const byQueue = () => jsSessionQueue(stat, d.ts, d.xs, d.keys, gap);
  checkSameWindows(`session ${stat}`, ours, byKey());
  checkSameOrder(`session ${stat}, plain JS by watermark`, ours, byWatermark());
  checkSameOrder(`session ${stat}, plain JS by watermark (FIFO of ends)`, ours, byQueue());
  // Columns both sides: pushColumns/flushColumns against the same three loops writing columns (JsColumns).
  const byKeyColumns = () => jsSessionColumns(stat, d.ts, d.xs, d.keys, gap);
  const byWatermarkColumns = () => jsSessionWatermarkColumns(stat, d.ts, d.xs, d.keys, gap);
  const byQueueColumns = () => jsSessionQueueColumns(stat, d.ts, d.xs, d.keys, gap);
  op.reset();
  const oursColumns = columnWindows(op.pushColumns(d.ts, d.xs, d.keys), op.flushColumns());
  checkSameOrder(`session ${stat}, columns`, oursColumns, ours as JsWindow[]);
  checkSameWindows(`session ${stat}, plain JS columns by key`, columnWindows(byKeyColumns()), byKey());
  checkSameOrder(`session ${stat}, plain JS columns by watermark`, oursColumns, columnWindows(byWatermarkColumns()));
  checkSameOrder(`session ${stat}, plain JS columns by watermark (FIFO of ends)`, oursColumns, columnWindows(byQueueColumns()));
  const t = await rowsPerSecond({
    ours: () => {
      op.reset();
      op.push(d.ts, d.xs, d.keys);
      op.flush();
    },
    js: byKey,
    jsWatermark: byWatermark,
    jsQueue: byQueue,
  });
  // A run of their own, after: tinybench warms every task of a run up before it measures any, so
  // added tasks in the run above would change what the object rows measure.
  const c = await rowsPerSecond({
    oursColumns: () => {
      op.reset();
      op.pushColumns(d.ts, d.xs, d.keys);
      op.flushColumns();
    },
    jsColumns: byKeyColumns,
    jsWatermarkColumns: byWatermarkColumns,
    jsQueueColumns: byQueueColumns,
  });
  const fair = Math.max(t.jsWatermark!, t.jsQueue!);
  report(`session ${stat} (gap 300 ms), ${label}, plain JS by watermark`, t.ours!, fair, target);
  report(`  session ${stat}, by key (old measure)`, t.ours!, t.js!);
  report(`  session ${stat}, by watermark: Map order`, t.ours!, t.jsWatermark!);
  report(`  session ${stat}, by watermark: FIFO of ends`, t.ours!, t.jsQueue!);
  const fairColumns = Math.max(c.jsWatermarkColumns!, c.jsQueueColumns!);
  report(`  session ${stat}, columns both sides, by watermark`, c.oursColumns!, fairColumns, target);
  report(`  session ${stat}, columns both sides, by key`, c.oursColumns!, c.jsColumns!, target);
  report(`  session ${stat}, columns both sides, Map order`, c.oursColumns!, c.jsWatermarkColumns!);
  report(`  session ${stat}, columns both sides, FIFO of ends`, c.oursColumns!, c.jsQueueColumns!);
  if (EPOCH_ROWS) {
    // The same rows at epoch-ms times, against the faster of the two loops by watermark on them.
    const e = atEpoch(d);
    op.reset();
    checkSameOrder(`session ${stat}${EPOCH_LABEL}`, [...op.push(e.ts, e.xs, e.keys).windows, ...op.flush().windows], jsSessionQueue(stat, e.ts, e.xs, e.keys, gap));
    const te = await rowsPerSecond({
      ours: () => {
        op.reset();
        op.push(e.ts, e.xs, e.keys);
        op.flush();
      },
      jsWatermark: () => jsSessionWatermark(stat, e.ts, e.xs, e.keys, gap),
      jsQueue: () => jsSessionQueue(stat, e.ts, e.xs, e.keys, gap),
    });
    report(`  session ${stat}${EPOCH_LABEL}, plain JS by watermark`, te.ours!, Math.max(te.jsWatermark!, te.jsQueue!), target);
  }
  op.dispose();
}

/** The library entry of the build given by --against DIR (its dist directory), or undefined. */
async function againstBuild(): Promise<{ createWindows: typeof createWindows; createTimeRolling: typeof createTimeRolling } | undefined> {
  if (AGAINST === undefined) return undefined;
  return (await import(new URL(`file://${AGAINST.replace(/\/$/, '')}/src/index.js`).href)) as { createWindows: typeof createWindows; createTimeRolling: typeof createTimeRolling };
}

/**
 * Our operator for `spec` and, with --against, another build's: rotate()'s tasks for each, by
 * `push` + `flush` (objects) and by `pushColumns` + `flushColumns` (columns), each returning its
 * window count.
 */
async function operatorTasks(spec: WindowSpec, d: { ts: Float64Array; xs: Float64Array; keys: Uint32Array }, label = ''): Promise<{ objects: [string, () => number][]; columns: [string, () => number][] }> {
  const ops: [string, Awaited<ReturnType<typeof createWindows>>][] = [['ours', await createWindows(spec)]];
  const other = await againstBuild();
  if (other !== undefined) ops.push(['other build', await other.createWindows(spec)]);
  return {
    objects: ops.map(([name, o]) => [`${name}${label}`, () => {
      o.reset();
      return o.push(d.ts, d.xs, d.keys).windows.length + o.flush().windows.length;
    }]),
    columns: ops.map(([name, o]) => [`${name}, columns${label}`, () => {
      o.reset();
      return o.pushColumns(d.ts, d.xs, d.keys).length + o.flushColumns().length;
    }]),
  };
}

/**
 * --only tumbling-issue|hopping-issue --quick: issueGrid's tasks of that kind (objects and columns,
 * ours and the plain-JS loops; with --against, another build's operator too) in rotate()'s
 * rotation: PASSES passes of each in turn in one process, CPU ns per row (medians after the first two).
 */
async function gridQuick(stat: Stat, kind: 'tumbling' | 'hopping', d: { ts: Float64Array; xs: Float64Array; keys: Uint32Array }): Promise<void> {
  const size = kind === 'hopping' ? 10_000 : 1000, step = kind === 'hopping' ? 2000 : 1000;
  const spec: WindowSpec = kind === 'hopping' ? { kind, op: stat, size: '10s', step: '2s', keys: 'number' } : { kind, op: stat, size: '1s', keys: 'number' };
  const ours = await operatorTasks(spec, d);
  const tasks: [string, () => number][] = [
    ...ours.objects,
    ['plain JS by key', () => jsGrid(stat, d.ts, d.xs, d.keys, size, step).length],
    ['plain JS by watermark', () => jsGridWatermark(stat, d.ts, d.xs, d.keys, size, step).length],
    ...ours.columns,
    ['plain JS columns by key', () => jsGridColumns(stat, d.ts, d.xs, d.keys, size, step).length],
  ];
  if (EPOCH_ROWS) {
    const e = atEpoch(d);
    const epoch = await operatorTasks(spec, e, EPOCH_LABEL);
    tasks.push(...epoch.objects, [`plain JS by key${EPOCH_LABEL}`, () => jsGrid(stat, e.ts, e.xs, e.keys, size, step).length], ...epoch.columns);
  }
  await rotate(`${kind} ${stat} --quick`, tasks);
}

/**
 * --only rolling-issue --quick: rollingCase's tasks (ours by `push`, the plain-JS loop into its
 * kept array and into a fresh one; ours by `pushInto` into a kept array; with --against, another
 * build's operator by `push`, and by `pushInto` where it has it) in rotate()'s rotation: PASSES
 * passes of each in turn in one process, CPU ns per row (medians after the first two), then the
 * issue's ratios (plain JS's time over ours').
 */
async function rollingQuick(stat: Stat, d: { ts: Float64Array; xs: Float64Array; keys: Uint32Array }): Promise<void> {
  const js = stat === 'mean' ? jsKeyedMean : jsKeyedMedian;
  const spec = { op: stat, window: WINDOW, keys: 'number' } as const;
  const builds: [string, Awaited<ReturnType<typeof createTimeRolling<typeof spec>>>][] = [['ours', await createTimeRolling(spec)]];
  const other = await againstBuild();
  if (other !== undefined) builds.push(['other build', await other.createTimeRolling(spec)]);
  const ref = new Float64Array(N);
  js(d.ts, d.xs, d.keys, WINDOW, ref);
  const kept = new Float64Array(N), oursKept = new Float64Array(N);
  const fresh: [string, () => number][] = [], into: [string, () => number][] = [];
  for (const [name, op] of builds) {
    op.reset();
    const got = op.push(d.ts, d.xs, d.keys).values;
    for (let i = 0; i < N; i++) {
      if (!(Math.abs(got[i]! - ref[i]!) <= 1e-9 * Math.abs(ref[i]!)) && !(Number.isNaN(got[i]!) && Number.isNaN(ref[i]!))) throw new Error(`rolling ${stat} (${name}): row ${i} differs: ${got[i]} vs ${ref[i]}`);
    }
    fresh.push([name, () => {
      op.reset();
      return op.push(d.ts, d.xs, d.keys).values.length;
    }]);
    // An older build may not have pushInto.
    if (typeof (op as { pushInto?: unknown }).pushInto !== 'function') continue;
    op.reset();
    op.pushInto(d.ts, d.xs, oursKept, d.keys);
    if (oursKept.some((y, i) => !Object.is(y, got[i]))) throw new Error(`rolling ${stat} (${name}): pushInto differs from push`);
    into.push([`${name}, pushInto a kept array`, () => {
      op.reset();
      return op.pushInto(d.ts, d.xs, oursKept, d.keys);
    }]);
  }
  const tasks: [string, () => number][] = [
    ...fresh,
    ['plain JS into a kept array', () => (js(d.ts, d.xs, d.keys, WINDOW, kept), N)],
    ['plain JS into a fresh array', () => (js(d.ts, d.xs, d.keys, WINDOW, new Float64Array(N)), N)],
    ...into,
  ];
  const ns = await rotate(`rolling ${stat} by duration (10 s), ${ISSUE_KEYS} keys --quick`, tasks);
  const at = (name: string): number | undefined => {
    const i = tasks.findIndex(([n]) => n === name);
    return i < 0 ? undefined : ns[i];
  };
  const target = stat === 'mean' ? 3 : 2;
  const ratio = (label: string, js: string, ours: string): void => {
    const a = at(js), b = at(ours);
    if (a !== undefined && b !== undefined) console.log(`  ${label.padEnd(72)} ${(a / b).toFixed(2)}× (target ≥${target}×)`);
  };
  for (const [name] of builds) {
    ratio(`${name}: push against plain JS into a kept array (the issue's row)`, 'plain JS into a kept array', name);
    ratio(`${name}: push against plain JS into a fresh array`, 'plain JS into a fresh array', name);
    ratio(`${name}: pushInto against plain JS into a kept array (both reuse)`, 'plain JS into a kept array', `${name}, pushInto a kept array`);
  }
  for (const [, op] of builds) op.dispose();
}

/** PASSES passes of each task in turn (each pass in another order), CPU time per pass; prints medians in ns per row and ratios to ours; returns the medians. */
async function rotate(label: string, tasks: [string, () => number][]): Promise<number[]> {
  const cpu = (): number => {
    const { user, system } = process.cpuUsage();
    return (user + system) / 1000;
  };
  const counts = tasks.map(([, f]) => f());
  // Each kind of times against its own (epoch-ms times may round a session gap the other way).
  const isEpoch = tasks.map(([name]) => name.endsWith(EPOCH_LABEL));
  for (const epoch of [false, true]) {
    const same = counts.filter((_, i) => isEpoch[i] === epoch);
    if (same.some((n) => n !== same[0])) throw new Error(`${label}: window counts differ: ${counts.join(', ')}`);
  }
  const ms: number[][] = tasks.map(() => []);
  for (let p = 0; p < PASSES; p++) {
    for (let j = 0; j < tasks.length; j++) {
      const at = (j + p) % tasks.length;
      const c0 = cpu();
      tasks[at]![1]();
      ms[at]!.push(cpu() - c0);
    }
  }
  const median = (a: number[]): number => {
    const w = a.slice(Math.min(2, a.length - 1)).sort((x, y) => x - y);
    return w[w.length >> 1]!;
  };
  const ns = ms.map((a) => (median(a) * 1e6) / N);
  console.log(`${label}: ${PASSES} passes each, CPU ns per row (median), load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  const oursAt = (name: string): number => ns[tasks.findIndex(([n]) => n === `${name.includes('columns') ? 'ours, columns' : 'ours'}${name.endsWith(EPOCH_LABEL) ? EPOCH_LABEL : ''}`)]!;
  tasks.forEach(([name], i) => console.log(`  ${name.padEnd(44)} ${ns[i]!.toFixed(1).padStart(7)} ns/row  ${(ns[i]! / oursAt(name)).toFixed(2)}× ours' time`));
  return ns;
}

/**
 * --only session --quick: sessionCase's tasks (objects and columns, ours and the plain-JS loops;
 * with --against, another build's operator too) in rotate()'s rotation: PASSES passes of each in
 * turn in one process, CPU ns per row (medians after the first two).
 */
async function sessionQuick(stat: Stat, d: { ts: Float64Array; xs: Float64Array; keys: Uint32Array }): Promise<void> {
  const gap = 300;
  const spec = { kind: 'session', op: stat, gap: '300ms', keys: 'number' } as const;
  const ours = await operatorTasks(spec, d);
  const tasks: [string, () => number][] = [
    ...ours.objects,
    ['plain JS by key', () => jsSession(stat, d.ts, d.xs, d.keys, gap).length],
    ['plain JS by watermark: Map order', () => jsSessionWatermark(stat, d.ts, d.xs, d.keys, gap).length],
    ['plain JS by watermark: FIFO of ends', () => jsSessionQueue(stat, d.ts, d.xs, d.keys, gap).length],
    ...ours.columns,
    ['plain JS columns by key', () => jsSessionColumns(stat, d.ts, d.xs, d.keys, gap).length],
    ['plain JS columns by watermark: FIFO of ends', () => jsSessionQueueColumns(stat, d.ts, d.xs, d.keys, gap).length],
  ];
  if (EPOCH_ROWS) {
    const e = atEpoch(d);
    const epoch = await operatorTasks(spec, e, EPOCH_LABEL);
    tasks.push(...epoch.objects, [`plain JS by watermark: FIFO of ends${EPOCH_LABEL}`, () => jsSessionQueue(stat, e.ts, e.xs, e.keys, gap).length], ...epoch.columns);
  }
  await rotate(`session ${stat} --quick`, tasks);
}

/** Keyed rolling mean over count windows (100 rows per key, ISSUE_KEYS keys): the kernel operator of `run --key`, against a per-key Map of rings. */
async function keyedCountMean(report: (name: string, ours: number, js: number, target?: number) => void): Promise<void> {
  const d = data(ISSUE_KEYS);
  const out = new Float64Array(N);
  const label = `${ISSUE_KEYS} keys`;
  const spec = normalizeSpec({ op: 'mean', window: 100, minPeriods: 1 });
  const kernelOp = await createKernelOperator(await compiledModule(planFor(spec).module), spec, DEFAULT_KEY_GROUPS);
  const ref = new Float64Array(N);
  jsKeyedCountMean(d.xs, d.keys, 100, ref);
  kernelOp.process(d.xs, d.keys, out);
  for (let i = 0; i < N; i++) {
    if (!(Math.abs(out[i]! - ref[i]!) <= 1e-9 * Math.abs(ref[i]!)) && !(Number.isNaN(out[i]!) && Number.isNaN(ref[i]!))) throw new Error(`keyed rolling mean (count): row ${i} differs: ${out[i]} vs ${ref[i]}`);
  }
  // A fresh operator per pass would measure its creation; one runs on (its windows move along), like the plain-JS Map.
  const k = await rowsPerSecond({
    ours: () => kernelOp.process(d.xs, d.keys, out),
    js: () => jsKeyedCountMean(d.xs, d.keys, 100, out),
  });
  report(`keyed rolling mean (100 rows per key), ${label}`, k.ours!, k.js!, 4);
}

await main();
