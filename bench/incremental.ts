// Incremental checkpoints (node dist/bench/incremental.js): 10 000 keys of a
// rolling median over 1 000 rows, filled, then 1 % of the keys touched between
// checkpoints. Reports the size and time of a full and of an incremental
// checkpoint, the recovery time from the chain (a new job resuming until it
// is ready), the main thread's encode, decode and CRC-32 (zlib, WASM and JS) of the
// delta, and the CPU cost of a checkpoint per second.
//
// That cost is measured in one job, in one process, by paired segments: each
// segment pushes a second's rows of the 1 %-touched workload (at the rate
// measured without checkpoints) and waits for their results; a "with"
// segment then takes a checkpoint (job.checkpoint(): the barrier, every
// worker's snapshot of its changed key groups, encoding, CRC-32, the store's
// save, the sink's commit, and every fullEvery-th one full). Each pair's
// ratio is the CPU time of all threads (process.cpuUsage: the coordinator,
// the worker threads and V8's helpers) of its "with" segment over its
// "without" one; pairs alternate their order (ABBA), so drift and garbage
// left for the next segment fall on both sides. Reported: the median of the
// paired ratios and their spread (quartiles), and the mean over all pairs,
// which includes the full checkpoints; of a checkpoint call, the store's
// save (its CPU and wall time) and the call's wall time; and where the
// difference goes besides the call (issue 12): the system CPU, the minor page
// faults (fresh memory the kernel zeroes) and the coordinator's mark-compacts
// of "with" and "without" segments.
//
// The old measure's spread (±40–60 ms per segment of a second, under load)
// was larger than the effect, so a second measure follows it (short pairs,
// issue 12; the old one is still printed, --pairs 0 skips it):
// - many short segments (--short-pairs P, default 100, of --short-rows N,
//   default 1 000 000 rows): a checkpoint's cost does not grow with its
//   interval here (every interval touches the same 100 keys; the replay log
//   allocates nothing in a steady job), while a segment's noise does; the
//   cost of one per second is its paired CPU difference over the CPU of a
//   second's rows (--second-rows, default 6 000 000: a quiet second's);
// - every segment starts right after a checkpoint (an unmeasured one where
//   the segment before took none), so both sides start with an empty replay
//   log and no changed key: the old ABBA order started a "with" segment
//   after 0 or 2 segments without a commit, a "without" one after 0 or 1;
// - per pair, with − without of the CPU of all threads and by role (the
//   coordinator, the job's workers, the rest: V8's helpers, libuv's pool),
//   read from /proc/self/task/*/schedstat, since on a shared 2-core machine
//   wall time is mostly preemption; reported as the median with a 95 %
//   bootstrap interval and the mean with its 95 % interval;
// - the checkpoint call's CPU and wall time, and the coordinator's
//   mark-compacts per segment and inside the call.
// What a checkpoint leaves for later (garbage it made, collected in the next
// segment) falls on both sides alike in the new measure (each segment
// follows a checkpoint), so it measures the call and what it causes within
// its own segment. The bench's own garbage is gone from both measures: rows
// are pushed as views and the sink keeps no results (keepsValues: false);
// --bench-garbage restores the fresh slices and kept results (~120 MB per
// segment of 6 M rows, most of the old measure's mark-compacts).
//
// Flags: --key-groups G (default 4096; a count kernel's delta holds only the
// changed keys of each changed group, other kinds' whole groups), --workers W (default 2),
// --pairs P (default 40), --segment-rows N (default: a second's rows at the rate
// measured without checkpoints, which a loaded machine lowers, so the ratios
// grow with the load; a fixed N, a quiet second's rows, keeps them comparable), --full-every K (default 10), --store memory|file (default
// memory, which keeps a checkpoint saved as parts; file writes and fsyncs what
// it does not hold already: a composed full checkpoint's file is a manifest
// naming the unchanged groups' bytes in an earlier file, plus the changed groups).
import os from 'node:os';
import { crc32, jsCrc32, portableCrc32 } from '../src/crc32.js';
import { createJob, decodeCheckpoint, encodeCheckpoint, memoryCheckpointStore, type CheckpointStore, type Job, type OutputBatch } from '../src/scheduler/index.js';
import { fileCheckpointStore, nodeWorkers } from '../src/scheduler/node.js';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { constants as perfConstants, PerformanceObserver } from 'node:perf_hooks';
import { join } from 'node:path';

const args = process.argv.slice(2);
const flag = (name: string, fallback: number): number => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] !== undefined ? Number(args[i + 1]) : fallback;
};
const KEY_GROUPS = flag('--key-groups', 4096);
const WORKERS = flag('--workers', 2);
const KEYS = 10_000;
const WINDOW = 1000;
const SPEC = { op: 'median', window: WINDOW } as const;
const PAIRS = flag('--pairs', 40);
/** Rows per segment; 0: a second's rows at the rate measured without checkpoints. */
const SEGMENT_ROWS = flag('--segment-rows', 0);
const FULL_EVERY = flag('--full-every', 10);
/** Where the paired segments' checkpoints go: 'memory' (kept as parts) or 'file' (written and fsynced: every byte of a full checkpoint). */
const STORE = args.includes('--store') ? args[args.indexOf('--store') + 1] : 'memory';
if (STORE !== 'memory' && STORE !== 'file') throw new Error(`--store must be memory or file, got ${STORE}`);

/** The q-quantile of xs (nearest rank). */
const quantile = (xs: number[], q: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;
const median = (xs: number[]): number => quantile(xs, 0.5);
const pct = (x: number): string => `${x >= 0 ? '+' : ''}${(100 * x).toFixed(1)} %`;

/** Median main-thread CPU (ms) of fn over 9 calls: no worker runs meanwhile, so process CPU is this thread's. */
function cpuMs(fn: () => unknown): number {
  const times: number[] = [];
  for (let r = 0; r < 9; r++) {
    const cpu = process.cpuUsage();
    fn();
    const { user, system } = process.cpuUsage(cpu);
    times.push((user + system) / 1000);
  }
  return median(times);
}

/** `perKey` rows of each of the first `keys` keys, interleaved. */
function rows(keys: number, perKey: number, seed: number): { values: Float64Array; keys: Uint32Array } {
  const n = keys * perKey;
  const values = new Float64Array(n);
  const ks = new Uint32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    values[i] = (s >>> 8) / 65536;
    ks[i] = i % keys;
  }
  return { values, keys: ks };
}

/** The process's minor page faults so far (Linux; NaN elsewhere). */
function minorFaults(): number {
  try {
    return Number(readFileSync('/proc/self/stat', 'latin1').split(') ')[1]!.split(' ')[7]);
  } catch {
    return NaN;
  }
}

/** Mark-compacts of this (the coordinator's) thread so far (as delivered: an observer gets them later, when the event loop turns). */
let markCompacts = 0;
/** When each of them started (performance.now()): where they fell, counted once all are delivered. */
const markCompactStarts: number[] = [];
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    if ((entry as typeof entry & { detail?: { kind?: number } }).detail?.kind !== perfConstants.NODE_PERFORMANCE_GC_MAJOR) continue;
    markCompacts++;
    markCompactStarts.push(entry.startTime);
  }
}).observe({ entryTypes: ['gc'] });
/** Mark-compacts that started in [from, to). */
const markCompactsIn = (from: number, to: number): number => markCompactStarts.filter((t) => t >= from && t < to).length;

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t = performance.now();
  const r = await fn();
  return [r, performance.now() - t];
}

/**
 * The bench's own garbage, as before (--bench-garbage): a fresh slice of the
 * rows per push and results the sink keeps (~120 MB per segment of 6 M rows,
 * most of a segment's mark-compacts). By default the rows are pushed as views
 * (push copies them into its replay log anyway) and the sink keeps no results
 * (`keepsValues: false`: the job writes them into pooled buffers).
 */
const BENCH_GARBAGE = args.includes('--bench-garbage');

async function push(job: Job, data: { values: Float64Array; keys: Uint32Array }): Promise<void> {
  const batch = 1 << 16;
  const cut = BENCH_GARBAGE ? 'slice' : 'subarray';
  for (let i = 0; i < data.values.length; i += batch) await job.push({ values: data.values[cut](i, i + batch), keys: data.keys[cut](i, i + batch) });
}

const sink = () => ({ write() {}, preCommit: () => null, commit() {}, recover() {}, ...(BENCH_GARBAGE ? {} : { keepsValues: false }) });

const mb = (b: number): string => `${(b / 2 ** 20).toFixed(2)} MiB`;

/** CPU ms of each thread of this process by thread id (/proc/self/task/<tid>/schedstat: time on a CPU; empty off Linux). */
function threadCpu(): Map<number, number> {
  const times = new Map<number, number>();
  try {
    for (const tid of readdirSync('/proc/self/task')) {
      try {
        times.set(Number(tid), Number(readFileSync(`/proc/self/task/${tid}/schedstat`, 'latin1').split(' ')[0]) / 1e6);
      } catch {
        // the thread ended meanwhile
      }
    }
  } catch {
    // not Linux
  }
  return times;
}

/** CPU ms by role from `from` to now: all threads (process.cpuUsage), the coordinator (this thread), the job's workers, the rest (V8's helpers, libuv's pool). */
interface Split {
  all: number;
  coordinator: number;
  workers: number;
  other: number;
}
function splitMark(workerTids: readonly number[]): () => Split {
  const t0 = threadCpu();
  const cpu = process.cpuUsage();
  return () => {
    const { user, system } = process.cpuUsage(cpu);
    const t1 = threadCpu();
    const delta = (tid: number): number => (t1.get(tid) ?? t0.get(tid) ?? 0) - (t0.get(tid) ?? 0);
    const all = (user + system) / 1000;
    const coordinator = delta(process.pid);
    const workers = workerTids.reduce((n, tid) => n + delta(tid), 0);
    return { all, coordinator, workers, other: all - coordinator - workers };
  };
}

/** Median and a 95 % bootstrap interval of the median (pairs resampled; a fixed seed, so a run's interval is reproducible from its pairs). */
function medianCi(xs: number[], reps = 4000): [number, number, number] {
  let s = 12345;
  const rand = (): number => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0), s / 2 ** 32);
  const medians: number[] = [];
  const sample = new Array<number>(xs.length);
  for (let r = 0; r < reps; r++) {
    for (let i = 0; i < xs.length; i++) sample[i] = xs[Math.floor(rand() * xs.length)]!;
    medians.push(median(sample));
  }
  return [median(xs), quantile(medians, 0.025), quantile(medians, 0.975)];
}

/** Mean and its 95 % interval (normal approximation). */
function meanCi(xs: number[]): [number, number, number] {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / Math.max(1, xs.length - 1));
  const half = (1.96 * sd) / Math.sqrt(xs.length);
  return [m, m - half, m + half];
}

/** Short pairs (--short-pairs, --short-rows): see the top. */
const SHORT_PAIRS = flag('--short-pairs', 100);
const SHORT_ROWS = flag('--short-rows', 1_000_000);
/** A second's rows on a quiet machine (the cost of a checkpoint per second is its CPU over theirs). */
const SECOND_ROWS = flag('--second-rows', 6_000_000);

/**
 * The new measure (issue 12): many short pairs, each segment starting right
 * after a checkpoint (an unmeasured one where the segment before took none),
 * so both sides start with an empty replay log and no changed key; per pair
 * the difference with − without of every thread's CPU, by role.
 */
async function shortPairs(
  job: Job,
  pushRows: (n: number) => Promise<void>,
  sizes: Map<number, number>,
  fullBytes: number,
  workerTids: readonly number[],
): Promise<void> {
  if (SHORT_PAIRS <= 0) return;
  interface Seg extends Split {
    wall: number;
    /** Its bounds (performance.now()), to count the mark-compacts that started in it once all are delivered. */
    from: number;
    to: number;
    /** With a checkpoint: its call's CPU (all threads), wall time and bounds. */
    call?: { cpu: number; wall: number; from: number; to: number; full: boolean };
  }
  const segment = async (checkpoint: boolean): Promise<Seg> => {
    const from = performance.now();
    const end = splitMark(workerTids);
    await pushRows(SHORT_ROWS);
    let call: Seg['call'];
    if (checkpoint) {
      const cpu = process.cpuUsage();
      const t1 = performance.now();
      const id = await job.checkpoint();
      const { user, system } = process.cpuUsage(cpu);
      const t2 = performance.now();
      call = { cpu: (user + system) / 1000, wall: t2 - t1, from: t1, to: t2, full: sizes.get(id)! > fullBytes / 2 };
    }
    const split = end();
    const to = performance.now();
    return { ...split, wall: to - from, from, to, ...(call !== undefined ? { call } : {}) };
  };
  const pairs: { with: Seg; without: Seg }[] = [];
  let afterCheckpoint = false;
  const load0 = os.loadavg()[0]!;
  for (let i = 0; i < SHORT_PAIRS; i++) {
    const pair: Partial<{ with: Seg; without: Seg }> = {};
    for (const withCheckpoint of i % 2 === 0 ? [false, true] : [true, false]) {
      if (!afterCheckpoint) await job.checkpoint(); // unmeasured: the segment starts as one after a checkpoint does
      pair[withCheckpoint ? 'with' : 'without'] = await segment(withCheckpoint);
      afterCheckpoint = withCheckpoint;
    }
    pairs.push(pair as { with: Seg; without: Seg });
  }
  const load = os.loadavg().map((x) => x.toFixed(2)).join(' ');
  await new Promise((resolve) => setTimeout(resolve, 50)); // the last GC entries delivered
  const majors = (seg: Seg): number => markCompactsIn(seg.from, seg.to);
  const inc = pairs.filter((p) => !p.with.call!.full);
  const full = pairs.filter((p) => p.with.call!.full);
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  // A second's CPU without checkpoints: the mean of the "without" segments, per row, times a second's rows.
  const second = (role: keyof Split): number => (mean(pairs.map((p) => p.without[role])) / SHORT_ROWS) * SECOND_ROWS;
  const ms = (x: number): string => `${x >= 0 ? '+' : ''}${x.toFixed(1)}`;
  const ci = ([m, lo, hi]: [number, number, number], per = 1): string => `${pct(m / per)} [${pct(lo / per)}, ${pct(hi / per)}] (${ms(m)} ms [${ms(lo)}, ${ms(hi)}])`;
  console.log(
    `short pairs (the new measure): ${SHORT_PAIRS} pairs of ${SHORT_ROWS} rows, each segment right after a checkpoint, a second = ${SECOND_ROWS} rows; fullEvery ${FULL_EVERY}, ${STORE} store${BENCH_GARBAGE ? ', the bench\'s old garbage' : ''}; load average ${load0.toFixed(2)} at start, ${load} at end; ${workerTids.length} worker threads`,
  );
  console.log(`  a second's CPU without checkpoints: all threads ${second('all').toFixed(0)} ms (coordinator ${second('coordinator').toFixed(0)}, workers ${second('workers').toFixed(0)}, other ${second('other').toFixed(0)})`);
  for (const role of ['all', 'coordinator', 'workers', 'other'] as const) {
    const d = inc.map((p) => p.with[role] - p.without[role]);
    console.log(`  ${role.padEnd(11)} with − without, ${inc.length} incremental pairs: median ${ci(medianCi(d), second('all'))}; mean ${ci(meanCi(d), second('all'))} of a second's CPU (all threads)`);
  }
  const dWall = inc.map((p) => p.with.wall - p.without.wall);
  console.log(`  wall time with − without: median ${ms(median(dWall))} ms (spread of a segment's wall time: quartiles ${quantile(pairs.map((p) => p.without.wall), 0.25).toFixed(0)} … ${quantile(pairs.map((p) => p.without.wall), 0.75).toFixed(0)} ms)`);
  const calls = inc.map((p) => p.with.call!);
  console.log(
    `  the checkpoint call (incremental): CPU median ${median(calls.map((c) => c.cpu)).toFixed(1)} ms (${pct(median(calls.map((c) => c.cpu)) / second('all'))}), wall ${median(calls.map((c) => c.wall)).toFixed(1)} ms; ` +
      `the coordinator's mark-compacts per segment (means, by their start): without ${mean(inc.map((p) => majors(p.without))).toFixed(2)}, with ${mean(inc.map((p) => majors(p.with))).toFixed(2)}, ` +
      `of which inside the call ${mean(calls.map((c) => markCompactsIn(c.from, c.to))).toFixed(2)} (the call is ${(mean(calls.map((c) => c.wall)) / mean(inc.map((p) => p.with.wall))).toFixed(3)} of the segment's wall time)`,
  );
  if (full.length > 0) {
    const dFull = median(full.map((p) => p.with.all - p.without.all));
    const dInc = median(inc.map((p) => p.with.all - p.without.all));
    console.log(
      `  ${full.length} pairs with a full checkpoint: with − without median ${ms(dFull)} ms (its call ${median(full.map((p) => p.with.call!.cpu)).toFixed(1)} ms); ` +
        `a checkpoint per second with a full one every ${FULL_EVERY}: ${pct(((FULL_EVERY - 1) * dInc + dFull) / FULL_EVERY / second('all'))} (target ≤ 3 %)`,
    );
  }
}

async function main(): Promise<void> {
  const store: CheckpointStore = memoryCheckpointStore({ keep: 12 });
  // A long heartbeat timeout: on a loaded shared machine a worker thread can be starved for seconds, and a restart would spoil the pairs.
  const options = { adapter: nodeWorkers(), operator: SPEC, keyed: true, workers: WORKERS, keyGroups: KEY_GROUPS, heartbeat: { timeoutMs: 60_000 } } as const;
  const job = await createJob({ ...options, sink: sink(), checkpoints: { store, everyMs: Infinity, fullEvery: FULL_EVERY } });
  await push(job, rows(KEYS, WINDOW, 1));
  const [fullId, fullMs] = await timed(() => job.checkpoint());
  const fullBytes = (await store.read(fullId)).length;
  await push(job, rows(KEYS / 100, 50, 2)); // 1 % of the keys, 50 rows each
  const [deltaId, deltaMs] = await timed(() => job.checkpoint());
  const deltaBytes = (await store.read(deltaId)).length;
  const deltaRaw = await store.read(deltaId);
  const delta = decodeCheckpoint(deltaRaw);
  await job.abort();
  const [resumed, recoveryMs] = await timed(() => createJob({ ...options, sink: sink(), resume: true, checkpoints: { store, fullEvery: FULL_EVERY } }));
  await resumed.abort();
  console.log(`${KEYS} keys of median window ${WINDOW}, ${KEY_GROUPS} key groups, ${WORKERS} workers`);
  console.log(`full checkpoint:        ${mb(fullBytes)} in ${fullMs.toFixed(0)} ms`);
  console.log(`incremental (1 % keys): ${mb(deltaBytes)} (${((100 * deltaBytes) / fullBytes).toFixed(2)} % of full, ${delta.groups.size} groups) in ${deltaMs.toFixed(0)} ms`);
  console.log(`recovery from the chain (new job until ready): ${recoveryMs.toFixed(0)} ms`);
  // The main thread's share of an incremental checkpoint, with the CRC-32 of its bytes alone (Node's zlib, the WASM path and the JS fallback).
  console.log(
    `incremental on the main thread (CPU, median of 9): encode ${cpuMs(() => encodeCheckpoint(delta)).toFixed(1)} ms, decode ${cpuMs(() => decodeCheckpoint(deltaRaw)).toFixed(1)} ms; ` +
      `CRC-32 of its ${mb(deltaBytes)}: ${cpuMs(() => crc32(deltaRaw)).toFixed(1)} ms (WASM, as in browsers, ${cpuMs(() => portableCrc32(deltaRaw)).toFixed(1)} ms; JS fallback ${cpuMs(() => jsCrc32(deltaRaw)).toFixed(1)} ms)`,
  );

  // The CPU cost of a checkpoint per second, by paired segments in one job (see the top).
  const dir = STORE === 'file' ? mkdtempSync(join(os.tmpdir(), 'sk-incremental-')) : undefined;
  const inner = dir === undefined ? memoryCheckpointStore({ keep: FULL_EVERY + 1 }) : fileCheckpointStore(dir, { keep: FULL_EVERY + 1 });
  // Each checkpoint's size as saved, to tell full from incremental without reading it back; with the file store, its file's size.
  const sizes = new Map<number, number>();
  const stored = new Map<number, number>();
  /** Each save's CPU (all threads: nothing else runs during a checkpoint call) and wall time, ms. */
  const saves = new Map<number, { cpu: number; wall: number }>();
  const onDisk = (id: number): void => void ('path' in inner && stored.set(id, statSync(inner.path(id)).size));
  const measured = async (id: number, save: () => Promise<void>): Promise<void> => {
    const cpu = process.cpuUsage();
    const t = performance.now();
    await save();
    const { user, system } = process.cpuUsage(cpu);
    saves.set(id, { cpu: (user + system) / 1000, wall: performance.now() - t });
    onDisk(id);
  };
  const filled: CheckpointStore = {
    list: () => inner.list(),
    read: (id) => inner.read(id),
    save: (id, bytes) => (sizes.set(id, bytes.length), measured(id, () => inner.save(id, bytes))),
    saveParts: (id, parts) => (sizes.set(id, parts.reduce((n, part) => n + part.length, 0)), measured(id, () => inner.saveParts!(id, parts))),
  };
  const filler = await createJob({ ...options, sink: sink(), checkpoints: { store: filled, everyMs: Infinity, fullEvery: FULL_EVERY } });
  await push(filler, rows(KEYS, WINDOW, 1));
  await filler.finish();
  let written = 0;
  const counting = { ...sink(), write: (b: OutputBatch) => void (written = b.offset + (b.rows ?? b.values.length)) };
  const threadsBefore = new Set(threadCpu().keys());
  const k = await createJob({ ...options, sink: counting, resume: true, checkpoints: { store: filled, everyMs: Infinity, fullEvery: FULL_EVERY } });
  // The threads the job started: its workers (Node names every thread "node"; V8's helpers and libuv's pool are older).
  const workerTids = [...threadCpu().keys()].filter((tid) => !threadsBefore.has(tid));
  const work = rows(KEYS / 100, 20_000, 3); // 2 000 000 rows of the 1 % of keys, reused
  let at = 0;
  let target = k.offset;
  /** Pushes the next n rows of the workload and waits for their results. */
  const pushRows = async (n: number): Promise<void> => {
    for (let left = n; left > 0; ) {
      const m = Math.min(left, work.values.length - at);
      await push(k, { values: work.values.subarray(at, at + m), keys: work.keys.subarray(at, at + m) });
      at = (at + m) % work.values.length;
      left -= m;
    }
    target += n;
    while (written < target) await new Promise((resolve) => setTimeout(resolve, 1));
  };
  // Warm up, then a second's rows at the rate without checkpoints.
  await pushRows(1_000_000);
  const t0 = performance.now();
  await pushRows(1_000_000);
  const second = SEGMENT_ROWS > 0 ? SEGMENT_ROWS : Math.round(1e9 / (performance.now() - t0) / 100) * 100;
  /**
   * CPU ms (all threads) of a second's rows, and of a checkpoint after them
   * when `checkpoint` is given: set to whether it was full, and the CPU from
   * its start (the rows' results written) to its end.
   */
  /** Per segment: system CPU ms, minor page faults, the coordinator's mark-compacts (its last segment's, read by the loop below). */
  let seg = { sys: 0, faults: 0, majors: 0 };
  const segment = async (checkpoint?: { full: boolean; ms: number; wall: number; id: number }): Promise<number> => {
    const faults = minorFaults();
    const majors = markCompacts;
    const cpu = process.cpuUsage();
    await pushRows(second);
    let id = 0;
    if (checkpoint !== undefined) {
      const own = process.cpuUsage();
      const t = performance.now();
      id = await k.checkpoint();
      checkpoint.wall = performance.now() - t;
      const { user, system } = process.cpuUsage(own);
      checkpoint.ms = (user + system) / 1000;
    }
    const { user, system } = process.cpuUsage(cpu);
    seg = { sys: system / 1000, faults: minorFaults() - faults, majors: markCompacts - majors };
    // A full checkpoint is the whole state (hundreds of MiB), a delta a few MiB.
    if (checkpoint !== undefined) (checkpoint.full = sizes.get(id)! > fullBytes / 2), (checkpoint.id = id);
    return (user + system) / 1000;
  };
  const ratios: number[] = [];
  const costs: { ms: number; full: boolean; own: number; wall: number; id: number; sys: number; faults: number; majors: [number, number] }[] = [];
  let withSum = 0, withoutSum = 0;
  for (let i = 0; i < PAIRS; i++) {
    const cp = { full: false, ms: 0, wall: 0, id: 0 };
    let a: number, b: number, segA: typeof seg, segB: typeof seg;
    if (i % 2 === 0) {
      a = await segment();
      segA = seg;
      b = await segment(cp);
      segB = seg;
    } else {
      b = await segment(cp);
      segB = seg;
      a = await segment();
      segA = seg;
    }
    ratios.push(b / a - 1);
    costs.push({ ms: b - a, full: cp.full, own: cp.ms, wall: cp.wall, id: cp.id, sys: segB.sys - segA.sys, faults: segB.faults - segA.faults, majors: [segA.majors, segB.majors] });
    withSum += b;
    withoutSum += a;
  }
  const load = os.loadavg().map((x) => x.toFixed(2)).join(' ');
  if (PAIRS > 0) reportSecondPairs();
  await shortPairs(k, pushRows, sizes, fullBytes, workerTids);
  await k.abort();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });

  /** The old measure's report: pairs of a second's rows, ABBA, no checkpoint between segments but the measured ones. */
  function reportSecondPairs(): void {
  const deltas = costs.filter((c) => !c.full);
  const fulls = costs.filter((c) => c.full);
  const deltaRatios = ratios.filter((_, i) => !costs[i]!.full);
  const ms = (cs: typeof costs, f: (c: (typeof costs)[number]) => number): string => (cs.length > 0 ? median(cs.map(f)).toFixed(1) : '–');
  const without = withoutSum / PAIRS;
  console.log(`a checkpoint per second, ${PAIRS} pairs of segments of ${second} rows (${SEGMENT_ROWS > 0 ? 'set by --segment-rows' : 'a second at the rate without checkpoints'}), fullEvery ${FULL_EVERY}, ${STORE} store, load average ${load}:`);
  console.log(`  CPU of all threads per segment (means): without ${(withoutSum / PAIRS).toFixed(0)} ms, with ${(withSum / PAIRS).toFixed(0)} ms`);
  console.log(`  paired ratio with/without, incremental checkpoints (${deltaRatios.length} pairs): median ${pct(median(deltaRatios))} (quartiles ${pct(quantile(deltaRatios, 0.25))} … ${pct(quantile(deltaRatios, 0.75))}, range ${pct(quantile(deltaRatios, 0))} … ${pct(quantile(deltaRatios, 1))}) (target ≤ 3 %)`);
  console.log(`  all pairs (${fulls.length} with a full checkpoint): median ${pct(median(ratios))}; mean ${pct(withSum / withoutSum - 1)} (the full ones included)`);
  console.log(`  a checkpoint's CPU, medians: with − without ${ms(deltas, (c) => c.ms)} ms incremental, ${ms(fulls, (c) => c.ms)} ms full; the checkpoint call alone ${ms(deltas, (c) => c.own)} ms incremental (${pct(median(deltas.map((c) => c.own)) / without)} of a second's ${without.toFixed(0)} ms), ${ms(fulls, (c) => c.own)} ms full`);
  console.log(
    `  of which the store's save (CPU of all threads, medians): ${ms(deltas, (c) => saves.get(c.id)!.cpu)} ms incremental, ${ms(fulls, (c) => saves.get(c.id)!.cpu)} ms full; ` +
      `wall time of the call ${ms(deltas, (c) => c.wall)} ms incremental (the save ${ms(deltas, (c) => saves.get(c.id)!.wall)} ms), ${ms(fulls, (c) => c.wall)} ms full (the save ${ms(fulls, (c) => saves.get(c.id)!.wall)} ms)`,
  );
  const meanOf = (xs: number[]): string => (xs.length > 0 ? (xs.reduce((x, y) => x + y, 0) / xs.length).toFixed(1) : '–');
  console.log(
    `  besides the call, incremental pairs (medians of with − without): system CPU ${ms(deltas, (c) => c.sys)} ms, minor page faults ${ms(deltas, (c) => c.faults)}; ` +
      `the coordinator's mark-compacts per segment (means): without ${meanOf(deltas.map((c) => c.majors[0]))}, with ${meanOf(deltas.map((c) => c.majors[1]))}`,
  );
  if (stored.size > 0) {
    const file = (cs: typeof costs): string => (cs.length > 0 ? mb(median(cs.map((c) => stored.get(c.id)!))) : '–');
    const largest = fulls.length > 0 ? mb(Math.max(...fulls.map((c) => stored.get(c.id)!))) : '–';
    console.log(`  file written per checkpoint, medians: ${file(fulls)} full (of ${mb(fullBytes)}; the largest ${largest}), ${file(deltas)} incremental`);
  }
  if (fulls.length > 0) {
    const full = median(fulls.map((c) => c.own)), inc = median(deltas.map((c) => c.own));
    console.log(`  a checkpoint per second with a full one every ${FULL_EVERY}: ${pct((full + (FULL_EVERY - 1) * inc) / FULL_EVERY / without)} (checkpoint calls alone); fullEvery for ≤ 3 %: ${0.03 * without > inc ? Math.ceil((full - inc) / (0.03 * without - inc)) : 'none (the incremental ones alone pass 3 %)'}`);
  }
  }
}

await main();
