// A `streamkernel run` child process whose stdout lines can be awaited one at
// a time, for the live-input tests: they pace their input by the output (no
// timing assertion, only a generous overall timeout).
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { BIN } from './cli-harness.js';

export const TIMEOUT = 60_000;

/** A CLI run whose stdout lines can be awaited one at a time. */
export class LiveRun {
  readonly child: ChildProcessWithoutNullStreams;
  private text = '';
  private stderr = '';
  private wake: (() => void) | undefined;
  private readonly closed: Promise<number | null>;

  constructor(args: readonly string[]) {
    this.child = spawn(process.execPath, [BIN, 'run', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdout.on('data', (b: Buffer) => {
      this.text += b.toString('utf8');
      this.wake?.();
    });
    this.child.stderr.on('data', (b: Buffer) => (this.stderr += b.toString('utf8')));
    this.closed = new Promise((resolve) => this.child.on('close', (code) => resolve(code)));
    void this.closed.then(() => this.wake?.());
  }

  /** Resolves once stdout holds `n` complete lines (rejects if the CLI ends first). */
  async lines(n: number): Promise<string[]> {
    let ended = false;
    void this.closed.then(() => (ended = true));
    for (;;) {
      const lines = this.text.split('\n').slice(0, -1);
      if (lines.length >= n) return lines;
      if (ended) throw new Error(`the CLI ended with ${lines.length} lines of ${n}; stderr: ${this.stderr}`);
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  async end(): Promise<{ code: number | null; stdout: string; stderr: string }> {
    this.child.stdin.end();
    return this.ended();
  }

  /** Sends `signal` and waits for the CLI to end. */
  async stop(signal: NodeJS.Signals): Promise<{ code: number | null; stdout: string; stderr: string }> {
    this.child.kill(signal);
    return this.ended();
  }

  /** Resolves once stderr holds `text`. */
  async stderrHas(text: string): Promise<void> {
    while (!this.stderr.includes(text)) await new Promise((resolve) => setTimeout(resolve, 20));
  }

  private async ended(): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const code = await this.closed;
    return { code, stdout: this.text, stderr: this.stderr };
  }
}

/** Writes `rows` one at a time, each only once the output line of the one before has arrived. */
export async function paced(args: readonly string[], header: string | undefined, rows: readonly string[]): Promise<{ seen: string[][]; code: number | null; stdout: string }> {
  const run = new LiveRun(args);
  if (header !== undefined) run.child.stdin.write(`${header}\n`);
  const seen: string[][] = [];
  for (let i = 0; i < rows.length; i++) {
    run.child.stdin.write(`${rows[i]}\n`);
    seen.push(await run.lines(i + 1 + (header !== undefined ? 1 : 0))); // a CSV header line, then a line per row
  }
  const { code, stdout } = await run.end();
  return { seen, code, stdout };
}
