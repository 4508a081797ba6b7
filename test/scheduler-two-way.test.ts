// Issue 13: the coordinator's scatter and merge for two workers in
// WebAssembly over the shared batch buffer (src/scheduler/two-way.ts,
// assembly/kernels/scatter.ts), and the JavaScript loops where a shared
// WebAssembly memory cannot be made.
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { STAGE_ROWS, TwoWayPasses } from '../dist/src/scheduler/two-way.js';
import type { KernelSpec } from '../src/types.js';
import { createJob, makeKeys, makeValues, memorySink, nodeWorkers, prng, reference, sameBytes } from './scheduler-helpers.js';

/** Scatters and merges `rows` rows (a `share` of them worker 1's) through a pooled buffer's passes, checking every place. */
function scatterAndMerge(seed: number, rows: number, share: number): void {
  const rand = prng(seed);
  const capacity = Math.max(1024, 2 ** Math.ceil(Math.log2(rows)));
  const passes = TwoWayPasses.create(capacity * 20, capacity);
  expect(passes).toBeDefined();
  const values = makeValues(rand, rows);
  const keys = Uint32Array.from({ length: rows }, () => Math.floor(rand() * 2 ** 32));
  const workers = Array.from({ length: rows }, () => (rand() < share ? 1 : 0));
  passes!.rowWorker.set(workers);
  const start1 = workers.filter((w) => w === 0).length;
  passes!.scatter(values, keys, start1);
  const f64 = new Float64Array(passes!.buffer);
  const u32 = new Uint32Array(passes!.buffer);
  const at = [0, start1];
  for (let i = 0; i < rows; i++) {
    const p = at[workers[i]!]!++;
    if (!Object.is(f64[p], values[i]) || u32[rows * 4 + p] !== keys[i]) throw new Error(`row ${i}: scattered to ${p} wrong`);
  }
  // Each worker's results in its range: row i's result is the row's index, written at its place.
  at[0] = 0;
  at[1] = start1;
  for (let i = 0; i < rows; i++) f64[rows + at[workers[i]!]!++] = i + 0.25;
  const out = new Float64Array(rows);
  passes!.merge(out, start1);
  for (let i = 0; i < rows; i++) if (out[i] !== i + 0.25) throw new Error(`row ${i}: merged ${out[i]}`);
}

describe('two workers: scatter and merge in WebAssembly over the batch buffer', () => {
  it('property: the scatter puts each row\'s value and key at its worker\'s next place, and the merge reads results back in row order, for any split (one worker\'s rows only included) and batch sizes up to the capacity', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1 << 30 }), fc.integer({ min: 1, max: 4096 }), fc.constantFrom(0, 0.5, 1, 0.1), scatterAndMerge),
      { numRuns: 60 },
    );
  });

  it('property: a batch of several staging chunks (STAGE_ROWS rows each, the last one partial or whole) is scattered and merged as one', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1 << 30 }), fc.integer({ min: STAGE_ROWS - 2, max: 3 * STAGE_ROWS + 2 }), fc.constantFrom(0, 0.5, 1, 0.1, 0.9), scatterAndMerge),
      { numRuns: 12, examples: [[7, STAGE_ROWS, 0.5], [8, 2 * STAGE_ROWS, 0.3], [9, STAGE_ROWS + 1, 0.5]] },
    );
  });
});

describe('two workers without shared WebAssembly memory', () => {
  const Memory = WebAssembly.Memory;
  afterEach(() => {
    (WebAssembly as { Memory: typeof WebAssembly.Memory }).Memory = Memory;
  });

  it('a runtime that refuses a shared WebAssembly.Memory gets the JavaScript scatter and merge: the single kernel\'s bits for any batch split', async () => {
    (WebAssembly as { Memory: unknown }).Memory = function RefusingMemory(descriptor: WebAssembly.MemoryDescriptor) {
      if (descriptor.shared === true) throw new TypeError('no shared memory here');
      return new Memory(descriptor);
    };
    const rand = prng(5);
    const spec: KernelSpec = { op: 'median', window: 6 };
    const values = makeValues(rand, 6000);
    const keys = makeKeys(rand, 6000, 300);
    const sink = memorySink();
    const job = await createJob({ adapter: nodeWorkers(), operator: spec, keyed: true, workers: 2, sink });
    for (const [a, b] of [[0, 1], [1, 2500], [2500, 2600], [2600, 6000]] as const) await job.push({ values: values.slice(a, b), keys: keys.slice(a, b) });
    await job.finish();
    expect(sameBytes(Float64Array.from(sink.committed()), await reference(spec, values, keys))).toBe(true);
    expect(TwoWayPasses.create(1024 * 20, 1024)).toBeUndefined();
  }, 60_000);
});
