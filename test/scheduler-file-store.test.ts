// The file checkpoint store shares key-group states between checkpoints: a
// composed full checkpoint's file is a manifest naming the groups an earlier
// file holds, and writes only the changed ones. Restores give the bytes of a
// checkpoint written whole; a missing or corrupt shared file refuses the
// checkpoints that read it; files past `keep` go once no kept manifest reads
// them. Also: the coordinator's checkpoint arithmetic (applyDeltas, the
// group CRCs a decode records).
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { crc32 } from '../src/crc32.js';
import { concatBytes } from '../src/bytes.js';
import * as codec from '../src/scheduler/checkpoint.js';
import {
  createJob,
  decodeCheckpoint,
  encodeCheckpoint,
  fileCheckpointStore,
  latestCheckpoint,
  memoryCheckpointStore,
  memorySink,
  nodeWorkers,
  type CheckpointError,
  type CheckpointStore,
} from './scheduler-helpers.js';

const SPEC = { op: 'median', window: 1000 } as const;
const KEYS = 40;
const dirs: string[] = [];
const tempDir = (): string => {
  const dir = mkdtempSync(join(tmpdir(), 'sk-file-store-'));
  dirs.push(dir);
  return dir;
};
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** `perKey` rows of keys [from, to), interleaved, values from `seed`. */
function rows(from: number, to: number, perKey: number, seed: number): { values: Float64Array; keys: Uint32Array } {
  const n = (to - from) * perKey;
  const values = new Float64Array(n);
  const keys = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    values[i] = ((i * 7919 + seed * 104729) % 1000) / 8;
    keys[i] = from + (i % (to - from));
  }
  return { values, keys };
}

/** Saves every checkpoint to each of the stores (parts where they take them). */
function tee(...stores: CheckpointStore[]): CheckpointStore {
  return {
    save: async (id, bytes) => void (await Promise.all(stores.map((s) => s.save(id, bytes)))),
    saveParts: async (id, parts) => void (await Promise.all(stores.map((s) => s.saveParts!(id, parts)))),
    list: () => stores[0]!.list(),
    read: (id) => stores[0]!.read(id),
  };
}

/** A job of 40 keys of median over 1 000 (about 100 KB per key group) that takes `cuts` checkpoints: all keys filled, then one key touched before each next one. */
async function run(store: CheckpointStore, checkpoints: number, fullEvery = 1): Promise<void> {
  const job = await createJob({ adapter: nodeWorkers(), operator: SPEC, keyed: true, workers: 2, keyGroups: 16, sink: memorySink(), checkpoints: { store, everyMs: Infinity, fullEvery } });
  await job.push(rows(0, KEYS, 1000, 1));
  await job.checkpoint();
  for (let i = 1; i < checkpoints; i++) {
    await job.push(rows(i, i + 1, 50, i + 1));
    await job.checkpoint();
  }
  await job.abort();
}

const fileSize = (store: { path(id: number): string }, id: number): number => statSync(store.path(id)).size;

describe('file checkpoint store: key groups shared between checkpoints', () => {
  it('regression: every full checkpoint wrote and fsynced every key group to the file store again (420 MiB for 10 000 keys of median over 1 000, 1.2 s of CPU); a composed one writes only the groups changed since, and restores to the same bytes', async () => {
    const dir = tempDir();
    const file = fileCheckpointStore(dir, { keep: 3 });
    const memory = memoryCheckpointStore({ keep: 3 });
    await run(tee(file, memory), 3);
    expect(await file.list()).toEqual([3, 2, 1]);
    for (const id of [1, 2, 3]) expect(Buffer.from(await file.read(id)).equals(Buffer.from(await memory.read(id))), `checkpoint ${id}`).toBe(true);
    // One key of 40 changed before each: checkpoints 2 and 3 write a manifest and that key's group, not the 40 keys.
    const whole = (await file.read(2)).length;
    expect(fileSize(file, 1)).toBe((await file.read(1)).length);
    for (const id of [2, 3]) expect(fileSize(file, id), `checkpoint ${id}'s file`).toBeLessThan(whole / 5);
    // A job resumes from it with the state of the memory store's.
    const resumed = await latestCheckpoint(file);
    expect(resumed.refused).toEqual([]);
    expect(resumed.checkpoint!.id).toBe(3);
    const outputs: Float64Array[] = [];
    for (const store of [fileCheckpointStore(dir, { keep: 3 }), memory]) {
      const sink = memorySink();
      const job = await createJob({ adapter: nodeWorkers(), operator: SPEC, keyed: true, workers: 2, keyGroups: 16, sink, checkpoints: { store, everyMs: Infinity }, resume: true });
      await job.push(rows(0, KEYS, 3, 9));
      await job.finish();
      outputs.push(sink.committed());
    }
    expect(outputs[0]!.length).toBe(3 * KEYS);
    expect(Buffer.from(outputs[0]!.buffer).equals(Buffer.from(outputs[1]!.buffer))).toBe(true);
  });

  it('a shared file that is missing, or corrupt, refuses every checkpoint that reads it (BROKEN_CHAIN, CHECKSUM_MISMATCH); a corrupt manifest refuses its own checkpoint only', async () => {
    const dir = tempDir();
    const store = fileCheckpointStore(dir, { keep: 3 });
    await run(store, 3);
    const first = readFileSync(store.path(1));
    const third = readFileSync(store.path(3));
    const shared = (await store.read(3)).length - fileSize(store, 3); // at least this much of checkpoint 3 is in checkpoint 1's file

    // A corrupt manifest: checkpoint 3 is refused, 2 restores.
    writeFileSync(store.path(3), Buffer.from(third.map((b, i) => (i === 30 ? b ^ 1 : b))));
    let { checkpoint, refused } = await latestCheckpoint(store);
    expect(checkpoint?.id).toBe(2);
    expect(refused.map((r) => [r.id, (r.error as CheckpointError).code])).toEqual([[3, 'CHECKSUM_MISMATCH']]);
    expect(refused[0]!.error.message).toMatch(/^checksum mismatch: checkpoint 3's manifest is corrupt \(stored CRC-32 [0-9a-f]+, computed [0-9a-f]+\)$/);
    writeFileSync(store.path(3), third);

    // A corrupt byte in a key group that checkpoint 1's file holds for all three.
    const groupsOf = async (id: number) => decodeCheckpoint(await store.read(id)).groups;
    const [one, two, three] = [decodeCheckpoint(new Uint8Array(first)).groups, await groupsOf(2), await groupsOf(3)];
    const same = (a: Uint8Array | undefined, b: Uint8Array): boolean => a !== undefined && Buffer.from(a).equals(Buffer.from(b));
    const [, unchanged] = [...one].find(([g, bytes]) => same(two.get(g), bytes) && same(three.get(g), bytes))!;
    const at = unchanged.byteOffset + 10;
    writeFileSync(store.path(1), Buffer.from(first.map((b, i) => (i === at ? b ^ 1 : b))));
    ({ checkpoint, refused } = await latestCheckpoint(store));
    expect(checkpoint).toBeUndefined();
    expect(refused.map((r) => [r.id, (r.error as CheckpointError).code])).toEqual([[3, 'CHECKSUM_MISMATCH'], [2, 'CHECKSUM_MISMATCH'], [1, 'CHECKSUM_MISMATCH']]);

    // Checkpoint 1's file missing: 2 and 3 are refused by name.
    unlinkSync(store.path(1));
    ({ checkpoint, refused } = await latestCheckpoint(store));
    expect(checkpoint).toBeUndefined();
    expect(refused.map((r) => [r.id, (r.error as CheckpointError).code])).toEqual([[3, 'BROKEN_CHAIN'], [2, 'BROKEN_CHAIN']]);
    const [bytes] = /shares (\d+) bytes/.exec(refused[0]!.error.message)!.slice(1).map(Number);
    expect(refused[0]!.error.message).toBe(`checkpoint 3 shares ${bytes} bytes of checkpoint 1's file, which is missing`);
    expect(bytes).toBeLessThanOrEqual(shared);
  });

  it('files past keep are deleted unless a kept checkpoint reads them (kept as shared-<id>.skcp, not listed), and then once none does; a checkpoint that would read less than half of a file writes those bytes again', async () => {
    const dir = tempDir();
    const store = fileCheckpointStore(dir, { keep: 1 });
    const part = (n: number, fill: number): Uint8Array => new Uint8Array(n).fill(fill);
    const [a, b, c, d] = [part(96 * 1024, 1), part(32 * 1024, 2), part(64 * 1024, 3), part(64 * 1024, 4)];
    const head = (id: number): Uint8Array => Uint8Array.of(id, 0, 0, 0);
    const names = (): string[] => readdirSync(dir).sort();
    await store.saveParts!(1, [head(1), a, b]);
    expect(names()).toEqual(['checkpoint-000000000001.skcp']);
    await store.saveParts!(2, [head(2), a, c]); // a is read from checkpoint 1's file, which outlives checkpoint 1
    expect(names()).toEqual(['checkpoint-000000000002.skcp', 'shared-000000000001.skcp']);
    expect(await store.list()).toEqual([2]);
    expect(fileSize(store, 2)).toBeLessThan(c.length + 1024);
    expect(Buffer.from(await store.read(2)).equals(Buffer.from(concatBytes([head(2), a, c])))).toBe(true);
    await store.saveParts!(3, [head(3), a, d]); // still reads checkpoint 1's file; checkpoint 2's goes
    expect(names()).toEqual(['checkpoint-000000000003.skcp', 'shared-000000000001.skcp']);
    expect(Buffer.from(await store.read(3)).equals(Buffer.from(concatBytes([head(3), a, d])))).toBe(true);
    await store.saveParts!(4, [head(4), b, c]); // b is a third of checkpoint 1's file: written again, and no file is read any more
    expect(names()).toEqual(['checkpoint-000000000004.skcp']);
    expect(fileSize(store, 4)).toBe(4 + b.length + c.length);
    expect(Buffer.from(await store.read(4)).equals(Buffer.from(concatBytes([head(4), b, c])))).toBe(true);
    // A new store over the directory (another process) reads what this one wrote, and collects by the manifests on disk.
    await store.saveParts!(5, [head(5), c, d]);
    expect(names()).toEqual(['checkpoint-000000000005.skcp', 'shared-000000000004.skcp']);
    const again = fileCheckpointStore(dir, { keep: 2 });
    expect(Buffer.from(await again.read(5)).equals(Buffer.from(concatBytes([head(5), c, d])))).toBe(true);
    await again.saveParts!(6, [head(6)]);
    expect(names()).toEqual(['checkpoint-000000000005.skcp', 'checkpoint-000000000006.skcp', 'shared-000000000004.skcp']);
    await again.saveParts!(7, [head(7)]);
    expect(names()).toEqual(['checkpoint-000000000006.skcp', 'checkpoint-000000000007.skcp']);
    expect(readdirSync(dir).filter((name) => name.endsWith('.tmp'))).toEqual([]);
  });

  it('a checkpoint file of an earlier build (always the whole checkpoint) still restores; a manifest read by such a build is refused (BAD_MAGIC)', async () => {
    const dir = tempDir();
    const memory = memoryCheckpointStore({ keep: 3 });
    await run(memory, 2);
    // What earlier builds wrote: each checkpoint's bytes whole, under the same name.
    const store = fileCheckpointStore(dir, { keep: 3 });
    for (const id of [1, 2]) writeFileSync(store.path(id), await memory.read(id));
    const { checkpoint, refused } = await latestCheckpoint(store);
    expect(refused).toEqual([]);
    expect(Buffer.from(encodeCheckpoint(checkpoint!)).equals(Buffer.from(await memory.read(2)))).toBe(true);
    // A manifest is not a checkpoint to a reader of the bytes as they are on disk.
    const fresh = fileCheckpointStore(tempDir(), { keep: 3 });
    await run(fresh, 2);
    expect(() => decodeCheckpoint(new Uint8Array(readFileSync(fresh.path(2))))).toThrow('not a streamkernel checkpoint: bad magic number');
    expect(decodeCheckpoint(await fresh.read(2)).id).toBe(2);
    expect(existsSync(fresh.path(1))).toBe(true);
  });
});

describe('composing checkpoints on the coordinator', () => {
  it('regression: the first full checkpoint a job composed after a restore checksummed every key group again (420 MiB of median state, 0.4 s of CPU); decodeCheckpoint records each group\'s CRC-32', () => {
    const spec = { op: 'mean', window: 5, minPeriods: 5 } as never;
    const groups = new Map([0, 3, 7].map((g) => [g, Uint8Array.from({ length: 5000 + g * 100 }, (_, i) => (i * 31 + g) & 255)] as const));
    groups.set(5, new Uint8Array(0));
    const decoded = codec.decodeCheckpoint(codec.encodeCheckpoint({ id: 1, offset: 10, keyGroups: 8, keyed: true, spec, sinkPosition: null, groups }));
    expect(decoded.groups.size).toBe(4);
    for (const [g, bytes] of decoded.groups) expect(codec.knownGroupCrc(bytes), `key group ${g}`).toBe(crc32(bytes));
    // And the parts of the same checkpoint are its bytes, checksum included.
    expect(concatBytes(codec.encodeCheckpointParts(decoded))).toEqual(codec.encodeCheckpoint(decoded));
  });

  it('property: applyDeltas over a chain gives the bytes of applyDelta once per checkpoint (key patches, whole groups and new groups mixed), and refuses a bad patch naming its checkpoint', () => {
    const SIZE = 8;
    const group = (keys: number[], fill: number): Uint8Array => {
      const bytes = new Uint8Array(8 + keys.length * (4 + SIZE));
      const view = new DataView(bytes.buffer);
      view.setUint32(0, keys.length, true);
      view.setUint32(4, SIZE, true);
      keys.forEach((k, i) => view.setUint32(8 + 4 * i, k, true));
      bytes.fill(fill, 8 + 4 * keys.length);
      return bytes;
    };
    const keysArb = fc.uniqueArray(fc.integer({ min: 0, max: 12 }), { minLength: 1, maxLength: 6 });
    const deltaArb = fc.array(fc.record({ group: fc.integer({ min: 0, max: 4 }), keys: keysArb, patch: fc.boolean() }), { maxLength: 5 });
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 4 }), keysArb), { maxLength: 4 }), fc.array(deltaArb, { minLength: 1, maxLength: 6 }), (baseGroups, chain) => {
        const base = new Map(baseGroups.map(([g, keys]) => [g, group(keys, 100 + g)]));
        const deltas = chain.map((entries, i) => {
          const groups = new Map<number, Uint8Array>();
          const patches = new Set<number>();
          entries.forEach(({ group: g, keys, patch }, j) => {
            groups.set(g, group(keys, 10 * i + j));
            if (patch) patches.add(g);
            else patches.delete(g);
          });
          return { id: i + 2, groups, patches };
        });
        let expected: Map<number, Uint8Array> = base;
        for (const delta of deltas) expected = codec.applyDelta(expected, delta);
        const got = codec.applyDeltas(base, deltas);
        expect([...got.keys()].sort()).toEqual([...expected.keys()].sort());
        for (const [g, bytes] of expected) expect([...got.get(g)!]).toEqual([...bytes]);
      }),
      { numRuns: 300 },
    );
    const base = new Map([[1, group([4, 5], 1)]]);
    const ok = { id: 2, groups: new Map([[1, group([5], 2)]]), patches: new Set([1]) };
    const bad = { id: 3, groups: new Map([[1, group([6, 6], 3)]]), patches: new Set([1]) };
    expect(() => codec.applyDeltas(base, [ok, bad])).toThrow('checkpoint 3: key patch of key group 1 is invalid: key 6 appears twice');
  });
});

describe('file checkpoint store: durable writes off the row path', () => {
  const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

  it('regression: the file store wrote and fsynced on the coordinator\'s thread (synchronous calls), so the job dispatched no rows and wrote no results for the 26–28 ms of every incremental checkpoint; the write is asynchronous and the save resolves only once durable', async () => {
    const store = fileCheckpointStore(tempDir(), { keep: 3 });
    const parts = [Uint8Array.of(1, 2, 3, 4), new Uint8Array(256 * 1024).fill(7)];
    let saved = false;
    const save = store.saveParts!(1, parts).then(() => void (saved = true));
    // A turn of the event loop later, the write is still in flight, and the checkpoint is not listed yet.
    await nextTurn();
    expect(saved).toBe(false);
    expect(await store.list()).toEqual([]);
    await save;
    expect(await store.list()).toEqual([1]);
    expect(Buffer.from(await store.read(1)).equals(Buffer.from(concatBytes(parts)))).toBe(true);
  });

  it('a job keeps dispatching rows and writing their results while its store makes a checkpoint durable; the checkpoint is reported only once the save resolved, and a torn save leaves the previous checkpoint restorable', async () => {
    const dir = tempDir();
    const file = fileCheckpointStore(dir, { keep: 3 });
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const calls: number[] = [];
    const store: CheckpointStore = {
      ...file,
      saveParts: async (id, parts) => {
        calls.push(id);
        if (id === 2) await gate; // a slow disk
        // Checkpoint 3 is torn: half its bytes reach the file (as after a crash mid-write), then the save fails.
        if (id === 3) return file.saveParts!(id, parts.slice(0, parts.length >> 1)).then(() => Promise.reject(new Error('disk gone')));
        return file.saveParts!(id, parts);
      },
    };
    const sink = memorySink();
    const job = await createJob({ adapter: nodeWorkers(), operator: SPEC, keyed: true, workers: 2, keyGroups: 16, sink, checkpoints: { store, everyMs: Infinity, everyRows: 2000 }, restart: { maxRestarts: 0 } });
    await job.push(rows(0, KEYS, 50, 1)); // 2 000 rows: checkpoint 1 covers them
    expect(await job.checkpoint()).toBe(1);
    await job.push(rows(0, KEYS, 50, 2)); // checkpoint 2 starts after these rows; its save waits at the gate
    await job.push(rows(0, KEYS, 10, 3)); // rows past the barrier: dispatched and written meanwhile
    while (sink.committedOffset + sink.heldRows < 4400) await nextTurn();
    expect(calls).toEqual([1, 2]);
    expect(sink.committedOffset).toBe(2000); // the sink commits checkpoint 2's rows only once it is durable
    open();
    await job.push(rows(0, KEYS, 40, 4)); // 6 000 rows: checkpoint 3, torn
    await expect(job.checkpoint()).rejects.toThrow(/checkpoint 3 could not be committed: disk gone/);
    await job.abort().catch(() => undefined);
    expect(sink.committedOffset).toBe(4000);
    const { checkpoint, refused } = await latestCheckpoint(fileCheckpointStore(dir, { keep: 3 }));
    expect(checkpoint?.id).toBe(2);
    expect(refused.map((r) => r.id)).toEqual([3]);
  });

  it('regression: the first full checkpoint after a restart wrote every key group to the file store again (420 MiB for 10 000 keys of median over 1 000); the groups a job restored are shared with the file they were read from', async () => {
    const dir = tempDir();
    await run(fileCheckpointStore(dir, { keep: 3 }), 2, 10);
    // Another process: a new store over the directory; the job resumes from checkpoint 2 (a delta of 1) and composes a full checkpoint.
    const file = fileCheckpointStore(dir, { keep: 3 });
    const memory = memoryCheckpointStore({ keep: 3 });
    const store: CheckpointStore = { ...tee(file, memory), list: () => file.list(), read: (id) => file.read(id) };
    const job = await createJob({ adapter: nodeWorkers(), operator: SPEC, keyed: true, workers: 2, keyGroups: 16, sink: memorySink(), checkpoints: { store, everyMs: Infinity, fullEvery: 1 }, resume: true });
    await job.push(rows(5, 6, 50, 7));
    expect(await job.checkpoint()).toBe(3);
    await job.abort();
    const whole = (await memory.read(3)).length;
    expect(fileSize(file, 3)).toBeLessThan(whole / 5);
    const fresh = fileCheckpointStore(dir, { keep: 3 });
    expect(Buffer.from(await fresh.read(3)).equals(Buffer.from(await memory.read(3)))).toBe(true);
    expect(decodeCheckpoint(await fresh.read(3)).base).toBeUndefined();
  });
});
