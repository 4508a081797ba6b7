// Validation and defaults of the time-window specs. Every error names the field.
import type {
  ClosedSide,
  CountWindowSpec,
  DurationRollingSpec,
  KeyMode,
  NormalizedCountWindowSpec,
  NormalizedDurationRollingSpec,
  NormalizedWindowSpec,
  TimeOp,
  WindowSpec,
} from '../types.js';
import { sameFields, unsignedFields } from '../spec.js';
import { checkFields, describe } from '../validation.js';
import { parseDuration, parseDurationOrInfinity } from './duration.js';

export const TIME_OPS: readonly TimeOp[] = ['sum', 'mean', 'count', 'min', 'max', 'var', 'std', 'median', 'quantile', 'first', 'last'];
const CLOSED: readonly ClosedSide[] = ['right', 'left', 'both', 'neither'];
const KEY_MODES: readonly KeyMode[] = ['none', 'number', 'string'];
/** The most windows one row may fall in (hopping size / step). */
export const MAX_WINDOWS_PER_ROW = 10_000;

interface AggregateFields {
  op: TimeOp;
  keys: KeyMode;
  ddof?: number;
  q?: number;
}

function normalizeAggregate(spec: Record<string, unknown>): AggregateFields {
  const { op, ddof, q, keys } = spec;
  if (typeof op !== 'string' || !(TIME_OPS as readonly string[]).includes(op)) {
    throw new TypeError(`op must be one of ${TIME_OPS.map((o) => `'${o}'`).join(', ')}, got ${describe(op)}`);
  }
  const out: AggregateFields = { op: op as TimeOp, keys: 'none' };
  if (keys !== undefined) {
    if (typeof keys !== 'string' || !(KEY_MODES as readonly string[]).includes(keys)) {
      throw new TypeError(`keys must be one of 'none', 'number', 'string', got ${describe(keys)}`);
    }
    out.keys = keys as KeyMode;
  }
  if (op === 'var' || op === 'std') {
    out.ddof = 1;
    if (ddof !== undefined) {
      if (typeof ddof !== 'number' || !Number.isInteger(ddof) || ddof < 0 || ddof > 2 ** 31) {
        throw new RangeError(`ddof must be a non-negative integer, got ${describe(ddof)}`);
      }
      out.ddof = ddof;
    }
  } else if (ddof !== undefined) {
    throw new TypeError(`ddof applies only to 'var' and 'std', not to '${op}'`);
  }
  if (op === 'quantile') {
    if (q === undefined) throw new TypeError(`q is required for 'quantile'`);
    if (typeof q !== 'number' || !(q >= 0 && q <= 1)) throw new RangeError(`q must be a number in [0, 1], got ${describe(q)}`);
    out.q = q;
  } else if (q !== undefined) {
    throw new TypeError(`q applies only to 'quantile', not to '${op}'`);
  }
  return out;
}

function minPeriodsOf(value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 0x7fffffff) {
    throw new RangeError(`minPeriods must be a non-negative integer, got ${describe(value)}`);
  }
  return value;
}

function positive(value: unknown, field: string): number {
  if (value === undefined) throw new TypeError(`${field} is required`);
  const ms = parseDuration(value, field);
  if (!(ms > 0)) throw new RangeError(`${field} must be a duration > 0, got ${describe(value)}`);
  return ms;
}

/** Adds ddof and q; every -0 becomes 0, so that the spec round-trips exactly through a snapshot's JSON. */
function attach<T extends object>(target: T, agg: AggregateFields): T {
  if (agg.ddof !== undefined) (target as { ddof?: number }).ddof = agg.ddof;
  if (agg.q !== undefined) (target as { q?: number }).q = agg.q;
  return unsignedFields(target);
}

/**
 * Checks a {@link DurationRollingSpec} and fills in its defaults, durations
 * in ms. Throws `TypeError`/`RangeError` naming the field for a bad spec.
 *
 * @example
 * ```ts
 * normalizeDurationRolling({ op: 'mean', window: '5s' });
 * // { op: 'mean', window: 5000, closed: 'right', minPeriods: 1, maxOutOfOrderness: 0, ttl: Infinity, keys: 'none' }
 * ```
 */
export function normalizeDurationRolling(spec: unknown): NormalizedDurationRollingSpec {
  if (typeof spec !== 'object' || spec === null) throw new TypeError(`spec must be an object, got ${describe(spec)}`);
  const s = spec as Record<string, unknown>;
  checkFields(s, ['op', 'window', 'closed', 'minPeriods', 'maxOutOfOrderness', 'ttl', 'keys', 'ddof', 'q'], 'duration rolling');
  const agg = normalizeAggregate(s);
  const window = positive(s.window, 'window');
  let closed: ClosedSide = 'right';
  if (s.closed !== undefined) {
    if (typeof s.closed !== 'string' || !(CLOSED as readonly string[]).includes(s.closed)) {
      throw new TypeError(`closed must be one of 'right', 'left', 'both', 'neither', got ${describe(s.closed)}`);
    }
    closed = s.closed as ClosedSide;
  }
  const maxOutOfOrderness = s.maxOutOfOrderness === undefined ? 0 : parseDuration(s.maxOutOfOrderness, 'maxOutOfOrderness');
  const ttl = s.ttl === undefined ? Infinity : parseDurationOrInfinity(s.ttl, 'ttl');
  if (!(ttl > 0)) throw new RangeError(`ttl must be a duration > 0 or Infinity, got ${describe(s.ttl)}`);
  const out: NormalizedDurationRollingSpec = {
    op: agg.op,
    window,
    closed,
    minPeriods: minPeriodsOf(s.minPeriods, 1),
    maxOutOfOrderness,
    ttl,
    keys: agg.keys,
  };
  return attach(out, agg);
}

/**
 * Checks a {@link WindowSpec} and fills in its defaults, durations in ms.
 * Throws `TypeError`/`RangeError` naming the field for a bad spec.
 *
 * @example
 * ```ts
 * normalizeWindowSpec({ kind: 'tumbling', op: 'sum', size: '1m' });
 * // { kind: 'tumbling', op: 'sum', size: 60000, step: 60000, offset: 0, gap: 0,
 * //   maxOutOfOrderness: 0, allowedLateness: 0, minPeriods: 0, keys: 'none' }
 * ```
 */
export function normalizeWindowSpec(spec: unknown): NormalizedWindowSpec {
  if (typeof spec !== 'object' || spec === null) throw new TypeError(`spec must be an object, got ${describe(spec)}`);
  const s = spec as Record<string, unknown>;
  const kind = s.kind;
  const common = ['kind', 'op', 'keys', 'ddof', 'q', 'maxOutOfOrderness', 'allowedLateness', 'minPeriods'];
  let size: number, step: number, offset = 0, gap = 0;
  if (kind === 'tumbling') {
    checkFields(s, [...common, 'size', 'offset'], `'tumbling'`);
    size = positive(s.size, 'size');
    step = size;
  } else if (kind === 'hopping') {
    checkFields(s, [...common, 'size', 'step', 'offset'], `'hopping'`);
    size = positive(s.size, 'size');
    step = positive(s.step, 'step');
    if (Math.ceil(size / step) > MAX_WINDOWS_PER_ROW) {
      throw new RangeError(`size / step must be at most ${MAX_WINDOWS_PER_ROW} (windows per row), got ${size} / ${step}`);
    }
  } else if (kind === 'session') {
    checkFields(s, [...common, 'gap'], `'session'`);
    gap = positive(s.gap, 'gap');
    size = 0;
    step = 0;
  } else {
    throw new TypeError(`kind must be one of 'tumbling', 'hopping', 'session', got ${describe(kind)} (count windows: createCountWindows)`);
  }
  if (s.offset !== undefined) offset = parseDuration(s.offset, 'offset');
  const agg = normalizeAggregate(s);
  const out: NormalizedWindowSpec = {
    kind,
    op: agg.op,
    size,
    step,
    offset,
    gap,
    maxOutOfOrderness: s.maxOutOfOrderness === undefined ? 0 : parseDuration(s.maxOutOfOrderness, 'maxOutOfOrderness'),
    allowedLateness: s.allowedLateness === undefined ? 0 : parseDuration(s.allowedLateness, 'allowedLateness'),
    minPeriods: minPeriodsOf(s.minPeriods, 0),
    keys: agg.keys,
  };
  return attach(out, agg);
}

/**
 * Checks a {@link CountWindowSpec} and fills in its defaults. Throws
 * `TypeError`/`RangeError` naming the field for a bad spec.
 *
 * @example
 * ```ts
 * normalizeCountWindowSpec({ op: 'var', size: 100 });
 * // { op: 'var', size: 100, step: 100, minPeriods: 0, keys: 'none', ddof: 1 }
 * ```
 */
export function normalizeCountWindowSpec(spec: unknown): NormalizedCountWindowSpec {
  if (typeof spec !== 'object' || spec === null) throw new TypeError(`spec must be an object, got ${describe(spec)}`);
  const s = spec as Record<string, unknown>;
  checkFields(s, ['op', 'keys', 'ddof', 'q', 'size', 'step', 'minPeriods'], 'count window');
  const agg = normalizeAggregate(s);
  const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 2 ** 31;
  if (!isCount(s.size)) throw new RangeError(`size must be an integer ≥ 1 (rows), got ${describe(s.size)}`);
  const size = s.size;
  const step = s.step === undefined ? size : s.step;
  if (!isCount(step)) throw new RangeError(`step must be an integer ≥ 1 (rows), got ${describe(s.step)}`);
  if (Math.ceil(size / step) > MAX_WINDOWS_PER_ROW) {
    throw new RangeError(`size / step must be at most ${MAX_WINDOWS_PER_ROW} (windows per row), got ${size} / ${step}`);
  }
  const out: NormalizedCountWindowSpec = { op: agg.op, size, step, minPeriods: minPeriodsOf(s.minPeriods, 0), keys: agg.keys };
  return attach(out, agg);
}

/** Same normalized spec (every field Object.is-equal). */
export function sameNormalized(a: object, b: object): boolean {
  return sameFields(a, b);
}

export type { CountWindowSpec, DurationRollingSpec, WindowSpec };
