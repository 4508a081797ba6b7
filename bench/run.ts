// `npm run bench`: every op at n = 1e6 and 1e7, windows 100 and 10 000, in
// million rows/s: streamkernel with the data already in WASM memory, streamkernel
// end to end from a JS Float64Array, the plain-JS loop, and a Float64Array copy
// (the memory-bandwidth limit), all in one run. Writes bench/RESULTS.md.
//
// Flags: --quick (n = 1e6 only), --ops a,b (a subset), --no-write.
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { createKernel, type KernelSpec } from '../src/index.js';
import { rowsPerSecond } from './measure.js';
import { jsEwmMean, jsRollingMinMax, jsRollingQuantile, jsRollingSum, jsRollingVar } from './baselines.js';

type Op = 'sum' | 'mean' | 'count' | 'var' | 'std' | 'min' | 'max' | 'median' | 'quantile' | 'ewm';
const ALL_OPS: Op[] = ['sum', 'mean', 'count', 'var', 'std', 'min', 'max', 'median', 'quantile', 'ewm'];

/** The targets: the ratio, against what, that each op must reach. */
const TARGETS: Partial<Record<Op, { copy?: number; js: number }>> = {
  sum: { copy: 0.8, js: 1.0 },
  mean: { copy: 0.8, js: 1.0 },
  var: { js: 1.0 },
  std: { js: 1.0 },
  min: { js: 3.0 },
  max: { js: 3.0 },
  median: { js: 1.5 },
  quantile: { js: 1.5 },
};

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const opsArg = args[args.indexOf('--ops') + 1];
const ops = args.includes('--ops') && opsArg ? (opsArg.split(',') as Op[]) : ALL_OPS;
const sizes = quick ? [1e6] : [1e6, 1e7];
const windows = [100, 10_000];
const MEASURE = { time: 300, warmupTime: 100 };

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
  }
}

interface Row {
  n: number;
  window: number;
  op: Op;
  wasm: number;
  e2e: number;
  js: number;
  copy: number;
}

const fmt = (x: number): string => (x >= 100 ? x.toFixed(0) : x.toFixed(1));
const ratio = (a: number, b: number): string => `${(a / b).toFixed(2)}×`;

function verdict(row: Row): string {
  const target = TARGETS[row.op];
  if (target === undefined) return '';
  const parts: string[] = [];
  if (target.copy !== undefined) parts.push(`${row.wasm / row.copy >= target.copy ? 'met' : 'MISSED'} ≥${target.copy}× copy`);
  parts.push(`${row.e2e / row.js >= target.js ? 'met' : 'MISSED'} ≥${target.js}× JS`);
  return parts.join('; ');
}

async function main(): Promise<void> {
  const rows: Row[] = [];
  for (const n of sizes) {
    const x = data(n);
    const out = new Float64Array(n);
    const dst = new Float64Array(n);
    const { copy } = await rowsPerSecond(n, { copy: () => dst.set(x) }, MEASURE);
    for (const w of windows) {
      for (const op of ops) {
        const inWasm = await createKernel(specFor(op, w));
        inWasm.inputBuffer(n).set(x);
        const endToEnd = await createKernel(specFor(op, w));
        const r = await rowsPerSecond(n, {
          wasm: () => inWasm.pushInput(n),
          e2e: () => endToEnd.push(x, out),
          js: () => jsLoop(op, w, x, out),
        }, MEASURE);
        inWasm.dispose();
        endToEnd.dispose();
        const row: Row = { n, window: w, op, wasm: r.wasm!, e2e: r.e2e!, js: r.js!, copy: copy! };
        rows.push(row);
        console.log(
          `n=${n.toExponential(0)} w=${w} ${op.padEnd(8)} wasm ${fmt(row.wasm).padStart(6)}  e2e ${fmt(row.e2e).padStart(6)}  js ${fmt(row.js).padStart(6)}  copy ${fmt(row.copy).padStart(6)} M rows/s  ${verdict(row)}`,
        );
      }
    }
  }
  if (!args.includes('--no-write')) writeResults(rows);
}

function writeResults(rows: Row[]): void {
  const cpus = os.cpus();
  const machine = [
    `- CPU: ${cpus[0]?.model ?? 'unknown'}, ${cpus.length} logical cores`,
    `- Memory: ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB`,
    `- Node ${process.version} (V8 ${process.versions.v8}), ${os.platform()} ${os.arch()}`,
    `- Date: ${new Date().toISOString().slice(0, 10)}`,
  ].join('\n');
  const header =
    '| n | window | op | in WASM | end to end | plain JS | copy | WASM / copy | e2e / JS | WASM / JS | target |\n' +
    '|---|---|---|---|---|---|---|---|---|---|---|';
  const lines = rows.map(
    (r) =>
      `| ${r.n.toExponential(0)} | ${r.window} | ${r.op} | ${fmt(r.wasm)} | ${fmt(r.e2e)} | ${fmt(r.js)} | ${fmt(r.copy)} | ${ratio(r.wasm, r.copy)} | ${ratio(r.e2e, r.js)} | ${ratio(r.wasm, r.js)} | ${verdict(r)} |`,
  );
  const text = `# Benchmark results

Million rows per second (median of tinybench samples), all columns measured in one run of \`npm run bench\`.
"In WASM": input already in the kernel's WASM memory (\`inputBuffer\` + \`pushInput\`). "End to end": \`kernel.push(src, out)\` from and to JS \`Float64Array\`s.
"Plain JS": the hand-written loop in \`bench/baselines.ts\` (running sum, Welford, monotonic deque, two indexed heaps, pandas' ewm recurrence).
"Copy": \`dst.set(src)\` over the same n, the memory-bandwidth limit. Input: uniform noise around 100 with 1% NaN; minPeriods 1; quantile q = 0.9; ewm with span = window.

## Machine
${machine}

## Results
${header}
${lines.join('\n')}
`;
  const file = fileURLToPath(new URL('../../bench/RESULTS.md', import.meta.url));
  writeFileSync(file, text);
  console.log(`\nwrote bench/RESULTS.md`);
}

await main();
