// Runs the built CLI as a user would, in a child process: one copy for the
// CLI test files that need stdin, stdout, stderr and the exit status.
import { spawn, type StdioOptions } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const BIN = path.join(ROOT, 'bin', 'streamkernel.js');

/** How a CLI run ended, with what it printed. */
export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * What stdin is: text or bytes (then closed), a file descriptor to read from,
 * or pieces written with a pause between each (a live pipe: the CLI reads each
 * on its own before the next is written).
 */
export type CliInput = string | Uint8Array | number | readonly string[];

/** Runs `node bin/streamkernel.js ...args` in `cwd`. */
export function runCli(args: readonly string[], options: { cwd: string; input?: CliInput; env?: Record<string, string> }): Promise<CliRun> {
  const input = options.input ?? '';
  return new Promise((resolve, reject) => {
    const stdio: StdioOptions = [typeof input === 'number' ? input : 'pipe', 'pipe', 'pipe'];
    const child = spawn(process.execPath, [BIN, ...args], { cwd: options.cwd, stdio, env: { ...process.env, ...options.env } });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on('data', (b: Buffer) => out.push(b));
    child.stderr?.on('data', (b: Buffer) => err.push(b));
    child.stdin?.on('error', () => undefined); // the CLI may stop reading early
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') }));
    if (typeof input === 'number') return;
    if (typeof input === 'string' || input instanceof Uint8Array) {
      child.stdin?.end(input);
      return;
    }
    void (async () => {
      for (const piece of input) {
        child.stdin?.write(piece);
        await new Promise((r) => setTimeout(r, 150));
      }
      child.stdin?.end();
    })();
  });
}
