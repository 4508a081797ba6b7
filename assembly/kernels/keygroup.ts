// The keyed operator's grouping by key, in WebAssembly (src/scheduler/keygroup.ts).
//
// Not a kernel: it imports a kernel instance's memory and its `runKeys`, and
// works on regions the operator placed in that memory with the kernel's
// `alloc` (it has no data of its own, so it writes nothing the kernel owns).
// One slice of a batch, in one pass over its rows (`place`): each row's key
// looked up in the operator's dense key → slot table (stopping at a key the
// JavaScript side must place), and its value written at once into its key's
// *chunk*: a run of places handed out at the key's first row, as long as the
// key's share of the last slice it had rows in (`rate`) and a margin, or twice
// the last one when it fills up (the full chunk becomes a run of its own:
// runs of a key stay in row order). Then `finish` closes every key's last
// chunk, and `runGrouped` runs the kernel's `runKeys` over every run and
// reads the results back in row order, each row at the place it got. A key
// cut into several runs gets the same `update` calls as a batch cut there,
// which gives the same bits; no per-row JavaScript, and no counting pass.

@external("env", "runKeys")
declare function kernelRunKeys(n: i32, table: usize): void;

/** A key's chunk (16 bytes per slot): next place, end (0: no chunk in this slice), first place, rows in its earlier runs of this slice. */
const C_NEXT: usize = 0;
const C_END: usize = 4;
const C_FIRST: usize = 8;
const C_CLOSED: usize = 12;
/** A key's rate: its rows per 2^RATE_BITS rows of the last slice it had rows in. */
const RATE_BITS: i64 = 20;

// Regions (byte addresses in the kernel's memory), set by `layout`.
let keys: usize = 0; // u32 per row: the slice's keys
let values: usize = 0; // f64 per row: the slice's values, then its results in row order
let placeOf: usize = 0; // i32 per row: its place in gathered and results
let gathered: usize = 0; // f64 per place (`room` places): chunks of values by key
let results: usize = 0; // f64 per place
let room: i32 = 0;
let dense: usize = 0; // i32 per key below denseKeys: slot, −1 not looked up, −2 another worker's
let denseKeys: u32 = 0;
let chunks: usize = 0; // 16 bytes per slot (C_*; zero between slices)
let rate: usize = 0; // i32 per slot
let stateOf: usize = 0; // u32 per slot: where its kernel state lies
let touched: usize = 0; // i32 per key of the slice, in order of first row: its slot
let runs: usize = 0; // 12 bytes per run (at most one per row): slot, first place, rows
let table: usize = 0; // runKeys' table: 16 bytes per run
// The slice.
let sliceRows: i32 = 0;
let used: i32 = 0; // places handed out
let touchedCount: i32 = 0;
let runCount: i32 = 0;

/** Sets the regions (after any of them moved or grew). */
export function layout(
  keysAt: usize,
  valuesAt: usize,
  placeOfAt: usize,
  gatheredAt: usize,
  resultsAt: usize,
  places: i32,
  denseAt: usize,
  denseLength: u32,
  chunksAt: usize,
  rateAt: usize,
  stateOfAt: usize,
  touchedAt: usize,
  runsAt: usize,
  tableAt: usize,
): void {
  keys = keysAt;
  values = valuesAt;
  placeOf = placeOfAt;
  gathered = gatheredAt;
  results = resultsAt;
  room = places;
  dense = denseAt;
  denseKeys = denseLength;
  chunks = chunksAt;
  rate = rateAt;
  stateOf = stateOfAt;
  touched = touchedAt;
  runs = runsAt;
  table = tableAt;
}

/** Keys of the slice so far (in `touched`). */
export function keysTouched(): i32 {
  return touchedCount;
}

/** Runs of the slice (after finish). */
export function runsMade(): i32 {
  return runCount;
}

/** Places handed out in the slice (gathered[0, placesUsed()) holds its chunks). */
export function placesUsed(): i32 {
  return used;
}

/** Starts a slice of `n` rows (room ≥ n): no key touched yet. */
export function begin(n: i32): void {
  sliceRows = n;
  used = 0;
  touchedCount = 0;
  runCount = 0;
}

/** Drops the slice's chunks (before finish): the next slice starts afresh. */
export function abandon(): void {
  for (let t = 0; t < touchedCount; t++) {
    const c = chunks + (<usize>load<i32>(touched + (<usize>t << 2)) << 4);
    store<i64>(c, 0);
    store<i64>(c, 0, 8);
  }
  begin(0);
}

@inline function addRun(slot: i32, first: i32, rows: i32): void {
  const r = runs + <usize>runCount * 12;
  store<i32>(r, slot);
  store<i32>(r, first, 4);
  store<i32>(r, rows, 8);
  runCount++;
}

/**
 * A new chunk for slot `slot` (chunk record at `c`), whose row `row` finds
 * none or a full one; returns its first place. Never more places than leave
 * room for every later row (room ≥ the slice's rows), so a chunk has ≥ 1.
 */
function openChunk(slot: i32, c: usize, row: i32): i32 {
  const end = load<i32>(c, C_END);
  let size: i32;
  if (end == 0) {
    store<i32>(touched + (<usize>touchedCount << 2), slot);
    touchedCount++;
    // Rounded up, a quarter more and 3: a key's rows in a slice vary by about
    // their square root (a key of ~2 rows a slice then fills its chunk in 1 %
    // of slices, not 12 %: a second run costs a second pass over its state).
    const expected = <i32>((<i64>load<i32>(rate + (<usize>slot << 2)) * <i64>sliceRows + ((<i64>1 << RATE_BITS) - 1)) >> RATE_BITS);
    size = expected + (expected >> 2) + 3;
  } else {
    const first = load<i32>(c, C_FIRST);
    const rows = end - first;
    addRun(slot, first, rows);
    store<i32>(c, load<i32>(c, C_CLOSED) + rows, C_CLOSED);
    size = rows << 1;
  }
  const spare = room - used - (sliceRows - row - 1);
  if (size > spare) size = spare;
  const p = used;
  used = p + size;
  store<i32>(c, p + size, C_END);
  store<i32>(c, p, C_FIRST);
  return p;
}

/**
 * Row `row` of slot `slot` (≥ 0): its value into its key's chunk, its place
 * noted. The regions come as arguments: locals in `place`'s loop, not
 * globals loaded at every row.
 */
@inline function placeRow(slot: i32, row: i32, chunksAt: usize, valuesAt: usize, gatheredAt: usize, placeOfAt: usize): void {
  const c = chunksAt + (<usize>slot << 4);
  let p = load<i32>(c, C_NEXT);
  if (p >= load<i32>(c, C_END)) p = openChunk(slot, c, row);
  store<i32>(c, p + 1, C_NEXT);
  store<f64>(gatheredAt + (<usize>p << 3), load<f64>(valuesAt + (<usize>row << 3)));
  store<i32>(placeOfAt + (<usize>row << 2), p);
}

/**
 * Rows [from, n): each key's slot from the dense table, its value placed.
 * Returns the first row whose key is not in it (n: none), for the caller to
 * place (put).
 */
export function place(from: i32, n: i32): i32 {
  const keysAt = keys, denseAt = dense, denseLength = denseKeys;
  const chunksAt = chunks, valuesAt = values, gatheredAt = gathered, placeOfAt = placeOf;
  for (let i = from; i < n; i++) {
    const key = load<u32>(keysAt + (<usize>i << 2));
    if (key >= denseLength) return i;
    const slot = load<i32>(denseAt + (<usize>key << 2));
    if (slot < 0) return i;
    placeRow(slot, i, chunksAt, valuesAt, gatheredAt, placeOfAt);
  }
  return n;
}

/** Places row `row` of slot `slot`, looked up by the caller. */
export function put(row: i32, slot: i32): void {
  placeRow(slot, row, chunks, values, gathered, placeOf);
}

/**
 * Closes every key's last chunk (a run after its earlier ones), keeps its
 * rate for the next slice and clears its chunk record. Returns the runs.
 */
export function finish(): i32 {
  for (let t = 0; t < touchedCount; t++) {
    const slot = load<i32>(touched + (<usize>t << 2));
    const c = chunks + (<usize>slot << 4);
    const first = load<i32>(c, C_FIRST);
    const rows = load<i32>(c, C_NEXT) - first;
    addRun(slot, first, rows);
    const all = load<i32>(c, C_CLOSED) + rows;
    store<i32>(rate + (<usize>slot << 2), <i32>((<i64>all << RATE_BITS) / <i64>sliceRows));
    store<i64>(c, 0);
    store<i64>(c, 0, 8);
  }
  return runCount;
}

/**
 * Runs `runCount` runs (after finish, or copied from a leader) over the
 * places with the kernel's runKeys, each on its slot's state, and writes
 * rows [0, n)'s results over their values: rows in order, each reading the
 * result at its place (reading the runs' results in row order measured
 * 15–20 % less CPU per row in all than writing them from a place → row
 * index).
 */
export function runGrouped(n: i32, count: i32): void {
  for (let k = 0; k < count; k++) {
    const r = runs + <usize>k * 12;
    const first = <usize>load<i32>(r, 4);
    const e = table + (<usize>k << 4);
    store<u32>(e, load<u32>(stateOf + (<usize>load<i32>(r) << 2)));
    store<u32>(e, <u32>(gathered + (first << 3)), 4);
    store<u32>(e, <u32>(results + (first << 3)), 8);
    store<i32>(e, load<i32>(r, 8), 12);
  }
  kernelRunKeys(count, table);
  const resultsAt = results;
  const end = placeOf + (<usize>n << 2);
  let value = values;
  for (let row = placeOf; row < end; row += 4, value += 8) {
    store<f64>(value, load<f64>(resultsAt + (<usize>load<i32>(row) << 3)));
  }
}
