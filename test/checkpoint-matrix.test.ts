// Every op's checkpoints resume, on every store and any worker count. The
// matrix: op (each of ewm's decay forms, `adjust` both ways; generated from
// the library's op list; ewm's var and std too) × store (memory, file) × workers when checkpointed
// (1–4) × workers on resume (1–4). A job is stopped as a crash would stop it
// (aborted, with rows written past its last checkpoint); a new job resumes
// from the store, and the output is compared byte for byte with the
// failure-free single-thread result. The scheduler's event-time and window
// operators (every kind of OPERATOR_KINDS × every op of TIME_OPS) get the
// same, on a rotation of worker counts (below). The IndexedDB store runs both
// matrices in Chromium (scheduler-browser.test.ts), on rotations of worker
// counts and, for the operator kinds, one spec in three left out.
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, type ExpectStatic } from 'vitest';
import { OPERATOR_KINDS, type OperatorSpec } from '../src/keyed/spec.js';
import { EWM_DECAY_FIELDS, EWM_STATS, KERNEL_OPS } from '../src/spec.js';
import { TIME_OPS } from '../src/time/spec.js';
import type { KernelSpec, LateRow, WindowResult } from '../src/types.js';
// @ts-expect-error: plain ESM without types, shared with the browser page
import { kindSpecs, matrixSpecs, specLabel } from './browser/matrix.js';
import {
  arraySource,
  createJob,
  decodeCheckpoint,
  fileCheckpointStore,
  fileSink,
  firstDifference,
  int,
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
  type MemorySink,
  type Sink,
} from './scheduler-helpers.js';

const SPECS = matrixSpecs(KERNEL_OPS, EWM_DECAY_FIELDS, EWM_STATS) as KernelSpec[];
const KIND_SPECS = kindSpecs(OPERATOR_KINDS, TIME_OPS) as OperatorSpec[];
const label = specLabel as (spec: OperatorSpec) => string;
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
/** Event times in ms: in order, 0–3 ms apart (ties included). */
const times = new Float64Array(ROWS);
for (let i = 1; i < ROWS; i++) times[i] = times[i - 1]! + int(rand, 0, 3);
const adapter = nodeWorkers();

const kindOf = (spec: OperatorSpec): string | undefined => (spec as { kind?: string }).kind;
/** Whether the operator's rows carry times (every kind but count windows and kernels). */
const timed = (spec: OperatorSpec): boolean => kindOf(spec) !== undefined && kindOf(spec) !== 'count';
/** Whether the operator emits window records rather than one result per row. */
const windowed = (spec: OperatorSpec): boolean => kindOf(spec) !== undefined && kindOf(spec) !== 'rolling';
/** The rows [from, to) as a batch of `spec`'s job. */
const batchOf = (spec: OperatorSpec, from: number, to: number) => ({
  values: values.slice(from, to),
  keys: keys.slice(from, to),
  ...(timed(spec) ? { times: times.slice(from, to) } : {}),
});
const sourceOf = (spec: OperatorSpec) => arraySource(values, { keys, ...(timed(spec) ? { times } : {}), batchRows: BATCH_ROWS });

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

async function pushRows(job: Job, from: number, to: number, spec: OperatorSpec): Promise<void> {
  for (let a = from; a < to; a += BATCH_ROWS) await job.push(batchOf(spec, a, Math.min(a + BATCH_ROWS, to)));
}

/** A job's results: one per row, or (window kinds) window records and late rows. */
type Output = Float64Array | { windows: WindowResult[]; late: LateRow[] };

/** `head` (what the stopped job committed) followed by what `tail` committed. */
function joined(head: Output, tail: MemorySink): Output {
  if (!(head instanceof Float64Array)) {
    const more = tail.committedWindows();
    return { windows: [...head.windows, ...more.windows], late: [...head.late, ...more.late] };
  }
  const all = new Float64Array(head.length + tail.committed().length);
  all.set(head);
  all.set(tail.committed(), head.length);
  return all;
}

const committedOf = (spec: OperatorSpec, sink: MemorySink): Output => (windowed(spec) ? sink.committedWindows() : sink.committed());

/** Where a job keeps its checkpoints and results, and how a resumed job gets a copy of them. */
interface Place {
  store: CheckpointStore;
  sink: Sink;
  /** The results after the resumed job finished: every row. */
  output(): Output;
}

/** What the stopped job left behind. */
interface Stopped {
  /** A copy of the store and of the results, for one resumed job. */
  copy(): Promise<Place>;
}

const jobOptions = (spec: OperatorSpec, place: Place, workers: number) => ({
  adapter,
  operator: spec,
  keyed: true,
  workers,
  sink: place.sink,
  // Only job.checkpoint() and finish() take checkpoints: the stop is at a known one.
  checkpoints: { store: place.store, everyRows: Infinity, everyMs: Infinity },
});

/** Runs rows [0, STOP_AT) with a checkpoint at CHECKPOINT_AT, then stops without another. */
async function stopAtCheckpoint(spec: OperatorSpec, kind: StoreKind, workers: number): Promise<Stopped> {
  const dir = kind === 'file' ? tempDir() : undefined;
  const store = dir === undefined ? memoryCheckpointStore() : fileCheckpointStore(join(dir, 'ckpt'));
  // The file sink holds one result per row: window records go to a memory sink, whatever the store.
  const toFile = dir !== undefined && !windowed(spec);
  const sink = toFile ? fileSink(join(dir, 'out.f64')) : memorySink();
  const job = await createJob(jobOptions(spec, { store, sink, output: () => new Float64Array(0) }, workers));
  await pushRows(job, 0, CHECKPOINT_AT, spec);
  await job.checkpoint();
  await pushRows(job, CHECKPOINT_AT, STOP_AT, spec);
  await job.abort();
  if (toFile) await sink.close?.(); // the file as a killed process leaves it: results past the checkpoint included
  const head = toFile ? undefined : committedOf(spec, sink as MemorySink);
  const saved = dir !== undefined ? [] : await Promise.all((await store.list()).map(async (id) => [id, await store.read(id)] as const));
  const copyStore = async (to: string | undefined): Promise<CheckpointStore> => {
    if (to !== undefined) return fileCheckpointStore(join(to, 'ckpt'));
    const copy = memoryCheckpointStore();
    for (const [id, bytes] of [...saved].reverse()) await copy.save(id, bytes.slice());
    return copy;
  };
  return {
    async copy() {
      const to = dir === undefined ? undefined : tempDir();
      if (dir !== undefined) cpSync(dir, to!, { recursive: true });
      const copy = await copyStore(to);
      if (head !== undefined) {
        const tail = memorySink();
        return { store: copy, sink: tail, output: () => joined(head, tail) };
      }
      const file = join(to!, 'out.f64');
      const output = (): Float64Array => {
        const b = readFileSync(file);
        return new Float64Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
      };
      return { store: copy, sink: fileSink(file), output };
    },
  };
}

/** Resumes on `after` workers from a copy of what the stopped job left, runs to the end, and compares with `want`. */
async function resumeAndCompare(spec: OperatorSpec, stopped: Stopped, after: number, want: Output, expect: ExpectStatic): Promise<void> {
  const place = await stopped.copy();
  const job = await createJob({ ...jobOptions(spec, place, after), resume: true });
  expect(job.refused.map((r) => r.error.message)).toEqual([]);
  expect(job.offset).toBe(CHECKPOINT_AT);
  await job.run(sourceOf(spec));
  const out = place.output();
  if (out instanceof Float64Array && want instanceof Float64Array) {
    expect(sameBytes(out, want), `first difference at row ${firstDifference(out, want)}`).toBe(true);
  } else {
    expect((want as { windows: WindowResult[] }).windows.length).toBeGreaterThan(0); // a comparison of nothing passes
    // toEqual compares numbers with Object.is: -0 and 0 differ, NaN equals NaN.
    expect(out).toEqual(want);
  }
}

/** The failure-free run of `spec` on one worker. */
async function singleWorkerRun(spec: OperatorSpec): Promise<Output> {
  const sink = memorySink();
  const job = await createJob({ adapter, operator: spec, keyed: true, workers: 1, sink });
  await job.run(sourceOf(spec));
  return committedOf(spec, sink);
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
              await resumeAndCompare(spec, await stopped(), after, await expected(), expect);
            });
          }
        }
      }
    });
  }
});

/**
 * Workers before → after for the operator kinds: a rotation (each spec and
 * store takes the next pair) instead of all 16 pairs, to keep the ~110 cells
 * affordable; over the specs every pair, rescale up and down, comes up often.
 */
const ROTATION: [number, number][] = [[1, 2], [2, 3], [3, 4], [4, 1], [2, 1]];

describe(`checkpoint matrix of the operator kinds: ${KIND_SPECS.length} specs (${OPERATOR_KINDS.join(', ')} × TIME_OPS) × ${STORES.length} stores × workers ${ROTATION.map(([a, b]) => `${a}→${b}`).join(' | ')} (rotated)`, () => {
  KIND_SPECS.forEach((spec, i) => {
    describe.concurrent(label(spec), () => {
      const expected = once(() => singleWorkerRun(spec));
      STORES.forEach((kind, k) => {
        const [before, after] = ROTATION[(i + k) % ROTATION.length]!;
        it(`${kind} store: checkpointed on ${before} workers, resumed on ${after}, same ${windowed(spec) ? 'windows' : 'bytes'}`, async ({ expect }) => {
          await resumeAndCompare(spec, await stopAtCheckpoint(spec, kind, before), after, await expected(), expect);
        });
      });
    });
  });
});

describe('ewm checkpoints', () => {
  it('regression: checkpoints of ewm jobs are refused on resume (spec is invalid: got alpha and com) and the job restarts from offset 0', async () => {
    for (const field of EWM_DECAY_FIELDS) {
      const spec = { op: 'ewm', [field]: { alpha: 0.2, span: 10, halflife: 3, com: 4 }[field] } as unknown as KernelSpec;
      const dir = tempDir();
      const store = fileCheckpointStore(join(dir, 'ckpt'));
      const options = { adapter, operator: spec, keyed: true, workers: 2, checkpoints: { store, everyRows: 300, everyMs: Infinity }, resume: true };
      const first = await createJob({ ...options, sink: fileSink(join(dir, 'out.f64')) });
      await pushRows(first, 0, 1000, spec);
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
