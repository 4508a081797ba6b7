// Key names and the partition function. Every key of partition p of job J
// carries the hash tag {J:p}, so a partition's input, output, checkpoint and
// lease live in one Redis Cluster slot and one Lua script may touch them all;
// different partitions spread over the cluster.
//
//   job:{J}          hash: the job's parameters (partitions, spec, format)
//   members:{J}      sorted set: live worker ids, scored by last heartbeat (server time, ms)
//   in:{J:p}         stream: input rows of partition p
//   out:{J:p}        stream: results of partition p (entry id = input entry id)
//   ckpt:{J:p}       hash: last (last input id committed), state (kernels, job format 1), epoch, entries
//   state:{J:p}      hash (job format 2): key group -> the state of its keys
//   lease:{J:p}      string: the owner's token "<epoch>:<worker id>", with an expiry
import { crc32 } from '../crc32.js';
import { keyHash } from '../scheduler/hash.js';
import { RedisJobError } from './errors.js';

/** Job names: 1 to 100 of A–Z a–z 0–9 _ . - (no braces or colons, which would break the hash tags). */
export const JOB_NAME = /^[A-Za-z0-9_.-]{1,100}$/;

/** The most partitions a job may have. */
export const MAX_PARTITIONS = 16_384;

/**
 * Checks a job name (1 to 100 of A–Z a–z 0–9 _ . -) and returns it; throws
 * {@link RedisJobError} (`CONFIG`) otherwise.
 *
 * @example
 * ```ts
 * checkJobName('prices-eu.1'); // 'prices-eu.1'
 * checkJobName('a:b');         // throws: no colons (they would break the hash tags)
 * ```
 */
export function checkJobName(job: unknown): string {
  if (typeof job !== 'string' || !JOB_NAME.test(job)) {
    throw new RedisJobError('CONFIG', `job name must be 1 to 100 characters of A-Z a-z 0-9 _ . - , got ${JSON.stringify(typeof job === 'string' ? job.slice(0, 120) : job)}`);
  }
  return job;
}

export function checkPartitions(partitions: unknown): number {
  if (typeof partitions !== 'number' || !Number.isInteger(partitions) || partitions < 1 || partitions > MAX_PARTITIONS) {
    throw new RedisJobError('CONFIG', `partitions must be an integer from 1 to ${MAX_PARTITIONS}, got ${String(partitions)}`);
  }
  return partitions;
}

/**
 * The Redis keys of one job. Every key of partition `p` carries the hash tag
 * `{job:p}`, so one partition's keys share a Redis Cluster slot. Throws
 * {@link RedisJobError} (`CONFIG`) for a bad job name.
 *
 * @example
 * ```ts
 * const keys = new JobKeys('prices');
 * keys.meta;      // 'job:{prices}'
 * keys.output(3); // 'out:{prices:3}'
 * ```
 */
export class JobKeys {
  constructor(
    /** The job's name. */
    readonly job: string,
  ) {
    checkJobName(job);
  }
  /** The hash of the job's parameters (partitions, spec, format): `job:{J}`. */
  get meta(): string {
    return `job:{${this.job}}`;
  }
  /** The sorted set of live worker ids, scored by last heartbeat (server time, ms): `members:{J}`. */
  get members(): string {
    return `members:{${this.job}}`;
  }
  /** The stream of partition `p`'s input rows: `in:{J:p}`. */
  input(p: number): string {
    return `in:{${this.job}:${p}}`;
  }
  /** The stream of partition `p`'s results, each entry with its input entry's id: `out:{J:p}`. */
  output(p: number): string {
    return `out:{${this.job}:${p}}`;
  }
  /** The hash of partition `p`'s checkpoint (last committed input id, kernel state, epoch, entries): `ckpt:{J:p}`. */
  checkpoint(p: number): string {
    return `ckpt:{${this.job}:${p}}`;
  }
  /** The hash of partition `p`'s kernel state by key group (job format 2): `state:{J:p}`. */
  state(p: number): string {
    return `state:{${this.job}:${p}}`;
  }
  /** Where a refused commit moves partition `p`'s output stream for the rest of its transaction, so that its `XADD`s fail: `park:{J:p}` (empty between commits). */
  park(p: number): string {
    return `park:{${this.job}:${p}}`;
  }
  /** The string holding partition `p`'s lease token `"<epoch>:<worker id>"`, with an expiry: `lease:{J:p}`. */
  lease(p: number): string {
    return `lease:{${this.job}:${p}}`;
  }
}

const encoder = new TextEncoder();

/**
 * The partition of a row key: CRC-32 (IEEE 802.3, as zlib's `crc32`) of the
 * key's UTF-8 bytes, modulo the number of partitions. Stable across
 * processes, machines, versions and languages (Python:
 * `zlib.crc32(key.encode()) % P`).
 *
 * @example
 * ```ts
 * partitionOf('AAPL', 64); // 28, as Python's zlib.crc32(b'AAPL') % 64
 * ```
 */
export function partitionOf(key: string, partitions: number): number {
  const bytes = encoder.encode(key);
  return crc32(bytes) % partitions;
}

/**
 * Rendezvous (highest random weight) score of a worker for a partition: an
 * unsigned 32-bit mix of both. Workers rank the live workers by it for each
 * partition; the partition goes to the highest-ranked one with room left
 * (each worker takes ⌊P/W⌋ or ⌈P/W⌉ of P partitions among W workers).
 *
 * @example
 * ```ts
 * const ranked = [...workers].sort((a, b) => rendezvousScore(b, 7) - rendezvousScore(a, 7)); // partition 7's preference
 * ```
 */
export function rendezvousScore(worker: string, partition: number): number {
  // The murmur3 finalizer (keyHash) spreads CRC's linear structure.
  return keyHash(crc32(encoder.encode(`${worker}#${partition}`)));
}
