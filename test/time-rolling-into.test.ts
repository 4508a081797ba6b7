// Issue 15: rolling by duration's pushInto, push with the results written into
// an array the caller owns. It must give push's results bit for bit, and its
// snapshot, under any batch split (property test), leave the rest of `out` as
// it was, and refuse what push refuses with push's exact errors.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createTimeRolling } from '../src/index.js';
import type { DurationRollingSpec } from '../src/types.js';

/** Rows with non-decreasing times per key (the keys' times interleave), NaN values among them. */
const rowsArb = fc
  .array(fc.tuple(fc.integer({ min: 0, max: 400 }), fc.oneof(fc.constant(NaN), fc.double({ min: -1e3, max: 1e3, noNaN: true })), fc.integer({ min: 0, max: 4 })), { minLength: 1, maxLength: 80 })
  .map((rows) => {
    const last = new Map<number, number>();
    let t = 0;
    return rows.map(([dt, v, k]) => {
      t += dt - 150;
      const time = Math.max(t, last.get(k) ?? -Infinity);
      last.set(k, time);
      return { t: time, v, k };
    });
  });

/** Cut points splitting n rows into batches (empty batches included). */
const cutsArb = fc.array(fc.integer({ min: 0, max: 80 }), { maxLength: 8 });
function batches<T>(rows: T[], cuts: number[]): T[][] {
  const at = [...cuts.filter((c) => c <= rows.length)].sort((x, y) => x - y);
  return [0, ...at].map((from, i) => rows.slice(from, at[i] ?? rows.length));
}

const sameBits = (a: ArrayLike<number>, b: ArrayLike<number>): boolean => a.length === b.length && Array.from(a).every((x, i) => Object.is(x, b[i]));

describe('rolling by duration: pushInto', () => {
  it('gives the results and snapshot of push, in any batches, and leaves the rest of out as it was', async () => {
    const ops = ['sum', 'mean', 'count', 'median', 'max', 'std', 'last'] as const;
    const keyModes = ['number', 'string', 'none'] as const;
    await fc.assert(
      fc.asyncProperty(
        rowsArb,
        cutsArb,
        fc.constantFrom(...ops),
        fc.constantFrom('right', 'left', 'both', 'neither') as fc.Arbitrary<'right' | 'left' | 'both' | 'neither'>,
        fc.constantFrom(...keyModes),
        fc.constantFrom(Infinity, 500),
        async (rows, cuts, op, closed, keys, ttl) => {
          // Unkeyed, one key's times: each row's time at least the one before.
          const ordered = keys === 'none' ? rows.map((r, i) => ({ ...r, t: Math.max(...rows.slice(0, i + 1).map((q) => q.t)) })) : rows;
          const spec: DurationRollingSpec = { op, window: 300, closed, keys, ttl };
          const byPush = await createTimeRolling(spec);
          const byInto = await createTimeRolling(spec);
          const out = new Float64Array(100).fill(-7);
          const expected: number[] = [], got: number[] = [];
          for (const b of batches(ordered, cuts)) {
            const ts = new Float64Array(b.map((r) => r.t)), vs = new Float64Array(b.map((r) => r.v));
            const ks = keys === 'number' ? [new Uint32Array(b.map((r) => r.k))] : keys === 'string' ? [b.map((r) => `k${r.k}`)] : [];
            expected.push(...(byPush.push as (...a: unknown[]) => { values: Float64Array })(ts, vs, ...ks).values);
            const n = (byInto.pushInto as (...a: unknown[]) => number)(ts, vs, out, ...ks);
            expect(n).toBe(b.length);
            got.push(...out.subarray(0, n));
            // Past the batch, out is as it was.
            expect(out.subarray(n).every((y) => y === -7)).toBe(true);
            out.fill(-7);
          }
          expect(sameBits(got, expected)).toBe(true);
          expect(Buffer.from(byInto.snapshot()).equals(Buffer.from(byPush.snapshot()))).toBe(true);
          byPush.dispose();
          byInto.dispose();
        },
      ),
      { numRuns: 120 },
    );
  });

  it('takes arrays of numbers, as push does', async () => {
    const op = await createTimeRolling({ op: 'mean', window: '5s', keys: 'string' });
    const out = new Float64Array(4);
    expect(op.pushInto([0, 1000, 6000, 6500], [1, 3, 5, 7], out, ['a', 'a', 'a', 'b'])).toBe(4);
    expect(Array.from(out)).toEqual([1, 2, 5, 7]);
    expect(op.pushRow(7000, 9, 'b')).toBe(8);
  });

  it("refuses what push refuses, with push's exact errors, leaving the state and out as they were", async () => {
    const op = await createTimeRolling({ op: 'sum', window: 100, keys: 'number' });
    const out = new Float64Array(3).fill(-1);
    expect(op.pushInto(new Float64Array([10]), new Float64Array([1]), out, new Uint32Array([7]))).toBe(1);
    out.fill(-1);
    const before = Buffer.from(op.snapshot());
    expect(() => op.pushInto(new Float64Array([20, 5]), new Float64Array([1, 1]), out, new Uint32Array([7, 7]))).toThrow(
      "row 2 of key 7: timestamp 5 is earlier than the key's previous row; rolling by duration needs non-decreasing timestamps per key (or maxOutOfOrderness covering the disorder). Nothing of this batch was processed.",
    );
    expect(() => op.pushInto(new Float64Array([20, NaN]), new Float64Array([1, 1]), out, new Uint32Array([7, 7]))).toThrow('timestamps[1] (row 2) must be a finite number of ms, got NaN');
    expect(() => op.pushInto(new Float64Array([20, 1.7e18]), new Float64Array([1, 1]), out, new Uint32Array([7, 7]))).toThrow(
      'timestamps[1] (row 2) must be within ±2^53 ms (9007199254740992), got 1700000000000000000: is it in µs or ns? Timestamps are ms',
    );
    // A bad timestamp wins over bad keys, as in push.
    expect(() => op.pushInto([20, NaN], [1, 1], out, [7, -1])).toThrow('timestamps[1] (row 2) must be a finite number of ms, got NaN');
    expect(() => op.pushInto([20, 30], [1, 1], out, [7, -1])).toThrow('keys[1] must be an integer in [0, 2³² − 1], got -1');
    expect(() => op.pushInto([20], [1, 1], out, [7])).toThrow('timestamps and values must have the same length, got 1 and 2');
    expect(Buffer.from(op.snapshot()).equals(before)).toBe(true);
    expect(Array.from(out)).toEqual([-1, -1, -1]);
  });

  it('refuses an out that is not a Float64Array or is shorter than the batch, and rows held for reordering', async () => {
    const op = await createTimeRolling({ op: 'sum', window: 100 });
    expect(() => op.pushInto([1, 2], [1, 1], new Float64Array(1))).toThrow('out must hold a result per row: 2 rows, out has 1');
    expect(() => op.pushInto([1, 2], [1, 1], [0, 0] as unknown as Float64Array)).toThrow(TypeError);
    expect(() => op.pushInto([1, 2], [1, 1], [0, 0] as unknown as Float64Array)).toThrow('out must be a Float64Array, got object');
    expect(op.pushInto([1, 2], [1, 1], new Float64Array(2))).toBe(2);
    const held = await createTimeRolling({ op: 'sum', window: 100, maxOutOfOrderness: 10 });
    expect(() => held.pushInto([1], [1], new Float64Array(1))).toThrow(
      'pushInto needs maxOutOfOrderness 0 (rows held for reordering come out later and in another order); use push',
    );
  });
});

describe('rolling by duration: a refused batch changes nothing', () => {
  /** A batch refused whole: keys new to the operator, then a row out of order for a key the rows above hold, or a timestamp that is not finite. */
  const badBatchArb = fc.record({
    newKeys: fc.array(fc.integer({ min: 5, max: 40 }), { minLength: 1, maxLength: 6 }),
    bad: fc.constantFrom('order', 'nan', 'ns'),
  });

  it('regression: a refused batch kept the keys it brought (in the state, the snapshot and the key names); now the state, the snapshot and later rows are as if it never came', async () => {
    await fc.assert(
      fc.asyncProperty(
        rowsArb,
        cutsArb,
        fc.integer({ min: 0, max: 8 }),
        badBatchArb,
        fc.constantFrom('number', 'string') as fc.Arbitrary<'number' | 'string'>,
        fc.constantFrom(Infinity, 300),
        fc.constantFrom('push', 'pushInto', 'pushRow'),
        async (rows, cuts, at, badBatch, keys, ttl, how) => {
          const spec: DurationRollingSpec = { op: 'mean', window: 300, keys, ttl };
          const control = await createTimeRolling(spec);
          const refused = await createTimeRolling(spec);
          const key = (k: number): number | string => (keys === 'number' ? k : `k${k}`);
          const keyColumn = (ks: number[]): Uint32Array | string[] => (keys === 'number' ? new Uint32Array(ks) : ks.map((k) => `k${k}`));
          const parts = batches(rows, cuts);
          const got: number[] = [], expected: number[] = [];
          let lastT = 0;
          for (let b = 0; b < parts.length; b++) {
            if (b === Math.min(at, parts.length - 1) && rows.length > 0) {
              // Keys new to both operators, then the bad row (for key 0: out of order once key 0 has a row).
              const bad = badBatch.bad === 'order' ? -1e6 : badBatch.bad === 'nan' ? NaN : 1.7e18;
              const ts = [...badBatch.newKeys.map(() => lastT + 1), bad], vs = ts.map(() => 1);
              const ks = [...badBatch.newKeys, 0];
              if (badBatch.bad === 'order') {
                // Key 0 needs a row for the order to fail: one both operators get.
                for (const op of [control, refused]) (op.push as (...a: unknown[]) => unknown)([lastT], [2], keyColumn([0]));
              }
              const snapshotBefore = Buffer.from(refused.snapshot());
              const liveBefore = refused.liveKeys;
              if (how === 'push') expect(() => (refused.push as (...a: unknown[]) => unknown)(ts, vs, keyColumn(ks))).toThrow(RangeError);
              else if (how === 'pushInto') expect(() => (refused.pushInto as (...a: unknown[]) => unknown)(ts, vs, new Float64Array(ts.length), keyColumn(ks))).toThrow(RangeError);
              else {
                // One row at a time: the new keys' rows go in, only the bad row is refused.
                for (let i = 0; i < ks.length - 1; i++) for (const op of [control, refused]) (op.pushRow as (...a: unknown[]) => number)(ts[i], vs[i], key(ks[i]!));
                const before = Buffer.from(refused.snapshot()), live = refused.liveKeys;
                // A new key's one row cannot be out of order: that case refuses a row of key 0.
                expect(() => (refused.pushRow as (...a: unknown[]) => number)(bad, 1, key(badBatch.bad === 'order' ? 0 : 99))).toThrow(RangeError);
                expect(refused.liveKeys).toBe(live);
                expect(Buffer.from(refused.snapshot()).equals(before)).toBe(true);
                continue;
              }
              expect(refused.liveKeys).toBe(liveBefore);
              expect(Buffer.from(refused.snapshot()).equals(snapshotBefore)).toBe(true);
            }
            const part = parts[b]!;
            const ts = part.map((r) => r.t), vs = part.map((r) => r.v), ks = keyColumn(part.map((r) => r.k + 50));
            expected.push(...(control.push as (...a: unknown[]) => { values: Float64Array })(ts, vs, ks).values);
            got.push(...(refused.push as (...a: unknown[]) => { values: Float64Array })(ts, vs, ks).values);
            if (part.length > 0) lastT = Math.max(lastT, part[part.length - 1]!.t);
          }
          expect(sameBits(got, expected)).toBe(true);
          expect(Buffer.from(refused.snapshot()).equals(Buffer.from(control.snapshot()))).toBe(true);
          control.dispose();
          refused.dispose();
        },
      ),
      { numRuns: 150 },
    );
  });

  it('regression: an unkeyed operator refused its first batch and kept an empty key; now its snapshot is a fresh one', async () => {
    const fresh = await createTimeRolling({ op: 'sum', window: 100 });
    const op = await createTimeRolling({ op: 'sum', window: 100 });
    expect(() => op.push([5, 1], [1, 1])).toThrow("row 1: timestamp 1 is earlier than the key's previous row");
    expect(() => op.push([5, NaN], [1, 1])).toThrow('timestamps[1] (row 1) must be a finite number of ms, got NaN');
    expect(op.liveKeys).toBe(0);
    expect(Buffer.from(op.snapshot()).equals(Buffer.from(fresh.snapshot()))).toBe(true);
  });
});
