// push()'s in-order path for tumbling and hopping windows (chunks in
// event-time order from the watermark on skip pushGrid's per-row tests and
// advance the watermark once): any batch split gives the windows, late rows
// and snapshot bytes of row-at-a-time pushes (pushRow, which never takes it).
// The keyed operator's pushRows takes the same path (with the watermark
// rising row by row): any batch split, with other workers' rows skipped or
// left out (routed, `at`), gives the marks, windows, late rows, changed keys
// and snapshots of one row at a time.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { keyedWindowSpec, WindowsGroupOperator } from '../src/keyed/windows.js';
import { keyGroupOf } from '../src/scheduler/hash.js';
import { normalizeWindowSpec } from '../src/time/spec.js';
import { createWindows, EventTimeWindows } from '../src/time/windows.js';
import type { LateRow, TimeOp, WindowOutput, WindowResult, WindowSpec } from '../src/types.js';
import { ALL_TIME_OPS, mulberry32 } from './time-reference.js';

interface Stream {
  ts: Float64Array;
  xs: Float64Array;
  keys: Uint32Array;
}

/** Rows mostly in event-time order (several per ms, keys interleaved), with stretches that step back (late rows, re-emissions), NaN, −0 and ties. */
function stream(seed: number, n: number, nKeys: number): Stream {
  const rnd = mulberry32(seed);
  const ts = new Float64Array(n), xs = new Float64Array(n), keys = new Uint32Array(n);
  let t = Math.floor(rnd() * 50) - 25;
  for (let i = 0; i < n; i++) {
    if (rnd() < 0.3) t += Math.floor(rnd() * 4);
    // In a few stretches one row in 40 steps back: alone, or the stream with it (the rows after it
    // climb back to the watermark in order, so batches start just behind it, at it, and past it).
    const back = Math.floor(i / 500) % 3 === 1 && rnd() < 0.025 ? Math.floor(rnd() * 90) : 0;
    if (back > 0 && rnd() < 0.5) t -= back;
    ts[i] = t - (back > 0 && ts[i - 1] !== undefined && t >= ts[i - 1]! ? back : 0);
    keys[i] = Math.floor(rnd() * nKeys) * 7919;
    const u = rnd();
    xs[i] = u < 0.03 ? NaN : u < 0.05 ? -0 : Math.round((rnd() - 0.5) * 2000) / 8;
  }
  return { ts, xs, keys };
}

/** Pushes the rows in batches cut at `cuts` (row at a time when undefined); the output and the snapshots after the rows `snapAt` lists. */
async function run(spec: WindowSpec, s: Stream, cuts: readonly number[] | undefined, snapAt: ReadonlySet<number>): Promise<{ out: WindowOutput; snaps: Map<number, string> }> {
  const op = await createWindows(spec);
  const out: WindowOutput = { windows: [], late: [] };
  const snaps = new Map<number, string>();
  const at = cuts ?? Array.from({ length: s.ts.length + 1 }, (_, i) => i);
  for (let c = 1; c < at.length; c++) {
    const a = at[c - 1]!, b = at[c]!;
    const keyed = spec.keys !== 'none';
    const o =
      cuts === undefined
        ? keyed
          ? op.pushRow(s.ts[a]!, s.xs[a]!, s.keys[a]!)
          : op.pushRow(s.ts[a]!, s.xs[a]!)
        : op.push(s.ts.subarray(a, b), s.xs.subarray(a, b), keyed ? s.keys.subarray(a, b) : undefined);
    for (const w of o.windows) out.windows.push(w);
    for (const l of o.late) out.late.push(l);
    if (snapAt.has(b)) snaps.set(b, Buffer.from(op.snapshot()).toString('base64'));
  }
  for (const w of op.flush().windows) out.windows.push(w);
  return { out, snaps };
}

const bits = (o: WindowOutput): string =>
  JSON.stringify(o, (_k, v: unknown) => (typeof v === 'number' ? (Object.is(v, -0) ? '-0' : Number.isNaN(v) ? 'NaN' : Number.isFinite(v) ? v : String(v)) : v));

function specOf(kind: 'tumbling' | 'hopping' | 'gaps', op: TimeOp, seed: number): WindowSpec {
  const common = { op, keys: 'number' as const, maxOutOfOrderness: [0, 12][seed % 2]!, allowedLateness: [0, 30][(seed >> 1) % 2]!, ...(op === 'quantile' ? { q: 0.3 } : {}) };
  if (kind === 'tumbling') return { kind, size: 20, offset: 3, ...common };
  if (kind === 'hopping') return { kind, size: 45, step: 10, ...common };
  return { kind: 'hopping', size: 10, step: 25, ...common }; // a grid with gaps: some rows are in no window
}

describe('tumbling and hopping windows: the in-order path of push()', () => {
  it('any batch split gives the windows, late rows and snapshots of row-at-a-time pushes', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 1_000_000 }),
        fc.constantFrom('tumbling' as const, 'hopping' as const, 'gaps' as const),
        fc.constantFrom(...ALL_TIME_OPS),
        fc.array(fc.integer({ min: 1, max: 400 }), { minLength: 1, maxLength: 12 }),
        async (seed, kind, op, sizes) => {
          const s = stream(seed, 1500, 1 + (seed % 23));
          const spec = specOf(kind, op, seed);
          const cuts = [0];
          for (const n of sizes) if (cuts.at(-1)! < s.ts.length) cuts.push(Math.min(s.ts.length, cuts.at(-1)! + n));
          if (cuts.at(-1)! < s.ts.length) cuts.push(s.ts.length);
          const rowAtATime = await run(spec, s, undefined, new Set(cuts));
          const batches = await run(spec, s, cuts, new Set(cuts));
          expect(bits(batches.out)).toBe(bits(rowAtATime.out));
          for (const [cut, snap] of batches.snaps) expect(snap, `snapshot after row ${cut}`).toBe(rowAtATime.snaps.get(cut));
        },
      ),
      { numRuns: 120, seed: 1515 },
    );
  });

  it('a batch of several chunks, in order then not, gives what row-at-a-time pushes give', async () => {
    const s = stream(42, 40_000, 300);
    // Keep the last 10 000 rows in order, so the chunks after the out-of-order stretch take the in-order path again.
    for (let i = 30_001; i < 40_000; i++) s.ts[i] = Math.max(s.ts[i]!, s.ts[i - 1]!);
    for (const spec of [specOf('tumbling', 'mean', 0), specOf('hopping', 'median', 3), specOf('hopping', 'var', 1)]) {
      const rowAtATime = await run(spec, s, undefined, new Set([40_000]));
      const whole = await run(spec, s, [0, 40_000], new Set([40_000]));
      expect(bits(whole.out)).toBe(bits(rowAtATime.out));
      expect(whole.snaps.get(40_000)).toBe(rowAtATime.snaps.get(40_000));
    }
  });

  it('tumbling sum and mean with hundreds of keys per window (buckets grown and rehashed mid-run), keyed or not, give what row-at-a-time pushes give', async () => {
    const s = stream(7, 12_000, 900);
    for (let i = 1; i < s.ts.length; i++) s.ts[i] = Math.max(s.ts[i]!, s.ts[i - 1]!);
    for (let i = 0; i < s.ts.length; i++) s.ts[i] = Math.floor(s.ts[i]! / 4);
    for (const op of ['sum', 'mean'] as const) {
      for (const keys of ['number', 'none'] as const) {
        const spec: WindowSpec = { kind: 'tumbling', op, size: 50, offset: 7, keys, maxOutOfOrderness: 2 };
        const cuts = [0, 17, 5000, 5001, 12_000];
        const rowAtATime = await run(spec, s, undefined, new Set(cuts));
        const batches = await run(spec, s, cuts, new Set(cuts));
        expect(rowAtATime.out.windows.length).toBeGreaterThan(keys === 'none' ? 10 : 5000);
        expect(bits(batches.out), `${op}, keys ${keys}`).toBe(bits(rowAtATime.out));
        for (const [cut, snap] of batches.snaps) expect(snap, `${op}, keys ${keys}: snapshot after row ${cut}`).toBe(rowAtATime.snaps.get(cut));
      }
    }
  });

  it('a batch in order that starts just behind, at or past the watermark gives what row-at-a-time pushes give', async () => {
    for (const [delay, lateness] of [[0, 0], [3, 0], [0, 5], [3, 5]] as const) {
      for (const kind of ['tumbling', 'hopping'] as const) {
        const spec: WindowSpec = kind === 'tumbling' ? { kind, op: 'last', size: 10, keys: 'number', maxOutOfOrderness: delay, allowedLateness: lateness } : { kind, op: 'mean', size: 10, step: 4, keys: 'number', maxOutOfOrderness: delay, allowedLateness: lateness };
        for (const shift of [-9, -4, -1, 0, 1]) {
          const n = 40;
          const s: Stream = { ts: new Float64Array(2 * n), xs: new Float64Array(2 * n), keys: new Uint32Array(2 * n) };
          for (let i = 0; i < n; i++) s.ts[i] = i;
          // The watermark after the first batch is n − 1 − delay; the second batch starts `shift` from it, in order.
          for (let i = 0; i < n; i++) s.ts[n + i] = n - 1 - delay + shift + Math.floor(i / 2);
          for (let i = 0; i < 2 * n; i++) {
            s.xs[i] = i;
            s.keys[i] = i % 3;
          }
          const rowAtATime = await run(spec, s, undefined, new Set([n, 2 * n]));
          const batches = await run(spec, s, [0, n, 2 * n], new Set([n, 2 * n]));
          expect(bits(batches.out), `${JSON.stringify(spec)}, shift ${shift}`).toBe(bits(rowAtATime.out));
          expect(batches.snaps.get(2 * n)).toBe(rowAtATime.snaps.get(2 * n));
        }
      }
    }
  });
});

/** What pushRows gave: each window with the stream row and phase its marks tie it to, the late rows, the keys the watermark hook saw and the snapshots, by the row they follow. */
interface RowsRun {
  tagged: { row: number; phase: number; window: WindowResult }[];
  late: LateRow[];
  hooked: Map<number, number[]>;
  snaps: Map<number, string>;
}

/**
 * Pushes the rows through pushRows in batches cut at `cuts` (one row a batch
 * when undefined), rows of `other` keys skipped as other workers'; `routed`
 * leaves out the other workers' rows that do not raise the greatest
 * timestamp and gives the rest with their rows in the batch (`at`), as the
 * scheduler's workers get them.
 */
function runRows(spec: WindowSpec, s: Stream, other: (key: number) => boolean, cuts: readonly number[] | undefined, routed: boolean): RowsRun {
  const op = new EventTimeWindows(normalizeWindowSpec(spec));
  const run: RowsRun = { tagged: [], late: [], hooked: new Map(), snaps: new Map() };
  let hooked = new Set<number>();
  op.onWatermarkChange = (key) => hooked.add(key);
  const at = cuts ?? Array.from({ length: s.ts.length + 1 }, (_, i) => i);
  let maxTs = -Infinity;
  for (let c = 1; c < at.length; c++) {
    const a = at[c - 1]!, b = at[c]!;
    const rows: number[] = [];
    for (let r = a; r < b; r++) {
      const rises = s.ts[r]! > maxTs;
      maxTs = Math.max(maxTs, s.ts[r]!);
      if (!routed || !other(s.keys[r]!) || rises) rows.push(r);
    }
    const ts = Float64Array.from(rows, (r) => s.ts[r]!), xs = Float64Array.from(rows, (r) => s.xs[r]!), ids = Uint32Array.from(rows, (r) => s.keys[r]!);
    const skip = Uint8Array.from(rows, (r) => (other(s.keys[r]!) ? 1 : 0));
    const marks = new Uint32Array(2 * rows.length);
    const rowAt = routed ? Uint32Array.from(rows, (r) => r - a) : undefined;
    const out = op.pushRows(ts, xs, ids, skip, marks, rowAt, b - a);
    let w = 0;
    rows.forEach((r, i) => {
      for (; w < marks[2 * i]!; w++) run.tagged.push({ row: r, phase: 0, window: out.windows[w]! });
      for (; w < marks[2 * i + 1]!; w++) run.tagged.push({ row: r, phase: 1, window: out.windows[w]! });
    });
    expect(w, 'every window is marked').toBe(out.windows.length);
    for (const l of out.late) run.late.push(l);
    // Changed keys by batch end: the row-at-a-time run's are gathered to the batched run's cuts below.
    run.hooked.set(b, [...hooked].sort((x, y) => x - y));
    hooked = new Set();
    run.snaps.set(b, Buffer.from(op.snapshot()).toString('base64'));
  }
  for (const window of op.flush().windows) run.tagged.push({ row: s.ts.length, phase: 1, window });
  return run;
}

/** The row-at-a-time run's changed keys gathered by the batched run's cuts. */
function hookedBy(run: RowsRun, cuts: readonly number[]): Map<number, number[]> {
  const out = new Map<number, number[]>();
  for (let c = 1; c < cuts.length; c++) {
    const keys = new Set<number>();
    for (let r = cuts[c - 1]! + 1; r <= cuts[c]!; r++) for (const k of run.hooked.get(r) ?? []) keys.add(k);
    out.set(cuts[c]!, [...keys].sort((x, y) => x - y));
  }
  return out;
}

describe("tumbling and hopping windows: the keyed operator's pushRows on the in-order path", () => {
  it('any batch split, other workers\' rows skipped or routed, gives the marks, windows, late rows, changed keys and snapshots of one row at a time', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 1_000_000 }),
        fc.constantFrom('tumbling' as const, 'hopping' as const, 'gaps' as const),
        fc.constantFrom(...ALL_TIME_OPS),
        fc.array(fc.integer({ min: 1, max: 400 }), { minLength: 1, maxLength: 12 }),
        fc.constantFrom(0, 1, 2, 3),
        fc.boolean(),
        async (seed, kind, op, sizes, workers, routed) => {
          const s = stream(seed, 1500, 1 + (seed % 23));
          const spec = specOf(kind, op, seed);
          // No other worker, or the keys of one of 2–3 workers' shares.
          const other = (key: number): boolean => workers > 0 && ((key / 7919) * 2654435761) % (workers + 1) !== 0;
          const cuts = [0];
          for (const n of sizes) if (cuts.at(-1)! < s.ts.length) cuts.push(Math.min(s.ts.length, cuts.at(-1)! + n));
          if (cuts.at(-1)! < s.ts.length) cuts.push(s.ts.length);
          const rowAtATime = runRows(spec, s, other, undefined, false);
          const batches = runRows(spec, s, other, cuts, routed);
          expect(bits({ windows: batches.tagged as never, late: batches.late })).toBe(bits({ windows: rowAtATime.tagged as never, late: rowAtATime.late }));
          expect(batches.hooked).toEqual(hookedBy(rowAtATime, cuts));
          for (const [cut, snap] of batches.snaps) expect(snap, `snapshot after row ${cut}`).toBe(rowAtATime.snaps.get(cut));
        },
      ),
      { numRuns: 120, seed: 1919 },
    );
  });
});

describe("the keyed windows operator's processRows: one mark byte per row by key id", () => {
  it("marks the key groups of every batch's own rows changed again after changedGroups(), for keys it has seen before; other workers' keys never", () => {
    const GROUPS = 8;
    const spec = keyedWindowSpec({ kind: 'tumbling', op: 'sum', size: 1000 }, true);
    const op = new WindowsGroupOperator(spec, GROUPS, [0, 4]);
    const own = (k: number): boolean => keyGroupOf(k, GROUPS) < 4;
    const keys = Uint32Array.from({ length: 40 }, (_, i) => i % 20);
    const groupsOf = (ks: Iterable<number>): number[] => [...new Set([0, ...[...ks].filter(own).map((k) => keyGroupOf(k, GROUPS))])].sort((a, b) => a - b);
    let t = 0;
    const push = (ks: Uint32Array): void => {
      op.processRows(Float64Array.from(ks, () => t++), new Float64Array(ks.length).fill(1), ks);
    };
    push(keys);
    expect(op.changedGroups()).toEqual(groupsOf(keys));
    push(keys);
    expect(op.changedGroups()).toEqual(groupsOf(keys));
    const some = keys.subarray(3, 6);
    push(some);
    expect(op.changedGroups()).toEqual(groupsOf(some));
  });
});
