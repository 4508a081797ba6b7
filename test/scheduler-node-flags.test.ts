// nodeWorkers() in a process started with V8 flags: a worker thread inherits
// them (they hold for the whole process), but the Worker constructor refuses
// them in an explicit execArgv, which it used to be given.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const scheduler = pathToFileURL(path.join(root, 'dist', 'src', 'scheduler', 'index.js')).href;
const node = pathToFileURL(path.join(root, 'dist', 'src', 'scheduler', 'node.js')).href;

/** A 2-worker job of 4 rows whose results the script prints (JSON: NaN as null). */
const SCRIPT = `
import { createJob, memorySink } from ${JSON.stringify(scheduler)};
import { nodeWorkers } from ${JSON.stringify(node)};
const sink = memorySink();
const job = await createJob({ adapter: nodeWorkers(), operator: { op: 'sum', window: 2 }, keyed: true, workers: 2, sink });
await job.push({ values: Float64Array.of(1, 2, 3, 4), keys: Uint32Array.of(0, 1, 0, 1) });
await job.finish();
console.log(JSON.stringify([...sink.committed()]));
`;

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, args, (error, stdout, stderr) => resolve({ code: error === null ? 0 : (error as { code?: number }).code ?? 1, stdout, stderr }));
  });
}

describe('nodeWorkers and the process flags', () => {
  it('regression: nodeWorkers() threw ERR_WORKER_INVALID_EXEC_ARGV in a process run with a V8 flag (node --max-semi-space-size, --trace-gc); its workers inherit the flags', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sk-flags-'));
    try {
      const file = path.join(dir, 'job.mjs');
      writeFileSync(file, SCRIPT);
      // A script file, and --input-type (dropped for the workers) with -e.
      for (const args of [['--max-semi-space-size=4', file], ['--max-semi-space-size=4', '--input-type=module', '-e', SCRIPT]]) {
        const { code, stdout, stderr } = await run(args);
        expect(stderr, args[1]).not.toContain('ERR_WORKER_INVALID_EXEC_ARGV');
        expect({ code, stdout: stdout.trim() }).toEqual({ code: 0, stdout: '[null,null,4,6]' }); // NaN until a window is full
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
