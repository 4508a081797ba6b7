// The producer's memo of key → partition. A live feed's keys repeat, and
// partitionOf per row (the key's UTF-8 bytes made anew, then their CRC-32)
// was the producer's largest CPU cost: 15 % of the latency bench's process,
// whose producer ran late under load (issue 20). The memo is cleared when
// full, so its memory stays bounded whatever the keys.
import { partitionOf } from './keys.js';

/** Keys remembered at most, by default (about 5 MB of short keys). */
export const PARTITION_CACHE_KEYS = 1 << 16;

export class PartitionCache {
  private readonly known = new Map<string, number>();

  constructor(
    private readonly partitions: number,
    private readonly maxKeys = PARTITION_CACHE_KEYS,
  ) {}

  /** partitionOf(key, partitions), remembered. */
  of(key: string): number {
    let p = this.known.get(key);
    if (p === undefined) {
      if (this.known.size >= this.maxKeys) this.known.clear();
      p = partitionOf(key, this.partitions);
      this.known.set(key, p);
    }
    return p;
  }
}
