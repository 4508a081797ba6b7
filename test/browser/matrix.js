// The specs of the checkpoint matrix, generated from the library's list of
// ops (KERNEL_OPS and EWM_DECAY_FIELDS of src/spec.ts, TIME_OPS of
// src/time/spec.ts and OPERATOR_KINDS of src/keyed/spec.ts, passed in), so
// that a new op, decay form or operator kind is covered without touching the
// tests. Plain ESM,
// shared by test/checkpoint-matrix.test.ts, test/cli-checkpoint-matrix.test.ts
// and the browser page (page.js).

/** A value for each of ewm's decay forms; a new form without one fails the tests loudly (no decay given). */
export const DECAY = { alpha: 0.3, span: 10, halflife: 4, com: 2.5 };
/** Window and minPeriods of the window ops; the quantile of `quantile`. */
export const WINDOW = 7;
export const MIN_PERIODS = 2;
export const Q = 0.3;

/**
 * One spec per op; ewm once per decay form and per `adjust`, and (given
 * `stats`, EWM_STATS of src/spec.ts) once per other stat and per `adjust`.
 */
export function matrixSpecs(ops, decayFields, stats = ['mean']) {
  const specs = [];
  for (const op of ops) {
    if (op === 'ewm') {
      for (const field of decayFields) {
        for (const adjust of [true, false]) specs.push({ op, [field]: DECAY[field], adjust, minPeriods: MIN_PERIODS });
      }
      for (const stat of stats.filter((s) => s !== 'mean')) {
        for (const adjust of [true, false]) specs.push({ op, span: DECAY.span, adjust, minPeriods: MIN_PERIODS, stat });
      }
    } else {
      specs.push(op === 'quantile' ? { op, window: WINDOW, minPeriods: MIN_PERIODS, q: Q } : { op, window: WINDOW, minPeriods: MIN_PERIODS });
    }
  }
  return specs;
}

/** One duration-rolling spec per time op (TIME_OPS of src/time/spec.ts, passed in): a 50 ms window. */
export function timeSpecs(timeOps) {
  return timeOps.map((op) => (op === 'quantile' ? { op, window: '50ms', minPeriods: MIN_PERIODS, q: Q } : { op, window: '50ms', minPeriods: MIN_PERIODS }));
}

/** The fields of each operator kind (OPERATOR_KINDS of src/keyed/spec.ts); a new kind without them fails the tests loudly. */
export const KIND_FIELDS = {
  rolling: { window: '50ms', minPeriods: MIN_PERIODS },
  tumbling: { size: '50ms' },
  hopping: { size: '50ms', step: '20ms' },
  session: { gap: '20ms' },
  count: { size: 5, step: 3 },
};

/**
 * One scheduler operator spec per (kind, op): OPERATOR_KINDS of
 * src/keyed/spec.ts × TIME_OPS of src/time/spec.ts (passed in).
 */
export function kindSpecs(kinds, timeOps) {
  const specs = [];
  for (const kind of kinds) {
    if (!(kind in KIND_FIELDS)) throw new Error(`no fields for operator kind '${kind}': add them to KIND_FIELDS`);
    for (const op of timeOps) specs.push({ kind, op, ...KIND_FIELDS[kind], ...(op === 'quantile' ? { q: Q } : {}) });
  }
  return specs;
}

/** A short name of a matrix spec: 'median', 'ewm span=10 adjust=false'. */
export function specLabel(spec) {
  if (spec.kind !== undefined) return `${spec.kind} ${spec.op}`;
  if (spec.op !== 'ewm') return spec.op;
  const field = Object.keys(spec).find((k) => k !== 'op' && k !== 'adjust' && k !== 'minPeriods' && k !== 'stat');
  return `ewm${spec.stat ? ` ${spec.stat}` : ''} ${field}=${spec[field]} adjust=${spec.adjust}`;
}
