// The values of median and quantile windows in one pool (src/time/value-runs.ts):
// a run per window in blocks that move to twice the size as they fill and
// go back to free lists when released. The runs hold what arrays per window
// would, whatever the mix of appends, releases, reopens and runs set whole;
// and session windows whose runs grow past several blocks, merge, are
// snapshotted and restored give the same windows and snapshot bytes for any
// batch split, matching the slow reference.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { normalizeWindowSpec } from '../src/time/spec.js';
import { ValueRuns } from '../src/time/value-runs.js';
import { createWindows, restoreWindows } from '../src/time/windows.js';
import type { LateRow, WindowOperator, WindowResult, WindowSpec } from '../src/types.js';
import { hexOf } from './reference.js';
import { columns, compareEmissions, mulberry32, randomSplit, refSessionWindows, type Row } from './time-reference.js';

const runOf = (p: ValueRuns, s: number): number[] => Array.from(p.data.subarray(p.off(s), p.off(s) + p.len(s)));

describe('ValueRuns', () => {
  it('holds what an array per slot holds, for any mix of appends, releases, reopens and runs set whole (blocks moved, freed and reused)', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('append' as const), s: fc.nat(11), n: fc.integer({ min: 1, max: 40 }) }),
      fc.record({ kind: fc.constant('release' as const), s: fc.nat(11) }),
      fc.record({ kind: fc.constant('set' as const), s: fc.nat(11), n: fc.nat(70) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 120 }), fc.boolean(), (ops, unused) => {
        const pool = new ValueRuns(unused ? 0 : 256);
        const model: number[][] = [];
        let next = 0.5;
        for (let s = 0; s < 12; s++) {
          pool.open(s);
          model[s] = [];
        }
        for (const o of ops) {
          if (o.kind === 'append') {
            for (let j = 0; j < o.n; j++) {
              pool.append(o.s, next);
              model[o.s]!.push(next++);
            }
          } else if (o.kind === 'release') {
            pool.release(o.s);
            model[o.s] = [];
          } else {
            const src = Array.from({ length: o.n + 3 }, () => next++);
            pool.setRun(o.s, src, 3, o.n);
            model[o.s] = src.slice(3);
          }
          for (let s = 0; s < 12; s++) expect(runOf(pool, s)).toEqual(model[s]);
        }
      }),
      { numRuns: 300, seed: 15 },
    );
  });
});

/**
 * Rows of a few keys, each key's rows in bursts of 5–90 (sessions growing past blocks of 8, 16,
 * 32 and 64 values) separated by gaps that close them, some rows late enough to fall between two
 * sessions and merge them; values with ties and both zeros.
 */
function longSessions(seed: number): Row[] {
  const rng = mulberry32(seed);
  const keys = 1 + Math.floor(rng() * 4);
  const rows: Row[] = [];
  let t = 0;
  const burstLeft = Array.from({ length: keys }, () => 5 + Math.floor(rng() * 85));
  for (let i = 0; i < 600; i++) {
    const k = Math.floor(rng() * keys);
    t += Math.floor(rng() * 3);
    let ts = t;
    if (--burstLeft[k]! <= 0) {
      t += 40 + Math.floor(rng() * 30); // past the gap: the key's session closes (a bridging row may still merge it)
      burstLeft[k] = 5 + Math.floor(rng() * 85);
      ts = t;
    } else if (rng() < 0.08) ts = t - Math.floor(rng() * 60); // late: may fall between two sessions of its key
    const u = rng();
    const x = u < 0.1 ? 0 : u < 0.2 ? -0 : u < 0.25 ? NaN : Math.floor(rng() * 7) - 3 + (u < 0.6 ? 0 : rng());
    rows.push({ t: ts, x, k, row: i });
  }
  return rows;
}

describe('session windows: values in runs', () => {
  it('sessions whose runs grow past their blocks and merge give the same windows, late rows and snapshot bytes for any batch split and snapshot point, and match the slow reference', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 1_000_000 }),
        fc.constantFrom('median', 'quantile'),
        fc.constantFrom([0, 0], [30, 0], [30, 40], [60, 100]),
        fc.double({ min: 0, max: 1, noNaN: true }),
        async (seed, op, [disorder, lateness], snapAt) => {
          const rows = longSessions(seed);
          const spec = { kind: 'session', op, gap: 20, keys: 'number', maxOutOfOrderness: disorder, allowedLateness: lateness, ...(op === 'quantile' ? { q: 0.3 } : {}) } as WindowSpec;
          const all = columns(rows);
          const whole = await createWindows(spec);
          const first = whole.push(all.ts, all.xs, all.keys);
          const expected = [...first.windows, ...whole.flush().windows];
          const problems = compareEmissions(expected, refSessionWindows(rows, normalizeWindowSpec(spec)).emissions, normalizeWindowSpec(spec));
          expect(problems.slice(0, 3).join('\n'), `seed ${seed}`).toBe('');
          const cuts = randomSplit(mulberry32(seed), rows.length);
          const snapCut = cuts[Math.floor(snapAt * cuts.length)]!;
          let split: WindowOperator = await createWindows(spec);
          const got: WindowResult[] = [];
          const late: LateRow[] = [];
          for (let i = 1; i < cuts.length; i++) {
            if (cuts[i - 1] === snapCut) {
              const bytes = split.snapshot();
              const once = await createWindows(spec);
              const c0 = columns(rows, 0, snapCut);
              once.push(c0.ts, c0.xs, c0.keys);
              expect(hexOf(once.snapshot())).toBe(hexOf(bytes));
              split = await restoreWindows(bytes, spec);
              // Restored runs are written back as they came.
              expect(hexOf(split.snapshot())).toBe(hexOf(bytes));
            }
            const c = columns(rows, cuts[i - 1], cuts[i]);
            const o = split.push(c.ts, c.xs, c.keys);
            got.push(...o.windows);
            late.push(...o.late);
          }
          got.push(...split.flush().windows);
          expect(got.map((w) => ({ ...w, value: Object.is(w.value, -0) ? '-0' : String(w.value) }))).toEqual(expected.map((w) => ({ ...w, value: Object.is(w.value, -0) ? '-0' : String(w.value) })));
          expect(JSON.stringify(late)).toBe(JSON.stringify(first.late));
        },
      ),
      { numRuns: 80, seed: 1515 },
    );
  });
});
