// The CLI's way to ewm var/std (issue 15): `streamkernel run --op ewm
// --ewm-stat var|std` gives the library's
// `{ op: 'ewm', stat }` results (pandas' ewm(...).var(bias=False) / .std(),
// checked against pandas in test/ewm-var.test.ts), bit for bit.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKernel, type KernelSpec } from '../src/index.js';
import { runCli } from './cli-harness.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'sk-ewm-var-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const cli = (args: readonly string[], input: string) => runCli(args, { cwd: dir, input });

/** A series with missing values, an outlier and a constant stretch. */
const values: number[] = Array.from({ length: 120 }, (_, i) => (i % 17 === 5 ? NaN : i === 40 ? 1e6 : i >= 60 && i < 70 ? 3 : Math.sin(i) * 10 + i / 7));

async function library(spec: KernelSpec): Promise<Float64Array> {
  const kernel = await createKernel(spec);
  const out = kernel.push(Float64Array.from(values));
  kernel.dispose();
  return out;
}

/** NDJSON's encoding of a result (NaN is null). */
const json = (x: number): unknown => (Number.isNaN(x) ? null : x);

describe('ewm var/std from the command line', () => {
  for (const stat of ['var', 'std'] as const) {
    it(`regression: ewm ${stat} existed in the library but the CLI could not select it — run --op ewm --ewm-stat ${stat} gives the library's results for any --batch-size`, async () => {
      const want = await library({ op: 'ewm', halflife: 4, adjust: false, stat });
      const csv = 'v\n' + values.map((v) => (Number.isNaN(v) ? '' : String(v))).join('\n') + '\n';
      for (const batch of ['7', '65536']) {
        const run = await cli(['run', '--value', 'v', '--op', 'ewm', '--halflife', '4', '--adjust', 'false', '--ewm-stat', stat, '--output-format', 'ndjson', '--batch-size', batch], csv);
        expect(run).toMatchObject({ code: 0, stderr: '' });
        const rows = run.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
        expect(rows.length).toBe(values.length);
        rows.forEach((r, i) => expect(r[`ewm_${stat}`]).toEqual(json(want[i]!)));
      }
    });

    it(`regression: run could not select ewm ${stat} — --op ewm --ewm-stat ${stat} writes column ewm_${stat}, keyed, at 1 and 2 workers`, async () => {
      const keys = values.map((_, i) => (i * 7) % 3);
      const csv = 'k,v\n' + values.map((v, i) => `${keys[i]},${Number.isNaN(v) ? '' : v}`).join('\n') + '\n';
      const spec: KernelSpec = { op: 'ewm', span: 6, stat };
      const perKey = new Map<number, number[]>();
      for (let k = 0; k < 3; k++) {
        const idx = keys.flatMap((kk, i) => (kk === k ? [i] : []));
        const kernel = await createKernel(spec);
        const out = kernel.push(Float64Array.from(idx, (i) => values[i]!));
        idx.forEach((row, j) => perKey.set(row, [out[j]!]));
      }
      for (const workers of ['1', '2']) {
        const run = await cli(['run', '--key', 'k', '--value', 'v', '--op', 'mean', '--window', '3', '--op', 'ewm', '--span', '6', '--ewm-stat', stat, '--output-format', 'ndjson', '--workers', workers], csv);
        expect(run).toMatchObject({ code: 0, stderr: '' });
        const rows = run.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
        expect(rows.length).toBe(values.length);
        rows.forEach((r, i) => expect(r[`ewm_${stat}`]).toEqual(json(perKey.get(i)![0]!)));
        expect(rows.every((r) => !('ewm' in r))).toBe(true);
      }
    });
  }

  it('--ewm-stat mean is the default: the column stays ewm', async () => {
    const want = await library({ op: 'ewm', alpha: 0.2 });
    const run = await cli(['run', '--value', 'v', '--op', 'ewm', '--alpha', '0.2', '--ewm-stat', 'mean', '--output-format', 'ndjson'], 'v\n' + values.map((v) => (Number.isNaN(v) ? '' : String(v))).join('\n') + '\n');
    expect(run).toMatchObject({ code: 0, stderr: '' });
    const rows = run.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    rows.forEach((r, i) => expect(r.ewm).toEqual(json(want[i]!)));
  });

  it.each([
    [['run', '--value', 'v', '--op', 'ewm', '--span', '3', '--ewm-stat', 'median'], "streamkernel run: --ewm-stat must be mean, var or std, got \"median\" (see 'streamkernel run --help')"],
    [['run', '--value', 'v', '--op', 'mean', '--window', '3', '--ewm-stat', 'std'], "streamkernel run: --ewm-stat applies only to op ewm (see 'streamkernel run --help')"],
  ])('refuses %j with exit 1: %s', async (args, message) => {
    const run = await cli(args, '');
    expect(run.code).toBe(1);
    expect(run.stderr.split('\n')[0]).toBe(message);
  });
});
