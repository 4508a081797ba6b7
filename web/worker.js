// A compute worker: runs window ops over a series with streamkernel's WASM
// kernels (the built ESM; its WASM bytes are embedded, nothing else loads).
import { createKernel } from '/dist/src/index.js';

const BATCH = 1 << 16;

self.onmessage = async (event) => {
  const { id, values, ops } = event.data;
  try {
    const results = [];
    const started = performance.now();
    for (const op of ops) {
      const kernel = await createKernel(op.spec);
      const out = new Float64Array(values.length);
      // Stream the series through in batches, as a live feed would arrive.
      for (let i = 0; i < values.length; i += BATCH) {
        const end = Math.min(values.length, i + BATCH);
        kernel.push(values.subarray(i, end), out.subarray(i, end));
      }
      kernel.dispose();
      results.push({ name: op.name, values: out });
    }
    const ms = performance.now() - started;
    self.postMessage({ id, results, ms }, results.map((r) => r.values.buffer));
  } catch (error) {
    self.postMessage({ id, error: String(error && error.message ? error.message : error) });
  }
};
