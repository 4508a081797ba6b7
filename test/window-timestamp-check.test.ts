// checkWindowTimestamps checks a batch by its least and greatest time (issue
// 19): the same errors, naming the same row, and the same first descent as the
// check of every row it replaced (kept here as the reference).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkGridTimestamps, checkTimestamps, checkWindowTimestamps, MAX_TIMESTAMP } from '../src/time/keys.js';

type Grid = { size: number; step: number; offset: number };

/** The per-row check checkWindowTimestamps ran before. */
function checkEveryRow(ts: Float64Array, rowBase: number, grid?: Grid): number {
  const size = grid?.size ?? 0, offset = grid?.offset ?? 0;
  const limit = grid === undefined ? Infinity : 2 ** 52 * grid.step;
  let descent = ts.length;
  let prev = -Infinity;
  for (let i = 0; i < ts.length; i++) {
    const t = ts[i]!;
    if (t < prev && i < descent) descent = i;
    prev = t;
    if (Math.abs(t) <= MAX_TIMESTAMP && Math.abs(t - offset) + size < limit) continue;
    checkTimestamps(ts, rowBase);
    if (grid !== undefined) checkGridTimestamps(ts, rowBase, grid.size, grid.step, offset);
  }
  return descent;
}

/** The descent returned, or the error's message. */
function outcome(check: () => number): string {
  try {
    return `descent ${check()}`;
  } catch (e) {
    return `${(e as Error).name}: ${(e as Error).message}`;
  }
}

const EPOCH = Date.UTC(2026, 0, 1);
const time = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: -5000, max: 5000 }) },
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 100_000 }).map((d) => EPOCH + d / 10) },
  fc.constantFrom(NaN, Infinity, -Infinity, MAX_TIMESTAMP, -MAX_TIMESTAMP, MAX_TIMESTAMP + 2, -MAX_TIMESTAMP - 2, 2 ** 52, -(2 ** 52), 2e9, 1.7e18, -0, 0),
  fc.double(),
);
const grid = fc.option(
  fc.record({
    size: fc.constantFrom(1, 1000, 1e-9, 60_000, 2 ** 40),
    step: fc.constantFrom(1, 1000, 1e-9, 1e-3),
    offset: fc.constantFrom(0, 7, -1e17, 1e17, EPOCH),
  }),
  { nil: undefined },
);
/** Mostly in-order runs (the usual batch), some shuffled. */
const batch = fc.tuple(fc.array(time, { maxLength: 40 }), fc.boolean()).map(([ts, sorted]) => Float64Array.from(sorted ? [...ts].sort((a, b) => a - b) : ts));

describe('checkWindowTimestamps', () => {
  it('property: the same error (message and row) or the same first descent as checking every row, for any batch and grid', () => {
    fc.assert(
      fc.property(batch, grid, fc.nat(1000), (ts, g, rowBase) => {
        expect(outcome(() => checkWindowTimestamps(ts, rowBase, g))).toBe(outcome(() => checkEveryRow(ts, rowBase, g)));
      }),
      { numRuns: 5000 },
    );
  });

  it('a non-finite row is named before a row off the grid, wherever either stands', () => {
    const g = { size: 1e-9, step: 1e-9, offset: 0 };
    const ts = Float64Array.of(1, 2e9, 3, NaN);
    expect(() => checkWindowTimestamps(ts, 10, g)).toThrow('timestamps[3] (row 13) must be a finite number of ms, got NaN');
    expect(() => checkWindowTimestamps(Float64Array.of(1, 2e9, 3), 10, g)).toThrow(/^timestamps\[1\] \(row 11\) is too far from the window grid/);
    expect(checkWindowTimestamps(Float64Array.of(EPOCH, EPOCH + 5, EPOCH + 1, EPOCH + 9), 0, { size: 1000, step: 1000, offset: 0 })).toBe(2);
    expect(checkWindowTimestamps(new Float64Array(0), 0)).toBe(0);
  });
});
