// Streaming properties of every kernel, with fast-check:
// - cutting the input into batches (empty batches, batches of 1, anything)
//   never changes a single bit of the output;
// - snapshot() at any cut + restoreKernel() in a new kernel continues
//   bit-identically (and snapshot() does not disturb the original);
// - reset() behaves like a freshly created kernel;
// - push(batch, out) writes into `out` and returns what the allocating form returns;
// - inputBuffer()/pushInput() (zero-copy) returns what push() returns.
// These compare kernels with kernels, so they hold whatever the accuracy of
// an op; every comparison is bit for bit (NaN equals NaN).

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createKernel, restoreKernel, rolling } from '../src/index.js';
import type { Kernel, KernelSpec, RollingSpec } from '../src/types.js';
import { gaussian, mulberry32, SPECIAL_VALUES } from './adversarial.js';
import { compareExact, describeMismatches } from './harness.js';

const NUM_RUNS = 60;

// ---------------------------------------------------------------------------
// Arbitraries

const value: fc.Arbitrary<number> = fc.oneof(
  { weight: 3, arbitrary: fc.double({ min: -10, max: 10, noNaN: true }) },
  { weight: 2, arbitrary: fc.integer({ min: -3, max: 3 }) }, // ties
  { weight: 2, arbitrary: fc.constantFrom(...SPECIAL_VALUES) },
  { weight: 1, arbitrary: fc.double() }, // any double: NaN, ±Inf, −0, 1.7e308, subnormals
  { weight: 1, arbitrary: fc.constant(NaN) },
);

/** Inputs: mostly short, sometimes a few windows' worth, sometimes runs of one value. */
const input: fc.Arbitrary<number[]> = fc.oneof(
  { weight: 4, arbitrary: fc.array(value, { maxLength: 80 }) },
  { weight: 2, arbitrary: fc.array(value, { minLength: 100, maxLength: 400 }) },
  {
    weight: 1,
    arbitrary: fc
      .array(fc.tuple(value, fc.integer({ min: 1, max: 40 })), { maxLength: 12 })
      .map((runs) => runs.flatMap(([v, k]) => Array<number>(k).fill(v))),
  },
);

const window = fc.oneof(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 300 }));

function rollingSpec(op: RollingSpec['op']): fc.Arbitrary<RollingSpec> {
  return window.chain((w) =>
    fc.record({
      op: fc.constant(op),
      window: fc.constant(w),
      minPeriods: fc.integer({ min: 0, max: w }),
      ...(op === 'var' || op === 'std' ? { ddof: fc.integer({ min: 0, max: 3 }) } : {}),
      ...(op === 'quantile' ? { q: fc.oneof(fc.constantFrom(0, 0.25, 0.5, 0.9, 1), fc.double({ min: 0, max: 1, noNaN: true })) } : {}),
    }),
  ) as fc.Arbitrary<RollingSpec>;
}

const ewmSpec: fc.Arbitrary<KernelSpec> = fc
  .tuple(
    fc.oneof(
      fc.double({ min: 1e-6, max: 1, noNaN: true, noDefaultInfinity: true }).filter((a) => a > 0).map((alpha) => ({ alpha })),
      fc.double({ min: 1, max: 1e4, noNaN: true }).map((span) => ({ span })),
      fc.double({ min: 1e-3, max: 1e4, noNaN: true }).filter((h) => h > 0).map((halflife) => ({ halflife })),
      fc.double({ min: 0, max: 1e4, noNaN: true }).map((com) => ({ com })),
    ),
    fc.boolean(),
    fc.integer({ min: 0, max: 10 }),
  )
  .map(([decay, adjust, minPeriods]) => ({ op: 'ewm' as const, ...decay, adjust, minPeriods }));

const OPS: { label: string; spec: fc.Arbitrary<KernelSpec> }[] = [
  ...(['sum', 'mean', 'count', 'min', 'max', 'var', 'std', 'median', 'quantile'] as const).map((op) => ({
    label: op,
    spec: rollingSpec(op) as fc.Arbitrary<KernelSpec>,
  })),
  { label: 'ewm', spec: ewmSpec },
];

/** Batch lengths summing to n: random cut points (duplicates give empty batches), or all 1s. */
function batchesOf(n: number, cuts: number[] | 'ones'): number[] {
  if (cuts === 'ones') return Array<number>(n).fill(1);
  const points = cuts.map((c) => c % (n + 1)).sort((a, b) => a - b);
  const lengths: number[] = [];
  let prev = 0;
  for (const p of points) {
    lengths.push(p - prev);
    prev = p;
  }
  lengths.push(n - prev);
  return lengths;
}

const cuts: fc.Arbitrary<number[] | 'ones'> = fc.oneof(
  { weight: 5, arbitrary: fc.array(fc.nat({ max: 100_000 }), { maxLength: 25 }) },
  { weight: 1, arbitrary: fc.constant('ones' as const) },
);

// ---------------------------------------------------------------------------
// Helpers

function concat(parts: Float64Array[]): Float64Array {
  const out = new Float64Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function assertSame(expected: Float64Array, actual: Float64Array, what: string, values: ArrayLike<number>, spec: KernelSpec, extra = ''): void {
  const mismatches = compareExact(expected, actual);
  if (mismatches.length > 0) {
    throw new Error(`${what}${extra ? ` (${extra})` : ''}\n` + describeMismatches('createKernel(spec).push', values, spec, mismatches));
  }
}

async function whole(spec: KernelSpec, values: Float64Array): Promise<Float64Array> {
  const k = await createKernel(spec);
  try {
    return k.push(values.slice());
  } finally {
    k.dispose();
  }
}

async function withKernel<T>(spec: KernelSpec, f: (k: Kernel) => T | Promise<T>): Promise<T> {
  const k = await createKernel(spec);
  try {
    return await f(k);
  } finally {
    k.dispose();
  }
}

// ---------------------------------------------------------------------------
// Properties

for (const { label, spec: specArb } of OPS) {
  describe(`${label}: streaming properties`, () => {
    it('any split into batches gives the bit-identical output of one push', async () => {
      await fc.assert(
        fc.asyncProperty(specArb, input, cuts, async (spec, raw, cutPoints) => {
          const values = Float64Array.from(raw);
          const expected = await whole(spec, values);
          const lengths = batchesOf(values.length, cutPoints);
          const parts = await withKernel(spec, (k) => {
            const out: Float64Array[] = [];
            let o = 0;
            for (const len of lengths) {
              const r = k.push(values.slice(o, o + len));
              if (r.length !== len) throw new Error(`push of ${len} rows returned ${r.length} results`);
              out.push(r.slice());
              o += len;
            }
            return out;
          });
          assertSame(expected, concat(parts), 'batched output differs from one push', values, spec, `batches ${JSON.stringify(lengths)}`);
        }),
        { numRuns: NUM_RUNS },
      );
    });

    it('snapshot at any cut + restoreKernel in a new kernel continues bit-identically', async () => {
      await fc.assert(
        fc.asyncProperty(specArb, input, cuts, fc.boolean(), async (spec, raw, cutPoints, passExpected) => {
          const values = Float64Array.from(raw);
          const expected = await whole(spec, values);
          const lengths = batchesOf(values.length, cutPoints);
          // Chain: push a batch, snapshot, continue in a kernel restored from the snapshot.
          let k = await createKernel(spec);
          const original = k.spec;
          const parts: Float64Array[] = [];
          let o = 0;
          try {
            for (const len of lengths) {
              parts.push(k.push(values.slice(o, o + len)).slice());
              o += len;
              const snap = k.snapshot();
              const twin = await restoreKernel(snap.slice(), passExpected ? spec : undefined);
              expect(twin.spec).toEqual(original);
              // The snapshotted kernel is not disturbed: it and the twin agree on the rest of the stream.
              const rest = values.slice(o);
              const fromOld = k.push(rest.slice());
              const fromTwin = twin.push(rest.slice());
              assertSame(fromOld, fromTwin, 'restored kernel diverges from the original after the cut', values, spec, `cut at row ${o}`);
              assertSame(expected.slice(o), fromTwin, 'restored kernel output differs from an uninterrupted run', values, spec, `cut at row ${o}`);
              // Continue the chain from a kernel restored at this cut (the original has consumed the rest).
              k.dispose();
              twin.dispose();
              k = await restoreKernel(snap);
            }
          } finally {
            k.dispose();
          }
          assertSame(expected, concat(parts), 'output before the cuts changed', values, spec);
        }),
        { numRuns: NUM_RUNS },
      );
    });

    it('a snapshot of an unused kernel restores to a fresh kernel; snapshots are deterministic', async () => {
      await fc.assert(
        fc.asyncProperty(specArb, input, async (spec, raw) => {
          const values = Float64Array.from(raw);
          await withKernel(spec, async (k) => {
            const restored = await restoreKernel(k.snapshot());
            assertSame(await whole(spec, values), restored.push(values.slice()), 'restored fresh kernel differs', values, spec);
            restored.dispose();
            k.push(values.slice());
            const a = k.snapshot();
            const b = k.snapshot();
            expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
          });
        }),
        { numRuns: NUM_RUNS / 2 },
      );
    });

    it('reset() behaves like a freshly created kernel', async () => {
      await fc.assert(
        fc.asyncProperty(specArb, input, input, async (spec, junk, raw) => {
          const values = Float64Array.from(raw);
          const expected = await whole(spec, values);
          await withKernel(spec, (k) => {
            const before = k.spec;
            k.push(Float64Array.from(junk));
            k.reset();
            expect(k.spec).toEqual(before);
            assertSame(expected, k.push(values.slice()), 'output after reset() differs from a fresh kernel', values, spec, `after ${junk.length} junk rows`);
            // A reset kernel also snapshots like a fresh one continues like one.
            k.reset();
            const half = values.length >> 1;
            k.push(values.slice(0, half));
            assertSame(expected.slice(half), k.push(values.slice(half)), 'second reset() differs', values, spec);
          });
        }),
        { numRuns: NUM_RUNS },
      );
    });

    it('push(batch, out) writes into out and returns what push(batch) returns', async () => {
      await fc.assert(
        fc.asyncProperty(specArb, input, cuts, fc.nat({ max: 5 }), async (spec, raw, cutPoints, slack) => {
          const values = Float64Array.from(raw);
          const lengths = batchesOf(values.length, cutPoints);
          const a = await createKernel(spec);
          const b = await createKernel(spec);
          try {
            let o = 0;
            for (const len of lengths) {
              const batch = values.slice(o, o + len);
              o += len;
              const allocated = a.push(batch.slice());
              const out = new Float64Array(len + slack).fill(-12345.678);
              const returned = b.push(batch.slice(), out);
              expect(returned.length).toBe(len);
              // Written in place: the result is `out` (or a view of its first rows), not a new array.
              expect(returned.buffer).toBe(out.buffer);
              expect(returned.byteOffset).toBe(out.byteOffset);
              assertSame(allocated, returned, 'push(batch, out) returns different results', values, spec, `batch ${JSON.stringify(Array.from(batch))}`);
              assertSame(allocated, out.subarray(0, len), 'out does not hold the results', values, spec);
              for (let i = len; i < out.length; i++) {
                if (out[i] !== -12345.678) throw new Error(`push(batch, out) wrote past batch.length: out[${i}] = ${out[i]}`);
              }
            }
          } finally {
            a.dispose();
            b.dispose();
          }
        }),
        { numRuns: NUM_RUNS },
      );
    });

    it('inputBuffer()/pushInput() return what push() returns', async () => {
      await fc.assert(
        fc.asyncProperty(specArb, input, cuts, async (spec, raw, cutPoints) => {
          const values = Float64Array.from(raw);
          const expected = await whole(spec, values);
          const lengths = batchesOf(values.length, cutPoints);
          const parts = await withKernel(spec, (k) => {
            const out: Float64Array[] = [];
            let o = 0;
            for (const len of lengths) {
              const buf = k.inputBuffer(len);
              expect(buf.length).toBe(len);
              buf.set(values.subarray(o, o + len));
              const r = k.pushInput(len);
              expect(r.length).toBe(len);
              out.push(r.slice());
              o += len;
            }
            return out;
          });
          assertSame(expected, concat(parts), 'pushInput output differs from push', values, spec, `batches ${JSON.stringify(lengths)}`);
        }),
        { numRuns: NUM_RUNS / 2 },
      );
    });

    it('rolling()/ewm() on a number[] equals createKernel(spec).push on a Float64Array', async () => {
      await fc.assert(
        fc.asyncProperty(specArb, input, async (spec, raw) => {
          const values = Float64Array.from(raw);
          const expected = await whole(spec, values);
          if (spec.op === 'ewm') return; // ewm() is checked against the reference in reference.test.ts
          const viaArray = await rolling(raw.slice(), spec as RollingSpec);
          const viaTyped = await rolling(values.slice(), spec as RollingSpec);
          assertSame(expected, viaArray, 'rolling(number[]) differs', values, spec);
          assertSame(expected, viaTyped, 'rolling(Float64Array) differs', values, spec);
        }),
        { numRuns: NUM_RUNS / 2 },
      );
    });
  });
}

// ---------------------------------------------------------------------------
// Deterministic: batches larger than the kernels' IO buffer (16384 rows at init).

describe('batches larger than the IO buffer', () => {
  const rng = mulberry32(99);
  const n = 80_000;
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const r = rng();
    values[i] = r < 0.02 ? NaN : r < 0.03 ? (rng() < 0.5 ? 1e15 : -1e15) : r < 0.035 ? Infinity : gaussian(rng);
  }
  const specs: KernelSpec[] = [
    { op: 'sum', window: 1000, minPeriods: 10 },
    { op: 'mean', window: 17, minPeriods: 0 },
    { op: 'count', window: 20_000, minPeriods: 0 },
    { op: 'min', window: 300, minPeriods: 1 },
    { op: 'max', window: 30_000, minPeriods: 1 },
    { op: 'var', window: 1000, minPeriods: 2, ddof: 1 },
    { op: 'std', window: 33, minPeriods: 5, ddof: 0 },
    { op: 'median', window: 101, minPeriods: 1 },
    { op: 'quantile', window: 2000, minPeriods: 1, q: 0.9 },
    { op: 'ewm', alpha: 0.01, adjust: true, minPeriods: 0 },
  ];
  for (const spec of specs) {
    it(`${spec.op}: one push of ${n} rows = uneven batches = batches through inputBuffer`, async () => {
      const expected = await whole(spec, values);
      const lengths = [0, 1, 16_383, 16_384, 16_385, 3, 17_000 - 1];
      lengths.push(n - lengths.reduce((s, x) => s + x, 0));
      const viaPush: Float64Array[] = [];
      const viaInput: Float64Array[] = [];
      await withKernel(spec, async (k) =>
        withKernel(spec, (z) => {
          let o = 0;
          for (const len of lengths) {
            viaPush.push(k.push(values.slice(o, o + len)).slice());
            const buf = z.inputBuffer(len);
            buf.set(values.subarray(o, o + len));
            viaInput.push(z.pushInput(len).slice());
            o += len;
          }
        }),
      );
      assertSame(expected, concat(viaPush), 'push in large batches differs', [], spec);
      assertSame(expected, concat(viaInput), 'pushInput in large batches differs', [], spec);
    });
  }
});

describe('dispose()', () => {
  it('any later call throws', async () => {
    const k = await createKernel({ op: 'sum', window: 3 });
    k.push(Float64Array.of(1, 2, 3));
    k.dispose();
    expect(() => k.push(Float64Array.of(1))).toThrow();
    expect(() => k.snapshot()).toThrow();
    expect(() => k.reset()).toThrow();
    expect(() => k.inputBuffer(1)).toThrow();
    expect(() => k.pushInput(0)).toThrow();
  });
});
