// The rows `streamkernel run` has read but not written yet (their results
// are not all back: workers, or rows held by --max-out-of-order), in input
// order. Numbers live in growable typed columns, so a held row costs no
// JS array slot per value and per op (a profile of the demo showed the
// per-row arrays and their copies).

import type { ColumnBatch, ResultBatch, SourceOffset } from '../connectors/types.js';
import type { OpsOutput } from './ops.js';

/** Rows written out at the front are dropped once this many have piled up (or when none waits). */
const COMPACT_AT = 65_536;

/** A typed array of at least `n` elements holding `a`'s first `used` (a itself when it is large enough). */
export function grown<T extends Float64Array | Uint8Array>(a: T, used: number, n: number, make: (size: number) => T): T {
  if (n <= a.length) return a;
  const b = make(Math.max(n, a.length * 2, 1024));
  b.set(a.subarray(0, used));
  return b;
}

/** Held rows from index `head` to `tail`: time text, key, value, each op's result, and whether the results are known. */
export class WaitingRows {
  private time: string[] = [];
  private keys: string[] = [];
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
    const at = this.tail;
    const need = at + n;
    this.values = grown(this.values, at, need, (k) => new Float64Array(k));
    this.known = grown(this.known, at, need, (k) => new Uint8Array(k));
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
    for (let i = 0; i < n; i++) this.time[at + i] = batch.timeText?.[i] ?? String(batch.timestamps?.[i]);
    if (this.keyed) for (let i = 0; i < n; i++) this.keys[at + i] = batch.keys?.[i] as string;
  }

  /** Appends rows restored from a checkpoint (results as saved, `known[i]` whether row i's are all back). */
  restore(time: readonly string[], keys: readonly string[], values: Float64Array, results: readonly Float64Array[], known: readonly boolean[]): void {
    const at = this.reserve(time.length);
    for (let i = 0; i < time.length; i++) {
      this.time[at + i] = time[i] as string;
      if (this.keyed) this.keys[at + i] = keys[i] as string;
      this.known[at + i] = known[i] === true ? 1 : 0;
    }
    this.values.set(values, at);
    results.forEach((r, j) => (this.results[j] as Float64Array).set(r, at));
  }

  /** Stores released results at their rows; `base` is the row number of the first row waiting. */
  place(out: OpsOutput, base: number): void {
    const { rows, first } = out;
    const count = (out.values[0] as Float64Array).length;
    out.values.forEach((values, j) => {
      const res = this.results[j] as Float64Array;
      for (let i = 0; i < count; i++) {
        const row = rows !== undefined ? (rows[i] as number) : first + i;
        const at = this.head + row - base;
        if (at < this.head || at >= this.tail) throw new Error(`the ops released row ${row}, which is not waiting`);
        res[at] = values[i] as number;
        this.known[at] = 1;
      }
    });
  }

  /** Removes the rows at the front whose results are all known, as a batch. */
  take(end: SourceOffset, skipped: number): ResultBatch {
    const from = this.head;
    let stop = from;
    while (stop < this.tail && this.known[stop] === 1) stop++;
    const batch: ColumnBatch = {
      length: stop - from,
      values: this.values.slice(from, stop),
      timeText: this.time.slice(from, stop),
      ...(this.keyed ? { keys: this.keys.slice(from, stop) } : {}),
      end,
      skipped,
    };
    const results = this.results.map((r) => r.slice(from, stop));
    this.head = stop;
    if (this.head === this.tail || this.head >= COMPACT_AT) this.compact();
    return { batch, results };
  }

  /** Drops the rows written out. */
  private compact(): void {
    const { head, tail } = this;
    this.time = this.time.slice(head, tail);
    if (this.keyed) this.keys = this.keys.slice(head, tail);
    this.values.copyWithin(0, head, tail);
    this.known.copyWithin(0, head, tail);
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
      time: this.time.slice(head, tail),
      keys: this.keyed ? this.keys.slice(head, tail) : [],
      values: this.values.slice(head, tail),
      results: this.results.map((r) => r.slice(head, tail)),
      known,
    };
  }
}
