// The kernel ABI shared by every module in assembly/: one fixed memory layout
// and one set of exports, so that the TypeScript engine drives all kernels the
// same way (hash-wasm style: init / update / state pointer / state size).
//
// Linear memory:  [static data][state region][input f64 × cap][output f64 × cap][alloc() regions…]
//
// The state region holds everything a kernel carries from batch to batch and
// nothing else, so a snapshot is a plain copy of it. It starts with a common
// 32-byte header written by `writeHeader`; the kernel's own fields follow.
// Nothing in it is an address, so a state works wherever it lies: `useState`
// points the kernel at another one (the scheduler keeps one per key in
// `alloc()` regions and runs them in place, with no copies), and `runKeys`
// (each kernel's) runs many keys' rows in one call.

/** Byte offsets of the common state header. */
export const H_FAMILY: usize = 0; // i32: module family id, for validate()
export const H_OP: usize = 4; // i32: op code within the family
export const H_WINDOW: usize = 8; // i32: window length (rows), 0 where unused
export const H_MIN_PERIODS: usize = 12; // i32
export const H_P0: usize = 16; // f64: first op parameter (ddof, q, alpha, …)
export const H_P1: usize = 24; // f64: second op parameter
export const HEADER_BYTES: usize = 32;

/** Rows of IO buffer reserved at init; the engine can ask for more. */
const DEFAULT_CAPACITY: i32 = 16384;

let stateBase: usize = 0;
let stateBytes: usize = 0;
let ioCapacity: i32 = 0;
let inputBase: usize = 0;
let outputBase: usize = 0;
/** End of everything placed so far (state region, IO buffers, alloc() regions). */
let heapTop: usize = 0;
// The IO buffers while runKeys points inputBase/outputBase at each key's rows.
let savedInput: usize = 0;
let savedOutput: usize = 0;

// The parameters init() was called with: validate() checks a restored state
// against them, so a snapshot can never smuggle in a different shape.
export let gFamily: i32 = 0;
export let gOp: i32 = 0;
export let gWindow: i32 = 0;
export let gMinPeriods: i32 = 0;
export let gP0: f64 = 0;
export let gP1: f64 = 0;

export function statePtr(): usize {
  return stateBase;
}
export function stateSize(): usize {
  return stateBytes;
}
export function inputPtr(): usize {
  return inputBase;
}
export function outputPtr(): usize {
  return outputBase;
}
export function capacity(): i32 {
  return ioCapacity;
}

/** Points the kernel (update, validate, reset, pushValue) at the state region at `ptr`, one of `stateSize()` bytes. */
export function useState(ptr: usize): void {
  stateBase = ptr;
}

/**
 * A new region of `bytes` bytes (64-aligned, zeroed by memory.grow or never
 * used) above everything placed so far; 0 when memory cannot grow. It never
 * moves: IO buffers that must grow move above it instead.
 */
export function alloc(bytes: usize): usize {
  const at = (heapTop + 63) & ~(<usize>63);
  if (!ensureMemory(at + bytes)) return 0;
  heapTop = at + bytes;
  return at;
}

/**
 * runKeys' table: 16 bytes per key, `u32 state, u32 input, u32 output, i32
 * rows`. Points the kernel at entry `k` and returns its rows.
 */
@inline export function enterKey(table: usize, k: i32): i32 {
  const e = table + (<usize>k << 4);
  stateBase = load<u32>(e);
  inputBase = load<u32>(e, 4);
  outputBase = load<u32>(e, 8);
  return load<i32>(e, 12);
}

/** Before a runKeys loop: keeps the IO buffers (enterKey moves the row pointers). */
@inline export function beginKeys(): void {
  savedInput = inputBase;
  savedOutput = outputBase;
}

/** After a runKeys loop: the IO buffers again. */
@inline export function endKeys(): void {
  inputBase = savedInput;
  outputBase = savedOutput;
}

function ensureMemory(end: usize): bool {
  const have = (<usize>memory.size()) << 16;
  if (end <= have) return true;
  const pages = <i32>((end - have + 0xffff) >>> 16);
  return memory.grow(pages) >= 0;
}

/** Grows the IO buffers to hold `rows` rows. Returns 1 on success, 0 when memory cannot grow. */
export function reserve(rows: i32): i32 {
  if (rows <= ioCapacity) return 1;
  if (rows > 1 << 26) return 0;
  // Grown in place while the buffers are the last region; above alloc() regions otherwise.
  const last = ioCapacity > 0 && inputBase + (<usize>ioCapacity) * 16 == heapTop;
  const base = last ? inputBase : (heapTop + 15) & ~(<usize>15);
  if (!ensureMemory(base + (<usize>rows) * 16)) return 0;
  inputBase = base;
  outputBase = base + (<usize>rows) * 8;
  ioCapacity = rows;
  heapTop = base + (<usize>rows) * 16;
  return 1;
}

/**
 * Scratch space for `n` f64 in the IO buffers (input then output, contiguous),
 * for validate() to recompute derived state into; 0 when memory cannot grow.
 * May grow memory: callers re-read their views afterwards.
 */
export function scratch(n: i32): usize {
  return reserve((n + 1) >> 1) == 1 ? inputBase : 0;
}

/**
 * True when a stored derived field equals its recomputation: the same bits
 * (recomputation repeats the same operations in the same order), or both NaN.
 */
@inline export function sameF64(a: f64, b: f64): bool {
  return reinterpret<u64>(a) == reinterpret<u64>(b) || (a != a && b != b);
}

/**
 * Places a state region of `bytes` bytes and the default IO buffers, and
 * records the parameters. Returns false when memory cannot grow.
 */
export function allocState(
  family: i32,
  op: i32,
  window: i32,
  minPeriods: i32,
  p0: f64,
  p1: f64,
  bytes: usize,
): bool {
  gFamily = family;
  gOp = op;
  gWindow = window;
  gMinPeriods = minPeriods;
  gP0 = p0;
  gP1 = p1;
  stateBase = (__heap_base + 15) & ~(<usize>15);
  stateBytes = bytes;
  ioCapacity = 0;
  heapTop = stateBase + bytes;
  if (!ensureMemory(stateBase + bytes)) return false;
  memory.fill(stateBase, 0, bytes);
  store<i32>(stateBase + H_FAMILY, family);
  store<i32>(stateBase + H_OP, op);
  store<i32>(stateBase + H_WINDOW, window);
  store<i32>(stateBase + H_MIN_PERIODS, minPeriods);
  store<f64>(stateBase + H_P0, p0);
  store<f64>(stateBase + H_P1, p1);
  return reserve(DEFAULT_CAPACITY) == 1;
}

/** True when the header of the state region matches the parameters of init(). */
export function headerMatches(): bool {
  const s = stateBase;
  return (
    load<i32>(s + H_FAMILY) == gFamily &&
    load<i32>(s + H_OP) == gOp &&
    load<i32>(s + H_WINDOW) == gWindow &&
    load<i32>(s + H_MIN_PERIODS) == gMinPeriods &&
    // Compare bits: a NaN parameter must still match itself.
    reinterpret<i64>(load<f64>(s + H_P0)) == reinterpret<i64>(gP0) &&
    reinterpret<i64>(load<f64>(s + H_P1)) == reinterpret<i64>(gP1)
  );
}

/** Status codes returned by init() and validate(). */
export const OK: i32 = 0;
export const ERR_PARAMS: i32 = 1;
export const ERR_MEMORY: i32 = 2;
export const ERR_STATE: i32 = 3;

/**
 * Sub-block length B for two-level block sums. The error bound grows as
 * B + W/B, least at B = √W; below W = 4096 a floor of 64 rows costs nothing in
 * the bound (B + W/B ≤ 128) and keeps runs long enough to be fast. For every
 * W ≤ 2²⁴, B + W/B + 2 ≤ 8194.
 */
export function subBlockLength(window: i32): i32 {
  let b = <i32>Math.ceil(Math.sqrt(<f64>window));
  if (b < 64) b = 64;
  return b;
}

/**
 * The one-row path: `update(rowIn(x))` then `rowOut()` runs `x` through the
 * module's own update() as a batch of one row, so results and state are
 * exactly those of push() of that row.
 */
@inline export function rowIn(x: f64): i32 {
  store<f64>(inputBase, x);
  return 1;
}
@inline export function rowOut(): f64 {
  return load<f64>(outputBase);
}
