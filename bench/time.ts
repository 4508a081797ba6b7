// `node dist/bench/time.js`: the time-window layer against plain-JS
// implementations with per-key Map state, same data, same run, in million
// rows/s (median of tinybench samples, as bench/run.ts).
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
// Flags: --rows N (default 1e6), --keys K (default 10 000), --few-keys F (default 100),
// --only rolling|windows (one half of the suite).
import os from 'node:os';
import { rowsPerSecond as measureRowsPerSecond } from './measure.js';
import { createTimeRolling, createWindows } from '../src/index.js';

const args = process.argv.slice(2);
const argNum = (name: string, fallback: number): number => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] !== undefined ? Number(args[i + 1]) : fallback;
};
const N = argNum('--rows', 1e6);
const KEYS = argNum('--keys', 10_000);
const FEW_KEYS = argNum('--few-keys', 100);
const WINDOW = 10_000;
const ONLY = args.includes('--only') ? args[args.indexOf('--only') + 1] : undefined;

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

// ---------------------------------------------------------------------------

function rowsPerSecond(tasks: Record<string, () => void>): Promise<Record<string, number>> {
  return measureRowsPerSecond(N, tasks, { time: 1500, warmupTime: 300 });
}

const fmt = (x: number): string => (x >= 100 ? x.toFixed(0) : x.toFixed(2));

async function main(): Promise<void> {
  const { ts, xs, keys } = data();
  const out = new Float64Array(N);
  console.log(`time windows: ${N.toExponential(0)} rows, ${KEYS} keys, ${os.cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}`);
  const rows: string[] = [];
  const report = (name: string, ours: number, js: number, target?: number): void => {
    const ratio = ours / js;
    const verdict = target === undefined ? '' : ratio >= target ? `met ≥${target}×` : `MISSED ≥${target}×`;
    const line = `${name.padEnd(34)} streamkernel ${fmt(ours).padStart(7)}  plain JS ${fmt(js).padStart(7)} M rows/s  ${ratio.toFixed(2)}×  ${verdict}`;
    console.log(line);
    rows.push(line);
  };

  for (const op of ONLY === 'windows' ? [] : (['mean', 'median'] as const)) {
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
  for (const [label, d] of ONLY === 'rolling' ? [] : gridCases) {
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

await main();
