// Keyed rolling aggregates over event-time windows of a fixed duration:
// pandas' `df.rolling('5s', on='ts')` and `df.groupby(key).rolling(...)`.
//
// One instance holds every key. Memory layout (its own, not common.ts's: the
// state grows with the number of keys, so it sits last, where memory grows):
//
//   [static data][arena →]
//
// Everything lives in an arena of blocks, each behind an 8-byte header (its
// size and its owner), allocated by bumping the top: the IO buffers (ts, values, output, keys,
// slot index per row, grouped rows; they grow on demand with reserve(), up to
// MAX_IO rows), an open-addressing hash table of (key, slot) pairs (linear
// probing, backward-shift deletion; keys inline, so a lookup touches one
// cache line), a table of fixed-size slot records (64 bytes, 104 for
// var/std), and one block per key holding a ring of (ts, value) entries of 16
// bytes, whose capacity (a multiple of 4) grows when full (nextCap: by 8 up
// to 64, then by a sixteenth), then the front's kept suffix aggregates (every
// SUF_K-th position; see below), or for median/quantile a sorted array of the
// window's non-NaN values.
// Freed blocks (a ring that grew, a key removed) are merged with the free
// blocks next to them, and given back at once when they end at the top. A
// ring grows into the free room around it when that is large enough: rings
// growing in lockstep (every key of a stream at once, in address order) each
// take the room the one before left, so the arena barely grows past the
// state. The rest is garbage until compact() slides the live blocks down over
// it, fixing each owner's pointer. The host calls maybeCompact() between
// batches; update() also compacts between two keys once freed blocks pass an
// eighth of the arena.
//
// A batch is processed grouped by key: check() finds every row's slot and
// lists the keys of the batch; update() sorts the rows by key (a counting
// sort, stable: each key's rows stay in arrival order), then runs each key's
// rows one after the other while its slot and ring are in cache, and writes
// every result back to its row. Each key sees exactly the operations, in the
// same order, as row-by-row processing would give it, so results are the same
// bits; the only cross-key input, the greatest timestamp before each row
// (for the time to live), is recorded per row by check().
// Several ops over the same rows group them once: after an instance's
// update(), the host copies its grouping (grouped rows, each row's place, the
// keys and ends of their runs) into another instance, whose follow() looks
// each key up once and runs its own aggregate over the runs.
//
// Aggregates never subtract what left the window: each key's ring is a
// two-stack queue. Entries [head, head + front) are the "front" stack with
// suffix aggregates computed once when it was formed ("flip"), folded from its
// newest entry to its oldest; only every SUF_K-th is kept (by position in the
// front as formed), and the suffix at the head is folded again from the next
// kept one down, in the same order: the same bits as keeping all of them, for
// an eighth of the suffixes' bytes (at most SUF_K − 1 folds per query). The rest is the
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

import { isExtreme, scaledVariance } from '../scaled';

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

// Slot record layout (bytes): the fields every op uses, then var/std's (a
// slot of another op stops at SLOT_BYTES_BASE: 64 bytes instead of 104).
const SL_KEY: usize = 0; // u32
const SL_CAP: usize = 4; // u32: ring capacity (entries); 0 = free slot
const SL_HEAD: usize = 8; // u32: physical index of the oldest entry
const SL_LEN: usize = 12; // u32: entries in the window
const SL_FRONT: usize = 16; // u32: entries in the front stack
const SL_BLOCK: usize = 20; // u32: pointer to the block
const SL_COUNT: usize = 24; // u32: non-NaN entries
const SL_INSERTED_BEFORE: usize = 28; // u32: the key inserted before it in the current check (slot + 1; 0: none), while that check lasts
const SL_NEXT_FREE: usize = 32; // u32: next free slot + 1 (free slots only)
const SL_FLIP: usize = 36; // u32: entries of the front stack when it was formed (suffix positions count from its first)
const SL_LAST_TS: usize = 40; // f64: timestamp of the key's last row (−Inf: none)
// 48: f64, unused (the batch's last timestamp is in the batch table)
const SL_BACK_A: usize = 56; // f64: back aggregate (sum, min, max, first, last, or S1)
const SLOT_BYTES_BASE: usize = 64;
// var/std only:
const SL_FINITE: usize = 64; // u32: finite entries
const SL_BACK_FINITE: usize = 68; // u32: finite entries in the back stack
const SL_INF: usize = 72; // u32: ±Inf entries
const SL_EXTREME: usize = 76; // u32: entries whose squares could overflow or be subnormal
const SL_BACK_B: usize = 80; // f64: back S2
const SL_KL: usize = 88; // f64: back shift
const SL_KR: usize = 96; // f64: front shift
const SLOT_BYTES_VAR: usize = 104;
/** Bytes per slot record: SLOT_BYTES_VAR for var/std, else SLOT_BYTES_BASE. */
let slotBytes: usize = SLOT_BYTES_BASE;

/** Ring capacities are multiples of 4 entries (nextCap). */
const MIN_RING: u32 = 8;
/** A front suffix aggregate is kept at every SUF_K-th position of the front; the others are folded again from the next kept one. */
const SUF_K: u32 = 8;
/** Bytes per ring entry: ts f64, value f64. */
const ES: usize = 16;
/**
 * Block header: u32 size (bytes, header included, a multiple of 8; bit 0 set
 * when the block before it is free), u32 owner. A free block also ends with
 * its size (u32), so the block after it finds its start: adjacent free blocks
 * are merged, and a ring grows into the free room before or after it.
 */
const HDR: usize = 8;
const PREV_FREE: u32 = 1;
/** Smallest free block (header and footer apart); smaller remainders stay in the block carved from them. */
const MIN_FREE: usize = 16;
// Owners: a slot index (its ring block), or one of these.
const OWNER_FREE: u32 = 0xffffffff;
const OWNER_HTAB: u32 = 0xfffffff0;
const OWNER_SLOTS: u32 = 0xfffffff1;
const OWNER_BATCH: u32 = 0xfffffff2;
const OWNER_DIRECT: u32 = 0xfffffff3;
/**
 * The batch table: per slot, what check() and update() touch for each row
 * (16 bytes, next to each other for neighbouring slots, where the slot
 * records are 64 or 104 bytes apart): the last timestamp within the batch
 * being checked (f64), the key's rows in the batch then its group cursor
 * (u32), and the batch epoch of those two (u32). Scratch, not state: only
 * meaningful within a batch.
 */
const BT_SCRATCH: usize = 0;
const BT_CURSOR: usize = 8;
const BT_EPOCH: usize = 12;
const BT_BYTES: usize = 16;
/**
 * The direct table: slot index + 1 of every live key below its capacity
 * (0: absent), so that a small key id needs no hash probe. Kept beside the
 * hash table (which holds every key), for key ids below DIRECT_LIMIT, and
 * only while it is at most DIRECT_SPREAD entries per live key (4 bytes each),
 * so that sparse ids do not make the state large.
 */
const DIRECT_LIMIT: u32 = 1 << 16;
const DIRECT_SPREAD: u32 = 16;
/** IO buffers: OWNER_IO + 0 … 7 (ts, val, out, key, slotIdx, touched, rec, maxBefore). */
const OWNER_IO: u32 = 0xffffff00;
/** Largest IO capacity reserve() grows to (rows per update()). */
const MAX_IO: i32 = 1 << 20;
/** Bytes per grouped row: ts f64, value f64 (+ greatest earlier timestamp f64 with a finite ttl). */
let recBytes: usize = 16;

// Parameters.
let gOp: i32 = 0;
let gWindow: f64 = 1;
let gLeftClosed: bool = false;
let gRightClosed: bool = true;
let gMinPeriods: i32 = 1;
let gP0: f64 = 0; // ddof or q
let gKeyed: bool = false;
let gTtl: f64 = Infinity;
let gSufWidth: i32 = 1; // f64 per kept front suffix (0: no two-stack; 2: var's S1, S2)
let gSorted: bool = false;
let gVar: bool = false; // var/std: the slot's var fields exist (slotBytes)

// IO.
let ioCap: i32 = 0;
let pTs: usize = 0;
let pVal: usize = 0;
let pKey: usize = 0;
let pSlotIdx: usize = 0; // u32 per row: its slot (check), then its place in the grouped order (update)
let pOut: usize = 0;
let pRec: usize = 0; // grouped rows, recBytes each; results in grouped order go to pVal
let pMaxBefore: usize = 0; // f64 per row: greatest timestamp before the row (only with a finite ttl)
let pTouched: usize = 0; // u32 per row: slots of the batch, in order of first row
let nTouched: i32 = 0;
let checkedRows: i32 = 0;

// State.
let arenaBase: usize = 0;
let arenaTop: usize = 0;
let garbage: usize = 0; // bytes of freed blocks below arenaTop
let htab: usize = 0;
let htabCap: u32 = 0;
let slots: usize = 0;
let slotCap: u32 = 0;
let batch: usize = 0; // the batch table: slotCap entries of BT_BYTES
let direct: usize = 0; // the direct table: directCap u32
let directCap: u32 = 0;
let slotHigh: u32 = 0; // slots ever used (indices < slotHigh)
let freeSlot: u32 = 0; // first free slot + 1
let liveKeys: u32 = 0;
let epoch: u32 = 0;
let maxTs: f64 = -Infinity;
let checkMaxTs: f64 = -Infinity; // running greatest timestamp of the rows being checked
let checkInserted: u32 = 0; // the last key the current check inserted (slot + 1; 0: none), the top of a stack through SL_INSERTED_BEFORE
/** The greatest |timestamp| (ms) the host accepts (2^53). */
const MAX_TIMESTAMP: f64 = 9007199254740992;

// ---------------------------------------------------------------------------
// Memory

function ensureMemory(end: usize): bool {
  const have = (<usize>memory.size()) << 16;
  if (end <= have) return true;
  const pages = <i32>((end - have + 0xffff) >>> 16);
  return memory.grow(pages) >= 0;
}

@inline function blockSize(bytes: usize): usize {
  return (bytes + HDR + 7) & ~(<usize>7);
}

/** A block of at least `bytes` bytes for `owner`, 0 when memory cannot grow. */
function alloc(bytes: usize, owner: u32): usize {
  const size = blockSize(bytes);
  const top = arenaTop;
  if (!ensureMemory(top + size)) return 0;
  store<u32>(top, <u32>size);
  store<u32>(top, owner, 4);
  arenaTop = top + size;
  return top + HDR;
}

@inline function sizeAt(h: usize): usize {
  return <usize>(load<u32>(h) & ~PREV_FREE);
}

@inline function isFreeAt(h: usize): bool {
  return h < arenaTop && load<u32>(h, 4) == OWNER_FREE;
}

/** Start of the free room around the block at h: the free block before it, if any. */
@inline function roomStart(h: usize): usize {
  return load<u32>(h) & PREV_FREE ? h - <usize>load<u32>(h - 4) : h;
}

/** End of the free room around the block at h: past the free block after it, if any. */
@inline function roomEnd(h: usize): usize {
  const end = h + sizeAt(h);
  return isFreeAt(end) ? end + sizeAt(end) : end;
}

/**
 * Marks [start, end) free (its bytes already counted in garbage): one free
 * block with its footer, flagged in the next block's header; given back to
 * the top when it ends there.
 */
function markFree(start: usize, end: usize): void {
  if (end == arenaTop) {
    arenaTop = start;
    garbage -= end - start;
    return;
  }
  const size = <u32>(end - start);
  store<u32>(start, size); // the block before a free block is live
  store<u32>(start, OWNER_FREE, 4);
  store<u32>(end - 4, size);
  store<u32>(end, load<u32>(end) | PREV_FREE);
}

/** Frees a block, merged with the free blocks next to it. */
function free(p: usize): void {
  const h = p - HDR;
  garbage += sizeAt(h);
  const start = roomStart(h);
  markFree(start, roomEnd(h));
}

/** Points the owner of a block that moved to `p`. */
function relocate(owner: u32, p: usize): void {
  if (owner < OWNER_IO) store<u32>(slotPtr(owner) + SL_BLOCK, <u32>p);
  else if (owner == OWNER_HTAB) htab = p;
  else if (owner == OWNER_SLOTS) slots = p;
  else if (owner == OWNER_BATCH) batch = p;
  else if (owner == OWNER_DIRECT) direct = p;
  else if (owner == OWNER_IO) pTs = p;
  else if (owner == OWNER_IO + 1) pVal = p;
  else if (owner == OWNER_IO + 2) pOut = p;
  else if (owner == OWNER_IO + 3) pKey = p;
  else if (owner == OWNER_IO + 4) pSlotIdx = p;
  else if (owner == OWNER_IO + 5) pTouched = p;
  else if (owner == OWNER_IO + 6) pRec = p;
  else pMaxBefore = p;
}

/**
 * Slides every live block down over the freed ones (in address order, so a
 * block never lands on one not yet moved) and points its owner at it. Moves
 * the IO buffers and the tables: call it only between batches.
 */
export function compact(): void {
  if (tablesMostlyEmpty()) shrinkTables();
  compactBlocks();
}

/** The key tables hold 4 times the slots of the live keys (many were removed). */
@inline function tablesMostlyEmpty(): bool {
  return slotCap > 16 && liveKeys * 4 < slotCap;
}

/** Bumped whenever blocks move (the host re-reads the IO buffers' pointers). */
let moves: u32 = 0;
export function layoutVersion(): u32 {
  return moves;
}

/**
 * compact() without renumbering slots: also safe inside update() between two
 * keys (every pointer there is re-read from the globals that relocate() fixes).
 */
function compactBlocks(): void {
  moves++;
  const end = arenaTop;
  let p = arenaBase;
  let dst = arenaBase;
  while (p < end) {
    const size = sizeAt(p);
    const owner = load<u32>(p, 4);
    if (owner != OWNER_FREE) {
      if (dst != p) {
        memory.copy(dst, p, size);
        store<u32>(dst, <u32>size); // no free block before it any more
        relocate(owner, dst + HDR);
      }
      dst += size;
    }
    p += size;
  }
  arenaTop = dst;
  garbage = 0;
}

/**
 * After many keys were removed: renumbers the live slots 0 … liveKeys − 1 (in
 * their order) into a slot table sized for them, and rebuilds the hash table
 * at its size for them. Skipped when memory cannot grow for the new tables.
 */
function shrinkTables(): void {
  let cap: u32 = 16;
  while (cap < liveKeys) cap <<= 1;
  let hcap: u32 = 16;
  while (liveKeys * 2 > hcap) hcap <<= 1;
  if (!ensureMemory(arenaTop + blockSize(<usize>cap * slotBytes) + blockSize(<usize>cap * BT_BYTES) + blockSize(<usize>hcap << 3))) return;
  let j: u32 = 0;
  for (let i: u32 = 0; i < slotHigh; i++) {
    const s = slotPtr(i);
    if (load<u32>(s + SL_CAP) == 0) continue;
    if (j != i) memory.copy(slotPtr(j), s, slotBytes);
    store<u32>(<usize>load<u32>(slotPtr(j) + SL_BLOCK) - HDR, j, 4); // the ring's owner
    j++;
  }
  slotHigh = j;
  freeSlot = 0;
  const table = alloc(<usize>cap * slotBytes, OWNER_SLOTS);
  memory.copy(table, slots, <usize>j * slotBytes);
  free(slots);
  slots = table;
  slotCap = cap;
  // Between batches: the batch table holds nothing to keep.
  free(batch);
  batch = alloc(<usize>cap * BT_BYTES, OWNER_BATCH);
  memory.fill(batch, 0, <usize>cap * BT_BYTES);
  const h = alloc(<usize>hcap << 3, OWNER_HTAB);
  memory.fill(h, 0, <usize>hcap << 3);
  for (let i: u32 = 0; i < j; i++) htabInsert(h, hcap, load<u32>(slotPtr(i) + SL_KEY), i + 1);
  free(htab);
  htab = h;
  htabCap = hcap;
  rebuildDirect();
}

/** The direct table made again for the live keys (after shrinkTables renumbered them), at the size they need. */
function rebuildDirect(): void {
  if (direct != 0) free(direct);
  direct = 0;
  directCap = 0;
  let top: u32 = 0;
  for (let i: u32 = 0; i < slotHigh; i++) {
    const s = slotPtr(i);
    const key = load<u32>(s + SL_KEY);
    if (load<u32>(s + SL_CAP) != 0 && key < DIRECT_LIMIT && key >= top) top = key + 1;
  }
  if (top > 0) growDirect(top - 1);
}

/**
 * Makes the direct table cover key (below DIRECT_LIMIT) when that keeps it
 * within DIRECT_SPREAD entries per live key, filled from the slots; false
 * when it does not (the key stays in the hash table alone).
 */
function growDirect(key: u32): bool {
  let cap: u32 = max<u32>(directCap, 256);
  while (cap <= key) cap <<= 1;
  if (cap > DIRECT_LIMIT || cap > DIRECT_SPREAD * (liveKeys + 1)) return false;
  const table = alloc(<usize>cap << 2, OWNER_DIRECT);
  if (table == 0) return false;
  memory.fill(table, 0, <usize>cap << 2);
  for (let i: u32 = 0; i < slotHigh; i++) {
    const s = slotPtr(i);
    const k = load<u32>(s + SL_KEY);
    if (load<u32>(s + SL_CAP) != 0 && k < cap) store<u32>(table + (<usize>k << 2), i + 1);
  }
  if (direct != 0) free(direct);
  direct = table;
  directCap = cap;
  return true;
}

/**
 * compact() when freed blocks are over an eighth of the arena (amortized O(1)
 * per byte allocated), or the key tables are mostly empty (freed blocks at the
 * top are given back at once, so removed keys may leave little garbage);
 * whether it did.
 */
export function maybeCompact(): bool {
  if (garbage * 8 <= arenaTop - arenaBase && !tablesMostlyEmpty()) return false;
  compact();
  return true;
}

@inline function blockBytes(cap: u32): usize {
  return (<usize>cap) * ES + sufBytes(cap) + (gSorted ? (<usize>cap) << 3 : 0);
}

/** Bytes of a ring's kept front suffixes: one per SUF_K positions (the last maybe partial). */
@inline function sufBytes(cap: u32): usize {
  return (<usize>((cap + SUF_K - 1) / SUF_K)) * (<usize>gSufWidth << 3);
}

/**
 * The ring's next capacity: 8 entries more up to 64, then a sixteenth more in
 * steps of 4 (copies stay amortized O(1) per row; unused room ≤ 1/16 once
 * past 64 entries, the bulk of a large state).
 */
@inline function nextCap(cap: u32): u32 {
  return cap < 64 ? cap + 8 : cap + max<u32>(4, (cap >> 4) & ~(<u32>3));
}

/** i mod cap for i < 2·cap (capacities are not powers of two). */
@inline function wrapAt(i: u32, cap: u32): u32 {
  return i >= cap ? i - cap : i;
}

@inline function slotPtr(i: u32): usize {
  return slots + (<usize>i) * slotBytes;
}

@inline function batchPtr(i: u32): usize {
  return batch + (<usize>i << 4);
}

@inline function entry(block: usize, idx: u32): usize {
  return block + (<usize>idx) * ES;
}

/** Median/quantile: the sorted non-NaN values, after the ring. */
@inline function sortedBase(block: usize, cap: u32): usize {
  return block + (<usize>cap) * ES;
}

/** The kept front suffixes (the other ops), after the ring: entry j is the suffix at front position j·SUF_K. */
@inline function sufBase(block: usize, cap: u32): usize {
  return block + (<usize>cap) * ES;
}

@inline function hashOf(key: u32): u32 {
  let h = key * 0x9e3779b1;
  h ^= h >>> 15;
  return h;
}

// Hash table entries: (key u32, slot index + 1 u32); slot 0 = empty.
@inline function hEntry(table: usize, h: u32): usize {
  return table + (<usize>h << 3);
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
  gVar = op == OP_VAR || op == OP_STD;
  if (op == OP_COUNT || gSorted) gSufWidth = 0;
  else if (gVar) gSufWidth = 2;
  else gSufWidth = 1;
  slotBytes = gVar ? SLOT_BYTES_VAR : SLOT_BYTES_BASE;
  ioCap = min(capacity, MAX_IO);
  arenaBase = (__heap_base + 63) & ~(<usize>63);
  if (!ensureMemory(arenaBase + 128)) return ERR_MEMORY;
  return resetState() ? OK : ERR_MEMORY;
}

/** Bytes of the IO buffers of cap rows, headers included. */
function ioBytes(cap: i32): usize {
  const c = <usize>cap;
  const rb: usize = gTtl == Infinity ? 16 : 24;
  return 3 * blockSize(c * 8) + 3 * blockSize(c * 4) + blockSize(c * rb) + (gTtl == Infinity ? 0 : blockSize(c * 8));
}

/** Allocates the IO buffers of cap rows; false when memory cannot grow (check ioBytes first). */
function allocIo(cap: i32): bool {
  const c = <usize>cap;
  if (!ensureMemory(arenaTop + ioBytes(cap))) return false;
  pTs = alloc(c * 8, OWNER_IO);
  pVal = alloc(c * 8, OWNER_IO + 1);
  pOut = alloc(c * 8, OWNER_IO + 2);
  pKey = alloc(c * 4, OWNER_IO + 3);
  pSlotIdx = alloc(c * 4, OWNER_IO + 4);
  pTouched = alloc(c * 4, OWNER_IO + 5);
  recBytes = gTtl == Infinity ? 16 : 24;
  pRec = alloc(c * recBytes, OWNER_IO + 6);
  pMaxBefore = gTtl == Infinity ? 0 : alloc(c * 8, OWNER_IO + 7);
  return true;
}

function freeIo(): void {
  free(pTs);
  free(pVal);
  free(pOut);
  free(pKey);
  free(pSlotIdx);
  free(pTouched);
  free(pRec);
  if (pMaxBefore != 0) free(pMaxBefore);
}

/**
 * Grows the IO buffers to hold at least n rows (up to MAX_IO); returns the
 * capacity (unchanged when memory cannot grow). Buffers move: re-read the
 * pointers. Their contents are not kept.
 */
export function reserve(n: i32): i32 {
  if (n <= ioCap || ioCap >= MAX_IO) return ioCap;
  let cap = ioCap;
  while (cap < n && cap < MAX_IO) cap <<= 1;
  // Memory first: the old buffers stay when it cannot grow.
  if (!ensureMemory(arenaTop + ioBytes(cap))) return ioCap;
  freeIo();
  // The freed buffers are garbage below the keys' blocks: slid over now, before the new ones are placed on top, so a compaction never copies buffers whose contents are not kept.
  compactBlocks();
  allocIo(cap);
  ioCap = cap;
  return ioCap;
}

function resetState(): bool {
  arenaTop = arenaBase;
  garbage = 0;
  liveKeys = 0;
  slotHigh = 0;
  freeSlot = 0;
  epoch = 0;
  nTouched = 0;
  checkedRows = 0;
  maxTs = -Infinity;
  if (!allocIo(ioCap)) return false;
  htabCap = 16;
  htab = alloc(<usize>htabCap << 3, OWNER_HTAB);
  slotCap = 16;
  slots = alloc(<usize>slotCap * slotBytes, OWNER_SLOTS);
  batch = alloc(<usize>slotCap * BT_BYTES, OWNER_BATCH);
  direct = 0;
  directCap = 0;
  if (htab == 0 || slots == 0 || batch == 0) return false;
  memory.fill(htab, 0, <usize>htabCap << 3);
  memory.fill(batch, 0, <usize>slotCap * BT_BYTES);
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
/** Bytes of the state: the arena's live blocks but the IO buffers (key tables and rings). */
export function stateBytes(): usize {
  return arenaTop - arenaBase - garbage - ioBytes(ioCap);
}
export function getMaxTs(): f64 {
  return maxTs;
}
export function setMaxTs(t: f64): void {
  maxTs = t;
}
/**
 * With a finite ttl: whether the host writes each row's greatest earlier
 * timestamp of the whole stream at maxBeforePtr() (a keyed worker gets only
 * its own keys' rows, but the time to live is against every key's) and sets
 * the greatest timestamp after each batch (setMaxTs).
 */
let gHostClock: bool = false;
export function setHostClock(on: i32): void {
  gHostClock = on != 0;
}
export function maxBeforePtr(): usize {
  return pMaxBefore;
}

// ---------------------------------------------------------------------------
// Keys

/** Slot index + 1 of a key, 0 when absent. */
@inline function find(key: u32): u32 {
  if (key < directCap) return load<u32>(direct + (<usize>key << 2));
  const mask = htabCap - 1;
  let h = hashOf(key) & mask;
  while (true) {
    const e = hEntry(htab, h);
    const v = load<u32>(e, 4);
    if (v == 0) return 0;
    if (load<u32>(e) == key) return v;
    h = (h + 1) & mask;
  }
  return 0;
}

function htabInsert(table: usize, cap: u32, key: u32, value: u32): void {
  const mask = cap - 1;
  let h = hashOf(key) & mask;
  while (load<u32>(hEntry(table, h), 4) != 0) h = (h + 1) & mask;
  const e = hEntry(table, h);
  store<u32>(e, key);
  store<u32>(e, value, 4);
}

function growHtab(): bool {
  const newCap = htabCap << 1;
  const table = alloc(<usize>newCap << 3, OWNER_HTAB);
  if (table == 0) return false;
  memory.fill(table, 0, <usize>newCap << 3);
  for (let i: u32 = 0; i < htabCap; i++) {
    const e = hEntry(htab, i);
    const v = load<u32>(e, 4);
    if (v != 0) htabInsert(table, newCap, load<u32>(e), v);
  }
  free(htab);
  htab = table;
  htabCap = newCap;
  return true;
}

function initSlot(s: usize, key: u32, block: usize): void {
  memory.fill(s, 0, slotBytes);
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
      const newCap = slotCap + max<u32>(16, slotCap >> 3); // an eighth more: slack ≤ 1/8 of the slot table
      const table = alloc(<usize>newCap * slotBytes, OWNER_SLOTS);
      if (table == 0) return 0;
      // Within a check: the batch table's entries so far are kept.
      const bt = alloc(<usize>newCap * BT_BYTES, OWNER_BATCH);
      if (bt == 0) {
        free(table);
        return 0;
      }
      memory.copy(table, slots, <usize>slotCap * slotBytes);
      free(slots);
      slots = table;
      memory.copy(bt, batch, <usize>slotCap * BT_BYTES);
      memory.fill(bt + <usize>slotCap * BT_BYTES, 0, <usize>(newCap - slotCap) * BT_BYTES);
      free(batch);
      batch = bt;
      slotCap = newCap;
    }
    idx = slotHigh++;
  }
  const block = alloc(blockBytes(MIN_RING), idx);
  if (block == 0) return 0;
  initSlot(slotPtr(idx), key, block);
  store<u32>(batchPtr(idx) + BT_EPOCH, 0);
  htabInsert(htab, htabCap, key, idx + 1);
  liveKeys++;
  if (key < directCap || (key < DIRECT_LIMIT && growDirect(key))) store<u32>(direct + (<usize>key << 2), idx + 1);
  return idx + 1;
}

/** Removes a key: backward-shift deletion in the hash table, frees its block and slot. */
function remove(idx: u32): void {
  const s = slotPtr(idx);
  const key = load<u32>(s + SL_KEY);
  const mask = htabCap - 1;
  let h = hashOf(key) & mask;
  while (load<u32>(hEntry(htab, h), 4) != idx + 1) h = (h + 1) & mask;
  // Shift later entries of the probe run back into the hole.
  let hole = h;
  let j = (h + 1) & mask;
  while (true) {
    const e = hEntry(htab, j);
    const v = load<u32>(e, 4);
    if (v == 0) break;
    const k = load<u32>(e);
    const home = hashOf(k) & mask;
    // Move the entry into the hole when its home is not cyclically in (hole, j].
    const dist = (j - home) & mask;
    const holeDist = (j - hole) & mask;
    if (dist >= holeDist) {
      const he = hEntry(htab, hole);
      store<u32>(he, k);
      store<u32>(he, v, 4);
      hole = j;
    }
    j = (j + 1) & mask;
  }
  store<u32>(hEntry(htab, hole), 0);
  store<u32>(hEntry(htab, hole), 0, 4);
  if (key < directCap) store<u32>(direct + (<usize>key << 2), 0);
  free(<usize>load<u32>(s + SL_BLOCK));
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
  store<u32>(s + SL_FLIP, 0);
  clearBack(s);
  if (gVar) {
    store<u32>(s + SL_FINITE, 0);
    store<u32>(s + SL_INF, 0);
    store<u32>(s + SL_EXTREME, 0);
    store<f64>(s + SL_KR, 0);
  }
}

function clearBack(s: usize): void {
  const op = gOp;
  let a: f64 = 0;
  if (op == OP_MIN || op == OP_MAX) a = Infinity;
  else if (op == OP_FIRST || op == OP_LAST) a = NaN;
  store<f64>(s + SL_BACK_A, a);
  if (gVar) {
    store<f64>(s + SL_BACK_B, 0);
    store<f64>(s + SL_KL, 0);
    store<u32>(s + SL_BACK_FINITE, 0);
  }
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

/** The identity of the op's suffix fold (the fold of no entry). */
@inline function foldIdentity(): f64 {
  const op = gOp;
  if (op == OP_MIN || op == OP_MAX) return Infinity;
  if (op == OP_FIRST || op == OP_LAST) return NaN;
  return 0;
}

/** One step of the front's suffix fold, from the newest entry to the oldest (not var/std). */
@inline function foldStep(acc: f64, x: f64): f64 {
  if (x != x) return acc;
  const op = gOp;
  if (op == OP_SUM || op == OP_MEAN) return acc + x;
  if (op == OP_MIN) return min(acc, x);
  if (op == OP_MAX) return min(acc, -x);
  if (op == OP_FIRST) return x;
  return acc != acc ? x : acc; // OP_LAST: the last non-NaN at or after this entry
}

// var/std's front suffix (S1, S2), from frontSuffixVar().
let sufS1: f64 = 0;
let sufS2: f64 = 0;

/**
 * The front's suffix aggregates at every position (var/std: S1 here, S2 in
 * runSuffixes2) of a front formed while a key's rows run, up to this many
 * entries: a query then loads one instead of folding up to SUF_K − 1 entries
 * from the kept one. Every suffix is the fold from the front's newest entry
 * down, in the same order either way: the same bits. Scratch of one key's
 * run (runSum's own, or fullSlot's), never state.
 */
const RUN_SUFFIXES: u32 = 4096;
const runSuffixes: usize = memory.data(<i32>RUN_SUFFIXES << 3, 16);
const runSuffixes2: usize = memory.data(<i32>RUN_SUFFIXES << 3, 16);
/** The slot whose front rebuild() last put in runSuffixes (0: none); cleared at each key's run and wherever else rebuild() runs. */
let fullSlot: usize = 0;

/**
 * Forms the front stack of the first `front` entries: their suffix
 * aggregates, folded from the newest to the oldest, kept at every SUF_K-th
 * position; back aggregates of the rest.
 */
function rebuild(s: usize, front: u32): void {
  const block = <usize>load<u32>(s + SL_BLOCK);
  const cap = load<u32>(s + SL_CAP);
  const head = load<u32>(s + SL_HEAD);
  const len = load<u32>(s + SL_LEN);
  const op = gOp;
  const suf = sufBase(block, cap);
  store<u32>(s + SL_FRONT, front);
  store<u32>(s + SL_FLIP, front);
  const full = front <= RUN_SUFFIXES;
  fullSlot = full ? s : 0;
  if (gSufWidth > 0 && front > 0) {
    if (op == OP_VAR || op == OP_STD) {
      let shift: f64 = 0;
      for (let k = <i32>front - 1; k >= 0; k--) {
        const x = load<f64>(entry(block, wrapAt(head + <u32>k, cap)) + 8);
        if (isFinite(x)) {
          shift = x;
          break;
        }
      }
      store<f64>(s + SL_KR, shift);
      let s1: f64 = 0, s2: f64 = 0;
      for (let k = <i32>front - 1; k >= 0; k--) {
        const x = load<f64>(entry(block, wrapAt(head + <u32>k, cap)) + 8);
        if (isFinite(x)) {
          const y = x - shift;
          s1 += y;
          s2 += y * y;
        }
        if (full) {
          store<f64>(runSuffixes + (<usize>k << 3), s1);
          store<f64>(runSuffixes2 + (<usize>k << 3), s2);
        }
        if ((<u32>k & (SUF_K - 1)) == 0) {
          const p = suf + ((<usize>k / SUF_K) << 4);
          store<f64>(p, s1);
          store<f64>(p, s2, 8);
        }
      }
    } else {
      let acc = foldIdentity();
      for (let k = <i32>front - 1; k >= 0; k--) {
        acc = foldStep(acc, load<f64>(entry(block, wrapAt(head + <u32>k, cap)) + 8));
        if (full) store<f64>(runSuffixes + (<usize>k << 3), acc);
        if ((<u32>k & (SUF_K - 1)) == 0) store<f64>(suf + ((<usize>k / SUF_K) << 3), acc);
      }
    }
  }
  clearBack(s);
  for (let k = front; k < len; k++) backAdd(s, load<f64>(entry(block, wrapAt(head + k, cap)) + 8));
}

/**
 * The front suffix at the head (front > 0), not var/std: the kept suffix at
 * the next multiple of SUF_K, folded on down to the head in the order the
 * flip folded: the same bits as a suffix kept at every position.
 */
@inline function frontSuffix(block: usize, cap: u32, head: u32, front: u32, flip: u32): f64 {
  const q = flip - front;
  let c = (q + SUF_K - 1) & ~(SUF_K - 1);
  let acc: f64;
  if (c >= flip) {
    c = flip;
    acc = foldIdentity();
  } else acc = load<f64>(sufBase(block, cap) + ((<usize>c / SUF_K) << 3));
  for (let j = c; j > q; ) {
    j--;
    acc = foldStep(acc, load<f64>(entry(block, wrapAt(head + (j - q), cap)) + 8));
  }
  return acc;
}

/** The front suffix at the head (front > 0), not var/std: from runSuffixes when they hold this slot's front. */
@inline function frontSuffixOf(s: usize, block: usize, cap: u32, head: u32, front: u32): f64 {
  const flip = load<u32>(s + SL_FLIP);
  if (fullSlot == s) return load<f64>(runSuffixes + (<usize>(flip - front) << 3));
  return frontSuffix(block, cap, head, front, flip);
}

/** var/std's front suffix (S1, S2 shifted by SL_KR) at the head into sufS1, sufS2; see frontSuffix. */
function frontSuffixVar(s: usize, block: usize, cap: u32, head: u32, front: u32): void {
  const flip = load<u32>(s + SL_FLIP);
  const q = flip - front;
  if (fullSlot == s) {
    sufS1 = load<f64>(runSuffixes + (<usize>q << 3));
    sufS2 = load<f64>(runSuffixes2 + (<usize>q << 3));
    return;
  }
  let c = (q + SUF_K - 1) & ~(SUF_K - 1);
  let s1: f64 = 0, s2: f64 = 0;
  if (c >= flip) c = flip;
  else {
    const p = sufBase(block, cap) + ((<usize>c / SUF_K) << 4);
    s1 = load<f64>(p);
    s2 = load<f64>(p, 8);
  }
  const shift = load<f64>(s + SL_KR);
  for (let j = c; j > q; ) {
    j--;
    const x = load<f64>(entry(block, wrapAt(head + (j - q), cap)) + 8);
    if (isFinite(x)) {
      const y = x - shift;
      s1 += y;
      s2 += y * y;
    }
  }
  sufS1 = s1;
  sufS2 = s2;
}

/**
 * A block of `bytes` for a ring that grows out of the block at `old`: in the
 * free room around it when that is large enough or ends at the top (rings
 * growing one after the other in address order, as every key of a stream
 * does at once, reuse the room each one leaves), else at the top. Sets
 * oldCopy to where the old content can be read (copied above the top when
 * the new block overlaps it) and oldToFree to the block to free once it is
 * read (0: none). Returns 0 when out of memory.
 */
let oldCopy: usize = 0;
let oldToFree: usize = 0;
function reallocRing(old: usize, bytes: usize, owner: u32): usize {
  const h = old - HDR;
  const oldSize = sizeAt(h);
  const size = blockSize(bytes);
  const start = roomStart(h);
  const end = roomEnd(h);
  const atTop = end == arenaTop;
  if (!atTop && end - start < size) {
    oldCopy = old;
    oldToFree = old;
    return alloc(bytes, owner);
  }
  const copy = max(arenaTop, start + size);
  if (!ensureMemory(copy + oldSize)) return 0;
  memory.copy(copy, h, oldSize);
  oldCopy = copy + HDR;
  oldToFree = 0;
  // The room [start, end) becomes the block and, when large enough, a free remainder (none at the top).
  garbage -= end - start - oldSize;
  let blockEnd = start + size;
  if (atTop) arenaTop = blockEnd;
  else if (end - blockEnd < MIN_FREE) blockEnd = end;
  store<u32>(start, <u32>(blockEnd - start)); // the block before the room is live
  store<u32>(start, owner, 4);
  if (!atTop) {
    if (blockEnd < end) {
      garbage += end - blockEnd;
      markFree(blockEnd, end);
    } else store<u32>(end, load<u32>(end) & ~PREV_FREE);
  }
  return start + HDR;
}

/** Grows a key's ring (nextCap); returns false when out of memory. */
function grow(s: usize): bool {
  const cap = load<u32>(s + SL_CAP);
  const newCap = nextCap(cap);
  const block = reallocRing(<usize>load<u32>(s + SL_BLOCK), blockBytes(newCap), <u32>((s - slots) / slotBytes));
  if (block == 0) return false;
  const old = oldCopy;
  const head = load<u32>(s + SL_HEAD);
  const len = load<u32>(s + SL_LEN);
  // Unwrap: entries [head, cap) then [0, head) to the start of the new block; then the arrays after the ring.
  const first = min(len, cap - head);
  memory.copy(block, entry(old, head), <usize>first * ES);
  if (len > first) memory.copy(block + <usize>first * ES, old, <usize>(len - first) * ES);
  if (gSorted) {
    memory.copy(sortedBase(block, newCap), sortedBase(old, cap), <usize>load<u32>(s + SL_COUNT) << 3);
  } else if (gSufWidth > 0) {
    // Kept suffixes are by front position, not ring index: they move as they are.
    memory.copy(sufBase(block, newCap), sufBase(old, cap), sufBytes(cap));
  }
  if (oldToFree != 0) free(oldToFree);
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
  const e = entry(block, wrapAt(load<u32>(s + SL_HEAD) + len, cap));
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
    if (gVar) {
      if (isFinite(x)) store<u32>(s + SL_FINITE, load<u32>(s + SL_FINITE) + 1);
      else store<u32>(s + SL_INF, load<u32>(s + SL_INF) + 1);
      if (isExtreme(x)) store<u32>(s + SL_EXTREME, load<u32>(s + SL_EXTREME) + 1);
    }
  }
  backAdd(s, x);
  return true;
}

/** Removes the oldest row. */
function pop(s: usize): void {
  let front = load<u32>(s + SL_FRONT);
  const len = load<u32>(s + SL_LEN);
  if (front == 0 && gSufWidth > 0) {
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
    if (gVar) {
      if (isFinite(x)) store<u32>(s + SL_FINITE, load<u32>(s + SL_FINITE) - 1);
      else store<u32>(s + SL_INF, load<u32>(s + SL_INF) - 1);
      if (isExtreme(x)) store<u32>(s + SL_EXTREME, load<u32>(s + SL_EXTREME) - 1);
    }
  }
  store<u32>(s + SL_HEAD, wrapAt(head + 1, cap));
  store<u32>(s + SL_LEN, len - 1);
  store<u32>(s + SL_FRONT, front > 0 ? front - 1 : 0);
}

/** Drops entries that are out of the window of a row at time t. */
@inline function expire(s: usize, t: f64): void {
  const bound = t - gWindow;
  const es = ES;
  const leftClosed = gLeftClosed;
  while (load<u32>(s + SL_LEN) > 0) {
    const h = load<f64>(<usize>load<u32>(s + SL_BLOCK) + (<usize>load<u32>(s + SL_HEAD)) * es);
    if (leftClosed ? h < bound : h <= bound) pop(s);
    else break;
  }
}

/** Variance of a key's window by scaledVariance over its ring (at most two runs: it may wrap). */
function extremeVariance(s: usize, block: usize, cap: u32, finite: i32, ddof: f64, isStd: bool): f64 {
  const head = load<u32>(s + SL_HEAD);
  const len = load<u32>(s + SL_LEN);
  const first = min(len, cap - head);
  const values = entry(block, head) + 8;
  return scaledVariance(values, <i32>first, block + 8, <i32>(len - first), ES, finite, ddof, isStd);
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
  const head = load<u32>(s + SL_HEAD);
  if (op == OP_SUM || op == OP_MEAN) {
    const f: f64 = front > 0 ? frontSuffixOf(s, block, cap, head, front) : 0;
    const sum = f + load<f64>(s + SL_BACK_A);
    if (op == OP_SUM) return sum;
    return count > 0 ? sum / <f64>count : NaN;
  }
  if (count == 0) return NaN;
  if (op == OP_MIN || op == OP_MAX) {
    const f: f64 = front > 0 ? frontSuffixOf(s, block, cap, head, front) : Infinity;
    const m = min(f, load<f64>(s + SL_BACK_A));
    return op == OP_MAX ? -m : m;
  }
  if (op == OP_FIRST) {
    let f: f64 = front > 0 ? frontSuffixOf(s, block, cap, head, front) : NaN;
    if (f != f) f = load<f64>(s + SL_BACK_A);
    return f;
  }
  if (op == OP_LAST) {
    let l = load<f64>(s + SL_BACK_A);
    if (l != l && front > 0) l = frontSuffixOf(s, block, cap, head, front);
    return l;
  }
  if (op == OP_VAR || op == OP_STD) {
    const finite = <i32>load<u32>(s + SL_FINITE);
    const ddof = gP0;
    const nFinite = <f64>finite;
    if (load<u32>(s + SL_INF) != 0 || !(nFinite - ddof > 0)) return NaN;
    // Sums of squares would overflow or lose precision: two scaled passes over the entries, as var.ts.
    if (load<u32>(s + SL_EXTREME) != 0) return extremeVariance(s, block, cap, finite, ddof, op == OP_STD);
    const nL = <i32>load<u32>(s + SL_BACK_FINITE);
    const nR = finite - nL;
    let s1R: f64 = 0, s2R: f64 = 0;
    if (front > 0) {
      frontSuffixVar(s, block, cap, head, front);
      s1R = sufS1;
      s2R = sufS2;
    }
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
 * records each row's slot (and, with a finite time to live, the greatest
 * timestamp before it), and lists the batch's keys for update(). With `cont`,
 * continues the check of the previous call (a batch larger than the IO
 * buffers is checked in chunks). Returns −1 when every row is in order for
 * its key and every timestamp is finite and within ±2^53 ms, else the index
 * of the first row that is not (its timestamp below its key's last, or not
 * such a number: the host's checkTimestamps says which), or −2 − i when
 * memory ran out at row i. On a failure the keys this check inserted (in
 * every chunk of it) are removed again, last first, so the state, the free
 * slots' order included, is as before it: nothing changes.
 */
export function check(n: i32, cont: i32): i32 {
  if (cont == 0) {
    epoch++;
    checkMaxTs = maxTs;
    checkInserted = 0;
  }
  nTouched = 0;
  checkedRows = -1;
  groups = 0;
  let mts = checkMaxTs;
  const ttl = gTtl;
  const finiteTtl = ttl != Infinity;
  const keyed = gKeyed;
  const ep = epoch;
  let touched: i32 = 0;
  for (let i = 0; i < n; i++) {
    const t = load<f64>(pTs + (<usize>i << 3));
    let idx: u32 = 0;
    if (keyed) {
      const key = load<u32>(pKey + (<usize>i << 2));
      idx = find(key);
      if (idx == 0) {
        idx = insertChecked(key);
        if (idx == 0) return checkFailed(-2 - i);
      }
      idx--;
    } else if (slotHigh == 0 || load<u32>(slotPtr(0) + SL_CAP) == 0) {
      if (insertChecked(0) == 0) return checkFailed(-2 - i);
    }
    store<u32>(pSlotIdx + (<usize>i << 2), idx);
    const b = batchPtr(idx);
    let last: f64;
    if (load<u32>(b + BT_EPOCH) == ep) {
      last = load<f64>(b + BT_SCRATCH);
      store<u32>(b + BT_CURSOR, load<u32>(b + BT_CURSOR) + 1);
    } else {
      // The key's first row of the batch: its last timestamp from its slot.
      last = load<f64>(slotPtr(idx) + SL_LAST_TS);
      store<u32>(b + BT_EPOCH, ep);
      store<u32>(b + BT_CURSOR, 1);
      store<u32>(pTouched + (<usize>touched << 2), idx);
      touched++;
    }
    if (finiteTtl) {
      // The stream's greatest timestamp before the row: the host's, when it sees rows this instance is not given.
      let before = mts;
      if (gHostClock) before = load<f64>(pMaxBefore + (<usize>i << 3));
      else store<f64>(pMaxBefore + (<usize>i << 3), mts);
      if (before - last > ttl) last = -Infinity;
    }
    // Out of order, or NaN, ±Inf or beyond ±2^53 ms (the host checks only batches that fail here).
    if (t < last || !(abs(t) <= MAX_TIMESTAMP)) return checkFailed(i);
    store<f64>(b + BT_SCRATCH, t);
    if (t > mts) mts = t;
  }
  checkMaxTs = mts;
  // A continued check lists only the keys new to this chunk: update() needs a fresh check.
  if (cont == 0) {
    nTouched = touched;
    checkedRows = n;
  }
  return -1;
}

/** insert() for check(): the key goes on the stack of keys this check inserted. */
function insertChecked(key: u32): u32 {
  const idx = insert(key);
  if (idx != 0) {
    store<u32>(slotPtr(idx - 1) + SL_INSERTED_BEFORE, checkInserted);
    checkInserted = idx;
  }
  return idx;
}

/** A failed check: removes the keys it inserted, last first (the free slots are then as before it); returns `status`. */
function checkFailed(status: i32): i32 {
  nTouched = 0;
  while (checkInserted != 0) {
    const idx = checkInserted - 1;
    checkInserted = load<u32>(slotPtr(idx) + SL_INSERTED_BEFORE);
    remove(idx);
  }
  return status;
}

/**
 * Processes the n rows that the last check(n, 0) passed; returns −1, or
 * −2 − i when memory ran out at row i (−2 − n when the rows were not checked).
 */
export function update(n: i32): i32 {
  groups = 0;
  if (n != checkedRows) return -2 - n;
  checkedRows = -1;
  const finiteTtl = gTtl != Infinity;
  const nt = nTouched;
  // Counting sort of the rows by key: group offsets in the batch table's cursors...
  let off: u32 = 0;
  for (let j = 0; j < nt; j++) {
    const b = batchPtr(load<u32>(pTouched + (<usize>j << 2)));
    const c = load<u32>(b + BT_CURSOR);
    store<u32>(b + BT_CURSOR, off);
    off += c;
  }
  // ...rows scattered to their group, in arrival order (the cursor ends at the group's end)...
  let mts = maxTs;
  const rb = recBytes;
  for (let i = 0; i < n; i++) {
    const ip = pSlotIdx + (<usize>i << 2);
    const b = batchPtr(load<u32>(ip));
    const pos = load<u32>(b + BT_CURSOR);
    store<u32>(b + BT_CURSOR, pos + 1);
    store<u32>(ip, pos);
    const r = pRec + <usize>pos * rb;
    const t = load<f64>(pTs + (<usize>i << 3));
    store<f64>(r, t);
    store<f64>(r, load<f64>(pVal + (<usize>i << 3)), 8);
    if (finiteTtl) store<f64>(r, load<f64>(pMaxBefore + (<usize>i << 3)), 16);
    if (t > mts) mts = t;
  }
  const status = runGroups(n, nt);
  if (status != -1) return status;
  nTouched = 0;
  maxTs = mts;
  return -1;
}

/**
 * The grouped rows of update() and follow(): each of the nt keys' rows in
 * turn (slot indices at pTouched, each group's end in its batch cursor),
 * results in grouped order to pVal (free now), then back to row order at
 * pOut. Leaves each group's key at pKey and end at pTouched, so that a
 * follower can take this grouping (groupCount, follow). Returns −1, or
 * −2 − i when memory ran out at row i.
 */
function runGroups(n: i32, nt: i32): i32 {
  const ttl = gTtl;
  const finiteTtl = ttl != Infinity;
  const rightClosed = gRightClosed;
  const rb = recBytes;
  const fastSum = !finiteTtl && (gOp == OP_SUM || gOp == OP_MEAN);
  let pos: u32 = 0;
  for (let j = 0; j < nt; j++) {
    const tp = pTouched + (<usize>j << 2);
    const idx = load<u32>(tp);
    const s = slotPtr(idx);
    const end = load<u32>(batchPtr(idx) + BT_CURSOR);
    store<u32>(pKey + (<usize>j << 2), load<u32>(s + SL_KEY));
    store<u32>(tp, end);
    fullSlot = 0;
    if (fastSum) {
      const failed = runSum(s, pos, end);
      if (failed >= 0) return -2 - rowAt(n, <u32>failed);
      pos = end;
    }
    for (; pos < end; pos++) {
      const r = pRec + <usize>pos * rb;
      const t = load<f64>(r);
      const x = load<f64>(r, 8);
      // Idle past its time to live (against the greatest timestamp before this row): forgotten.
      if (finiteTtl && load<f64>(r, 16) - load<f64>(s + SL_LAST_TS) > ttl) clearAggregates(s);
      expire(s, t);
      let y: f64;
      if (rightClosed) {
        if (!append(s, t, x)) return -2 - rowAt(n, pos);
        y = query(s);
      } else {
        y = query(s);
        if (!append(s, t, x)) return -2 - rowAt(n, pos);
      }
      store<f64>(pVal + (<usize>pos << 3), y);
      store<f64>(s + SL_LAST_TS, t);
    }
    store<u32>(batchPtr(idx) + BT_CURSOR, 0);
    // Rings grown in this batch leave their old blocks: reclaimed as they pile up, so memory peaks near the state's size.
    if (garbage * 8 > arenaTop - arenaBase) compactBlocks();
  }
  fullSlot = 0;
  // ...and back to row order.
  for (let i = 0; i < n; i++) {
    store<f64>(pOut + (<usize>i << 3), load<f64>(pVal + (<usize>load<u32>(pSlotIdx + (<usize>i << 2)) << 3)));
  }
  groups = nt;
  return -1;
}

/** Keys in the last grouping run (update or follow); 0 after a check or a failed run. */
let groups: i32 = 0;
export function groupCount(): i32 {
  return groups;
}
export function recPtr(): usize {
  return pRec;
}
export function slotIdxPtr(): usize {
  return pSlotIdx;
}
export function touchedPtr(): usize {
  return pTouched;
}

/**
 * Runs n rows grouped by another instance of this module (several ops over
 * the same rows: the grouping by key is done once). The host copies that
 * instance's grouping after its update(n): the grouped rows (recPtr), each
 * row's place in them (slotIdxPtr), and the nt groups' keys (keyPtr) and ends
 * (touchedPtr). Those rows were checked there: each key's rows are in order,
 * so a key is in step here when its first row is not before its last
 * timestamp here. Returns −1 when done (results at outPtr), −2 − i when
 * memory ran out at row i, or a row i ≥ 0 of a key not in step (nothing
 * processed; the host runs the rows itself: check and update). No time to
 * live (each row's stream clock is not part of the grouping).
 */
export function follow(nt: i32, n: i32): i32 {
  checkedRows = -1;
  nTouched = 0;
  groups = 0;
  if (gTtl != Infinity || !gKeyed || n > ioCap || nt > n || nt < 0) return 0;
  const rb = recBytes;
  let mts = maxTs;
  let start: u32 = 0;
  for (let j = 0; j < nt; j++) {
    const tp = pTouched + (<usize>j << 2);
    const end = load<u32>(tp);
    if (end <= start || end > <u32>n) return unfollow(j, <i32>start);
    const key = load<u32>(pKey + (<usize>j << 2));
    let idx = find(key);
    if (idx == 0) {
      idx = insert(key);
      if (idx == 0) {
        unfollow(j, 0);
        return -2 - rowAt(n, start);
      }
    }
    const s = slotPtr(idx - 1);
    if (load<f64>(pRec + <usize>start * rb) < load<f64>(s + SL_LAST_TS)) return unfollow(j, <i32>start);
    const last = load<f64>(pRec + <usize>(end - 1) * rb);
    if (last > mts) mts = last;
    store<u32>(batchPtr(idx - 1) + BT_CURSOR, end);
    store<u32>(tp, idx - 1);
    start = end;
  }
  if (start != <u32>n) return unfollow(nt, 0);
  const status = runGroups(n, nt);
  if (status == -1) maxTs = mts;
  return status;
}

/** follow() refused after its first j groups were given their slots: their group ends cleared; returns `at`. */
function unfollow(j: i32, at: i32): i32 {
  for (let k = 0; k < j; k++) store<u32>(batchPtr(load<u32>(pTouched + (<usize>k << 2))) + BT_CURSOR, 0);
  return at;
}

/**
 * Rows [pos, end) of the grouped order, all of key slot s, for sum and mean
 * without a time to live: the same operations as expire/append/query, with
 * the key's state in locals. Returns −1, or the place of the row where memory
 * ran out.
 */
function runSum(s: usize, pos: u32, end: u32): i64 {
  if (pos == end) return -1;
  const rb = recBytes;
  const w = gWindow;
  const leftClosed = gLeftClosed;
  const rightClosed = gRightClosed;
  const mean = gOp == OP_MEAN;
  const minP = gMinPeriods;
  let block = <usize>load<u32>(s + SL_BLOCK);
  let cap = load<u32>(s + SL_CAP);
  let head = load<u32>(s + SL_HEAD);
  let len = load<u32>(s + SL_LEN);
  let front = load<u32>(s + SL_FRONT);
  let flip = load<u32>(s + SL_FLIP);
  let count = load<u32>(s + SL_COUNT);
  let backA = load<f64>(s + SL_BACK_A);
  let lastT: f64 = 0;
  let done = false;
  let failed: i64 = -1;
  // Whether runSuffixes holds the front's suffix at every position (a front formed in this run).
  let all = false;
  for (; pos < end; pos++) {
    const r = pRec + <usize>pos * rb;
    const t = load<f64>(r);
    const x = load<f64>(r, 8);
    // expire
    const bound = t - w;
    while (len > 0) {
      const he = block + <usize>head * ES;
      const h = load<f64>(he);
      if (leftClosed ? h < bound : h <= bound) {
        if (front == 0) {
          // flip: suffix sums of every entry (kept at every SUF_K-th; all of them in runSuffixes while this run lasts), empty back
          const suf = sufBase(block, cap);
          all = len <= RUN_SUFFIXES;
          let acc: f64 = 0;
          for (let k = <i32>len - 1; k >= 0; k--) {
            const v = load<f64>(block + <usize>wrapAt(head + <u32>k, cap) * ES, 8);
            if (v == v) acc += v;
            if (all) store<f64>(runSuffixes + (<usize>k << 3), acc);
            if ((<u32>k & (SUF_K - 1)) == 0) store<f64>(suf + ((<usize>k / SUF_K) << 3), acc);
          }
          front = len;
          flip = len;
          backA = 0;
        }
        const v = load<f64>(he, 8);
        if (v == v) count--;
        head = wrapAt(head + 1, cap);
        len--;
        front--;
      } else break;
    }
    let y: f64 = 0;
    if (!rightClosed) y = sumQuery(block, cap, head, front, flip, count, backA, minP, mean, all);
    // append
    if (len == cap) {
      store<u32>(s + SL_HEAD, head);
      store<u32>(s + SL_LEN, len);
      store<u32>(s + SL_COUNT, count);
      if (!grow(s)) {
        failed = <i64>pos;
        break;
      }
      block = <usize>load<u32>(s + SL_BLOCK);
      cap = load<u32>(s + SL_CAP);
      head = 0;
    }
    const e = block + <usize>wrapAt(head + len, cap) * ES;
    store<f64>(e, t);
    store<f64>(e, x, 8);
    len++;
    if (x == x) {
      count++;
      backA += x;
    }
    if (rightClosed) y = sumQuery(block, cap, head, front, flip, count, backA, minP, mean, all);
    store<f64>(pVal + (<usize>pos << 3), y);
    lastT = t;
    done = true;
  }
  store<u32>(s + SL_HEAD, head);
  store<u32>(s + SL_LEN, len);
  store<u32>(s + SL_FRONT, front);
  store<u32>(s + SL_FLIP, flip);
  store<u32>(s + SL_COUNT, count);
  store<f64>(s + SL_BACK_A, backA);
  if (done) store<f64>(s + SL_LAST_TS, lastT);
  return failed;
}

@inline function sumQuery(block: usize, cap: u32, head: u32, front: u32, flip: u32, count: u32, backA: f64, minP: i32, mean: bool, all: bool): f64 {
  if (<i32>count < minP) return NaN;
  let f: f64 = 0;
  if (front > 0) f = all ? load<f64>(runSuffixes + (<usize>(flip - front) << 3)) : frontSuffix(block, cap, head, front, flip);
  const sum = f + backA;
  if (!mean) return sum;
  return count > 0 ? sum / <f64>count : NaN;
}

/** The row whose place in the grouped order is pos. */
function rowAt(n: i32, pos: u32): i32 {
  for (let i = 0; i < n; i++) if (load<u32>(pSlotIdx + (<usize>i << 2)) == pos) return i;
  return 0;
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
  const cap = load<u32>(s + SL_CAP);
  const head = load<u32>(s + SL_HEAD);
  for (let k = 0; k < n; k++) {
    const e = entry(block, wrapAt(head + from + <u32>k, cap));
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
  fullSlot = 0;
}
