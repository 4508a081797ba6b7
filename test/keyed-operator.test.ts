// The keyed operator (src/keyed/): every kind behind one GroupOperator
// interface, run as one process or partitioned by key group (in process and
// on the scheduler's workers), with per-key-group snapshots, restore and
// rescale: always the same bits as the single operator.
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createGroupOperator, moduleOf, normalizeOperatorSpec } from '../src/keyed/index.js';
import type { NormalizedSpecOfRows, TimeRollingOperatorSpec } from '../src/keyed/spec.js';
import { compiledModule } from '../src/engine.js';
import { keyGroupRange } from '../src/scheduler/hash.js';
import type { GroupOperator } from '../src/scheduler/operator.js';
import type { TimeRollingOperator } from '../src/keyed/time-rolling.js';
import { rollingByTime } from '../src/time/rolling.js';
import type { ClosedSide, Duration, TimeOp } from '../src/types.js';
import { mulberry32 } from './adversarial.js';
import { arraySource, createJob, memoryCheckpointStore, memorySink, nodeWorkers } from './scheduler-helpers.js';

type Num = number | string;
const dec = (x: Num): number => (typeof x === 'number' ? x : Number(x));
interface Data {
  ts: number[];
  v: Num[];
  key?: number[];
}
const fx = JSON.parse(readFileSync(new URL('./fixtures/time-rolling.json', import.meta.url), 'utf8')) as {
  unkeyed: Data;
  keyed: Data;
  cases: { op: TimeOp; window: Duration; closed: ClosedSide; minPeriods: number | null; keyed: boolean }[];
};

function rawSpecOf(c: (typeof fx.cases)[number]): TimeRollingOperatorSpec {
  return {
    kind: 'rolling',
    op: c.op,
    window: c.window,
    closed: c.closed,
    ...(c.minPeriods === null ? {} : { minPeriods: c.minPeriods }),
    ...(c.op === 'quantile' ? { q: 0.25 } : {}),
  } as TimeRollingOperatorSpec;
}

/** A spec of an operator with one output per row (createGroupOperator's kinds), normalized. */
function rowsSpec(spec: unknown): NormalizedSpecOfRows {
  const normalized = normalizeOperatorSpec(spec);
  if (!('kind' in normalized) || normalized.kind === 'rolling') return normalized;
  throw new Error(`not a spec of one output per row: ${JSON.stringify(spec)}`);
}

function specOf(c: (typeof fx.cases)[number]): NormalizedSpecOfRows {
  return rowsSpec(rawSpecOf(c));
}

function columns(keyed: boolean): { ts: Float64Array; v: Float64Array; keys: Uint32Array | undefined } {
  const d = keyed ? fx.keyed : fx.unkeyed;
  return { ts: Float64Array.from(d.ts), v: Float64Array.from(d.v.map(dec)), keys: keyed ? Uint32Array.from(d.key!) : undefined };
}

/** The single operator's results (rollingByTime), the reference. */
async function single(c: (typeof fx.cases)[number]): Promise<Float64Array> {
  const { ts, v, keys } = columns(c.keyed);
  const spec = {
    op: c.op,
    window: c.window,
    closed: c.closed,
    keys: c.keyed ? ('number' as const) : ('none' as const),
    ...(c.minPeriods === null ? {} : { minPeriods: c.minPeriods }),
    ...(c.op === 'quantile' ? { q: 0.25 } : {}),
  };
  return rollingByTime(ts, v, spec, keys);
}

const KEY_GROUPS = 16;

async function operators(spec: NormalizedSpecOfRows, workers: number): Promise<GroupOperator[]> {
  const module = await compiledModule(moduleOf(spec));
  return Promise.all(Array.from({ length: workers }, (_, w) => createGroupOperator(module, spec, KEY_GROUPS, keyGroupRange(w, KEY_GROUPS, workers))));
}

/** Every worker sees every batch (as the shared-memory scheduler does) and fills in its own rows. */
function runAll(ops: GroupOperator[], ts: Float64Array, v: Float64Array, keys: Uint32Array | undefined, out: Float64Array, from: number, to: number, cuts: number[]): void {
  const bounds = [from, ...cuts.filter((c) => c > from && c < to).sort((a, b) => a - b), to];
  for (let i = 0; i + 1 < bounds.length; i++) {
    const a = bounds[i]!, b = bounds[i + 1]!;
    for (const op of ops) op.processParts([{ values: v.subarray(a, b), keys: keys?.subarray(a, b), times: ts.subarray(a, b), out: out.subarray(a, b) }]);
  }
}

/** Snapshots every key group of `ops` and restores them into `workers` fresh operators (a rescale). */
async function rescale(spec: NormalizedSpecOfRows, ops: GroupOperator[], workers: number): Promise<GroupOperator[]> {
  const snaps = new Map<number, Uint8Array>();
  for (const op of ops) for (let g = 0; g < KEY_GROUPS; g++) {
    const bytes = op.snapshotGroup(g);
    if (bytes !== undefined) snaps.set(g, bytes);
  }
  const fresh = await operators(spec, workers);
  fresh.forEach((op, w) => {
    const [lo, hi] = keyGroupRange(w, KEY_GROUPS, workers);
    for (let g = lo; g < hi; g++) if (snaps.has(g)) op.restoreGroup(g, snaps.get(g)!);
  });
  return fresh;
}

/** Fresh operators on `workers` workers holding a checkpoint's key groups, and group 0's clock on every one (as the scheduler's init). */
async function restoreFrom(spec: NormalizedSpecOfRows, groups: Map<number, Uint8Array>, workers: number): Promise<GroupOperator[]> {
  const fresh = await operators(spec, workers);
  fresh.forEach((op, w) => {
    const [lo, hi] = keyGroupRange(w, KEY_GROUPS, workers);
    for (let g = lo; g < hi; g++) if (groups.has(g)) op.restoreGroup(g, groups.get(g)!);
    if (groups.has(0)) op.restoreClock!(groups.get(0)!);
  });
  return fresh;
}

const same = (a: Float64Array, b: Float64Array): boolean => a.length === b.length && a.every((x, i) => Object.is(x, b[i]));

describe('keyed operator: rolling by duration', () => {
  it('every pandas fixture case, partitioned over 1 to 4 workers by key group, gives the single operator\'s bits', async () => {
    const failures: string[] = [];
    for (const [n, c] of fx.cases.entries()) {
      const expected = await single(c);
      const { ts, v, keys } = columns(c.keyed);
      const workers = 1 + (n % 4);
      const out = new Float64Array(v.length).fill(-1);
      runAll(await operators(specOf(c), workers), ts, v, keys, out, 0, v.length, [7, 100, 101, 250]);
      if (!same(out, expected)) failures.push(`${JSON.stringify(c)} on ${workers} workers`);
    }
    expect(failures.slice(0, 5).join('\n')).toBe('');
  });

  it('snapshot per key group, restore onto another number of workers, continue: same bits for any split (property)', async () => {
    const keyedCases = fx.cases.filter((c) => c.keyed);
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: keyedCases.length - 1 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 4 }),
        fc.array(fc.integer({ min: 1, max: 299 }), { maxLength: 6 }),
        fc.integer({ min: 1, max: 299 }),
        async (ci, before, after, cuts, at) => {
          const c = keyedCases[ci]!;
          const spec = specOf(c);
          const expected = await single(c);
          const { ts, v, keys } = columns(true);
          const end = Math.min(300, v.length);
          const out = new Float64Array(end).fill(-1);
          const first = await operators(spec, before);
          runAll(first, ts, v, keys, out, 0, at, cuts);
          const second = await rescale(spec, first, after);
          runAll(second, ts, v, keys, out, at, end, cuts);
          expect(same(out, expected.subarray(0, end))).toBe(true);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('reports the key groups changed since the previous call', async () => {
    const spec = rowsSpec({ kind: 'rolling', op: 'sum', window: '1s' });
    const [op] = await operators(spec, 1);
    const keys = new Uint32Array([1, 2, 1]);
    op!.processParts([{ values: new Float64Array([1, 2, 3]), keys, times: new Float64Array([0, 1, 2]), out: new Float64Array(3) }]);
    const { keyGroupOf } = await import('../src/scheduler/hash.js');
    expect(op!.changedGroups()).toEqual([...new Set([keyGroupOf(1, KEY_GROUPS), keyGroupOf(2, KEY_GROUPS)])].sort((a, b) => a - b));
    expect(op!.changedGroups()).toEqual([]);
  });

  it('refuses a key group state of another spec, of another group, or restored twice', async () => {
    const spec = rowsSpec({ kind: 'rolling', op: 'sum', window: '1s' });
    const [op] = await operators(spec, 1);
    op!.processParts([{ values: new Float64Array([1]), keys: new Uint32Array([5]), times: new Float64Array([0]), out: new Float64Array(1) }]);
    const { keyGroupOf } = await import('../src/scheduler/hash.js');
    const g = keyGroupOf(5, KEY_GROUPS);
    const bytes = op!.snapshotGroup(g)!;
    const [other] = await operators(rowsSpec({ kind: 'rolling', op: 'mean', window: '1s' }), 1);
    expect(() => other!.restoreGroup(g, bytes)).toThrow(/checkpoint state of key group \d+ is invalid: it is of/);
    const [fresh] = await operators(spec, 1);
    expect(() => fresh!.restoreGroup((g + 1) % KEY_GROUPS, bytes)).toThrow(`checkpoint state of key group ${(g + 1) % KEY_GROUPS} is invalid: snapshot state is inconsistent: key 5 is not of this key group`);
    fresh!.restoreGroup(g, bytes);
    expect(() => fresh!.restoreGroup(g, bytes)).toThrow(`checkpoint state of key group ${g} is invalid: restored twice`);
  });
});

describe('keyed operator: memory', () => {
  it('regression: 100 000 keys of mean window 100 took 219 MB of slab (doubled on growth); in fixed chunks they fit in < 200 MB', async () => {
    const spec = rowsSpec({ op: 'mean', window: 100 });
    const before = process.memoryUsage().arrayBuffers;
    const [op] = await operators(spec, 1);
    const n = 100_000;
    const keys = new Uint32Array(n);
    for (let i = 0; i < n; i++) keys[i] = i * 7919;
    const values = new Float64Array(n).fill(1);
    op!.processParts([{ values, keys, out: values }]);
    expect((op as unknown as { keys: number }).keys).toBe(n);
    // The slab lies in the operator's WebAssembly memory, which arrayBuffers does not count.
    const wasm = (op as unknown as { ex: { memory: WebAssembly.Memory } }).ex.memory.buffer.byteLength;
    const grown = process.memoryUsage().arrayBuffers - before + wasm;
    expect(grown).toBeLessThan(200 * 2 ** 20);
    expect(grown).toBeGreaterThan(n * 1672);
  });
});

/**
 * Keys whose clocks are skewed (each key's times lag the stream by its own
 * amount) and that go silent for a while: a ttl forgets keys against the whole
 * stream's clock, which no worker sees from its own keys alone.
 */
function skewed(seed: number, n: number): { ts: Float64Array; v: Float64Array; keys: Uint32Array } {
  const rand = mulberry32(seed);
  const nKeys = 2 + Math.floor(rand() * 12);
  const clock = Array.from({ length: nKeys }, () => Math.floor(rand() * 3000));
  const ts = new Float64Array(n), v = new Float64Array(n), keys = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    const k = Math.floor(rand() * rand() * nKeys); // low keys busy, high keys rare (idle past the ttl)
    clock[k]! += rand() < 0.05 ? 1500 : Math.floor(rand() * 60);
    ts[i] = clock[k]!;
    v[i] = rand() < 0.05 ? NaN : Math.round(rand() * 1000) / 8;
    keys[i] = k;
  }
  return { ts, v, keys };
}

describe('keyed operator: rolling by duration with a ttl', () => {
  const TTL_OPS: TimeOp[] = ['sum', 'mean', 'count', 'var', 'median', 'last'];

  it('regression: the keyed operator refused a ttl for rolling by duration; with one, over 1 to 4 workers, any batch split, rescaled from every key group and then from only those changedGroups() reported plus group 0\'s clock: the single operator\'s bits (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 1_000_000 }),
        fc.constantFrom(...TTL_OPS),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 4 }),
        fc.array(fc.integer({ min: 1, max: 399 }), { maxLength: 8 }),
        async (seed, op, w1, w2, w3, cuts) => {
          const { ts, v, keys } = skewed(seed, 400);
          const window = [200, 500][seed % 2]!;
          const ttl = [150, 400, 800][seed % 3]!;
          const expected = await rollingByTime(ts, v, { op, window, ttl, keys: 'number' }, keys);
          const spec = rowsSpec({ kind: 'rolling', op, window, ttl });
          const out = new Float64Array(v.length).fill(-1);
          const [c1, c2] = [130, 270];
          let ops = await operators(spec, w1);
          runAll(ops, ts, v, keys, out, 0, c1, cuts);
          // A full checkpoint at c1, then a delta of the changed groups at c2.
          const chain = new Map<number, Uint8Array>();
          for (const o of ops) {
            o.changedGroups();
            for (let g = 0; g < KEY_GROUPS; g++) {
              const bytes = o.snapshotGroup(g);
              if (bytes !== undefined) chain.set(g, bytes);
            }
          }
          ops = await restoreFrom(spec, chain, w2);
          runAll(ops, ts, v, keys, out, c1, c2, cuts);
          for (const o of ops) for (const g of o.changedGroups()) chain.set(g, o.snapshotGroup(g)!);
          ops = await restoreFrom(spec, chain, w3);
          runAll(ops, ts, v, keys, out, c2, v.length, cuts);
          if (!same(out, expected)) throw new Error(`seed ${seed}, ${JSON.stringify(spec)}, workers ${w1} → ${w2} → ${w3}: row ${out.findIndex((x, i) => !Object.is(x, expected[i]))} differs`);
        },
      ),
      { numRuns: 40, seed: 1212 },
    );
  });

  it('a key whose newest row is more than the ttl behind the stream\'s clock holds nothing once swept: after a burst of distinct keys on 2 workers, state and key group snapshots return to within 10 %', async () => {
    const spec = rowsSpec({ kind: 'rolling', op: 'mean', window: 1000, ttl: 1000 });
    const ops = (await operators(spec, 2)) as TimeRollingOperator[];
    const feed = (n: number, t0: number, firstKey: number, keyCount: number): void => {
      const ts = new Float64Array(n), v = new Float64Array(n), keys = new Uint32Array(n);
      for (let i = 0; i < n; i++) {
        keys[i] = firstKey + (i % keyCount);
        ts[i] = t0 + Math.floor(i / keyCount) * 10;
        v[i] = i % 7;
      }
      runAll(ops, ts, v, keys, new Float64Array(n), 0, n, []);
    };
    const size = (): { state: number; snapshots: number } => {
      let snapshots = 0;
      for (const o of ops) for (let g = 0; g < KEY_GROUPS; g++) snapshots += o.snapshotGroup(g)?.length ?? 0;
      return { state: ops.reduce((a, o) => a + o.stateBytes, 0), snapshots };
    };
    feed(5_000, 0, 0, 100);
    const before = size();
    feed(60_000, 500, 1000, 20_000); // 20 000 keys of 3 rows each, then silent
    expect(size().state).toBeGreaterThan(10 * before.state);
    feed(5_000, 3000, 0, 100); // the steady keys move the clock on past the burst's ttl
    const after = size();
    expect(after.state).toBeLessThan(1.1 * before.state);
    expect(after.snapshots).toBeLessThan(1.1 * before.snapshots);
  });
});

describe('scheduler: rolling by duration on workers', () => {
  it('the time-rolling fixtures through the scheduler at 1 to 4 workers give the single operator\'s bytes', async () => {
    for (const [n, c] of fx.cases.filter((x) => x.keyed && ['mean', 'median', 'var', 'first'].includes(x.op)).slice(0, 8).entries()) {
      const expected = await single(c);
      const { ts, v, keys } = columns(true);
      const sink = memorySink();
      const job = await createJob({ adapter: nodeWorkers(), operator: rawSpecOf(c), keyed: true, workers: 1 + (n % 4), keyGroups: 16, sink });
      await job.run(arraySource(v, { keys, times: ts, batchRows: 37 }));
      expect(same(sink.committed(), expected), JSON.stringify(c)).toBe(true);
    }
  });

  it('resumes from a checkpoint on another number of workers, and survives a killed worker: same bytes', async () => {
    const c = fx.cases.find((x) => x.keyed && x.op === 'std')!;
    const expected = await single(c);
    const { ts, v, keys } = columns(true);
    const store = memoryCheckpointStore();
    const half = 150;
    const first = await createJob({ adapter: nodeWorkers(), operator: rawSpecOf(c), keyed: true, workers: 3, keyGroups: 16, sink: memorySink(), checkpoints: { store, everyRows: 50, everyMs: Infinity } });
    for (let a = 0; a < half; a += 25) await first.push({ values: v.slice(a, a + 25), keys: keys!.slice(a, a + 25), times: ts.slice(a, a + 25) });
    await first.finish();
    const sink = memorySink();
    const second = await createJob({
      adapter: nodeWorkers(),
      operator: rawSpecOf(c),
      keyed: true,
      workers: 2,
      keyGroups: 16,
      sink,
      resume: true,
      checkpoints: { store, everyRows: 40, everyMs: Infinity },
      faults: [{ afterBatch: 3, worker: 1, kind: 'terminate' }],
      restart: { initialDelayMs: 0 },
    });
    expect(second.offset).toBe(half);
    await second.run(arraySource(v, { keys, times: ts, batchRows: 20 }));
    expect(same(sink.committed(), expected.subarray(half))).toBe(true);
  });

  it('with a ttl: at 1 to 3 workers, and resumed from a checkpoint on another number of workers with a killed worker, the single operator\'s bytes', async () => {
    // 12 keys in turn, key k lagging the stream by k × 300 ms: against the stream's clock every lagging key is
    // forgotten at each of its rows; against its own worker's rows alone, the keys lagging least would not be.
    const n = 600;
    const keys = Uint32Array.from({ length: n }, (_, i) => i % 12);
    const ts = Float64Array.from({ length: n }, (_, i) => 10 * Math.floor(i / 12) + 5000 - 300 * (i % 12));
    const v = Float64Array.from({ length: n }, (_, i) => (i * 7919) % 1000);
    const plain = { op: 'mean' as const, window: 500, ttl: 400 };
    const expected = await rollingByTime(ts, v, { ...plain, keys: 'number' }, keys);
    expect(same(expected, await rollingByTime(ts, v, { ...plain, ttl: Infinity, keys: 'number' }, keys))).toBe(false);
    const operator = { kind: 'rolling' as const, ...plain };
    for (const workers of [1, 2, 3]) {
      const sink = memorySink();
      const job = await createJob({ adapter: nodeWorkers(), operator, keyed: true, workers, keyGroups: 16, sink });
      await job.run(arraySource(v, { keys, times: ts, batchRows: 37 }));
      expect(same(sink.committed(), expected), `${workers} workers`).toBe(true);
    }
    const store = memoryCheckpointStore({ keep: 6 }); // deltas (fullEvery 3) need their chain
    const half = 300;
    const first = await createJob({ adapter: nodeWorkers(), operator, keyed: true, workers: 3, keyGroups: 16, sink: memorySink(), checkpoints: { store, everyRows: 50, everyMs: Infinity, fullEvery: 3 } });
    for (let a = 0; a < half; a += 25) await first.push({ values: v.slice(a, a + 25), keys: keys.slice(a, a + 25), times: ts.slice(a, a + 25) });
    await first.finish();
    const sink = memorySink();
    const second = await createJob({
      adapter: nodeWorkers(),
      operator,
      keyed: true,
      workers: 2,
      keyGroups: 16,
      sink,
      resume: true,
      checkpoints: { store, everyRows: 40, everyMs: Infinity, fullEvery: 3 },
      faults: [{ afterBatch: 3, worker: 1, kind: 'terminate' }],
      restart: { initialDelayMs: 0 },
    });
    expect(second.offset).toBe(half);
    await second.run(arraySource(v, { keys, times: ts, batchRows: 20 }));
    expect(same(sink.committed(), expected.subarray(half))).toBe(true);
  });

  it('refuses a ttl on several workers without shared memory, where a worker would not see every row\'s time', async () => {
    await expect(
      createJob({ adapter: { ...nodeWorkers(), sharedMemory: false }, operator: { kind: 'rolling', op: 'sum', window: '1s', ttl: '1s' }, keyed: true, workers: 2, sink: memorySink() }),
    ).rejects.toThrow("operator.ttl on more than one worker needs an adapter with shared memory (each worker reads every row's time): use workers: 1, or nodeWorkers() or Web Workers with cross-origin isolation");
  });

  it('refuses maxOutOfOrderness in a rolling operator spec, saying to order the rows first', async () => {
    await expect(createJob({ adapter: nodeWorkers(), operator: { kind: 'rolling', op: 'sum', window: '1s', maxOutOfOrderness: '1s' }, workers: 1, sink: memorySink() })).rejects.toThrow(
      "operator.maxOutOfOrderness must be 0: the keyed operator takes each key's rows in time order (put them in order before the job, as run --workers does)",
    );
  });

  it('refuses batches without times for an event-time operator, and times for a kernel', async () => {
    const timed = await createJob({ adapter: nodeWorkers(), operator: { kind: 'rolling', op: 'sum', window: '1s' }, workers: 1, sink: memorySink() });
    await expect(timed.push({ values: new Float64Array([1]) })).rejects.toThrow('batch.times must be a Float64Array: the operator runs on event time, got undefined');
    await timed.abort();
    const kernel = await createJob({ adapter: nodeWorkers(), operator: { op: 'sum', window: 2 }, workers: 1, sink: memorySink() });
    await expect(kernel.push({ values: new Float64Array([1]), times: new Float64Array([0]) })).rejects.toThrow("batch.times is not allowed: the operator is not an event-time one (kind: 'rolling')");
    await kernel.abort();
  });
});

describe('keyed operator: tumbling, hopping and session windows', () => {
  /** Rows of `keys` keys, time mostly rising with jitter up to `jitter` ms (disorder, late rows), NaN now and then. */
  function rows(seed: number, n: number, keys: number, jitter: number): { ts: Float64Array; v: Float64Array; k: Uint32Array } {
    let s = seed;
    const next = (): number => {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      return s / 4294967296;
    };
    const ts = new Float64Array(n), v = new Float64Array(n), k = new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      ts[i] = i * 37 + Math.floor(next() * jitter);
      v[i] = next() < 0.05 ? NaN : Math.round((next() - 0.5) * 1e4) / 8;
      k[i] = Math.floor(next() * keys) * 977;
    }
    return { ts, v, k };
  }

  const SPECS = [
    { kind: 'tumbling', op: 'sum', size: '1s' },
    { kind: 'tumbling', op: 'median', size: 700, maxOutOfOrderness: 300, allowedLateness: 500 },
    { kind: 'hopping', op: 'mean', size: 1500, step: 500, maxOutOfOrderness: 200, allowedLateness: 300 },
    { kind: 'hopping', op: 'first', size: 1000, step: 250, offset: 100 },
    { kind: 'session', op: 'max', gap: 200, maxOutOfOrderness: 150, allowedLateness: 400 },
    { kind: 'session', op: 'std', gap: 120 },
  ] as const;

  /**
   * Runs `rows` through `workers` partitioned operators in batches cut at
   * `cuts`, rescaling to `after` workers at row `at`; merged output. Routed:
   * as on the scheduler, each operator gets its own rows and the batch's rises
   * (processRouted), and the rescale restores from the groups changedGroups()
   * reported after each batch (as a chain of incremental checkpoints) and the
   * clock of group 0.
   */
  async function partitioned(spec: (typeof SPECS)[number], keyed: boolean, data: ReturnType<typeof rows>, workers: number, after: number, at: number, cuts: number[], routed = false) {
    const { keyedWindowSpec, mergeWindows, WindowsGroupOperator } = await import('../src/keyed/windows.js');
    const { keyGroupOf } = await import('../src/scheduler/hash.js');
    const timed = 'kind' in spec;
    let risesMax = -Infinity;
    const stored = new Map<number, Uint8Array>();
    const route = (op: InstanceType<typeof WindowsGroupOperator>, w: number, n: number, a: number, b: number) => {
      const [lo, hi] = keyGroupRange(w, KEY_GROUPS, n);
      const own: number[] = [];
      for (let i = a; i < b; i++) {
        const g = keyGroupOf(keyed ? data.k[i]! : 0, KEY_GROUPS);
        if (g >= lo && g < hi) own.push(i);
      }
      const riseAt: number[] = [];
      const riseTs: number[] = [];
      let max = risesMax;
      for (let i = a; i < b && timed; i++) {
        if (data.ts[i]! > max) {
          max = data.ts[i]!;
          riseAt.push(i - a);
          riseTs.push(max);
        }
      }
      const pick = (arr: Float64Array): Float64Array => Float64Array.from(own, (i) => arr[i]!);
      const keys = keyed ? Uint32Array.from(own, (i) => data.k[i]!) : undefined;
      return op.processRouted(timed ? pick(data.ts) : undefined, pick(data.v), keys, Uint32Array.from(own, (i) => i - a), timed ? { at: Uint32Array.from(riseAt), times: Float64Array.from(riseTs) } : undefined, b - a);
    };
    const normalized = keyedWindowSpec(spec, keyed);
    const make = (w: number, n: number) => new WindowsGroupOperator(normalized, KEY_GROUPS, keyGroupRange(w, KEY_GROUPS, n));
    let ops = Array.from({ length: workers }, (_, w) => make(w, workers));
    const windows: unknown[] = [];
    const late: unknown[] = [];
    const emit = (outs: ReturnType<(typeof ops)[number]['flush']>[]): void => {
      const m = mergeWindows(outs);
      windows.push(...m.windows);
      late.push(...m.late);
    };
    const n = data.ts.length;
    const bounds = [...new Set([0, ...cuts.filter((c) => c > 0 && c < n), at, n])].sort((a, b) => a - b);
    for (let i = 0; i + 1 < bounds.length; i++) {
      const a = bounds[i]!, b = bounds[i + 1]!;
      if (a === at && after !== workers) {
        const snaps = new Map<number, Uint8Array>();
        for (const op of ops) for (let g = 0; g < KEY_GROUPS; g++) {
          const bytes = op.snapshotGroup(g);
          if (bytes !== undefined) snaps.set(g, bytes);
        }
        const from = routed ? stored : snaps;
        ops = Array.from({ length: after }, (_, w) => make(w, after));
        ops.forEach((op, w) => {
          const [lo, hi] = keyGroupRange(w, KEY_GROUPS, after);
          for (let g = lo; g < hi; g++) if (from.has(g)) op.restoreGroup(g, from.get(g)!);
          if (routed && from.has(0)) op.restoreClock(from.get(0)!);
        });
        risesMax = -Infinity;
      }
      if (!routed) emit(ops.map((op) => op.processRows(data.ts.subarray(a, b), data.v.subarray(a, b), keyed ? data.k.subarray(a, b) : undefined)));
      else {
        emit(ops.map((op, w) => route(op, w, ops.length, a, b)));
        for (let i = a; i < b && timed; i++) risesMax = Math.max(risesMax, data.ts[i]!);
        for (const op of ops) for (const g of op.changedGroups()) stored.set(g, op.snapshotGroup(g)!);
      }
    }
    emit(ops.map((op) => op.flush()));
    return { windows, late };
  }

  /**
   * Property: `partitioned` over 1 to 4 workers, any batch split (up to
   * `maxCuts` cuts) and a rescale at any row gives the single operator's
   * windows and late rows, in its order.
   */
  async function matchesSingle(o: { maxCuts: number; keyCount: number; routed: boolean; someWindows: boolean }): Promise<void> {
    const { windowsByTime } = await import('../src/time/windows.js');
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: SPECS.length - 1 }),
        fc.boolean(),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 0, max: 400 }),
        fc.array(fc.integer({ min: 1, max: 399 }), { maxLength: o.maxCuts }),
        fc.integer({ min: 1, max: 1000 }),
        async (si, keyed, workers, after, at, cuts, seed) => {
          const spec = SPECS[si]!;
          const data = rows(seed, 400, o.keyCount, 900);
          const single = await windowsByTime(data.ts, data.v, { ...spec, keys: keyed ? 'number' : 'none' }, keyed ? data.k : undefined);
          if (o.someWindows) expect(single.windows.length).toBeGreaterThan(0);
          const got = await partitioned(spec, keyed, data, workers, after, at, cuts, o.routed);
          expect(got.windows).toEqual(single.windows);
          expect(got.late).toEqual(single.late);
        },
      ),
      { numRuns: 60 },
    );
  }

  it('partitioned by key group over 1 to 4 workers, any batch split, rescaled mid-stream: the single operator\'s windows and late rows, in its order (property)', async () => {
    await matchesSingle({ maxCuts: 5, keyCount: 7, routed: false, someWindows: true });
  });

  it('regression: routed (each worker its own rows and the batch\'s rises, not every row) over 1 to 4 workers, any batch split, rescaled from only the groups changedGroups() reported and group 0\'s clock: the single operator\'s windows and late rows, in its order (property)', async () => {
    // Many keys, few rows each: most groups change only now and then, so a stale group would show.
    await matchesSingle({ maxCuts: 12, keyCount: 60, routed: true, someWindows: false });
  });

  it('on the scheduler at 1 to 4 workers, keyed or not: the single operator\'s windows and late rows', async () => {
    const { windowsByTime } = await import('../src/time/windows.js');
    for (const [n, spec] of SPECS.entries()) {
      const keyed = n !== 3;
      const data = rows(n + 1, 600, 9, 900);
      const single = await windowsByTime(data.ts, data.v, { ...spec, keys: keyed ? 'number' : 'none' }, keyed ? data.k : undefined);
      const sink = memorySink();
      const job = await createJob({ adapter: nodeWorkers(), operator: spec, keyed, workers: 1 + (n % 4), keyGroups: 16, sink });
      await job.run(arraySource(data.v, { ...(keyed ? { keys: data.k } : {}), times: data.ts, batchRows: 53 }));
      expect(sink.committedWindows(), JSON.stringify(spec)).toEqual({ windows: single.windows, late: single.late });
    }
  });

  it('resumes from a checkpoint on another number of workers, survives a killed worker, and emits the end-of-stream windows once', async () => {
    const { windowsByTime } = await import('../src/time/windows.js');
    const spec = SPECS[4];
    const data = rows(99, 600, 9, 900);
    const single = await windowsByTime(data.ts, data.v, { ...spec, keys: 'number' }, data.k);
    // Incremental checkpoints too: the end-of-stream flush changes every group.
    const store = memoryCheckpointStore({ keep: 6 });
    const options = { adapter: nodeWorkers(), operator: spec, keyed: true, keyGroups: 16, restart: { initialDelayMs: 0 } };
    const first = memorySink();
    const a = await createJob({ ...options, workers: 3, sink: first, checkpoints: { store, everyRows: 100, everyMs: Infinity, fullEvery: 3 } });
    for (let i = 0; i < 300; i += 30) await a.push({ values: data.v.slice(i, i + 30), keys: data.k.slice(i, i + 30), times: data.ts.slice(i, i + 30) });
    await a.checkpoint();
    await a.abort();
    const second = memorySink();
    const b = await createJob({ ...options, workers: 2, sink: second, resume: true, checkpoints: { store, everyRows: 70, everyMs: Infinity, fullEvery: 3 }, faults: [{ afterBatch: 4, worker: 1, kind: 'terminate' }] });
    expect(b.offset).toBe(300);
    await b.run(arraySource(data.v, { keys: data.k, times: data.ts, batchRows: 40 }));
    expect(b.restarts).toBe(1);
    expect(bothWindows(first, second)).toEqual({ windows: single.windows, late: single.late });
    // Resumed after the end: nothing more.
    const third = memorySink();
    const c = await createJob({ ...options, workers: 4, sink: third, resume: true, checkpoints: { store, fullEvery: 3 } });
    await c.run(arraySource(data.v, { keys: data.k, times: data.ts }));
    expect(third.committedWindows()).toEqual({ windows: [], late: [] });
  });

  it('count windows: partitioned and rescaled, and on the scheduler at 1 to 3 workers: the single operator\'s windows, in its order', async () => {
    const { createCountWindows } = await import('../src/time/count.js');
    const COUNT = [{ op: 'mean', size: 5 }, { op: 'first', size: 4, step: 2 }, { op: 'median', size: 7, step: 3, minPeriods: 2 }] as const;
    for (const [n, spec] of COUNT.entries()) {
      const data = rows(n + 5, 500, 11, 0);
      const single = await createCountWindows({ ...spec, keys: 'number' });
      const expected = [...single.push(data.v, data.k).windows, ...single.flush().windows];
      expect(expected.length).toBeGreaterThan(100);
      const got = await partitioned(spec as never, true, data, 1 + n, 3 - n, 137, [50, 333]);
      expect(got.windows, JSON.stringify(spec)).toEqual(expected);
      const routed = await partitioned(spec as never, true, data, 1 + n, 3 - n, 137, [50, 333], true);
      expect(routed.windows, JSON.stringify(spec)).toEqual(expected);
      const sink = memorySink();
      const job = await createJob({ adapter: nodeWorkers(), operator: { kind: 'count', ...spec }, keyed: true, workers: 1 + n, keyGroups: 16, sink });
      await job.run(arraySource(data.v, { keys: data.k, batchRows: 61 }));
      expect(sink.committedWindows(), JSON.stringify(spec)).toEqual({ windows: expected, late: [] });
    }
  });

  it('idleTimeoutMs (off by default): with no rows for that long, the watermark advances and the open windows fire', async () => {
    const windowsAfterIdle = async (idleTimeoutMs?: number): Promise<number[][]> => {
      const sink = memorySink();
      const job = await createJob({
        adapter: nodeWorkers(),
        operator: { kind: 'tumbling', op: 'sum', size: '1s' },
        keyed: true,
        workers: 2,
        sink,
        heartbeat: { intervalMs: 20 },
        ...(idleTimeoutMs !== undefined ? { idleTimeoutMs } : {}),
      });
      await job.push({ values: new Float64Array([1, 2, 3]), keys: new Uint32Array([1, 2, 1]), times: new Float64Array([100, 500, 900]) });
      // Far longer than the timeout: the idle time adds up past the window's end (1000).
      await new Promise((resolve) => setTimeout(resolve, 1000));
      await job.checkpoint();
      const got = sink.committedWindows().windows.map((w) => [w.key as number, w.start, w.end, w.value]);
      await job.abort();
      return got;
    };
    expect(await windowsAfterIdle()).toEqual([]);
    expect(await windowsAfterIdle(50)).toEqual([
      [1, 0, 1000, 4],
      [2, 0, 1000, 2],
    ]);
  });

  /** The whole operator's checkpoint: every key group's snapshot. */
  function checkpointBytes(op: { snapshotGroup(g: number): Uint8Array | undefined }): number {
    let bytes = 0;
    for (let g = 0; g < KEY_GROUPS; g++) bytes += op.snapshotGroup(g)?.length ?? 0;
    return bytes;
  }

  /** Pushes one row at time t for each of `count` keys from `first`, in batches. */
  function burst(op: { processRows(ts: Float64Array, v: Float64Array, k: Uint32Array): unknown }, t: number, first: number, count: number): void {
    const batch = 1 << 16;
    for (let from = 0; from < count; from += batch) {
      const m = Math.min(batch, count - from);
      const k = new Uint32Array(m);
      for (let j = 0; j < m; j++) k[j] = first + from + j;
      op.processRows(new Float64Array(m).fill(t), new Float64Array(m).fill(1), k);
    }
  }

  it('regression: after a burst of 1 000 000 distinct session keys that all close, state and checkpoint return to within 10 % of their size before (each key kept its purged session end forever)', async () => {
    const { keyedWindowSpec, WindowsGroupOperator } = await import('../src/keyed/windows.js');
    const op = new WindowsGroupOperator(keyedWindowSpec({ kind: 'session', op: 'sum', gap: 100, allowedLateness: 50 }, true), KEY_GROUPS);
    burst(op, 0, 0, 1000);
    const before = { held: op.heldItems, bytes: checkpointBytes(op) };
    burst(op, 1000, 1000, 1_000_000);
    expect(op.heldItems).toBeGreaterThan(1_000_000);
    // The steady keys move time on: the burst's sessions fire, are purged, and their keys forgotten.
    burst(op, 10_000, 0, 1000);
    burst(op, 20_000, 0, 1000);
    expect(op.heldItems).toBeLessThan(1.1 * before.held);
    expect(checkpointBytes(op)).toBeLessThan(1.1 * before.bytes);
  });

  it('a row of a purged session\'s key before its end stays late until the watermark makes it late anyway (the purged end is forgotten only then)', async () => {
    const { keyedWindowSpec, WindowsGroupOperator } = await import('../src/keyed/windows.js');
    const spec = keyedWindowSpec({ kind: 'session', op: 'sum', gap: 100, allowedLateness: 50, maxOutOfOrderness: 500 }, true);
    const op = new WindowsGroupOperator(spec, KEY_GROUPS);
    const late: number[] = [];
    const push = (t: number, key: number): void => {
      late.push(...op.processRows(new Float64Array([t]), new Float64Array([1]), new Uint32Array([key])).late.map((l) => l.ts));
    };
    // Key 7's session [0, 100) is purged at watermark 150; its end is forgotten at watermark 250 (gap + allowedLateness later).
    push(0, 7);
    push(700, 8); // watermark 200: purged, not forgotten
    push(90, 7); // before the purged end: late (90 + gap + allowedLateness is past the watermark, so only the purged end says so)
    expect(op.heldItems).toBeGreaterThan(2);
    push(760, 8); // watermark 260: forgotten
    push(95, 7); // late by the watermark alone
    push(165, 7); // a new session
    expect(late).toEqual([90, 95]);
    expect(op.flush().windows.map((t) => t.window).filter((w) => w.key === 7).map((w) => [w.start, w.end, w.value])).toEqual([[165, 265, 1]]);
  });

  it('regression: tumbling and hopping windows of a burst of distinct keys hold nothing once they are purged (state and checkpoint within 10 %)', async () => {
    const { keyedWindowSpec, WindowsGroupOperator } = await import('../src/keyed/windows.js');
    for (const spec of [{ kind: 'tumbling', op: 'mean', size: 100 }, { kind: 'hopping', op: 'max', size: 200, step: 100, allowedLateness: 100 }] as const) {
      const op = new WindowsGroupOperator(keyedWindowSpec(spec, true), KEY_GROUPS);
      burst(op, 0, 0, 1000);
      const before = { held: op.heldItems, bytes: checkpointBytes(op) };
      burst(op, 50, 1000, 100_000);
      burst(op, 10_000, 0, 1000);
      burst(op, 20_000, 0, 1000);
      expect(op.heldItems, spec.kind).toBeLessThan(1.1 * before.held);
      expect(checkpointBytes(op), spec.kind).toBeLessThan(1.1 * before.bytes);
    }
  });

  it('refuses a key group state of another group', async () => {
    const { keyedWindowSpec, WindowsGroupOperator } = await import('../src/keyed/windows.js');
    const { keyGroupOf } = await import('../src/scheduler/hash.js');
    const spec = keyedWindowSpec({ kind: 'tumbling', op: 'sum', size: '1s' }, true);
    const op = new WindowsGroupOperator(spec, KEY_GROUPS);
    op.processRows(new Float64Array([0, 10]), new Float64Array([1, 2]), new Uint32Array([5, 5]));
    const g = keyGroupOf(5, KEY_GROUPS);
    // Key 5's group, and group 0: it carries the stream's clock, which every row moves.
    expect(op.changedGroups()).toEqual([...new Set([0, g])].sort((a, b) => a - b));
    expect(op.changedGroups()).toEqual([]);
    const other = (g + 1) % KEY_GROUPS;
    expect(() => new WindowsGroupOperator(spec, KEY_GROUPS).restoreGroup(other, op.snapshotGroup(g)!)).toThrow(
      `checkpoint state of key group ${other} is invalid: snapshot state is inconsistent: key 5 is not of this key group`,
    );
  });
});

/** The window records of a job's first run and of its resume, one after the other. */
function bothWindows(first: ReturnType<typeof memorySink>, second: ReturnType<typeof memorySink>): { windows: unknown[]; late: unknown[] } {
  return { windows: [...first.committedWindows().windows, ...second.committedWindows().windows], late: [...first.committedWindows().late, ...second.committedWindows().late] };
}

describe('incremental checkpoints', () => {
  /** Rows where, after the first 2 000, only keys 0 to 9 of 2 000 move. */
  function hotKeys(n: number): { values: Float64Array; keys: Uint32Array } {
    const values = new Float64Array(n), keys = new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      keys[i] = i < 2000 ? i : i % 10;
      values[i] = (i * 7919) % 1000;
    }
    return { values, keys };
  }

  /** Rows 0 to 4 000 of a window job on 3 workers, a checkpoint after every 500 (a full one every 4), then aborted: its sink. */
  async function checkpointedEvery500(spec: { kind: 'tumbling'; op: 'mean' | 'first'; size: number }, store: ReturnType<typeof memoryCheckpointStore>, values: Float64Array, keys: Uint32Array, times: Float64Array): Promise<ReturnType<typeof memorySink>> {
    const sink = memorySink();
    const job = await createJob({ adapter: nodeWorkers(), operator: spec, keyed: true, workers: 3, sink, checkpoints: { store, everyMs: Infinity, fullEvery: 4 } });
    for (let i = 0; i < 4000; i += 500) {
      await job.push({ values: values.slice(i, i + 500), keys: keys.slice(i, i + 500), times: times.slice(i, i + 500) });
      await job.checkpoint();
    }
    await job.abort();
    return sink;
  }

  it('write only the key groups changed since the previous checkpoint, chained to a full one every fullEvery; resuming from a delta on another worker count gives the same bytes', async () => {
    const { decodeCheckpoint } = await import('./scheduler-helpers.js');
    const { values, keys } = hotKeys(6000);
    const spec = { op: 'median', window: 50 } as const;
    const all = memorySink();
    const reference = await createJob({ adapter: nodeWorkers(), operator: spec, keyed: true, workers: 1, sink: all });
    await reference.run(arraySource(values, { keys }));
    const store = memoryCheckpointStore({ keep: 10 });
    const first = await createJob({ adapter: nodeWorkers(), operator: spec, keyed: true, workers: 3, sink: memorySink(), checkpoints: { store, everyMs: Infinity, fullEvery: 4 } });
    // A checkpoint every 500 rows: 1 full, 3 deltas, 1 full, 3 deltas.
    for (let i = 0; i < 4000; i += 500) {
      await first.push({ values: values.slice(i, i + 500), keys: keys.slice(i, i + 500) });
      await first.checkpoint();
    }
    await first.abort();
    const stored = await Promise.all((await store.list()).map(async (id) => decodeCheckpoint(await store.read(id))));
    expect(stored.map((c) => [c.id, c.offset, c.base])).toEqual([
      [8, 4000, 7], [7, 3500, 6], [6, 3000, 5], [5, 2500, undefined], [4, 2000, 3], [3, 1500, 2], [2, 1000, 1], [1, 500, undefined],
    ]);
    // Keys 0 to 9 live in at most 10 of 128 groups: the deltas after the first 2 000 rows hold no more.
    for (const d of stored.slice(0, 3)) expect(d.groups.size).toBeLessThanOrEqual(10);
    expect(stored[3]!.groups.size).toBeGreaterThan(100);
    const sink = memorySink();
    const second = await createJob({ adapter: nodeWorkers(), operator: spec, keyed: true, workers: 2, sink, resume: true, checkpoints: { store, fullEvery: 4 } });
    expect(second.offset).toBe(4000);
    await second.run(arraySource(values, { keys }));
    expect(same(sink.committed(), all.committed().subarray(4000))).toBe(true);
  });

  it('regression: a count kernel\'s delta held every key of each changed key group (about 2.4 keys per touched key at 4 096 groups); it holds only the changed keys (key patches), and the chain restores the bytes of a full checkpoint', async () => {
    const { decodeCheckpoint, latestCheckpoint } = await import('./scheduler-helpers.js');
    const { values, keys } = hotKeys(6000);
    const spec = { op: 'median', window: 50 } as const;
    // 2 000 keys in 16 key groups (125 keys a group): the hot keys 0 to 9 are a few of their groups' keys.
    const run = async (fullEvery: number, store: ReturnType<typeof memoryCheckpointStore>): Promise<void> => {
      const job = await createJob({ adapter: nodeWorkers(), operator: spec, keyed: true, workers: 3, keyGroups: 16, sink: memorySink(), checkpoints: { store, everyMs: Infinity, fullEvery } });
      for (let i = 0; i < 3000; i += 500) {
        await job.push({ values: values.slice(i, i + 500), keys: keys.slice(i, i + 500) });
        await job.checkpoint();
      }
      await job.abort();
    };
    const chained = memoryCheckpointStore({ keep: 10 });
    const fulls = memoryCheckpointStore({ keep: 10 });
    await run(10, chained);
    await run(1, fulls);
    const last = decodeCheckpoint(await chained.read(6));
    expect(last.base).toBe(5);
    // Each key's state: count, size, then the keys (4 bytes) and their states; 10 keys changed.
    const keysIn = (bytes: Uint8Array): number => new DataView(bytes.buffer, bytes.byteOffset).getUint32(0, true);
    expect([...last.groups.values()].reduce((a, b) => a + keysIn(b), 0)).toBe(10);
    expect(last.patches?.size).toBe(last.groups.size);
    // The chain (a full checkpoint and 5 deltas of key patches) gives the full checkpoint's groups, byte for byte.
    const a = (await latestCheckpoint(chained)).checkpoint!;
    const b = (await latestCheckpoint(fulls)).checkpoint!;
    expect(a.chainLength).toBe(6);
    expect([...a.groups.keys()].sort((x, y) => x - y)).toEqual([...b.groups.keys()].sort((x, y) => x - y));
    for (const [g, bytes] of b.groups) expect(Buffer.from(a.groups.get(g)!).equals(Buffer.from(bytes)), `group ${g}`).toBe(true);
    // And a job resumes from it on another worker count with the uninterrupted bytes, through more deltas of
    // key patches and a killed worker (the restart restores the last of them, applied to their full checkpoint).
    const all = memorySink();
    const reference = await createJob({ adapter: nodeWorkers(), operator: spec, keyed: true, workers: 1, keyGroups: 16, sink: all });
    await reference.run(arraySource(values, { keys }));
    const sink = memorySink();
    const second = await createJob({
      adapter: nodeWorkers(),
      operator: spec,
      keyed: true,
      workers: 2,
      keyGroups: 16,
      sink,
      resume: true,
      checkpoints: { store: chained, fullEvery: 10, everyRows: 500, everyMs: Infinity },
      faults: [{ afterBatch: 7, worker: 1, kind: 'terminate' }],
      restart: { initialDelayMs: 0 },
    });
    expect(second.offset).toBe(3000);
    await second.run(arraySource(values, { keys, batchRows: 250 }));
    expect(second.restarts).toBe(1);
    expect(same(sink.committed(), all.committed().subarray(3000))).toBe(true);
  });

  it('refuses a key patch that does not fit the state it patches (BAD_STATE, naming the checkpoint and group); a checkpoint is version 2 only when it holds patches', async () => {
    const { applyDelta, decodeCheckpoint, encodeCheckpoint } = await import('../src/scheduler/checkpoint.js');
    const group = (size: number, ...keys: number[]): Uint8Array => {
      const bytes = new Uint8Array(8 + keys.length * (4 + size));
      const view = new DataView(bytes.buffer);
      view.setUint32(0, keys.length, true);
      view.setUint32(4, size, true);
      keys.forEach((k, i) => view.setUint32(8 + 4 * i, k, true));
      return bytes;
    };
    const base = new Map([[3, group(8, 19, 35)]]);
    expect(() => applyDelta(base, { id: 7, groups: new Map([[3, group(16, 19)]]), patches: new Set([3]) })).toThrow(
      'checkpoint 7: key patch of key group 3 is invalid: states of 16 bytes, the group\'s of 8',
    );
    expect(() => applyDelta(base, { id: 7, groups: new Map([[3, group(8, 19, 19)]]), patches: new Set([3]) })).toThrow('checkpoint 7: key patch of key group 3 is invalid: key 19 appears twice');
    expect(() => applyDelta(base, { id: 7, groups: new Map([[3, group(8, 19).subarray(0, 10)]]), patches: new Set([3]) })).toThrow(
      'checkpoint 7: key patch of key group 3 is invalid: the patch: expected 20 bytes for 1 keys, got 10',
    );
    // A patch replaces its keys' states in place and appends its new keys.
    const patched = applyDelta(base, { id: 7, groups: new Map([[3, group(8, 35, 51).fill(9, 16)]]), patches: new Set([3]) }).get(3)!;
    const view = new DataView(patched.buffer);
    expect([view.getUint32(0, true), view.getUint32(8, true), view.getUint32(12, true), view.getUint32(16, true)]).toEqual([3, 19, 35, 51]);
    expect([...patched.subarray(20)]).toEqual([...new Array(8).fill(0), ...new Array(16).fill(9)]);
    // Patches round-trip through the format; a checkpoint without them is written as before.
    const spec = { op: 'mean', window: 5, minPeriods: 5 } as never;
    const delta = encodeCheckpoint({ id: 2, offset: 10, keyGroups: 8, keyed: true, spec, sinkPosition: null, groups: new Map([[3, group(8, 19)]]), base: 1, patches: new Set([3]) });
    expect(decodeCheckpoint(delta).patches).toEqual(new Set([3]));
    const full = encodeCheckpoint({ id: 2, offset: 10, keyGroups: 8, keyed: true, spec, sinkPosition: null, groups: new Map([[3, group(8, 19)]]) });
    expect(new DataView(full.buffer).getUint16(4, true)).toBe(1); // without patches: version 1, as before
  });

  it('checkpoints of the format before key patches (version 1, deltas of whole key groups) still restore and continue to the same bytes', async () => {
    const fixture = JSON.parse(readFileSync(new URL('./fixtures/checkpoints-v1.json', import.meta.url), 'utf8')) as { entries: [number, string][] };
    const n = 600;
    const values = Float64Array.from({ length: n }, (_, i) => ((i * 7919) % 1000) / 8);
    const keys = Uint32Array.from({ length: n }, (_, i) => (i < 200 ? i % 40 : (i * 13) % 5));
    const spec = { op: 'mean', window: 5 } as const;
    const all = memorySink();
    const reference = await createJob({ adapter: nodeWorkers(), operator: spec, keyed: true, workers: 1, keyGroups: 8, sink: all });
    await reference.run(arraySource(values, { keys }));
    const store = memoryCheckpointStore({ keep: 10 });
    for (const [id, hex] of fixture.entries) await store.save(id, Uint8Array.from(Buffer.from(hex, 'hex')));
    const sink = memorySink();
    const job = await createJob({ adapter: nodeWorkers(), operator: spec, keyed: true, workers: 3, keyGroups: 8, sink, resume: true, checkpoints: { store, fullEvery: 4 } });
    expect(job.refused).toEqual([]);
    const from = job.offset;
    expect(from).toBeGreaterThan(0);
    await job.run(arraySource(values, { keys }));
    expect(same(sink.committed(), all.committed().subarray(from))).toBe(true);
  });

  it('regression: a window job\'s deltas hold only the key groups whose windows changed (every group was written whenever any row arrived); resuming from a delta on another worker count gives the same windows', async () => {
    const { decodeCheckpoint } = await import('./scheduler-helpers.js');
    const { windowsByTime } = await import('../src/time/windows.js');
    const { values, keys } = hotKeys(6000);
    const times = Float64Array.from(values, (_, i) => i);
    const spec = { kind: 'tumbling', op: 'mean', size: 1000 } as const;
    const single = await windowsByTime(times, values, { ...spec, keys: 'number' }, keys);
    const store = memoryCheckpointStore({ keep: 10 });
    const first = await checkpointedEvery500(spec, store, values, keys, times);
    const stored = await Promise.all((await store.list()).map(async (id) => decodeCheckpoint(await store.read(id))));
    expect(stored.map((c) => [c.id, c.base])).toEqual([[8, 7], [7, 6], [6, 5], [5, undefined], [4, 3], [3, 2], [2, 1], [1, undefined]]);
    // After row 2 500 only keys 0 to 9 move (and no cold key's window is left to fire): their groups and group 0 (the clock).
    for (const d of stored.slice(0, 3)) {
      expect(d.groups.size).toBeLessThanOrEqual(11);
      expect(d.groups.has(0)).toBe(true);
    }
    const second = memorySink();
    const b = await createJob({ adapter: nodeWorkers(), operator: spec, keyed: true, workers: 2, sink: second, resume: true, checkpoints: { store, fullEvery: 4 } });
    expect(b.offset).toBe(4000);
    await b.run(arraySource(values, { keys, times }));
    expect(bothWindows(first, second)).toEqual({ windows: single.windows, late: single.late });
  });

  it('a worker whose key groups all come from an older checkpoint takes the stream clock of group 0: a row late by the whole stream\'s watermark stays late after a resume', async () => {
    const { decodeCheckpoint } = await import('./scheduler-helpers.js');
    const { windowsByTime } = await import('../src/time/windows.js');
    const { keyGroupOf } = await import('../src/scheduler/hash.js');
    // Hot keys of groups 0 to 63 only: after a resume on 2 workers, worker 1 (groups 64 to 127) holds no group newer than the last full checkpoint.
    const groups = 128; // the job's default
    const hot: number[] = [];
    for (let k = 0; hot.length < 10; k++) if (keyGroupOf(k, groups) < 64) hot.push(k);
    let cold = 2000;
    while (keyGroupOf(cold, groups) < 64) cold++;
    const n = 4500;
    const values = new Float64Array(n), keys = new Uint32Array(n), times = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      keys[i] = i < 2000 ? i : hot[i % 10]!;
      times[i] = i;
      values[i] = (i * 7919) % 1000;
    }
    // Row 4 000, the first after the resume: a key of worker 1 at time 2 600, late by the stream's watermark (3 999).
    keys[4000] = cold;
    times[4000] = 2600;
    const spec = { kind: 'tumbling', op: 'first', size: 1000 } as const;
    const single = await windowsByTime(times, values, { ...spec, keys: 'number' }, keys);
    expect(single.late.map((l) => l.row)).toEqual([4000]);
    const store = memoryCheckpointStore({ keep: 10 });
    const first = await checkpointedEvery500(spec, store, values, keys, times);
    const last = decodeCheckpoint(await store.read(8));
    expect([...last.groups.keys()].every((g) => g < 64)).toBe(true);
    const second = memorySink();
    const b = await createJob({ adapter: nodeWorkers(), operator: spec, keyed: true, workers: 2, sink: second, resume: true, checkpoints: { store, fullEvery: 4 } });
    await b.run(arraySource(values, { keys, times }));
    expect(bothWindows(first, second)).toEqual({ windows: single.windows, late: single.late });
  });

  it('refuses a delta whose base is missing or corrupt, naming it (BROKEN_CHAIN), and falls back to an older checkpoint', async () => {
    const { latestCheckpoint } = await import('./scheduler-helpers.js');
    const { values, keys } = hotKeys(3000);
    const store = memoryCheckpointStore({ keep: 10 });
    const job = await createJob({ adapter: nodeWorkers(), operator: { op: 'sum', window: 5 }, keyed: true, workers: 2, sink: memorySink(), checkpoints: { store, everyMs: Infinity, fullEvery: 3 } });
    for (let i = 0; i < 3000; i += 1000) {
      await job.push({ values: values.slice(i, i + 1000), keys: keys.slice(i, i + 1000) });
      await job.checkpoint();
    }
    await job.abort();
    expect(await store.list()).toEqual([3, 2, 1]); // 1 full, 2 and 3 deltas
    const corrupt = {
      list: () => store.list(),
      read: async (id: number) => {
        const bytes = (await store.read(id)).slice();
        if (id === 2) bytes[bytes.length - 9]! ^= 1;
        return bytes;
      },
    };
    const a = await latestCheckpoint(corrupt);
    expect(a.checkpoint?.id).toBe(1);
    expect(a.refused.map((r) => [r.id, (r.error as { code?: string }).code, r.error.message.replace(/ \(stored.*$/, '')])).toEqual([
      [3, 'BROKEN_CHAIN', 'incremental checkpoint 3 needs checkpoint 2, which is refused: checksum mismatch: checkpoint is corrupt'],
      [2, 'CHECKSUM_MISMATCH', 'checksum mismatch: checkpoint is corrupt'],
    ]);
    const missing = { list: async () => [3, 2], read: (id: number) => store.read(id) };
    const b = await latestCheckpoint(missing);
    expect(b.checkpoint).toBeUndefined();
    expect(b.refused.map((r) => r.error.message)).toEqual([
      'incremental checkpoint 3 needs checkpoint 1, which the store no longer holds (keep at least checkpoints.fullEvery checkpoints)',
      'incremental checkpoint 2 needs checkpoint 1, which the store no longer holds (keep at least checkpoints.fullEvery checkpoints)',
    ]);
  });
});
