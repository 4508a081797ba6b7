// The push-mode replay log (src/scheduler/replay.ts): pushed batches copied
// into pooled chunks until a checkpoint covers them.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ReplayLog } from '../src/scheduler/replay.js';

const CHUNK_ROWS = 1 << 16;

/** A keyed batch of `rows` rows whose values and keys tell their offset. */
function batchAt(offset: number, rows: number): { values: Float64Array; keys: Uint32Array } {
  const values = new Float64Array(rows);
  const keys = new Uint32Array(rows);
  for (let i = 0; i < rows; i++) {
    values[i] = offset + i;
    keys[i] = (offset + i) % 1009;
  }
  return { values, keys };
}

/** Whether the log's entry at `offset` still holds the rows appended there (first, middle, last). */
function holds(log: ReplayLog, offset: number, rows: number): boolean {
  const b = log.at(offset);
  if (b === undefined || b.values.length !== rows) return false;
  return [0, rows >> 1, rows - 1].every((i) => b.values[i] === offset + i && b.keys![i] === (offset + i) % 1009);
}

describe('replay log', () => {
  it('regression: the replay log allocated anew every chunk past 64 in each checkpoint interval (a checkpoint per second at 6 M rows/s holds 92, and the rest became garbage that started major GCs); it keeps what the last intervals held, so steady intervals allocate nothing', () => {
    const log = new ReplayLog();
    const batch = batchAt(0, CHUNK_ROWS); // copied by every append: one will do
    let offset = 0;
    const interval = (chunks: number): void => {
      for (let i = 0; i < chunks; i++) {
        log.append(offset, batch);
        offset += CHUNK_ROWS;
      }
      log.dropTo(offset); // the checkpoint covering them
    };
    interval(92);
    const first = log.allocated;
    expect(first).toBe(92);
    for (let i = 0; i < 5; i++) interval(92);
    expect(log.allocated).toBe(first);
    // Intervals of uneven length (a slow store, an explicit checkpoint between periodic ones) reuse chunks too.
    for (let i = 0; i < 6; i++) interval(i % 2 === 0 ? 30 : 92);
    expect(log.allocated).toBe(first);
  });

  it('property: any appends and drops (pooled chunks reused) keep every entry not dropped intact', () => {
    const step = fc.oneof(
      { weight: 5, arbitrary: fc.record({ append: fc.integer({ min: 1, max: 3 * CHUNK_ROWS }) }) },
      { weight: 1, arbitrary: fc.record({ drop: fc.double({ min: 0, max: 1, noNaN: true }) }) },
    );
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 60 }), (steps) => {
        const log = new ReplayLog();
        const live: [number, number][] = [];
        let offset = 0;
        let dropped = 0;
        for (const s of steps) {
          if ('append' in s) {
            const rows = s.append;
            log.append(offset, batchAt(offset, rows));
            live.push([offset, rows]);
            offset += rows;
          } else {
            // A checkpoint covers the batches dispatched so far, up to some entry's end.
            const ends = live.map(([o, r]) => o + r).filter((end) => end > dropped);
            const to = ends.length === 0 ? dropped : ends[Math.floor(s.drop * ends.length) % ends.length]!;
            log.dropTo(to);
            dropped = to;
            while (live.length > 0 && live[0]![0] + live[0]![1] <= to) live.shift();
          }
          for (const [o, r] of live) if (!holds(log, o, r)) return false;
        }
        return true;
      }),
      { numRuns: 30 },
    );
  });
});
