// Issue 20: pipelined commits (commitsInFlight ≥ 2). A partition's next
// commit may leave before the one ahead of it is answered; its FENCE expects
// the `last` that commit writes, so it cannot apply unless that one did.
// The window between them: a commit refused or lost while the next is in
// flight, the lease lost between them, a worker SIGKILLed or stopped past
// its lease with two in flight, Redis killed and restarted from its AOF.
// Every scenario ends with the single-process reference, exactly once.
import { afterEach, describe, expect, test } from 'vitest';
import { commitTransaction, type CommitReply } from '../src/redis/commit.js';
import { jobStatus } from '../src/redis/job.js';
import { createProducer } from '../src/redis/producer.js';
import { startWorker } from '../src/redis/worker.js';
import { connect, feedChunks, finishJob, killSteps, makeRows, RedisServer, rng, sleep, verifyJob, waitDrained, waitFor, WorkerProcess, zombieSteps } from './redis-harness.js';

const SPEC = { op: 'mean' as const, window: 7, minPeriods: 1 };
const PIPELINED = ['--commits-in-flight', '2'];

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanup.reverse()) await f().catch(() => {});
  cleanup = [];
});

async function server() {
  const redis = await RedisServer.start();
  cleanup.push(() => redis.stop());
  const { conn, cmd } = await connect(redis.url());
  cleanup.push(() => conn.close());
  return { redis, conn, cmd };
}

describe('two commits in flight, fenced on each other (commit transactions)', () => {
  // FENCE's ARGV: token, lease ms, expected last, new last, state, entries, first id, key groups
  const fence = (token: string, expected: string, id: string): string[] => [token, '5000', expected, id, '', '1', id, '0'];
  const entry = (id: string): string[] => [id, '2', 'x', 'abcdefgh'];

  async function partition(job: string) {
    const s = await server();
    const producer = await createProducer({ url: s.redis.url(), job, create: { partitions: 1, spec: SPEC, format: 4 } });
    cleanup.push(() => producer.close());
    const { keys } = producer.job;
    await s.cmd.send(['SET', keys.lease(0), '1:holder']);
    const commit = (token: string, expected: string, id: string): Promise<CommitReply> => commitTransaction(s.conn, keys, 0, true, fence(token, expected, id), entry(id));
    const outputs = async (): Promise<string[]> => ((await s.cmd.send(['XRANGE', keys.output(0), '-', '+'])) as [string, string[]][]).map(([id]) => String(id));
    const last = (): Promise<unknown> => s.cmd.send(['HGET', keys.checkpoint(0), 'last']);
    return { ...s, keys, commit, outputs, last };
  }

  test('a commit refused while the next is in flight refuses the next too, even when the lease is back by then', async () => {
    const t = await partition('refusedfirst');
    expect(await t.commit('1:holder', '0-0', '5-0')).toEqual([1]);
    // N is sent with a lost lease; the lease comes back before N+1 (all on one connection, so in this order): N+1 expects the last N would have written
    await t.cmd.send(['SET', t.keys.lease(0), '1:other']);
    const n = t.commit('1:holder', '5-0', '6-0');
    const back = t.cmd.send(['SET', t.keys.lease(0), '1:holder']);
    const next = t.commit('1:holder', '6-0', '7-0');
    expect(await n).toEqual([0, 'lease', '']);
    await back;
    expect(await next).toEqual([0, 'last', '5-0']);
    expect(await t.outputs()).toEqual(['5-0']);
    expect(await t.last()).toBe('5-0');
    expect(await t.cmd.send(['EXISTS', t.keys.park(0)])).toBe(0);
  });

  test('a lease lost between two commits in flight lets the first apply and refuses the second', async () => {
    const t = await partition('leasebetween');
    const n = t.commit('1:holder', '0-0', '5-0');
    const lost = t.cmd.send(['SET', t.keys.lease(0), '2:other']);
    const next = t.commit('1:holder', '5-0', '6-0');
    expect(await n).toEqual([1]);
    await lost;
    expect(await next).toEqual([0, 'lease', '']);
    expect(await t.outputs()).toEqual(['5-0']);
    expect(await t.last()).toBe('5-0');
  });

  test('two commits in flight that both hold apply in order, exactly once', async () => {
    const t = await partition('bothapply');
    const replies = await Promise.all([t.commit('1:holder', '0-0', '5-0'), t.commit('1:holder', '5-0', '6-0'), t.commit('1:holder', '6-0', '7-0')]);
    expect(replies).toEqual([[1], [1], [1]]);
    expect(await t.outputs()).toEqual(['5-0', '6-0', '7-0']);
    expect(await t.last()).toBe('7-0');
  });
});

describe('pipelined commits in a worker (commitsInFlight 2)', () => {
  test('a worker with commitsInFlight 2 sends commits before the one ahead is answered, and gives the reference outputs and state; commitsInFlight 0 is refused', async () => {
    const { redis, cmd } = await server();
    const producer = await createProducer({ url: redis.url(), job: 'inflight', create: { partitions: 2, spec: SPEC, format: 3 }, maxRowsPerEntry: 10 });
    cleanup.push(() => producer.close());
    await expect(startWorker({ url: redis.url(), job: 'inflight', commitsInFlight: 0 })).rejects.toThrow('commitsInFlight must be an integer ≥ 1, got 0');
    const worker = await startWorker({ url: redis.url(), job: 'inflight', readEntries: 1, commitsInFlight: 2 });
    cleanup.push(async () => void (await worker.stop()));
    const rows = makeRows(21, 3000, 12);
    for (let i = 0; i < 30; i++) {
      await producer.send(rows.keys.slice(i * 100, (i + 1) * 100), rows.values.slice(i * 100, (i + 1) * 100));
      await sleep(2);
    }
    await waitDrained(cmd, producer.job);
    const stats = await worker.stop();
    expect(await verifyJob(cmd, 'inflight')).toBe(3000);
    expect(stats.rejected).toBe(0);
    expect(stats.pipelined).toBeGreaterThan(0);
  });
});

describe('pipelined commits: worker processes (--commits-in-flight 2)', () => {
  const PARTITIONS = 6;

  async function setup(job: string, spec: object = SPEC, format: 1 | 2 | 3 = 3) {
    const { redis, cmd } = await server();
    const producer = await createProducer({ url: redis.url(), job, create: { partitions: PARTITIONS, spec: spec as typeof SPEC, format }, maxRowsPerEntry: 40, maxOutageMs: 20_000 });
    cleanup.push(() => producer.close());
    const workers: WorkerProcess[] = [];
    const spawnWorker = (): WorkerProcess => {
      // --read-entries 1: small commits, so a partition's next commit is usually sent while the one ahead is in flight
      const w = WorkerProcess.worker(redis.url(), job, [...PIPELINED, '--read-entries', '1']);
      workers.push(w);
      cleanup.push(() => w.kill());
      return w;
    };
    return { redis, cmd, producer, workers, spawnWorker, job: producer.job };
  }

  const feed = feedChunks;
  const finish = finishJob;

  const pipelinedCommits = (workers: WorkerProcess[]): number =>
    workers.flatMap((w) => w.events()).filter((e) => e['event'] === 'stopped').reduce((n, e) => n + Number(e['pipelined'] ?? 0), 0);

  test('workers SIGKILLed at seeded points with commits in flight: 0 lost, 0 duplicated (the single-process reference)', async () => {
    const s = await setup('pipekill');
    for (let i = 0; i < 3; i++) s.spawnWorker();
    await waitFor('every worker to hold partitions', () => s.workers.every((w) => w.owned().size > 0));
    const next = rng(20261207);
    const rows = makeRows(9, 12_000, 30);
    const { killOne, killed } = killSteps(s, next);
    const points = [10 + Math.floor(next() * 15), 30 + Math.floor(next() * 15)];
    await feed(s.producer, rows, 60, { [points[0]!]: killOne, [points[1]!]: killOne });
    expect(await finish(s)).toBe(rows.keys.length);
    expect(killed).toHaveLength(2);
    for (const w of killed) expect(w.proc.signalCode).toBe('SIGKILL');
    expect(s.workers.flatMap((w) => w.events()).filter((e) => e['event'] === 'acquired' && e['from'] !== '0-0').length).toBeGreaterThan(0);
    expect(pipelinedCommits(s.workers)).toBeGreaterThan(0);
  });

  test('a worker stopped past its lease (SIGSTOP) with commits in flight is fenced when it resumes, nothing duplicated', async () => {
    const s = await setup('pipezombie', { op: 'median', window: 5, minPeriods: 1 });
    for (let i = 0; i < 3; i++) s.spawnWorker();
    await waitFor('every worker to hold partitions', () => s.workers.every((w) => w.owned().size > 0));
    const rows = makeRows(13, 9_000, 24);
    const { stop, resume, zombie, heldWhenStopped } = zombieSteps(s);
    await feed(s.producer, rows, 45, { 10: stop, 25: resume });
    expect(await finish(s)).toBe(rows.keys.length);
    const fenced = new Set(zombie().events().filter((e) => e['event'] === 'fenced' && e['reason'] === 'lease lost').map((e) => e['partition']));
    expect([...heldWhenStopped()].filter((p) => !fenced.has(p))).toEqual([]);
    expect(heldWhenStopped().size).toBeGreaterThan(0);
    expect(await zombie().exited).toBe(0);
  });

  test('Redis SIGKILLed and restarted from its AOF with commits in flight: outputs and checkpoints consistent, the job completes', async () => {
    const s = await setup('piperestart', { op: 'sum', window: 4, minPeriods: 1 });
    for (let i = 0; i < 2; i++) s.spawnWorker();
    await waitFor('every worker to hold partitions', () => s.workers.every((w) => w.owned().size > 0));
    const rows = makeRows(3, 8_000, 20);
    await feed(s.producer, rows, 40, {
      20: async () => {
        await s.redis.kill();
        await sleep(400);
        await s.redis.launch();
      },
    });
    expect(await finish(s)).toBe(rows.keys.length);
    const logs = s.workers.map((w) => w.stderr).join('\n');
    expect(logs).toMatch(/"what":"redis-reconnected"/);
    expect(logs).not.toMatch(/"event":"failed"/);
    for (const w of s.workers) expect(await w.exited).toBe(0);
    expect(pipelinedCommits(s.workers)).toBeGreaterThan(0);
  });
});
