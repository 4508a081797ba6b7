// The batches `streamkernel run` has read whose results come back later, in
// input order (ops on scheduler workers, no --max-out-of-order): each batch
// is kept as the reader made it (its typed columns and key ids: no copy and
// no string per row, as `WaitingRows` makes) with its results filled in as
// they arrive, and goes out whole once every row of it has them. A profile of
// `run --workers 2` showed the per-row copies into `WaitingRows` and the key
// strings made for them taking a fifth of the coordinator's CPU.

import type { ColumnBatch, ResultBatch } from '../connectors/types.js';
import type { OpsOutput } from './ops.js';
import type { WaitingRows } from './waiting.js';

interface Pending {
  batch: ColumnBatch;
  /** Per op, the batch's results (allocated on the first partial fill; a whole batch's results are taken as they came). */
  results: Float64Array[];
  /** Rows of the batch whose results are in. */
  filled: number;
}

export class PendingBatches {
  private readonly queue: Pending[] = [];
  /** Index in `queue` of the first batch not filled. */
  private filling = 0;
  /** Rows waiting (in every batch of the queue). */
  rows = 0;

  constructor(private readonly opCount: number) {}

  /** Appends a batch, its results unknown. */
  add(batch: ColumnBatch): void {
    if (batch.length === 0) return;
    this.queue.push({ batch, results: [], filled: 0 });
    this.rows += batch.length;
  }

  /** Stores released results (in row order: `out.rows` is undefined) at the next rows without results. */
  place(out: OpsOutput): void {
    if (out.rows !== undefined) throw new Error('results out of row order reached the in-order queue');
    const count = out.values[0]?.length ?? 0;
    let from = 0;
    while (from < count) {
      const p = this.queue[this.filling];
      if (p === undefined) throw new Error(`the ops released ${count - from} rows that are not waiting`);
      const n = p.batch.length;
      const m = Math.min(n - p.filled, count - from);
      if (p.filled === 0 && m === n) p.results = out.values.map((v) => v.subarray(from, from + n));
      else {
        if (p.filled === 0) p.results = Array.from({ length: this.opCount }, () => new Float64Array(n));
        for (let j = 0; j < this.opCount; j++) p.results[j]!.set(out.values[j]!.subarray(from, from + m), p.filled);
      }
      p.filled += m;
      from += m;
      if (p.filled === n) this.filling++;
    }
  }

  /** Removes the batches at the front whose rows all have their results. */
  takeDone(): ResultBatch[] {
    const done = this.queue.splice(0, this.filling);
    this.filling = 0;
    for (const p of done) this.rows -= p.batch.length;
    return done.map((p) => ({ batch: p.batch, results: p.results }));
  }

  /**
   * Moves every batch still waiting into `waiting` (empty; with the results
   * known so far), in order: a checkpoint's held rows are written from
   * there. `first` is the row number of the first row waiting.
   */
  moveTo(waiting: WaitingRows, withKeyText: (b: ColumnBatch) => ColumnBatch, first: number): void {
    let row = first;
    for (const p of this.queue) {
      waiting.add(withKeyText(p.batch));
      if (p.filled > 0) waiting.place({ first: row, rows: undefined, values: p.results.map((r) => r.subarray(0, p.filled)) }, first);
      row += p.batch.length;
    }
    this.queue.length = 0;
    this.filling = 0;
    this.rows = 0;
  }
}
