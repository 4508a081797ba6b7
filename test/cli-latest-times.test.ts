// The time windows' order check of `run` (src/cli/latest-times.ts): each
// key's greatest time by the reader's key id, which must be what a Map by key
// string held before it (checkpoints list it as [key, time] pairs).

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LatestTimes } from '../src/cli/latest-times.js';

/** What OpsRunner.inOrder kept before key ids: a Map by key string, its late/reordered rows counted. */
function byString(restored: [string, number][], rows: [string, number][], bound: number, idleAt: number, idleMs: number) {
  const max = new Map(restored);
  let late = 0;
  let reordered = 0;
  rows.forEach(([k, t], i) => {
    if (i === idleAt) for (const [key, m] of max) max.set(key, m + idleMs);
    const m = max.get(k);
    if (m !== undefined && t < m) {
      if (t < m - bound) late++;
      else reordered++;
    } else max.set(k, t);
  });
  return { late, reordered, entries: [...max] };
}

/** The same rows through LatestTimes, keys numbered in order of first appearance as the reader does, read in batches. */
function byId(restored: [string, number][], rows: [string, number][], bound: number, idleAt: number, idleMs: number, batch: number) {
  const latest = new LatestTimes(restored);
  const names: string[] = [];
  const idOf = new Map<string, number>();
  let late = 0;
  let reordered = 0;
  for (let from = 0; from < rows.length; from += batch) {
    const part = rows.slice(from, from + batch);
    const ids = part.map(([k]) => idOf.get(k) ?? (idOf.set(k, names.length), names.push(k), names.length - 1));
    const times = latest.table(names);
    part.forEach(([, t], j) => {
      if (from + j === idleAt) latest.advance(idleMs);
      const id = ids[j] as number;
      const m = times[id] as number;
      if (t < m) {
        if (t < m - bound) late++;
        else reordered++;
      } else times[id] = t;
    });
  }
  return { late, reordered, entries: latest.entries() };
}

describe('LatestTimes', () => {
  it('property: any rows, restored keys, batch split and idle advance: the late and reordered rows and the checkpoint pairs (values and order) of a Map by key string', () => {
    const key = fc.constantFrom('a', 'b', 'c', 'd', 'e', '', 'k"q');
    fc.assert(
      fc.property(
        fc.array(fc.tuple(key, fc.integer({ min: -50, max: 50 })), { maxLength: 5 }),
        fc.array(fc.tuple(key, fc.integer({ min: 0, max: 100 })), { maxLength: 60 }),
        fc.integer({ min: 0, max: 20 }),
        fc.integer({ min: -1, max: 60 }),
        fc.integer({ min: 0, max: 30 }),
        fc.integer({ min: 1, max: 70 }),
        (restoredPairs, rows, bound, idleAt, idleMs, batch) => {
          const restored = [...new Map(restoredPairs)];
          expect(byId(restored, rows, bound, idleAt, idleMs, batch)).toEqual(byString(restored, rows, bound, idleAt, idleMs));
        },
      ),
      { numRuns: 500 },
    );
  });
});
