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
// Both partial sums are two-level (sub-blocks of B rows), which bounds the
// error by (B + W/B + 2)·u·Σ|x| ≤ 8194·u·Σ|x| ≈ 9.1e-13·Σ|x| over the window
// (u = 2⁻⁵³; B = max(⌈√W⌉, 64); W ≤ 2²⁴), with no growth over time.
// NaN is missing: it adds 0 and is not counted.
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
  outputPtr,
  statePtr,
  subBlockLength,
} from '../common';
export { statePtr, stateSize, inputPtr, outputPtr, capacity, reserve } from '../common';

const FAMILY: i32 = 1;
const OP_SUM: i32 = 0;
const OP_MEAN: i32 = 1;
const OP_COUNT: i32 = 2;

// State fields after the common header.
const S_POS: usize = HEADER_BYTES; // i32: offset of the next row in its block
const S_SUB_LEFT: usize = HEADER_BYTES + 4; // i32: rows left in the prefix sub-block
const S_COUNT: usize = HEADER_BYTES + 8; // i32: non-NaN rows in the window
const S_SUB_LEN: usize = HEADER_BYTES + 12; // i32: sub-block length
const S_ACC_SUB: usize = HEADER_BYTES + 16; // f64: prefix sum of the current sub-block
const S_ACC_BLOCK: usize = HEADER_BYTES + 24; // f64: prefix sum of the finished sub-blocks
const S_RING: usize = HEADER_BYTES + 32; // f64 × W: current block's rows, then the previous block's

@inline function suffixBase(window: i32): usize {
  return S_RING + (<usize>window) * 8; // f64 × (W + 1): suffix sums of the previous block, then 0
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
  const b = subBlockLength(w);
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

/** Recomputes suffix sums of the block that the ring now holds in full. */
function finishBlock(s: usize, w: i32, b: i32): void {
  const ring = s + S_RING;
  const suf = s + suffixBase(w);
  store<f64>(suf + (<usize>w << 3), 0);
  let accBlock: f64 = 0;
  // Sub-blocks from the end of the block: [w−b, w), [w−2b, w−b), …, then the remainder.
  let hi = w;
  while (hi > 0) {
    const lo = hi > b ? hi - b : 0;
    let accSub: f64 = 0;
    for (let j = hi - 1; j >= lo; j--) {
      const x = load<f64>(ring + (<usize>j << 3));
      accSub += x == x ? x : 0;
      store<f64>(suf + (<usize>j << 3), accBlock + accSub);
    }
    accBlock += accSub;
    hi = lo;
  }
}

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
  let count = load<i32>(s + S_COUNT);
  let accSub = load<f64>(s + S_ACC_SUB);
  let accBlock = load<f64>(s + S_ACC_BLOCK);

  let i = 0;
  while (i < n) {
    // Run to the next sub-block or block boundary without per-row checks.
    let run = n - i;
    if (run > subLeft) run = subLeft;
    if (run > w - pos) run = w - pos;
    const end = i + run;
    for (; i < end; i++) {
      const x = load<f64>(input + (<usize>i << 3));
      const slot = ring + (<usize>pos << 3);
      const old = load<f64>(slot);
      store<f64>(slot, x);
      count += <i32>(x == x) - <i32>(old == old);
      accSub += x == x ? x : 0;
      const sum = load<f64>(suf + (<usize>(pos + 1) << 3)) + (accBlock + accSub);
      let y: f64;
      if (op == OP_SUM) y = sum;
      else if (op == OP_MEAN) y = count > 0 ? sum / <f64>count : NaN;
      else y = <f64>count;
      store<f64>(output + (<usize>i << 3), count >= minPeriods ? y : NaN);
      pos++;
    }
    subLeft -= run;
    if (subLeft == 0) {
      accBlock += accSub;
      accSub = 0;
      subLeft = b;
    }
    if (pos == w) {
      finishBlock(s, w, b);
      pos = 0;
      accBlock = 0;
      accSub = 0;
      subLeft = b;
    }
  }
  store<i32>(s + S_POS, pos);
  store<i32>(s + S_SUB_LEFT, subLeft);
  store<i32>(s + S_COUNT, count);
  store<f64>(s + S_ACC_SUB, accSub);
  store<f64>(s + S_ACC_BLOCK, accBlock);
}

/** Checks a restored state: every index in range, counts consistent with the ring. */
export function validate(): i32 {
  if (!headerMatches()) return ERR_STATE;
  const s = statePtr();
  const w = gWindow;
  const b = subBlockLength(w);
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
  return OK;
}
