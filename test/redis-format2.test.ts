// Job format 2 and the keyed operator behind the Redis worker: key-group
// state records (round trip and every refusal), commits that store only the
// key groups a batch touched, binary result columns, and many keys per
// partition on one WebAssembly instance.
import fc from 'fast-check';
import { afterEach, describe, expect, test } from 'vitest';
import { crc32 } from '../src/crc32.js';
import { buildHash } from '../src/engine.js';
import { decodeSnapshot, encodeSnapshot } from '../src/snapshot.js';
import { SnapshotError } from '../src/errors.js';
import { decodeColumn, decodeEntry, decodeRows, encodeColumn, encodeKeyColumn } from '../src/redis/codec.js';
import { createJob } from '../src/redis/job.js';
import { PartitionState, STATE_GROUPS } from '../src/redis/keyed.js';
import { keyGroupOf } from '../src/scheduler/hash.js';
import { createProducer } from '../src/redis/producer.js';
import { startWorker } from '../src/redis/worker.js';
import { connect, RedisServer, runCli, stateRecords, verifyJob, waitDrained } from './redis-harness.js';

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanup.reverse()) await f().catch(() => {});
  cleanup = [];
});

const codeOf = (f: () => unknown): string | undefined => {
  try {
    f();
  } catch (err) {
    return err instanceof SnapshotError ? err.code : `other: ${String(err)}`;
  }
  return undefined;
};

/** A partition state with keys a, b, ключ fed a few rows. */
async function filled(spec = { op: 'mean' as const, window: 3 }): Promise<PartitionState> {
  const state = await PartitionState.create(spec);
  const ids = Uint32Array.from(['a', 'b', 'ключ', 'a', 'a'], (k) => state.idOf(k));
  const values = new Float64Array([1, 2, 3, 4, 5]);
  state.process([{ values, keys: ids, out: new Float64Array(5) }]);
  return state;
}

describe('format 2 encodings', () => {
  test('binary columns round-trip every double bit for bit; rows may come as x instead of v', () => {
    const values = new Float64Array([1.5, -0, NaN, Infinity, -Infinity, 0.1 + 0.2, 5e-324]);
    const back = decodeColumn(encodeColumn(values));
    expect(Buffer.from(back.buffer).equals(Buffer.from(values.buffer))).toBe(true);
    const decoded = decodeRows({ k: Buffer.from('["a","b"]'), x: encodeColumn(new Float64Array([1, -0])) });
    expect(decoded).toEqual({ keys: ['a', 'b'], values: new Float64Array([1, -0]) });
    expect(decodeRows({ k: '["a"]', x: Buffer.alloc(7) })).toEqual({ error: 'field x holds 7 bytes, not a multiple of 8' });
    expect(decodeRows({ k: '["a"]', x: Buffer.alloc(16) })).toEqual({ error: 'field k holds 1 keys but field x 2 values' });
  });

  test('a key column read with a partition\'s known keys (no decode) is read exactly as without them, bad columns with the same error', async () => {
    // Keys whose bytes do not decode back to them must never be taken from their bytes: a lone surrogate (written as U+FFFD), a leading U+FEFF (dropped by decoding).
    const awkward = ['a', 'ключ', '\ud800', 'x\udfff', '\ufeffa', '\ufeff\ufeffb', '\ufffd', '', 'é', 'e\u0301'];
    const keyArb = fc.oneof(fc.constantFrom(...awkward), fc.string({ unit: 'binary', maxLength: 6 }), fc.string({ maxLength: 3 }));
    await fc.assert(
      fc.asyncProperty(
        fc.array(keyArb, { minLength: 1, maxLength: 12 }),
        fc.array(keyArb, { maxLength: 12 }),
        fc.array(fc.tuple(fc.nat(), fc.nat(255)), { maxLength: 3 }),
        async (rows, known, flips) => {
          const state = await PartitionState.create({ op: 'mean', window: 3 });
          for (const key of known) state.idOf(key);
          const kc = Buffer.from(encodeKeyColumn(rows));
          for (const [at, byte] of flips) kc[at % kc.length] = byte; // corrupt columns too: the same error either way
          const fields = { kc, x: encodeColumn(new Float64Array(rows.length)) };
          expect(decodeEntry(fields, state)).toEqual(decodeEntry(fields));
        },
      ),
      { numRuns: 300 },
    );
  });

  test('key-group records: round trip; corrupt, another build or another spec refused with a code', async () => {
    const state = await filled();
    const touched = state.takeTouched();
    expect(touched.length).toBeGreaterThan(0);
    const records = new Map(touched.map((g) => [g, state.groupRecord(g)]));
    const copy = await PartitionState.create({ op: 'mean', window: 3 });
    for (const [g, r] of records) copy.restoreGroup(g, r);
    copy.checkRestored();
    expect([...copy.snapshots()].map(([k, v]) => [k, Buffer.from(v).toString('hex')])).toEqual([...state.snapshots()].map(([k, v]) => [k, Buffer.from(v).toString('hex')]));
    const [group, record] = [...records][0]!;
    const fresh = () => PartitionState.create({ op: 'mean', window: 3 });
    const flipped = record.slice();
    flipped[50] = flipped[50]! ^ 1;
    expect(codeOf2(await fresh(), group, flipped)).toBe('CHECKSUM_MISMATCH');
    const otherBuild = record.slice();
    otherBuild[8] = otherBuild[8]! ^ 0xff;
    new DataView(otherBuild.buffer).setUint32(otherBuild.length - 4, crc32(otherBuild, 0, otherBuild.length - 4), true);
    expect(codeOf2(await fresh(), group, otherBuild)).toBe('OTHER_BUILD');
    expect(codeOf2(await PartitionState.create({ op: 'mean', window: 4 }), group, record)).toBe('OP_MISMATCH');
    expect(codeOf2(await fresh(), group + 1, record)).toBe('BAD_STATE'); // keys of another group
    // the group of the last key (id 2) without that of the first (id 0): ids are no longer dense
    const [first, last] = [keyGroupOf(0, STATE_GROUPS), keyGroupOf(2, STATE_GROUPS)];
    expect(first).not.toBe(last);
    const partial = await fresh();
    partial.restoreGroup(last, records.get(last)!);
    expect(codeOf(() => partial.checkRestored())).toBe('BAD_STATE');
  });
  test('regression: a forged state record with key id 4 000 000 000 sized the key tables by that id (gigabytes) before ids were checked; it is refused (BAD_STATE) and nothing is loaded', async () => {
    const state = await filled();
    const records = new Map(state.takeTouched().map((g) => [g, state.groupRecord(g)]));
    const group = keyGroupOf(0, STATE_GROUPS);
    let forged = 4_000_000_000;
    while (keyGroupOf(forged, STATE_GROUPS) !== group) forged++; // the forger keeps the id in its group
    const { plan, state: body } = decodeSnapshot(records.get(group)!, buildHash);
    const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
    for (let i = 0; i < view.getUint32(0, true); i++) if (view.getUint32(8 + 4 * i, true) === 0) view.setUint32(8 + 4 * i, forged, true);
    records.set(group, encodeSnapshot(plan, buildHash(plan.module), body));
    const copy = await PartitionState.create({ op: 'mean', window: 3 });
    for (const [g, r] of records) copy.restoreGroup(g, r);
    let message = '';
    try {
      copy.checkRestored();
    } catch (err) {
      message = err instanceof SnapshotError ? `${err.code}: ${err.message}` : `other: ${String(err)}`;
    }
    expect(message).toBe(`BAD_STATE: state of key group ${group}: key id ${forged}, but the partition's state holds 3 keys (ids 0 to 2)`);
    expect(copy.size).toBe(0);
    // the same records, unforged, load
    records.set(group, state.groupRecord(group));
    const good = await PartitionState.create({ op: 'mean', window: 3 });
    for (const [g, r] of records) good.restoreGroup(g, r);
    good.checkRestored();
    expect(good.size).toBe(3);
  });
});

function codeOf2(state: PartitionState, group: number, record: Uint8Array): string | undefined {
  return codeOf(() => state.restoreGroup(group, record));
}

describe('format 2 jobs', () => {
  test('regression: a commit rewrote the partition\'s whole state; a format-2 commit stores only the key groups its batch touched', async () => {
    const server = await RedisServer.start();
    cleanup.push(() => server.stop());
    const { conn, cmd } = await connect(server.url());
    cleanup.push(() => conn.close());
    const producer = await createProducer({ url: server.url(), job: 'incr', create: { partitions: 1, spec: { op: 'median', window: 5, minPeriods: 1 }, format: 2 } });
    cleanup.push(() => producer.close());
    const keys = Array.from({ length: 2000 }, (_, i) => `key-${i}`);
    await producer.send(keys, keys.map((_, i) => i / 7));
    const worker = await startWorker({ url: server.url(), job: 'incr', leaseMs: 2000, pollMs: 5 });
    cleanup.push(async () => void (await worker.stop().catch(() => {})));
    await waitDrained(cmd, producer.job);
    const before = await stateRecords(cmd, producer.job, 0);
    expect(before.size).toBeGreaterThan(100);
    // one more row, for one key: one key group's record changes, no other is written
    await cmd.send(['CONFIG', 'RESETSTAT']);
    await producer.send(['key-17'], [100]);
    await waitDrained(cmd, producer.job);
    const after = await stateRecords(cmd, producer.job, 0);
    const changed = [...after].filter(([g, r]) => !before.get(g)?.equals(r)).map(([g]) => g);
    expect(changed).toHaveLength(1);
    expect(after.size).toBe(before.size);
    // the commit sent one group's state: far less than the partition's
    const stats = await cmd.send<string>(['INFO', 'stats']);
    const total = [...after.values()].reduce((a, r) => a + r.length, 0);
    expect(Number(/total_net_input_bytes:(\d+)/.exec(stats)![1])).toBeLessThan(total / 20);
    await worker.stop();
    expect(await verifyJob(cmd, 'incr')).toBe(2001);
  });

  test('regression: a worker made one WebAssembly instance per key; 40 000 keys in one partition run on one instance', async () => {
    const server = await RedisServer.start();
    cleanup.push(() => server.stop());
    const { conn, cmd } = await connect(server.url());
    cleanup.push(() => conn.close());
    const job = await createJob(cmd, 'manykeys', { partitions: 1, spec: { op: 'sum', window: 2, minPeriods: 1 }, format: 2 });
    const producer = await createProducer({ url: server.url(), job: 'manykeys', maxRowsPerEntry: 1000 });
    cleanup.push(() => producer.close());
    const n = 40_000;
    const keys = Array.from({ length: n }, (_, i) => `k${i}`);
    // each key twice: x then 2x, so its sums are x and 3x
    await producer.send([...keys, ...keys], [...keys.map((_, i) => i), ...keys.map((_, i) => 2 * i)]);
    const worker = await startWorker({ url: server.url(), job: 'manykeys', leaseMs: 5000, pollMs: 5 });
    cleanup.push(async () => void (await worker.stop().catch(() => {})));
    await waitDrained(cmd, job, 120_000);
    const stats = await worker.stop();
    expect(stats.rows).toBe(2 * n);
    const out = await cmd.send<[Buffer, Buffer[]][]>(['XRANGE', job.keys.output(0), '-', '+'], true);
    const results = out.flatMap(([, flat]) => [...decodeColumn(flat[flat.findIndex((f) => f.toString() === 'x') + 1]!)]);
    expect(results).toEqual([...keys.map((_, i) => i), ...keys.map((_, i) => 3 * i)]);
  }, 120_000);

  test('produce --create --format 2 makes a format-2 job; a bad --format is a usage error', async () => {
    const server = await RedisServer.start();
    cleanup.push(() => server.stop());
    const { conn, cmd } = await connect(server.url());
    cleanup.push(() => conn.close());
    const bad = runCli(['produce', '--redis', server.url(), '--job', 'f', '--create', '--op', 'sum', '--window', '2', '--format', '5']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('--format must be 1, 2, 3 or 4, got "5"');
    const ok = runCli(['produce', '--redis', server.url(), '--job', 'f', '--create', '--partitions', '2', '--op', 'sum', '--window', '2', '--format', '2'], {}, 'a,1\nb,2\na,3\n');
    expect(ok.code).toBe(0);
    expect(await cmd.send(['HGET', 'job:{f}', 'format'])).toBe('2');
    const mismatch = runCli(['produce', '--redis', server.url(), '--job', 'f', '--create', '--partitions', '2', '--op', 'sum', '--window', '2']);
    expect(mismatch.code).toBe(4);
    expect(mismatch.stderr).toContain('[JOB_MISMATCH]');
    expect(mismatch.stderr).toContain('with 2 partitions (format 2) and spec');
  });
});
