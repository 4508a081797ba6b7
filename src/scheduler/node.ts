// Node specifics of the scheduler (streamkernel/scheduler/node):
// worker_threads workers, the file sink, and the file checkpoint store (stores-file.ts).
import { closeSync, existsSync, fsyncSync, ftruncateSync, openSync, writeSync } from 'node:fs';
import os from 'node:os';
import { Worker } from 'node:worker_threads';
export { fileCheckpointStore } from './stores-file.js';
import type { CommittedSinkState, OutputBatch, Sink, WorkerAdapter } from './types.js';

/**
 * A scheduler worker thread. It inherits the process's flags; passed as
 * `execArgv` they must all be per-thread ones (V8 flags such as
 * `--trace-gc` or `--max-old-space-size`, which hold for the whole process
 * anyway, made the Worker constructor throw), so they are passed only when
 * `--input-type` (main script only) must be dropped, and then without the
 * flags the constructor refuses.
 */
function newWorker(url: URL | string): Worker {
  if (!process.execArgv.some((a) => a.startsWith('--input-type'))) return new Worker(url);
  const execArgv = process.execArgv.filter((a) => !a.startsWith('--input-type'));
  try {
    return new Worker(url, { execArgv });
  } catch (error) {
    if ((error as { code?: string }).code !== 'ERR_WORKER_INVALID_EXEC_ARGV') throw error;
    return new Worker(url, { execArgv: [] });
  }
}

/**
 * Runs scheduler workers as Node `worker_threads`. The worker script is
 * `worker-node.js` next to this module in `dist/` (run the scheduler from
 * the built package, not from TypeScript sources).
 *
 * @param options.workerUrl - another worker script. @default new URL('./worker-node.js', import.meta.url)
 * @example
 * ```ts
 * const job = await createJob({ adapter: nodeWorkers(), operator: { op: 'mean', window: 10 }, sink });
 * ```
 */
export function nodeWorkers(options: { workerUrl?: URL | string } = {}): WorkerAdapter {
  const url = options.workerUrl ?? new URL('./worker-node.js', import.meta.url);
  return {
    platform: 'node',
    concurrency: os.availableParallelism(),
    sharedMemory: true,
    spawn() {
      const worker = newWorker(url);
      return {
        post: (message, transfer) => worker.postMessage(message, transfer),
        onMessage: (handler) => worker.on('message', handler),
        onError: (handler) => worker.on('error', handler),
        onExit: (handler) => worker.on('exit', handler),
        terminate: () => void worker.terminate(),
      };
    },
  };
}

/**
 * A transactional file sink: results as raw little-endian float64, one per
 * row, in stream order. Writes go straight to the file; `preCommit` fsyncs
 * and records the file length as the position; `recover` truncates the file
 * to the last committed position, so after any crash and resume the file
 * holds every result exactly once.
 *
 * @param path - the output file (created if missing; a fresh job truncates it).
 * @example
 * ```ts
 * const job = await createJob({ ..., sink: fileSink('out.f64'), resume: true });
 * ```
 */
export function fileSink(path: string): Sink & {
  /** Bytes of results in the file so far (8 per row), including those not yet committed. */
  readonly bytes: number;
} {
  if (typeof path !== 'string' || path === '') throw new TypeError(`path must be a non-empty string, got ${typeof path === 'string' ? "''" : typeof path}`);
  let fd: number | undefined;
  let bytes = 0;
  const open = (): number => {
    if (fd === undefined) fd = openSync(path, existsSync(path) ? 'r+' : 'w+');
    return fd;
  };
  return {
    get bytes() {
      return bytes;
    },
    // write copies the results into the file: the job may reuse their buffers.
    keepsValues: false,
    write(batch: OutputBatch) {
      const f = open();
      const view = new Uint8Array(batch.values.buffer, batch.values.byteOffset, batch.values.byteLength);
      let at = 0;
      while (at < view.length) at += writeSync(f, view, at, view.length - at, bytes + at);
      bytes += view.length;
    },
    preCommit() {
      fsyncSync(open());
      return { bytes };
    },
    commit() {
      // Durable since preCommit; nothing to publish.
    },
    recover(last: CommittedSinkState | null) {
      const position = last === null ? 0 : ((last.position as { bytes?: unknown } | null)?.bytes ?? 0);
      if (typeof position !== 'number' || !Number.isSafeInteger(position) || position < 0) {
        throw new TypeError(`file sink position must be { bytes: n }, got ${JSON.stringify(last?.position)}`);
      }
      const f = open();
      ftruncateSync(f, position);
      fsyncSync(f);
      bytes = position;
    },
    close() {
      if (fd !== undefined) {
        fsyncSync(fd);
        closeSync(fd);
        fd = undefined;
      }
    },
  };
}
