// Rolling median and quantile over a count window of W rows.
//
// Two indexed binary heaps split the non-NaN values of the window: the lower
// heap holds the t smallest, the upper heap the rest, where t is chosen so that
// the top of the lower heap is the order statistic the result needs (and the
// top of the upper heap the next one up, for interpolation). A position map
// from ring slot to heap position lets the row leaving the window be found and
// removed in O(log W), with no lazy deletion: the state is compact and is a
// function of the window's contents alone, so it can be snapshotted byte for
// byte.
//
// Values are ordered by IEEE 754 totalOrder (−0 < +0), using integer keys:
// equal keys are equal bits, so the sorted window, and every result, is
// independent of the tie rule, of insertion order and of batch boundaries.
// NaN is missing (never in a heap); ±Infinity are ordinary values.
//
// Results follow pandas 1.5 roll_median_c / roll_quantile (linear):
//   median:   odd nobs → v[nobs/2]; even → (v[nobs/2] + v[nobs/2 − 1]) / 2
//   quantile: idx = q·(nobs − 1), lo = ⌊idx⌋; idx == lo → v[lo];
//             else v[lo] + (v[lo+1] − v[lo])·(idx − lo)
// and NaN when nobs < minPeriods or nobs == 0.
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
  statePtr,
  beginKeys,
  endKeys,
  enterKey,
} from '../common';
export { statePtr, stateSize, inputPtr, outputPtr, capacity, reserve, useState, alloc } from '../common';

const FAMILY: i32 = 4;
const OP_MEDIAN: i32 = 0;
const OP_QUANTILE: i32 = 1;
/** Largest window (MAX_WINDOW of the TS layer); keeps every byte offset within u32. */
const MAX_WINDOW: i32 = 1 << 24;

// State fields after the common header.
const S_POS: usize = HEADER_BYTES; // i32: ring slot of the next row
const S_NLO: usize = HEADER_BYTES + 4; // i32: entries in the lower heap
const S_NHI: usize = HEADER_BYTES + 8; // i32: entries in the upper heap
const S_PAD: usize = HEADER_BYTES + 12; // i32: always 0
const S_RING: usize = HEADER_BYTES + 16; // f64 × W: last W rows, NaN = missing or not yet seen
// Then: lower heap, entry × W; upper heap, entry × W; position map, i32 × W.
//
// A heap entry is 16 bytes: i64 key at +0, i32 ring slot at +8, i32 0 at +12.
// Both heaps are min-heaps on their stored key: the upper heap stores key(x),
// the lower heap stores ~key(x) (bitwise not reverses the order), so its top
// is the largest value of the lower part. Entries past a heap's size are 0.
//
// Position map: for each ring slot, −1 if the slot holds NaN, else i for
// entry i of the lower heap, W + i for entry i of the upper heap.
const ENTRY_SHIFT: usize = 4;

@inline function loBase(w: i32): usize {
  return S_RING + (<usize>w << 3);
}
@inline function hiBase(w: i32): usize {
  return S_RING + (<usize>w << 3) + (<usize>w << ENTRY_SHIFT);
}
@inline function mapBase(w: i32): usize {
  return S_RING + (<usize>w << 3) + (<usize>w << (ENTRY_SHIFT + 1));
}
@inline function stateBytesFor(w: i32): usize {
  return mapBase(w) + (<usize>w << 2);
}

/** Order-preserving map from f64 (IEEE totalOrder) to signed i64. An involution. */
@inline function toKey(x: f64): i64 {
  const b = reinterpret<i64>(x);
  return b ^ ((b >> 63) & i64.MAX_VALUE);
}
@inline function fromKey(k: i64): f64 {
  return reinterpret<f64>(k ^ ((k >> 63) & i64.MAX_VALUE));
}

/** Size of the lower heap for `nobs` values: its top is the lower order statistic. */
@inline function targetLow(op: i32, q: f64, nobs: i32): i32 {
  if (op == OP_MEDIAN) return (nobs + 1) >> 1;
  if (nobs == 0) return 0;
  return <i32>(q * <f64>(nobs - 1)) + 1;
}

// ---------------------------------------------------------------------------
// Indexed min-heap primitives. h: heap base, map: position map base, off: the
// heap's offset in the position map (0 lower, W upper).

@inline function place(h: usize, map: usize, off: i32, i: i32, key: i64, slot: i32): void {
  const a = h + (<usize>i << ENTRY_SHIFT);
  store<i64>(a, key);
  store<i32>(a, slot, 8);
  store<i32>(map + (<usize>slot << 2), i + off);
}

/** Moves (key, slot) from hole i towards the root; writes it where it stops. */
@inline function siftUp(h: usize, map: usize, off: i32, i: i32, key: i64, slot: i32): void {
  while (i > 0) {
    const p = (i - 1) >> 1;
    const pa = h + (<usize>p << ENTRY_SHIFT);
    const pk = load<i64>(pa);
    if (pk <= key) break;
    const ps = load<i32>(pa, 8);
    place(h, map, off, i, pk, ps);
    i = p;
  }
  place(h, map, off, i, key, slot);
}

/** Moves (key, slot) from hole i towards the leaves of a heap of n entries. */
function siftDown(h: usize, map: usize, off: i32, n: i32, i: i32, key: i64, slot: i32): void {
  while (true) {
    let c = (i << 1) + 1;
    if (c >= n) break;
    let ca = h + (<usize>c << ENTRY_SHIFT);
    let ck = load<i64>(ca);
    // Branch-free choice of the smaller child. When c + 1 == n the load reads
    // the key past the heap's last entry (still inside the state region, as
    // c + 1 ≤ W and the map follows the upper heap) and is ignored.
    const k2 = load<i64>(ca, 16);
    const b = (c + 1 < n) & (k2 < ck);
    ck = select<i64>(k2, ck, b);
    c += <i32>b;
    ca += <usize>b << ENTRY_SHIFT;
    if (ck >= key) break;
    place(h, map, off, i, ck, load<i32>(ca, 8));
    i = c;
  }
  place(h, map, off, i, key, slot);
}

/** Removes entry i of a heap of n entries (n ≥ 1) and zeroes the freed last entry. */
@inline function removeAt(h: usize, map: usize, off: i32, n: i32, i: i32): void {
  const last = n - 1;
  const la = h + (<usize>last << ENTRY_SHIFT);
  if (i != last) {
    const lk = load<i64>(la);
    const ls = load<i32>(la, 8);
    const rk = load<i64>(h + (<usize>i << ENTRY_SHIFT));
    if (lk < rk) siftUp(h, map, off, i, lk, ls);
    else siftDown(h, map, off, last, i, lk, ls);
  }
  store<i64>(la, 0);
  store<i64>(la, 0, 8);
}

// ---------------------------------------------------------------------------

export function init(op: i32, window: i32, minPeriods: i32, p0: f64, p1: f64): i32 {
  if (op < OP_MEDIAN || op > OP_QUANTILE || window < 1 || window > MAX_WINDOW) return ERR_PARAMS;
  if (minPeriods < 0 || minPeriods > window) return ERR_PARAMS;
  if (op == OP_QUANTILE && !(p0 >= 0.0 && p0 <= 1.0)) return ERR_PARAMS;
  if (!allocState(FAMILY, op, window, minPeriods, p0, p1, stateBytesFor(window))) return ERR_MEMORY;
  resetState();
  return OK;
}

export function reset(): void {
  init(gOp, gWindow, gMinPeriods, gP0, gP1);
}

function resetState(): void {
  const s = statePtr();
  const w = gWindow;
  // Header fields and heaps are already 0 from allocState.
  const ring = s + S_RING;
  for (let i = 0; i < w; i++) store<f64>(ring + (<usize>i << 3), NaN);
  memory.fill(s + mapBase(w), 0xff, <usize>w << 2); // every slot −1
}

export function update(n: i32): void {
  const s = statePtr();
  const w = gWindow;
  const minPeriods = gMinPeriods;
  const op = gOp;
  const q = gP0;
  const ring = s + S_RING;
  const L = s + loBase(w);
  const U = s + hiBase(w);
  const map = s + mapBase(w);
  const input = inputPtr();
  const output = outputPtr();
  let pos = load<i32>(s + S_POS);
  let nLo = load<i32>(s + S_NLO);
  let nHi = load<i32>(s + S_NHI);

  for (let i = 0; i < n; i++) {
    const x = load<f64>(input + (<usize>i << 3));
    const slotAddr = ring + (<usize>pos << 3);
    const old = load<f64>(slotAddr);
    store<f64>(slotAddr, x);
    const r = pos;
    pos = pos + 1 == w ? 0 : pos + 1;

    if (old == old) {
      const p = load<i32>(map + (<usize>r << 2));
      if (x == x) {
        // Replace in place: the sizes, hence the split, do not change.
        const k = toKey(x);
        if (p < w) {
          const nk = ~k;
          if (nk < load<i64>(L + (<usize>p << ENTRY_SHIFT))) siftUp(L, map, 0, p, nk, r);
          else siftDown(L, map, 0, nLo, p, nk, r);
          if (nHi > 0) {
            const lt = ~load<i64>(L);
            const ut = load<i64>(U);
            if (lt > ut) {
              // The new value is the lower heap's top and belongs above: swap
              // tops. ut ≥ every other lower entry, so it stays at the root.
              const ls = load<i32>(L, 8);
              place(L, map, 0, 0, ~ut, load<i32>(U, 8));
              siftDown(U, map, w, nHi, 0, lt, ls);
            }
          }
        } else {
          const j = p - w;
          if (k < load<i64>(U + (<usize>j << ENTRY_SHIFT))) siftUp(U, map, w, j, k, r);
          else siftDown(U, map, w, nHi, j, k, r);
          if (nLo > 0) {
            const lt = ~load<i64>(L);
            const ut = load<i64>(U);
            if (lt > ut) {
              const us = load<i32>(U, 8);
              place(U, map, w, 0, lt, load<i32>(L, 8));
              siftDown(L, map, 0, nLo, 0, ~ut, us);
            }
          }
        }
      } else {
        // The leaving value goes, nothing comes in.
        if (p < w) {
          removeAt(L, map, 0, nLo, p);
          nLo--;
        } else {
          removeAt(U, map, w, nHi, p - w);
          nHi--;
        }
        store<i32>(map + (<usize>r << 2), -1);
        const m = nLo + nHi;
        nLo = rebalance(L, U, map, w, nLo, nHi, targetLow(op, q, m));
        nHi = m - nLo;
      }
    } else if (x == x) {
      // A value comes in, nothing leaves.
      const k = toKey(x);
      if (nLo == 0 || k <= ~load<i64>(L)) {
        siftUp(L, map, 0, nLo, ~k, r);
        nLo++;
      } else {
        siftUp(U, map, w, nHi, k, r);
        nHi++;
      }
      const m = nLo + nHi;
      nLo = rebalance(L, U, map, w, nLo, nHi, targetLow(op, q, m));
      nHi = m - nLo;
    }

    const nobs = nLo + nHi;
    let y: f64 = NaN;
    if (nobs >= minPeriods && nobs > 0) {
      const vlo = fromKey(~load<i64>(L));
      if (op == OP_MEDIAN) {
        y = nobs & 1 ? vlo : (vlo + fromKey(load<i64>(U))) / 2;
      } else {
        const idx = q * <f64>(nobs - 1);
        const lo = <f64>(<i32>idx);
        if (idx == lo) y = vlo;
        else {
          const vhi = fromKey(load<i64>(U));
          y = vlo + (vhi - vlo) * (idx - lo);
        }
      }
    }
    store<f64>(output + (<usize>i << 3), y);
  }
  store<i32>(s + S_POS, pos);
  store<i32>(s + S_NLO, nLo);
  store<i32>(s + S_NHI, nHi);
}

/**
 * Moves tops between the heaps until the lower one holds t entries
 * (0 ≤ t ≤ nLo + nHi); returns the new size of the lower heap.
 */
function rebalance(L: usize, U: usize, map: usize, w: i32, nLo: i32, nHi: i32, t: i32): i32 {
  while (nLo > t) {
    const k = ~load<i64>(L);
    const sl = load<i32>(L, 8);
    removeAt(L, map, 0, nLo, 0);
    nLo--;
    siftUp(U, map, w, nHi, k, sl);
    nHi++;
  }
  while (nLo < t) {
    const k = load<i64>(U);
    const sl = load<i32>(U, 8);
    removeAt(U, map, w, nHi, 0);
    nHi--;
    siftUp(L, map, 0, nLo, ~k, sl);
    nLo++;
  }
  return nLo;
}

/** Checks one heap of a restored state; true when consistent. */
function heapValid(h: usize, ring: usize, map: usize, w: i32, off: i32, n: i32, flip: i64): bool {
  for (let i = 0; i < w; i++) {
    const a = h + (<usize>i << ENTRY_SHIFT);
    const key = load<i64>(a);
    const slot = load<i32>(a, 8);
    if (load<i32>(a, 12) != 0) return false;
    if (i >= n) {
      if (key != 0 || slot != 0) return false;
      continue;
    }
    if (slot < 0 || slot >= w) return false;
    if (load<i32>(map + (<usize>slot << 2)) != i + off) return false;
    const x = load<f64>(ring + (<usize>slot << 3));
    if (x != x || key != (toKey(x) ^ flip)) return false;
    if (i > 0 && load<i64>(h + (<usize>((i - 1) >> 1) << ENTRY_SHIFT)) > key) return false;
  }
  return true;
}

/** Checks a restored state: every index in range, heaps, map and ring consistent. */
export function validate(): i32 {
  if (!headerMatches()) return ERR_STATE;
  const s = statePtr();
  const w = gWindow;
  const pos = load<i32>(s + S_POS);
  const nLo = load<i32>(s + S_NLO);
  const nHi = load<i32>(s + S_NHI);
  if (pos < 0 || pos >= w || load<i32>(s + S_PAD) != 0) return ERR_STATE;
  if (nLo < 0 || nLo > w || nHi < 0 || nHi > w || nLo + nHi > w) return ERR_STATE;
  const ring = s + S_RING;
  const L = s + loBase(w);
  const U = s + hiBase(w);
  const map = s + mapBase(w);

  let nobs = 0;
  for (let i = 0; i < w; i++) {
    const x = load<f64>(ring + (<usize>i << 3));
    nobs += <i32>(x == x);
  }
  if (nobs != nLo + nHi || nLo != targetLow(gOp, gP0, nobs)) return ERR_STATE;

  if (!heapValid(L, ring, map, w, 0, nLo, -1)) return ERR_STATE;
  if (!heapValid(U, ring, map, w, w, nHi, 0)) return ERR_STATE;
  if (nLo > 0 && nHi > 0 && ~load<i64>(L) > load<i64>(U)) return ERR_STATE;

  // Map → heaps: missing slots map to −1, present ones to an entry naming them.
  for (let slot = 0; slot < w; slot++) {
    const m = load<i32>(map + (<usize>slot << 2));
    const x = load<f64>(ring + (<usize>slot << 3));
    if (x != x) {
      if (m != -1) return ERR_STATE;
    } else if (m >= 0 && m < nLo) {
      if (load<i32>(L + (<usize>m << ENTRY_SHIFT), 8) != slot) return ERR_STATE;
    } else if (m >= w && m - w < nHi) {
      if (load<i32>(U + (<usize>(m - w) << ENTRY_SHIFT), 8) != slot) return ERR_STATE;
    } else return ERR_STATE;
  }
  return OK;
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
