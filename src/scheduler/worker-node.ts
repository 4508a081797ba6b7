// The scheduler's worker entry for Node worker_threads (spawned by node.ts).
import { parentPort } from 'node:worker_threads';
import { runWorker } from './worker.js';

const port = parentPort;
if (port === null) throw new Error('streamkernel scheduler worker: must run in a worker thread');

runWorker({
  post: (message, transfer) => port.postMessage(message, transfer),
  onMessage: (handler) => port.on('message', handler),
  defer: (fn) => void setImmediate(fn),
  exit: () => process.exit(1),
  hang: () => {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
  },
});
