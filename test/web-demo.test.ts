// The demo web page, driven in headless Chromium (Debian's /usr/bin/chromium
// through playwright-core): generate or load a CSV, compute window ops in
// Web Workers, and check the plotted values against the library's results
// computed here in Node. Screenshots go to test/artifacts/.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKernel, type KernelSpec } from '../src/index.js';
// @ts-expect-error: plain ESM without types, shared with the page
import { generateSeries } from '../web/data.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const ARTIFACTS = path.join(ROOT, 'test', 'artifacts');
const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

let server: ChildProcess;
let url: string;
let browser: Browser;
let dir: string;
let setupError: Error | undefined;

beforeAll(async () => {
  try {
    await setUp();
  } catch (error) {
    setupError = error instanceof Error ? error : new Error(String(error));
  }
}, 60_000);

/** Server and browser; a failure is kept so that every test fails with it (vitest would skip them silently). */
async function setUp(): Promise<void> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium is missing at ${CHROMIUM}: npm test installs it when it can (scripts/provision.mjs), else apt-get install chromium; this test needs it and is never skipped`);
  }
  mkdirSync(ARTIFACTS, { recursive: true });
  dir = mkdtempSync(path.join(tmpdir(), 'sk-web-'));
  server = spawn(process.execPath, [path.join(ROOT, 'scripts', 'serve-demo.mjs'), '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  url = await new Promise<string>((resolve, reject) => {
    let text = '';
    server.stdout?.on('data', (b: Buffer) => {
      text += b.toString();
      const m = /http:\/\/127\.0\.0\.1:\d+\//.exec(text);
      if (m) resolve(m[0]);
    });
    server.on('exit', (code) => reject(new Error(`demo server exited with ${code}: ${text}`)));
  });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
}

afterAll(async () => {
  await browser?.close();
  server?.kill();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

async function openPage(): Promise<Page> {
  if (setupError !== undefined) throw new Error(`web demo setup failed: ${setupError.message}`, { cause: setupError });
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('response', (r) => {
    if (r.status() >= 400) errors.push(`${r.status()} ${r.url()}`);
  });
  (page as Page & { errors?: string[] }).errors = errors;
  await page.goto(url);
  await page.waitForSelector('body[data-status="ready"]');
  return page;
}

async function library(values: Float64Array, spec: KernelSpec): Promise<Float64Array> {
  const kernel = await createKernel(spec);
  try {
    return kernel.push(values);
  } finally {
    kernel.dispose();
  }
}

async function chooseOps(page: Page, ops: string[]): Promise<void> {
  for (const box of await page.locator('#ops input').all()) {
    const want = ops.includes(await box.getAttribute('value') ?? '');
    if ((await box.isChecked()) !== want) await box.click();
  }
}

/** As plotted: non-finite values are gaps (null); -0 is compared as 0. */
const asPlotted = (xs: ArrayLike<number | null>): (number | null)[] => Array.from(xs, (x) => (x !== null && Number.isFinite(x) ? x + 0 : null));

describe('demo web page', () => {
  it('loads a CSV through the file picker, computes in workers, plots the library results', async () => {
    const n = 4000;
    let csv = 'ts,sensor,value\n';
    const values = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const v = i % 97 === 5 ? NaN : i === 1234 ? Infinity : Math.round(Math.sin(i / 50) * 1000 + (i % 13) * 17) / 100;
      values[i] = v;
      csv += `${i},s${i % 3},${Number.isNaN(v) ? '' : v === Infinity ? 'inf' : v}\n`;
    }
    const file = path.join(dir, 'series.csv');
    writeFileSync(file, csv);

    const page = await openPage();
    await page.setInputFiles('[data-testid=file]', file);
    await page.waitForSelector('body[data-status="header"]');
    expect(await page.locator('#column option').allTextContents()).toEqual(['ts', 'sensor', 'value']);
    expect(await page.inputValue('#column')).toBe('value');
    await page.click('[data-testid=load]');
    await page.waitForSelector('body[data-status="loaded"]');
    await chooseOps(page, ['mean', 'std', 'median']);
    await page.fill('#window', '50');
    await page.fill('#min-periods', '10');
    await page.click('[data-testid=compute]');
    await page.waitForSelector('body[data-status="done"]', { timeout: 60_000 });

    const plotted = await page.evaluate(() => {
      const d = (window as unknown as { __demo: { plotData: ArrayLike<number | null>[]; plot: { series: { label: string }[] } } }).__demo;
      return { data: d.plotData.map((s) => Array.from(s)), labels: d.plot.series.map((s) => s.label) };
    });
    expect(plotted.labels).toEqual(['row', 'raw', 'mean', 'std', 'median']);
    expect(plotted.data[0]).toEqual(Array.from({ length: n }, (_, i) => i));
    expect(asPlotted(plotted.data[1]!)).toEqual(asPlotted(values));
    for (const [k, op] of (['mean', 'std', 'median'] as const).entries()) {
      expect(asPlotted(plotted.data[k + 2]!), op).toEqual(asPlotted(await library(values, { op, window: 50, minPeriods: 10 })));
    }
    expect(await page.textContent('#throughput')).toMatch(/4,000 rows × 3 ops: kernels [\d.]+ M rows\/s \([\d.]+ s on \d workers?\); end to end [\d.]+ s, [\d.]+ M rows\/s/);
    expect((page as Page & { errors?: string[] }).errors).toEqual([]);
    await page.screenshot({ path: path.join(ARTIFACTS, 'web-demo-csv.png'), fullPage: true });
    await page.close();
  }, 90_000);

  it('generates a million-point series and computes every op exactly as the library does', async () => {
    const page = await openPage();
    await page.selectOption('#gen-rows', '1000000');
    await page.click('[data-testid=generate]');
    await page.waitForSelector('body[data-status="loaded"]');
    await chooseOps(page, ['mean', 'max', 'min', 'ewm']);
    await page.fill('#window', '2000');
    await page.fill('#min-periods', '1');
    await page.click('[data-testid=compute]');
    await page.waitForSelector('body[data-status="done"]', { timeout: 90_000 });

    // The page's series (its bytes, as base64), recomputed here with the library; results compared at seeded rows.
    const base64 = await page.evaluate(() => {
      const v = (window as unknown as { __demo: { values: Float64Array } }).__demo.values;
      const bytes = new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
      let text = '';
      for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
      return btoa(text);
    });
    const raw = Buffer.from(base64, 'base64');
    const values = new Float64Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
    expect(values.length).toBe(1_000_000);
    // It is the shared generator's series (to the last bit or so: Math.sin may differ by an ulp between engines).
    const generated = generateSeries(1_000_000) as Float64Array;
    for (const r of [0, 1, 500_000, 999_999]) expect(values[r]).toBeCloseTo(generated[r]!, 9);
    expect(Number.isNaN(values[420_000]!) && values[800_000] === Infinity).toBe(true);
    const rows = Array.from({ length: 3000 }, (_, i) => Math.floor(((i * 2654435761) >>> 0) / 4294967296 * 1_000_000));
    rows.push(0, 419_999, 420_000, 800_000, 800_001, 999_999);
    const got = await page.evaluate((rows) => {
      const d = (window as unknown as { __demo: { values: Float64Array; results: Record<string, Float64Array>; plotData: unknown[][] } }).__demo;
      const pick = (a: Float64Array): (number | string)[] => rows.map((r) => (Number.isFinite(a[r]!) ? a[r]! : String(a[r])));
      return {
        values: pick(d.values),
        results: Object.fromEntries(Object.entries(d.results).map(([k, v]) => [k, pick(v)])),
        plotted: d.plotData.map((s) => s.length),
      };
    }, rows);
    const pick = (a: Float64Array): (number | string)[] => rows.map((r) => (Number.isFinite(a[r]!) ? a[r]! : String(a[r])));
    expect(got.values).toEqual(pick(values));
    const specs: Record<string, KernelSpec> = {
      mean: { op: 'mean', window: 2000, minPeriods: 1 },
      max: { op: 'max', window: 2000, minPeriods: 1 },
      min: { op: 'min', window: 2000, minPeriods: 1 },
      ewm: { op: 'ewm', span: 2000, minPeriods: 1 },
    };
    expect(Object.keys(got.results).sort()).toEqual(Object.keys(specs).sort());
    for (const [name, spec] of Object.entries(specs)) expect(got.results[name], name).toEqual(pick(await library(values, spec)));
    // A million points are plotted as a min/max envelope: two points per column.
    expect(got.plotted).toEqual([4000, 4000, 4000, 4000, 4000, 4000]);
    expect(await page.textContent('#plot-note')).toMatch(/min\/max envelope of 1,000,000 points/);
    expect(await page.textContent('#throughput')).toMatch(/1,000,000 rows × 4 ops: kernels [\d.]+ M rows\/s/);
    expect((page as Page & { errors?: string[] }).errors).toEqual([]);
    await page.screenshot({ path: path.join(ARTIFACTS, 'web-demo-generated.png'), fullPage: true });
    await page.close();
  }, 120_000);
});
