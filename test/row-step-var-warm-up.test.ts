// The var module's JS rare path (src/row-step-var.ts: the block's last row and
// its first finite row) before a process's first row: in a file of its own, so
// that no earlier kernel of the module has run.
import { describe, expect, it } from 'vitest';
import { createKernel } from '../src/index.js';
import { WARM_UP_ROWS } from '../src/row-step-kernel.js';
import { rarePathWarmedUp } from '../src/row-step-var.js';
import type { KernelSpec } from '../src/types.js';
import { compareExact } from './harness.js';

describe('the var row step\'s rare path before the first row', () => {
  it('regression: var and std sent each block\'s last row and its first finite row through the module\'s pushValue (state written back, the row in WASM, state read again), and V8 compiled that round trip into the caller\'s loop two ways (issue 20\'s slow shape, ~35 vs ~70 M rows/s in a fresh child at w=100); these rows now run in JS with only the loops in WASM (finishRingBlock, reshiftRing), warmed before the first row and undone, with the bits and snapshots of push()', async () => {
    expect(rarePathWarmedUp()).toBe(false);
    // NaN runs at block starts: blocks whose first rows have no finite row yet.
    const values = Float64Array.from({ length: 6 * WARM_UP_ROWS }, (_, i) => (i % 9 === 0 || i % 32 < 3 ? NaN : 1e6 + Math.cos(i) * 50));
    for (const op of ['var', 'std'] as const) {
      for (const window of [32, 100, 10_000]) {
        const spec: KernelSpec = { op, window, minPeriods: 1 };
        const kernel = await createKernel(spec);
        expect(rarePathWarmedUp()).toBe(true);
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
