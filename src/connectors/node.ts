/**
 * Node-only connectors, imported from `streamkernel/node`: CSV, NDJSON and
 * Arrow files as replayable sources (a replay seeks to a byte offset), Node
 * stream adapters, and durable file output. Everything else, browser-safe,
 * is in streamkernel's main entry, which never loads this module.
 *
 * @module streamkernel/node
 */

import { createReadStream, statSync } from 'node:fs';
import { open, rename, unlink, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { Transform, type Writable } from 'node:stream';
import { createKernel, toFloat64Array } from '../kernel.js';
import type { Kernel, KernelSpec } from '../types.js';
import { arrowSource, type ArrowOptions } from './arrow.js';
import { csvBatches, type CsvOptions, type OpenBytes } from './csv.js';
import { TextFormatter, type OutputColumns } from './format.js';
import { ndjsonBatches } from './ndjson.js';
import type { ColumnOptions, ReplayableSource, ResultBatch, SourceOffset, TextFormat } from './types.js';

/**
 * Chunks of a file from a byte offset on, of `chunkBytes` each. CSV reads
 * 1 MiB at a time (its scanner takes them in 64 KiB pieces): a fraction of
 * the reads, stream events and promise turns of 64 KiB chunks.
 */
function fileBytes(file: string, chunkBytes = 1 << 16): OpenBytes {
  return (start: number) => createReadStream(file, { start, highWaterMark: chunkBytes }) as AsyncIterable<Uint8Array>;
}

function fileSize(file: string): number {
  const stat = statSync(file);
  if (stat.isDirectory()) throw Object.assign(new Error(`EISDIR: illegal operation on a directory, open '${file}'`), { code: 'EISDIR' });
  return stat.size;
}

/**
 * A replayable CSV file source: batches as `csvSource` gives them, and
 * a replay from a batch's `end` offset seeks straight to its byte (reading
 * only the header line again). `size` is the file's size in bytes. Throws at
 * once (ENOENT, EISDIR, …) when the file cannot be read.
 *
 * @example
 * ```ts
 * const source = csvFileSource('data.csv', { value: 'temp', key: 'sensor' });
 * let last: SourceOffset | undefined;
 * for await (const batch of source.batches()) last = batch.end;
 * // after a crash, with `last` saved: source.batches(last) goes on from there
 * ```
 */
export function csvFileSource(file: string, options: CsvOptions): ReplayableSource {
  const size = fileSize(file);
  return {
    size,
    batches: (from?: SourceOffset) => csvBatches(fileBytes(file, 1 << 20), true, from === undefined ? options : { ...options, from }),
  };
}

/**
 * A replayable NDJSON file source, as {@link csvFileSource} for
 * `ndjsonSource`'s format.
 *
 * @example
 * ```ts
 * const source = ndjsonFileSource('events.ndjson', { value: 'v', time: 't' });
 * for await (const batch of source.batches()) console.log(batch.end.bytes, 'of', source.size);
 * ```
 */
export function ndjsonFileSource(file: string, options: ColumnOptions): ReplayableSource {
  const size = fileSize(file);
  return {
    size,
    batches: (from?: SourceOffset) => ndjsonBatches(fileBytes(file), true, from === undefined ? options : { ...options, from }),
  };
}

/**
 * A replayable Arrow IPC file source (stream or file format): offsets count
 * rows, and a replay reads past the rows before it.
 *
 * @example
 * ```ts
 * for await (const batch of arrowFileSource('ticks.arrow', { value: 'price' }).batches()) { … }
 * ```
 */
export function arrowFileSource(file: string, options: ArrowOptions): ReplayableSource {
  const size = fileSize(file);
  return {
    size,
    batches: (from?: SourceOffset) =>
      arrowSource(createReadStream(file, { highWaterMark: 1 << 20 }) as AsyncIterable<Uint8Array>, from === undefined ? options : { ...options, from }),
  };
}

/**
 * A Node object-mode `Transform` that runs every chunk of numbers through
 * one kernel: a `Float64Array`, an array of numbers or a single number in, a
 * `Float64Array` of as many results out.
 *
 * @example
 * ```ts
 * import { pipeline } from 'node:stream/promises';
 * await pipeline(numbers, kernelTransform({ op: 'max', window: 100 }), sink);
 * ```
 */
export function kernelTransform(spec: KernelSpec): Transform {
  let kernel: Promise<Kernel> | undefined;
  const get = (): Promise<Kernel> => (kernel ??= createKernel(spec));
  return new Transform({
    objectMode: true,
    transform(chunk: unknown, _encoding, callback) {
      get().then(
        (k) => {
          try {
            const batch = typeof chunk === 'number' ? new Float64Array([chunk]) : toFloat64Array(chunk, 'chunk');
            callback(null, k.push(batch));
          } catch (err) {
            callback(err as Error);
          }
        },
        (err: unknown) => callback(err as Error),
      );
    },
    flush(callback) {
      if (kernel === undefined) return callback();
      kernel.then((k) => {
        k.dispose();
        callback();
      }, callback);
    },
  });
}

/** Writes `text` to a Node Writable, waiting for 'drain' when it is full. */
async function writeWithBackpressure(writable: Writable, text: string): Promise<void> {
  if (writable.write(text)) return;
  await new Promise<void>((resolve, reject) => {
    const done = (err?: Error): void => {
      writable.off('drain', ok);
      writable.off('error', done);
      writable.off('close', ok);
      if (err) reject(err);
      else resolve();
    };
    const ok = (): void => done();
    writable.on('drain', ok);
    writable.on('error', done);
    writable.on('close', ok);
  });
}

/**
 * Writes result batches as CSV or NDJSON text to a Node `Writable` (a file,
 * `process.stdout`, a socket), honouring its backpressure; leaves it open.
 * Resolves with the rows written.
 *
 * @example
 * ```ts
 * await writeText(runKernels(csvFileSource('in.csv', { value: 'v' }), ops), process.stdout, 'csv', { value: 'v', ops: ['mean'] });
 * ```
 */
export async function writeText(results: AsyncIterable<ResultBatch>, writable: Writable, format: TextFormat, columns: OutputColumns): Promise<number> {
  const formatter = new TextFormatter(format, columns);
  let rows = 0;
  const header = formatter.header();
  if (header !== '') await writeWithBackpressure(writable, header);
  for await (const r of results) {
    rows += r.batch.length;
    await writeWithBackpressure(writable, formatter.format(r));
  }
  return rows;
}

/**
 * An output file whose durable length is known: text is appended through a
 * buffer, {@link FileSink.commit} makes everything written so far durable
 * (fsync) and returns the committed size, and reopening with `resumeAt`
 * truncates the file back to a committed size, dropping whatever a crash
 * left after it.
 *
 * @example
 * ```ts
 * const sink = await FileSink.open('out.csv');
 * await sink.write('a,b\n');
 * const committed = await sink.commit(); // 4, durable
 * await sink.close();
 * const again = await FileSink.open('out.csv', { resumeAt: committed });
 * ```
 */
export class FileSink {
  private readonly handle: FileHandle;
  /** Text and bytes appended since the last flush (bytes are kept as given, not copied). */
  private pending: (string | Uint8Array)[] = [];
  private pendingChars = 0;
  private position: number;
  /** A regular file; a FIFO or device is written sequentially and never fsynced (neither applies to it). */
  private readonly regular: boolean;

  private constructor(handle: FileHandle, position: number, regular: boolean) {
    this.handle = handle;
    this.position = position;
    this.regular = regular;
  }

  /**
   * Opens (creating) `file` for writing: empty, or truncated to `resumeAt`
   * bytes. Refuses to resume when the file is shorter than `resumeAt`. A
   * FIFO or device is written in order as it comes, without fsync.
   *
   * @param options.resumeAt - the committed size to go on from.
   */
  static async open(file: string, options: { resumeAt?: number } = {}): Promise<FileSink> {
    const resumeAt = options.resumeAt;
    const handle = await open(file, resumeAt === undefined ? 'w' : 'r+').catch(async (err: NodeJS.ErrnoException) => {
      if (resumeAt === 0 && err.code === 'ENOENT') return open(file, 'w');
      throw err;
    });
    let regular: boolean;
    try {
      const stat = await handle.stat();
      regular = stat.isFile();
      if (resumeAt !== undefined) {
        if (stat.size < resumeAt) throw new Error(`${file} holds ${stat.size} bytes, fewer than the ${resumeAt} committed: it was changed since`);
        await handle.truncate(resumeAt);
      }
    } catch (err) {
      await handle.close();
      throw err;
    }
    return new FileSink(handle, resumeAt ?? 0, regular);
  }

  /** Bytes written so far (committed or not). */
  get size(): number {
    return this.position + this.pending.reduce((n, p) => n + (typeof p === 'string' ? Buffer.byteLength(p) : p.length), 0);
  }

  /**
   * Appends text, or bytes (UTF-8, which the sink keeps until written: the
   * caller must not change them), written out once 1 MiB is pending.
   */
  async write(text: string | Uint8Array): Promise<void> {
    this.pending.push(text);
    this.pendingChars += text.length;
    if (this.pendingChars >= 1 << 20) await this.flush();
  }

  /** Writes out the pending text. */
  async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    const bytes = pendingBytes(this.pending);
    this.pending = [];
    this.pendingChars = 0;
    let off = 0;
    while (off < bytes.length) {
      const { bytesWritten } = await this.handle.write(bytes, off, bytes.length - off, this.regular ? this.position : null);
      off += bytesWritten;
      this.position += bytesWritten;
    }
  }

  /** Writes out and fsyncs everything written so far; resolves with the committed size. */
  async commit(): Promise<number> {
    await this.flush();
    if (this.regular) await this.handle.sync();
    return this.position;
  }

  /** Flushes and closes the file (without fsync: call {@link FileSink.commit} for that). */
  async close(): Promise<void> {
    try {
      await this.flush();
    } finally {
      await this.handle.close();
    }
  }
}

/** Pending text and bytes as one buffer: a lone byte array as it is, strings encoded, the whole joined otherwise. */
function pendingBytes(pending: readonly (string | Uint8Array)[]): Uint8Array {
  if (pending.every((p) => typeof p === 'string')) return Buffer.from(pending.join(''), 'utf8');
  if (pending.length === 1) return pending[0] as Uint8Array;
  return Buffer.concat(pending.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : p)));
}

/** fsyncs a directory, so a rename in it is durable (a no-op where directories cannot be opened). */
async function syncDir(dir: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch {
    // Some platforms cannot fsync directories; the rename is still atomic.
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

/**
 * Replaces `file` with `data` atomically and durably: writes a temporary file
 * next to it, fsyncs it, renames it over `file` and fsyncs the directory. A
 * crash at any point leaves either the old or the new content.
 *
 * @example
 * ```ts
 * await writeFileAtomic('state/checkpoint.bin', bytes);
 * ```
 */
export async function writeFileAtomic(file: string, data: Uint8Array | string): Promise<void> {
  const temp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  const handle = await open(temp, 'w');
  try {
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, file);
  } catch (err) {
    // A full disk or a failed rename leaves no temporary file behind.
    await unlink(temp).catch(() => undefined);
    throw err;
  }
  await syncDir(path.dirname(file));
}

