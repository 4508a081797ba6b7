// The coordinator's own partition (JobOptions.coordinatorPartition): one of a
// job's workers run in the coordinator's thread instead of a worker thread.
// It runs the same worker protocol (worker.ts) over a port whose messages
// both ways are delivered from a later task (setImmediate, in order), so it
// owns its key groups, answers barriers and fails exactly as a worker
// thread does; the coordinator cannot tell it apart. Its rows run between
// the coordinator's own tasks: on a machine with as many cores as workers, a
// job then has as many busy threads as cores, and boots one isolate less.
import type { WorkerHandle } from './types.js';
import { runWorker } from './worker.js';

/**
 * A message as the other side gets it: its transferred buffers moved (the
 * sender's detached, as postMessage leaves them), the rest shared. Messages
 * without transfers (shared batches, barriers, replies to them) go as they
 * are: no copy.
 */
const moved = (message: unknown, transfer: ArrayBuffer[]): unknown => (transfer.length === 0 ? message : structuredClone(message, { transfer }));

/** Runs `fn` from a later task, after the tasks already queued. */
const later: (fn: () => void) => void = typeof setImmediate === 'function' ? (fn) => void setImmediate(fn) : (fn) => void setTimeout(fn, 0);

/** A worker run in this thread (the worker protocol, worker.ts): its handle for the coordinator. */
export function inThreadWorker(): WorkerHandle {
  const state = { alive: true };
  const fromWorker: ((message: unknown) => void)[] = [];
  const onError: ((error: Error) => void)[] = [];
  const onExit: ((code: number) => void)[] = [];
  let toWorker: ((message: unknown) => void) | undefined;
  /** Set once the partition hangs (testing): nothing is delivered either way any more. */
  let hung = false;
  let stopHeartbeat = (): void => undefined;
  const end = (code: number): void => {
    if (!state.alive) return;
    state.alive = false;
    stopHeartbeat();
    later(() => {
      for (const h of onExit) h(code);
    });
  };
  /** Runs the partition's side from a later task; what it throws fails it as an uncaught error fails a worker thread. */
  const run = (fn: () => void): void => {
    later(() => {
      if (!state.alive || hung) return;
      try {
        fn();
      } catch (error) {
        for (const h of onError) h(error instanceof Error ? error : new Error(String(error)));
        end(1);
      }
    });
  };
  stopHeartbeat = runWorker({
    defer: run,
    post: (message, transfer) => {
      const delivered = moved(message, transfer);
      later(() => {
        if (!state.alive || hung) return;
        for (const h of fromWorker) h(delivered);
      });
    },
    onMessage: (handler) => {
      toWorker = handler;
    },
    // A worker thread ends with process.exit(1).
    exit: () => end(1),
    hang: () => {
      hung = true;
      stopHeartbeat();
    },
  });
  return {
    post: (message, transfer) => {
      const delivered = moved(message, transfer);
      run(() => toWorker?.(delivered));
    },
    onMessage: (handler) => void fromWorker.push(handler),
    onError: (handler) => void onError.push(handler),
    onExit: (handler) => void onExit.push(handler),
    terminate: () => end(1),
  };
}
