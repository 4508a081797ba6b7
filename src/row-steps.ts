// kernel.pushValue(x) in JavaScript where that beats the call into WASM
// (issue 20): sum, mean and count (row-step-sum.ts), var and std
// (row-step-var.ts), ewm mean, var and std (row-step-ewm.ts). A JS-to-WASM call costs ~3 ns a row when V8 inlines its
// wrapper and ~20 ns more when it cannot (a call site that has seen two
// kernels' exports); these rows are a handful of operations.
//
// Each step does its module's row with the same IEEE operations in the same
// order, on the kernel's own state (row-step-kernel.ts: scalar fields held in
// the object between rows, arrays in WASM memory), so results and snapshots
// are the bits of push() (test/push-value.test.ts, test/row-steps.test.ts).
//
// Not here (not tried: longer rows, whose call into WASM is a smaller share):
// min/max, median/quantile.
import type { KernelInstance } from './engine.js';
import { EWM_OP_MEAN, EwmMeanKernel, EwmVarKernel } from './row-step-ewm.js';
import { blockSumKernel, SUM_ROW_STEP_MIN_WINDOW } from './row-step-sum.js';
import { rollingVarKernel, VAR_ROW_STEP_MIN_WINDOW } from './row-step-var.js';
import type { KernelPlan } from './spec.js';
import type { Kernel, NormalizedSpec } from './types.js';
import { WasmKernel } from './wasm-kernel.js';

/** The kernel that runs a plan: with a JS row step where one beats the WASM call. */
export function kernelFor(spec: NormalizedSpec, plan: KernelPlan, instance: KernelInstance): Kernel {
  if (plan.module === 'ewm') {
    return plan.code === EWM_OP_MEAN ? new EwmMeanKernel(spec, plan, instance) : new EwmVarKernel(spec, plan, instance);
  }
  if (plan.module === 'sum' && plan.window >= SUM_ROW_STEP_MIN_WINDOW) return blockSumKernel(spec, plan, instance);
  if (plan.module === 'var' && plan.window >= VAR_ROW_STEP_MIN_WINDOW) return rollingVarKernel(spec, plan, instance);
  return new WasmKernel(spec, plan, instance);
}
