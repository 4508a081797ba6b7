// The sum module's JS block end (src/row-step-sum.ts) before a process's first
// row: in a file of its own, so that no earlier kernel of the module has run.
import { describe, expect, it } from 'vitest';
import { createKernel } from '../src/index.js';
import { WARM_UP_ROWS } from '../src/row-step-kernel.js';
import { blockEndWarmedUp } from '../src/row-step-sum.js';
import type { KernelSpec } from '../src/types.js';
import { compareExact } from './harness.js';

describe('the sum row step\'s block end before the first row', () => {
  it('regression: the JS block end first ran at row W − 1, after TurboFan had compiled pushValue without type feedback for it (a deopt at the first block end of a window of 10 000, then ~40% slower rows); the process\'s first kernel of the module now runs it before its first row and undoes it, with the bits and snapshots of push()', async () => {
    expect(blockEndWarmedUp()).toBe(false);
    const values = Float64Array.from({ length: 3 * WARM_UP_ROWS }, (_, i) => (i % 9 === 0 ? NaN : Math.cos(i) * 50));
    for (const op of ['sum', 'mean', 'count'] as const) {
      for (const window of [16, 10_000]) {
        const spec: KernelSpec = { op, window, minPeriods: 1 };
        const kernel = await createKernel(spec);
        expect(blockEndWarmedUp()).toBe(true);
        const reference = await createKernel(spec);
        // Undone: the state is the fresh kernel's.
        expect(kernel.snapshot()).toEqual(reference.snapshot());
        const got = Float64Array.from(values, (x) => kernel.pushValue(x));
        expect(compareExact(reference.push(values), got)).toEqual([]);
        expect(kernel.snapshot()).toEqual(reference.snapshot());
      }
    }
  });
});
