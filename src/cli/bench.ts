// `streamkernel bench`: runs the benchmark suite (dist/bench/run.js, built
// from bench/, shipped in the package) and passes its table through.

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Writable } from 'node:stream';
import type { Output } from './output.js';

/** dist/bench/run.js, next to this module's dist/src/cli/. */
export function benchScript(): string {
  return fileURLToPath(new URL('../../bench/run.js', import.meta.url));
}

/** Whether this is a checkout (bench/run.ts beside dist/), whose bench/RESULTS.md --write may rewrite. */
function inCheckout(): boolean {
  return existsSync(fileURLToPath(new URL('../../../bench/run.ts', import.meta.url)));
}

/** Runs the suite with `args`; resolves with the exit code for the CLI. */
export async function runBench(args: readonly string[], out: Output, stderr: Writable): Promise<number> {
  const script = benchScript();
  if (!existsSync(script)) {
    stderr.write(`streamkernel bench: the benchmark suite is not built (${script} is missing): run 'npm run build' in a checkout of streamkernel\n`);
    return 4;
  }
  const write = args.includes('--write');
  if (write && !inCheckout()) {
    stderr.write(`streamkernel bench: --write rewrites bench/RESULTS.md of a checkout of streamkernel, not of an installed package: run without --write (see 'streamkernel bench --help')\n`);
    return 1;
  }
  const passed = args.filter((a) => a !== '--write');
  if (!write) passed.push('--no-write');
  const child = spawn(process.execPath, [script, ...passed], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stderr.on('data', (b: Buffer) => stderr.write(b));
  child.stdout.setEncoding('utf8');
  try {
    for await (const chunk of child.stdout as AsyncIterable<string>) await out.write(chunk);
  } catch (err) {
    child.kill();
    throw err;
  }
  const code = await new Promise<number | null>((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.on('close', (c) => resolve(c));
  });
  if (code !== 0) {
    stderr.write(`streamkernel bench: the benchmark suite failed (exit code ${code ?? 'signal'})\n`);
    return 4;
  }
  return 0;
}
