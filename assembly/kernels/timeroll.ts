// Keyed rolling aggregates over event-time windows of a fixed duration:
// pandas' `df.rolling('5s', on='ts')` and `df.groupby(key).rolling(...)`.
//
// One instance holds every key. Memory layout (its own, not common.ts's: the
// state grows with the number of keys, so it sits last, where memory grows):
//
//   [static data][IO: ts f64 × cap][values f64 × cap][keys u32 × cap]
//                [slot index u32 × cap][output f64 × cap][state arena →]
//
// State lives in an arena with a segregated free-list allocator (power-of-two
// size classes): an open-addressing hash table key → slot (linear probing,
// backward-shift deletion), a table of fixed-size slot records, and one block
// per key holding a ring of (ts, value, aggregates…) entries that doubles
// when full (plus a sorted array of the window's non-NaN values for
// median/quantile).
//
// Aggregates never subtract what left the window: each key's ring is a
// two-stack queue. Entries [head, head + front) are the "front" stack with
// suffix aggregates computed once when it was formed ("flip"); the rest is the
// "back" stack with running aggregates. A window value is the front suffix at
// the head combined with the back aggregate; popping from an empty front flips
// every entry into it. Amortized O(1) per row for sum/mean/var/std/min/max/
// first/last; count is an integer counter; median/quantile keep a sorted array
// (binary search + memory.copy, O(log w + w) per row, fast for modest windows).
//
// Variance uses shifted sums as in var.ts: the front is shifted by its last
// finite value K_R, the back by its first finite value K_L, and the two are
// re-shifted onto K_L when combined. NaN is missing; ±Inf are values (sums
// propagate them, var/std of a window holding one is NaN).
//
// Everything a result depends on is a function of the rows pushed so far and
// of where the front/back boundary is, which in turn depends only on the rows:
// results are the same for any split into batches. Snapshots are logical (per
// key: its rows in the window, the boundary, the last timestamp) and restore
// rebuilds the derived aggregates bit for bit.

const OP_SUM: i32 = 0;
const OP_MEAN: i32 = 1;
const OP_COUNT: i32 = 2;
const OP_MIN: i32 = 3;
const OP_MAX: i32 = 4;
const OP_VAR: i32 = 5;
const OP_STD: i32 = 6;
const OP_MEDIAN: i32 = 7;
const OP_QUANTILE: i32 = 8;
const OP_FIRST: i32 = 9;
const OP_LAST: i32 = 10;

/** Status codes (as in common.ts). */
const OK: i32 = 0;
const ERR_PARAMS: i32 = 1;
const ERR_MEMORY: i32 = 2;

// Slot record layout (bytes).
const SL_KEY: usize = 0; // u32
const SL_CAP: usize = 4; // u32: ring capacity (entries); 0 = free slot
const SL_HEAD: usize = 8; // u32: physical index of the oldest entry
const SL_LEN: usize = 12; // u32: entries in the window
const SL_FRONT: usize = 16; // u32: entries in the front stack
const SL_BLOCK: usize = 20; // u32: pointer to the block
const SL_COUNT: usize = 24; // u32: non-NaN entries
const SL_FINITE: usize = 28; // u32: finite entries
const SL_BACK_FINITE: usize = 32; // u32: finite entries in the back stack
const SL_INF: usize = 36; // u32: ±Inf entries
const SL_EPOCH: usize = 40; // u32: batch epoch of SL_SCRATCH
const SL_NEXT_FREE: usize = 44; // u32: next free slot + 1 (free slots only)
const SL_LAST_TS: usize = 48; // f64: timestamp of the key's last row (−Inf: none)
const SL_SCRATCH: usize = 56; // f64: last timestamp within the batch being checked
const SL_BACK_A: usize = 64; // f64: back aggregate (sum, min, max, first, last, or S1)
const SL_BACK_B: usize = 72; // f64: back S2 (var)
const SL_KL: usize = 80; // f64: back shift (var)
const SL_KR: usize = 88; // f64: front shift (var)
const SLOT_BYTES: usize = 96;

const MIN_RING: u32 = 8;
const MIN_CLASS: i32 = 6;

// Parameters.
let gOp: i32 = 0;
let gWindow: f64 = 1;
let gLeftClosed: bool = false;
let gRightClosed: bool = true;
let gMinPeriods: i32 = 1;
let gP0: f64 = 0; // ddof or q
let gKeyed: bool = false;
let gTtl: f64 = Infinity;
let gStride: i32 = 3; // f64 per ring entry
let gSorted: bool = false;

// IO.
let ioCap: i32 = 0;
let pTs: usize = 0;
let pVal: usize = 0;
let pKey: usize = 0;
let pSlotIdx: usize = 0;
let pOut: usize = 0;

// State.
let arenaBase: usize = 0;
let arenaTop: usize = 0;
let freeLists: usize = 0; // u32 × 32 heads, inside the arena's first bytes
let htab: usize = 0;
let htabCap: u32 = 0;
let slots: usize = 0;
let slotCap: u32 = 0;
let slotHigh: u32 = 0; // slots ever used (indices < slotHigh)
let freeSlot: u32 = 0; // first free slot + 1
let liveKeys: u32 = 0;
let epoch: u32 = 0;
let maxTs: f64 = -Infinity;
let checkMaxTs: f64 = -Infinity; // running greatest timestamp of the rows being checked

// ---------------------------------------------------------------------------
// Memory

function ensureMemory(end: usize): bool {
  const have = (<usize>memory.size()) << 16;
  if (end <= have) return true;
  const pages = <i32>((end - have + 0xffff) >>> 16);
  return memory.grow(pages) >= 0;
}

@inline function classOf(bytes: usize): i32 {
  let c = 32 - clz<i32>(<i32>(bytes - 1));
  return c < MIN_CLASS ? MIN_CLASS : c;
}

/** A block of at least `bytes` bytes, 0 when memory cannot grow. */
function alloc(bytes: usize): usize {
  const c = classOf(bytes);
  const head = freeLists + (<usize>c << 2);
  const p = <usize>load<u32>(head);
  if (p != 0) {
    store<u32>(head, load<u32>(p));
    return p;
  }
  const size = (<usize>1) << c;
  const top = arenaTop;
  if (!ensureMemory(top + size)) return 0;
  arenaTop = top + size;
  return top;
}

function free(p: usize, bytes: usize): void {
  const head = freeLists + (<usize>classOf(bytes) << 2);
  store<u32>(p, load<u32>(head));
  store<u32>(head, <u32>p);
}

@inline function blockBytes(cap: u32): usize {
  return (<usize>cap) * (<usize>gStride + (gSorted ? 1 : 0)) * 8;
}

@inline function slotPtr(i: u32): usize {
  return slots + (<usize>i) * SLOT_BYTES;
}

@inline function entry(block: usize, idx: u32): usize {
  return block + (<usize>idx) * (<usize>gStride << 3);
}

@inline function sortedBase(block: usize, cap: u32): usize {
  return block + (<usize>cap) * (<usize>gStride << 3);
}

@inline function hashOf(key: u32): u32 {
  let h = key * 0x9e3779b1;
  h ^= h >>> 15;
  return h;
}

// ---------------------------------------------------------------------------
// Init

export function init(
  op: i32,
  window: f64,
  closed: i32,
  minPeriods: i32,
  p0: f64,
  keyed: i32,
  ttl: f64,
  capacity: i32,
): i32 {
  if (op < OP_SUM || op > OP_LAST) return ERR_PARAMS;
  if (!(window > 0) || window == Infinity) return ERR_PARAMS;
  if (closed < 0 || closed > 3 || minPeriods < 0) return ERR_PARAMS;
  if (!(ttl > 0)) return ERR_PARAMS;
  if (capacity < 1 || capacity > 1 << 22) return ERR_PARAMS;
  gOp = op;
  gWindow = window;
  // closed: 0 right, 1 left, 2 both, 3 neither
  gRightClosed = closed == 0 || closed == 2;
  gLeftClosed = closed == 1 || closed == 2;
  gMinPeriods = minPeriods;
  gP0 = p0;
  gKeyed = keyed != 0;
  gTtl = ttl;
  gSorted = op == OP_MEDIAN || op == OP_QUANTILE;
  if (op == OP_COUNT || gSorted) gStride = 2;
  else if (op == OP_VAR || op == OP_STD) gStride = 4;
  else gStride = 3;
  ioCap = capacity;
  const base = (__heap_base + 15) & ~(<usize>15);
  const c = <usize>capacity;
  pTs = base;
  pVal = pTs + c * 8;
  pOut = pVal + c * 8;
  pKey = pOut + c * 8;
  pSlotIdx = pKey + c * 4;
  arenaBase = (pSlotIdx + c * 4 + 15) & ~(<usize>15);
  if (!ensureMemory(arenaBase + 128)) return ERR_MEMORY;
  return resetState() ? OK : ERR_MEMORY;
}

function resetState(): bool {
  freeLists = arenaBase;
  memory.fill(freeLists, 0, 128);
  arenaTop = arenaBase + 128;
  liveKeys = 0;
  slotHigh = 0;
  freeSlot = 0;
  epoch = 0;
  maxTs = -Infinity;
  htabCap = 16;
  htab = alloc(<usize>htabCap << 2);
  slotCap = 16;
  slots = alloc(<usize>slotCap * SLOT_BYTES);
  if (htab == 0 || slots == 0) return false;
  memory.fill(htab, 0, <usize>htabCap << 2);
  return true;
}

export function reset(): i32 {
  return resetState() ? OK : ERR_MEMORY;
}

export function tsPtr(): usize {
  return pTs;
}
export function valPtr(): usize {
  return pVal;
}
export function keyPtr(): usize {
  return pKey;
}
export function outPtr(): usize {
  return pOut;
}
export function capacity(): i32 {
  return ioCap;
}
export function liveKeyCount(): u32 {
  return liveKeys;
}
export function slotHighWater(): u32 {
  return slotHigh;
}
export function arenaBytes(): usize {
  return arenaTop - arenaBase;
}
export function getMaxTs(): f64 {
  return maxTs;
}
export function setMaxTs(t: f64): void {
  maxTs = t;
}

// ---------------------------------------------------------------------------
// Keys

/** Slot index + 1 of a key, 0 when absent. */
function find(key: u32): u32 {
  const mask = htabCap - 1;
  let h = hashOf(key) & mask;
  while (true) {
    const v = load<u32>(htab + (<usize>h << 2));
    if (v == 0) return 0;
    if (load<u32>(slotPtr(v - 1) + SL_KEY) == key) return v;
    h = (h + 1) & mask;
  }
  return 0;
}

function htabInsert(table: usize, cap: u32, key: u32, value: u32): void {
  const mask = cap - 1;
  let h = hashOf(key) & mask;
  while (load<u32>(table + (<usize>h << 2)) != 0) h = (h + 1) & mask;
  store<u32>(table + (<usize>h << 2), value);
}

function growHtab(): bool {
  const newCap = htabCap << 1;
  const table = alloc(<usize>newCap << 2);
  if (table == 0) return false;
  memory.fill(table, 0, <usize>newCap << 2);
  for (let i: u32 = 0; i < htabCap; i++) {
    const v = load<u32>(htab + (<usize>i << 2));
    if (v != 0) htabInsert(table, newCap, load<u32>(slotPtr(v - 1) + SL_KEY), v);
  }
  free(htab, <usize>htabCap << 2);
  htab = table;
  htabCap = newCap;
  return true;
}

function initSlot(s: usize, key: u32, block: usize): void {
  memory.fill(s, 0, SLOT_BYTES);
  store<u32>(s + SL_KEY, key);
  store<u32>(s + SL_CAP, MIN_RING);
  store<u32>(s + SL_BLOCK, <u32>block);
  store<f64>(s + SL_LAST_TS, -Infinity);
  clearAggregates(s);
}

/** Inserts a key that is absent; returns slot index + 1, 0 when out of memory. */
function insert(key: u32): u32 {
  if ((liveKeys + 1) * 2 > htabCap && !growHtab()) return 0;
  let idx: u32;
  if (freeSlot != 0) {
    idx = freeSlot - 1;
    freeSlot = load<u32>(slotPtr(idx) + SL_NEXT_FREE);
  } else {
    if (slotHigh == slotCap) {
      const newCap = slotCap << 1;
      const table = alloc(<usize>newCap * SLOT_BYTES);
      if (table == 0) return 0;
      memory.copy(table, slots, <usize>slotCap * SLOT_BYTES);
      free(slots, <usize>slotCap * SLOT_BYTES);
      slots = table;
      slotCap = newCap;
    }
    idx = slotHigh++;
  }
  const block = alloc(blockBytes(MIN_RING));
  if (block == 0) return 0;
  initSlot(slotPtr(idx), key, block);
  htabInsert(htab, htabCap, key, idx + 1);
  liveKeys++;
  return idx + 1;
}

/** Removes a key: backward-shift deletion in the hash table, frees its block and slot. */
function remove(idx: u32): void {
  const s = slotPtr(idx);
  const key = load<u32>(s + SL_KEY);
  const mask = htabCap - 1;
  let h = hashOf(key) & mask;
  while (load<u32>(htab + (<usize>h << 2)) != idx + 1) h = (h + 1) & mask;
  // Shift later entries of the probe run back into the hole.
  let hole = h;
  let j = (h + 1) & mask;
  while (true) {
    const v = load<u32>(htab + (<usize>j << 2));
    if (v == 0) break;
    const home = hashOf(load<u32>(slotPtr(v - 1) + SL_KEY)) & mask;
    // Move v into the hole when its home is not cyclically in (hole, j].
    const dist = (j - home) & mask;
    const holeDist = (j - hole) & mask;
    if (dist >= holeDist) {
      store<u32>(htab + (<usize>hole << 2), v);
      hole = j;
    }
    j = (j + 1) & mask;
  }
  store<u32>(htab + (<usize>hole << 2), 0);
  free(<usize>load<u32>(s + SL_BLOCK), blockBytes(load<u32>(s + SL_CAP)));
  store<u32>(s + SL_CAP, 0);
  store<u32>(s + SL_NEXT_FREE, freeSlot);
  freeSlot = idx + 1;
  liveKeys--;
}

/** Frees every key whose last row is more than the time to live behind the greatest timestamp. */
export function sweep(): u32 {
  let n: u32 = 0;
  if (gTtl == Infinity) return 0;
  for (let i: u32 = 0; i < slotHigh; i++) {
    const s = slotPtr(i);
    if (load<u32>(s + SL_CAP) != 0 && maxTs - load<f64>(s + SL_LAST_TS) > gTtl) {
      remove(i);
      n++;
    }
  }
  return n;
}

// ---------------------------------------------------------------------------
// Two-stack aggregates

function clearAggregates(s: usize): void {
  store<u32>(s + SL_HEAD, 0);
  store<u32>(s + SL_LEN, 0);
  store<u32>(s + SL_FRONT, 0);
  store<u32>(s + SL_COUNT, 0);
  store<u32>(s + SL_FINITE, 0);
  store<u32>(s + SL_BACK_FINITE, 0);
  store<u32>(s + SL_INF, 0);
  clearBack(s);
  store<f64>(s + SL_KR, 0);
}

function clearBack(s: usize): void {
  const op = gOp;
  let a: f64 = 0;
  if (op == OP_MIN || op == OP_MAX) a = Infinity;
  else if (op == OP_FIRST || op == OP_LAST) a = NaN;
  store<f64>(s + SL_BACK_A, a);
  store<f64>(s + SL_BACK_B, 0);
  store<f64>(s + SL_KL, 0);
  store<u32>(s + SL_BACK_FINITE, 0);
}

@inline function isFinite(x: f64): bool {
  return x - x == 0;
}

/** Adds x to the back stack's running aggregate. */
@inline function backAdd(s: usize, x: f64): void {
  const op = gOp;
  if (op == OP_SUM || op == OP_MEAN) {
    if (x == x) store<f64>(s + SL_BACK_A, load<f64>(s + SL_BACK_A) + x);
  } else if (op == OP_MIN) {
    if (x == x) store<f64>(s + SL_BACK_A, min(load<f64>(s + SL_BACK_A), x));
  } else if (op == OP_MAX) {
    // max as −min(−x): negation is exact.
    if (x == x) store<f64>(s + SL_BACK_A, min(load<f64>(s + SL_BACK_A), -x));
  } else if (op == OP_FIRST) {
    const a = load<f64>(s + SL_BACK_A);
    if (a != a && x == x) store<f64>(s + SL_BACK_A, x);
  } else if (op == OP_LAST) {
    if (x == x) store<f64>(s + SL_BACK_A, x);
  } else if (op == OP_VAR || op == OP_STD) {
    if (isFinite(x)) {
      const nb = load<u32>(s + SL_BACK_FINITE);
      if (nb == 0) store<f64>(s + SL_KL, x);
      const y = x - load<f64>(s + SL_KL);
      store<f64>(s + SL_BACK_A, load<f64>(s + SL_BACK_A) + y);
      store<f64>(s + SL_BACK_B, load<f64>(s + SL_BACK_B) + y * y);
      store<u32>(s + SL_BACK_FINITE, nb + 1);
    }
  }
}

/** Computes suffix aggregates of the first `front` entries, back aggregates of the rest. */
function rebuild(s: usize, front: u32): void {
  const block = <usize>load<u32>(s + SL_BLOCK);
  const cap = load<u32>(s + SL_CAP);
  const mask = cap - 1;
  const head = load<u32>(s + SL_HEAD);
  const len = load<u32>(s + SL_LEN);
  const op = gOp;
  store<u32>(s + SL_FRONT, front);
  if (gStride > 2 && front > 0) {
    if (op == OP_VAR || op == OP_STD) {
      let shift: f64 = 0;
      for (let k = <i32>front - 1; k >= 0; k--) {
        const x = load<f64>(entry(block, (head + <u32>k) & mask) + 8);
        if (isFinite(x)) {
          shift = x;
          break;
        }
      }
      store<f64>(s + SL_KR, shift);
      let s1: f64 = 0, s2: f64 = 0;
      for (let k = <i32>front - 1; k >= 0; k--) {
        const e = entry(block, (head + <u32>k) & mask);
        const x = load<f64>(e + 8);
        if (isFinite(x)) {
          const y = x - shift;
          s1 += y;
          s2 += y * y;
        }
        store<f64>(e + 16, s1);
        store<f64>(e + 24, s2);
      }
    } else {
      let acc: f64 = 0;
      if (op == OP_MIN || op == OP_MAX) acc = Infinity;
      else if (op == OP_FIRST || op == OP_LAST) acc = NaN;
      for (let k = <i32>front - 1; k >= 0; k--) {
        const e = entry(block, (head + <u32>k) & mask);
        const x = load<f64>(e + 8);
        if (x == x) {
          if (op == OP_SUM || op == OP_MEAN) acc += x;
          else if (op == OP_MIN) acc = min(acc, x);
          else if (op == OP_MAX) acc = min(acc, -x);
          else if (op == OP_FIRST) acc = x;
          else if (acc != acc) acc = x; // OP_LAST: the last non-NaN at or after this entry
        }
        store<f64>(e + 16, acc);
      }
    }
  }
  clearBack(s);
  for (let k = front; k < len; k++) backAdd(s, load<f64>(entry(block, (head + k) & mask) + 8));
}

/** Doubles a key's ring; returns false when out of memory. */
function grow(s: usize): bool {
  const cap = load<u32>(s + SL_CAP);
  const newCap = cap << 1;
  const old = <usize>load<u32>(s + SL_BLOCK);
  const block = alloc(blockBytes(newCap));
  if (block == 0) return false;
  const head = load<u32>(s + SL_HEAD);
  const len = load<u32>(s + SL_LEN);
  const es = <usize>gStride << 3;
  // Unwrap: entries [head, cap) then [0, head) to the start of the new block.
  const first = min(len, cap - head);
  memory.copy(block, entry(old, head), <usize>first * es);
  if (len > first) memory.copy(block + <usize>first * es, old, <usize>(len - first) * es);
  if (gSorted) {
    memory.copy(sortedBase(block, newCap), sortedBase(old, cap), <usize>load<u32>(s + SL_COUNT) << 3);
  }
  free(old, blockBytes(cap));
  store<u32>(s + SL_BLOCK, <u32>block);
  store<u32>(s + SL_CAP, newCap);
  store<u32>(s + SL_HEAD, 0);
  return true;
}

/** Index of the first sorted value ≥ x (lower) or > x (upper). */
@inline function searchSorted(base: usize, n: u32, x: f64, upper: bool): u32 {
  let lo: u32 = 0, hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const v = load<f64>(base + (<usize>mid << 3));
    if (upper ? v <= x : v < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Appends a row; returns false when out of memory. */
function append(s: usize, t: f64, x: f64): bool {
  let len = load<u32>(s + SL_LEN);
  if (len == load<u32>(s + SL_CAP) && !grow(s)) return false;
  const cap = load<u32>(s + SL_CAP);
  const block = <usize>load<u32>(s + SL_BLOCK);
  const e = entry(block, (load<u32>(s + SL_HEAD) + len) & (cap - 1));
  store<f64>(e, t);
  store<f64>(e + 8, x);
  store<u32>(s + SL_LEN, len + 1);
  if (x == x) {
    const count = load<u32>(s + SL_COUNT);
    if (gSorted) {
      const base = sortedBase(block, cap);
      const at = searchSorted(base, count, x, true);
      const p = base + (<usize>at << 3);
      memory.copy(p + 8, p, <usize>(count - at) << 3);
      store<f64>(p, x);
    }
    store<u32>(s + SL_COUNT, count + 1);
    if (isFinite(x)) store<u32>(s + SL_FINITE, load<u32>(s + SL_FINITE) + 1);
    else store<u32>(s + SL_INF, load<u32>(s + SL_INF) + 1);
  }
  backAdd(s, x);
  return true;
}

/** Removes the oldest row. */
function pop(s: usize): void {
  let front = load<u32>(s + SL_FRONT);
  const len = load<u32>(s + SL_LEN);
  if (front == 0 && gStride > 2) {
    rebuild(s, len);
    front = len;
  }
  const cap = load<u32>(s + SL_CAP);
  const block = <usize>load<u32>(s + SL_BLOCK);
  const head = load<u32>(s + SL_HEAD);
  const x = load<f64>(entry(block, head) + 8);
  if (x == x) {
    const count = load<u32>(s + SL_COUNT);
    if (gSorted) {
      const base = sortedBase(block, cap);
      const at = searchSorted(base, count, x, false);
      const p = base + (<usize>at << 3);
      memory.copy(p, p + 8, <usize>(count - at - 1) << 3);
    }
    store<u32>(s + SL_COUNT, count - 1);
    if (isFinite(x)) store<u32>(s + SL_FINITE, load<u32>(s + SL_FINITE) - 1);
    else store<u32>(s + SL_INF, load<u32>(s + SL_INF) - 1);
  }
  store<u32>(s + SL_HEAD, (head + 1) & (cap - 1));
  store<u32>(s + SL_LEN, len - 1);
  store<u32>(s + SL_FRONT, front > 0 ? front - 1 : 0);
}

/** Drops entries that are out of the window of a row at time t. */
@inline function expire(s: usize, t: f64): void {
  const bound = t - gWindow;
  const es = <usize>gStride << 3;
  const leftClosed = gLeftClosed;
  while (load<u32>(s + SL_LEN) > 0) {
    const h = load<f64>(<usize>load<u32>(s + SL_BLOCK) + (<usize>load<u32>(s + SL_HEAD)) * es);
    if (leftClosed ? h < bound : h <= bound) pop(s);
    else break;
  }
}

/** The aggregate of the key's current window. */
function query(s: usize): f64 {
  const op = gOp;
  const count = <i32>load<u32>(s + SL_COUNT);
  // minPeriods counts non-NaN rows, for count too (as the core kernels; pandas 1.5 counted NaN rows).
  if (count < gMinPeriods) return NaN;
  if (op == OP_COUNT) return <f64>count;
  const front = load<u32>(s + SL_FRONT);
  const block = <usize>load<u32>(s + SL_BLOCK);
  const cap = load<u32>(s + SL_CAP);
  const e = entry(block, load<u32>(s + SL_HEAD));
  if (op == OP_SUM || op == OP_MEAN) {
    const f: f64 = front > 0 ? load<f64>(e + 16) : 0;
    const sum = f + load<f64>(s + SL_BACK_A);
    if (op == OP_SUM) return sum;
    return count > 0 ? sum / <f64>count : NaN;
  }
  if (count == 0) return NaN;
  if (op == OP_MIN || op == OP_MAX) {
    const f: f64 = front > 0 ? load<f64>(e + 16) : Infinity;
    const m = min(f, load<f64>(s + SL_BACK_A));
    return op == OP_MAX ? -m : m;
  }
  if (op == OP_FIRST) {
    let f: f64 = front > 0 ? load<f64>(e + 16) : NaN;
    if (f != f) f = load<f64>(s + SL_BACK_A);
    return f;
  }
  if (op == OP_LAST) {
    let l = load<f64>(s + SL_BACK_A);
    if (l != l && front > 0) l = load<f64>(e + 16);
    return l;
  }
  if (op == OP_VAR || op == OP_STD) {
    const finite = <i32>load<u32>(s + SL_FINITE);
    const ddof = gP0;
    const nFinite = <f64>finite;
    if (load<u32>(s + SL_INF) != 0 || !(nFinite - ddof > 0)) return NaN;
    const nL = <i32>load<u32>(s + SL_BACK_FINITE);
    const nR = finite - nL;
    const s1R: f64 = front > 0 ? load<f64>(e + 16) : 0;
    const s2R: f64 = front > 0 ? load<f64>(e + 24) : 0;
    const d: f64 = nR > 0 && nL > 0 ? load<f64>(s + SL_KR) - load<f64>(s + SL_KL) : 0;
    const nRf = <f64>nR;
    const s1 = s1R + nRf * d + load<f64>(s + SL_BACK_A);
    const s2 = s2R + d * (2 * s1R + nRf * d) + load<f64>(s + SL_BACK_B);
    let m2 = s2 - (s1 * s1) / nFinite;
    if (!(m2 > 0)) m2 = 0;
    const v = m2 / (nFinite - ddof);
    return op == OP_STD ? Math.sqrt(v) : v;
  }
  // median / quantile
  const base = sortedBase(block, cap);
  const n = count;
  if (op == OP_MEDIAN) {
    if (n & 1) return load<f64>(base + (<usize>((n - 1) >> 1) << 3));
    return (load<f64>(base + (<usize>((n >> 1) - 1) << 3)) + load<f64>(base + (<usize>(n >> 1) << 3))) / 2;
  }
  const idx = gP0 * <f64>(n - 1);
  const lo = Math.floor(idx);
  const vlo = load<f64>(base + (<usize>(<i32>lo) << 3));
  if (idx == lo) return vlo;
  const vhi = load<f64>(base + (<usize>(<i32>lo + 1) << 3));
  return vlo + (vhi - vlo) * (idx - lo);
}

// ---------------------------------------------------------------------------
// Batches

/**
 * Checks n rows before any of them is processed: inserts unseen keys and
 * records each row's slot. With `cont`, continues the check of the previous
 * call (a batch larger than the IO buffers is checked in chunks). Returns −1 when every row is in order for its key,
 * else the index of the first row whose timestamp is below its key's last
 * timestamp (−2 − i when memory ran out at row i). Nothing else changes.
 */
export function check(n: i32, cont: i32): i32 {
  if (cont == 0) {
    epoch++;
    checkMaxTs = maxTs;
  }
  let mts = checkMaxTs;
  const ttl = gTtl;
  const keyed = gKeyed;
  for (let i = 0; i < n; i++) {
    const t = load<f64>(pTs + (<usize>i << 3));
    let idx: u32 = 0;
    if (keyed) {
      const key = load<u32>(pKey + (<usize>i << 2));
      idx = find(key);
      if (idx == 0) {
        idx = insert(key);
        if (idx == 0) return -2 - i;
      }
      idx--;
    } else if (slotHigh == 0 || load<u32>(slotPtr(0) + SL_CAP) == 0) {
      if (insert(0) == 0) return -2 - i;
    }
    store<u32>(pSlotIdx + (<usize>i << 2), idx);
    const s = slotPtr(idx);
    let last = load<u32>(s + SL_EPOCH) == epoch ? load<f64>(s + SL_SCRATCH) : load<f64>(s + SL_LAST_TS);
    if (mts - last > ttl) last = -Infinity;
    if (t < last) return i;
    store<u32>(s + SL_EPOCH, epoch);
    store<f64>(s + SL_SCRATCH, t);
    if (t > mts) mts = t;
  }
  checkMaxTs = mts;
  return -1;
}

/** Processes n rows that passed check(n); returns −1, or −2 − i when memory ran out at row i. */
export function update(n: i32): i32 {
  const ttl = gTtl;
  const rightClosed = gRightClosed;
  for (let i = 0; i < n; i++) {
    const t = load<f64>(pTs + (<usize>i << 3));
    const x = load<f64>(pVal + (<usize>i << 3));
    const s = slotPtr(load<u32>(pSlotIdx + (<usize>i << 2)));
    if (maxTs - load<f64>(s + SL_LAST_TS) > ttl) clearAggregates(s); // idle past its time to live: forgotten
    expire(s, t);
    let y: f64;
    if (rightClosed) {
      if (!append(s, t, x)) return -2 - i;
      y = query(s);
    } else {
      y = query(s);
      if (!append(s, t, x)) return -2 - i;
    }
    store<f64>(pOut + (<usize>i << 3), y);
    store<f64>(s + SL_LAST_TS, t);
    if (t > maxTs) maxTs = t;
  }
  return -1;
}

// ---------------------------------------------------------------------------
// Logical snapshots

/** Key of slot i; slotLen(i) < 0 when the slot is free. */
export function slotKey(i: u32): u32 {
  return load<u32>(slotPtr(i) + SL_KEY);
}
export function slotLen(i: u32): i32 {
  const s = slotPtr(i);
  return load<u32>(s + SL_CAP) == 0 ? -1 : <i32>load<u32>(s + SL_LEN);
}
export function slotFront(i: u32): u32 {
  return load<u32>(slotPtr(i) + SL_FRONT);
}
export function slotLastTs(i: u32): f64 {
  return load<f64>(slotPtr(i) + SL_LAST_TS);
}

/** Copies entries [from, from + n) of slot i, in order, to the ts and value buffers. */
export function exportRows(i: u32, from: u32, n: i32): void {
  const s = slotPtr(i);
  const block = <usize>load<u32>(s + SL_BLOCK);
  const mask = load<u32>(s + SL_CAP) - 1;
  const head = load<u32>(s + SL_HEAD);
  for (let k = 0; k < n; k++) {
    const e = entry(block, (head + from + <u32>k) & mask);
    store<f64>(pTs + (<usize>k << 3), load<f64>(e));
    store<f64>(pVal + (<usize>k << 3), load<f64>(e + 8));
  }
}

/** Creates an empty key (absent before); returns slot index + 1, 0 when out of memory. */
export function importKey(key: u32, lastTs: f64): u32 {
  const idx = insert(key);
  if (idx != 0) store<f64>(slotPtr(idx - 1) + SL_LAST_TS, lastTs);
  return idx;
}

/** Appends n rows from the ts and value buffers to slot i (no output); false when out of memory. */
export function importRows(i: u32, n: i32): bool {
  const s = slotPtr(i);
  for (let k = 0; k < n; k++) {
    if (!append(s, load<f64>(pTs + (<usize>k << 3)), load<f64>(pVal + (<usize>k << 3)))) return false;
  }
  return true;
}

/** Sets the front/back boundary of slot i and rebuilds its aggregates. */
export function importFinish(i: u32, front: u32): void {
  rebuild(slotPtr(i), front);
}
