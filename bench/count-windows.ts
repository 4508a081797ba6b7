// Count windows (node dist/bench/count-windows.js): 1 000 keys, tumbling
// windows of 100 rows per key (and hopping: 100 rows every 25), the 9 ops of
// the CLI's keyed job (sum mean var std min max count median quantile), one
// keyed operator per op at 1 worker (WindowsGroupOperator.processRows, as the
// scheduler's worker runs it) against a plain-JS program doing the same in the
// same run (a per-key Map of objects: running sums, min/max, and the window's
// values for median/quantile). Per job: rows/s (wall) and CPU time per row
// (process.cpuUsage, which holds on a loaded machine), the best of R runs.
//
// Then the CLI's keyed count-window job with the same 9 ops (rolling windows
// of 100 rows, the issue's "keyed count windows": src/scheduler/operator.ts,
// not these), CSV in and out, in a child process: rows/s and its CPU per row.
//
// Also the memory of 100 000 keys with an open window each (tumbling mean
// and median of 100 rows, 50 rows per key): heap and array buffers after a
// full GC, per key.
//
// Flags: --rows N (default 1e6), --runs R (default 3), --no-cli.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import vm from 'node:vm';
import { keyedWindowSpec, WindowsGroupOperator } from '../src/keyed/windows.js';
import type { TimeOp } from '../src/types.js';
import { xorshift } from './cli-input.js';

const args = process.argv.slice(2);
const flag = (name: string, fallback: number): number => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] !== undefined ? Number(args[i + 1]) : fallback;
};
const ROWS = flag('--rows', 1e6);
const RUNS = flag('--runs', 3);
const KEYS = 1000;
const SIZE = 100;
const BATCH = 1 << 16;
const KEY_GROUPS = 4096;
const OPS: readonly TimeOp[] = ['sum', 'mean', 'var', 'std', 'min', 'max', 'count', 'median', 'quantile'];

/** Seeded xorshift keys and values with 3 decimals, as bench/cli.ts. */
function input(): { values: Float64Array; keys: Uint32Array } {
  const rand = xorshift();
  const values = new Float64Array(ROWS);
  const keys = new Uint32Array(ROWS);
  for (let i = 0; i < ROWS; i++) {
    keys[i] = Math.floor(rand() * KEYS);
    values[i] = Math.round(rand() * 1e6) / 1000;
  }
  return { values, keys };
}

interface Measure {
  rowsPerSec: number;
  cpuNsPerRow: number;
}

/** The best (least CPU) of RUNS runs of `job`. */
function measure(job: () => number): Measure & { windows: number } {
  let best: (Measure & { windows: number }) | undefined;
  for (let r = 0; r < RUNS; r++) {
    const cpu = process.cpuUsage();
    const t = performance.now();
    const windows = job();
    const wall = (performance.now() - t) / 1000;
    const { user, system } = process.cpuUsage(cpu);
    const m = { rowsPerSec: ROWS / wall, cpuNsPerRow: ((user + system) * 1000) / ROWS, windows };
    if (best === undefined || m.cpuNsPerRow < best.cpuNsPerRow) best = m;
  }
  return best!;
}

/** The 9 ops as keyed operators (1 worker: every key group), in batches; the windows emitted. */
function operators(data: { values: Float64Array; keys: Uint32Array }, step: number): number {
  const ops = OPS.map((op) => new WindowsGroupOperator(keyedWindowSpec({ op, size: SIZE, step, ...(op === 'quantile' ? { q: 0.9 } : {}) }, true), KEY_GROUPS));
  let windows = 0;
  for (let i = 0; i < ROWS; i += BATCH) {
    const v = data.values.subarray(i, i + BATCH);
    const k = data.keys.subarray(i, i + BATCH);
    for (const op of ops) windows += op.processRows(undefined, v, k).windows.length;
  }
  for (const op of ops) windows += op.flush().windows.length;
  return windows;
}

/** A plain-JS count window: running sums and extremes, and its values for median/quantile. */
interface PlainWindow {
  start: number;
  rows: number;
  n: number;
  sum: number;
  sq: number;
  min: number;
  max: number;
  vals: number[];
}

function plainValue(op: TimeOp, w: PlainWindow): number {
  const mean = w.sum / w.n;
  switch (op) {
    case 'sum':
      return w.sum;
    case 'mean':
      return mean;
    case 'var':
    case 'std': {
      const v = (w.sq - w.n * mean * mean) / (w.n - 1);
      return op === 'std' ? Math.sqrt(v) : v;
    }
    case 'min':
      return w.min;
    case 'max':
      return w.max;
    case 'count':
      return w.n;
    default: {
      const v = Float64Array.from(w.vals).sort();
      const idx = (op === 'median' ? 0.5 : 0.9) * (w.n - 1);
      const lo = Math.floor(idx);
      return lo === idx ? v[lo]! : v[lo]! + (v[lo + 1]! - v[lo]!) * (idx - lo);
    }
  }
}

let blackhole = 0;

/** The same 9 jobs in plain JS: per op, a Map from key to { rows, open windows }. */
function plain(data: { values: Float64Array; keys: Uint32Array }, step: number): number {
  let windows = 0;
  let sink = 0;
  for (const op of OPS) {
    const state = new Map<number, { n: number; open: PlainWindow[] }>();
    const keepVals = op === 'median' || op === 'quantile';
    for (let i = 0; i < ROWS; i++) {
      const k = data.keys[i]!;
      const x = data.values[i]!;
      let st = state.get(k);
      if (st === undefined) state.set(k, (st = { n: 0, open: [] }));
      if (st.n++ % step === 0) st.open.push({ start: st.n - 1, rows: 0, n: 0, sum: 0, sq: 0, min: Infinity, max: -Infinity, vals: [] });
      for (const w of st.open) {
        w.rows++;
        if (x === x) {
          w.n++;
          w.sum += x;
          w.sq += x * x;
          if (x < w.min) w.min = x;
          if (x > w.max) w.max = x;
          if (keepVals) w.vals.push(x);
        }
      }
      if (st.open[0]!.rows === SIZE) {
        sink += plainValue(op, st.open.shift()!);
        windows++;
      }
    }
    for (const st of state.values()) for (const w of st.open) (sink += plainValue(op, w)), windows++;
  }
  blackhole += sink; // the values are used, so not optimized away
  return windows;
}

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The CLI's 9-op keyed count-window job in a child process: wall rows/s and its CPU per row (reported by a preloaded exit hook). */
function cli(dir: string, data: { values: Float64Array; keys: Uint32Array }): Measure {
  const file = path.join(dir, 'in.csv');
  const parts = ['k,v\n'];
  for (let i = 0; i < ROWS; i++) parts.push(`k${data.keys[i]},${data.values[i]}\n`);
  writeFileSync(file, parts.join(''));
  const hook = path.join(dir, 'cpu-at-exit.mjs');
  writeFileSync(hook, "import { writeSync } from 'node:fs';\nprocess.on('exit', () => { const u = process.cpuUsage(); writeSync(2, `cpu-us ${u.user + u.system}\\n`); });\n");
  const argv = ['--import', hook, path.join(root, 'bin', 'streamkernel.js'), 'run', file, '--key', 'k', '--value', 'v', ...OPS.flatMap((o) => ['--op', o]), '--q', '0.9', '--window', String(SIZE), '-o', path.join(dir, 'out.csv')];
  let best: Measure | undefined;
  for (let r = 0; r < RUNS; r++) {
    const t = performance.now();
    const child = spawnSync(process.execPath, argv, { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] });
    const wall = (performance.now() - t) / 1000;
    if (child.status !== 0) throw new Error(`the CLI failed: ${child.stderr}`);
    const us = Number(/cpu-us (\d+)/.exec(child.stderr)?.[1]);
    const m = { rowsPerSec: ROWS / wall, cpuNsPerRow: (us * 1000) / ROWS };
    if (best === undefined || m.cpuNsPerRow < best.cpuNsPerRow) best = m;
  }
  return best!;
}

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

/** Bytes held (heap and array buffers) after a full GC. */
function held(): number {
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

/** Bytes per key of `keys` keys with `rows` rows each in an open tumbling window of SIZE rows. */
function bytesPerKey(op: TimeOp, keys: number, rows: number): number {
  // Filled in place: a freed temporary array's memory may still count at `before`.
  const values = new Float64Array(keys * rows);
  const ids = new Uint32Array(keys * rows);
  for (let i = 0; i < values.length; i++) {
    values[i] = (i % 977) / 8;
    ids[i] = i % keys;
  }
  const before = held();
  const w = new WindowsGroupOperator(keyedWindowSpec({ op, size: SIZE }, true), KEY_GROUPS);
  for (let i = 0; i < values.length; i += BATCH) w.processRows(undefined, values.subarray(i, i + BATCH), ids.subarray(i, i + BATCH));
  const bytes = (held() - before) / keys;
  if (w.heldItems !== 2 * keys) throw new Error(`${w.heldItems} items held`);
  return bytes;
}

const data = input();
const load = (): string => os.loadavg().map((x) => x.toFixed(2)).join(' ');
const fmt = (m: Measure): string => `${(m.rowsPerSec / 1e3).toFixed(0).padStart(6)}k rows/s wall, ${m.cpuNsPerRow.toFixed(0).padStart(5)} ns CPU per row`;
console.log(`count windows, ${ROWS} rows, ${KEYS} keys, 9 ops (${OPS.join(' ')}), best of ${RUNS}; load average at start ${load()}`);
for (const step of [SIZE, SIZE / 4]) {
  const ours = measure(() => operators(data, step));
  const js = measure(() => plain(data, step));
  if (ours.windows !== js.windows) throw new Error(`${ours.windows} windows, plain JS ${js.windows}`);
  console.log(`${step === SIZE ? 'tumbling' : 'hopping '} ${SIZE} rows${step === SIZE ? '' : ` every ${step}`}: keyed operators ${fmt(ours)}; plain JS ${fmt(js)}; CPU ratio ${(js.cpuNsPerRow / ours.cpuNsPerRow).toFixed(2)}× (${ours.windows} windows)`);
}
if (!args.includes('--no-cli')) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'streamkernel-bench-count-'));
  try {
    console.log(`CLI, run --key k --value v --op (9 ops) --q 0.9 --window ${SIZE}, CSV in and out, --workers 1: ${fmt(cli(dir, data))} (target ≥ 500k rows/s)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
for (const op of ['mean', 'median'] as const) console.log(`memory, 100 000 keys of ${op} with 50 of ${SIZE} rows in their open window: ${bytesPerKey(op, 100_000, 50).toFixed(0)} bytes per key`);
console.log(`load average at end ${load()}`);
