// The benchmark's plain-JS yardsticks (bench/baselines.ts) compute the same
// job as the kernels they are measured against, batch and one-row forms
// alike: a faster wrong baseline would make every ratio meaningless.
import { describe, expect, it } from 'vitest';
import {
  JsEwmMeanStepper,
  JsEwmVarStepper,
  JsMinMaxStepper,
  jsEwmMean,
  jsEwmVar,
  jsQuantileStepper,
  jsRollingMinMax,
  jsRollingQuantile,
  jsRollingSum,
  jsRollingVar,
  JsSumStepper,
  JsVarStepper,
} from '../bench/baselines.js';
import { createKernel } from '../src/index.js';
import type { KernelSpec } from '../src/types.js';
import { mulberry32 } from './adversarial.js';

const W = 13;
const rng = mulberry32(99);
const x = Float64Array.from({ length: 500 }, () => (rng() < 0.05 ? NaN : 100 + (rng() - 0.5) * 20));
const ALPHA = 2 / (W + 1);

function batch(f: (out: Float64Array) => void): Float64Array {
  const out = new Float64Array(x.length);
  f(out);
  return out;
}
const stepped = (step: ((v: number) => number) | { push(v: number): number }): Float64Array =>
  x.map((v) => (typeof step === 'function' ? step(v) : step.push(v)));

const CASES: [KernelSpec, Float64Array, Float64Array][] = [
  [{ op: 'sum', window: W, minPeriods: 1 }, batch((o) => jsRollingSum(x, W, 1, 'sum', o)), stepped(new JsSumStepper(W, 1, 'sum'))],
  [{ op: 'mean', window: W, minPeriods: 1 }, batch((o) => jsRollingSum(x, W, 1, 'mean', o)), stepped(new JsSumStepper(W, 1, 'mean'))],
  [{ op: 'count', window: W, minPeriods: 1 }, batch((o) => jsRollingSum(x, W, 1, 'count', o)), stepped(new JsSumStepper(W, 1, 'count'))],
  [{ op: 'var', window: W, minPeriods: 1 }, batch((o) => jsRollingVar(x, W, 1, 1, false, o)), stepped(new JsVarStepper(W, 1, 1, false))],
  [{ op: 'std', window: W, minPeriods: 1 }, batch((o) => jsRollingVar(x, W, 1, 1, true, o)), stepped(new JsVarStepper(W, 1, 1, true))],
  [{ op: 'min', window: W, minPeriods: 1 }, batch((o) => jsRollingMinMax(x, W, 1, false, o)), stepped(new JsMinMaxStepper(W, 1, false))],
  [{ op: 'max', window: W, minPeriods: 1 }, batch((o) => jsRollingMinMax(x, W, 1, true, o)), stepped(new JsMinMaxStepper(W, 1, true))],
  [{ op: 'median', window: W, minPeriods: 1 }, batch((o) => jsRollingQuantile(x, W, 1, 0.5, true, o)), stepped(jsQuantileStepper(W, 1, 0.5, true))],
  [{ op: 'quantile', window: W, minPeriods: 1, q: 0.9 }, batch((o) => jsRollingQuantile(x, W, 1, 0.9, false, o)), stepped(jsQuantileStepper(W, 1, 0.9, false))],
  [{ op: 'ewm', span: W }, batch((o) => jsEwmMean(x, ALPHA, true, 0, o)), stepped(new JsEwmMeanStepper(ALPHA, true, 0))],
  [{ op: 'ewm', span: W, stat: 'var' }, batch((o) => jsEwmVar(x, ALPHA, true, 0, false, o)), stepped(new JsEwmVarStepper(ALPHA, true, 0, false))],
  [{ op: 'ewm', span: W, stat: 'std' }, batch((o) => jsEwmVar(x, ALPHA, true, 0, true, o)), stepped(new JsEwmVarStepper(ALPHA, true, 0, true))],
];

describe('bench baselines compute what the kernels compute', () => {
  for (const [spec, fromBatch, fromSteps] of CASES) {
    it(`${JSON.stringify(spec)}: batch and one-row baselines within 1e-9 relative of the kernel`, async () => {
      const kernel = await createKernel(spec);
      const want = kernel.push(x);
      for (const got of [fromBatch, fromSteps]) {
        for (let i = 0; i < x.length; i++) {
          const [a, b] = [want[i]!, got[i]!];
          if (Number.isNaN(a)) expect(b, `row ${i}`).toBeNaN();
          else expect(Math.abs(a - b), `row ${i}: ${b} vs ${a}`).toBeLessThanOrEqual(1e-9 * Math.abs(a));
        }
      }
    });
  }
});
