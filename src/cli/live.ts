// Live input (stdin, a pipe, a terminal): results as rows arrive.
//
// A batch is cut, and its results written, when the reader has no more bytes
// immediately available (the next read would wait), or once its first bytes
// are older than --max-delay. A fast input always has bytes waiting, so its
// batches stay large; cuts never change the output (the kernels are
// batch-invariant and every batch ends at a row end).

import { fstatSync } from 'node:fs';
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
