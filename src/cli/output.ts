// A writer over stdout that honours backpressure and turns a closed pipe
// (EPIPE, as when piped into `head`) into a quiet stop.

import type { Writable } from 'node:stream';

/** Thrown by {@link Output.write} once the reader has gone away. */
export class OutputClosed extends Error {
  constructor() {
    super('output closed');
    this.name = 'OutputClosed';
  }
}

/** Thrown by {@link Output.write} when writing failed for another reason. */
export class OutputFailed extends Error {
  constructor(readonly reason: NodeJS.ErrnoException) {
    super(`cannot write output: ${reason.message}`);
    this.name = 'OutputFailed';
  }
}

function isClosedPipe(err: NodeJS.ErrnoException): boolean {
  return err.code === 'EPIPE' || err.code === 'ERR_STREAM_DESTROYED' || err.code === 'ECONNRESET';
}

export class Output {
  private failure: NodeJS.ErrnoException | undefined;
  private waiter: (() => void) | undefined;

  constructor(private readonly stream: Writable) {
    // Stays attached for the life of the process: an EPIPE can also arrive
    // after the last write, and must not become an uncaught exception.
    stream.on('error', (err: NodeJS.ErrnoException) => {
      this.failure ??= err;
      this.wake();
    });
    // One 'close' listener for good, not one per wait: stdout also carries a
    // 'close' listener per worker thread (each pipes its stdout there), and
    // the 11th listener added printed a MaxListenersExceededWarning.
    stream.on('close', () => this.wake());
  }

  private wake(): void {
    this.waiter?.();
  }

  private check(): void {
    const f = this.failure;
    if (f === undefined) return;
    throw isClosedPipe(f) ? new OutputClosed() : new OutputFailed(f);
  }

  /**
   * Writes `text` (or UTF-8 bytes, which the stream may keep until written);
   * resolves once the stream can take more. `written` is called once the
   * stream is done with the bytes (written without error).
   */
  async write(text: string | Uint8Array, written?: () => void): Promise<void> {
    this.check();
    if (text.length === 0) return;
    const ok = this.stream.write(text, (err?: Error | null) => {
      if (err) {
        this.failure ??= err as NodeJS.ErrnoException;
        this.wake();
      } else written?.();
    });
    if (!ok && this.failure === undefined && !this.stream.destroyed) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          this.stream.off('drain', done);
          this.waiter = undefined;
          resolve();
        };
        this.waiter = done;
        this.stream.on('drain', done);
      });
    }
    this.check();
  }
}
