// The demo sink's line finding (src/cli/count-lines.ts): LFs counted a
// 32-bit word at a time must be exactly the bytes equal to 10, at any
// alignment and for bytes next to 10 in value (a carry between the bytes of
// a word would miscount).

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { afterLines, countNewlines } from '../src/cli/count-lines.js';

const naiveCount = (b: Uint8Array, from: number, end: number): number => {
  let n = 0;
  for (let i = from; i < end; i++) if (b[i] === 10) n++;
  return n;
};

/** Bytes biased to LF and its neighbours in value and bit pattern. */
const bytes = fc.uint8Array({ maxLength: 300 }).chain((raw) =>
  fc.array(fc.constantFrom(10, 9, 11, 0x0a ^ 0x80, 0x8a, 0x80, 0x7f, 0xff, 0, 1), { minLength: raw.length, maxLength: raw.length }).map((picks) =>
    Uint8Array.from(raw, (x, i) => (x % 3 === 0 ? (picks[i] as number) : x)),
  ),
);

describe('countNewlines, afterLines', () => {
  it('property: the number of LF bytes in any range of any view (any byte offset), and the place after the k-th LF', () => {
    fc.assert(
      fc.property(bytes, fc.nat(7), fc.nat(), fc.nat(), fc.integer({ min: 1, max: 40 }), (all, shift, a, b, k) => {
        // A view at any offset of its buffer, so the aligned words start anywhere.
        const view = all.subarray(Math.min(shift, all.length));
        const from = view.length === 0 ? 0 : a % (view.length + 1);
        const end = from + (view.length - from === 0 ? 0 : b % (view.length - from + 1));
        expect(countNewlines(view, from, end)).toBe(naiveCount(view, from, end));
        expect(countNewlines(view)).toBe(naiveCount(view, 0, view.length));
        let seen = 0;
        let want = -1 - naiveCount(view, from, view.length);
        for (let i = from; i < view.length; i++) {
          if (view[i] === 10 && ++seen === k) {
            want = i + 1;
            break;
          }
        }
        expect(afterLines(view, from, k)).toBe(want);
      }),
      { numRuns: 2000 },
    );
  });

  it('counts across blocks of a large buffer (the demo finds a sample line far into a batch)', () => {
    const b = new Uint8Array(100_003).fill(0x41);
    for (let i = 5; i < b.length; i += 97) b[i] = 10;
    const lfs = naiveCount(b, 0, b.length);
    expect(countNewlines(b)).toBe(lfs);
    expect(afterLines(b, 0, 1000)).toBe(5 + 999 * 97 + 1);
    expect(afterLines(b, 0, lfs + 1)).toBe(-1 - lfs);
  });
});
