// The kernel operator's grouping in WebAssembly, as a scheduler worker runs
// it (routed rows, every row owned), watched through V8's --trace-deopt in a
// child process: which of its functions' optimized code is thrown away, and
// how often. A JIT property, not a timing. For the operator the script
// compiles on the main thread (--no-concurrent-recompilation), so optimized
// code is installed at the same point of every run and the count does not
// depend on the machine's load (with background compiles the old bug showed
// anything from 0 to 61 deoptimizations).
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const operatorUrl = new URL('../dist/src/scheduler/operator.js', import.meta.url).href;
const engineUrl = new URL('../dist/src/engine.js', import.meta.url).href;
const schedulerUrl = new URL('../dist/src/scheduler/index.js', import.meta.url).href;
const nodeUrl = new URL('../dist/src/scheduler/node.js', import.meta.url).href;

// 5 000 keys first seen in the first slice (the placing loop runs once per new key), then 60 slices of known keys.
const script = `
const { createKernelOperator } = await import(${JSON.stringify(operatorUrl)});
const { compiledModule } = await import(${JSON.stringify(engineUrl)});
const operator = await createKernelOperator(await compiledModule('sum'), { op: 'mean', window: 20, minPeriods: 1 }, 128, [0, 128]);
const rows = 1 << 14;
let s = 7;
for (let b = 0; b < 61; b++) {
  const keys = new Uint32Array(rows);
  const values = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    keys[i] = b === 0 ? i % 5000 : s % 5000;
    values[i] = (s >>> 8) / 65536;
  }
  operator.processParts([{ values, keys, out: new Float64Array(rows), owned: true }]);
}
`;

// Three jobs one after another in one process, two workers each: the coordinator's route runs per batch of every job.
const jobsScript = `
const { createJob, memorySink, arraySource } = await import(${JSON.stringify(schedulerUrl)});
const { nodeWorkers } = await import(${JSON.stringify(nodeUrl)});
const rows = 1 << 17;
const keys = Uint32Array.from({ length: rows }, (_, i) => (Math.imul(i, 2654435761) >>> 0) % 3000);
const values = Float64Array.from(keys, (k, i) => k + i / rows);
for (let j = 0; j < 3; j++) {
  const job = await createJob({ adapter: nodeWorkers(), operator: { op: 'mean', window: 10 }, keyed: true, workers: 2, sink: memorySink({ keep: false }) });
  await job.run(arraySource(values, { keys, batchRows: 1 << 14 }));
}
`;

/** Deoptimizations of each function's optimized code in the script's run (by reason with `reasons`). */
function deopts(source = script, reasons = false, flags: string[] = []): Map<string, number> {
  const r = spawnSync(process.execPath, ['--trace-deopt', ...flags, '--input-type=module', '-e', source], { encoding: 'utf8', maxBuffer: 64 << 20 });
  expect(r.status, r.stderr).toBe(0);
  const counts = new Map<string, number>();
  for (const m of r.stdout.matchAll(/\[bailout \(kind: [^)]*, reason: ([^)]*)\): begin\. deoptimizing \S+ <JSFunction (\S+)/g)) {
    const name = reasons ? `${m[2]!}: ${m[1]!}` : m[2]!;
    counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  return counts;
}

describe('the kernel operator\'s grouping in WebAssembly under the JIT', () => {
  it('regression: processInWasm was compiled on stack replacement in the first slice (its placing loop ran once per new key) and that code deoptimized after the loop on almost every later slice, running the rest interpreted; its loops are now functions of their own and nothing in the path deoptimizes more than twice in 61 slices', () => {
    const counts = deopts(script, false, ['--no-concurrent-recompilation']);
    for (const name of ['processInWasm', 'placeUnheld', 'markAll', 'copyIn', 'processParts', 'copyOut']) {
      expect(counts.get(name) ?? 0, `${name} deoptimized ${counts.get(name)} times: ${JSON.stringify([...counts])}`).toBeLessThanOrEqual(2);
    }
  });
});

describe('the coordinator\'s route under the JIT', () => {
  it('regression: route made its key table on its first call (`??=`), a construct site with no feedback in the code TurboFan compiled during the first job, which deoptimized on the next job\'s first batch; the table is now made with the job and route never deoptimizes there', () => {
    const counts = deopts(jobsScript, true);
    expect([...counts].filter(([name]) => name.startsWith('route: ') && name.includes('construct')), JSON.stringify([...counts])).toEqual([]);
  });
});
