// The documented examples (docs/TIME-WINDOWS.md and TSDoc), run as written.
import { describe, expect, it } from 'vitest';
import { createCountWindows, createTimeRolling, createWindows, parseDuration, rollingByTime, windowsByTime } from '../src/index.js';

describe('documented examples', () => {
  it('rolling by duration', async () => {
    const op = await createTimeRolling({ op: 'mean', window: '5s', keys: 'string' });
    const { rows, values } = op.push(new Float64Array([0, 1000, 6000, 6500]), new Float64Array([1, 3, 5, 7]), ['a', 'a', 'a', 'b']);
    expect(Array.from(rows)).toEqual([0, 1, 2, 3]);
    expect(Array.from(values)).toEqual([1, 2, 5, 7]);
    expect(Array.from(await rollingByTime([0, 1000, 2500], [1, 2, 3], { op: 'sum', window: '2s' }))).toEqual([1, 3, 5]);
  });

  it('tumbling, hopping, session and count windows', async () => {
    const { windows } = await windowsByTime([0, 500, 1500], [1, 2, 3], { kind: 'tumbling', op: 'sum', size: '1s' });
    expect(windows).toEqual([
      { key: 0, start: 0, end: 1000, value: 3, count: 2, update: false },
      { key: 0, start: 1000, end: 2000, value: 3, count: 1, update: false },
    ]);
    const hop = await windowsByTime([0, 15_000], [4, 9], { kind: 'hopping', op: 'max', size: '1m', step: '10s', maxOutOfOrderness: '2s' });
    expect(hop.windows.map((w) => [w.start, w.value])).toEqual([[-50_000, 4], [-40_000, 9], [-30_000, 9], [-20_000, 9], [-10_000, 9], [0, 9], [10_000, 9]]);
    const session = await createWindows({ kind: 'session', op: 'count', gap: '30m', keys: 'string', allowedLateness: '5m' });
    session.push([0, 60_000, 10_000_000], [1, 1, 1], ['u', 'u', 'u']);
    expect(session.flush().windows.map((w) => [w.start, w.end, w.value])).toEqual([[10_000_000, 11_800_000, 1]]);
    const count = await createCountWindows({ op: 'mean', size: 3 });
    expect(count.push([1, 2, 3, 4]).windows).toEqual([{ key: 0, start: 0, end: 3, value: 2, count: 3, update: false }]);
    expect(count.flush().windows).toEqual([{ key: 0, start: 3, end: 4, value: 4, count: 1, update: false }]);
  });

  it('durations', () => {
    expect(parseDuration('1m30s', 'window')).toBe(90_000);
    expect(parseDuration('250ms', 'x')).toBe(250);
    expect(parseDuration('1.5h', 'x')).toBe(5_400_000);
    expect(parseDuration('1d', 'x')).toBe(86_400_000);
    expect(parseDuration(42, 'x')).toBe(42);
    expect(() => parseDuration('5 parsecs', 'size')).toThrow(/size/);
    expect(() => parseDuration('', 'size')).toThrow(RangeError);
    expect(() => parseDuration(null, 'gap')).toThrow(TypeError);
    expect(() => parseDuration(-1, 'gap')).toThrow(/gap/);
  });
});
