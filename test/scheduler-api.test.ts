// The scheduler's API: option errors (verbatim), the key hash and key-group
// ranges, backpressure, and parallelRolling against the single-thread result.
import { describe, expect, it } from 'vitest';
import { ewm, rolling } from '../src/index.js';
import type { KernelSpec } from '../src/types.js';
import {
  createJob,
  int,
  keyGroupOf,
  keyGroupRange,
  keyHash,
  makeValues,
  memoryCheckpointStore,
  memorySink,
  nodeWorkers,
  parallelRolling,
  pick,
  prng,
  randomSpec,
  sameBytes,
  workerOfKeyGroup,
  type WorkerAdapter,
} from './scheduler-helpers.js';

const fakeAdapter: WorkerAdapter = { platform: 'test', concurrency: 2, spawn: () => { throw new Error('no workers in option tests'); } };
const sink = memorySink();
const base = { adapter: fakeAdapter, operator: { op: 'mean', window: 3 }, sink } as const;

async function optionError(options: unknown): Promise<string> {
  try {
    await createJob(options as never);
  } catch (e) {
    return `${(e as Error).name}: ${(e as Error).message}`;
  }
  return 'accepted';
}

describe('createJob options', () => {
  const cases: [unknown, string][] = [
    [null, 'TypeError: options must be an object, got null'],
    [{ ...base, wrokers: 2 }, "TypeError: unknown option 'wrokers'; allowed: adapter, operator, sink, keyed, workers, keyGroups, maxInFlight, checkpoints, restart, heartbeat, resume, idleTimeoutMs, maxBatchDelayMs, maxBatchRows, coordinatorPartition, faults"],
    [{ ...base, adapter: undefined }, 'TypeError: adapter must be a WorkerAdapter (an object with spawn()), got undefined'],
    [{ ...base, operator: undefined }, "TypeError: operator is required: a kernel spec such as { op: 'mean', window: 100 }"],
    [{ ...base, operator: { op: 'mean', window: 0 } }, 'RangeError: window must be an integer from 1 to 16777216, got 0'],
    [{ ...base, sink: {} }, 'TypeError: sink must be a Sink (an object with write, preCommit, commit and recover methods), got object'],
    [{ ...base, keyed: 1 }, 'TypeError: keyed must be a boolean, got 1'],
    [{ ...base, workers: '2' }, "TypeError: workers must be a number, got '2'"],
    [{ ...base, workers: 0 }, 'RangeError: workers must be an integer from 1 to keyGroups (128), got 0'],
    [{ ...base, workers: 9, keyGroups: 8 }, 'RangeError: workers must be an integer from 1 to keyGroups (8), got 9'],
    [{ ...base, workers: 1.5 }, 'RangeError: workers must be an integer from 1 to keyGroups (128), got 1.5'],
    [{ ...base, keyGroups: 0 }, 'RangeError: keyGroups must be an integer from 1 to 32768, got 0'],
    [{ ...base, keyGroups: 40000 }, 'RangeError: keyGroups must be an integer from 1 to 32768, got 40000'],
    [{ ...base, maxInFlight: 0 }, 'RangeError: maxInFlight must be a positive integer, got 0'],
    [{ ...base, checkpoints: 5 }, 'TypeError: checkpoints must be an object, got 5'],
    [{ ...base, checkpoints: { every: 5 } }, "TypeError: unknown checkpoints field 'every'; allowed: store, everyRows, everyMs, fullEvery"],
    [{ ...base, checkpoints: { store: {} } }, 'TypeError: checkpoints.store must be a CheckpointStore (an object with save, list and read methods), got object'],
    [{ ...base, checkpoints: { everyRows: 0 } }, 'RangeError: checkpoints.everyRows must be a positive integer or Infinity, got 0'],
    [{ ...base, checkpoints: { everyMs: -1 } }, 'RangeError: checkpoints.everyMs must be a positive number or Infinity, got -1'],
    [{ ...base, checkpoints: { everyMs: NaN } }, 'RangeError: checkpoints.everyMs must be a positive number or Infinity, got NaN'],
    [{ ...base, restart: { maxRestarts: -1 } }, 'RangeError: restart.maxRestarts must be a non-negative integer, got -1'],
    [{ ...base, restart: { windowMs: 0 } }, 'RangeError: restart.windowMs must be a positive number or Infinity, got 0'],
    [{ ...base, restart: { initialDelayMs: Infinity } }, 'RangeError: restart.initialDelayMs must be a non-negative finite number, got Infinity'],
    [{ ...base, restart: { initialDelayMs: 50, maxDelayMs: 10 } }, 'RangeError: restart.maxDelayMs must be a finite number ≥ initialDelayMs (50), got 10'],
    [{ ...base, heartbeat: { intervalMs: 0 } }, 'RangeError: heartbeat.intervalMs must be a positive finite number, got 0'],
    [{ ...base, heartbeat: { timeoutMs: 100 } }, 'RangeError: heartbeat.timeoutMs must be a finite number greater than intervalMs (250), got 100'],
    [{ ...base, resume: 'yes' }, "TypeError: resume must be a boolean, got 'yes'"],
    [{ ...base, faults: [{ afterBatch: 0, worker: 0, kind: 'boom' }] }, "TypeError: faults[0].kind must be one of 'terminate', 'exit', 'throw', 'trap', 'hang', got 'boom'"],
  ];
  for (const [options, message] of cases) {
    it(message, async () => {
      expect(await optionError(options)).toBe(message);
    });
  }

  it('parallelRolling checks its options', async () => {
    const err = (o: unknown) => parallelRolling([1, 2], { op: 'sum', window: 2 }, o as never).then(() => 'accepted', (e: Error) => `${e.name}: ${e.message}`);
    expect(await err(undefined)).toBe('TypeError: options must be an object, got undefined');
    expect(await err({ adapter: fakeAdapter, workers: 0 })).toBe('RangeError: workers must be an integer from 1 to 1024, got 0');
    expect(await err({ adapter: fakeAdapter, chunkRows: 0 })).toBe('RangeError: chunkRows must be a positive integer, got 0');
    expect(await err({ adapter: fakeAdapter, chunks: 2 })).toBe("TypeError: unknown option 'chunks'; allowed: adapter, workers, chunkRows");
  });

  it('memory store and batches check their arguments', async () => {
    expect(() => memoryCheckpointStore({ keep: 0 })).toThrow(new RangeError('keep must be a positive integer, got 0'));
    const job = await createJob({ adapter: nodeWorkers(), operator: { op: 'sum', window: 2 }, keyed: true, workers: 1, sink: memorySink() });
    await expect(job.push({ values: new Float64Array(2) })).rejects.toThrow(new TypeError('batch.keys is required: the job is keyed'));
    await expect(job.push({ values: new Float64Array(2), keys: new Uint32Array(1) })).rejects.toThrow(
      new RangeError('batch.keys must have one key per value: got 1 keys for 2 values'),
    );
    await expect(job.push({ values: [1, 2] as never, keys: new Uint32Array(2) })).rejects.toThrow(new TypeError('batch.values must be a Float64Array, got an array'));
    await job.finish();
    await expect(job.push({ values: new Float64Array(1), keys: new Uint32Array(1) })).rejects.toThrow('job has finished');
  });
});

describe('keys → key groups → workers', () => {
  it('hashes stably (documented values)', () => {
    expect([0, 1, 2, 42, 0xffffffff].map(keyHash)).toEqual([0, 1364076727, 821347078, 142593372, 2180083513]);
    expect(keyGroupOf(42, 128)).toBe(4);
    expect(keyGroupOf(1, 128)).toBe(40);
  });

  it('spreads keys evenly over groups', () => {
    const counts = new Array(128).fill(0);
    for (let k = 0; k < 128_000; k++) counts[keyGroupOf(k, 128)]++;
    expect(Math.min(...counts)).toBeGreaterThan(850);
    expect(Math.max(...counts)).toBeLessThan(1150);
  });

  it('gives each worker one contiguous range, covering every group once', () => {
    for (const groups of [1, 7, 128, 1000]) {
      for (let workers = 1; workers <= Math.min(groups, 9); workers++) {
        let next = 0;
        for (let w = 0; w < workers; w++) {
          const [start, end] = keyGroupRange(w, groups, workers);
          expect(start).toBe(next);
          for (let g = start; g < end; g++) expect(workerOfKeyGroup(g, groups, workers)).toBe(w);
          next = end;
        }
        expect(next).toBe(groups);
      }
    }
  });
});

describe('parallelRolling', () => {
  it('is bit-identical to the single-thread result for every op, with NaN, ±Infinity and minPeriods', async () => {
    const rand = prng(99);
    const adapter = nodeWorkers();
    for (let run = 0; run < 30; run++) {
      const spec: KernelSpec = randomSpec(rand);
      if (spec.op !== 'ewm' && rand() < 0.3) (spec as { window: number }).window = pick(rand, [129, 1000, 4097]);
      const n = int(rand, 1, 60_000);
      const values = makeValues(rand, n);
      const workers = int(rand, 1, 4);
      const chunkRows = rand() < 0.5 ? undefined : int(rand, 1, 9000);
      const got = await parallelRolling(values, spec, { adapter, workers, chunkRows });
      const want = spec.op === 'ewm' ? await ewm(values, { ...spec, op: undefined } as never) : await rolling(values, spec);
      expect(sameBytes(got, want), JSON.stringify({ run, spec, n, workers, chunkRows })).toBe(true);
    }
  });
});

describe('backpressure', () => {
  it('push resolves only when the workers have room: rows in flight stay bounded', async () => {
    const offsets: number[] = [];
    const out = memorySink({ keep: false, onCommit: (b) => offsets.push(b.offset) });
    let written = 0;
    const write = out.write.bind(out);
    out.write = (b) => {
      written += b.values.length;
      return write(b);
    };
    const job = await createJob({ adapter: nodeWorkers(), operator: { op: 'median', window: 50 }, keyed: true, workers: 2, maxInFlight: 1, sink: out });
    const rows = 20_000;
    let maxAhead = 0;
    const pushes: Promise<void>[] = [];
    for (let i = 0; i < 40; i++) {
      const values = new Float64Array(rows).map((_, j) => (j * 7919) % 1000);
      const keys = new Uint32Array(rows).map((_, j) => j % 100);
      pushes.push(job.push({ values, keys }).then(() => void (maxAhead = Math.max(maxAhead, job.offset - written))));
    }
    await Promise.all(pushes);
    const result = await job.finish();
    expect(result.rows).toBe(40 * rows);
    // maxInFlight × workers batches may be dispatched and unwritten, plus the one just pushed.
    expect(maxAhead).toBeLessThanOrEqual(3 * rows);
    expect(offsets).toEqual(Array.from({ length: 40 }, (_, i) => i * rows));
  });
});
