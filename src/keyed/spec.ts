// What a keyed operator runs: a count kernel spec (src/spec.ts) or an
// event-time spec tagged with its kind. Normalized specs are plain JSON (they
// are stored in checkpoints), so `ttl: Infinity` is left out.
import { normalizeSpec, planFor, specFromNormalized, type ModuleName } from '../spec.js';
import { normalizeDurationRolling, sameNormalized } from '../time/spec.js';
import type { DurationRollingSpec, KernelSpec, NormalizedDurationRollingSpec, NormalizedSpec } from '../types.js';
import { describe } from '../validation.js';

/**
 * Rolling by duration as a keyed operator: a {@link DurationRollingSpec}
 * with `kind: 'rolling'` and without `keys` (the job decides keying) or `ttl`.
 *
 * @example
 * ```ts
 * const spec: TimeRollingOperatorSpec = { kind: 'rolling', op: 'mean', window: '5s', closed: 'both' };
 * ```
 */
export type TimeRollingOperatorSpec = { kind: 'rolling' } & Omit<DurationRollingSpec, 'keys' | 'ttl'>;

/** A {@link TimeRollingOperatorSpec} with every default filled in, durations in ms. */
export type NormalizedTimeRollingOperatorSpec = { kind: 'rolling' } & Omit<NormalizedDurationRollingSpec, 'keys' | 'ttl'>;

/** What a keyed operator runs: a count kernel, or an event-time operator (tagged with `kind`). */
export type OperatorSpec = KernelSpec | TimeRollingOperatorSpec;

/** An {@link OperatorSpec} with defaults filled in. */
export type NormalizedOperatorSpec = NormalizedSpec | NormalizedTimeRollingOperatorSpec;

/** Whether a normalized spec is an event-time one. */
export function isTimeSpec(spec: NormalizedOperatorSpec): spec is NormalizedTimeRollingOperatorSpec {
  return (spec as { kind?: unknown }).kind === 'rolling';
}

/** Checks an operator spec and fills in its defaults; `TypeError`/`RangeError` naming the field. */
export function normalizeOperatorSpec(spec: unknown): NormalizedOperatorSpec {
  if (typeof spec !== 'object' || spec === null) throw new TypeError(`operator must be an object, got ${describe(spec)}`);
  const { kind, ...rest } = spec as Record<string, unknown>;
  if (kind === undefined) return normalizeSpec(spec);
  if (kind !== 'rolling') throw new TypeError(`operator.kind must be 'rolling' (rolling by duration) or absent (a count kernel), got ${describe(kind)}`);
  if ('keys' in rest) throw new TypeError("operator.keys is not allowed: the job's keyed option decides keying");
  if ('ttl' in rest) throw new TypeError('operator.ttl is not supported by the keyed operator: idle keys are kept');
  const { keys: _keys, ttl: _ttl, ...normalized } = normalizeDurationRolling(rest);
  return { kind: 'rolling', ...normalized };
}

/**
 * Reads back a spec that {@link normalizeOperatorSpec} returned (as stored in
 * a checkpoint): the spec when it is exactly a normalized one, else
 * `TypeError`/`RangeError` naming the field.
 */
export function operatorSpecFromNormalized(value: unknown): NormalizedOperatorSpec {
  if (typeof value !== 'object' || value === null || (value as { kind?: unknown }).kind === undefined) return specFromNormalized(value);
  const spec = normalizeOperatorSpec(value);
  const given = value as Record<string, unknown>;
  const field = [...new Set([...Object.keys(spec), ...Object.keys(given)])].find((k) => !Object.is((spec as Record<string, unknown>)[k], given[k]));
  if (field !== undefined) throw new RangeError(`${field} must be ${describe((spec as Record<string, unknown>)[field])} in a normalized spec, got ${describe(given[field])}`);
  return spec;
}

/** The duration-rolling spec a worker instantiates (numeric keys; unkeyed is key 0). */
export function durationSpecOf(spec: NormalizedTimeRollingOperatorSpec): NormalizedDurationRollingSpec {
  const { kind: _kind, ...rest } = spec;
  return { ...rest, ttl: Infinity, keys: 'number' };
}

/** The WASM module an operator runs. */
export function moduleOf(spec: NormalizedOperatorSpec): ModuleName {
  return isTimeSpec(spec) ? 'timeroll' : planFor(spec).module;
}

/** Whether two normalized specs are the same. */
export function sameOperatorSpec(a: NormalizedOperatorSpec, b: NormalizedOperatorSpec): boolean {
  return sameNormalized(a, b);
}
