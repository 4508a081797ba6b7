// The NDJSON fast path (flat objects read without JSON.parse, issue 13)
// against the general path: the same batches and the same error on any
// input, cut into chunks anywhere.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ndjsonBatches } from '../src/connectors/ndjson.js';
import type { ColumnBatch, ColumnOptions } from '../src/connectors/types.js';

const encoder = new TextEncoder();

async function read(bytes: Uint8Array, cuts: number[], options: ColumnOptions, fast: boolean): Promise<{ batches: unknown[]; error?: string }> {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  async function* chunks(): AsyncIterable<Uint8Array> {
    let at = 0;
    for (const p of [...points, bytes.length]) {
      if (p > at) yield bytes.slice(at, p);
      at = Math.max(at, p);
    }
  }
  const batches: unknown[] = [];
  const plain = (b: ColumnBatch): unknown => ({
    length: b.length,
    values: Array.from(b.values, (x) => (Object.is(x, -0) ? '-0' : x)),
    timestamps: b.timestamps && Array.from(b.timestamps),
    timeText: b.timeText,
    keys: b.keys,
    end: b.end,
    skipped: b.skipped,
  });
  try {
    for await (const b of ndjsonBatches(() => chunks(), false, options, fast)) batches.push(plain(b));
  } catch (e) {
    return { batches, error: `${(e as Error).name}: ${(e as Error).message}` };
  }
  return { batches };
}

const space = fc.constantFrom('', ' ', '\t', '  ', '\r');
const name = fc.constantFrom('v', 't', 'k', 'x', 'v2', '__proto__', 'é', 'k\\"', 'v\\u0076');
const value = fc.oneof(
  fc.double().map((x) => (Number.isFinite(x) ? JSON.stringify(x) : '1e400')),
  fc.integer({ min: -1e6, max: 1e6 }).map(String),
  fc.constantFrom('0', '-0', '01', '1.', '.5', '-', '1e', '1E+2', '2.50', '1e-7', 'null', 'true', 'false', '"NaN"', '"inf"', '"1.5"', '"abc"', '"é"', '"a\\"b"', '"a\\nb"', '[1]', '{"a":1}', '"2024-01-01T00:00:00Z"', '""', 'nul'),
);
const member = fc.tuple(space, name, space, space, value, space).map(([a, n, b, c, v, d]) => `${a}"${n}"${b}:${c}${v}${d}`);
const line = fc.oneof(
  { weight: 6, arbitrary: fc.array(member, { maxLength: 6 }).map((ms) => `{${ms.join(',')}}`) },
  { weight: 1, arbitrary: fc.constantFrom('', ' ', '{', '{"v":1,}', '[1,2]', 'null', '{"v":1} x', '\u00a0{"v":1}', '{"v":1', 'abc', '{"v" 1}', '{,"v":1}') },
  { weight: 2, arbitrary: fc.tuple(value, fc.integer({ min: 0, max: 2e9 }), fc.constantFrom('"a"', '"b"', '7', 'null')).map(([v, t, k]) => `{"t":${t},"k":${k},"v":${v}}`) },
);

describe('NDJSON fast path', () => {
  it('property: the same batches and the same error as the general path (JSON.parse) on any input, cut anywhere', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(line, { minLength: 1, maxLength: 30 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        fc.constantFrom<ColumnOptions>(
          { value: 'v' },
          { value: 'v', key: 'k' },
          { value: 'v', time: 't', key: 'k', onError: 'skip' },
          { value: 'v', key: 'k', onError: 'skip', batchSize: 3 },
          { value: '__proto__', key: 'é' },
        ),
        async (lines, cuts, options) => {
          // A good first row, so that the column check passes and later rows reach the fast path.
          const first = `{"t":0,"k":"a","v":1,"__proto__":2,"é":"z"}`;
          const bytes = encoder.encode(`${[first, ...lines].join('\n')}\n`);
          expect(await read(bytes, cuts, options, true)).toEqual(await read(bytes, cuts, options, false));
        },
      ),
      { numRuns: 1500 },
    );
  });
});
