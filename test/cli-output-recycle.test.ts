// The job's output arrays reused across batches (issue 19): a batch's bytes
// are written over only once the output stream is done with them.
import fc from 'fast-check';
import { Readable, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { Output } from '../src/cli/output.js';
import { parseRun, type RunCommand } from '../src/cli/run-args.js';
import { runJob } from '../src/cli/run.js';

/** A stream that reads each chunk only when it takes it: `late` a few ticks after write (as a slow pipe does), else at once. */
function collector(late: boolean): { stream: Writable; text: () => string } {
  const parts: string[] = [];
  const stream = new Writable({
    highWaterMark: 1 << 20,
    write(chunk: Buffer, _enc, done) {
      if (!late) {
        parts.push(chunk.toString('latin1'));
        done();
        return;
      }
      setTimeout(() => {
        parts.push(chunk.toString('latin1'));
        done();
      }, 2);
    },
  });
  return { stream, text: () => parts.join('') };
}

/** Rows of 3 keys, one a second, some delivered up to 4 s late and a few 30 s late (skipped). */
function csvOf(rows: number, seed: number): string {
  let s = seed >>> 0;
  const next = (): number => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const lines = ['ts,k,v'];
  for (let i = 0; i < rows; i++) {
    const u = next();
    const t = i * 1000 - (u < 0.1 ? 4000 : u < 0.12 ? 30_000 : 0);
    lines.push(`${Math.max(0, t)},k${i % 3},${(next() * 100).toFixed(3)}`);
  }
  return `${lines.join('\n')}\n`;
}

async function run(csv: string, batchSize: number, late: boolean): Promise<string> {
  const cmd = parseRun(['--value', 'v', '--time', 'ts', '--key', 'k', '--op', 'mean', '--op', 'max', '--window', '10s', '--max-out-of-order', '5s', '--on-error', 'skip', '--batch-size', String(batchSize), '--quiet']) as RunCommand;
  const { stream, text } = collector(late);
  const pieces = csv.match(/[^]{1,997}/g) ?? [];
  const code = await runJob(cmd, { stdin: Readable.from(pieces.map((p) => Buffer.from(p))), out: new Output(stream), stderr: new Writable({ write: (_c, _e, done) => done() }), stderrIsTTY: false });
  expect(code).toBe(0);
  await new Promise<void>((resolve) => stream.end(resolve));
  return text();
}

describe('run: output arrays reused across batches', () => {
  it('property: any batch size, a stream that takes each chunk late gets the same bytes as one that takes it at once', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 400 }), fc.integer({ min: 20, max: 1500 }), fc.integer(), async (batchSize, rows, seed) => {
        const csv = csvOf(rows, seed);
        expect(await run(csv, batchSize, true)).toBe(await run(csv, batchSize, false));
      }),
      { numRuns: 25 },
    );
  });
});
