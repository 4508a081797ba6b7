// The CLI's rows waiting for their results (src/cli/waiting.ts): typed
// columns that grow and drop the rows written out, keeping input order.

import { describe, expect, it } from 'vitest';
import type { ColumnBatch } from '../src/connectors/types.js';
import { WaitingRows } from '../src/cli/waiting.js';

const end = { bytes: 0, rows: 0, lines: 0 };

function batchOf(first: number, n: number): ColumnBatch {
  const idx = Array.from({ length: n }, (_, i) => first + i);
  return { length: n, values: Float64Array.from(idx, (r) => r / 8), timestamps: Float64Array.from(idx), keys: idx.map((r) => `k${r % 7}`), end, skipped: 0 };
}

describe('WaitingRows', () => {
  it('keeps rows, keys and results in input order across growth and the drop of rows written out (more than 65,536 held)', () => {
    const q = new WaitingRows(2, true);
    const total = 70_000;
    for (let r = 0; r < total; r += 10_000) q.add(batchOf(r, 10_000));
    expect(q.length).toBe(total);
    // Results in reverse order (as a reorderer may release them); rows 68,000 on before the take that drops the rows before 66,000, whose results must survive it.
    const release = (from: number, to: number): void => {
      const rows = Float64Array.from({ length: to - from }, (_, i) => to - 1 - i);
      q.place({ first: 0, rows, values: [rows.map((r) => r * 2), rows.map((r) => -r)] }, total - q.length);
    };
    release(0, 66_000);
    release(68_000, total);
    const a = q.take(end, 0);
    expect(a.batch.length).toBe(66_000);
    expect(q.length).toBe(4_000);
    release(66_000, 68_000);
    const b = q.take(end, 0);
    expect(q.length).toBe(0);
    for (const [part, first] of [
      [a, 0],
      [b, 66_000],
    ] as const) {
      for (let i = 0; i < part.batch.length; i += 997) {
        const r = first + i;
        expect(part.batch.values[i]).toBe(r / 8);
        expect(part.batch.timeText?.[i]).toBe(String(r));
        // Keys come back as ids of the queue's own list (the formatter writes each id's cell once).
        expect(part.batch.keyNames?.[part.batch.keyIds?.[i] as number]).toBe(`k${r % 7}`);
        expect(part.results[0]?.[i]).toBe(r * 2);
        expect(part.results[1]?.[i]).toBe(-r);
      }
    }
  });

  it('writes nothing past a row whose results are not all back, and lists the held rows for a checkpoint', () => {
    const q = new WaitingRows(1, false);
    q.add(batchOf(0, 4));
    q.place({ first: 0, rows: Float64Array.from([0, 2]), values: [Float64Array.from([10, 12])] }, 0);
    const out = q.take(end, 0);
    expect(Array.from(out.results[0] as Float64Array)).toEqual([10]);
    const held = q.held();
    expect(held.time).toEqual(['1', '2', '3']);
    expect(held.known).toBe('010');
    expect(Array.from(held.values)).toEqual([1 / 8, 2 / 8, 3 / 8]);
    expect(() => q.place({ first: 0, rows: Float64Array.from([0]), values: [Float64Array.from([1])] }, 1)).toThrow('the ops released row 0, which is not waiting');
  });
});
