// CSV into typed columns, parsed as a stream with csv-parse (browser-safe:
// csv-parse is loaded on first use, its Node build in Node and its
// self-contained browser build elsewhere).

import { BatchBuilder, byteChunks, quote, skipTo, startOffset } from './columns.js';
import { MalformedRowError, UnknownColumnError } from './errors.js';
import type { ByteInput, ColumnBatch, ColumnOptions, SourceOffset } from './types.js';

/**
 * Options of {@link csvSource}: the columns to read (by their names in the
 * header line) and the CSV dialect.
 *
 * @example
 * ```ts
 * const options: CsvOptions = { value: 'price', time: 'ts', key: 'symbol', delimiter: ';' };
 * ```
 */
export interface CsvOptions extends ColumnOptions {
  /**
   * The field delimiter, one or more characters.
   * @default ','
   */
  delimiter?: string;
}

/** The part of csv-parse's transform API used here (stable since csv-parse 5). */
interface CsvApi {
  parse(buf: Uint8Array | undefined, end: boolean, push: (record: string[]) => void, close: () => void): Error | undefined;
  info: { bytes: number; lines: number };
}
type CsvParserClass = new (options: Record<string, unknown>) => { api: CsvApi };

/** Makes the Buffer that csv-parse's own build expects (Node's, or its bundled polyfill in browsers) over a chunk's bytes. */
type ToBuffer = (chunk: Uint8Array) => Uint8Array;

let loaded: Promise<{ Parser: CsvParserClass; toBuffer: ToBuffer }> | undefined;

function loadParser(): Promise<{ Parser: CsvParserClass; toBuffer: ToBuffer }> {
  loaded ??= (async () => {
    const isNode = typeof globalThis.process === 'object' && typeof globalThis.process?.versions?.node === 'string';
    const mod = isNode ? await import('csv-parse') : await import('csv-parse/browser/esm');
    const Parser = mod.Parser as unknown as CsvParserClass;
    // csv-parse concatenates chunks with its Buffer.concat, which (in the
    // browser build's polyfill) takes only its own Buffers: find that class
    // through a parser's field buffer and wrap chunks in it, without copying.
    const probe = (new Parser({}).api as unknown as { state?: { field?: { buf?: unknown } } }).state?.field?.buf;
    const B = (probe as { constructor?: { from?: unknown; isBuffer?: unknown } } | undefined)?.constructor as
      | { from(b: ArrayBufferLike, offset: number, length: number): Uint8Array; isBuffer(b: unknown): boolean }
      | undefined;
    const toBuffer: ToBuffer =
      B !== undefined && typeof B.from === 'function' && typeof B.isBuffer === 'function'
        ? (chunk) => (B.isBuffer(chunk) ? chunk : B.from(chunk.buffer, chunk.byteOffset, chunk.byteLength))
        : (chunk) => chunk;
    return { Parser, toBuffer };
  })();
  return loaded;
}

/** Chunks from byte `start` of the input. */
export type OpenBytes = (start: number) => AsyncIterable<Uint8Array>;

/** The header of a CSV input, where it ends, and the rest of the chunk it ended in. */
async function readHeader(
  chunks: AsyncIterator<Uint8Array>,
  makeApi: () => CsvApi,
  toBuffer: ToBuffer,
): Promise<{ header: string[]; end: number; lines: number; rest: Uint8Array | undefined; at: number }> {
  const api = makeApi();
  let header: string[] | undefined;
  let end = 0;
  let lines = 1;
  let at = 0;
  for (;;) {
    const r = await chunks.next();
    const chunk = r.done === true ? undefined : toBuffer(r.value);
    const err = api.parse(chunk, chunk === undefined, (record) => {
      if (header !== undefined) return;
      header = record;
      end = api.info.bytes;
      lines = api.info.lines;
    }, () => undefined);
    if (header !== undefined) {
      const chunkEnd = at + (chunk?.length ?? 0);
      const rest = chunk !== undefined && end < chunkEnd ? chunk.subarray(end - at) : undefined;
      return { header, end, lines, rest, at: chunkEnd };
    }
    if (err !== undefined) throw new MalformedRowError((err as { lines?: number }).lines ?? 1, `cannot read the header: ${err.message}`);
    if (chunk === undefined) throw new MalformedRowError(1, 'no header line: the input is empty');
    at += chunk.length;
  }
}

function columnIndex(header: readonly string[], name: string | undefined): number {
  if (name === undefined) return -1;
  const i = header.indexOf(name);
  if (i === -1) throw new UnknownColumnError(name, header);
  return i;
}

/** The batches of a CSV input read through `open` (seekable when `seekable`). */
export async function* csvBatches(open: OpenBytes, seekable: boolean, options: CsvOptions): AsyncGenerator<ColumnBatch> {
  const from = startOffset(options.from);
  const builder = new BatchBuilder(options, from, true);
  const delimiter = options.delimiter ?? ',';
  if (typeof delimiter !== 'string' || delimiter.length === 0) throw new TypeError('options.delimiter must be a non-empty string');
  const { Parser, toBuffer } = await loadParser();
  let skippedAt: ((err: { lines?: number }) => void) | undefined;
  const makeApi = (): CsvApi =>
    new Parser({
      delimiter,
      record_delimiter: ['\r\n', '\n', '\r'],
      relax_column_count: true,
      bom: true,
      skip_records_with_error: builder.onError === 'skip',
      on_skip: (err: { lines?: number }) => skippedAt?.(err),
    }).api;

  const first = open(0)[Symbol.asyncIterator]();
  const { header, end: headerEnd, lines: headerLines, rest: afterHeader, at: readTo } = await readHeader(first, makeApi, toBuffer);
  const vi = columnIndex(header, options.value);
  const ti = columnIndex(header, options.time);
  const ki = columnIndex(header, options.key);
  const width = header.length;

  // Where the data parse starts, and its chunks.
  let base = headerEnd;
  let baseLines = headerLines;
  let chunks: AsyncIterable<Uint8Array>;
  if (from.bytes > headerEnd) {
    base = from.bytes;
    baseLines = from.lines;
    if (seekable) {
      await first.return?.();
      chunks = open(from.bytes);
    } else {
      const pending = afterHeader;
      chunks = (async function* () {
        const restStart = readTo - (pending?.length ?? 0);
        if (pending !== undefined && readTo > from.bytes) yield pending.subarray(Math.max(0, from.bytes - restStart));
        yield* skipTo(first, readTo, Math.max(from.bytes, readTo));
      })();
    }
  } else {
    if (from.rows !== 0) throw new RangeError('options.from must be an offset this source gave out');
    chunks = (async function* () {
      if (afterHeader !== undefined) yield afterHeader;
      for (;;) {
        const r = await first.next();
        if (r.done === true) return;
        yield r.value;
      }
    })();
  }

  const api = makeApi();
  let lastLine = baseLines;
  skippedAt = (err) => {
    const line = baseLines + (err.lines ?? api.info.lines);
    builder.skippedRow(line, base + api.info.bytes);
    lastLine = line;
  };
  const onRecord = (record: string[]): void => {
    const line = baseLines + api.info.lines;
    const bytes = base + api.info.bytes;
    if (record.length !== width) {
      builder.reject(line, `expected ${width} fields, got ${record.length}: ${quote(record.join(delimiter))}`, bytes);
    } else {
      builder.addText(line, bytes, record[vi] as string, ti >= 0 ? record[ti] : undefined, ki >= 0 ? record[ki] : undefined);
    }
    lastLine = line;
  };
  const close = (): void => undefined;

  for await (const chunk of chunks) {
    const err = api.parse(toBuffer(chunk), false, onRecord, close);
    yield* builder.drain(false);
    if (err !== undefined) return yield* fail(builder, err, lastLine);
    if (builder.error !== undefined) return yield* fail(builder, builder.error, lastLine);
  }
  const err = api.parse(undefined, true, onRecord, close);
  if (err !== undefined) return yield* fail(builder, err, lastLine);
  if (builder.error !== undefined) return yield* fail(builder, builder.error, lastLine);
  yield* builder.drain(true);
}

/** Emits the rows before a malformed one, then throws it as a MalformedRowError. */
function* fail(builder: BatchBuilder, err: Error, lastLine: number): Generator<ColumnBatch, never> {
  const rowError = err instanceof MalformedRowError ? err : new MalformedRowError((err as { lines?: number }).lines ?? lastLine + 1, err.message);
  builder.error = undefined; // let the rows before it out
  yield* builder.drain(true);
  throw rowError;
}

/**
 * Parses CSV bytes as a stream into typed column batches: the header line
 * names the columns, each later line is a row. Never holds more than a
 * chunk and a batch. Values use the CLI's strict number grammar (empty,
 * `NaN` and `nan` are missing values; `inf`, `Infinity` infinities).
 * A row with another number of fields than the header, a value that is not a
 * number, a time that is neither a number nor a date, and broken quoting are
 * malformed rows ({@link MalformedRowError}, or counted with `onError: 'skip'`).
 * With `options.from`, the bytes before it are read past (the header is read
 * again); for files, the Node `csvFileSource` seeks instead.
 *
 * @example
 * ```ts
 * const csv = 'ts,sensor,temp\n1,a,20.5\n2,b,19\n3,a,\n';
 * for await (const batch of csvSource(csv, { value: 'temp', key: 'sensor' })) {
 *   batch.values; // Float64Array [20.5, 19, NaN]
 *   batch.keys;   // ['a', 'b', 'a']
 * }
 * ```
 */
export function csvSource(input: ByteInput, options: CsvOptions): AsyncIterable<ColumnBatch> {
  let used = false;
  return csvBatches(() => {
    if (used) throw new Error('a one-shot input cannot be read twice');
    used = true;
    return byteChunks(input);
  }, false, options);
}

