// Slow, obvious reference implementations of every streamkernel op, plus the
// exact-arithmetic helpers the accuracy checks need.
//
// Nothing here is clever on purpose: every rolling result is computed from a
// fresh slice of the window (filter out NaN, sort, loop). Exact values use
// BigInt: every finite double is k·2⁻¹⁰⁷⁴ for an integer k, so sums of doubles
// and sums of their squares are exact integers at scales 2⁻¹⁰⁷⁴ and 2⁻²¹⁴⁸.
//
// Semantics (the contract, see the test brief and src/types.ts):
// - trailing window of the last `window` rows including the current one;
// - NaN is missing; a result needs at least minPeriods non-NaN rows
//   (default minPeriods = window, for every op including count), else NaN;
// - ±Infinity are values: sum/mean of a window holding +Inf is +Inf, holding
//   both +Inf and −Inf is NaN; var/std of a window holding an infinity is
//   NaN; min/max/median/quantile treat ±Inf as ordinary values; count counts
//   them;
// - 0 non-NaN rows: sum 0 (with minPeriods 0), mean/min/max/median/quantile
//   NaN, count 0;
// - var/std: divisor n − ddof (ddof default 1), NaN when n − ddof ≤ 0;
// - median: odd n → middle, even n → (a + b) / 2;
// - quantile: pandas' linear interpolation, literally
//   idx = q(n−1); lo = floor(idx); exact → v[lo]; else v[lo] + (v[lo+1] − v[lo])·(idx − lo);
// - ewm: pandas' `ewm(...).mean()` recurrence with ignore_na=False, copied
//   from pandas/_libs/window/aggregations.pyx (pandas 1.5.3).

import type { EwmSpec, RollingOp, RollingSpec } from '../src/types.js';

// ---------------------------------------------------------------------------
// Exact arithmetic on doubles

const f64 = new Float64Array(1);
const u64 = new BigUint64Array(f64.buffer);

/** Scale exponent of {@link scaledInt}: a finite double x is scaledInt(x)·2^SCALE_EXP. */
export const SCALE_EXP = -1074;

/** The integer k with x = k·2⁻¹⁰⁷⁴, exactly. Throws on NaN and ±Infinity. */
export function scaledInt(x: number): bigint {
  if (!Number.isFinite(x)) throw new RangeError(`scaledInt: ${x} is not finite`);
  f64[0] = x;
  const bits = u64[0]!;
  const negative = bits >> 63n === 1n;
  const biasedExp = Number((bits >> 52n) & 0x7ffn);
  const mantissa = bits & ((1n << 52n) - 1n);
  const k = biasedExp === 0 ? mantissa : (mantissa | (1n << 52n)) << BigInt(biasedExp - 1);
  return negative ? -k : k;
}

/** The ulp of x (spacing of doubles at |x|), in units of 2⁻¹⁰⁷⁴. ulp(0) = 1. */
export function ulpScaled(x: number): bigint {
  f64[0] = x;
  const biasedExp = Number((u64[0]! >> 52n) & 0x7ffn);
  return biasedExp <= 1 ? 1n : 1n << BigInt(biasedExp - 1);
}

/** Number of bits of n > 0. */
export function bitLength(n: bigint): number {
  if (n < 0n) n = -n;
  if (n === 0n) return 0;
  const hex = n.toString(16);
  return (hex.length - 1) * 4 + (32 - Math.clz32(parseInt(hex[0]!, 16)));
}

export function absBig(n: bigint): bigint {
  return n < 0n ? -n : n;
}

/** floor(√n) for n ≥ 0 (Newton's method from above). */
export function isqrt(n: bigint): bigint {
  if (n < 0n) throw new RangeError('isqrt of a negative number');
  if (n < 2n) return n;
  let x = 1n << BigInt((bitLength(n) >> 1) + 1);
  for (;;) {
    const y = (x + n / x) >> 1n;
    if (y >= x) return x;
    x = y;
  }
}

/** x·2^e for an exactly representable result, without intermediate over/underflow. */
function timesPow2(x: number, e: number): number {
  while (e > 1000) {
    x *= 2 ** 1000;
    e -= 1000;
  }
  while (e < -1000) {
    x *= 2 ** -1000;
    e += 1000;
  }
  return x * 2 ** e;
}

/**
 * The correctly rounded (to nearest, ties to even) double of
 * (q + ε)·2^exp2, where q ≥ 2⁶⁵ is an integer and ε ∈ (0, 1) when `sticky`
 * (the value is not exactly q), else ε = 0. Handles subnormals and overflow.
 */
function roundScaled(negative: boolean, q: bigint, sticky: boolean, exp2: number): number {
  const bq = bitLength(q);
  // The value lies in [2^E, 2^(E+1)).
  const e = bq - 1 + exp2;
  // Significant bits a double keeps at this exponent (fewer when subnormal).
  const keep = e >= -1022 ? 53 : e + 1075;
  const drop = bq - keep; // ≥ 12 because q has ≥ 66 bits and keep ≤ 53
  let m = keep > 0 ? q >> BigInt(drop) : 0n;
  const rest = q - (m << BigInt(drop));
  const half = 1n << BigInt(drop - 1);
  if (rest > half || (rest === half && (sticky || (m & 1n) === 1n))) m += 1n;
  const r = timesPow2(Number(m), drop + exp2);
  return negative ? -r : r;
}

/** The correctly rounded double of (num / den)·2^exp2, den > 0. */
export function ratToDouble(num: bigint, den: bigint, exp2: number): number {
  if (den <= 0n) throw new RangeError('ratToDouble: den must be positive');
  if (num === 0n) return 0;
  const negative = num < 0n;
  const n = absBig(num);
  // Scale so that the integer quotient has at least 66 bits.
  const s = 67 - (bitLength(n) - bitLength(den));
  const q = s >= 0 ? (n << BigInt(s)) / den : n / (den << BigInt(-s));
  const rem = s >= 0 ? (n << BigInt(s)) - q * den : n - q * (den << BigInt(-s));
  return roundScaled(negative, q, rem !== 0n, exp2 - s);
}

/** The correctly rounded double of √((num / den)·2^exp2), num ≥ 0, den > 0, exp2 even. */
export function sqrtRatToDouble(num: bigint, den: bigint, exp2: number): number {
  if (num < 0n || den <= 0n || exp2 % 2 !== 0) throw new RangeError('sqrtRatToDouble: bad arguments');
  if (num === 0n) return 0;
  // √(num/den) = √(num·2^(2t)/den)·2^−t; pick t so that the root has ≥ 66 bits.
  let t = 67 - Math.floor((bitLength(num) - bitLength(den)) / 2);
  if (t < 0) t = 0; // never shift right: keeps the floor exact
  const scaled = num << BigInt(2 * t);
  const x = scaled / den;
  const r = isqrt(x);
  // floor(√floor(y)) = floor(√y), and √y is an integer only when y is a perfect square integer.
  const sticky = x * den !== scaled || r * r !== x;
  if (bitLength(r) < 66) throw new Error('sqrtRatToDouble: internal precision too low');
  return roundScaled(false, r, sticky, exp2 / 2 - t);
}

// ---------------------------------------------------------------------------
// Windows

/** The rows of the trailing window ending at row i (the current row included). */
export function windowRows(values: ArrayLike<number>, i: number, window: number): number[] {
  const rows: number[] = [];
  for (let j = Math.max(0, i - window + 1); j <= i; j++) rows.push(values[j]!);
  return rows;
}

/** The non-NaN rows. */
export function observed(rows: readonly number[]): number[] {
  return rows.filter((x) => !Number.isNaN(x));
}

function sortedObserved(rows: readonly number[]): number[] {
  return observed(rows).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Exact statistics of the non-NaN rows of a window. */
export interface ExactStats {
  /** Non-NaN rows (±Infinity included). */
  n: number;
  posInf: number;
  negInf: number;
  /** Σx over the finite rows, in units of 2⁻¹⁰⁷⁴. */
  sum: bigint;
  /** Σ|x| over the finite rows, in units of 2⁻¹⁰⁷⁴. */
  sumAbs: bigint;
  /** Σx² over the finite rows, in units of 2⁻²¹⁴⁸. */
  sumSq: bigint;
}

export function exactStats(rows: readonly number[]): ExactStats {
  const st: ExactStats = { n: 0, posInf: 0, negInf: 0, sum: 0n, sumAbs: 0n, sumSq: 0n };
  for (const x of rows) {
    if (Number.isNaN(x)) continue;
    st.n++;
    if (x === Infinity) st.posInf++;
    else if (x === -Infinity) st.negInf++;
    else {
      const k = scaledInt(x);
      st.sum += k;
      st.sumAbs += absBig(k);
      st.sumSq += k * k;
    }
  }
  return st;
}

/** Exact variance as a rational: var = num / den · 2⁻²¹⁴⁸ (finite rows only, n − ddof > 0). */
export function exactVariance(st: ExactStats, ddof: number): { num: bigint; den: bigint } {
  const n = BigInt(st.n);
  // Σ(x − x̄)² = Σx² − (Σx)²/n  ⇒  var = (n·Σx² − (Σx)²) / (n·(n − ddof)).
  return { num: n * st.sumSq - st.sum * st.sum, den: n * (n - BigInt(ddof)) };
}

// ---------------------------------------------------------------------------
// Reference rolling ops (one window at a time)

export function refSumOf(rows: readonly number[], minPeriods: number): number {
  const st = exactStats(rows);
  if (st.n < minPeriods) return NaN;
  if (st.posInf > 0 && st.negInf > 0) return NaN;
  if (st.posInf > 0) return Infinity;
  if (st.negInf > 0) return -Infinity;
  return ratToDouble(st.sum, 1n, SCALE_EXP);
}

export function refMeanOf(rows: readonly number[], minPeriods: number): number {
  const st = exactStats(rows);
  if (st.n < minPeriods || st.n === 0) return NaN;
  if (st.posInf > 0 && st.negInf > 0) return NaN;
  if (st.posInf > 0) return Infinity;
  if (st.negInf > 0) return -Infinity;
  return ratToDouble(st.sum, BigInt(st.n), SCALE_EXP);
}

export function refVarOf(rows: readonly number[], minPeriods: number, ddof: number): number {
  const st = exactStats(rows);
  if (st.n < minPeriods) return NaN;
  if (st.posInf > 0 || st.negInf > 0) return NaN;
  if (st.n - ddof <= 0) return NaN;
  const { num, den } = exactVariance(st, ddof);
  return ratToDouble(num, den, 2 * SCALE_EXP);
}

export function refStdOf(rows: readonly number[], minPeriods: number, ddof: number): number {
  const st = exactStats(rows);
  if (st.n < minPeriods) return NaN;
  if (st.posInf > 0 || st.negInf > 0) return NaN;
  if (st.n - ddof <= 0) return NaN;
  const { num, den } = exactVariance(st, ddof);
  return sqrtRatToDouble(num, den, 2 * SCALE_EXP);
}

export function refCountOf(rows: readonly number[], minPeriods: number): number {
  const n = observed(rows).length;
  return n >= minPeriods ? n : NaN;
}

export function refMinOf(rows: readonly number[], minPeriods: number): number {
  const v = sortedObserved(rows);
  if (v.length < minPeriods || v.length === 0) return NaN;
  return v[0]!;
}

export function refMaxOf(rows: readonly number[], minPeriods: number): number {
  const v = sortedObserved(rows);
  if (v.length < minPeriods || v.length === 0) return NaN;
  return v[v.length - 1]!;
}

export function refMedianOf(rows: readonly number[], minPeriods: number): number {
  const v = sortedObserved(rows);
  const n = v.length;
  if (n < minPeriods || n === 0) return NaN;
  if (n % 2 === 1) return v[(n - 1) / 2]!;
  return (v[n / 2 - 1]! + v[n / 2]!) / 2;
}

export function refQuantileOf(rows: readonly number[], minPeriods: number, q: number): number {
  const v = sortedObserved(rows);
  const n = v.length;
  if (n < minPeriods || n === 0) return NaN;
  const idx = q * (n - 1);
  const lo = Math.floor(idx);
  if (idx === lo) return v[lo]!;
  const vlow = v[lo]!;
  const vhigh = v[lo + 1]!;
  return vlow + (vhigh - vlow) * (idx - lo);
}

/** minPeriods with its default filled in. */
export function effectiveMinPeriods(spec: RollingSpec): number {
  return spec.minPeriods ?? spec.window;
}

/** The reference result of one window (rows = the window's rows, NaN included). */
export function refWindowValue(rows: readonly number[], spec: RollingSpec): number {
  const mp = effectiveMinPeriods(spec);
  const ddof = spec.ddof ?? 1;
  switch (spec.op) {
    case 'sum':
      return refSumOf(rows, mp);
    case 'mean':
      return refMeanOf(rows, mp);
    case 'var':
      return refVarOf(rows, mp, ddof);
    case 'std':
      return refStdOf(rows, mp, ddof);
    case 'count':
      return refCountOf(rows, mp);
    case 'min':
      return refMinOf(rows, mp);
    case 'max':
      return refMaxOf(rows, mp);
    case 'median':
      return refMedianOf(rows, mp);
    case 'quantile':
      if (spec.q === undefined) throw new TypeError('quantile needs q');
      return refQuantileOf(rows, mp, spec.q);
  }
}

/** The reference of `rolling(values, spec)`: sum/mean/var/std correctly rounded from the exact value. */
export function refRolling(values: ArrayLike<number>, spec: RollingSpec): Float64Array {
  const out = new Float64Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = refWindowValue(windowRows(values, i, spec.window), spec);
  return out;
}

// ---------------------------------------------------------------------------
// ewm

/** alpha of an EwmSpec, from whichever of alpha/span/halflife/com is given (the contract's formulas). */
export function ewmAlpha(spec: EwmSpec): number {
  // pandas' get_center_of_mass (pandas/core/window/ewm.py), then alpha = 1 / (1 + com) as in aggregations.pyx.
  let com: number;
  if (spec.alpha !== undefined) com = (1 - spec.alpha) / spec.alpha;
  else if (spec.span !== undefined) com = (spec.span - 1) / 2;
  else if (spec.halflife !== undefined) com = 1 / (1 - Math.exp(Math.log(0.5) / spec.halflife)) - 1;
  else if (spec.com !== undefined) com = spec.com;
  else throw new TypeError('ewmAlpha: one of alpha, span, halflife, com is needed');
  return 1 / (1 + com);
}

/**
 * pandas `ewm` (aggregations.pyx, pandas 1.5.3) with ignore_na=False,
 * normalize=True and no deltas, line by line.
 */
export function refEwmWithAlpha(
  values: ArrayLike<number>,
  alpha: number,
  adjust: boolean,
  minPeriods: number,
): Float64Array {
  const N = values.length;
  const out = new Float64Array(N);
  if (N === 0) return out;
  const oldWtFactor = 1 - alpha;
  const newWt = adjust ? 1 : alpha;
  let weighted = values[0]!;
  let nobs = weighted === weighted ? 1 : 0;
  out[0] = nobs >= minPeriods ? weighted : NaN;
  let oldWt = 1;
  for (let i = 1; i < N; i++) {
    const cur = values[i]!;
    const isObservation = cur === cur;
    nobs += isObservation ? 1 : 0;
    if (weighted === weighted) {
      // ignore_na=False: weights decay on every row, missing or not.
      oldWt *= oldWtFactor;
      if (isObservation) {
        // pandas: "avoid numerical errors on constant series"
        if (weighted !== cur) {
          weighted = oldWt * weighted + newWt * cur;
          weighted /= oldWt + newWt;
        }
        if (adjust) oldWt += newWt;
        else oldWt = 1;
      }
    } else if (isObservation) {
      weighted = cur;
    }
    out[i] = nobs >= minPeriods ? weighted : NaN;
  }
  return out;
}

export function refEwm(values: ArrayLike<number>, spec: EwmSpec): Float64Array {
  return refEwmWithAlpha(values, ewmAlpha(spec), spec.adjust ?? true, spec.minPeriods ?? 0);
}

// ---------------------------------------------------------------------------
// Accuracy checks against the exact value (sum, mean, var, std)

/** Relative bound of sum/mean: |error| ≤ SUM_REL · Σ|x| over the window. */
export const SUM_REL_INV = 10n ** 12n; // 1 / 1e-12
/** Relative bound of var/std: |error| ≤ VAR_REL · exact. */
export const VAR_REL_INV = 10n ** 9n; // 1 / 1e-9

function expectSpecial(expected: number, actual: number, what: string): string | null {
  return Object.is(expected, actual) || (Number.isNaN(expected) && Number.isNaN(actual))
    ? null
    : `${what}: expected exactly ${fmt(expected)}`;
}

/**
 * Checks one result of sum/mean/var/std against the exact value of its
 * window. Returns null when it meets the contract, else the reason.
 *
 * - sum:  |actual − exact| ≤ 1e-12 · Σ|x|;
 * - mean: |actual − exact| ≤ 1e-12 · Σ|x| / n + ½ ulp(actual)  (the sum bound
 *   carried through the division by n, plus the final rounding, which only
 *   matters in the subnormal range);
 * - var:  |actual − exact| ≤ 1e-9 · exact + 2⁻¹⁰⁷⁴, never negative, exactly 0
 *   when the exact value is 0, Infinity only when the exact value overflows;
 * - std:  as var, against √(exact variance).
 * Special values (NaN for too few rows / infinities / n − ddof ≤ 0, ±Infinity
 * sums) must match exactly.
 */
export function checkApprox(rows: readonly number[], spec: RollingSpec, actual: number, st?: ExactStats): string | null {
  const s = st ?? exactStats(rows);
  const mp = effectiveMinPeriods(spec);
  const op = spec.op;
  if (s.n < mp) return expectSpecial(NaN, actual, `only ${s.n} non-NaN rows < minPeriods ${mp}`);
  if (op === 'sum' || op === 'mean') {
    if (op === 'mean' && s.n === 0) return expectSpecial(NaN, actual, 'mean of no rows');
    if (s.posInf > 0 && s.negInf > 0) return expectSpecial(NaN, actual, 'window holds +Inf and -Inf');
    if (s.posInf > 0) return expectSpecial(Infinity, actual, 'window holds +Inf');
    if (s.negInf > 0) return expectSpecial(-Infinity, actual, 'window holds -Inf');
    if (!Number.isFinite(actual)) return `not finite (exact ${op} is ${fmt(op === 'sum' ? ratToDouble(s.sum, 1n, SCALE_EXP) : ratToDouble(s.sum, BigInt(s.n), SCALE_EXP))})`;
    const a = scaledInt(actual);
    if (op === 'sum') {
      const err = absBig(a - s.sum);
      if (err * SUM_REL_INV <= s.sumAbs) return null;
      return `|error| ${fmt(ratToDouble(err, 1n, SCALE_EXP))} > 1e-12·Σ|x| = ${fmt(ratToDouble(s.sumAbs, SUM_REL_INV, SCALE_EXP))}`;
    }
    const n = BigInt(s.n);
    // |a − sum/n| ≤ 1e-12·Σ|x|/n + ulp(a)/2  ⇔  2·10¹²·|a·n − sum| ≤ 2·Σ|x| + 10¹²·n·ulp(a)
    const err = absBig(a * n - s.sum);
    if (2n * SUM_REL_INV * err <= 2n * s.sumAbs + SUM_REL_INV * n * ulpScaled(actual)) return null;
    return `|error| ${fmt(ratToDouble(err, n, SCALE_EXP))} > 1e-12·Σ|x|/n = ${fmt(ratToDouble(s.sumAbs, SUM_REL_INV * n, SCALE_EXP))}`;
  }
  if (op === 'var' || op === 'std') {
    const ddof = spec.ddof ?? 1;
    if (s.posInf > 0 || s.negInf > 0) return expectSpecial(NaN, actual, 'window holds an infinity');
    if (s.n - ddof <= 0) return expectSpecial(NaN, actual, `n − ddof = ${s.n - ddof} ≤ 0`);
    if (Number.isNaN(actual)) return 'NaN where a value is expected';
    if (actual < 0) return 'negative';
    const { num, den } = exactVariance(s, ddof);
    if (num === 0n) return actual === 0 ? null : 'not exactly 0 on a window of equal values';
    if (actual === Infinity) {
      if (op === 'var' && ratToDouble(num, den, 2 * SCALE_EXP) === Infinity) return null;
      return 'Infinity where the exact value is finite';
    }
    const A = scaledInt(actual);
    // 2^-1074 in units of 2^-2148 is 2^1074.
    const one = 1n << 1074n;
    if (op === 'var') {
      // |a − num/den| ≤ 1e-9·num/den + 2^-1074, in units of 2^-2148 times den·10⁹:
      const err = absBig(A * one * den - num);
      if (err * VAR_REL_INV <= num + VAR_REL_INV * den * one) return null;
      return `relative error ${relErr(actual, ratToDouble(num, den, 2 * SCALE_EXP))} > 1e-9`;
    }
    // std: s = √(num/den·2⁻²¹⁴⁸); need s(1 − 1e-9) − f ≤ a ≤ s(1 + 1e-9) + f with f = 2⁻¹⁰⁷⁴.
    const lo = (A + 1n) * (A + 1n) * den * VAR_REL_INV * VAR_REL_INV >= num * (VAR_REL_INV - 1n) ** 2n;
    const hi = A <= 1n || (A - 1n) * (A - 1n) * den * VAR_REL_INV * VAR_REL_INV <= num * (VAR_REL_INV + 1n) ** 2n;
    if (lo && hi) return null;
    return `relative error ${relErr(actual, sqrtRatToDouble(num, den, 2 * SCALE_EXP))} > 1e-9`;
  }
  throw new Error(`checkApprox: ${op} is an exact op`);
}

function relErr(actual: number, expected: number): string {
  if (expected === Infinity) return '1 (the exact value overflows a double: the result should be Infinity)';
  return expected === 0 ? 'inf' : Math.abs((actual - expected) / expected).toExponential(3);
}

/** Ops that must equal the reference bit for bit. */
export const EXACT_OPS: ReadonlySet<RollingOp> = new Set(['min', 'max', 'count', 'median', 'quantile']);

// ---------------------------------------------------------------------------
// Formatting for repro messages

/** A number as JS source: NaN, Infinity, -Infinity and -0 spelled out, shortest round-trip otherwise. */
export function fmt(x: number): string {
  if (Object.is(x, -0)) return '-0';
  return String(x);
}

/** An array as JS source, e.g. [1, NaN, -Infinity, 5e-324]. */
export function fmtArray(values: ArrayLike<number>): string {
  const parts: string[] = [];
  for (let i = 0; i < values.length; i++) parts.push(fmt(values[i]!));
  return `[${parts.join(', ')}]`;
}

/** Same value, bit for bit, except that every NaN equals every NaN. */
export function sameValue(a: number, b: number): boolean {
  return Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b));
}

/** A double's IEEE bits as 16 hex digits (fixtures compare results bit for bit, -0 and NaN payloads included). */
export function bitsHex(x: number): string {
  f64[0] = x;
  return u64[0]!.toString(16).padStart(16, '0');
}

/** Bytes as hex (snapshot fixtures). */
export const hexOf = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** A fixture's value as written in JSON: null for NaN, 'Infinity', '-0', or a number. */
export const fixtureValue = (v: number | null | 'Infinity' | '-0'): number => (v === null ? NaN : v === 'Infinity' ? Infinity : v === '-0' ? -0 : v);
