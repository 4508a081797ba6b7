// finish({ checkpoint: false }): every result written to the sink, no final
// checkpoint (issue 13: the CLI's ops paid one that nobody reads, ~25 ms of
// CPU per worker plus the coordinator's CRC-32 and encoding).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  createJob,
  makeKeys,
  makeValues,
  memoryCheckpointStore,
  memorySink,
  nodeWorkers,
  prng,
  reference,
  sameBytes,
  type CheckpointStore,
  type Fault,
  type OutputBatch,
  type Sink,
} from './scheduler-helpers.js';
import type { KernelSpec, WindowResult } from '../src/types.js';

/** A sink whose writes are final, as the CLI's queues: results by row, a row written again after a recovery dropped. */
function finalSink(): { sink: Sink; values: () => Float64Array; windows: WindowResult[] } {
  const chunks: Float64Array[] = [];
  let received = 0;
  const windows: WindowResult[] = [];
  let windowRows = 0;
  const sink: Sink = {
    write(b: OutputBatch) {
      if (b.windows !== undefined) {
        if (b.offset < windowRows) return;
        windows.push(...b.windows);
        windowRows += b.rows ?? 0;
        return;
      }
      const skip = received - b.offset;
      if (skip < 0) throw new Error(`rows ${received} to ${b.offset - 1} skipped`);
      if (skip >= b.values.length) return;
      chunks.push(b.values.slice(skip));
      received += b.values.length - skip;
    },
    preCommit: () => ({ rows: received }),
    commit() {},
    recover() {},
  };
  const values = (): Float64Array => {
    const out = new Float64Array(received);
    let at = 0;
    for (const c of chunks) (out.set(c, at), (at += c.length));
    return out;
  };
  return { sink, values, windows };
}

/** A memory store that counts its saves. */
function countingStore(): { store: CheckpointStore; saves: () => number } {
  const inner = memoryCheckpointStore({ keep: 4 });
  let saves = 0;
  const store: CheckpointStore = {
    list: () => inner.list(),
    read: (id) => inner.read(id),
    save: (id, bytes) => (saves++, inner.save(id, bytes)),
    saveParts: (id, parts) => (saves++, inner.saveParts!(id, parts)),
  };
  return { store, saves: () => saves };
}

const SPEC: KernelSpec = { op: 'median', window: 5 };

describe('finish without a final checkpoint', () => {
  it('regression: finish() took a final checkpoint even where nobody reads it (the CLI ops\' memory store); finish({ checkpoint: false }) writes every result and saves none', async () => {
    const rand = prng(13);
    const values = makeValues(rand, 3000);
    const keys = makeKeys(rand, 3000, 30);
    const { store, saves } = countingStore();
    const out = finalSink();
    const job = await createJob({ adapter: nodeWorkers(), operator: SPEC, keyed: true, workers: 2, sink: out.sink, checkpoints: { store, everyMs: Infinity } });
    for (let a = 0; a < values.length; a += 700) await job.push({ values: values.slice(a, a + 700), keys: keys.slice(a, a + 700) });
    const result = await job.finish({ checkpoint: false });
    expect(result.rows).toBe(3000);
    expect(saves()).toBe(0);
    expect(result.lastCheckpointId).toBe(0);
    expect(sameBytes(out.values(), await reference(SPEC, values, keys))).toBe(true);
  });

  it('refuses a checkpoint option that is not a boolean, naming it', async () => {
    const job = await createJob({ adapter: nodeWorkers(), operator: SPEC, keyed: true, workers: 1, sink: memorySink() });
    await expect(job.finish({ checkpoint: 'no' as unknown as boolean })).rejects.toThrow(new TypeError("checkpoint must be a boolean, got 'no'"));
    await job.abort();
  });

  it('finish() still takes the final checkpoint and commits every result', async () => {
    const rand = prng(14);
    const values = makeValues(rand, 1000);
    const keys = makeKeys(rand, 1000, 10);
    const { store, saves } = countingStore();
    const sink = memorySink();
    const job = await createJob({ adapter: nodeWorkers(), operator: SPEC, keyed: true, workers: 2, sink, checkpoints: { store, everyMs: Infinity } });
    await job.push({ values, keys });
    const result = await job.finish();
    expect(saves()).toBe(1);
    expect(sink.committedOffset).toBe(1000);
    expect(sameBytes(sink.committed(), await reference(SPEC, values, keys))).toBe(true);
    expect(result.lastCheckpointId).toBe(1);
  });

  it('property: any batch split, worker count, periodic checkpoints and failed worker: finish({ checkpoint: false }) writes the single-thread results, each row once', async () => {
    const rand = prng(15);
    const values = makeValues(rand, 1200);
    const keys = makeKeys(rand, 1200, 25);
    const expected = await reference(SPEC, values, keys);
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 3 }),
        fc.array(fc.integer({ min: 1, max: 400 }), { minLength: 1, maxLength: 8 }),
        fc.option(fc.record({ afterBatch: fc.integer({ min: 0, max: 6 }), worker: fc.integer({ min: 0, max: 2 }) }), { nil: undefined }),
        fc.option(fc.integer({ min: 100, max: 900 }), { nil: undefined }),
        async (workers, sizes, fault, everyRows) => {
          const out = finalSink();
          const faults: Fault[] = fault === undefined ? [] : [{ ...fault, kind: 'throw' }];
          const job = await createJob({
            adapter: nodeWorkers(),
            operator: SPEC,
            keyed: true,
            workers,
            sink: out.sink,
            checkpoints: { store: memoryCheckpointStore({ keep: 4 }), everyMs: Infinity, ...(everyRows !== undefined ? { everyRows } : {}) },
            restart: { initialDelayMs: 1 },
            faults,
          });
          let i = 0;
          for (let a = 0; a < values.length; i++) {
            const n = sizes[i % sizes.length]!;
            await job.push({ values: values.slice(a, a + n), keys: keys.slice(a, a + n) });
            a += n;
          }
          await job.finish({ checkpoint: false });
          expect(sameBytes(out.values(), expected)).toBe(true);
        },
      ),
      { numRuns: 12 },
    );
  });

  it('window kinds: the end-of-stream windows are written, the same records as with the final checkpoint', async () => {
    const spec = { kind: 'tumbling', op: 'sum', size: '50ms' } as const;
    const rand = prng(16);
    const n = 2000;
    const values = makeValues(rand, n, false);
    const keys = makeKeys(rand, n, 20);
    const times = new Float64Array(n);
    for (let i = 1; i < n; i++) times[i] = times[i - 1]! + Math.floor(rand() * 3);
    const run = async (checkpoint: boolean): Promise<{ windows: WindowResult[]; saves: number }> => {
      const out = finalSink();
      const { store, saves } = countingStore();
      const job = await createJob({ adapter: nodeWorkers(), operator: spec, keyed: true, workers: 2, sink: out.sink, checkpoints: { store, everyMs: Infinity } });
      for (let a = 0; a < n; a += 500) await job.push({ values: values.slice(a, a + 500), keys: keys.slice(a, a + 500), times: times.slice(a, a + 500) });
      await job.finish({ checkpoint });
      return { windows: out.windows, saves: saves() };
    };
    const withCheckpoint = await run(true);
    const without = await run(false);
    expect(withCheckpoint.saves).toBe(2); // the drain's and the ended state's
    expect(without.saves).toBe(0);
    expect(without.windows.length).toBeGreaterThan(0);
    expect(without.windows).toEqual(withCheckpoint.windows);
  });
});
