// `node dist/bench/cli-scaling.js [--rows N] [--runs R] [--window W]`: the
// CLI's scaling with workers (issue 13): on the bench's seeded `t,k,v` CSV
// (1 000 keys, bench/cli.ts's input),
//   streamkernel run IN --value v --key k --op median --window 1000 --workers N -o OUT
// for N = 1 and 2, back to back (the median of R runs each). Prints rows/s,
// the 1 → 2 ratio with the load average, whether the outputs are the same
// bytes, and each run's CPU ns per row per thread (coordinator = main
// thread, each worker, other = V8 helper threads; read by thread-cpu.ts,
// loaded into the CLI with --import) with the ratio that split allows on 2
// cores: on a shared machine the wall-clock ratio is noise, CPU time holds.
// Then the same split for a run of the input's first 1 000 rows (start-up:
// module loading, WASM compiles, workers' boot, key states), and the per-row
// split with that fixed part taken out: what bounds the ratio at ROWS rows
// (fixed work is serial in the coordinator) against what a longer input
// tends to (`--no-fixed` skips it).
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeInput } from './cli-input.js';
import { boundNs, type CpuSplit, readThreadCpu, splitLine, splitRatio } from './thread-cpu.js';

const args = process.argv.slice(2);
const flag = (name: string, fallback: number): number => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : fallback);
const ROWS = flag('--rows', 1e6);
const RUNS = flag('--runs', 3);
const WINDOW = flag('--window', 1000);
const FIXED = !args.includes('--no-fixed');
/** Rows of the start-up run. */
const FEW = 1000;

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..');
const cli = path.join(root, 'bin', 'streamkernel.js');
const hook = path.join(here, 'thread-cpu.js');
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

const dir = mkdtempSync(path.join(os.tmpdir(), 'streamkernel-bench-cli-scaling-'));
try {
  const input = path.join(dir, 'in.csv');
  makeInput(input, ROWS);
  const cpuDir = path.join(dir, 'cpu');
  mkdirSync(cpuDir);
  const out = (workers: number): string => path.join(dir, `out-${workers}.csv`);
  /** One run: its seconds and CPU split. */
  const once = (workers: number, file = input, rows = ROWS): { seconds: number; cpu: CpuSplit } => {
    const argv = ['--import', hook, cli, 'run', file, '--value', 'v', '--key', 'k', '--op', 'median', '--window', String(WINDOW), '--workers', String(workers), '-o', out(workers)];
    const t0 = process.hrtime.bigint();
    execFileSync(process.execPath, argv, { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, SK_THREAD_CPU_DIR: cpuDir } });
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const r = readThreadCpu(cpuDir);
    const perRow = (ms: number): number => (ms * 1e6) / rows;
    return { seconds, cpu: { coordinator: perRow(r.coordinator), workers: r.workers.map(perRow), other: perRow(r.other) } };
  };
  const load = os.loadavg()[0] as number;
  const times: Record<number, number[]> = { 1: [], 2: [] };
  const cpu: Record<number, CpuSplit> = {};
  for (let r = 0; r < RUNS; r++) {
    for (const workers of [1, 2]) {
      const run = once(workers);
      times[workers]!.push(run.seconds);
      cpu[workers] = run.cpu;
    }
  }
  const rate = (workers: number): number => ROWS / median(times[workers]!);
  const same = readFileSync(out(1)).equals(readFileSync(out(2)));
  console.log(`rows ${ROWS}, 1000 keys, median w=${WINDOW}, ${RUNS} runs each; load average at start ${load.toFixed(2)}, now ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  console.log(`--workers 1: ${(rate(1) / 1e3).toFixed(0)}k rows/s; --workers 2: ${(rate(2) / 1e3).toFixed(0)}k rows/s; ratio ${(rate(2) / rate(1)).toFixed(2)}× (target ≥ 1.6×); same bytes: ${same}`);
  if (Number.isFinite(cpu[1]!.coordinator) && cpu[1]!.coordinator > 0) {
    console.log('CPU ns per row per thread (last run of each; with --workers 1 the kernels run on the main thread):');
    console.log('| run | coordinator | workers | other | 2-core bound ns/row |');
    console.log('|---|---|---|---|---|');
    for (const workers of [1, 2]) console.log(splitLine(`--workers ${workers}`, cpu[workers]!));
    console.log(`1 → 2 workers allowed by the CPU split on 2 cores: ${splitRatio(cpu[1]!, cpu[2]!).toFixed(2)}×`);
    // On 2 cores the 2-worker run can go no faster than its total CPU / 2, while the 1-worker run's helper threads use the second core for free.
    const total = (s: CpuSplit): number => s.coordinator + s.workers.reduce((a, b) => a + b, 0) + s.other;
    console.log(`total CPU ns per row: --workers 1 ${total(cpu[1]!).toFixed(0)}, --workers 2 ${total(cpu[2]!).toFixed(0)} (1.6× on 2 cores needs --workers 2's total ≤ ${((2 * cpu[1]!.coordinator) / 1.6).toFixed(0)})`);
    ceilings('', cpu[1]!, cpu[2]!);
    if (FIXED && ROWS > FEW) fixedAndPerRow(cpu, (workers, file) => once(workers, file, FEW).cpu);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

/** The start-up run's CPU (ms per thread, the median of RUNS by coordinator) and the split of `cpu` without it, per row. */
function fixedAndPerRow(cpu: Record<number, CpuSplit>, onceFew: (workers: number, file: string) => CpuSplit): void {
  const few = path.join(dir, 'few.csv');
  writeFileSync(few, readFileSync(path.join(dir, 'in.csv'), 'latin1').split('\n', FEW + 1).join('\n') + '\n');
  const fixed: Record<number, CpuSplit> = {};
  for (const workers of [1, 2]) {
    const runs: CpuSplit[] = [];
    for (let r = 0; r < RUNS; r++) runs.push(onceFew(workers, few));
    fixed[workers] = [...runs].sort((a, b) => a.coordinator - b.coordinator)[Math.floor(runs.length / 2)]!;
  }
  // ns per row × rows / 1e6 = ms.
  const ms = (s: CpuSplit, rows: number): CpuSplit => ({ coordinator: (s.coordinator * rows) / 1e6, workers: s.workers.map((w) => (w * rows) / 1e6), other: (s.other * rows) / 1e6 });
  const f = (x: number): string => x.toFixed(0);
  console.log(`start-up (a run of ${FEW} rows), CPU ms per thread:`);
  for (const workers of [1, 2]) {
    const s = ms(fixed[workers]!, FEW);
    console.log(`  --workers ${workers}: coordinator ${f(s.coordinator)}, workers ${s.workers.map(f).join(' + ') || '–'}, other ${f(s.other)}`);
  }
  // Per row past start-up: (ROWS run − start-up run) / (ROWS − FEW), thread by thread.
  const perRow = (workers: number): CpuSplit => {
    const all = ms(cpu[workers]!, ROWS);
    const start = ms(fixed[workers]!, FEW);
    const d = (a: number, b: number): number => ((a - b) * 1e6) / (ROWS - FEW);
    return { coordinator: d(all.coordinator, start.coordinator), workers: all.workers.map((w, i) => d(w, start.workers[i] ?? 0)), other: d(all.other, start.other) };
  };
  console.log('CPU ns per row past start-up (the ratio a long input tends to):');
  console.log('| run | coordinator | workers | other | 2-core bound ns/row |');
  console.log('|---|---|---|---|---|');
  for (const workers of [1, 2]) console.log(splitLine(`--workers ${workers}`, perRow(workers)));
  console.log(`1 → 2 workers allowed past start-up: ${splitRatio(perRow(1), perRow(2)).toFixed(2)}×`);
  ceilings(' past start-up', perRow(1), perRow(2));
}

/**
 * What bounds the ratio besides the split itself: the 1 → 2 ratio the
 * split allows on 3 and 4 cores (where the coordinator's own time bounds it,
 * not the total), the 2-worker run's CPU over the 1-worker run's, and the
 * ceiling on 2 cores of a 2-worker run doing no more work than the 1-worker
 * run (its total CPU / 2): the most any split of the same work can give here.
 */
function ceilings(what: string, one: CpuSplit, two: CpuSplit): void {
  const total = (s: CpuSplit): number => s.coordinator + s.workers.reduce((a, b) => a + b, 0) + s.other;
  const on = (cores: number): string => (boundNs(one, cores) / boundNs(two, cores)).toFixed(2);
  console.log(`  1 → 2 workers allowed${what} on 3 cores: ${on(3)}×, on 4 cores: ${on(4)}×`);
  console.log(`  --workers 2's CPU over --workers 1's${what}: ${(total(two) - total(one)).toFixed(0)} ns/row; ceiling on 2 cores with none (--workers 1's total / 2): ${(boundNs(one) / (total(one) / 2)).toFixed(2)}×`);
}
