// Full checkpoints composed by the coordinator: for count kernels, after the
// first, a full checkpoint is the previous one's key groups with the changes
// since applied (the workers send only their changed groups, as for a delta),
// not every key snapshotted again. Its bytes must be those of a full
// checkpoint taken whole. Time and window operators' groups carry the
// worker's clock, so theirs are still taken whole (and must still be full).
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { OperatorSpec } from '../src/keyed/spec.js';
import { encodeCheckpointParts, type Checkpoint } from '../src/scheduler/checkpoint.js';
import { concatBytes } from '../src/bytes.js';
import {
  createJob,
  decodeCheckpoint,
  encodeCheckpoint,
  fileCheckpointStore,
  int,
  makeKeys,
  makeValues,
  memoryCheckpointStore,
  memorySink,
  nodeWorkers,
  prng,
  type CheckpointStore,
  type WorkerAdapter,
} from './scheduler-helpers.js';

const KERNEL_SPECS: OperatorSpec[] = [
  { op: 'mean', window: 4, minPeriods: 1 },
  { op: 'median', window: 7 },
  { op: 'min', window: 3 },
  { op: 'ewm', alpha: 0.3 },
  { op: 'std', window: 6 },
];
const TIME_SPECS: OperatorSpec[] = [
  { kind: 'rolling', op: 'sum', window: '50ms', minPeriods: 2 },
  { kind: 'tumbling', op: 'sum', size: '50ms' },
  { kind: 'hopping', op: 'max', size: '50ms', step: '20ms' },
  { kind: 'session', op: 'mean', gap: '20ms' },
  { kind: 'count', op: 'sum', size: 5, step: 3 },
];
const ROWS = 1500;
/** Checkpoints after these rows; the later segments touch one key only, so few groups change. */
const CUTS = [600, 900, 1200, ROWS];
const rand = prng(2024);
const values = makeValues(rand, ROWS);
const keys = makeKeys(rand, ROWS, 40);
for (let i = CUTS[0]!; i < ROWS; i++) keys[i] = keys[0]!;
const times = new Float64Array(ROWS);
for (let i = 1; i < ROWS; i++) times[i] = times[i - 1]! + int(rand, 0, 3);

const timed = (spec: OperatorSpec): boolean => 'kind' in spec && spec.kind !== 'count';
const batchOf = (spec: OperatorSpec, from: number, to: number) => ({
  values: values.slice(from, to),
  keys: keys.slice(from, to),
  ...(timed(spec) ? { times: times.slice(from, to) } : {}),
});

/** nodeWorkers(), counting the key groups the workers send for checkpoints. */
function countingAdapter(): { adapter: WorkerAdapter; groupsSent: () => number } {
  const inner = nodeWorkers();
  let sent = 0;
  const adapter: WorkerAdapter = {
    ...inner,
    spawn() {
      const handle = inner.spawn();
      return {
        ...handle,
        post: handle.post.bind(handle),
        terminate: handle.terminate.bind(handle),
        onError: handle.onError.bind(handle),
        onMessage(listener: (message: unknown) => void) {
          handle.onMessage((message) => {
            const m = message as { t?: string; groups?: unknown[] };
            if (m.t === 'snap') sent += m.groups?.length ?? 0;
            listener(message);
          });
        },
      };
    },
  };
  return { adapter, groupsSent: () => sent };
}

/** Runs rows [0, cuts[i]) with a checkpoint at each cut; returns the store and the groups the workers sent per checkpoint. */
async function checkpointed(spec: OperatorSpec, workers: number, fullEvery: number, cuts: readonly number[]): Promise<{ store: CheckpointStore; sent: number[] }> {
  const store = memoryCheckpointStore({ keep: 100 });
  const { adapter, groupsSent } = countingAdapter();
  const job = await createJob({ adapter, operator: spec, keyed: true, workers, sink: memorySink(), checkpoints: { store, everyMs: Infinity, fullEvery } });
  const sent: number[] = [];
  let from = 0;
  for (const cut of cuts) {
    await job.push(batchOf(spec, from, cut));
    const before = groupsSent();
    await job.checkpoint();
    sent.push(groupsSent() - before);
    from = cut;
  }
  await job.abort();
  return { store, sent };
}

function groupsOf(bytes: Uint8Array): Map<number, Uint8Array> {
  const cp = decodeCheckpoint(bytes);
  expect(cp.base).toBeUndefined();
  return cp.groups;
}

describe('full checkpoints composed by the coordinator', () => {
  for (const spec of KERNEL_SPECS) {
    for (const workers of [1, 3]) {
      it(`regression: every full checkpoint snapshotted every key group of every worker again (1.1–1.8 s of CPU for 420 MiB of median state); it is composed from the previous one and the changes, with the bytes of one taken whole: ${JSON.stringify(spec)}, ${workers} worker(s)`, async () => {
        const { store, sent } = await checkpointed(spec, workers, 1, CUTS);
        for (let i = 1; i < CUTS.length; i++) {
          const whole = await checkpointed(spec, workers, 1, [CUTS[i]!]);
          const expected = groupsOf(await whole.store.read(1));
          const got = groupsOf(await store.read(i + 1));
          const repro = `checkpoint ${i + 1} (rows 0–${CUTS[i]}) of ${JSON.stringify(spec)} on ${workers} worker(s)`;
          expect([...got.keys()].sort((a, b) => a - b), repro).toEqual([...expected.keys()].sort((a, b) => a - b));
          for (const [g, bytes] of expected) expect(Buffer.from(got.get(g)!).equals(Buffer.from(bytes)), `${repro}: key group ${g}`).toBe(true);
          // Only the one key's group (and group 0, which carries the stream's clock) changed after the first cut.
          expect(sent[i], `${repro}: groups the workers sent, of ${expected.size}`).toBeLessThanOrEqual(2);
        }
      });
    }
  }

  for (const spec of TIME_SPECS) {
    it(`time and window operators' full checkpoints are taken whole, with the bytes of a one-checkpoint job: ${JSON.stringify(spec)}`, async () => {
      const { store } = await checkpointed(spec, 2, 1, CUTS);
      for (let i = 1; i < CUTS.length; i++) {
        const whole = await checkpointed(spec, 2, 1, [CUTS[i]!]);
        const expected = groupsOf(await whole.store.read(1));
        const got = groupsOf(await store.read(i + 1));
        expect(got.size, `checkpoint ${i + 1}`).toBe(expected.size);
        for (const [g, bytes] of expected) expect(Buffer.from(got.get(g)!).equals(Buffer.from(bytes)), `checkpoint ${i + 1}, key group ${g}`).toBe(true);
      }
    });
  }

  it('with incremental checkpoints between, every fullEvery-th checkpoint is composed with the bytes of one taken whole', async () => {
    const spec = KERNEL_SPECS[1]!;
    const { store } = await checkpointed(spec, 2, 2, CUTS);
    expect(decodeCheckpoint(await store.read(2)).base).toBe(1);
    const whole = await checkpointed(spec, 2, 1, [CUTS[2]!]);
    const expected = groupsOf(await whole.store.read(1));
    const got = groupsOf(await store.read(3));
    for (const [g, bytes] of expected) expect(Buffer.from(got.get(g)!).equals(Buffer.from(bytes)), `key group ${g}`).toBe(true);
    expect(got.size).toBe(expected.size);
  });

  it('after a resume, the first full checkpoint is composed too: the workers send only the changed groups, and the unchanged ones are handed to the store as the restored bytes (not snapshotted, copied or checksummed again)', async () => {
    const spec = KERNEL_SPECS[1]!;
    const memory = memoryCheckpointStore({ keep: 10 });
    const first = await createJob({ adapter: nodeWorkers(), operator: spec, keyed: true, workers: 2, sink: memorySink(), checkpoints: { store: memory, everyMs: Infinity } });
    await first.push(batchOf(spec, 0, CUTS[0]!));
    await first.checkpoint();
    await first.abort();
    const restored = await memory.read(1);
    const saved = new Map<number, readonly Uint8Array[]>();
    const store: CheckpointStore = { ...memory, save: memory.save, saveParts: async (id, parts) => (saved.set(id, parts), memory.saveParts!(id, parts)) };
    const { adapter, groupsSent } = countingAdapter();
    const job = await createJob({ adapter, operator: spec, keyed: true, workers: 2, sink: memorySink(), checkpoints: { store, everyMs: Infinity }, resume: true });
    await job.push(batchOf(spec, CUTS[0]!, CUTS[1]!)); // one key only
    const before = groupsSent();
    await job.checkpoint();
    expect(groupsSent() - before).toBeLessThanOrEqual(2);
    await job.abort();
    const groups = decodeCheckpoint(await memory.read(2)).groups;
    const views = saved.get(2)!.filter((part) => part.length > 8 && part.buffer === restored.buffer).length;
    expect(views).toBe(groups.size - 1);
  });
});

describe('checkpoints saved as parts', () => {
  const spec = { op: 'sum', window: 3, minPeriods: 3 } as const;
  const arbCheckpoint = fc.record({
    id: fc.integer({ min: 1, max: 1e6 }),
    offset: fc.integer({ min: 0, max: 2 ** 40 }),
    groups: fc.uniqueArray(fc.tuple(fc.integer({ min: 0, max: 4095 }), fc.oneof(fc.uint8Array({ maxLength: 30 }), fc.uint8Array({ minLength: 4000, maxLength: 9000 }))), { selector: ([g]) => g, maxLength: 20 }),
    delta: fc.boolean(),
    patchEvery: fc.integer({ min: 1, max: 3 }),
  });
  const build = (c: typeof arbCheckpoint extends fc.Arbitrary<infer T> ? T : never): Checkpoint => ({
    id: c.id,
    offset: c.offset,
    keyGroups: 4096,
    keyed: true,
    spec,
    sinkPosition: { bytes: 42 },
    groups: new Map(c.groups),
    ...(c.delta ? { base: c.id - 1, patches: new Set(c.groups.filter((_, i) => i % c.patchEvery === 0).map(([g]) => g)) } : {}),
  });

  it('property: the parts one after another are the bytes encodeCheckpoint writes, checksum included, for full checkpoints, deltas and key patches', () => {
    fc.assert(
      fc.property(arbCheckpoint, fc.boolean(), (c, twice) => {
        const cp = build(c);
        // Twice: the second time every group's CRC-32 comes from the cache.
        if (twice) encodeCheckpointParts(cp);
        expect(Buffer.from(concatBytes(encodeCheckpointParts(cp))).equals(Buffer.from(encodeCheckpoint(cp)))).toBe(true);
      }),
      { numRuns: 150 },
    );
  });

  it('the memory and file stores keep a checkpoint saved as parts: read, listed, and dropped past keep as one saved whole', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sk-parts-'));
    try {
      // More parts than one writev takes, empty parts among them.
      const parts = Array.from({ length: 1300 }, (_, i) => Uint8Array.from({ length: i % 7 === 0 ? 0 : (i % 13) + 1 }, (_, j) => (i * 31 + j) & 255));
      const whole = concatBytes(parts);
      for (const store of [memoryCheckpointStore({ keep: 2 }), fileCheckpointStore(dir, { keep: 2 })]) {
        await store.save(1, new Uint8Array([1]));
        await store.saveParts!(2, parts);
        expect(Buffer.from(await store.read(2)).equals(Buffer.from(whole))).toBe(true);
        await store.saveParts!(3, [new Uint8Array([3]), new Uint8Array(0), new Uint8Array([4, 5])]);
        expect(await store.list()).toEqual([3, 2]);
        expect([...(await store.read(3))]).toEqual([3, 4, 5]);
        expect(Buffer.from(await store.read(2)).equals(Buffer.from(whole))).toBe(true);
      }
      expect(readdirSync(dir).filter((name) => name.endsWith('.tmp'))).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('regression: a full checkpoint was copied into one new buffer and checksummed again every time (0.5–1.3 s of CPU for 420 MiB of median state); a store with saveParts is handed the unchanged key groups as they are', async () => {
    const spec = KERNEL_SPECS[1]!;
    const saved = new Map<number, readonly Uint8Array[]>();
    const memory = memoryCheckpointStore({ keep: 10 });
    const store: CheckpointStore = { ...memory, save: memory.save, saveParts: async (id, parts) => (saved.set(id, parts), memory.saveParts!(id, parts)) };
    const job = await createJob({ adapter: nodeWorkers(), operator: spec, keyed: true, workers: 2, sink: memorySink(), checkpoints: { store, everyMs: Infinity } });
    await job.push(batchOf(spec, 0, CUTS[0]!));
    await job.checkpoint();
    await job.push(batchOf(spec, CUTS[0]!, CUTS[1]!)); // one key only
    await job.checkpoint();
    await job.abort();
    const first = new Set(saved.get(1)!);
    const second = saved.get(2)!;
    const groups = decodeCheckpoint(await memory.read(2)).groups;
    expect(decodeCheckpoint(await memory.read(2)).base).toBeUndefined();
    // Every group's state but the one key's is the very array of the first checkpoint.
    const reused = second.filter((part) => first.has(part) && part.length > 8).length;
    expect(reused).toBe(groups.size - 1);
  });
});
