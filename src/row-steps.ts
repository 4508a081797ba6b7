// kernel.pushValue(x) in JavaScript where that beats the call into WASM
// (issue 20): ewm's mean. A JS-to-WASM call costs ~3 ns a row when V8 inlines
// its wrapper and ~20 ns more when it cannot (a call site that has seen two
// kernels' exports); ewm's mean is a handful of operations on three fields.
//
// The step reads and writes the kernel's own state in WASM memory, through a
// view on it, with the IEEE operations of ewm.ts updateMean() in the same
// order, so results and snapshots are the bits of push()
// (test/push-value.test.ts). A change to updateMean() or setWeights() in
// assembly/kernels/ewm.ts must be made here too.
//
// Tried and not kept (slower than their WASM rows on views, where every access
// is bounds-checked): sum/mean/count (14.5 ns a row against 12), count alone
// (a tie), ewm var/std (17 against 15).
import type { KernelInstance } from './engine.js';
import type { KernelPlan } from './spec.js';
import type { Kernel, NormalizedSpec } from './types.js';
import { describe } from './validation.js';
import { WasmKernel } from './wasm-kernel.js';

const NO_VIEW = new Float64Array(0);

// assembly/kernels/ewm.ts: the mean's op code and state fields (f64 element offsets from the state's start).
const EWM_OP_MEAN = 0;
const EWM_WEIGHTED = 4; // the running mean (NaN before the first observation)
const EWM_OLD_WT = 5; // pandas' old_wt
const EWM_NOBS = 6; // non-NaN rows seen

function notANumber(value: unknown): never {
  throw new TypeError(`value must be a number, got ${describe(value)}`);
}

/** ewm mean: one row of ewm.ts updateMean(), on the state in WASM memory. */
class EwmMeanKernel extends WasmKernel {
  // ewm.ts setWeights(), derived from the same parameters with the same operations.
  private readonly adjust: boolean;
  private readonly oldWtFactor: number;
  private readonly newWt: number;
  private readonly minPeriods: number;
  /** All of the instance's memory; length 0 until first use, after memory grew (the old buffer detaches), reset() and dispose(). */
  private f64: Float64Array = NO_VIEW;
  /** The state region's start, in f64 elements. */
  private s8 = 0;

  constructor(spec: NormalizedSpec, plan: KernelPlan, instance: KernelInstance) {
    super(spec, plan, instance);
    this.adjust = plan.p1 === 1;
    const alpha = 1.0 / (1.0 + plan.p0);
    this.oldWtFactor = 1.0 - alpha;
    this.newWt = this.adjust ? 1.0 : alpha;
    this.minPeriods = plan.minPeriods;
  }

  override pushValue(cur: number): number {
    if (typeof cur !== 'number') notANumber(cur);
    let f64 = this.f64;
    if (f64.length === 0) f64 = this.view();
    const s8 = this.s8;
    let weighted = f64[s8 + EWM_WEIGHTED]!;
    let nobs = f64[s8 + EWM_NOBS]!;
    const isObservation = cur === cur;
    if (isObservation) f64[s8 + EWM_NOBS] = nobs += 1;
    if (weighted === weighted) {
      // ignore_na=False: the weight decays on every row, missing or not.
      let oldWt = f64[s8 + EWM_OLD_WT]! * this.oldWtFactor;
      if (isObservation) {
        // pandas' guard against rounding on constant series.
        if (weighted !== cur) {
          weighted = oldWt * weighted + this.newWt * cur;
          weighted /= oldWt + this.newWt;
          f64[s8 + EWM_WEIGHTED] = weighted;
        }
        oldWt = this.adjust ? oldWt + this.newWt : 1.0;
      }
      f64[s8 + EWM_OLD_WT] = oldWt;
    } else if (isObservation) {
      f64[s8 + EWM_WEIGHTED] = weighted = cur;
    }
    // `0 / 0`, not `NaN`: where a double meets the global NaN in a conditional,
    // V8 (Node 20) boxes the result, a heap number per row (13 ns a row, not 9.5).
    return nobs >= this.minPeriods ? weighted : 0 / 0;
  }

  /** The view on the current memory; throws once disposed. */
  private view(): Float64Array {
    const { exports } = this.live();
    this.f64 = new Float64Array(exports.memory.buffer as ArrayBuffer);
    this.s8 = exports.statePtr() >>> 3;
    return this.f64;
  }

  protected override forgetViews(): void {
    this.f64 = NO_VIEW;
  }
}

/** The kernel that runs a plan: with a JS row step where one beats the WASM call. */
export function kernelFor(spec: NormalizedSpec, plan: KernelPlan, instance: KernelInstance): Kernel {
  if (plan.module === 'ewm' && plan.code === EWM_OP_MEAN) return new EwmMeanKernel(spec, plan, instance);
  return new WasmKernel(spec, plan, instance);
}
