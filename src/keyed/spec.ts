// What a keyed operator runs: a count kernel spec (src/spec.ts) or an
// event-time spec tagged with its kind. Normalized specs are plain JSON (they
// are stored in checkpoints), so `ttl: Infinity` is left out (a finite ttl is
// kept: checkpoints written before it was allowed have none).
import { normalizeSpec, planFor, specFromNormalized, type ModuleName } from '../spec.js';
import { normalizeCountWindowSpec, normalizeDurationRolling, normalizeWindowSpec, sameNormalized } from '../time/spec.js';
import { inputForm } from '../time/windows.js';
import type {
  CountWindowSpec,
  DurationRollingSpec,
  KernelSpec,
  NormalizedCountWindowSpec,
  NormalizedDurationRollingSpec,
  NormalizedSpec,
  NormalizedWindowSpec,
  WindowSpec,
} from '../types.js';
import { describe } from '../validation.js';

/** The mark of a rolling-by-duration operator spec. */
export interface RollingKind {
  /** Rolling by duration. */
  kind: 'rolling';
}

/** The mark of a count-windows operator spec. */
export interface CountKind {
  /** Count windows. */
  kind: 'count';
}

/**
 * Rolling by duration as a keyed operator: a {@link DurationRollingSpec}
 * with `kind: 'rolling'` and without `keys` (the job decides keying). A
 * `ttl` is measured against the whole stream's greatest timestamp, on any
 * number of workers.
 *
 * @example
 * ```ts
 * const spec: TimeRollingOperatorSpec = { kind: 'rolling', op: 'mean', window: '5s', closed: 'both', ttl: '5s' };
 * ```
 */
export type TimeRollingOperatorSpec = RollingKind & Omit<DurationRollingSpec, 'keys'>;

/** A {@link TimeRollingOperatorSpec} with every default filled in, durations in ms; `ttl` only when finite. */
export type NormalizedTimeRollingOperatorSpec = RollingKind & Omit<NormalizedDurationRollingSpec, 'keys' | 'ttl'> & {
  /** Time to live in ms; absent: Infinity (idle keys are kept). */
  ttl?: number;
};

/** Tumbling, hopping or session windows as a keyed operator: a {@link WindowSpec} without `keys`. */
export type WindowOperatorSpec = WindowSpec extends infer W ? (W extends WindowSpec ? Omit<W, 'keys'> : never) : never;

/** Count windows as a keyed operator: a {@link CountWindowSpec} with `kind: 'count'` and without `keys`. */
export type CountWindowOperatorSpec = CountKind & Omit<CountWindowSpec, 'keys'>;

/** A {@link WindowOperatorSpec} or {@link CountWindowOperatorSpec} with every default filled in, durations in ms. */
export type NormalizedWindowOperatorSpec = Omit<NormalizedWindowSpec, 'keys'> | (CountKind & Omit<NormalizedCountWindowSpec, 'keys'>);

/** What a keyed operator runs: a count kernel, or an event-time operator (tagged with `kind`). */
export type OperatorSpec = KernelSpec | TimeRollingOperatorSpec | WindowOperatorSpec | CountWindowOperatorSpec;

/** An {@link OperatorSpec} with defaults filled in. */
export type NormalizedOperatorSpec = NormalizedSpec | NormalizedTimeRollingOperatorSpec | NormalizedWindowOperatorSpec;

/** The normalized specs with one result per row. */
export type NormalizedSpecOfRows = NormalizedSpec | NormalizedTimeRollingOperatorSpec;

const WINDOW_KINDS = ['tumbling', 'hopping', 'session'];

/** Every `kind` of an event-time or window operator (a spec without `kind` is a count kernel). */
export const OPERATOR_KINDS = ['rolling', ...WINDOW_KINDS, 'count'] as const;

/** Whether a normalized spec is an event-time one (rows carry times). */
export function isTimeSpec(spec: NormalizedOperatorSpec): boolean {
  const kind = (spec as { kind?: unknown }).kind;
  return kind !== undefined && kind !== 'count';
}

/** Whether a normalized spec is of tumbling, hopping, session or count windows (output: window records). */
export function isWindowSpec(spec: NormalizedOperatorSpec): spec is NormalizedWindowOperatorSpec {
  const kind = (spec as { kind?: unknown }).kind as string;
  return kind === 'count' || WINDOW_KINDS.includes(kind);
}

/** The window spec a worker instantiates (numeric keys, or none). */
export function windowSpecOf(spec: NormalizedWindowOperatorSpec, keyed: boolean): NormalizedWindowSpec | NormalizedCountWindowSpec {
  const keys = keyed ? 'number' : 'none';
  if (spec.kind === 'count') {
    const { kind: _kind, ...count } = spec;
    return { ...count, keys };
  }
  return { ...spec, keys };
}

/** Checks an operator spec and fills in its defaults; `TypeError`/`RangeError` naming the field. */
export function normalizeOperatorSpec(spec: unknown): NormalizedOperatorSpec {
  if (typeof spec !== 'object' || spec === null) throw new TypeError(`operator must be an object, got ${describe(spec)}`);
  const { kind, ...rest } = spec as Record<string, unknown>;
  if (kind === undefined) return normalizeSpec(spec);
  if (kind !== 'rolling' && kind !== 'count' && !WINDOW_KINDS.includes(kind as string)) {
    throw new TypeError(`operator.kind must be 'rolling' (rolling by duration), 'tumbling', 'hopping', 'session', 'count' (count windows) or absent (a count kernel), got ${describe(kind)}`);
  }
  if ('keys' in rest) throw new TypeError("operator.keys is not allowed: the job's keyed option decides keying");
  if (kind === 'count') {
    const { keys: _keys, ...count } = normalizeCountWindowSpec(rest);
    return { kind: 'count', ...count };
  }
  if (kind !== 'rolling') {
    const { keys: _keys, ...windows } = normalizeWindowSpec(spec);
    return windows;
  }
  const { keys: _keys, ttl, ...normalized } = normalizeDurationRolling(rest);
  // Held rows would come back in later batches than their own: the job's results are one per row, per batch.
  if (normalized.maxOutOfOrderness !== 0) {
    throw new RangeError('operator.maxOutOfOrderness must be 0: the keyed operator takes each key\'s rows in time order (put them in order before the job, as run --workers does)');
  }
  return { kind: 'rolling', ...normalized, ...(ttl === Infinity ? {} : { ttl }) };
}

/** A rolling-by-duration spec with a finite ttl: each worker needs the whole stream's clock. */
export function hasTtl(spec: NormalizedOperatorSpec): boolean {
  return (spec as { kind?: unknown }).kind === 'rolling' && (spec as NormalizedTimeRollingOperatorSpec).ttl !== undefined;
}

/**
 * Reads back a spec that {@link normalizeOperatorSpec} returned (as stored in
 * a checkpoint): the spec when it is exactly a normalized one, else
 * `TypeError`/`RangeError` naming the field.
 */
export function operatorSpecFromNormalized(value: unknown): NormalizedOperatorSpec {
  if (typeof value !== 'object' || value === null || (value as { kind?: unknown }).kind === undefined) return specFromNormalized(value);
  const given = value as Record<string, unknown>;
  // A normalized window spec holds every kind's fields; its input form drops the others.
  const spec = normalizeOperatorSpec(WINDOW_KINDS.includes(given.kind as string) ? inputForm(given) : value);
  const field = [...new Set([...Object.keys(spec), ...Object.keys(given)])].find((k) => !Object.is((spec as Record<string, unknown>)[k], given[k]));
  if (field !== undefined) throw new RangeError(`${field} must be ${describe((spec as Record<string, unknown>)[field])} in a normalized spec, got ${describe(given[field])}`);
  return spec;
}

/** The duration-rolling spec a worker instantiates (numeric keys; unkeyed is key 0). */
export function durationSpecOf(spec: NormalizedTimeRollingOperatorSpec): NormalizedDurationRollingSpec {
  const { kind: _kind, ttl, ...rest } = spec;
  return { ...rest, ttl: ttl ?? Infinity, keys: 'number' };
}

/** The WASM module an operator runs (the time layer's for every `kind`: its build hash stamps their snapshots). */
export function moduleOf(spec: NormalizedOperatorSpec): ModuleName {
  return 'kind' in spec ? 'timeroll' : planFor(spec).module;
}

/** Whether two normalized specs are the same. */
export function sameOperatorSpec(a: NormalizedOperatorSpec, b: NormalizedOperatorSpec): boolean {
  return sameNormalized(a, b);
}
