// Rolling sum, mean and count over a count window of W rows.
//
// Block method: the stream is cut into blocks of W rows at absolute positions
// 0, W, 2W, … A window ending at offset p of block b is the suffix of block
// b−1 from offset p+1 plus the prefix of block b up to p. Suffix sums of the
// previous block are computed once per block (O(1) amortized); the prefix sum
// runs along. Each output is a sum of additions only: nothing is subtracted, so
// there is no drift and no cancellation against values that left the window,
// and infinities leave the window with the block that held them.
//
// Both partial sums are two-level: sub-blocks of B = max(2⌈√W⌉, 256) rows
// (rounded up to a multiple of 4) and, inside a sub-block, aligned groups of 4
// rows. With z = x, or +0 for NaN, a group (a, b, c, d) at offsets 4k…4k+3 of
// its sub-block, acc the sum of the sub-block's earlier groups and P the sum
// of the block's earlier sub-blocks, the prefix sum at each row is, in exactly
// this order of operations:
//
//   row 4k:   P + (acc + (a + 0))
//   row 4k+1: P + (acc + (b + a))
//   row 4k+2: P + (acc + ((b + a) + (c + 0)))
//   row 4k+3: P + (acc + ((b + a) + (d + c)))   and acc becomes acc + ((b + a) + (d + c))
//
// and the output is suffix[p+1] + prefix. The bits of every output are thus a
// function of absolute positions only: the SIMD path (f64x2 over whole groups)
// and the scalar path (rows one at a time, e.g. a batch ending inside a group;
// it reads the group's earlier rows back from the ring) compute the same
// expressions. acc and P start at +0, so they and r = acc + t are never −0 and
// P + r = r exactly when P = +0: the SIMD path skips that addition then (in a
// block's first sub-block, i.e. always for W ≤ 256). The suffix sums use the
// mirror image: groups of 4 from the end of each sub-block. The acc chain
// advances once per 4 rows instead of once per row.
//
// Error bound: a row passes through at most 2 additions inside its group,
// B/4 − 1 in its sub-block's acc chain (+3 for the ≤ 3 rows the suffix pass
// adds one at a time), ⌈W/B⌉ − 1 in the chain of sub-block sums and 3 joining
// the levels, so the error is at most (B/4 + ⌈W/B⌉ + 5)·u·Σ|x| over the window
// (to first order, u = 2⁻⁵³): ≤ 133·u·Σ|x| ≈ 1.5e-14·Σ|x| for W ≤ 16 384 and
// ≤ 4101·u·Σ|x| ≈ 4.6e-13·Σ|x| for every W ≤ 2²⁴, with no growth over time.
// NaN is missing: it adds 0 and is not counted; the count is exact.
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
  beginKeys,
  endKeys,
  enterKey,
} from '../common';
export { statePtr, stateSize, inputPtr, outputPtr, capacity, reserve, useState, alloc } from '../common';

const FAMILY: i32 = 1;
const OP_SUM: i32 = 0;
const OP_MEAN: i32 = 1;
const OP_COUNT: i32 = 2;

// State fields after the common header.
const S_POS: usize = HEADER_BYTES; // i32: offset of the next row in its block
const S_SUB_LEFT: usize = HEADER_BYTES + 4; // i32: rows left in the prefix sub-block
const S_COUNT: usize = HEADER_BYTES + 8; // i32: non-NaN rows in the window
const S_SUB_LEN: usize = HEADER_BYTES + 12; // i32: sub-block length
const S_ACC_SUB: usize = HEADER_BYTES + 16; // f64: acc, the sum of the current sub-block's finished groups
const S_ACC_BLOCK: usize = HEADER_BYTES + 24; // f64: P, the sum of the finished sub-blocks
const S_RING: usize = HEADER_BYTES + 32; // f64 × W: current block's rows, then the previous block's

/** 2⁵² as bits: an i64 lane holding BIAS + n reads as the f64 2⁵² + n (0 ≤ n < 2⁵²). */
const BIAS: i64 = 0x4330000000000000;
const TWO52: f64 = 4503599627370496.0;

@inline function suffixBase(window: i32): usize {
  return S_RING + (<usize>window) * 8; // f64 × (W + 1): suffix sums of the previous block, then 0
}

/** Sub-block length B = max(2⌈√W⌉, 256), rounded up to a multiple of the group size 4. */
function subLength(window: i32): i32 {
  let b = <i32>Math.ceil(Math.sqrt(<f64>window)) * 2;
  if (b < 256) b = 256;
  return (b + 3) & ~3;
}

export function init(op: i32, window: i32, minPeriods: i32, p0: f64, p1: f64): i32 {
  if (op < OP_SUM || op > OP_COUNT || window < 1 || minPeriods < 0 || minPeriods > window) return ERR_PARAMS;
  const bytes = suffixBase(window) + (<usize>window + 1) * 8;
  if (!allocState(FAMILY, op, window, minPeriods, p0, p1, bytes)) return ERR_MEMORY;
  resetState();
  return OK;
}

export function reset(): void {
  init(gOp, gWindow, gMinPeriods, gP0, gP1);
}

function resetState(): void {
  const s = statePtr();
  const w = gWindow;
  const b = subLength(w);
  store<i32>(s + S_POS, 0);
  store<i32>(s + S_SUB_LEFT, b);
  store<i32>(s + S_COUNT, 0);
  store<i32>(s + S_SUB_LEN, b);
  store<f64>(s + S_ACC_SUB, 0);
  store<f64>(s + S_ACC_BLOCK, 0);
  // Before the first block completes, the "previous block" is all missing.
  const ring = s + S_RING;
  for (let i = 0; i < w; i++) store<f64>(ring + (<usize>i << 3), NaN);
  // Suffix sums are already 0 from allocState.
}

@inline function z(x: f64): f64 {
  return x == x ? x : 0;
}

/** NaN lanes → +0. */
@inline function zv(x: v128): v128 {
  return v128.and(x, f64x2.eq(x, x));
}

// Constants for the SIMD loops, loaded from memory: V8 rematerializes splats
// inside loops but a v128.load is one plain load. The last two are scratch for
// per-call splats. Static data, not part of the state region.
const K_TWO52: usize = memory.data<f64>([TWO52, TWO52]);
const K_NAN: usize = memory.data<f64>([NaN, NaN]);
const K_MIN: usize = memory.data(16, 16); // i64 × 2: BIAS + minPeriods
const K_BLOCK: usize = memory.data(16, 16); // f64 × 2: P

/** One group of suffix sums at rows [j, j + 4): returns the new acc (splat). */
@inline function suffixGroup(pr: usize, ps: usize, accV: v128, withP: bool): v128 {
  const zero = f64x2.splat(0);
  const z01 = zv(v128.load(pr));
  const z23 = zv(v128.load(pr, 16));
  // [x2 + x3, x3 + 0] and [x0 + x1, x1 + 0]
  const p23 = f64x2.add(z23, v128.shuffle<f64>(z23, zero, 1, 2));
  const p01 = f64x2.add(z01, v128.shuffle<f64>(z01, zero, 1, 2));
  const t01 = f64x2.add(v128.shuffle<f64>(p23, p23, 0, 0), p01);
  const r23 = f64x2.add(accV, p23);
  const r01 = f64x2.add(accV, t01);
  if (withP) {
    const blockV = v128.load(K_BLOCK);
    v128.store(ps, f64x2.add(blockV, r01));
    v128.store(ps, f64x2.add(blockV, r23), 16);
  } else {
    // P = +0 and the sums are never −0, so P + r = r bit for bit.
    v128.store(ps, r01);
    v128.store(ps, r23, 16);
  }
  return v128.shuffle<f64>(r01, r01, 0, 0);
}

/** Suffix sums of rows [lo, hi) on top of P: whole groups from hi down, then rows one at a time. */
@inline function suffixRun(ring: usize, suf: usize, lo: i32, hi: i32, accBlock: f64, withP: bool): f64 {
  let accV = f64x2.splat(0);
  let j = hi;
  while (j - lo >= 8) {
    j -= 8;
    const pr = ring + (<usize>j << 3);
    const ps = suf + (<usize>j << 3);
    accV = suffixGroup(pr + 32, ps + 32, accV, withP);
    accV = suffixGroup(pr, ps, accV, withP);
  }
  if (j - lo >= 4) {
    j -= 4;
    accV = suffixGroup(ring + (<usize>j << 3), suf + (<usize>j << 3), accV, withP);
  }
  let acc = f64x2.extract_lane(accV, 0);
  while (j > lo) {
    j--;
    acc += z(load<f64>(ring + (<usize>j << 3)));
    store<f64>(suf + (<usize>j << 3), accBlock + acc);
  }
  return acc;
}

function suffixRunP(ring: usize, suf: usize, lo: i32, hi: i32, accBlock: f64): f64 {
  store<v128>(K_BLOCK, f64x2.splat(accBlock));
  return suffixRun(ring, suf, lo, hi, accBlock, true);
}
function suffixRun0(ring: usize, suf: usize, lo: i32, hi: i32): f64 {
  return suffixRun(ring, suf, lo, hi, 0, false);
}

/** Recomputes suffix sums of the block that the ring now holds in full. */
function finishBlock(s: usize, w: i32, b: i32): void {
  const ring = s + S_RING;
  const suf = s + suffixBase(w);
  store<f64>(suf + (<usize>w << 3), 0);
  // Sub-blocks [lo, hi) from the end of the block; within each, groups of 4
  // from its end, then (last sub-block only) the rows left at its start.
  let hi = w;
  let lo = ((w - 1) / b) * b;
  let accBlock = suffixRun0(ring, suf, lo, hi);
  while (lo > 0) {
    hi = lo;
    lo -= b;
    accBlock += suffixRunP(ring, suf, lo, hi, accBlock);
  }
}

// The row loop, specialized per op, per whether minPeriods must be checked and
// per whether P is 0 (the inline helpers are called with constants, so each
// copy is branch-free). Module globals carry the run state in and out.
let rAcc: f64 = 0;
let rCount: i32 = 0;

/**
 * One row at offset `pos` of its block (any position in its group): the
 * scalar form of the group arithmetic, reading the group's earlier rows from
 * the ring.
 */
@inline function scalarRow(
  op: i32,
  check: bool,
  minPeriods: i32,
  ring: usize,
  suf: usize,
  input: usize,
  output: usize,
  i: i32,
  pos: i32,
  accBlock: f64,
): void {
  store<f64>(output + (<usize>i << 3), rowResult(op, check, minPeriods, ring, suf, load<f64>(input + (<usize>i << 3)), pos, accBlock));
}

/** scalarRow()'s arithmetic for the row `x`: its result (the ring, rCount and rAcc move on). */
@inline function rowResult(op: i32, check: bool, minPeriods: i32, ring: usize, suf: usize, x: f64, pos: i32, accBlock: f64): f64 {
  const slot = ring + (<usize>pos << 3);
  const old = load<f64>(slot);
  store<f64>(slot, x);
  const count = rCount + <i32>(x == x) - <i32>(old == old);
  rCount = count;
  let y: f64;
  if (op == OP_COUNT) {
    y = <f64>count;
  } else {
    const acc = rAcc;
    const g = pos & 3;
    let r: f64;
    if (g == 0) {
      r = acc + (z(x) + 0.0);
    } else if (g == 1) {
      r = acc + (z(x) + z(load<f64>(slot - 8)));
    } else if (g == 2) {
      r = acc + ((z(load<f64>(slot - 8)) + z(load<f64>(slot - 16))) + (z(x) + 0.0));
    } else {
      r = acc + ((z(load<f64>(slot - 16)) + z(load<f64>(slot - 24))) + (z(x) + z(load<f64>(slot - 8))));
      rAcc = r;
    }
    y = load<f64>(suf + (<usize>(pos + 1) << 3)) + (accBlock + r);
    if (op == OP_MEAN) y = y / <f64>count;
  }
  if (check) y = count >= minPeriods ? y : NaN;
  return y;
}

// SIMD pieces of one group of 4 rows (a, b | c, d), as pure inline helpers so
// that the loop below can hold its two chains (acc, count) in locals.

/** [v0 + 0, v1 + v0]: the prefix of a pair (f64 or i64 lanes). */
@inline function pairPrefix(v: v128): v128 {
  return f64x2.add(v, v128.shuffle<f64>(f64x2.splat(0), v, 0, 2));
}
@inline function pairPrefixI(v: v128): v128 {
  return i64x2.add(v, v128.shuffle<i64>(i64x2.splat(0), v, 0, 2));
}
@inline function hi2(v: v128): v128 {
  return v128.shuffle<f64>(v, v, 1, 1);
}

/** The sum at rows (a, b): suffix + (P + (acc + [a + 0, b + a])). */
@inline function sum01(withP: bool, ps: usize, accV: v128, p01: v128): v128 {
  const r01 = f64x2.add(accV, p01);
  return f64x2.add(v128.load(ps), withP ? f64x2.add(v128.load(K_BLOCK), r01) : r01);
}
/** The sum at rows (c, d), given r23 = acc + t23. */
@inline function sum23(withP: bool, ps: usize, r23: v128): v128 {
  return f64x2.add(v128.load(ps, 16), withP ? f64x2.add(v128.load(K_BLOCK), r23) : r23);
}

/** The output of two rows from their sum y and biased count c. */
@inline function finish(op: i32, check: bool, y: v128, c: v128): v128 {
  if (op == OP_MEAN) y = f64x2.div(y, f64x2.sub(c, v128.load(K_TWO52)));
  else if (op == OP_COUNT) y = f64x2.sub(c, v128.load(K_TWO52));
  if (check) y = v128.bitselect(y, v128.load(K_NAN), i64x2.ge_s(c, v128.load(K_MIN)));
  return y;
}

/**
 * `groups` whole groups from offset `pos` (a multiple of 4) with SIMD, two
 * groups per iteration. The acc chain advances once per group; P + r is
 * skipped when P = +0 (exact: r is never −0, as acc starts at +0).
 */
@inline function vectorRows(
  op: i32,
  check: bool,
  withP: bool,
  ring: usize,
  suf: usize,
  input: usize,
  output: usize,
  i: i32,
  pos: i32,
  groups: i32,
): void {
  const sums = op != OP_COUNT;
  const perRow = op != OP_SUM || check;
  let accV = f64x2.splat(rAcc);
  let cntV = i64x2.splat(BIAS + <i64>rCount); // per-row counts, as biased f64 bits
  let dSum = i64x2.splat(0); // count changes, when only the total is needed
  let pin = input + (<usize>i << 3);
  let pout = output + (<usize>i << 3);
  let pr = ring + (<usize>pos << 3);
  let ps = suf + (<usize>(pos + 1) << 3);
  let left = groups;
  // Two groups per iteration halve the loop overhead; with per-row counts
  // (mean, or a minPeriods check) that spills registers, so one at a time.
  const unroll = !perRow || op == OP_COUNT;
  while (unroll && left >= 2) {
    const xa01 = v128.load(pin);
    const xa23 = v128.load(pin, 16);
    const xb01 = v128.load(pin, 32);
    const xb23 = v128.load(pin, 48);
    const oa01 = v128.load(pr);
    const oa23 = v128.load(pr, 16);
    const ob01 = v128.load(pr, 32);
    const ob23 = v128.load(pr, 48);
    v128.store(pr, xa01);
    v128.store(pr, xa23, 16);
    v128.store(pr, xb01, 32);
    v128.store(pr, xb23, 48);
    const ma01 = f64x2.eq(xa01, xa01);
    const ma23 = f64x2.eq(xa23, xa23);
    const mb01 = f64x2.eq(xb01, xb01);
    const mb23 = f64x2.eq(xb23, xb23);
    let ya01 = f64x2.splat(0);
    let ya23 = ya01;
    let yb01 = ya01;
    let yb23 = ya01;
    if (sums) {
      const pa01 = pairPrefix(v128.and(xa01, ma01));
      const ta23 = f64x2.add(hi2(pa01), pairPrefix(v128.and(xa23, ma23)));
      const pb01 = pairPrefix(v128.and(xb01, mb01));
      const tb23 = f64x2.add(hi2(pb01), pairPrefix(v128.and(xb23, mb23)));
      ya01 = sum01(withP, ps, accV, pa01);
      const ra23 = f64x2.add(accV, ta23);
      ya23 = sum23(withP, ps, ra23);
      accV = hi2(ra23);
      yb01 = sum01(withP, ps + 32, accV, pb01);
      const rb23 = f64x2.add(accV, tb23);
      yb23 = sum23(withP, ps + 32, rb23);
      accV = hi2(rb23);
    }
    // +1 where a non-NaN row enters, −1 where one leaves (masks are −1 / 0).
    const da01 = i64x2.sub(f64x2.eq(oa01, oa01), ma01);
    const da23 = i64x2.sub(f64x2.eq(oa23, oa23), ma23);
    const db01 = i64x2.sub(f64x2.eq(ob01, ob01), mb01);
    const db23 = i64x2.sub(f64x2.eq(ob23, ob23), mb23);
    if (perRow) {
      const qa01 = pairPrefixI(da01);
      const qa23 = i64x2.add(pairPrefixI(da23), hi2(qa01));
      const qb01 = pairPrefixI(db01);
      const qb23 = i64x2.add(pairPrefixI(db23), hi2(qb01));
      const ca01 = i64x2.add(cntV, qa01);
      const ca23 = i64x2.add(cntV, qa23);
      cntV = hi2(ca23);
      const cb01 = i64x2.add(cntV, qb01);
      const cb23 = i64x2.add(cntV, qb23);
      cntV = hi2(cb23);
      ya01 = finish(op, check, ya01, ca01);
      ya23 = finish(op, check, ya23, ca23);
      yb01 = finish(op, check, yb01, cb01);
      yb23 = finish(op, check, yb23, cb23);
    } else {
      dSum = i64x2.add(dSum, i64x2.add(i64x2.add(da01, da23), i64x2.add(db01, db23)));
    }
    v128.store(pout, ya01);
    v128.store(pout, ya23, 16);
    v128.store(pout, yb01, 32);
    v128.store(pout, yb23, 48);
    pin += 64;
    pout += 64;
    pr += 64;
    ps += 64;
    left -= 2;
  }
  while (left != 0) {
    const x01 = v128.load(pin);
    const x23 = v128.load(pin, 16);
    const o01 = v128.load(pr);
    const o23 = v128.load(pr, 16);
    v128.store(pr, x01);
    v128.store(pr, x23, 16);
    const m01 = f64x2.eq(x01, x01);
    const m23 = f64x2.eq(x23, x23);
    let y01 = f64x2.splat(0);
    let y23 = y01;
    if (sums) {
      const p01 = pairPrefix(v128.and(x01, m01));
      const t23 = f64x2.add(hi2(p01), pairPrefix(v128.and(x23, m23)));
      y01 = sum01(withP, ps, accV, p01);
      const r23 = f64x2.add(accV, t23);
      y23 = sum23(withP, ps, r23);
      accV = hi2(r23);
    }
    const d01 = i64x2.sub(f64x2.eq(o01, o01), m01);
    const d23 = i64x2.sub(f64x2.eq(o23, o23), m23);
    if (perRow) {
      const q01 = pairPrefixI(d01);
      const q23 = i64x2.add(pairPrefixI(d23), hi2(q01));
      const c01 = i64x2.add(cntV, q01);
      const c23 = i64x2.add(cntV, q23);
      cntV = hi2(c23);
      y01 = finish(op, check, y01, c01);
      y23 = finish(op, check, y23, c23);
    } else {
      dSum = i64x2.add(dSum, i64x2.add(d01, d23));
    }
    v128.store(pout, y01);
    v128.store(pout, y23, 16);
    pin += 32;
    pout += 32;
    pr += 32;
    ps += 32;
    left--;
  }
  rAcc = f64x2.extract_lane(accV, 0);
  if (perRow) rCount = <i32>(i64x2.extract_lane(cntV, 0) - BIAS);
  else rCount += <i32>(i64x2.extract_lane(dSum, 0) + i64x2.extract_lane(dSum, 1));
}

/** Rows [i, i + run) at offsets [pos, pos + run), all in one sub-block. */
@inline function runRows(
  op: i32,
  check: bool,
  withP: bool,
  minPeriods: i32,
  ring: usize,
  suf: usize,
  input: usize,
  output: usize,
  i: i32,
  pos: i32,
  run: i32,
  accBlock: f64,
): void {
  const end = i + run;
  while (i < end && (pos & 3) != 0) {
    scalarRow(op, check, minPeriods, ring, suf, input, output, i, pos, accBlock);
    i++;
    pos++;
  }
  const groups = (end - i) >> 2;
  if (groups > 0) {
    if (check) store<v128>(K_MIN, i64x2.splat(BIAS + <i64>minPeriods));
    if (withP) store<v128>(K_BLOCK, f64x2.splat(accBlock));
    vectorRows(op, check, withP, ring, suf, input, output, i, pos, groups);
    i += groups << 2;
    pos += groups << 2;
  }
  while (i < end) {
    scalarRow(op, check, minPeriods, ring, suf, input, output, i, pos, accBlock);
    i++;
    pos++;
  }
}

// prettier-ignore
function runSum0(mp: i32, ring: usize, suf: usize, inp: usize, out: usize, i: i32, pos: i32, run: i32, pb: f64): void { runRows(OP_SUM, false, false, mp, ring, suf, inp, out, i, pos, run, pb); }
// prettier-ignore
function runSumP(mp: i32, ring: usize, suf: usize, inp: usize, out: usize, i: i32, pos: i32, run: i32, pb: f64): void { runRows(OP_SUM, false, true, mp, ring, suf, inp, out, i, pos, run, pb); }
// prettier-ignore
function runSumChecked0(mp: i32, ring: usize, suf: usize, inp: usize, out: usize, i: i32, pos: i32, run: i32, pb: f64): void { runRows(OP_SUM, true, false, mp, ring, suf, inp, out, i, pos, run, pb); }
// prettier-ignore
function runSumCheckedP(mp: i32, ring: usize, suf: usize, inp: usize, out: usize, i: i32, pos: i32, run: i32, pb: f64): void { runRows(OP_SUM, true, true, mp, ring, suf, inp, out, i, pos, run, pb); }
// prettier-ignore
function runMean0(mp: i32, ring: usize, suf: usize, inp: usize, out: usize, i: i32, pos: i32, run: i32, pb: f64): void { runRows(OP_MEAN, false, false, mp, ring, suf, inp, out, i, pos, run, pb); }
// prettier-ignore
function runMeanP(mp: i32, ring: usize, suf: usize, inp: usize, out: usize, i: i32, pos: i32, run: i32, pb: f64): void { runRows(OP_MEAN, false, true, mp, ring, suf, inp, out, i, pos, run, pb); }
// prettier-ignore
function runMeanChecked0(mp: i32, ring: usize, suf: usize, inp: usize, out: usize, i: i32, pos: i32, run: i32, pb: f64): void { runRows(OP_MEAN, true, false, mp, ring, suf, inp, out, i, pos, run, pb); }
// prettier-ignore
function runMeanCheckedP(mp: i32, ring: usize, suf: usize, inp: usize, out: usize, i: i32, pos: i32, run: i32, pb: f64): void { runRows(OP_MEAN, true, true, mp, ring, suf, inp, out, i, pos, run, pb); }
// prettier-ignore
function runCount(mp: i32, ring: usize, suf: usize, inp: usize, out: usize, i: i32, pos: i32, run: i32, pb: f64): void { runRows(OP_COUNT, false, false, mp, ring, suf, inp, out, i, pos, run, pb); }
// prettier-ignore
function runCountChecked(mp: i32, ring: usize, suf: usize, inp: usize, out: usize, i: i32, pos: i32, run: i32, pb: f64): void { runRows(OP_COUNT, true, false, mp, ring, suf, inp, out, i, pos, run, pb); }

export function update(n: i32): void {
  const s = statePtr();
  const w = gWindow;
  const minPeriods = gMinPeriods;
  const op = gOp;
  const b = load<i32>(s + S_SUB_LEN);
  const ring = s + S_RING;
  const suf = s + suffixBase(w);
  const input = inputPtr();
  const output = outputPtr();
  let pos = load<i32>(s + S_POS);
  let subLeft = load<i32>(s + S_SUB_LEFT);
  let accBlock = load<f64>(s + S_ACC_BLOCK);
  rCount = load<i32>(s + S_COUNT);
  rAcc = load<f64>(s + S_ACC_SUB);

  let i = 0;
  while (i < n) {
    // Run to the next sub-block or block boundary.
    let run = n - i;
    if (run > subLeft) run = subLeft;
    if (run > w - pos) run = w - pos;
    // The count moves by at most 1 a row: while it cannot fall below
    // minPeriods, skip the per-row check (shortening the run to a multiple of
    // 4 rows when that keeps it long; cuts never change the arithmetic).
    let check = false;
    if (minPeriods > 0) {
      const slack = (rCount - minPeriods) & ~3;
      if (slack < run) {
        if (slack >= 32) run = slack;
        else check = true;
      }
    }
    // P (accBlock) is +0 in a block's first sub-block; then the P + r step is exact and skipped.
    const withP = accBlock != 0;
    if (op == OP_SUM) {
      if (check) {
        if (withP) runSumCheckedP(minPeriods, ring, suf, input, output, i, pos, run, accBlock);
        else runSumChecked0(minPeriods, ring, suf, input, output, i, pos, run, accBlock);
      } else {
        if (withP) runSumP(minPeriods, ring, suf, input, output, i, pos, run, accBlock);
        else runSum0(minPeriods, ring, suf, input, output, i, pos, run, accBlock);
      }
    } else if (op == OP_MEAN) {
      if (check) {
        if (withP) runMeanCheckedP(minPeriods, ring, suf, input, output, i, pos, run, accBlock);
        else runMeanChecked0(minPeriods, ring, suf, input, output, i, pos, run, accBlock);
      } else {
        if (withP) runMeanP(minPeriods, ring, suf, input, output, i, pos, run, accBlock);
        else runMean0(minPeriods, ring, suf, input, output, i, pos, run, accBlock);
      }
    } else {
      if (check) runCountChecked(minPeriods, ring, suf, input, output, i, pos, run, accBlock);
      else runCount(minPeriods, ring, suf, input, output, i, pos, run, accBlock);
    }
    i += run;
    pos += run;
    subLeft -= run;
    if (subLeft == 0) {
      accBlock += rAcc;
      rAcc = 0;
      subLeft = b;
    }
    if (pos == w) {
      // count needs no sums: its suffix sums stay 0.
      if (op != OP_COUNT) finishBlock(s, w, b);
      pos = 0;
      accBlock = 0;
      rAcc = 0;
      subLeft = b;
    }
  }
  store<i32>(s + S_POS, pos);
  store<i32>(s + S_SUB_LEFT, subLeft);
  store<i32>(s + S_COUNT, rCount);
  store<f64>(s + S_ACC_SUB, rAcc);
  store<f64>(s + S_ACC_BLOCK, accBlock);
}

/** Checks a restored state: every index in range, counts consistent with the ring. */
export function validate(): i32 {
  if (!headerMatches()) return ERR_STATE;
  const s = statePtr();
  const w = gWindow;
  const b = subLength(w);
  const pos = load<i32>(s + S_POS);
  const subLeft = load<i32>(s + S_SUB_LEFT);
  if (load<i32>(s + S_SUB_LEN) != b || pos < 0 || pos >= w) return ERR_STATE;
  // subLeft is determined by pos: rows left to the next multiple of b.
  if (subLeft != b - (pos % b)) return ERR_STATE;
  let count = 0;
  const ring = s + S_RING;
  for (let i = 0; i < w; i++) {
    const x = load<f64>(ring + (<usize>i << 3));
    count += <i32>(x == x);
  }
  if (load<i32>(s + S_COUNT) != count) return ERR_STATE;
  // count keeps no sums (they stay 0 and are never read).
  if (gOp == OP_COUNT) return OK;
  if (!prefixSumsMatch(s, b, pos)) return ERR_STATE;
  return suffixSumsStatus(s, w, b, pos);
}

/**
 * The prefix sums (acc, P) of a state are derived from the block's rows
 * [0, pos): recomputed here with the additions update() makes, in its order
 * (see the group arithmetic at the top), they must match bit for bit.
 */
function prefixSumsMatch(s: usize, b: i32, pos: i32): bool {
  const ring = s + S_RING;
  let acc: f64 = 0, accBlock: f64 = 0;
  for (let g = 0; g + 4 <= pos; g += 4) {
    const p = ring + (<usize>g << 3);
    acc = acc + ((z(load<f64>(p, 8)) + z(load<f64>(p))) + (z(load<f64>(p, 24)) + z(load<f64>(p, 16))));
    if ((g + 4) % b == 0) {
      accBlock += acc;
      acc = 0;
    }
  }
  return sameF64(load<f64>(s + S_ACC_SUB), acc) && sameF64(load<f64>(s + S_ACC_BLOCK), accBlock);
}

/**
 * The live suffix sums, at offsets (pos, W], are derived from the previous
 * block's rows still in the ring at [pos, W) (each depends only on the rows
 * from its offset on): finishBlock() recomputes them, and they must match bit
 * for bit. The entries at or below pos are dead (never read before the next
 * finishBlock()) and are kept as they were.
 */
function suffixSumsStatus(s: usize, w: i32, b: i32, pos: i32): i32 {
  const bytes = (<usize>w + 1) << 3;
  const saved = scratch(w + 1);
  if (saved == 0) return ERR_MEMORY;
  const suf = s + suffixBase(w);
  memory.copy(saved, suf, bytes);
  finishBlock(s, w, b);
  let ok = true;
  for (let j = pos + 1; j <= w; j++) ok = ok && sameF64(load<f64>(suf + (<usize>j << 3)), load<f64>(saved + (<usize>j << 3)));
  memory.copy(suf, saved, bytes);
  return ok ? OK : ERR_STATE;
}

/**
 * One row, for kernel.pushValue(): the same results and state as update() of
 * that row alone. A row that ends no sub-block or block is the one scalarRow()
 * that update(1) would run (with the minPeriods check always on, which masks
 * nothing more: update skips it only where it cannot apply); the rare row that
 * ends one goes through update() itself.
 */
export function pushValue(x: f64): f64 {
  const s = statePtr();
  const w = gWindow;
  const pos = load<i32>(s + S_POS);
  const subLeft = load<i32>(s + S_SUB_LEFT);
  if (subLeft == 1 || pos + 1 == w) {
    update(rowIn(x));
    return rowOut();
  }
  // The row and its result stay in registers (no trip through the IO buffers).
  rCount = load<i32>(s + S_COUNT);
  rAcc = load<f64>(s + S_ACC_SUB);
  const ring = s + S_RING;
  const suf = s + suffixBase(w);
  const minPeriods = gMinPeriods;
  const accBlock = load<f64>(s + S_ACC_BLOCK);
  const op = gOp;
  let y: f64;
  if (op == OP_MEAN) y = rowResult(OP_MEAN, true, minPeriods, ring, suf, x, pos, accBlock);
  else if (op == OP_SUM) y = rowResult(OP_SUM, true, minPeriods, ring, suf, x, pos, accBlock);
  else y = rowResult(OP_COUNT, true, minPeriods, ring, suf, x, pos, accBlock);
  store<i32>(s + S_POS, pos + 1);
  store<i32>(s + S_SUB_LEFT, subLeft - 1);
  store<i32>(s + S_COUNT, rCount);
  store<f64>(s + S_ACC_SUB, rAcc);
  return y;
}

/**
 * The block's end alone, for kernel.pushValue()'s rows in JavaScript
 * (src/row-step-sum.ts): the block's last row ran there, and the fields it
 * moves (position, count, prefix sums) are held there; the ring holds the
 * block in full, and this makes its suffix sums, as update() does at a block's
 * end (count keeps none).
 */
export function finishRingBlock(): void {
  const s = statePtr();
  if (gOp != OP_COUNT) finishBlock(s, gWindow, load<i32>(s + S_SUB_LEN));
}

/** Runs `n` keys' rows in one call, each on its own state (a table of enterKey entries, common.ts). */
export function runKeys(n: i32, table: usize): void {
  beginKeys();
  for (let k = 0; k < n; k++) update(enterKey(table, k));
  endKeys();
}
