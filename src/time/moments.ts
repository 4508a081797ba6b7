// Shifted, scaled moments of a growing window's finite values, for var/std of
// tumbling, hopping, session and count windows (Acc and the grid's typed
// arrays share this code, field for field).
//
// MOMENTS f64 at offset p: k, the shift (the first finite value: a constant
// window has all-zero sums, variance exactly 0); s1 = Σ y and s2 = Σ y² with
// y = (x − k)·2⁻ᵉ; nf, finite values; ninf, infinite ones (var is then NaN);
// e, the scale exponent; mx = max |y|. e stays 0 for ordinary data, so the
// arithmetic is the plain shifted sums, bit for bit. Only when a |y| would
// exceed 2⁴⁰⁰ (its square could overflow) or every |y| is below 2⁻⁴⁰⁰ (their
// squares would be subnormal) is the window rescaled by a power of two
// (exact), so that the largest |y| is near 1: var of [1, 1e300, 2] is +Inf,
// as the count-window kernel's scaled path (assembly/scaled.ts) gives, not 0.
export const MOMENTS = 7;
const K = 0, S1 = 1, S2 = 2, NF = 3, NINF = 4, E = 5, MX = 6;
const BIG = 2 ** 400;
const SMALL = 2 ** -400;

/** x·2^k in two steps (each factor normal, |k| ≤ 2046): exact unless the result is subnormal or overflows. */
function times2(x: number, k: number): number {
  if (k === 0) return x;
  const half = Math.trunc(k / 2);
  return x * 2 ** half * 2 ** (k - half);
}

/** ⌊log2 |x|⌋ for a finite nonzero x. */
function exponentOf(x: number): number {
  const a = Math.abs(x);
  const e = Math.floor(Math.log2(a));
  // log2 may round across a power of two: settle it exactly.
  return a < 2 ** e ? e - 1 : a >= 2 ** (e + 1) ? e + 1 : e;
}

/** Moves the moments to scale exponent `to` (s2 twice: it holds squares). */
function rescale(a: Float64Array, p: number, to: number): void {
  const d = a[p + E]! - to;
  a[p + S1] = times2(a[p + S1]!, d);
  a[p + S2] = times2(times2(a[p + S2]!, d), d);
  a[p + MX] = times2(a[p + MX]!, d);
  a[p + E] = to;
}

/**
 * The exponent to rescale to when a difference `d` (at scale e) is too large
 * or overflowed: its own exponent, or, when it overflowed, one above the
 * larger of the two values it was the difference of.
 */
function scaleFor(d: number, e: number, u: number, v: number): number {
  return d - d === 0 ? e + exponentOf(d) : exponentOf(Math.max(Math.abs(u), Math.abs(v))) + 1;
}

/** Adds x (NaN excluded by the caller). */
export function momentsAdd(a: Float64Array, p: number, x: number): void {
  if (x - x !== 0) {
    a[p + NINF]!++;
    return;
  }
  if (a[p + NF] === 0) a[p + K] = x;
  const k = a[p + K]!;
  let e = a[p + E]!;
  let y = times2(x, -e) - times2(k, -e);
  let ay = Math.abs(y);
  if (!(ay <= BIG) || (ay !== 0 && ay < SMALL && a[p + MX]! < SMALL)) {
    e = scaleFor(Math.max(ay, a[p + MX]!), e, x, k);
    rescale(a, p, e);
    y = times2(x, -e) - times2(k, -e);
    ay = Math.abs(y);
  }
  a[p + S1]! += y;
  a[p + S2]! += y * y;
  a[p + NF]!++;
  if (ay > a[p + MX]!) a[p + MX] = ay;
}

/** Merges the moments at b[q] into those at a[p] (b is not changed). */
export function momentsMerge(a: Float64Array, p: number, b: Float64Array, q: number): void {
  a[p + NINF]! += b[q + NINF]!;
  const nb = b[q + NF]!;
  if (nb === 0) return;
  if (a[p + NF] === 0) {
    for (const f of [K, S1, S2, NF, E, MX]) a[p + f] = b[q + f]!;
    return;
  }
  const o = b.slice(q, q + MOMENTS);
  let e = Math.max(a[p + E]!, o[E]!);
  rescale(a, p, e);
  rescale(o, 0, e);
  let d = times2(o[K]!, -e) - times2(a[p + K]!, -e);
  if (!(Math.abs(d) <= BIG)) {
    e = scaleFor(d, e, o[K]!, a[p + K]!);
    rescale(a, p, e);
    rescale(o, 0, e);
    d = times2(o[K]!, -e) - times2(a[p + K]!, -e);
  }
  a[p + S1] = a[p + S1]! + o[S1]! + nb * d;
  a[p + S2] = a[p + S2]! + o[S2]! + d * (2 * o[S1]! + nb * d);
  a[p + NF]! += nb;
  a[p + MX] = Math.max(a[p + MX]!, o[MX]! + Math.abs(d));
  // Keep every |y| ≤ 2⁴⁰⁰ (a bound on mx, so on the squares).
  if (a[p + MX]! > BIG) rescale(a, p, e + exponentOf(a[p + MX]!));
}

/** var (or std with `std`) with `ddof`: NaN with an infinity or too few values. */
export function momentsValue(a: Float64Array, p: number, std: boolean, ddof: number): number {
  const nf = a[p + NF]!;
  if (a[p + NINF]! > 0 || !(nf - ddof > 0)) return NaN;
  const s1 = a[p + S1]!;
  let m2 = a[p + S2]! - (s1 * s1) / nf;
  if (!(m2 > 0)) m2 = 0;
  const v = m2 / (nf - ddof);
  const e = a[p + E]!;
  // Undo the scale: once for std, twice for var (which may overflow to +Inf, correctly).
  return std ? times2(Math.sqrt(v), e) : times2(times2(v, e), e);
}

/** Checks restored moments: counts, exponent and bound in range. */
export function momentsValid(a: Float64Array, p: number): boolean {
  const e = a[p + E]!, mx = a[p + MX]!;
  return Number.isInteger(e) && Math.abs(e) <= 1100 && mx >= 0 && mx <= BIG && (a[p + NF] !== 0 || (mx === 0 && e === 0));
}
