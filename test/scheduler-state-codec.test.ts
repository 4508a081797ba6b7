// Compact key states in checkpoints (issue 12; src/scheduler/state-codec.ts):
// a median or quantile key's state is written as a record of its header,
// ring and heap slots, and restored to its kernel state byte for byte.
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compiledModule, KernelInstance } from '../src/engine.js';
import { normalizeSpec, planFor } from '../src/spec.js';
import { applyDelta } from '../src/scheduler/checkpoint.js';
import { createKernelOperator, type KernelOperator } from '../src/scheduler/operator.js';
import { COMPACT_RECORDS, stateCodecFor } from '../src/scheduler/state-codec.js';
import { createJob, decodeCheckpoint, memoryCheckpointStore, memorySink, nodeWorkers, sameBytes } from './scheduler-helpers.js';

type Spec = { op: 'median'; window: number } | { op: 'quantile'; window: number; q: number };

/** Rows with NaN, ±Infinity, −0 and repeated values among them. */
const value = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: -20, max: 20 }).map((x) => x / 4) },
  { weight: 1, arbitrary: fc.constantFrom(Number.NaN, Infinity, -Infinity, -0, 0) },
);
const specArb: fc.Arbitrary<Spec> = fc.oneof(
  fc.integer({ min: 1, max: 40 }).map((window) => ({ op: 'median' as const, window })),
  fc.record({ window: fc.integer({ min: 1, max: 40 }), q: fc.constantFrom(0, 0.1, 0.5, 0.9, 1) }).map((s) => ({ op: 'quantile' as const, ...s })),
);

async function operator(spec: Spec, keyGroups = 1): Promise<KernelOperator> {
  return createKernelOperator(await compiledModule('median'), normalizeSpec(spec), keyGroups, [0, keyGroups], { compactStates: true });
}

function run(op: KernelOperator, values: number[], keys: number[]): Float64Array {
  const out = new Float64Array(values.length);
  op.processParts([{ values: Float64Array.from(values), keys: Uint32Array.from(keys), out }]);
  return out;
}

/** The group's keys and each key's record (compact or raw), from the group format. */
function records(group: Uint8Array): { size: number; keys: number[]; states: Uint8Array[] } {
  const view = new DataView(group.buffer, group.byteOffset, group.byteLength);
  const n = view.getUint32(0, true);
  const field = view.getUint32(4, true);
  expect(field & COMPACT_RECORDS).not.toBe(0);
  const keys = Array.from({ length: n }, (_, i) => view.getUint32(8 + 4 * i, true));
  const states: Uint8Array[] = [];
  let at = 8 + 4 * n;
  for (let i = 0; i < n; i++) {
    const length = view.getUint32(at, true);
    states.push(group.subarray(at + 4, at + 4 + length));
    at += 4 + length;
  }
  expect(at).toBe(group.length);
  return { size: field & ~COMPACT_RECORDS, keys, states };
}

/** The group format before compact records: fixed-size raw states (what an older build wrote). */
function fixedGroup(keys: number[], states: Uint8Array[], size: number): Uint8Array {
  const out = new Uint8Array(8 + keys.length * (4 + size));
  const view = new DataView(out.buffer);
  view.setUint32(0, keys.length, true);
  view.setUint32(4, size, true);
  keys.forEach((k, i) => view.setUint32(8 + 4 * i, k, true));
  states.forEach((s, i) => out.set(s, 8 + 4 * keys.length + i * size));
  return out;
}

describe('compact key states in checkpoints', () => {
  it('property: a median or quantile key\'s compact record decodes to the kernel\'s own state byte for byte, for any rows (NaN, ±Infinity, −0 included) and window', async () => {
    await fc.assert(
      fc.asyncProperty(specArb, fc.array(fc.tuple(fc.integer({ min: 0, max: 3 }), value), { maxLength: 150 }), async (spec, rows) => {
        const op = await operator(spec);
        run(op, rows.map(([, v]) => v), rows.map(([k]) => k));
        const group = op.snapshotGroup(0);
        if (rows.length === 0) {
          expect(group).toBeUndefined();
          return;
        }
        const { size, keys, states } = records(group!);
        const plan = planFor(normalizeSpec(spec));
        const codec = stateCodecFor(plan.module, plan.window, size)!;
        expect(codec).toBeDefined();
        for (let i = 0; i < keys.length; i++) {
          // The reference: the key's rows through a kernel instance of its own, one at a time.
          const kernel = await KernelInstance.create(plan);
          for (const [k, v] of rows) if (k === keys[i]) kernel.exports.pushValue(v);
          const decoded = new Uint8Array(size);
          expect(codec.decode(states[i]!, decoded, 0)).toBeUndefined();
          expect(Buffer.from(decoded).equals(Buffer.from(kernel.state()))).toBe(true);
          expect(states[i]!.length).toBeLessThan(size);
        }
      }),
      { numRuns: 60 },
    );
  });

  it('property: restoring a compact group, or the same states in the fixed-size format an older build wrote, continues to the same bytes as the operator never stopped', async () => {
    await fc.assert(
      fc.asyncProperty(specArb, fc.array(fc.tuple(fc.integer({ min: 0, max: 5 }), value), { minLength: 1, maxLength: 120 }), fc.array(fc.tuple(fc.integer({ min: 0, max: 7 }), value), { maxLength: 80 }), async (spec, before, after) => {
        const live = await operator(spec);
        run(live, before.map(([, v]) => v), before.map(([k]) => k));
        const group = live.snapshotGroup(0)!;
        const { size, keys, states } = records(group);
        const plan = planFor(normalizeSpec(spec));
        const codec = stateCodecFor(plan.module, plan.window, size)!;
        const raw = states.map((s) => {
          const out = new Uint8Array(size);
          codec.decode(s, out, 0);
          return out;
        });
        const expected = run(live, after.map(([, v]) => v), after.map(([k]) => k));
        for (const bytes of [group, fixedGroup(keys, raw, size)]) {
          const restored = await operator(spec);
          restored.restoreGroup(0, bytes);
          expect(restored.snapshotGroup(0)).toEqual(group);
          const got = run(restored, after.map(([, v]) => v), after.map(([k]) => k));
          expect(Buffer.from(got.buffer).equals(Buffer.from(expected.buffer))).toBe(true);
        }
      }),
      { numRuns: 40 },
    );
  });

  it('key patches apply to a fixed-size group of an older build and to compact groups alike: the result restores to the same state', async () => {
    const spec = { op: 'median', window: 9 } as const;
    const live = await operator(spec);
    run(live, Array.from({ length: 60 }, (_, i) => (i * 37) % 11), Array.from({ length: 60 }, (_, i) => i % 6));
    const base = live.snapshotGroup(0)!;
    live.changedGroups();
    run(live, [5, 1, 4, Number.NaN, 2], [1, 4, 1, 9, 9]);
    live.changedGroups();
    const patch = live.snapshotPatch(0)!;
    expect(records(patch).keys).toEqual([1, 4, 9]);
    const whole = live.snapshotGroup(0)!;
    const { size, keys, states } = records(base);
    const codec = stateCodecFor('median', 9, size)!;
    const raw = states.map((s) => {
      const out = new Uint8Array(size);
      codec.decode(s, out, 0);
      return out;
    });
    for (const from of [base, fixedGroup(keys, raw, size)]) {
      const patched = applyDelta(new Map([[0, from]]), { id: 2, groups: new Map([[0, patch]]), patches: new Set([0]) }).get(0)!;
      if (from === base) expect(patched).toEqual(whole); // compact throughout: the bytes of the group taken whole
      const restored = await operator(spec);
      restored.restoreGroup(0, patched);
      expect(restored.snapshotGroup(0)).toEqual(whole);
    }
  });

  it('an operator not asked for compact states (the Redis records, the CLI\'s state) writes fixed-size states as before', async () => {
    const op = await createKernelOperator(await compiledModule('median'), normalizeSpec({ op: 'median', window: 6 }), 1);
    run(op, [3, 1, 2], [0, 5, 0]);
    const group = op.snapshotGroup(0)!;
    const size = new DataView(group.buffer).getUint32(4, true);
    expect(size).toBe(48 + 44 * 6);
    expect(group.length).toBe(8 + 2 * (4 + size));
  });

  it('a compact record that does not fit its window is refused with the key and the reason', async () => {
    const spec = { op: 'median', window: 4 } as const;
    const live = await operator(spec);
    run(live, [1, 2, 3], [0, 0, 0]);
    const group = live.snapshotGroup(0)!;
    const cut = group.slice(0, group.length - 4);
    new DataView(cut.buffer).setUint32(12, new DataView(group.buffer).getUint32(12, true) - 4, true);
    await expect((async () => (await operator(spec)).restoreGroup(0, cut))()).rejects.toThrow(/checkpoint state of key group 0 is invalid: key 0: expected \d+ bytes for heaps of 2 and 1, got \d+/);
    const forged = group.slice();
    new DataView(forged.buffer).setInt32(forged.length - 4, 99, true); // a heap slot outside the window
    await expect((async () => (await operator(spec)).restoreGroup(0, forged))()).rejects.toThrow(/heap entry of ring slot 99, outside a window of 4/);
  });

  it('checkpoints of the build before compact records (fixed-size median states, a chain of deltas) still restore; the job goes on to the same bytes, and its composed full checkpoint over them restores too', async () => {
    const fixture = JSON.parse(readFileSync(new URL('./fixtures/checkpoints-median-fixed.json', import.meta.url), 'utf8')) as { entries: [number, string][] };
    const n = 600;
    const values = Float64Array.from({ length: n }, (_, i) => (i % 23 === 0 ? Number.NaN : ((i * 7919) % 1000) / 8));
    const keys = Uint32Array.from({ length: n }, (_, i) => (i < 200 ? i % 40 : (i * 13) % 5));
    const spec = { op: 'median', window: 5 } as const;
    const options = { adapter: nodeWorkers(), operator: spec, keyed: true, keyGroups: 8 } as const;
    const all = memorySink();
    const reference = await createJob({ ...options, workers: 1, sink: all });
    await reference.push({ values, keys });
    await reference.finish();
    const expected = all.committed();
    const store = memoryCheckpointStore({ keep: 10 });
    for (const [id, hex] of fixture.entries) await store.save(id, Uint8Array.from(Buffer.from(hex, 'hex')));
    const sink = memorySink();
    const job = await createJob({ ...options, workers: 3, sink, resume: true, checkpoints: { store, everyMs: Infinity, fullEvery: 3 } });
    expect(job.refused).toEqual([]);
    expect(job.offset).toBe(500);
    for (let at = 500; at < n; at += 25) {
      await job.push({ values: values.slice(at, at + 25), keys: keys.slice(at, at + 25) });
      await job.checkpoint();
    }
    await job.abort();
    expect(sameBytes(sink.committed(), expected.subarray(500))).toBe(true);
    // Checkpoint 7 is full, composed from the old build's fixed-size groups and this build's compact key patches; 9 a delta on it.
    expect(await store.list()).toEqual([9, 8, 7, 6, 5, 4, 3, 2, 1]);
    expect(decodeCheckpoint(await store.read(7)).base).toBeUndefined();
    for (const id of [7, 9]) {
      const upTo = memoryCheckpointStore({ keep: 10 });
      for (let older = 1; older <= id; older++) await upTo.save(older, await store.read(older));
      const again = memorySink();
      const resumed = await createJob({ ...options, workers: 2, sink: again, resume: true, checkpoints: { store: upTo, everyMs: Infinity } });
      expect(resumed.refused).toEqual([]);
      const from = resumed.offset;
      expect(from).toBe(500 + 25 * (id - 5));
      await resumed.push({ values: values.slice(from), keys: keys.slice(from) });
      await resumed.finish();
      expect(sameBytes(again.committed(), expected.subarray(from))).toBe(true);
    }
  });
});
