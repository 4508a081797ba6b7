// Rolling by duration: a key's slot is found through the direct table (small
// key ids) or the hash table (the others); either way, and through keys
// forgotten by their ttl and the tables shrunk after it, the results are those
// of the same rows with dense key ids.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createTimeRolling } from '../src/time/rolling.js';
import type { TimeOp } from '../src/types.js';
import { sameValue } from './reference.js';
import { mulberry32, randomSplit } from './time-reference.js';

interface Rows {
  ts: number[];
  xs: number[];
  keys: number[];
}

/** Phases of many keys, then a few (the others idle past the ttl: swept, the tables shrunk), then many again (ids seen before among them). */
function phasedRows(seed: number): Rows {
  const rng = mulberry32(seed);
  const rows: Rows = { ts: [], xs: [], keys: [] };
  let t = 0;
  for (const [keys, n] of [[120 + Math.floor(rng() * 200), 600], [2, 40], [60 + Math.floor(rng() * 300), 500]] as const) {
    for (let i = 0; i < n; i++) {
      t += rng() < 0.3 ? 0 : 1 + Math.floor(rng() * 3);
      rows.ts.push(t);
      rows.xs.push(rng() < 0.05 ? NaN : Math.floor(rng() * 1000) / 8);
      rows.keys.push(Math.floor(rng() * keys));
    }
    t += 500; // past the ttl: every key but the next phase's goes
  }
  return rows;
}

async function run(op: TimeOp, rows: Rows, id: (k: number) => number, cuts: readonly number[]): Promise<number[]> {
  const r = await createTimeRolling({ op, window: 40, keys: 'number', ttl: 100 });
  const out: number[] = [];
  for (let c = 1; c < cuts.length; c++) {
    const from = cuts[c - 1]!, to = cuts[c]!;
    const keys = Uint32Array.from(rows.keys.slice(from, to), id);
    out.push(...r.push(Float64Array.from(rows.ts.slice(from, to)), Float64Array.from(rows.xs.slice(from, to)), keys).values);
  }
  r.dispose();
  return out;
}

const MAPPINGS: [string, (k: number) => number][] = [
  ['spread ids (some past the direct table)', (k) => k * 997],
  ['ids past the direct table', (k) => 0xfffffff0 - k],
  ['mixed', (k) => (k % 2 === 0 ? k : 100_000 + k)],
  ['sparse small ids', (k) => k * 211],
];

describe('rolling by duration: key ids', () => {
  it('any key ids (direct table, hash table, or both) give the bits of dense ids, through keys forgotten by ttl and shrunk tables, for any split', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 1_000_000 }), fc.constantFrom<TimeOp>('mean', 'sum', 'max', 'var', 'median'), async (seed, op) => {
        const rows = phasedRows(seed);
        const n = rows.ts.length;
        const dense = await run(op, rows, (k) => k, [0, n]);
        for (const [name, id] of MAPPINGS) {
          for (const cuts of [[0, n], randomSplit(mulberry32(seed + 1), n)]) {
            const got = await run(op, rows, id, cuts);
            const at = got.findIndex((v, i) => !sameValue(v, dense[i]!));
            expect(at, `seed ${seed}, ${op}, ${name}, ${cuts.length - 1} batches: row ${at} gives ${got[at]}, dense ids ${dense[at]}`).toBe(-1);
          }
        }
      }),
      { numRuns: 25 },
    );
  });
});
