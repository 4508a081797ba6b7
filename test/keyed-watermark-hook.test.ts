/**
 * The keyed windows operator's watermark hook (incremental checkpoints): a
 * key group left out of changedGroups() must have the windows bytes of its
 * last written snapshot, and with allowed lateness the hook is called for
 * the windows a rise fires or purges, not for every window held.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { keyedWindowSpec, WindowsGroupOperator } from '../src/keyed/windows.js';
import { decodeTimeSnapshot, KIND_WINDOWS } from '../src/time/snapshot.js';
import { normalizeWindowSpec } from '../src/time/spec.js';
import { EventTimeWindows } from '../src/time/windows.js';
import type { WindowSpec } from '../src/types.js';
import { mulberry32 } from './time-reference.js';

/** A group snapshot's windows, without the stream's clock (ended u8, rows, greatest timestamp, late f64s): every group's clock moves with every row, and restoreClock takes it from group 0. */
function windowsBytes(snap: Uint8Array): string {
  const { state } = decodeTimeSnapshot(snap, KIND_WINDOWS);
  return Buffer.from(state.subarray(1 + 3 * 8)).toString('base64');
}

/** Rows mostly in event-time order, keys interleaved, with steps back (late rows and updates of fired windows within the lateness). */
function rows(seed: number, n: number, nKeys: number): { ts: Float64Array; xs: Float64Array; keys: Uint32Array } {
  const rnd = mulberry32(seed);
  const ts = new Float64Array(n), xs = new Float64Array(n), keys = new Uint32Array(n);
  let t = 0;
  for (let i = 0; i < n; i++) {
    if (rnd() < 0.4) t += Math.floor(rnd() * 4);
    ts[i] = rnd() < 0.05 ? t - Math.floor(rnd() * 60) : t;
    keys[i] = Math.floor(rnd() * nKeys);
    xs[i] = Math.round((rnd() - 0.5) * 200) / 4;
  }
  return { ts, xs, keys };
}

describe("the keyed windows operator's changed groups with allowed lateness", () => {
  it('a group left out of changedGroups() has the windows bytes of its last written snapshot (any batch split, delay, lateness, late rows, tumbling and hopping, all groups or a share)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1_000_000 }),
        fc.constantFrom('tumbling' as const, 'hopping' as const),
        fc.constantFrom(0, 7),
        fc.constantFrom(0, 1, 25, 90),
        fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 10 }),
        fc.boolean(),
        fc.boolean(),
        (seed, kind, delay, lateness, sizes, idle, share) => {
          const GROUPS = 5;
          const common = { op: 'mean' as const, maxOutOfOrderness: delay, allowedLateness: lateness };
          const spec: WindowSpec = kind === 'tumbling' ? { kind, size: 20, ...common } : { kind, size: 30, step: 10, ...common };
          // All groups, or a worker's share (other workers' rows only raise its watermark).
          const owned: [number, number] = share ? [1, 4] : [0, GROUPS];
          const op = new WindowsGroupOperator(keyedWindowSpec(spec, true), GROUPS, owned);
          const s = rows(seed, 1200, 4 + (seed % 20));
          const written = new Map<number, string>();
          for (let g = owned[0]; g < owned[1]; g++) written.set(g, windowsBytes(op.snapshotGroup(g)!));
          const checkpoint = (at: string): void => {
            const reported = new Set(op.changedGroups());
            for (let g = owned[0]; g < owned[1]; g++) {
              const bytes = windowsBytes(op.snapshotGroup(g)!);
              if (reported.has(g)) written.set(g, bytes);
              else expect(bytes, `group ${g} left out ${at}`).toBe(written.get(g));
            }
          };
          let a = 0;
          for (const n of sizes) {
            if (a >= s.ts.length) break;
            const b = Math.min(s.ts.length, a + n);
            op.processRows(s.ts.subarray(a, b), s.xs.subarray(a, b), s.keys.subarray(a, b));
            checkpoint(`after row ${b}`);
            // The scheduler's idle timeout: the watermark rises without a row.
            if (idle) {
              op.advanceTo(s.ts[b - 1]! + 15);
              checkpoint(`after an idle rise at row ${b}`);
            }
            a = b;
          }
          op.processRows(s.ts.subarray(a), s.xs.subarray(a), s.keys.subarray(a));
          checkpoint('after the last rows');
          op.flush();
          checkpoint('after the flush');
        },
      ),
      { numRuns: 150, seed: 2929 },
    );
  });

  it('regression: with allowed lateness every rising row called the watermark hook for every key of every fired bucket held until its purge; the hook is called once per window fired or purged', () => {
    const KEYS = 50, ROWS = 3000;
    for (const spec of [
      { kind: 'tumbling', op: 'mean', size: 60, allowedLateness: 30, keys: 'number' },
      { kind: 'hopping', op: 'sum', size: 60, step: 20, allowedLateness: 45, maxOutOfOrderness: 5, keys: 'number' },
    ] as const) {
      const op = new EventTimeWindows(normalizeWindowSpec(spec));
      let calls = 0;
      op.onWatermarkChange = () => calls++;
      // One row per time unit, keys in turn: every row raises the watermark.
      const ts = Float64Array.from({ length: ROWS }, (_, i) => i);
      const ids = Uint32Array.from({ length: ROWS }, (_, i) => i % KEYS);
      const out = op.pushRows(ts, new Float64Array(ROWS).fill(1), ids, new Uint8Array(ROWS), new Uint32Array(2 * ROWS));
      const flushed = op.flush().windows.length;
      // Each window fires once (no late rows here) and is purged at most once.
      const windows = out.windows.length + flushed;
      expect(calls, JSON.stringify(spec)).toBeLessThanOrEqual(2 * windows);
      expect(calls).toBeGreaterThan(0);
    }
  });

  it("regression: with allowed lateness, a run of on-time rows that created its bucket let other workers' rows raise the watermark past its end without firing it; it fires at the row that passes its end", () => {
    const spec = normalizeWindowSpec({ kind: 'tumbling', op: 'sum', size: 20, allowedLateness: 30, keys: 'number' });
    // Own rows (key 0) at 0…19 and 21, other workers' rows (skipped) at 20 (fires [0, 20), held until 50) and 22…45.
    const times = [...Array.from({ length: 20 }, (_, i) => i), 20, 21, ...Array.from({ length: 24 }, (_, i) => 22 + i)];
    const ts = Float64Array.from(times);
    const skip = Uint8Array.from(times, (t) => (t === 20 || t >= 22 ? 1 : 0));
    const n = ts.length;
    const op = new EventTimeWindows(spec);
    const marks = new Uint32Array(2 * n);
    const out = op.pushRows(ts, new Float64Array(n).fill(1), new Uint32Array(n), skip, marks);
    // Each window fires in the watermark advance (between the two marks) of the first row at or past its end.
    expect(out.windows.map((w) => w.start)).toEqual([0, 20]);
    out.windows.forEach((w, i) => {
      const row = times.findIndex((t) => t >= w.end);
      expect(marks[2 * row], `[${w.start}, ${w.end})`).toBeLessThanOrEqual(i);
      expect(marks[2 * row + 1], `[${w.start}, ${w.end})`).toBeGreaterThan(i);
    });
  });
});
