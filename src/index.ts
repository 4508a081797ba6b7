// streamkernel's public API.
import { createKernel, toFloat64Array } from './kernel.js';
import { normalizeSpec } from './spec.js';
import type { EwmSpec, RollingSpec } from './types.js';

export { createKernel, restoreKernel } from './kernel.js';
export { SnapshotError } from './errors.js';
export { normalizeSpec } from './spec.js';
export { MAX_WINDOW } from './types.js';
export type {
  EwmDecay,
  EwmKernelSpec,
  EwmOptions,
  EwmSpec,
  EwmStat,
  Kernel,
  KernelSpec,
  NormalizedEwmSpec,
  NormalizedRollingSpec,
  NormalizedSpec,
  PlainRollingSpec,
  QuantileRollingSpec,
  RollingOp,
  RollingSpec,
  RollingWindow,
  SnapshotErrorCode,
  VarRollingSpec,
} from './types.js';

async function runOnce(values: Float64Array | number[], spec: Parameters<typeof createKernel>[0]): Promise<Float64Array> {
  normalizeSpec(spec); // bad specs fail before the input is looked at
  const input = toFloat64Array(values, 'values');
  const kernel = await createKernel(spec);
  try {
    return kernel.push(input);
  } finally {
    kernel.dispose();
  }
}

/**
 * A rolling aggregate over a whole series, one result per value: pandas'
 * `Series.rolling(window, min_periods).<op>()`, with ±Infinity as values.
 *
 * @example
 * ```ts
 * await rolling([1, 2, NaN, 4], { op: 'sum', window: 2, minPeriods: 1 }); // [1, 3, 2, 4]
 * ```
 */
export function rolling(values: Float64Array | number[], spec: RollingSpec): Promise<Float64Array> {
  if (typeof spec === 'object' && spec !== null && (spec as { op?: unknown }).op === 'ewm') {
    return Promise.reject(new TypeError(`op 'ewm' is not a rolling op: use ewm()`));
  }
  return runOnce(values, spec);
}

/**
 * An exponentially weighted mean over a whole series: pandas'
 * `Series.ewm(...).mean()` with `ignore_na=False`; with `stat: 'var'` or
 * `'std'`, pandas' `.var()` / `.std()` (`bias=False`).
 *
 * @example
 * ```ts
 * await ewm([1, NaN, 3], { alpha: 0.5 }); // [1, 1, 2.6]
 * await ewm([1, 2, 4], { alpha: 0.5, stat: 'var' }); // [NaN, 0.5, 2.5]
 * ```
 */
export function ewm(values: Float64Array | number[], spec: EwmSpec): Promise<Float64Array> {
  return runOnce(values, { ...spec, op: 'ewm' });
}

// Event-time and keyed windows (src/time/, docs/TIME-WINDOWS.md).
export {
  createCountWindows,
  createTimeRolling,
  createWindows,
  normalizeCountWindowSpec,
  normalizeDurationRolling,
  normalizeWindowSpec,
  parseDuration,
  restoreCountWindows,
  restoreTimeRolling,
  restoreWindows,
  rollingByTime,
  windowsByTime,
} from './time/index.js';
export type {
  BatchKeys,
  ClosedSide,
  CountWindowOperator,
  CountWindowSpec,
  Duration,
  DurationRollingSpec,
  DurationPart,
  DurationText,
  DurationUnit,
  EventTimeOptions,
  HoppingSpec,
  KeyMode,
  KeyModeOf,
  WithKeyMode,
  LateRow,
  NormalizedCountWindowSpec,
  NormalizedDurationRollingSpec,
  NormalizedWindowSpec,
  PushKeys,
  ReplacedColumns,
  RowKey,
  RollingOutput,
  SessionSpec,
  TimeAggregate,
  TimeOp,
  TimeRolling,
  TumblingSpec,
  WindowColumns,
  WindowOperator,
  WindowOutput,
  WindowResult,
  WindowSpec,
} from './types.js';

// Sources, sinks and stream adapters that run in Node and browsers (src/connectors/, docs/CONNECTORS.md).
// Node-only connectors (files, Node streams) are in 'streamkernel/node'.
export * from './connectors/index.js';
