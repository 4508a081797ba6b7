// Vite: `?worker&url` bundles sk-worker.js as a worker and gives its URL.
import workerUrl from './sk-worker.js?worker&url';
export { workerUrl };
