// JobOptions.coordinatorPartition: worker 0's key groups run in the
// coordinator's thread (src/scheduler/in-thread.ts). The job must be the same
// job: the single-thread results for any worker count and batch split, the
// same checkpoints as with every partition on a worker thread, and every row
// exactly once when the in-thread partition (or a worker thread beside it)
// fails. The scheduler is imported from dist/ (npm test builds first).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  arraySource,
  createJob,
  decodeCheckpoint,
  firstDifference,
  int,
  makeKeys,
  makeValues,
  memoryCheckpointStore,
  memorySink,
  nodeWorkers,
  pick,
  prng,
  randomSpec,
  reference,
  sameBytes,
  type Fault,
  type OutputBatch,
  type WorkerAdapter,
} from './scheduler-helpers.js';

/** nodeWorkers() counting the worker threads it starts. */
function countingWorkers(): { adapter: WorkerAdapter; spawned: () => number } {
  const inner = nodeWorkers();
  let spawned = 0;
  const adapter: WorkerAdapter = {
    platform: inner.platform,
    concurrency: inner.concurrency,
    sharedMemory: inner.sharedMemory,
    spawn: () => {
      spawned++;
      return inner.spawn();
    },
  };
  return { adapter, spawned: () => spawned };
}

/** One job over `values`/`keys`: its committed results, its final checkpoint's groups and the worker threads it started. */
async function runJob(seed: number, workers: number, batchRows: number, coordinatorPartition: boolean) {
  const rand = prng(seed);
  const spec = randomSpec(rand);
  const n = int(rand, 500, 4000);
  const values = makeValues(rand, n);
  const keys = makeKeys(rand, n, int(rand, 1, 60));
  const store = memoryCheckpointStore();
  const sink = memorySink();
  const { adapter, spawned } = countingWorkers();
  const job = await createJob({ adapter, operator: spec, keyed: true, workers, sink, checkpoints: { store, everyMs: Infinity, everyRows: 1500 }, coordinatorPartition });
  await job.run(arraySource(values, { keys, batchRows }));
  const ids = await store.list();
  const last = decodeCheckpoint(await store.read(Math.max(...ids)));
  return { spec, values, keys, results: sink.committed(), groups: last.groups, offset: last.offset, threads: spawned() };
}

describe('coordinatorPartition', () => {
  it('property: any worker count and batch split give the single-thread results and the checkpoints of a job with every partition on a worker thread', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 1e6 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 900 }), async (seed, workers, batchRows) => {
        const on = await runJob(seed, workers, batchRows, true);
        const off = await runJob(seed, workers, batchRows, false);
        const expected = await reference(on.spec, on.values, on.keys);
        expect(sameBytes(on.results, expected), `first difference at row ${firstDifference(on.results, expected)}`).toBe(true);
        expect(on.threads).toBe(workers - 1);
        expect(off.threads).toBe(workers);
        expect(on.offset).toBe(off.offset);
        expect([...on.groups.keys()].sort((a, b) => a - b)).toEqual([...off.groups.keys()].sort((a, b) => a - b));
        for (const [g, bytes] of off.groups) expect(Buffer.from(on.groups.get(g)!).equals(Buffer.from(bytes)), `group ${g}`).toBe(true);
      }),
      { numRuns: 10, seed: 15 },
    );
  });

  it('every row exactly once when the in-thread partition or a worker thread fails (terminated, exits, throws, traps, hangs)', async () => {
    const kinds: Fault['kind'][] = ['terminate', 'exit', 'throw', 'trap', 'hang'];
    for (let seed = 1; seed <= 15; seed++) {
      const rand = prng(7000 + seed);
      const spec = randomSpec(rand);
      const workers = int(rand, 1, 3);
      const n = int(rand, 2000, 8000);
      const batchRows = int(rand, 100, 1200);
      const values = makeValues(rand, n);
      const keys = makeKeys(rand, n, int(rand, 1, 40));
      const batches = Math.ceil(n / batchRows);
      // Most faults on worker 0, the in-thread partition; every kind on it once.
      const worker = seed <= 10 ? 0 : int(rand, 0, workers - 1);
      // A fault fails its worker's next batch: never after the last one.
      const faults: Fault[] = [{ afterBatch: int(rand, 0, batches - 2), worker, kind: seed <= kinds.length ? kinds[seed - 1]! : pick(rand, kinds) }];
      const seen: OutputBatch[] = [];
      const sink = memorySink({ onCommit: (b) => seen.push(b) });
      const job = await createJob({
        adapter: nodeWorkers(),
        operator: spec,
        keyed: true,
        workers,
        sink,
        coordinatorPartition: true,
        checkpoints: { everyRows: int(rand, 300, 3000), everyMs: Infinity },
        restart: { maxRestarts: 20, initialDelayMs: 1, maxDelayMs: 10 },
        heartbeat: { intervalMs: 50, timeoutMs: 1500 },
        faults,
      });
      const result = await job.run(arraySource(values, { keys, batchRows }));
      const repro = `seed ${seed}: ${JSON.stringify({ spec, workers, n, batchRows, faults, restarts: result.restarts })}`;
      let offset = 0;
      for (const b of seen) {
        expect(b.offset, repro).toBe(offset);
        offset += b.values.length;
      }
      expect(offset, repro).toBe(n);
      // The fault fired, and the job recovered from it.
      expect(result.restarts, repro).toBeGreaterThan(0);
      const expected = await reference(spec, values, keys);
      const got = sink.committed();
      expect(sameBytes(got, expected), `${repro}: first difference at row ${firstDifference(got, expected)}`).toBe(true);
    }
  });

  it('is a boolean', async () => {
    await expect(createJob({ adapter: nodeWorkers(), operator: { op: 'mean', window: 3 }, sink: memorySink(), coordinatorPartition: 'yes' as unknown as boolean })).rejects.toThrow(
      new TypeError("coordinatorPartition must be a boolean, got 'yes'"),
    );
  });
});
