// Worker processes against a real redis-server: SIGKILL, a zombie, scaling
// up and down, and Redis itself killed and restarted from its AOF. Every
// scenario ends with the same check: each partition's output equals the
// single-process reference exactly, and its checkpoint matches.
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { createProducer } from '../src/redis/producer.js';
import { jobStatus } from '../src/redis/job.js';
import { connect, feedChunks, finishJob, killSteps, makeRows, RedisServer, rng, sleep, waitFor, WorkerProcess, zombieSteps } from './redis-harness.js';

const PARTITIONS = 6;
const SPEC = { op: 'mean' as const, window: 7, minPeriods: 1 };

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanup.reverse()) await f().catch(() => {});
  cleanup = [];
});

async function setup(job: string, spec: object = SPEC, format: 1 | 2 | 3 = 1) {
  const server = await RedisServer.start();
  cleanup.push(() => server.stop());
  const { conn, cmd } = await connect(server.url());
  cleanup.push(() => conn.close());
  const producer = await createProducer({ url: server.url(), job, create: { partitions: PARTITIONS, spec: spec as typeof SPEC, format }, maxRowsPerEntry: 40, maxOutageMs: 20_000 });
  cleanup.push(() => producer.close());
  const workers: WorkerProcess[] = [];
  // worker logs, for a failed run: $TMPDIR/streamkernel-redis-logs/<job>-<n>.log
  cleanup.push(async () => {
    const dir = path.join(tmpdir(), 'streamkernel-redis-logs');
    mkdirSync(dir, { recursive: true });
    workers.forEach((w, i) => writeFileSync(path.join(dir, `${job}-${i}.log`), w.stderr));
  });
  const spawnWorker = (): WorkerProcess => {
    const w = WorkerProcess.worker(server.url(), job);
    workers.push(w);
    cleanup.push(() => w.kill());
    return w;
  };
  return { server, cmd, producer, workers, spawnWorker, job: producer.job };
}

async function ready(workers: WorkerProcess[]): Promise<void> {
  await waitFor('every worker to hold partitions', () => workers.every((w) => w.owned().size > 0));
}

const feed = feedChunks;
const finish = finishJob;

function allLogs(workers: WorkerProcess[]): string {
  return workers.map((w) => w.stderr).join('\n');
}

/** ' (job format 2: …)' for the format-2 runs of a scenario; format 1 keeps the scenario's name. */
const named = (name: string, format: 1 | 2 | 3): string =>
  format === 1 ? name : format === 2 ? `${name} (job format 2: binary columns, incremental key-group state)` : `${name} (job format 3: binary key column, one operator per worker)`;

describe('redis workers', () => {
  for (const format of [1, 2, 3] as const) {
    test(named('3 workers, SIGKILLed at seeded points: output equals the single-process reference', format), async () => {
      const s = await setup(`killjob${format}`, SPEC, format);
      for (let i = 0; i < 3; i++) s.spawnWorker();
      await ready(s.workers);
      const next = rng(20240611);
      const rows = makeRows(7, 12_000, 30);
      const chunks = 60;
      const points = [10 + Math.floor(next() * 15), 30 + Math.floor(next() * 15)];
      const { killOne, killed } = killSteps(s, next);
      await feed(s.producer, rows, chunks, { [points[0]!]: killOne, [points[1]!]: killOne });
      const checked = await finish(s);
      expect(checked).toBe(rows.keys.length);
      expect(killed).toHaveLength(2);
      for (const w of killed) expect(w.proc.signalCode).toBe('SIGKILL');
      // the survivors took over the dead workers' partitions from their checkpoints
      const takeovers = s.workers.flatMap((w) => w.events()).filter((e) => e['event'] === 'acquired' && e['from'] !== '0-0');
      expect(takeovers.length).toBeGreaterThan(0);
    });
  }

  test('a zombie (SIGSTOP past its lease, then SIGCONT) is fenced: its commits are rejected, nothing duplicated', async () => {
    const s = await setup('zombiejob', { op: 'median', window: 5, minPeriods: 1 });
    for (let i = 0; i < 3; i++) s.spawnWorker();
    await ready(s.workers);
    const rows = makeRows(11, 9_000, 24);
    const { stop, resume, zombie, heldWhenStopped } = zombieSteps(s);
    // rows keep arriving while it sleeps and after it wakes, so it holds unread input for its old partitions
    await feed(s.producer, rows, 45, { 10: stop, 25: resume });
    const checked = await finish(s);
    expect(checked).toBe(rows.keys.length);
    // every partition it held when stopped was fenced when it woke: its next commit (or, for a
    // partition whose last read came back empty, its lease renewal) was refused
    const fenced = new Set(zombie().events().filter((e) => e['event'] === 'fenced' && e['reason'] === 'lease lost').map((e) => e['partition']));
    expect([...heldWhenStopped()].filter((p) => !fenced.has(p))).toEqual([]);
    expect(heldWhenStopped().size).toBeGreaterThan(0);
    expect(await zombie().exited).toBe(0);
  });

  test('scale up (a 4th worker joins) and down (one leaves cleanly) mid-stream: same output', async () => {
    const s = await setup('scalejob', { op: 'std', window: 6, minPeriods: 2 });
    for (let i = 0; i < 3; i++) s.spawnWorker();
    await ready(s.workers);
    const rows = makeRows(5, 12_000, 30);
    let joiner: WorkerProcess | undefined;
    let leaver: WorkerProcess | undefined;
    await feed(s.producer, rows, 60, {
      15: async () => {
        joiner = s.spawnWorker();
        await waitFor('the new worker to take partitions', () => joiner!.owned().size > 0);
      },
      35: async () => {
        leaver = s.workers.find((w) => w !== joiner && w.owned().size > 0)!;
        expect(await leaver.terminate()).toBe(0);
      },
    });
    const checked = await finish(s);
    expect(checked).toBe(rows.keys.length);
    expect(leaver!.events().some((e) => e['event'] === 'stopped')).toBe(true);
    expect(leaver!.events().filter((e) => e['event'] === 'released').length).toBeGreaterThan(0);
    // the 4th worker's partitions came from others, who gave them back after a commit
    expect(s.workers.slice(0, 3).some((w) => w.events().some((e) => e['event'] === 'released'))).toBe(true);
    expect(allLogs(s.workers)).not.toMatch(/"event":"failed"/);
  });

  for (const format of [1, 2] as const) {
    test(named('Redis SIGKILLed and restarted from its AOF: checkpoints and outputs stay consistent, the job completes', format), async () => {
      const s = await setup(`restartjob${format}`, { op: 'sum', window: 4, minPeriods: 1 }, format);
      for (let i = 0; i < 2; i++) s.spawnWorker();
      await ready(s.workers);
      const rows = makeRows(3, 8_000, 20);
      await feed(s.producer, rows, 40, {
        20: async () => {
          await waitFor('both workers busy', () => s.workers.every((w) => w.owned().size > 0));
          await s.server.kill();
          await sleep(400);
          await s.server.launch();
        },
      });
      const checked = await finish(s);
      expect(checked).toBe(rows.keys.length);
      // the workers noticed the outage and carried on (no worker failed)
      expect(allLogs(s.workers)).toMatch(/"what":"redis-reconnected"/);
      expect(allLogs(s.workers)).not.toMatch(/"event":"failed"/);
      for (const w of s.workers) expect(await w.exited).toBe(0);
    });
  }
});
