// The pushValue rows that run in JavaScript (src/row-steps.ts, issue 20):
// sum, mean and count (windows from the step's threshold up, across sub-block
// and block ends) and ewm mean, var and std. Row by row, interleaved with
// push() batches, across a snapshot + restore, a reset() and memory growth at
// any point, they give the bits of one push() of the same rows, and every
// snapshot is the bytes of the reference's at the same row.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createKernel, restoreKernel } from '../src/index.js';
import { WARM_UP_ROWS } from '../src/row-step-kernel.js';
import { SUM_ROW_STEP_MIN_WINDOW } from '../src/row-step-sum.js';
import { VAR_ROW_STEP_MIN_WINDOW } from '../src/row-step-var.js';
import type { Kernel, KernelSpec } from '../src/types.js';
import { SPECIAL_VALUES } from './adversarial.js';
import { compareExact, describeMismatches } from './harness.js';

/** A NaN with any payload and sign: the ring keeps the row's bits, and snapshots carry them. */
const nanWithPayload: fc.Arbitrary<number> = fc.tuple(fc.boolean(), fc.bigInt({ min: 1n, max: (1n << 52n) - 1n })).map(([negative, payload]) => {
  const bits = new BigUint64Array([(negative ? 0xfff0000000000000n : 0x7ff0000000000000n) | payload]);
  return new Float64Array(bits.buffer)[0]!;
});

/** Full of NaN, ±Infinity, huge and tiny magnitudes, -0 and values that cancel. */
const value: fc.Arbitrary<number> = fc.oneof(
  { weight: 4, arbitrary: fc.double({ min: -10, max: 10, noNaN: true }) },
  { weight: 2, arbitrary: fc.integer({ min: -3, max: 3 }) },
  { weight: 2, arbitrary: fc.constantFrom(...SPECIAL_VALUES, -0, 1e16, -1e16, 1 + 2 ** -52, 1e300, -1e300, 5e-324, -5e-324, 2 ** -1022) },
  { weight: 1, arbitrary: fc.double() },
  { weight: 1, arbitrary: fc.constant(NaN) },
  { weight: 1, arbitrary: nanWithPayload },
);

// Around the threshold, a block that is one sub-block (≤ 256 rows) or exactly one
// (256), one row more, and blocks of several sub-blocks (1000: 256 + 256 + 256 + 232).
const SUM_WINDOWS = [SUM_ROW_STEP_MIN_WINDOW, SUM_ROW_STEP_MIN_WINDOW + 1, 37, 255, 256, 257, 1000];

// var/std: sub-blocks of 64 rows up to W = 4096, then ⌈√W⌉. Around the threshold (32), a block
// shorter than a sub-block, exactly one (64) and one row more, a sub-block end that is the
// block's end (128), blocks of several sub-blocks (100: 64 + 36; 1000), and sub-blocks of 65 (4097).
const VAR_WINDOWS = [VAR_ROW_STEP_MIN_WINDOW, VAR_ROW_STEP_MIN_WINDOW + 1, 63, 64, 65, 100, 128, 1000];

/** Runs of one value (exactly 0 variance must stay exactly 0), bursts of ±1e15 that leave, rounding sums, and any values between. */
const varRows = (max: number): fc.Arbitrary<number[]> =>
  fc
    .array(
      fc.oneof(
        fc.tuple(fc.constantFrom(0, -0, 1e9 + 0.5, 3, 1e-300, 1e300, -7.25), fc.integer({ min: 1, max: 300 })).map(([v, k]) => Array<number>(k).fill(v)),
        fc.array(fc.constantFrom(1e15, -1e15, 1e15 + 1, 0.1), { minLength: 1, maxLength: 20 }),
        fc.array(value, { maxLength: 200 }),
        fc.array(fc.double({ min: 99, max: 101, noNaN: true }), { maxLength: 300 }),
        // Full mantissas: every sum rounds, so a sum taken in another order gives other bits.
        fc.tuple(fc.integer(), fc.integer({ min: 1, max: 400 })).map(([seed, k]) => Array.from({ length: k }, (_, i) => 100 + Math.sin(seed + i))),
      ),
      { maxLength: 12 },
    )
    .map((parts) => parts.flat().slice(0, max));

type Event = { at: number; kind: 'snapshot' | 'reset' | 'grow' };

/**
 * Feeds `values` in runs (by push() or one pushValue() per row) to a kernel of
 * `spec`, and the same rows to a reference by push() in the same cuts; at each
 * event's row, snapshots (compared, then the kernel restored from its bytes),
 * resets both, or grows the kernel's memory. Returns the results of both.
 */
async function drive(spec: KernelSpec, values: Float64Array, runs: [boolean, number][], events: Event[]): Promise<{ got: Float64Array; expected: Float64Array; kernel: Kernel; reference: Kernel }> {
  const n = values.length;
  const got = new Float64Array(n);
  const expected = new Float64Array(n);
  let kernel = await createKernel(spec);
  const reference = await createKernel(spec);
  const cuts = [...new Set(events.map((e) => e.at % (n + 1)))].sort((a, b) => a - b);
  let i = 0;
  let run = 0;
  const apply = async (at: number): Promise<void> => {
    for (const event of events) {
      if (event.at % (n + 1) !== at) continue;
      if (event.kind === 'snapshot') {
        const bytes = kernel.snapshot();
        expect(bytes).toEqual(reference.snapshot());
        kernel.dispose();
        kernel = await restoreKernel(bytes, spec);
      } else if (event.kind === 'reset') {
        kernel.reset();
        reference.reset();
      } else {
        kernel.inputBuffer(1 << 20); // memory grows: the old buffer detaches
      }
    }
  };
  await apply(0);
  while (i < n) {
    const [oneAtATime, length] = runs[run++ % Math.max(runs.length, 1)] ?? [true, 1];
    const nextCut = cuts.find((c) => c > i) ?? n;
    const end = Math.min(n, i + Math.max(length, 1), nextCut);
    expected.set(reference.push(values.slice(i, end)), i);
    if (oneAtATime) for (; i < end; i++) got[i] = kernel.pushValue(values[i]!);
    else {
      got.set(kernel.push(values.slice(i, end)), i);
      i = end;
    }
    if (cuts.includes(i)) await apply(i);
  }
  return { got, expected, kernel, reference };
}

/** Any number of rows up to `max` (fc.array alone keeps arrays short: its default size is small). */
function rowsUpTo(max: number): fc.Arbitrary<number[]> {
  return fc.integer({ min: 0, max }).chain((n) => fc.array(value, { minLength: n, maxLength: n }));
}

const runsArb = fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 1, max: 600 })), { maxLength: 10 });
const eventsArb = fc.array(fc.record({ at: fc.nat({ max: 5000 }), kind: fc.constantFrom('snapshot' as const, 'reset' as const, 'grow' as const) }), { maxLength: 4 });

async function check(spec: KernelSpec, raw: number[], runs: [boolean, number][], events: Event[]): Promise<void> {
  const values = Float64Array.from(raw);
  const { got, expected, kernel, reference } = await drive(spec, values, runs, events);
  try {
    const mismatches = compareExact(expected, got);
    if (mismatches.length > 0) {
      throw new Error(`runs ${JSON.stringify(runs)}, events ${JSON.stringify(events)}\n${describeMismatches('kernel.pushValue', values, spec, mismatches)}`);
    }
    expect(kernel.snapshot()).toEqual(reference.snapshot());
    // Both go on alike.
    for (const x of [1.5, NaN, -2, Infinity, 3]) expect(Object.is(kernel.pushValue(x), reference.push(new Float64Array([x]))[0])).toBe(true);
    expect(kernel.snapshot()).toEqual(reference.snapshot());
  } finally {
    kernel.dispose();
    reference.dispose();
  }
}

describe('pushValue rows in JavaScript: the bits and snapshots of push()', () => {
  for (const op of ['sum', 'mean', 'count'] as const) {
    for (const window of SUM_WINDOWS) {
      it(`${op}, window ${window}: any interleaving with push, snapshot + restore, reset and memory growth at any row`, async () => {
        const rows = rowsUpTo(Math.min(3 * window + 50, 2600));
        await fc.assert(
          fc.asyncProperty(fc.integer({ min: 0, max: window }), rows, runsArb, eventsArb, async (minPeriods, raw, runs, events) => {
            await check({ op, window, minPeriods }, raw, runs, events);
          }),
          { numRuns: window >= 256 ? 12 : 25 },
        );
      });
    }
  }

  for (const stat of ['mean', 'var', 'std'] as const) {
    it(`ewm ${stat}: any interleaving with push, snapshot + restore, reset and memory growth at any row`, async () => {
      const spec = fc.record({ span: fc.double({ min: 1, max: 50, noNaN: true }), adjust: fc.boolean(), minPeriods: fc.integer({ min: 0, max: 5 }) });
      await fc.assert(
        fc.asyncProperty(spec, rowsUpTo(600), runsArb, eventsArb, async (s, raw, runs, events) => {
          await check({ op: 'ewm', stat, ...s }, raw, runs, events);
        }),
        { numRuns: 40 },
      );
    });
  }

  for (const op of ['var', 'std'] as const) {
    for (const window of VAR_WINDOWS) {
      it(`${op}, window ${window}: any interleaving with push, snapshot + restore, reset and memory growth at any row, any ddof`, async () => {
        const rows = fc.oneof(rowsUpTo(Math.min(3 * window + 50, 2600)), varRows(Math.min(4 * window + 50, 3000)));
        await fc.assert(
          fc.asyncProperty(fc.integer({ min: 0, max: window }), fc.constantFrom(0, 1, 2, 5), rows, runsArb, eventsArb, async (minPeriods, ddof, raw, runs, events) => {
            await check({ op, window, minPeriods, ddof }, raw, runs, events);
          }),
          { numRuns: window >= 256 ? 12 : 25 },
        );
      });
    }
  }

  it('var/std with sub-blocks longer than 64 rows (window 4097): the bits and snapshots of push()', async () => {
    for (const op of ['var', 'std'] as const) {
      await fc.assert(
        fc.asyncProperty(fc.constantFrom(0, 1), varRows(9000), runsArb, eventsArb, async (ddof, raw, runs, events) => {
          await check({ op, window: 4097, minPeriods: 1, ddof }, raw, runs, events);
        }),
        { numRuns: 4 },
      );
    }
  });

  it('windows below the threshold keep the WASM row (blocks end too often for the JS step to win): the same bits either way', async () => {
    for (const window of [1, 2, SUM_ROW_STEP_MIN_WINDOW - 1]) {
      const values = Float64Array.from({ length: 200 }, (_, i) => (i % 7 === 0 ? NaN : Math.sin(i) * 1e3));
      await check({ op: 'mean', window, minPeriods: 1 }, Array.from(values), [[true, 50], [false, 13]], [{ at: 77, kind: 'snapshot' }]);
    }
    for (const window of [1, 2, VAR_ROW_STEP_MIN_WINDOW - 1]) {
      const values = Float64Array.from({ length: 200 }, (_, i) => (i % 7 === 0 ? NaN : Math.sin(i) * 1e3));
      await check({ op: 'std', window, minPeriods: 1 }, Array.from(values), [[true, 50], [false, 13]], [{ at: 77, kind: 'snapshot' }]);
    }
  });

  it('optimized code keeps NaN payloads and -0 in the ring: 200 000 rows one at a time give the snapshot of push', async () => {
    // Long enough for V8 to optimize the row step, whose stores must keep the row's bits.
    const payloads = new Float64Array(new BigUint64Array([0x7ff0000000000001n, 0xfff8000000000abcn, 0x7ff4000000000000n]).buffer);
    const values = Float64Array.from({ length: 200_000 }, (_, i) => (i % 11 === 0 ? payloads[i % 3]! : i % 13 === 0 ? -0 : (i % 101) - 50));
    for (const op of ['sum', 'mean', 'count', 'var', 'std'] as const) {
      for (const window of [SUM_ROW_STEP_MIN_WINDOW, 1000, 4099]) {
        const spec: KernelSpec = { op, window, minPeriods: 0 };
        const reference = await createKernel(spec);
        const expected = reference.push(values);
        const kernel = await createKernel(spec);
        const got = new Float64Array(values.length);
        for (let i = 0; i < values.length; i++) got[i] = kernel.pushValue(values[i]!);
        expect(compareExact(expected, got)).toEqual([]);
        expect(kernel.snapshot()).toEqual(reference.snapshot());
      }
    }
  });

  it('regression: the JS step ran from a kernel\'s second row, before V8 had type feedback for pushValue\'s WASM path (a deopt at the first block end of a large window, issue 20\'s slow mode); the first WARM_UP_ROWS rows now run in WASM, with the bits of push()', async () => {
    const values = Float64Array.from({ length: 3 * WARM_UP_ROWS }, (_, i) => (i % 9 === 0 ? NaN : Math.cos(i) * 50));
    for (const op of ['sum', 'mean', 'count', 'var', 'std'] as const) {
      const spec: KernelSpec = { op, window: 10_000, minPeriods: 1 };
      const kernel = await createKernel(spec);
      // Counts the calls into the module's own pushValue export (the field WasmKernel reads once).
      const held = kernel as unknown as { step: (x: number) => number };
      const step = held.step;
      let wasmRows = 0;
      held.step = (x) => (wasmRows++, step(x));
      const got = Float64Array.from(values, (x) => kernel.pushValue(x));
      expect(wasmRows, op).toBe(WARM_UP_ROWS);
      const reference = await createKernel(spec);
      expect(compareExact(reference.push(values), got)).toEqual([]);
      expect(kernel.snapshot()).toEqual(reference.snapshot());
    }
  });

  it('sum, mean, count: after the warm-up, a block\'s last row runs in JavaScript and only the suffix pass in WASM (finishRingBlock), with the bits and snapshots of push()', async () => {
    // Windows whose block ends fall on a group's last row and off it, on a sub-block's end (256) and not.
    for (const window of [SUM_ROW_STEP_MIN_WINDOW, 99, 256, 257, 1027]) {
      const values = Float64Array.from({ length: WARM_UP_ROWS + 4 * window + 3 }, (_, i) => (i % 7 === 0 ? NaN : i % 5 === 0 ? -0 : Math.sin(i) * 1e3));
      for (const op of ['sum', 'mean', 'count'] as const) {
        const spec: KernelSpec = { op, window, minPeriods: 1 };
        const kernel = await createKernel(spec);
        const held = kernel as unknown as { step: (x: number) => number; finishRingBlock: () => void };
        const [step, finish] = [held.step, held.finishRingBlock];
        let wasmRows = 0;
        let blockEnds = 0;
        held.step = (x) => (wasmRows++, step(x));
        held.finishRingBlock = () => (blockEnds++, finish());
        const got = Float64Array.from(values, (x) => kernel.pushValue(x));
        expect(wasmRows, `${op} w=${window}`).toBe(WARM_UP_ROWS);
        expect(blockEnds, `${op} w=${window}`).toBe(Math.floor(values.length / window) - Math.floor(WARM_UP_ROWS / window));
        const reference = await createKernel(spec);
        expect(compareExact(reference.push(values), got)).toEqual([]);
        expect(kernel.snapshot()).toEqual(reference.snapshot());
        kernel.dispose();
        reference.dispose();
      }
    }
  });

  it('throws after dispose(), also with its state held in the object', async () => {
    for (const spec of [{ op: 'sum', window: 100 }, { op: 'std', window: 100 }, { op: 'ewm', span: 5, stat: 'var' }] as KernelSpec[]) {
      const k = await createKernel(spec);
      k.pushValue(1);
      k.dispose();
      expect(() => k.pushValue(1)).toThrow('kernel has been disposed');
      expect(() => k.snapshot()).toThrow('kernel has been disposed');
    }
  });
});
