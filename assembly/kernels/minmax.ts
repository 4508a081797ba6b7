// Rolling min and max over a count window of W rows.
//
// The van Herk / Gil-Werman block method: blocks of W rows at absolute
// positions 0, W, 2W, …; a window ending at offset p of block b is the suffix
// of block b−1 from p+1 and the prefix of block b up to p. Suffix minima of the
// previous block are computed once per block; the prefix minimum runs along.
// Three loads, two mins and two stores per row, no branches, no deque.
//
// max(x) is computed as −min(−x): negation is exact, so results are the same
// bits. NaN is missing: it enters as +∞ (never below a real value) and the
// count of non-NaN rows decides whether there is a result at all.
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
  statePtr,
  beginKeys,
  endKeys,
  enterKey,
} from '../common';
export { statePtr, stateSize, inputPtr, outputPtr, capacity, reserve, useState, alloc } from '../common';

const FAMILY: i32 = 2;
const OP_MIN: i32 = 0;
const OP_MAX: i32 = 1;

const S_POS: usize = HEADER_BYTES; // i32: offset of the next row in its block
const S_COUNT: usize = HEADER_BYTES + 4; // i32: non-NaN rows in the window
const S_PREFIX: usize = HEADER_BYTES + 8; // f64: min of the current block so far (of ±x)
const S_RING: usize = HEADER_BYTES + 16; // f64 × W: raw rows, current block then previous

@inline function suffixBase(window: i32): usize {
  return S_RING + (<usize>window) * 8; // f64 × (W + 1): suffix minima of the previous block, then +∞
}

export function init(op: i32, window: i32, minPeriods: i32, p0: f64, p1: f64): i32 {
  if (op < OP_MIN || op > OP_MAX || window < 1 || minPeriods < 0 || minPeriods > window) return ERR_PARAMS;
  const bytes = suffixBase(window) + (<usize>window + 1) * 8;
  if (!allocState(FAMILY, op, window, minPeriods, p0, p1, bytes)) return ERR_MEMORY;
  const s = statePtr();
  store<f64>(s + S_PREFIX, Infinity);
  const ring = s + S_RING;
  const suf = s + suffixBase(window);
  for (let i = 0; i < window; i++) store<f64>(ring + (<usize>i << 3), NaN);
  for (let i = 0; i <= window; i++) store<f64>(suf + (<usize>i << 3), Infinity);
  return OK;
}

export function reset(): void {
  init(gOp, gWindow, gMinPeriods, gP0, gP1);
}

/** Suffix minima of the block the ring now holds in full. */
function finishBlock(ring: usize, suf: usize, w: i32, sign: f64): void {
  let acc: f64 = Infinity;
  for (let j = w - 1; j >= 0; j--) {
    const x = load<f64>(ring + (<usize>j << 3)) * sign;
    acc = min(acc, x == x ? x : Infinity);
    store<f64>(suf + (<usize>j << 3), acc);
  }
}

export function update(n: i32): void {
  const s = statePtr();
  const w = gWindow;
  const minPeriods = gMinPeriods;
  const sign: f64 = gOp == OP_MAX ? -1 : 1;
  const ring = s + S_RING;
  const suf = s + suffixBase(w);
  const input = inputPtr();
  const output = outputPtr();
  let pos = load<i32>(s + S_POS);
  let count = load<i32>(s + S_COUNT);
  let prefix = load<f64>(s + S_PREFIX);

  let i = 0;
  while (i < n) {
    let run = n - i;
    if (run > w - pos) run = w - pos;
    const end = i + run;
    for (; i < end; i++) {
      const x = load<f64>(input + (<usize>i << 3));
      const slot = ring + (<usize>pos << 3);
      const old = load<f64>(slot);
      store<f64>(slot, x);
      count += <i32>(x == x) - <i32>(old == old);
      const v = x * sign;
      prefix = min(prefix, v == v ? v : Infinity);
      const m = min(load<f64>(suf + (<usize>(pos + 1) << 3)), prefix);
      store<f64>(output + (<usize>i << 3), count >= minPeriods && count > 0 ? m * sign : NaN);
      pos++;
    }
    if (pos == w) {
      finishBlock(ring, suf, w, sign);
      pos = 0;
      prefix = Infinity;
    }
  }
  store<i32>(s + S_POS, pos);
  store<i32>(s + S_COUNT, count);
  store<f64>(s + S_PREFIX, prefix);
}

/** Checks a restored state: indices in range, count consistent with the ring. */
export function validate(): i32 {
  if (!headerMatches()) return ERR_STATE;
  const s = statePtr();
  const w = gWindow;
  const pos = load<i32>(s + S_POS);
  if (pos < 0 || pos >= w) return ERR_STATE;
  let count = 0;
  const ring = s + S_RING;
  for (let i = 0; i < w; i++) {
    const x = load<f64>(ring + (<usize>i << 3));
    count += <i32>(x == x);
  }
  if (load<i32>(s + S_COUNT) != count) return ERR_STATE;
  return derivedMatch(s, w, pos) ? OK : ERR_STATE;
}

/**
 * The prefix minimum is derived from the block's rows [0, pos), the live
 * suffix minima (offsets (pos, W]) from the previous block's rows still in
 * the ring at [pos, W): recomputed as update() and finishBlock() do, they
 * must match bit for bit. Entries at or below pos are dead until the next
 * finishBlock().
 */
function derivedMatch(s: usize, w: i32, pos: i32): bool {
  const sign: f64 = gOp == OP_MAX ? -1 : 1;
  const ring = s + S_RING;
  const suf = s + suffixBase(w);
  let prefix: f64 = Infinity;
  for (let i = 0; i < pos; i++) {
    const v = load<f64>(ring + (<usize>i << 3)) * sign;
    prefix = min(prefix, v == v ? v : Infinity);
  }
  if (!sameF64(load<f64>(s + S_PREFIX), prefix)) return false;
  let acc: f64 = Infinity;
  if (!sameF64(load<f64>(suf + (<usize>w << 3)), acc)) return false;
  for (let j = w - 1; j > pos; j--) {
    const x = load<f64>(ring + (<usize>j << 3)) * sign;
    acc = min(acc, x == x ? x : Infinity);
    if (!sameF64(load<f64>(suf + (<usize>j << 3)), acc)) return false;
  }
  return true;
}

/** One row, for kernel.pushValue(): the same results and state as update() of that row alone. */
export function pushValue(x: f64): f64 {
  update(rowIn(x));
  return rowOut();
}

/** Runs `n` keys' rows in one call, each on its own state (a table of enterKey entries, common.ts). */
export function runKeys(n: i32, table: usize): void {
  beginKeys();
  for (let k = 0; k < n; k++) update(enterKey(table, k));
  endKeys();
}
