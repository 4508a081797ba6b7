// Every op's checkpoints resume, on every store and any worker count. The
// matrix: op (each of ewm's decay forms, `adjust` both ways; generated from
// the library's op list; ewm's var and std too) × store (memory, file) × workers when checkpointed
// (1–4) × workers on resume (1–4). A job is stopped as a crash would stop it
// (aborted, with rows written past its last checkpoint); a new job resumes
// from the store, and the output is compared byte for byte with the
// failure-free single-thread result. The IndexedDB store runs the same
// matrix in Chromium (scheduler-browser.test.ts).
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EWM_DECAY_FIELDS, EWM_STATS, KERNEL_OPS } from '../src/spec.js';
import type { KernelSpec } from '../src/types.js';
// @ts-expect-error: plain ESM without types, shared with the browser page
import { matrixSpecs, specLabel } from './browser/matrix.js';
import {
  arraySource,
  createJob,
  decodeCheckpoint,
  fileCheckpointStore,
  fileSink,
  firstDifference,
  makeKeys,
  makeValues,
  memoryCheckpointStore,
  memorySink,
  nodeWorkers,
  prng,
  reference,
  sameBytes,
  type CheckpointStore,
  type Job,
  type Sink,
} from './scheduler-helpers.js';

const SPECS = matrixSpecs(KERNEL_OPS, EWM_DECAY_FIELDS, EWM_STATS) as KernelSpec[];
const label = specLabel as (spec: KernelSpec) => string;
const STORES = ['memory', 'file'] as const;
type StoreKind = (typeof STORES)[number];
const WORKERS = [1, 2, 3, 4];
const ROWS = 1200;
const BATCH_ROWS = 100;
/** The stopped job's last checkpoint covers this many rows; it has written rows up to STOP_AT when it stops. */
const CHECKPOINT_AT = 500;
const STOP_AT = 800;

const rand = prng(1111);
const values = makeValues(rand, ROWS);
const keys = makeKeys(rand, ROWS, 11);
const adapter = nodeWorkers();

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sk-matrix-'));
  dirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function once<T>(make: () => Promise<T>): () => Promise<T> {
  let value: Promise<T> | undefined;
  return () => (value ??= make());
}

async function pushRows(job: Job, from: number, to: number): Promise<void> {
  for (let a = from; a < to; a += BATCH_ROWS) {
    const end = Math.min(a + BATCH_ROWS, to);
    await job.push({ values: values.slice(a, end), keys: keys.slice(a, end) });
  }
}

/** Where a job keeps its checkpoints and results, and how a resumed job gets a copy of them. */
interface Place {
  store: CheckpointStore;
  sink: Sink;
  /** The results after the resumed job finished: every row. */
  output(): Float64Array;
}

/** What the stopped job left behind. */
interface Stopped {
  /** A copy of the store and of the results, for one resumed job. */
  copy(): Promise<Place>;
}

const jobOptions = (spec: KernelSpec, place: Place, workers: number) => ({
  adapter,
  operator: spec,
  keyed: true,
  workers,
  sink: place.sink,
  // Only job.checkpoint() and finish() take checkpoints: the stop is at a known one.
  checkpoints: { store: place.store, everyRows: Infinity, everyMs: Infinity },
});

/** Runs rows [0, STOP_AT) with a checkpoint at CHECKPOINT_AT, then stops without another. */
async function stopAtCheckpoint(spec: KernelSpec, kind: StoreKind, workers: number): Promise<Stopped> {
  if (kind === 'memory') {
    const store = memoryCheckpointStore();
    const sink = memorySink();
    const job = await createJob(jobOptions(spec, { store, sink, output: () => new Float64Array(0) }, workers));
    await pushRows(job, 0, CHECKPOINT_AT);
    await job.checkpoint();
    await pushRows(job, CHECKPOINT_AT, STOP_AT);
    await job.abort();
    const saved = await Promise.all((await store.list()).map(async (id) => [id, await store.read(id)] as const));
    const head = sink.committed();
    return {
      async copy() {
        const copy = memoryCheckpointStore();
        for (const [id, bytes] of [...saved].reverse()) await copy.save(id, bytes.slice());
        const tail = memorySink();
        const output = (): Float64Array => {
          const all = new Float64Array(head.length + tail.committed().length);
          all.set(head);
          all.set(tail.committed(), head.length);
          return all;
        };
        return { store: copy, sink: tail, output };
      },
    };
  }
  const dir = tempDir();
  const sink = fileSink(join(dir, 'out.f64'));
  const job = await createJob(jobOptions(spec, { store: fileCheckpointStore(join(dir, 'ckpt')), sink, output: () => new Float64Array(0) }, workers));
  await pushRows(job, 0, CHECKPOINT_AT);
  await job.checkpoint();
  await pushRows(job, CHECKPOINT_AT, STOP_AT);
  await job.abort();
  await sink.close?.(); // the file as a killed process leaves it: results past the checkpoint included
  return {
    async copy() {
      const to = tempDir();
      cpSync(dir, to, { recursive: true });
      const file = join(to, 'out.f64');
      const output = (): Float64Array => {
        const b = readFileSync(file);
        return new Float64Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
      };
      return { store: fileCheckpointStore(join(to, 'ckpt')), sink: fileSink(file), output };
    },
  };
}

describe(`checkpoint matrix: ${SPECS.length} specs × ${STORES.length} stores × workers ${WORKERS.join('|')} → ${WORKERS.join('|')}`, () => {
  for (const spec of SPECS) {
    // Concurrent: a cell mostly waits for worker threads to start, so cells overlap well.
    describe.concurrent(label(spec), () => {
      const expected = once(() => reference(spec, values, keys));
      for (const kind of STORES) {
        for (const before of WORKERS) {
          const stopped = once(() => stopAtCheckpoint(spec, kind, before));
          for (const after of WORKERS) {
            it(`${kind} store: checkpointed on ${before} workers, resumed on ${after}, same bytes`, async ({ expect }) => {
              const place = await (await stopped()).copy();
              const job = await createJob({ ...jobOptions(spec, place, after), resume: true });
              expect(job.refused.map((r) => r.error.message)).toEqual([]);
              expect(job.offset).toBe(CHECKPOINT_AT);
              await job.run(arraySource(values, { keys, batchRows: BATCH_ROWS }));
              const out = place.output();
              const want = await expected();
              expect(sameBytes(out, want), `first difference at row ${firstDifference(out, want)}`).toBe(true);
            });
          }
        }
      }
    });
  }
});

describe('ewm checkpoints', () => {
  it('regression: checkpoints of ewm jobs are refused on resume (spec is invalid: got alpha and com) and the job restarts from offset 0', async () => {
    for (const field of EWM_DECAY_FIELDS) {
      const spec = { op: 'ewm', [field]: { alpha: 0.2, span: 10, halflife: 3, com: 4 }[field] } as KernelSpec;
      const dir = tempDir();
      const store = fileCheckpointStore(join(dir, 'ckpt'));
      const options = { adapter, operator: spec, keyed: true, workers: 2, checkpoints: { store, everyRows: 300, everyMs: Infinity }, resume: true };
      const first = await createJob({ ...options, sink: fileSink(join(dir, 'out.f64')) });
      await pushRows(first, 0, 1000);
      await first.checkpoint();
      await first.abort();
      const ids = await store.list();
      expect(ids.length, field).toBeGreaterThan(1);
      for (const id of ids) expect(decodeCheckpoint(await store.read(id)).offset, `${field}: checkpoint ${id}`).toBeGreaterThan(0);
      const sink = fileSink(join(dir, 'out.f64'));
      const again = await createJob({ ...options, sink });
      expect(again.refused.map((r) => r.error.message), field).toEqual([]);
      expect(again.offset, field).toBe(1000);
      await again.run(arraySource(values, { keys, batchRows: BATCH_ROWS }));
      const bytes = readFileSync(join(dir, 'out.f64'));
      expect(sameBytes(new Float64Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)), await reference(spec, values, keys)), field).toBe(true);
    }
  });
});
