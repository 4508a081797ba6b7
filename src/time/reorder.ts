// Bounded disorder per key: rows are held until their key's greatest
// timestamp minus the bound passes them, then released in (timestamp, row)
// order. Used by rolling by duration in process (rolling.ts) and in front of
// the scheduler's workers (the CLI's run --workers N --max-out-of-order).
import type { ByteReader, ByteWriter } from './snapshot.js';
import { expectState } from './snapshot.js';

/**
 * Pending rows of one key, a binary min-heap on (ts, row), in typed columns.
 * Sifts move a hole rather than swapping entries (fewer writes, the same
 * places as swaps give: snapshots list held rows in heap order).
 */
class PendingHeap {
  ts = new Float64Array(8);
  row = new Float64Array(8);
  val = new Float64Array(8);
  size = 0;
  grow(): void {
    const n = 2 * this.ts.length;
    this.ts = grownF64(this.ts, n);
    this.row = grownF64(this.row, n);
    this.val = grownF64(this.val, n);
  }
  push(t: number, r: number, v: number): void {
    if (this.size === this.ts.length) this.grow();
    const ts = this.ts, row = this.row, val = this.val;
    let i = this.size++;
    // Parents after the new entry move down into the hole (a row in time order stops at once).
    while (i > 0) {
      const p = (i - 1) >> 1;
      const pt = ts[p]!;
      if (!(t < pt || (t === pt && r < row[p]!))) break;
      ts[i] = pt;
      row[i] = row[p]!;
      val[i] = val[p]!;
      i = p;
    }
    ts[i] = t;
    row[i] = r;
    val[i] = v;
  }
  /** Removes the least entry (read it first at index 0). */
  pop(): void {
    const n = --this.size;
    if (n === 0) return;
    const ts = this.ts, row = this.row, val = this.val;
    // The last entry sinks from the root: the lesser child moves up while it is less.
    const t = ts[n]!, r = row[n]!, v = val[n]!;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      let m = l;
      const c = l + 1;
      if (c < n && (ts[c]! < ts[l]! || (ts[c] === ts[l] && row[c]! < row[l]!))) m = c;
      const mt = ts[m]!;
      if (!(mt < t || (mt === t && row[m]! < r))) break;
      ts[i] = mt;
      row[i] = row[m]!;
      val[i] = val[m]!;
      i = m;
    }
    ts[i] = t;
    row[i] = r;
    val[i] = v;
  }
}

function grownF64(a: Float64Array, n: number): Float64Array<ArrayBuffer> {
  const b = new Float64Array(n);
  b.set(a);
  return b;
}

/** Rows released, in release order (fresh arrays: the caller may keep them). */
export interface Released {
  ts: Float64Array;
  val: Float64Array;
  key: Uint32Array;
  row: Float64Array;
}

/** Released rows gathered in reused columns; take() copies them out. */
class ReleaseBuffer {
  // Not private: Reorderer.hold appends to them inline.
  ts = new Float64Array(1024);
  val = new Float64Array(1024);
  key = new Uint32Array(1024);
  row = new Float64Array(1024);
  n = 0;
  add(ts: number, row: number, val: number, key: number): void {
    if (this.n === this.ts.length) this.grow();
    const i = this.n++;
    this.ts[i] = ts;
    this.row[i] = row;
    this.val[i] = val;
    this.key[i] = key;
  }
  grow(): void {
    const n = 2 * this.ts.length;
    this.ts = grownF64(this.ts, n);
    this.val = grownF64(this.val, n);
    this.row = grownF64(this.row, n);
    const key = new Uint32Array(n);
    key.set(this.key);
    this.key = key;
  }
  take(): Released {
    const n = this.n;
    this.n = 0;
    return { ts: this.ts.slice(0, n), val: this.val.slice(0, n), key: this.key.slice(0, n), row: this.row.slice(0, n) };
  }
}

/** A row too far out of order: its index in the batch and its key's greatest timestamp. */
export interface TooLate {
  index: number;
  max: number;
}

/** A key's greatest timestamp and its held rows (in `pending` too while it holds any). */
interface KeyState {
  max: number;
  heap: PendingHeap | undefined;
}

/** Parsed held state, installed by {@link Reorderer.install} once everything is valid. */
export interface HeldState {
  keyMax: Map<number, number>;
  pending: Map<number, PendingHeap>;
}

/** Key ids below this also find their state in an array (one slot each). */
const DENSE_KEYS = 1 << 16;

/** See the file comment. Keys are numeric ids (0 when unkeyed). */
export class Reorderer {
  /** Per key, in order of first row: its greatest timestamp and held rows (one lookup per row). */
  private readonly states = new Map<number, KeyState>();
  /** The same states by key id, for ids below DENSE_KEYS (the CLI's and KeyMap's ids are dense): an array read per row, not a Map look-up. */
  private byId: (KeyState | undefined)[] = [];
  /** The keys holding rows, in the order they began to: the order snapshots write them. */
  private readonly pending = new Map<number, PendingHeap>();
  private readonly out = new ReleaseBuffer();

  constructor(readonly bound: number) {}

  /** The first row of a batch more than `bound` behind its key's greatest timestamp, if any (checked before anything changes). */
  tooLate(ts: Float64Array, ids: Uint32Array | undefined): TooLate | undefined {
    const maxOf = new Map<number, number>();
    for (let i = 0; i < ts.length; i++) {
      const k = ids === undefined ? 0 : ids[i]!;
      const m = maxOf.get(k) ?? this.states.get(k)?.max ?? -Infinity;
      const t = ts[i]!;
      if (t < m - this.bound) return { index: i, max: m };
      if (t > m) maxOf.set(k, t);
    }
    return undefined;
  }

  private stateOf(k: number): KeyState {
    return (k < DENSE_KEYS ? this.byId[k] : undefined) ?? this.newStateOf(k);
  }

  /** Key k's state from the Map (made there in order of first row when new), kept in byId too. */
  private newStateOf(k: number): KeyState {
    let state = this.states.get(k);
    if (state === undefined) {
      state = { max: -Infinity, heap: undefined };
      this.states.set(k, state);
    }
    if (k < DENSE_KEYS) {
      while (this.byId.length < k) this.byId.push(undefined);
      this.byId[k] = state;
    }
    return state;
  }

  /** Holds a batch's rows (numbered from `base`) and releases those the bound has passed. */
  push(ts: Float64Array, vals: Float64Array, ids: Uint32Array | undefined, base: number): Released {
    this.hold(ts, vals, ids, base, this.bound, this.out);
    return this.out.take();
  }

  /**
   * push's loop, a method of its own: compiled once (see cli/waiting.ts), not
   * again after the first batch. The heap's push, the release of the rows
   * the bound passes and the heap's pop are written out here, not called
   * (the same steps as PendingHeap.push/pop and release, so the same heap
   * layout, which snapshots list): a job's first batch runs most of this
   * loop before TurboFan's code for it arrives, and there each call cost
   * more than the work (the demo's first 65 536 rows: ~38 → ~25 ms).
   * `bound` and `out` come as arguments: read from `this` before the loop,
   * they were loads first run before the function had type feedback, and
   * its TurboFan code deoptimized on entry at the next batch.
   */
  private hold(ts: Float64Array, vals: Float64Array, ids: Uint32Array | undefined, base: number, bound: number, out: ReleaseBuffer): void {
    let lastKey = -1;
    let state: KeyState | undefined;
    for (let i = 0; i < ts.length; i++) {
      const k = ids === undefined ? 0 : ids[i]!;
      if (k !== lastKey || state === undefined) {
        state = this.stateOf(k);
        lastKey = k;
      }
      const t = ts[i]!;
      if (t > state.max) state.max = t;
      const heap = state.heap ?? this.heapOf(k, state);
      if (heap.size === heap.ts.length) heap.grow();
      const hts = heap.ts, hrow = heap.row, hval = heap.val;
      // PendingHeap.push: parents after the new entry move down into the hole.
      const r = base + i;
      let j = heap.size++;
      while (j > 0) {
        const p = (j - 1) >> 1;
        const pt = hts[p]!;
        if (!(t < pt || (t === pt && r < hrow[p]!))) break;
        hts[j] = pt;
        hrow[j] = hrow[p]!;
        hval[j] = hval[p]!;
        j = p;
      }
      hts[j] = t;
      hrow[j] = r;
      hval[j] = vals[i]!;
      // release: the least entry out while the bound passes it, then PendingHeap.pop's sift.
      const until = state.max - bound;
      while (hts[0]! <= until) {
        if (out.n === out.ts.length) out.grow();
        const o = out.n++;
        out.ts[o] = hts[0]!;
        out.row[o] = hrow[0]!;
        out.val[o] = hval[0]!;
        out.key[o] = k;
        const n = --heap.size;
        if (n === 0) {
          state.heap = undefined;
          this.pending.delete(k);
          break;
        }
        const lt = hts[n]!, lr = hrow[n]!, lv = hval[n]!;
        let h = 0;
        for (;;) {
          const l = 2 * h + 1;
          if (l >= n) break;
          let m = l;
          const c = l + 1;
          if (c < n && (hts[c]! < hts[l]! || (hts[c] === hts[l] && hrow[c]! < hrow[l]!))) m = c;
          const mt = hts[m]!;
          if (!(mt < lt || (mt === lt && hrow[m]! < lr))) break;
          hts[h] = mt;
          hrow[h] = hrow[m]!;
          hval[h] = hval[m]!;
          h = m;
        }
        hts[h] = lt;
        hrow[h] = lr;
        hval[h] = lv;
      }
    }
  }

  /** Key k's heap, made (and listed pending) when it holds nothing. */
  private heapOf(k: number, state: KeyState): PendingHeap {
    if (state.heap === undefined) {
      state.heap = new PendingHeap();
      this.pending.set(k, state.heap);
    }
    return state.heap;
  }

  /**
   * An idle timeout (live input): every key's greatest timestamp advances by
   * `ms`, as if each key had a row that much later, and the held rows the
   * bound then passes are released (per key in (timestamp, row) order).
   */
  advance(ms: number): Released {
    for (const [k, state] of this.states) {
      state.max += ms;
      this.release(k, state, state.max);
    }
    return this.out.take();
  }

  /** Moves key k's held rows that the bound passes at greatest timestamp `max` to the output, in (timestamp, row) order. */
  private release(k: number, state: KeyState, max: number): void {
    const heap = state.heap;
    if (heap === undefined) return;
    const until = max - this.bound;
    while (heap.size > 0 && heap.ts[0]! <= until) {
      this.out.add(heap.ts[0]!, heap.row[0]!, heap.val[0]!, k);
      heap.pop();
    }
    if (heap.size === 0) {
      state.heap = undefined;
      this.pending.delete(k);
    }
  }

  /** End of stream: every held row, in (timestamp, row) order. */
  flush(): Released {
    const all: { ts: number; row: number; val: number; key: number }[] = [];
    for (const [key, heap] of this.pending) {
      for (let i = 0; i < heap.size; i++) all.push({ ts: heap.ts[i]!, row: heap.row[i]!, val: heap.val[i]!, key });
      this.stateOf(key).heap = undefined;
    }
    this.pending.clear();
    all.sort((a, b) => a.ts - b.ts || a.row - b.row);
    for (const r of all) this.out.add(r.ts, r.row, r.val, r.key);
    return this.out.take();
  }

  /** Writes the per-key greatest timestamps and the held rows (of the keys `keep` accepts). */
  write(w: ByteWriter, keep?: (key: number) => boolean): void {
    const kept = <T>(map: Map<number, T>): [number, T][] => [...map].filter(([k]) => keep === undefined || keep(k));
    const keyMax = kept(this.states);
    w.u32(keyMax.length);
    for (const [k, state] of keyMax) {
      w.u32(k);
      w.f64(state.max);
    }
    const pending = kept(this.pending);
    let held = 0;
    for (const [, heap] of pending) held += heap.size;
    w.u32(held);
    for (const [k, heap] of pending) {
      for (let i = 0; i < heap.size; i++) {
        w.u32(k);
        w.f64(heap.row[i]!);
        w.f64(heap.ts[i]!);
        w.f64(heap.val[i]!);
      }
    }
  }

  /**
   * Reads what {@link write} wrote, checking every field (`checkKey` checks a
   * key id; `keep`: merging, so keys must be new here); install the result
   * with {@link install} once the rest of a snapshot is valid too.
   */
  read(r: ByteReader, rowsSeen: number, checkKey: (key: number) => void, keep?: (key: number) => boolean): HeldState {
    const nMax = r.count(12, 'key maximum');
    const keyMax = new Map<number, number>();
    for (let i = 0; i < nMax; i++) {
      const k = r.u32();
      const m = r.f64();
      expectState(Number.isFinite(m) && !keyMax.has(k) && (keep === undefined || (keep(k) && !this.states.has(k))), 'bad per-key greatest timestamp');
      checkKey(k);
      keyMax.set(k, m);
    }
    expectState(this.bound > 0 || nMax === 0, 'out-of-order state without maxOutOfOrderness');
    const nHeld = r.count(28, 'held row');
    const pending = new Map<number, PendingHeap>();
    const rows = new Set<number>();
    for (let i = 0; i < nHeld; i++) {
      const k = r.u32();
      const row = r.f64();
      const t = r.f64();
      const v = r.f64();
      const m = keyMax.get(k);
      expectState(m !== undefined && Number.isFinite(t) && t > m - this.bound && t <= m, `held row ${row}: timestamp out of range`);
      expectState(Number.isInteger(row) && row >= 0 && row < rowsSeen && !rows.has(row), `held row ${row}: bad row number`);
      rows.add(row);
      let heap = pending.get(k);
      if (heap === undefined) pending.set(k, (heap = new PendingHeap()));
      heap.push(t, row, v);
    }
    return { keyMax, pending };
  }

  /** Adds state read by {@link read}. */
  install(state: HeldState): void {
    for (const [k, m] of state.keyMax) this.stateOf(k).max = m;
    for (const [k, h] of state.pending) {
      this.pending.set(k, h);
      this.stateOf(k).heap = h;
    }
  }

  clear(): void {
    this.states.clear();
    this.byId = [];
    this.pending.clear();
  }
}
