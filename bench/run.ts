// `npm run bench`: every op at n = 1e6 and 1e7, windows 100 and 10 000, in
// million rows/s, all in one run: streamkernel end to end from a JS
// Float64Array (64 Ki-row batches), streamkernel with the data already in
// WASM memory (zero copy), the plain-JS loop, bottleneck's move_* (through
// /usr/bin/python3, when it has bottleneck) and a Float64Array copy (the
// memory-bandwidth limit) and push()'s two copies alone, with no kernel
// (the most end to end can reach); then one row at a time (kernel.pushValue against a
// plain-JS one-row implementation, each pair in a fresh child process). Writes bench/RESULTS.md.
//
// Samples are CPU time (this process's, and bottleneck's process's): on a
// machine shared with other jobs, wall time mostly measures the wait for a
// core. --wall measures wall time instead.
//
// Flags: --quick (n = 1e6 only), --ops a,b (a subset), --no-write, --wall,
// --one-row-shared (every one-row pair in this process, the old measure),
// --one-row-only (the one-row table alone), --one-row-children N (N fresh
// children per one-row pair, the median one's figures and the ratio's spread
// printed; 1 by default, the measure before). The
// printed lines keep their format (n=… w=… op wasm … e2e … js … copy …),
// with bottleneck's figure after them.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createKernel, type KernelSpec } from '../src/index.js';
import { rowsPerSecond } from './measure.js';
import {
  JsEwmMeanStepper,
  JsEwmVarStepper,
  JsMinMaxStepper,
  jsEwmMean,
  jsEwmVar,
  jsQuantileStepper,
  jsRollingMinMax,
  jsRollingQuantile,
  jsRollingSum,
  jsRollingVar,
  JsSumStepper,
  JsVarStepper,
} from './baselines.js';

type Op = 'sum' | 'mean' | 'count' | 'var' | 'std' | 'min' | 'max' | 'median' | 'quantile' | 'ewm' | 'ewm_var' | 'ewm_std';
const ALL_OPS: Op[] = ['sum', 'mean', 'count', 'var', 'std', 'min', 'max', 'median', 'quantile', 'ewm', 'ewm_var', 'ewm_std'];

/** bottleneck's function for each op it has (none for count, quantile, ewm). */
const BOTTLENECK: Partial<Record<Op, string>> = {
  sum: 'move_sum',
  mean: 'move_mean',
  var: 'move_var',
  std: 'move_std',
  min: 'move_min',
  max: 'move_max',
  median: 'move_median',
};
const PYTHON = '/usr/bin/python3';

/** Issue 15's and 20's targets, as ratios measured in this run. */
const COPY_TARGET: Partial<Record<Op, { e2e: number; wasm: number }>> = { sum: { e2e: 0.6, wasm: 0.8 }, mean: { e2e: 0.6, wasm: 0.8 } };
const ONE_ROW_MEAN_TARGET = 50; // M rows/s, one row at a time

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const opsArg = args[args.indexOf('--ops') + 1];
const ops = args.includes('--ops') && opsArg ? (opsArg.split(',') as Op[]) : ALL_OPS;
const sizes = quick ? [1e6] : [1e6, 1e7];
const windows = [100, 10_000];
const BATCH = 65_536;
/** Rows per push() chunk: the kernels' default IO buffer (assembly/common.ts, DEFAULT_CAPACITY). */
const IO_ROWS = 16_384;
const ONE_ROW_N = 1e6;
const oneRowChildren = args.includes('--one-row-children') ? Math.max(1, Number(args[args.indexOf('--one-row-children') + 1]) || 1) : 1;
// The fastest sample: the machine may be shared, and a preempted pass says nothing about the code.
const clock = args.includes('--wall') ? 'wall' : 'cpu';
const MEASURE = { time: 300, warmupTime: 100, statistic: 'fastest', clock } as const;

function data(n: number): Float64Array {
  const x = new Float64Array(n);
  let s = 12345;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    x[i] = s % 101 === 0 ? NaN : 100 + (s / 4294967296 - 0.5) * 20;
  }
  return x;
}

function specFor(op: Op, w: number): KernelSpec {
  if (op === 'ewm') return { op: 'ewm', span: w };
  if (op === 'ewm_var' || op === 'ewm_std') return { op: 'ewm', span: w, stat: op === 'ewm_var' ? 'var' : 'std' };
  if (op === 'quantile') return { op, window: w, q: 0.9, minPeriods: 1 };
  return { op, window: w, minPeriods: 1 };
}

function jsLoop(op: Op, w: number, x: Float64Array, out: Float64Array): void {
  switch (op) {
    case 'sum':
    case 'mean':
    case 'count':
      return jsRollingSum(x, w, 1, op, out);
    case 'var':
    case 'std':
      return jsRollingVar(x, w, 1, 1, op === 'std', out);
    case 'min':
    case 'max':
      return jsRollingMinMax(x, w, 1, op === 'max', out);
    case 'median':
      return jsRollingQuantile(x, w, 1, 0.5, true, out);
    case 'quantile':
      return jsRollingQuantile(x, w, 1, 0.9, false, out);
    case 'ewm':
      return jsEwmMean(x, 2 / (w + 1), true, 0, out);
    case 'ewm_var':
    case 'ewm_std':
      return jsEwmVar(x, 2 / (w + 1), true, 0, op === 'ewm_std', out);
  }
}

/** A plain-JS one-row implementation: push(v) returns the row's result. */
interface Stepper {
  push(v: number): number;
}

function jsStepper(op: Op, w: number): Stepper {
  switch (op) {
    case 'sum':
    case 'mean':
    case 'count':
      return new JsSumStepper(w, 1, op);
    case 'var':
    case 'std':
      return new JsVarStepper(w, 1, 1, op === 'std');
    case 'min':
    case 'max':
      return new JsMinMaxStepper(w, 1, op === 'max');
    case 'median':
      return { push: jsQuantileStepper(w, 1, 0.5, true) };
    case 'quantile':
      return { push: jsQuantileStepper(w, 1, 0.9, false) };
    case 'ewm':
      return new JsEwmMeanStepper(2 / (w + 1), true, 0);
    case 'ewm_var':
    case 'ewm_std':
      return new JsEwmVarStepper(2 / (w + 1), true, 0, op === 'ewm_std');
  }
}

/**
 * What push() moves with no kernel in between: each batch in IO_ROWS chunks
 * into one buffer and out of another into `out`. End to end pays this and
 * the kernel's time, one after the other.
 */
function copiesAlone(x: Float64Array, out: Float64Array, input: Float64Array, output: Float64Array): void {
  for (let o = 0; o < x.length; o += BATCH) {
    const end = Math.min(o + BATCH, x.length);
    for (let c = o; c < end; c += IO_ROWS) {
      const rows = Math.min(IO_ROWS, end - c);
      input.set(x.subarray(c, c + rows));
      out.set(output.subarray(0, rows), c);
    }
  }
}

/** `kernel.push` in batches of BATCH rows, from and to JS arrays. */
function pushBatches(push: (batch: Float64Array, out: Float64Array) => unknown, x: Float64Array, out: Float64Array): void {
  for (let o = 0; o < x.length; o += BATCH) push(x.subarray(o, o + BATCH), out.subarray(o, o + BATCH));
}

// bottleneck, timed in its own process on the same bytes: the fastest of 3 runs after one warm-up.
const BOTTLENECK_SCRIPT = `
import json, sys, time
import numpy as np
import bottleneck as bn
x = np.fromfile(sys.argv[1], dtype='<f8')
clock = time.process_time if sys.argv[3] == 'cpu' else time.perf_counter
res = {}
for job in sys.argv[2].split(';'):
    fn, w = job.split(',')
    f = getattr(bn, fn)
    kw = {'ddof': 1} if fn in ('move_var', 'move_std') else {}
    f(x, int(w), min_count=1, **kw)
    ts = []
    for _ in range(3):
        t = clock(); f(x, int(w), min_count=1, **kw); ts.append(clock() - t)
    res[job] = len(x) / min(ts) / 1e6
print(json.dumps({'version': bn.__version__, 'results': res}))
`;

interface BottleneckRun {
  version: string;
  results: Record<string, number>;
}

/** bottleneck's M rows/s for each (function, window), or why there are none. */
function runBottleneck(x: Float64Array, jobs: string[]): BottleneckRun | string {
  if (jobs.length === 0) return 'no op here has a bottleneck function';
  if (!existsSync(PYTHON)) return `${PYTHON} is absent`;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sk-bench-'));
  try {
    const file = path.join(dir, 'x.f64');
    writeFileSync(file, new Uint8Array(x.buffer, x.byteOffset, x.byteLength));
    const r = spawnSync(PYTHON, ['-c', BOTTLENECK_SCRIPT, file, jobs.join(';'), clock], { encoding: 'utf8', maxBuffer: 1 << 20 });
    if (r.status !== 0) return `bottleneck did not run (${(r.stderr || r.error?.message || '').trim().split('\n').pop()})`;
    return JSON.parse(r.stdout) as BottleneckRun;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

interface Row {
  n: number;
  window: number;
  op: Op;
  e2e: number;
  wasm: number;
  js: number;
  bn: number | undefined;
  copy: number;
  /** push()'s copies alone (no kernel): end to end can never be faster. */
  copies: number;
}

interface OneRow {
  window: number;
  op: Op;
  ours: number;
  js: number;
}

const fmt = (x: number | undefined): string => (x === undefined ? '—' : x >= 100 ? x.toFixed(0) : x.toFixed(1));
const ratio = (a: number, b: number | undefined): string => (b === undefined ? '—' : `${(a / b).toFixed(2)}×`);
const mark = (ok: boolean, what: string): string => `${ok ? 'met' : 'MISSED'} ${what}`;

function verdict(row: Row): string {
  const parts = [mark(row.e2e >= row.js, '≥1× JS')];
  if (row.bn !== undefined) parts.push(mark(row.e2e >= row.bn, '≥1× bottleneck'));
  const copy = COPY_TARGET[row.op];
  if (copy !== undefined) {
    parts.push(mark(row.e2e >= copy.e2e * row.copy, `e2e ≥${copy.e2e}× copy`));
    parts.push(mark(row.wasm >= copy.wasm * row.copy, `zero-copy ≥${copy.wasm}× copy`));
  }
  return parts.join('; ');
}

function oneRowVerdict(row: OneRow): string {
  const parts = [mark(row.ours >= row.js, '≥1× JS')];
  if (row.op === 'mean') parts.push(mark(row.ours >= ONE_ROW_MEAN_TARGET, `≥${ONE_ROW_MEAN_TARGET} M rows/s`));
  return parts.join('; ');
}

const loadAverage = (): string => os.loadavg().map((l) => l.toFixed(2)).join(' ');

async function measureBatches(n: number, x: Float64Array, bnResults: BottleneckRun | string, rows: Row[]): Promise<void> {
  const out = new Float64Array(n);
  const dst = new Float64Array(n);
  const io = new Float64Array(2 * IO_ROWS);
  const [ioIn, ioOut] = [io.subarray(0, IO_ROWS), io.subarray(IO_ROWS)];
  const { copy, copies } = await rowsPerSecond(n, { copy: () => dst.set(x), copies: () => copiesAlone(x, dst, ioIn, ioOut) }, MEASURE);
  console.log(`n=${n.toExponential(0)} copy ${fmt(copy)}  push's copies alone ${fmt(copies)} M rows/s (${ratio(copies!, copy)} copy): the most end to end can reach`);
  for (const w of windows) {
    for (const op of ops) {
      const inWasm = await createKernel(specFor(op, w));
      inWasm.inputBuffer(n).set(x);
      const endToEnd = await createKernel(specFor(op, w));
      const r = await rowsPerSecond(n, {
        e2e: () => pushBatches((b, o) => endToEnd.push(b, o), x, out),
        wasm: () => inWasm.pushInput(n),
        js: () => jsLoop(op, w, x, out),
      }, MEASURE);
      inWasm.dispose();
      endToEnd.dispose();
      const fn = BOTTLENECK[op];
      const bn = typeof bnResults === 'string' || fn === undefined ? undefined : bnResults.results[`${fn},${w}`];
      const row: Row = { n, window: w, op, e2e: r.e2e!, wasm: r.wasm!, js: r.js!, bn, copy: copy!, copies: copies! };
      rows.push(row);
      console.log(
        `n=${n.toExponential(0)} w=${w} ${op.padEnd(8)} wasm ${fmt(row.wasm).padStart(6)}  e2e ${fmt(row.e2e).padStart(6)}  js ${fmt(row.js).padStart(6)}  copy ${fmt(row.copy).padStart(6)}  bottleneck ${fmt(row.bn).padStart(6)} M rows/s  ${verdict(row)}`,
      );
    }
  }
}

/** Every one-row result is summed here, so that no result can be optimized away. */
export let sink = 0;

/**
 * One (op, window) pair, one row at a time: `kernel.pushValue` against the
 * plain-JS stepper, in this process.
 */
async function measureOneRowPair(x: Float64Array, op: Op, w: number): Promise<{ ours: number; js: number }> {
  const n = ONE_ROW_N;
  const kernel = await createKernel(specFor(op, w));
  // A fresh plain-JS stepper per pass would measure its allocation; one runs on, like the kernel.
  const step = jsStepper(op, w);
  const r = await rowsPerSecond(n, {
    // A local sum per pass: a module variable would box a double on every row.
    ours: () => {
      let acc = 0;
      for (let i = 0; i < n; i++) acc += kernel.pushValue(x[i]!);
      sink += acc;
    },
    js: () => {
      let acc = 0;
      for (let i = 0; i < n; i++) acc += step.push(x[i]!);
      sink += acc;
    },
  }, MEASURE);
  kernel.dispose();
  return { ours: r.ours!, js: r.js! };
}

/**
 * Each pair is measured in a fresh child process (`--one-row-child op,w`), so
 * that both loops' call sites see one kernel and one stepper class, as in a
 * program that pushes rows into one kernel. Measured in this one process
 * (`--one-row-shared`, the measure before issue 20's second pass), the loops'
 * call sites see every op of the run: V8 then stops inlining the JS-to-WASM
 * call of pushValue (each kernel's export is another function) and the
 * steppers' push (another class per op), and every pair after the first
 * measures that instead of the op.
 */
async function measureOneRow(x: Float64Array, rows: OneRow[]): Promise<void> {
  const shared = args.includes('--one-row-shared');
  const script = fileURLToPath(import.meta.url);
  for (const w of windows) {
    for (const op of ops) {
      let r: { ours: number; js: number };
      let spread = '';
      if (shared) r = await measureOneRowPair(x, op, w);
      else {
        // --one-row-children N: N fresh children per pair, the median one's figures (by ours / JS) kept.
        const children: { ours: number; js: number }[] = [];
        for (let c = 0; c < oneRowChildren; c++) {
          const child = spawnSync(process.execPath, [script, '--one-row-child', `${op},${w}`, ...(clock === 'wall' ? ['--wall'] : [])], { encoding: 'utf8' });
          if (child.status !== 0) throw new Error(`one-row child for ${op} w=${w} failed: ${child.stderr.trim()}`);
          children.push(JSON.parse(child.stdout) as { ours: number; js: number });
        }
        children.sort((a, b) => a.ours / a.js - b.ours / b.js);
        r = children[(children.length - 1) >> 1]!;
        if (children.length > 1) spread = `  (${children.length} children, ours / JS min ${ratio(children[0]!.ours, children[0]!.js)} max ${ratio(children.at(-1)!.ours, children.at(-1)!.js)})`;
      }
      const row: OneRow = { window: w, op, ours: r.ours, js: r.js };
      rows.push(row);
      console.log(`one row at a time w=${w} ${op.padEnd(8)} pushValue ${fmt(row.ours).padStart(6)}  js ${fmt(row.js).padStart(6)} M rows/s  ${oneRowVerdict(row)}${spread}`);
    }
  }
}

async function main(): Promise<void> {
  const loadBefore = loadAverage();
  console.log(`load average ${loadBefore}`);
  const rows: Row[] = [];
  const jobs = windows.flatMap((w) => ops.flatMap((op) => (BOTTLENECK[op] === undefined ? [] : [`${BOTTLENECK[op]},${w}`])));
  let bnNote = '';
  for (const n of args.includes('--one-row-only') ? [] : sizes) {
    const x = data(n);
    const bn = runBottleneck(x, jobs);
    if (typeof bn === 'string') bnNote = bn;
    else bnNote = `bottleneck ${bn.version}`;
    console.log(`n=${n.toExponential(0)}: ${bnNote}`);
    await measureBatches(n, x, bn, rows);
  }
  const oneRow: OneRow[] = [];
  await measureOneRow(data(ONE_ROW_N), oneRow);
  const loads = `${loadBefore} before, ${loadAverage()} after`;
  console.log(`load average ${loadAverage()}`);
  if (!args.includes('--no-write')) writeResults(rows, oneRow, bnNote, loads);
}

function writeResults(rows: Row[], oneRow: OneRow[], bnNote: string, loads: string): void {
  const cpus = os.cpus();
  const machine = [
    `- CPU: ${cpus[0]?.model ?? 'unknown'}, ${cpus.length} logical cores`,
    `- Memory: ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB`,
    `- Node ${process.version} (V8 ${process.versions.v8}), ${os.platform()} ${os.arch()}`,
    `- Python baseline: ${bnNote}`,
    `- Load average (1, 5, 15 min): ${loads}`,
    `- Date: ${new Date().toISOString().slice(0, 10)}`,
    `- Command: \`npm run build && node dist/bench/run.js${args.length ? ` ${args.join(' ')}` : ''}\``,
  ].join('\n');
  const header =
    '| n | window | op | end to end | zero copy | plain JS | bottleneck | copy | copies alone | e2e / JS | e2e / bottleneck | e2e / copy | zero copy / copy | target |\n' +
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|';
  const lines = rows.map(
    (r) =>
      `| ${r.n.toExponential(0)} | ${r.window} | ${r.op} | ${fmt(r.e2e)} | ${fmt(r.wasm)} | ${fmt(r.js)} | ${fmt(r.bn)} | ${fmt(r.copy)} | ${fmt(r.copies)} | ${ratio(r.e2e, r.js)} | ${ratio(r.e2e, r.bn)} | ${ratio(r.e2e, r.copy)} | ${ratio(r.wasm, r.copy)} | ${verdict(r)} |`,
  );
  const oneHeader = '| window | op | pushValue | plain JS | ns per row (ours) | ours / JS | target |\n|---|---|---|---|---|---|---|';
  const oneLines = oneRow.map((r) => `| ${r.window} | ${r.op} | ${fmt(r.ours)} | ${fmt(r.js)} | ${(1000 / r.ours).toFixed(1)} | ${ratio(r.ours, r.js)} | ${oneRowVerdict(r)} |`);
  const text = `# Benchmark results

Million rows per second (fastest of at least 3 tinybench samples after a warm-up, each sample ${clock === 'cpu' ? "the process's CPU time, which leaves out the time it waited for a core on a loaded machine" : 'wall time'}), every column of a table measured in one run.
"End to end": \`kernel.push(batch, out)\` from and to JS \`Float64Array\`s in batches of ${BATCH} rows. "Zero copy": the input already in the kernel's WASM memory (\`inputBuffer\` + \`pushInput\`), results left there.
"Plain JS": the hand-written loops in \`bench/baselines.ts\` (running sum, Welford, monotonic deque, two indexed heaps, pandas' ewm recurrences).
"Bottleneck": bottleneck's \`move_*\` (\`min_count=1\`, \`ddof=1\`) on the same bytes, fastest of 3 runs after a warm-up (${clock === 'cpu' ? '\`time.process_time\`' : '\`time.perf_counter\`'}), in a \`/usr/bin/python3\` process; — where bottleneck has no such function (count, quantile, ewm).
"Copy": \`dst.set(src)\` over the same n, the memory-bandwidth limit. "Copies alone": what \`push\` copies with no kernel in between (each batch into a ${IO_ROWS}-row buffer and out of another), the most end to end can reach. Input: uniform noise around 100 with 1% NaN; minPeriods 1; quantile q = 0.9; ewm with span = window (ewm_var/ewm_std: \`stat: 'var'\`/\`'std'\`).
The machine is shared: absolute figures move with its load (below); compare the ratios, which come from one run.

## Machine
${machine}

## Batches
${header}
${lines.join('\n')}

## One row at a time
\`kernel.pushValue(x)\` per row against a plain-JS one-row implementation (\`bench/baselines.ts\`, \`*Stepper\`), n = ${ONE_ROW_N.toExponential(0)}, ${args.includes('--one-row-shared') ? 'every pair in one process (--one-row-shared: the call sites see every op)' : 'each pair in a fresh process (call sites that see one kernel and one stepper)'}.

${oneHeader}
${oneLines.join('\n')}
`;
  const file = fileURLToPath(new URL('../../bench/RESULTS.md', import.meta.url));
  writeFileSync(file, text);
  console.log(`\nwrote bench/RESULTS.md`);
}

const childPair = args.includes('--one-row-child') ? args[args.indexOf('--one-row-child') + 1] : undefined;
if (childPair !== undefined) {
  const [op, w] = childPair.split(',');
  console.log(JSON.stringify(await measureOneRowPair(data(ONE_ROW_N), op as Op, Number(w))));
} else {
  await main();
}
