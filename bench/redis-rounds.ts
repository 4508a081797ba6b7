// `node dist/bench/redis-rounds.js [--partitions 16] [--rows 50] [--batches 40] [--connections 1]`:
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
import { spawn } from 'node:child_process';
import { commitTransaction } from '../src/redis/commit.js';
import { connectRedis } from '../src/redis/config.js';
import { encodeColumn, encodeKeyColumn } from '../src/redis/codec.js';
import { JobKeys } from '../src/redis/keys.js';
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

console.log(`${BATCHES} batches of ${PARTITIONS} commits (${ROWS} rows each, format 3) on ${CONNECTIONS} connection(s), appendfsync always`);
for (const cached of [false, true]) {
  const { fsyncs, reads } = await measure(cached);
  console.log(`FENCE as ${cached ? 'EVALSHA' : 'EVAL with its source'}: ${(fsyncs / BATCHES).toFixed(2)} rounds (fdatasync) per batch, ${(reads / BATCHES).toFixed(2)} reads`);
}
