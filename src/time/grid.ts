// Tumbling/hopping window state in typed arrays: no object per window.
//
// Windows are kept in buckets by grid index j (every window of a bucket spans
// [j·step + offset, j·step + offset + size)). A bucket holds its windows in
// creation order in parallel typed arrays — key ids, flags (fire pending,
// emitted) and the accumulator fields at a fixed stride per op — and an
// open-addressing table (linear probing, Fibonacci hashing) key id → window.
// Purged buckets are recycled, so a steady stream allocates no window state
// at all; result objects are built only when a window is emitted.
//
// The arithmetic is Acc's (src/time/accumulator.ts), field for field, so the
// values are identical to the bit; snapshots write and read Acc's layout.
// Median and quantile windows keep their values in ValueRuns
// (value-runs.ts), a slot per window, in arrival order (the snapshot's order): no array per
// window, nothing for the garbage collector.
import type { TimeOp } from '../types.js';
import { Acc } from './accumulator.js';
import { momentsAdd, momentsValue, MOMENTS } from './moments.js';
import { ValueRuns } from './value-runs.js';
import { TAGGED_UNSET } from './record-shape.js';

/** Window flags. */
export const PENDING = 1;
export const EMITTED = 2;

/** Accumulator layouts (fields after rows, n). */
export const OP_SUM = 0; // s, c (sum, mean)
export const OP_COUNT = 1; // — (count)
export const OP_VAR = 2; // k, s1, s2, nf, ninf, e, mx (var, std: src/time/moments.ts)
export const OP_MIN = 3; // m
export const OP_MAX = 4; // m
export const OP_FIRST = 5; // fT, fR, fV
export const OP_LAST = 6; // lT, lR, lV
export const OP_VALS = 7; // values in a side array (median, quantile)

export function opCode(op: TimeOp): number {
  switch (op) {
    case 'sum':
    case 'mean':
      return OP_SUM;
    case 'count':
      return OP_COUNT;
    case 'var':
    case 'std':
      return OP_VAR;
    case 'min':
      return OP_MIN;
    case 'max':
      return OP_MAX;
    case 'first':
      return OP_FIRST;
    case 'last':
      return OP_LAST;
    case 'median':
    case 'quantile':
      return OP_VALS;
  }
}

const STRIDE = [4, 2, 2 + MOMENTS, 3, 3, 5, 5, 2];

/** Window accumulators at a fixed stride per op (grid buckets, sessions): what addTo, valueOf, toAcc and fromAcc read and write. */
export interface AccStore {
  readonly stride: number;
  acc: Float64Array;
  /** OP_VALS: each window's values, window i's in slot i. */
  vals: ValueRuns;
}

/** A window store's pool of values: room only for median and quantile windows. */
export function valuePool(code: number): ValueRuns {
  return new ValueRuns(code === OP_VALS ? 256 : 0);
}

/** Empties the accumulator at a[p…] (OP_VALS: the caller gives the window an empty run of values). */
export function initAcc(a: Float64Array, p: number, code: number): void {
  a[p] = 0;
  a[p + 1] = 0;
  switch (code) {
    case OP_SUM:
      a[p + 2] = 0;
      a[p + 3] = 0;
      break;
    case OP_VAR:
      a.fill(0, p + 2, p + 2 + MOMENTS);
      break;
    case OP_MIN:
    case OP_MAX:
      a[p + 2] = NaN;
      break;
    case OP_FIRST:
      a[p + 2] = Infinity;
      a[p + 3] = Infinity;
      a[p + 4] = NaN;
      break;
    case OP_LAST:
      a[p + 2] = -Infinity;
      a[p + 3] = -Infinity;
      a[p + 4] = NaN;
      break;
  }
}

/** The windows of one grid index. */
export class GridBucket implements AccStore {
  /** Grid index; NaN once purged (a recycled bucket never matches a stale lookup). */
  j = NaN;
  /** The windows' bounds (ms): tagged fields, shared by the bucket's records (record-shape.ts). */
  start = TAGGED_UNSET;
  end = TAGGED_UNSET;
  /** Windows held. */
  n = 0;
  /** Windows whose fire is pending. */
  pending = 0;
  keys: Uint32Array;
  flags: Uint8Array;
  acc: Float64Array;
  /** OP_VALS: each window's values, window i's in slot i. */
  vals: ValueRuns;
  /**
   * Open addressing, linear probing: slot h is table[2h] = local index + 1 (0:
   * empty) and table[2h + 1] = the key (as an int32), so a probe reads one line.
   */
  table: Int32Array;
  /** 32 − log2(slots): Fibonacci hashing takes the top bits. */
  shift: number;

  constructor(readonly stride: number, cap: number, code: number) {
    this.vals = valuePool(code);
    this.keys = new Uint32Array(cap);
    this.flags = new Uint8Array(cap);
    this.acc = new Float64Array(cap * stride);
    this.table = new Int32Array(cap * 4);
    this.shift = 32 - Math.log2(cap * 2);
  }

  /** The local index of key k's window, or −1 − (the empty slot where it would go). */
  find(k: number): number {
    const table = this.table;
    const mask = (table.length >> 1) - 1;
    const key = k | 0;
    let h = Math.imul(k, 0x9e3779b1) >>> this.shift;
    for (;;) {
      const e = table[2 * h]!;
      if (e === 0) return -1 - h;
      if (table[2 * h + 1] === key) return e - 1;
      h = (h + 1) & mask;
    }
  }

  /**
   * Adds a window of key k, absent, at the empty slot `find` gave (−1 − its
   * result), its accumulator empty; returns its local index.
   */
  insert(k: number, missing: number, code: number, pending: boolean): number {
    const i = this.n;
    if (i === this.keys.length) this.grow();
    let h = -1 - missing;
    if (4 * (i + 1) > this.table.length) {
      this.rehash(2 * this.table.length);
      h = -1 - this.find(k);
    }
    this.n = i + 1;
    this.keys[i] = k;
    this.flags[i] = pending ? PENDING : 0;
    if (pending) this.pending++;
    this.table[2 * h] = i + 1;
    this.table[2 * h + 1] = k;
    initAcc(this.acc, i * this.stride, code);
    if (code === OP_VALS) this.vals.open(i);
    return i;
  }

  private grow(): void {
    const cap = 2 * this.keys.length;
    const keys = new Uint32Array(cap);
    keys.set(this.keys);
    this.keys = keys;
    const flags = new Uint8Array(cap);
    flags.set(this.flags);
    this.flags = flags;
    const acc = new Float64Array(cap * this.stride);
    acc.set(this.acc);
    this.acc = acc;
  }

  /** Rebuilds the table with `length` entries (length / 2 slots). */
  private rehash(length: number): void {
    const table = new Int32Array(length);
    const mask = (length >> 1) - 1;
    const shift = 32 - Math.log2(length >> 1);
    const keys = this.keys;
    for (let i = 0; i < this.n; i++) {
      const k = keys[i]!;
      let h = Math.imul(k, 0x9e3779b1) >>> shift;
      while (table[2 * h] !== 0) h = (h + 1) & mask;
      table[2 * h] = i + 1;
      table[2 * h + 1] = k;
    }
    this.table = table;
    this.shift = shift;
  }

  /** Empties the bucket for grid index j. */
  reuse(j: number, start: number, end: number): void {
    if (this.n > 0) {
      this.table.fill(0);
      this.vals.reset();
    }
    this.j = j;
    this.start = start;
    this.end = end;
    this.n = 0;
    this.pending = 0;
  }
}

/** Adds row r of the columns (row `row` of the stream) to window i of bucket b: Acc.add, field for field. Takes the columns, not the doubles: a double passed to a call that is not inlined is boxed. */
export function addTo(b: AccStore, i: number, code: number, ts: Float64Array, vals: Float64Array, r: number, row: number): void {
  const x = vals[r]!, t = ts[r]!;
  const a = b.acc;
  const p = i * b.stride;
  if (code === OP_SUM) {
    addSum(a, p, x);
    return;
  }
  a[p]!++;
  if (x !== x) return;
  a[p + 1]!++;
  switch (code) {
    case OP_COUNT:
      break;
    case OP_VAR:
      momentsAdd(a, p + 2, x);
      break;
    case OP_MIN: {
      const m = a[p + 2]!;
      if (!(m <= x)) a[p + 2] = x;
      else if (x === 0 && m === 0 && Object.is(x, -0)) a[p + 2] = x;
      break;
    }
    case OP_MAX: {
      const m = a[p + 2]!;
      if (!(m >= x)) a[p + 2] = x;
      else if (x === 0 && m === 0 && Object.is(m, -0)) a[p + 2] = x;
      break;
    }
    case OP_FIRST:
      if (t < a[p + 2]! || (t === a[p + 2] && row < a[p + 3]!)) {
        a[p + 2] = t;
        a[p + 3] = row;
        a[p + 4] = x;
      }
      break;
    case OP_LAST:
      if (t > a[p + 2]! || (t === a[p + 2] && row > a[p + 3]!)) {
        a[p + 2] = t;
        a[p + 3] = row;
        a[p + 4] = x;
      }
      break;
    case OP_VALS:
      b.vals.append(i, x);
      break;
  }
}

/** Adds x to the sum/mean accumulator at a[p…] (rows, n, s, c): Acc.add, Neumaier's compensated sum. Small, for the hot loops to inline. */
export function addSum(a: Float64Array, p: number, x: number): void {
  a[p]!++;
  if (x !== x) return;
  a[p + 1]!++;
  const s = a[p + 2]!;
  const u = s + x;
  if (Math.abs(s) >= Math.abs(x)) a[p + 3]! += s - u + x;
  else a[p + 3]! += x - u + s;
  a[p + 2] = u;
}

/** The value of window i of bucket b: Acc.value, field for field. */
export function valueOf(b: AccStore, i: number, code: number, op: TimeOp, minPeriods: number, ddof: number, q: number): number {
  const a = b.acc;
  const p = i * b.stride;
  const n = a[p + 1]!;
  if (n < minPeriods) return NaN;
  switch (code) {
    case OP_SUM: {
      const s = a[p + 2]!;
      const v = s - s === 0 ? s + a[p + 3]! : s;
      if (op === 'sum') return v;
      return n === 0 ? NaN : v / n;
    }
    case OP_COUNT:
      return n;
    case OP_VAR:
      return momentsValue(a, p + 2, op === 'std', ddof);
    case OP_MIN:
    case OP_MAX:
      return n === 0 ? NaN : a[p + 2]!;
    case OP_FIRST:
    case OP_LAST:
      return a[p + 4]!;
    default: {
      if (n === 0) return NaN;
      const pool = b.vals;
      if (op === 'median') {
        const v = selectRunPair(pool.data, pool.off(i), n, (n - 1) >> 1);
        return n % 2 === 1 ? v[(n - 1) / 2]! : (v[n / 2 - 1]! + v[n / 2]!) / 2;
      }
      const idx = q * (n - 1);
      const lo = Math.floor(idx);
      const v = selectRunPair(pool.data, pool.off(i), n, lo);
      if (idx === lo) return v[lo]!;
      return v[lo]! + (v[lo + 1]! - v[lo]!) * (idx - lo);
    }
  }
}

let sortScratch = new Float64Array(64);

/** Up to this many values, quickselect (its worst case cut short by SELECT_ROUNDS); beyond, the typed-array sort (O(n log n)). */
const SELECT_MAX = 4096;

/**
 * The values of a window (no NaN) in a scratch array reused until the next
 * call, with entries k and k + 1 (when k + 1 < xs.length) those of
 * Float64Array.from(xs).sort(), to the bit (−0 before +0): a median or
 * quantile reads no other. Exported for its test.
 */
export function selectPair(xs: readonly number[], k: number): Float64Array {
  return selectRunPair(Float64Array.from(xs), 0, xs.length, k);
}

/**
 * selectPair of the n values data[from, from + n) (a window's run), copied:
 * the run keeps its order (the snapshot's). Quickselect by numeric order
 * (−0 equal to +0), its partitions branch-free; a selected zero then gets
 * the sign the typed-array sort gives its place (fixZeros). Past SELECT_MAX
 * values (or SELECT_ROUNDS partition rounds) the scratch is sorted.
 */
export function selectRunPair(data: Float64Array, from: number, n: number, k: number): Float64Array {
  if (n > sortScratch.length) sortScratch = new Float64Array(Math.max(n, 2 * sortScratch.length));
  const v = sortScratch;
  if (n > SELECT_MAX) {
    for (let j = 0; j < n; j++) v[j] = data[from + j]!;
    v.subarray(0, n).sort();
    return v;
  }
  // The first round partitions the run into the scratch as it copies it (from both ends, branch-free).
  const pivot = medianOf3(data[from]!, data[from + (n >> 1)]!, data[from + n - 1]!);
  let below = 0, above = n - 1;
  for (let j = 0; j < n; j++) {
    const x = data[from + j]!;
    v[below] = x;
    v[above] = x;
    const lt = +(x < pivot);
    below += lt;
    above -= 1 - lt;
  }
  // v[0, below) < pivot ≤ v[below, n): k's part goes on (both, when nothing is below: select splits off the ties).
  if (k < below) select(v, n, k, 0, below);
  else select(v, n, k, below > 0 ? below : 0, n);
  // Entries after k are all at or after v[k]: the least of them is entry k + 1.
  const m0 = k + 1;
  if (m0 < n) {
    let m = m0, least = v[m0]!;
    for (let j = m0 + 1; j < n; j++) {
      const x = v[j]!;
      if (x < least) {
        least = x;
        m = j;
      }
    }
    if (m !== m0) {
      v[m] = v[m0]!;
      v[m0] = least;
    }
  }
  if (v[k] === 0 || (m0 < n && v[m0] === 0)) fixZeros(v, n, k);
  return v;
}

/**
 * Entries k and k + 1 that are zeros get the typed-array sort's sign: it
 * puts the window's zeros after its negatives, −0 first, so the zero at
 * place p is −0 when p − (negatives) < (−0s).
 */
function fixZeros(v: Float64Array, n: number, k: number): void {
  let negatives = 0, negativeZeros = 0;
  for (let j = 0; j < n; j++) {
    const x = v[j]!;
    if (x < 0) negatives++;
    else if (x === 0 && 1 / x < 0) negativeZeros++;
  }
  for (let p = k; p <= k + 1 && p < n; p++) if (v[p] === 0) v[p] = p - negatives < negativeZeros ? -0 : 0;
}

const medianOf3 = (a: number, b: number, c: number): number => (a < b ? (b < c ? b : a < c ? c : a) : a < c ? a : b < c ? c : b);

/** Partition rounds before select gives up on its pivots and sorts: a hostile window costs O(n log n), not O(n²). */
const SELECT_ROUNDS = 48;

/**
 * Quickselect by numeric order, k in v[from, to) and every value before
 * `from` (after `to`) at most (at least) those in it: v[k] becomes the k-th
 * of v[0, n), nothing after it less and nothing before it greater. Each round splits the range
 * around a median of three by `< pivot` (Lomuto's, branch-free: every value
 * is swapped, the boundary moves by the comparison, so random data costs no
 * mispredicted branch), and the part at or above it by `<= pivot` when k is
 * there: the values equal to the pivot leave in one round (a window of ties
 * is not O(n²)).
 */
function select(v: Float64Array, n: number, k: number, from: number, to: number): void {
  let l = from, r = to;
  for (let round = 0; r - l > 1; round++) {
    if (round === SELECT_ROUNDS) {
      v.subarray(0, n).sort();
      return;
    }
    const pivot = medianOf3(v[l]!, v[(l + r) >> 1]!, v[r - 1]!);
    let below = l;
    for (let i = l; i < r; i++) {
      const x = v[i]!;
      v[i] = v[below]!;
      v[below] = x;
      below += +(x < pivot);
    }
    if (k < below) {
      r = below;
      continue;
    }
    let equal = below;
    for (let i = below; i < r; i++) {
      const x = v[i]!;
      v[i] = v[equal]!;
      v[equal] = x;
      equal += +(x <= pivot);
    }
    if (k < equal) return;
    l = equal;
  }
}

/** Window i of bucket b as an Acc (snapshots, and the values of the less common ops). */
export function toAcc(b: AccStore, i: number, code: number, op: TimeOp): Acc {
  const a = b.acc;
  const p = i * b.stride;
  const acc = new Acc(op);
  acc.rows = a[p]!;
  acc.n = a[p + 1]!;
  switch (code) {
    case OP_SUM:
      acc.s = a[p + 2]!;
      acc.c = a[p + 3]!;
      break;
    case OP_VAR:
      acc.mo.set(a.subarray(p + 2, p + 2 + MOMENTS));
      break;
    case OP_MIN:
    case OP_MAX:
      acc.m = a[p + 2]!;
      break;
    case OP_FIRST:
      acc.fT = a[p + 2]!;
      acc.fR = a[p + 3]!;
      acc.fV = a[p + 4]!;
      break;
    case OP_LAST:
      acc.lT = a[p + 2]!;
      acc.lR = a[p + 3]!;
      acc.lV = a[p + 4]!;
      break;
    case OP_VALS: {
      const o = b.vals.off(i);
      acc.vals = Array.from(b.vals.data.subarray(o, o + b.vals.len(i)));
      break;
    }
  }
  return acc;
}

/** Loads an Acc (from a snapshot) into window i of bucket b; the fields its op does not use are not kept. */
export function fromAcc(b: AccStore, i: number, code: number, acc: Acc): void {
  const a = b.acc;
  const p = i * b.stride;
  a[p] = acc.rows;
  a[p + 1] = acc.n;
  switch (code) {
    case OP_SUM:
      a[p + 2] = acc.s;
      a[p + 3] = acc.c;
      break;
    case OP_VAR:
      a.set(acc.mo, p + 2);
      break;
    case OP_MIN:
    case OP_MAX:
      a[p + 2] = acc.m;
      break;
    case OP_FIRST:
      a[p + 2] = acc.fT;
      a[p + 3] = acc.fR;
      a[p + 4] = acc.fV;
      break;
    case OP_LAST:
      a[p + 2] = acc.lT;
      a[p + 3] = acc.lR;
      a[p + 4] = acc.lV;
      break;
    case OP_VALS: {
      const vals = acc.vals!;
      b.vals.setRun(i, vals, 0, vals.length);
      break;
    }
  }
}

/** What {@link pendingByKey} returns: scratch arrays, valid until its next call. */
export interface PendingWindows {
  /** The pending windows' local indices, in creation order (position c → index). */
  idx: Int32Array;
  /** Their keys, ascending. */
  keys: Uint32Array;
  /** The positions c in key order: keys[o] is the key of window idx[perm[o]]. */
  perm: Int32Array;
  /** Per-position scratch for the caller: values, counts, update flags. */
  value: Float64Array;
  count: Float64Array;
  update: Uint8Array;
}

const scratch: PendingWindows = {
  idx: new Int32Array(1024),
  keys: new Uint32Array(1024),
  perm: new Int32Array(1024),
  value: new Float64Array(1024),
  count: new Float64Array(1024),
  update: new Uint8Array(1024),
};
/** The second buffers of the radix passes. */
let sortK2: Uint32Array = new Uint32Array(1024);
let sortI2: Int32Array = new Int32Array(1024);
const digitCounts = new Int32Array(256);

/**
 * The windows of b whose fire is pending (the first `b.pending` entries of
 * each array): gathered in creation order, so the caller reads the bucket's
 * arrays sequentially, and ordered by key (keys are unique within a bucket)
 * by an LSD radix sort on the bytes of the key, skipping the bytes all the
 * keys share.
 */
export function pendingByKey(b: GridBucket): PendingWindows {
  const n = b.n, m = b.pending;
  if (scratch.idx.length < m) {
    const cap = Math.max(m, 2 * scratch.idx.length);
    scratch.idx = new Int32Array(cap);
    scratch.keys = new Uint32Array(cap);
    scratch.perm = new Int32Array(cap);
    scratch.value = new Float64Array(cap);
    scratch.count = new Float64Array(cap);
    scratch.update = new Uint8Array(cap);
    sortK2 = new Uint32Array(cap);
    sortI2 = new Int32Array(cap);
  }
  const keys = b.keys, flags = b.flags, idx = scratch.idx;
  let srcK = scratch.keys, srcI = scratch.perm, dstK = sortK2, dstI = sortI2;
  let any = 0, all = -1;
  let c = 0;
  for (let i = 0; i < n; i++) {
    if ((flags[i]! & PENDING) !== 0) {
      const k = keys[i]!;
      idx[c] = i;
      srcK[c] = k;
      srcI[c] = c;
      any |= k;
      all &= k;
      c++;
    }
  }
  if (m <= 16) {
    for (let i = 1; i < m; i++) {
      const k = srcK[i]!, x = srcI[i]!;
      let at = i;
      while (at > 0 && srcK[at - 1]! > k) {
        srcK[at] = srcK[at - 1]!;
        srcI[at] = srcI[at - 1]!;
        at--;
      }
      srcK[at] = k;
      srcI[at] = x;
    }
    return scratch;
  }
  const differ = any ^ all;
  const counts = digitCounts;
  for (let shift = 0; shift < 32; shift += 8) {
    if (((differ >>> shift) & 255) === 0) continue; // every key has this byte: the pass would not move anything
    counts.fill(0);
    for (let i = 0; i < m; i++) counts[(srcK[i]! >>> shift) & 255]!++;
    let sum = 0;
    for (let d = 0; d < 256; d++) {
      const cd = counts[d]!;
      counts[d] = sum;
      sum += cd;
    }
    for (let i = 0; i < m; i++) {
      const k = srcK[i]!;
      const at = counts[(k >>> shift) & 255]!++;
      dstK[at] = k;
      dstI[at] = srcI[i]!;
    }
    const tk = srcK, ti = srcI;
    srcK = dstK;
    srcI = dstI;
    dstK = tk;
    dstI = ti;
  }
  if (srcK !== scratch.keys) {
    // An odd number of passes: the result is in the second buffers; swap them in.
    sortK2 = scratch.keys;
    sortI2 = scratch.perm;
    scratch.keys = srcK;
    scratch.perm = srcI;
  }
  return scratch;
}

export { STRIDE };

/**
 * Per key id, the local indices of its windows in the buckets of the current
 * grid range (pushGridInOrder): a key's later rows in the range reach their
 * windows without a hash probe per bucket. For key ids below LIMIT and
 * ranges of at most WIDTH windows; indices stay valid while the range's
 * buckets live (a bucket only appends windows), so `next()` is called for
 * every new range and every call.
 */
export class RangeSlots {
  static readonly WIDTH = 8;
  static readonly LIMIT = 1 << 16;
  /** The generation whose indices key k holds (0: none). */
  stamp = new Int32Array(0);
  /** Key k's index in the range's w-th bucket at idx[k · WIDTH + w]. */
  idx = new Int32Array(0);
  gen = 0;

  /** A new range: every held index is stale. */
  next(): void {
    if (++this.gen === 0x3fffffff) {
      this.stamp.fill(0);
      this.gen = 1;
    }
  }

  /** Room for key k (false beyond LIMIT): the caller then writes its indices and stamps it. */
  room(k: number): boolean {
    if (k < this.stamp.length) return true;
    if (k >= RangeSlots.LIMIT) return false;
    let n = Math.max(1024, this.stamp.length);
    while (n <= k) n *= 2;
    const stamp = new Int32Array(n);
    stamp.set(this.stamp);
    this.stamp = stamp;
    const idx = new Int32Array(n * RangeSlots.WIDTH);
    idx.set(this.idx);
    this.idx = idx;
    return true;
  }
}
