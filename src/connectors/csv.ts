// CSV into typed columns, parsed as a stream with csv-parse (browser-safe:
// csv-parse is loaded on first use, its Node build in Node and its
// self-contained browser build elsewhere, chosen by package.json "imports").

import { concatBytes } from '../bytes.js';
import { BatchBuilder, byteChunks, firstTimeIsDate, latin1Of, MAX_ROW_BYTES, probeOptions, quote, shownCell, skipTo, startOffset, TOO_LONG, utf8Cell } from './columns.js';
import { canScan, CsvScanner, fieldCountReason } from './csv-scan.js';
import { AmbiguousColumnError, MalformedRowError, UnknownColumnError } from './errors.js';
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
    // '#csv-parse' (package.json "imports"): csv-parse's Node build under the
    // "node" condition, its browser build elsewhere, so bundlers see one import.
    const mod = await import('#csv-parse');
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

/** A UTF-8 byte-order mark: skipped at the start of the input (only there). */
const BOM = [0xef, 0xbb, 0xbf];
/** The most bytes handed to csv-parse at once, so a row too long is caught before it grows much past the limit. */
const MAX_PIECE = 1 << 20;

/**
 * The most bytes the scanner takes at once: rows read past a full batch wait
 * as objects (BatchBuilder's held rows) until it is taken, so the pieces stay
 * small next to a batch (about 3 000 rows of 20 bytes in 64 KiB).
 */
const SCAN_PIECE = 1 << 16;

/**
 * The bytes csv-parse reads at once while looking for the header: it parses
 * all it is given, so a whole first chunk (1 MiB from a file) cost it every
 * row in it, only for the header to be kept.
 */
const HEADER_PIECE = 1 << 12;

/** A chunk in pieces of at most `size` bytes (views, no copies). */
function* pieces(chunk: Uint8Array, size = MAX_PIECE): Generator<Uint8Array> {
  for (let o = 0; o < chunk.length; o += size) yield o === 0 && chunk.length <= size ? chunk : chunk.subarray(o, o + size);
}

/**
 * The CRLFs inside a record's quoted fields: csv-parse counts each as two
 * line breaks, so its line numbers run that much ahead of the file's.
 */
function quotedCrlfs(record: readonly string[]): number {
  let n = 0;
  for (const cell of record) {
    for (let i = cell.indexOf('\r\n'); i !== -1; i = cell.indexOf('\r\n', i + 2)) n++;
  }
  return n;
}

function startsWithBom(b: Uint8Array): boolean {
  return b[0] === BOM[0] && b[1] === BOM[1] && b[2] === BOM[2];
}

/** A header line read: its cells (latin1), the byte where it ends, its line count, the bytes read after it and how many were read. */
interface HeaderRead {
  header: string[];
  end: number;
  lines: number;
  rest: Uint8Array | undefined;
  at: number;
}

const QUOTE = 0x22;
const LF = 0x0a;
const CR = 0x0d;

/** Bytes as latin1 text (one char per byte), in slices: a spread of a whole long line would overflow the stack. */
function latin1Text(bytes: Uint8Array): string {
  let text = '';
  for (let o = 0; o < bytes.length; o += 4096) text += String.fromCharCode(...bytes.subarray(o, o + 4096));
  return text;
}

/**
 * The usual header without csv-parse: a first line with no quote, ended by
 * LF, CRLF or a CR followed by another byte, within the bytes read so far,
 * split on the delimiter as csv-parse splits it. Undefined for anything
 * else (quotes, an empty line, a line end not read yet), which csv-parse
 * reads: a plain run's start-up then never loads it.
 */
function simpleHeader(all: Uint8Array, skip: number, delimiter: string): { header: string[]; end: number } | undefined {
  if (/["\r\n]/.test(delimiter)) return undefined;
  let i = skip;
  while (i < all.length) {
    const c = all[i]!;
    if (c === QUOTE) return undefined;
    if (c === LF || c === CR) break;
    i++;
  }
  if (i === skip || i >= all.length) return undefined;
  let end = i + 1;
  if (all[i] === CR) {
    // A CR as the last byte read may be the first of a CRLF.
    if (end >= all.length) return undefined;
    if (all[end] === LF) end++;
  }
  return { header: latin1Text(all.subarray(skip, i)).split(delimiter), end };
}

/**
 * The header of a CSV input (cells as latin1), the byte where it ends, and
 * the bytes read after it. Every byte read is kept until the header is
 * found (at most {@link MAX_ROW_BYTES} and a chunk), because csv-parse may
 * finish the header only in a later chunk than the one holding its end.
 * A simple header line (`simpleHeader`) is split here; any other goes to
 * csv-parse, loaded then (`parser`).
 */
async function readHeader(chunks: AsyncIterator<Uint8Array>, delimiter: string, parser: () => Promise<{ api: CsvApi; toBuffer: ToBuffer }>): Promise<HeaderRead> {
  let header: string[] | undefined;
  let end = 0;
  let lines = 1;
  const seen: Uint8Array[] = [];
  let seenLength = 0;
  let skip = -1; // BOM bytes skipped, once known
  let csv: { api: CsvApi; toBuffer: ToBuffer } | undefined;
  const onHeader = (record: string[]): void => {
    if (header !== undefined) return;
    header = record;
    end = skip + csv!.api.info.bytes;
    lines = csv!.api.info.lines - quotedCrlfs(record);
  };
  for (;;) {
    const r = await chunks.next();
    const done = r.done === true;
    let feed: Uint8Array | undefined;
    if (!done) {
      seen.push(r.value);
      seenLength += r.value.length;
      feed = r.value;
    }
    if (skip === -1) {
      // The BOM may be split over chunks: wait for three bytes.
      if (seenLength < BOM.length && !done) continue;
      const all = concatBytes(seen, seenLength);
      skip = startsWithBom(all) ? BOM.length : 0;
      const simple = simpleHeader(all, skip, delimiter);
      if (simple !== undefined) return { header: simple.header, end: simple.end, lines: 1, rest: simple.end < seenLength ? all.subarray(simple.end) : undefined, at: seenLength };
      feed = all.subarray(skip);
    }
    csv ??= await parser();
    const { api, toBuffer } = csv;
    let err: Error | undefined;
    for (const piece of feed === undefined ? [] : pieces(feed, HEADER_PIECE)) {
      err ??= api.parse(toBuffer(piece), false, onHeader, () => undefined);
      if (header !== undefined || err !== undefined) break;
    }
    if (done && header === undefined && err === undefined) err = api.parse(undefined, true, onHeader, () => undefined);
    if (header !== undefined) {
      const rest = end < seenLength ? concatBytes(seen, seenLength).subarray(end) : undefined;
      return { header, end, lines, rest, at: seenLength };
    }
    if (err !== undefined) {
      const e = parserError(err, 0, 0);
      throw new MalformedRowError(e.line, `cannot read the header: ${e.reason}`);
    }
    if (seenLength - skip > MAX_ROW_BYTES) throw new MalformedRowError(api.info.lines, `cannot read the header: ${TOO_LONG}`);
    if (done) throw new MalformedRowError(1, 'no header line: the input is empty');
  }
}

/** The header's names, decoded; a name that is not UTF-8 is a malformed header. */
function headerNames(cells: readonly string[], lines: number): string[] {
  return cells.map((cell, i) => {
    const name = utf8Cell(cell);
    if (name === undefined) throw new MalformedRowError(lines, `cannot read the header: field ${i + 1} ${quote(shownCell(cell))} is not valid UTF-8`);
    return name;
  });
}

function columnIndex(header: readonly string[], name: string | undefined): number {
  if (name === undefined) return -1;
  const i = header.indexOf(name);
  if (i === -1) throw new UnknownColumnError(name, header);
  if (header.lastIndexOf(name) !== i) {
    const positions = header.flatMap((h, j) => (h === name ? [j + 1] : []));
    throw new AmbiguousColumnError(name, header, positions);
  }
  return i;
}

/**
 * The batches of a CSV input read through `open` (seekable when `seekable`).
 * The data rows go through the byte scanner (csv-scan.ts) until a row it
 * leaves to csv-parse, then through csv-parse; `scan` false (for tests) uses
 * csv-parse from the first row.
 */
export async function* csvBatches(open: OpenBytes, seekable: boolean, options: CsvOptions, scan = true): AsyncGenerator<ColumnBatch> {
  const from = startOffset(options.from);
  const builder = new BatchBuilder(options, from, true);
  const delimiter = options.delimiter ?? ',';
  if (typeof delimiter !== 'string' || delimiter.length === 0) throw new TypeError('options.delimiter must be a non-empty string');
  let skippedAt: ((err: { lines?: number; code?: string }) => void) | undefined;
  // Cells are read as latin1, one char per byte, so bytes that are not UTF-8
  // stay distinct (see utf8Cell); the delimiter is given as its UTF-8 bytes.
  // The BOM is handled here, as csv-parse would look for one at the start of every parse.
  const rawDelimiter = latin1Of(delimiter);
  // csv-parse is loaded only when a row or the header needs it: a plain file's run never does.
  const makeApi = async (skip: boolean): Promise<{ api: CsvApi; toBuffer: ToBuffer }> => {
    const { Parser, toBuffer } = await loadParser();
    const api = new Parser({
      delimiter: rawDelimiter,
      encoding: 'latin1',
      record_delimiter: ['\r\n', '\n', '\r'],
      relax_column_count: true,
      bom: false,
      skip_records_with_error: skip,
      on_skip: (err: { lines?: number; code?: string }) => skippedAt?.(err),
    }).api;
    return { api, toBuffer };
  };

  const first = open(0)[Symbol.asyncIterator]();
  const read = await readHeader(first, rawDelimiter, () => makeApi(false)); // a broken header is never skipped
  const { end: headerEnd, lines: headerLines, rest: afterHeader, at: readTo } = read;
  const header = headerNames(read.header, headerLines);
  const vi = columnIndex(header, options.value);
  const ti = columnIndex(header, options.time);
  const ki = columnIndex(header, options.key);
  const width = header.length;
  // A resumed file: its first row decides the time format, as in one pass.
  if (seekable && from.rows > 0 && ti >= 0) builder.expectDates(await firstTimeIsDate(csvBatches(open, true, probeOptions(options), scan), from.bytes));

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

  if (scan && canScan(rawDelimiter)) {
    const scanned = yield* scanRows(chunks, new CsvScanner(builder, rawDelimiter.charCodeAt(0), { width, value: vi, time: ti, key: ki }, base, baseLines), builder);
    if (scanned === undefined) return;
    ({ chunks, base, baseLines } = scanned);
  }
  yield* parseRows(chunks, base, baseLines);

  /** The general path: csv-parse reads the rows from byte `base` (after line `baseLines`). */
  async function* parseRows(chunks: AsyncIterable<Uint8Array>, base: number, baseLines: number): AsyncGenerator<ColumnBatch> {
    const { api, toBuffer } = await makeApi(builder.onError === 'skip');
    let lastLine = baseLines;
    // csv-parse counts lines from 1 where its parse started, and each CRLF in a quoted field twice.
    let extraLines = 0;
    const fileLine = (parserLine: number): number => baseLines - extraLines + parserLine;
    // Where the last row (read or skipped) ended: the row being read starts there.
    let rowStart = base;
    // csv-parse reports a skipped row where it found the fault, not where the
    // row ends: it is placed with the next row read (or the end of the input),
    // so that every batch ends on a row boundary a replay can start from.
    const skippedLines: number[] = [];
    skippedAt = (err) => {
      const line = fileLine(err.lines ?? api.info.lines);
      rowStart = base + api.info.bytes;
      skippedLines.push(line);
      lastLine = line;
      // After `"4"x` csv-parse stays inside the quotes and would swallow the
      // rows after it up to the next quote: the broken row ends at its line end.
      const state = (api as unknown as { state?: { quoting?: boolean } }).state;
      if (err.code === 'CSV_INVALID_CLOSING_QUOTE' && state?.quoting === true) state.quoting = false;
    };
    const placeSkipped = (bytes: number): void => {
      for (const line of skippedLines) builder.skippedRow(line, bytes);
      skippedLines.length = 0;
    };
    const onRecord = (record: string[]): void => {
      extraLines += quotedCrlfs(record);
      const line = fileLine(api.info.lines);
      const bytes = base + api.info.bytes;
      placeSkipped(bytes);
      const long = bytes - rowStart > MAX_ROW_BYTES;
      rowStart = bytes;
      if (long) {
        // A row a little too long may end within the piece that crossed the limit.
        builder.error ??= new MalformedRowError(line, TOO_LONG);
      } else if (record.length !== width) {
        builder.reject(line, fieldCountReason(width, record.length, record.join(rawDelimiter)), bytes);
      } else {
        builder.addText(line, bytes, record[vi] as string, ti >= 0 ? record[ti] : undefined, ki >= 0 ? record[ki] : undefined);
      }
      lastLine = line;
    };
    const close = (): void => undefined;
    const failWith = (err: Error): Generator<ColumnBatch, never> => fail(builder, err instanceof MalformedRowError ? err : parserError(err, baseLines - extraLines, lastLine));

    let at = base;
    for await (const chunk of chunks) {
      for (const piece of pieces(chunk)) {
        const err = api.parse(toBuffer(piece), false, onRecord, close);
        at += piece.length;
        yield* builder.drain(false);
        // A malformed row csv-parse emitted came before its parse error.
        if (builder.error !== undefined) return yield* failWith(builder.error);
        if (err !== undefined) return yield* failWith(err);
        // Fatal even with onError 'skip': where the row ends is only known by reading all of it.
        if (at - rowStart > MAX_ROW_BYTES) return yield* failWith(new MalformedRowError(fileLine(api.info.lines), TOO_LONG));
      }
    }
    const err = api.parse(undefined, true, onRecord, close);
    if (builder.error !== undefined) return yield* failWith(builder.error);
    if (err !== undefined) return yield* failWith(err);
    placeSkipped(at);
    yield* builder.drain(true);
  }
}

/** Where csv-parse takes over from the scanner: the bytes from a row start on. */
interface Handover {
  chunks: AsyncIterable<Uint8Array>;
  base: number;
  baseLines: number;
}

/**
 * The fast path: rows read by `scanner`, in batches, up to the end of the
 * input (returns undefined) or up to a row it leaves to csv-parse (returns
 * where csv-parse goes on).
 */
async function* scanRows(chunks: AsyncIterable<Uint8Array>, scanner: CsvScanner, builder: BatchBuilder): AsyncGenerator<ColumnBatch, Handover | undefined> {
  const it = chunks[Symbol.asyncIterator]();
  for (;;) {
    const r = await it.next();
    if (r.done === true) break;
    const chunk = r.value;
    for (let o = 0; o < chunk.length; o += SCAN_PIECE) {
      let done = scanner.feed(o === 0 && chunk.length <= SCAN_PIECE ? chunk : chunk.subarray(o, o + SCAN_PIECE));
      for (;;) {
        yield* builder.drain(false);
        if (builder.error !== undefined) return yield* fail(builder, builder.error);
        // A full batch paused the scan: it was just taken, read on.
        if (!done || !scanner.isPaused) break;
        done = scanner.resume();
      }
      if (!done) return handover(scanner, chunk.subarray(Math.min(chunk.length, o + SCAN_PIECE)), it);
    }
  }
  let done = scanner.finish();
  while (done && scanner.isPaused && builder.error === undefined) {
    yield* builder.drain(false);
    done = scanner.resume();
  }
  if (builder.error !== undefined) return yield* fail(builder, builder.error);
  if (!done) return handover(scanner, new Uint8Array(0), it);
  yield* builder.drain(true);
  return undefined;
}

function handover(scanner: CsvScanner, restOfChunk: Uint8Array, it: AsyncIterator<Uint8Array>): Handover {
  const rest = scanner.rest();
  return {
    base: scanner.rowStart,
    baseLines: scanner.lines,
    chunks: (async function* () {
      if (rest.length > 0) yield rest;
      if (restOfChunk.length > 0) yield restOfChunk;
      for (;;) {
        const r = await it.next();
        if (r.done === true) return;
        yield r.value;
      }
    })(),
  };
}

/**
 * A csv-parse error as a malformed row: csv-parse counts lines from 1 where
 * its parse started, so a file line is `baseLines` more (in its message too).
 */
function parserError(err: Error, baseLines: number, lastLine: number): MalformedRowError {
  const lines = (err as { lines?: number }).lines;
  const reason = err.message.replace(/\bat line (\d+)/g, (_, n: string) => `at line ${baseLines + Number(n)}`);
  return new MalformedRowError(lines !== undefined ? baseLines + lines : lastLine + 1, reason);
}

/** Emits the rows before a malformed one, then throws it as a MalformedRowError. */
function* fail(builder: BatchBuilder, rowError: MalformedRowError): Generator<ColumnBatch, never> {
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
 * number, a time that is neither a finite number nor an ISO 8601 date (UTC
 * when it names no zone; the first row decides between numbers and dates), a
 * key that is not valid UTF-8, and broken quoting are malformed rows
 * ({@link MalformedRowError}, or counted with `onError: 'skip'`). A row longer
 * than 16 MiB always throws. A name the header has twice cannot be selected
 * ({@link AmbiguousColumnError}).
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

