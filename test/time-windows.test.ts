// Tumbling, hopping, session and count windows: slow references over
// adversarial streams (disorder within and beyond the bound, lateness,
// duplicates, NaN/±Inf, many keys), batch-split and snapshot-cut invariance,
// snapshot refusal.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SnapshotError } from '../src/errors.js';
import { createCountWindows, restoreCountWindows } from '../src/time/count.js';
import { normalizeCountWindowSpec, normalizeWindowSpec } from '../src/time/spec.js';
import { createWindows, restoreWindows, windowsByTime, windowIndexRange } from '../src/time/windows.js';
import type { CountWindowSpec, TimeOp, WindowOutput, WindowSpec } from '../src/types.js';
import { fmt, sameValue } from './reference.js';
import {
  ALL_TIME_OPS,
  columns,
  compareEmissions,
  makeStream,
  mulberry32,
  randomSplit,
  refCountWindows,
  refGridWindows,
  refSessionWindows,
  repro,
  type Row,
} from './time-reference.js';

function withQ<T extends { op: TimeOp; q?: number }>(spec: T): T {
  return spec.op === 'quantile' ? { ...spec, q: 0.75 } : spec;
}

async function runWindows(spec: WindowSpec, rows: readonly Row[], cuts: readonly number[]): Promise<WindowOutput> {
  const op = await createWindows(spec);
  const keyed = spec.keys !== undefined && spec.keys !== 'none';
  const out: WindowOutput = { windows: [], late: [] };
  for (let i = 1; i < cuts.length; i++) {
    const c = columns(rows, cuts[i - 1], cuts[i]);
    const o = op.push(c.ts, c.xs, keyed ? c.keys : undefined);
    out.windows.push(...o.windows);
    out.late.push(...o.late);
  }
  const f = op.flush();
  out.windows.push(...f.windows);
  return out;
}

function sameWindowOutput(a: WindowOutput, b: WindowOutput): string | null {
  if (a.windows.length !== b.windows.length) return `${a.windows.length} vs ${b.windows.length} windows`;
  for (let i = 0; i < a.windows.length; i++) {
    const x = a.windows[i]!, y = b.windows[i]!;
    if (x.key !== y.key || x.start !== y.start || x.end !== y.end || x.count !== y.count || x.update !== y.update || !sameValue(x.value, y.value) || JSON.stringify(x.replaces) !== JSON.stringify(y.replaces)) {
      return `window ${i}: ${JSON.stringify({ ...x, value: fmt(x.value) })} vs ${JSON.stringify({ ...y, value: fmt(y.value) })}`;
    }
  }
  if (JSON.stringify(a.late) !== JSON.stringify(b.late)) return `late rows differ: ${JSON.stringify(a.late)} vs ${JSON.stringify(b.late)}`;
  return null;
}

function lateProblems(actual: WindowOutput['late'], expected: WindowOutput['late']): string[] {
  const enc = (l: WindowOutput['late']): string => JSON.stringify(l.map((r) => [r.row, r.key, r.ts, fmt(r.value), r.missed]));
  return enc(actual) === enc(expected) ? [] : [`late rows ${enc(actual)}, expected ${enc(expected)}`];
}

describe('window grid', () => {
  it('finds exactly the windows that hold t', () => {
    const rng = mulberry32(5);
    for (let i = 0; i < 2000; i++) {
      const step = [1, 3, 7.5, 1000][i % 4]!;
      const size = step * [1, 2, 3.5, 0.5][(i >> 2) % 4]!;
      const offset = [0, 2, -1.25][i % 3]!;
      const t = Math.floor((rng() - 0.5) * 1e5) / 4;
      const [lo, hi] = windowIndexRange(t, size, step, offset);
      for (let j = lo - 3; j <= hi + 3; j++) {
        const start = j * step + offset;
        const holds = start <= t && t < start + size;
        expect(holds, `t ${t} size ${size} step ${step} offset ${offset} j ${j}`).toBe(j >= lo && j <= hi);
      }
    }
  });
});

describe('tumbling and hopping windows against the slow reference', () => {
  it('every op; watermark, disorder within and beyond the bound, allowed lateness, late side output', async () => {
    const failures: string[] = [];
    for (let seed = 1; seed <= 24; seed++) {
      const disorder = [0, 15, 60][seed % 3]!;
      const stream = makeStream(seed, { disorder: disorder === 0 ? 40 : disorder, beyond: true, spread: 10 });
      for (const op of ALL_TIME_OPS) {
        const kinds: WindowSpec[] = [
          { kind: 'tumbling', op, size: 50, offset: seed % 2 ? 0 : 7, keys: 'number', maxOutOfOrderness: disorder, allowedLateness: seed % 4 === 0 ? 0 : 40 },
          { kind: 'hopping', op, size: 60, step: 25, keys: 'number', maxOutOfOrderness: disorder, allowedLateness: seed % 5 === 0 ? 100 : 0, minPeriods: seed % 3 },
          { kind: 'hopping', op, size: 20, step: 30, keys: 'none', maxOutOfOrderness: disorder },
        ];
        for (const raw of kinds) {
          const spec = withQ(raw);
          const n = normalizeWindowSpec(spec);
          const rows = n.keys === 'none' ? stream.rows.map((r) => ({ ...r, k: 0 })) : stream.rows;
          const got = await runWindows(spec, rows, [0, rows.length]);
          const ref = refGridWindows(rows, n);
          const problems = [...compareEmissions(got.windows, ref.emissions, n), ...lateProblems(got.late, ref.late)];
          if (problems.length > 0) failures.push(`${stream.name}, spec ${JSON.stringify(spec)}:\n  ${problems.slice(0, 4).join('\n  ')}\n  ${repro(rows)}`);
          if (failures.length >= 3) break;
        }
      }
    }
    expect(failures.slice(0, 3).join('\n\n')).toBe('');
  });

  it('a late row within allowedLateness re-emits its window with update; a later row goes to the late output', async () => {
    const op = await createWindows({ kind: 'tumbling', op: 'sum', size: 10, allowedLateness: 5 });
    const a = op.push([1, 2, 12], [1, 2, 3]);
    expect(a.windows).toEqual([{ key: 0, start: 0, end: 10, value: 3, count: 2, update: false }]);
    const b = op.push([9], [4]);
    expect(b.windows).toEqual([{ key: 0, start: 0, end: 10, value: 7, count: 3, update: true }]);
    const c = op.push([16, 8], [5, 6]); // the watermark passes 15: [0, 10) is closed for good
    expect(c.windows).toEqual([]);
    expect(c.late).toEqual([{ row: 5, key: 0, ts: 8, value: 6, missed: 1 }]);
    expect(op.lateCount).toBe(1);
    expect(op.watermark).toBe(16);
    expect(op.flush().windows).toEqual([{ key: 0, start: 10, end: 20, value: 8, count: 2, update: false }]);
    expect(() => op.push([30], [1])).toThrow(/ended/);
  });

  it('maxOutOfOrderness places rows in their windows whatever their order of arrival', async () => {
    const spec: WindowSpec = { kind: 'tumbling', op: 'count', size: '1s', maxOutOfOrderness: '500ms' };
    const inOrder = await windowsByTime([100, 900, 1200, 1300, 2100], [1, 1, 1, 1, 1], spec);
    const shuffled = await windowsByTime([900, 1200, 100, 2100, 1300], [1, 1, 1, 1, 1], spec);
    expect(shuffled.windows).toEqual(inOrder.windows);
    expect(shuffled.late).toEqual([]);
    expect(inOrder.windows.map((w) => [w.start, w.value])).toEqual([[0, 2], [1000, 2], [2000, 1]]);
  });

  it('matches pandas resample on an example with an offset', async () => {
    const { windows } = await windowsByTime([0, 1500, 2000, 4999, 5000], [1, 2, NaN, 4, 8], { kind: 'tumbling', op: 'mean', size: '2s', offset: '1s' });
    expect(windows.map((w) => [w.start, w.end, w.value, w.count])).toEqual([
      [-1000, 1000, 1, 1],
      [1000, 3000, 2, 1],
      [3000, 5000, 4, 1],
      [5000, 7000, 8, 1],
    ]);
  });
});

describe('session windows against the slow reference', () => {
  it('every op; merges, bridging late rows, purged sessions, late side output', async () => {
    const failures: string[] = [];
    for (let seed = 1; seed <= 24; seed++) {
      const disorder = [0, 20, 80][seed % 3]!;
      const stream = makeStream(seed, { disorder: disorder === 0 ? 40 : disorder, beyond: true, spread: 10 });
      for (const op of ALL_TIME_OPS) {
        const spec = withQ({ kind: 'session', op, gap: [8, 25, 60][seed % 3]!, keys: 'number', maxOutOfOrderness: disorder, allowedLateness: [0, 30, 200][(seed >> 1) % 3]! } as WindowSpec);
        const n = normalizeWindowSpec(spec);
        const got = await runWindows(spec, stream.rows, [0, stream.rows.length]);
        const ref = refSessionWindows(stream.rows, n);
        const problems = [...compareEmissions(got.windows, ref.emissions, n), ...lateProblems(got.late, ref.late)];
        if (problems.length > 0) failures.push(`${stream.name}, spec ${JSON.stringify(spec)}:\n  ${problems.slice(0, 4).join('\n  ')}\n  ${repro(stream.rows)}`);
        if (failures.length >= 3) break;
      }
    }
    expect(failures.slice(0, 3).join('\n\n')).toBe('');
  });

  it('a late row that bridges two emitted sessions merges them and says which it replaces', async () => {
    const op = await createWindows({ kind: 'session', op: 'sum', gap: 10, allowedLateness: 100, keys: 'string' });
    const a = op.push([0, 5, 30, 60], [1, 2, 3, 4], ['u', 'u', 'u', 'u']);
    expect(a.windows.map((w) => [w.start, w.end, w.value, w.update])).toEqual([[0, 15, 3, false], [30, 40, 3, false]]);
    const b = op.push([12, 21], [10, 20], ['u', 'u']);
    // 12 extends [0, 15) to [0, 22) (re-emitted); 21 bridges it with [30, 40).
    expect(b.windows).toEqual([
      { key: 'u', start: 0, end: 22, value: 13, count: 3, update: true, replaces: [{ start: 0, end: 15 }] },
      { key: 'u', start: 0, end: 40, value: 36, count: 5, update: true, replaces: [{ start: 0, end: 22 }, { start: 30, end: 40 }] },
    ]);
  });
});

describe('session timers', () => {
  it('regression: every row that grew a session queued new fire and purge timers, each popped later as stale (a heap push and pop per row); a session holds at most one timer of each kind', async () => {
    for (const allowedLateness of [0, 50]) {
      const op = await createWindows({ kind: 'session', op: 'mean', gap: 10, allowedLateness, keys: 'number' });
      // 10 000 rows, 1 ms apart, each growing the one session of its key (two keys)
      const n = 10_000;
      const ts = Float64Array.from({ length: n }, (_, i) => i);
      const out = op.push(ts, ts, Uint32Array.from({ length: n }, (_, i) => i % 2));
      expect(out.windows).toEqual([]);
      // two sessions, each with a fire timer (and a purge timer when late rows may still come)
      expect((op as unknown as { heldItems: number }).heldItems).toBe(allowedLateness === 0 ? 4 : 6);
      const end = op.flush().windows;
      expect(end.map((w) => [w.key, w.start, w.end, w.count])).toEqual([[0, 0, n - 2 + 10, n / 2], [1, 1, n - 1 + 10, n / 2]]);
    }
  });
});

describe('count windows against the slow reference', () => {
  it('tumbling and hopping, keyed, every op', async () => {
    const failures: string[] = [];
    for (let seed = 1; seed <= 12; seed++) {
      const stream = makeStream(seed);
      for (const op of ALL_TIME_OPS) {
        for (const [size, step] of [[5, 5], [7, 3], [2, 5], [1, 1]] as const) {
          const spec = withQ({ op, size, step, keys: 'number', minPeriods: seed % 3 } as CountWindowSpec);
          const n = normalizeCountWindowSpec(spec);
          const w = await createCountWindows(spec);
          const c = columns(stream.rows);
          const got = [...w.push(c.xs, c.keys).windows, ...w.flush().windows];
          const problems = compareEmissions(got, refCountWindows(stream.rows, n), n);
          if (problems.length > 0) failures.push(`${stream.name}, spec ${JSON.stringify(spec)}:\n  ${problems.slice(0, 4).join('\n  ')}\n  ${repro(stream.rows)}`);
        }
      }
    }
    expect(failures.slice(0, 3).join('\n\n')).toBe('');
  });
});

describe('window operators: streaming invariants', () => {
  const kinds = ['tumbling', 'hopping', 'session'] as const;

  function specOf(kind: (typeof kinds)[number], op: TimeOp, seed: number): WindowSpec {
    const common = { op, keys: 'number' as const, maxOutOfOrderness: [0, 20][seed % 2]!, allowedLateness: [0, 35][(seed >> 1) % 2]! };
    if (kind === 'tumbling') return withQ({ kind, size: 40, ...common });
    if (kind === 'hopping') return withQ({ kind, size: 45, step: 20, ...common });
    return withQ({ kind, gap: 15, ...common });
  }

  it('any split into batches gives the same windows and late rows, to the bit', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 1_000_000 }), fc.constantFrom(...kinds), fc.constantFrom(...ALL_TIME_OPS), async (seed, kind, op) => {
        const stream = makeStream(seed, { disorder: 30, beyond: true, spread: 10 });
        const spec = specOf(kind, op, seed);
        const whole = await runWindows(spec, stream.rows, [0, stream.rows.length]);
        const cuts = randomSplit(mulberry32(seed), stream.rows.length);
        const diff = sameWindowOutput(whole, await runWindows(spec, stream.rows, cuts));
        if (diff !== null) throw new Error(`${stream.name}, spec ${JSON.stringify(spec)}, cuts ${JSON.stringify(cuts)}: ${diff}\n${repro(stream.rows)}`);
      }),
      { numRuns: 80, seed: 99 },
    );
  });

  it('snapshot and restore at any point continue to the same results', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 1_000_000 }),
        fc.constantFrom(...kinds),
        fc.constantFrom(...ALL_TIME_OPS),
        fc.double({ min: 0, max: 1, noNaN: true }),
        async (seed, kind, op, cutAt) => {
          const stream = makeStream(seed, { disorder: 30, beyond: true, spread: 10 });
          const spec = specOf(kind, op, seed);
          const whole = await runWindows(spec, stream.rows, [0, stream.rows.length]);
          const cut = Math.floor(cutAt * stream.rows.length);
          const a = await createWindows(spec);
          const c1 = columns(stream.rows, 0, cut);
          const first = a.push(c1.ts, c1.xs, c1.keys);
          const b = await restoreWindows(a.snapshot(), spec);
          expect(b.watermark).toBe(a.watermark);
          expect(b.lateCount).toBe(a.lateCount);
          const c2 = columns(stream.rows, cut);
          const second = b.push(c2.ts, c2.xs, c2.keys);
          const last = b.flush();
          const joined: WindowOutput = { windows: [...first.windows, ...second.windows, ...last.windows], late: [...first.late, ...second.late] };
          const diff = sameWindowOutput(whole, joined);
          if (diff !== null) throw new Error(`${stream.name}, spec ${JSON.stringify(spec)}, cut ${cut}: ${diff}\n${repro(stream.rows)}`);
        },
      ),
      { numRuns: 80, seed: 31337 },
    );
  });

  it('count windows: batch splits and snapshot cuts change nothing', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 1_000_000 }), fc.constantFrom(...ALL_TIME_OPS), fc.double({ min: 0, max: 1, noNaN: true }), async (seed, op, cutAt) => {
        const stream = makeStream(seed);
        const spec = withQ({ op, size: 4, step: 3, keys: 'string' } as CountWindowSpec);
        const keys = stream.rows.map((r) => `k${r.k}`);
        const a = await createCountWindows(spec);
        const whole = [...a.push(columns(stream.rows).xs, keys).windows, ...a.flush().windows];
        const cut = Math.floor(cutAt * stream.rows.length);
        const b = await createCountWindows(spec);
        const first = b.push(columns(stream.rows, 0, cut).xs, keys.slice(0, cut)).windows;
        const c = await restoreCountWindows(b.snapshot(), spec);
        const rest = [...c.push(columns(stream.rows, cut).xs, keys.slice(cut)).windows, ...c.flush().windows];
        const diff = sameWindowOutput({ windows: whole, late: [] }, { windows: [...first, ...rest], late: [] });
        if (diff !== null) throw new Error(`${stream.name}, spec ${JSON.stringify(spec)}, cut ${cut}: ${diff}\n${repro(stream.rows)}`);
      }),
      { numRuns: 60, seed: 5 },
    );
  });
});

describe('window operators: snapshot refusal and spec errors', () => {
  it('refuses truncated, flipped, foreign and forged snapshots', async () => {
    const { crc32 } = await import('../src/crc32.js');
    for (const spec of [
      { kind: 'session', op: 'median', gap: 10, keys: 'string', allowedLateness: 50 } as WindowSpec,
      { kind: 'hopping', op: 'var', size: 30, step: 10, maxOutOfOrderness: 5 } as WindowSpec,
    ]) {
      const op = await createWindows(spec);
      op.push([0, 3, 25, 40, 41, 44], [1, 2, 3, 4, NaN, 6], spec.keys === 'string' ? ['a', 'b', 'a', 'a', 'b', 'b'] : undefined);
      const bytes = op.snapshot();
      await expect(restoreWindows(bytes.subarray(0, bytes.length - 2))).rejects.toMatchObject({ code: 'BAD_LENGTH' });
      for (let i = 0; i < bytes.length; i += 5) {
        const bad = bytes.slice();
        bad[i]! ^= 0x41;
        await expect(restoreWindows(bad), `flipped byte ${i}`).rejects.toBeInstanceOf(SnapshotError);
      }
      await expect(restoreCountWindows(bytes)).rejects.toMatchObject({ code: 'OP_MISMATCH' });
      await expect(restoreWindows(bytes, { kind: 'tumbling', op: 'sum', size: 10 })).rejects.toMatchObject({ code: 'OP_MISMATCH' });
      let refused = 0;
      const paramLength = new DataView(bytes.buffer).getUint32(16, true);
      for (let i = 24 + paramLength; i < bytes.length - 4; i += 2) {
        const bad = bytes.slice();
        bad[i] = bad[i]! ^ 0x80;
        new DataView(bad.buffer).setUint32(bad.length - 4, crc32(bad, 0, bad.length - 4), true);
        try {
          const r = await restoreWindows(bad);
          r.push([45], [1], spec.keys === 'string' ? ['a'] : undefined);
          r.flush();
        } catch (error) {
          expect(error, `forged byte ${i}`).toBeInstanceOf(SnapshotError);
          refused++;
        }
      }
      expect(refused).toBeGreaterThan(0);
    }
  });

  it('bad specs name the field', async () => {
    await expect(createWindows({ kind: 'tumbling', op: 'sum', size: '-5s' })).rejects.toThrow(/size/);
    await expect(createWindows({ kind: 'hopping', op: 'sum', size: 10, step: 0 })).rejects.toThrow(/step/);
    await expect(createWindows({ kind: 'hopping', op: 'sum', size: 1e6, step: 1 })).rejects.toThrow(/windows per row/);
    await expect(createWindows({ kind: 'session', op: 'sum', gap: 10, size: 5 } as unknown as WindowSpec)).rejects.toThrow(/unknown field 'size'/);
    await expect(createWindows({ kind: 'sliding', op: 'sum' } as unknown as WindowSpec)).rejects.toThrow(/kind/);
    await expect(createWindows({ kind: 'tumbling', op: 'sum', size: 10, allowedLateness: '1x' as never })).rejects.toThrow(/allowedLateness/);
    await expect(createCountWindows({ op: 'sum', size: 0 })).rejects.toThrow(/size/);
    await expect(createCountWindows({ op: 'sum', size: 3, step: 1.5 })).rejects.toThrow(/step/);
  });
});
