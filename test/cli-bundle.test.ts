// bin/streamkernel.js runs the bundled CLI (dist/src/cli-bundle/, made by
// scripts/bundle-cli.mjs after tsc): one file for the CLI and one for the
// scheduler's workers instead of ~90 modules. The CLI tests spawn bin, so
// they run the bundle; this file checks that bin does load it (and its
// worker entry) and none of the run's modules from dist/src, and writes the
// bytes the modules of dist/src write, for each kind of job, on 1 and 2
// workers; and that a run of a plain CSV (a header with no quotes) loads no
// csv-parse module.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, ROOT } from './cli-harness.js';

let dir: string;
let input: string;
let hook: string;

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'streamkernel-cli-bundle-'));
  input = path.join(dir, 'in.csv');
  let csv = 't,k,v\n';
  for (let i = 0; i < 3000; i++) csv += `${new Date(Date.UTC(2024, 0, 1) + i * 1000 + (i % 7 === 3 ? -2500 : 0)).toISOString()},k${(i * 7919) % 37},${((i * 31) % 101) / 4}\n`;
  writeFileSync(input, csv);
  // Lists every module loaded, in this thread and in worker threads (--import runs in each).
  const lister = path.join(dir, 'list-loads.mjs');
  writeFileSync(
    lister,
    `export async function load(url, context, next) { if (url.startsWith('file:')) process.stderr.write('LOADED ' + url + '\\n'); return next(url, context); }\n`,
  );
  hook = path.join(dir, 'hook.mjs');
  writeFileSync(hook, `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(lister).href)});\n`);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the CLI with `args` through bin, or through dist/src's modules; the output file's bytes and the modules loaded. */
function runWith(how: 'bin' | 'modules', args: readonly string[], out: string): { bytes: Buffer; loaded: string[]; stderr: string } {
  const entry = how === 'bin' ? [BIN] : ['--input-type=module', '-e', `import(${JSON.stringify(pathToFileURL(path.join(ROOT, 'dist/src/cli.js')).href)}).then((m) => m.run(process.argv.slice(1)))`];
  const r = spawnSync(process.execPath, ['--import', hook, ...entry, ...args, '-o', out], { cwd: dir, encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  const loaded = r.stderr
    .split('\n')
    .filter((l) => l.startsWith('LOADED '))
    .map((l) => l.slice('LOADED '.length));
  return { bytes: readFileSync(out), loaded, stderr: r.stderr };
}

const JOBS: Record<string, string[]> = {
  'keyed median over count windows': ['--value', 'v', '--key', 'k', '--op', 'median', '--op', 'mean', '--window', '50'],
  'keyed rolling by duration with reordering': ['--value', 'v', '--time', 't', '--key', 'k', '--op', 'mean', '--op', 'std', '--window', '30s', '--max-out-of-order', '5s'],
  'keyed tumbling windows': ['--value', 'v', '--time', 't', '--key', 'k', '--op', 'max', '--op', 'quantile', '--q', '0.9', '--tumbling', '1m', '--on-error', 'skip'],
};

describe('the bundled CLI (bin)', () => {
  for (const [name, args] of Object.entries(JOBS)) {
    for (const workers of ['1', '2']) {
      it(`${name}, --workers ${workers}: bin loads the bundle (and its worker entry), not dist/src's run modules, and writes the modules' bytes; no csv-parse`, () => {
        const argv = ['run', input, ...args, '--workers', workers];
        const bundled = runWith('bin', argv, path.join(dir, `bin-${workers}.csv`));
        const modules = runWith('modules', argv, path.join(dir, `modules-${workers}.csv`));
        expect(bundled.bytes.equals(modules.bytes)).toBe(true);
        expect(bundled.bytes.length).toBeGreaterThan(1000);
        const files = bundled.loaded.map((u) => path.relative(ROOT, new URL(u).pathname));
        expect(files).toContain(path.join('dist', 'src', 'cli-bundle', 'cli.js'));
        if (workers === '2') expect(files).toContain(path.join('dist', 'src', 'cli-bundle', 'worker-node.js'));
        expect(files.filter((f) => f.startsWith(path.join('dist', 'src')) && !f.startsWith(path.join('dist', 'src', 'cli-bundle')))).toEqual([]);
        expect(modules.loaded.filter((u) => u.includes('csv-parse'))).toEqual([]);
        // The modules' run does load them: the check above can fail.
        expect(modules.loaded.some((u) => u.endsWith('/dist/src/cli/run.js'))).toBe(true);
      });
    }
  }
  it("keeps the window records' shape primer (time/record-shape.ts): its call has an effect, so esbuild must not drop it as unused code (it dropped the first version's constant, and the CLI's epoch-ms records boxed their bounds again)", () => {
    for (const file of ['cli.js', 'worker-node.js']) {
      expect(readFileSync(path.join(ROOT, 'dist', 'src', 'cli-bundle', file), 'utf8')).toMatch(/primeRecordShape\(\)/);
    }
  });
});
