// Incremental checkpoints (node dist/bench/incremental.js): 10 000 keys of a
// rolling median over 1 000 rows, filled, then 1 % of the keys touched between
// checkpoints. Reports the size and time of a full and of an incremental
// checkpoint, the recovery time from the chain (a new job resuming until it
// is ready), and the throughput with and without a checkpoint per second
// (fullEvery 10) on the 1 %-touched workload: wall rows/s and CPU time per
// row (all threads), whose ratio is the checkpoints' cost; and, less noisy,
// the CPU of one incremental checkpoint taken alone after a second's rows
// (at the no-checkpoint rate) were written, against that second's CPU; and
// the main thread's encode, decode and CRC-32 (WASM and JS) of the delta.
//
// Flags: --key-groups G (default 4096; a count kernel's delta holds only the
// changed keys of each changed group, other kinds' whole groups), --workers W (default 2),
// --work-rows N (default 8 000 000), --runs R (default 2, alternated).
import os from 'node:os';
import { crc32, jsCrc32 } from '../src/crc32.js';
import { createJob, decodeCheckpoint, encodeCheckpoint, memoryCheckpointStore, type CheckpointStore, type Job, type OutputBatch } from '../src/scheduler/index.js';
import { nodeWorkers } from '../src/scheduler/node.js';

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
/** Rows of the 1 %-touched workload per run (long enough for several checkpoints at 1 s). */
const WORK_ROWS = flag('--work-rows', 8_000_000);
const RUNS = flag('--runs', 2);

interface Run {
  rate: number;
  cpuNsPerRow: number;
  checkpoints: number;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

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

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t = performance.now();
  const r = await fn();
  return [r, performance.now() - t];
}

async function push(job: Job, data: { values: Float64Array; keys: Uint32Array }): Promise<void> {
  const batch = 1 << 16;
  for (let i = 0; i < data.values.length; i += batch) await job.push({ values: data.values.slice(i, i + batch), keys: data.keys.slice(i, i + batch) });
}

const sink = () => ({ write() {}, preCommit: () => null, commit() {}, recover() {} });

const mb = (b: number): string => `${(b / 2 ** 20).toFixed(2)} MiB`;

async function main(): Promise<void> {
  const store: CheckpointStore = memoryCheckpointStore({ keep: 12 });
  const options = { adapter: nodeWorkers(), operator: SPEC, keyed: true, workers: WORKERS, keyGroups: KEY_GROUPS } as const;
  const job = await createJob({ ...options, sink: sink(), checkpoints: { store, everyMs: Infinity, fullEvery: 10 } });
  await push(job, rows(KEYS, WINDOW, 1));
  const [fullId, fullMs] = await timed(() => job.checkpoint());
  const fullBytes = (await store.read(fullId)).length;
  await push(job, rows(KEYS / 100, 50, 2)); // 1 % of the keys, 50 rows each
  const [deltaId, deltaMs] = await timed(() => job.checkpoint());
  const deltaBytes = (await store.read(deltaId)).length;
  const deltaRaw = await store.read(deltaId);
  const delta = decodeCheckpoint(deltaRaw);
  await job.abort();
  const [resumed, recoveryMs] = await timed(() => createJob({ ...options, sink: sink(), resume: true, checkpoints: { store, fullEvery: 10 } }));
  await resumed.abort();

  // Throughput on the 1 %-touched workload, without and with a checkpoint per
  // second: the same filled state (checkpointed once, copied per run), runs
  // alternated, CPU time per row (process.cpuUsage counts the worker threads
  // too; wall time is noise on a shared machine) as well as wall rows/s.
  const filled = memoryCheckpointStore({ keep: 12 });
  const filler = await createJob({ ...options, sink: sink(), checkpoints: { store: filled, everyMs: Infinity, fullEvery: 10 } });
  await push(filler, rows(KEYS, WINDOW, 1));
  await filler.finish();
  const work = rows(KEYS / 100, WORK_ROWS / (KEYS / 100), 3);
  const run = async (everyMs: number): Promise<Run> => {
    const s2 = memoryCheckpointStore({ keep: 12 });
    for (const [id, bytes] of filled.entries) await s2.save(id, bytes);
    const k = await createJob({ ...options, sink: sink(), resume: true, checkpoints: { store: s2, everyMs, fullEvery: 10 } });
    const t = performance.now();
    const cpu = process.cpuUsage();
    await push(k, work);
    const result = await k.finish();
    const { user, system } = process.cpuUsage(cpu);
    const wallS = (performance.now() - t) / 1000;
    return { rate: work.values.length / wallS, cpuNsPerRow: ((user + system) * 1000) / work.values.length, checkpoints: result.checkpoints };
  };
  const plain: Run[] = [];
  const everySecond: Run[] = [];
  for (let r = 0; r < RUNS; r++) {
    plain.push(await run(Infinity));
    everySecond.push(await run(1000));
  }
  console.log(`${KEYS} keys of median window ${WINDOW}, ${KEY_GROUPS} key groups, ${WORKERS} workers`);
  console.log(`full checkpoint:        ${mb(fullBytes)} in ${fullMs.toFixed(0)} ms`);
  console.log(`incremental (1 % keys): ${mb(deltaBytes)} (${((100 * deltaBytes) / fullBytes).toFixed(2)} % of full, ${delta.groups.size} groups) in ${deltaMs.toFixed(0)} ms`);
  console.log(`recovery from the chain (new job until ready): ${recoveryMs.toFixed(0)} ms`);
  // The main thread's share of an incremental checkpoint, with the CRC-32 of its bytes alone (WASM path and JS fallback).
  console.log(
    `incremental on the main thread (CPU, median of 9): encode ${cpuMs(() => encodeCheckpoint(delta)).toFixed(1)} ms, decode ${cpuMs(() => decodeCheckpoint(deltaRaw)).toFixed(1)} ms; ` +
      `CRC-32 of its ${mb(deltaBytes)}: ${cpuMs(() => crc32(deltaRaw)).toFixed(1)} ms (JS fallback ${cpuMs(() => jsCrc32(deltaRaw)).toFixed(1)} ms)`,
  );
  // One checkpoint's CPU alone: the rows of the second before it written to the sink first, so nothing else runs meanwhile.
  let written = 0;
  const counting = { ...sink(), write: (b: OutputBatch) => void (written = b.offset + (b.rows ?? b.values.length)) };
  const copy = memoryCheckpointStore({ keep: 12 });
  for (const [id, bytes] of filled.entries) await copy.save(id, bytes);
  const alone = await createJob({ ...options, sink: counting, resume: true, checkpoints: { store: copy, everyMs: Infinity, fullEvery: 1000 } });
  const second = median(plain.map((x) => x.rate));
  const slice = { values: work.values.subarray(0, Math.floor(second / 100) * 100), keys: work.keys.subarray(0, Math.floor(second / 100) * 100) };
  const checkpointCpu: number[] = [];
  let target = alone.offset;
  for (let r = 0; r < 5; r++) {
    await push(alone, slice);
    target += slice.values.length;
    while (written < target) await new Promise((resolve) => setTimeout(resolve, 1));
    const cpu = process.cpuUsage();
    await alone.checkpoint();
    const { user, system } = process.cpuUsage(cpu);
    checkpointCpu.push((user + system) / 1000);
  }
  await alone.abort();
  const oneMs = median(checkpointCpu);

  const load = os.loadavg().map((x) => x.toFixed(2)).join(' ');
  const p = median(plain.map((x) => x.cpuNsPerRow));
  const e = median(everySecond.map((x) => x.cpuNsPerRow));
  console.log(`1 %-touched workload, ${WORK_ROWS} rows, ${RUNS} runs each (medians), load average ${load}:`);
  console.log(`  no checkpoint:          ${(median(plain.map((x) => x.rate)) / 1e6).toFixed(2)} M rows/s wall, ${p.toFixed(0)} ns CPU per row`);
  console.log(`  a checkpoint per second: ${(median(everySecond.map((x) => x.rate)) / 1e6).toFixed(2)} M rows/s wall, ${e.toFixed(0)} ns CPU per row, ${everySecond.map((x) => x.checkpoints).join('/')} checkpoints`);
  const perCheckpoint = ((e - p) * WORK_ROWS) / 1e6 / median(everySecond.map((x) => x.checkpoints));
  console.log(`  CPU cost of a checkpoint per second: ${((100 * (e - p)) / p).toFixed(1)} % (target ≤ 3 %); about ${perCheckpoint.toFixed(0)} ms CPU per checkpoint`);
  // A second of work at the no-checkpoint wall rate costs second × p ns of CPU; one checkpoint adds oneMs.
  const secondCpuMs = (second * p) / 1e6;
  console.log(`  one incremental checkpoint measured alone (after a second's rows, ${slice.values.length}): ${oneMs.toFixed(1)} ms CPU (median of ${checkpointCpu.map((x) => x.toFixed(0)).join('/')}), ${((100 * oneMs) / secondCpuMs).toFixed(1)} % of the ${secondCpuMs.toFixed(0)} ms CPU of that second`);
}

await main();
