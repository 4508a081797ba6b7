// Issue 15 made the var/std kernel (and later others) take a fast path on
// ordinary data: chunks in two passes, results two rows at a time with SIMD.
// The promise is that no result bit depends on which path ran. The digests
// below are of the results of the per-row implementation before the fast
// paths, over series that move in and out of them (NaN runs, ±Inf, values
// whose squares overflow or underflow, all-NaN blocks, constants), fed in
// batches of odd sizes, across chunk (256 rows), sub-block and block ends,
// with rows one at a time in between.
//
// Issue 20 gave pushValue() lean one-row paths (var/std: the fast path's row
// without update()'s setup; ewm: weights derived once at init): they must
// give the bits and state of push() of the same rows.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createKernel, restoreKernel } from '../src/index.js';
import type { KernelSpec } from '../src/types.js';
import { mulberry32, type Rng } from './adversarial.js';

/** Rows of kind `kind`: each a different mix of ordinary and special values. */
function series(kind: number, n: number, rng: Rng): Float64Array {
  const x = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const r = rng();
    const u = rng() - 0.5;
    switch (kind) {
      case 0: x[i] = r < 0.05 ? NaN : u * 10; break;
      case 1: x[i] = 1e9 + u; break;
      case 2: x[i] = r < 0.01 ? Infinity : r < 0.02 ? -Infinity : r < 0.2 ? NaN : u; break;
      case 3: x[i] = r < 0.01 ? 1e300 * u : r < 0.02 ? 1e-300 : r < 0.05 ? 0 : r < 0.06 ? -0 : u * 100; break;
      case 4: x[i] = r < 0.5 ? NaN : 5; break;
      case 5: x[i] = Math.floor(i / 37) % 3 === 0 ? NaN : 3.25; break;
      case 6: x[i] = r < 0.001 ? 1e15 : r < 0.3 ? -0 : 1; break;
      default: x[i] = Math.floor(i / 300) % 2 === 0 ? NaN : u * 2 ** Math.floor(rng() * 40 - 20);
    }
  }
  return x;
}

/** The SHA-256 of every result of every (window, minPeriods, ddof, kind) case of `op`, in order. */
async function digestOf(op: 'var' | 'std'): Promise<string> {
  const hash = createHash('sha256');
  const rng = mulberry32(15);
  for (const window of [1, 2, 3, 64, 100, 257, 1000]) {
    for (const minPeriods of [0, 1, Math.min(3, window), window]) {
      for (const ddof of [0, 1, 2]) {
        for (let kind = 0; kind < 8; kind++) {
          const n = 2500 + Math.floor(rng() * 1000);
          const x = series(kind, n, rng);
          const spec: KernelSpec = { op, window, minPeriods, ddof };
          const kernel = await createKernel(spec);
          const out = new Float64Array(n);
          for (let o = 0; o < n; ) {
            const m = Math.min(n - o, 1 + Math.floor(rng() * (rng() < 0.5 ? 7 : 700)));
            if (rng() < 0.2) for (let k = 0; k < m; k++) out[o + k] = kernel.pushValue(x[o + k]!);
            else kernel.push(x.subarray(o, o + m), out.subarray(o, o + m));
            o += m;
          }
          kernel.dispose();
          hash.update(new Uint8Array(out.buffer));
        }
      }
    }
  }
  return hash.digest('hex');
}

describe('kernel fast paths', () => {
  it('regression (issue 15): var on the fast path gives the bits of the per-row path, in and out of it', async () => {
    expect(await digestOf('var')).toBe('a7a4cbc0f0bfc68c1eda632f0941fe53db3f1620b32d5e2f39f097152fb51ac2');
  });

  it('regression (issue 15): std on the fast path gives the bits of the per-row path, in and out of it', async () => {
    expect(await digestOf('std')).toBe('f311433728c75001c9a74be81137b441e10d8c3c61113839e7592a4fde1fa7b8');
  });

  it('regression (issue 20): ewm pushValue with its weights derived once at init gives push() bits, for both adjust values and after a restore', async () => {
    const rng = mulberry32(20);
    const x = series(2, 600, rng);
    for (const stat of ['mean', 'var', 'std'] as const) {
      for (const adjust of [true, false]) {
        const spec: KernelSpec = { op: 'ewm', com: 0.37 + rng() * 20, adjust, stat, minPeriods: 2 };
        const expected = (await createKernel(spec)).push(x);
        const first = await createKernel(spec);
        const got = new Float64Array(x.length);
        for (let i = 0; i < 300; i++) got[i] = first.pushValue(x[i]!);
        // A restored kernel's instance got its weights from its own init().
        const second = await restoreKernel(first.snapshot(), spec);
        for (let i = 300; i < x.length; i++) got[i] = second.pushValue(x[i]!);
        expect(new Uint8Array(got.buffer)).toEqual(new Uint8Array(expected.buffer));
      }
    }
  });

  it('regression (issue 20): sum/mean/count pushValue with the row and its result kept out of the IO buffers gives push() bits at every offset of a group of 4, across sub-block and block ends', async () => {
    const rng = mulberry32(4);
    for (const op of ['sum', 'mean', 'count'] as const) {
      for (const window of [1, 2, 3, 4, 5, 7, 100, 300]) {
        const x = series(2, 1500, rng);
        const spec: KernelSpec = { op, window, minPeriods: Math.min(2, window) };
        const expected = (await createKernel(spec)).push(x);
        const kernel = await createKernel(spec);
        const got = x.map((v) => kernel.pushValue(v));
        expect(new Uint8Array(got.buffer)).toEqual(new Uint8Array(expected.buffer));
      }
    }
  });
});
