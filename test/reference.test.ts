// rolling() and ewm() against the slow reference, on every adversarial case.
//
// For every op × window (1, 2, 3, 7, 64, longer than the input) × minPeriods
// (0, 1, ⌊w/2⌋, w) × generator case (× ddof 0/1/2 for var/std, × q for
// quantile): min/max/count/median/quantile/ewm bit for bit, sum/mean/var/std
// within the accuracy contract against the exact value (see checkApprox in
// reference.ts). A failure lists the spec, the index, the window, expected and
// actual, and the full input as a copy-pastable repro.

import { describe, expect, it } from 'vitest';
import { ewm, rolling } from '../src/index.js';
import type { EwmSpec, RollingSpec } from '../src/types.js';
import { adversarialCases, gaussian, mulberry32 } from './adversarial.js';
import {
  assertNoFailures,
  compareExact,
  compareRolling,
  describeMismatches,
  minPeriodsFor,
  StatsCache,
  windowsFor,
} from './harness.js';
import {
  checkApprox,
  exactStats,
  fmtArray,
  isqrt,
  ratToDouble,
  refEwm,
  refEwmWithAlpha,
  refRolling,
  refWindowValue,
  SCALE_EXP,
  scaledInt,
  sqrtRatToDouble,
} from './reference.js';

const CASES = adversarialCases();
const stats = new StatsCache();

interface Variant {
  label: string;
  spec: (window: number, minPeriods: number) => RollingSpec;
}

const VARIANTS: Variant[] = [
  ...(['sum', 'mean', 'count', 'min', 'max', 'median'] as const).map((op) => ({
    label: op,
    spec: (window: number, minPeriods: number): RollingSpec => ({ op, window, minPeriods }),
  })),
  ...(['var', 'std'] as const).flatMap((op) =>
    [0, 1, 2].map((ddof) => ({
      label: `${op} ddof=${ddof}`,
      spec: (window: number, minPeriods: number): RollingSpec => ({ op, window, minPeriods, ddof }),
    })),
  ),
  ...[0, 0.25, 0.5, 0.9, 1].map((q) => ({
    label: `quantile q=${q}`,
    spec: (window: number, minPeriods: number): RollingSpec => ({ op: 'quantile', window, minPeriods, q }),
  })),
];

describe('rolling() matches the reference on adversarial series', () => {
  for (const variant of VARIANTS) {
    describe(variant.label, () => {
      for (const c of CASES) {
        it(`${c.name} (${c.values.length} rows)`, async () => {
          const reports: string[] = [];
          for (const w of windowsFor(c.values.length)) {
            for (const mp of minPeriodsFor(w)) {
              const spec = variant.spec(w, mp);
              let actual: Float64Array;
              try {
                actual = await rolling(c.values.slice(), spec);
              } catch (e) {
                reports.push(`rolling threw ${String(e)}\n  repro: await rolling(new Float64Array(${fmtArray(c.values)}), ${JSON.stringify(spec)})`);
                continue;
              }
              const mismatches = compareRolling(c.values, spec, actual, {
                ignoreZeroSign: c.signedZeros === true,
                stats,
              });
              if (mismatches.length > 0) reports.push(describeMismatches('rolling', c.values, spec, mismatches, w));
            }
          }
          assertNoFailures(reports);
        });
      }
    });
  }
});

describe('rolling() fills in defaults (minPeriods = window, ddof = 1)', () => {
  const values = adversarialCases().find((c) => c.name.startsWith('NaN runs'))!.values;
  for (const op of ['sum', 'mean', 'var', 'std', 'count', 'min', 'max', 'median'] as const) {
    it(op, async () => {
      const spec: RollingSpec = { op, window: 7 };
      const actual = await rolling(values, spec);
      const mismatches = compareRolling(values, spec, actual, { stats });
      assertNoFailures(mismatches.length ? [describeMismatches('rolling', values, spec, mismatches, 7)] : []);
    });
  }
  it('quantile', async () => {
    const spec: RollingSpec = { op: 'quantile', window: 7, q: 0.3 };
    const actual = await rolling(values, spec);
    const mismatches = compareRolling(values, spec, actual, { stats });
    assertNoFailures(mismatches.length ? [describeMismatches('rolling', values, spec, mismatches, 7)] : []);
  });
});

// ---------------------------------------------------------------------------
// ewm

interface EwmFamily {
  label: string;
  specs: EwmSpec[];
}

const EWM_FAMILIES: EwmFamily[] = [
  { label: 'alpha', specs: [{ alpha: 0.5 }, { alpha: 0.1 }, { alpha: 1 }, { alpha: 1e-3 }, { alpha: 0.7300000000000001 }, { alpha: 0.121 }] },
  { label: 'span', specs: [{ span: 1 }, { span: 4 }, { span: 10.5 }, { span: 1000 }] },
  { label: 'halflife', specs: [{ halflife: 0.5 }, { halflife: 2.5 }, { halflife: 3 }, { halflife: 50 }] },
  { label: 'com', specs: [{ com: 0 }, { com: 2.5 }, { com: 19 }] },
];

describe('ewm() matches the pandas recurrence bit for bit on adversarial series', () => {
  for (const family of EWM_FAMILIES) {
    describe(family.label, () => {
      for (const c of CASES) {
        it(`${c.name} (${c.values.length} rows)`, async () => {
          const reports: string[] = [];
          for (const base of family.specs) {
            for (const adjust of [true, false]) {
              for (const minPeriods of [0, 1, 5]) {
                const spec: EwmSpec = { ...base, adjust, minPeriods };
                let actual: Float64Array;
                try {
                  actual = await ewm(c.values.slice(), spec);
                } catch (e) {
                  reports.push(`ewm threw ${String(e)}\n  repro: await ewm(new Float64Array(${fmtArray(c.values)}), ${JSON.stringify(spec)})`);
                  continue;
                }
                const mismatches = compareExact(refEwm(c.values, spec), actual);
                if (mismatches.length > 0) reports.push(describeMismatches('ewm', c.values, spec, mismatches));
              }
            }
          }
          assertNoFailures(reports);
        });
      }
    });
  }

  it('defaults: adjust = true, minPeriods = 0', async () => {
    const values = CASES.find((c) => c.name.startsWith('NaN runs'))!.values;
    for (const spec of [{ alpha: 0.2 }, { span: 5 }, { halflife: 2 }, { com: 1.5 }] as EwmSpec[]) {
      const mismatches = compareExact(refEwm(values, { ...spec, adjust: true, minPeriods: 0 }), await ewm(values, spec));
      assertNoFailures(mismatches.length ? [describeMismatches('ewm', values, spec, mismatches)] : []);
    }
  });
});

// ---------------------------------------------------------------------------
// The reference itself: if these fail, fix test/reference.ts before trusting anything above.

describe('reference self-checks', () => {
  const rng = mulberry32(7);
  const randomDouble = (): number => {
    // Random bit patterns cover every binade, subnormals included.
    const hi = Math.floor(rng() * 0x7ff00000); // below the Inf/NaN exponent
    const lo = Math.floor(rng() * 2 ** 32);
    const b = new Uint32Array([lo, hi]);
    const x = new Float64Array(b.buffer)[0]!;
    return rng() < 0.5 ? -x : x;
  };

  it('scaledInt is exact: ratToDouble(scaledInt(x), 1, -1074) === x for random doubles', () => {
    for (let i = 0; i < 2000; i++) {
      const x = randomDouble();
      expect(Object.is(ratToDouble(scaledInt(x), 1n, SCALE_EXP), x), `x = ${x}`).toBe(true);
    }
    expect(scaledInt(Number.MIN_VALUE)).toBe(1n);
    expect(scaledInt(1)).toBe(1n << 1074n);
    expect(scaledInt(-0.5)).toBe(-(1n << 1073n));
  });

  it('ratToDouble rounds correctly (IEEE division of small integers is correctly rounded)', () => {
    for (let i = 0; i < 5000; i++) {
      const a = Math.floor((rng() - 0.5) * 2 ** 53);
      const b = 1 + Math.floor(rng() * 2 ** (1 + Math.floor(rng() * 52)));
      expect(ratToDouble(BigInt(a), BigInt(b), 0), `${a}/${b}`).toBe(a / b);
      // Scaling by a power of two moves the value into the subnormal range and still rounds correctly.
      const k = -1074 + Math.floor(rng() * 40);
      const viaNumber = (a / b) * 2 ** k; // double rounding is possible here, so only check ≤ 1 ulp apart
      const exact = ratToDouble(BigInt(a), BigInt(b), k);
      expect(Math.abs(exact - viaNumber) <= Number.MIN_VALUE, `${a}/${b}·2^${k}`).toBe(true);
    }
    expect(ratToDouble(1n, 2n, -1074)).toBe(0); // tie to even
    expect(ratToDouble(3n, 2n, -1074)).toBe(2 * Number.MIN_VALUE); // tie to even
    expect(ratToDouble(1n, 1n, 1024)).toBe(Infinity);
    expect(ratToDouble(-1n, 3n, 0)).toBe(-1 / 3);
  });

  it('sqrtRatToDouble equals Math.sqrt (correctly rounded) on random doubles', () => {
    for (let i = 0; i < 2000; i++) {
      const x = Math.abs(randomDouble());
      expect(sqrtRatToDouble(scaledInt(x), 1n, SCALE_EXP), `x = ${x}`).toBe(Math.sqrt(x));
    }
    for (let i = 0; i < 200; i++) {
      const k = BigInt(Math.floor(rng() * 2 ** 40));
      expect(isqrt(k * k)).toBe(k);
      if (k > 0n) expect(isqrt(k * k - 1n)).toBe(k - 1n);
    }
  });

  it('hand-computed windows', () => {
    const v = [4, NaN, 1, 3, 2, Infinity];
    expect(refRolling(v, { op: 'sum', window: 3, minPeriods: 0 })).toEqual(Float64Array.of(4, 4, 5, 4, 6, Infinity));
    expect(refRolling(v, { op: 'median', window: 4, minPeriods: 1 })).toEqual(Float64Array.of(4, 4, 2.5, 3, 2, 2.5));
    expect(refRolling(v, { op: 'quantile', window: 4, minPeriods: 1, q: 0.25 })).toEqual(Float64Array.of(4, 4, 1.75, 2, 1.5, 1.75));
    expect(refRolling(v, { op: 'count', window: 2, minPeriods: 1 })).toEqual(Float64Array.of(1, 1, 1, 2, 2, 2));
    expect(refRolling(v, { op: 'var', window: 3, minPeriods: 2 })).toEqual(Float64Array.of(NaN, NaN, 4.5, 2, 1, NaN));
    expect(refRolling(v, { op: 'min', window: 2, minPeriods: 2 })).toEqual(Float64Array.of(NaN, NaN, NaN, 1, 2, 2));
    expect(refRolling([Infinity, -Infinity, 1, 2], { op: 'mean', window: 2, minPeriods: 1 })).toEqual(Float64Array.of(Infinity, NaN, -Infinity, 1.5));
    expect(refRolling([NaN, NaN], { op: 'sum', window: 2, minPeriods: 0 })).toEqual(Float64Array.of(0, 0));
    expect(refRolling([NaN, NaN], { op: 'mean', window: 2, minPeriods: 0 })).toEqual(Float64Array.of(NaN, NaN));
    expect(refRolling([Infinity, Infinity], { op: 'quantile', window: 2, minPeriods: 0, q: 0.5 })).toEqual(Float64Array.of(Infinity, NaN));
    // pandas 1.5.3: pd.Series([1, nan, 3, 3]).ewm(alpha=0.5).mean().tolist() → [1.0, 1.0, 2.6, 2.8461538461538463]
    expect(refEwmWithAlpha([1, NaN, 3, 3], 0.5, true, 0)).toEqual(Float64Array.of(1, 1, 2.6, 2.8461538461538463));
  });

  it('checkApprox accepts the correctly rounded exact value and rejects a value 1e-8 off', () => {
    const g = mulberry32(3);
    const values = Array.from({ length: 50 }, () => 1e9 + gaussian(g));
    for (const op of ['sum', 'mean', 'var', 'std'] as const) {
      const spec: RollingSpec = { op, window: 10, minPeriods: 2 };
      for (let i = 1; i < values.length; i++) {
        const rows = values.slice(Math.max(0, i - 9), i + 1);
        const e = refWindowValue(rows, spec);
        expect(checkApprox(rows, spec, e), `${op} @${i}`).toBeNull();
        expect(checkApprox(rows, spec, e * (1 + 1e-8) + 1e-300), `${op} @${i}`).not.toBeNull();
        expect(checkApprox(rows, spec, NaN), `${op} @${i}`).not.toBeNull();
      }
    }
    // var never negative, exactly 0 on equal values.
    const st = exactStats([2, 2, 2]);
    expect(st.n).toBe(3);
    expect(checkApprox([2, 2, 2], { op: 'var', window: 3 }, 0)).toBeNull();
    expect(checkApprox([2, 2, 2], { op: 'var', window: 3 }, 1e-300)).not.toBeNull();
    expect(checkApprox([1, 2, 3], { op: 'var', window: 3 }, -1)).not.toBeNull();
  });
});
