// Bounded disorder per key: rows are held until their key's greatest
// timestamp minus the bound passes them, then released in (timestamp, row)
// order. Used by rolling by duration in process (rolling.ts) and in front of
// the scheduler's workers (the CLI's run --workers N --max-out-of-order).
import type { ByteReader, ByteWriter } from './snapshot.js';
import { expectState } from './snapshot.js';

/** Pending rows of one key, a binary min-heap on (ts, row). */
class PendingHeap {
  ts: number[] = [];
  row: number[] = [];
  val: number[] = [];
  get size(): number {
    return this.ts.length;
  }
  private less(i: number, j: number): boolean {
    const a = this.ts[i]!, b = this.ts[j]!;
    return a < b || (a === b && this.row[i]! < this.row[j]!);
  }
  private swap(i: number, j: number): void {
    for (const arr of [this.ts, this.row, this.val]) {
      const t = arr[i]!;
      arr[i] = arr[j]!;
      arr[j] = t;
    }
  }
  push(ts: number, row: number, val: number): void {
    this.ts.push(ts);
    this.row.push(row);
    this.val.push(val);
    let i = this.ts.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }
  /** Removes the least entry; returns its index values via the out array [ts, row, val]. */
  pop(out: number[]): void {
    out[0] = this.ts[0]!;
    out[1] = this.row[0]!;
    out[2] = this.val[0]!;
    const last = this.ts.length - 1;
    if (last > 0) this.swap(0, last);
    this.ts.pop();
    this.row.pop();
    this.val.pop();
    let i = 0;
    const n = this.ts.length;
    for (;;) {
      const l = 2 * i + 1, r = l + 1;
      let m = i;
      if (l < n && this.less(l, m)) m = l;
      if (r < n && this.less(r, m)) m = r;
      if (m === i) break;
      this.swap(i, m);
      i = m;
    }
  }
}

/** Rows released, in release order. */
export interface Released {
  ts: number[];
  val: number[];
  key: number[];
  row: number[];
}

/** A row too far out of order: its index in the batch and its key's greatest timestamp. */
export interface TooLate {
  index: number;
  max: number;
}

/** Parsed held state, installed by {@link Reorderer.install} once everything is valid. */
export interface HeldState {
  keyMax: Map<number, number>;
  pending: Map<number, PendingHeap>;
}

/** See the file comment. Keys are numeric ids (0 when unkeyed). */
export class Reorderer {
  private readonly keyMax = new Map<number, number>();
  private readonly pending = new Map<number, PendingHeap>();

  constructor(readonly bound: number) {}

  /** The first row of a batch more than `bound` behind its key's greatest timestamp, if any (checked before anything changes). */
  tooLate(ts: Float64Array, ids: Uint32Array | undefined): TooLate | undefined {
    const maxOf = new Map<number, number>();
    for (let i = 0; i < ts.length; i++) {
      const k = ids === undefined ? 0 : ids[i]!;
      const m = maxOf.get(k) ?? this.keyMax.get(k) ?? -Infinity;
      const t = ts[i]!;
      if (t < m - this.bound) return { index: i, max: m };
      if (t > m) maxOf.set(k, t);
    }
    return undefined;
  }

  /** Holds a batch's rows (numbered from `base`) and releases those the bound has passed. */
  push(ts: Float64Array, vals: Float64Array, ids: Uint32Array | undefined, base: number): Released {
    const out: Released = { ts: [], val: [], key: [], row: [] };
    const tmp = [0, 0, 0];
    for (let i = 0; i < ts.length; i++) {
      const k = ids === undefined ? 0 : ids[i]!;
      const t = ts[i]!;
      const m = Math.max(this.keyMax.get(k) ?? -Infinity, t);
      this.keyMax.set(k, m);
      let heap = this.pending.get(k);
      if (heap === undefined) this.pending.set(k, (heap = new PendingHeap()));
      heap.push(t, base + i, vals[i]!);
      this.release(k, heap, m, out, tmp);
    }
    return out;
  }

  /**
   * An idle timeout (live input): every key's greatest timestamp advances by
   * `ms`, as if each key had a row that much later, and the held rows the
   * bound then passes are released (per key in (timestamp, row) order).
   */
  advance(ms: number): Released {
    const out: Released = { ts: [], val: [], key: [], row: [] };
    const tmp = [0, 0, 0];
    for (const [k, max] of this.keyMax) {
      const m = max + ms;
      this.keyMax.set(k, m);
      const heap = this.pending.get(k);
      if (heap !== undefined) this.release(k, heap, m, out, tmp);
    }
    return out;
  }

  /** Moves key k's held rows that the bound passes at greatest timestamp `max` to `out`, in (timestamp, row) order. */
  private release(k: number, heap: PendingHeap, max: number, out: Released, tmp: number[]): void {
    while (heap.size > 0 && heap.ts[0]! <= max - this.bound) {
      heap.pop(tmp);
      out.ts.push(tmp[0]!);
      out.row.push(tmp[1]!);
      out.val.push(tmp[2]!);
      out.key.push(k);
    }
    if (heap.size === 0) this.pending.delete(k);
  }

  /** End of stream: every held row, in (timestamp, row) order. */
  flush(): Released {
    const all: { ts: number; row: number; val: number; key: number }[] = [];
    for (const [key, heap] of this.pending) {
      for (let i = 0; i < heap.size; i++) all.push({ ts: heap.ts[i]!, row: heap.row[i]!, val: heap.val[i]!, key });
    }
    this.pending.clear();
    all.sort((a, b) => a.ts - b.ts || a.row - b.row);
    return { ts: all.map((r) => r.ts), val: all.map((r) => r.val), key: all.map((r) => r.key), row: all.map((r) => r.row) };
  }

  /** Writes the per-key greatest timestamps and the held rows (of the keys `keep` accepts). */
  write(w: ByteWriter, keep?: (key: number) => boolean): void {
    const kept = <T>(map: Map<number, T>): [number, T][] => [...map].filter(([k]) => keep === undefined || keep(k));
    const keyMax = kept(this.keyMax);
    w.u32(keyMax.length);
    for (const [k, m] of keyMax) {
      w.u32(k);
      w.f64(m);
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
      expectState(Number.isFinite(m) && !keyMax.has(k) && (keep === undefined || (keep(k) && !this.keyMax.has(k))), 'bad per-key greatest timestamp');
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
    for (const [k, m] of state.keyMax) this.keyMax.set(k, m);
    for (const [k, h] of state.pending) this.pending.set(k, h);
  }

  clear(): void {
    this.keyMax.clear();
    this.pending.clear();
  }
}
