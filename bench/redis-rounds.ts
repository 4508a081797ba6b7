// `node dist/bench/redis-rounds.js [--partitions 16] [--rows 50] [--batches 40] [--connections 1] [--producer] [--reads [--appends]] [--pipeline]`:
// how many rounds of redis-server's event loop a worker's commits take when
// its partitions' commits go out together (issue 20). Each round ends in the
// AOF write and, under appendfsync always, an fdatasync, before any of its
// replies; redis-server reads each connection once per round (16 KB at
// first), so a batch of commits larger than that spans rounds, and the last
// commits' replies wait for every fsync before theirs. Counts redis-server's
// fdatasync calls (strace -c, Linux) over `batches` batches of one commit
// per partition (format 3, `rows` rows each), FENCE sent with its source
// (EVAL) and, as workers send it after a partition's first commit, as
// EVALSHA. Load-independent: the rounds, not their milliseconds.
// --producer: the same count for the producer's appends instead (issue 20,
// eleventh round): `batches` sends of `rows` rows to every partition, one
// entry each (format 3), through a producer (ProducerOptions.connections =
// --connections); under load a producer's appends gather in its socket
// while a round's fsync runs, and redis-server reads each connection about
// 16 KB per round.
// --reads: with FENCE cached, each partition's commit followed by a read of
// its input (XRANGE, as a worker sends it with the commit), the reads on the
// commits' connection (as workers send them) or on a connection of their
// own, sent first (tried in issue 20's eleventh round and not kept, see
// docs/REDIS.md): the rounds (fdatasync calls,
// timed with strace -ttt) from a batch's sending to its last read's reply
// and to its last commit's reply. With --appends, a producer's connection
// appends an entry every millisecond meanwhile (as a live stream does), so
// that rounds with a write, and an fsync, follow each other.
// --pipeline [--worker-main FILE] [--commits-in-flight N] [--rate R] [--seconds S]: the whole path
// in rounds: a worker process (this build's, or FILE, another build's
// dist/src/redis/main.js) on a format-3 job of 16 partitions and 1 000
// keys, R rows/s (default 20 000) sent by a producer (lingerMs 2) for S
// seconds, each output entry read by a consumer's XREAD over the outputs;
// per entry, the fsyncs redis-server started between its input's append
// (the time in its id, to the ms) and its output's read: the rounds a row
// waited, which a loaded machine moves less than milliseconds.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { commitTransaction } from '../src/redis/commit.js';
import { connectRedis } from '../src/redis/config.js';
import { encodeColumn, encodeKeyColumn } from '../src/redis/codec.js';
import { JobKeys, partitionOf } from '../src/redis/keys.js';
import { createProducer } from '../src/redis/producer.js';
import { startRedis } from './redis-server.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: number): number => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : fallback);
const PARTITIONS = option('--partitions', 16);
const ROWS = option('--rows', 50);
const BATCHES = option('--batches', 40);
const CONNECTIONS = option('--connections', 1);

const keyColumn = encodeKeyColumn(Array.from({ length: ROWS }, (_, i) => `k${(i * 7) % 19}`));
const values = encodeColumn(Float64Array.from({ length: ROWS }, (_, i) => i / 3));

/** Rounds (fdatasync calls) and reads of redis-server over `BATCHES` batches of commits. */
async function measure(fenceCached: boolean): Promise<{ fsyncs: number; reads: number }> {
  const redis = await startRedis('always');
  const conns = await Promise.all(Array.from({ length: CONNECTIONS }, () => connectRedis({ url: redis.url })));
  try {
    const keys = new JobKeys('rounds');
    for (let p = 0; p < PARTITIONS; p++) await conns[0]!.sendCommand(['SET', keys.lease(p), '1:w']);
    const last = Array.from({ length: PARTITIONS }, () => '0-0');
    const batch = (b: number, cached: boolean) =>
      Promise.all(
        Array.from({ length: PARTITIONS }, (_, p) => {
          const id = `${b + 1}-0`;
          const reply = commitTransaction(conns[p % CONNECTIONS]!, keys, p, true, ['1:w', '60000', last[p]!, id, '-', '1', id, '0'], [id, '4', 'kc', keyColumn, 'x', values], cached);
          last[p] = id;
          return reply;
        }),
      );
    await batch(0, false); // the server now has FENCE
    const strace = spawn('strace', ['-f', '-c', '-e', 'trace=fdatasync,read', '-p', String(redis.pid)], { stdio: ['ignore', 'ignore', 'pipe'] });
    let report = '';
    strace.stderr!.on('data', (c: Buffer) => (report += c.toString()));
    await new Promise((resolve) => setTimeout(resolve, 500)); // attached
    for (let b = 1; b <= BATCHES; b++) {
      const replies = await batch(b, fenceCached);
      if (replies.some((r) => r[0] !== 1)) throw new Error(`a commit was refused: ${JSON.stringify(replies)}`);
    }
    strace.kill('SIGINT');
    await new Promise((resolve) => strace.once('exit', resolve));
    const calls = (name: string): number => Number(report.split('\n').find((l) => l.trim().endsWith(` ${name}`))?.trim().split(/\s+/)[3] ?? NaN);
    return { fsyncs: calls('fdatasync'), reads: calls('read') };
  } finally {
    for (const conn of conns) await conn.close();
    redis.stop();
  }
}

/** redis-server's fdatasync and read calls (strace -c) while `run` runs. */
async function straced(pid: number, run: () => Promise<void>): Promise<{ fsyncs: number; reads: number }> {
  const strace = spawn('strace', ['-f', '-c', '-e', 'trace=fdatasync,read', '-p', String(pid)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let report = '';
  strace.stderr!.on('data', (c: Buffer) => (report += c.toString()));
  await new Promise((resolve) => setTimeout(resolve, 500)); // attached
  await run();
  strace.kill('SIGINT');
  await new Promise((resolve) => strace.once('exit', resolve));
  const calls = (name: string): number => Number(report.split('\n').find((l) => l.trim().endsWith(` ${name}`))?.trim().split(/\s+/)[3] ?? NaN);
  return { fsyncs: calls('fdatasync'), reads: calls('read') };
}

/** Rounds (fdatasync calls) of redis-server over `BATCHES` sends of ROWS rows to every partition through a producer on CONNECTIONS connections. */
async function measureProducer(): Promise<{ fsyncs: number; reads: number; bytes: number }> {
  const redis = await startRedis('always');
  const producer = await createProducer({ url: redis.url, job: 'rounds', create: { partitions: PARTITIONS, spec: { op: 'mean', window: 100 }, format: 3 }, maxRowsPerEntry: ROWS, connections: CONNECTIONS });
  try {
    // One key per partition (found by its hash), 7 characters like the latency bench's: each send makes one entry of ROWS rows per partition.
    const keyOf: string[] = [];
    for (let i = 0; keyOf.filter((k) => k !== undefined).length < PARTITIONS; i++) keyOf[partitionOf(`k${100000 + i}`, PARTITIONS)] ??= `k${100000 + i}`;
    const keys = Array.from({ length: PARTITIONS * ROWS }, (_, i) => keyOf[i % PARTITIONS]!);
    const values = Array.from({ length: PARTITIONS * ROWS }, (_, i) => i / 3);
    await producer.send(keys, values);
    const before = await serverInputBytes(redis.url);
    const counts = await straced(redis.pid, async () => {
      for (let b = 0; b < BATCHES; b++) await producer.send(keys, values);
    });
    return { ...counts, bytes: ((await serverInputBytes(redis.url)) - before) / BATCHES };
  } finally {
    await producer.close();
    redis.stop();
  }
}

/** redis-server's bytes received so far. */
async function serverInputBytes(url: string): Promise<number> {
  const conn = await connectRedis({ url });
  try {
    return Number(/^total_net_input_bytes:(\d+)/m.exec(String(await conn.sendCommand(['INFO', 'stats'])))?.[1]);
  } finally {
    await conn.close();
  }
}

/** Per batch: rounds (fdatasync starts) from its sending to its last read's and last commit's replies, reads on the commits' connection or their own. */
async function measureReads(ownConnection: boolean): Promise<{ toReads: number; toCommits: number }> {
  const redis = await startRedis('always');
  const conn = await connectRedis({ url: redis.url });
  const readConn = ownConnection ? await connectRedis({ url: redis.url }) : conn;
  const traceFile = path.join(mkdtempSync(path.join(tmpdir(), 'rounds-')), 'fsyncs');
  try {
    const keys = new JobKeys('rounds');
    for (let p = 0; p < PARTITIONS; p++) {
      await conn.sendCommand(['SET', keys.lease(p), '1:w']);
      // Input to read: two entries of ROWS rows per partition (each read returns them).
      for (let e = 0; e < 2; e++) await conn.sendCommand(['XADD', keys.input(p), '*', 'kc', keyColumn, 'x', values]);
    }
    const last = Array.from({ length: PARTITIONS }, () => '0-0');
    const now = (): number => performance.timeOrigin + performance.now();
    const batch = async (b: number, cached: boolean): Promise<{ sent: number; readsAt: number; commitsAt: number }> => {
      const sent = now();
      let readsAt = 0;
      let commitsAt = 0;
      await Promise.all(
        Array.from({ length: PARTITIONS }, (_, p) => {
          const id = `${b + 1}-0`;
          const read = readConn.sendCommand(['XRANGE', keys.input(p), '-', '+', 'COUNT', '64'], true).then(() => void (readsAt = now()));
          const reply = commitTransaction(conn, keys, p, true, ['1:w', '60000', last[p]!, id, '-', '1', id, '0'], [id, '4', 'kc', keyColumn, 'x', values], cached).then((r) => {
            if (r[0] !== 1) throw new Error(`a commit was refused: ${JSON.stringify(r)}`);
            commitsAt = now();
          });
          last[p] = id;
          return Promise.all([reply, read]);
        }),
      );
      return { sent, readsAt, commitsAt };
    };
    await batch(0, false); // the server now has FENCE
    // --appends: a live stream's appends meanwhile, one entry a millisecond on a connection of their own.
    const appender = args.includes('--appends') ? await connectRedis({ url: redis.url }) : undefined;
    let appending = appender !== undefined;
    const appends = (async () => {
      while (appending) {
        await appender!.sendCommand(['XADD', 'live', 'MAXLEN', '~', '1000', '*', 'x', values]);
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
    })();
    const strace = spawn('strace', ['-f', '-ttt', '-e', 'trace=fdatasync', '-o', traceFile, '-p', String(redis.pid)], { stdio: 'ignore' });
    await new Promise((resolve) => setTimeout(resolve, 500)); // attached
    const batches = [];
    for (let b = 1; b <= BATCHES; b++) {
      batches.push(await batch(b, true));
      await new Promise((resolve) => setTimeout(resolve, 5)); // the next batch starts a round of its own
    }
    strace.kill('SIGINT');
    await new Promise((resolve) => strace.once('exit', resolve));
    appending = false;
    await appends;
    await appender?.close();
    const fsyncs = readFileSync(traceFile, 'utf8').split('\n').filter((l) => l.includes('fdatasync(')).map((l) => Number(/^(?:\d+\s+)?([\d.]+)/.exec(l)![1]) * 1000);
    const rounds = (from: number, to: number): number => fsyncs.filter((t) => t > from && t < to).length;
    return {
      toReads: batches.reduce((n, b) => n + rounds(b.sent, b.readsAt), 0) / BATCHES,
      toCommits: batches.reduce((n, b) => n + rounds(b.sent, b.commitsAt), 0) / BATCHES,
    };
  } finally {
    await conn.close();
    if (ownConnection) await readConn.close();
    redis.stop();
  }
}

/** Rounds per row of the whole path (see --pipeline in the header): p50, p99 and the run's mean round, over the output entries read after the first second. */
async function measurePipeline(): Promise<{ p50: number; p90: number; p99: number; mean: number; roundMs: number; entries: number }> {
  const rate = option('--rate', 20_000);
  const seconds = option('--seconds', 5);
  const main = args.includes('--worker-main') ? args[args.indexOf('--worker-main') + 1]! : path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'src', 'redis', 'main.js');
  const redis = await startRedis('always');
  const job = 'pipeline';
  const producer = await createProducer({ url: redis.url, job, create: { partitions: PARTITIONS, spec: { op: 'mean', window: 100 }, format: 3 }, lingerMs: 2 });
  const commitsInFlight = args.includes('--commits-in-flight') ? ['--commits-in-flight', args[args.indexOf('--commits-in-flight') + 1]!] : [];
  const worker = spawn(process.execPath, [main, 'worker', '--redis', redis.url, '--job', job, '--log', 'quiet', ...commitsInFlight], { stdio: 'ignore' });
  const readerConn = await connectRedis({ url: redis.url });
  const traceFile = path.join(mkdtempSync(path.join(tmpdir(), 'rounds-')), 'fsyncs');
  try {
    const keys = producer.job.keys;
    while (Number(await readerConn.sendCommand(['ZCARD', keys.members])) < 1) await new Promise((resolve) => setTimeout(resolve, 20));
    await new Promise((resolve) => setTimeout(resolve, 500)); // the worker has taken its partitions
    const now = (): number => performance.timeOrigin + performance.now();
    const outputs = Array.from({ length: PARTITIONS }, (_, p) => keys.output(p));
    const last = outputs.map(() => '0');
    const read: [appendedMs: number, readAt: number][] = [];
    let reading = true;
    const readLoop = (async () => {
      while (reading) {
        const reply = (await readerConn.sendCommand(['XREAD', 'BLOCK', '100', 'STREAMS', ...outputs, ...last])) as [string, [string, string[]][]][] | Record<string, [string, string[]][]> | null;
        const at = now();
        for (const [name, entries] of reply === null ? [] : Array.isArray(reply) ? reply : Object.entries(reply)) {
          if (entries.length === 0) continue;
          last[outputs.indexOf(String(name))] = String(entries[entries.length - 1]![0]);
          for (const [id] of entries) read.push([Number(String(id).split('-')[0]), at]);
        }
      }
    })();
    const strace = spawn('strace', ['-f', '-ttt', '-e', 'trace=fdatasync', '-o', traceFile, '-p', String(redis.pid)], { stdio: 'ignore' });
    await new Promise((resolve) => setTimeout(resolve, 500)); // attached
    const start = now();
    const keyNames = Array.from({ length: 1000 }, (_, k) => `k${k}`);
    for (let sent = 0; sent < rate * seconds; ) {
      const due = Math.min(rate * seconds, Math.floor(((now() - start) / 1000) * rate));
      if (due > sent) {
        const names: string[] = [];
        const values: number[] = [];
        for (; sent < due; sent++) {
          names.push(keyNames[(Math.imul(sent + 1, 0x9e3779b1) >>> 0) % 1000]!);
          values.push(sent);
        }
        void producer.send(names, values);
      }
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    await new Promise((resolve) => setTimeout(resolve, 1000)); // the last outputs
    const end = now();
    strace.kill('SIGINT');
    await new Promise((resolve) => strace.once('exit', resolve));
    reading = false;
    await readLoop;
    const fsyncs = readFileSync(traceFile, 'utf8').split('\n').filter((l) => l.includes('fdatasync(')).map((l) => Number(/^(?:\d+\s+)?([\d.]+)/.exec(l)![1]) * 1000);
    let i = 0;
    const rounds = read
      .filter(([appended]) => appended >= start + 1000)
      .sort((a, b) => a[0] - b[0])
      .map(([appended, at]) => {
        while (i < fsyncs.length && fsyncs[i]! < appended) i++;
        let n = 0;
        while (i + n < fsyncs.length && fsyncs[i + n]! < at) n++;
        return n;
      })
      .sort((a, b) => a - b);
    const during = fsyncs.filter((t) => t >= start && t <= end).length;
    const mean = rounds.reduce((a, b) => a + b, 0) / rounds.length;
    return { p50: rounds[rounds.length >> 1] ?? NaN, p90: rounds[Math.floor(rounds.length * 0.9)] ?? NaN, p99: rounds[Math.floor(rounds.length * 0.99)] ?? NaN, mean, roundMs: (end - start) / during, entries: rounds.length };
  } finally {
    worker.kill('SIGTERM');
    await new Promise((resolve) => worker.once('exit', resolve));
    await producer.close();
    await readerConn.close();
    redis.stop();
  }
}

if (args.includes('--pipeline')) {
  const { p50, p90, p99, mean, roundMs, entries } = await measurePipeline();
  const inFlight = args.includes('--commits-in-flight') ? `, --commits-in-flight ${args[args.indexOf('--commits-in-flight') + 1]}` : '';
  console.log(`pipeline, ${args.includes('--worker-main') ? args[args.indexOf('--worker-main') + 1] : "this build's worker"}${inFlight}: rounds (fsyncs) from an input's append to its output's read p50 ${p50}, p90 ${p90}, p99 ${p99}, mean ${mean.toFixed(2)} over ${entries} entries; mean round ${roundMs.toFixed(2)} ms; load ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  process.exit(0);
}

if (args.includes('--reads')) {
  console.log(`${BATCHES} batches of ${PARTITIONS} commits (${ROWS} rows each, format 3, FENCE as EVALSHA), each with a read of its partition's input (2 entries of ${ROWS} rows)${args.includes('--appends') ? ', an append every ms meanwhile' : ''}, appendfsync always`);
  for (const own of [false, true]) {
    const { toReads, toCommits } = await measureReads(own);
    console.log(`reads on ${own ? 'a connection of their own' : "the commits' connection"}: ${toReads.toFixed(2)} rounds to the last read's reply, ${toCommits.toFixed(2)} to the last commit's`);
  }
  process.exit(0);
}

if (args.includes('--producer')) {
  const { fsyncs, reads, bytes } = await measureProducer();
  console.log(`${BATCHES} sends of ${ROWS} rows to each of ${PARTITIONS} partitions (format 3, ${(bytes / 1024).toFixed(1)} KB received per send) through a producer on ${CONNECTIONS} connection(s), appendfsync always`);
  console.log(`${(fsyncs / BATCHES).toFixed(2)} rounds (fdatasync) per send, ${(reads / BATCHES).toFixed(2)} reads`);
  process.exit(0);
}

console.log(`${BATCHES} batches of ${PARTITIONS} commits (${ROWS} rows each, format 3) on ${CONNECTIONS} connection(s), appendfsync always`);
for (const cached of [false, true]) {
  const { fsyncs, reads } = await measure(cached);
  console.log(`FENCE as ${cached ? 'EVALSHA' : 'EVAL with its source'}: ${(fsyncs / BATCHES).toFixed(2)} rounds (fdatasync) per batch, ${(reads / BATCHES).toFixed(2)} reads`);
}
