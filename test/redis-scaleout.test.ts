// Issue 14, Redis scale-out that scales: keys as a binary key column (job
// format 3), one kernel operator per worker for every partition it holds, and
// a partition's keys dropped from it when the partition is given back.
import { afterEach, describe, expect, test, vi } from 'vitest';
import { compiledModule, instantiateKernel } from '../src/engine.js';
import { createKernel } from '../src/index.js';
import { decodeColumn, decodeKeyColumn, decodeRows, encodeColumn, encodeKeyColumn } from '../src/redis/codec.js';
import { KeyedKernels, PartitionState } from '../src/redis/keyed.js';
import { createJob, type Job } from '../src/redis/job.js';
import { createProducer } from '../src/redis/producer.js';
import { startWorker } from '../src/redis/worker.js';
import { createKernelOperator } from '../src/scheduler/operator.js';
import { keyGroupOf } from '../src/scheduler/hash.js';
import { normalizeSpec, planFor } from '../src/spec.js';
import type { KernelSpec } from '../src/types.js';
import { connect, makeRows, RedisServer, runCli, stateRecords, verifyJob, waitDrained, WorkerProcess } from './redis-harness.js';

// Counts the WebAssembly instances the worker makes (the real function runs).
vi.mock('../src/engine.js', async (importOriginal) => {
  const engine = await importOriginal<typeof import('../src/engine.js')>();
  return { ...engine, instantiateKernel: vi.fn(engine.instantiateKernel) };
});

const SPEC_SUM: KernelSpec = { op: 'sum', window: 3, minPeriods: 1 };

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanup.reverse()) await f().catch(() => {});
  cleanup = [];
});

/** A field of an entry read as Buffers. */
function field(flat: Buffer[], name: string): Buffer | undefined {
  const at = flat.findIndex((f, i) => i % 2 === 0 && f.toString() === name);
  return at < 0 ? undefined : flat[at + 1];
}

describe('binary key column (kc)', () => {
  test('regression: keys were JSON-decoded per row; a key column (dictionary + ids) round-trips any keys with the narrowest id width', () => {
    const keys = ['a', '', 'ключ', 'a', '🙂,"', '', 'a'];
    const bytes = encodeKeyColumn(keys);
    expect(bytes[0]).toBe(1); // version
    expect(bytes[1]).toBe(1); // 4 distinct keys: one byte per id
    expect(decodeKeyColumn(bytes)).toEqual({ dictionary: ['a', '', 'ключ', '🙂,"'], ids: Uint32Array.from([0, 1, 2, 0, 3, 1, 0]) });
    for (const [distinct, width] of [
      [256, 1],
      [257, 2],
      [65_536, 2],
      [65_537, 4],
    ] as const) {
      const many = Array.from({ length: distinct + 3 }, (_, i) => `k${(i * 7) % distinct}`);
      const column = encodeKeyColumn(many);
      expect(column[1]).toBe(width);
      const { dictionary, ids } = decodeKeyColumn(column);
      expect(Array.from(ids, (id) => dictionary[id])).toEqual(many);
    }
    const decoded = decodeRows({ kc: bytes, x: encodeColumn(new Float64Array([1, 2, 3, 4, 5, 6, -0])) });
    expect(decoded).toEqual({ keys, values: new Float64Array([1, 2, 3, 4, 5, 6, -0]) });
  });

  test('a bad key column is refused with the reason: version, width, truncation, UTF-8, ids outside the dictionary, rows', () => {
    const good = encodeKeyColumn(['a', 'b', 'a']);
    const x = encodeColumn(new Float64Array(3));
    const error = (kc: unknown, more: Record<string, unknown> = {}) => decodeRows({ kc, x, ...more });
    const patched = (at: number, byte: number) => Buffer.from(good.map((b, i) => (i === at ? byte : b)));
    expect(error(patched(0, 2))).toEqual({ error: 'field kc is of version 2; this build reads version 1' });
    expect(error(patched(1, 3))).toEqual({ error: 'field kc has an id width of 3 bytes; it must be 1, 2 or 4' });
    expect(error(good.subarray(0, 4))).toEqual({ error: 'field kc holds 4 bytes, less than its 6-byte header' });
    expect(error(good.subarray(0, 14))).toEqual({ error: 'field kc is truncated in key 1 of its dictionary' });
    expect(error(patched(10, 0xff))).toEqual({ error: 'field kc: key 0 of its dictionary is not UTF-8' });
    expect(error(patched(good.length - 1, 2))).toEqual({ error: 'field kc: row 2 has key id 2, outside its dictionary of 2 keys' });
    expect(error(patched(2, 200))).toEqual({ error: `field kc declares 200 keys in ${good.length} bytes` });
    expect(error(good, { x: encodeColumn(new Float64Array(2)) })).toEqual({ error: 'field kc holds 3 keys but field x 2 values' });
    expect(error('["a"]')).toEqual({ error: 'field kc is not binary' });
    expect(error(good, { k: '["a","b","a"]' })).toEqual({ error: 'entry has both k and kc' });
    expect(() => decodeKeyColumn(patched(0, 2))).toThrow(RangeError);
  });
});

describe('one operator per worker', () => {
  const SPEC: KernelSpec = { op: 'sum', window: 3, minPeriods: 1 };

  test('regression: dropping a key group kept its keys in memory; after dropGroup its snapshot is empty, new keys reuse its slots, other keys run on', async () => {
    const normalized = normalizeSpec(SPEC);
    const op = await createKernelOperator(await compiledModule(planFor(normalized).module), normalized, 16);
    const reference = new Map<number, number[]>(); // each key's rows, for a sum of the last 3
    const expected = (key: number, value: number): number => {
      const rows = reference.get(key) ?? [];
      rows.push(value);
      reference.set(key, rows);
      return rows.slice(-3).reduce((a, b) => a + b, 0);
    };
    const run = (keys: number[]): void => {
      const values = Float64Array.from(keys, (k, i) => k + i / 8);
      const out = new Float64Array(keys.length);
      op.process(values, Uint32Array.from(keys), out);
      expect(Array.from(out)).toEqual(keys.map((k, i) => expected(k, values[i]!)));
    };
    // keys above the operator's dense index, so every lookup goes through its hash table, and
    // spaced 1024 apart, so they share few home buckets: long probe chains that a drop must keep whole
    const keys = Array.from({ length: 3000 }, (_, i) => 70_000 + i * 1024);
    run([...keys, ...keys]);
    const bytes = op.stateBytes;
    const dropped = new Set([3, 7, 11]);
    const gone = keys.filter((k) => dropped.has(keyGroupOf(k, 16)));
    expect(gone.length).toBeGreaterThan(400);
    for (const g of dropped) {
      expect(op.snapshotGroup(g)).toBeDefined();
      op.dropGroup(g);
      expect(op.snapshotGroup(g)).toBeUndefined();
    }
    for (const k of gone) reference.delete(k);
    expect(op.keys).toBe(keys.length - gone.length);
    // the other keys keep their state (the table still finds every one of them); new keys take the freed slots
    const fresh = gone.map((_, i) => 1_000_000 + i);
    run([...keys.filter((k) => !dropped.has(keyGroupOf(k, 16))), ...fresh]);
    expect(op.keys).toBe(keys.length);
    expect(op.stateBytes).toBe(bytes);
    // a dropped key seen again starts afresh
    run(gone);
    expect(op.keys).toBe(keys.length + gone.length);
  });

  test('regression: a worker made a WebAssembly instance per held partition; partitions share one operator, same bytes as alone, and a dropped partition leaves it', async () => {
    const kernels = await KeyedKernels.create(SPEC);
    const [a, b] = [kernels.partition(), kernels.partition()];
    const alone = await PartitionState.create(SPEC);
    const feed = (state: PartitionState, keys: string[], values: number[]): Float64Array => {
      const out = new Float64Array(values.length);
      state.process([{ values: Float64Array.from(values), keys: Uint32Array.from(keys, (k) => state.idOf(k)), out }]);
      return out;
    };
    const rows = makeRows(7, 3000, 200);
    // the same key names in both partitions: each has its own state
    const outA = feed(a, rows.keys, rows.values);
    const outB = feed(b, rows.keys, rows.values.map((v) => 2 * v));
    expect(Array.from(feed(alone, rows.keys, rows.values))).toEqual(Array.from(outA));
    expect(Array.from(outB)).toEqual(Array.from(outA, (v) => 2 * v));
    const records = (state: PartitionState) => new Map(state.takeTouched().map((g) => [g, Buffer.from(state.groupRecord(g)).toString('hex')]));
    expect(records(a)).toEqual(records(alone)); // a shared operator writes the bytes of an operator of its own
    const groupsB = b.takeTouched();
    const recordsB = () => groupsB.map((g) => Buffer.from(b.groupRecord(g)).toString('hex'));
    const beforeB = recordsB();
    expect(kernels.keys).toBe(400);
    const bytes = kernels.stateBytes;
    a.dispose();
    expect(kernels.keys).toBe(200);
    expect(() => a.groupRecord(0)).toThrow('partition state used after dispose()');
    // a partition taken next reuses the memory; b is untouched
    const c = kernels.partition();
    feed(c, rows.keys.map((k) => `${k}-c`), rows.values);
    expect(kernels.keys).toBe(400);
    expect(kernels.stateBytes).toBe(bytes);
    expect(recordsB()).toEqual(beforeB);
    // b runs on where it was: its rows were twice a's (and alone's)
    expect(Array.from(feed(b, ['key-1'], [1]))).toEqual(Array.from(feed(alone, ['key-1'], [0.5]), (v) => 2 * v));
  });

  test('regression: the Redis worker made one WebAssembly instance per held partition (issue 12); it makes one for all of them', async () => {
    const server = await RedisServer.start();
    cleanup.push(() => server.stop());
    const { conn, cmd } = await connect(server.url());
    cleanup.push(() => conn.close());
    const producer = await createProducer({ url: server.url(), job: 'shared', create: { partitions: 8, spec: SPEC, format: 3 }, maxRowsPerEntry: 50 });
    cleanup.push(() => producer.close());
    const rows = makeRows(11, 4000, 300);
    await producer.send(rows.keys, rows.values);
    vi.mocked(instantiateKernel).mockClear();
    const worker = await startWorker({ url: server.url(), job: 'shared', leaseMs: 2000, pollMs: 5, readEntries: 4 });
    cleanup.push(async () => void (await worker.stop().catch(() => {})));
    await waitDrained(cmd, producer.job);
    expect(worker.owned()).toHaveLength(8);
    expect(vi.mocked(instantiateKernel)).toHaveBeenCalledTimes(1);
    await worker.stop();
    expect(await verifyJob(cmd, 'shared')).toBe(4000);
  });
});

describe('job format 3', () => {
  test('regression: produce wrote keys as JSON; --format 3 and createProducer write a key column, workers answer with it, and JSON entries of the same job still read', async () => {
    const server = await RedisServer.start();
    cleanup.push(() => server.stop());
    const { conn, cmd } = await connect(server.url());
    cleanup.push(() => conn.close());
    const cli = runCli(['produce', '--redis', server.url(), '--job', 'f3', '--create', '--partitions', '3', '--op', 'mean', '--window', '4', '--min-periods', '1', '--format', '3'], {}, 'a,1\nb,2\nключ,3\na,4\n');
    expect(cli.code).toBe(0);
    expect(await cmd.send(['HGET', 'job:{f3}', 'format'])).toBe('3');
    const producer = await createProducer({ url: server.url(), job: 'f3', maxRowsPerEntry: 30 });
    cleanup.push(() => producer.close());
    const rows = makeRows(5, 2000, 40);
    await producer.send(rows.keys, rows.values);
    // an entry as a format-2 producer writes it (JSON keys), in the middle of the stream
    await cmd.send(['XADD', producer.job.keys.input(0), '*', 'k', '["a","a"]', 'x', encodeColumn(new Float64Array([10, 20]))]);
    await producer.send(rows.keys.slice(0, 500), rows.values.slice(0, 500));
    const inputs = await cmd.send<[Buffer, Buffer[]][]>(['XRANGE', producer.job.keys.input(0), '-', '+'], true);
    expect(inputs.filter(([, f]) => field(f, 'kc') !== undefined).length).toBe(inputs.length - 1);
    const worker = WorkerProcess.worker(server.url(), 'f3');
    cleanup.push(() => worker.kill());
    await waitDrained(cmd, producer.job);
    expect(await worker.terminate()).toBe(0);
    expect(await verifyJob(cmd, 'f3')).toBe(4 + 2000 + 2 + 500);
    const outputs = await cmd.send<[Buffer, Buffer[]][]>(['XRANGE', producer.job.keys.output(0), '-', '+'], true);
    const json = outputs.find(([, f]) => field(f, 'k') !== undefined)!;
    expect(field(json[1], 'kc')).toBeUndefined();
    const kernel = await createKernel({ op: 'mean', window: 4, minPeriods: 1 });
    const aRows = inputs
      .slice(0, inputs.findIndex(([id]) => id.equals(json[0])))
      .flatMap(([, f]) => {
        const batch = decodeRows({ kc: field(f, 'kc'), x: field(f, 'x') });
        return 'error' in batch ? [] : Array.from(batch.values).filter((_, i) => batch.keys[i] === 'a');
      });
    kernel.push(Float64Array.from(aRows));
    expect(Array.from(decodeColumn(field(json[1], 'x')!))).toEqual(Array.from(kernel.push(new Float64Array([10, 20]))));
  });
});

describe('job format 4', () => {
  test('regression: output entries repeated the input\'s key column (1.2 of 10 AOF bytes per row, hashed byte by byte by the commit script); format 4 writes the results only, the bytes of format 3\'s x', async () => {
    const server = await RedisServer.start();
    cleanup.push(() => server.stop());
    const { conn, cmd } = await connect(server.url());
    cleanup.push(() => conn.close());
    const cli = runCli(['produce', '--redis', server.url(), '--job', 'f4', '--create', '--partitions', '2', '--op', 'median', '--window', '5', '--min-periods', '1', '--format', '4'], {}, 'a,1\nb,2\na,3\n');
    expect(cli.code).toBe(0);
    expect(await cmd.send(['HGET', 'job:{f4}', 'format'])).toBe('4');
    const rows = makeRows(9, 3000, 50);
    const jobs: Record<string, Job> = {};
    for (const [name, format] of [['f4', undefined], ['f3', 3]] as const) {
      const producer = await createProducer({ url: server.url(), job: name, maxRowsPerEntry: 40, ...(format !== undefined ? { create: { partitions: 2, spec: { op: 'median', window: 5, minPeriods: 1 }, format } } : {}) });
      if (name === 'f3') await producer.send(['a', 'b', 'a'], [1, 2, 3]);
      await producer.send(rows.keys, rows.values);
      jobs[name] = producer.job;
      await producer.close();
      const worker = WorkerProcess.worker(server.url(), name);
      cleanup.push(() => worker.kill());
      await waitDrained(cmd, producer.job);
      expect(await worker.terminate()).toBe(0);
    }
    expect(await verifyJob(cmd, 'f4')).toBe(3 + 3000);
    for (let p = 0; p < 2; p++) {
      const [four, three] = await Promise.all(['f4', 'f3'].map((name) => cmd.send<[Buffer, Buffer[]][]>(['XRANGE', jobs[name]!.keys.output(p), '-', '+'], true)));
      expect(four!.length).toBe(three!.length);
      for (let i = 0; i < four!.length; i++) {
        expect(four![i]![1].filter((_, j) => j % 2 === 0).map(String)).toEqual(['x']);
        expect(field(four![i]![1], 'x')!.equals(field(three![i]![1], 'x')!)).toBe(true);
      }
    }
  });
});

describe('state stored less often (--state-every-ms, job format 3)', () => {
  test('regression: every commit rewrote the state of every key it touched; with --state-every-ms commits in between store none, and whoever takes the partition recomputes from the stored state (SIGKILL, then a clean stop): the single-process output and state', async () => {
    const server = await RedisServer.start();
    cleanup.push(() => server.stop());
    const { conn, cmd } = await connect(server.url());
    cleanup.push(() => conn.close());
    const producer = await createProducer({ url: server.url(), job: 'lag', create: { partitions: 2, spec: { op: 'median', window: 5, minPeriods: 1 }, format: 3 }, maxRowsPerEntry: 25 });
    cleanup.push(() => producer.close());
    const { job } = producer;
    const first = makeRows(3, 3000, 600);
    await producer.send(first.keys, first.values);
    const a = WorkerProcess.worker(server.url(), 'lag', ['--state-every-ms', '600000']);
    cleanup.push(() => a.kill());
    await waitDrained(cmd, job);
    // every entry committed, the state still where it was before the first commit
    for (let p = 0; p < 2; p++) {
      expect(await cmd.send(['HGET', job.keys.checkpoint(p), 'stateLast'])).toBe('0-0');
      expect((await stateRecords(cmd, job, p)).size).toBe(0);
    }
    await a.kill();
    const second = makeRows(4, 3000, 600);
    await producer.send(second.keys, second.values);
    // b recomputes the first rows from the (empty) stored state, defers its own state, and stores it when stopped
    const b = WorkerProcess.worker(server.url(), 'lag', ['--state-every-ms', '600000']);
    cleanup.push(() => b.kill());
    await waitDrained(cmd, job);
    expect(await b.terminate()).toBe(0);
    for (let p = 0; p < 2; p++) expect(await cmd.send(['HGET', job.keys.checkpoint(p), 'stateLast'])).toBeNull();
    expect(await verifyJob(cmd, 'lag')).toBe(6000);
  });

  test('regression: a worker taking a partition whose state lagged by more than a lease of work lost the lease while recomputing, took it again and recomputed again, forever; it now renews the lease meanwhile and the job completes', async () => {
    const server = await RedisServer.start();
    cleanup.push(() => server.stop());
    const { conn, cmd } = await connect(server.url());
    cleanup.push(() => conn.close());
    const producer = await createProducer({ url: server.url(), job: 'long', create: { partitions: 1, spec: { op: 'median', window: 5, minPeriods: 1 }, format: 3 }, maxRowsPerEntry: 10 });
    cleanup.push(() => producer.close());
    const rows = makeRows(9, 200_000, 2000);
    await producer.send(rows.keys, rows.values);
    const a = WorkerProcess.worker(server.url(), 'long', ['--state-every-ms', '600000', '--read-entries', '2000']);
    cleanup.push(() => a.kill());
    await waitDrained(cmd, producer.job, 120_000);
    await a.kill();
    expect(await cmd.send(['HGET', producer.job.keys.checkpoint(0), 'stateLast'])).toBe('0-0');
    await producer.send(['key-1', 'key-2'], [1, 2]);
    // 20 000 entries to recompute, 1 per read: far longer than a lease of 500 ms
    const b = WorkerProcess.worker(server.url(), 'long', ['--lease-ms', '500', '--read-entries', '1']);
    cleanup.push(() => b.kill());
    await waitDrained(cmd, producer.job, 60_000);
    expect(await b.terminate()).toBe(0);
    expect(await verifyJob(cmd, 'long')).toBe(200_002);
  }, 240_000);

  test('regression: without --state-every-ms every commit stored the state of every key it touched, however many (10 000 keys per partition: 159 ms per commit); on formats 3 and 4 a state larger than its commit\'s results is now deferred by default, a state no larger is stored with each commit, and a SIGKILLed worker\'s successor recomputes the rest: the single-process output and state', async () => {
    const server = await RedisServer.start();
    cleanup.push(() => server.stop());
    const { conn, cmd } = await connect(server.url());
    cleanup.push(() => conn.close());
    /** Commits that deferred the state so far: the fence's HSETNX of stateLast (INFO commandstats counts the scripts' calls). */
    const deferred = async (): Promise<number> => Number(/cmdstat_hsetnx:calls=(\d+)/.exec(String(await cmd.send(['INFO', 'commandstats'])))?.[1] ?? 0);
    // Few keys, many rows per commit: the state is smaller than the results, stored with every commit.
    const few = await createProducer({ url: server.url(), job: 'few', create: { partitions: 1, spec: { op: 'median', window: 5, minPeriods: 1 }, format: 4 }, maxRowsPerEntry: 500 });
    cleanup.push(() => few.close());
    const fewRows = makeRows(5, 4000, 2);
    await few.send(fewRows.keys, fewRows.values);
    const a = WorkerProcess.worker(server.url(), 'few');
    cleanup.push(() => a.kill());
    await waitDrained(cmd, few.job);
    expect(await a.terminate()).toBe(0);
    expect(await deferred()).toBe(0);
    expect(await verifyJob(cmd, 'few')).toBe(4000);
    // Many keys, few rows per commit: the state is deferred, and recomputed by whoever takes the partition.
    const many = await createProducer({ url: server.url(), job: 'many', create: { partitions: 2, spec: { op: 'median', window: 5, minPeriods: 1 }, format: 3 }, maxRowsPerEntry: 10 });
    cleanup.push(() => many.close());
    const first = makeRows(6, 2000, 400);
    await many.send(first.keys, first.values);
    const b = WorkerProcess.worker(server.url(), 'many');
    cleanup.push(() => b.kill());
    await waitDrained(cmd, many.job);
    expect(await deferred()).toBeGreaterThan(0);
    await b.kill();
    const second = makeRows(7, 2000, 400);
    await many.send(second.keys, second.values);
    const c = WorkerProcess.worker(server.url(), 'many');
    cleanup.push(() => c.kill());
    await waitDrained(cmd, many.job);
    expect(await c.terminate()).toBe(0);
    for (let p = 0; p < 2; p++) expect(await cmd.send(['HGET', many.job.keys.checkpoint(p), 'stateLast'])).toBeNull();
    expect(await verifyJob(cmd, 'many')).toBe(4000);
  });

  test('--state-every-ms on a job of format 1 or 2 is refused (exit 1) with the reason', async () => {
    const server = await RedisServer.start();
    cleanup.push(() => server.stop());
    const { conn, cmd } = await connect(server.url());
    cleanup.push(() => conn.close());
    await createJob(cmd, 'two', { partitions: 1, spec: SPEC_SUM, format: 2 });
    const r = runCli(['worker', '--redis', server.url(), '--job', 'two', '--state-every-ms', '100']);
    expect(r.stderr).toContain("stateEveryMs needs a job of format 3 or 4; job 'two' is of format 2");
    expect(r.code).toBe(1);
    const bad = runCli(['worker', '--redis', server.url(), '--job', 'two', '--state-every-ms', '1.5']);
    expect(bad.stderr).toContain('--state-every-ms must be an integer ≥ 0, got "1.5"');
    expect(bad.code).toBe(1);
  });
});
