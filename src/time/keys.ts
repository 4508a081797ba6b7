// Keys of a batch: Uint32 ids, or strings mapped to ids in order of first appearance.
import type { BatchKeys, KeyMode } from '../types.js';

/** Maps the keys of each batch to Uint32 ids; strings get ids in order of first appearance. */
export class KeyMap {
  readonly mode: KeyMode;
  private readonly ids = new Map<string, number>();
  /** id → string, for string keys. */
  readonly names: string[] = [];

  constructor(mode: KeyMode) {
    this.mode = mode;
  }

  /** Ids of a batch's keys (rows n); throws TypeError naming the row for a bad key. */
  ids32(keys: BatchKeys | undefined, n: number): Uint32Array | undefined {
    if (this.mode === 'none') {
      if (keys !== undefined && keys !== null) throw new TypeError(`keys given, but the spec has keys: 'none'; set keys: 'number' or 'string'`);
      return undefined;
    }
    if (keys === undefined || keys === null) throw new TypeError(`keys are required: the spec has keys: '${this.mode}'`);
    if (typeof keys !== 'object' || typeof (keys as { length?: unknown }).length !== 'number') {
      throw new TypeError(`keys must be ${this.mode === 'number' ? 'a Uint32Array or an array of integers' : 'an array of strings'}`);
    }
    if (keys.length !== n) throw new RangeError(`keys must hold one key per row: ${n} rows, ${keys.length} keys`);
    if (this.mode === 'number') {
      if (keys instanceof Uint32Array) return keys;
      const out = new Uint32Array(n);
      for (let i = 0; i < n; i++) {
        const k = (keys as ArrayLike<unknown>)[i];
        if (typeof k !== 'number' || !Number.isInteger(k) || k < 0 || k > 0xffffffff) {
          throw new TypeError(`keys[${i}] must be an integer in [0, 2³² − 1], got ${typeof k === 'string' ? `'${k}'` : String(k)}`);
        }
        out[i] = k;
      }
      return out;
    }
    const out = new Uint32Array(n);
    // Validate every key first, so that a bad batch adds nothing to the mapping.
    for (let i = 0; i < n; i++) {
      const k = (keys as ArrayLike<unknown>)[i];
      if (typeof k !== 'string') throw new TypeError(`keys[${i}] must be a string, got ${k === null ? 'null' : typeof k}`);
    }
    for (let i = 0; i < n; i++) {
      const k = (keys as readonly string[])[i]!;
      let id = this.ids.get(k);
      if (id === undefined) {
        id = this.names.length;
        if (id > 0xffffffff) throw new RangeError('more than 2³² distinct string keys');
        this.ids.set(k, id);
        this.names.push(k);
      }
      out[i] = id;
    }
    return out;
  }

  /** The user-facing key of an id. */
  keyOf(id: number): number | string {
    return this.mode === 'string' ? this.names[id]! : id;
  }

  /** Restores a string mapping from its names in id order. */
  load(names: readonly string[]): void {
    this.ids.clear();
    this.names.length = 0;
    for (const name of names) {
      if (this.ids.has(name)) throw new RangeError(`duplicate key name '${name}'`);
      this.ids.set(name, this.names.length);
      this.names.push(name);
    }
  }

  clear(): void {
    this.ids.clear();
    this.names.length = 0;
  }

  /** Forgets the names past the first n (those a refused batch added). */
  truncate(n: number): void {
    for (let id = n; id < this.names.length; id++) this.ids.delete(this.names[id]!);
    if (n < this.names.length) this.names.length = n;
  }
}

/** One row's time and value in reused one-element arrays, its key as a one-key batch: the one-row paths (pushRow) run the batch code on them. */
export class OneRow {
  readonly ts = new Float64Array(1);
  readonly vals = new Float64Array(1);
  readonly out = new Float64Array(1);

  set(time: unknown, value: unknown): this {
    if (typeof time !== 'number') throw new TypeError(`time must be a number, got ${time === null ? 'null' : typeof time}`);
    if (typeof value !== 'number') throw new TypeError(`value must be a number, got ${value === null ? 'null' : typeof value}`);
    this.ts[0] = time;
    this.vals[0] = value;
    return this;
  }

  static keys(key: readonly unknown[]): BatchKeys | undefined {
    return key.length === 0 || key[0] === undefined ? undefined : (key as BatchKeys);
  }
}

/** Coerces a batch column to a Float64Array; TypeError naming the field and element. */
export function toF64(values: unknown, what: string): Float64Array {
  if (values instanceof Float64Array) return values;
  if (Array.isArray(values) || ArrayBuffer.isView(values)) {
    const source = values as ArrayLike<unknown>;
    const out = new Float64Array(source.length);
    for (let i = 0; i < source.length; i++) {
      const x = source[i];
      if (typeof x !== 'number') throw new TypeError(`${what}[${i}] must be a number, got ${x === null ? 'null' : typeof x}`);
      out[i] = x;
    }
    return out;
  }
  throw new TypeError(`${what} must be a Float64Array or an array of numbers, got ${values === null ? 'null' : typeof values}`);
}

/** Checks timestamps: every one finite and within ±2^53 ms. Throws RangeError naming the row. */
export function checkTimestamps(ts: Float64Array, rowBase: number): void {
  // One comparison per row, false for NaN and ±Infinity too; the errors are built elsewhere
  // (with them inline, the loop ran at ~25 ns a row instead of ~2: 5 ops checked every row of the demo).
  for (let i = 0; i < ts.length; i++) if (!(Math.abs(ts[i]!) <= MAX_TIMESTAMP)) throwBadTimestamp(ts[i]!, i, rowBase);
}

/** The error of timestamps[i], not finite or beyond ±2^53 ms. */
function throwBadTimestamp(t: number, i: number, rowBase: number): never {
  if (!(t - t === 0)) throw new RangeError(`timestamps[${i}] (row ${rowBase + i}) must be a finite number of ms, got ${t}`);
  // Beyond 2⁵³ ms, t ± a duration rounds: window bounds would be wrong and grids could not step.
  throw new RangeError(`timestamps[${i}] (row ${rowBase + i}) must be within ±2^53 ms (${MAX_TIMESTAMP}), got ${t}: is it in µs or ns? Timestamps are ms`);
}

/** The greatest |timestamp| (ms): up to 2⁵³, integer ms are exact. */
export const MAX_TIMESTAMP = 2 ** 53;

/**
 * Refuses a row whose tumbling/hopping window index is not an exact integer
 * (|t − offset| + size ≥ 2⁵² · step): there the grid cannot step from one
 * window to the next and window bounds would round.
 */
export function checkGridTimestamps(ts: Float64Array, rowBase: number, size: number, step: number, offset: number): void {
  const limit = 2 ** 52 * step;
  for (let i = 0; i < ts.length; i++) {
    const t = ts[i]!;
    if (!(Math.abs(t - offset) + size < limit)) {
      throw new RangeError(
        `timestamps[${i}] (row ${rowBase + i}) is too far from the window grid: |t − offset| + size must be below 2^52 · step (step ${step} ms), got t = ${t}`,
      );
    }
  }
}

/**
 * checkTimestamps, then (tumbling/hopping: `grid` given) checkGridTimestamps:
 * the same RangeError as the two, naming the same row. Returns the first row
 * earlier than the row before it (ts.length when the batch is in order): the
 * grid's in-order path needs no second pass for it.
 *
 * Both checks hold on an interval of t (|t| and |t − offset| are convex, and
 * rounding keeps them monotone on each side), so they hold for every row when
 * they hold for the batch's least and greatest time: one pass finds those (an
 * in-order run needs no min/max: its first and last rows; NaN stops it and
 * makes the least NaN), and only a batch that fails runs the exact checks,
 * which throw. ~1.3 instead of ~2.5–6.5 ns a row checking each row.
 */
export function checkWindowTimestamps(ts: Float64Array, rowBase: number, grid?: { size: number; step: number; offset: number }): number {
  const n = ts.length;
  if (n === 0) return 0;
  let i = 1;
  while (i < n && ts[i]! >= ts[i - 1]!) i++;
  const descent = i;
  let least = ts[0]!, greatest = ts[i - 1]!;
  // Math.min/max: NaN wins, so a NaN row fails the check below.
  for (; i < n; i++) {
    const t = ts[i]!;
    least = Math.min(least, t);
    greatest = Math.max(greatest, t);
  }
  if (grid === undefined) {
    if (Math.abs(least) <= MAX_TIMESTAMP && Math.abs(greatest) <= MAX_TIMESTAMP) return descent;
    checkTimestamps(ts, rowBase);
    return descent;
  }
  const { size, step, offset } = grid;
  const limit = 2 ** 52 * step;
  if (Math.abs(least) <= MAX_TIMESTAMP && Math.abs(greatest) <= MAX_TIMESTAMP && Math.abs(least - offset) + size < limit && Math.abs(greatest - offset) + size < limit) return descent;
  // A bad row: the two checks, in their order, say which and why.
  checkTimestamps(ts, rowBase);
  checkGridTimestamps(ts, rowBase, size, step, offset);
  return descent;
}
