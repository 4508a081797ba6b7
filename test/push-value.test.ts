// The one-row path, kernel.pushValue(value) (issue 20): for every op in
// KERNEL_OPS, any interleaving of push() batches and pushValue() rows, with a
// snapshot + restore at any point, gives bit for bit the results and the
// snapshot bytes of one push() of the same rows.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createKernel, restoreKernel } from '../src/index.js';
import { KERNEL_OPS } from '../src/spec.js';
import type { Kernel, KernelSpec } from '../src/types.js';
import { SPECIAL_VALUES } from './adversarial.js';
import { compareExact, describeMismatches } from './harness.js';

const NUM_RUNS = 40;

/** A NaN with any payload and sign: snapshots carry the ring's bits, so a row path must not canonicalize them. */
const nanWithPayload: fc.Arbitrary<number> = fc.tuple(fc.boolean(), fc.bigInt({ min: 1n, max: (1n << 52n) - 1n })).map(([negative, payload]) => {
  const bits = new BigUint64Array([(negative ? 0xfff0000000000000n : 0x7ff0000000000000n) | payload]);
  return new Float64Array(bits.buffer)[0]!;
});

const value: fc.Arbitrary<number> = fc.oneof(
  { weight: 3, arbitrary: fc.double({ min: -10, max: 10, noNaN: true }) },
  { weight: 2, arbitrary: fc.integer({ min: -3, max: 3 }) },
  { weight: 2, arbitrary: fc.constantFrom(...SPECIAL_VALUES, -0, 1e16, -1e16, 1 + 2 ** -52) },
  { weight: 1, arbitrary: fc.double() },
  { weight: 1, arbitrary: fc.constant(NaN) },
  { weight: 1, arbitrary: nanWithPayload },
);

/** Any valid spec of `op`: small windows, so that blocks and rings wrap often. */
function specOf(op: KernelSpec['op']): fc.Arbitrary<KernelSpec> {
  if (op === 'ewm') {
    return fc
      .record({
        span: fc.double({ min: 1, max: 50, noNaN: true }),
        adjust: fc.boolean(),
        minPeriods: fc.integer({ min: 0, max: 5 }),
        stat: fc.constantFrom('mean', 'var', 'std'),
      })
      .map((s) => ({ op, ...s }) as KernelSpec);
  }
  return fc.integer({ min: 1, max: 300 }).chain((window) =>
    fc
      .record({
        minPeriods: fc.integer({ min: 0, max: window }),
        ddof: fc.integer({ min: 0, max: 2 }),
        q: fc.double({ min: 0, max: 1, noNaN: true }),
      })
      .map(({ minPeriods, ddof, q }) => ({
        op,
        window,
        minPeriods,
        ...(op === 'var' || op === 'std' ? { ddof } : {}),
        ...(op === 'quantile' ? { q } : {}),
      })) as fc.Arbitrary<KernelSpec>,
  );
}

/** How the rows go in: runs of rows, each by push() or one pushValue() per row, and where to snapshot. */
const plan = fc.record({
  runs: fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 70 })), { maxLength: 12 }),
  snapshotAt: fc.nat({ max: 1000 }),
});

function assertSame(expected: ArrayLike<number>, actual: ArrayLike<number>, what: string, values: ArrayLike<number>, spec: KernelSpec): void {
  const mismatches = compareExact(expected, actual);
  if (mismatches.length > 0) throw new Error(`${what}\n${describeMismatches('kernel.pushValue', values, spec, mismatches)}`);
}

/** Feeds `values` as the plan says, restoring from a snapshot taken after `snapshotAt` rows (mod n + 1). */
async function interleaved(spec: KernelSpec, values: Float64Array, runs: [boolean, number][], snapshotAt: number): Promise<{ out: Float64Array; kernel: Kernel }> {
  const out = new Float64Array(values.length);
  const cut = snapshotAt % (values.length + 1);
  let k = await createKernel(spec);
  let i = 0;
  let run = 0;
  while (i < values.length) {
    const [oneAtATime, length] = runs[run++ % Math.max(runs.length, 1)] ?? [true, 1];
    // A run never crosses the snapshot point, so the cut lands exactly there.
    const end = Math.min(values.length, i + Math.max(length, 1), i < cut ? cut : values.length);
    if (oneAtATime) for (; i < end; i++) out[i] = k.pushValue(values[i]!);
    else {
      out.set(k.push(values.slice(i, end)), i);
      i = end;
    }
    if (i === cut) {
      const bytes = k.snapshot();
      k.dispose();
      k = await restoreKernel(bytes, spec);
    }
  }
  return { out, kernel: k };
}

describe('kernel.pushValue: one row at a time', () => {
  for (const op of KERNEL_OPS) {
    it(`${op}: any interleaving of push and pushValue, with a snapshot at any point, gives the bits and the snapshot of one push`, async () => {
      await fc.assert(
        fc.asyncProperty(specOf(op), fc.array(value, { maxLength: 400 }), plan, async (spec, raw, { runs, snapshotAt }) => {
          const values = Float64Array.from(raw);
          const reference = await createKernel(spec);
          const expected = reference.push(values.slice());
          const { out, kernel } = await interleaved(spec, values, runs, snapshotAt);
          try {
            assertSame(expected, out, `pushValue/push interleaving differs from one push (runs ${JSON.stringify(runs)}, snapshot at ${snapshotAt})`, values, spec);
            expect(kernel.snapshot()).toEqual(reference.snapshot());
            // Both continue alike after the interleaving.
            const next = [1.5, NaN, -2, Infinity, 3];
            for (const x of next) expect(Object.is(kernel.pushValue(x), reference.push(new Float64Array([x]))[0])).toBe(true);
          } finally {
            kernel.dispose();
            reference.dispose();
          }
        }),
        { numRuns: NUM_RUNS },
      );
    });
  }

  it('sum, mean, count: rows one at a time across sub-block and block ends (window 1000, 3500 rows) match push bit for bit', async () => {
    const values = Float64Array.from({ length: 3500 }, (_, i) => (i % 97 === 0 ? NaN : Math.sin(i) * 1e3 + (i % 7)));
    for (const op of ['sum', 'mean', 'count'] as const) {
      for (const minPeriods of [0, 990]) {
        const spec: KernelSpec = { op, window: 1000, minPeriods };
        const reference = await createKernel(spec);
        const expected = reference.push(values);
        const k = await createKernel(spec);
        const got = values.map((x) => k.pushValue(x));
        assertSame(expected, got, `${op} one row at a time`, values, spec);
        expect(k.snapshot()).toEqual(reference.snapshot());
      }
    }
  });

  it('returns the result of the row: rolling mean over 3 rows', async () => {
    const k = await createKernel({ op: 'mean', window: 3, minPeriods: 1 });
    expect([1, 2, 3, 4, NaN].map((x) => k.pushValue(x))).toEqual([1, 1.5, 2, 3, 3.5]);
  });

  it('refuses a value that is not a number with a TypeError naming it', async () => {
    const k = await createKernel({ op: 'sum', window: 2 });
    expect(() => k.pushValue('1' as unknown as number)).toThrow(new TypeError("value must be a number, got '1'"));
    expect(() => k.pushValue(undefined as unknown as number)).toThrow(new TypeError('value must be a number, got undefined'));
    // A refused value is not a row.
    expect(k.pushValue(1)).toBeNaN();
    expect(k.pushValue(2)).toBe(3);
  });

  it('throws after dispose(), like every other call', async () => {
    const k = await createKernel({ op: 'max', window: 2 });
    k.dispose();
    expect(() => k.pushValue(1)).toThrow('kernel has been disposed');
  });

  it('ewm mean (its row runs in JavaScript on the state in WASM memory): the bits and snapshot of push across memory growth, reset and restore', async () => {
    const values = Float64Array.from({ length: 3000 }, (_, i) => (i % 53 === 0 ? NaN : i % 211 === 0 ? Infinity : Math.sin(i) * 1e3 + (i % 7)));
    for (const adjust of [true, false]) {
      const spec: KernelSpec = { op: 'ewm', span: 20, adjust, minPeriods: 3 };
      const reference = await createKernel(spec);
      const expected = reference.push(values);
      const k = await createKernel(spec);
      const got = new Float64Array(values.length);
      for (let i = 0; i < 1000; i++) got[i] = k.pushValue(values[i]!);
      // Memory grows here: the row step's view on the old buffer is detached and must be rebuilt.
      k.inputBuffer(1 << 20);
      for (let i = 1000; i < 2000; i++) got[i] = k.pushValue(values[i]!);
      const restored = await restoreKernel(k.snapshot(), spec);
      for (let i = 2000; i < 3000; i++) got[i] = restored.pushValue(values[i]!);
      assertSame(expected, got, `ewm adjust=${adjust} one row at a time`, values, spec);
      expect(restored.snapshot()).toEqual(reference.snapshot());
      restored.reset();
      reference.reset();
      expect(Object.is(restored.pushValue(-0), reference.push(new Float64Array([-0]))[0])).toBe(true);
      expect(restored.snapshot()).toEqual(reference.snapshot());
      restored.dispose();
      expect(() => restored.pushValue(1)).toThrow('kernel has been disposed');
      expect(() => k.pushValue('1' as unknown as number)).toThrow(new TypeError("value must be a number, got '1'"));
    }
  });

  it('follows reset(): the rows before it are forgotten', async () => {
    const k = await createKernel({ op: 'sum', window: 3, minPeriods: 1 });
    k.pushValue(5);
    k.reset();
    expect(k.pushValue(1)).toBe(1);
  });
});
