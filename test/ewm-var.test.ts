// ewm var/std (issue 15): `{ op: 'ewm', ..., stat: 'var' | 'std' }` against
// pandas' `ewm(...).var(bias=False)` / `.std()` (test/fixtures/pandas-ewm-var.json,
// written by scripts/make-fixtures.py), within 1e-9 relative; batch-invariant
// and snapshotable like every kernel; specs validated with exact errors.

import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { crc32 } from '../src/crc32.js';
import { createKernel, ewm, normalizeSpec, restoreKernel, SnapshotError } from '../src/index.js';
import { specFromNormalized } from '../src/spec.js';
import type { EwmSpec, KernelSpec } from '../src/types.js';
import { assertNoFailures, compareExact, describeMismatches, type Mismatch } from './harness.js';

type Num = number | null;
interface Fixture {
  inputs: Record<string, Num[]>;
  cases: { input: string; spec: EwmSpec; pandasAlpha: number; expected: Num[] }[];
}

const fixture = JSON.parse(readFileSync(new URL('./fixtures/pandas-ewm-var.json', import.meta.url), 'utf8')) as Fixture;
const decode = (a: Num[]): Float64Array => Float64Array.from(a, (x) => (x === null ? NaN : x));
const REL = 1e-9;

/** Same NaNs, and every other value within REL relative of pandas'. */
function closeTo(pandas: Float64Array, actual: Float64Array): Mismatch[] {
  const out: Mismatch[] = [];
  for (let i = 0; i < pandas.length; i++) {
    const p = pandas[i]!;
    const a = actual[i]!;
    const ok = Number.isNaN(p) ? Number.isNaN(a) : Math.abs(a - p) <= REL * Math.abs(p);
    if (!ok) out.push({ index: i, expected: `${p} ± ${(REL * Math.abs(p)).toExponential(2)}`, actual: a });
  }
  return out;
}

describe('ewm var/std agree with pandas ewm().var(bias=False) / .std()', () => {
  it('the fixture covers var and std, every decay field, adjust true and false, minPeriods 0 and 5', () => {
    for (const stat of ['var', 'std'] as const) {
      for (const field of ['alpha', 'span', 'halflife', 'com'] as const) {
        for (const adjust of [true, false]) {
          expect(fixture.cases.some((c) => c.spec.stat === stat && c.spec[field] !== undefined && c.spec.adjust === adjust)).toBe(true);
        }
      }
    }
    expect(new Set(fixture.cases.map((c) => c.spec.minPeriods))).toEqual(new Set([0, 5]));
  });

  for (const name of Object.keys(fixture.inputs)) {
    it(`bit for bit with pandas' alpha, else within 1e-9 relative: ${name}`, async () => {
      const values = decode(fixture.inputs[name]!);
      const reports: string[] = [];
      for (const c of fixture.cases.filter((k) => k.input === name)) {
        const actual = await ewm(values.slice(), c.spec);
        // The same recurrence: bit for bit where pandas' alpha is the contract's (see test/pandas.test.ts).
        const sameAlpha = (normalizeSpec({ op: 'ewm', ...c.spec }) as { alpha: number }).alpha === c.pandasAlpha;
        const mismatches = sameAlpha ? compareExact(decode(c.expected), actual) : closeTo(decode(c.expected), actual);
        if (mismatches.length) reports.push(describeMismatches('ewm', values, c.spec, mismatches));
      }
      assertNoFailures(reports);
    });
  }

  it('std is the square root of var, bit for bit', async () => {
    const values = decode(fixture.inputs['normal with NaN runs']!);
    const v = await ewm(values, { span: 5, stat: 'var' });
    const s = await ewm(values, { span: 5, stat: 'std' });
    expect(compareExact(v.map(Math.sqrt), s)).toEqual([]);
  });
});

const value = fc.oneof(
  { weight: 4, arbitrary: fc.double({ min: -10, max: 10, noNaN: true }) },
  { weight: 1, arbitrary: fc.constantFrom(NaN, Infinity, -Infinity, 0, -0, 1e300) },
);
const varSpec: fc.Arbitrary<KernelSpec> = fc
  .record({
    com: fc.double({ min: 0, max: 100, noNaN: true }),
    adjust: fc.boolean(),
    minPeriods: fc.integer({ min: 0, max: 6 }),
    stat: fc.constantFrom('var' as const, 'std' as const),
  })
  .map((s) => ({ op: 'ewm' as const, ...s }));

describe('ewm var/std stream like every kernel', () => {
  it('any split into batches, with a snapshot + restore at every cut, gives the bits of one push', async () => {
    await fc.assert(
      fc.asyncProperty(varSpec, fc.array(value, { maxLength: 200 }), fc.array(fc.nat(200), { maxLength: 8 }), async (spec, raw, cuts) => {
        const values = Float64Array.from(raw);
        const whole = await createKernel(spec);
        const expected = whole.push(values.slice());
        const points = [...new Set(cuts.map((c) => c % (values.length + 1)))].sort((a, b) => a - b);
        const got = new Float64Array(values.length);
        let k = await createKernel(spec);
        let from = 0;
        for (const to of [...points, values.length]) {
          got.set(k.push(values.slice(from, to)), from);
          from = to;
          const bytes = k.snapshot();
          k.dispose();
          k = await restoreKernel(bytes, spec);
        }
        expect(compareExact(expected, got)).toEqual([]);
        expect(k.snapshot()).toEqual(whole.snapshot());
        k.dispose();
        whole.dispose();
      }),
      { numRuns: 100 },
    );
  });

  it('a snapshot of var is refused as std or as the mean, and the reverse', async () => {
    const k = await createKernel({ op: 'ewm', span: 4, stat: 'var' });
    k.push(new Float64Array([1, 2, 3]));
    await expect(restoreKernel(k.snapshot(), { op: 'ewm', span: 4, stat: 'std' })).rejects.toThrow(SnapshotError);
    await expect(restoreKernel(k.snapshot(), { op: 'ewm', span: 4 })).rejects.toThrow(SnapshotError);
    const restored = await restoreKernel(k.snapshot());
    expect(restored.spec).toEqual(normalizeSpec({ op: 'ewm', span: 4, stat: 'var' }));
  });

  it('a var snapshot with a negative variance, resealed, is refused', async () => {
    const k = await createKernel({ op: 'ewm', span: 4, stat: 'var' });
    k.push(new Float64Array([1, 2, 3]));
    const bytes = k.snapshot();
    // The state region is the 80 bytes before the CRC; cov is its f64 at offset 56.
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
    const cov = bytes.length - 4 - 80 + 56;
    expect(view.getFloat64(cov, true)).toBeGreaterThan(0);
    view.setFloat64(cov, -1, true);
    view.setUint32(bytes.length - 4, crc32(bytes, 0, bytes.length - 4), true);
    await expect(restoreKernel(bytes)).rejects.toThrow('snapshot state is inconsistent');
  });
});

describe('ewm stat: the spec field', () => {
  it('absent is the mean, and the normalized mean spec has no stat field (checkpoints of the mean stay as they were)', () => {
    expect(normalizeSpec({ op: 'ewm', span: 3 })).toEqual({ op: 'ewm', com: 1, alpha: 0.5, adjust: true, minPeriods: 0 });
    expect(normalizeSpec({ op: 'ewm', span: 3, stat: 'mean' })).toEqual({ op: 'ewm', com: 1, alpha: 0.5, adjust: true, minPeriods: 0 });
    expect(normalizeSpec({ op: 'ewm', span: 3, stat: 'std' })).toEqual({ op: 'ewm', com: 1, alpha: 0.5, adjust: true, minPeriods: 0, stat: 'std' });
  });

  it('round-trips through specFromNormalized', () => {
    for (const stat of ['var', 'std'] as const) {
      const spec = normalizeSpec({ op: 'ewm', halflife: 2, stat });
      expect(specFromNormalized(JSON.parse(JSON.stringify(spec)))).toEqual(spec);
    }
    expect(() => specFromNormalized({ op: 'ewm', com: 1, alpha: 0.5, adjust: true, minPeriods: 0, stat: 'mean' })).toThrow(
      new RangeError('stat must be absent in a normalized spec, got \'mean\''),
    );
  });

  it.each([
    [{ op: 'ewm', span: 3, stat: 'variance' }, new TypeError("stat must be one of 'mean', 'var', 'std', got 'variance'")],
    [{ op: 'ewm', span: 3, stat: 1 }, new TypeError("stat must be one of 'mean', 'var', 'std', got 1")],
    [{ op: 'ewm', span: 3, stat: null }, new TypeError("stat must be one of 'mean', 'var', 'std', got null")],
    [{ op: 'mean', window: 3, stat: 'var' }, new TypeError("unknown field 'stat' in 'mean' spec; allowed: op, window, minPeriods, ddof, q")],
  ])('refuses %j', async (spec, error) => {
    expect(() => normalizeSpec(spec)).toThrow(error);
    await expect(createKernel(spec as KernelSpec)).rejects.toThrow(error);
  });

  it('gives pandas\' values on a small case: var and std of [1, 2, 4] with alpha 0.5', async () => {
    // pandas: pd.Series([1, 2, 4]).ewm(alpha=0.5).var() → [NaN, 0.5, 2.5]
    expect(Array.from(await ewm([1, 2, 4], { alpha: 0.5, stat: 'var' }))).toEqual([NaN, 0.5, 2.5]);
    const std = await ewm([1, 2, 4], { alpha: 0.5, stat: 'std' });
    expect(Array.from(std)).toEqual([NaN, 0.7071067811865476, 1.5811388300841898]);
  });
});
