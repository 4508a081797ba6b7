// The CLI's batches waiting whole for their results (src/cli/pending.ts):
// any cut of the results into released chunks gives the same batches, as
// read, with the same results; a checkpoint's held rows are those WaitingRows
// would hold.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ColumnBatch } from '../src/connectors/types.js';
import { PendingBatches } from '../src/cli/pending.js';
import { WaitingRows } from '../src/cli/waiting.js';

const end = { bytes: 0, rows: 0, lines: 0 };
const names = ['a', 'b', 'c'];

function batchOf(first: number, n: number): ColumnBatch {
  const idx = Array.from({ length: n }, (_, i) => first + i);
  return { length: n, values: Float64Array.from(idx, (r) => r / 8), timestamps: Float64Array.from(idx), keyIds: Uint32Array.from(idx, (r) => r % 3), keyNames: names, end, skipped: 0 };
}
const withKeyText = (b: ColumnBatch): ColumnBatch => ({ ...b, keys: Array.from(b.keyIds!, (id) => names[id]!) });
/** Op j's result of row r. */
const result = (j: number, r: number): number => r * 10 + j;

describe('PendingBatches', () => {
  it('any batch sizes and any cut of the results into released chunks give every batch once, in order, as read, with its rows\' results', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 40 }), { maxLength: 8 }), fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 10 }), (sizes, cuts) => {
        const q = new PendingBatches(2);
        const batches: ColumnBatch[] = [];
        let total = 0;
        for (const n of sizes) {
          const b = batchOf(total, n);
          batches.push(b);
          q.add(b);
          total += n;
        }
        expect(q.rows).toBe(total);
        const out: { batch: ColumnBatch; results: readonly Float64Array[] }[] = [];
        let released = 0;
        for (let c = 0; released < total; c++) {
          const n = Math.min(cuts[c % cuts.length]!, total - released);
          const rows = Array.from({ length: n }, (_, i) => released + i);
          q.place({ first: released, rows: undefined, values: [0, 1].map((j) => Float64Array.from(rows, (r) => result(j, r))) });
          released += n;
          out.push(...q.takeDone());
        }
        expect(q.rows).toBe(0);
        expect(out.map((r) => r.batch)).toEqual(batches.filter((b) => b.length > 0));
        let row = 0;
        for (const { batch, results } of out) {
          for (let i = 0; i < batch.length; i++, row++) for (const j of [0, 1]) expect(results[j]![i]).toBe(result(j, row));
        }
      }),
    );
  });

  it('batches still waiting move into WaitingRows as the same held rows, with the results known so far', () => {
    const q = new PendingBatches(1);
    const w = new WaitingRows(1, true);
    for (const [first, n] of [[100, 5], [105, 4]] as const) {
      q.add(batchOf(first, n));
      w.add(withKeyText(batchOf(first, n)));
    }
    const partial = { first: 100, rows: undefined, values: [Float64Array.from([1, 2, 3, 4, 5, 6], (x) => x * 3)] };
    q.place(partial);
    w.place(partial, 100);
    const moved = new WaitingRows(1, true);
    q.moveTo(moved, withKeyText, 100);
    expect(q.rows).toBe(0);
    expect(moved.held()).toEqual(w.held());
    expect(moved.held().known).toBe('111111000');
  });
});
