// Node specifics of the scheduler (streamkernel/scheduler/node):
// worker_threads workers, the file checkpoint store and the file sink.
import { closeSync, existsSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, unlinkSync, writeSync, writevSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { checkKeep } from './stores.js';
import type { CheckpointStore, CommittedSinkState, OutputBatch, Sink, WorkerAdapter } from './types.js';

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
      // Inherit Node's flags, except those that only make sense for the main script.
      const execArgv = process.execArgv.filter((a) => !a.startsWith('--input-type'));
      const worker = new Worker(url, { execArgv });
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

const NAME = /^checkpoint-(\d{12})\.skcp$/;

function fileName(id: number): string {
  return `checkpoint-${String(id).padStart(12, '0')}.skcp`;
}

/** Writes the parts one after another: a few hundred per system call (writev), short writes continued. */
function writeParts(fd: number, parts: readonly Uint8Array[]): void {
  const BATCH = 512; // under every platform's IOV_MAX (1024 on Linux)
  for (let first = 0; first < parts.length; first += BATCH) {
    let batch = parts.slice(first, first + BATCH).filter((part) => part.length > 0);
    while (batch.length > 0) {
      let written = writevSync(fd, batch);
      // A short write: drop the parts written, and the written start of the next one.
      let i = 0;
      while (i < batch.length && written >= batch[i]!.length) written -= batch[i++]!.length;
      batch = batch.slice(i);
      if (written > 0) batch[0] = batch[0]!.subarray(written);
    }
  }
}

/**
 * Checkpoints as files in a directory. Each is written to a temporary file,
 * fsynced, renamed into place (atomic) and the directory fsynced; only the
 * newest `keep` are kept. The bytes carry a CRC-32, and the job falls back to
 * the previous checkpoint when the newest is refused.
 *
 * @param dir - the directory (created if missing).
 * @param options.keep - checkpoints kept. @default 3
 * @example
 * ```ts
 * const store = fileCheckpointStore('./checkpoints', { keep: 5 });
 * ```
 */
export function fileCheckpointStore(
  dir: string,
  options: { keep?: number } = {},
): CheckpointStore & {
  /** The file that holds (or would hold) checkpoint `id`: `<dir>/checkpoint-<id, 12 digits>.skcp`. */
  path(id: number): string;
} {
  if (typeof dir !== 'string' || dir === '') throw new TypeError(`dir must be a non-empty string, got ${typeof dir === 'string' ? "''" : typeof dir}`);
  const keep = checkKeep(options.keep ?? 3);
  let counter = 0;
  const list = (): number[] => {
    if (!existsSync(dir)) return [];
    return readdirSync(dir)
      .map((name) => NAME.exec(name))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]))
      .sort((a, b) => b - a);
  };
  const saveParts = async (id: number, parts: readonly Uint8Array[]): Promise<void> => {
    mkdirSync(dir, { recursive: true });
    const tmp = join(dir, `.${fileName(id)}.${process.pid}.${counter++}.tmp`);
    const fd = openSync(tmp, 'w');
    try {
      writeParts(fd, parts);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, join(dir, fileName(id)));
    const dirFd = openSync(dir, 'r');
    try {
      fsyncSync(dirFd);
    } finally {
      closeSync(dirFd);
    }
    for (const old of list().slice(keep)) {
      try {
        unlinkSync(join(dir, fileName(old)));
      } catch {
        // removed meanwhile
      }
    }
  };
  return {
    path: (id) => join(dir, fileName(id)),
    save: (id, bytes) => saveParts(id, [bytes]),
    saveParts,
    async list() {
      return list();
    },
    async read(id) {
      const buffer = readFileSync(join(dir, fileName(id)));
      return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
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
