// Rolling variance and standard deviation over a count window of W rows.
//
// Block method as in sum.ts: a window is the suffix of the previous block plus
// the prefix of the current one, each summarized by shifted sums
// S1 = Σ(x − K), S2 = Σ(x − K)² over its finite rows, and combined per row.
// Nothing is ever subtracted away, so there is no drift and a burst that has
// left the window leaves no trace.
//
// Shifts keep the sums small: the prefix uses K_L = the first finite row of
// the current block, the suffix K_R = the last finite row of the previous
// block. Both are rows of every window that uses them, so |x − K| never exceeds
// the window's range, x − K is exact for data like 1e9 + N(0,1), and a
// constant window has all-zero sums: its variance is exactly 0.
// M2 = S2 − S1²/n is clamped at 0, so a result is never negative.
//
// NaN is missing. ±Inf are values: a window holding one has variance NaN.
//
// Squares of |x| beyond 2⁴⁰⁰ could overflow and those of nonzero |x| below
// 2⁻⁴⁰⁰ lose precision as subnormals. Such "extreme" rows are counted like the
// infinities; while the window holds one, its result comes from a two-pass
// computation over the window scaled by a power of two (exact scaling), which
// is O(W) for those rows only. Ordinary data never takes that path.
import {
  allocState,
  ERR_MEMORY,
  ERR_PARAMS,
  ERR_STATE,
  gMinPeriods,
  gOp,
  gWindow,
  gP0,
  gP1,
  headerMatches,
  HEADER_BYTES,
  inputPtr,
  OK,
  rowIn,
  rowOut,
  outputPtr,
  sameF64,
  scratch,
  statePtr,
  subBlockLength,
  beginKeys,
  endKeys,
  enterKey,
} from '../common';
import { isExtreme, scaledVariance } from '../scaled';
export { statePtr, stateSize, inputPtr, outputPtr, capacity, reserve, useState, alloc } from '../common';

const FAMILY: i32 = 3;
const OP_VAR: i32 = 0;
const OP_STD: i32 = 1;

const S_POS: usize = HEADER_BYTES; // i32: offset of the next row in its block
const S_SUB_LEFT: usize = HEADER_BYTES + 4; // i32: rows left in the prefix sub-block
const S_FINITE: usize = HEADER_BYTES + 8; // i32: finite rows in the window
const S_INFINITE: usize = HEADER_BYTES + 12; // i32: ±Inf rows in the window
const S_PREFIX_N: usize = HEADER_BYTES + 16; // i32: finite rows in the current block so far
const S_SUB_LEN: usize = HEADER_BYTES + 20; // i32: sub-block length
// (HEADER_BYTES + 72 holds the extreme-row count, after the sums; see S_EXTREME.)
const S_SHIFT_L: usize = HEADER_BYTES + 24; // f64: K_L, first finite row of the current block
const S_SHIFT_R: usize = HEADER_BYTES + 32; // f64: K_R, last finite row of the previous block
const S_SUB1: usize = HEADER_BYTES + 40; // f64: Σ(x − K_L), current sub-block
const S_BLOCK1: usize = HEADER_BYTES + 48; // f64: Σ(x − K_L), finished sub-blocks
const S_SUB2: usize = HEADER_BYTES + 56; // f64: Σ(x − K_L)², current sub-block
const S_BLOCK2: usize = HEADER_BYTES + 64; // f64: Σ(x − K_L)², finished sub-blocks
const S_EXTREME: usize = HEADER_BYTES + 72; // i32: extreme rows in the window (4 bytes padding follow)
const S_RING: usize = HEADER_BYTES + 80; // f64 × W: raw rows, current block then previous

// After the ring: suffix sums of the previous block, each f64 × (W + 1), the last entry 0.
@inline function suffix1(window: i32): usize {
  return S_RING + (<usize>window) * 8;
}
@inline function suffix2(window: i32): usize {
  return S_RING + (<usize>window) * 16 + 8;
}

@inline function isFinite(x: f64): bool {
  return x - x == 0;
}


/** Finite and not extreme (zero included): the rows that never change a counter. */
@inline function isOrdinary(x: f64): bool {
  const bits = reinterpret<u64>(x);
  const e = <u32>(bits >> 52) & 0x7ff;
  return (e - 623 <= 800) | ((bits << 1) == 0);
}

export function init(op: i32, window: i32, minPeriods: i32, p0: f64, p1: f64): i32 {
  if (op < OP_VAR || op > OP_STD || window < 1 || minPeriods < 0 || minPeriods > window) return ERR_PARAMS;
  if (!(p0 >= 0) || p0 != Math.floor(p0)) return ERR_PARAMS;
  const bytes = suffix2(window) + (<usize>window + 1) * 8;
  if (!allocState(FAMILY, op, window, minPeriods, p0, p1, bytes)) return ERR_MEMORY;
  const s = statePtr();
  const b = subBlockLength(window);
  store<i32>(s + S_SUB_LEFT, b);
  store<i32>(s + S_SUB_LEN, b);
  const ring = s + S_RING;
  for (let i = 0; i < window; i++) store<f64>(ring + (<usize>i << 3), NaN);
  return OK;
}

export function reset(): void {
  init(gOp, gWindow, gMinPeriods, gP0, gP1);
}

/** Shift and suffix sums of the block the ring now holds in full. */
function finishBlock(s: usize, w: i32, b: i32): void {
  const ring = s + S_RING;
  const suf1 = s + suffix1(w);
  const suf2 = s + suffix2(w);
  let shift: f64 = 0;
  for (let j = w - 1; j >= 0; j--) {
    const x = load<f64>(ring + (<usize>j << 3));
    if (isFinite(x)) {
      shift = x;
      break;
    }
  }
  store<f64>(s + S_SHIFT_R, shift);
  store<f64>(suf1 + (<usize>w << 3), 0);
  store<f64>(suf2 + (<usize>w << 3), 0);
  let block1: f64 = 0, block2: f64 = 0;
  // Sub-blocks from the end of the block, as in sum.ts.
  let hi = w;
  while (hi > 0) {
    const lo = hi > b ? hi - b : 0;
    let sub1: f64 = 0, sub2: f64 = 0;
    for (let j = hi - 1; j >= lo; j--) {
      const x = load<f64>(ring + (<usize>j << 3));
      const y = isFinite(x) ? x - shift : 0;
      sub1 += y;
      sub2 += y * y;
      store<f64>(suf1 + (<usize>j << 3), block1 + sub1);
      store<f64>(suf2 + (<usize>j << 3), block2 + sub2);
    }
    block1 += sub1;
    block2 += sub2;
    hi = lo;
  }
}

/**
 * Re-shifts the suffix sums at offsets (pos, W) from K_R onto K_L, once per block,
 * when the block's first finite row fixes K_L: Σ(x − K_L) = S1 + n_R·d and
 * Σ(x − K_L)² = S2 + d·(2·S1 + n_R·d) with d = K_R − K_L. Offsets with no finite
 * row in the suffix (n_R = 0) keep their zero sums.
 */
function reshiftSuffix(s: usize, w: i32, pos: i32, shiftR: f64, shiftL: f64): void {
  const d = shiftR - shiftL;
  if (d == 0) return;
  const ring = s + S_RING;
  const suf1 = s + suffix1(w);
  const suf2 = s + suffix2(w);
  // Offsets j − 1 and j at once (SIMD), each lane the scalar loop's operations;
  // n_R counts are whole numbers, exact in f64.
  const zero = f64x2.splat(0);
  const one = f64x2.splat(1);
  const dv = f64x2.splat(d);
  const lowLane = v128.load(K_LOW_LANE);
  let nRv = zero;
  let j = w - 1;
  for (; j - 1 > pos; j -= 2) {
    const o = <usize>(j - 1) << 3;
    const x = v128.load(ring + o); // rows j − 1, j
    const f = v128.and(f64x2.eq(f64x2.sub(x, x), zero), one); // 1 where finite
    // lane 1 (offset j): n_R + f_j; lane 0 (offset j − 1): n_R + (f_j + f_{j−1})
    const nR = f64x2.add(nRv, f64x2.add(v128.shuffle<f64>(f, f, 1, 1), v128.and(f, lowLane)));
    const s1 = v128.load(suf1 + o);
    const s2 = v128.load(suf2 + o);
    const r1 = f64x2.add(s1, f64x2.mul(nR, dv));
    const r2 = f64x2.add(s2, f64x2.mul(dv, f64x2.add(f64x2.add(s1, s1), f64x2.mul(nR, dv))));
    const live = f64x2.ne(nR, zero); // n_R = 0: the sums stay as they are
    v128.store(suf1 + o, v128.bitselect(r1, s1, live));
    v128.store(suf2 + o, v128.bitselect(r2, s2, live));
    nRv = v128.shuffle<f64>(nR, nR, 0, 0);
  }
  let nR = <i32>f64x2.extract_lane(nRv, 0);
  for (; j > pos; j--) {
    nR += <i32>isFinite(load<f64>(ring + (<usize>j << 3)));
    if (nR == 0) continue;
    const nRf = <f64>nR;
    const s1R = load<f64>(suf1 + (<usize>j << 3));
    store<f64>(suf1 + (<usize>j << 3), s1R + nRf * d);
    store<f64>(suf2 + (<usize>j << 3), load<f64>(suf2 + (<usize>j << 3)) + d * (2 * s1R + nRf * d));
  }
}

/** All ones in lane 0, zeros in lane 1. */
const K_LOW_LANE: usize = memory.data<u64>([0xffffffffffffffff, 0]);

// The fast path. While the window holds no ±Inf and no extreme row, K_L is
// fixed (the block has a finite row) and none enters, every row does the same
// operations: the slow loop's per-row branches and its many live values keep
// it far from the arithmetic's speed. So a chunk goes in two passes: the
// sequential sums (the only chains) into scratch, then the results two rows
// at a time with SIMD. Each result is the same expression as the slow loop's
// (1 / (n·(n − ddof)) computed per row equals the cached value, a pure
// function of n), so the bits do not depend on which path ran.
const CHUNK: i32 = 256;
const SCRATCH_S1: usize = memory.data(CHUNK * 8 + 16, 16); // prefix Σ(x − K_L) per row
const SCRATCH_S2: usize = memory.data(CHUNK * 8 + 16, 16); // prefix Σ(x − K_L)² per row
const SCRATCH_N: usize = memory.data(CHUNK * 8 + 16, 16); // finite rows in the window, as f64
const K_NAN2: usize = memory.data<f64>([NaN, NaN]);
/** 2⁴⁰¹ and 2⁻⁴⁰⁰: |x| outside [2⁻⁴⁰⁰, 2⁴⁰¹) and nonzero is extreme (or ±Inf). */
const BIG: f64 = reinterpret<f64>(<u64>(1023 + 401) << 52);
const TINY: f64 = reinterpret<f64>(<u64>(1023 - 400) << 52);

// The fast path's running values, in and out (globals: one return value is not enough).
let fSub1: f64 = 0;
let fSub2: f64 = 0;
let fFinite: i32 = 0;

/** How many of the first `m` rows at `p` are ordinary or NaN (no ±Inf, no extreme row), from the first. */
function ordinaryRows(p: usize, m: i32): i32 {
  const big = f64x2.splat(BIG);
  const tiny = f64x2.splat(TINY);
  const zero = f64x2.splat(0);
  let k = 0;
  for (; k + 2 <= m; k += 2) {
    const a = f64x2.abs(v128.load(p + (<usize>k << 3)));
    // NaN compares false everywhere: it is missing, not special.
    const bad = v128.or(f64x2.ge(a, big), v128.and(f64x2.lt(a, tiny), f64x2.ne(a, zero)));
    if (v128.any_true(bad)) break;
  }
  for (; k < m; k++) {
    const a = Math.abs(load<f64>(p + (<usize>k << 3)));
    if (a >= BIG || (a < TINY && a != 0)) break;
  }
  return k;
}

/**
 * `m` ordinary rows (see ordinaryRows) of one sub-block: the ring swap, the
 * counts and the prefix sums, then the results. Returns the finite rows that
 * entered.
 */
function fastRows(
  inp: usize,
  ring: usize,
  out: usize,
  suf1: usize,
  suf2: usize,
  m: i32,
  shiftL: f64,
  block1: f64,
  block2: f64,
  minPeriods: i32,
  ddof: f64,
  isStd: bool,
): i32 {
  let sub1 = fSub1;
  let sub2 = fSub2;
  let finite = fFinite;
  let entered = 0;
  for (let k = 0; k < m; k++) {
    const o = <usize>k << 3;
    const x = load<f64>(inp + o);
    const old = load<f64>(ring + o);
    store<f64>(ring + o, x);
    // No ±Inf here: finite is not NaN. A NaN row adds +0, which leaves the sums' bits as they are.
    const f = x == x;
    finite += <i32>f - <i32>(old == old);
    entered += <i32>f;
    const y = select<f64>(x - shiftL, 0, f);
    sub1 += y;
    sub2 += y * y;
    store<f64>(SCRATCH_S1 + o, sub1);
    store<f64>(SCRATCH_S2 + o, sub2);
    store<f64>(SCRATCH_N + o, <f64>finite);
  }
  fSub1 = sub1;
  fSub2 = sub2;
  fFinite = finite;
  // Results, two rows per step; an odd last row fills a lane that is not stored.
  const b1 = f64x2.splat(block1);
  const b2 = f64x2.splat(block2);
  const dd = f64x2.splat(ddof);
  const mp = f64x2.splat(<f64>minPeriods);
  const zero = f64x2.splat(0);
  const one = f64x2.splat(1);
  for (let k = 0; k < m; k += 2) {
    const o = <usize>k << 3;
    const s1 = f64x2.add(v128.load(suf1 + o), f64x2.add(b1, v128.load(SCRATCH_S1 + o)));
    const s2 = f64x2.add(v128.load(suf2 + o), f64x2.add(b2, v128.load(SCRATCH_S2 + o)));
    const nF = v128.load(SCRATCH_N + o);
    const nd = f64x2.sub(nF, dd);
    let nm2 = f64x2.sub(f64x2.mul(nF, s2), f64x2.mul(s1, s1));
    nm2 = v128.and(nm2, f64x2.gt(nm2, zero)); // clamped at +0, NaN included
    let r = f64x2.mul(nm2, f64x2.div(one, f64x2.mul(nF, nd)));
    if (isStd) r = f64x2.sqrt(r);
    const valid = v128.and(f64x2.ge(nF, mp), f64x2.gt(nd, zero));
    r = v128.bitselect(r, v128.load(K_NAN2), valid);
    if (k + 1 < m) v128.store(out + o, r);
    else store<f64>(out + o, f64x2.extract_lane(r, 0));
  }
  return entered;
}

/** var = (n·S2 − S1²) · scale, scale = 1 / (n·(n − ddof)), clamped at 0 (never negative); std its root. */
@inline function varianceOf(s1: f64, s2: f64, n: f64, scale: f64, isStd: bool): f64 {
  let nm2 = n * s2 - s1 * s1;
  if (!(nm2 > 0)) nm2 = 0;
  const v = nm2 * scale;
  return isStd ? Math.sqrt(v) : v;
}

export function update(n: i32): void {
  const s = statePtr();
  const w = gWindow;
  const minPeriods = gMinPeriods;
  const ddof = gP0;
  const isStd = gOp == OP_STD;
  const b = load<i32>(s + S_SUB_LEN);
  const ring = s + S_RING;
  const suf1 = s + suffix1(w);
  const suf2 = s + suffix2(w);
  const input = inputPtr();
  const output = outputPtr();
  let pos = load<i32>(s + S_POS);
  let subLeft = load<i32>(s + S_SUB_LEFT);
  let finite = load<i32>(s + S_FINITE);
  let infinite = load<i32>(s + S_INFINITE);
  let prefixN = load<i32>(s + S_PREFIX_N);
  let extreme = load<i32>(s + S_EXTREME);
  let scaleN = -1;
  let scale: f64 = 0;
  let shiftL = load<f64>(s + S_SHIFT_L);
  let shiftR = load<f64>(s + S_SHIFT_R);
  let sub1 = load<f64>(s + S_SUB1);
  let block1 = load<f64>(s + S_BLOCK1);
  let sub2 = load<f64>(s + S_SUB2);
  let block2 = load<f64>(s + S_BLOCK2);

  let i = 0;
  while (i < n) {
    let run = n - i;
    if (run > subLeft) run = subLeft;
    if (run > w - pos) run = w - pos;
    const end = i + run;
    while (i < end) {
      // Ordinary data: whole chunks through the two-pass fast path (same operations, same bits).
      if (prefixN > 0 && infinite == 0 && extreme == 0) {
        let m = end - i;
        if (m > CHUNK) m = CHUNK;
        m = ordinaryRows(input + (<usize>i << 3), m);
        if (m > 0) {
          fSub1 = sub1;
          fSub2 = sub2;
          fFinite = finite;
          const entered = fastRows(
            input + (<usize>i << 3),
            ring + (<usize>pos << 3),
            output + (<usize>i << 3),
            suf1 + (<usize>(pos + 1) << 3),
            suf2 + (<usize>(pos + 1) << 3),
            m,
            shiftL,
            block1,
            block2,
            minPeriods,
            ddof,
            isStd,
          );
          sub1 = fSub1;
          sub2 = fSub2;
          finite = fFinite;
          prefixN += entered;
          i += m;
          pos += m;
          continue;
        }
      }
      const x = load<f64>(input + (<usize>i << 3));
      const slot = ring + (<usize>pos << 3);
      const old = load<f64>(slot);
      store<f64>(slot, x);
      const xFinite = isFinite(x);
      // An ordinary row entering and one leaving change no count: the common case.
      if (!(isOrdinary(x) & isOrdinary(old))) {
        finite += <i32>xFinite - <i32>isFinite(old);
        infinite += <i32>(x == x && !xFinite) - <i32>(old == old && !isFinite(old));
        extreme += <i32>isExtreme(x) - <i32>isExtreme(old);
      }
      if (xFinite) {
        if (prefixN == 0) {
          shiftL = x;
          reshiftSuffix(s, w, pos, shiftR, shiftL);
        }
        prefixN++;
        const y = x - shiftL;
        sub1 += y;
        sub2 += y * y;
      }
      let result: f64 = NaN;
      const nFinite = <f64>finite;
      if (finite + infinite >= minPeriods && infinite == 0 && nFinite - ddof > 0) {
        if (extreme > 0) {
          result = scaledVariance(ring, w, 0, 0, 8, finite, ddof, isStd);
        } else {
          // The suffix sums are already on K_L (reshiftSuffix), or on K_R while the prefix is empty.
          const s1 = load<f64>(suf1 + (<usize>(pos + 1) << 3)) + (block1 + sub1);
          const s2 = load<f64>(suf2 + (<usize>(pos + 1) << 3)) + (block2 + sub2);
          // var = (n·S2 − S1²) / (n·(n − ddof)), clamped at 0. The divisor depends on n
          // alone, which rarely changes: its reciprocal is cached per n (a pure function of n).
          if (finite != scaleN) {
            scaleN = finite;
            scale = 1 / (nFinite * (nFinite - ddof));
          }
          result = varianceOf(s1, s2, nFinite, scale, isStd);
        }
      }
      store<f64>(output + (<usize>i << 3), result);
      pos++;
      i++;
    }
    subLeft -= run;
    if (subLeft == 0) {
      block1 += sub1;
      block2 += sub2;
      sub1 = 0;
      sub2 = 0;
      subLeft = b;
    }
    if (pos == w) {
      finishBlock(s, w, b);
      shiftR = load<f64>(s + S_SHIFT_R);
      pos = 0;
      prefixN = 0;
      shiftL = 0;
      block1 = 0;
      block2 = 0;
      sub1 = 0;
      sub2 = 0;
      subLeft = b;
    }
  }
  store<i32>(s + S_POS, pos);
  store<i32>(s + S_SUB_LEFT, subLeft);
  store<i32>(s + S_FINITE, finite);
  store<i32>(s + S_INFINITE, infinite);
  store<i32>(s + S_PREFIX_N, prefixN);
  store<i32>(s + S_EXTREME, extreme);
  store<f64>(s + S_SHIFT_L, shiftL);
  store<f64>(s + S_SUB1, sub1);
  store<f64>(s + S_BLOCK1, block1);
  store<f64>(s + S_SUB2, sub2);
  store<f64>(s + S_BLOCK2, block2);
}

/** Checks a restored state: indices in range, counts consistent with the ring. */
export function validate(): i32 {
  if (!headerMatches()) return ERR_STATE;
  const s = statePtr();
  const w = gWindow;
  const b = subBlockLength(w);
  const pos = load<i32>(s + S_POS);
  if (load<i32>(s + S_SUB_LEN) != b || pos < 0 || pos >= w) return ERR_STATE;
  if (load<i32>(s + S_SUB_LEFT) != b - (pos % b)) return ERR_STATE;
  const ring = s + S_RING;
  let finite = 0, infinite = 0, prefixN = 0, extreme = 0;
  for (let i = 0; i < w; i++) {
    const x = load<f64>(ring + (<usize>i << 3));
    const f = isFinite(x);
    finite += <i32>f;
    infinite += <i32>(x == x && !f);
    extreme += <i32>isExtreme(x);
    if (i < pos) prefixN += <i32>f;
  }
  if (load<i32>(s + S_FINITE) != finite || load<i32>(s + S_INFINITE) != infinite) return ERR_STATE;
  if (load<i32>(s + S_EXTREME) != extreme || load<i32>(s + S_EXTREME + 4) != 0) return ERR_STATE;
  if (load<i32>(s + S_PREFIX_N) != prefixN) return ERR_STATE;
  if (!prefixSumsMatch(s, b, pos)) return ERR_STATE;
  return suffixSumsStatus(s, w, b, pos, prefixN);
}

/**
 * K_L and the prefix sums are derived from the block's rows [0, pos): K_L is
 * its first finite row (+0 while there is none) and the sums are recomputed
 * with update()'s operations in its order; all must match bit for bit.
 */
function prefixSumsMatch(s: usize, b: i32, pos: i32): bool {
  const ring = s + S_RING;
  let shiftL: f64 = 0;
  for (let i = 0; i < pos; i++) {
    const x = load<f64>(ring + (<usize>i << 3));
    if (isFinite(x)) {
      shiftL = x;
      break;
    }
  }
  if (!sameF64(load<f64>(s + S_SHIFT_L), shiftL)) return false;
  let sub1: f64 = 0, block1: f64 = 0, sub2: f64 = 0, block2: f64 = 0;
  for (let i = 0; i < pos; i++) {
    const x = load<f64>(ring + (<usize>i << 3));
    if (isFinite(x)) {
      const y = x - shiftL;
      sub1 += y;
      sub2 += y * y;
    }
    if ((i + 1) % b == 0) {
      block1 += sub1;
      block2 += sub2;
      sub1 = 0;
      sub2 = 0;
    }
  }
  return (
    sameF64(load<f64>(s + S_SUB1), sub1) &&
    sameF64(load<f64>(s + S_BLOCK1), block1) &&
    sameF64(load<f64>(s + S_SUB2), sub2) &&
    sameF64(load<f64>(s + S_BLOCK2), block2)
  );
}

/**
 * The live suffix sums (offsets (pos, W]) are derived from the previous
 * block's rows still in the ring at [pos, W): finishBlock() and, once the
 * block has a finite row, reshiftSuffix() onto K_L recompute them, and they
 * must match bit for bit; so must K_R when one of those rows is finite (else
 * no live sum depends on it). Dead entries (at or below pos) are kept.
 */
function suffixSumsStatus(s: usize, w: i32, b: i32, pos: i32, prefixN: i32): i32 {
  const n = (w + 1) * 2; // suffix1 and suffix2 are contiguous
  const bytes = <usize>n << 3;
  const saved = scratch(n);
  if (saved == 0) return ERR_MEMORY;
  const suf = s + suffix1(w);
  const shiftR = load<f64>(s + S_SHIFT_R);
  memory.copy(saved, suf, bytes);
  finishBlock(s, w, b);
  const recomputedR = load<f64>(s + S_SHIFT_R);
  if (prefixN > 0) reshiftSuffix(s, w, pos, recomputedR, load<f64>(s + S_SHIFT_L));
  let ok = true;
  let liveFinite = false;
  const ring = s + S_RING;
  for (let j = pos; j < w; j++) liveFinite = liveFinite || isFinite(load<f64>(ring + (<usize>j << 3)));
  if (liveFinite) ok = sameF64(shiftR, recomputedR);
  for (let j = pos + 1; j <= w; j++) {
    ok = ok && sameF64(load<f64>(suf + (<usize>j << 3)), load<f64>(saved + (<usize>j << 3)));
    const k = <usize>(w + 1 + j) << 3;
    ok = ok && sameF64(load<f64>(suf + k), load<f64>(saved + k));
  }
  memory.copy(suf, saved, bytes);
  store<f64>(s + S_SHIFT_R, shiftR);
  return ok ? OK : ERR_STATE;
}

/**
 * One row, for kernel.pushValue(): the same results and state as update() of
 * that row alone. An ordinary row that ends no sub-block or block, while the
 * window holds no ±Inf or extreme row and K_L is fixed, is the one row of the
 * fast path, done here without update()'s setup; any other row goes through
 * update().
 */
export function pushValue(x: f64): f64 {
  const s = statePtr();
  const pos = load<i32>(s + S_POS);
  const subLeft = load<i32>(s + S_SUB_LEFT);
  const prefixN = load<i32>(s + S_PREFIX_N);
  const a = Math.abs(x);
  if (
    subLeft == 1 || pos + 1 == gWindow || prefixN == 0 ||
    load<i32>(s + S_INFINITE) != 0 || load<i32>(s + S_EXTREME) != 0 || a >= BIG || (a < TINY && a != 0)
  ) {
    update(rowIn(x));
    return rowOut();
  }
  const slot = s + S_RING + (<usize>pos << 3);
  const old = load<f64>(slot);
  store<f64>(slot, x);
  const f = x == x;
  const finite = load<i32>(s + S_FINITE) + <i32>f - <i32>(old == old);
  const y = select<f64>(x - load<f64>(s + S_SHIFT_L), 0, f);
  const sub1 = load<f64>(s + S_SUB1) + y;
  const sub2 = load<f64>(s + S_SUB2) + y * y;
  store<i32>(s + S_POS, pos + 1);
  store<i32>(s + S_SUB_LEFT, subLeft - 1);
  store<i32>(s + S_FINITE, finite);
  store<i32>(s + S_PREFIX_N, prefixN + <i32>f);
  store<f64>(s + S_SUB1, sub1);
  store<f64>(s + S_SUB2, sub2);
  const nFinite = <f64>finite;
  const ddof = gP0;
  if (!(finite >= gMinPeriods && nFinite - ddof > 0)) return NaN;
  const w = gWindow;
  const off = <usize>(pos + 1) << 3;
  const s1 = load<f64>(s + suffix1(w) + off) + (load<f64>(s + S_BLOCK1) + sub1);
  const s2 = load<f64>(s + suffix2(w) + off) + (load<f64>(s + S_BLOCK2) + sub2);
  return varianceOf(s1, s2, nFinite, 1 / (nFinite * (nFinite - ddof)), gOp == OP_STD);
}

/** Runs `n` keys' rows in one call, each on its own state (a table of enterKey entries, common.ts). */
export function runKeys(n: i32, table: usize): void {
  beginKeys();
  for (let k = 0; k < n; k++) update(enterKey(table, k));
  endKeys();
}

/**
 * kernel.pushValue's block end (src/row-step-var.ts): the block's last row ran
 * there, and the fields it moves are held there; the ring holds the block in
 * full, and this makes K_R and its suffix sums, as update() does at a block's end.
 */
export function finishRingBlock(): void {
  const s = statePtr();
  finishBlock(s, gWindow, load<i32>(s + S_SUB_LEN));
}

/**
 * kernel.pushValue's first finite row of a block (src/row-step-var.ts), at
 * offset `pos`: re-shifts the suffix sums from K_R onto K_L = `shiftL`, as
 * update() does when that row fixes K_L.
 */
export function reshiftRing(pos: i32, shiftL: f64): void {
  const s = statePtr();
  reshiftSuffix(s, gWindow, pos, load<f64>(s + S_SHIFT_R), shiftL);
}
