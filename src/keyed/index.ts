// The keyed operator: one interface (GroupOperator, src/scheduler/operator.ts)
// for every kind of keyed state, which the scheduler's workers and the CLI go
// through. See docs/ARCHITECTURE.md, "Keyed operators".
import { createKernelOperator, type GroupOperator } from '../scheduler/operator.js';
import { isTimeSpec, type NormalizedOperatorSpec } from './spec.js';
import { createTimeRollingOperator } from './time-rolling.js';

export { isTimeSpec, moduleOf, normalizeOperatorSpec, sameOperatorSpec } from './spec.js';
export type { NormalizedOperatorSpec, NormalizedTimeRollingOperatorSpec, OperatorSpec, TimeRollingOperatorSpec } from './spec.js';

/**
 * The operator of a spec for a worker owning key groups [owned[0], owned[1])
 * (default: all): count kernels over one shared instance, or rolling by
 * duration over one timeroll instance. `module` is the compiled module of
 * {@link moduleOf}(spec).
 */
export async function createGroupOperator(
  module: WebAssembly.Module,
  spec: NormalizedOperatorSpec,
  keyGroups: number,
  owned: readonly [number, number] = [0, keyGroups],
): Promise<GroupOperator> {
  if (isTimeSpec(spec)) return createTimeRollingOperator(spec, keyGroups, owned);
  return createKernelOperator(module, spec, keyGroups, owned);
}
