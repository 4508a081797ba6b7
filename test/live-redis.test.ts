// Issue 20 on Redis: the producer's and the worker's linger (lingerMs,
// --linger-ms). A lingering producer gathers the rows of several sends into
// one entry per partition; a lingering worker commits fuller batches; the
// outputs stay those of the single-process reference (verifyJob).
import { afterEach, describe, expect, it, vi } from 'vitest';
import { decodeColumn, decodeKeyColumn } from '../src/redis/codec.js';
import { createProducer } from '../src/redis/producer.js';
import { jobStatus } from '../src/redis/job.js';
import { startWorker } from '../src/redis/worker.js';
import { connect, makeRows, RedisServer, verifyJob, waitDrained, waitFor, WorkerProcess } from './redis-harness.js';

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanup.reverse()) await f().catch(() => {});
  cleanup = [];
});

async function server(): Promise<{ url: string; cmd: Awaited<ReturnType<typeof connect>>['cmd'] }> {
  const s = await RedisServer.start();
  cleanup.push(() => s.stop());
  const { conn, cmd } = await connect(s.url());
  cleanup.push(() => conn.close());
  return { url: s.url(), cmd };
}

const SPEC = { op: 'sum' as const, window: 3, minPeriods: 1 };

describe('redis linger', () => {
  it('producer lingerMs: sends are gathered into one entry per partition, written when an entry is full or on close', async () => {
    const { url, cmd } = await server();
    const producer = await createProducer({ url, job: 'linger', create: { partitions: 1, spec: SPEC }, maxRowsPerEntry: 3, lingerMs: 600_000 });
    const len = async (): Promise<number> => cmd.send<number>(['XLEN', producer.job.keys.input(0)]);
    const first = producer.send(['a', 'b'], [1, 2]);
    expect(await len()).toBe(0); // gathered, not written
    const second = producer.send(['a'], [3]); // the entry is full: written now, for both sends
    expect(await Promise.all([first, second])).toEqual([1, 1]);
    expect(await len()).toBe(1);
    const third = producer.send(['b'], [4]);
    await producer.close(); // writes what is gathered
    expect(await third).toBe(1);
    expect(await len()).toBe(2);
  }, 60_000);

  it('regression: a lingering producer’s row is written once lingerMs has passed, though its entry never fills', async () => {
    const { url, cmd } = await server();
    const producer = await createProducer({ url, job: 'linger2', create: { partitions: 2, spec: SPEC }, lingerMs: 5 });
    cleanup.push(() => producer.close());
    for (let i = 1; i <= 3; i++) {
      expect(await producer.send(['k'], [i])).toBe(1); // resolves only once written
      const lens = await Promise.all([0, 1].map((p) => cmd.send<number>(['XLEN', producer.job.keys.input(p)])));
      expect(lens[0]! + lens[1]!).toBe(i);
    }
  }, 60_000);

  it('producer lingerMs is validated; a bad row in a lingering send leaves nothing gathered', async () => {
    const { url, cmd } = await server();
    await expect(createProducer({ url, job: 'linger3', create: { partitions: 1, spec: SPEC }, lingerMs: -1 })).rejects.toThrow('lingerMs must be a non-negative finite number, got -1');
    const producer = await createProducer({ url, job: 'linger3', create: { partitions: 1, spec: SPEC }, lingerMs: 600_000 });
    await expect(producer.send(['a', 'b'], [1, 'x' as never])).rejects.toThrow('value 1 must be a number, got string');
    await producer.close();
    expect(await cmd.send<number>(['XLEN', producer.job.keys.input(0)])).toBe(0);
  }, 60_000);

  it('worker --linger-ms: paced rows are each answered, and the outputs equal the single-process reference', async () => {
    const { url, cmd } = await server();
    const producer = await createProducer({ url, job: 'linger4', create: { partitions: 3, spec: SPEC }, maxRowsPerEntry: 5 });
    cleanup.push(() => producer.close());
    const worker = WorkerProcess.worker(url, 'linger4', ['--linger-ms', '20']);
    cleanup.push(() => worker.kill());
    const rows = makeRows(7, 60, 5);
    for (let i = 0; i < rows.keys.length; i += 6) {
      await producer.send(rows.keys.slice(i, i + 6), rows.values.slice(i, i + 6));
      await waitDrained(cmd, producer.job); // this send's output is there before the next send
    }
    await worker.terminate();
    expect(await verifyJob(cmd, 'linger4')).toBe(60);
    expect((await jobStatus(cmd, producer.job)).every((s) => s.committedLast === s.inputLast)).toBe(true);
  }, 60_000);

  it('regression: an idle partition read its input only when its poll sleep (up to pollMs) ended; an entry wakes it at once', async () => {
    const { url, cmd } = await server();
    const producer = await createProducer({ url, job: 'wake', create: { partitions: 2, spec: SPEC } });
    cleanup.push(() => producer.close());
    const worker = await startWorker({ url, job: 'wake', pollMs: 20 });
    const realSetTimeout = globalThis.setTimeout;
    const realSleep = (ms: number): Promise<void> => new Promise((resolve) => realSetTimeout(resolve, ms));
    cleanup.push(async () => {
      vi.advanceTimersByTime(60_000); // ends the frozen poll sleeps, so the loops can stop
      vi.useRealTimers();
      await worker.stop();
    });
    await waitFor('the worker to hold both partitions', () => worker.owned().length === 2);
    // From now on no poll sleep ever ends: only the arrival of input can make a loop read again.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    await realSleep(200); // sleeps begun before the fake clock end; the loops read once more and go idle
    await producer.send(['a', 'b', 'a'], [1, 2, 4]);
    const outputs = async (): Promise<number> => (await Promise.all([0, 1].map((p) => cmd.send<number>(['XLEN', producer.job.keys.output(p)])))).reduce((a, b) => a + b, 0);
    const inputs = (await Promise.all([0, 1].map((p) => cmd.send<number>(['XLEN', producer.job.keys.input(p)])))).reduce((a, b) => a + b, 0);
    for (let i = 0; i < 200 && (await outputs()) < inputs; i++) await realSleep(50);
    expect(await outputs()).toBe(inputs);
    expect(await verifyJob(cmd, 'wake')).toBe(3);
  }, 60_000);

  it('regression: with stateEveryMs the partitions a worker took together stored their state in the same round (one AOF write and fsync of every key’s state, holding up every row committed with it); their state writes are now staggered', async () => {
    const { url, cmd } = await server();
    const partitions = 4;
    const producer = await createProducer({ url, job: 'stagger', create: { partitions, spec: SPEC, format: 3 } });
    cleanup.push(() => producer.close());
    const worker = await startWorker({ url, job: 'stagger', stateEveryMs: 8000, log: () => {} });
    cleanup.push(() => worker.stop().then(() => undefined));
    await waitFor('the worker to hold every partition', () => worker.owned().length === partitions);
    const rows = makeRows(11, 400, 40);
    await producer.send(rows.keys, rows.values);
    await waitDrained(cmd, producer.job);
    // Every partition committed outputs without its state: each records where its stored state lags.
    const lagging = async (): Promise<boolean[]> => Promise.all(Array.from({ length: partitions }, async (_, p) => (await cmd.send(['HGET', producer.job.keys.checkpoint(p), 'stateLast'])) !== null));
    expect(await lagging()).toEqual([true, true, true, true]);
    await waitFor('a partition to store its state', async () => (await lagging()).includes(false), 30_000);
    // Partition p counts its state as stored p/partitions of the interval before it was taken: the last one stores first, alone.
    expect(await lagging()).toEqual([true, true, true, false]);
    const stats = await worker.stop();
    expect(await lagging()).toEqual([false, false, false, false]);
    expect(await verifyJob(cmd, 'stagger')).toBe(400);
    // Where a row's time went in the worker: from its entry's append to the read, and the batch's computation.
    for (const ms of [stats.readAgeP50, stats.readAgeP99, stats.computeP50, stats.computeP99, stats.committedAgeP50, stats.committedAgeP99]) expect(ms).toBeGreaterThanOrEqual(0);
    expect(stats.readAgeP99).toBeGreaterThanOrEqual(stats.readAgeP50);
    // An entry is committed after it is read.
    expect(stats.committedAgeP99).toBeGreaterThanOrEqual(stats.readAgeP50);
  }, 60_000);
});

describe('producer connections', () => {
  it('connections: n connections (partition p on p mod n), every key’s rows appended in the order sent, and the outputs equal the single-process reference', async () => {
    const { url, cmd } = await server();
    await expect(createProducer({ url, job: 'conns', create: { partitions: 5, spec: SPEC, format: 3 }, connections: 0 })).rejects.toThrow('connections must be an integer from 1 to 64, got 0');
    const clients = async (): Promise<number> => String(await cmd.send(['CLIENT', 'LIST'])).trim().split('\n').length;
    const before = await clients();
    const producer = await createProducer({ url, job: 'conns', create: { partitions: 5, spec: SPEC, format: 3 }, connections: 3, maxRowsPerEntry: 4 });
    cleanup.push(() => producer.close());
    expect(await clients()).toBe(before + 3);
    const rows = makeRows(5, 300, 13);
    const sends: Promise<number>[] = [];
    for (let i = 0; i < rows.keys.length; i += 7) sends.push(producer.send(rows.keys.slice(i, i + 7), rows.values.slice(i, i + 7))); // not awaited: the connections' writes interleave
    await Promise.all(sends);
    // Each key's values as appended (its partition's entries in id order) are its values as sent.
    const appended = new Map<string, number[]>();
    for (let p = 0; p < 5; p++) {
      for (const [, flat] of await cmd.send<[Buffer, Buffer[]][]>(['XRANGE', producer.job.keys.input(p), '-', '+'], true)) {
        const { dictionary, ids } = decodeKeyColumn(new Uint8Array(flat[1]!));
        const values = decodeColumn(new Uint8Array(flat[3]!));
        ids.forEach((id, i) => appended.set(dictionary[id]!, [...(appended.get(dictionary[id]!) ?? []), values[i]!]));
      }
    }
    const sent = new Map<string, number[]>();
    rows.keys.forEach((k, i) => sent.set(k, [...(sent.get(k) ?? []), rows.values[i]!]));
    expect(appended).toEqual(sent);
    const worker = await startWorker({ url, job: 'conns' });
    cleanup.push(() => worker.stop().then(() => undefined));
    await waitDrained(cmd, producer.job);
    expect(await verifyJob(cmd, 'conns')).toBe(300);
    const open = await clients();
    await producer.close();
    expect(await clients()).toBe(open - 3);
  }, 60_000);
});
