// `node dist/bench/latency.js [--seconds S] [--max-delay D] [--paths kernel,scheduler,cli,redis]
//   [--linger-ms N] [--worker-linger-ms N] [--fsync always|everysec] [--format 2|3] [--state-every-ms N] [--commits-in-flight N] [--cpu-prof DIR]
//   [--max-rate R] [--loads 0.1,0.5,0.9] [--workers 1,2] [--fresh-arrays] [--worker-build DIR] [--reader outputs|combined]
//   [--producer-connections N]`:
// row-to-result latency p50/p99/p99.9 of each live path, at offered loads of
// 10 %, 50 % and 90 % of the path's measured maximum throughput, with the
// throughput each load achieved (issue 20). Each path first runs unpaced (its
// maximum), then is offered each load for S seconds after a first second of
// warm-up (not recorded). Paths, all `mean` over a window of 100 rows:
//   kernel     one kernel, kernel.pushValue per row (the scalar path), next to
//              a plain-JS one-row rolling mean (bench/baselines.ts)
//   scheduler  createJob with 2 workers, 1000 keys, rows pushed as they are
//              due; latency from the push to the sink's write of the result.
//              The pushed arrays are reused and the sink keeps no results
//              (Sink.keepsValues false); --fresh-arrays: new arrays per push
//              and a sink keeping them (the usage before issue 20's fix)
//   cli        `… | streamkernel run --value v --key k --op mean --window 100
//              [--max-delay D]` on a paced stdin (a pipe): from a row's write
//              to its output line's arrival (docs/CLI.md, "Live input")
//   redis      a local redis-server (appendfsync always), the producer in this
//              process and 1, then 2 worker processes: from a row's send to
//              its output entry read back by a consumer (XREAD BLOCK over the
//              output streams alone; a second connection reads the input
//              entries, whose values are the rows' numbers, to match outputs
//              to rows). --reader combined: one XREAD over inputs and outputs
//              (the measure until issue 20's eleventh round; the producer's
//              appends kept it unblocked, so many outputs came a round of
//              redis-server's event loop later than to a consumer's XREAD)
// CPU µs/row: CPU time of this process (all its threads, the scheduler's
// workers included) and of the path's child processes (the Redis workers,
// from /proc), per row: it holds on a loaded machine, where the wall-clock
// percentiles are mostly the wait for a CPU. CPU wait: how long their
// threads were runnable but waited for a CPU (Linux schedstat), as a multiple
// of the CPU time they got: well above 0 means the machine, not the path, set
// the tail (the 2-core machine is shared). Main-thread GC (in-process paths:
// the scheduler's coordinator): mark-compacts and scavenges during the run,
// with the longest pause of each (perf_hooks 'gc' entries).
// Redis rounds: a probe connection sends one INCR at a time (a write: its
// reply waits for one round of redis-server's event loop, fsync included)
// during the run; a row's latency divided by the probe's median round trip
// counts the rounds the path makes a row wait, a figure the machine's load
// moves far less than milliseconds. --worker-build DIR: the Redis workers
// run DIR/dist/src/redis/main.js (another build's worker against this
// producer and bench: an A/B of the worker alone).
// --commits-in-flight N: the workers' option of that name (pipelined commits,
// issue 20); not given, the workers' default.
// --max-rate R: take R rows/s as every path's maximum instead of measuring
// it unpaced, so that runs of two builds on a loaded machine (where the
// measured maximum swings two- to fourfold) offer the same loads. --loads
// and --workers (Redis: worker counts) run a subset, e.g. 50 % alone.
// Targets (issue 20): scheduler p99 ≤ 5 ms, CLI p99 ≤ 60 ms with the default
// --max-delay, Redis p99 ≤ 20 ms, each at 50 % load.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { constants as perfConstants, createHistogram, performance, PerformanceObserver, type PerformanceEntry, type RecordableHistogram } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { createKernel } from '../src/index.js';
import { connectRedis } from '../src/redis/config.js';
import { Commands } from '../src/redis/job.js';
import { decodeColumn } from '../src/redis/codec.js';
import { createProducer } from '../src/redis/producer.js';
import { createJob } from '../src/scheduler/index.js';
import { LatencyHistogram } from '../src/scheduler/latency.js';
import { nodeWorkers } from '../src/scheduler/node.js';
import { JsSumStepper } from './baselines.js';
import { startRedis } from './redis-server.js';

const args = process.argv.slice(2);
const option = (name: string): string | undefined => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const SECONDS = Number(option('--seconds') ?? 4);
const MAX_DELAY = option('--max-delay');
const PATHS = (option('--paths') ?? 'kernel,scheduler,cli,redis').split(',');
const MAX_RATE = option('--max-rate') === undefined ? undefined : Number(option('--max-rate'));
const MAX_ROWS = 400_000;
const KEYS = 1000;
/** --loads 0.5: only these loads (fractions of the maximum), e.g. to repeat one load of two builds alternately. */
const LOADS = (option('--loads') ?? '0.1,0.5,0.9').split(',').map(Number);
const TARGET_P99_MS = 60;
const SCHEDULER_TARGET_P99_MS = 5;
const REDIS_TARGET_P99_MS = 20;
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
  /** Percentiles in µs. */
  latency: { percentile(p: number): number };
  /** CPU time (µs) of this process and the path's child processes during the run, when known: it holds under load, where wall-clock figures are noise. */
  cpuUs?: number;
  /** Time (µs) their threads were runnable but waited for a CPU, summed over threads (Linux schedstat). */
  waitUs?: number;
  /** This process's main thread (the scheduler's coordinator): its GC pauses during the run. */
  gc?: GcPauses;
  /** The path's own breakdown of the time (Redis: per stage). */
  stages?: string;
}

/** GC pauses of the main thread: mark-compacts (count, longest ms) and scavenges (count, longest ms). */
interface GcPauses {
  major: number;
  majorMaxMs: number;
  minor: number;
  minorMaxMs: number;
}

/** Records the main thread's GC pauses from now on (perf_hooks 'gc' entries); `stop()` returns them. */
function watchGc(): { stop(): GcPauses } {
  const gc: GcPauses = { major: 0, majorMaxMs: 0, minor: 0, minorMaxMs: 0 };
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const kind = (entry as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind;
      if (kind === perfConstants.NODE_PERFORMANCE_GC_MAJOR) {
        gc.major++;
        gc.majorMaxMs = Math.max(gc.majorMaxMs, entry.duration);
      } else if (kind === perfConstants.NODE_PERFORMANCE_GC_MINOR) {
        gc.minor++;
        gc.minorMaxMs = Math.max(gc.minorMaxMs, entry.duration);
      }
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  return {
    stop() {
      observer.disconnect();
      return gc;
    },
  };
}

/** Time (µs) the threads of this process and of `pids` have waited for a CPU so far (/proc/PID/task/TID/schedstat; 0 elsewhere). */
function runQueueWaitUs(pids: readonly number[]): number {
  let ns = 0;
  for (const pid of ['self', ...pids]) {
    try {
      for (const task of readdirSync(`/proc/${pid}/task`)) ns += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ')[1]);
    } catch {
      // not Linux, or exited
    }
  }
  return ns / 1000;
}

/** CPU time (µs) used so far by processes `pids`, from /proc (Linux; 0 elsewhere or once a process is gone). */
function childCpuUs(pids: readonly number[]): number {
  let us = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      us += (Number(fields[11]) + Number(fields[12])) * 10_000; // utime + stime, in clock ticks of 10 ms
    } catch {
      // not Linux, or exited
    }
  }
  return us;
}

/** CPU time (µs) of this process (all its threads) and of `pids`. */
const cpuNow = (pids: readonly number[] = []): number => {
  const { user, system } = process.cpuUsage();
  return user + system + childCpuUs(pids);
};

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

const ms = (h: Result['latency'], p: number): string => (h.percentile(p) / 1000).toFixed(p === 50 ? 3 : 2);
const rateText = (r: number): string => (r >= 1e6 ? `${(r / 1e6).toFixed(2)}M rows/s` : `${(r / 1e3).toFixed(1)}k rows/s`);
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * An in-process path: `send(from, n, t)` hands rows from … from + n − 1
 * over, at time `t`; the path calls `answered(t, n)` when the results of n
 * rows handed over at time t are out.
 */
type OpenPath = (answered: (t: number, n: number, now?: number) => void) => Promise<{
  send(from: number, n: number, t: number): void | Promise<void>;
  close(): Promise<void>;
  /** The path's child processes (their CPU time counts with this process's). */
  pids?: number[];
  /** Where the time went, measured by the path itself (after the warm-up; called after close): printed under the load's row. */
  stages?: () => Promise<string>;
}>;

/** Rows handed over per call at most (an unpaced run hands over this many at a time). */
const CHUNK = 4096;

/** Latencies of the in-process paths, weighted by rows (src/scheduler/latency.ts, 1 % buckets): the kernel path answers tens of millions of rows a second. */
function weightedHistogram(): { record(ms: number, n: number): void; percentile(p: number): number } {
  const h = new LatencyHistogram();
  return { record: (ms, n) => h.record(ms, n), percentile: (p) => h.percentile(p) * 1000 };
}

/**
 * Runs an in-process path on `rows` rows offered at `rate` rows/s (Infinity:
 * as fast as it takes them), with the same pacing as the CLI's: every tick,
 * the rows due by then; records each row's latency after the warm-up.
 */
async function measureInProcess(open: OpenPath, rows: number, rate: number): Promise<Result> {
  rows = Math.max(2, rows);
  const latency = weightedHistogram();
  let received = 0;
  let start = 0;
  let done!: () => void;
  const all = new Promise<void>((resolve) => (done = resolve));
  const path = await open((t, n, now = performance.now()) => {
    if (t - start >= WARMUP_MS) latency.record(now - t, n);
    received += n;
    if (received === rows) done();
  });
  start = performance.now();
  const cpuStart = cpuNow(path.pids);
  const waitStart = runQueueWaitUs(path.pids ?? []);
  const gcWatch = watchGc();
  let sent = 0;
  while (sent < rows) {
    const now = performance.now();
    const due = Math.min(rows, rate === Infinity ? rows : 1 + Math.floor(((now - start) / 1000) * rate));
    while (sent < due) {
      const n = Math.min(due - sent, CHUNK);
      await path.send(sent, n, now);
      sent += n;
    }
    if (sent < rows) await sleep(TICK_MS);
  }
  await all;
  const seconds = (performance.now() - start) / 1000;
  const cpuUs = cpuNow(path.pids) - cpuStart;
  const waitUs = runQueueWaitUs(path.pids ?? []) - waitStart;
  const gc = gcWatch.stop();
  await path.close();
  const stages = await path.stages?.();
  return { rows, seconds, latency, cpuUs, waitUs, gc, ...(stages !== undefined ? { stages } : {}) };
}

/** Row i's key id and value: a seeded table, repeated every 2^20 rows (so making rows costs the paths nothing). */
const MASK = (1 << 20) - 1;
const KEY_IDS = Uint32Array.from({ length: MASK + 1 }, (_, i) => (Math.imul(i + 1, 0x9e3779b1) >>> 0) % KEYS);
const VALUES = Float64Array.from({ length: MASK + 1 }, (_, i) => (((Math.imul(i + 1, 0x9e3779b1) >>> 0) >>> 10) / 4194.304));
const keyOf = (i: number): number => KEY_IDS[i & MASK] as number;
/** Rows from … from + out.length − 1 of a table, into `out` (at most two copies: the table repeats). */
function rowsOf<T extends Float64Array | Uint32Array>(table: T, out: T, from: number): T {
  const at = from & MASK;
  const first = Math.min(out.length, MASK + 1 - at);
  out.set(table.subarray(at, at + first));
  if (first < out.length) out.set(table.subarray(0, out.length - first), first);
  return out;
}
const valueOf = (i: number): number => VALUES[i & MASK] as number;

/** One load table: the maximum (unpaced), then each load; returns p99 at 50 % (ms). */
async function table(title: string, run: (rows: number, rate: number) => Promise<Result>, maxRows: number, note?: (max: number) => Promise<string>): Promise<number> {
  const max = MAX_RATE === undefined ? await run(maxRows, Infinity) : undefined;
  const maxRate = max === undefined ? MAX_RATE! : max.rows / max.seconds;
  console.log(`\n${title}`);
  console.log(`load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}, ${os.cpus().length} cores`);
  if (max === undefined) console.log(`maximum throughput: ${rateText(maxRate)} (--max-rate, not measured)`);
  else console.log(`maximum throughput (unpaced): ${rateText(maxRate)} (${max.rows} rows in ${max.seconds.toFixed(2)} s)`);
  if (note !== undefined) console.log(await note(maxRate));
  console.log('| load | offered | achieved | p50 ms | p99 ms | p99.9 ms | CPU µs/row | CPU wait | main-thread GC: major n (max ms) · minor n (max ms) |\n|---|---|---|---|---|---|---|---|---|');
  let p99AtHalf = NaN;
  const stageNotes: string[] = [];
  for (const load of LOADS) {
    const rate = maxRate * load;
    const r = await run(Math.round((rate * (SECONDS * 1000 + WARMUP_MS)) / 1000), rate);
    const cpu = r.cpuUs === undefined ? '–' : (r.cpuUs / r.rows).toFixed(r.cpuUs / r.rows < 1 ? 3 : 1);
    const wait = r.waitUs === undefined || r.cpuUs === undefined ? '–' : `${(r.waitUs / r.cpuUs).toFixed(2)}×`;
    const gc = r.gc === undefined ? '–' : `${r.gc.major} (${r.gc.majorMaxMs.toFixed(1)}) · ${r.gc.minor} (${r.gc.minorMaxMs.toFixed(1)})`;
    console.log(`| ${load * 100} % | ${rateText(rate)} | ${rateText(r.rows / r.seconds)} | ${ms(r.latency, 50)} | ${ms(r.latency, 99)} | ${ms(r.latency, 99.9)} | ${cpu} | ${wait} | ${gc} |`);
    if (r.stages !== undefined) stageNotes.push(`${load * 100} %: ${r.stages}`);
    if (load === 0.5) p99AtHalf = r.latency.percentile(99) / 1000;
  }
  for (const line of stageNotes) console.log(line);
  return p99AtHalf;
}

const verdict = (p99: number, target: number): string => `p99 at 50 % load: ${p99.toFixed(2)} ms (target ≤ ${target} ms: ${p99 <= target ? 'met' : 'MISSED'})`;

/** The kernel's scalar path: pushValue per row, answered at once. */
const kernelPath: OpenPath = async (answered) => {
  const kernel = await createKernel({ op: 'mean', window: 100 });
  return {
    send(from, n, t) {
      for (let i = from; i < from + n; i++) kernel.pushValue(valueOf(i));
      answered(t, n);
    },
    close: async () => kernel.dispose(),
  };
};

/** The same job in plain JS: a one-row rolling mean (bench/baselines.ts). */
const plainJsPath: OpenPath = async (answered) => {
  const js = new JsSumStepper(100, 100, 'mean');
  return {
    send(from, n, t) {
      for (let i = from; i < from + n; i++) js.push(valueOf(i));
      answered(t, n);
    },
    close: async () => undefined,
  };
};

/**
 * The scheduler's input: one pair of arrays filled for every push (the job
 * copies a pushed batch, so a live feed can reuse them); with
 * --fresh-arrays, new arrays per push and a sink that keeps the results, as
 * before issue 20's fix (ArrayBuffer bytes per row, which start the
 * coordinator's major GCs).
 */
const FRESH_ARRAYS = args.includes('--fresh-arrays');

/** The scheduler: 2 workers, keyed, each due slice pushed as one batch; results come back in push order. */
const schedulerPath: OpenPath = async (answered) => {
  // [time, rows] of each push not yet (wholly) written.
  const pushed: [number, number][] = [];
  const values = new Float64Array(CHUNK);
  const keys = new Uint32Array(CHUNK);
  const job = await createJob({
    adapter: nodeWorkers(),
    operator: { op: 'mean', window: 100 },
    keyed: true,
    workers: 2,
    sink: {
      write: (b) => {
        for (let left = b.values.length; left > 0; ) {
          const head = pushed[0]!;
          const n = Math.min(left, head[1]);
          answered(head[0], n);
          left -= n;
          if ((head[1] -= n) === 0) pushed.shift();
        }
      },
      preCommit: () => null,
      commit: () => undefined,
      recover: () => undefined,
      // It reads the results' count in write and keeps nothing.
      keepsValues: FRESH_ARRAYS,
    },
  });
  return {
    send(from, n, t) {
      pushed.push([t, n]);
      if (FRESH_ARRAYS) return job.push({ values: rowsOf(VALUES, new Float64Array(n), from), keys: rowsOf(KEY_IDS, new Uint32Array(n), from) });
      return job.push({ values: rowsOf(VALUES, values.subarray(0, n), from), keys: rowsOf(KEY_IDS, keys.subarray(0, n), from) });
    },
    close: async () => void (await job.finish()),
  };
};

const REDIS_PARTITIONS = 16;
/** The producer's and the workers' lingerMs on the Redis path (issue 20: fuller entries and commits for a bounded wait). */
const PRODUCER_LINGER_MS = Number(option('--linger-ms') ?? 2);
const WORKER_LINGER_MS = Number(option('--worker-linger-ms') ?? 0);
/** The producer's connections (ProducerOptions.connections: partition p's appends on connection p mod n; redis-server reads each about 16 KB per round of its event loop). */
const PRODUCER_CONNECTIONS = Number(option('--producer-connections') ?? 1);
/** redis-server's appendfsync: always (every commit durable before its reply, the issue's setting) or everysec. */
const FSYNC = option('--fsync') ?? 'always';
/** A directory: each Redis worker process writes a V8 CPU profile there (node --cpu-prof). */
const CPU_PROF = option('--cpu-prof');
/** The Redis job's format (2: JSON keys; 3: key column) and, format 3 only, the workers' --state-every-ms (state stored at most that often instead of with every commit). */
const REDIS_FORMAT = Number(option('--format') ?? 2) as 2 | 3;
const STATE_EVERY_MS = option('--state-every-ms');
/** The workers' --commits-in-flight (a partition's commits unanswered at most; 2 or more: reads on their own connection); not given: the worker's default. */
const COMMITS_IN_FLIGHT = option('--commits-in-flight');
/**
 * How the bench reads the Redis path's results: `outputs` (a consumer's XREAD over the output streams alone; the input
 * entries, to match outputs to rows, on a connection of their own) or `combined` (one XREAD over both: the measure until
 * issue 20's eleventh round, a round of redis-server's event loop later for many outputs; see redisPath).
 */
const READER = option('--reader') ?? 'outputs';
if (READER !== 'outputs' && READER !== 'combined') throw new Error(`--reader must be outputs or combined, got ${READER}`);
const KEY_NAMES = Array.from({ length: KEYS }, (_, k) => `k${k}`);

/**
 * The Redis pipeline with `workers` worker processes: rows sent by the
 * producer here (with `--linger-ms`), their values being their row numbers;
 * each output entry read back (XREAD BLOCK) is matched to its rows through
 * its input entry (same id), so rows are matched whatever entries the
 * producer's linger made. The kernel work does not depend on the values.
 */
function redisPath(url: string, workers: number, jobs: { n: number }): OpenPath {
  return async (answered) => {
    const job = `latency-${workers}-${jobs.n++}`;
    const producer = await createProducer({ url, job, create: { partitions: REDIS_PARTITIONS, spec: { op: 'mean', window: 100 }, format: REDIS_FORMAT }, lingerMs: PRODUCER_LINGER_MS, connections: PRODUCER_CONNECTIONS });
    const { keys } = producer.job;
    const procs = Array.from({ length: workers }, () =>
      spawn(process.execPath, [...(CPU_PROF !== undefined ? ['--cpu-prof', '--cpu-prof-dir', CPU_PROF] : []), REDIS_MAIN, 'worker', '--redis', url, '--job', job, '--log', 'json', '--heartbeat-ms', '100', '--linger-ms', String(WORKER_LINGER_MS), ...(STATE_EVERY_MS !== undefined ? ['--state-every-ms', STATE_EVERY_MS] : []), ...(COMMITS_IN_FLIGHT !== undefined ? ['--commits-in-flight', COMMITS_IN_FLIGHT] : [])], { stdio: ['ignore', 'ignore', 'pipe'] }),
    );
    const stopped = procs.map(stoppedStats);
    let workerStats: (Record<string, number> | undefined)[] = [];
    let commandsAfter = new Map<string, number>();
    const readerConn = await connectRedis({ url });
    const reader = new Commands(readerConn);
    const sentAt: number[] = [];
    // Stages of each row after the warm-up: send → its XADD acknowledged (the producer's linger and the write's fsync round), then → its output entry read (the worker's read, compute and commit, and this reader's XREAD).
    const ackedAt: number[] = [];
    const toAck = weightedHistogram();
    const toOutput = weightedHistogram();
    const total = weightedHistogram();
    // The same split by the input entry's append (the time in its id, redis-server's clock, as Date.now() here): send → appended (the producer's linger and queue), appended → output read.
    const toAppend = weightedHistogram();
    const appendToOutput = weightedHistogram();
    const appendedAt = outputsAppendTimes();
    let firstSend = NaN;
    const commandsBefore = await commandCalls(reader);
    const bytesBefore = await serverBytes(reader);
    let bytesAfter = bytesBefore;
    // redis-server's own record of its fsyncs (appendfsync always: each round's, in its main thread) of 1 ms or more: the longest per second.
    await reader.send(['CONFIG', 'SET', 'latency-monitor-threshold', '1']);
    await reader.send(['LATENCY', 'RESET']);
    let fsyncs: number[] = [];
    let reading = true;
    // The probe: one INCR at a time on its own connection, each round trip one round of redis-server's event loop (see the header).
    const probeConn = await connectRedis({ url });
    const probe = new Commands(probeConn);
    const probeRtt = weightedHistogram();
    const probeLoop = (async () => {
      while (reading) {
        const t0 = performance.now();
        await probe.send(['INCR', `probe:${job}`]);
        if (t0 - firstSend >= WARMUP_MS) probeRtt.record(performance.now() - t0, 1);
      }
    })();
    // How the bench reads the results (--reader). `outputs` (the default since
    // issue 20's eleventh round): a consumer's blocking XREAD over the output
    // streams alone, on its own connection, which times each output; a second
    // connection reads the input entries (their values are the rows' numbers)
    // to match outputs to rows. `combined` (the measure before): one XREAD over
    // inputs and outputs, so an input entry is read in the same reply as its
    // output or an earlier one; but the producer's every append unblocked it,
    // so it was seldom blocked when an output was appended: its next XREAD,
    // sent after that reply, came a round of redis-server's event loop later
    // (an fsync under appendfsync always), a round a consumer of the outputs
    // alone does not wait. (Before the tenth round a lookup XRANGE after each
    // reply added a round more.)
    const outputs = Array.from({ length: REDIS_PARTITIONS }, (_, p) => keys.output(p));
    const inputs = Array.from({ length: REDIS_PARTITIONS }, (_, p) => keys.input(p));
    /** Per partition: the row numbers of each input entry read and not yet answered, by entry id; the output entries read before their input, with the time they were read. */
    const rowsOf = outputs.map(() => new Map<string, Float64Array>());
    const early = outputs.map(() => new Map<string, number>());
    type Entries = [Buffer, Buffer[]][];
    const field = (flat: Buffer[], name: string): Buffer => flat[flat.findIndex((f, i) => i % 2 === 0 && f.toString() === name) + 1]!;
    const answer = (p: number, id: string, now: number): boolean => {
      const rows = rowsOf[p]!.get(id);
      if (rows === undefined) return false;
      rowsOf[p]!.delete(id);
      const appended = appendedAt(id);
      for (const row of rows) {
        const sent = sentAt[row]!;
        answered(sent, 1, now);
        if (sent - firstSend >= WARMUP_MS) {
          toAck.record(ackedAt[row]! - sent, 1);
          toOutput.record(now - ackedAt[row]!, 1);
          total.record(now - sent, 1);
          toAppend.record(Math.max(0.001, appended - sent), 1);
          appendToOutput.record(Math.max(0.001, now - appended), 1);
        }
      }
      return true;
    };
    /** Reads `streams` (outputs, inputs, or both) with XREAD BLOCK on `cmd` until the run ends: inputs give rows, outputs answer them. */
    const readLoop = async (cmd: Commands, streams: string[]): Promise<void> => {
      const last = streams.map(() => '0');
      while (reading) {
        const reply = await cmd.send<[Buffer, Entries][] | Record<string, Entries> | null>(['XREAD', 'COUNT', '1000', 'BLOCK', '100', 'STREAMS', ...streams, ...last], true);
        const now = performance.now();
        // RESP2 replies with [stream, entries] pairs, RESP3 with a map; inputs first, so outputs of the same reply find their rows.
        const replied = (reply === null ? [] : Array.isArray(reply) ? reply : Object.entries(reply)).map(([name, entries]) => [name.toString(), entries] as const);
        replied.sort((a, b) => Number(outputs.includes(a[0])) - Number(outputs.includes(b[0])));
        for (const [name, entries] of replied) {
          if (entries.length === 0) continue;
          last[streams.indexOf(name)] = entries[entries.length - 1]![0].toString();
          const input = inputs.indexOf(name);
          if (input >= 0) {
            for (const [id, flat] of entries) rowsOf[input]!.set(id.toString(), decodeColumn(new Uint8Array(field(flat, 'x'))));
            for (const [id, at] of early[input]!) if (answer(input, id, at)) early[input]!.delete(id);
          } else {
            const p = outputs.indexOf(name);
            for (const [id] of entries) if (!answer(p, id.toString(), now)) early[p]!.set(id.toString(), now);
          }
        }
      }
    };
    const inputConn = READER === 'combined' ? undefined : await connectRedis({ url });
    const readLoops = inputConn === undefined ? [readLoop(reader, [...outputs, ...inputs])] : [readLoop(new Commands(inputConn), inputs), readLoop(reader, outputs)];
    // The workers are members and have taken their partitions.
    while ((await reader.send<number>(['ZCARD', producer.job.keys.members])) < workers) await sleep(20);
    await sleep(300);
    return {
      pids: procs.map((proc) => proc.pid!),
      async send(from, n, t) {
        const names: string[] = [];
        const values: number[] = [];
        if (Number.isNaN(firstSend)) firstSend = t;
        for (let i = from; i < from + n; i++) {
          names.push(KEY_NAMES[keyOf(i)]!);
          values.push(i);
          sentAt[i] = t;
        }
        // Not awaited, with or without linger: the next tick's rows must not wait for this write's acknowledgement. (Until
        // issue 20's tenth round, with --linger-ms 0 the pacing loop awaited it, so the rows that fell due meanwhile were
        // stamped as sent when the loop came back, and that wait was missing from their latency.)
        void producer.send(names, values).then(() => {
          const now = performance.now();
          for (let i = from; i < from + n; i++) ackedAt[i] = now;
        });
      },
      async stages() {
        const perRow = ROUND_TRIP_COMMANDS.map((name) => [name, (commandsAfter.get(name) ?? 0) - (commandsBefore.get(name) ?? 0)] as const).filter(([, n]) => n > 0);
        const rows = sentAt.length;
        const p = (h: ReturnType<typeof weightedHistogram>, q: number): string => (h.percentile(q) / 1000).toFixed(2);
        const rounds = (h: ReturnType<typeof weightedHistogram>, q: number): string => (h.percentile(q) / probeRtt.percentile(50)).toFixed(1);
        const f = (x: unknown): string => (typeof x === 'number' ? x.toFixed(2) : '?');
        return (
          `probe (one INCR at a time) round trip p50/p99 ${p(probeRtt, 50)} / ${p(probeRtt, 99)} ms; in probe round trips (p50): send → output read p50/p99 ${rounds(total, 50)} / ${rounds(total, 99)}, send → XADD acked ${rounds(toAck, 50)} / ${rounds(toAck, 99)}, acked → output read ${rounds(toOutput, 50)} / ${rounds(toOutput, 99)}; ` +
          `send → XADD acked p50/p99 ${p(toAck, 50)} / ${p(toAck, 99)} ms; acked → output read ${p(toOutput, 50)} / ${p(toOutput, 99)} ms; ` +
          `send → appended ${p(toAppend, 50)} / ${p(toAppend, 99)} ms; appended → output read ${p(appendToOutput, 50)} / ${p(appendToOutput, 99)} ms; ` +
          `redis-server commands per 1000 rows: ${perRow.map(([name, n]) => `${name} ${((n * 1000) / rows).toFixed(1)}`).join(', ')}; ` +
          `redis-server bytes per row (whole run): received ${((bytesAfter.input - bytesBefore.input) / rows).toFixed(0)}, appended to the AOF ${((bytesAfter.aof - bytesBefore.aof) / rows).toFixed(0)}; ` +
          // redis-server's CPU is not in the table's CPU µs/row (not a child of the path's processes) but bounds the path as much: it holds under load.
          `redis-server CPU µs per row (whole run): ${((bytesAfter.cpuUs - bytesBefore.cpuUs) / rows).toFixed(1)}, of which in commands ${[...bytesAfter.commandUs].map(([name, us]) => [name, (us - (bytesBefore.commandUs.get(name) ?? 0)) / rows] as const).filter(([, us]) => us >= 0.05).sort((a, b) => b[1] - a[1]).map(([name, us]) => `${name} ${us.toFixed(2)}`).join(', ')}; ` +
          `redis-server's longest fsync per second (${fsyncs.length} s with one ≥ 1 ms): median ${fsyncs[fsyncs.length >> 1] ?? 0} ms, max ${fsyncs[fsyncs.length - 1] ?? 0} ms` +
          // Whole run (warm-up included), per worker: what the worker itself saw of a row's path.
          workerStats.map((s, i) => `\n    worker ${i + 1}: appended → committed p50/p99 ${f(s?.['committedAgeP50'])} / ${f(s?.['committedAgeP99'])} ms (per entry); appended → read p50/p99 ${f(s?.['readAgeP50'])} / ${f(s?.['readAgeP99'])} ms; compute ${f(s?.['computeP50'])} / ${f(s?.['computeP99'])} ms; commit round trip ${f(s?.['commitP50'])} / ${f(s?.['commitP99'])} ms; ${s?.['commits'] ?? '?'} commits of ${s?.['rows'] ?? '?'} rows${s?.['pipelined'] !== undefined ? `, ${s['pipelined']} sent before the one ahead was answered` : ''}`).join('')
        );
      },
      async close() {
        reading = false;
        await Promise.all(readLoops);
        await inputConn?.close();
        await probeLoop;
        await probeConn.close();
        await producer.close();
        commandsAfter = await commandCalls(reader);
        bytesAfter = await serverBytes(reader);
        fsyncs = (await reader.send<[number, number][]>(['LATENCY', 'HISTORY', 'aof-fsync-always'])).map(([, ms]) => ms).sort((a, b) => a - b);
        await readerConn.close();
        for (const proc of procs) proc.kill('SIGTERM');
        workerStats = await Promise.all(stopped);
      },
    };
  };
}

const REDIS_MAIN = path.join(option('--worker-build') ?? root, 'dist', 'src', 'redis', 'main.js');

/** A worker process's stats from its 'stopped' event (--log json on stderr); undefined if it logged none. */
function stoppedStats(proc: ReturnType<typeof spawn>): Promise<Record<string, number> | undefined> {
  let text = '';
  proc.stderr!.on('data', (c: Buffer) => (text += c.toString()));
  return new Promise((resolve) =>
    proc.once('exit', () => {
      const line = text.split('\n').find((l) => l.includes('"event":"stopped"'));
      resolve(line === undefined ? undefined : (JSON.parse(line) as Record<string, number>));
    }),
  );
}

/** The append time of a stream entry id `<ms>-<seq>` (redis-server's clock) on performance.now()'s time line. */
function outputsAppendTimes(): (id: string) => number {
  const offset = performance.timeOrigin;
  return (id) => Number(id.slice(0, id.indexOf('-'))) - offset;
}

/**
 * The commands the producer, the workers and the reader send themselves (commandstats also counts the scripts' own calls).
 * A commit is one MULTI … EXEC (its EVALs and output XADDs inside; job formats 3 and 4), so `exec` counts commits;
 * `evalsha` is the scripts called alone (leases, heartbeats).
 */
const ROUND_TRIP_COMMANDS = ['xadd', 'xrange', 'exec', 'eval', 'evalsha', 'xread', 'client|unblock'];

/** redis-server's calls per command so far (INFO commandstats). */
async function commandCalls(cmd: Commands): Promise<Map<string, number>> {
  const info = String(await cmd.send<string | Buffer>(['INFO', 'commandstats']));
  const calls = new Map<string, number>();
  for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls.set(m[1]!, Number(m[2]));
  return calls;
}

/** redis-server's bytes received and AOF size: per row, they do not depend on the machine's load as its latencies do. */
async function serverBytes(cmd: Commands): Promise<{ input: number; aof: number; cpuUs: number; commandUs: Map<string, number> }> {
  const info = String(await cmd.send<string | Buffer>(['INFO', 'all']));
  const field = (name: string): number => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)?.[1] ?? NaN);
  const seconds = (name: string): number => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? NaN);
  const commandUs = new Map<string, number>();
  for (const m of info.matchAll(/^cmdstat_([^:]+):calls=\d+,usec=(\d+)/gm)) commandUs.set(m[1]!, Number(m[2]));
  return { input: field('total_net_input_bytes'), aof: field('aof_current_size'), cpuUs: (seconds('used_cpu_user') + seconds('used_cpu_sys')) * 1e6, commandUs };
}

const missed: string[] = [];
if (PATHS.includes('kernel')) {
  await table(
    'one kernel, kernel.pushValue per row (mean, window 100)',
    (rows, rate) => measureInProcess(kernelPath, rows, rate),
    20_000_000,
    async () => {
      const js = await measureInProcess(plainJsPath, 20_000_000, Infinity);
      return `plain JS one-row rolling mean, same rows: ${rateText(js.rows / js.seconds)}`;
    },
  );
}
if (PATHS.includes('scheduler')) {
  const p99 = await table(`scheduler: createJob, 2 workers, 1000 keys, mean window 100 (push → sink write)${FRESH_ARRAYS ? ', new arrays per push, sink keeping them (--fresh-arrays)' : ', arrays reused, sink keeping none'}`, (rows, rate) => measureInProcess(schedulerPath, rows, rate), 2_000_000);
  console.log(verdict(p99, SCHEDULER_TARGET_P99_MS));
  if (!(p99 <= SCHEDULER_TARGET_P99_MS)) missed.push('scheduler');
}
if (PATHS.includes('cli')) {
  const p99 = await table(
    `streamkernel run on a paced stdin: --key k (1000 keys) --op mean --window 100, --max-delay ${MAX_DELAY ?? '50ms (default)'}`,
    (rows, rate) => measure(rows, rate),
    MAX_ROWS,
  );
  console.log(verdict(p99, TARGET_P99_MS));
  if (!(p99 <= TARGET_P99_MS)) missed.push('cli');
}
if (PATHS.includes('redis')) {
  const redis = await startRedis(FSYNC);
  try {
    const jobs = { n: 0 };
    for (const workers of (option('--workers') ?? '1,2').split(',').map(Number)) {
      const p99 = await table(
        `Redis: ${workers} worker process${workers > 1 ? 'es' : ''}, ${REDIS_PARTITIONS} partitions, 1000 keys, mean window 100, job format ${REDIS_FORMAT}${STATE_EVERY_MS !== undefined ? `, state every ${STATE_EVERY_MS} ms` : REDIS_FORMAT >= 3 ? ', state deferred when larger than the results (the default)' : ''}${COMMITS_IN_FLIGHT !== undefined ? `, ${COMMITS_IN_FLIGHT} commits in flight` : ''}, appendfsync ${FSYNC}, producer lingerMs ${PRODUCER_LINGER_MS} on ${PRODUCER_CONNECTIONS} connection${PRODUCER_CONNECTIONS > 1 ? 's' : ''}, worker lingerMs ${WORKER_LINGER_MS} (send → output entry read${READER === 'combined' ? ' by one XREAD over inputs and outputs, --reader combined' : ' by an XREAD of the outputs alone'})`,
        (rows, rate) => measureInProcess(redisPath(redis.url, workers, jobs), rows, rate),
        200_000,
      );
      console.log(verdict(p99, REDIS_TARGET_P99_MS));
      if (!(p99 <= REDIS_TARGET_P99_MS)) missed.push(`redis ${workers}`);
    }
  } finally {
    redis.stop();
  }
}
console.log(`\nload average after: ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}${missed.length > 0 ? `; targets missed: ${missed.join(', ')}` : ''}`);
