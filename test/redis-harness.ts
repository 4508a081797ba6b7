// Test helpers for the Redis layer: a private redis-server per test (loopback
// only, AOF with appendfsync always, a temp dir, stopped by PID), worker
// processes running the compiled CLI from dist/, and the reference check.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
// The reference runs the kernels the worker processes run: the compiled build in dist/.
import { createKernel } from '../dist/src/kernel.js';
import type { Kernel, KernelSpec } from '../src/types.js';
import { connectRedis, type RedisConnection } from '../src/redis/config.js';
import { decodePartitionState, formatValues, decodeRows, encodeColumn } from '../src/redis/codec.js';
import { PartitionState } from '../src/redis/keyed.js';
import { Commands, jobStatus, readJob, type Job } from '../src/redis/job.js';
import type { Producer } from '../src/redis/producer.js';
import { mulberry32 } from './adversarial.js';

const here = path.dirname(fileURLToPath(import.meta.url));
export const MAIN = path.resolve(here, '../dist/src/redis/main.js');

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A small deterministic generator (mulberry32), shared with the kernel tests. */
export const rng = mulberry32;

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
    });
  });
}

export interface ServerOptions {
  /** requirepass (the default user's password). */
  password?: string;
  /** An ACL user. */
  user?: { name: string; password: string };
  /** TLS only, with these PEM files. */
  tls?: { cert: string; key: string; ca: string };
  /** A Redis Cluster node (fails over after 1 s without its master). */
  cluster?: boolean;
}

export class RedisServer {
  proc: ChildProcess | undefined;
  output = '';
  private constructor(
    readonly port: number,
    readonly dir: string,
    private readonly conf: string,
  ) {}

  static async start(options: ServerOptions = {}): Promise<RedisServer> {
    const port = await freePort();
    const dir = mkdtempSync(path.join(tmpdir(), 'sk-redis-'));
    const lines = [
      'bind 127.0.0.1',
      'protected-mode yes',
      options.tls !== undefined ? 'port 0' : `port ${port}`,
      `dir ${dir}`,
      'appendonly yes',
      'appendfsync always',
      'save ""',
      'daemonize no',
      'logfile ""',
    ];
    if (options.password !== undefined) lines.push(`requirepass ${options.password}`);
    if (options.cluster === true) {
      lines.push('cluster-enabled yes', 'cluster-config-file nodes.conf', 'cluster-node-timeout 1000', 'cluster-replica-validity-factor 0', 'cluster-require-full-coverage no');
    }
    if (options.user !== undefined) lines.push(`user ${options.user.name} on >${options.user.password} ~* &* +@all`);
    if (options.tls !== undefined) {
      lines.push(`tls-port ${port}`, `tls-cert-file ${options.tls.cert}`, `tls-key-file ${options.tls.key}`, `tls-ca-cert-file ${options.tls.ca}`, 'tls-auth-clients no');
    }
    const conf = path.join(dir, 'redis.conf');
    writeFileSync(conf, lines.join('\n') + '\n');
    const server = new RedisServer(port, dir, conf);
    try {
      await server.launch();
    } catch (err) {
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
    return server;
  }

  /** Starts (or restarts, from its AOF) the server and waits until it accepts connections. */
  async launch(): Promise<void> {
    const proc = spawn('redis-server', [this.conf], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = proc;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`redis-server did not start:\n${this.output}`)), 20_000);
      const onData = (chunk: Buffer): void => {
        this.output += chunk.toString();
        if (this.output.includes('Ready to accept connections')) {
          clearTimeout(timer);
          resolve();
        }
      };
      proc.stdout!.on('data', onData);
      proc.stderr!.on('data', onData);
      proc.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`redis-server exited with ${code}:\n${this.output}`));
      });
      // Not installed (ENOENT): say so at once rather than time out.
      proc.once('error', (err) => {
        clearTimeout(timer);
        reject(new Error(`cannot start redis-server (${err.message}): npm test installs it when it can (scripts/provision.mjs), else apt-get install redis-server`));
      });
    });
    this.output = '';
  }

  url(auth = '', scheme = 'redis'): string {
    return `${scheme}://${auth}127.0.0.1:${this.port}`;
  }

  private async signal(sig: NodeJS.Signals): Promise<void> {
    const proc = this.proc;
    if (proc === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    process.kill(proc.pid!, sig);
    await exited;
    this.proc = undefined;
  }

  /** SIGKILL: no shutdown, the AOF is all that is left. */
  kill(): Promise<void> {
    return this.signal('SIGKILL');
  }

  async stop(): Promise<void> {
    await this.signal('SIGTERM');
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A worker process running the compiled CLI. */
export class WorkerProcess {
  readonly proc: ChildProcess;
  stderr = '';
  stdout = '';
  readonly exited: Promise<number | null>;

  constructor(args: string[], env: NodeJS.ProcessEnv = {}) {
    this.proc = spawn(process.execPath, [MAIN, ...args], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    this.proc.stdout!.on('data', (c: Buffer) => (this.stdout += c.toString()));
    this.proc.stderr!.on('data', (c: Buffer) => (this.stderr += c.toString()));
    this.exited = new Promise((resolve) => this.proc.once('exit', (code, signal) => resolve(signal !== null ? null : code)));
  }

  static worker(url: string, job: string, extra: string[] = [], env: NodeJS.ProcessEnv = {}): WorkerProcess {
    return new WorkerProcess(['worker', '--redis', url, '--job', job, '--lease-ms', '1000', '--read-entries', '4', '--poll-ms', '10', ...extra], env);
  }

  get pid(): number {
    return this.proc.pid!;
  }

  events(): Record<string, unknown>[] {
    return this.stderr
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  }

  /** The worker id from its 'started' event. */
  id(): string | undefined {
    return this.events().find((e) => e['event'] === 'started')?.['worker'] as string | undefined;
  }

  /** Partitions held now, from acquired/released/fenced events. */
  owned(): Set<number> {
    const owned = new Set<number>();
    for (const e of this.events()) {
      const p = e['partition'] as number;
      if (e['event'] === 'acquired') owned.add(p);
      else if (e['event'] === 'released' || e['event'] === 'fenced') owned.delete(p);
    }
    return owned;
  }

  /**
   * SIGTERM once the worker has started (its stop handler is installed then;
   * a SIGTERM during Node's start-up kills it); resolves to the exit code.
   */
  async terminate(): Promise<number | null> {
    let gone = false;
    void this.exited.then(() => (gone = true));
    await waitFor('the worker to start', () => gone || this.id() !== undefined);
    this.signal('SIGTERM');
    return this.exited;
  }

  signal(sig: NodeJS.Signals): void {
    if (this.proc.exitCode === null && this.proc.signalCode === null) process.kill(this.pid, sig);
  }

  async kill(): Promise<void> {
    this.signal('SIGKILL');
    await this.exited;
  }
}

/** Runs a finished command of the compiled CLI; returns its exit code and output. */
export function runCli(args: string[], env: NodeJS.ProcessEnv = {}, input?: string): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, ...args], { input: input ?? '', env: { ...process.env, ...env }, encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

export async function waitFor(what: string, predicate: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/** Sends rows through the producer in `chunks` chunks with 15 ms pauses; `at[i]` runs before chunk i. */
export async function feedChunks(producer: Producer, rows: { keys: string[]; values: number[] }, chunks: number, at: Record<number, () => Promise<void>> = {}): Promise<void> {
  const size = Math.ceil(rows.keys.length / chunks);
  for (let i = 0; i < chunks; i++) {
    await at[i]?.();
    await producer.send(rows.keys.slice(i * size, (i + 1) * size), rows.values.slice(i * size, (i + 1) * size));
    await sleep(15);
  }
}

/** Waits until every input is consumed, stops the workers and checks the job against the single-process reference; returns the rows checked. */
export async function finishJob(s: { cmd: Commands; job: Job; workers: WorkerProcess[] }): Promise<number> {
  await waitDrained(s.cmd, s.job);
  await Promise.all(s.workers.map((w) => w.terminate()));
  return verifyJob(s.cmd, s.job.name);
}

/**
 * The SIGKILL scenario's step, for `feedChunks`' hooks: `killOne` kills a
 * worker that holds partitions (so the kill always costs something), picked
 * by `next`, and spawns a replacement; `killed` lists the workers killed.
 */
export function killSteps(s: { workers: WorkerProcess[]; spawnWorker: () => WorkerProcess }, next: () => number): { killOne: () => Promise<void>; killed: WorkerProcess[] } {
  const killed: WorkerProcess[] = [];
  const killOne = async (): Promise<void> => {
    const live = s.workers.filter((w) => w.proc.exitCode === null && w.proc.signalCode === null);
    await waitFor('a worker holding partitions', () => live.some((w) => w.owned().size > 0));
    const holders = live.filter((w) => w.owned().size > 0);
    const victim = holders[Math.floor(next() * holders.length)]!;
    await victim.kill();
    killed.push(victim);
    s.spawnWorker();
  };
  return { killOne, killed };
}

/**
 * The zombie scenario's two steps, for `feed`'s hooks: `stop` SIGSTOPs the
 * first worker once every worker holds partitions (and records what it
 * held), `resume` SIGCONTs it once every one of its leases went to another
 * worker, and waits for it to notice that it was fenced.
 */
export function zombieSteps(s: { cmd: Commands; job: Job; workers: WorkerProcess[] }): { stop: () => Promise<void>; resume: () => Promise<void>; zombie: () => WorkerProcess; heldWhenStopped: () => Set<number> } {
  let zombie: WorkerProcess | undefined;
  let held = new Set<number>();
  const stop = async (): Promise<void> => {
    await waitFor('partitions spread over the workers', () => s.workers.every((w) => w.owned().size > 0));
    zombie = s.workers[0]!;
    zombie.signal('SIGSTOP');
    await sleep(100); // let its last events reach the pipe
    held = zombie.owned();
  };
  const resume = async (): Promise<void> => {
    const id = zombie!.id()!;
    // every partition of the zombie is now held by someone else
    await waitFor('the zombie to lose every lease', async () => {
      const owners = (await jobStatus(s.cmd, s.job)).map((st) => st.owner ?? '');
      return owners.every((o) => o !== '' && !o.endsWith(`:${id}`));
    });
    zombie!.signal('SIGCONT');
    await waitFor('the zombie to notice', () => zombie!.events().some((e) => e['event'] === 'fenced'));
  };
  return { stop, resume, zombie: () => zombie!, heldWhenStopped: () => held };
}

export async function connect(url: string, password?: string, tlsCaFile?: string): Promise<{ conn: RedisConnection; cmd: Commands }> {
  const conn = await connectRedis({ url, ...(password !== undefined ? { password } : {}), ...(tlsCaFile !== undefined ? { tlsCaFile } : {}), maxOutageMs: 20_000 });
  return { conn, cmd: new Commands(conn) };
}

/** Rows for a test: `keys` distinct keys, values with a few NaN, ±Infinity and -0. */
export function makeRows(seed: number, n: number, keys: number): { keys: string[]; values: number[] } {
  const next = rng(seed);
  const out = { keys: [] as string[], values: [] as number[] };
  for (let i = 0; i < n; i++) {
    out.keys.push(`key-${Math.floor(next() * keys)}`);
    const r = next();
    out.values.push(r < 0.01 ? NaN : r < 0.012 ? Infinity : r < 0.014 ? -0 : Math.round((next() - 0.5) * 1e6) / 1e3);
  }
  return out;
}

/** Waits until every partition has committed its last input entry. */
export async function waitDrained(cmd: Commands, job: Job, timeoutMs = 60_000): Promise<void> {
  await waitFor(`job '${job.name}' to drain`, async () => (await jobStatus(cmd, job)).every((s) => s.committedLast === s.inputLast), timeoutMs);
}

type Entry = [Buffer, Buffer[]];

function fieldsOf(flat: Buffer[]): Record<string, Buffer> {
  const fields: Record<string, Buffer> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i]!.toString()] = flat[i + 1]!;
  return fields;
}

/** A format-2 partition's key-group state records by field (HGETALL's reply, an array in RESP2 and an object here). */
export async function stateRecords(cmd: Commands, job: Job, p: number): Promise<Map<string, Buffer>> {
  const reply = await cmd.send<Buffer[] | Record<string, Buffer>>(['HGETALL', job.keys.state(p)], true);
  if (!Array.isArray(reply)) return new Map(Object.entries(reply));
  const out = new Map<string, Buffer>();
  for (let i = 0; i < reply.length; i += 2) out.set(reply[i]!.toString(), reply[i + 1]!);
  return out;
}

/** Every key's kernel snapshot in a partition's checkpoint: `state` (format 1) or the key-group hash (format 2). */
export async function checkpointSnapshots(cmd: Commands, job: Job, p: number): Promise<Map<string, Uint8Array>> {
  if (job.format === 1) {
    const state = await cmd.send<Buffer | null>(['HGET', job.keys.checkpoint(p), 'state'], true);
    return state === null ? new Map<string, Uint8Array>() : decodePartitionState(new Uint8Array(state));
  }
  const state = await PartitionState.create(job.spec);
  for (const [group, record] of await stateRecords(cmd, job, p)) state.restoreGroup(Number(group), new Uint8Array(record));
  state.checkRestored();
  return state.snapshots();
}

/**
 * The single-process reference: for every partition, a fresh kernel per key
 * over the partition's input in order. Checks that the output stream holds
 * exactly one entry per input entry (same ids, order, keys, and results bit
 * for bit), that the checkpoint is at the last input entry, and that its
 * kernel snapshots equal the reference kernels' byte for byte.
 * Returns the number of rows checked.
 */
export async function verifyJob(cmd: Commands, name: string): Promise<number> {
  const job = await readJob(cmd, name);
  let rows = 0;
  for (let p = 0; p < job.partitions; p++) {
    const input = await cmd.send<Entry[]>(['XRANGE', job.keys.input(p), '-', '+'], true);
    const output = await cmd.send<Entry[]>(['XRANGE', job.keys.output(p), '-', '+'], true);
    const kernels = new Map<string, Kernel>();
    const spec: KernelSpec = job.spec;
    if (output.length !== input.length) throw new Error(`partition ${p}: ${output.length} output entries for ${input.length} input entries`);
    for (let i = 0; i < input.length; i++) {
      const id = input[i]![0].toString();
      const flat = input[i]![1];
      const outId = output[i]![0].toString();
      const outFlat = output[i]![1];
      if (outId !== id) throw new Error(`partition ${p} entry ${i}: output id ${outId}, input id ${id}`);
      const fields = fieldsOf(flat);
      const batch = decodeRows(fields);
      if ('error' in batch) throw new Error(`partition ${p}: unreadable input ${id}`);
      const expected = new Float64Array(batch.values.length);
      for (let j = 0; j < batch.values.length; j++) {
        const key = batch.keys[j]!;
        let kernel = kernels.get(key);
        if (kernel === undefined) kernels.set(key, (kernel = await createKernel(spec)));
        expected[j] = kernel.push(new Float64Array([batch.values[j]!]))[0]!;
      }
      const got = fieldsOf(outFlat);
      const keyField = fields['kc'] !== undefined ? 'kc' : 'k'; // keys go out as they came in (format 4: not at all)
      if (job.format === 4 ? got['k'] !== undefined || got['kc'] !== undefined : !got[keyField]?.equals(fields[keyField]!)) throw new Error(`partition ${p} entry ${id}: keys differ`);
      if (job.format !== 1) {
        // formats 2 to 4: results as little-endian doubles, compared bit for bit
        if (got['v'] !== undefined || !got['x']?.equals(encodeColumn(expected))) throw new Error(`partition ${p} entry ${id}: results differ (binary column x)`);
      } else if (got['v']?.toString() !== formatValues(expected)) {
        throw new Error(`partition ${p} entry ${id}: results differ:\n got      ${got['v']?.toString()}\n expected ${formatValues(expected)}`);
      }
      rows += batch.values.length;
    }
    const [last, entries] = await cmd.send<(string | null)[]>(['HMGET', job.keys.checkpoint(p), 'last', 'entries']);
    const inputLast = input.at(-1)?.[0].toString() ?? '0-0';
    if ((last ?? '0-0') !== inputLast) throw new Error(`partition ${p}: checkpoint at ${last}, input ends at ${inputLast}`);
    if (Number(entries ?? 0) !== input.length) throw new Error(`partition ${p}: checkpoint counts ${entries} entries, input has ${input.length}`);
    const snapshots = await checkpointSnapshots(cmd, job, p);
    if (snapshots.size !== kernels.size) throw new Error(`partition ${p}: checkpoint holds ${snapshots.size} keys, reference ${kernels.size}`);
    for (const [key, kernel] of kernels) {
      const snap = snapshots.get(key);
      const want = kernel.snapshot();
      if (snap === undefined || Buffer.compare(Buffer.from(snap), Buffer.from(want)) !== 0) {
        const at = snap === undefined ? -1 : want.findIndex((b, i) => snap[i] !== b);
        throw new Error(`partition ${p}: checkpoint state of ${key} differs from the reference (${snap?.length} vs ${want.length} bytes, first difference at byte ${at}: ${Buffer.from(snap ?? []).subarray(at, at + 16).toString('hex')} vs ${Buffer.from(want).subarray(at, at + 16).toString('hex')})`);
      }
      kernel.dispose();
    }
  }
  return rows;
}

/** A Redis Cluster on loopback: 3 masters, each with one replica (6 servers, AOF with appendfsync always). */
export class RedisCluster {
  private constructor(readonly nodes: RedisServer[]) {}

  static async start(): Promise<RedisCluster> {
    const nodes: RedisServer[] = [];
    try {
      for (let i = 0; i < 6; i++) nodes.push(await RedisServer.start({ cluster: true }));
      const create = spawnSync('redis-cli', ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '1', '--cluster-yes'], { encoding: 'utf8', timeout: 30_000 });
      if (create.status !== 0) throw new Error(`redis-cli --cluster create failed (${create.error?.message ?? create.status}): ${create.stdout}${create.stderr}`);
      const cluster = new RedisCluster(nodes);
      await cluster.waitHealthy();
      return cluster;
    } catch (err) {
      for (const n of nodes) await n.stop();
      throw err;
    }
  }

  url(): string {
    return this.nodes[0]!.url();
  }

  private cli(node: RedisServer, ...args: string[]): string {
    return spawnSync('redis-cli', ['-p', String(node.port), ...args], { encoding: 'utf8', timeout: 10_000 }).stdout ?? '';
  }

  private live(): RedisServer[] {
    return this.nodes.filter((n) => n.proc !== undefined);
  }

  /** A node's replication role: 'master' or 'slave'. */
  role(node: RedisServer): string {
    return /role:(\w+)/.exec(this.cli(node, 'INFO', 'replication'))?.[1] ?? 'unknown';
  }

  /** Waits until a master's replica has received every write the master had taken when called. */
  async replicated(master: RedisServer): Promise<void> {
    const offset = Number(/master_repl_offset:(\d+)/.exec(this.cli(master, 'INFO', 'replication'))?.[1]);
    await waitFor('the replica to catch up', () => Number(/slave0:.*offset=(\d+)/.exec(this.cli(master, 'INFO', 'replication'))?.[1] ?? -1) >= offset);
  }

  /** A running master that holds slots, other than the node the URL names. */
  master(): RedisServer {
    return this.live().find((n) => n !== this.nodes[0] && /role:master/.test(this.cli(n, 'INFO', 'replication')) && /connected_slaves:1/.test(this.cli(n, 'INFO', 'replication')))!;
  }

  /** Waits until every live node sees the cluster as ok, with 3 masters each answered by a live node. */
  async waitHealthy(timeoutMs = 30_000): Promise<void> {
    await waitFor(
      'the cluster to be healthy',
      () =>
        this.live().every((n) => {
          if (!/cluster_state:ok/.test(this.cli(n, 'CLUSTER', 'INFO'))) return false;
          const masters = this.cli(n, 'CLUSTER', 'NODES')
            .split('\n')
            .filter((l) => / master /.test(` ${l.split(' ')[2]?.replace(/,/g, ' ')} `) && !/fail/.test(l.split(' ')[2] ?? '') && / \d+-\d+/.test(l));
          return masters.length === 3;
        }),
      timeoutMs,
    );
  }

  async stop(): Promise<void> {
    for (const n of this.nodes) await n.stop();
  }
}
