// The in-memory checkpoint store (platform-neutral). The file store is in
// node.ts, the IndexedDB store in browser.ts.
import { concatBytes } from '../bytes.js';
import type { CheckpointStore } from './types.js';

/** Checks `keep`, shared by every store. */
export function checkKeep(keep: unknown): number {
  if (typeof keep !== 'number') throw new TypeError(`keep must be a number, got ${typeof keep === 'string' ? `'${keep}'` : String(keep)}`);
  if (!Number.isInteger(keep) || keep < 1) throw new RangeError(`keep must be a positive integer, got ${keep}`);
  return keep;
}

/**
 * A checkpoint store in memory: for recovery from worker failures within one
 * process (it does not survive the process). Keeps the bytes it is given
 * (the job never modifies them after saving); a checkpoint saved as parts
 * keeps its parts, joined into one buffer when it is first read.
 *
 * @param options.keep - checkpoints kept, newest first. @default 2
 * @example
 * ```ts
 * const store = memoryCheckpointStore({ keep: 3 });
 * ```
 */
export function memoryCheckpointStore(options: { keep?: number } = {}): CheckpointStore & {
  /** The checkpoints held, by id (the store's own map: for inspection). */
  readonly entries: Map<number, Uint8Array>;
} {
  const keep = checkKeep(options.keep ?? 2);
  const entries = new Map<number, Uint8Array>();
  // Checkpoints saved as parts (the job's key group states, not copied): joined on first read.
  const parted = new Map<number, readonly Uint8Array[]>();
  const join = (id: number): void => {
    const parts = parted.get(id);
    if (parts === undefined) return;
    parted.delete(id);
    entries.set(id, concatBytes(parts));
  };
  const ids = (): number[] => [...entries.keys(), ...parted.keys()].sort((a, b) => b - a);
  const dropOld = (): void => {
    for (const old of ids().slice(keep)) {
      entries.delete(old);
      parted.delete(old);
    }
  };
  return {
    get entries() {
      for (const id of [...parted.keys()]) join(id);
      return entries;
    },
    async save(id, bytes) {
      parted.delete(id);
      entries.set(id, bytes);
      dropOld();
    },
    async saveParts(id, parts) {
      entries.delete(id);
      parted.set(id, [...parts]);
      dropOld();
    },
    async list() {
      return ids();
    },
    async read(id) {
      join(id);
      const bytes = entries.get(id);
      if (bytes === undefined) throw new Error(`no checkpoint ${id} in the store`);
      return bytes;
    },
  };
}
