// The streamkernel command-line interface. See docs/CLI.md.
//
//   streamkernel rolling <op> --window W [--min-periods M] [--ddof D] [--q Q] [--batch-size B] [FILE]
//   streamkernel ewm mean (--alpha A | --span S | --halflife H | --com C) [--adjust true|false]
//                         [--min-periods M] [--batch-size B] [FILE]
//   streamkernel demo [--rows N] [--batch-size B]
//   streamkernel run [FILE] --value COL --op OP [--op OP ...] --window W [options]
//   streamkernel bench [--quick] [--ops a,b] [--write]
//   streamkernel --help | --version
//
// Exit codes: 0 ok, 1 usage error (also an unknown column), 2 malformed input
// line or row, 3 FILE missing or unreadable, 4 any other failure.

import { fstatSync, readFileSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { Kernel } from './types.js';
import { parseCommand, UsageError, type Command } from './cli/args.js';
import { Output, OutputClosed, OutputFailed } from './cli/output.js';
import { describeErrno } from './cli/errno.js';

export const EXIT_OK = 0;
export const EXIT_USAGE = 1;
export const EXIT_MALFORMED = 2;
export const EXIT_FILE = 3;
export const EXIT_FAILURE = 4;

/** Where the CLI reads and writes: the process's own streams by default. */
export interface CliIo {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
  /** Whether stdin is a regular file (then rows are batched fully). */
  stdinIsFile?: boolean;
}

/** Read-side failures, told apart from kernel or output failures. */
class InputError extends Error {
  constructor(
    readonly source: string,
    readonly reason: NodeJS.ErrnoException,
  ) {
    super(`cannot read ${source}: ${describeErrno(reason)}`);
    this.name = 'InputError';
  }
}

async function* readAll(stream: AsyncIterable<Buffer | string>, source: string): AsyncGenerator<Buffer | string> {
  try {
    for await (const chunk of stream) yield chunk;
  } catch (err) {
    throw new InputError(source, err as NodeJS.ErrnoException);
  }
}

/** One line for an unexpected error; the whole stack with STREAMKERNEL_DEBUG=1. */
function describeFailure(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  if (process.env['STREAMKERNEL_DEBUG'] && err.stack !== undefined) return err.stack;
  return err.message.split('\n')[0] ?? err.name;
}

let cachedVersion: string | undefined;

/** The package version, from the package.json above this module (src/ or dist/src/). */
export function version(): string {
  if (cachedVersion !== undefined) return cachedVersion;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let up = 0; up < 4; up++) {
    try {
      const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'streamkernel' && typeof pkg.version === 'string') return (cachedVersion = pkg.version);
    } catch {
      // not here: look one level up
    }
    dir = path.dirname(dir);
  }
  return (cachedVersion = 'unknown');
}

function isStdinFile(): boolean {
  try {
    return fstatSync(0).isFile();
  } catch {
    return false;
  }
}

/** Runs the CLI on `argv` (the arguments after `streamkernel`); resolves with the exit code. */
export async function main(argv: readonly string[], io?: CliIo): Promise<number> {
  const { stdin, stdout, stderr } = io ?? { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr };
  const out = new Output(stdout);
  const fail = (message: string, code: number): number => {
    stderr.write(`${message}\n`);
    return code;
  };

  // Scale-out on Redis (docs/REDIS.md): loaded only when asked for, so the client stays out of other commands.
  if (argv[0] === 'worker' || argv[0] === 'produce') {
    const redis = await import('./redis/cli.js');
    const run = argv[0] === 'worker' ? redis.runWorkerCommand : redis.runProduceCommand;
    return run(argv.slice(1), { stdin, stdout, stderr, env: process.env });
  }

  let command: Command;
  try {
    command = parseCommand(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    const where = err.command === undefined ? 'streamkernel' : `streamkernel ${err.command}`;
    return fail(`${where}: ${err.message} (see '${where} --help')`, EXIT_USAGE);
  }

  try {
    switch (command.kind) {
      case 'help':
        await out.write(command.text);
        return EXIT_OK;
      case 'version':
        await out.write(`${version()}\n`);
        return EXIT_OK;
      case 'demo':
        // Each command loads its own modules on demand: a run's start-up pays only for what it uses.
        await out.write(await (await import('./cli/demo.js')).runDemo(command));
        return EXIT_OK;
      case 'stream':
        return await runStream(command, stdin, io === undefined ? isStdinFile() : (io.stdinIsFile ?? false), out, fail);
      case 'run':
        return await (await import('./cli/run.js')).runJob(command, { stdin, out, stderr, stderrIsTTY: (stderr as { isTTY?: boolean }).isTTY === true });
      case 'bench':
        return await (await import('./cli/bench.js')).runBench(command.args, out, stderr);
    }
  } catch (err) {
    if (err instanceof OutputClosed) return EXIT_OK; // the reader left (e.g. `| head`): stop quietly
    if (err instanceof OutputFailed) return fail(`streamkernel: ${err.message}`, EXIT_FAILURE);
    return fail(`streamkernel: ${describeFailure(err)}`, EXIT_FAILURE);
  }
}

async function runStream(
  command: Extract<Command, { kind: 'stream' }>,
  stdin: Readable,
  stdinIsFile: boolean,
  out: Output,
  fail: (message: string, code: number) => number,
): Promise<number> {
  const where = `streamkernel ${command.name}`;
  const [{ createKernel }, { MalformedLine, runPipeline }] = await Promise.all([import('./index.js'), import('./cli/pipeline.js')]);
  let kernel: Kernel;
  try {
    kernel = await createKernel(command.spec);
  } catch (err) {
    // The library names the offending field in its RangeError / TypeError.
    if (err instanceof RangeError || err instanceof TypeError) {
      return fail(`${where}: ${err.message} (see 'streamkernel ${command.name.split(' ')[0]} --help')`, EXIT_USAGE);
    }
    throw err;
  }

  let handle: FileHandle | undefined;
  try {
    let input: AsyncIterable<Buffer | string>;
    let flushEachChunk: boolean;
    const file = command.file;
    if (file === undefined || file === '-') {
      input = readAll(stdin, 'stdin');
      flushEachChunk = !stdinIsFile;
    } else {
      try {
        handle = await open(file, 'r');
        const stat = await handle.stat();
        if (stat.isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
        flushEachChunk = !stat.isFile();
      } catch (err) {
        return fail(`${where}: cannot open ${JSON.stringify(file)}: ${describeErrno(err as NodeJS.ErrnoException)}`, EXIT_FILE);
      }
      input = readAll(handle.createReadStream({ highWaterMark: 1 << 16, autoClose: false }), JSON.stringify(file));
    }

    try {
      await runPipeline(kernel, input, out, { batchSize: command.batchSize, flushEachChunk });
      return EXIT_OK;
    } catch (err) {
      if (err instanceof MalformedLine) return fail(err.message, EXIT_MALFORMED);
      if (err instanceof InputError) return fail(`${where}: ${err.message}`, EXIT_FILE);
      throw err;
    }
  } finally {
    kernel.dispose();
    await handle?.close().catch(() => undefined);
  }
}

/** Entry point for bin/streamkernel.js: runs `main` and sets the exit code. */
export function run(argv: readonly string[] = process.argv.slice(2)): void {
  main(argv).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`streamkernel: ${describeFailure(err)}\n`);
      process.exitCode = EXIT_FAILURE;
    },
  );
}
