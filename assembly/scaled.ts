// Variance of a window holding "extreme" values: finite, nonzero and outside
// [2⁻⁴⁰⁰, 2⁴⁰¹), whose squares could overflow or be subnormal. The window's
// values are scaled by a power of two (exact) so the largest magnitude is in
// [0.5, 1), then two passes: O(window) for those rows only. Shared by the
// count-window kernel (var.ts) and duration rolling (timeroll.ts), so every
// window kind gives the same answer for such windows.

/** A finite, nonzero value outside [2⁻⁴⁰⁰, 2⁴⁰¹). Two integer compares on the exponent bits. */
@inline export function isExtreme(x: f64): bool {
  const bits = reinterpret<u64>(x);
  const e = <u32>(bits >> 52) & 0x7ff;
  // e − 623 > 800 (unsigned) ⇔ e < 623 or e > 1423; then exclude ±0 and Inf/NaN.
  return (e - 623 > 800) & (e != 0x7ff) & ((bits << 1) != 0);
}

@inline function isFinite(x: f64): bool {
  return x - x == 0;
}

/** 2^k for k in the normal range, split in two steps so both factors are normal. */
@inline function powerOfTwo(k: i32): f64 {
  const half = k / 2;
  return reinterpret<f64>(<u64>(half + 1023) << 52) * reinterpret<f64>(<u64>(k - half + 1023) << 52);
}

/** x·2^k, applying the two normal factors in turn: 2^k itself may overflow where x·2^k does not. */
@inline function times2(x: f64, k: i32): f64 {
  const half = k / 2;
  return x * reinterpret<f64>(<u64>(half + 1023) << 52) * reinterpret<f64>(<u64>(k - half + 1023) << 52);
}

// The window is at most two runs of f64 values `stride` bytes apart (a ring
// that wraps): [p1, p1 + n1·stride) then [p2, p2 + n2·stride).

function maxAbsOf(p: usize, n: i32, stride: usize, acc: f64): f64 {
  for (let i = 0; i < n; i++) {
    const x = load<f64>(p + <usize>i * stride);
    if (isFinite(x) && Math.abs(x) > acc) acc = Math.abs(x);
  }
  return acc;
}
function sumOf(p: usize, n: i32, stride: usize, down: f64, acc: f64): f64 {
  for (let i = 0; i < n; i++) {
    const x = load<f64>(p + <usize>i * stride);
    if (isFinite(x)) acc += x * down;
  }
  return acc;
}
function m2Of(p: usize, n: i32, stride: usize, down: f64, mean: f64, acc: f64): f64 {
  for (let i = 0; i < n; i++) {
    const x = load<f64>(p + <usize>i * stride);
    if (isFinite(x)) {
      const d = x * down - mean;
      acc += d * d;
    }
  }
  return acc;
}

/**
 * The variance (or std) of the finite values of the runs [p1, n1) and
 * [p2, n2), with `ddof`; the caller has checked there are more than ddof and
 * no infinity among them.
 */
export function scaledVariance(p1: usize, n1: i32, p2: usize, n2: i32, stride: usize, nFinite: i32, ddof: f64, isStd: bool): f64 {
  const maxAbs = maxAbsOf(p2, n2, stride, maxAbsOf(p1, n1, stride, 0));
  // Scale by 2^-e so the largest magnitude is in [0.5, 1): exact for every row that matters.
  const e = maxAbs == 0 ? 0 : <i32>((reinterpret<u64>(maxAbs) >> 52) & 0x7ff) - 1022;
  const down = powerOfTwo(-e);
  const mean = sumOf(p2, n2, stride, down, sumOf(p1, n1, stride, down, 0)) / <f64>nFinite;
  const m2 = m2Of(p2, n2, stride, down, mean, m2Of(p1, n1, stride, down, mean, 0));
  const scaledVar = m2 / (<f64>nFinite - ddof);
  // Undo the scaling: twice for the variance (it may overflow to +Inf, correctly), once for std.
  if (isStd) return times2(Math.sqrt(scaledVar), e);
  return times2(times2(scaledVar, e), e);
}
