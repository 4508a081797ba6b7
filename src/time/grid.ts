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
import type { TimeOp } from '../types.js';
import { Acc } from './accumulator.js';
import { momentsAdd, momentsValue, MOMENTS } from './moments.js';
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
  /** OP_VALS: each window's values. */
  vals: number[][];
}

/** Empties the accumulator at a[p…] (OP_VALS: the caller gives the window an empty values list). */
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
  /** OP_VALS: each window's values. */
  vals: number[][] = [];
  /**
   * Open addressing, linear probing: slot h is table[2h] = local index + 1 (0:
   * empty) and table[2h + 1] = the key (as an int32), so a probe reads one line.
   */
  table: Int32Array;
  /** 32 − log2(slots): Fibonacci hashing takes the top bits. */
  shift: number;

  constructor(readonly stride: number, cap: number) {
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
    if (code === OP_VALS) this.vals[i] = [];
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
      this.vals.length = 0;
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
      b.vals[i]!.push(x);
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
      if (op === 'median') {
        const v = selectPair(b.vals[i]!, (n - 1) >> 1);
        return n % 2 === 1 ? v[(n - 1) / 2]! : (v[n / 2 - 1]! + v[n / 2]!) / 2;
      }
      const idx = q * (n - 1);
      const lo = Math.floor(idx);
      const v = selectPair(b.vals[i]!, lo);
      if (idx === lo) return v[lo]!;
      return v[lo]! + (v[lo + 1]! - v[lo]!) * (idx - lo);
    }
  }
}

let sortScratch = new Float64Array(64);

/** Windows up to this many values are sorted by insertion: a TypedArray sort call costs more than the sort itself there. */
const INSERTION_MAX = 32;
/** Up to this many, quickselect (its worst case cut short by SELECT_ROUNDS); beyond, the typed-array sort (O(n log n)). */
const SELECT_MAX = 4096;

/** a before b in the typed-array sort's order: −0 before +0 (1/−0 = −∞). No NaN. */
const before = (a: number, b: number): boolean => a < b || (a === 0 && b === 0 && 1 / a < 1 / b);

/**
 * The values of a window (no NaN) in a scratch array reused until the next
 * call, with entries k and k + 1 (when k + 1 < xs.length) those of
 * Float64Array.from(xs).sort(), to the bit (−0 before +0): a median or
 * quantile reads no other. Small windows are sorted by insertion, larger
 * ones quickselected, neither with a subarray (an allocation per window);
 * past SELECT_MAX values (or SELECT_ROUNDS partition rounds) a subarray of
 * the scratch is sorted.
 * Exported for its test.
 */
export function selectPair(xs: readonly number[], k: number): Float64Array {
  const n = xs.length;
  if (n > sortScratch.length) sortScratch = new Float64Array(Math.max(n, 2 * sortScratch.length));
  const v = sortScratch;
  if (n <= INSERTION_MAX) {
    insertionSort(xs, v);
    return v;
  }
  for (let j = 0; j < n; j++) v[j] = xs[j]!;
  if (n > SELECT_MAX) {
    v.subarray(0, n).sort();
    return v;
  }
  select(v, n, k);
  // Entries after k are all at or after v[k]: the least of them is entry k + 1.
  let m = k + 1;
  for (let j = k + 2; j < n; j++) if (before(v[j]!, v[m]!)) m = j;
  if (m < n && m !== k + 1) {
    const x = v[m]!;
    v[m] = v[k + 1]!;
    v[k + 1] = x;
  }
  return v;
}

function insertionSort(xs: readonly number[], v: Float64Array): void {
  for (let j = 0; j < xs.length; j++) {
    const x = xs[j]!;
    let i = j;
    while (i > 0 && before(x, v[i - 1]!)) {
      v[i] = v[i - 1]!;
      i--;
    }
    v[i] = x;
  }
}

/** Partition rounds before select gives up on its pivots and sorts: a hostile window costs O(n log n), not O(n²). */
const SELECT_ROUNDS = 48;

/** Wirth's quickselect: v[k] becomes the k-th of v[0, n), with nothing after it before it and nothing before it after it. */
function select(v: Float64Array, n: number, k: number): void {
  let l = 0, r = n - 1;
  for (let round = 0; l < r; round++) {
    if (round === SELECT_ROUNDS) {
      v.subarray(0, n).sort();
      return;
    }
    const x = v[k]!;
    let i = l, j = r;
    do {
      while (before(v[i]!, x)) i++;
      while (before(x, v[j]!)) j--;
      if (i <= j) {
        const y = v[i]!;
        v[i] = v[j]!;
        v[j] = y;
        i++;
        j--;
      }
    } while (i <= j);
    if (j < k) l = i;
    if (k < i) r = j;
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
    case OP_VALS:
      acc.vals = b.vals[i]!.slice();
      break;
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
    case OP_VALS:
      b.vals[i] = acc.vals!.slice();
      break;
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
