// Scaling of a keyed window job on the scheduler (node dist/bench/windows-scaling.js):
// 10 000 keys, tumbling mean over 1 s windows, event time rising (100 rows
// per ms), batches of 2^16 rows, 1 then 2 workers, no checkpoints but the
// final one. Prints rows/s per worker count and the 1 → 2 ratio (one run
// each: report them with the load average, the machine is shared).
//
// Flags: --rows N (default 4e6), --runs R (default 1; the best run counts).
import { createJob, type OutputBatch } from '../src/scheduler/index.js';
import { nodeWorkers } from '../src/scheduler/node.js';

const args = process.argv.slice(2);
const flag = (name: string, fallback: number): number => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] !== undefined ? Number(args[i + 1]) : fallback;
};
const ROWS = flag('--rows', 4e6);
const RUNS = flag('--runs', 1);
const KEYS = 10_000;
const BATCH = 1 << 16;

const values = new Float64Array(ROWS);
const keys = new Uint32Array(ROWS);
const times = new Float64Array(ROWS);
for (let i = 0; i < ROWS; i++) {
  values[i] = (i * 7919) % 1000;
  keys[i] = (i * 2654435761) % KEYS >>> 0;
  times[i] = Math.floor(i / 100);
}

async function rate(workers: number): Promise<{ rowsPerSec: number; windows: number }> {
  let windows = 0;
  const sink = {
    write(b: OutputBatch) {
      windows += b.windows?.length ?? 0;
    },
    preCommit: () => null,
    commit() {},
    recover() {},
  };
  const job = await createJob({ adapter: nodeWorkers(), operator: { kind: 'tumbling', op: 'mean', size: 1000 }, keyed: true, workers, sink });
  const t = performance.now();
  for (let i = 0; i < ROWS; i += BATCH) await job.push({ values: values.slice(i, i + BATCH), keys: keys.slice(i, i + BATCH), times: times.slice(i, i + BATCH) });
  await job.finish();
  return { rowsPerSec: ROWS / ((performance.now() - t) / 1000), windows };
}

const best = async (workers: number) => {
  let r = await rate(workers);
  for (let k = 1; k < RUNS; k++) {
    const s = await rate(workers);
    if (s.rowsPerSec > r.rowsPerSec) r = s;
  }
  return r;
};
const one = await best(1);
const two = await best(2);
const m = (x: number) => (x / 1e6).toFixed(2);
console.log(`keyed tumbling mean, ${KEYS} keys, ${ROWS} rows: 1 worker ${m(one.rowsPerSec)} M rows/s, 2 workers ${m(two.rowsPerSec)} M rows/s (${(two.rowsPerSec / one.rowsPerSec).toFixed(2)}×); windows ${one.windows} / ${two.windows}`);
