// Checkpoints: the format refuses every truncation and single-byte flip with
// a CheckpointError; the file store falls back to the previous valid
// checkpoint; forged state is refused by the worker; rescale N → M.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  arraySource,
  CheckpointError,
  createJob,
  decodeCheckpoint,
  encodeCheckpoint,
  fileCheckpointStore,
  latestCheckpoint,
  makeKeys,
  makeValues,
  memoryCheckpointStore,
  memorySink,
  nodeWorkers,
  prng,
  reference,
  sameBytes,
  type Batch,
  type CheckpointStore,
} from './scheduler-helpers.js';

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sk-sched-'));
  dirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const SPEC = { op: 'mean', window: 4, minPeriods: 1 } as const;

function batches(values: Float64Array, keys: Uint32Array | undefined, rows: number, from = 0, to = values.length): Batch[] {
  const list: Batch[] = [];
  for (let a = from; a < to; a += rows) {
    const end = Math.min(a + rows, to);
    const b: Batch = { values: values.slice(a, end) };
    if (keys) b.keys = keys.slice(a, end);
    list.push(b);
  }
  return list;
}

/** Runs rows [from, to) through a job (resuming from the store) and returns what the sink committed. */
async function runPart(store: CheckpointStore, workers: number, values: Float64Array, keys: Uint32Array, from: number, to: number): Promise<Float64Array> {
  const sink = memorySink();
  const job = await createJob({ adapter: nodeWorkers(), operator: SPEC, keyed: true, workers, sink, checkpoints: { store, everyRows: 700, everyMs: Infinity }, resume: true });
  expect(job.offset).toBe(from);
  for (const b of batches(values, keys, 300, from, to)) await job.push(b);
  await job.finish();
  return sink.committed();
}

describe('checkpoint format', () => {
  it('refuses every truncation and every single-byte flip, saying what is wrong', async () => {
    const store = memoryCheckpointStore();
    const rand = prng(3);
    const values = makeValues(rand, 600);
    const keys = makeKeys(rand, 600, 3);
    await runPart(store, 2, values, keys, 0, 600);
    const [id] = await store.list();
    const bytes = await store.read(id!);
    expect(decodeCheckpoint(bytes).offset).toBe(600);
    expect(bytes.length).toBeGreaterThan(200);
    const codes = new Set<string>();
    for (let len = 0; len < bytes.length; len++) {
      let error: unknown;
      try {
        decodeCheckpoint(bytes.subarray(0, len));
      } catch (e) {
        error = e;
      }
      expect(error, `truncated to ${len}`).toBeInstanceOf(CheckpointError);
      codes.add((error as CheckpointError).code);
    }
    expect([...codes]).toEqual(['BAD_LENGTH']); // the total length is checked before anything else
    for (let i = 0; i < bytes.length; i++) {
      for (const mask of [0x01, 0x80, 0xff]) {
        const copy = bytes.slice();
        copy[i]! ^= mask;
        let error: unknown;
        try {
          decodeCheckpoint(copy);
        } catch (e) {
          error = e;
        }
        expect(error, `byte ${i} ^ ${mask}`).toBeInstanceOf(CheckpointError);
      }
    }
  });

  it('gives exact messages', async () => {
    const store = memoryCheckpointStore();
    await runPart(store, 1, new Float64Array([1, 2, 3]), new Uint32Array([1, 2, 1]), 0, 3);
    const bytes = await store.read((await store.list())[0]!);
    const message = (b: Uint8Array): string => {
      try {
        decodeCheckpoint(b);
      } catch (e) {
        return `${(e as CheckpointError).code}: ${(e as Error).message}`;
      }
      return 'accepted';
    };
    expect(message(bytes.subarray(0, 10))).toBe('BAD_LENGTH: checkpoint truncated: expected at least 56 bytes, got 10');
    expect(message(bytes.subarray(0, bytes.length - 1))).toBe(`BAD_LENGTH: checkpoint truncated: expected ${bytes.length} bytes, got ${bytes.length - 1}`);
    const longer = new Uint8Array(bytes.length + 1);
    longer.set(bytes);
    expect(message(longer)).toBe(`BAD_LENGTH: checkpoint has trailing bytes: expected ${bytes.length} bytes, got ${bytes.length + 1}`);
    const magic = bytes.slice();
    magic[0] = 0;
    expect(message(magic)).toBe('BAD_MAGIC: not a streamkernel checkpoint: bad magic number');
    const version = bytes.slice();
    version[4] = 9;
    expect(message(version)).toBe('UNSUPPORTED_VERSION: unsupported checkpoint format version 9; this build reads versions 1 and 2');
    const flipped = bytes.slice();
    flipped[bytes.length - 10]! ^= 1;
    expect(message(flipped)).toMatch(/^CHECKSUM_MISMATCH: checksum mismatch: checkpoint is corrupt \(stored CRC-32 [0-9a-f]+, computed [0-9a-f]+\)$/);
    expect(message(new Uint8Array(0))).toBe('BAD_LENGTH: checkpoint truncated: expected at least 56 bytes, got 0');
  });

  it('round-trips', () => {
    const cp = {
      id: 7,
      offset: 123_456_789_012,
      keyGroups: 16,
      keyed: true,
      spec: { op: 'sum', window: 3, minPeriods: 3 } as const,
      sinkPosition: { bytes: 42 },
      groups: new Map([[3, new Uint8Array([1, 2, 3])], [9, new Uint8Array(0)]]),
    };
    const back = decodeCheckpoint(encodeCheckpoint(cp));
    expect({ ...back, groups: [...back.groups].map(([g, b]) => [g, [...b]]) }).toEqual({ ...cp, groups: [[3, [1, 2, 3]], [9, []]] });
  });

  it('regression: a large checkpoint is encoded a slice at a time with the event loop let run in between (its 2–3 ms encoding held up every result behind it), same bytes', async () => {
    const { encodeCheckpointSliced } = await import('../src/scheduler/checkpoint.js');
    // 128 groups of 13.5 KB: a checkpoint of 1 000 keys of mean over 100, 1.7 MB.
    const groups = new Map(Array.from({ length: 128 }, (_, g) => [g, Uint8Array.from({ length: 13_500 }, (_, i) => (i * 31 + g) & 255)] as const));
    const cp = { id: 3, offset: 1_000_000, keyGroups: 128, keyed: true, spec: { op: 'mean', window: 100, minPeriods: 100 } as const, sinkPosition: null, groups };
    let pauses = 0;
    const encoded = await encodeCheckpointSliced(cp, async () => void pauses++);
    expect(pauses).toBeGreaterThanOrEqual(6);
    expect(Buffer.from(encoded).equals(Buffer.from(encodeCheckpoint(cp)))).toBe(true);
    // With the default pause, a callback queued before the encoding runs before it ends.
    let ran = false;
    setImmediate(() => (ran = true));
    const done = encodeCheckpointSliced(cp).then(() => ran);
    expect(await done).toBe(true);
    expect(decodeCheckpoint(await encodeCheckpointSliced(cp)).groups.get(127)).toEqual(groups.get(127));
  });
});

describe('file checkpoint store', () => {
  it('keeps the last K, refuses a corrupt or truncated newest checkpoint and falls back to the previous one', async () => {
    const dir = tempDir();
    const store = fileCheckpointStore(dir, { keep: 3 });
    const rand = prng(11);
    const n = 6000;
    const values = makeValues(rand, n);
    const keys = makeKeys(rand, n, 8);
    const expected = await reference(SPEC, values, keys);
    await runPart(store, 2, values, keys, 0, 4000);
    const ids = await store.list();
    expect(ids.length).toBe(3);
    const [newest, previous] = ids as [number, number];
    const path = store.path(newest);
    const good = readFileSync(path);

    for (const damage of ['flip', 'truncate'] as const) {
      writeFileSync(path, damage === 'flip' ? Buffer.from(good.map((b, i) => (i === 100 ? b ^ 0x20 : b))) : good.subarray(0, good.length - 7));
      const { checkpoint, refused } = await latestCheckpoint(store);
      expect(checkpoint?.id).toBe(previous);
      expect(refused.map((r) => r.id)).toEqual([newest]);
      expect((refused[0]!.error as CheckpointError).code).toBe(damage === 'flip' ? 'CHECKSUM_MISMATCH' : 'BAD_LENGTH');
    }
    // Resume from the fallback: the rows after it are replayed, and the output is still exact.
    const from = decodeCheckpoint(await store.read(previous)).offset;
    expect(from).toBeLessThan(4000);
    const rest = await runPart(store, 3, values, keys, from, n);
    expect(sameBytes(rest, expected.subarray(from))).toBe(true);
  });

  it('leaves no temporary files', async () => {
    const dir = tempDir();
    const store = fileCheckpointStore(dir, { keep: 2 });
    await runPart(store, 1, new Float64Array(3000).fill(1), new Uint32Array(3000), 0, 3000);
    const { readdirSync } = await import('node:fs');
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expect(readdirSync(dir).length).toBe(2);
  });
});

describe('restore', () => {
  it('refuses forged state (valid checksum) in the worker and fails the job with the cause', async () => {
    const store = memoryCheckpointStore();
    await runPart(store, 1, new Float64Array([1, 2, 3, 4, 5]), new Uint32Array([1, 1, 1, 1, 1]), 0, 5);
    const id = (await store.list())[0]!;
    const cp = decodeCheckpoint(await store.read(id));
    for (const bytes of cp.groups.values()) bytes.fill(0xff, 12); // every kernel state byte
    await store.save(id + 1, encodeCheckpoint({ ...cp, id: id + 1 }));
    const job = await createJob({ adapter: nodeWorkers(), operator: SPEC, keyed: true, workers: 1, sink: memorySink(), checkpoints: { store }, resume: true });
    const error = await job.push({ values: new Float64Array([1]), keys: new Uint32Array([1]) }).then(() => job.finish()).then(() => undefined, (e: unknown) => e);
    expect((error as Error).name).toBe('JobFailedError');
    expect((error as Error).message).toMatch(/^job cannot start from checkpoint \d+: checkpoint state of key group \d+ is invalid: /);
    expect(((error as Error).cause as CheckpointError).code).toBe('BAD_STATE');
  });

  it('refuses a checkpoint of another job shape', async () => {
    const store = memoryCheckpointStore();
    await runPart(store, 1, new Float64Array([1, 2, 3]), new Uint32Array([1, 2, 3]), 0, 3);
    const id = (await store.list())[0]!;
    await expect(
      createJob({ adapter: nodeWorkers(), operator: { op: 'sum', window: 4 }, keyed: true, sink: memorySink(), checkpoints: { store }, resume: true }),
    ).rejects.toThrow(`checkpoint ${id} is of {"op":"mean","window":4,"minPeriods":1}, the job of {"op":"sum","window":4,"minPeriods":4}`);
    await expect(
      createJob({ adapter: nodeWorkers(), operator: SPEC, keyed: true, keyGroups: 64, sink: memorySink(), checkpoints: { store }, resume: true }),
    ).rejects.toThrow(`checkpoint ${id} has 128 key groups, the job 64`);
  });

  it('job.checkpoint() commits a checkpoint covering every row pushed, without stopping the job; a new job resumes from it', async () => {
    const rand = prng(33);
    const n = 5000;
    const values = makeValues(rand, n);
    const keys = makeKeys(rand, n, 40);
    const expected = await reference(SPEC, values, keys);
    const store = memoryCheckpointStore();
    const sink = memorySink();
    const job = await createJob({ adapter: nodeWorkers(), operator: SPEC, keyed: true, workers: 2, sink, checkpoints: { store, everyMs: Infinity }, resume: true });
    expect(await job.checkpoint()).toBe(0); // nothing pushed, none taken
    for (const b of batches(values, keys, 300, 0, 2000)) await job.push(b);
    const id = await job.checkpoint();
    expect(id).toBe(1);
    expect(decodeCheckpoint(await store.read(id)).offset).toBe(2000);
    expect(sink.committed().length).toBe(2000); // every result written and committed
    expect(await job.checkpoint()).toBe(1); // already covered: no new checkpoint
    for (const b of batches(values, keys, 300, 2000, 3000)) await job.push(b);
    await job.abort(); // rows after checkpoint 1 are discarded
    const first = sink.committed();
    const rest = await runPart(store, 3, values, keys, 2000, n);
    const got = new Float64Array(n);
    got.set(first);
    got.set(rest, first.length);
    expect(sameBytes(got, expected)).toBe(true);
  });

  it('regression: a checkpoint store returning Node Buffers (whose slice() is a view, not a copy) failed every resume with "Transfer list contains duplicate ArrayBuffer"; the job resumes', async () => {
    const rand = prng(34);
    const n = 3000;
    const values = makeValues(rand, n);
    const keys = makeKeys(rand, n, 60);
    const expected = await reference(SPEC, values, keys);
    const memory = memoryCheckpointStore();
    const store = { save: memory.save, list: memory.list, read: async (id: number) => Buffer.from(await memory.read(id)) };
    const sink = memorySink();
    const job = await createJob({ adapter: nodeWorkers(), operator: SPEC, keyed: true, workers: 2, sink, checkpoints: { store, everyMs: Infinity } });
    for (const b of batches(values, keys, 300, 0, 1500)) await job.push(b);
    await job.checkpoint();
    await job.abort();
    const rest = memorySink();
    const resumed = await createJob({ adapter: nodeWorkers(), operator: SPEC, keyed: true, workers: 2, sink: rest, checkpoints: { store, everyMs: Infinity }, resume: true });
    for (const b of batches(values, keys, 300, 1500, n)) await resumed.push(b);
    await resumed.finish();
    const got = new Float64Array(n);
    got.set(sink.committed());
    got.set(rest.committed(), 1500);
    expect(sameBytes(got, expected)).toBe(true);
  });

  it('job.checkpoint() is refused while run() pulls a source', async () => {
    const job = await createJob({ adapter: nodeWorkers(), operator: SPEC, sink: memorySink() });
    const running = job.run(arraySource(new Float64Array(10)));
    await expect(job.checkpoint()).rejects.toThrow('checkpoint() cannot be used while run() pulls a source');
    await running;
  });

  it('rescales 4 → 2 → 3 workers through checkpoints (key groups move whole), same output', async () => {
    for (const makeStore of [() => memoryCheckpointStore(), () => fileCheckpointStore(tempDir())]) {
      const store = makeStore();
      const rand = prng(21);
      const n = 9000;
      const values = makeValues(rand, n);
      const keys = makeKeys(rand, n, 60);
      const spec = { op: 'median', window: 9, minPeriods: 2 } as const;
      const expected = await reference(spec, values, keys);
      const parts: Float64Array[] = [];
      const cuts = [0, 3100, 6200, n];
      for (const [i, workers] of [4, 2, 3].entries()) {
        const sink = memorySink();
        const job = await createJob({ adapter: nodeWorkers(), operator: spec, keyed: true, workers, sink, checkpoints: { store, everyRows: 1000, everyMs: Infinity }, resume: true });
        expect(job.offset).toBe(cuts[i]);
        for (const b of batches(values, keys, 450, cuts[i], cuts[i + 1])) await job.push(b);
        await job.finish();
        parts.push(sink.committed());
      }
      const got = new Float64Array(n);
      let at = 0;
      for (const p of parts) {
        got.set(p, at);
        at += p.length;
      }
      expect(at).toBe(n);
      expect(sameBytes(got, expected)).toBe(true);
    }
  });
});
