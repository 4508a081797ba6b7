// The Redis layer's formats, fences and configuration: URLs and redaction,
// the partition function and state format, the commit script's fence, and
// the CLI's errors for bad configuration (unreachable server, wrong
// password, unknown job, checkpoint from another build), passwords in URLs,
// ACL users and TLS. No password may ever appear in any output.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { crc32 } from '../src/crc32.js';
import { SnapshotError } from '../src/errors.js';
import { createKernel } from '../src/kernel.js';
import { decodePartitionState, decodeRows, encodePartitionState, encodeRows, restorePartition } from '../src/redis/codec.js';
import { parseRedisUrl, redactUrl, scrub } from '../src/redis/config.js';
import { RedisJobError } from '../src/redis/errors.js';
import { createJob, jobStatus, readJob } from '../src/redis/job.js';
import { partitionOf } from '../src/redis/keys.js';
import { createProducer } from '../src/redis/producer.js';
import { ACQUIRE } from '../src/redis/scripts.js';
import { commitTransaction } from '../src/redis/commit.js';
import { connect, freePort, makeRows, RedisServer, runCli, verifyJob, waitDrained, WorkerProcess } from './redis-harness.js';

const PASSWORD = 'pw-Sekr3t-7731';
const ALICE = { name: 'alice', password: 'al1ce-Pa55-9042' };
const WRONG = 'wr0ng-Guess-5518';
const SECRETS = [PASSWORD, ALICE.password, WRONG];

/** Everything any process printed in this file, checked for secrets at the end. */
const printed: string[] = [];
function run(args: string[], env: NodeJS.ProcessEnv = {}, input?: string) {
  const r = runCli(args, env, input);
  printed.push(r.stdout, r.stderr);
  return r;
}

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanup.reverse()) await f().catch(() => {});
  cleanup = [];
});

afterAll(() => {
  const all = printed.join('\n');
  expect(all.length).toBeGreaterThan(0);
  for (const secret of SECRETS) {
    expect(all).not.toContain(secret);
    expect(all).not.toContain(encodeURIComponent(secret));
  }
});

describe('URLs and secrets', () => {
  test('parses redis:// and rediss:// with user, password and database; shows them redacted', () => {
    const u = parseRedisUrl(`rediss://alice:${encodeURIComponent('p@ss:w/rd')}@db.example:6380/2`);
    expect(u).toMatchObject({ tls: true, host: 'db.example', port: 6380, username: 'alice', password: 'p@ss:w/rd', database: 2 });
    expect(u.display).toBe('rediss://alice:***@db.example:6380/2');
    expect(parseRedisUrl('redis://127.0.0.1').display).toBe('redis://127.0.0.1:6379');
    expect(parseRedisUrl(`redis://:${PASSWORD}@h`).display).toBe('redis://:***@h:6379');
    expect(parseRedisUrl('redis://h', 'from-env').password).toBe('from-env');
    expect(redactUrl(`redis://u:${PASSWORD}@h:1`)).not.toContain(PASSWORD);
  });

  test('bad URLs are refused without echoing them', () => {
    for (const url of [`http://u:${PASSWORD}@h`, `redis://u:${PASSWORD}@h/x`, `redis://u:${PASSWORD}@h?tls=1`, `not a url ${PASSWORD}`, '']) {
      let error: unknown;
      try {
        parseRedisUrl(url);
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(RedisJobError);
      expect((error as RedisJobError).code).toBe('CONFIG');
      expect((error as Error).message).not.toContain(PASSWORD);
    }
  });

  test('scrub removes a secret and its %-encoded form', () => {
    expect(scrub(`a ${PASSWORD} b ${encodeURIComponent('x y')} c`, [PASSWORD, 'x y'])).toBe('a *** b *** c');
  });
});

describe('formats', () => {
  test('the partition of a key is CRC-32 of its UTF-8 bytes mod P (zlib.crc32(key.encode()) % P)', () => {
    expect(partitionOf('AAPL', 64)).toBe(28);
    expect(partitionOf('a', 64)).toBe(3);
    expect(partitionOf('key-0', 64)).toBe(44);
    expect(partitionOf('é', 64)).toBe(62);
  });

  test('rows round-trip exactly through entry fields; bad entries are reported, not thrown', () => {
    const values = [1.5, -0, NaN, Infinity, -Infinity, 0.1 + 0.2, 5e-324, -1.7976931348623157e308];
    const decoded = decodeRows(encodeRows(values.map((_, i) => `k${i},"\n`), values));
    expect('error' in decoded).toBe(false);
    if (!('error' in decoded)) {
      expect([...decoded.values].map((x) => (Object.is(x, -0) ? '-0' : String(x)))).toEqual(values.map((x) => (Object.is(x, -0) ? '-0' : String(x))));
      expect(decoded.keys[0]).toBe('k0,"\n');
    }
    expect(decodeRows({ k: '["a"]', v: 'abc' })).toEqual({ error: expect.stringContaining('not a number') });
    expect(decodeRows({ k: '["a","b"]', v: '1' })).toEqual({ error: expect.stringContaining('2 keys but field v 1 values') });
    expect(decodeRows({ v: '1' })).toEqual({ error: expect.stringContaining('lacks') });
  });

  test('partition state: round trip, and every corruption refused with a code', async () => {
    const spec = { op: 'mean' as const, window: 3 };
    const a = await createKernel(spec);
    const b = await createKernel(spec);
    a.push(new Float64Array([1, 2, 3, 4]));
    b.push(new Float64Array([5]));
    const bytes = encodePartitionState(new Map([['a', a.snapshot()], ['ключ', b.snapshot()]]));
    const restored = await restorePartition(bytes, spec);
    expect([...restored.keys()]).toEqual(['a', 'ключ']);
    expect([...restored.get('a')!.push(new Float64Array([5]))]).toEqual([4]);
    const codeOf = (f: () => unknown): string | undefined => {
      try {
        f();
      } catch (err) {
        return err instanceof SnapshotError ? err.code : 'other';
      }
      return undefined;
    };
    const flipped = bytes.slice();
    flipped[20] = flipped[20]! ^ 1;
    expect(codeOf(() => decodePartitionState(flipped))).toBe('CHECKSUM_MISMATCH');
    expect(codeOf(() => decodePartitionState(bytes.subarray(0, 10)))).toBe('BAD_LENGTH');
    expect(codeOf(() => decodePartitionState(new Uint8Array(bytes.length)))).toBe('BAD_MAGIC');
    // a key declared longer than the bytes left, with a valid checksum: still refused
    const forged = bytes.slice();
    new DataView(forged.buffer).setUint32(12, 1e6, true);
    new DataView(forged.buffer).setUint32(forged.length - 4, crc32(forged, 0, forged.length - 4), true);
    expect(codeOf(() => decodePartitionState(forged))).toBe('BAD_LENGTH');
    await expect(restorePartition(bytes, { op: 'sum', window: 3 })).rejects.toMatchObject({ code: 'OP_MISMATCH' });
  });
});

describe('the commit fence', () => {
  test('a commit with a lost lease, or from a stale checkpoint, is rejected and changes nothing', async () => {
    const server = await RedisServer.start();
    cleanup.push(() => server.stop());
    const { conn, cmd } = await connect(server.url());
    cleanup.push(() => conn.close());
    const job = await createJob(cmd, 'fence', { partitions: 1, spec: { op: 'sum', window: 2 } });
    const k = job.keys;
    const acquire = (worker: string, prev = '') =>
      cmd.script<[Buffer, Buffer, Buffer] | null>(ACQUIRE, [k.lease(0), k.checkpoint(0)], [worker, '60000', prev], true);
    const commit = (token: string, expected: string, last: string, outputs: string[]) =>
      commitTransaction(conn, k, 0, false, [token, '60000', expected, last, Buffer.from('state'), String(outputs.length), outputs[0] ?? last], outputs.flatMap((id) => [id, '2', 'v', '1']));
    const a = await acquire('A');
    expect(a).not.toBeNull();
    expect(await acquire('B')).toBeNull(); // held
    const tokenA = a![0].toString();
    expect(await commit(tokenA, '0-0', '5-0', ['5-0'])).toEqual([1]);
    // A's lease runs out; B takes over with a higher epoch
    await cmd.send(['DEL', k.lease(0)]);
    const b = await acquire('B');
    const tokenB = b![0].toString();
    expect(tokenB.startsWith('2:')).toBe(true);
    expect(b![1].toString()).toBe('5-0');
    const before = JSON.stringify([await cmd.send(['HGETALL', k.checkpoint(0)]), await cmd.send(['XRANGE', k.output(0), '-', '+']), await cmd.send(['GET', k.lease(0)])]);
    // the zombie A commits: rejected, nothing changes
    expect(await commit(tokenA, '5-0', '6-0', ['6-0'])).toEqual([0, 'lease', '']);
    // B from a stale checkpoint: rejected
    expect(await commit(tokenB, '0-0', '6-0', ['6-0'])).toEqual([0, 'last', '5-0']);
    // B writing an output id not after the stream's last: rejected before any write
    expect(await commit(tokenB, '5-0', '6-0', ['4-0'])).toEqual([0, 'out', '5-0']);
    const after = JSON.stringify([await cmd.send(['HGETALL', k.checkpoint(0)]), await cmd.send(['XRANGE', k.output(0), '-', '+']), await cmd.send(['GET', k.lease(0)])]);
    expect(after).toBe(before);
    expect(await commit(tokenB, '5-0', '6-0', ['6-0'])).toEqual([1]);
    // A cannot take the lease back with its old token either
    expect(await acquire('A', tokenA)).toBeNull();
  });
});

describe('configuration errors and authentication', () => {
  let server: RedisServer;
  let url: string;
  beforeAll(async () => {
    server = await RedisServer.start({ password: PASSWORD, user: ALICE });
    url = server.url(`alice:${ALICE.password}@`);
  });
  afterAll(async () => {
    await server.stop();
  });

  test('unreachable Redis: a clear error, exit 4', async () => {
    const port = await freePort();
    const r = run(['worker', '--redis', `redis://u:${PASSWORD}@127.0.0.1:${port}`, '--job', 'x']);
    expect(r.code).toBe(4);
    expect(r.stderr).toContain(`cannot connect to Redis at redis://u:***@127.0.0.1:${port}: connection refused`);
    expect(r.stderr).toContain('[CONNECT]');
  });

  test('wrong password (default user, ACL user), or none: authentication errors', () => {
    const wrong = run(['worker', '--redis', server.url(`:${WRONG}@`), '--job', 'x']);
    expect(wrong.code).toBe(4);
    expect(wrong.stderr).toMatch(/authentication failed at redis:\/\/:\*\*\*@127\.0\.0\.1:\d+: wrong user name or password/);
    const alice = run(['produce', '--redis', server.url('alice@'), '--job', 'x'], { STREAMKERNEL_REDIS_PASSWORD: WRONG });
    expect(alice.code).toBe(4);
    expect(alice.stderr).toContain('[AUTH]');
    const none = run(['worker', '--redis', server.url(), '--job', 'x']);
    expect(none.code).toBe(4);
    expect(none.stderr).toContain('the server requires a password');
  });

  test('unknown job: a clear error naming it', () => {
    const r = run(['worker', '--redis', url, '--job', 'no-such-job']);
    expect(r.code).toBe(4);
    expect(r.stderr).toContain("job 'no-such-job' does not exist at redis://alice:***@127.0.0.1:");
    expect(r.stderr).toContain('[NO_JOB]');
    const bad = run(['worker', '--redis', url, '--job', 'bad{name}']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('job name must be');
  });

  test('password in the URL (ACL user) and from the environment: the job runs; a different spec is refused', async () => {
    const rows = makeRows(21, 3000, 12);
    const csv = rows.keys.map((key, i) => `${key},${rows.values[i]}`).join('\n');
    const produced = run(['produce', '--redis', url, '--job', 'authjob', '--create', '--partitions', '3', '--op', 'max', '--window', '5', '--min-periods', '1', '--rows-per-entry', '100'], {}, csv);
    expect(produced.stderr).toContain('3000 rows');
    expect(produced.code).toBe(0);
    const mismatch = run(['produce', '--redis', url, '--job', 'authjob', '--create', '--partitions', '4', '--op', 'max', '--window', '5']);
    expect(mismatch.code).toBe(4);
    expect(mismatch.stderr).toContain('[JOB_MISMATCH]');
    const w1 = WorkerProcess.worker(url, 'authjob');
    const w2 = WorkerProcess.worker(server.url(), 'authjob', [], { STREAMKERNEL_REDIS_PASSWORD: PASSWORD });
    cleanup.push(() => w1.kill(), () => w2.kill());
    const { conn, cmd } = await connect(url);
    cleanup.push(() => conn.close());
    await waitDrained(cmd, await readJob(cmd, 'authjob'));
    const [exit1, exit2] = await Promise.all([w1.terminate(), w2.terminate()]);
    expect(exit1).toBe(0);
    expect(exit2).toBe(0);
    printed.push(w1.stderr, w2.stderr);
    expect(w1.stderr).toContain('redis://alice:***@127.0.0.1');
    expect(await verifyJob(cmd, 'authjob')).toBe(3000);
  });

  test('a checkpoint from another build, or corrupt, is refused clearly and left as it is', async () => {
    const { conn, cmd } = await connect(url);
    cleanup.push(() => conn.close());
    const producer = await createProducer({ url, job: 'buildjob', create: { partitions: 2, spec: { op: 'var', window: 4, minPeriods: 2 } } });
    const rows = makeRows(4, 400, 6);
    await producer.send(rows.keys, rows.values);
    await producer.close();
    const w = WorkerProcess.worker(url, 'buildjob');
    cleanup.push(() => w.kill());
    const job = await readJob(cmd, 'buildjob');
    await waitDrained(cmd, job);
    expect(await w.terminate()).toBe(0);
    printed.push(w.stderr);
    // rewrite partition 0's checkpoint as another build would have: another build hash, valid checksums
    const original = await cmd.send<Buffer>(['HGET', job.keys.checkpoint(0), 'state'], true);
    const snapshots = decodePartitionState(new Uint8Array(original));
    const forged = new Map<string, Uint8Array>();
    for (const [key, snap] of snapshots) {
      const copy = snap.slice();
      copy[8] = copy[8]! ^ 0xff; // build hash, bytes 8..15
      new DataView(copy.buffer).setUint32(copy.length - 4, crc32(copy, 0, copy.length - 4), true);
      forged.set(key, copy);
    }
    const otherBuild = Buffer.from(encodePartitionState(forged));
    await cmd.send(['HSET', job.keys.checkpoint(0), 'state', otherBuild]);
    const r = run(['worker', '--redis', url, '--job', 'buildjob', '--lease-ms', '1000']);
    expect(r.code).toBe(4);
    expect(r.stderr).toContain('[BAD_CHECKPOINT]');
    expect(r.stderr).toContain("cannot restore partition 0 of job 'buildjob'");
    expect(r.stderr).toContain('snapshot from another build');
    expect(r.stderr).toContain('finish the job with that build, or start a new job');
    // nothing was overwritten, and the lease was given back
    expect(Buffer.compare(await cmd.send<Buffer>(['HGET', job.keys.checkpoint(0), 'state'], true), otherBuild)).toBe(0);
    expect((await jobStatus(cmd, job)).map((s) => s.owner)).toEqual([null, null]);
    // a corrupt checkpoint
    const corrupt = Buffer.from(original);
    corrupt[corrupt.length - 10] = corrupt[corrupt.length - 10]! ^ 0x40;
    await cmd.send(['HSET', job.keys.checkpoint(0), 'state', corrupt]);
    const c = run(['worker', '--redis', url, '--job', 'buildjob', '--lease-ms', '1000']);
    expect(c.code).toBe(4);
    expect(c.stderr).toContain('checksum mismatch: partition state is corrupt');
  });
});

describe('TLS', () => {
  let dir: string;
  let server: RedisServer;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'sk-tls-'));
    const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
    ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=streamkernel test CA');
    ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1');
    writeFileSync(path.join(dir, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1\n');
    ssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'ext.cnf');
    server = await RedisServer.start({ password: PASSWORD, tls: { cert: path.join(dir, 'server.pem'), key: path.join(dir, 'server.key'), ca: path.join(dir, 'ca.pem') } });
  });
  afterAll(async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('rediss:// with a password and a CA file: the job runs; without the CA: a clear TLS error', async () => {
    const url = server.url(`:${PASSWORD}@`, 'rediss');
    const ca = path.join(dir, 'ca.pem');
    const untrusted = run(['worker', '--redis', url, '--job', 'tlsjob']);
    expect(untrusted.code).toBe(4);
    expect(untrusted.stderr).toContain('TLS connection to rediss://:***@127.0.0.1');
    expect(untrusted.stderr).toContain('[TLS]');
    const plain = run(['worker', '--redis', server.url(`:${PASSWORD}@`), '--job', 'tlsjob', '--connect-timeout-ms', '1500']);
    expect(plain.code).toBe(4);
    expect(plain.stderr).toContain('[CONNECT]');
    const rows = makeRows(8, 1500, 10);
    const produced = run(['produce', '--redis', url, '--tls-ca', ca, '--job', 'tlsjob', '--create', '--partitions', '2', '--op', 'ewm', '--alpha', '0.25'], {}, rows.keys.map((key, i) => `${key},${rows.values[i]}`).join('\n'));
    expect(produced.code).toBe(0);
    const w = WorkerProcess.worker(url, 'tlsjob', ['--tls-ca', ca]);
    cleanup.push(() => w.kill());
    const { conn, cmd } = await connect(url, undefined, ca);
    cleanup.push(() => conn.close());
    await waitDrained(cmd, await readJob(cmd, 'tlsjob'));
    expect(await w.terminate()).toBe(0);
    printed.push(w.stderr);
    expect(await verifyJob(cmd, 'tlsjob')).toBe(1500);
  });
});
