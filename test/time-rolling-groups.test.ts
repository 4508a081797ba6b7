// Key-group snapshots of the duration-rolling keyed operator (src/keyed/time-rolling.ts).
import { describe, expect, it, vi } from 'vitest';

// Counts keyGroupOf calls: the work a snapshot of every key group does per key.
const calls = vi.hoisted(() => ({ n: 0 }));
vi.mock('../src/scheduler/hash.js', async (importOriginal) => {
  const mod = await importOriginal<typeof import('../src/scheduler/hash.js')>();
  return { ...mod, keyGroupOf: (key: number, groups: number) => (calls.n++, mod.keyGroupOf(key, groups)) };
});

const { normalizeOperatorSpec } = await import('../src/keyed/spec.js');
const { createTimeRollingOperator } = await import('../src/keyed/time-rolling.js');
const { keyGroupOf } = await import('../src/scheduler/hash.js');
const { createDurationRolling } = await import('../src/time/rolling.js');
const { normalizeDurationRolling } = await import('../src/time/spec.js');

describe('rolling by duration: key-group snapshots', () => {
  it('regression: snapshotting every key group of a checkpoint scanned every key once per group (6.5 s of CPU for 100 000 keys at 4 096 groups); one pass now, and each group has the bytes of the keys it holds', async () => {
    const groups = 4096;
    const keys = 5000;
    const spec = normalizeOperatorSpec({ kind: 'rolling', op: 'mean', window: 1000 });
    if (!('kind' in spec) || spec.kind !== 'rolling') throw new Error('a rolling spec');
    const op = await createTimeRollingOperator(spec, groups);
    const plain = await createDurationRolling(normalizeDurationRolling({ op: 'mean', window: 1000, keys: 'number' }));
    const n = keys * 30;
    const values = new Float64Array(n), ids = new Uint32Array(n), times = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      ids[i] = (i * 7) % keys;
      times[i] = Math.floor(i / keys) * 50;
      values[i] = (i * 7919) % 1000;
    }
    op.process(values, ids, new Float64Array(n), times);
    plain.pushIds(times, values, ids, new Float64Array(n));
    const held = new Set(Array.from(ids, (k) => keyGroupOf(k, groups)));
    calls.n = 0;
    const snaps: (Uint8Array | undefined)[] = [];
    for (let g = 0; g < groups; g++) snaps.push(op.snapshotGroup(g));
    // A scan per group called keyGroupOf about groups × keys times (14.5 million here).
    expect(calls.n).toBeLessThan(2 * keys + 2 * groups);
    // The bytes of a scan (snapshot with a filter), on a sample of the groups: the scan is what was slow.
    for (let g = 0; g < groups; g += 61) {
      const expected = plain.snapshot((key) => keyGroupOf(key, groups) === g);
      if (snaps[g] === undefined) expect(held.has(g)).toBe(false);
      else expect(Buffer.from(snaps[g]!).equals(Buffer.from(expected)), `group ${g}`).toBe(true);
    }
    // New rows, new keys: the next checkpoint's groups hold them.
    const more = { values: new Float64Array([1, 2]), ids: new Uint32Array([keys + 1, 3]), times: new Float64Array([1e6, 1e6]) };
    op.process(more.values, more.ids, new Float64Array(2), more.times);
    plain.pushIds(more.times, more.values, more.ids, new Float64Array(2));
    for (const key of [keys + 1, 3]) {
      const g = keyGroupOf(key, groups);
      expect(Buffer.from(op.snapshotGroup(g)!).equals(Buffer.from(plain.snapshot((k) => keyGroupOf(k, groups) === g)))).toBe(true);
    }
  });

  it('reports exactly the key groups that got rows since the last changedGroups(), for cached (small) and hashed (large) key ids, batch after batch', async () => {
    const groups = 128;
    const spec = normalizeOperatorSpec({ kind: 'rolling', op: 'sum', window: 1000 });
    if (!('kind' in spec) || spec.kind !== 'rolling') throw new Error('a rolling spec');
    // Owning half the groups (rows gathered per part) and all of them (rows straight to the kernel).
    for (const end of [64, groups]) changedGroupsOf(await createTimeRollingOperator(spec, groups, [0, end]), end);
  });
});

/** Runs batches through `op` (owning key groups [0, end) of 128): changedGroups() lists exactly the owned groups of each batch's keys. */
function changedGroupsOf(op: Awaited<ReturnType<typeof createTimeRollingOperator>>, end: number): void {
  const groups = 128;
  const owned = (keys: number[]): number[] => [...new Set(keys.map((k) => keyGroupOf(k, groups)).filter((g) => g < end))].sort((a, b) => a - b);
  let t = 0;
  const push = (keys: number[]): void => {
    const n = keys.length;
    op.process(new Float64Array(n).fill(1), Uint32Array.from(keys), new Float64Array(n), Float64Array.from(keys, () => t++));
  };
  const batches = [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 1, 0], [70_000, 1e9, 3], [3, 1], [], [200, 3, 200, 70_000]];
  for (const keys of batches) {
    push(keys);
    expect(op.changedGroups()).toEqual(owned(keys));
    expect(op.changedGroups()).toEqual([]);
  }
  // Every owned group that got rows has a snapshot; no other.
  const all = owned(batches.flat());
  for (let g = 0; g < groups; g++) expect(op.snapshotGroup(g) !== undefined).toBe(all.includes(g));
}

describe('rolling by duration: one part or several', () => {

  it('gives the same results and the same refusal for a batch in one part (rows passed straight to the kernel) as in two parts (gathered per part)', async () => {
    const spec = normalizeOperatorSpec({ kind: 'rolling', op: 'median', window: 5 });
    if (!('kind' in spec) || spec.kind !== 'rolling') throw new Error('a rolling spec');
    const [one, two] = await Promise.all([createTimeRollingOperator(spec, 128), createTimeRollingOperator(spec, 128)]);
    const n = 500;
    const times = Float64Array.from({ length: n }, (_, i) => Math.floor(i / 3));
    const values = Float64Array.from({ length: n }, (_, i) => (i * 37) % 11);
    const keys = Uint32Array.from({ length: n }, (_, i) => (i * 5) % 7);
    const a = new Float64Array(n), b = new Float64Array(n);
    one.processParts([{ values, keys, times, out: a }]);
    const cut = 123;
    const part = (from: number, to: number, out: Float64Array) => ({ values: values.subarray(from, to), keys: keys.subarray(from, to), times: times.subarray(from, to), out: out.subarray(from, to) });
    two.processParts([part(0, cut, b), part(cut, n, b)]);
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(a.some((x) => x !== 0)).toBe(true);
    // A time going back for its key: refused, naming the same row, by both.
    const bad = (op: typeof one): string => {
      try {
        op.processParts([{ values: Float64Array.of(1, 2), keys: Uint32Array.of(3, 3), times: Float64Array.of(1000, 999), out: new Float64Array(2) }]);
        return 'accepted';
      } catch (error) {
        return (error as Error).message;
      }
    };
    expect(bad(one)).toMatch(/^row 501 .*earlier than the key's previous row/);
    expect(bad(two)).toBe(bad(one));
  });
});
