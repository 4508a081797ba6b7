// The streaming core of the CLI: bytes in → lines → numbers → kernel → text out.
//
// Memory stays flat whatever the input length: input is read in chunks, rows
// are parsed into one reused Float64Array batch, results land in one reused
// output array, and text is written in bounded pieces with stdout's
// backpressure honoured.

import type { Kernel } from '../types.js';
import type { Output } from './output.js';
import { parseValue } from '../number-text.js';

/** A line the parser refused: the CLI reports it and exits with code 2. */
export class MalformedLine extends Error {
  constructor(
    readonly line: number,
    readonly text: string,
  ) {
    super(`line ${line}: cannot parse ${quoteLine(text)}`);
    this.name = 'MalformedLine';
  }
}

/** The longest line kept while looking for its end; longer lines are malformed. */
export const MAX_LINE_BYTES = 1 << 20;
/** How much of a malformed line its error message quotes. */
const QUOTE_CHARS = 200;
/** Output text is written once this many characters are pending… */
const WRITE_CHARS = 1 << 16;
/** …as checked after formatting this many results. */
const FORMAT_ROWS = 4096;
/** A UTF-8 byte-order mark, read as latin1. */
const BOM = '\u00ef\u00bb\u00bf';

function quoteLine(text: string): string {
  const shown = text.length > QUOTE_CHARS ? `${text.slice(0, QUOTE_CHARS)}…` : text;
  return JSON.stringify(shown);
}

/** Decodes a latin1-read line back to its bytes, then as UTF-8, for messages. */
function decodeLine(latin1: string): string {
  const end = latin1.endsWith('\r') ? latin1.length - 1 : latin1.length;
  const bytes = Buffer.from(latin1.slice(0, Math.min(end, QUOTE_CHARS * 4 + 4)), 'latin1');
  const text = bytes.toString('utf8');
  return end > QUOTE_CHARS * 4 + 4 ? `${text}…` : text;
}

export interface PipelineOptions {
  /** Rows per kernel push (at most). */
  batchSize: number;
  /**
   * Push the partial batch and write its results after every input chunk
   * instead of waiting for a full batch: for pipes and terminals, so live
   * input gives live output.
   */
  flushEachChunk: boolean;
}

/**
 * Streams `input` through `kernel` into `output`, one result line per input
 * line. Resolves with the number of rows processed; rejects with
 * {@link MalformedLine} (after writing the results of every earlier line),
 * or with whatever reading or writing threw.
 */
export async function runPipeline(
  kernel: Kernel,
  input: AsyncIterable<Buffer | string>,
  output: Output,
  options: PipelineOptions,
): Promise<number> {
  const batchSize = options.batchSize;
  const batch = new Float64Array(batchSize);
  const results = new Float64Array(batchSize);
  let rows = 0; // rows in `batch`
  let lineNo = 0; // lines seen so far
  let text = ''; // result text not yet written
  let carry = ''; // the unterminated tail of the previous chunk (latin1)

  const writeText = async (): Promise<void> => {
    if (text.length === 0) return;
    const t = text;
    text = '';
    await output.write(t);
  };
  /** Pushes the batch and formats its results, writing whenever enough text is pending. */
  const pushBatch = async (): Promise<void> => {
    if (rows === 0) return;
    const n = rows;
    rows = 0;
    const r = kernel.push(n === batchSize ? batch : batch.subarray(0, n), results);
    for (let start = 0; start < n; start += FORMAT_ROWS) {
      const end = Math.min(n, start + FORMAT_ROWS);
      for (let i = start; i < end; i++) text += String(r[i] as number) + '\n';
      if (text.length >= WRITE_CHARS) await writeText();
    }
  };
  const malformed = async (line: string): Promise<never> => {
    await pushBatch();
    await writeText();
    throw new MalformedLine(lineNo, decodeLine(line));
  };

  for await (const chunk of input) {
    const s = typeof chunk === 'string' ? chunk : chunk.toString('latin1');
    let pos = 0;
    if (carry.length > 0 || lineNo === 0) {
      // Finish the line begun in earlier chunks (and strip a BOM on line 1).
      const nl = s.indexOf('\n');
      if (nl === -1) {
        carry += s;
        if (carry.length > MAX_LINE_BYTES) {
          lineNo++;
          await malformed(carry);
        }
        continue;
      }
      let line = carry + s.slice(0, nl);
      carry = '';
      pos = nl + 1;
      lineNo++;
      if (lineNo === 1 && line.startsWith(BOM)) line = line.slice(BOM.length);
      const v = parseValue(line, 0, line.length);
      if (v === undefined) await malformed(line);
      batch[rows++] = v as number;
      if (rows === batchSize) await pushBatch();
    }
    // The hot loop: whole lines inside this chunk.
    for (;;) {
      const nl = s.indexOf('\n', pos);
      if (nl === -1) break;
      lineNo++;
      const v = parseValue(s, pos, nl);
      if (v === undefined) await malformed(s.slice(pos, nl));
      batch[rows++] = v as number;
      pos = nl + 1;
      if (rows === batchSize) await pushBatch();
    }
    if (pos < s.length) {
      carry = s.slice(pos);
      if (carry.length > MAX_LINE_BYTES) {
        lineNo++;
        await malformed(carry);
      }
    }
    if (options.flushEachChunk) {
      await pushBatch();
      await writeText();
    }
  }

  // A last line without '\n' (a file that is only a BOM has no lines).
  if (carry.length > 0 && !(lineNo === 0 && carry === BOM)) {
    lineNo++;
    const line = lineNo === 1 && carry.startsWith(BOM) ? carry.slice(BOM.length) : carry;
    const v = parseValue(line, 0, line.length);
    if (v === undefined) await malformed(line);
    batch[rows++] = v as number;
  }
  await pushBatch();
  await writeText();
  return lineNo;
}
