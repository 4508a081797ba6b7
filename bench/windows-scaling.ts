// Scaling of a keyed window job on the scheduler (node dist/bench/windows-scaling.js):
// 10 000 keys, tumbling mean over 1 s windows, event time rising (100 rows
// per ms), batches of 2^16 rows, 1 then 2 workers, no checkpoints but the
// final one. Prints rows/s per worker count and the 1 → 2 ratio (one run
// each: report them with the load average, the machine is shared).
//
// Flags: --rows N (default 4e6), --runs R (default 1; the best run counts),
// --checkpoint-ms T (default Infinity: the final checkpoint only, as said
// above; until the scheduler's default of 1000 was passed by leaving the
// option out, so a checkpoint of every key's windows was taken each second).
// With SK_THREAD_CPU_DIR set and `node --import ./dist/bench/thread-cpu.js`,
// also prints CPU ns per row per thread and the ratio that split allows.
import { createJob, type OutputBatch } from '../src/scheduler/index.js';
import { nodeWorkers } from '../src/scheduler/node.js';
import { cpuSplit, type CpuSplit, splitLine, splitRatio } from './thread-cpu.js';

const args = process.argv.slice(2);
const flag = (name: string, fallback: number): number => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] !== undefined ? Number(args[i + 1]) : fallback;
};
const ROWS = flag('--rows', 4e6);
const RUNS = flag('--runs', 1);
const CHECKPOINT_MS = flag('--checkpoint-ms', Infinity);
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

async function rate(workers: number): Promise<{ rowsPerSec: number; windows: number; cpu?: CpuSplit }> {
  let windows = 0;
  const sink = {
    write(b: OutputBatch) {
      windows += b.windows?.length ?? 0;
    },
    preCommit: () => null,
    commit() {},
    recover() {},
  };
  const job = await createJob({ adapter: nodeWorkers(), operator: { kind: 'tumbling', op: 'mean', size: 1000 }, keyed: true, workers, sink, checkpoints: { everyMs: CHECKPOINT_MS } });
  const measure = cpuSplit();
  const t = performance.now();
  for (let i = 0; i < ROWS; i += BATCH) await job.push({ values: values.slice(i, i + BATCH), keys: keys.slice(i, i + BATCH), times: times.slice(i, i + BATCH) });
  await job.finish();
  const rowsPerSec = ROWS / ((performance.now() - t) / 1000);
  return measure === undefined ? { rowsPerSec, windows } : { rowsPerSec, windows, cpu: measure(ROWS).run };
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
console.log(`keyed tumbling mean, ${KEYS} keys, ${ROWS} rows, checkpoints every ${CHECKPOINT_MS} ms: 1 worker ${m(one.rowsPerSec)} M rows/s, 2 workers ${m(two.rowsPerSec)} M rows/s (${(two.rowsPerSec / one.rowsPerSec).toFixed(2)}×); windows ${one.windows} / ${two.windows}`);
if (one.cpu !== undefined && two.cpu !== undefined) {
  console.log('CPU ns per row per thread (coordinator = main thread, other = V8 helper threads):');
  console.log('| workers | coordinator | workers | other | 2-core bound ns/row |');
  console.log('|---|---|---|---|---|');
  console.log(splitLine('1', one.cpu));
  console.log(splitLine('2', two.cpu));
  console.log(`1 → 2 workers allowed by the CPU split on 2 cores: ${splitRatio(one.cpu, two.cpu).toFixed(2)}×`);
}
