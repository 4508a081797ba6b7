// Keys → key groups → workers. The hash and both mappings are part of the
// checkpoint format: a checkpoint stores state per key group, so changing any
// of them would scatter restored keys into the wrong groups. Do not change.

/** The default number of key groups: the maximum parallelism of a job. */
export const DEFAULT_KEY_GROUPS = 128;

/** The most key groups a job may have (as Flink's maximum parallelism). */
export const MAX_KEY_GROUPS = 32_768;

/**
 * The stable 32-bit hash of a key: MurmurHash3's finalizer (`fmix32`) of the
 * key as an unsigned 32-bit integer. The same in every process, worker,
 * browser and version of streamkernel.
 *
 * @example
 * ```ts
 * keyHash(0); // 0
 * keyHash(1); // 1364076727
 * ```
 */
export function keyHash(key: number): number {
  let h = key >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * The key group of a key: `floor(keyHash(key) · keyGroups / 2³²)`, in
 * `[0, keyGroups)`.
 *
 * @example
 * ```ts
 * keyGroupOf(42, 128); // 4
 * ```
 */
export function keyGroupOf(key: number, keyGroups: number): number {
  return Math.floor((keyHash(key) * keyGroups) / 4294967296);
}

/**
 * The worker that owns a key group: `floor(group · workers / keyGroups)`.
 * Each worker owns one contiguous range of groups (see {@link keyGroupRange}),
 * so a rescale moves whole groups.
 *
 * @example
 * ```ts
 * workerOfKeyGroup(67, 128, 2); // 1
 * ```
 */
export function workerOfKeyGroup(group: number, keyGroups: number, workers: number): number {
  return Math.floor((group * workers) / keyGroups);
}

/**
 * The key groups worker `worker` of `workers` owns: `[start, end)` with
 * `start = ceil(worker · keyGroups / workers)`.
 *
 * @example
 * ```ts
 * keyGroupRange(1, 128, 3); // [43, 86]
 * ```
 */
export function keyGroupRange(worker: number, keyGroups: number, workers: number): [start: number, end: number] {
  return [Math.ceil((worker * keyGroups) / workers), Math.ceil(((worker + 1) * keyGroups) / workers)];
}
