// Issue 13, the in-process scheduler with several workers: key state that
// stays in WASM memory (the kernel ABI's movable state pointer, runKeys), and
// shared batches routed so that each worker reads and writes its own rows only.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { crc32 } from '../src/crc32.js';
import { compiledModule, instantiateKernel, type KernelExports } from '../src/engine.js';
import { createKernel, restoreKernel } from '../src/index.js';
import { normalizeSpec, planFor } from '../src/spec.js';
import type { KernelSpec } from '../src/types.js';
import {
  createJob,
  DEFAULT_KEY_GROUPS,
  keyGroupOf,
  makeKeys,
  makeValues,
  memoryCheckpointStore,
  memorySink,
  nodeWorkers,
  prng,
  reference,
  sameBytes,
  workerOfKeyGroup,
  type WorkerAdapter,
} from './scheduler-helpers.js';

/** The build hashes of the modules before the state-pointer ABI (src/builds.ts). */
const EARLIER = { sum: 'c7525df1455ca743', median: '375d58b4ae1c075c' } as const;

const hexBytes = (hex: string): Uint8Array => Uint8Array.from({ length: hex.length / 2 }, (_, i) => parseInt(hex.slice(2 * i, 2 * i + 2), 16));

/** `bytes` with the build hash at `at` replaced and the trailing CRC-32 recomputed. */
function rebuilt(bytes: Uint8Array, at: number, hash: string): Uint8Array {
  const out = bytes.slice();
  out.set(hexBytes(hash), at);
  new DataView(out.buffer).setUint32(out.length - 4, crc32(out, 0, out.length - 4), true);
  return out;
}

const SPECS: KernelSpec[] = [
  { op: 'mean', window: 7 },
  { op: 'sum', window: 100, minPeriods: 3 },
  { op: 'median', window: 9 },
  { op: 'quantile', window: 5, q: 0.3 },
  { op: 'min', window: 6 },
  { op: 'max', window: 130 },
  { op: 'std', window: 11 },
  { op: 'var', window: 300, ddof: 0 },
  { op: 'ewm', alpha: 0.3 },
  { op: 'ewm', span: 4, stat: 'var' },
];

describe('kernel ABI: states anywhere in memory', () => {
  it('property: runKeys over key states placed by alloc() gives the bits of one kernel per key, batch after batch', async () => {
    const rand = prng(13);
    for (const spec of SPECS) {
      const plan = planFor(normalizeSpec(spec));
      const ex = await instantiateKernel<KernelExports>(await compiledModule(plan.module));
      expect(ex.init(plan.code, plan.window, plan.minPeriods, plan.p0, plan.p1)).toBe(0);
      const size = ex.stateSize();
      const fresh = new Uint8Array(ex.memory.buffer, ex.statePtr(), size).slice();
      const keys = 1 + Math.floor(rand() * 6);
      // Odd strides and an offset: a state must not depend on where it lies.
      const stride = size + 8 * Math.floor(rand() * 5);
      const slab = ex.alloc(keys * stride + 8) + 8;
      for (let k = 0; k < keys; k++) new Uint8Array(ex.memory.buffer).set(fresh, slab + k * stride);
      const kernels = await Promise.all(Array.from({ length: keys }, () => createKernel(spec)));
      for (let batch = 0; batch < 4; batch++) {
        const rows = Array.from({ length: keys }, () => Math.floor(rand() * 40));
        const total = rows.reduce((a, b) => a + b, 0);
        const values = makeValues(rand, total);
        const inPtr = ex.alloc(total * 8 + 8);
        const outPtr = ex.alloc(total * 8 + 8);
        const table = ex.alloc(16 * keys);
        const mem = ex.memory.buffer;
        new Float64Array(mem, inPtr, total).set(values);
        const entries = new Uint32Array(mem, table, 4 * keys);
        let at = 0;
        for (let k = 0; k < keys; k++) {
          entries.set([slab + k * stride, inPtr + at * 8, outPtr + at * 8, rows[k]!], 4 * k);
          at += rows[k]!;
        }
        ex.runKeys(keys, table);
        const got = new Float64Array(ex.memory.buffer, outPtr, total);
        at = 0;
        for (let k = 0; k < keys; k++) {
          const want = kernels[k]!.push(values.slice(at, at + rows[k]!));
          expect(sameBytes(got.slice(at, at + rows[k]!), want), `${JSON.stringify(spec)} key ${k} batch ${batch}`).toBe(true);
          at += rows[k]!;
        }
      }
      // The states are the kernels' snapshot payloads, byte for byte.
      for (let k = 0; k < keys; k++) {
        const snap = kernels[k]!.snapshot();
        const payload = snap.subarray(44, 44 + size);
        expect(new Uint8Array(ex.memory.buffer, slab + k * stride, size)).toEqual(payload);
      }
      // The IO buffers still work after runKeys, and grow above the alloc() regions.
      expect(ex.reserve(ex.capacity() * 2)).toBe(1);
      expect(ex.inputPtr()).toBeGreaterThan(slab);
    }
  });

  it('regression: a kernel snapshot of the build before the state-pointer ABI (same state bytes) was refused as another build; it restores and continues', async () => {
    const spec = { op: 'median', window: 9 } as const;
    const kernel = await createKernel(spec);
    const values = makeValues(prng(5), 60);
    kernel.push(values.subarray(0, 30));
    const old = rebuilt(kernel.snapshot(), 8, EARLIER.median);
    const restored = await restoreKernel(old, spec);
    expect(sameBytes(restored.push(values.slice(30)), kernel.push(values.slice(30)))).toBe(true);
    // Any other build is still refused.
    await expect(restoreKernel(rebuilt(kernel.snapshot(), 8, '0123456789abcdef'))).rejects.toThrow(/another build/);
  });

  it('regression: a job checkpoint of the build before the state-pointer ABI was refused as another build; a job resumes from it', async () => {
    const spec = { op: 'sum', window: 20 } as const;
    const rand = prng(8);
    const values = makeValues(rand, 4000);
    const keys = makeKeys(rand, 4000, 50);
    const store = memoryCheckpointStore();
    const first = await createJob({ adapter: nodeWorkers(), operator: spec, keyed: true, workers: 2, sink: memorySink(), checkpoints: { store } });
    await first.push({ values: values.slice(0, 2500), keys: keys.slice(0, 2500) });
    await first.finish();
    const [id] = await store.list();
    const old = memoryCheckpointStore();
    await old.save(id!, rebuilt(await store.read(id!), 36, EARLIER.sum));
    const sink = memorySink();
    const second = await createJob({ adapter: nodeWorkers(), operator: spec, keyed: true, workers: 2, sink, checkpoints: { store: old }, resume: true });
    expect(second.offset).toBe(2500);
    await second.push({ values: values.slice(2500), keys: keys.slice(2500) });
    await second.finish();
    const want = (await reference(spec, values, keys)).slice(2500);
    expect(sameBytes(Float64Array.from(sink.committed()), want)).toBe(true);
  });
});

describe('shared batches routed per worker', () => {
  it('regression: every worker scanned all rows of a shared batch and wrote results between the other\'s (a cache-line fight); each gets its own rows together, in order', async () => {
    const base = nodeWorkers();
    const seen: { worker: number; keys: number[]; rows: number; from: number; to: number }[] = [];
    let spawned = 0;
    const adapter: WorkerAdapter = {
      ...base,
      spawn() {
        const handle = base.spawn();
        const worker = spawned++;
        return {
          ...handle,
          post: (message, transfer) => {
            const m = message as { t: string; buffer: SharedArrayBuffer; rows: number; from: number; to: number };
            if (m.t === 'shared') seen.push({ worker, keys: [...new Uint32Array(m.buffer, m.rows * 16 + m.from * 4, m.to - m.from)], rows: m.rows, from: m.from, to: m.to });
            handle.post(message, transfer);
          },
        };
      },
    };
    const spec = { op: 'mean', window: 5 } as const;
    const rand = prng(21);
    const values = makeValues(rand, 3000);
    const keys = makeKeys(rand, 3000, 200);
    const sink = memorySink();
    const job = await createJob({ adapter, operator: spec, keyed: true, workers: 2, sink });
    const pushes = [[0, 1000], [1000, 1001], [1001, 3000]] as const;
    for (const [a, b] of pushes) await job.push({ values: values.slice(a, b), keys: keys.slice(a, b) });
    await job.finish();
    expect(sameBytes(Float64Array.from(sink.committed()), await reference(spec, values, keys))).toBe(true);
    const ownerOf = (key: number): number => workerOfKeyGroup(keyGroupOf(key, DEFAULT_KEY_GROUPS), DEFAULT_KEY_GROUPS, 2);
    for (const [a, b] of pushes) {
      const messages = seen.filter((m) => m.rows === b - a);
      const batchKeys = [...keys.slice(a, b)];
      for (const w of [0, 1]) {
        const own = batchKeys.filter((k) => ownerOf(k) === w);
        const got = messages.filter((m) => m.worker === w);
        // A worker without rows in the batch is not sent it.
        expect(got.length).toBe(own.length > 0 ? 1 : 0);
        if (own.length > 0) expect(got[0]!.keys).toEqual(own);
      }
      // The ranges split the batch: worker 0's rows, then worker 1's.
      const ranges = messages.map((m) => [m.from, m.to]);
      if (messages.length === 2) expect(ranges).toEqual([[0, ranges[0]![1]], [ranges[0]![1], b - a]]);
    }
  }, 30_000);
});

describe('two workers: route, scatter and merge without a branch per row', () => {
  it('property: two workers over shared memory give the single kernel\'s bits for any batch split, small keys (the route table) and large ones (hashed) mixed', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 1 << 30 }), fc.array(fc.integer({ min: 1, max: 900 }), { minLength: 1, maxLength: 6 }), async (seed, sizes) => {
        const rand = prng(seed);
        const spec = [{ op: 'mean', window: 5 }, { op: 'median', window: 4 }][seed % 2] as KernelSpec;
        const rows = sizes.reduce((a, b) => a + b, 0);
        const values = makeValues(rand, rows);
        const keys = makeKeys(rand, rows, 1 + (seed % 40));
        // Half the keys small: looked up in route()'s table, the others hashed each time.
        for (let i = 0; i < rows; i++) if (keys[i]! % 2 === 0) keys[i] = keys[i]! % 65536;
        const sink = memorySink();
        const job = await createJob({ adapter: nodeWorkers(), operator: spec, keyed: true, workers: 2, sink });
        let at = 0;
        for (const n of sizes) {
          await job.push({ values: values.slice(at, at + n), keys: keys.slice(at, at + n) });
          at += n;
        }
        await job.finish();
        expect(sameBytes(Float64Array.from(sink.committed()), await reference(spec, values, keys))).toBe(true);
      }),
      { numRuns: 8 },
    );
  }, 120_000);
});
