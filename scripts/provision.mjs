// `npm test`'s pretest: the system tools the tests drive must be there before
// any test runs. Installs the missing ones with apt-get when it can (root, or
// passwordless sudo, on a Debian-like system); otherwise stops with one line
// saying what to install. `--dry-run` says what it would do and changes nothing.
import { spawnSync } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where the browser tests launch Chromium (Debian's package puts it there). */
export const CHROMIUM = '/usr/bin/chromium';

/**
 * What the tests need: redis-server (scale-out tests), Chromium (browser tests,
 * through playwright-core) and openssl (TLS certificates of the Redis tests).
 */
export const TOOLS = [
  { name: 'redis-server', pkg: 'redis-server', command: 'redis-server' },
  { name: `Chromium (${CHROMIUM})`, pkg: 'chromium', file: CHROMIUM },
  { name: 'openssl', pkg: 'openssl', command: 'openssl' },
];

function isExecutable(file) {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

/** Whether `command` is an executable file in one of `searchPath`'s directories. */
export function onPath(command, searchPath = process.env.PATH ?? '') {
  return searchPath.split(path.delimiter).some((dir) => dir !== '' && isExecutable(path.join(dir, command)));
}

/** The tools of TOOLS not found, looked up in `searchPath` (and at `chromium`). */
export function missingTools(searchPath = process.env.PATH ?? '', chromium = CHROMIUM) {
  return TOOLS.filter((t) => !(t.command !== undefined ? onPath(t.command, searchPath) : isExecutable(t.file === CHROMIUM ? chromium : t.file)));
}

/**
 * What to do about `missing` tools on a system described by `system`
 * ({ isRoot, hasAptGet, hasSudo }): nothing, install (the commands to run,
 * in order), or stop (the one line to print).
 */
export function plan(missing, system) {
  if (missing.length === 0) return { action: 'none' };
  const pkgs = missing.map((t) => t.pkg);
  if (system.hasAptGet && (system.isRoot || system.hasSudo)) {
    const prefix = system.isRoot ? [] : ['sudo', '-n'];
    return {
      action: 'install',
      packages: pkgs,
      commands: [
        [...prefix, 'apt-get', 'update', '-qq'],
        [...prefix, 'apt-get', 'install', '-y', '-qq', '--no-install-recommends', ...pkgs],
      ],
    };
  }
  const why = system.hasAptGet ? 'not root and no passwordless sudo' : 'no apt-get: not a Debian-like system';
  const how = system.hasAptGet
    ? `sudo apt-get update && sudo apt-get install -y ${pkgs.join(' ')}`
    : `your system's packages for ${pkgs.join(', ')}${pkgs.includes('chromium') ? `, with Chromium at ${CHROMIUM}` : ''}`;
  return {
    action: 'stop',
    message: `npm test needs ${missing.map((t) => t.name).join(', ')}, which cannot be installed here (${why}): install them with ${how}, then run npm test again`,
  };
}

/** This machine, as plan() needs it. */
export function currentSystem() {
  return {
    isRoot: process.getuid?.() === 0,
    hasAptGet: onPath('apt-get'),
    hasSudo: onPath('sudo') && spawnSync('sudo', ['-n', 'true'], { stdio: 'ignore' }).status === 0,
  };
}

function runAll(commands) {
  for (const [cmd, ...args] of commands) {
    // No stdin (CI), no prompts from dpkg.
    const r = spawnSync(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    if (r.status !== 0) return `${[cmd, ...args].join(' ')} failed (${r.error?.message ?? `exit code ${r.status ?? r.signal}`})`;
  }
  return undefined;
}

/** Runs the check; returns the exit code (0: every tool is there). */
export function main(args = process.argv.slice(2)) {
  const dryRun = args.includes('--dry-run');
  const missing = missingTools();
  const todo = plan(missing, currentSystem());
  if (todo.action === 'none') {
    if (dryRun) console.log(`npm test: ${TOOLS.map((t) => t.name).join(', ')}: all there, nothing to install`);
    return 0;
  }
  if (todo.action === 'stop') {
    console.error(todo.message);
    return 1;
  }
  const commands = todo.commands.map((c) => c.join(' ')).join(' && ');
  if (dryRun) {
    console.log(`npm test: would install ${todo.packages.join(', ')}: ${commands}`);
    return 0;
  }
  console.error(`npm test: installing what the tests need: ${commands}`);
  const failure = runAll(todo.commands);
  const still = missingTools();
  if (still.length === 0) return 0;
  console.error(`npm test needs ${still.map((t) => t.name).join(', ')}: ${failure ?? 'still missing after apt-get install'}; install them, then run npm test again`);
  return 1;
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = main();
}
