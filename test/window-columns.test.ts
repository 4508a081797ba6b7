// Windows as columns (pushColumns, flushColumns): the same windows, order,
// values, late rows, session `replaces` and state as push/flush's objects; and
// large batches whose order breaks in some chunk (the grid's in-order path
// reads the batch's first descent from the timestamp check).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createWindows } from '../src/time/windows.js';
import type { TimeOp, WindowColumns, WindowOperator, WindowOutput, WindowResult, WindowSpec } from '../src/types.js';
import { fmt, sameValue } from './reference.js';
import { ALL_TIME_OPS, columns, makeStream, mulberry32, randomSplit, repro, type Row } from './time-reference.js';

function withQ<T extends { op: TimeOp; q?: number }>(spec: T): T {
  return spec.op === 'quantile' ? { ...spec, q: 0.75 } : spec;
}

/** The columns' windows as result objects (string keys through keyNames; `replaces` from `replaced`). */
function asResults(c: WindowColumns): WindowResult[] {
  const out: WindowResult[] = [];
  const r = c.replaced;
  for (let j = 1; j < r.length; j++) if (!(r.window[j - 1]! <= r.window[j]!)) throw new Error('replaced: windows not ascending');
  let j = 0;
  for (let i = 0; i < c.length; i++) {
    const key = c.keyNames === undefined ? c.keys[i]! : c.keyNames[c.keys[i]!]!;
    const w: WindowResult = { key, start: c.start[i]!, end: c.end[i]!, value: c.value[i]!, count: c.count[i]!, update: c.update[i] === 1 };
    for (; j < r.length && r.window[j] === i; j++) (w.replaces ??= []).push({ start: r.start[j]!, end: r.end[j]! });
    out.push(w);
  }
  if (j !== r.length) throw new Error(`replaced: ${r.length - j} entries name no window`);
  return out;
}

function sameOutput(a: WindowOutput, b: WindowOutput): string | null {
  if (a.windows.length !== b.windows.length) return `${a.windows.length} vs ${b.windows.length} windows`;
  for (let i = 0; i < a.windows.length; i++) {
    const x = a.windows[i]!, y = b.windows[i]!;
    const replaces = JSON.stringify(x.replaces) !== JSON.stringify(y.replaces);
    if (x.key !== y.key || x.start !== y.start || x.end !== y.end || x.count !== y.count || x.update !== y.update || replaces || !sameValue(x.value, y.value)) {
      return `window ${i}: ${JSON.stringify({ ...x, value: fmt(x.value) })} vs ${JSON.stringify({ ...y, value: fmt(y.value) })}`;
    }
  }
  if (JSON.stringify(a.late) !== JSON.stringify(b.late)) return `late rows differ: ${JSON.stringify(a.late)} vs ${JSON.stringify(b.late)}`;
  return null;
}

/** Pushes rows in the batches `cuts` gives, then flushes; as objects, or as columns turned into objects. Also returns the snapshot before the flush. */
async function run(spec: WindowSpec, rows: readonly Row[], cuts: readonly number[], asColumns: boolean): Promise<{ out: WindowOutput; snapshot: Uint8Array }> {
  const op = (await createWindows(spec)) as WindowOperator;
  const keyed = spec.keys !== undefined && spec.keys !== 'none';
  const out: WindowOutput = { windows: [], late: [] };
  const add = (o: WindowOutput): void => {
    out.windows.push(...o.windows);
    out.late.push(...o.late);
  };
  for (let i = 1; i < cuts.length; i++) {
    const c = columns(rows, cuts[i - 1], cuts[i]);
    const keys = spec.keys === 'string' ? Array.from(c.keys, (k) => `k${k}`) : keyed ? c.keys : undefined;
    const push = (asColumns ? op.pushColumns : op.push).bind(op) as (ts: Float64Array, xs: Float64Array, keys?: unknown) => WindowOutput | WindowColumns;
    const o = push(c.ts, c.xs, keys);
    add(asColumns ? { windows: asResults(o as WindowColumns), late: o.late } : (o as WindowOutput));
  }
  const snapshot = op.snapshot();
  if (asColumns) {
    const f = op.flushColumns();
    add({ windows: asResults(f), late: f.late });
  } else add(op.flush());
  return { out, snapshot };
}

describe('window columns (pushColumns, flushColumns)', () => {
  const kinds = ['tumbling', 'hopping', 'session'] as const;

  function specOf(kind: (typeof kinds)[number], op: TimeOp, seed: number): WindowSpec {
    const keys = (['number', 'string', 'none'] as const)[seed % 3]!;
    const common = { op, keys, maxOutOfOrderness: [0, 20][(seed >> 2) % 2]!, allowedLateness: [0, 35][(seed >> 3) % 2]! };
    if (kind === 'tumbling') return withQ({ kind, size: 40, ...common });
    if (kind === 'session') return withQ({ kind, gap: [15, 40][(seed >> 4) % 2]!, ...common });
    return withQ({ kind, size: 45, step: 20, ...common });
  }

  it('any split into batches: the same windows, order, values and late rows as push and flush, and the same state', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 1_000_000 }), fc.constantFrom(...kinds), fc.constantFrom(...ALL_TIME_OPS), async (seed, kind, op) => {
        const stream = makeStream(seed, { disorder: 30, beyond: true, spread: 10 });
        const spec = specOf(kind, op, seed);
        const objects = await run(spec, stream.rows, [0, stream.rows.length], false);
        const cuts = randomSplit(mulberry32(seed), stream.rows.length);
        const cols = await run(spec, stream.rows, cuts, true);
        const diff = sameOutput(objects.out, cols.out);
        if (diff !== null) throw new Error(`${stream.name}, spec ${JSON.stringify(spec)}, cuts ${JSON.stringify(cuts)}: ${diff}\n${repro(stream.rows)}`);
        expect(cols.snapshot).toEqual((await run(spec, stream.rows, cuts, false)).snapshot);
      }),
      { numRuns: 120, seed: 7 },
    );
  });

  it('sessions: any split into batches, with lateness, updates and merges: the columns of push and flush\'s records, replaces included, and the same state', async () => {
    let replaced = 0;
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 1_000_000 }), fc.constantFrom(...ALL_TIME_OPS), async (seed, op) => {
        // Late rows within the allowed lateness update emitted sessions and bridge them (replaces).
        const stream = makeStream(seed, { disorder: 60, beyond: true, spread: 10, keys: 1 + (seed % 4) });
        const spec = withQ({ kind: 'session' as const, op, gap: 25, keys: 'number' as const, maxOutOfOrderness: [0, 20][seed % 2]!, allowedLateness: 80 });
        const objects = await run(spec, stream.rows, [0, stream.rows.length], false);
        const cuts = randomSplit(mulberry32(seed), stream.rows.length);
        const cols = await run(spec, stream.rows, cuts, true);
        const diff = sameOutput(objects.out, cols.out);
        if (diff !== null) throw new Error(`${stream.name}, spec ${JSON.stringify(spec)}, cuts ${JSON.stringify(cuts)}: ${diff}\n${repro(stream.rows)}`);
        expect(cols.snapshot).toEqual(objects.snapshot);
        replaced += objects.out.windows.filter((w) => w.replaces !== undefined).length;
      }),
      { numRuns: 120, seed: 11 },
    );
    // The property reached the rare case it is about.
    expect(replaced).toBeGreaterThan(0);
  });

  it('string keys come as ids with their names; update flags as 1', async () => {
    const op = await createWindows({ kind: 'tumbling', op: 'sum', size: 10, keys: 'string', allowedLateness: 20 });
    const a = op.pushColumns([0, 1, 12, 3], [1, 2, 3, 4], ['a', 'b', 'a', 'b']);
    expect(Array.from(a.keys, (k) => a.keyNames![k])).toEqual(['a', 'b', 'b']);
    expect([...a.start]).toEqual([0, 0, 0]);
    expect([...a.value]).toEqual([1, 2, 6]);
    expect([...a.count]).toEqual([1, 1, 2]);
    expect([...a.update]).toEqual([0, 0, 1]);
    const f = op.flushColumns();
    expect(f.length).toBe(1);
    expect(f.keyNames![f.keys[0]!]).toBe('a');
    expect([f.start[0], f.end[0], f.value[0]]).toEqual([10, 20, 3]);
  });

  it('session windows as columns: an update replacing the emitted range, a merge of two emitted sessions', async () => {
    const op = await createWindows({ kind: 'session', op: 'sum', gap: 10, keys: 'string', allowedLateness: 100 });
    // a: [0, 10) and [15, 25) fire at 30; the late row at 9 bridges them into [0, 25), replacing both.
    const a = op.pushColumns([0, 15, 30, 9], [1, 2, 4, 8], ['a', 'a', 'b', 'a']);
    expect(Array.from(a.keys, (k) => a.keyNames![k])).toEqual(['a', 'a', 'a']);
    expect([...a.start]).toEqual([0, 15, 0]);
    expect([...a.end]).toEqual([10, 25, 25]);
    expect([...a.value]).toEqual([1, 2, 11]);
    expect([...a.update]).toEqual([0, 0, 1]);
    expect({ ...a.replaced, window: [...a.replaced.window], start: [...a.replaced.start], end: [...a.replaced.end] }).toEqual({ length: 2, window: [2, 2], start: [0, 15], end: [10, 25] });
    const f = op.flushColumns();
    expect([f.length, f.keyNames![f.keys[0]!], f.start[0], f.end[0], f.value[0], f.replaced.length]).toEqual([1, 'b', 30, 40, 4, 0]);
  });
});

describe('grid batches of several chunks (in-order path)', () => {
  // 40 000 rows: chunks of 16 384; the order breaks once, in the chunk given, or never.
  for (const breakAt of [-1, 100, 16_384, 16_390, 33_000]) {
    it(`one push = batches of 1–3 rows (row-at-a-time path), order broken at ${breakAt}`, async () => {
      const n = 40_000;
      const rng = mulberry32(5 + breakAt);
      const rows: Row[] = [];
      for (let i = 0; i < n; i++) {
        const t = i === breakAt ? i / 10 - 80 : i / 10; // 80 ms back: late, past maxOutOfOrderness
        rows.push({ t, x: Math.floor(rng() * 1000) / 8, k: Math.floor(rng() * 50), row: i });
      }
      for (const kind of ['tumbling', 'hopping'] as const) {
        const spec: WindowSpec = kind === 'tumbling' ? { kind, op: 'mean', size: 100, keys: 'number', maxOutOfOrderness: 50 } : { kind, op: 'mean', size: 100, step: 40, keys: 'number', maxOutOfOrderness: 50 };
        const whole = await run(spec, rows, [0, n], false);
        const cuts = [0];
        for (let at = 0; at < n; ) cuts.push((at = Math.min(n, at + 1 + Math.floor(rng() * 3))));
        const small = await run(spec, rows, cuts, false);
        expect(sameOutput(whole.out, small.out)).toBeNull();
        expect(whole.snapshot).toEqual(small.snapshot);
      }
    });
  }
});

describe('hopping rows in order reach their windows through the per-key slots of the range', () => {
  it('keys small and beyond the slots\' limit, ranges of 2 to 9 windows: one push = batches of 1–3 rows', async () => {
    const n = 20_000;
    const rng = mulberry32(11);
    const rows: Row[] = [];
    for (let i = 0; i < n; i++) {
      const k = rng() < 0.5 ? Math.floor(rng() * 40) : 65_530 + Math.floor(rng() * 12);
      rows.push({ t: i / 4, x: Math.floor(rng() * 1000) / 8, k, row: i });
    }
    for (const [size, step] of [[100, 50], [100, 40], [160, 20], [180, 20]] as const) {
      for (const op of ['mean', 'max', 'median'] as const) {
        const spec: WindowSpec = { kind: 'hopping', op, size, step, keys: 'number' };
        const whole = await run(spec, rows, [0, n], false);
        const cuts = [0];
        for (let at = 0; at < n; ) cuts.push((at = Math.min(n, at + 1 + Math.floor(rng() * 3))));
        const small = await run(spec, rows, cuts, false);
        expect(sameOutput(whole.out, small.out), `size ${size}, step ${step}, ${op}`).toBeNull();
        expect(whole.snapshot).toEqual(small.snapshot);
      }
    }
  });
});
