// `run --workers N`: how many worker threads a run starts, and that any
// worker count and batch split give the bytes of `--workers 1` (issue 13).
// Each run spawns the built CLI (dist/), as a user would.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, type CliRun } from './cli-harness.js';

let dir: string;
/** A module loaded with --import into the CLI: at exit, it writes the worker threads the process started to $SK_TEST_WORKERS_FILE. */
let counter: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'sk-workers-'));
  counter = path.join(dir, 'count-workers.mjs');
  writeFileSync(
    counter,
    [
      "import { writeFileSync } from 'node:fs';",
      "import { isMainThread } from 'node:worker_threads';",
      'let started = 0;',
      "if (isMainThread) process.on('worker', () => started++);",
      "if (isMainThread) process.on('exit', () => writeFileSync(process.env.SK_TEST_WORKERS_FILE, String(started)));",
      '',
    ].join('\n'),
  );
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Keyed rows: `keys` keys, some values empty (NaN). */
function keyedCsv(rows: number, keys: number, seed: number): string {
  let s = seed >>> 0;
  let csv = 't,k,v\n';
  for (let i = 0; i < rows; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const v = s % 13 === 0 ? '' : String((s >>> 8) % 1000 / 8);
    csv += `${i},key${(s >>> 4) % keys},${v}\n`;
  }
  return csv;
}

/** Runs the CLI in `dir` with the counter loaded (NODE_OPTIONS): its run and the worker threads it started. */
async function counted(args: readonly string[]): Promise<{ run: CliRun; threads: number }> {
  const file = path.join(dir, 'workers-started');
  rmSync(file, { force: true });
  const run = await runCli(args, { cwd: dir, env: { NODE_OPTIONS: `--import=${pathToFileURL(counter).href}`, SK_TEST_WORKERS_FILE: file } });
  return { run, threads: Number(readFileSync(file, 'utf8')) };
}

describe('run --workers N', () => {
  it('regression: keyed --workers 2 started two worker threads beside the main thread, which parses, routes and formats every row (slower than --workers 1); --workers N now starts N − 1 per op, the same bytes', async () => {
    const input = path.join(dir, 'threads.csv');
    writeFileSync(input, keyedCsv(3000, 40, 5));
    const args = ['run', input, '--value', 'v', '--key', 'k', '--op', 'median', '--window', '20'];
    const one = await counted(args);
    expect(one.run.code).toBe(0);
    expect(one.threads).toBe(0);
    for (const workers of [2, 3, 4]) {
      const r = await counted([...args, '--workers', String(workers)]);
      expect(r.run, `--workers ${workers}`).toEqual(one.run);
      expect(r.threads, `--workers ${workers}`).toBe(workers - 1);
    }
    // Per op: two ops on --workers 3, two jobs of two worker threads.
    const two = await counted([...args, '--op', 'mean', '--workers', '3']);
    expect(two.run.code).toBe(0);
    expect(two.threads).toBe(4);
    // Unkeyed, one series is one key: one worker thread per op, as before.
    const unkeyed = await counted(['run', input, '--value', 'v', '--op', 'mean', '--window', '20', '--workers', '3']);
    expect(unkeyed.run.code).toBe(0);
    expect(unkeyed.threads).toBe(1);
  });

  it('property: any worker count and --batch-size give the bytes of --workers 1', async () => {
    const ones = new Map<string, CliRun>();
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 3 }),
        fc.integer({ min: 2, max: 5 }),
        fc.integer({ min: 1, max: 700 }),
        fc.constantFrom('median', 'mean', 'max'),
        async (seed, workers, batch, op) => {
          const input = path.join(dir, `property-${seed}.csv`);
          writeFileSync(input, keyedCsv(1500, 3 + 17 * seed, seed));
          const args = ['run', input, '--value', 'v', '--key', 'k', '--op', op, '--window', '30'];
          const id = `${seed} ${op}`;
          let one = ones.get(id);
          if (one === undefined) {
            one = await runCli(args, { cwd: dir });
            ones.set(id, one);
          }
          expect(one.code).toBe(0);
          expect(await runCli([...args, '--workers', String(workers), '--batch-size', String(batch)], { cwd: dir })).toEqual(one);
        },
      ),
      { numRuns: 12, seed: 13 },
    );
  });
});
