// Issue 20, the scheduler's latency: maxBatchDelayMs (a pushed row waits at
// most that long for its batch) and the row-to-sink latency in
// job.metrics(). Paced by the sink: each row is pushed only once the row
// before it is written, so a row held back for a batch that never fills
// would hang the test (no timing assertion, only a timeout).
import { describe, expect, it } from 'vitest';
import { createJob, DEFAULT_KEY_GROUPS, keyGroupOf, memorySink, nodeWorkers, reference, workerOfKeyGroup, type OutputBatch, type Sink, type WorkerAdapter } from './scheduler-helpers.js';

/** A sink that keeps every batch written and lets a test wait for a number of rows. */
function watchedSink(): Sink & { rows: () => number; values: () => number[]; until: (rows: number) => Promise<void> } {
  const batches: OutputBatch[] = [];
  let wake: (() => void) | undefined;
  const rows = (): number => batches.reduce((n, b) => n + (b.rows ?? b.values.length), 0);
  return {
    write: (b) => {
      batches.push(b);
      wake?.();
    },
    preCommit: () => null,
    commit: () => undefined,
    recover: () => undefined,
    rows,
    values: () => batches.flatMap((b) => [...b.values]),
    async until(n) {
      while (rows() < n) await new Promise<void>((resolve) => (wake = resolve));
    },
  };
}

const SERIES = Float64Array.from({ length: 12 }, (_, i) => ((i * 7) % 5) - 1.5);
const KEYS = Uint32Array.from(SERIES, (_, i) => i % 3);

describe('scheduler: maxBatchDelayMs and latency metrics', () => {
  it('regression: with maxBatchDelayMs a pushed row is written before the next row is pushed, though its batch never fills', async () => {
    const sink = watchedSink();
    const job = await createJob({ adapter: nodeWorkers(), operator: { op: 'mean', window: 3 }, keyed: true, workers: 2, sink, maxBatchDelayMs: 5, maxBatchRows: 1000 });
    for (let i = 0; i < SERIES.length; i++) {
      await job.push({ values: SERIES.slice(i, i + 1), keys: KEYS.slice(i, i + 1) });
      await sink.until(i + 1);
    }
    await job.finish();
    expect(sink.values()).toEqual([...(await reference({ op: 'mean', window: 3 }, SERIES, KEYS))]);
    const m = job.metrics();
    expect(m.rows).toBe(SERIES.length);
    expect(m.batches).toBe(SERIES.length);
    expect(m.latency.count).toBe(SERIES.length);
  }, 60_000);

  it('pushes are coalesced into batches of maxBatchRows while the delay has not passed; the results are those of unbatched pushes', async () => {
    const sink = watchedSink();
    const job = await createJob({ adapter: nodeWorkers(), operator: { op: 'max', window: 2 }, keyed: true, workers: 2, sink, maxBatchDelayMs: 600_000, maxBatchRows: 5 });
    for (let i = 0; i < SERIES.length; i++) await job.push({ values: SERIES.slice(i, i + 1), keys: KEYS.slice(i, i + 1) });
    // Two full batches went out; two rows wait for the third (the offset counts them).
    expect(job.metrics().batches).toBe(2);
    expect(job.offset).toBe(SERIES.length);
    await job.finish(); // sends the rows still waiting
    expect(job.metrics().batches).toBe(3);
    expect(sink.values()).toEqual([...(await reference({ op: 'max', window: 2 }, SERIES, KEYS))]);
  }, 60_000);

  it('checkpoint() sends the rows waiting for their batch and covers them', async () => {
    const sink = memorySink();
    const job = await createJob({ adapter: nodeWorkers(), operator: { op: 'sum', window: 2 }, workers: 1, sink, maxBatchDelayMs: 600_000 });
    await job.push({ values: new Float64Array([1, 2, 3]) });
    await job.checkpoint();
    expect([...sink.committed()]).toEqual([NaN, 3, 5]);
    await job.abort();
  }, 60_000);

  it('metrics: latency percentiles of every row written, ordered, in ms; run() measures from the read', async () => {
    const sink = memorySink();
    const job = await createJob({ adapter: nodeWorkers(), operator: { op: 'sum', window: 4 }, workers: 1, sink });
    const values = Float64Array.from({ length: 5000 }, (_, i) => i % 17);
    const batches = Array.from({ length: 50 }, (_, i) => ({ values: values.slice(i * 100, i * 100 + 100) }));
    await job.run(batches);
    const { rows, batches: sent, latency } = job.metrics();
    expect(rows).toBe(5000);
    expect(sent).toBe(50);
    expect(latency.count).toBe(5000);
    expect(latency.p50).toBeGreaterThan(0);
    expect(latency.p50).toBeLessThanOrEqual(latency.p99);
    expect(latency.p99).toBeLessThanOrEqual(latency.p999);
    expect(latency.p999).toBeLessThanOrEqual(latency.max);
    expect(latency.mean).toBeLessThanOrEqual(latency.max);
  }, 60_000);

  it('regression: maxBatchDelayMs and maxBatchRows are validated with exact errors', async () => {
    const adapter: WorkerAdapter = { platform: 'test', concurrency: 2, spawn: () => { throw new Error('no workers in option tests'); } };
    const base = { adapter, operator: { op: 'mean', window: 3 }, sink: memorySink() } as const;
    const cases: [Record<string, unknown>, string][] = [
      [{ maxBatchDelayMs: -1 }, 'RangeError: maxBatchDelayMs must be a non-negative finite number, got -1'],
      [{ maxBatchDelayMs: Infinity }, 'RangeError: maxBatchDelayMs must be a non-negative finite number, got Infinity'],
      [{ maxBatchDelayMs: '5' }, "TypeError: maxBatchDelayMs must be a number, got '5'"],
      [{ maxBatchRows: 0 }, 'RangeError: maxBatchRows must be a positive integer, got 0'],
      [{ maxBatchRows: 1.5 }, 'RangeError: maxBatchRows must be a positive integer, got 1.5'],
    ];
    for (const [extra, message] of cases) {
      const got = await createJob({ ...base, ...extra } as never).then(
        () => 'accepted',
        (e: Error) => `${e.name}: ${e.message}`,
      );
      expect(got).toBe(message);
    }
  });

  it('regression: a one-row push (shared memory, 2 workers) waited for both workers to answer; it waits only for the worker owning its key', async () => {
    // Worker 1's messages are held back until released: a row of worker 0's key must still be written.
    const base = nodeWorkers();
    const held: { t: string; post: () => void }[] = [];
    let spawned = 0;
    let hold = true;
    const adapter: WorkerAdapter = {
      ...base,
      spawn() {
        const handle = base.spawn();
        const index = spawned++;
        return {
          ...handle,
          post: (message, transfer) => {
            const { t } = message as { t: string };
            if (index === 1 && hold && t !== 'init') held.push({ t, post: () => handle.post(message, transfer) });
            else handle.post(message, transfer);
          },
        };
      },
    };
    const ownerOf = (key: number): number => workerOfKeyGroup(keyGroupOf(key, DEFAULT_KEY_GROUPS), DEFAULT_KEY_GROUPS, 2);
    const keys = Uint32Array.from({ length: 40 }, (_, k) => k).filter((k) => ownerOf(k) === 0).slice(0, 3);
    const values = Float64Array.from(keys, (_, i) => i + 0.5);
    const sink = watchedSink();
    const job = await createJob({ adapter, operator: { op: 'sum', window: 2 }, keyed: true, workers: 2, sink });
    for (let i = 0; i < keys.length; i++) {
      await job.push({ values: values.slice(i, i + 1), keys: keys.slice(i, i + 1) });
      await sink.until(i + 1); // hangs (test timeout) while a row waits for worker 1
    }
    expect(held.filter(({ t }) => t === 'shared' || t === 'batch')).toEqual([]); // worker 1 was sent none of the rows
    hold = false;
    for (const { post } of held) post(); // a checkpoint barrier, if one was due
    await job.finish();
    expect(sink.values()).toEqual([...(await reference({ op: 'sum', window: 2 }, values, keys))]);
  }, 30_000);

  it('regression: the coordinator made its routing arrays and, for each larger batch, a shared buffer anew per batch (its major GCs landed on rows); pooled ones serve batches of every size, with the same results, and workers hand transferred buffers back', async () => {
    // Batches growing by 37 rows: before, no pooled buffer fitted the next, larger batch, so each made its own.
    const sizes = Array.from({ length: 60 }, (_, i) => 1 + i * 37);
    const rows = sizes.reduce((a, b) => a + b, 0);
    const keys = Uint32Array.from({ length: rows }, (_, i) => (i * 7919) % 50);
    const values = Float64Array.from({ length: rows }, (_, i) => Math.sin(i) * 100);
    const expected = [...(await reference({ op: 'mean', window: 5 }, values, keys))];
    // Shared memory, and the split/transfer path (an adapter without it): each reuses its routing arrays.
    for (const sharedMemory of [true, false]) {
      const base = nodeWorkers();
      const buffers = new Set<SharedArrayBuffer>();
      let handedBack = 0;
      const adapter: WorkerAdapter = {
        ...base,
        sharedMemory,
        spawn() {
          const handle = base.spawn();
          return {
            ...handle,
            onMessage: (handler) =>
              handle.onMessage((message) => {
                handedBack += (message as { back?: ArrayBuffer[] }).back?.length ?? 0;
                handler(message);
              }),
            post: (message, transfer) => {
              const { t, buffer } = message as { t: string; buffer?: SharedArrayBuffer };
              if (t === 'shared') buffers.add(buffer!);
              handle.post(message, transfer);
            },
          };
        },
      };
      const sink = memorySink();
      const job = await createJob({ adapter, operator: { op: 'mean', window: 5 }, keyed: true, workers: 2, sink });
      let at = 0;
      for (const n of sizes) {
        await job.push({ values: values.slice(at, at + n), keys: keys.slice(at, at + n) });
        at += n;
      }
      await job.finish();
      // At most one more than the batches in flight (4 per worker) per power of two of rows (1 024 … 4 096).
      if (sharedMemory) expect(buffers.size).toBeLessThanOrEqual(3 * (4 * 2 + 1));
      // The split/transfer path: each worker hands its batch's keys back for the next batches' parts.
      else expect(handedBack).toBeGreaterThanOrEqual(sizes.length);
      expect([...sink.committed()]).toEqual(expected);
    }
  }, 60_000);
});

describe('scheduler: no ArrayBuffer per pushed row (issue 20, the coordinator\'s major GCs)', () => {
  const rows = 3000;
  const keysAll = Uint32Array.from({ length: rows }, (_, i) => (i * 7919) % 40);
  const valuesAll = Float64Array.from({ length: rows }, (_, i) => Math.cos(i) * 50);
  const sizes = [1, 7, 64, 200, 13, 500, 1, 90];

  it('regression: the job kept the caller\'s pushed arrays until a checkpoint (per-push buffers outlived the young generation and started major GCs); it copies them, so arrays reused as soon as push returns give the single-thread result, through a replay too', async () => {
    const expected = [...(await reference({ op: 'mean', window: 5 }, valuesAll, keysAll))];
    for (const config of [{ sharedMemory: true }, { sharedMemory: false }, { sharedMemory: true, maxBatchDelayMs: 1, maxBatchRows: 64 }]) {
      const adapter: WorkerAdapter = { ...nodeWorkers(), sharedMemory: config.sharedMemory };
      const sink = memorySink();
      // A worker fails after batch 5: the rows since the last checkpoint are replayed from the job's log.
      const job = await createJob({ adapter, operator: { op: 'mean', window: 5 }, keyed: true, workers: 2, sink, maxBatchDelayMs: config.maxBatchDelayMs ?? 0, maxBatchRows: config.maxBatchRows ?? 65_536, checkpoints: { everyRows: 700 }, faults: [{ afterBatch: 5, worker: 1, kind: 'throw' }] });
      // One pair of arrays for every push, overwritten with garbage as soon as push returns.
      const values = new Float64Array(500);
      const keys = new Uint32Array(500);
      for (let at = 0, i = 0; at < rows; i++) {
        const n = Math.min(sizes[i % sizes.length]!, rows - at);
        values.set(valuesAll.subarray(at, at + n));
        keys.set(keysAll.subarray(at, at + n));
        const pushed = job.push({ values: values.subarray(0, n), keys: keys.subarray(0, n) });
        values.fill(NaN);
        keys.fill(12345);
        await pushed;
        at += n;
      }
      const result = await job.finish();
      expect([...sink.committed()], JSON.stringify(config)).toEqual(expected);
      expect(result.restarts, JSON.stringify(config)).toBe(1);
    }
  }, 60_000);

  it('regression: every batch\'s results were a new array even for a sink that keeps none (8 bytes per row of ArrayBuffers); with keepsValues: false they come in reused buffers, with the same results', async () => {
    const expected = [...(await reference({ op: 'mean', window: 5 }, valuesAll, keysAll))];
    for (const sharedMemory of [true, false]) {
      const buffers = new Set<ArrayBufferLike>();
      const got: number[] = [];
      const sink: Sink = {
        keepsValues: false,
        write: (b) => {
          buffers.add(b.values.buffer);
          got.push(...b.values);
        },
        preCommit: () => null,
        commit: () => undefined,
        recover: () => undefined,
      };
      const job = await createJob({ adapter: { ...nodeWorkers(), sharedMemory }, operator: { op: 'mean', window: 5 }, keyed: true, workers: 2, sink });
      let batches = 0;
      for (let at = 0; at < rows; batches++) {
        const n = Math.min([1, 7, 64, 13, 30][batches % 5]!, rows - at);
        await job.push({ values: valuesAll.slice(at, at + n), keys: keysAll.slice(at, at + n) });
        at += n;
      }
      await job.finish();
      expect(got).toEqual(expected);
      expect(batches).toBeGreaterThan(4 * (4 + 1) * 2);
      // Pooled: at most the buffers of the batches in flight and their parts (4 per worker and batch), not one per batch.
      // (On the transfer path a buffer that went to a worker and back is another ArrayBuffer object over the same memory.)
      if (sharedMemory) expect(buffers.size).toBeLessThanOrEqual(4 * (4 + 1) * 2);
    }
  }, 60_000);

  it('regression: sink.keepsValues must be a boolean (exact error)', async () => {
    const sink = { ...memorySink(), keepsValues: 'no' };
    await expect(createJob({ adapter: nodeWorkers(), operator: { op: 'mean', window: 5 }, sink: sink as unknown as Sink })).rejects.toThrow(new TypeError("sink.keepsValues must be a boolean, got 'no'"));
  });
});

describe('heartbeats while the coordinator is held up', () => {
  it("regression: a coordinator held up past heartbeat.timeoutMs (a long task, or no CPU under load) judged its workers hung from heartbeats still queued unread, and restarted them; it reads them first, and the job goes on", async () => {
    const sink = memorySink();
    const job = await createJob({ adapter: nodeWorkers(), operator: { op: 'sum', window: 2 }, workers: 2, sink, heartbeat: { intervalMs: 20, timeoutMs: 1_000 }, restart: { maxRestarts: 0 } });
    await job.push({ values: new Float64Array([1, 2, 3]) });
    await job.checkpoint();
    // Held up inside a timer callback for 2.5 timeouts: the monitor's next run comes before the workers' messages are read.
    // (A timeout of a second, not less: on a loaded machine a worker itself can go 200 ms without the CPU to send a heartbeat.)
    for (let round = 0; round < 2; round++) {
      await new Promise<void>((resolve) =>
        setTimeout(() => {
          const end = Date.now() + 2_500;
          while (Date.now() < end);
          resolve();
        }, 0),
      );
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await job.push({ values: new Float64Array([4, 5]) });
    const result = await job.finish();
    expect(result.restarts).toBe(0);
    expect([...sink.committed()]).toEqual([NaN, 3, 5, 7, 9]);
  }, 60_000);
});
