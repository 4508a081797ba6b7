// `node dist/bench/latency.js [--seconds S] [--max-delay D]`: row-to-result
// latency of `streamkernel run` reading a paced stdin (a pipe), the live-input
// path (docs/CLI.md, "Live input"):
//   … | streamkernel run --value v --key k --op mean --window 100 [--max-delay D]
// First measures the path's maximum throughput (rows written as fast as the
// pipe takes them), then offers 10 %, 50 % and 90 % of it for S seconds each
// and prints, per load, the throughput achieved and the latency p50/p99/p99.9
// from a row's write to its output line's arrival (perf_hooks.createHistogram),
// after a first second of warm-up (per load: S + 1 seconds).
// Target: p99 ≤ 60 ms at 50 % load with the default --max-delay.
import { spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { createHistogram, performance, type RecordableHistogram } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const option = (name: string): string | undefined => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const SECONDS = Number(option('--seconds') ?? 4);
const MAX_DELAY = option('--max-delay');
const MAX_ROWS = 400_000;
const KEYS = 1000;
const LOADS = [0.1, 0.5, 0.9];
const TARGET_P99_MS = 60;
/** Rows sent in the first second are not recorded: the CLI's JIT and its per-key state warm up then (steady-state latency is measured). */
const WARMUP_MS = 1000;
/** How often the paced writer wakes up to write the rows due by then. */
const TICK_MS = 1;

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const cli = path.join(root, 'bin', 'streamkernel.js');
const cliArgs = [cli, 'run', '--value', 'v', '--key', 'k', '--op', 'mean', '--window', '100', ...(MAX_DELAY !== undefined ? ['--max-delay', MAX_DELAY] : [])];

/** Row i of the input: `t,k,v` as in bench/cli.ts (a seeded key and value). */
function row(i: number): string {
  const h = Math.imul(i + 1, 0x9e3779b1) >>> 0;
  return `${i},k${h % KEYS},${((h >>> 10) / 4194.304).toFixed(3)}\n`;
}

interface Result {
  rows: number;
  seconds: number;
  latency: RecordableHistogram;
}

/**
 * Runs the CLI on `rows` rows written at `rate` rows/s (Infinity: as fast as
 * the pipe takes them); records each row's latency in microseconds.
 */
function measure(rows: number, rate: number): Promise<Result> {
  rows = Math.max(2, rows);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, cliArgs, { stdio: ['pipe', 'pipe', 'inherit'] });
    const sentAt = new Float64Array(rows);
    const latency = createHistogram();
    let received = -1; // output lines after the header
    let sent = 0;
    let start = 0;
    child.stdout.on('data', (b: Buffer) => {
      const now = performance.now();
      for (let i = b.indexOf(10); i !== -1; i = b.indexOf(10, i + 1)) {
        // Row 0 only warms up the CLI (start-up, WASM compile): the paced rows start once its result is out.
        if (received > 0 && (sentAt[received] as number) - start >= WARMUP_MS) latency.record(Math.max(1, Math.round((now - (sentAt[received] as number)) * 1000)));
        received++;
        if (received === 1) {
          start = performance.now();
          pump();
        }
      }
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0 || received !== rows) reject(new Error(`the CLI exited with ${code} after ${received} of ${rows} rows`));
      else resolve({ rows: rows - 1, seconds: (performance.now() - start) / 1000, latency });
    });
    /** Writes the rows due by now (all that are left when the rate is unbounded), then waits for the next tick or for the pipe to drain. */
    const pump = (): void => {
      const now = performance.now();
      const due = Math.min(rows, rate === Infinity ? rows : 1 + Math.floor(((now - start) / 1000) * rate));
      let text = '';
      let ok = true;
      for (; sent < due && ok; ) {
        text += row(sent);
        sentAt[sent++] = now;
        if (text.length >= 1 << 16 || sent === due) {
          ok = child.stdin.write(text);
          text = '';
        }
      }
      if (sent === rows) child.stdin.end();
      else if (!ok) child.stdin.once('drain', pump);
      else setTimeout(pump, TICK_MS);
    };
    child.stdin.write(`t,k,v\n${row(0)}`);
    sent = 1;
  });
}

const ms = (h: RecordableHistogram, p: number): string => (h.percentile(p) / 1000).toFixed(1);
const rateText = (r: number): string => `${(r / 1e3).toFixed(1)}k rows/s`;

const max = await measure(MAX_ROWS, Infinity);
const maxRate = max.rows / max.seconds;
console.log(`streamkernel run on a paced stdin: --key k (1000 keys) --op mean --window 100, --max-delay ${MAX_DELAY ?? '50ms (default)'}`);
console.log(`load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}, ${os.cpus().length} cores`);
console.log(`maximum throughput (unpaced): ${rateText(maxRate)} (${max.rows} rows in ${max.seconds.toFixed(2)} s)`);
console.log('load   offered         achieved        p50 ms  p99 ms  p99.9 ms');
let p99AtHalf = NaN;
for (const load of LOADS) {
  const rate = maxRate * load;
  const r = await measure(Math.round((rate * (SECONDS * 1000 + WARMUP_MS)) / 1000), rate);
  const line = [`${String(load * 100).padStart(3)} %`, rateText(rate).padEnd(15), rateText(r.rows / r.seconds).padEnd(15), ms(r.latency, 50).padStart(6), ms(r.latency, 99).padStart(7), ms(r.latency, 99.9).padStart(9)];
  console.log(line.join('  '));
  if (load === 0.5) p99AtHalf = r.latency.percentile(99) / 1000;
}
console.log(`p99 at 50 % load: ${p99AtHalf.toFixed(1)} ms (target ≤ ${TARGET_P99_MS} ms: ${p99AtHalf <= TARGET_P99_MS ? 'met' : 'MISSED'})`);
