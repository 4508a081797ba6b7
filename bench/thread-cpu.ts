// CPU time per thread, for the scaling benches (Linux only). Loaded with
// `node --import ./dist/bench/thread-cpu.js …`: Node passes the flag on to
// worker threads (nodeWorkers() inherits execArgv), so it runs in the
// coordinator and in every scheduler worker, with no change to the library.
//
// Each thread reads its own CPU time from /proc/thread-self/schedstat
// (nanoseconds on a CPU: holds under load, unlike wall-clock time) and, when
// SK_THREAD_CPU_DIR is set, writes it to `<dir>/<threadId>.json`: a worker
// after each reply it posts ('out', 'snap', 'flushed': a worker is terminated
// without notice), the coordinator at exit (with the whole process's CPU,
// so that V8's helper threads show as the rest). readThreadCpu() sums a
// directory into coordinator / workers / other, once the run's workers are
// gone. A worker's record is one positioned write of a fixed-width line into
// a file it keeps open, and its schedstat is read through a kept descriptor:
// two system calls a reply. (Opening, writing and renaming a file per reply
// held a worker 13–21 % of its wall time under load, so wall-clock figures
// taken with the recorder understated 2 workers.)
import { openSync, readdirSync, readFileSync, readSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';
import { isMainThread, parentPort, threadId } from 'node:worker_threads';

/** This thread's schedstat, opened once (module state is per thread); -1 where /proc is missing. */
let schedstat: number | undefined;
const statBytes = new Uint8Array(128);

/** This thread's CPU time in ms, or NaN where /proc is missing. */
export function threadCpuMs(): number {
  return threadTimesMs()[0];
}

/**
 * This thread's CPU time and its time waiting for a CPU (runnable, not
 * running), in ms: schedstat's first two fields; NaN where /proc is missing.
 * Wall time less both is the time the thread was blocked (its event loop
 * idle), which the machine's load does not change.
 */
export function threadTimesMs(): [number, number] {
  try {
    schedstat ??= openSync('/proc/thread-self/schedstat', 'r');
  } catch {
    schedstat = -1;
  }
  if (schedstat < 0) return [NaN, NaN];
  const n = readSync(schedstat, statBytes, 0, statBytes.length, 0);
  const fields = [0, 0];
  let f = 0;
  for (let i = 0; i < n && f < 2; i++) {
    const c = statBytes[i]!;
    if (c < 48 || c > 57) f++;
    else fields[f] = fields[f]! * 10 + (c - 48);
  }
  return [fields[0]! / 1e6, fields[1]! / 1e6];
}

/** The whole process's CPU time (user + system) in ms. */
export function processCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

interface Record {
  main: boolean;
  cpuMs: number;
  /** A worker's CPU time when it posted its first reply (steady state: from there to its last). */
  firstMs?: number;
  /** A worker's blocked time (wall − CPU − wait for a CPU) from its first reply to its last, in ms, and that wall time. */
  blockedMs?: number;
  wallMs?: number;
  processMs?: number;
}

let firstMs: number | undefined;
/** A worker's wall clock and wait for a CPU at its first reply. */
let firstWallMs: number | undefined;
let firstWaitMs: number | undefined;

// Empty counts as unset (it wrote `0.json` into the working directory).
const dir = process.env.SK_THREAD_CPU_DIR || undefined;

/** This thread's record file, kept open. */
let recordFile: number | undefined;
/** A record's fixed width: every write covers the last one whole. */
const RECORD_BYTES = 160;

/** Writes this thread's figure now (the coordinator: also the process's). */
export function recordThreadCpu(): void {
  if (dir === undefined) return;
  const [cpuMs, waitMs] = threadTimesMs();
  const record: Record = { main: isMainThread, cpuMs };
  if (!isMainThread) {
    const wall = performance.now();
    record.firstMs = firstMs ??= cpuMs;
    firstWallMs ??= wall;
    firstWaitMs ??= waitMs;
    record.wallMs = Math.round(wall - firstWallMs);
    record.blockedMs = Math.round(wall - firstWallMs - (cpuMs - record.firstMs) - (waitMs - firstWaitMs));
  }
  if (isMainThread) record.processMs = processCpuMs();
  recordFile ??= openSync(path.join(dir, `${threadId}.json`), 'w');
  writeSync(recordFile, JSON.stringify(record).padEnd(RECORD_BYTES), 0);
}

/** CPU ms by role, from the records in `from` (then removed, so the next run starts empty). */
export function readThreadCpu(from: string): { coordinator: number; workers: number[]; steadyWorkers: number[]; blocked: number[]; other: number } {
  let coordinator = 0;
  let processMs = 0;
  const workers: number[] = [];
  const steadyWorkers: number[] = [];
  const blocked: number[] = [];
  for (const name of readdirSync(from)) {
    if (!name.endsWith('.json')) continue;
    const r = JSON.parse(readFileSync(path.join(from, name), 'utf8')) as Record;
    if (r.main) {
      coordinator = r.cpuMs;
      processMs = r.processMs ?? 0;
    } else {
      workers.push(r.cpuMs);
      steadyWorkers.push(r.cpuMs - (r.firstMs ?? 0));
      if (r.wallMs !== undefined && r.wallMs > 0) blocked.push((r.blockedMs ?? 0) / r.wallMs);
    }
    rmSync(path.join(from, name));
  }
  const other = processMs - coordinator - workers.reduce((a, b) => a + b, 0);
  return { coordinator, workers, steadyWorkers, blocked, other };
}

/** CPU ns per row: the coordinator (main thread), each worker, the rest of the process (V8 helper threads: GC, compiler). */
export interface CpuSplit {
  coordinator: number;
  workers: number[];
  other: number;
  /** Steady state: the fraction of wall time each thread was blocked (idle, not waiting for a CPU); coordinator first, then the workers. */
  blocked?: number[];
}

/** The coordinator's CPU ms, its wait for a CPU and wall clock, and the process's CPU ms now. */
export function cpuMark(): { main: number; process: number; wait: number; wall: number } {
  const [main, wait] = threadTimesMs();
  return { main, process: processCpuMs(), wait, wall: performance.now() };
}

/**
 * In-process runs: starts measuring (undefined without SK_THREAD_CPU_DIR).
 * Call the result once the run's workers are gone, with its rows, and for
 * the steady state (first to last output, startup and final checkpoint
 * left out) cpuMark()s at the first and last output and the rows between.
 */
export function cpuSplit(): ((rows: number, steady?: { first: ReturnType<typeof cpuMark>; last: ReturnType<typeof cpuMark>; rows: number }) => { run: CpuSplit; steady?: CpuSplit }) | undefined {
  if (dir === undefined) return undefined;
  readThreadCpu(dir); // drops earlier runs' records
  const start = cpuMark();
  const per = (rows: number, main: number, workers: number[], processMs: number): CpuSplit => {
    const perRow = (ms: number): number => (ms * 1e6) / rows;
    const other = processMs - main - workers.reduce((a, b) => a + b, 0);
    return { coordinator: perRow(main), workers: workers.map(perRow), other: perRow(other) };
  };
  return (rows, steady) => {
    const end = cpuMark();
    const r = readThreadCpu(dir);
    const run = per(rows, end.main - start.main, r.workers, end.process - start.process);
    if (steady === undefined || steady.rows <= 0) return { run };
    const { first, last } = steady;
    const wall = last.wall - first.wall;
    const coordinatorBlocked = (wall - (last.main - first.main) - (last.wait - first.wait)) / wall;
    return { run, steady: { ...per(steady.rows, last.main - first.main, r.steadyWorkers, last.process - first.process), blocked: [coordinatorBlocked, ...r.blocked] } };
  };
}

/** Per-row time on `cores` cores when the threads overlap perfectly: no thread can go faster than alone, nor all of them faster than the cores allow. */
export function boundNs(split: CpuSplit, cores = 2): number {
  const total = split.coordinator + split.workers.reduce((a, b) => a + b, 0) + split.other;
  return Math.max(split.coordinator, ...split.workers, total / cores);
}

/** The speedup from `one` to `two` the CPU split allows on 2 cores. */
export function splitRatio(one: CpuSplit, two: CpuSplit): number {
  return boundNs(one) / boundNs(two);
}

/** A markdown table row: name | coordinator | workers | other | bound. */
export function splitLine(name: string, s: CpuSplit): string {
  const f = (x: number): string => x.toFixed(0);
  const blocked = s.blocked === undefined ? '' : ` blocked ${s.blocked.map((b) => `${(b * 100).toFixed(0)} %`).join(' / ')}`;
  return `| ${name} | ${f(s.coordinator)} | ${s.workers.map(f).join(' + ') || '–'} | ${f(s.other)} | ${f(boundNs(s))}${blocked} |`;
}

if (dir !== undefined) {
  if (isMainThread) process.on('exit', recordThreadCpu);
  else if (parentPort !== null) {
    const port = parentPort;
    const post = port.postMessage.bind(port);
    const replies = new Set(['out', 'snap', 'flushed', 'chunk']);
    port.postMessage = (message: unknown, transfer?: Parameters<typeof post>[1]) => {
      post(message, transfer);
      if (replies.has((message as { t?: string } | null)?.t ?? '')) recordThreadCpu();
    };
  }
}
