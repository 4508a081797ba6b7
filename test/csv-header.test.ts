// The CSV reader's header: csv-parse looks for it in growing pieces of the
// first chunk (4 KiB, then 4 times larger), so a header of any length, quoted
// cells holding line ends or commas, and any cut of the input into chunks
// give the same columns, rows and offsets.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { byteChunks } from '../src/connectors/columns.js';
import { csvBatches } from '../src/connectors/csv.js';
import { splitAt } from './chunks.js';

const enc = new TextEncoder();


const quoted = (name: string): string => (/[",\r\n]/.test(name) ? `"${name.replaceAll('"', '""')}"` : name);

async function readAll(input: Uint8Array, cuts: readonly number[], value: string): Promise<{ values: number[]; end: unknown }> {
  const values: number[] = [];
  let end: unknown;
  for await (const b of csvBatches(() => byteChunks(splitAt(input, cuts)), false, { value, batchSize: 1000 })) {
    values.push(...b.values);
    end = b.end;
  }
  return { values, end };
}

describe('CSV header', () => {
  it('property: a header of any length (past the first 4 KiB piece and the 64 KiB chunk), quoted cells with line ends, cut anywhere: the same columns, rows and offsets', async () => {
    const name = fc.oneof(
      fc.stringMatching(/^[a-z]{1,12}$/),
      fc.integer({ min: 1, max: 9000 }).map((n) => 'x'.repeat(n)),
      fc.constantFrom('a\nb', 'c,d', 'e"f', 'g\r\nh'),
    );
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(name, { minLength: 1, maxLength: 12 }), fc.nat(), fc.integer({ min: 1, max: 3000 }), fc.array(fc.nat(), { maxLength: 6 }), fc.boolean(), async (names, which, rows, rawCuts, crlf) => {
        const cols = ['v', ...names.filter((n) => n !== 'v')];
        const at = which % cols.length;
        [cols[0], cols[at]] = [cols[at]!, cols[0]!];
        const eol = crlf ? '\r\n' : '\n';
        const header = cols.map(quoted).join(',') + eol;
        let body = '';
        const expected: number[] = [];
        for (let r = 0; r < rows; r++) {
          body += cols.map((c) => (c === 'v' ? String(r * 0.5) : '1')).join(',') + eol;
          expected.push(r * 0.5);
        }
        const input = enc.encode(header + body);
        const cuts = rawCuts.map((c) => 1 + (c % Math.max(1, input.length - 1)));
        const got = await readAll(input, cuts, 'v');
        expect(got.values).toEqual(expected);
        expect(got.end).toEqual({ bytes: input.length, rows, lines: rows + 1 + cols.reduce((n, c) => n + (c.match(/\n/g)?.length ?? 0), 0) });
        // Read whole (one chunk): the same.
        expect(await readAll(input, [], 'v')).toEqual(got);
      }),
      { numRuns: 150 },
    );
  });

  it('property: a plain header line (no quotes; LF, CRLF or CR; any delimiter, BOM, empty cells, non-ASCII names), read without csv-parse, gives the columns, rows and offsets of the same header quoted, which csv-parse reads', async () => {
    const name = fc.oneof(fc.stringMatching(/^[a-z ]{0,8}$/), fc.constantFrom('é', 'ü b', '温度', '', ' x '));
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(name, { minLength: 1, maxLength: 8 }),
        fc.nat(),
        fc.integer({ min: 1, max: 300 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        fc.constantFrom('\n', '\r\n', '\r'),
        fc.constantFrom(',', ';', '\t', '::'),
        fc.boolean(),
        async (names, which, rows, rawCuts, eol, delimiter, bom) => {
          const cols = ['v', ...names.filter((n) => n !== 'v' && !n.includes(delimiter))];
          const at = which % cols.length;
          [cols[0], cols[at]] = [cols[at]!, cols[0]!];
          let body = '';
          const expected: number[] = [];
          for (let r = 0; r < rows; r++) {
            body += cols.map((c) => (c === 'v' ? String(r * 0.25) : '1')).join(delimiter) + eol;
            expected.push(r * 0.25);
          }
          const read = async (header: string): Promise<{ values: number[]; end: { bytes: number; rows: number; lines: number } }> => {
            const input = enc.encode((bom ? '\ufeff' : '') + header + eol + body);
            const cuts = rawCuts.map((c) => 1 + (c % Math.max(1, input.length - 1)));
            const values: number[] = [];
            let end = { bytes: 0, rows: 0, lines: 0 };
            for await (const b of csvBatches(() => byteChunks(splitAt(input, cuts)), false, { value: 'v', delimiter, batchSize: 100 })) {
              values.push(...b.values);
              end = b.end as typeof end;
            }
            expect(end.bytes).toBe(input.length);
            return { values, end };
          };
          const plain = await read(cols.join(delimiter));
          const quotedAll = await read(cols.map((c) => `"${c}"`).join(delimiter));
          expect(plain.values).toEqual(expected);
          expect(plain.values).toEqual(quotedAll.values);
          expect({ rows: plain.end.rows, lines: plain.end.lines }).toEqual({ rows: quotedAll.end.rows, lines: quotedAll.end.lines });
          expect(plain.end.rows).toBe(rows);
          expect(plain.end.lines).toBe(rows + 1);
        },
      ),
      { numRuns: 200 },
    );
  });
});
