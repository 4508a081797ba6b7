// The keyed operator: one interface (GroupOperator, src/scheduler/operator.ts)
// for every kind of keyed state, which the scheduler's workers and the CLI go
// through. See docs/ARCHITECTURE.md, "Keyed operators".
import { createKernelOperator, type GroupOperator, type KernelOperatorOptions } from '../scheduler/operator.js';
import type { NormalizedSpecOfRows } from './spec.js';
import { createTimeRollingOperator } from './time-rolling.js';

export { isTimeSpec, isWindowSpec, moduleOf, normalizeOperatorSpec, OPERATOR_KINDS, sameOperatorSpec } from './spec.js';
export type { NormalizedOperatorSpec, NormalizedTimeRollingOperatorSpec, NormalizedWindowOperatorSpec, OperatorSpec, TimeRollingOperatorSpec, WindowOperatorSpec } from './spec.js';
export { mergeWindows, WindowsGroupOperator, type Rises, type TaggedWindow, type WindowsOutput } from './windows.js';

/**
 * The operator of a spec with one result per row, for a worker owning key
 * groups [owned[0], owned[1]) (default: all): count kernels over one shared
 * instance, or rolling by duration over one timeroll instance. `module` is
 * the compiled module of {@link moduleOf}(spec). (Window kinds emit records:
 * see {@link WindowsGroupOperator}.)
 */
export async function createGroupOperator(
  module: WebAssembly.Module,
  spec: NormalizedSpecOfRows,
  keyGroups: number,
  owned: readonly [number, number] = [0, keyGroups],
  options: KernelOperatorOptions = {},
): Promise<GroupOperator> {
  if ('kind' in spec) return createTimeRollingOperator(spec, keyGroups, owned);
  return createKernelOperator(module, spec, keyGroups, owned, options);
}
