// The scheduler's worker entry for Web Workers (spawned by browser.ts as a
// module worker). Imports nothing from Node.
import { runWorker } from './worker.js';

interface WorkerScope {
  postMessage(message: unknown, transfer: Transferable[]): void;
  addEventListener(type: 'message', listener: (event: MessageEvent) => void): void;
  close(): void;
}

const scope = globalThis as unknown as WorkerScope;

runWorker({
  post: (message, transfer) => scope.postMessage(message, transfer),
  onMessage: (handler) => scope.addEventListener('message', (event) => handler(event.data)),
  exit: () => {
    // Browsers have no exit event: say so first (browser.ts reports it as an exit with code 1).
    scope.postMessage({ t: 'exit', code: 1 }, []);
    scope.close();
    // close() lets the current task finish; stop here like process.exit would.
    throw new Error('worker closed itself');
  },
  hang: () => {
    for (;;) {
      // A busy hang: Atomics.wait needs a SharedArrayBuffer, which needs cross-origin isolation.
    }
  },
});
