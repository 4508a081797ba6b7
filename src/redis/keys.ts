// Key names and the partition function. Every key of partition p of job J
// carries the hash tag {J:p}, so a partition's input, output, checkpoint and
// lease live in one Redis Cluster slot and one Lua script may touch them all;
// different partitions spread over the cluster.
//
//   job:{J}          hash: the job's parameters (partitions, spec, format)
//   members:{J}      sorted set: live worker ids, scored by last heartbeat (server time, ms)
//   in:{J:p}         stream: input rows of partition p
//   out:{J:p}        stream: results of partition p (entry id = input entry id)
//   ckpt:{J:p}       hash: last (last input id committed), state (kernels), epoch, entries
//   lease:{J:p}      string: the owner's token "<epoch>:<worker id>", with an expiry
import { crc32 } from '../crc32.js';
import { RedisJobError } from './errors.js';

/** Job names: 1 to 100 of A–Z a–z 0–9 _ . - (no braces or colons, which would break the hash tags). */
export const JOB_NAME = /^[A-Za-z0-9_.-]{1,100}$/;

/** The most partitions a job may have. */
export const MAX_PARTITIONS = 16_384;

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

/** The Redis keys of one job. */
export class JobKeys {
  constructor(readonly job: string) {
    checkJobName(job);
  }
  get meta(): string {
    return `job:{${this.job}}`;
  }
  get members(): string {
    return `members:{${this.job}}`;
  }
  input(p: number): string {
    return `in:{${this.job}:${p}}`;
  }
  output(p: number): string {
    return `out:{${this.job}:${p}}`;
  }
  checkpoint(p: number): string {
    return `ckpt:{${this.job}:${p}}`;
  }
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
 */
export function partitionOf(key: string, partitions: number): number {
  const bytes = encoder.encode(key);
  return crc32(bytes) % partitions;
}

/** Rendezvous (highest random weight) score of a worker for a partition: a 32-bit mix of both. */
export function rendezvousScore(worker: string, partition: number): number {
  let h = crc32(encoder.encode(`${worker}#${partition}`));
  // murmur3 finalizer: spreads CRC's linear structure
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
