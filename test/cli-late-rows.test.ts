// `streamkernel run` with --max-out-of-order and --on-error skip: rows too far
// out of order are left out of a batch by copying the rows around them (in
// runs); the results go to stdout or a file as UTF-8 bytes. Any place of the
// late rows (a batch's first or last row, runs of them), any batch size:
// the output is the library's results over the rows kept, in input order.

import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rollingByTime } from '../src/index.js';

const BIN = path.join(fileURLToPath(new URL('..', import.meta.url)), 'bin', 'streamkernel.js');

function cli(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') }));
  });
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'sk-late-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('run: late rows skipped', () => {
  it('property: late rows anywhere in a batch (first, last, in runs), any batch size: the output is the library\'s over the rows kept, on stdout and in a file', async () => {
    // Per row: its key, and how far behind the key's time it is (0: in order; 1–3 s: within the bound; 6–9 s: late).
    const row = fc.record({ key: fc.constantFrom('a', 'b,c'), lag: fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 1000, max: 3000 }), fc.integer({ min: 6000, max: 9000 })), v: fc.integer({ min: -50, max: 50 }) });
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(row, { minLength: 1, maxLength: 120 }), fc.integer({ min: 1, max: 40 }), async (rows, batch) => {
        const bound = 5000;
        const clock = new Map<string, number>();
        const max = new Map<string, number>();
        const ts: number[] = [];
        const kept: number[] = [];
        rows.forEach((r, i) => {
          const t0 = (clock.get(r.key) ?? 100_000) + 1000;
          clock.set(r.key, t0);
          const t = t0 - r.lag;
          ts.push(t);
          const m = max.get(r.key);
          if (m !== undefined && t < m - bound) return; // late: skipped
          kept.push(i);
          if (m === undefined || t > m) max.set(r.key, t);
        });
        const csv = `t,k,v\n${rows.map((r, i) => `${ts[i]},${r.key.includes(',') ? `"${r.key}"` : r.key},${r.v}\n`).join('')}`;
        const input = path.join(dir, `in-${run}.csv`);
        const output = path.join(dir, `out-${run++}.csv`);
        writeFileSync(input, csv);
        const spec = { window: '10s' as const, keys: 'string' as const, maxOutOfOrderness: bound };
        const at = (a: readonly number[]): number[] => kept.map((i) => a[i]!);
        const keys = kept.map((i) => rows[i]!.key);
        const values = rows.map((r) => r.v);
        const mean = await rollingByTime(at(ts), at(values), { op: 'mean', ...spec }, keys);
        const max2 = await rollingByTime(at(ts), at(values), { op: 'max', ...spec }, keys);
        let expected = 't,k,v,mean,max\n';
        kept.forEach((i, j) => (expected += `${ts[i]},${rows[i]!.key.includes(',') ? `"${rows[i]!.key}"` : rows[i]!.key},${values[i]},${String(mean[j])},${String(max2[j])}\n`));
        const args = ['run', input, '--value', 'v', '--time', 't', '--key', 'k', '--op', 'mean', '--op', 'max', '--window', '10s', '--max-out-of-order', '5s', '--on-error', 'skip', '--quiet', '--batch-size', String(batch)];
        const out = await cli(args);
        expect(out).toEqual({ code: 0, stdout: expected, stderr: '' });
        expect(await cli([...args, '-o', output])).toEqual({ code: 0, stdout: '', stderr: '' });
        expect(readFileSync(output, 'utf8')).toBe(expected);
      }),
      { numRuns: 15 },
    );
  }, 300_000);
});
