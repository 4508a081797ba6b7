// The rows `streamkernel run` has read but not written yet (their results
// are not all back: workers, or rows held by --max-out-of-order), in input
// order. Numbers live in growable typed columns, so a held row costs no
// JS array slot per value and per op (a profile of the demo showed the
// per-row arrays and their copies).

import { isoText } from '../connectors/iso-time.js';
import type { ColumnBatch, ResultBatch, SourceOffset } from '../connectors/types.js';
import type { OpsOutput } from './ops.js';

/** Rows written out at the front are dropped once this many have piled up (or when none waits). */
const COMPACT_AT = 65_536;

/** A typed array of at least `n` elements holding `a`'s first `used` (a itself when it is large enough). */
export function grown<T extends Float64Array | Uint8Array | Uint32Array>(a: T, used: number, n: number, make: (size: number) => T): T {
  if (n <= a.length) return a;
  const b = make(Math.max(n, a.length * 2, 1024));
  b.set(a.subarray(0, used));
  return b;
}

// The per-row loops are small functions of their own: a loop inside a large
// method gets that method compiled on stack replacement in the first batch,
// then deoptimized at the first line after the loop that never ran, and
// compiled again (a profile of the demo counted 3 to 5 compiles each).

/** Marks rows `rows[i] + shift` known, i < count; the index of the first outside [lo, hi) (not marked), or -1. */
function markKnown(known: Uint8Array, rows: Float64Array, count: number, shift: number, lo: number, hi: number): number {
  for (let i = 0; i < count; i++) {
    const at = rows[i]! + shift;
    if (!(at >= lo && at < hi)) return i;
    known[at] = 1;
  }
  return -1;
}

/** `res[rows[i] + shift] = values[i]`, i < count. */
function scatter(res: Float64Array, values: Float64Array, rows: Float64Array, count: number, shift: number): void {
  for (let i = 0; i < count; i++) res[rows[i]! + shift] = values[i]!;
}

/** The end of the run of 1s in `known` from `from` (at most `end`). */
function knownEnd(known: Uint8Array, from: number, end: number): number {
  let i = from;
  while (i < end && known[i] === 1) i++;
  return i;
}

/** Whether `flags[from..stop)` are all 1. */
function allSet(flags: Uint8Array, from: number, stop: number): boolean {
  for (let i = from; i < stop; i++) if (flags[i] !== 1) return false;
  return true;
}

/** Held rows from index `head` to `tail`: time text, key, value, each op's result, and whether the results are known. */
export class WaitingRows {
  /**
   * Rows' time text as read, written for the rows not in `iso` only (a row of
   * `iso` leaves its entry as it was, or beyond the end: no write per row).
   */
  private time: string[] = [];
  /** Whether a row's time text is the canonical ISO text of its ms in `stamps` (ColumnBatch.isoTimes): written from the ms, no string per row. */
  private iso = new Uint8Array(0);
  private stamps = new Float64Array(0);
  /**
   * Keys as ids of `keyNames` (its own list: restored rows come with strings):
   * a reader's key ids map to them with one look-up per distinct key, and rows
   * taken carry ids, which the formatter writes with an array read.
   */
  private keyIds = new Uint32Array(0);
  private readonly keyNames: string[] = [];
  private readonly idOfName = new Map<string, number>();
  /** The reader's key ids + 1 → ours (0: not seen), for the reader's list `readerNames`. */
  private fromReader = new Uint32Array(0);
  private readerNames: readonly string[] | undefined;
  private values = new Float64Array(0);
  private results: Float64Array[];
  private known = new Uint8Array(0);
  private head = 0;
  private tail = 0;

  constructor(
    opCount: number,
    private readonly keyed: boolean,
  ) {
    this.results = Array.from({ length: opCount }, () => new Float64Array(0));
  }

  /** Rows waiting. */
  get length(): number {
    return this.tail - this.head;
  }

  /** Appends `n` rows with no results known yet. */
  private reserve(n: number): number {
    // Dropped here, not in take(): the batch take() returned views (subarrays) of the rows it took.
    if (this.head > 0 && (this.head === this.tail || this.head >= COMPACT_AT)) this.compact();
    const at = this.tail;
    const need = at + n;
    this.values = grown(this.values, at, need, (k) => new Float64Array(k));
    this.known = grown(this.known, at, need, (k) => new Uint8Array(k));
    this.iso = grown(this.iso, at, need, (k) => new Uint8Array(k));
    this.stamps = grown(this.stamps, at, need, (k) => new Float64Array(k));
    if (this.keyed) this.keyIds = grown(this.keyIds, at, need, (k) => new Uint32Array(k));
    this.results = this.results.map((r) => grown(r, at, need, (k) => new Float64Array(k)));
    this.known.fill(0, at, need);
    this.tail = need;
    return at;
  }

  /** Appends the rows of `batch`, their results unknown. */
  add(batch: ColumnBatch): void {
    const n = batch.length;
    const at = this.reserve(n);
    this.values.set(batch.values.subarray(0, n), at);
    const stamps = batch.timestamps;
    if (batch.isoTimes === true && stamps !== undefined) {
      this.stamps.set(stamps.subarray(0, n), at);
      this.iso.fill(1, at, at + n);
    } else {
      this.iso.fill(0, at, at + n);
      this.timeUpTo(at);
      for (let i = 0; i < n; i++) this.time[at + i] = batch.timeText?.[i] ?? String(stamps?.[i]);
    }
    if (!this.keyed) return;
    const { keyIds: ids, keyNames: names, keys } = batch;
    if (ids !== undefined && names !== undefined) this.addReaderIds(ids, names, n, at);
    else for (let i = 0; i < n; i++) this.keyIds[at + i] = this.idOf(keys?.[i] as string);
  }

  /** `time` made at least `at` entries long before rows at `at` on write theirs (no holes: a holey array is slower). */
  private timeUpTo(at: number): void {
    while (this.time.length < at) this.time.push('');
  }

  /** Our id of key `name`. */
  private idOf(name: string): number {
    let id = this.idOfName.get(name);
    if (id === undefined) {
      id = this.keyNames.length;
      this.keyNames.push(name);
      this.idOfName.set(name, id);
    }
    return id;
  }

  /** Stores rows' keys given as the reader's ids: each reader id's name is looked up once. */
  private addReaderIds(ids: Uint32Array, names: readonly string[], n: number, at: number): void {
    if (names !== this.readerNames) {
      this.readerNames = names;
      this.fromReader = new Uint32Array(0);
    }
    if (this.fromReader.length < names.length) {
      const more = new Uint32Array(Math.max(names.length, 2 * this.fromReader.length));
      more.set(this.fromReader);
      this.fromReader = more;
    }
    const from = this.fromReader;
    const out = this.keyIds;
    for (let i = 0; i < n; i++) {
      const r = ids[i]!;
      let id = from[r]! - 1;
      if (id < 0) {
        id = this.idOf(names[r] as string);
        from[r] = id + 1;
      }
      out[at + i] = id;
    }
  }

  /** Appends rows restored from a checkpoint (results as saved, `known[i]` whether row i's are all back). */
  restore(time: readonly string[], keys: readonly string[], values: Float64Array, results: readonly Float64Array[], known: readonly boolean[]): void {
    const at = this.reserve(time.length);
    this.timeUpTo(at);
    for (let i = 0; i < time.length; i++) {
      this.time[at + i] = time[i] as string;
      this.iso[at + i] = 0;
      if (this.keyed) this.keyIds[at + i] = this.idOf(keys[i] as string);
      this.known[at + i] = known[i] === true ? 1 : 0;
    }
    this.values.set(values, at);
    results.forEach((r, j) => (this.results[j] as Float64Array).set(r, at));
  }

  /** Stores released results at their rows; `base` is the row number of the first row waiting. */
  place(out: OpsOutput, base: number): void {
    const { rows, first } = out;
    const count = (out.values[0] as Float64Array).length;
    if (count === 0) return;
    const shift = this.head - base;
    const known = this.known;
    // Row numbers in order: one range check for all; else each row's, before any result is stored.
    if (rows === undefined) {
      this.checkWaiting(first, first + shift);
      this.checkWaiting(first + count - 1, first + count - 1 + shift);
      known.fill(1, first + shift, first + count + shift);
      for (let j = 0; j < out.values.length; j++) (this.results[j] as Float64Array).set(out.values[j] as Float64Array, first + shift);
      return;
    }
    const outside = markKnown(known, rows, count, shift, this.head, this.tail);
    if (outside !== -1) this.checkWaiting(rows[outside]!, rows[outside]! + shift);
    for (let j = 0; j < out.values.length; j++) scatter(this.results[j] as Float64Array, out.values[j] as Float64Array, rows, count, shift);
  }

  private checkWaiting(row: number, at: number): void {
    if (!(at >= this.head && at < this.tail)) throw new Error(`the ops released row ${row}, which is not waiting`);
  }

  /**
   * Removes the rows at the front whose results are all known, as a batch of
   * views into the columns: valid until the next rows are added (format it
   * first; the rows taken are dropped then).
   */
  take(end: SourceOffset, skipped: number): ResultBatch {
    const from = this.head;
    const stop = knownEnd(this.known, from, this.tail);
    const batch: ColumnBatch = {
      length: stop - from,
      values: this.values.subarray(from, stop),
      ...this.timesOf(from, stop),
      ...(this.keyed ? { keyIds: this.keyIds.subarray(from, stop), keyNames: this.keyNames } : {}),
      end,
      skipped,
    };
    const results: Float64Array[] = [];
    for (const r of this.results) results.push(r.subarray(from, stop));
    this.head = stop;
    return { batch, results };
  }

  /** Rows `from` to `stop`'s times for a batch: their ms when all are canonical ISO, else their texts. */
  private timesOf(from: number, stop: number): { timestamps: Float64Array; isoTimes: true } | { timeText: string[] } {
    if (stop > from && allSet(this.iso, from, stop)) return { timestamps: this.stamps.subarray(from, stop), isoTimes: true };
    return { timeText: this.texts(from, stop) };
  }

  /** Rows `from` to `stop`'s time texts. */
  private texts(from: number, stop: number): string[] {
    const texts: string[] = [];
    for (let i = from; i < stop; i++) texts.push(this.iso[i] === 1 ? isoText(this.stamps[i]!) : (this.time[i] as string));
    return texts;
  }

  /** Drops the rows written out. */
  private compact(): void {
    const { head, tail } = this;
    this.time = this.time.length > head ? this.time.slice(head, tail) : [];
    if (this.keyed) this.keyIds.copyWithin(0, head, tail);
    this.values.copyWithin(0, head, tail);
    this.known.copyWithin(0, head, tail);
    this.iso.copyWithin(0, head, tail);
    this.stamps.copyWithin(0, head, tail);
    for (const r of this.results) r.copyWithin(0, head, tail);
    this.head = 0;
    this.tail = tail - head;
  }

  /** The rows waiting, for a checkpoint. */
  held(): { time: string[]; keys: string[]; values: Float64Array; results: Float64Array[]; known: string } {
    const { head, tail } = this;
    let known = '';
    for (let i = head; i < tail; i++) known += this.known[i] === 1 ? '1' : '0';
    return {
      time: this.texts(head, tail),
      keys: this.keyed ? Array.from(this.keyIds.subarray(head, tail), (id) => this.keyNames[id] as string) : [],
      values: this.values.slice(head, tail),
      results: this.results.map((r) => r.slice(head, tail)),
      known,
    };
  }
}
