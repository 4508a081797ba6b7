// ewm mean, var and std (assembly/kernels/ewm.ts) one row at a time in
// JavaScript: updateMean() and updateVar() with the same IEEE operations in the
// same order, on the state's fields held in this object's, so results and
// snapshots are the bits of push() (test/row-steps.test.ts). A change to
// setWeights(), updateMean(), updateVar() or the state's layout in ewm.ts
// must be made here too.
import type { KernelInstance } from './engine.js';
import { HeldRowKernel, notANumber, UNLOADED } from './row-step-kernel.js';
import type { KernelPlan } from './spec.js';
import type { NormalizedSpec } from './types.js';

export const EWM_OP_MEAN = 0;
const EWM_OP_STD = 2;

// The state's fields, f64 elements from its start (ewm.ts S_*).
const S_WEIGHTED = 4; // the running mean (NaN before the first observation)
const S_OLD_WT = 5; // pandas' old_wt
const S_NOBS = 6; // non-NaN rows seen
// var/std only:
const S_COV = 7; // pandas' cov (the biased variance)
const S_SUM_WT = 8; // pandas' sum_wt
const S_SUM_WT2 = 9; // pandas' sum_wt2

/** ewm.ts setWeights(): the same parameters, the same operations. */
abstract class EwmKernel extends HeldRowKernel {
  // Declared with a value of their type: a field first defined as undefined keeps a tagged
  // representation, and V8 checks and unboxes it on every row.
  // Doubles declared as doubles (UNLOADED): see row-step-kernel.ts.
  protected readonly adjust: boolean = false;
  protected readonly oldWtFactor: number = UNLOADED;
  protected readonly newWt: number = UNLOADED;
  protected readonly minPeriods: number = 0;
  protected mean = UNLOADED;
  protected oldWt = UNLOADED;
  protected nobs = 0;

  constructor(spec: NormalizedSpec, plan: KernelPlan, instance: KernelInstance) {
    super(spec, plan, instance);
    this.adjust = plan.p1 === 1;
    const alpha = 1.0 / (1.0 + plan.p0);
    this.oldWtFactor = 1.0 - alpha;
    this.newWt = this.adjust ? 1.0 : alpha;
    this.minPeriods = plan.minPeriods;
  }

  protected load(f64: Float64Array, _i32: Int32Array, s: number): void {
    const s8 = s >>> 3;
    this.mean = f64[s8 + S_WEIGHTED]!;
    this.oldWt = f64[s8 + S_OLD_WT]!;
    this.nobs = f64[s8 + S_NOBS]!;
  }

  protected store(f64: Float64Array, _i32: Int32Array, s: number): void {
    const s8 = s >>> 3;
    f64[s8 + S_WEIGHTED] = this.mean;
    f64[s8 + S_OLD_WT] = this.oldWt;
    f64[s8 + S_NOBS] = this.nobs;
  }
}

/** ewm mean: updateMean(). */
export class EwmMeanKernel extends EwmKernel {
  override pushValue(cur: number): number {
    if (typeof cur !== 'number') notANumber(cur);
    if (this.held !== true) this.take(); // strict: `!this.held` compiles to a generic truthiness test
    let weighted = this.mean;
    const isObservation = cur === cur;
    if (isObservation) this.nobs += 1;
    if (weighted === weighted) {
      // ignore_na=False: the weight decays on every row, missing or not.
      let oldWt = this.oldWt * this.oldWtFactor;
      if (isObservation) {
        // pandas' guard against rounding on constant series.
        if (weighted !== cur) {
          weighted = oldWt * weighted + this.newWt * cur;
          weighted /= oldWt + this.newWt;
          this.mean = weighted;
        }
        oldWt = this.adjust ? oldWt + this.newWt : 1.0;
      }
      this.oldWt = oldWt;
    } else if (isObservation) {
      this.mean = weighted = cur;
    }
    // `0 / 0`, not `NaN`: V8 boxes a double that meets the global NaN in a conditional.
    return this.nobs >= this.minPeriods ? weighted : 0 / 0;
  }
}

/** ewm var and std: updateVar(), pandas' ewmcov(x, x, bias=False); std is its zsqrt. */
export class EwmVarKernel extends EwmKernel {
  private readonly std: boolean = false;
  private cov = UNLOADED;
  private sumWt = UNLOADED;
  private sumWt2 = UNLOADED;

  constructor(spec: NormalizedSpec, plan: KernelPlan, instance: KernelInstance) {
    super(spec, plan, instance);
    this.std = plan.code === EWM_OP_STD;
  }

  override pushValue(cur: number): number {
    if (typeof cur !== 'number') notANumber(cur);
    if (this.held !== true) this.take(); // strict: `!this.held` compiles to a generic truthiness test
    const { oldWtFactor, newWt } = this;
    const isObservation = cur === cur;
    if (isObservation) this.nobs += 1;
    let mean = this.mean;
    if (mean === mean) {
      // ignore_na=False: the weights decay on every row, missing or not.
      let sumWt = this.sumWt * oldWtFactor;
      let sumWt2 = this.sumWt2 * (oldWtFactor * oldWtFactor);
      let oldWt = this.oldWt * oldWtFactor;
      if (isObservation) {
        const oldMean = mean;
        if (mean !== cur) this.mean = mean = (oldWt * oldMean + newWt * cur) / (oldWt + newWt);
        const d = oldMean - mean;
        const e = cur - mean;
        this.cov = (oldWt * (this.cov + d * d) + newWt * (e * e)) / (oldWt + newWt);
        sumWt += newWt;
        sumWt2 += newWt * newWt;
        oldWt += newWt;
        if (!this.adjust) {
          sumWt /= oldWt;
          sumWt2 /= oldWt * oldWt;
          oldWt = 1.0;
        }
      }
      this.sumWt = sumWt;
      this.sumWt2 = sumWt2;
      this.oldWt = oldWt;
    } else if (isObservation) {
      this.mean = cur;
    }
    let y = 0 / 0; // `0 / 0`, not `NaN`: see EwmMeanKernel
    if (this.nobs >= this.minPeriods) {
      // bias=False: scale the biased variance by the effective sample size.
      const numerator = this.sumWt * this.sumWt;
      const denominator = numerator - this.sumWt2;
      if (denominator > 0) y = (numerator / denominator) * this.cov;
    }
    // pandas' zsqrt: a negative variance gives 0.
    if (this.std) y = y < 0 ? 0 : Math.sqrt(y);
    return y;
  }

  protected override load(f64: Float64Array, i32: Int32Array, s: number): void {
    super.load(f64, i32, s);
    const s8 = s >>> 3;
    this.cov = f64[s8 + S_COV]!;
    this.sumWt = f64[s8 + S_SUM_WT]!;
    this.sumWt2 = f64[s8 + S_SUM_WT2]!;
  }

  protected override store(f64: Float64Array, i32: Int32Array, s: number): void {
    super.store(f64, i32, s);
    const s8 = s >>> 3;
    f64[s8 + S_COV] = this.cov;
    f64[s8 + S_SUM_WT] = this.sumWt;
    f64[s8 + S_SUM_WT2] = this.sumWt2;
  }
}
