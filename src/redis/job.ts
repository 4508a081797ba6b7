// Talking to Redis: commands and scripts (EVALSHA, falling back to EVAL when
// the server has lost its script cache, as after a restart), and the job's
// definition in job:{J}.
import type { RedisArgument } from 'redis';
import { normalizeSpec } from '../spec.js';
import type { KernelSpec } from '../types.js';
import { scrub, type RedisConnection } from './config.js';
import { RedisJobError } from './errors.js';
import { checkPartitions, JobKeys } from './keys.js';
import { CREATE_JOB, type LuaScript } from './scripts.js';

/**
 * Raw commands over one connection. Replies are strings, or Buffers with `binary`.
 *
 * @example
 * ```ts
 * const cmd = new Commands(await connectRedis({ url: 'redis://127.0.0.1:6379' }));
 * const pong = await cmd.send<string>(['PING']); // 'PONG'
 * ```
 */
export class Commands {
  constructor(
    /** The connection the commands go over. */
    readonly conn: RedisConnection,
  ) {}

  /**
   * Sends one command (`args[0]` is its name) and resolves to the reply, as
   * Buffers instead of strings when `binary` is set. The reply type `T` is
   * the caller's assertion; nothing checks it.
   */
  send<T>(args: RedisArgument[], binary = false): Promise<T> {
    return this.conn.sendCommand(args, binary) as Promise<T>;
  }

  /**
   * Runs a Lua script with EVALSHA, falling back to EVAL (which caches it
   * again) when the server replies NOSCRIPT, as after a restart.
   */
  async script<T>(script: LuaScript, keys: readonly string[], args: readonly RedisArgument[], binary = false): Promise<T> {
    const tail = [String(keys.length), ...keys, ...args];
    try {
      return await this.send<T>(['EVALSHA', script.sha, ...tail], binary);
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
      return this.send<T>(['EVAL', script.source, ...tail], binary);
    }
  }

  /** An error's message, with every secret removed. */
  describe(err: unknown): string {
    return scrub(err instanceof Error ? err.message : String(err), this.conn.secrets);
  }
}

/** What a job runs. */
export interface JobDefinition {
  /** Number of partitions, fixed for the job's life. @default 64 */
  partitions?: number;
  /** The kernel every key of every partition runs (a count-window rolling op or ewm). */
  spec: KernelSpec;
  /**
   * The job's layout format (docs/REDIS.md): 1 writes results as text (`v`)
   * and each commit rewrites the partition's whole state; 2 writes results
   * as binary columns (`x`, little-endian doubles) and each commit stores
   * only the state of the key groups its rows touched; 3 is format 2 with
   * the keys as a binary key column (`kc`) instead of JSON (`k`); 4 is
   * format 3 whose output entries hold the results (`x`) only, not the keys
   * again (they are in the input entry of the same id).
   * @default 1
   */
  format?: JobFormat;
}

/** A job layout format: see {@link JobDefinition.format}. */
export type JobFormat = 1 | 2 | 3 | 4;

/** A job as stored in Redis. */
export interface Job {
  /** The job's name. */
  name: string;
  /** Number of partitions, fixed for the job's life. */
  partitions: number;
  /** The kernel every key runs, as given when the job was created. */
  spec: KernelSpec;
  /** The job's Redis key names. */
  keys: JobKeys;
  /** The job's layout format (see {@link JobDefinition.format}). */
  format: JobFormat;
}

/** The default version of the job layout (key names, entry fields, checkpoint fields): see {@link JobDefinition.format}. */
export const JOB_FORMAT = '1';
/** Every job layout format this build reads and writes. */
export const JOB_FORMATS: readonly string[] = ['1', '2', '3', '4'];

function checkFormat(format: unknown): JobFormat {
  if (format !== 1 && format !== 2 && format !== 3 && format !== 4) throw new RedisJobError('CONFIG', `job format must be 1, 2, 3 or 4, got ${JSON.stringify(format)}`);
  return format;
}
/** Partitions of a job whose {@link JobDefinition} gives none. */
export const DEFAULT_PARTITIONS = 64;

function checkSpec(spec: unknown): KernelSpec {
  try {
    normalizeSpec(spec);
  } catch (err) {
    throw new RedisJobError('CONFIG', `bad kernel spec: ${(err as Error).message}`);
  }
  return spec as KernelSpec;
}

function sameSpec(a: KernelSpec, b: KernelSpec): boolean {
  return JSON.stringify(normalizeSpec(a)) === JSON.stringify(normalizeSpec(b));
}

/**
 * Creates a job, or checks that the existing job of that name has the same
 * partitions and spec (`JOB_MISMATCH` otherwise). Throws `CONFIG` for a bad
 * name, partition count or spec.
 *
 * @example
 * ```ts
 * const cmd = new Commands(await connectRedis({ url: 'redis://127.0.0.1:6379' }));
 * const job = await createJob(cmd, 'prices', { partitions: 16, spec: { op: 'mean', window: 20 } });
 * ```
 */
export async function createJob(cmd: Commands, name: string, definition: JobDefinition): Promise<Job> {
  const keys = new JobKeys(name);
  const partitions = checkPartitions(definition.partitions ?? DEFAULT_PARTITIONS);
  const spec = checkSpec(definition.spec);
  const format = checkFormat(definition.format ?? Number(JOB_FORMAT));
  const existing = await cmd.script<[string | null, string | null, string | null] | null>(CREATE_JOB, [keys.meta], [String(partitions), JSON.stringify(spec), String(format)]);
  if (existing === null) return { name, partitions, spec, keys, format };
  const job = parseJob(name, keys, existing, cmd.conn.display);
  if (job.partitions !== partitions || !sameSpec(job.spec, spec) || job.format !== format) {
    throw new RedisJobError(
      'JOB_MISMATCH',
      `job '${name}' already exists at ${cmd.conn.display} with ${job.partitions} partitions${formatNote(job.format)} and spec ${JSON.stringify(job.spec)}; asked for ${partitions} partitions${formatNote(format)} and ${JSON.stringify(spec)}`,
    );
  }
  return job;
}

/** ' (format 2)' (or 3) for a format other than the default, so messages for format-1 jobs read as before. */
function formatNote(format: JobFormat): string {
  return String(format) === JOB_FORMAT ? '' : ` (format ${format})`;
}

function parseJob(name: string, keys: JobKeys, fields: readonly (string | null)[], display: string): Job {
  const [partitions, spec, format] = fields;
  if (format === null || format === undefined || !JOB_FORMATS.includes(format)) {
    throw new RedisJobError('PROTOCOL', `job '${name}' at ${display} has layout format ${JSON.stringify(format)}; this build reads formats ${JOB_FORMATS.slice(0, -1).join(', ')} and ${JOB_FORMATS.at(-1)!}`);
  }
  let parsedSpec: unknown;
  try {
    parsedSpec = JSON.parse(spec ?? '');
  } catch {
    throw new RedisJobError('PROTOCOL', `job '${name}' at ${display} has an unreadable spec`);
  }
  return { name, partitions: checkPartitions(Number(partitions)), spec: checkSpec(parsedSpec), keys, format: Number(format) as JobFormat };
}

/**
 * Reads a job's definition; `NO_JOB` if there is none of that name.
 *
 * @example
 * ```ts
 * const job = await readJob(cmd, 'prices');
 * console.log(job.partitions, job.spec);
 * ```
 */
export async function readJob(cmd: Commands, name: string): Promise<Job> {
  const keys = new JobKeys(name);
  const fields = await cmd.send<(string | null)[]>(['HMGET', keys.meta, 'partitions', 'spec', 'format']);
  if (fields[0] === null || fields[0] === undefined) {
    throw new RedisJobError(
      'NO_JOB',
      `job '${name}' does not exist at ${cmd.conn.display} (no key ${keys.meta}); create it first (createJob(), or \`streamkernel produce --create\`), and check the job name and database number`,
    );
  }
  return parseJob(name, keys, fields, cmd.conn.display);
}

/** Progress of one partition. */
export interface PartitionStatus {
  /** The partition's number, from 0. */
  partition: number;
  /** Id of the last input entry, '0-0' if none. */
  inputLast: string;
  /** Id of the last input entry committed, '0-0' if none. */
  committedLast: string;
  /** Input entries committed. */
  entries: number;
  /** The lease token ("<epoch>:<worker>"), or null when free. */
  owner: string | null;
}

/**
 * Every partition's progress, in partition order; a job is drained when
 * `inputLast === committedLast` everywhere.
 *
 * @example
 * ```ts
 * const status = await jobStatus(cmd, await readJob(cmd, 'prices'));
 * const drained = status.every((s) => s.inputLast === s.committedLast);
 * ```
 */
export async function jobStatus(cmd: Commands, job: Job): Promise<PartitionStatus[]> {
  const out: Promise<PartitionStatus>[] = [];
  for (let p = 0; p < job.partitions; p++) {
    out.push(
      (async () => {
        const [top, ckpt, owner] = await Promise.all([
          cmd.send<[string, string[]][]>(['XREVRANGE', job.keys.input(p), '+', '-', 'COUNT', '1']),
          cmd.send<(string | null)[]>(['HMGET', job.keys.checkpoint(p), 'last', 'entries']),
          cmd.send<string | null>(['GET', job.keys.lease(p)]),
        ]);
        return { partition: p, inputLast: top[0]?.[0] ?? '0-0', committedLast: ckpt[0] ?? '0-0', entries: Number(ckpt[1] ?? 0), owner };
      })(),
    );
  }
  return Promise.all(out);
}
