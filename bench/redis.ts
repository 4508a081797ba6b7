// Redis scale-out benchmark: rows/s with 1 and 2 worker processes against a
// local redis-server (AOF, appendfsync always), and commit latency.
//
//   npx tsc -p tsconfig.json && node dist/bench/redis.js [--rows N] [--keys K] [--partitions P]
//
// Needs redis-server on the PATH. Rows are produced before the workers start;
// throughput is counted from the first partition taken to the last input
// entry committed, so process start-up is left out.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { connectRedis } from '../src/redis/config.js';
import { Commands, jobStatus } from '../src/redis/job.js';
import { createProducer } from '../src/redis/producer.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const MAIN = path.resolve(here, '../src/redis/main.js');

const { values: args } = parseArgs({
  options: {
    rows: { type: 'string' },
    keys: { type: 'string' },
    partitions: { type: 'string' },
    'read-entries': { type: 'string' },
    op: { type: 'string' },
    'cpu-prof': { type: 'string' },
  },
});
const ROWS = Number(args.rows ?? 400_000);
const KEYS = Number(args.keys ?? 200);
const PARTITIONS = Number(args.partitions ?? 16);
const READ_ENTRIES = args['read-entries'] ?? '8';
const OP = (args.op ?? 'mean') as 'mean';
/** A directory: each worker writes a V8 CPU profile there (node --cpu-prof). */
const CPU_PROF = args['cpu-prof'];

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a !== null ? a.port : 0));
    });
  });
}

async function startRedis(): Promise<{ url: string; stop: () => void }> {
  const port = await freePort();
  const dir = mkdtempSync(path.join(tmpdir(), 'sk-bench-redis-'));
  const conf = path.join(dir, 'redis.conf');
  writeFileSync(conf, [`port ${port}`, 'bind 127.0.0.1', `dir ${dir}`, 'appendonly yes', 'appendfsync always', 'save ""', 'logfile ""'].join('\n') + '\n');
  const proc = spawn('redis-server', [conf], { stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    proc.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('Ready to accept connections')) resolve();
    });
    proc.once('exit', (code) => reject(new Error(`redis-server exited with ${code}: ${out}`)));
  });
  return {
    url: `redis://127.0.0.1:${port}`,
    stop: () => {
      process.kill(proc.pid!, 'SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

interface RunResult {
  workers: number;
  seconds: number;
  rowsPerSecond: number;
  commits: number;
  commitP50: number;
  commitP99: number;
}

async function run(url: string, workers: number): Promise<RunResult> {
  const job = `bench-${workers}`;
  const producer = await createProducer({ url, job, create: { partitions: PARTITIONS, spec: { op: OP, window: 50, minPeriods: 1 } }, maxRowsPerEntry: 100 });
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
  let first = Infinity;
  const procs = Array.from({ length: workers }, () => {
    const prof = CPU_PROF !== undefined ? ['--cpu-prof', '--cpu-prof-dir', CPU_PROF] : [];
    const p = spawn(process.execPath, [...prof, MAIN, 'worker', '--redis', url, '--job', job, '--read-entries', READ_ENTRIES, '--lease-ms', '5000'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    const stopped = new Promise<Record<string, number>>((resolve) => {
      p.stderr!.on('data', (c: Buffer) => {
        err += c.toString();
        if (first === Infinity && err.includes('"event":"acquired"')) first = performance.now();
      });
      p.once('exit', () => {
        const line = err.split('\n').find((l) => l.includes('"event":"stopped"'));
        resolve(line !== undefined ? (JSON.parse(line) as Record<string, number>) : {});
      });
    });
    return { p, stopped };
  });
  for (;;) {
    const status = await jobStatus(cmd, definition);
    if (status.every((s) => s.committedLast === s.inputLast)) break;
    await new Promise((r) => setTimeout(r, 5));
  }
  const end = performance.now();
  for (const { p } of procs) p.kill('SIGTERM');
  const stats = await Promise.all(procs.map(({ stopped }) => stopped));
  await conn.close();
  const seconds = (end - first) / 1000;
  const commits = stats.reduce((a, s) => a + (s['commits'] ?? 0), 0);
  // the workers' percentiles, weighted by their commits (an approximation when they differ)
  const weighted = (k: string): number => stats.reduce((a, s) => a + (s[k] ?? 0) * (s['commits'] ?? 0), 0) / Math.max(1, commits);
  return { workers, seconds, rowsPerSecond: ROWS / seconds, commits, commitP50: weighted('commitP50'), commitP99: Math.max(...stats.map((s) => s['commitP99'] ?? 0)) };
}

const redis = await startRedis();
try {
  console.log(`streamkernel Redis benchmark: ${ROWS} rows, ${KEYS} keys, ${PARTITIONS} partitions, ${OP} window 50, appendfsync always, read-entries ${READ_ENTRIES}`);
  for (const n of [1, 2]) {
    const r = await run(redis.url, n);
    console.log(
      `${n} worker${n > 1 ? 's' : ' '}: ${Math.round(r.rowsPerSecond).toLocaleString('en-US').padStart(9)} rows/s  (${r.seconds.toFixed(2)} s, ${r.commits} commits, commit latency p50 ${r.commitP50.toFixed(2)} ms, p99 ${r.commitP99.toFixed(2)} ms)`,
    );
  }
} finally {
  redis.stop();
}
