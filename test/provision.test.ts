// scripts/provision.mjs, npm test's pretest: which tools are missing, and what
// it then does (install with apt-get, or stop with one line), decided without
// installing or uninstalling anything: PATHs of fake tools in a temp dir.

import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error: a plain ESM script without types
import { CHROMIUM, missingTools, plan } from '../scripts/provision.mjs';

interface Tool {
  name: string;
  pkg: string;
}

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SCRIPT = path.join(ROOT, 'scripts', 'provision.mjs');
let dir: string;

/** A directory holding fake executables named `tools`. */
function fakeBin(name: string, tools: string[]): string {
  const bin = path.join(dir, name);
  mkdirSync(bin);
  for (const tool of tools) {
    writeFileSync(path.join(bin, tool), '#!/bin/sh\nexit 0\n');
    chmodSync(path.join(bin, tool), 0o755);
  }
  return bin;
}

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'sk-provision-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const names = (tools: Tool[]): string[] => tools.map((t) => t.pkg);

describe('provisioning for npm test', () => {
  it('finds every tool on the PATH (and Chromium at its path)', () => {
    const bin = fakeBin('all', ['redis-server', 'openssl', 'chromium']);
    expect(missingTools(bin, path.join(bin, 'chromium'))).toEqual([]);
    expect(plan([], { isRoot: false, hasAptGet: false, hasSudo: false })).toEqual({ action: 'none' });
  });

  it('regression: a PATH lacking redis-server (spawn redis-server ENOENT in the tests) plans to install it, after apt-get update', () => {
    const bin = fakeBin('no-redis', ['openssl', 'chromium', 'not-redis-server']);
    const missing = missingTools(`${bin}${path.delimiter}${path.join(dir, 'nowhere')}`, path.join(bin, 'chromium'));
    expect(names(missing)).toEqual(['redis-server']);
    expect(plan(missing, { isRoot: true, hasAptGet: true, hasSudo: false })).toEqual({
      action: 'install',
      packages: ['redis-server'],
      commands: [
        ['apt-get', 'update', '-qq'],
        ['apt-get', 'install', '-y', '-qq', '--no-install-recommends', 'redis-server'],
      ],
    });
    expect(plan(missing, { isRoot: false, hasAptGet: true, hasSudo: true })).toMatchObject({
      action: 'install',
      commands: [['sudo', '-n', 'apt-get', 'update', '-qq'], ['sudo', '-n', 'apt-get', 'install', '-y', '-qq', '--no-install-recommends', 'redis-server']],
    });
  });

  it('regression: a missing Chromium (9 browser tests failing, 2 skipped) is found missing, and so is a non-executable file', () => {
    const bin = fakeBin('no-chromium', ['redis-server', 'openssl']);
    writeFileSync(path.join(bin, 'chromium'), 'not executable');
    expect(names(missingTools(bin, path.join(bin, 'chromium')))).toEqual(['chromium']);
    expect(names(missingTools('', path.join(bin, 'absent')))).toEqual(['redis-server', 'chromium', 'openssl']);
  });

  it('regression: where it cannot install, npm test stops with one line saying what to install and how', () => {
    const missing = missingTools('', path.join(dir, 'absent'));
    expect(plan(missing, { isRoot: false, hasAptGet: true, hasSudo: false })).toEqual({
      action: 'stop',
      message: `npm test needs redis-server, Chromium (${CHROMIUM}), openssl, which cannot be installed here (not root and no passwordless sudo): install them with sudo apt-get update && sudo apt-get install -y redis-server chromium openssl, then run npm test again`,
    });
    expect(plan(missing.slice(0, 1), { isRoot: true, hasAptGet: false, hasSudo: false })).toEqual({
      action: 'stop',
      message: "npm test needs redis-server, which cannot be installed here (no apt-get: not a Debian-like system): install them with your system's packages for redis-server, then run npm test again",
    });
  });

  it('regression: run with a PATH lacking redis-server and apt-get, the script exits 1 with that one line before any test', async () => {
    const bin = fakeBin('script', ['openssl']);
    const result = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, [SCRIPT, '--dry-run'], { env: { PATH: bin } }, (err, stdout, stderr) =>
        resolve({ code: err === null ? 0 : (err.code as number), stdout, stderr }),
      );
    });
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^npm test needs redis-server(, Chromium \(\/usr\/bin\/chromium\))?, which cannot be installed here \(no apt-get: not a Debian-like system\): install them with your system's packages for redis-server(, chromium)?.*, then run npm test again\n$/);
  });
});

describe('the Redis tests without redis-server', () => {
  it('regression: a missing redis-server fails them at once saying what to install, not with spawn ENOENT and 20 s timeouts', async () => {
    const { RedisServer } = await import('./redis-harness.js');
    const saved = process.env['PATH'];
    process.env['PATH'] = path.join(dir, 'nowhere');
    try {
      await expect(RedisServer.start()).rejects.toThrow(
        'cannot start redis-server (spawn redis-server ENOENT): npm test installs it when it can (scripts/provision.mjs), else apt-get install redis-server',
      );
    } finally {
      process.env['PATH'] = saved;
    }
  });
});
