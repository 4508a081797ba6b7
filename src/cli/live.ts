// Live input (stdin, a pipe, a terminal): results as rows arrive.
//
// A batch is cut, and its results written, when the reader has no more bytes
// immediately available (the next read would wait), or once its first bytes
// are older than --max-delay. A fast input always has bytes waiting, so its
// batches stay large; cuts never change the output (the kernels are
// batch-invariant and every batch ends at a row end).

import { fstatSync, watch, type FSWatcher } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { performance } from 'node:perf_hooks';

/** --max-delay's default, in milliseconds. */
export const DEFAULT_MAX_DELAY_MS = 50;

export class LiveInput {
  /** When the oldest bytes not yet in an emitted batch were read (undefined: none). */
  private since: number | undefined;

  constructor(
    private readonly stream: Readable,
    private readonly maxDelayMs: number,
  ) {}

  /** Whether no more bytes were waiting after the latest chunk. */
  private idle = false;

  /** The stream's chunks, each stamped with its arrival time. */
  async *chunks(): AsyncGenerator<Uint8Array> {
    for await (const chunk of this.stream) {
      this.since ??= performance.now();
      // One turn of the event loop (its I/O poll included) tells a reader that has more to give from one that would make us wait.
      if (this.stream.readableLength === 0) await new Promise(setImmediate);
      this.idle = this.stream.readableLength === 0;
      yield typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : (chunk as Uint8Array);
    }
  }

  /** For ColumnOptions.cutBatch: whether the rows parsed so far go out now. */
  readonly cut = (): boolean => {
    const since = this.since;
    const due = this.idle || since === undefined || performance.now() - since >= this.maxDelayMs;
    if (due) this.since = undefined;
    return due;
  };
}

/** Whether `stream` reads a regular file (stdin redirected from one): all of it is there, so batches stay full. */
export function readsRegularFile(stream: Readable): boolean {
  const fd = (stream as { fd?: unknown }).fd;
  if (typeof fd !== 'number') return false;
  try {
    return fstatSync(fd).isFile();
  } catch {
    return false;
  }
}

/** How often a followed file is checked for new bytes when no change event came (fs.watch may miss some, e.g. on network file systems). */
const FOLLOW_POLL_MS = 100;

/**
 * `run FILE --follow`: the file's bytes as it grows, like `tail -F`, until
 * {@link FollowInput.stop} (SIGINT or SIGTERM). Truncation (the file got
 * shorter) reads it again from its start; rotation (the path names another
 * file) reads the old file to its end, then the new one from its start. In
 * both cases a CSV file's first line, when it is the header read at the
 * start, is skipped, and `warn` is told.
 */
export class FollowInput {
  private stopped = false;
  private wake: (() => void) | undefined;

  constructor(
    private readonly file: string,
    private readonly csv: boolean,
    private readonly warn: (message: string) => void,
  ) {}

  /** Ends the input once the bytes there now are read. */
  readonly stop = (): void => {
    this.stopped = true;
    this.wake?.();
  };

  async *chunks(): AsyncGenerator<Uint8Array> {
    let handle = await open(this.file, 'r');
    let ino = (await handle.stat()).ino;
    let pos = 0;
    let header: Buffer | undefined;
    let skipHeader = false;
    const buffer = Buffer.alloc(1 << 16);
    const watcher = watchQuietly(this.file, () => this.wake?.());
    try {
      for (;;) {
        const { bytesRead } = await handle.read(buffer, 0, buffer.length, pos);
        if (bytesRead > 0) {
          let chunk = Buffer.from(buffer.subarray(0, bytesRead));
          pos += bytesRead;
          if (this.csv && header === undefined) header = firstLine(chunk);
          if (skipHeader) {
            skipHeader = false;
            if (header !== undefined && chunk.subarray(0, header.length).equals(header)) chunk = chunk.subarray(header.length);
          }
          if (chunk.length > 0) yield chunk;
          continue;
        }
        if (this.stopped) return;
        const now = await statQuietly(this.file);
        if (now !== undefined && now.ino !== ino) {
          this.warn(`${JSON.stringify(this.file)} was replaced (rotated): reading the new file from its start`);
          await handle.close();
          handle = await open(this.file, 'r');
          ino = (await handle.stat()).ino;
          pos = 0;
          skipHeader = this.csv;
          continue;
        }
        if ((await handle.stat()).size < pos) {
          this.warn(`${JSON.stringify(this.file)} was truncated: reading it again from its start`);
          pos = 0;
          skipHeader = this.csv;
          continue;
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, FOLLOW_POLL_MS);
          this.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    } finally {
      watcher?.close();
      await handle.close();
    }
  }
}

/** The first line of `chunk` with its newline (undefined: no whole line yet). */
function firstLine(chunk: Buffer): Buffer | undefined {
  const end = chunk.indexOf(10);
  return end === -1 ? undefined : Buffer.from(chunk.subarray(0, end + 1));
}

async function statQuietly(file: string): Promise<{ ino: number } | undefined> {
  try {
    return await stat(file);
  } catch {
    return undefined; // rotated away and not yet created again
  }
}

function watchQuietly(file: string, onChange: () => void): FSWatcher | undefined {
  try {
    const watcher = watch(file, { persistent: false }, onChange);
    watcher.on('error', () => undefined);
    return watcher;
  } catch {
    return undefined; // polling alone
  }
}
