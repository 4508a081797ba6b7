// Hostile inputs for the time-window layer (issue 17): timestamps where ms
// arithmetic is no longer exact (a nanosecond epoch) must be refused, never
// loop; var/std of windows holding huge or tiny values must agree with the
// count-window kernel's scaled path.
import { describe, expect, it } from 'vitest';
import { createCountWindows } from '../src/time/count.js';
import { createTimeRolling } from '../src/time/rolling.js';
import { createWindows } from '../src/time/windows.js';
import type { WindowSpec } from '../src/types.js';

const NS_EPOCH = 1.7e18; // 2023 in nanoseconds

describe('timestamps beyond exact ms arithmetic', () => {
  it('regression: tumbling/hopping windows of 10–100 ms on a nanosecond epoch are refused (RangeError naming the row), not looped over', async () => {
    const specs: WindowSpec[] = [
      { kind: 'tumbling', op: 'sum', size: 10 },
      { kind: 'tumbling', op: 'mean', size: '100ms' },
      { kind: 'hopping', op: 'sum', size: 100, step: 10 },
    ];
    for (const spec of specs) {
      for (const t of [NS_EPOCH, 1e17, -1e17]) {
        const op = await createWindows(spec);
        expect(() => op.push([0, 1, t], [1, 2, 3])).toThrow(/^timestamps\[2\] \(row 2\) must be within ±2\^53 ms/);
      }
    }
  });

  it('regression: a row whose window index is not an exact integer (tiny step, huge offset) is refused, not looped over', async () => {
    const tiny = await createWindows({ kind: 'hopping', op: 'sum', size: 1e-9, step: 1e-9 });
    expect(() => tiny.push([1, 2e9], [1, 2])).toThrow(
      'timestamps[1] (row 1) is too far from the window grid: |t − offset| + size must be below 2^52 · step (step 1e-9 ms), got t = 2000000000',
    );
    const far = await createWindows({ kind: 'tumbling', op: 'sum', size: 10, offset: 1e17 });
    expect(() => far.push([5], [1])).toThrow(/^timestamps\[0\] \(row 0\) is too far from the window grid/);
  });

  it('regression: duration rolling and session windows refuse a nanosecond epoch (their bounds t ± duration would round)', async () => {
    const roll = await createTimeRolling({ op: 'sum', window: '5s' });
    expect(() => roll.push([1, NS_EPOCH], [1, 2])).toThrow(/^timestamps\[1\] \(row 1\) must be within ±2\^53 ms/);
    const sessions = await createWindows({ kind: 'session', op: 'sum', gap: 10 });
    expect(() => sessions.push([NS_EPOCH], [1])).toThrow(/^timestamps\[0\] \(row 0\) must be within ±2\^53 ms/);
  });

  it('timestamps up to ±2^53 ms still work exactly at the edge of the range', async () => {
    const t = 2 ** 53 - 22; // a multiple of 10
    const op = await createWindows({ kind: 'tumbling', op: 'sum', size: 10 });
    const windows = [...op.push([t, t + 5, t + 12], [1, 2, 4]).windows, ...op.flush().windows];
    expect(windows.map((w) => [w.start, w.end, w.value])).toEqual([
      [t, t + 10, 3],
      [t + 10, t + 20, 4],
    ]);
    const roll = await createTimeRolling({ op: 'sum', window: 10 });
    expect(Array.from(roll.push([-(2 ** 53), -(2 ** 53) + 4], [1, 2]).values)).toEqual([1, 3]);
  });
});
