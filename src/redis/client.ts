// The redis client package, an optional peer dependency: importing
// streamkernel/redis without it fails here, saying `npm install redis`.
import { createRequire } from 'node:module';
import { importOptional } from '../optional.js';

/** What streamkernel takes from node-redis. */
export type RedisModule = Pick<typeof import('redis'), 'createClient' | 'createCluster' | 'RESP_TYPES'>;

const load = (): Promise<RedisModule> => import('redis');

/**
 * The `redis` package's client core, `@redis/client` (a dependency of
 * `redis`, resolved from where `redis` is installed, so any package layout
 * finds it): the connections of workers and producers, whose clients
 * nobody outside sees, use it. `redis` itself adds the bloom, JSON, search
 * and time-series module packages and attaches their commands to each
 * client class: about 60 ms of a worker process's CPU at start-up, for
 * commands it never sends. Where `import.meta.resolve` is missing (a
 * bundle) or the core cannot be loaded so, `redis` is loaded as before.
 * Resolving `redis` first keeps the contract: without it, importing
 * streamkernel/redis fails with `npm install redis`.
 */
export const redisCore: RedisModule = await importOptional('redis', 'streamkernel/redis', async () => {
  if (typeof import.meta.resolve !== 'function') return load();
  const installed = import.meta.resolve('redis'); // throws ERR_MODULE_NOT_FOUND when redis is not installed
  try {
    return createRequire(installed)('@redis/client') as RedisModule;
  } catch {
    return load();
  }
});

let full: Promise<RedisModule> | undefined;

/** The `redis` package itself, loaded on first use: `connectRedis`'s clients (public: `RedisConnection.client`) keep its module commands. */
export function loadRedis(): Promise<RedisModule> {
  return (full ??= importOptional('redis', 'streamkernel/redis', load));
}
