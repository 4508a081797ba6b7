// Regression tests, each named after the problem it pins down. Several are
// the classic failures of add/subtract rolling kernels (bottleneck, naive
// Welford); others are bugs found while writing this suite.

import { describe, expect, it } from 'vitest';
import { createKernel, ewm, rolling } from '../src/index.js';
import type { RollingSpec } from '../src/types.js';
import { gaussian, mulberry32 } from './adversarial.js';
import { assertNoFailures, compareRolling, describeMismatches, StatsCache } from './harness.js';
import { checkApprox, ewmAlpha, fmt, fmtArray, refEwm, windowRows } from './reference.js';

/** Asserts rolling(values, spec) meets the contract everywhere; the failure carries a repro. */
async function expectContract(values: Float64Array | number[], spec: RollingSpec): Promise<Float64Array> {
  const v = Float64Array.from(values);
  const actual = await rolling(v.slice(), spec);
  const mismatches = compareRolling(v, spec, actual);
  assertNoFailures(mismatches.length ? [describeMismatches('rolling', v, spec, mismatches, spec.window)] : []);
  return actual;
}

function repro(values: ArrayLike<number>, spec: object, i: number, actual: number): string {
  return `rolling(${fmtArray(values)}, ${JSON.stringify(spec)})[${i}] = ${fmt(actual)}`;
}

describe('regressions', () => {
  it('var is exactly 0 on a constant window after a ±1e15 burst leaves (bottleneck move_var returns 7e13)', async () => {
    const rng = mulberry32(1);
    const burst = Array.from({ length: 30 }, () => (rng() < 0.5 ? -1e15 : 1e15) * (1 + rng()));
    for (const level of [1.5, 0.1, 1e9 + 0.1]) {
      const values = [...burst, ...Array<number>(100).fill(level)];
      for (const window of [3, 10, 64]) {
        for (const op of ['var', 'std'] as const) {
          for (const ddof of [0, 1]) {
            const spec: RollingSpec = { op, window, minPeriods: 2, ddof };
            const out = await rolling(values, spec);
            for (let i = burst.length + window - 1; i < values.length; i++) {
              if (out[i] !== 0) throw new Error(`expected exactly 0: ${repro(values, spec, i, out[i]!)}`);
            }
            await expectContract(values, spec);
          }
        }
      }
    }
  });

  it('var is exactly 0 on a constant window with NaN holes after a burst', async () => {
    const values = [1e15, -3e15, 2e15, ...Array.from({ length: 60 }, (_, i) => (i % 4 === 1 ? NaN : 7.3))];
    const spec: RollingSpec = { op: 'var', window: 8, minPeriods: 2 };
    const out = await rolling(values, spec);
    for (let i = 3 + 8 - 1; i < values.length; i++) {
      if (out[i] !== 0) throw new Error(`expected exactly 0: ${repro(values, spec, i, out[i]!)}`);
    }
  });

  it('sum returns to exactly 0 after large values leave the window', async () => {
    const cases = [
      [1e15, 0.1, -1e15, 3, 1e300, -1e300, 2 ** 60, ...Array<number>(40).fill(0)],
      [0.1, 0.2, 0.3, -0.6, 1e16, 1, -1e16, ...Array<number>(40).fill(0)],
    ];
    for (const values of cases) {
      for (const window of [2, 3, 5, 16]) {
        for (const op of ['sum', 'mean'] as const) {
          const spec: RollingSpec = { op, window, minPeriods: 1 };
          const out = await rolling(values, spec);
          for (let i = 7 + window - 1; i < values.length; i++) {
            if (out[i] !== 0) throw new Error(`expected exactly 0: ${repro(values, spec, i, out[i]!)}`);
          }
          await expectContract(values, spec);
        }
      }
    }
  });

  it('sum/mean are accurate to the small values once a 1e300 value leaves the window', async () => {
    const values = [1e300, -1e300, 1e300, ...Array.from({ length: 40 }, (_, i) => 0.1 * (i + 1))];
    for (const window of [2, 4, 9]) {
      for (const op of ['sum', 'mean'] as const) await expectContract(values, { op, window, minPeriods: 1 });
    }
  });

  it('results are finite again once +Inf leaves the window (bottleneck stays NaN)', async () => {
    const values = [1, 2, Infinity, 3, 4, 5, 6, 7, 8];
    const window = 3;
    for (const spec of [
      { op: 'sum', window, minPeriods: 1 },
      { op: 'mean', window, minPeriods: 1 },
      { op: 'var', window, minPeriods: 1 },
      { op: 'std', window, minPeriods: 1 },
      { op: 'min', window, minPeriods: 1 },
      { op: 'max', window, minPeriods: 1 },
      { op: 'count', window, minPeriods: 1 },
      { op: 'median', window, minPeriods: 1 },
      { op: 'quantile', window, minPeriods: 1, q: 0.75 },
    ] as RollingSpec[]) {
      const out = await expectContract(values, spec);
      for (let i = 2 + window; i < values.length; i++) {
        if (!Number.isFinite(out[i])) throw new Error(`expected a finite value: ${repro(values, spec, i, out[i]!)}`);
      }
    }
  });

  it('+Inf and -Inf in one window give NaN sum and mean, +Inf alone gives +Inf, finite once both leave', async () => {
    const values = [1, Infinity, 2, -Infinity, 3, 4, 5, 6];
    const sum = await expectContract(values, { op: 'sum', window: 3, minPeriods: 1 });
    expect(Array.from(sum)).toEqual([1, Infinity, Infinity, NaN, -Infinity, -Infinity, 12, 15]);
    const mean = await expectContract(values, { op: 'mean', window: 3, minPeriods: 1 });
    expect(Array.from(mean)).toEqual([1, Infinity, Infinity, NaN, -Infinity, -Infinity, 4, 5]);
  });

  it('var/std do not return 0 when x² overflows (Inf − Inf clamped to 0)', async () => {
    // Exact: var([0, 1e200]) = 5e399, which overflows to +Infinity; std = 7.0710678118654755e199.
    const values = [0, 1e200, -1e200, 1e200];
    const v = await rolling(values, { op: 'var', window: 2 });
    const s = await rolling(values, { op: 'std', window: 2 });
    for (let i = 1; i < values.length; i++) {
      if (v[i] === 0) throw new Error(`var is 0 on a window that is not constant: ${repro(values, { op: 'var', window: 2 }, i, v[i]!)}`);
      if (s[i] === 0) throw new Error(`std is 0 on a window that is not constant: ${repro(values, { op: 'std', window: 2 }, i, s[i]!)}`);
    }
    await expectContract(values, { op: 'var', window: 2 });
    await expectContract(values, { op: 'std', window: 2 });
    await expectContract([1e300, -1e300, 3e299, 1e300], { op: 'std', window: 3, minPeriods: 2 });
  });

  it('std of tiny values is not flushed to 0 when x² underflows', async () => {
    // Exact std of [1e-300, -1e-300] (ddof 1) is 1.4142135623730952e-300.
    const values = [1e-300, -1e-300, 3e-301, 5e-324, -2e-310];
    const s = await rolling(values, { op: 'std', window: 2 });
    expect(s[1]).toBeGreaterThan(0);
    await expectContract(values, { op: 'std', window: 2 });
    await expectContract(values, { op: 'std', window: 3, minPeriods: 2, ddof: 0 });
  });

  it('var never negative on 1e9 + N(0,1)', async () => {
    const rng = mulberry32(5);
    const values = Float64Array.from({ length: 2000 }, () => 1e9 + gaussian(rng));
    const stats = new StatsCache();
    for (const window of [2, 3, 5, 16, 64, 500]) {
      for (const op of ['var', 'std'] as const) {
        for (const ddof of [0, 1]) {
          const spec: RollingSpec = { op, window, minPeriods: 2, ddof };
          const out = await rolling(values, spec);
          for (let i = 1; i < values.length; i++) {
            if (!(out[i]! >= 0)) throw new Error(`negative or NaN at ${i}: ${fmt(out[i]!)}, spec ${JSON.stringify(spec)}, window ${fmtArray(windowRows(values, i, window))}`);
          }
          const mismatches = compareRolling(values, spec, out, { stats });
          assertNoFailures(mismatches.length ? [describeMismatches('rolling', values, spec, mismatches, window)] : []);
        }
      }
    }
  });

  it('var stays accurate on 1e9 + N(0,1) after a ±1e15 burst has left the window', async () => {
    const rng = mulberry32(6);
    const values = Float64Array.from({ length: 400 }, (_, i) => (i >= 100 && i < 110 ? (rng() < 0.5 ? -1e15 : 1e15) : 1e9 + gaussian(rng)));
    for (const window of [5, 20, 64]) {
      for (const op of ['var', 'std'] as const) await expectContract(values, { op, window, minPeriods: 2 });
    }
  });

  let drift: Float64Array | undefined;
  /** 1e7 rows of 1000·N(0,1) with ±1e12 spikes (p = 0.001) everywhere but the last 5000 rows. */
  const driftSeries = (): Float64Array => {
    if (drift) return drift;
    const n = 10_000_000;
    const rng = mulberry32(42);
    drift = new Float64Array(n);
    for (let i = 0; i < n; i++) drift[i] = i < n - 5000 && rng() < 0.001 ? (rng() < 0.5 ? -1e12 : 1e12) : 1000 * gaussian(rng);
    return drift;
  };

  for (const op of ['sum', 'mean', 'var'] as const) {
    it(`no drift after 1e7 rows (${op}, window 1000, 1e12 spikes every ~1000 rows)`, async () => {
      const values = driftSeries();
      const n = values.length;
      const window = 1000;
      const spec: RollingSpec = { op, window, minPeriods: 1 };
      const kernel = await createKernel(spec);
      const chunk = 1 << 16;
      const out = new Float64Array(chunk);
      const failures: string[] = [];
      for (let o = 0; o < n; o += chunk) {
        const len = Math.min(chunk, n - o);
        const res = kernel.push(values.subarray(o, o + len), out);
        // Check every 49999th row, and every row of the last 1000 (no spike in their windows).
        for (let j = 0; j < len; j++) {
          const i = o + j;
          if (i % 49_999 !== 0 && i < n - 1000) continue;
          const rows = windowRows(values, i, window);
          const reason = checkApprox(rows, spec, res[j]!);
          if (reason !== null && failures.length < 5) failures.push(`row ${i}: ${fmt(res[j]!)} — ${reason}`);
        }
      }
      kernel.dispose();
      if (failures.length) throw new Error(`${op} drifted (values: mulberry32(42) series, see test):\n${failures.join('\n')}`);
    });
  }

  it('sum/mean of an all-NaN window: sum 0 and mean NaN with minPeriods 0; count 0', async () => {
    const values = [1, NaN, NaN, NaN, 2];
    expect(Array.from(await rolling(values, { op: 'sum', window: 2, minPeriods: 0 }))).toEqual([1, 1, 0, 0, 2]);
    expect(Array.from(await rolling(values, { op: 'mean', window: 2, minPeriods: 0 }))).toEqual([1, 1, NaN, NaN, 2]);
    expect(Array.from(await rolling(values, { op: 'count', window: 2, minPeriods: 0 }))).toEqual([1, 1, 0, 0, 1]);
    expect(Array.from(await rolling(values, { op: 'count', window: 2, minPeriods: 1 }))).toEqual([1, 1, NaN, NaN, 1]);
    for (const op of ['min', 'max', 'median', 'var', 'std'] as const) {
      const out = await rolling(values, { op, window: 2, minPeriods: 0 });
      expect(Number.isNaN(out[2]) && Number.isNaN(out[3]), `${op}: ${fmtArray(out)}`).toBe(true);
    }
  });

  it('count counts ±Inf and ignores NaN; count honours minPeriods on non-NaN rows (unlike pandas 1.5)', async () => {
    const values = [Infinity, NaN, -Infinity, NaN, NaN, NaN, 1];
    expect(Array.from(await rolling(values, { op: 'count', window: 3, minPeriods: 2 }))).toEqual([NaN, NaN, 2, NaN, NaN, NaN, NaN]);
    expect(Array.from(await rolling(values, { op: 'count', window: 3, minPeriods: 0 }))).toEqual([1, 1, 2, 1, 1, 0, 1]);
  });

  it('min/max survive a NaN run longer than the window', async () => {
    const values = [5, 1, ...Array<number>(10).fill(NaN), 3, 4, NaN, 2];
    for (const op of ['min', 'max', 'median'] as const) {
      for (const minPeriods of [0, 1]) await expectContract(values, { op, window: 4, minPeriods });
    }
  });

  it('median/quantile treat ±Inf as ordinary values; interpolation follows pandas literally', async () => {
    expect(Array.from(await rolling([-Infinity, Infinity], { op: 'median', window: 2, minPeriods: 1 }))).toEqual([-Infinity, NaN]);
    expect(Array.from(await rolling([Infinity, 1, Infinity], { op: 'median', window: 3, minPeriods: 1 }))).toEqual([Infinity, Infinity, Infinity]);
    expect(Array.from(await rolling([1, Infinity, 3, 2], { op: 'quantile', window: 4, minPeriods: 1, q: 0.5 }))).toEqual([1, Infinity, 3, 2.5]);
    expect(Array.from(await rolling([0, 1, 2, 3, 4], { op: 'quantile', window: 5, minPeriods: 5, q: 0.1 }))).toEqual([NaN, NaN, NaN, NaN, 0 + (1 - 0) * (0.1 * 4 - 0)]);
  });

  it('window 1: sum/mean/min/max/median return the input, var (ddof 1) is NaN, var ddof 0 is 0', async () => {
    const values = [0.1, -3, NaN, 1e300, 5e-324, Infinity];
    for (const op of ['sum', 'mean', 'min', 'max', 'median'] as const) {
      expect(Array.from(await rolling(values, { op, window: 1 })), op).toEqual(values);
    }
    expect(Array.from(await rolling(values, { op: 'var', window: 1 }))).toEqual(values.map(() => NaN));
    expect(Array.from(await rolling(values, { op: 'var', window: 1, ddof: 0 }))).toEqual([0, 0, NaN, 0, 0, NaN]);
  });

  it("ewm: a constant series stays exactly constant (pandas' `weighted != cur` guard)", async () => {
    const values = Array.from({ length: 500 }, (_, i) => (i % 13 === 5 ? NaN : 0.1));
    for (const spec of [{ alpha: 0.3 }, { alpha: 0.3, adjust: false }, { span: 7.5 }, { halflife: 2.5, adjust: false }]) {
      const out = await ewm(values, spec);
      for (let i = 0; i < out.length; i++) {
        if (out[i] !== 0.1) throw new Error(`ewm(${JSON.stringify(spec)}) of a constant 0.1 series gives ${fmt(out[i]!)} at ${i}`);
      }
    }
  });

  it('ewm: NaN rows decay the weights (ignore_na=False) and do not reset the mean', async () => {
    const values = [1, NaN, NaN, 3, NaN, 5];
    for (const spec of [{ alpha: 0.5 }, { alpha: 0.5, adjust: false }, { com: 2, minPeriods: 2 }]) {
      const out = await ewm(values, spec);
      expect(Array.from(out), JSON.stringify(spec)).toEqual(Array.from(refEwm(values, spec)));
    }
    // pandas 1.5.3: pd.Series([1, nan, 3]).ewm(alpha=0.5).mean() → [1.0, 1.0, 2.6]
    expect(Array.from(await ewm([1, NaN, 3], { alpha: 0.5 }))).toEqual([1, 1, 2.6]);
  });

  it("ewm: alpha goes through pandas' centre of mass (1 − α)/α, not 1/α − 1, so results are pandas' bits (0.121 → 0.12100000000000001)", async () => {
    for (const alpha of [0.121, 0.2217, 0.41, 0.469, 0.186]) {
      const k = await createKernel({ op: 'ewm', alpha });
      const spec = k.spec;
      k.dispose();
      const pandasAlpha = 1 / (1 + (1 - alpha) / alpha);
      expect(spec.op === 'ewm' && Object.is(spec.alpha, pandasAlpha), `spec.alpha = ${spec.op === 'ewm' ? spec.alpha : '?'} for alpha ${alpha}`).toBe(true);
      const values = [1, 2, 3, 4, 5, NaN, 7];
      expect(Array.from(await ewm(values, { alpha })), `alpha ${alpha}`).toEqual(Array.from(refEwm(values, { alpha })));
    }
  });

  it("ewm: span, halflife and com give the contract's alpha in the normalized spec", async () => {
    for (const spec of [{ span: 10.5 }, { span: 3 }, { halflife: 2.5 }, { halflife: 0.7 }, { com: 0 }, { com: 9 }]) {
      const k = await createKernel({ op: 'ewm', ...spec });
      const alpha = k.spec.op === 'ewm' ? k.spec.alpha : NaN;
      k.dispose();
      expect(alpha, JSON.stringify(spec)).toBe(ewmAlpha(spec));
    }
  });
});
