// A small browser app using streamkernel as an installed package: bundled by
// test/bundle.test.ts with esbuild and with Vite (no flags, aliases or
// polyfills) and run in headless Chromium. Results go to window.results.
import { arraySource, arrowSource, collectResults, csvSource, ndjsonSource, rolling, runKernels } from 'streamkernel';
import { createJob, memorySink, arraySource as jobSource } from 'streamkernel/scheduler';
import { webWorkers } from 'streamkernel/scheduler/browser';
import { arrowBytes } from './arrow.js';
import { workerUrl } from './worker-url.js';

const ops = [{ name: 'mean', spec: { op: 'mean', window: 2 } }];
const CSV = 'symbol,t,price\na,1,1\nb,2,10\na,3,3\nb,4,20\n';

async function mean(source) {
  const r = await collectResults(runKernels(source, ops, { keyed: true }));
  return { values: [...r.values], mean: [...r.columns[0]], keys: r.keys, timestamps: r.timestamps && [...r.timestamps] };
}

/** Runs `f`, keeping its result or its error's message. */
async function attempt(f) {
  try {
    return { ok: await f() };
  } catch (error) {
    return { error: String(error?.message ?? error) };
  }
}

async function job(url) {
  const sink = memorySink();
  const j = await createJob({ adapter: webWorkers({ workerUrl: url }), operator: { op: 'sum', window: 2 }, workers: 1, sink, restart: { maxRestarts: 1, initialDelayMs: 10 } });
  await j.run(jobSource(new Float64Array([1, 2, 3, 4])));
  return [...sink.committed()];
}

const options = { value: 'price', key: 'symbol', time: 't' };

// No top-level await: Vite's default build target has none.
async function main() {
  window.results = {
    rolling: await attempt(async () => [...(await rolling([1, 2, 3, 4], { op: 'sum', window: 2 }))]),
    csvStream: await attempt(() => mean(csvSource(new Blob([CSV]).stream(), options))),
    csvFile: await attempt(() => mean(csvSource(new File([CSV], 'prices.csv').stream(), options))),
    ndjson: await attempt(() => mean(ndjsonSource(new Blob(['{"symbol":"a","t":1,"price":1}\n{"symbol":"a","t":2,"price":3}\n']).stream(), options))),
    array: await attempt(() => mean(arraySource([1, 3, 5], { keys: ['a', 'a', 'a'] }))),
    arrow: await attempt(async () => mean(arrowSource(await arrowBytes(), { value: 'price', key: 'symbol' }))),
    workers: await attempt(() => job(workerUrl)),
    missingWorker: await attempt(() => job(new URL('./no-such-worker.js', import.meta.url))),
  };
  document.body.dataset.status = 'done';
}

void main();
