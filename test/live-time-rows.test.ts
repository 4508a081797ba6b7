// Issue 20: the time-window operators' one-row path. pushRow of each row must
// give the results, window output and snapshot bytes of push of the same
// rows in any batches (property test), and refuse what push refuses.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createTimeRolling, createWindows, restoreTimeRolling } from '../src/index.js';
import type { DurationRollingSpec, WindowOutput, WindowSpec } from '../src/types.js';

/** Rows with non-decreasing times per key (the times of keys interleave), NaN values among them. */
const rowsArb = fc
  .array(fc.tuple(fc.integer({ min: 0, max: 400 }), fc.oneof(fc.constant(NaN), fc.double({ min: -1e3, max: 1e3, noNaN: true })), fc.constantFrom('a', 'b', 'c')), { minLength: 1, maxLength: 60 })
  .map((rows) => {
    const last = new Map<string, number>();
    let t = 0;
    return rows.map(([dt, v, k]) => {
      t += dt - 150; // times step back at times: late rows for windows, earlier-than-others rows per key
      const time = Math.max(t, last.get(k) ?? -Infinity);
      last.set(k, time);
      return { t: time, v, k };
    });
  });

/** Cut points splitting n rows into batches. */
const cutsArb = fc.array(fc.integer({ min: 1, max: 60 }), { maxLength: 8 });
function batches<T>(rows: T[], cuts: number[]): T[][] {
  const at = [...new Set(cuts.filter((c) => c < rows.length))].sort((x, y) => x - y);
  return [0, ...at].map((from, i) => rows.slice(from, at[i] ?? rows.length));
}

const sameBits = (a: ArrayLike<number>, b: ArrayLike<number>): boolean => a.length === b.length && Array.from(a).every((x, i) => Object.is(x, b[i]));

describe('time-window operators: pushRow, one row at a time', () => {
  it('rolling by duration: pushRow gives the results and snapshot of push of the same rows, in any batches', async () => {
    const ops = ['sum', 'mean', 'median', 'max', 'std', 'first'] as const;
    await fc.assert(
      fc.asyncProperty(rowsArb, cutsArb, fc.constantFrom(...ops), fc.constantFrom('right', 'both', 'neither') as fc.Arbitrary<'right' | 'both' | 'neither'>, async (rows, cuts, op, closed) => {
        const spec: DurationRollingSpec = { op, window: 300, closed, keys: 'string' };
        const byBatch = await createTimeRolling(spec);
        const byRow = await createTimeRolling(spec);
        const expected: number[] = [];
        for (const b of batches(rows, cuts)) expected.push(...byBatch.push(b.map((r) => r.t), b.map((r) => r.v), b.map((r) => r.k)).values);
        const got = rows.map((r) => byRow.pushRow(r.t, r.v, r.k));
        expect(sameBits(got, expected)).toBe(true);
        expect(Buffer.from(byRow.snapshot()).equals(Buffer.from(byBatch.snapshot()))).toBe(true);
        byBatch.dispose();
        byRow.dispose();
      }),
      { numRuns: 60 },
    );
  });

  it('tumbling, hopping and session windows: pushRow gives the windows, late rows and snapshot of push', async () => {
    const specs: WindowSpec[] = [
      { kind: 'tumbling', op: 'sum', size: 200, keys: 'string' },
      { kind: 'hopping', op: 'mean', size: 300, step: 100, keys: 'string', allowedLateness: 50 },
      { kind: 'session', op: 'max', gap: 120, keys: 'string' },
    ];
    await fc.assert(
      fc.asyncProperty(rowsArb, cutsArb, fc.constantFrom(...specs), async (rows, cuts, spec) => {
        const byBatch = await createWindows(spec);
        const byRow = await createWindows(spec);
        const join = (outs: WindowOutput[]): WindowOutput => ({ windows: outs.flatMap((o) => o.windows), late: outs.flatMap((o) => o.late) });
        const expected = join(batches(rows, cuts).map((b) => byBatch.push(b.map((r) => r.t), b.map((r) => r.v), b.map((r) => r.k))));
        const got = join(rows.map((r) => byRow.pushRow(r.t, r.v, r.k)));
        expect(got).toEqual(expected);
        expect(Buffer.from(byRow.snapshot()).equals(Buffer.from(byBatch.snapshot()))).toBe(true);
        expect(byRow.flush()).toEqual(byBatch.flush());
      }),
      { numRuns: 60 },
    );
  });

  it('pushRow refuses what push refuses, with exact errors, and changes nothing', async () => {
    const op = await createTimeRolling({ op: 'sum', window: 100, keys: 'number' });
    expect(op.pushRow(10, 1, 7)).toBe(1);
    const before = op.snapshot();
    expect(() => op.pushRow(5, 1, 7)).toThrow(
      "row 1 of key 7: timestamp 5 is earlier than the key's previous row; rolling by duration needs non-decreasing timestamps per key (or maxOutOfOrderness covering the disorder). Nothing of this batch was processed.",
    );
    expect(() => op.pushRow(NaN, 1, 7)).toThrow('timestamps[0] (row 1) must be a finite number of ms, got NaN');
    expect(() => op.pushRow('20' as never, 1, 7)).toThrow('time must be a number, got string');
    expect(() => op.pushRow(20, 1, -1)).toThrow('keys[0] must be an integer in [0, 2³² − 1], got -1');
    expect(Buffer.from(op.snapshot()).equals(Buffer.from(before))).toBe(true);
    expect(op.pushRow(20, 2, 7)).toBe(3);
    const held = await createTimeRolling({ op: 'sum', window: 100, maxOutOfOrderness: 10 });
    expect(() => held.pushRow(1, 1)).toThrow('pushRow needs maxOutOfOrderness 0 (a row held for reordering has no result yet); use push');
  });

  it('idleAdvance (an idle timeout): releases the rows the moved-on time passes; a snapshot taken after it resumes exactly', async () => {
    const spec: DurationRollingSpec = { op: 'sum', window: 1000, keys: 'string', maxOutOfOrderness: 200 };
    const op = await createTimeRolling(spec);
    expect(op.push([1000, 1050], [1, 2], ['a', 'b']).rows.length).toBe(0); // both held
    expect(op.idleAdvance(0).rows.length).toBe(0);
    expect([...op.idleAdvance(180).rows]).toEqual([]); // a's time 1180: 1000 is not yet 200 behind it
    const out = op.idleAdvance(20); // every key's time moved on by 200 in all: a's 1200, b's 1250
    expect([...out.rows, ...out.values]).toEqual([0, 1, 1, 2]);
    const copy = await restoreTimeRolling(op.snapshot(), spec);
    // 900 is within 200 of a's last row (1000) but behind the moved-on 1200: out of bounds, in the copy too.
    for (const o of [op, copy]) expect(() => o.push([900], [5], ['a'])).toThrow(/more than maxOutOfOrderness \(200 ms\) behind the key's greatest timestamp 1200/);
    const a = op.push([1400], [3], ['b']);
    const b = copy.push([1400], [3], ['b']);
    expect(a).toEqual(b);
    expect(Buffer.from(op.snapshot()).equals(Buffer.from(copy.snapshot()))).toBe(true);
    expect(() => op.idleAdvance(-1)).toThrow('idleAdvance needs a non-negative finite number of ms, got -1');
  });
});
