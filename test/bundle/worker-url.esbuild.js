// esbuild: sk-worker.js is a second entry point, written next to the app's bundle.
export const workerUrl = new URL('./sk-worker.js', import.meta.url);
