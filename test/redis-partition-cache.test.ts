// The producer's key → partition memo (src/redis/partition-cache.ts) routes
// exactly as partitionOf, whatever the keys, their repetition and the memo's
// size (cleared when full).
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { partitionOf } from '../src/redis/keys.js';
import { PartitionCache } from '../src/redis/partition-cache.js';

describe('the producer\'s partition memo', () => {
  test('any keys (repeated, non-ASCII), any partition count, any memo size: the partition of each key is partitionOf\'s', () => {
    const key = fc.oneof(fc.constantFrom('AAPL', 'MSFT', 'k1', '', 'é', '😀x'), fc.string({ unit: 'grapheme', maxLength: 12 }));
    fc.assert(
      fc.property(fc.array(key, { maxLength: 200 }), fc.integer({ min: 1, max: 256 }), fc.integer({ min: 1, max: 8 }), (keys, partitions, maxKeys) => {
        const cache = new PartitionCache(partitions, maxKeys);
        for (const k of keys) expect(cache.of(k)).toBe(partitionOf(k, partitions));
      }),
      { numRuns: 300 },
    );
  });

  test('Python\'s zlib.crc32(b\'AAPL\') % 64, asked twice (the second answer from the memo)', () => {
    const cache = new PartitionCache(64);
    expect([cache.of('AAPL'), cache.of('AAPL')]).toEqual([28, 28]);
  });
});
