// The order statistics of median and quantile windows (src/time/grid.ts
// selectPair): insertion sort for small windows, quickselect for larger ones,
// the typed-array sort beyond. Each must give the entries k and k + 1 that
// Float64Array.prototype.sort gives, to the bit (−0 before +0), or a median
// of a window holding zeros changes sign.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { selectPair } from '../src/time/grid.js';
import { createWindows } from '../src/time/windows.js';

const bit = (x: number | undefined): string => (Object.is(x, -0) ? '-0' : String(x));

const value = fc.oneof(fc.constantFrom(0, -0, 1, -1, Infinity, -Infinity, 2.5), fc.double({ noNaN: true }));

/** Entries k and k + 1 of selectPair(xs, k) and of the typed-array sort. */
function pairs(xs: number[], k: number): [string[], string[]] {
  const got = selectPair(xs, k);
  const want = Float64Array.from(xs).sort();
  const at = (a: Float64Array): string[] => (k + 1 < xs.length ? [bit(a[k]), bit(a[k + 1])] : [bit(a[k])]);
  return [at(got), at(want)];
}

describe('selectPair', () => {
  it('gives entries k and k + 1 of Float64Array.prototype.sort, −0 before +0, for windows sorted by insertion and quickselected', () => {
    fc.assert(
      fc.property(
        fc.array(value, { minLength: 1, maxLength: 200, size: 'max' }).chain((xs) => fc.tuple(fc.constant(xs), fc.nat(xs.length - 1))),
        ([xs, k]) => {
          const [got, want] = pairs(xs, k);
          expect(got).toEqual(want);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('few distinct values (many ties, both zeros), every k', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(0, -0, 1, -1), { minLength: 1, maxLength: 120, size: 'max' }), (xs) => {
        for (let k = 0; k < xs.length; k++) {
          const [got, want] = pairs(xs, k);
          expect(got).toEqual(want);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('a window past the quickselect bound (5 000 values) takes the typed-array sort', () => {
    const xs = Array.from({ length: 5000 }, (_, i) => (i % 7 === 0 ? -0 : ((i * 7919) % 5000) - 2500));
    for (const k of [0, 2499, 4999]) {
      const [got, want] = pairs(xs, k);
      expect(got).toEqual(want);
    }
  });

  it('a session median of +0, −0, +0 is +0 (sorted −0, +0, +0), not the −0 that arrived in the middle', async () => {
    const op = await createWindows({ kind: 'session', op: 'median', gap: 10 });
    const windows = [...op.push([0, 1, 2], [0, -0, 0]).windows, ...op.flush().windows];
    expect(windows).toHaveLength(1);
    expect(Object.is(windows[0]!.value, 0)).toBe(true);
  });
});
