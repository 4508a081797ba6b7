// streamkernel/redis: scale-out on Redis Streams. See docs/REDIS.md.
export { connectRedis, parseRedisUrl, redactUrl, PASSWORD_ENV } from './config.js';
export type { RedisConnection, RedisConnectionOptions, RedisUrl } from './config.js';
export { RedisJobError } from './errors.js';
export type { RedisJobErrorCode } from './errors.js';
export { Commands, createJob, readJob, jobStatus, DEFAULT_PARTITIONS, JOB_FORMAT, JOB_FORMATS } from './job.js';
export type { Job, JobDefinition, JobFormat, PartitionStatus } from './job.js';
export { JobKeys, partitionOf, rendezvousScore, checkJobName } from './keys.js';
export type { LuaScript } from './scripts.js';
export { decodeRows, decodeValues, decodeColumn, encodeColumn, encodeRows, encodeKeyColumn, decodeKeyColumn, KEY_COLUMN_VERSION, decodePartitionState, encodePartitionState, restorePartition, formatNumber, parseNumber } from './codec.js';
export type { DecodedRows, KeyColumn } from './codec.js';
export { createProducer } from './producer.js';
export type { Producer, ProducerOptions } from './producer.js';
export { startWorker } from './worker.js';
export type { WorkerEvent, WorkerHandle, WorkerOptions, WorkerStats } from './worker.js';
export { runWorkerCommand, runProduceCommand, WORKER_HELP, PRODUCE_HELP } from './cli.js';
export type { RedisCliIo } from './cli.js';
