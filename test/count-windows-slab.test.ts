// Count windows with per-key state in typed-array slabs (src/time/count.ts,
// src/time/slab.ts): the snapshots of the object-per-key layout restore and
// are written again byte for byte; any batch split and snapshot point gives
// the same windows and the same snapshot bytes; many keys (runs moved and
// the pool compacted) match the slow reference.
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SnapshotError } from '../src/errors.js';
import { createCountWindows, restoreCountWindows } from '../src/time/count.js';
import { RunPool } from '../src/time/slab.js';
import { normalizeCountWindowSpec } from '../src/time/spec.js';
import type { CountWindowOperator, CountWindowSpec, TimeOp, WindowResult } from '../src/types.js';
import { bitsHex, fixtureValue, fmt, hexOf, sameValue } from './reference.js';
import { ALL_TIME_OPS, columns, compareEmissions, makeStream, mulberry32, randomSplit, refCountWindows, repro } from './time-reference.js';

interface FixtureCase {
  spec: CountWindowSpec;
  cut: number;
  snapshot: string;
  windows: (Omit<WindowResult, 'value'> & { value: string })[];
}

const fixture = JSON.parse(readFileSync(new URL('./fixtures/count-windows-snapshots.json', import.meta.url), 'utf8')) as {
  values: (number | null | 'Infinity' | '-0')[];
  keys: number[];
  cases: FixtureCase[];
};

const bits = bitsHex;
const hex = hexOf;
const withQ = (op: TimeOp, spec: CountWindowSpec): CountWindowSpec => (op === 'quantile' ? { ...spec, q: 0.75 } : spec);

function sameWindows(a: readonly WindowResult[], b: readonly WindowResult[]): string | null {
  if (a.length !== b.length) return `${a.length} vs ${b.length} windows`;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!, y = b[i]!;
    if (x.key !== y.key || x.start !== y.start || x.end !== y.end || x.count !== y.count || !sameValue(x.value, y.value)) return `window ${i}: ${JSON.stringify({ ...x, value: fmt(x.value) })} vs ${JSON.stringify({ ...y, value: fmt(y.value) })}`;
  }
  return null;
}

describe('count windows in slabs', () => {
  it('snapshots written by the object-per-key layout restore and continue to the same windows, and the same rows give the same snapshot bytes', async () => {
    const values = fixture.values.map(fixtureValue);
    for (const c of fixture.cases) {
      const mode = c.spec.keys ?? 'none';
      const keys = (from: number, to?: number): never => (mode === 'none' ? undefined : fixture.keys.slice(from, to).map((k) => (mode === 'string' ? `k${k}` : k))) as never;
      const a = await createCountWindows(c.spec);
      a.push(values.slice(0, c.cut), keys(0, c.cut));
      expect(hex(a.snapshot()), JSON.stringify(c.spec)).toBe(c.snapshot);
      const b = await restoreCountWindows(Buffer.from(c.snapshot, 'hex'), c.spec);
      const rest = [...b.push(values.slice(c.cut), keys(c.cut)).windows, ...b.flush().windows];
      expect(rest.map((w) => ({ ...w, value: bits(w.value) })), JSON.stringify(c.spec)).toEqual(c.windows);
    }
  });

  it('any batch split and any snapshot point give the same windows and the same snapshot bytes', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 1_000_000 }),
        fc.constantFrom(...ALL_TIME_OPS),
        fc.constantFrom([4, 4], [5, 2], [2, 5], [1, 1], [9, 3]),
        fc.double({ min: 0, max: 1, noNaN: true }),
        async (seed, op, [size, step], snapAt) => {
          const stream = makeStream(seed, { n: 300 });
          const spec = withQ(op, { op, size: size!, step: step!, keys: 'number', minPeriods: seed % 3 });
          const all = columns(stream.rows);
          const whole = await createCountWindows(spec);
          const expected = [...whole.push(all.xs, all.keys).windows, ...whole.flush().windows];
          const cuts = randomSplit(mulberry32(seed), stream.rows.length);
          const snapCut = cuts[Math.floor(snapAt * cuts.length)]!;
          let op2: CountWindowOperator<'number'> = await createCountWindows(spec);
          const got: WindowResult[] = [];
          for (let i = 1; i < cuts.length; i++) {
            const c = columns(stream.rows, cuts[i - 1], cuts[i]);
            got.push(...op2.push(c.xs, c.keys).windows);
            if (cuts[i] === snapCut) {
              const bytes = op2.snapshot();
              const one = await createCountWindows(spec);
              const prefix = columns(stream.rows, 0, snapCut);
              one.push(prefix.xs, prefix.keys);
              expect(hex(bytes), `${stream.name}, spec ${JSON.stringify(spec)}, snapshot after ${snapCut} rows`).toBe(hex(one.snapshot()));
              op2 = (await restoreCountWindows(bytes, spec)) as CountWindowOperator<'number'>;
            }
          }
          got.push(...op2.flush().windows);
          const diff = sameWindows(expected, got);
          if (diff !== null) throw new Error(`${stream.name}, spec ${JSON.stringify(spec)}, cuts ${JSON.stringify(cuts)}, snapshot at ${snapCut}: ${diff}\n${repro(stream.rows)}`);
        },
      ),
      { numRuns: 150, seed: 1219 },
    );
  });

  it('thousands of keys (runs moved, the pool compacted) match the slow reference', async () => {
    const stream = makeStream(77, { n: 20_000, keys: 3000 });
    const c = columns(stream.rows);
    for (const op of ['mean', 'median', 'last'] as const) {
      for (const [size, step] of [[6, 6], [8, 3]] as const) {
        const spec = { op, size, step, keys: 'number' as const };
        const w = await createCountWindows(spec);
        const got = [...w.push(c.xs, c.keys).windows, ...w.flush().windows];
        expect(compareEmissions(got, refCountWindows(stream.rows, normalizeCountWindowSpec(spec)), normalizeCountWindowSpec(spec)).slice(0, 3), JSON.stringify(spec)).toEqual([]);
      }
    }
  });

  it('a median snapshot whose open windows hold different values is refused', async () => {
    const spec: CountWindowSpec = { op: 'median', size: 5, step: 2 };
    const a = await createCountWindows(spec);
    a.push([1, 2, 3, 4]);
    const good = a.snapshot();
    // The newest open window (rows 2, 3: values 3, 4) is the last 16 bytes of state before the checksum; make its 4 a 5.
    const { crc32 } = await import('../src/crc32.js');
    const bad = good.slice();
    const view = new DataView(bad.buffer);
    const at = bad.length - 4 - 8;
    expect(view.getFloat64(at, true)).toBe(4);
    view.setFloat64(at, 5, true);
    view.setUint32(bad.length - 4, crc32(bad, 0, bad.length - 4), true);
    await expect(restoreCountWindows(bad)).rejects.toBeInstanceOf(SnapshotError);
    await expect(restoreCountWindows(bad)).rejects.toThrow(/open windows hold different values/);
    await expect(restoreCountWindows(good)).resolves.toBeDefined();
  });

  it('RunPool keeps every run through moves and compaction', () => {
    const pool = new RunPool(64);
    const model: number[][] = [];
    const rng = mulberry32(3);
    for (let s = 0; s < 200; s++) {
      expect(pool.addSlot()).toBe(s);
      model.push([]);
    }
    let next = 1;
    for (let i = 0; i < 50_000; i++) {
      const s = Math.floor(rng() * 200);
      const run = model[s]!;
      if (rng() < 0.55 && run.length < 64) {
        const n = 1 + Math.floor(rng() * Math.min(8, 64 - run.length));
        const o = pool.append(s, n);
        for (let j = 0; j < n; j++) {
          pool.data[o + j] = next;
          run.push(next++);
        }
      } else {
        const n = Math.floor(rng() * (run.length + 1));
        pool.dropFront(s, n);
        run.splice(0, n);
      }
    }
    for (let s = 0; s < 200; s++) expect(Array.from(pool.data.subarray(pool.off(s), pool.off(s) + pool.len(s)))).toEqual(model[s]);
  });
});
