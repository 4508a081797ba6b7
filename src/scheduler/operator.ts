// The worker-side operator: kernels per key, grouped into key groups.
//
// One WASM kernel instance per key would cost ≥ 64 KiB of memory plus IO
// buffers (16 384 rows × 16 bytes) each: 10 000 keys would need over 3 GB.
// Instead, a worker runs ONE instance per operator and keeps each key's state
// region (a kernel snapshot's payload: 920 bytes for a mean of window 50) in a
// slab inside the instance's memory (fixed-size chunks from the module's
// `alloc`, so growing it never moves a state nor overshoots: 100 000 mean keys
// of window 100 take 173 MB). A batch is grouped by key (a stable counting
// sort, in slices) into WASM memory, and one
// `runKeys` call per slice runs every key's rows on that key's own state, in
// place (`useState`: the kernel ABI's movable state pointer; no state is
// copied). Rows the operator owns all are grouped in WebAssembly
// (keygroup.ts: no JavaScript per row); a shared batch, whose other
// workers' rows are skipped, in JavaScript. The state region is all a
// kernel carries from batch to batch and holds no address
// (docs/ARCHITECTURE.md), so this is bit-identical to a private kernel per
// key.
//
// The interface (GroupOperator) is what the scheduler needs of any operator:
// process rows of the worker's key groups, and snapshot/restore state one key
// group at a time. The event-time operators plug in behind it (src/keyed/).
import { instantiateKernel, STATUS_OK, type KernelExports } from '../engine.js';
import { planFor, type KernelPlan } from '../spec.js';
import type { NormalizedSpec } from '../types.js';
import { CheckpointError } from './errors.js';
import { keyGroupOf } from './hash.js';
import { KeyGrouping } from './keygroup.js';
import { COMPACT_RECORDS, stateCodecFor, type StateCodec } from './state-codec.js';

/**
 * What the scheduler needs of an operator inside a worker. Rows arrive in
 * stream order; the operator runs those of the key groups it owns and skips
 * the others (a shared batch holds every worker's rows). Results are one per
 * row it runs.
 */
export interface GroupOperator {
  /** Processes rows (keys undefined: every row is key 0) and writes one result per row into `out`. */
  process(values: Float64Array, keys: Uint32Array | undefined, out: Float64Array): void;
  /**
   * Processes consecutive batches as one (one grouping by key for all of
   * them). Rows of key groups the operator does not own are skipped: their
   * `out` positions are not touched.
   */
  processParts(parts: readonly RowsPart[]): void;
  /** The state of one key group, or undefined when it holds none. */
  snapshotGroup(group: number): Uint8Array | undefined;
  /**
   * Count kernels: right after changedGroups(), a *key patch* of a group it
   * reported: only the keys changed in the period it closed, in
   * snapshotGroup's format (src/scheduler/checkpoint.ts); undefined when
   * every key of the group changed (snapshotGroup then).
   */
  snapshotPatch?(group: number): Uint8Array | undefined;
  /**
   * Operators with a stream clock (window kinds, rolling with a ttl): raises
   * it to key group 0's state, before any row (a worker's groups may all come
   * from older checkpoints).
   */
  restoreClock?(bytes: Uint8Array): void;
  /** Loads one key group's state (before any row is processed); throws CheckpointError for bad state. */
  restoreGroup(group: number, bytes: Uint8Array): void;
  /**
   * The key groups whose state changed since the previous call (ascending),
   * and forgets them: what an incremental checkpoint must write.
   */
  changedGroups(): number[];
  /** Testing: drives the kernel out of bounds to cause a real WASM trap. */
  trap(): void;
}

/** The rows of one batch for `processParts`; results go to `out` at the rows' positions. */
export interface RowsPart {
  /** The batch's values. */
  values: Float64Array;
  /** One key per value; undefined: every row is key 0. */
  keys: Uint32Array | undefined;
  /** Where the results go, one per row (may be `values` itself). */
  out: Float64Array;
  /** Event time (ms) per row: required by the event-time operators, ignored by the kernel operator. */
  times?: Float64Array;
  /** Every row is of the operator's key groups (the coordinator routed them): no row is skipped. */
  owned?: boolean;
  /**
   * Rolling by duration with a ttl, rows routed by the coordinator: the whole
   * stream's clock, per row its greatest earlier timestamp and the greatest
   * after the batch (the operator sees only its own rows).
   */
  clock?: {
    /** Per row, the greatest timestamp of any earlier row of the stream. */
    before: Float64Array;
    /** The greatest timestamp of the stream after this batch. */
    after: number;
  };
}

/** Where a shared batch's times start: after values, results and keys (u32), 8-aligned. */
export function sharedTimesAt(rows: number): number {
  return rows * 24;
}

/**
 * Creates the kernel operator for a spec from a compiled (shared) module,
 * running the key groups [owned[0], owned[1]) (default: all).
 */
export async function createKernelOperator(
  module: WebAssembly.Module,
  spec: NormalizedSpec,
  keyGroups: number,
  owned: readonly [number, number] = [0, keyGroups],
  options: KernelOperatorOptions = {},
): Promise<KernelOperator> {
  return new KernelOperator(await instantiateKernel(module), planFor(spec), keyGroups, owned, options);
}

export interface KernelOperatorOptions {
  /**
   * Snapshots write key states as compact records where the kernel has a
   * codec (state-codec.ts): the scheduler's checkpoints. Off for callers that
   * read the group format themselves (the Redis records, the CLI's state).
   * Restoring reads both either way.
   */
  compactStates?: boolean;
}

/** Keys below this are also indexed directly (at most 256 KiB of index). */
const DENSE_KEYS = 1 << 16;

/** Slots per slab chunk (a power of two). */
const SLAB_SHIFT = 10;
const SLAB_CHUNK = 1 << SLAB_SHIFT;

/**
 * Most rows grouped by key at a time: a larger batch runs in slices (each
 * key's rows in order, so the same bits), whose grouped rows, results and
 * scratch stay in the core's cache. 1e6 rows at once measured 10–20 % more
 * CPU per row than slices of 16 Ki to 128 Ki rows.
 */
const SLICE_ROWS = 1 << 16;

/**
 * The same for the grouping in WebAssembly (keygroup.ts). Smaller slices
 * would keep its regions (about 50 bytes a row touched at 1 000 keys: keys, values, places, and 1.3 places a row of placed values and results) in the core's L2 cache, but give
 * each key fewer rows per runKeys entry, whose per-key setup and state
 * traffic then dominate (mean of window 100, 1 000 keys, CPU per row: 4 Ki-row
 * slices 50 ns, 16 Ki 25–30, 32 Ki 17–20, 64 Ki 15–18, 128 Ki 15–16.5, 256 Ki
 * 16–18). A CLI batch (64 Ki rows) is one slice, which followers share.
 */
const WASM_SLICE_ROWS = 1 << 17;

/** runKeys' table entry: u32 state, u32 input, u32 output, i32 rows. */
const ENTRY_BYTES = 16;

/** Key-table mark of a key outside the operator's key groups (slots are ≥ 0, −1 is an empty entry). */
const FOREIGN = -2;

/** Each part's keys and values, one after the other, into the grouping's input regions. */
function copyIn(grouping: KeyGrouping, parts: readonly RowsPart[]): void {
  let at = 0;
  for (const { keys, values } of parts) {
    grouping.keysIn().set(keys!, at);
    grouping.valuesIn().set(values, at);
    at += values.length;
  }
}

/** Kernels per key over one shared WASM instance: see the file comment. */
export class KernelOperator implements GroupOperator {
  private readonly ex: KernelExports;
  private readonly keyGroups: number;
  private readonly owned: readonly [number, number];
  private readonly ownsAll: boolean;
  private readonly stateSize: number;
  /** Writes key states compactly in snapshots (median: 12 KB instead of 44 KB at W = 1000), when the kernel has a codec. */
  private readonly codec: StateCodec | undefined;
  /** Snapshots use the codec (else only restores do). */
  private readonly compact: boolean;
  /** Where a compact record is decoded on restore, before it is copied into the slab. */
  private decoded: Uint8Array | undefined;
  /** Bytes between two keys' states in the slab: the state size rounded up to a cache line. */
  private readonly stride: number;
  private readonly fresh: Uint8Array;
  // key → slot: open addressing with linear probing.
  private tableKeys = new Uint32Array(1024);
  private tableSlots = new Int32Array(1024).fill(-1);
  /** Slot (or FOREIGN) by key for keys below DENSE_KEYS, −1 when not looked up yet: one load instead of a probe. */
  private dense = new Int32Array(0);
  /** Keys in the table: slots and FOREIGN marks. */
  private entries = 0;
  private slotKey = new Uint32Array(256);
  /** Where each chunk of SLAB_CHUNK key states lies in WASM memory. */
  private readonly slab: number[] = [];
  private slots = 0;
  /** Slots of dropped key groups, reused by new keys (see dropGroup). */
  private readonly freeSlots: number[] = [];
  private readonly groupSlots = new Map<number, number[]>();
  /** Key groups changed since the last changedGroups() (see mark). */
  private readonly changed = new Set<number>();
  /**
   * Per slot, the changedGroups() period in which its group was last marked
   * changed (−1: not yet): a key run again in the same period skips
   * the hash and the Set (once per key and checkpoint, not per batch).
   */
  private slotMarked = new Int32Array(256).fill(-1);
  private period = 0;
  // Scratch for grouping a batch by key: per kept row j (rows of owned key
  // groups, all parts in order) its row in its part and its slot; per
  // position p of the grouped order its kept row; per slot its rows and next
  // position (a stable counting sort). The grouped rows and their results live in WASM memory
  // (gatherPtr, resultPtr: `grouped` rows each), as does runKeys' table.
  private count = new Int32Array(256);
  private start = new Int32Array(256);
  private touched = new Int32Array(256);
  /** Per entry of `touched`, its rows in the batch (runKeys' table; a follower reads the leader's). */
  private touchedRows = new Int32Array(256);
  /** The operator whose grouping this one reuses (follow), if any. */
  private leader: KernelOperator | undefined;
  /** The batch this operator last grouped, while its grouping (touched, touchedRows, order, gathered) stands for followers. */
  private lastGrouped: { values: Float64Array; keys: Uint32Array } | undefined;
  /** Slots checked to hold the leader's key (inStepWith), valid while no group was dropped here or there (`checkedDrops`). */
  private inStep = 0;
  private checkedDrops = 0;
  /** dropGroup calls: slots may hold other keys after one. */
  private drops = 0;
  /** Slots in `touched` (the batch's keys, in order of first row). */
  private touchedCount = 0;
  private row = new Int32Array(0);
  private slotOf = new Int32Array(0);
  private order = new Int32Array(0);
  private grouped = 0;
  private gatherPtr = 0;
  private resultPtr = 0;
  private tableEntries = 0;
  private tablePtr = 0;
  private gathered = new Float64Array(0);
  private results = new Float64Array(0);
  private mem32 = new Uint32Array(0);
  /** Per part of processParts: the end of its kept rows, and 1 when every row of it is kept. */
  private partEnd = new Int32Array(8);
  private partAll = new Uint8Array(8);
  private readonly onePart: RowsPart[] = [{ values: new Float64Array(0), keys: undefined, out: new Float64Array(0) }];
  private memBuffer: ArrayBuffer | undefined;
  private mem8 = new Uint8Array(0);
  private input = new Float64Array(0);
  private output = new Float64Array(0);
  /** The grouping in WebAssembly (made on the first keyed batch); null where it cannot be instantiated. */
  private grouping: KeyGrouping | null | undefined;
  /** The last batch was grouped by `grouping` (a follower copies it from there): its runs and places used. */
  private groupedInWasm = false;
  private wasmRuns = 0;
  private wasmPlaces = 0;

  constructor(exports: KernelExports, plan: KernelPlan, keyGroups: number, owned: readonly [number, number] = [0, keyGroups], options: KernelOperatorOptions = {}) {
    this.ex = exports;
    this.keyGroups = keyGroups;
    this.owned = owned;
    this.ownsAll = owned[0] <= 0 && owned[1] >= keyGroups;
    const status = exports.init(plan.code, plan.window, plan.minPeriods, plan.p0, plan.p1);
    if (status !== STATUS_OK) throw new RangeError(`kernel module '${plan.module}' refused its parameters (status ${status})`);
    this.stateSize = exports.stateSize();
    this.codec = stateCodecFor(plan.module, plan.window, this.stateSize);
    this.compact = options.compactStates === true && this.codec !== undefined;
    this.stride = (this.stateSize + 63) & ~63;
    const home = exports.statePtr();
    this.fresh = this.memory().slice(home, home + this.stateSize);

  }

  /** Keys held. */
  get keys(): number {
    return this.slots - this.freeSlots.length;
  }

  /** Bytes of key state allocated (held keys and free slots): dropped groups' slots are reused before this grows. */
  get stateBytes(): number {
    return this.slab.length * SLAB_CHUNK * this.stride;
  }

  /**
   * The key group of a key: keyGroupOf(key, keyGroups). A subclass may map
   * keys to groups otherwise (the Redis worker holds several partitions'
   * groups in one operator); it must not change a key's group while held.
   */
  protected groupOf(key: number): number {
    return keyGroupOf(key, this.keyGroups);
  }

  /** Bytes of state per key. */
  get bytesPerKey(): number {
    return this.stateSize;
  }

  private memory(): Uint8Array {
    const buffer = this.ex.memory.buffer as ArrayBuffer;
    if (buffer !== this.memBuffer) {
      this.memBuffer = buffer;
      this.mem8 = new Uint8Array(buffer);
      const capacity = this.ex.capacity();
      this.input = new Float64Array(buffer, this.ex.inputPtr(), capacity);
      this.output = new Float64Array(buffer, this.ex.outputPtr(), capacity);
      this.gathered = new Float64Array(buffer, this.gatherPtr, this.grouped);
      this.results = new Float64Array(buffer, this.resultPtr, this.grouped);
      this.mem32 = new Uint32Array(buffer);
    }
    return this.mem8;
  }

  /** A region of WASM memory that never moves (the module's alloc). */
  private alloc(bytes: number): number {
    const at = this.ex.alloc(bytes);
    if (at === 0) throw new RangeError(`not enough WebAssembly memory for ${bytes} more bytes of key state`);
    this.memBuffer = undefined; // memory may have grown: views are rebuilt on next use
    return at;
  }

  /** Makes room in WASM memory for `rows` grouped rows and runKeys entries for `keys` keys. */
  private reserveGrouped(rows: number, keys: number): void {
    if (rows > this.grouped) {
      // Doubling: the regions left behind are at most as large as the current ones.
      const n = Math.max(rows, this.grouped * 2);
      this.gatherPtr = this.alloc(n * 8);
      this.resultPtr = this.alloc(n * 8);
      this.grouped = n;
    }
    if (keys > this.tableEntries) {
      const n = Math.max(keys, this.tableEntries * 2, 256);
      this.tablePtr = this.alloc(n * ENTRY_BYTES);
      this.tableEntries = n;
    }
  }

  private slotFor(key: number): number {
    // Small keys (sensor ids, the CLI's ids in order of appearance) skip the hash table.
    const dense = this.dense;
    if (key < dense.length) {
      const slot = dense[key]!;
      if (slot !== -1) return slot;
    }
    const slot = this.probe(key);
    if (key < DENSE_KEYS) {
      if (key >= this.dense.length) this.growDense(key);
      this.dense[key] = slot;
      this.grouping?.setDense(key, slot);
    }
    return slot;
  }

  private growDense(key: number): void {
    let n = Math.max(1024, this.dense.length);
    while (n <= key) n *= 2;
    const dense = new Int32Array(n).fill(-1);
    dense.set(this.dense);
    this.dense = dense;
    this.grouping?.resizeDense(dense);
  }

  private probe(key: number): number {
    const mask = this.tableKeys.length - 1;
    let h = Math.imul(key, 0x9e3779b1) >>> 0;
    for (;;) {
      const i = h & mask;
      const slot = this.tableSlots[i]!;
      if (slot === -1) return this.insert(key, i);
      if (this.tableKeys[i] === key) return slot;
      h++;
    }
  }

  private insert(key: number, at: number): number {
    const group = this.groupOf(key);
    this.entries++;
    if (group < this.owned[0] || group >= this.owned[1]) {
      this.tableKeys[at] = key;
      this.tableSlots[at] = FOREIGN;
      if (this.entries * 2 > this.tableKeys.length) this.rehash();
      return FOREIGN;
    }
    const slot = this.freeSlots.pop() ?? this.slots++;
    if (slot >= this.slotKey.length) this.growSlots();
    this.slotKey[slot] = key;
    this.slotMarked[slot] = -1; // a reused slot: its new key's group is not marked yet
    if (slot >> SLAB_SHIFT >= this.slab.length) this.slab.push(this.alloc(SLAB_CHUNK * this.stride));
    this.memory().set(this.fresh, this.stateAt(slot));
    this.grouping?.setState(slot, this.stateAt(slot));
    this.tableKeys[at] = key;
    this.tableSlots[at] = slot;
    let list = this.groupSlots.get(group);
    if (list === undefined) this.groupSlots.set(group, (list = []));
    list.push(slot);
    if (this.entries * 2 > this.tableKeys.length) this.rehash();
    return slot;
  }

  private growSlots(): void {
    const n = this.slotKey.length * 2;
    const keys = new Uint32Array(n);
    keys.set(this.slotKey);
    this.slotKey = keys;
    const marked = new Int32Array(n).fill(-1);
    marked.set(this.slotMarked);
    this.slotMarked = marked;
    const count = new Int32Array(n);
    count.set(this.count);
    this.count = count;
    this.start = new Int32Array(n); // scratch, filled after every slot of the batch is known
    // Growth can happen in the middle of a batch: keep the slots it has touched so far.
    const touched = new Int32Array(n);
    touched.set(this.touched);
    this.touched = touched;
  }

  private rehash(): void {
    const size = this.tableKeys.length * 2;
    const mask = size - 1;
    const keys = new Uint32Array(size);
    const slots = new Int32Array(size).fill(-1);
    for (let i = 0; i < this.tableKeys.length; i++) {
      const slot = this.tableSlots[i]!;
      if (slot === -1) continue;
      const key = this.tableKeys[i]!;
      let h = Math.imul(key, 0x9e3779b1) >>> 0;
      while (slots[h & mask] !== -1) h++;
      keys[h & mask] = key;
      slots[h & mask] = slot;
    }
    this.tableKeys = keys;
    this.tableSlots = slots;
  }

  /** Marks slot's key group changed (its state is about to change). */
  private mark(slot: number): void {
    if (this.slotMarked[slot] !== this.period) {
      this.slotMarked[slot] = this.period;
      this.changed.add(this.groupOf(this.slotKey[slot]!));
    }
  }

  /** Points the kernel at slot's state, about to change. */
  private enter(slot: number): void {
    this.mark(slot);
    this.ex.useState(this.stateAt(slot));
  }

  /** Where a slot's state lies in WASM memory. */
  private stateAt(slot: number): number {
    return this.slab[slot >> SLAB_SHIFT]! + (slot & (SLAB_CHUNK - 1)) * this.stride;
  }

  /** Runs rows [from, to) of `src` through the kernel's current state (enter) into `dst` at the same positions. */
  private run(src: Float64Array, dst: Float64Array, from: number, to: number): void {
    const capacity = this.ex.capacity();
    for (let a = from; a < to; a += capacity) {
      const rows = Math.min(capacity, to - a);
      this.memory();
      if (rows === 1) {
        this.input[0] = src[a]!;
        this.ex.update(1);
        dst[a] = this.output[0]!;
      } else {
        this.input.set(src.subarray(a, a + rows));
        this.ex.update(rows);
        dst.set(this.output.subarray(0, rows), a);
      }
    }
  }

  process(values: Float64Array, keys: Uint32Array | undefined, out: Float64Array): void {
    const part = this.onePart[0]!;
    part.values = values;
    part.keys = keys;
    part.out = out;
    this.processParts(this.onePart);
  }

  processParts(parts: readonly RowsPart[]): void {
    this.lastGrouped = undefined;
    this.groupedInWasm = false;
    if (this.leader !== undefined && parts.length === 1 && this.processLikeLeader(parts[0]!)) return;
    let total = 0;
    for (const part of parts) total += part.values.length;
    if (this.groupsInWasm(parts)) {
      if (total > WASM_SLICE_ROWS) this.processSlices(parts, WASM_SLICE_ROWS);
      else if (!this.processInWasm(parts, total)) this.processInJs(parts, total);
      return;
    }
    if (total > SLICE_ROWS) {
      this.processSlices(parts, SLICE_ROWS);
      return;
    }
    this.processInJs(parts, total);
  }

  /** One slice of at most SLICE_ROWS rows, grouped in JavaScript. */
  private processInJs(parts: readonly RowsPart[], total: number): void {
    if (this.row.length < total) {
      const size = Math.max(total, this.row.length * 2);
      this.row = new Int32Array(size);
      this.slotOf = new Int32Array(size);
      this.order = new Int32Array(size);
    }
    if (this.partEnd.length < parts.length) {
      this.partEnd = new Int32Array(2 * parts.length);
      this.partAll = new Uint8Array(2 * parts.length);
    }
    const kept = this.keepRows(parts);
    if (kept === 0) return;
    const { count, start, touched } = this;
    const touchedCount = this.touchedCount;
    if (touchedCount === 1 && kept === total) {
      // One key and every row kept (unkeyed, or a batch of one key): no grouping.
      const slot = touched[0]!;
      count[slot] = 0;
      this.enter(slot);
      for (const { values, out } of parts) this.run(values, out, 0, values.length);
      return;
    }
    if (this.touchedRows.length < touchedCount) this.touchedRows = new Int32Array(this.touched.length);
    const touchedRows = this.touchedRows;
    for (let t = 0, pos = 0; t < touchedCount; t++) {
      const slot = touched[t]!;
      const rows = count[slot]!;
      count[slot] = 0;
      start[slot] = pos;
      touchedRows[t] = rows;
      pos += rows;
    }
    this.reserveGrouped(kept, touchedCount);
    this.writeTable(touched, touchedRows, touchedCount);
    this.gather(parts);
    this.ex.runKeys(touchedCount, this.tablePtr);
    this.scatter(parts, kept, total);
    // A follower reuses this grouping only when nothing overwrote it: one part, every row kept (see scatter).
    if (parts.length === 1 && kept === total && parts[0]!.keys !== undefined) this.lastGrouped = { values: parts[0]!.values, keys: parts[0]!.keys };
  }

  /**
   * Whether `parts` go to the grouping in WebAssembly: every row keyed and
   * of this operator's key groups (no row to skip), and the module there.
   */
  private groupsInWasm(parts: readonly RowsPart[]): boolean {
    for (const { keys, owned } of parts) if (keys === undefined || (!this.ownsAll && owned !== true)) return false;
    return this.hasGrouping();
  }

  /** Makes the grouping in WebAssembly on first use; false where the module cannot be instantiated. */
  private hasGrouping(): boolean {
    if (this.grouping === undefined) {
      this.grouping = KeyGrouping.create(this.ex, (bytes) => this.alloc(bytes)) ?? null;
      if (this.grouping !== null) {
        // Mirror what the operator holds so far (restored keys).
        this.grouping.resizeDense(this.dense);
        for (let slot = 0; slot < this.slots; slot++) this.grouping.setState(slot, this.stateAt(slot));
      }
    }
    return this.grouping !== null;
  }

  /**
   * One slice of at most WASM_SLICE_ROWS rows, every row kept, grouped and
   * run in WebAssembly (keygroup.ts): keys and values copied in, results out.
   */
  private processInWasm(parts: readonly RowsPart[], total: number): boolean {
    if (total === 0) return true;
    const grouping = this.grouping!;
    const gx = grouping.gx;
    grouping.reserveRows(total);
    copyIn(grouping, parts);
    gx.begin(total);
    if (!this.placeUnheld(grouping, total)) {
      // Another worker's key in a part said to be owned: left to the JavaScript path, which skips its row.
      gx.abandon();
      return false;
    }
    const runs = gx.finish();
    const keyCount = gx.keysTouched();
    this.markAll(grouping.touched(keyCount), keyCount);
    gx.runGrouped(total, runs);
    this.copyOut(parts, grouping.resultsOut());
    // A follower reuses this grouping (the one slice of one part) as it stands in WebAssembly memory.
    if (parts.length === 1) {
      this.lastGrouped = { values: parts[0]!.values, keys: parts[0]!.keys! };
      this.groupedInWasm = true;
      this.touchedCount = keyCount;
      this.wasmRuns = runs;
      this.wasmPlaces = gx.placesUsed();
    }
    return true;
  }

  /**
   * The slice's rows placed in WebAssembly (`place`), each key the dense
   * table does not hold placed here (its slot found, which may grow memory;
   * its row placed with `put`); keys from 2^16 up, never in the dense table,
   * as a run here, not one call per row. False at a key of another worker.
   * A loop of its own (as markAll and copyIn): in processInWasm the first
   * batch's new keys got that method compiled on stack replacement, which
   * then deoptimized after the loop on almost every later call (lines never
   * run before it was compiled) and ran the rest interpreted.
   */
  private placeUnheld(grouping: KeyGrouping, total: number): boolean {
    const gx = grouping.gx;
    for (let i = gx.place(0, total); i < total; i = gx.place(i, total)) {
      do {
        const slot = this.slotFor(grouping.keysIn()[i]!);
        if (slot < 0) return false;
        gx.put(i++, slot);
      } while (i < total && grouping.keysIn()[i]! >= DENSE_KEYS);
    }
    return true;
  }

  /** Marks the slots' groups changed. */
  private markAll(slots: Int32Array, count: number): void {
    for (let t = 0; t < count; t++) this.mark(slots[t]!);
  }

  /** Each part's results from `results` (row order, parts one after the other). */
  private copyOut(parts: readonly RowsPart[], results: Float64Array): void {
    let at = 0;
    for (const { out, values } of parts) {
      out.set(results.subarray(at, at + values.length));
      at += values.length;
    }
  }

  /**
   * Writes runKeys' table (each key's state and its run of grouped rows,
   * runs in the order of `slots`) and marks the keys' groups changed.
   */
  private writeTable(slots: Int32Array, rowsOf: Int32Array, keys: number): void {
    this.memory();
    const { mem32, gatherPtr, resultPtr } = this;
    let pos = 0;
    for (let t = 0, e = this.tablePtr >> 2; t < keys; t++, e += 4) {
      const slot = slots[t]!;
      const rows = rowsOf[t]!;
      this.mark(slot);
      mem32[e] = this.stateAt(slot);
      mem32[e + 1] = gatherPtr + pos * 8;
      mem32[e + 2] = resultPtr + pos * 8;
      mem32[e + 3] = rows;
      pos += rows;
    }
  }

  /**
   * Makes this operator take its batches with `leader`'s grouping by key:
   * for a caller that gives both the same batches (the same arrays), the
   * leader first (the CLI's ops over one key column). The key lookup, the
   * counting sort and the gather then run once for all of them; this
   * operator copies the grouped values and runs its own kernel on them. It
   * keeps its own key table, in step with the leader's (the same key in the
   * same slot, checked); a batch the leader did not group last, or an
   * operator out of step, takes the ordinary path: same results either way.
   */
  follow(leader: KernelOperator): void {
    if (leader !== this) this.leader = leader;
  }

  /** The leader's grouping of `part` (its last batch), when it applies to this operator; false when not taken. */
  private processLikeLeader(part: RowsPart): boolean {
    const leader = this.leader!;
    const last = leader.lastGrouped;
    if (last === undefined || last.values !== part.values || last.keys !== part.keys || !this.inStepWith(leader)) return false;
    if (leader.groupedInWasm) return this.processLikeWasmLeader(part, leader);
    const keys = leader.touchedCount;
    const kept = part.values.length;
    this.reserveGrouped(kept, keys);
    this.writeTable(leader.touched, leader.touchedRows, keys);
    this.gathered.set(leader.gathered.subarray(0, kept));
    this.ex.runKeys(keys, this.tablePtr);
    this.scatterOne(part.out, leader.order, kept);
    return true;
  }

  /** processLikeLeader from a leader that grouped in WebAssembly: its grouping copied into this one's, run here. */
  private processLikeWasmLeader(part: RowsPart, leader: KernelOperator): boolean {
    if (!this.hasGrouping()) return false;
    const grouping = this.grouping!;
    const keys = leader.touchedCount;
    const rows = part.values.length;
    grouping.copyGrouping(leader.grouping!, rows, keys, leader.wasmRuns, leader.wasmPlaces);
    const touched = grouping.touched(keys);
    for (let t = 0; t < keys; t++) this.mark(touched[t]!);
    grouping.gx.runGrouped(rows, leader.wasmRuns);
    part.out.set(grouping.resultsOut().subarray(0, rows));
    return true;
  }

  /**
   * Whether every key has the leader's slot here: the slots both hold agree
   * (checked once each), and the leader's newer keys are added here in slot
   * order, which gives them the same slots.
   */
  private inStepWith(leader: KernelOperator): boolean {
    if (!this.ownsAll || !leader.ownsAll || this.freeSlots.length > 0 || leader.freeSlots.length > 0 || this.slots > leader.slots) return false;
    if (this.checkedDrops !== this.drops + leader.drops) {
      this.checkedDrops = this.drops + leader.drops;
      this.inStep = 0;
    }
    for (let s = this.inStep; s < this.slots; s++) if (this.slotKey[s] !== leader.slotKey[s]) return false;
    for (let s = this.slots; s < leader.slots; s++) if (this.slotFor(leader.slotKey[s]!) !== s) return false;
    this.inStep = this.slots;
    return true;
  }

  /** processParts over more than `sliceRows` rows: the same parts, in slices of at most `sliceRows` rows, in order. */
  private processSlices(parts: readonly RowsPart[], sliceRows: number): void {
    const slice: RowsPart[] = [];
    let rows = 0;
    for (const part of parts) {
      const { values, keys, out, owned } = part;
      const n = values.length;
      for (let a = 0; a < n; ) {
        const b = Math.min(n, a + sliceRows - rows);
        slice.push(a === 0 && b === n ? part : { values: values.subarray(a, b), keys: keys?.subarray(a, b), out: out.subarray(a, b), owned });
        rows += b - a;
        a = b;
        if (rows === sliceRows) {
          this.processParts(slice);
          slice.length = 0;
          rows = 0;
        }
      }
    }
    if (rows > 0) this.processParts(slice);
  }

  /**
   * Looks up every row's slot and keeps the rows of owned key groups, in
   * order (slotOf, row, partEnd, partAll), counting rows per slot (count,
   * touched, touchedCount); returns the rows kept. A part whose rows are all
   * kept needs no row index: kept row j is row j − (the part's first kept row).
   */
  private keepRows(parts: readonly RowsPart[]): number {
    const { row, slotOf, partEnd, partAll } = this;
    let kept = 0;
    this.touchedCount = 0;
    for (let k = 0; k < parts.length; k++) {
      const { values, keys, owned } = parts[k]!;
      const n = values.length;
      const from = kept;
      partAll[k] = 1;
      if (keys === undefined) {
        const slot = this.slotFor(0);
        for (let i = 0; slot >= 0 && i < n; i++) slotOf[kept++] = slot;
      } else if (this.ownsAll || owned === true) {
        kept = this.lookUpOwned(keys, kept);
        partEnd[k] = kept;
        continue;
      } else {
        // Branch-free: on a shared batch, whether a row is kept is a coin
        // toss, which a branch would mispredict half the time.
        partAll[k] = 0;
        for (let i = 0; i < n; i++) {
          const slot = this.slotFor(keys[i]!);
          row[kept] = i;
          slotOf[kept] = slot;
          kept += (slot >>> 31) ^ 1;
        }
      }
      this.countRows(from, kept);
      partEnd[k] = kept;
    }
    return kept;
  }

  /** Every row of `keys` kept: their slots from kept row `at` on, counted; returns the rows kept after them. */
  private lookUpOwned(keys: Uint32Array, at: number): number {
    for (let i = 0; i < keys.length; ) {
      i = this.lookUpKnown(keys, i, at + i);
      i = this.lookUpNew(keys, i, at + i);
    }
    return at + keys.length;
  }

  /**
   * lookUpOwned's common case: rows from `i` on while their key has a slot
   * below DENSE_KEYS (one load). Returns the first other row. Its arrays are
   * constants here (a new key may grow them: lookUpNew), which measured twice
   * as fast as reloading them in one loop.
   */
  private lookUpKnown(keys: Uint32Array, from: number, at: number): number {
    const { slotOf, dense, count, touched } = this;
    const n = keys.length;
    const denseKeys = dense.length;
    let touchedCount = this.touchedCount;
    let i = from;
    for (; i < n; i++) {
      const key = keys[i]!;
      const slot = key < denseKeys ? dense[key]! : -1;
      if (slot < 0) break;
      slotOf[at + i - from] = slot;
      const c = count[slot]!;
      if (c === 0) touched[touchedCount++] = slot;
      count[slot] = c + 1;
    }
    this.touchedCount = touchedCount;
    return i;
  }

  /** lookUpOwned's other rows from `i` on (new keys, keys from DENSE_KEYS up) until a row lookUpKnown takes; returns it. */
  private lookUpNew(keys: Uint32Array, i: number, at: number): number {
    for (; i < keys.length; i++) {
      const key = keys[i]!;
      if (key < this.dense.length && this.dense[key]! >= 0) break;
      const slot = this.slotFor(key);
      this.slotOf[at++] = slot;
      const c = this.count[slot]!;
      if (c === 0) this.touched[this.touchedCount++] = slot;
      this.count[slot] = c + 1;
    }
    return i;
  }

  /** Counts kept rows [from, to) per slot. */
  private countRows(from: number, to: number): void {
    const { slotOf, count, touched } = this;
    let touchedCount = this.touchedCount;
    for (let j = from; j < to; j++) {
      const slot = slotOf[j]!;
      const c = count[slot]!;
      if (c === 0) touched[touchedCount++] = slot;
      count[slot] = c + 1;
    }
    this.touchedCount = touchedCount;
  }

  /** Copies the kept rows' values to their slots' runs in WASM memory (start: each run's next position), noting each one's kept row (order). */
  private gather(parts: readonly RowsPart[]): void {
    const { slotOf, start, row, order, gathered, partEnd, partAll } = this;
    let j = 0;
    for (let k = 0; k < parts.length; k++) {
      const { values } = parts[k]!;
      const end = partEnd[k]!;
      // Two loops rather than a test per row.
      if (partAll[k] === 1) {
        for (const from = j; j < end; j++) {
          const slot = slotOf[j]!;
          const p = start[slot]!;
          start[slot] = p + 1;
          gathered[p] = values[j - from]!;
          order[p] = j;
        }
      } else {
        for (; j < end; j++) {
          const slot = slotOf[j]!;
          const p = start[slot]!;
          start[slot] = p + 1;
          gathered[p] = values[row[j]!]!;
          order[p] = j;
        }
      }
    }
  }

  /**
   * Writes runKeys' results out to the parts' rows: back to kept order
   * (random writes, which do not stall as random reads would: reading each
   * key's run in kept order measured slower), then out to the parts
   * (ascending rows). One part with every row kept: kept order is row order.
   */
  private scatter(parts: readonly RowsPart[], kept: number, total: number): void {
    const { order, results, row, partEnd, partAll } = this;
    if (parts.length === 1 && kept === total) {
      this.scatterOne(parts[0]!.out, order, kept);
      return;
    }
    const byKept = this.gathered; // the grouped input is spent: reused for results in kept order
    for (let p = 0; p < kept; p++) byKept[order[p]!] = results[p]!;
    let j = 0;
    for (let k = 0; k < parts.length; k++) {
      const { out } = parts[k]!;
      const end = partEnd[k]!;
      if (partAll[k] === 1) {
        out.set(byKept.subarray(j, end));
        j = end;
      } else for (; j < end; j++) out[row[j]!] = byKept[j]!;
    }
  }

  /** One part with every row kept: kept order is row order. */
  private scatterOne(out: Float64Array, order: Int32Array, kept: number): void {
    const results = this.results;
    for (let p = 0; p < kept; p++) out[order[p]!] = results[p]!;
  }

  changedGroups(): number[] {
    const groups = [...this.changed].sort((a, b) => a - b);
    this.changed.clear();
    this.period++;
    return groups;
  }

  snapshotGroup(group: number): Uint8Array | undefined {
    const list = this.groupSlots.get(group);
    if (list === undefined || list.length === 0) return undefined;
    return this.snapshotSlots(list);
  }

  snapshotPatch(group: number): Uint8Array | undefined {
    const list = this.groupSlots.get(group);
    if (list === undefined) return undefined;
    // Marked in the period changedGroups() just closed: about to change then (mark), so possibly changed.
    const dirty = list.filter((slot) => this.slotMarked[slot] === this.period - 1);
    return dirty.length === list.length ? undefined : this.snapshotSlots(dirty);
  }

  /** The group snapshot format over some slots of a group, in their order. */
  private snapshotSlots(list: readonly number[]): Uint8Array {
    if (this.compact) return this.snapshotCompact(list, this.codec!);
    const mem = this.memory();
    const size = this.stateSize;
    const bytes = new Uint8Array(8 + list.length * (4 + size));
    const view = new DataView(bytes.buffer);
    view.setUint32(0, list.length, true);
    view.setUint32(4, size, true);
    let at = 8 + list.length * 4;
    for (let i = 0; i < list.length; i++) {
      const slot = list[i]!;
      view.setUint32(8 + i * 4, this.slotKey[slot]!, true);
      const from = this.stateAt(slot);
      bytes.set(mem.subarray(from, from + size), at);
      at += size;
    }
    return bytes;
  }

  /** The group format with variable-length key records (checkpoint.ts): each key's compact state, u32 length first. */
  private snapshotCompact(list: readonly number[], codec: StateCodec): Uint8Array {
    const mem = this.memory();
    let total = 8 + list.length * 4;
    for (const slot of list) total += 4 + codec.encodedLength(mem, this.stateAt(slot));
    const bytes = new Uint8Array(total);
    const view = new DataView(bytes.buffer);
    view.setUint32(0, list.length, true);
    view.setUint32(4, (this.stateSize | COMPACT_RECORDS) >>> 0, true);
    let at = 8 + list.length * 4;
    for (let i = 0; i < list.length; i++) {
      const slot = list[i]!;
      view.setUint32(8 + i * 4, this.slotKey[slot]!, true);
      const length = codec.encode(mem, this.stateAt(slot), bytes, at + 4);
      view.setUint32(at, length, true);
      at += 4 + length;
    }
    return bytes;
  }

  restoreGroup(group: number, bytes: Uint8Array): void {
    const fail = (why: string): never => {
      throw new CheckpointError('BAD_STATE', `checkpoint state of key group ${group} is invalid: ${why}`);
    };
    if (bytes.length < 8) fail(`${bytes.length} bytes is too short`);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const count = view.getUint32(0, true);
    const sizeField = view.getUint32(4, true);
    // Variable-length key records (a compact state, or a raw one of the state size each): see checkpoint.ts.
    const records = (sizeField & COMPACT_RECORDS) !== 0;
    const size = records ? sizeField & ~COMPACT_RECORDS : sizeField;
    if (size !== this.stateSize) fail(`kernel state of ${size} bytes, expected ${this.stateSize}`);
    if (!records && bytes.length !== 8 + count * (4 + size)) fail(`expected ${8 + count * (4 + size)} bytes for ${count} keys, got ${bytes.length}`);
    if (records && bytes.length < 8 + count * 8) fail(`expected at least ${8 + count * 8} bytes for ${count} keys, got ${bytes.length}`);
    if (group < this.owned[0] || group >= this.owned[1]) fail(`key group ${group} is not one of this worker's (${this.owned[0]} to ${this.owned[1] - 1})`);
    if (this.groupSlots.has(group)) fail('restored twice');
    let at = 8 + count * 4;
    for (let i = 0; i < count; i++) {
      const key = view.getUint32(8 + i * 4, true);
      if (this.groupOf(key) !== group) fail(`key ${key} belongs to key group ${this.groupOf(key)}`);
      let state = bytes.subarray(at, at + size);
      if (records) {
        if (at + 4 > bytes.length) fail(`key ${key}'s record is past the end (${bytes.length} bytes)`);
        const length = view.getUint32(at, true);
        if (at + 4 + length > bytes.length) fail(`key ${key}'s record of ${length} bytes is past the end (${bytes.length} bytes)`);
        state = bytes.subarray(at + 4, at + 4 + length);
        at += 4 + length;
        if (length !== size) {
          if (this.codec === undefined) fail(`key ${key}'s state of ${length} bytes, expected ${size}`);
          // One scratch state for every key decoded: it is copied into the slab right below.
          const raw = (this.decoded ??= new Uint8Array(size));
          const why = this.codec!.decode(state, raw, 0);
          if (why !== undefined) fail(`key ${key}: ${why}`);
          state = raw;
        }
      } else at += size;
      if (records && i === count - 1 && at !== bytes.length) fail(`expected ${at} bytes for ${count} keys, got ${bytes.length}`);
      const before = this.entries;
      const slot = this.slotFor(key);
      if (this.entries === before) fail(`key ${key} appears twice`);
      // Validated where it will run: the CRC is not a defence against forged bytes (a refusal fails the restore).
      // validate() may grow memory (scratch space): a fresh view each time.
      const ptr = this.stateAt(slot);
      this.memory().set(state, ptr);
      this.ex.useState(ptr);
      let status: number;
      try {
        status = this.ex.validate();
      } catch {
        status = -1;
      }
      this.memBuffer = undefined; // validate() may have moved the IO buffers (scratch above the slab)
      if (status !== STATUS_OK) fail(`kernel state of key ${key} is inconsistent`);
    }
    if (records && count === 0 && bytes.length !== 8) fail(`expected 8 bytes for 0 keys, got ${bytes.length}`);
  }

  /**
   * Forgets a key group: its keys and their state (snapshotGroup gives
   * undefined after), as when a partition is given back. Its slots go to new
   * keys; a key of the group seen again starts afresh.
   */
  dropGroup(group: number): void {
    const list = this.groupSlots.get(group);
    if (list === undefined) return;
    this.groupSlots.delete(group);
    this.changed.delete(group);
    this.drops++;
    for (const slot of list) {
      const key = this.slotKey[slot]!;
      if (key < this.dense.length) {
        this.dense[key] = -1;
        this.grouping?.setDense(key, -1);
      }
      this.unlink(key);
      this.freeSlots.push(slot);
    }
  }

  /** Removes a key from the table (backward-shift deletion keeps every probe chain unbroken). */
  private unlink(key: number): void {
    const { tableKeys, tableSlots } = this;
    const mask = tableKeys.length - 1;
    const home = (k: number): number => (Math.imul(k, 0x9e3779b1) >>> 0) & mask;
    let hole = home(key);
    for (; tableKeys[hole] !== key || tableSlots[hole] === -1; hole = (hole + 1) & mask) if (tableSlots[hole] === -1) return;
    for (let j = (hole + 1) & mask; tableSlots[j] !== -1; j = (j + 1) & mask) {
      // The entry at j may fill the hole unless its home lies cyclically in (hole, j].
      const h = home(tableKeys[j]!);
      const stays = hole < j ? h > hole && h <= j : h > hole || h <= j;
      if (stays) continue;
      tableKeys[hole] = tableKeys[j]!;
      tableSlots[hole] = tableSlots[j]!;
      hole = j;
    }
    tableSlots[hole] = -1;
    this.entries--;
  }

  trap(): void {
    this.ex.update(0x7fffffff);
  }
}
