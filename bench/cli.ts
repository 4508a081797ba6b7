// `node dist/bench/cli.js [--rows N] [--runs R] [--profile]`: the CLI end to
// end against a naive plain-JS program doing the same job (bench/naive-mean.mjs),
// measured back to back in one run (the median of R runs each), on a seeded
// `t,k,v` CSV with keys k0..k999 and values with 3 decimals:
//   streamkernel run IN --value v --key k --op mean --window 100 -o OUT
// Prints rows/s of both, their ratio, the load average, and whether both
// outputs have the same shape. With --profile, also writes a CPU profile of
// one CLI run and of one window-records run and prints their top self-time
// entries. CPU time per row (children's user + system time) is printed too.
// Then, on the same input (t: one row per ms), in the same run:
//   window records: run IN --time t --key k --value v --op mean --tumbling 1m
//     against bench/naive-tumbling.mjs (a per-key Map of running sums);
//     then the same on the same rows with epoch-ms times (t = 2026-01-01 in
//     ms + the row's ms: real users' times, above 2³¹), labelled "epoch-ms times";
//   keyed count windows, 9 ops: run IN --key k --value v --op sum … --op quantile --q 0.9 --window 100;
//   `streamkernel demo` (its own rows/s line).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { KEYS, makeInput } from './cli-input.js';

const args = process.argv.slice(2);
const flag = (name: string, fallback: number): number => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : fallback);
const ROWS = flag('--rows', 1e6);
/** --tumbling-only: just the window-records comparison (and its profile with --profile). */
const TUMBLING_ONLY = args.includes('--tumbling-only');
const RUNS = flag('--runs', 3);
const WINDOW = 100;
const TARGET = 1.5;
/** Window records: ≥ 2× the naive program and ≥ 1 M rows/s; 9 count-window ops and the demo: ≥ 0.5 M rows/s. */
const TUMBLING_TARGET = 2;
const TUMBLING_RATE = 1e6;
const RATE_TARGET = 5e5;
const TUMBLING = 60_000;

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const cli = path.join(root, 'bin', 'streamkernel.js');
const naive = path.join(root, 'bench', 'naive-mean.mjs');
const naiveTumbling = path.join(root, 'bench', 'naive-tumbling.mjs');

/** CPU seconds (user + system) of this process's waited-for children, from /proc (Linux); NaN elsewhere. */
function childCpu(): number {
  try {
    // Fields after the command name: cutime and cstime are the 14th and 15th, in clock ticks (USER_HZ = 100).
    const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[13]) + Number(fields[14])) / 100;
  } catch {
    return NaN;
  }
}

/** CPU seconds of each child run, by label: they hold under load, where wall-clock figures are noise. */
const cpuTimes = new Map<string, number[]>();

function seconds(argv: string[], label = 'other'): number {
  const c0 = childCpu();
  const t0 = process.hrtime.bigint();
  execFileSync(process.execPath, argv, { stdio: ['ignore', 'ignore', 'inherit'] });
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  cpuTimes.set(label, [...(cpuTimes.get(label) ?? []), childCpu() - c0]);
  return wall;
}

/** " CPU x ns/row" (the median of the label's runs). */
const cpuPerRow = (label: string): string => `, CPU ${((median(cpuTimes.get(label) ?? [NaN]) * 1e9) / ROWS).toFixed(0)} ns/row`;

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

/** The top self-time entries of a .cpuprofile, as "percent name (file)". */
function topEntries(file: string, count: number): string[] {
  const prof = JSON.parse(readFileSync(file, 'utf8')) as {
    nodes: { id: number; callFrame: { functionName: string; url: string } }[];
    samples: number[];
  };
  const byId = new Map(prof.nodes.map((n) => [n.id, n.callFrame]));
  const self = new Map<string, number>();
  for (const id of prof.samples) {
    const f = byId.get(id);
    const name = `${f?.functionName || '(anonymous)'} ${path.basename(f?.url ?? '')}`.trim();
    self.set(name, (self.get(name) ?? 0) + 1);
  }
  return [...self]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([name, n]) => `${((100 * n) / prof.samples.length).toFixed(1)}% ${name}`);
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'streamkernel-bench-cli-'));
try {
  const input = path.join(dir, 'in.csv');
  makeInput(input, ROWS);
  const outCli = path.join(dir, 'cli.csv');
  const outNaive = path.join(dir, 'naive.csv');
  const cliArgs = [cli, 'run', input, '--value', 'v', '--key', 'k', '--op', 'mean', '--window', String(WINDOW), '-o', outCli];
  const naiveArgs = [naive, input, outNaive, String(WINDOW)];
  const load = os.loadavg()[0] as number;
  const cliTimes: number[] = [];
  const naiveTimes: number[] = [];
  for (let r = 0; r < RUNS && !TUMBLING_ONLY; r++) {
    naiveTimes.push(seconds(naiveArgs, 'naive'));
    cliTimes.push(seconds(cliArgs, 'cli'));
  }
  if (!TUMBLING_ONLY) {
  const naiveRate = ROWS / median(naiveTimes);
  const cliRate = ROWS / median(cliTimes);
  const ratio = cliRate / naiveRate;
  // Both write k,v,mean; the means may differ in their last bits (the kernel's sums are not the naive running sum).
  const shape = (f: string): string[] => readFileSync(f, 'latin1').split('\n').slice(0, 3).map((l) => l.split(',').slice(0, 2).join(','));
  console.log(`rows ${ROWS}, keys ${KEYS}, mean w=${WINDOW}, ${RUNS} runs each, load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')} (at start ${load.toFixed(2)})`);
  console.log(`naive plain JS: ${(naiveRate / 1e3).toFixed(0)}k rows/s (median ${median(naiveTimes).toFixed(2)} s${cpuPerRow('naive')})`);
  console.log(`streamkernel run --workers 1: ${(cliRate / 1e3).toFixed(0)}k rows/s (median ${median(cliTimes).toFixed(2)} s${cpuPerRow('cli')})`);
  console.log(`ratio ${ratio.toFixed(2)}× (target ≥ ${TARGET}×: ${ratio >= TARGET ? 'met' : 'MISSED'}); same columns: ${JSON.stringify(shape(outCli)) === JSON.stringify(shape(outNaive))}`);
  }

  // Window records against the naive per-key Map.
  const outTumbling = path.join(dir, 'tumbling.csv');
  const outNaiveTumbling = path.join(dir, 'naive-tumbling.csv');
  const tumblingArgs = [cli, 'run', input, '--time', 't', '--key', 'k', '--value', 'v', '--op', 'mean', '--tumbling', `${TUMBLING / 1000}s`, '-o', outTumbling];
  const sameRows = (f: string): string => readFileSync(f, 'latin1').split('\n').slice(1).filter((l) => l !== '').map((l) => l.split(',').slice(0, 3).join(',')).sort().join('\n');
  /** The window-records comparison on one input (label: its kind of times; '' for the first, small times). */
  const tumblingCase = (file: string, label: string): void => {
    const args = tumblingArgs.map((a) => (a === input ? file : a));
    const tumblingTimes: number[] = [];
    const naiveTumblingTimes: number[] = [];
    for (let r = 0; r < RUNS; r++) {
      naiveTumblingTimes.push(seconds([naiveTumbling, file, outNaiveTumbling, String(TUMBLING)], `naive-tumbling${label}`));
      tumblingTimes.push(seconds(args, `tumbling${label}`));
    }
    const tRate = ROWS / median(tumblingTimes);
    const tNaive = ROWS / median(naiveTumblingTimes);
    console.log(`window records, --tumbling ${TUMBLING / 1000}s mean per key${label} (${KEYS} keys, ${ROWS} rows, ${RUNS} runs each, load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}):`);
    console.log(`  naive plain JS: ${(tNaive / 1e3).toFixed(0)}k rows/s (median ${median(naiveTumblingTimes).toFixed(2)} s${cpuPerRow(`naive-tumbling${label}`)})`);
    console.log(
      `  streamkernel run --workers 1: ${(tRate / 1e3).toFixed(0)}k rows/s (median ${median(tumblingTimes).toFixed(2)} s${cpuPerRow(`tumbling${label}`)}); ratio ${(tRate / tNaive).toFixed(2)}× (target ≥ ${TUMBLING_TARGET}× and ≥ ${TUMBLING_RATE / 1e6} M rows/s: ${tRate / tNaive >= TUMBLING_TARGET && tRate >= TUMBLING_RATE ? 'met' : 'MISSED'}); same windows: ${sameRows(outTumbling) === sameRows(outNaiveTumbling)}`,
    );
  };
  tumblingCase(input, '');
  // Real users' times: the same rows at epoch ms (issue 15).
  const epochInput = path.join(dir, 'in-epoch.csv');
  makeInput(epochInput, ROWS, Date.UTC(2026, 0, 1));
  tumblingCase(epochInput, ', epoch-ms times');

  if (!TUMBLING_ONLY) {
  // Keyed count windows, every op but ewm.
  const nineOps = ['sum', 'mean', 'var', 'std', 'min', 'max', 'count', 'median', 'quantile'];
  const nineArgs = [cli, 'run', input, '--key', 'k', '--value', 'v', ...nineOps.flatMap((o) => ['--op', o]), '--q', '0.9', '--window', String(WINDOW), '-o', path.join(dir, 'nine.csv')];
  const nineTimes: number[] = [];
  for (let r = 0; r < RUNS; r++) nineTimes.push(seconds(nineArgs, 'nine'));
  const nineRate = ROWS / median(nineTimes);
  console.log(`keyed count windows, ${nineOps.length} ops, w=${WINDOW}, ${KEYS} keys, --workers 1: ${(nineRate / 1e3).toFixed(0)}k rows/s (median ${median(nineTimes).toFixed(2)} s${cpuPerRow('nine')}; target ≥ ${RATE_TARGET / 1e3}k: ${nineRate >= RATE_TARGET ? 'met' : 'MISSED'})`);

  // The demo reports its own rate.
  const demo = execFileSync(process.execPath, [cli, 'demo'], { encoding: 'utf8' });
  const rate = /result .* s: ([\d.]+ [kM]?) ?rows\/s/.exec(demo);
  console.log(`streamkernel demo: ${rate !== null ? `${(rate[1] as string).trim()} rows/s` : 'no rate found'} (target ≥ ${RATE_TARGET / 1e3}k rows/s); load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  }

  if (args.includes('--profile')) {
    const profDir = path.join(dir, 'prof');
    if (!TUMBLING_ONLY) execFileSync(process.execPath, ['--cpu-prof', '--cpu-prof-dir', profDir, ...cliArgs], { stdio: 'inherit' });
    execFileSync(process.execPath, ['--cpu-prof', '--cpu-prof-dir', path.join(dir, 'prof-tumbling'), ...tumblingArgs], { stdio: 'inherit' });
    const profiles = [['CLI run (mean w=100)', profDir], ['window records run (--tumbling)', path.join(dir, 'prof-tumbling')]] as const;
    for (const [what, d] of TUMBLING_ONLY ? profiles.slice(1) : profiles) {
      const prof = readdirSync(d).find((f) => f.endsWith('.cpuprofile')) as string;
      console.log(`CPU profile of one ${what}, top self time:`);
      for (const line of topEntries(path.join(d, prof), 15)) console.log(`  ${line}`);
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
