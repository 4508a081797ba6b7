// streamkernel as a browser app gets it: installed in an app's node_modules
// (a copy of package.json and dist/src, as npm lays it out), bundled by
// esbuild and by Vite with no flags, aliases or polyfills, and run in
// headless Chromium (Debian's /usr/bin/chromium through playwright-core). The
// app (test/bundle/app.js) uses every browser-safe connector and the
// scheduler's Web Workers through the recipe of docs/SCHEDULER.md. Each
// bundler builds it twice: with apache-arrow installed and without. Needs
// `npm run build` first. A missing Chromium fails every test: none is skipped.

import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build as esbuild } from 'esbuild';
import { chromium, type Browser } from 'playwright-core';
import { build as vite } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = path.resolve(fileURLToPath(new URL('..', import.meta.url)));
const APP = path.join(ROOT, 'test', 'bundle');
const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8' };

type Bundler = 'esbuild' | 'vite';
type Outcome<T> = { ok: T; error?: undefined } | { ok?: undefined; error: string };
interface Series {
  values: number[];
  mean: number[];
  keys?: string[];
  timestamps?: number[];
}
interface Results {
  rolling: Outcome<number[]>;
  csvStream: Outcome<Series>;
  csvFile: Outcome<Series>;
  ndjson: Outcome<Series>;
  array: Outcome<Series>;
  arrow: Outcome<Series>;
  workers: Outcome<number[]>;
  missingWorker: Outcome<number[]>;
}

let work = '';
let browser: Browser | undefined;
const servers: http.Server[] = [];
let setupError: Error | undefined;

/** An app folder: the app's sources, and node_modules as `npm install streamkernel [apache-arrow]` leaves it. */
function makeApp(bundler: Bundler, arrow: boolean): string {
  const dir = path.join(work, `${bundler}-${arrow ? 'arrow' : 'no-arrow'}`);
  const modules = path.join(dir, 'node_modules');
  const pkg = path.join(modules, 'streamkernel');
  mkdirSync(pkg, { recursive: true });
  for (const file of ['app.js', 'sk-worker.js', 'index.html']) cpSync(path.join(APP, file), path.join(dir, file));
  cpSync(path.join(APP, `worker-url.${bundler}.js`), path.join(dir, 'worker-url.js'));
  cpSync(path.join(APP, `arrow.${arrow ? 'installed' : 'missing'}.js`), path.join(dir, 'arrow.js'));
  cpSync(path.join(ROOT, 'package.json'), path.join(pkg, 'package.json'));
  cpSync(path.join(ROOT, 'dist', 'src'), path.join(pkg, 'dist', 'src'), { recursive: true, filter: (f) => !f.endsWith('.map') && !f.endsWith('.d.ts') });
  // Dependencies resolve from their real folders, so theirs are found in the repo's node_modules.
  symlinkSync(path.join(ROOT, 'node_modules', 'csv-parse'), path.join(modules, 'csv-parse'), 'dir');
  if (arrow) symlinkSync(path.join(ROOT, 'node_modules', 'apache-arrow'), path.join(modules, 'apache-arrow'), 'dir');
  return dir;
}

/** Bundles the app as its docs say, into `dir/out`. */
async function bundle(bundler: Bundler, dir: string): Promise<string> {
  const out = path.join(dir, 'out');
  if (bundler === 'esbuild') {
    await esbuild({
      entryPoints: [path.join(dir, 'app.js'), path.join(dir, 'sk-worker.js')],
      bundle: true,
      format: 'esm',
      platform: 'browser',
      outdir: out,
      absWorkingDir: dir,
      logLevel: 'silent',
    });
    cpSync(path.join(dir, 'index.html'), path.join(out, 'index.html'));
  } else {
    await vite({ root: dir, configFile: false, logLevel: 'silent', build: { outDir: out, emptyOutDir: true } });
  }
  return out;
}

function serve(dir: string): Promise<string> {
  const server = http.createServer((req, res) => {
    const rel = decodeURIComponent(new URL(req.url ?? '/', 'http://127.0.0.1').pathname).replace(/^\/+/, '') || 'index.html';
    const file = path.resolve(dir, rel);
    if (!file.startsWith(dir + path.sep) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' });
    res.end(readFileSync(file));
  });
  servers.push(server);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`));
  });
}

const runs = new Map<string, Promise<Results>>();

/** Builds the app with `bundler`, opens it, and returns what it computed (once per bundler and arrow). */
function run(bundler: Bundler, arrow: boolean): Promise<Results> {
  const id = `${bundler} ${arrow}`;
  if (!runs.has(id)) runs.set(id, buildAndOpen(bundler, arrow));
  return runs.get(id)!;
}

async function buildAndOpen(bundler: Bundler, arrow: boolean): Promise<Results> {
  if (setupError !== undefined) throw new Error(`bundle test setup failed: ${setupError.message}`, { cause: setupError });
  const base = await serve(await bundle(bundler, makeApp(bundler, arrow)));
  const page = await browser!.newPage();
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  try {
    await page.goto(base);
    await page.waitForSelector('body[data-status="done"]', { state: 'attached', timeout: 45_000 });
    expect(pageErrors).toEqual([]);
    return (await page.evaluate('window.results')) as Results;
  } finally {
    await page.close();
  }
}

beforeAll(async () => {
  try {
    if (!existsSync(CHROMIUM)) throw new Error(`Chromium is missing at ${CHROMIUM}: npm test installs it when it can (scripts/provision.mjs), else apt-get install chromium`);
    if (!existsSync(path.join(ROOT, 'dist', 'src', 'index.js'))) throw new Error('dist/ is missing: run npm run build first');
    work = mkdtempSync(path.join(tmpdir(), 'sk-bundle-'));
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  } catch (error) {
    setupError = error instanceof Error ? error : new Error(String(error));
  }
}, 60_000);

afterAll(async () => {
  await browser?.close();
  for (const server of servers) server.close();
  if (work !== '') rmSync(work, { recursive: true, force: true });
});

const CSV_SERIES: Series = { values: [1, 10, 3, 20], mean: [NaN, NaN, 2, 15], keys: ['a', 'b', 'a', 'b'], timestamps: [1, 2, 3, 4] };

describe.each(['esbuild', 'vite'] as const)('a browser app bundled by %s', (bundler) => {
  it('regression: the main entry bundles with no flags, and CSV and NDJSON from a ReadableStream or File, arrays and Arrow all work (was: Could not resolve "stream")', async () => {
    const r = await run(bundler, true);
    expect(r.rolling).toEqual({ ok: [NaN, 3, 5, 7] });
    expect(r.csvStream).toEqual({ ok: CSV_SERIES });
    expect(r.csvFile).toEqual({ ok: CSV_SERIES });
    expect(r.ndjson).toEqual({ ok: { values: [1, 3], mean: [NaN, 2], keys: ['a', 'a'], timestamps: [1, 2] } });
    expect(r.array).toEqual({ ok: { values: [1, 3, 5], mean: [NaN, 2, 4], keys: ['a', 'a', 'a'] } });
    expect(r.arrow).toEqual({ ok: { values: [1, 10, 3], mean: [NaN, NaN, 2], keys: ['a', 'b', 'a'] } });
    // The worker recipe of docs/SCHEDULER.md ("Bundling the worker").
    expect(r.workers).toEqual({ ok: [NaN, 3, 5, 7] });
  });

  it('regression: without apache-arrow the app still bundles, and arrowSource says to npm install apache-arrow', async () => {
    const r = await run(bundler, false);
    expect(r.arrow.error).toMatch(/^streamkernel's Arrow connector needs the package 'apache-arrow', which is not installed: npm install apache-arrow$/);
    expect(r.csvStream).toEqual({ ok: CSV_SERIES });
  });

  it('regression: a worker script that cannot be loaded is named by its URL (was: "the worker script failed to load" without one)', async () => {
    const r = await run(bundler, false);
    expect(r.missingWorker.error).toMatch(/the worker script failed to load: http:\/\/127\.0\.0\.1:\d+\/(assets\/)?no-such-worker\.js /);
  });
});
