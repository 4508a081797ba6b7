// The CLI's rows waiting for their results (src/cli/waiting.ts): typed
// columns that grow and drop the rows written out, keeping input order.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isoText } from '../src/connectors/iso-time.js';
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

  it('property: batches of ISO and text times mixed, results released in any order: each take gives the next rows (views, read before the next add) with their values, times, keys and results, and held() lists the rest', () => {
    const T0 = Date.UTC(2024, 4, 1);
    fc.assert(
      fc.property(
        fc.array(fc.record({ n: fc.integer({ min: 0, max: 40 }), iso: fc.boolean(), release: fc.array(fc.nat(), { maxLength: 60 }) }), { minLength: 1, maxLength: 12 }),
        fc.nat(),
        (steps, heldAt) => {
          const q = new WaitingRows(2, true);
          let added = 0;
          let taken = 0;
          const pending = new Set<number>();
          const timeOf = (r: number, iso: boolean): string => (iso ? isoText(T0 + r * 250) : `t${r}`);
          const isoRow: boolean[] = [];
          const check = (): void => {
            const out = q.take(end, 0);
            const { batch, results } = out;
            for (let i = 0; i < batch.length; i++) {
              const r = taken + i;
              expect(batch.values[i]).toBe(r / 8);
              const time = batch.timeText !== undefined ? batch.timeText[i] : isoText((batch.timestamps as Float64Array)[i] as number);
              expect(time).toBe(timeOf(r, isoRow[r] as boolean));
              expect(batch.keyNames?.[batch.keyIds?.[i] as number]).toBe(`k${r % 5}`);
              expect(results[0]?.[i]).toBe(r * 2);
              expect(results[1]?.[i]).toBe(-r);
            }
            taken += batch.length;
            // Every row before the first one still pending was taken.
            let firstPending = added;
            for (const r of pending) firstPending = Math.min(firstPending, r);
            expect(taken).toBe(firstPending);
          };
          steps.forEach((step, k) => {
            const rows = Array.from({ length: step.n }, (_, i) => added + i);
            const batch: ColumnBatch = step.iso
              ? { length: step.n, values: Float64Array.from(rows, (r) => r / 8), timestamps: Float64Array.from(rows, (r) => T0 + r * 250), isoTimes: true, keys: rows.map((r) => `k${r % 5}`), end, skipped: 0 }
              : { length: step.n, values: Float64Array.from(rows, (r) => r / 8), timestamps: Float64Array.from(rows), timeText: rows.map((r) => `t${r}`), keys: rows.map((r) => `k${r % 5}`), end, skipped: 0 };
            for (const r of rows) {
              isoRow[r] = step.iso;
              pending.add(r);
            }
            q.add(batch);
            added += step.n;
            // Release some pending rows, in the order the picks give.
            const list = [...pending];
            const picked: number[] = [];
            for (const p of step.release) {
              if (list.length === 0) break;
              const [r] = list.splice(p % list.length, 1);
              picked.push(r as number);
              pending.delete(r as number);
            }
            if (picked.length > 0) {
              const rowsOut = Float64Array.from(picked);
              q.place({ first: 0, rows: rowsOut, values: [rowsOut.map((r) => r * 2), rowsOut.map((r) => -r)] }, added - q.length);
            }
            check();
            if (k === heldAt % steps.length) {
              const held = q.held();
              expect(held.time).toEqual(Array.from({ length: added - taken }, (_, i) => timeOf(taken + i, isoRow[taken + i] as boolean)));
              expect(held.keys).toEqual(Array.from({ length: added - taken }, (_, i) => `k${(taken + i) % 5}`));
              expect(held.known).toBe(Array.from({ length: added - taken }, (_, i) => (pending.has(taken + i) ? '0' : '1')).join(''));
            }
          });
          const rest = Float64Array.from([...pending]);
          pending.clear();
          if (rest.length > 0) q.place({ first: 0, rows: rest, values: [rest.map((r) => r * 2), rest.map((r) => -r)] }, added - q.length);
          check();
          expect(q.length).toBe(0);
        },
      ),
      { numRuns: 300 },
    );
  });
});
