// A spec written into a checkpoint or a snapshot decodes to exactly the spec
// that was given (every field Object.is-equal to the normalized spec), for
// every op: scheduler checkpoints (their JSON part, also what the CLI's
// --workers checkpoints hold), kernel snapshots and the time-window
// operators' snapshots. The specs are generated from the op lists. A refused
// checkpoint names the field and says why.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createKernel, restoreKernel } from '../src/kernel.js';
import { checkCompatible, decodeCheckpoint, encodeCheckpoint, type Checkpoint } from '../src/scheduler/checkpoint.js';
import { CheckpointError } from '../src/scheduler/errors.js';
import { EWM_DECAY_FIELDS, KERNEL_OPS, normalizeSpec, sameSpec, specFromNormalized } from '../src/spec.js';
import { createCountWindows, createTimeRolling, createWindows, restoreCountWindows, restoreTimeRolling, restoreWindows } from '../src/time/index.js';
import { normalizeCountWindowSpec, normalizeDurationRolling, normalizeWindowSpec, TIME_OPS } from '../src/time/spec.js';
import type { CountWindowSpec, DurationRollingSpec, KernelSpec, NormalizedSpec, TimeOp, WindowSpec } from '../src/types.js';

const NUM_RUNS = 150;

/** Field by field, Object.is (so -0 and 0 differ), and no field more or less. */
function expectSame(actual: object, expected: object): void {
  expect(Object.keys(actual).sort()).toEqual(Object.keys(expected).sort());
  for (const [k, v] of Object.entries(expected)) expect(Object.is((actual as Record<string, unknown>)[k], v), `${k}: ${(actual as Record<string, unknown>)[k]} vs ${v}`).toBe(true);
}

/** -0 is a valid spelling of every zero a spec allows; it must round-trip like 0. */
const withNegativeZero = (arb: fc.Arbitrary<number>, hasZero = true): fc.Arbitrary<number> => (hasZero ? fc.oneof(arb, fc.constant(-0)) : arb);
const unit = withNegativeZero(fc.double({ min: 0, max: 1, noNaN: true }));
const optional = <T>(arb: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> => fc.option(arb, { nil: undefined });

/** Drops undefined fields (a spec gives a field or leaves it out). */
function given<T extends object>(spec: T): T {
  return Object.fromEntries(Object.entries(spec).filter(([, v]) => v !== undefined)) as T;
}

/** Valid decays: an alpha below about 5.6e-309 or a halflife above about 5e16 has no finite com (refused, tested below). */
const DECAY: Record<(typeof EWM_DECAY_FIELDS)[number], fc.Arbitrary<number>> = {
  alpha: fc.double({ min: 1e-300, max: 1, noNaN: true }),
  span: fc.double({ min: 1, max: 1e9, noNaN: true }),
  halflife: fc.double({ min: Number.MIN_VALUE, max: 1e12, noNaN: true }),
  com: withNegativeZero(fc.double({ min: 0, max: 1e9, noNaN: true })),
};

/** Any valid kernel spec of `op`, with optional fields given or left out. */
function kernelSpec(op: KernelSpec['op']): fc.Arbitrary<KernelSpec> {
  if (op === 'ewm') {
    return fc
      .record({ field: fc.constantFrom(...EWM_DECAY_FIELDS), adjust: optional(fc.boolean()), minPeriods: optional(withNegativeZero(fc.nat(1000))) })
      .chain(({ field, ...rest }) => DECAY[field].map((v) => given({ op, [field]: v, ...rest }) as KernelSpec));
  }
  return fc.integer({ min: 1, max: 64 }).chain((window) =>
    fc
      .record({
        minPeriods: optional(withNegativeZero(fc.integer({ min: 0, max: window }))),
        ddof: op === 'var' || op === 'std' ? optional(withNegativeZero(fc.nat(5))) : fc.constant(undefined),
        q: op === 'quantile' ? unit : fc.constant(undefined),
      })
      .map((rest) => given({ op, window, ...rest }) as KernelSpec),
  );
}
const anyKernelSpec = fc.constantFrom(...KERNEL_OPS).chain(kernelSpec);

function checkpointOf(spec: NormalizedSpec): Checkpoint {
  return { id: 3, offset: 1000, keyGroups: 8, keyed: true, spec, sinkPosition: { bytes: 8000 }, groups: new Map([[1, new Uint8Array([1, 2, 3])]]) };
}

describe('spec round-trips', () => {
  it('a scheduler checkpoint decodes to exactly the normalized spec it was written with, for every op', () => {
    fc.assert(
      fc.property(anyKernelSpec, (spec) => {
        const normalized = normalizeSpec(spec);
        const decoded = decodeCheckpoint(encodeCheckpoint(checkpointOf(normalized))).spec;
        expectSame(decoded, normalized);
        expect(sameSpec(decoded as NormalizedSpec, normalizeSpec(spec))).toBe(true);
        // The job that wrote it (same user spec) accepts it on resume.
        checkCompatible(decodeCheckpoint(encodeCheckpoint(checkpointOf(normalized))), { spec: normalizeSpec(spec), keyGroups: 8, keyed: true });
        expectSame(specFromNormalized(JSON.parse(JSON.stringify(normalized))), normalized);
      }),
      { numRuns: NUM_RUNS * 4 },
    );
  });

  it('a kernel snapshot restores to exactly the normalized spec, and is accepted as of the spec given', async () => {
    await fc.assert(
      fc.asyncProperty(anyKernelSpec, async (spec) => {
        const kernel = await createKernel(spec);
        kernel.push(new Float64Array([1, NaN, 3, -2, 5]));
        const restored = await restoreKernel(kernel.snapshot(), spec);
        expectSame(restored.spec, normalizeSpec(spec));
        kernel.dispose();
        restored.dispose();
      }),
      { numRuns: NUM_RUNS },
    );
  });

  const timeOp = fc.constantFrom(...TIME_OPS);
  const duration = fc.oneof(fc.integer({ min: 1, max: 1e9 }), fc.double({ min: 0.001, max: 1e9, noNaN: true }));
  const lag = optional(withNegativeZero(fc.oneof(fc.nat(100_000), fc.double({ min: 0, max: 1e6, noNaN: true }))));
  const aggregate = (op: TimeOp) =>
    fc.record({
      keys: optional(fc.constantFrom('none', 'number', 'string') as fc.Arbitrary<'none' | 'number' | 'string'>),
      ddof: op === 'var' || op === 'std' ? optional(withNegativeZero(fc.nat(5))) : fc.constant(undefined),
      q: op === 'quantile' ? unit : fc.constant(undefined),
      minPeriods: optional(withNegativeZero(fc.nat(20))),
    });

  it('a time-window snapshot (rolling, tumbling, hopping, session, count) restores to exactly the normalized spec', async () => {
    const rolling = timeOp.chain((op) =>
      fc
        .record({ agg: aggregate(op), window: duration, closed: optional(fc.constantFrom('right', 'left', 'both', 'neither') as fc.Arbitrary<'right'>), maxOutOfOrderness: lag, ttl: optional(fc.oneof(duration, fc.constant(Infinity))) })
        .map(({ agg, ...rest }) => given({ op, ...agg, ...rest }) as DurationRollingSpec),
    );
    const windows = timeOp.chain((op) =>
      fc
        .record({
          agg: aggregate(op),
          kind: fc.constantFrom('tumbling', 'hopping', 'session') as fc.Arbitrary<WindowSpec['kind']>,
          size: fc.integer({ min: 1000, max: 1e6 }),
          steps: fc.integer({ min: 1, max: 50 }),
          offset: optional(withNegativeZero(fc.nat(1e6))),
          maxOutOfOrderness: lag,
          allowedLateness: lag,
        })
        .map(({ agg, kind, size, steps, offset, ...rest }) => {
          const shape = kind === 'session' ? { gap: size } : kind === 'tumbling' ? { size, offset } : { size, step: Math.ceil(size / steps), offset };
          return given({ kind, op, ...agg, ...shape, ...rest }) as WindowSpec;
        }),
    );
    const counts = timeOp.chain((op) =>
      fc
        .record({ agg: aggregate(op), size: fc.integer({ min: 1, max: 1000 }), step: optional(fc.integer({ min: 1, max: 1000 })) })
        .filter(({ size, step }) => step === undefined || size / step <= 1000)
        .map(({ agg, ...rest }) => given({ op, ...agg, ...rest }) as CountWindowSpec),
    );
    await fc.assert(
      fc.asyncProperty(rolling, windows, counts, async (r, w, c) => {
        const rollingOp = await createTimeRolling(r);
        expectSame((await restoreTimeRolling(rollingOp.snapshot(), r)).spec, normalizeDurationRolling(r));
        const windowOp = await createWindows(w);
        expectSame((await restoreWindows(windowOp.snapshot(), w)).spec, normalizeWindowSpec(w));
        const countOp = await createCountWindows(c);
        expectSame((await restoreCountWindows(countOp.snapshot(), c)).spec, normalizeCountWindowSpec(c));
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('regression: a spec with a -0 parameter (q, ddof, minPeriods, com, offset, lateness) did not round-trip: its snapshot was refused as of another spec', async () => {
    const kernelSpecs: KernelSpec[] = [
      { op: 'quantile', window: 5, q: -0 },
      { op: 'var', window: 5, ddof: -0, minPeriods: -0 },
      { op: 'ewm', com: -0, minPeriods: -0 },
    ];
    for (const spec of kernelSpecs) {
      const kernel = await createKernel(spec);
      expectSame((await restoreKernel(kernel.snapshot(), spec)).spec, normalizeSpec(spec));
      const cp = decodeCheckpoint(encodeCheckpoint(checkpointOf(normalizeSpec(spec))));
      expect(() => checkCompatible(cp, { spec: normalizeSpec(spec), keyGroups: 8, keyed: true })).not.toThrow();
    }
    const rolling: DurationRollingSpec = { op: 'quantile', window: 1000, q: -0, maxOutOfOrderness: -0, minPeriods: -0 };
    expectSame((await restoreTimeRolling((await createTimeRolling(rolling)).snapshot(), rolling)).spec, normalizeDurationRolling(rolling));
    const tumbling: WindowSpec = { kind: 'tumbling', op: 'sum', size: 1000, offset: -0, allowedLateness: -0 };
    expectSame((await restoreWindows((await createWindows(tumbling)).snapshot(), tumbling)).spec, normalizeWindowSpec(tumbling));
    const count: CountWindowSpec = { op: 'var', size: 10, ddof: -0 };
    expectSame((await restoreCountWindows((await createCountWindows(count)).snapshot(), count)).spec, normalizeCountWindowSpec(count));
  });
});

describe('ewm decays without a finite centre of mass', () => {
  it('regression: ewm with an alpha too small (5e-324) or a halflife too long (1e17) was accepted with com = Infinity, which no kernel runs and no checkpoint decodes', async () => {
    expect(() => normalizeSpec({ op: 'ewm', alpha: 5e-324 })).toThrow(new RangeError('alpha must give a finite centre of mass (com), got 5e-324'));
    expect(() => normalizeSpec({ op: 'ewm', halflife: 1e17 })).toThrow(new RangeError('halflife must give a finite centre of mass (com), got 100000000000000000'));
    await expect(createKernel({ op: 'ewm', alpha: 5e-324 })).rejects.toThrow('alpha must give a finite centre of mass (com), got 5e-324');
    // The extremes that still have one run, and round-trip.
    for (const spec of [{ op: 'ewm', alpha: 1e-300 }, { op: 'ewm', halflife: 1e15 }, { op: 'ewm', span: Number.MAX_VALUE }] as KernelSpec[]) {
      const normalized = normalizeSpec(spec);
      expectSame(decodeCheckpoint(encodeCheckpoint(checkpointOf(normalized))).spec, normalized);
      const kernel = await createKernel(spec);
      expectSame((await restoreKernel(kernel.snapshot(), spec)).spec, normalized);
    }
  });
});

describe('a refused checkpoint names the field and says why', () => {
  function refusal(spec: unknown): string {
    try {
      decodeCheckpoint(encodeCheckpoint(checkpointOf(spec as NormalizedSpec)));
    } catch (e) {
      return `${(e as CheckpointError).code}: ${(e as Error).message}`;
    }
    return 'accepted';
  }
  const ewm = normalizeSpec({ op: 'ewm', span: 10 });

  it.each([
    [{ ...ewm, alpha: 0.2 }, 'alpha must be 0.18181818181818182 in a normalized spec, got 0.2'],
    [{ op: 'ewm', alpha: 0.2, adjust: true, minPeriods: 0 }, 'com must be 4 in a normalized spec, got undefined'],
    [{ ...ewm, span: 10 }, 'exactly one of alpha, span, halflife, com is required, got span and com'],
    [{ ...ewm, adjust: 'yes' }, "adjust must be a boolean, got 'yes'"],
    [{ op: 'mean', window: 5 }, 'minPeriods must be 5 in a normalized spec, got undefined'],
    [{ op: 'std', window: 5, minPeriods: 5 }, 'ddof must be 1 in a normalized spec, got undefined'],
    [{ op: 'mean', window: 0, minPeriods: 0 }, 'window must be an integer from 1 to 16777216, got 0'],
    [{ op: 'mean', window: 5, minPeriods: 5, q: 0.5 }, "q applies only to 'quantile', not to 'mean'"],
  ])('%j: %s', (spec, why) => {
    expect(refusal(spec)).toBe(`BAD_FORMAT: checkpoint is malformed: spec is invalid (${why})`);
  });

  it('accepts every normalized spec of the ops as written', () => {
    for (const op of KERNEL_OPS) {
      const spec = op === 'ewm' ? { op, halflife: 3 } : op === 'quantile' ? { op, window: 9, q: 0.75 } : { op, window: 9 };
      expect(refusal(normalizeSpec(spec as KernelSpec)), op).toBe('accepted');
    }
  });

  it('is a CheckpointError', () => {
    expect(() => decodeCheckpoint(encodeCheckpoint(checkpointOf({ op: 'mean', window: 5 } as NormalizedSpec)))).toThrow(CheckpointError);
  });
});
