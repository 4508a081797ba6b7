// The kernel operator's grouping by key in WebAssembly: an instance of
// `keygroup.wasm` (assembly/kernels/keygroup.ts) that imports a kernel
// instance's memory and runKeys, and the regions it works on, placed in that
// memory with the kernel's alloc. A slice's keys and values are copied in
// (one `set` each); in one pass each row's key is looked up and its value
// placed in its key's chunk (`place`); the chunks run as runs of runKeys and
// the results are read back in row order (`runGrouped`), then copied out
// (one `set`): no JavaScript per row, except for a key the dense table does
// not hold yet (a new key, or one from 2^16 up), which the operator places
// (its row then placed with `put`).
import { instantiateSync, type KernelExports } from '../engine.js';

interface KeyGroupExports {
  layout(
    keys: number,
    values: number,
    placeOf: number,
    gathered: number,
    results: number,
    places: number,
    dense: number,
    denseKeys: number,
    chunks: number,
    rate: number,
    stateOf: number,
    touched: number,
    runs: number,
    table: number,
  ): void;
  begin(rows: number): void;
  abandon(): void;
  keysTouched(): number;
  runsMade(): number;
  placesUsed(): number;
  place(from: number, n: number): number;
  put(row: number, slot: number): void;
  finish(): number;
  runGrouped(n: number, runs: number): void;
}

/** runKeys' table entry: u32 state, u32 input, u32 output, i32 rows. */
const ENTRY_BYTES = 16;
/** A run: i32 slot, first place, rows. */
const RUN_BYTES = 12;
/** A slot's chunk record (keygroup.ts). */
const CHUNK_BYTES = 16;
/**
 * Places (gathered values and results) per row of a slice: room for each
 * key's chunk to have a margin over its expected rows (never fewer than one
 * a row: keygroup.ts makes chunks smaller when room runs short).
 */
const PLACES_PER_ROW = 3;

/** One kernel operator's grouping in WebAssembly: see the file comment. */
export class KeyGrouping {
  readonly gx: KeyGroupExports;
  private readonly ex: KernelExports;
  private readonly alloc: (bytes: number) => number;
  // Per row of a slice.
  private rows = 0;
  private keysAt = 0;
  private valuesAt = 0;
  private placeOfAt = 0;
  private runsAt = 0;
  private tableAt = 0;
  // Per place.
  private places = 0;
  private gatheredAt = 0;
  private resultsAt = 0;
  // Per slot: chunk record (zero between slices), rate, stateOf, touched.
  private slots = 0;
  private chunksAt = 0;
  private rateAt = 0;
  private stateOfAt = 0;
  private touchedAt = 0;
  // The operator's dense key → slot table, mirrored.
  private denseKeys = 0;
  private denseAt = 0;
  private buffer: ArrayBuffer | undefined;
  private i32 = new Int32Array(0);
  private u32 = new Uint32Array(0);
  private f64 = new Float64Array(0);

  private constructor(ex: KernelExports, gx: KeyGroupExports, alloc: (bytes: number) => number) {
    this.ex = ex;
    this.gx = gx;
    this.alloc = alloc;
  }

  /** The grouping for a kernel instance; undefined where the module cannot be instantiated (the operator groups in JavaScript). */
  static create(ex: KernelExports, alloc: (bytes: number) => number): KeyGrouping | undefined {
    const gx = instantiateSync<KeyGroupExports>('keygroup', { env: { memory: ex.memory, runKeys: ex.runKeys } });
    return gx === undefined ? undefined : new KeyGrouping(ex, gx, alloc);
  }

  /** Views on the kernel's memory, rebuilt when it grew. */
  private views(): void {
    const buffer = this.ex.memory.buffer as ArrayBuffer;
    if (buffer === this.buffer) return;
    this.buffer = buffer;
    this.i32 = new Int32Array(buffer);
    this.u32 = new Uint32Array(buffer);
    this.f64 = new Float64Array(buffer);
  }

  private relayout(): void {
    this.gx.layout(
      this.keysAt,
      this.valuesAt,
      this.placeOfAt,
      this.gatheredAt,
      this.resultsAt,
      this.places,
      this.denseAt,
      this.denseKeys,
      this.chunksAt,
      this.rateAt,
      this.stateOfAt,
      this.touchedAt,
      this.runsAt,
      this.tableAt,
    );
  }

  /**
   * Room for a slice of `rows` rows and `places` places (regions left
   * behind: at most as large as the new ones, by doubling).
   */
  reserveRows(rows: number, places = rows * PLACES_PER_ROW): void {
    if (rows <= this.rows && places <= this.places) return;
    if (rows > this.rows) {
      const n = Math.max(rows, this.rows * 2);
      // Staggered by 320 bytes mod 4 KiB: a sequential load and store of two
      // regions at the same row never alias in the store buffer.
      this.keysAt = this.staggered(n * 4, 0);
      this.valuesAt = this.staggered(n * 8, 1);
      this.placeOfAt = this.staggered(n * 4, 2);
      // At most one run a row (a chunk has ≥ 1 row).
      this.runsAt = this.alloc(n * RUN_BYTES);
      this.tableAt = this.alloc(n * ENTRY_BYTES);
      this.rows = n;
      places = Math.max(places, n * PLACES_PER_ROW);
    }
    if (places > this.places) {
      const n = Math.max(places, this.places * 2);
      this.gatheredAt = this.staggered(n * 8, 3);
      this.resultsAt = this.staggered(n * 8, 4);
      this.places = n;
    }
    this.relayout();
  }

  /** A region of `bytes` bytes at 320 · `k` bytes past a 4 KiB boundary. */
  private staggered(bytes: number, k: number): number {
    const at = this.alloc(bytes + 8192);
    return ((at + 4095) & ~4095) + ((k * 320) & 4095);
  }

  /** Room for slot `slot`; a slice's chunks so far move along (slots appear in the middle of one). */
  private reserveSlot(slot: number): void {
    if (slot < this.slots) return;
    let n = Math.max(256, this.slots * 2);
    while (n <= slot) n *= 2;
    const chunks = this.alloc(n * CHUNK_BYTES), rate = this.alloc(n * 4), stateOf = this.alloc(n * 4), touched = this.alloc(n * 4);
    this.views();
    const old = this.slots;
    if (old > 0) {
      this.i32.copyWithin(chunks >> 2, this.chunksAt >> 2, (this.chunksAt >> 2) + old * (CHUNK_BYTES >> 2));
      this.i32.copyWithin(rate >> 2, this.rateAt >> 2, (this.rateAt >> 2) + old);
      this.i32.copyWithin(stateOf >> 2, this.stateOfAt >> 2, (this.stateOfAt >> 2) + old);
      this.i32.copyWithin(touched >> 2, this.touchedAt >> 2, (this.touchedAt >> 2) + old);
    }
    this.chunksAt = chunks;
    this.rateAt = rate;
    this.stateOfAt = stateOf;
    this.touchedAt = touched;
    this.slots = n;
    this.relayout();
  }

  /** A slot's state lies at `ptr` (a new or reused slot). */
  setState(slot: number, ptr: number): void {
    this.reserveSlot(slot);
    this.views();
    this.u32[(this.stateOfAt >> 2) + slot] = ptr;
  }

  /** The operator's dense table grew to `dense` (mirrored whole). */
  resizeDense(dense: Int32Array): void {
    this.denseAt = this.alloc(dense.length * 4);
    this.denseKeys = dense.length;
    this.views();
    this.i32.set(dense, this.denseAt >> 2);
    this.relayout();
  }

  /** dense[key] = slot, mirrored (key within the dense table). */
  setDense(key: number, slot: number): void {
    this.views();
    this.i32[(this.denseAt >> 2) + key] = slot;
  }

  /** The slice's keys and values, copied in: parts' rows one after the other. */
  keysIn(): Uint32Array {
    this.views();
    return this.u32.subarray(this.keysAt >> 2, (this.keysAt >> 2) + this.rows);
  }

  valuesIn(): Float64Array {
    this.views();
    return this.f64.subarray(this.valuesAt >> 3, (this.valuesAt >> 3) + this.rows);
  }

  /** The slice's results in row order (runGrouped writes them over the values). */
  resultsOut(): Float64Array {
    return this.valuesIn();
  }

  /** Slots of the slice's keys, in order of first row. */
  touched(keys: number): Int32Array {
    this.views();
    return this.i32.subarray(this.touchedAt >> 2, (this.touchedAt >> 2) + keys);
  }

  /**
   * Takes `leader`'s grouping of its last slice of `rows` rows, `keys` keys,
   * `runs` runs and `places` places used (the same key in the same slot
   * here): its keys, runs, placed values and each row's place, copied into
   * this one's regions.
   */
  copyGrouping(leader: KeyGrouping, rows: number, keys: number, runs: number, places: number): void {
    this.reserveRows(rows, places);
    this.reserveSlot(keys - 1);
    leader.views();
    this.views();
    const from32 = leader.i32, from64 = leader.f64;
    this.i32.set(from32.subarray(leader.touchedAt >> 2, (leader.touchedAt >> 2) + keys), this.touchedAt >> 2);
    this.i32.set(from32.subarray(leader.runsAt >> 2, (leader.runsAt >> 2) + runs * (RUN_BYTES >> 2)), this.runsAt >> 2);
    this.i32.set(from32.subarray(leader.placeOfAt >> 2, (leader.placeOfAt >> 2) + rows), this.placeOfAt >> 2);
    this.f64.set(from64.subarray(leader.gatheredAt >> 3, (leader.gatheredAt >> 3) + places), this.gatheredAt >> 3);
  }
}
