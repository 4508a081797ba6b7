// The worker-side operator on its own (no threads): kernels per key with key
// groups split between operators, batches split into parts, and the result
// compared with a private kernel per key run over the whole stream.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createKernelOperator, type RowsPart } from '../src/scheduler/operator.js';
import { compiledModule } from '../src/engine.js';
import { createKernel } from '../src/index.js';
import { normalizeSpec, planFor } from '../src/spec.js';
import { keyGroupRange } from '../src/scheduler/hash.js';
import type { KernelSpec } from '../src/types.js';
import { makeKeys, makeValues, prng, sameBytes } from './scheduler-helpers.js';

const KEY_GROUPS = 16;

/** One private kernel per key over the whole stream: the reference. */
async function perKey(spec: KernelSpec, values: Float64Array, keys: Uint32Array): Promise<Float64Array> {
  const kernels = new Map<number, Awaited<ReturnType<typeof createKernel>>>();
  const out = new Float64Array(values.length);
  for (let i = 0; i < values.length; i++) {
    let kernel = kernels.get(keys[i]!);
    if (kernel === undefined) kernels.set(keys[i]!, (kernel = await createKernel(spec)));
    out[i] = kernel.push(values.subarray(i, i + 1))[0]!;
  }
  return out;
}

async function operators(spec: KernelSpec, workers: number) {
  const normalized = normalizeSpec(spec);
  const module = await compiledModule(planFor(normalized).module);
  return Promise.all(
    Array.from({ length: workers }, (_, w) => createKernelOperator(module, normalized, KEY_GROUPS, keyGroupRange(w, KEY_GROUPS, workers))),
  );
}

const SPECS: KernelSpec[] = [
  { op: 'mean', window: 5 },
  { op: 'median', window: 4, minPeriods: 1 },
  { op: 'std', window: 3 },
  { op: 'max', window: 6, minPeriods: 2 },
];

describe('KernelOperator.processParts', () => {
  it('gives each key the results of a private kernel, for any split into parts and between workers, and writes only its own rows', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...SPECS),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.array(fc.integer({ min: 0, max: 60 }), { minLength: 1, maxLength: 6 }),
        async (spec, workers, seed, cuts) => {
          const rand = prng(seed);
          const n = cuts.reduce((a, b) => a + b, 0);
          const values = makeValues(rand, n);
          // Random 32-bit keys (the hash table), small ones (indexed directly) or both.
          const keys = makeKeys(rand, n, 1 + (seed % 40));
          for (let i = 0; i < n; i++) if (seed % 3 === 0 || (seed % 3 === 1 && rand() < 0.5)) keys[i] = keys[i]! % 3000;
          const expected = await perKey(spec, values, keys);
          const ops = await operators(spec, workers);
          // Every worker sees every part (a shared batch) and runs them in two calls.
          const out = new Float64Array(n).fill(-12345);
          const writes = new Int32Array(n);
          for (const op of ops) {
            const parts: RowsPart[] = [];
            let at = 0;
            const mine = new Float64Array(n).fill(-12345);
            for (const c of cuts) {
              parts.push({ values: values.subarray(at, at + c), keys: keys.subarray(at, at + c), out: mine.subarray(at, at + c) });
              at += c;
            }
            const half = parts.length >> 1;
            op.processParts(parts.slice(0, half));
            op.processParts(parts.slice(half));
            for (let i = 0; i < n; i++) {
              if (Object.is(mine[i], -12345)) continue;
              writes[i]!++;
              out[i] = mine[i]!;
            }
          }
          for (let i = 0; i < n; i++) {
            if (writes[i] !== 1 || !Object.is(out[i], expected[i])) {
              throw new Error(`row ${i} (key ${keys[i]}): written ${writes[i]} times, got ${out[i]}, expected ${expected[i]}; spec ${JSON.stringify(spec)}, workers ${workers}, seed ${seed}, cuts ${JSON.stringify(cuts)}`);
            }
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  it('a batch of more rows than one grouping pass takes (65 536: run in slices), shared or routed (owned), with keys first seen anywhere in it: the results and key group snapshots of small batches', async () => {
    const spec: KernelSpec = { op: 'median', window: 7, minPeriods: 1 };
    const rand = prng(7);
    const n = 150_000;
    const values = makeValues(rand, n);
    // Small keys (indexed directly) and 32-bit ones (the hash table), new keys arriving all along.
    const keys = new Uint32Array(n);
    for (let i = 0; i < n; i++) keys[i] = rand() < 0.5 ? Math.floor(rand() * (1 + i / 50)) : (Math.floor(rand() * (1 + i / 500)) * 0x9e3779b1) >>> 0;
    const snapshots = (op: Awaited<ReturnType<typeof operators>>[number]) => Array.from({ length: KEY_GROUPS }, (_, g) => op.snapshotGroup(g));
    const [small] = await operators(spec, 1);
    const expected = new Float64Array(n);
    for (let a = 0; a < n; a += 1000) small!.process(values.subarray(a, a + 1000), keys.subarray(a, a + 1000), expected.subarray(a, a + 1000));
    for (const workers of [1, 2]) {
      const ops = await operators(spec, workers);
      const out = new Float64Array(n).fill(-12345);
      // Worker 0 gets the shared batch in two parts (one larger than a slice), worker 1 its own rows as one routed part.
      ops[0]!.processParts([
        { values: values.subarray(0, 100_000), keys: keys.subarray(0, 100_000), out: out.subarray(0, 100_000) },
        { values: values.subarray(100_000), keys: keys.subarray(100_000), out: out.subarray(100_000) },
      ]);
      if (workers === 2) {
        const mine = [...keys.keys()].filter((i) => Object.is(out[i], -12345));
        const part = { values: Float64Array.from(mine, (i) => values[i]!), keys: Uint32Array.from(mine, (i) => keys[i]!), out: new Float64Array(mine.length), owned: true };
        ops[1]!.processParts([part]);
        mine.forEach((i, j) => (out[i] = part.out[j]!));
      }
      expect(sameBytes(out, expected)).toBe(true);
      const got = ops.map(snapshots);
      const same = (a: Uint8Array | undefined, b: Uint8Array | undefined): boolean => (a === undefined ? b === undefined : b !== undefined && Buffer.compare(a, b) === 0);
      expect(snapshots(small!).filter((bytes, g) => !same(got.map((s) => s[g]).find((b) => b !== undefined), bytes))).toEqual([]);
    }
  });

  it('property: the grouping in WebAssembly (every row owned) gives the results and key group snapshots of the JavaScript grouping (a shared batch), for any keys (new ones anywhere, from 2^16 up), any ops, parts and calls, and after a group is dropped', async () => {
    const snapshots = (op: Awaited<ReturnType<typeof operators>>[number]) => Array.from({ length: KEY_GROUPS }, (_, g) => op.snapshotGroup(g));
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom<KernelSpec>(...SPECS, { op: 'ewm', com: 2 }, { op: 'sum', window: 3 }),
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.array(fc.array(fc.integer({ min: 0, max: 90 }), { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 5 }),
        async (spec, seed, calls) => {
          const rand = prng(seed);
          const n = calls.flat().reduce((a, b) => a + b, 0);
          const values = makeValues(rand, n);
          // Small keys (the dense table), keys from 2^16 up, and 32-bit ones, in runs and mixed.
          const keys = new Uint32Array(n);
          for (let i = 0; i < n; i++) keys[i] = [Math.floor(rand() * 40), 65_536 + Math.floor(rand() * 5), Math.floor(rand() * 0xffffffff)][(seed + (rand() < 0.2 ? i : 0)) % 3]!;
          const [wasm] = await operators(spec, 1);
          // Two workers' operators given shared batches group in JavaScript; together they hold every key group.
          const js = await operators(spec, 2);
          const got = new Float64Array(n), expected = new Float64Array(n);
          let at = 0;
          for (const cuts of calls) {
            const parts = (out: Float64Array): RowsPart[] => {
              let from = at;
              return cuts.map((c) => ({ values: values.subarray(from, (from += c)), keys: keys.subarray(from - c, from), out: out.subarray(from - c, from) }));
            };
            wasm!.processParts(parts(got));
            for (const op of js) op.processParts(parts(expected));
            at += cuts.reduce((a, b) => a + b, 0);
            // A group dropped (a partition given back) at the same point on both: its keys start afresh.
            if (rand() < 0.3) for (const op of [wasm!, ...js]) op.dropGroup(seed % KEY_GROUPS);
          }
          if (!sameBytes(got, expected)) throw new Error(`other results; spec ${JSON.stringify(spec)}, seed ${seed}, calls ${JSON.stringify(calls)}`);
          const merged = snapshots(js[0]!).map((bytes, g) => bytes ?? js[1]!.snapshotGroup(g));
          expect(snapshots(wasm!)).toEqual(merged);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('property: the grouping in WebAssembly gives the results and key group snapshots of the JavaScript grouping when the keys\' shares change from call to call (a key\'s chunk sized for many rows that gets one, chunks that fill up, room for chunks running short)', async () => {
    const snapshots = (op: Awaited<ReturnType<typeof operators>>[number]) => Array.from({ length: KEY_GROUPS }, (_, g) => op.snapshotGroup(g));
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom<KernelSpec>(...SPECS),
        fc.integer({ min: 0, max: 0xffffffff }),
        // Per call: its rows, and its keys: one key, every row its own key, a few keys, or one key's row then every row its own key.
        fc.array(fc.record({ rows: fc.integer({ min: 1, max: 300 }), shape: fc.constantFrom('one', 'distinct', 'few', 'oneThenDistinct') }), { minLength: 2, maxLength: 6 }),
        async (spec, seed, calls) => {
          const rand = prng(seed);
          const n = calls.reduce((a, c) => a + c.rows, 0);
          const values = makeValues(rand, n);
          const keys = new Uint32Array(n);
          let at = 0;
          for (const { rows, shape } of calls) {
            const base = Math.floor(rand() * 1000);
            for (let i = 0; i < rows; i++) {
              keys[at + i] = shape === 'one' || (shape === 'oneThenDistinct' && i === 0) ? 7 : shape === 'few' ? Math.floor(rand() * 4) : base + i;
            }
            at += rows;
          }
          const [wasm] = await operators(spec, 1);
          const js = await operators(spec, 2);
          const got = new Float64Array(n), expected = new Float64Array(n);
          at = 0;
          for (const { rows } of calls) {
            const part = (out: Float64Array): RowsPart[] => [{ values: values.subarray(at, at + rows), keys: keys.subarray(at, at + rows), out: out.subarray(at, at + rows) }];
            wasm!.processParts(part(got));
            for (const op of js) op.processParts(part(expected));
            at += rows;
          }
          if (!sameBytes(got, expected)) throw new Error(`other results; spec ${JSON.stringify(spec)}, seed ${seed}, calls ${JSON.stringify(calls)}`);
          const merged = snapshots(js[0]!).map((bytes, g) => bytes ?? js[1]!.snapshotGroup(g));
          expect(snapshots(wasm!)).toEqual(merged);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('the grouping in WebAssembly gives the results and key group snapshots of the JavaScript grouping when keys that had many rows each get one among thousands of new keys (their chunks, sized for many rows, leave too little room for the new keys\' chunks unless cut short)', async () => {
    const snapshots = (op: Awaited<ReturnType<typeof operators>>[number]) => Array.from({ length: KEY_GROUPS }, (_, g) => op.snapshotGroup(g));
    const rows = 4000;
    // First call: 10 keys of 400 rows each; second: those 10 keys once each, then 3 990 new keys.
    const first = Uint32Array.from({ length: rows }, (_, i) => i % 10);
    const second = Uint32Array.from({ length: rows }, (_, i) => (i < 10 ? i : 100 + i));
    for (const spec of [SPECS[0]!, { op: 'sum', window: 3 } as KernelSpec]) {
      const values = makeValues(prng(7), 2 * rows);
      const [wasm] = await operators(spec, 1);
      const js = await operators(spec, 2);
      const got = new Float64Array(2 * rows), expected = new Float64Array(2 * rows);
      for (const [call, keys] of [first, second].entries()) {
        const part = (out: Float64Array): RowsPart[] => [{ values: values.subarray(call * rows, (call + 1) * rows), keys, out: out.subarray(call * rows, (call + 1) * rows) }];
        wasm!.processParts(part(got));
        for (const op of js) op.processParts(part(expected));
      }
      expect(sameBytes(got, expected)).toBe(true);
      const merged = snapshots(js[0]!).map((bytes, g) => bytes ?? js[1]!.snapshotGroup(g));
      expect(snapshots(wasm!)).toEqual(merged);
    }
  });

  it('runs unkeyed parts only on the operator that owns key 0', async () => {
    const spec: KernelSpec = { op: 'sum', window: 3 };
    const values = Float64Array.from([1, 2, 3, 4, 5]);
    const expected = await perKey(spec, values, new Uint32Array(values.length));
    const ops = await operators(spec, 3);
    const results = ops.map((op) => {
      const out = new Float64Array(values.length).fill(-1);
      op.processParts([
        { values: values.subarray(0, 2), keys: undefined, out: out.subarray(0, 2) },
        { values: values.subarray(2), keys: undefined, out: out.subarray(2) },
      ]);
      return Array.from(out);
    });
    expect(results.filter((r) => r.every((x) => x === -1))).toHaveLength(2);
    expect(results.find((r) => r.some((x) => x !== -1))).toEqual(Array.from(expected));
  });

  it('refuses to restore a key group it does not own', async () => {
    const [first, second] = await operators({ op: 'mean', window: 3 }, 2);
    first!.process(Float64Array.of(1, 2), Uint32Array.of(0, 0), new Float64Array(2));
    let group = -1;
    let bytes: Uint8Array | undefined;
    for (let g = 0; g < KEY_GROUPS && bytes === undefined; g++) {
      bytes = first!.snapshotGroup(g);
      group = g;
    }
    expect(() => second!.restoreGroup(group, bytes!)).toThrow(`checkpoint state of key group ${group} is invalid: key group ${group} is not one of this worker's (8 to 15)`);
  });
});

describe('KernelOperator.follow (one grouping by key for several ops)', () => {
  const snapshots = (op: Awaited<ReturnType<typeof operators>>[number]): (Uint8Array | undefined)[] => Array.from({ length: KEY_GROUPS }, (_, g) => op.snapshotGroup(g));

  it('property: followers given the leader\'s batches give the results and key group snapshots of lone operators, with new keys in every batch, batches the leader did not group last, and followers out of step with it', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.array(fc.record({ rows: fc.integer({ min: 0, max: 80 }), followerFirst: fc.boolean(), oneKey: fc.boolean() }), { minLength: 1, maxLength: 6 }),
        fc.boolean(),
        async (seed, batches, outOfStep) => {
          const rand = prng(seed);
          const specs = [SPECS[seed % SPECS.length]!, ...SPECS.filter((_, i) => i !== seed % SPECS.length)];
          const linked = await Promise.all(specs.map(async (s) => (await operators(s, 1))[0]!));
          const lone = await Promise.all(specs.map(async (s) => (await operators(s, 1))[0]!));
          for (const op of linked.slice(1)) op.follow(linked[0]!);
          const run = (op: (typeof linked)[number], values: Float64Array, keys: Uint32Array): Float64Array => {
            const out = new Float64Array(values.length);
            op.processParts([{ values, keys, out }]);
            return out;
          };
          // A first batch before the link matters: out of step, the followers met the keys in another order (other slots).
          const warm = makeKeys(rand, 30, 12);
          const warmValues = makeValues(rand, warm.length);
          specs.forEach((_, i) => {
            const [v, k] = outOfStep && i > 0 ? [warmValues.slice().reverse(), warm.slice().reverse()] : [warmValues, warm];
            expect(sameBytes(run(linked[i]!, v, k), run(lone[i]!, v, k))).toBe(true);
          });
          for (const { rows, followerFirst, oneKey } of batches) {
            const values = makeValues(rand, rows);
            // The first batch's keys, and new ones all along: large (the hash table) and small (indexed directly).
            const keys = makeKeys(rand, rows, 1 + (seed % 20));
            for (let i = 0; i < rows; i++) keys[i] = oneKey ? 7 : rand() < 0.4 ? warm[i % warm.length]! : rand() < 0.5 ? keys[i]! % 500 : keys[i]!;
            const order = followerFirst ? [...specs.keys()].reverse() : [...specs.keys()];
            for (const i of order) {
              const got = run(linked[i]!, values, keys);
              const expected = run(lone[i]!, values, keys);
              if (!sameBytes(got, expected)) throw new Error(`op ${specs[i]!.op}: other results; seed ${seed}, batches ${JSON.stringify(batches)}, out of step ${outOfStep}`);
            }
          }
          linked.forEach((op, i) => expect(snapshots(op)).toEqual(snapshots(lone[i]!)));
        },
      ),
      { numRuns: 40 },
    );
  });
});
