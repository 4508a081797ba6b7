// A job's ops of rolling by duration over the same rows group them by key
// once: each later op's operator follows the first (TimeRollingOperator.follow,
// DurationRolling.pushIdsFollowing). Following must change nothing but the work.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { normalizeOperatorSpec } from '../src/keyed/spec.js';
import { createTimeRollingOperator, type TimeRollingOperator } from '../src/keyed/time-rolling.js';
import type { TimeOp } from '../src/types.js';

const GROUPS = 16;
const OPS: TimeOp[] = ['sum', 'mean', 'count', 'min', 'max', 'var', 'std', 'median', 'quantile', 'first', 'last'];

async function operator(op: TimeOp, closed: 'right' | 'left' | 'both' | 'neither', window = 1000): Promise<TimeRollingOperator> {
  const spec = normalizeOperatorSpec({ kind: 'rolling', op, window, closed, ...(op === 'quantile' ? { q: 0.25 } : {}) });
  if (!('kind' in spec) || spec.kind !== 'rolling') throw new Error('a rolling spec');
  return createTimeRollingOperator(spec, GROUPS);
}

interface Batch {
  values: Float64Array;
  keys: Uint32Array;
  times: Float64Array;
}

/** Rows of `keys` keys, each key's times non-decreasing, cut into batches at `cuts`. */
function batches(steps: { key: number; dt: number; value: number }[], cuts: number[]): Batch[] {
  const last = new Map<number, number>();
  const rows = steps.map(({ key, dt, value }) => {
    const t = (last.get(key) ?? 0) + dt;
    last.set(key, t);
    return { key, t, value };
  });
  const ends = [...new Set([...cuts.map((c) => c % (rows.length + 1)), rows.length])].sort((a, b) => a - b);
  const out: Batch[] = [];
  let from = 0;
  for (const end of ends) {
    const part = rows.slice(from, end);
    from = end;
    out.push({
      values: Float64Array.from(part, (r) => r.value),
      keys: Uint32Array.from(part, (r) => r.key),
      times: Float64Array.from(part, (r) => r.t),
    });
  }
  return out;
}

function bytes(a: Float64Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

function snapshots(op: TimeRollingOperator): string[] {
  const out: string[] = [];
  for (let g = 0; g < GROUPS; g++) out.push(Buffer.from(op.snapshotGroup(g) ?? new Uint8Array(0)).toString('hex'));
  return out;
}

const row = fc.record({
  key: fc.integer({ min: 0, max: 40 }),
  dt: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 400 }), fc.integer({ min: 0, max: 3000 })),
  value: fc.oneof(fc.double({ min: -1e6, max: 1e6, noNaN: true }), fc.constant(NaN), fc.integer({ min: -5, max: 5 })),
});

describe('rolling by duration: ops following the first op’s grouping by key', () => {
  it('any ops, closed side and split into batches: every op following the first gives the bits and snapshots of the op alone', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(row, { minLength: 1, maxLength: 600 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        fc.subarray(OPS, { minLength: 1 }),
        fc.constantFrom('right', 'left', 'both', 'neither'),
        async (steps, cuts, ops, closed) => {
          const leader = await operator('mean', closed);
          const followers = await Promise.all(ops.map((op) => operator(op, closed)));
          const alone = await Promise.all(ops.map((op) => operator(op, closed)));
          for (const f of followers) f.follow(leader);
          for (const b of batches(steps, cuts)) {
            const n = b.values.length;
            leader.process(b.values, b.keys, new Float64Array(n), b.times);
            for (let j = 0; j < ops.length; j++) {
              const got = new Float64Array(n);
              const want = new Float64Array(n);
              followers[j]!.process(b.values, b.keys, got, b.times);
              alone[j]!.process(b.values, b.keys, want, b.times);
              expect(bytes(got).equals(bytes(want)), ops[j]).toBe(true);
            }
          }
          for (let j = 0; j < ops.length; j++) expect(snapshots(followers[j]!)).toEqual(snapshots(alone[j]!));
        },
      ),
      { numRuns: 40, seed: 1913 },
    );
  });

  it('a follower holding rows its leader has not: its own windows give the results (the same bits as alone), and a row behind its key’s last is refused as alone', async () => {
    const leader = await operator('mean', 'right');
    const follower = await operator('max', 'right');
    const alone = await operator('max', 'right');
    follower.follow(leader);
    const own = { values: new Float64Array([5, 7]), keys: new Uint32Array([1, 2]), times: new Float64Array([10_000, 20_000]) };
    // Key 1's last time is 10 000 here, not at the leader: the leader's grouping is not taken for key 1.
    follower.process(own.values, own.keys, new Float64Array(2), own.times);
    alone.process(own.values, own.keys, new Float64Array(2), own.times);
    const b = { values: new Float64Array([1, 2, 3, 4]), keys: new Uint32Array([2, 1, 2, 1]), times: new Float64Array([25_000, 10_500, 25_001, 10_600]) };
    leader.process(b.values, b.keys, new Float64Array(4), b.times);
    const got = new Float64Array(4);
    const want = new Float64Array(4);
    follower.process(b.values, b.keys, got, b.times);
    alone.process(b.values, b.keys, want, b.times);
    expect([...got]).toEqual([...want]);
    expect(snapshots(follower)).toEqual(snapshots(alone));
    // A row the follower has and its leader has not: a key behind the follower's last time is refused with the usual error, as alone.
    const ahead = { values: new Float64Array([9]), keys: new Uint32Array([1]), times: new Float64Array([50_000]) };
    follower.process(ahead.values, ahead.keys, new Float64Array(1), ahead.times);
    alone.process(ahead.values, ahead.keys, new Float64Array(1), ahead.times);
    const behind = { values: new Float64Array([1, 2]), keys: new Uint32Array([2, 1]), times: new Float64Array([30_000, 11_000]) };
    leader.process(behind.values, behind.keys, new Float64Array(2), behind.times);
    const refusal = (op: TimeRollingOperator): string => {
      try {
        op.process(behind.values, behind.keys, new Float64Array(2), behind.times);
      } catch (error) {
        return (error as Error).message;
      }
      return 'accepted';
    };
    expect(refusal(follower)).toMatch(/timestamp 11000 is earlier than the key's previous row/);
    expect(refusal(follower)).toBe(refusal(alone));
    expect(snapshots(follower)).toEqual(snapshots(alone));
  });
});
