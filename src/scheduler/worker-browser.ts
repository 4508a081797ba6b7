// The scheduler's worker entry for Web Workers (spawned by browser.ts as a module worker).
import { runWorker } from './worker.js';

interface WorkerScope {
  postMessage(message: unknown, transfer: ArrayBuffer[]): void;
  addEventListener(type: 'message', listener: (event: MessageEvent) => void): void;
  close(): void;
}

const scope = globalThis as unknown as WorkerScope;

runWorker({
  post: (message, transfer) => scope.postMessage(message, transfer),
  onMessage: (handler) => scope.addEventListener('message', (event) => handler(event.data)),
  exit: () => {
    scope.close();
    // close() lets the current task finish; stop here like process.exit would.
    throw new Error('worker closed itself');
  },
  hang: () => {
    for (;;) {
      // a busy hang: Atomics.wait needs a SharedArrayBuffer, which needs cross-origin isolation
    }
  },
});
