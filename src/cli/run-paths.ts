// Where `streamkernel run` writes, decided before anything is opened. The
// output, its temporary file and the checkpoint must never be the input, by
// whatever spelling, symlink or hard link names it: files are compared by
// identity (device + inode), not by the strings given. And `-o` writes
// through a symlink to its target and straight into a FIFO or device, never
// replacing them with a plain file.

import { fstatSync } from 'node:fs';
import { readlink, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { UsageError } from './args.js';
import { CHECKPOINT_FILE } from './checkpoint.js';
import type { RunCommand } from './run-args.js';

/** A file by identity: device + inode when it exists, else the real path it would get. */
type Identity = { dev: number; ino: number } | { path: string };

/** Where the results of `-o FILE` go. */
export interface OutputTarget {
  /** The file written: FILE, or the end of its symlinks when FILE is one. */
  file: string;
  /** Not a regular file (a FIFO, a device, our own stdout): written in place, never through a temporary file, never removed. */
  direct: boolean;
  /** This process's stdout (-o /dev/stdout): written as stdout is. */
  stdout?: boolean;
}

/** The temporary file next to `file` that results go to until the run succeeds. */
export function partialFile(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.partial`);
}

function same(a: Identity | undefined, b: Identity | undefined): boolean {
  if (a === undefined || b === undefined) return false;
  if ('path' in a || 'path' in b) return 'path' in a && 'path' in b && a.path === b.path;
  return a.dev === b.dev && a.ino === b.ino;
}

/** The identity of an existing file (symlinks followed), or undefined. */
async function existing(file: string): Promise<Identity | undefined> {
  try {
    const s = await stat(file);
    return { dev: s.dev, ino: s.ino };
  } catch {
    return undefined;
  }
}

function fdIdentity(fd: number, regularOnly: boolean): Identity | undefined {
  try {
    const s = fstatSync(fd);
    return regularOnly && !s.isFile() ? undefined : { dev: s.dev, ino: s.ino };
  } catch {
    return undefined;
  }
}

/**
 * The identity of `file`, which may not exist yet: then the real path of its
 * deepest existing directory plus the rest, so that two spellings of a file
 * still to be created compare equal.
 */
async function identify(file: string): Promise<Identity | undefined> {
  const found = await existing(file);
  if (found !== undefined) return found;
  const rest: string[] = [];
  let dir = path.resolve(file);
  for (;;) {
    try {
      return { path: path.join(await realpath(dir), ...rest) };
    } catch {
      const parent = path.dirname(dir);
      if (parent === dir) return undefined;
      rest.unshift(path.basename(dir));
      dir = parent;
    }
  }
}

/** The end of `file`'s chain of symlinks when it dangles (the file a write creates); `file` otherwise. */
async function danglingTarget(file: string): Promise<string> {
  let at = file;
  for (let hops = 0; hops < 40; hops++) {
    let link: string;
    try {
      link = await readlink(at);
    } catch {
      return at; // not a symlink (or missing): the end of the chain
    }
    at = path.resolve(path.dirname(at), link);
  }
  return file; // a loop: opening FILE reports it
}

/** Resolves `-o FILE`: the file really written and how. */
export async function outputTarget(file: string): Promise<OutputTarget> {
  let s;
  try {
    s = await stat(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return { file, direct: false }; // opening it reports why
    return { file: await danglingTarget(file), direct: false };
  }
  if (s.isDirectory()) return { file, direct: false }; // opening it reports EISDIR
  const own = { dev: s.dev, ino: s.ino };
  if (same(own, fdIdentity(1, false))) return { file, direct: true, stdout: true };
  // Our own stderr (-o /dev/stderr redirected to a file) is written in place like a device.
  if (!s.isFile() || same(own, fdIdentity(2, false))) return { file, direct: true };
  return { file: await realpath(file), direct: false };
}

const q = (s: string): string => JSON.stringify(s);

/**
 * Checks that nothing `cmd` writes is its input, and resolves its output.
 * Throws UsageError naming the clash. `stdinFd`: stdin's descriptor, when
 * the input is stdin (a regular file redirected in is as much the input).
 */
export async function checkRunPaths(cmd: RunCommand, stdinFd: number | undefined): Promise<OutputTarget | undefined> {
  const fromFile = cmd.file !== undefined && cmd.file !== '-';
  // A missing input is reported when it is opened (exit 3).
  const input = fromFile ? await existing(cmd.file as string) : stdinFd !== undefined ? fdIdentity(stdinFd, true) : undefined;
  const inputName = fromFile ? `the input FILE ${q(cmd.file as string)}` : 'the input (stdin)';
  const files: [string, Identity | undefined][] = [[inputName, input]];

  let target: OutputTarget | undefined;
  if (cmd.output !== undefined) {
    target = await outputTarget(cmd.output);
    const out = await identify(target.file);
    if (same(out, input)) throw new UsageError(`--output must not be the input FILE: ${q(cmd.output)} is ${inputName}`, 'run');
    if (!target.direct && cmd.checkpoint === undefined && same(await identify(partialFile(target.file)), input)) {
      throw new UsageError(`--output must not be the input FILE: its temporary file ${q(partialFile(target.file))} is ${inputName}`, 'run');
    }
    if (target.direct && cmd.checkpoint !== undefined) {
      throw new UsageError(`--checkpoint needs --output to be a regular file (a resume truncates it): ${q(cmd.output)} is a FIFO, a device or stdout`, 'run');
    }
    files.push([`--output ${q(cmd.output)}`, out]);
  }

  if (cmd.checkpoint !== undefined) {
    const dir = await identify(cmd.checkpoint);
    const file = await identify(path.join(cmd.checkpoint, CHECKPOINT_FILE));
    for (const [name, id] of files) {
      if (same(dir, id)) throw new UsageError(`--checkpoint must not be the input or output: ${q(cmd.checkpoint)} is ${name}`, 'run');
      if (same(file, id)) throw new UsageError(`--checkpoint must not hold the input or output: its checkpoint file ${q(path.join(cmd.checkpoint, CHECKPOINT_FILE))} is ${name}`, 'run');
    }
  }
  return target;
}
