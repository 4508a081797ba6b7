// What a new user meets when installing the package: its contents, require(),
// and the optional peer dependencies (redis, apache-arrow) when they are absent.
// Needs the build (npm test builds first).

import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importOptional } from '../src/optional.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const run = promisify(execFile);

interface Packed {
  files: { path: string }[];
}

describe('the package', () => {
  let files: string[];
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
    scripts: Record<string, string>;
    dependencies: Record<string, string>;
    peerDependencies: Record<string, string>;
    peerDependenciesMeta: Record<string, { optional?: boolean }>;
  };

  beforeAll(async () => {
    const { stdout } = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT });
    files = (JSON.parse(stdout) as Packed[])[0]!.files.map((f) => f.path);
  }, 60_000);

  it('regression: the tarball ships no source maps pointing at sources it does not ship, and no build/*.wasm', () => {
    expect(files.filter((f) => f.endsWith('.map'))).toEqual([]);
    expect(files.filter((f) => f.startsWith('build/'))).toEqual([]);
    expect(files).toContain('dist/src/index.js');
    expect(files).toContain('dist/src/index.d.ts');
    // What bin/streamkernel.js runs (scripts/bundle-cli.mjs).
    expect(files).toContain('dist/src/cli-bundle/cli.js');
    expect(files).toContain('dist/src/cli-bundle/worker-node.js');
  });

  it('regression: the package has a LICENSE and every relative link of the README is in it', () => {
    expect(files).toContain('LICENSE');
    const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const links = [...readme.matchAll(/\]\(([^)#:]+)\)/g)].map((m) => m[1]!);
    expect(links.length).toBeGreaterThan(3);
    expect(links.filter((l) => !files.includes(l))).toEqual([]);
    expect(readme).toMatch(/npm install streamkernel/);
  });

  it('regression: the package does not build on the consumer\'s install (no prepare script), but before packing', () => {
    expect(pkg.scripts['prepare']).toBeUndefined();
    expect(pkg.scripts['prepack']).toBe('npm run build');
    expect(pkg.scripts['demo']).toMatch(/^npm run build && /);
  });

  it('regression: streamkernel bench works from the package: its suite is shipped', () => {
    for (const f of ['dist/bench/run.js', 'dist/bench/measure.js', 'dist/bench/baselines.js']) expect(files).toContain(f);
    expect(Object.keys(pkg.dependencies)).toContain('tinybench');
  });

  it('regression: redis and apache-arrow are optional peer dependencies, not dependencies', () => {
    for (const name of ['redis', 'apache-arrow']) {
      expect(pkg.dependencies[name]).toBeUndefined();
      expect(pkg.peerDependencies[name]).toBeDefined();
      expect(pkg.peerDependenciesMeta[name]?.optional).toBe(true);
    }
  });
});

describe('require()', () => {
  it('regression: require("streamkernel") says it is ESM only instead of ERR_PACKAGE_PATH_NOT_EXPORTED', () => {
    const require = createRequire(import.meta.url);
    for (const entry of ['streamkernel', 'streamkernel/node', 'streamkernel/scheduler', 'streamkernel/redis']) {
      expect(() => require(entry)).toThrow("streamkernel is ESM only: use import (import { rolling } from 'streamkernel')");
    }
  });
});

describe('optional dependencies', () => {
  const notFound = (name: string): Error =>
    Object.assign(new Error(`Cannot find package '${name}' imported from somewhere`), { code: 'ERR_MODULE_NOT_FOUND' });

  it('regression: a missing optional package is reported with the npm install line', async () => {
    await expect(importOptional('redis', 'streamkernel/redis', () => Promise.reject(notFound('redis')))).rejects.toThrow(
      "streamkernel/redis needs the package 'redis', which is not installed: npm install redis",
    );
  });

  it('passes other failures through unchanged (a package of its own missing, a failing module)', async () => {
    const inner = notFound('@redis/client');
    await expect(importOptional('redis', 'streamkernel/redis', () => Promise.reject(inner))).rejects.toBe(inner);
    const broken = new SyntaxError('Unexpected token');
    await expect(importOptional('redis', 'streamkernel/redis', () => Promise.reject(broken))).rejects.toBe(broken);
    await expect(importOptional('redis', 'streamkernel/redis', () => Promise.resolve(42))).resolves.toBe(42);
  });

  // A Node process whose module resolver cannot find redis nor apache-arrow,
  // as after `npm install streamkernel` alone.
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'sk-optional-'));
    writeFileSync(
      path.join(dir, 'hooks.mjs'),
      `export async function resolve(specifier, context, next) {
  if (specifier === 'redis' || specifier === 'apache-arrow') {
    throw Object.assign(new Error("Cannot find package '" + specifier + "' imported from " + context.parentURL), { code: 'ERR_MODULE_NOT_FOUND' });
  }
  return next(specifier, context);
}
`,
    );
    writeFileSync(path.join(dir, 'register.mjs'), `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(path.join(dir, 'hooks.mjs')).href)});\n`);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** Runs node with `args` in that process; resolves with its exit code and output. */
  function nodeWithoutOptional(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    const register = pathToFileURL(path.join(dir, 'register.mjs')).href;
    return run(process.execPath, ['--import', register, ...args], { cwd: ROOT }).then(
      ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
      (err: { code: number; stdout: string; stderr: string }) => ({ code: err.code, stdout: err.stdout, stderr: err.stderr }),
    );
  }

  it('regression: without redis and apache-arrow the main entries work, and the subpaths that need them say what to install', async () => {
    const { stdout: out } = await nodeWithoutOptional(['--input-type=module', '-e', `
      const { rolling, arrowSource } = await import('streamkernel');
      await import('streamkernel/node');
      await import('streamkernel/scheduler');
      console.log(Array.from(await rolling([1, 2, 3], { op: 'sum', window: 2 })).join(' '));
      try { await import('streamkernel/redis'); } catch (e) { console.log(e.message); }
      try { for await (const b of arrowSource(new Uint8Array(8), { value: 'v' })) {} } catch (e) { console.log(e.message); }
    `]);
    expect(out.split('\n')).toEqual([
      'NaN 3 5',
      "streamkernel/redis needs the package 'redis', which is not installed: npm install redis",
      "streamkernel's Arrow connector needs the package 'apache-arrow', which is not installed: npm install apache-arrow",
      '',
    ]);
  }, 60_000);

  it('regression: streamkernel worker without redis says to install it (exit 4), not "Cannot find package"', async () => {
    const failed = await nodeWithoutOptional([path.join(ROOT, 'bin', 'streamkernel.js'), 'worker', '--redis', 'redis://127.0.0.1:1', '--job', 'j']);
    expect(failed).toEqual({ code: 4, stdout: '', stderr: "streamkernel: streamkernel/redis needs the package 'redis', which is not installed: npm install redis\n" });
  }, 60_000);
});
