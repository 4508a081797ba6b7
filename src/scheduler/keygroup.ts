// The kernel operator's grouping by key in WebAssembly: an instance of
// `keygroup.wasm` (assembly/kernels/keygroup.ts) that imports a kernel
// instance's memory and runKeys, and the regions it works on, placed in that
// memory with the kernel's alloc. A slice's keys and values are copied in
// (one `set` each), looked up, grouped, run and written back in row order
// in WebAssembly, and its results copied out (one `set`): no JavaScript per
// row, except for a key the dense table does not hold yet (a new key, or one
// from 2^16 up), which the operator places (its slot counted with `put`).
import { instantiateSync, type KernelExports } from '../engine.js';

interface KeyGroupExports {
  layout(
    keys: number,
    values: number,
    slotOf: number,
    gathered: number,
    results: number,
    dense: number,
    denseKeys: number,
    count: number,
    start: number,
    stateOf: number,
    touched: number,
    touchedRows: number,
    table: number,
  ): void;
  begin(): void;
  keysTouched(): number;
  lookUp(from: number, n: number): number;
  put(row: number, slot: number): void;
  group(n: number): number;
  runGrouped(n: number, keys: number): void;
}

/** runKeys' table entry: u32 state, u32 input, u32 output, i32 rows. */
const ENTRY_BYTES = 16;

/** One kernel operator's grouping in WebAssembly: see the file comment. */
export class KeyGrouping {
  readonly gx: KeyGroupExports;
  private readonly ex: KernelExports;
  private readonly alloc: (bytes: number) => number;
  // Per row of a slice.
  private rows = 0;
  private keysAt = 0;
  private valuesAt = 0;
  private slotOfAt = 0;
  private gatheredAt = 0;
  private resultsAt = 0;
  // Per slot: count (0 between slices), start, stateOf, touched, touchedRows, table entry.
  private slots = 0;
  private countAt = 0;
  private startAt = 0;
  private stateOfAt = 0;
  private touchedAt = 0;
  private touchedRowsAt = 0;
  private tableAt = 0;
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
      this.slotOfAt,
      this.gatheredAt,
      this.resultsAt,
      this.denseAt,
      this.denseKeys,
      this.countAt,
      this.startAt,
      this.stateOfAt,
      this.touchedAt,
      this.touchedRowsAt,
      this.tableAt,
    );
  }

  /** Room for a slice of `rows` rows (regions left behind: at most as large as the new ones, by doubling). */
  reserveRows(rows: number): void {
    if (rows <= this.rows) return;
    const n = Math.max(rows, this.rows * 2);
    // Staggered by 320 bytes mod 4 KiB: a sequential load and store of two
    // regions at the same row never alias in the store buffer.
    this.keysAt = this.staggered(n * 4, 0);
    this.valuesAt = this.staggered(n * 8, 1);
    this.slotOfAt = this.staggered(n * 4, 2);
    this.gatheredAt = this.staggered(n * 8, 3);
    this.resultsAt = this.staggered(n * 8, 4);
    this.rows = n;
    this.relayout();
  }

  /** A region of `bytes` bytes at 320 · `k` bytes past a 4 KiB boundary. */
  private staggered(bytes: number, k: number): number {
    const at = this.alloc(bytes + 8192);
    return ((at + 4095) & ~4095) + ((k * 320) & 4095);
  }

  /** Room for slot `slot`; a slice's counts so far move along (slots appear in the middle of one). */
  private reserveSlot(slot: number): void {
    if (slot < this.slots) return;
    let n = Math.max(256, this.slots * 2);
    while (n <= slot) n *= 2;
    const count = this.alloc(n * 4), stateOf = this.alloc(n * 4), touched = this.alloc(n * 4);
    this.startAt = this.alloc(n * 4);
    this.touchedRowsAt = this.alloc(n * 4);
    this.tableAt = this.alloc(n * ENTRY_BYTES);
    this.views();
    const old = this.slots;
    if (old > 0) {
      this.i32.copyWithin(count >> 2, this.countAt >> 2, (this.countAt >> 2) + old);
      this.i32.copyWithin(stateOf >> 2, this.stateOfAt >> 2, (this.stateOfAt >> 2) + old);
      this.i32.copyWithin(touched >> 2, this.touchedAt >> 2, (this.touchedAt >> 2) + old);
    }
    this.countAt = count;
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

  /** Drops a slice's counts (after lookUp and put, before group): the next slice starts afresh. */
  abandon(): void {
    const keys = this.gx.keysTouched();
    this.views();
    for (let t = 0; t < keys; t++) this.i32[(this.countAt >> 2) + this.i32[(this.touchedAt >> 2) + t]!] = 0;
    this.gx.begin();
  }

  /** Slots of the slice's keys, in order of first row (after group()). */
  touched(keys: number): Int32Array {
    this.views();
    return this.i32.subarray(this.touchedAt >> 2, (this.touchedAt >> 2) + keys);
  }

  /**
   * Takes `leader`'s grouping of its last slice of `rows` rows and `keys`
   * keys (the same key in the same slot here): its keys' runs, grouped
   * values and each row's slot, copied into this one's regions.
   */
  copyGrouping(leader: KeyGrouping, rows: number, keys: number): void {
    this.reserveRows(rows);
    this.reserveSlot(keys - 1);
    leader.views();
    this.views();
    const from32 = leader.i32, from64 = leader.f64;
    this.i32.set(from32.subarray(leader.touchedAt >> 2, (leader.touchedAt >> 2) + keys), this.touchedAt >> 2);
    this.i32.set(from32.subarray(leader.touchedRowsAt >> 2, (leader.touchedRowsAt >> 2) + keys), this.touchedRowsAt >> 2);
    this.i32.set(from32.subarray(leader.slotOfAt >> 2, (leader.slotOfAt >> 2) + rows), this.slotOfAt >> 2);
    this.f64.set(from64.subarray(leader.gatheredAt >> 3, (leader.gatheredAt >> 3) + rows), this.gatheredAt >> 3);
  }
}
