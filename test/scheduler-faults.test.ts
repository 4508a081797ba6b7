// Fault injection: at seeded random points a worker is terminated from
// outside, exits inside, throws or traps inside the kernel call, or hangs.
// Every run's committed output must equal a failure-free single-thread run
// byte for byte, with every row exactly once (no duplicates, no gaps).
import { describe, expect, it } from 'vitest';
import {
  arraySource,
  createJob,
  firstDifference,
  int,
  makeKeys,
  makeValues,
  memorySink,
  nodeWorkers,
  pick,
  prng,
  randomSpec,
  reference,
  sameBytes,
  type Batch,
  type Fault,
  type OutputBatch,
} from './scheduler-helpers.js';

const RUNS = 104;
const KINDS: Fault['kind'][] = ['terminate', 'exit', 'throw', 'trap', 'terminate', 'exit', 'throw', 'trap', 'hang'];

async function oneRun(seed: number): Promise<void> {
  const rand = prng(seed);
  const spec = randomSpec(rand);
  const keyed = rand() < 0.6;
  const workers = int(rand, 1, 4);
  const n = int(rand, 2000, 12_000);
  const batchRows = int(rand, 50, 1500);
  const values = makeValues(rand, n);
  const keys = keyed ? makeKeys(rand, n, int(rand, 1, 40)) : undefined;
  const batches = Math.ceil(n / batchRows);
  const faults: Fault[] = [];
  const count = rand() < 0.7 ? 1 : 2;
  for (let i = 0; i < count; i++) faults.push({ afterBatch: int(rand, 0, batches - 1), worker: int(rand, 0, workers - 1), kind: pick(rand, KINDS) });
  const feed = pick(rand, ['source', 'push', 'iterable'] as const);
  const expected = await reference(spec, values, keys);

  const seen: OutputBatch[] = [];
  const sink = memorySink({ onCommit: (b) => seen.push(b) });
  const job = await createJob({
    adapter: nodeWorkers(),
    operator: spec,
    keyed,
    workers,
    keyGroups: pick(rand, [1, 4, 128]) < workers ? 128 : pick(rand, [4, 16, 128]),
    maxInFlight: int(rand, 1, 4),
    sink,
    checkpoints: { everyRows: int(rand, 300, 4000), everyMs: Infinity },
    restart: { maxRestarts: 20, initialDelayMs: 1, maxDelayMs: 10 },
    heartbeat: { intervalMs: 50, timeoutMs: 1500 },
    faults,
  });
  const batchList = (): Batch[] => {
    const list: Batch[] = [];
    for (let a = 0; a < n; a += batchRows) {
      const b: Batch = { values: values.slice(a, a + batchRows) };
      if (keys) b.keys = keys.slice(a, a + batchRows);
      list.push(b);
    }
    return list;
  };
  let result;
  if (feed === 'source') {
    result = await job.run(arraySource(values, { keys, batchRows }));
  } else if (feed === 'push') {
    for (const b of batchList()) await job.push(b);
    result = await job.finish();
  } else {
    result = await job.run((async function* () { yield* batchList(); })());
  }
  const repro = `seed ${seed}: ${JSON.stringify({ spec, keyed, workers, n, batchRows, faults, feed, restarts: result.restarts })}`;
  // Every row exactly once, in order: offsets contiguous from 0 to n.
  let offset = 0;
  for (const b of seen) {
    expect(b.offset, `${repro}: batch at ${b.offset}, expected ${offset}`).toBe(offset);
    offset += b.values.length;
  }
  expect(offset, repro).toBe(n);
  const got = sink.committed();
  expect(sameBytes(got, expected), `${repro}: first difference at row ${firstDifference(got, expected)}`).toBe(true);
  expect(result.rows, repro).toBe(n);
}

describe('fault injection', () => {
  // Runs in groups to use both cores while keeping each test short.
  const GROUP = 8;
  for (let g = 0; g < RUNS / GROUP; g++) {
    it(`seeds ${g * GROUP + 1}–${(g + 1) * GROUP}: output equals a failure-free single-thread run`, async () => {
      for (let s = g * GROUP + 1; s <= (g + 1) * GROUP; s++) await oneRun(s);
    });
  }

  it('a persistent failure exhausts the restart strategy and fails with the cause', async () => {
    const values = makeValues(prng(7), 4000, false);
    const faults: Fault[] = Array.from({ length: 400 }, (_, i) => ({ afterBatch: i, worker: 0, kind: 'throw' as const }));
    const job = await createJob({
      adapter: nodeWorkers(),
      operator: { op: 'sum', window: 5 },
      workers: 1,
      sink: memorySink(),
      checkpoints: { everyMs: Infinity },
      restart: { maxRestarts: 2, initialDelayMs: 1 },
      faults,
    });
    const error = await job.run(arraySource(values, { batchRows: 100 })).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).name).toBe('JobFailedError');
    expect((error as Error).message).toMatch(/^job failed: 2 restarts within 60000 ms and the failure persists \(worker 0 threw: .*injected fault/);
    expect(((error as Error).cause as Error).name).toBe('WorkerFailure');
    expect((error as { restarts: number }).restarts).toBe(2);
  });
});
