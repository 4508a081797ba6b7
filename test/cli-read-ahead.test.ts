// `run`'s read-ahead while its ops start (src/cli/read-ahead.ts): whatever
// the depth and however long the start takes, the consumer gets the source's
// batches in order, then its error (if any) where it came, and the source is
// closed when the consumer stops early or the ops fail to start.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ReadAhead, readAheadBatches } from '../src/cli/read-ahead.js';

/** A source of `n` items that fails at item `failAt` (if below n), with a turn of the event loop before some items; records its reads and whether it was closed. */
function source(n: number, failAt: number, slow: boolean[]): { items: AsyncIterable<number>; reads: () => number; closed: () => boolean } {
  let reads = 0;
  let closed = false;
  async function* gen(): AsyncGenerator<number> {
    try {
      for (let i = 0; i < n; i++) {
        if (slow[i % Math.max(1, slow.length)] === true) await new Promise((r) => setTimeout(r, 0));
        reads++;
        if (i === failAt) throw new Error(`bad item ${i}`);
        yield i;
      }
    } finally {
      closed = true;
    }
  }
  return { items: gen(), reads: () => reads, closed: () => closed };
}

/** The items up to the error (its message last), as a plain for-await gives them. */
async function drain(items: AsyncIterable<number>, stopAfter = Infinity): Promise<(number | string)[]> {
  const got: (number | string)[] = [];
  try {
    for await (const x of items) {
      got.push(x);
      if (got.length >= stopAfter) break;
    }
  } catch (error) {
    got.push((error as Error).message);
  }
  return got;
}

/** A promise settled after `turns` timer turns (rejected when `fail`). */
function startAfter(turns: number, fail: boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    const step = (k: number): void => {
      if (k === 0) return fail ? reject(new Error('start failed')) : resolve();
      setTimeout(() => step(k - 1), 0);
    };
    step(turns);
  });
}

describe('ReadAhead', () => {
  it('property: any depth, any start time, any failing item: the same items in order, then the same error, as the source read directly', async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat(12), fc.nat(14), fc.integer({ min: 1, max: 6 }), fc.nat(8), fc.array(fc.boolean(), { maxLength: 5 }), async (n, failAt, depth, turns, slow) => {
        const expected = await drain(source(n, failAt, slow).items);
        const s = source(n, failAt, slow);
        const start = startAfter(turns, false);
        const ahead = new ReadAhead(s.items, start, depth);
        await start;
        expect(s.reads()).toBeLessThanOrEqual(Math.min(n, depth));
        expect(await drain(ahead)).toEqual(expected);
        expect(s.closed()).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it('property: a consumer that stops early closes the source, whatever was read ahead', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 2, max: 10 }), fc.integer({ min: 1, max: 6 }), fc.nat(6), async (n, depth, turns) => {
        const s = source(n, n, []);
        const start = startAfter(turns, false);
        const ahead = new ReadAhead(s.items, start, depth);
        await start;
        expect(await drain(ahead, 1)).toEqual([0]);
        expect(s.closed()).toBe(true);
      }),
      { numRuns: 100 },
    );
  });

  it('property: ops that fail to start: close() stops the read-ahead and closes the source, and its own error is never thrown', async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat(10), fc.nat(12), fc.integer({ min: 1, max: 6 }), fc.nat(6), async (n, failAt, depth, turns) => {
        const s = source(n, failAt, [true]);
        const start = startAfter(turns, true);
        const ahead = new ReadAhead(s.items, start, depth);
        await expect(start).rejects.toThrow('start failed');
        await ahead.close();
        expect(s.closed()).toBe(true);
      }),
      { numRuns: 100 },
    );
  });

  it('reads ahead at most ~1 Mi rows, and at least one batch', () => {
    expect(readAheadBatches(65_536)).toBe(16);
    expect(readAheadBatches(1)).toBe(1024);
    expect(readAheadBatches(1 << 24)).toBe(1);
  });
});
