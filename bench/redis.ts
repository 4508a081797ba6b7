// Redis scale-out benchmark: rows/s with 1 and 2 worker processes against a
// local redis-server (AOF, appendfsync always), back to back in one run, and
// where the CPU goes: worker processes and redis-server, per row and per
// commit, commands (round trips) per commit, the AOF bytes written per row,
// the cores the job's processes got, each worker's time waiting for replies
// (its event loop idle: fsync rounds), and start-up (spawn → members; lease
// release → every partition taken, which is inside the measured time; the run
// without it is printed too, as is the bench process's own CPU). The 2-worker run's outputs
// are checked against the 1-worker run's, entry for entry, and the CPU split
// gives the ceiling of 2 workers against 1 on 2 cores (one worker bounded by its
// main thread, two by every thread's CPU over both cores).
//
//   npx tsc -p tsconfig.json && node dist/bench/redis.js [--rows N] [--keys K] [--partitions P]
//       [--op OP] [--format 1|2|3] [--read-entries N] [--rows-per-entry N] [--workers 1,2] [--fsync always|everysec] [--heartbeat-ms N] [--cpu-prof DIR]
//       [--keys-sweep 100,10000,100000] [--state-every-ms N] [--commits-in-flight N] [--lease-ms N] [--script-cost] [--compute-cost] [--worker-main FILE]
//
// --keys-sweep runs 1 worker on 1 partition holding each number of keys in
// turn (the other options apply), for how throughput follows the keys per
// partition.
//
// Needs redis-server on the PATH (Linux: CPU times come from /proc). Rows are
// produced before the workers start, and the bench holds every partition's
// lease until all the workers have joined (so they split the partitions from
// the start, as workers of a long-running job do); throughput is counted from
// the leases' release to the last input entry committed, so process start-up
// and the first rebalancing are left out. Defaults: the issue's workload (1.5e6 rows, 300 keys, 16
// partitions, median of 50), job format 3.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { connectRedis } from '../src/redis/config.js';
import { startRedis } from './redis-server.js';
import { Commands, jobStatus, type JobFormat } from '../src/redis/job.js';
import { commitTransaction } from '../src/redis/commit.js';
import { JobKeys } from '../src/redis/keys.js';
import { createProducer } from '../src/redis/producer.js';
import { batchOutputs, readBatch } from '../src/redis/batch.js';
import { encodeColumn, encodeKeyColumn } from '../src/redis/codec.js';
import { KeyedKernels } from '../src/redis/keyed.js';
import { partitionOf } from '../src/redis/keys.js';
import type { StreamEntry } from '../src/redis/input-waiter.js';
import type { KernelSpec } from '../src/types.js';

const here = path.dirname(fileURLToPath(import.meta.url));

const { values: args } = parseArgs({
  options: {
    rows: { type: 'string' },
    keys: { type: 'string' },
    partitions: { type: 'string' },
    'read-entries': { type: 'string' },
    'rows-per-entry': { type: 'string' },
    op: { type: 'string' },
    format: { type: 'string' },
    workers: { type: 'string' },
    'cpu-prof': { type: 'string' },
    'heartbeat-ms': { type: 'string' },
    fsync: { type: 'string' },
    'keys-sweep': { type: 'string' },
    'script-cost': { type: 'boolean' },
    'state-every-ms': { type: 'string' },
    'commits-in-flight': { type: 'string' },
    'lease-ms': { type: 'string' },
    'worker-main': { type: 'string' },
    'compute-cost': { type: 'boolean' },
  },
});
const ROWS = Number(args.rows ?? 1_500_000);
const KEYS = Number(args.keys ?? 300);
const PARTITIONS = Number(args.partitions ?? 16);
/** Entries per read and commit: the worker's default (64); 16 before issue 14's third round (0.24 against 0.15 µs of worker CPU per row at 10⁷ rows). */
const READ_ENTRIES = args['read-entries'] ?? '64';
const ROWS_PER_ENTRY = Number(args['rows-per-entry'] ?? 1000);
const SPEC = { op: args.op ?? 'median', window: 50, minPeriods: 1 } as KernelSpec;
const FORMAT = Number(args.format ?? 3) as JobFormat;
/** Keys per partition for --keys-sweep (1 partition, 1 worker each). */
const SWEEP = args['keys-sweep']?.split(',').map(Number);
/** --script-cost: redis-server's CPU per row of a commit alone (no workers), through the commit script or as plain XADDs. */
const SCRIPT_COST = args['script-cost'] === true;
/** --compute-cost: the worker's CPU per row of a batch's computation alone (no Redis), by stage. */
const COMPUTE_COST = args['compute-cost'] === true;
const WORKERS = (args.workers ?? '1,2').split(',').map(Number);
/** redis-server's appendfsync: always (every commit durable before its reply) or everysec. */
const FSYNC = args.fsync ?? 'always';
/** Workers heartbeat this often, so that in a run of a few seconds the 2 workers settle on their split at once. */
const HEARTBEAT_MS = args['heartbeat-ms'] ?? '100';
/** The workers' --state-every-ms (job format 3): state stored at most this often. */
const STATE_EVERY_MS = args['state-every-ms'];
/** The workers' --commits-in-flight (not given: their default, 1). */
const COMMITS_IN_FLIGHT = args['commits-in-flight'];
/** The workers' lease: above the longest commit (a state of hundreds of MB takes seconds). */
const LEASE_MS = args['lease-ms'] ?? '5000';
/** A directory: each worker writes a V8 CPU profile there (node --cpu-prof). */
const CPU_PROF = args['cpu-prof'];
/** The worker entry the bench spawns: this build's, or another build's (--worker-main, e.g. an older dist/src/redis/main.js, to compare builds under the same bench). */
const MAIN = path.resolve(args['worker-main'] ?? path.resolve(here, '../src/redis/main.js'));
/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ, 100 on Linux). */
const TICKS = 100;

/** What a run produces: rows over `keys` distinct keys in `partitions` partitions. */
interface Workload {
  keys: number;
  partitions: number;
}

interface RunResult {
  job: string;
  workers: number;
  seconds: number;
  rowsPerSecond: number;
  commits: number;
  commitP50: number;
  commitP99: number;
  /** CPU seconds of the worker processes (in all, and each) and of redis-server (user + system, and system alone) during the run. */
  workerCpu: number;
  workerCpus: number[];
  redisCpu: number;
  redisSys: number;
  /** Each worker's time waiting (its event loop idle: replies, fsync rounds), in s, over its whole life. */
  waits: number[];
  /** Start-up, ms: spawn → every worker a member (process start, connect, job read, first heartbeat); lease release → every partition taken. */
  joinMs: number;
  takeMs: number;
  /** CPU seconds of this bench process during the run (its progress polls; user + system). */
  benchCpu: number;
  /** Commands redis-server ran during the run, by name, and the µs they took (INFO commandstats). */
  calls: Record<string, number>;
  usec: Record<string, number>;
  /** Bytes appended to redis-server's AOF during the run (what each fsync writes). */
  aofBytes: number;
  /** During the run, each worker's threads and redis-server's (main thread, helper threads, wait for a CPU). */
  workerThreads: ThreadTimes[];
  redisThreads: ThreadTimes;
}

/** User + system CPU seconds of a process so far. */
function cpuOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS;
}

/** A process's threads so far (Linux schedstat, s): the main thread's CPU, the other threads' CPU (V8's compiler and GC helpers, libuv), and the time all its threads waited, runnable, for a CPU. */
interface ThreadTimes {
  main: number;
  helpers: number;
  wait: number;
}

function threadTimesOf(pid: number): ThreadTimes {
  const times = { main: 0, helpers: 0, wait: 0 };
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    let fields: string[];
    try {
      fields = readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ');
    } catch {
      continue; // the thread ended meanwhile
    }
    if (Number(task) === pid) times.main += Number(fields[0]) / 1e9;
    else times.helpers += Number(fields[0]) / 1e9;
    times.wait += Number(fields[1]) / 1e9;
  }
  return times;
}

/** Thread times between two readings (threads that ended in between are missing from the second: read it before the process ends). */
function threadTimesSince(before: ThreadTimes, after: ThreadTimes): ThreadTimes {
  return { main: after.main - before.main, helpers: after.helpers - before.helpers, wait: after.wait - before.wait };
}

/** redis-server's CPU seconds so far: user + system, and system (the AOF's writes and fsyncs, the sockets) alone. */
async function redisCpu(cmd: Commands): Promise<{ total: number; sys: number }> {
  const info = await cmd.send<string>(['INFO', 'cpu']);
  const [sys, user] = ['used_cpu_sys', 'used_cpu_user'].map((k) => Number(new RegExp(`${k}:([\\d.]+)`).exec(info)![1]));
  return { total: sys! + user!, sys: sys! };
}

async function aofSize(cmd: Commands): Promise<number> {
  return Number(/aof_current_size:(\d+)/.exec(await cmd.send<string>(['INFO', 'persistence']))?.[1] ?? NaN);
}

async function commandStats(cmd: Commands): Promise<{ calls: Record<string, number>; usec: Record<string, number> }> {
  const info = await cmd.send<string>(['INFO', 'commandstats']);
  const calls: Record<string, number> = {};
  const usec: Record<string, number> = {};
  for (const m of info.matchAll(/cmdstat_([a-z|]+):calls=(\d+),usec=(\d+)/g)) {
    calls[m[1]!] = Number(m[2]);
    usec[m[1]!] = Number(m[3]);
  }
  return { calls, usec };
}

async function run(url: string, redisPid: number, workers: number, { keys: KEYS, partitions: PARTITIONS }: Workload): Promise<RunResult> {
  const job = `bench-${workers}-${KEYS}-${PARTITIONS}`;
  const producer = await createProducer({ url, job, create: { partitions: PARTITIONS, spec: SPEC, format: FORMAT }, maxRowsPerEntry: ROWS_PER_ENTRY });
  const keys: string[] = [];
  const values: number[] = [];
  for (let i = 0; i < ROWS; i++) {
    keys.push(`k${(i * 7919) % KEYS}`);
    values.push(Math.sin(i) * 100);
    if (keys.length === 50_000 || i === ROWS - 1) {
      await producer.send(keys, values);
      keys.length = 0;
      values.length = 0;
    }
  }
  const { job: definition } = producer;
  await producer.close();
  const conn = await connectRedis({ url });
  const cmd = new Commands(conn);
  const held = Array.from({ length: PARTITIONS }, (_, p) => definition.keys.lease(p));
  for (const lease of held) await cmd.send(['SET', lease, 'bench:hold']);
  const spawned = performance.now();
  let taken = 0;
  let allTaken = 0;
  const procs = Array.from({ length: workers }, () => {
    const prof = CPU_PROF !== undefined ? ['--cpu-prof', '--cpu-prof-dir', CPU_PROF] : [];
    const p = spawn(process.execPath, [...prof, MAIN, 'worker', '--redis', url, '--job', job, '--read-entries', READ_ENTRIES, '--lease-ms', LEASE_MS, '--heartbeat-ms', HEARTBEAT_MS, ...(STATE_EVERY_MS !== undefined ? ['--state-every-ms', STATE_EVERY_MS] : []), ...(COMMITS_IN_FLIGHT !== undefined ? ['--commits-in-flight', COMMITS_IN_FLIGHT] : [])], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    const stopped = new Promise<Record<string, number>>((resolve) => {
      p.stderr!.on('data', (c: Buffer) => {
        err += c.toString();
        // when the last of the job's partitions was taken (lines arrive whole: one write each)
        for (const _ of c.toString().matchAll(/"event":"acquired"/g)) if (++taken === PARTITIONS) allTaken = performance.now();
      });
      p.once('exit', () => {
        const line = err.split('\n').find((l) => l.includes('"event":"stopped"'));
        resolve(line !== undefined ? (JSON.parse(line) as Record<string, number>) : {});
      });
    });
    return { p, stopped };
  });
  // every worker is a member and has seen the others: let them take their partitions
  while ((await cmd.send<number>(['ZCARD', definition.keys.members])) < workers) await new Promise((r) => setTimeout(r, 5));
  const joinMs = performance.now() - spawned;
  await new Promise((r) => setTimeout(r, 3 * Number(HEARTBEAT_MS)));
  // The input is complete: poll only the checkpoints not there yet (a HGET each), so that the bench's own commands add little to redis-server's CPU.
  const inputLast = (await jobStatus(cmd, definition)).map((s) => s.inputLast);
  const pending = new Set(inputLast.keys());
  await cmd.send(['CONFIG', 'RESETSTAT']);
  const redisBefore = await redisCpu(cmd);
  const aofBefore = await aofSize(cmd);
  const cpuBefore = procs.map(({ p }) => cpuOf(p.pid!));
  const threadsBefore = procs.map(({ p }) => threadTimesOf(p.pid!));
  const redisThreadsBefore = threadTimesOf(redisPid);
  const benchBefore = process.cpuUsage();
  const first = performance.now();
  await cmd.send(['DEL', ...held]);
  while (pending.size > 0) {
    await new Promise((r) => setTimeout(r, 20));
    const polled = [...pending];
    const lasts = await Promise.all(polled.map((p) => cmd.send<string | null>(['HGET', definition.keys.checkpoint(p), 'last'])));
    for (let i = 0; i < polled.length; i++) if (lasts[i] === inputLast[polled[i]!]) pending.delete(polled[i]!);
  }
  const end = performance.now();
  const benchUsage = process.cpuUsage(benchBefore);
  const workerCpus = procs.map(({ p }, i) => cpuOf(p.pid!) - cpuBefore[i]!);
  const workerThreads = procs.map(({ p }, i) => threadTimesSince(threadsBefore[i]!, threadTimesOf(p.pid!)));
  const redisThreads = threadTimesSince(redisThreadsBefore, threadTimesOf(redisPid));
  const workerCpu = workerCpus.reduce((a, c) => a + c, 0);
  const redisAfter = await redisCpu(cmd);
  const { calls, usec } = await commandStats(cmd);
  const aofBytes = (await aofSize(cmd)) - aofBefore;
  for (const { p } of procs) p.kill('SIGTERM');
  const stats = await Promise.all(procs.map(({ stopped }) => stopped));
  await conn.close();
  const seconds = (end - first) / 1000;
  const commits = stats.reduce((a, s) => a + (s['commits'] ?? 0), 0);
  // the workers' percentiles, weighted by their commits (an approximation when they differ)
  const weighted = (k: string): number => stats.reduce((a, s) => a + (s[k] ?? 0) * (s['commits'] ?? 0), 0) / Math.max(1, commits);
  return {
    job, workers, seconds, rowsPerSecond: ROWS / seconds, commits, commitP50: weighted('commitP50'), commitP99: Math.max(...stats.map((s) => s['commitP99'] ?? 0)),
    workerCpu, workerCpus, redisCpu: redisAfter.total - redisBefore.total, redisSys: redisAfter.sys - redisBefore.sys, calls, usec, aofBytes, workerThreads, redisThreads,
    waits: stats.map((s) => (s['waitMs'] ?? NaN) / 1000), joinMs, takeMs: allTaken - first, benchCpu: (benchUsage.user + benchUsage.system) / 1e6,
  };
}

/** Whether two jobs' outputs hold the same entries (fields, not ids: the inputs were appended separately). */
async function sameOutputs(url: string, a: string, b: string, partitions: number): Promise<boolean> {
  const conn = await connectRedis({ url });
  const cmd = new Commands(conn);
  try {
    for (let p = 0; p < partitions; p++) {
      const [x, y] = await Promise.all([a, b].map((job) => cmd.send<[Buffer, Buffer[]][]>(['XRANGE', `out:{${job}:${p}}`, '-', '+'], true)));
      if (x!.length !== y!.length) return false;
      for (let i = 0; i < x!.length; i++) if (!Buffer.concat(x![i]![1]).equals(Buffer.concat(y![i]![1]))) return false;
    }
    return true;
  } finally {
    await conn.close();
  }
}

/**
 * redis-server's CPU per row of commits of 64 output entries of 1 000 rows
 * (x: 8 000 bytes; kc: 1 200 bytes, as 300 keys over 16 partitions give),
 * sent as the worker commits them (a transaction: PARK, FENCE, the XADDs,
 * UNPARK) with and without the keys (formats 3 and 4), and as plain XADDs
 * in MULTI/EXEC (no fence): what the fence costs. (Before, one Lua script
 * took the outputs as arguments: 52.3 and 37.2 ns/row against 17.4 for
 * plain XADDs, load 6.4, its string interning hashing every byte.)
 */
async function scriptCost(url: string): Promise<void> {
  const conn = await connectRedis({ url });
  const cmd = new Commands(conn);
  const x = Buffer.alloc(8000, 7);
  const kc = Buffer.alloc(1200, 3);
  const commits = 60;
  const entries = 64;
  for (const [name, withKeys, fenced] of [['commit transaction, format 3 (kc and x)', true, true], ['commit transaction, format 4 (x)', false, true], ['plain XADDs in MULTI/EXEC, kc and x', true, false]] as const) {
    const keys = new JobKeys(`cost-${name.length}-${withKeys}`);
    await cmd.send(['SET', keys.lease(0), 'token']);
    let last = '0-0';
    let id = 1;
    const before = await redisCpu(cmd);
    for (let c = 0; c < commits; c++) {
      const adds: (string | Buffer)[][] = [];
      for (let e = 0; e < entries; e++) adds.push([`${id++}-0`, ...(withKeys ? ['kc', kc] : []), 'x', x]);
      const next = `${id - 1}-0`;
      if (fenced) await commitTransaction(conn, keys, 0, true, ['token', '5000', last, next, '', String(entries), adds[0]![0]!, '0'], adds.flatMap(([eid, ...f]) => [eid!, String(f.length), ...f]));
      else await conn.transaction(adds.map((a) => ['XADD', keys.output(0), ...a]));
      last = next;
    }
    const after = await redisCpu(cmd);
    const ns = (seconds: number): string => ((seconds * 1e9) / (commits * entries * 1000)).toFixed(1);
    console.log(`${name}: ${ns(after.total - before.total)} ns/row (system ${ns(after.sys - before.sys)}), ${((after.total - before.total) * 1e3 / commits).toFixed(2)} ms/commit`);
  }
  await conn.close();
}

/**
 * The worker's CPU per row of a batch's computation alone, by stage (no
 * Redis, one process): decoding the entries and each row's operator key
 * (readBatch), the kernels (the keyed operator and the WebAssembly), the
 * output entries (batchOutputs), and the state records of the key groups
 * touched (groupRecord), on partition 0's entries of the workload as the
 * producer writes them (--read-entries entries per batch).
 */
async function computeCost(): Promise<void> {
  const entriesPerBatch = Number(READ_ENTRIES);
  const keyOf = (i: number): string => `k${(i * 7919) % KEYS}`;
  const inPartition = new Map<string, boolean>();
  const entries: StreamEntry[] = [];
  const keys: string[] = [];
  const values: number[] = [];
  for (let i = 0; entries.length < 8 * entriesPerBatch; i++) {
    const key = keyOf(i);
    let mine = inPartition.get(key);
    if (mine === undefined) inPartition.set(key, (mine = partitionOf(key, PARTITIONS) === 0));
    if (!mine) continue;
    keys.push(key);
    values.push(Math.sin(i) * 100);
    if (keys.length === ROWS_PER_ENTRY) {
      entries.push([Buffer.from(`${entries.length + 1}-0`), [Buffer.from('kc'), encodeKeyColumn(keys), Buffer.from('x'), Buffer.from(encodeColumn(new Float64Array(values)))]]);
      keys.length = 0;
      values.length = 0;
    }
  }
  const state = (await KeyedKernels.create(SPEC)).partition();
  const cpu = (): number => {
    const { user, system } = process.cpuUsage();
    return user + system;
  };
  const spent = { decode: 0, kernels: 0, outputs: 0, state: 0 };
  let rows = 0;
  const batches = 400;
  for (let b = 0; b < batches; b++) {
    // Each batch decodes fresh copies, as the worker reads fresh replies (the kernels write results over the values).
    const batch = entries.slice((b % 8) * entriesPerBatch, (b % 8 + 1) * entriesPerBatch).map(([id, f]): StreamEntry => [id, f.map((x) => Buffer.from(x))]);
    const t0 = cpu();
    const { parts, read } = readBatch(state, batch);
    const t1 = cpu();
    state.process(parts);
    const t2 = cpu();
    const { rows: n } = batchOutputs(read, FORMAT);
    const t3 = cpu();
    for (const group of state.takeTouched()) state.groupRecord(group);
    const t4 = cpu();
    if (b < batches / 4) continue; // warm-up
    spent.decode += t1 - t0;
    spent.kernels += t2 - t1;
    spent.outputs += t3 - t2;
    spent.state += t4 - t3;
    rows += n;
  }
  const ns = (us: number): string => ((us * 1e3) / rows).toFixed(1);
  console.log(
    `worker compute, ${entriesPerBatch} entries of ${ROWS_PER_ENTRY} rows per batch, ${inPartition.size > 0 ? [...inPartition.values()].filter(Boolean).length : 0} keys in the partition: ` +
      `decode and keys ${ns(spent.decode)} ns/row, kernels ${ns(spent.kernels)}, outputs ${ns(spent.outputs)}, state records of the touched groups ${ns(spent.state)} (every batch); total ${ns(spent.decode + spent.kernels + spent.outputs + spent.state)} ns/row`,
  );
}

const us = (seconds: number, n: number): string => ((seconds * 1e6) / Math.max(1, n)).toFixed(2);

/** CPU seconds per row of every thread of a run: the workers' (main and helpers), redis-server's and the bench's. */
function cpuPerRow(r: RunResult): number {
  const workers = r.workerThreads.reduce((a, t) => a + t.main + t.helpers, 0);
  return (workers + r.redisThreads.main + r.redisThreads.helpers + r.benchCpu) / ROWS;
}

/**
 * What the CPU split allows 2 workers against 1 on a 2-core machine whatever
 * else runs: one worker's rate is bounded by its main thread (its helpers,
 * redis-server and the bench fit beside it), N workers' by every thread's CPU
 * over both cores.
 */
function ceiling(one: RunResult, r: RunResult): string {
  const main = one.workerThreads[0]!.main / ROWS;
  return `CPU ceiling on 2 cores: 1 worker ${Math.round(1 / main).toLocaleString('en-US')} rows/s (its main thread, ${(main * 1e6).toFixed(2)} µs/row), ${r.workers} workers ${Math.round(2 / cpuPerRow(r)).toLocaleString('en-US')} rows/s (every thread ${(cpuPerRow(r) * 1e6).toFixed(2)} µs/row over 2 cores): ${((2 * main) / cpuPerRow(r)).toFixed(2)}×`;
}

/** One run's lines: throughput, latency, and where the CPU went (workers; redis-server per row and per commit, the commit script's own share). */
function report(r: RunResult): string {
  // scripts: EVAL (the commit transaction's PARK, FENCE, UNPARK) and EVALSHA (acquire, renew, heartbeat, release)
  const scripts = (r.calls['eval'] ?? 0) + (r.calls['evalsha'] ?? 0);
  const rpc = scripts / Math.max(1, r.commits);
  // what redis-server spent inside the commits' commands: the scripts and the outputs' XADDs
  const commitUsec = (r.usec['eval'] ?? 0) + (r.usec['evalsha'] ?? 0) + (r.usec['xadd'] ?? 0);
  const commands = Object.values(r.calls).reduce((a, c) => a + c, 0);
  return (
    `${r.workers} worker${r.workers > 1 ? 's' : ' '}: ${Math.round(r.rowsPerSecond).toLocaleString('en-US').padStart(9)} rows/s  (${r.seconds.toFixed(2)} s, ${r.commits} commits, commit latency p50 ${r.commitP50.toFixed(2)} ms, p99 ${r.commitP99.toFixed(2)} ms)\n` +
    `           CPU: workers ${r.workerCpu.toFixed(2)} s (${us(r.workerCpu, ROWS)} µs/row; each ${r.workerCpus.map((c) => c.toFixed(2)).join(' / ')} s), redis-server ${r.redisCpu.toFixed(2)} s (${us(r.redisCpu, ROWS)} µs/row, system ${us(r.redisSys, ROWS)}; ${us(r.redisCpu, r.commits)} µs/commit, ` +
    `of which scripts and XADDs ${us(commitUsec / 1e6, r.commits)} µs/commit, XRANGE ${us((r.usec['xrange'] ?? 0) / 1e6, r.calls['xrange'] ?? 0)} µs/call); ` +
    `${commands} commands (${(commands / Math.max(1, r.commits)).toFixed(1)} per commit: ${rpc.toFixed(2)} scripts, ${((r.calls['xrange'] ?? 0) / Math.max(1, r.commits)).toFixed(2)} XRANGE)\n` +
    // The cores the job got: far below 2 when the machine's other work (or the disk's fsyncs) held it back, and the wall-clock figures then measure that.
    `           AOF ${(r.aofBytes / ROWS).toFixed(1)} bytes/row (${(r.aofBytes / 1e6 / r.seconds).toFixed(1)} MB/s); the job used ${((r.workerCpu + r.redisCpu) / r.seconds).toFixed(2)} cores of CPU\n` +
    // Waiting = the worker's event loop idle since its first partition was taken: replies, fsync rounds.
    `           workers waited ${r.waits.map((w) => w.toFixed(2)).join(' / ')} s; start-up: spawn → all members ${r.joinMs.toFixed(0)} ms, lease release → all ${PARTITIONS} partitions taken ${r.takeMs.toFixed(0)} ms\n` +
    // The same run without its start-up (the workers noticing the release and taking the partitions): from the last partition taken to the last commit. The workers' first batches (cold code) stay in.
    `           without start-up: last partition taken → last commit ${(r.seconds - r.takeMs / 1000).toFixed(2)} s, ${Math.round(ROWS / (r.seconds - r.takeMs / 1000)).toLocaleString('en-US')} rows/s; the bench process ${us(r.benchCpu, ROWS)} µs/row\n` +
    // Per thread (schedstat): a worker's main thread is what one worker's rate rests on; its helpers (V8's compiler and GC) run beside it; the wait for a CPU is the machine's other work.
    `           threads: ${r.workerThreads.map((t) => `worker main ${us(t.main, ROWS)} µs/row, helpers ${us(t.helpers, ROWS)}, waited for a CPU ${t.wait.toFixed(2)} s`).join('; ')}; redis-server ${us(r.redisThreads.main + r.redisThreads.helpers, ROWS)} µs/row, waited for a CPU ${r.redisThreads.wait.toFixed(2)} s`
  );
}

if (COMPUTE_COST) {
  console.log(`streamkernel Redis benchmark, the worker's computation alone: ${SPEC.op} window 50, ${KEYS} keys over ${PARTITIONS} partitions, job format ${FORMAT}; load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  await computeCost();
  process.exit(0);
}
const redis = await startRedis(FSYNC);
try {
  console.log(
    `streamkernel Redis benchmark: ${ROWS} rows, ${SWEEP !== undefined ? `${SWEEP.join(', ')} keys in 1 partition` : `${KEYS} keys, ${PARTITIONS} partitions`}, ${SPEC.op} window 50, job format ${FORMAT}, ${ROWS_PER_ENTRY} rows per entry, read-entries ${READ_ENTRIES}, appendfsync ${FSYNC}${STATE_EVERY_MS !== undefined ? `, state every ${STATE_EVERY_MS} ms` : FORMAT >= 3 ? ', state deferred when larger than the results (the default)' : ''}${COMMITS_IN_FLIGHT !== undefined ? `, ${COMMITS_IN_FLIGHT} commits in flight` : ''}; load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}`,
  );
  if (SCRIPT_COST) await scriptCost(redis.url);
  else if (SWEEP !== undefined) {
    console.log('| keys | rows per commit | rows/s | worker CPU | redis-server CPU |\n|---|---|---|---|---|');
    for (const keys of SWEEP) {
      const r = await run(redis.url, redis.pid, 1, { keys, partitions: 1 });
      console.log(
        `| ${keys} | ${Number(READ_ENTRIES) * ROWS_PER_ENTRY} | ${Math.round(r.rowsPerSecond)} | ${us(r.workerCpu, ROWS)} µs/row | ${us(r.redisCpu, ROWS)} µs/row, ${(r.redisCpu * 1e3 / Math.max(1, r.commits)).toFixed(1)} ms/commit |  load ${loadavg()[0]!.toFixed(2)}`,
      );
    }
  } else {
    const results: RunResult[] = [];
    for (const n of WORKERS) {
      const r = await run(redis.url, redis.pid, n, { keys: KEYS, partitions: PARTITIONS });
      results.push(r);
      console.log(report(r));
    }
    for (const r of results.slice(1)) {
      const same = await sameOutputs(redis.url, results[0]!.job, r.job, PARTITIONS);
      console.log(`${r.workers} workers / ${results[0]!.workers}: ${(r.rowsPerSecond / results[0]!.rowsPerSecond).toFixed(2)}×; outputs ${same ? 'identical' : 'DIFFER'}`);
      const [a, b] = [results[0]!, r].map((x) => x.seconds - x.takeMs / 1000);
      console.log(`  without start-up: ${(a! / b!).toFixed(2)}×; ${results[0]!.workers === 1 ? ceiling(results[0]!, r) : ''}`);
    }
  }
  console.log(`load average after: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
} finally {
  redis.stop();
}
