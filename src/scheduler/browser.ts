// Browser specifics of the scheduler (streamkernel/scheduler/browser): Web
// Workers and the IndexedDB checkpoint store. Imports nothing from Node.
import type { WorkerAdapter, WorkerHandle } from './types.js';

export { indexedDBCheckpointStore, type IndexedDBCheckpointStore, type IndexedDBStoreOptions } from './stores-indexeddb.js';

/**
 * Options of {@link webWorkers}.
 *
 * @example
 * ```ts
 * const options: WebWorkersOptions = { workerUrl: '/assets/worker-browser.js', onSpawn: (worker, n) => console.log('worker', n) };
 * ```
 */
export interface WebWorkersOptions {
  /**
   * The worker script, run as a module worker.
   * @default new URL('./worker-browser.js', import.meta.url)
   */
  workerUrl?: URL | string;
  /**
   * Called with every `Worker` the adapter starts and its sequence number
   * (for monitoring, or tests that kill a worker from outside with
   * `worker.terminate()`: the job notices by the heartbeat).
   */
  onSpawn?: (worker: Worker, n: number) => void;
}

/** The worker script's URL as the browser resolves it (against the page for a relative string), for messages. */
function absolute(url: URL | string): string {
  try {
    return new URL(url, (globalThis as { location?: { href?: string } }).location?.href).href;
  } catch {
    return String(url);
  }
}

/** The error a Worker `error` event reports, as an Error; `url` is the worker script's. */
function errorOf(event: Event, url: URL | string): Error {
  const e = event as ErrorEvent;
  if (e.error instanceof Error) return e.error;
  if (typeof e.message === 'string' && e.message !== '') {
    const where = typeof e.filename === 'string' && e.filename !== '' ? ` (${e.filename}:${e.lineno}:${e.colno})` : '';
    return new Error(`${e.message}${where}`);
  }
  // A plain Event: the script failed to load or to parse, and the browser says no more; name it so a
  // bundled app sees which URL to fix (docs/SCHEDULER.md, "Bundling the worker").
  return new Error(`the worker script failed to load: ${absolute(url)} (not found, not JavaScript, or a syntax error; see "Bundling the worker" in streamkernel's docs/SCHEDULER.md)`);
}

/**
 * Runs scheduler workers as module Web Workers (`new Worker(url, { type:
 * 'module' })`). The worker script is `worker-browser.js` next to this module
 * in `dist/`, so serve the built package as it is (or point `workerUrl` at
 * your bundler's output for it). The compiled `WebAssembly.Module` is posted
 * to each worker (compiled once in the page) and batches move by transfer.
 *
 * Failure detection: a worker's `error` event (an uncaught error or a WASM
 * trap), a worker closing itself (it says so before it goes), `terminate()`
 * through the handle (reported like Node's `exit`), and for anything else
 * (a hang, a worker killed from outside) the heartbeat timeout.
 *
 * @example
 * ```ts
 * import { createJob, memorySink } from 'streamkernel/scheduler';
 * import { webWorkers, indexedDBCheckpointStore } from 'streamkernel/scheduler/browser';
 * const job = await createJob({ adapter: webWorkers(), operator: { op: 'mean', window: 10 }, keyed: true, workers: 2, sink: memorySink() });
 * ```
 */
export function webWorkers(options: WebWorkersOptions = {}): WorkerAdapter {
  if (typeof options !== 'object' || options === null) throw new TypeError(`options must be an object, got ${options === null ? 'null' : typeof options}`);
  const url = options.workerUrl ?? new URL('./worker-browser.js', import.meta.url);
  if (typeof url !== 'string' && !(url instanceof URL)) throw new TypeError(`workerUrl must be a URL or a string, got ${typeof url}`);
  const onSpawn = options.onSpawn;
  if (onSpawn !== undefined && typeof onSpawn !== 'function') throw new TypeError('onSpawn must be a function');
  const nav = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator;
  let spawned = 0;
  return {
    platform: 'browser',
    concurrency: Math.max(1, Math.floor(nav?.hardwareConcurrency ?? 1) || 1),
    // SharedArrayBuffer exists (and can be posted) only on cross-origin isolated pages.
    sharedMemory: (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true && typeof SharedArrayBuffer === 'function',
    spawn(): WorkerHandle {
      const worker = new Worker(url, { type: 'module', name: `streamkernel-scheduler-${spawned}` });
      onSpawn?.(worker, spawned);
      spawned++;
      const exitHandlers: ((code: number) => void)[] = [];
      let exited = false;
      const exit = (code: number): void => {
        if (exited) return;
        exited = true;
        for (const handler of exitHandlers) handler(code);
      };
      worker.addEventListener('message', (event) => {
        const data = event.data as { t?: unknown; code?: unknown } | null;
        // worker-browser.js says so before it closes itself (browsers have no exit event).
        if (data !== null && typeof data === 'object' && data.t === 'exit') exit(typeof data.code === 'number' ? data.code : 1);
      });
      return {
        post: (message, transfer) => worker.postMessage(message, transfer),
        onMessage: (handler) =>
          worker.addEventListener('message', (event) => {
            const data = event.data as { t?: unknown } | null;
            if (data === null || typeof data !== 'object' || data.t !== 'exit') handler(event.data);
          }),
        onError: (handler) => {
          worker.addEventListener('error', (event) => {
            event.preventDefault(); // handled here: not reported again as the page's uncaught error
            handler(errorOf(event, url));
          });
          worker.addEventListener('messageerror', () => handler(new Error('a message from the worker could not be deserialized')));
        },
        onExit: (handler) => {
          exitHandlers.push(handler);
        },
        terminate: () => {
          worker.terminate();
          // Like Node's worker.terminate(): an exit with code 1, reported asynchronously.
          setTimeout(() => exit(1), 0);
        },
      };
    },
  };
}
