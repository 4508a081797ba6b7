// The demo's sink (LineCapture): the lines it keeps never depend on how the
// output is cut into chunks, nor on whether a chunk is a string or bytes.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LineCapture } from '../src/cli/line-capture.js';

/** Writes `text` to a capture of `wanted` in pieces cut at `cuts` (string or bytes by `asText`). */
async function capture(text: string, wanted: readonly number[], cuts: readonly number[], asText: readonly boolean[]): Promise<Map<number, string>> {
  const sink = new LineCapture(new Set(wanted));
  const bytes = Buffer.from(text, 'utf8');
  const at = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  let from = 0;
  for (const [i, end] of [...at, bytes.length].entries()) {
    const piece = bytes.subarray(from, end);
    // A string piece must hold whole characters: cut only where bytes and text agree (ASCII lines below).
    await new Promise<void>((resolve, reject) => sink.write(asText[i % Math.max(1, asText.length)] ? piece.toString('utf8') : piece, (e) => (e ? reject(e) : resolve())));
    from = end;
  }
  return sink.lines;
}

describe('LineCapture', () => {
  it('property: keeps exactly the wanted lines (0: the line after the header), for any lines, wanted indices and cuts into string or byte chunks', async () => {
    const line = fc.string({ unit: fc.constantFrom('a', 'b', ',', '1', '.', '-', ' '), maxLength: 12 });
    await fc.assert(
      fc.asyncProperty(
        fc.array(line, { minLength: 1, maxLength: 40 }),
        fc.boolean(),
        fc.uniqueArray(fc.integer({ min: 0, max: 45 }), { maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        fc.array(fc.boolean(), { maxLength: 12 }),
        async (lines, lastEnded, wanted, cuts, asText) => {
          const text = `header\n${lines.join('\n')}${lastEnded ? '\n' : ''}`;
          const got = await capture(text, wanted, cuts, asText);
          // A line is kept once its line end is written (the last one, without one, is not).
          const ended = lastEnded ? lines.length : lines.length - 1;
          const expected = new Map(wanted.filter((i) => i < ended).sort((a, b) => a - b).map((i) => [i, lines[i]!]));
          expect(new Map([...got].sort((a, b) => a[0] - b[0]))).toEqual(expected);
        },
      ),
      { numRuns: 300 },
    );
  });
});
