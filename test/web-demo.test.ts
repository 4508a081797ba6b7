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
import { createKernel, rollingByTime, windowsByTime, type KernelSpec } from '../src/index.js';
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
    // Row numbers on the x axis are compact, so they do not overlap (was: 1000000 next to 1200000).
    expect(await page.evaluate(() => (window as unknown as { __demo: { plot: { axes: { values: (u: unknown, s: number[]) => string[] }[] } } }).__demo.plot.axes[0]!.values(null, [0, 250_000, 1_000_000]))).toEqual(['0', '250K', '1M']);
    expect(await page.textContent('#throughput')).toMatch(/1,000,000 rows × 4 ops: kernels [\d.]+ M rows\/s/);
    expect((page as Page & { errors?: string[] }).errors).toEqual([]);
    await page.screenshot({ path: path.join(ARTIFACTS, 'web-demo-generated.png'), fullPage: true });
    await page.close();
  }, 120_000);

  // ---- Streams: keys, time, time windows, errors, live (issue 18, item 7) ----

  type Plotted = { data: (number | null | undefined)[][]; labels: string[]; note: string; nonFinite: string[] };
  const plotted = (page: Page): Promise<Plotted> =>
    page.evaluate(() => {
      const d = (window as unknown as { __demo: { plotData: ArrayLike<number | null | undefined>[]; plot: { series: { label: string }[] } } }).__demo;
      return {
        data: d.plotData.map((s) => Array.from(s)),
        labels: d.plot.series.map((s) => s.label),
        note: document.getElementById('plot-note')!.textContent!,
        nonFinite: Array.from(document.querySelectorAll('#nonfinite-note li')).map((li) => li.textContent!),
      };
    });

  async function loadCsv(page: Page, name: string, csv: string, columns: { value?: string; key?: string; time?: string }): Promise<void> {
    const file = path.join(dir, name);
    writeFileSync(file, csv);
    await page.setInputFiles('[data-testid=file]', file);
    await page.waitForSelector('body[data-status="header"]');
    if (columns.value) await page.selectOption('#column', columns.value);
    if (columns.key) await page.selectOption('#key-column', columns.key);
    if (columns.time) await page.selectOption('#time-column', columns.time);
    await page.click('[data-testid=load]');
    await page.waitForSelector('body[data-status="loaded"], body[data-status="error"]');
  }

  // stocks.csv as vega-datasets has it: symbols one after another, dates as 'Jan 1 2000'.
  const SYMBOLS = ['MSFT', 'AMZN', 'IBM'];
  const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const stocks = SYMBOLS.flatMap((symbol, k) =>
    Array.from({ length: 24 }, (_, m) => ({ symbol, t: Date.UTC(2000 + Math.floor(m / 12), m % 12, 1), text: `${MONTHS[m % 12]} 1 ${2000 + Math.floor(m / 12)}`, price: m === 5 && k === 1 ? NaN : 10 * (k + 1) + m + (m % 3) / 4 })),
  );
  const stocksCsv = 'symbol,date,price\n' + stocks.map((r) => `${r.symbol},${r.text},${Number.isNaN(r.price) ? '' : r.price}`).join('\n') + '\n';

  /** A key's plotted points (x in ms, value), rows of other keys (undefined) left out. */
  function pointsOf(p: Plotted, label: string): [number, number | null][] {
    const k = p.labels.indexOf(label);
    expect(k, label).toBeGreaterThan(0);
    return p.data[0]!.flatMap((x, i) => (p.data[k]![i] === undefined ? [] : [[Math.round(x! * 1000), p.data[k]![i] ?? null] as [number, number | null]]));
  }

  it('regression: stocks.csv (symbol, date, price) plots one series per symbol against time, not every symbol mixed into one; rolling by duration and tumbling equal the library', async () => {
    const page = await openPage();
    await loadCsv(page, 'stocks.csv', stocksCsv, { key: 'symbol', time: 'date' });
    expect(await page.inputValue('#column')).toBe('price'); // the first numeric column
    expect(await page.textContent('#data-info')).toMatch(/column price, key symbol \(3 keys\), time date \(dates in date are not ISO 8601: read by the browser, as UTC\): 72 points/);
    await chooseOps(page, ['mean', 'max']);
    const ts = Float64Array.from(stocks, (r) => r.t);
    const vs = Float64Array.from(stocks, (r) => r.price);
    const keys = stocks.map((r) => r.symbol);
    const byKey = (values: Float64Array, symbol: string): [number, number | null][] =>
      stocks.flatMap((r, i) => (r.symbol === symbol ? [[r.t, Number.isFinite(values[i]!) ? values[i]! : null] as [number, number | null]] : [])).sort((a, b) => a[0] - b[0]);

    await page.selectOption('#window-kind', 'rolling');
    await page.fill('#duration', '90d');
    await page.fill('#min-periods', '1');
    await page.click('[data-testid=compute]');
    await page.waitForSelector('body[data-status="done"]');
    let p = await plotted(page);
    expect(p.labels).toEqual(['time', ...SYMBOLS.flatMap((s) => [`${s} raw`, `${s} mean`, `${s} max`])]);
    expect(p.note).toMatch(/Showing all 72 points against time, one line style per key/);
    for (const op of ['mean', 'max'] as const) {
      const lib = await rollingByTime(ts, vs, { op, window: '90d', keys: 'string' }, keys);
      for (const s of SYMBOLS) expect(pointsOf(p, `${s} ${op}`), `${s} ${op}`).toEqual(byKey(lib, s));
    }
    for (const s of SYMBOLS) expect(pointsOf(p, `${s} raw`)).toEqual(byKey(vs, s));
    // The missing price is a gap of AMZN's raw line, and the note says so.
    expect(p.nonFinite[0]).toMatch(/^raw: 1 NaN \(first at row 29\)\. NaN is a missing value/);

    await page.selectOption('#window-kind', 'tumbling');
    await page.fill('#duration', '365d');
    await page.click('[data-testid=compute]');
    await page.waitForSelector('body[data-status="done"]');
    p = await plotted(page);
    // In time order (the symbols come one after another in the file), as the page computes them.
    const order = stocks.map((_, i) => i).sort((a, b) => ts[a]! - ts[b]! || a - b);
    const { windows } = await windowsByTime(order.map((i) => ts[i]!), order.map((i) => vs[i]!), { kind: 'tumbling', op: 'mean', size: '365d', keys: 'string' }, order.map((i) => keys[i]!));
    const year = 365 * 86_400_000;
    const step = Float64Array.from(stocks, (r) => windows.find((w) => w.key === r.symbol && w.start === Math.floor(r.t / year) * year)!.value);
    for (const s of SYMBOLS) expect(pointsOf(p, `${s} mean`), s).toEqual(byKey(step, s));
    expect((page as Page & { errors?: string[] }).errors).toEqual([]);
    await page.screenshot({ path: path.join(ARTIFACTS, 'web-demo-stocks.png'), fullPage: true });
    await page.close();
  }, 90_000);

  it('regression: seattle-weather.csv: the first numeric column by default, and the text column weather is an error styled as one, not "0 points" and "0 rows × 4 ops" in green', async () => {
    const page = await openPage();
    const csv = 'date,precipitation,temp_max,temp_min,wind,weather\n2012-01-01,0.0,12.8,5.0,4.7,drizzle\n2012-01-02,10.9,10.6,2.8,4.5,rain\n2012-01-03,0.8,11.7,7.2,2.3,rain\n';
    await loadCsv(page, 'seattle-weather.csv', csv, {});
    expect(await page.inputValue('#column')).toBe('precipitation');
    await page.selectOption('#column', 'weather');
    await page.click('[data-testid=load]');
    await page.waitForSelector('body[data-status="error"]');
    expect(await page.textContent('#data-info')).toBe('seattle-weather.csv: no rows loaded: all 3 rows were skipped as malformed ("weather": a value must be a number, a time a number of ms or an ISO date). Pick another column.');
    expect(await page.getAttribute('#data-info', 'class')).toContain('error');
    expect(await page.isDisabled('[data-testid=compute]')).toBe(true);
    // Time windows without a time column: an error, in red, not a result.
    await page.selectOption('#column', 'temp_max');
    await page.click('[data-testid=load]');
    await page.waitForSelector('body[data-status="loaded"]');
    await page.selectOption('#window-kind', 'rolling');
    await chooseOps(page, ['mean']);
    await page.click('[data-testid=compute]');
    await page.waitForSelector('body[data-status="error"]');
    expect(await page.textContent('#throughput')).toBe('Time windows need a time column: pick one in step 1 and load the columns again.');
    expect(await page.getAttribute('#throughput', 'class')).toContain('error');
    await page.close();
  }, 60_000);

  it('regression: a result that is NaN or infinite gets a note saying where and why', async () => {
    const page = await openPage();
    await loadCsv(page, 'spikes.csv', 'v\n1\n2\ninf\n4\n5\n6\n', { value: 'v' });
    await chooseOps(page, ['mean', 'std']);
    await page.fill('#window', '2');
    await page.fill('#min-periods', '2');
    await page.click('[data-testid=compute]');
    await page.waitForSelector('body[data-status="done"]');
    expect((await plotted(page)).nonFinite).toEqual([
      'raw: 1 +Infinity (first at row 2). NaN is a missing value (a gap); ±Infinity is a value, drawn as a gap too.',
      'mean: 1 NaN (first at row 0), 2 +Infinity (first at row 2): NaN where a window has fewer than 2 non-missing values (min periods: the series start, a key\'s first rows, runs of missing input); ±Infinity where the window holds an infinite input value (a value, not missing).',
      'std: 3 NaN (first at row 0): NaN where a window has fewer than 2 non-missing values (min periods: the series start, a key\'s first rows, runs of missing input); NaN where the window holds ±Infinity (no finite spread).',
    ]);
    await page.close();
  }, 60_000);

  it('regression: live mode: rows arrive at the chosen rate, kernels and the per-key plot update as they come, with rows/s and arrival-to-plot latency shown', async () => {
    const page = await openPage();
    await chooseOps(page, ['mean', 'max']);
    await page.selectOption('#window-kind', 'rolling');
    await page.fill('#duration', '2s');
    await page.fill('#min-periods', '1');
    await page.selectOption('#live-rate', '1000');
    await page.click('[data-testid=live-start]');
    await page.waitForFunction(() => {
      const live = (window as unknown as { __live: { frames: number; rowsComputed: number } | null }).__live;
      return live !== null && live.frames >= 10 && live.rowsComputed >= 1500;
    }, undefined, { timeout: 30_000 });
    const info = (await page.textContent('#live-info'))!;
    expect(info).toMatch(/^[\d,]+ rows\/s computed \(feed: 1,000 rows\/s, 3 keys\) · latency from arrival to plotted result: median \d+ ms, p95 \d+ ms · [\d,]+ rows shown$/);
    expect(await page.getAttribute('#live-info', 'class')).toContain('ok');
    await page.screenshot({ path: path.join(ARTIFACTS, 'web-demo-live.png'), fullPage: true });
    await page.click('[data-testid=live-stop]');
    await page.waitForSelector('body[data-status="stopped"]');
    const live = await page.evaluate(() => {
      const l = (window as unknown as { __live: { rows: { t: number[]; v: number[]; key: string[]; res: number[][] }; plotData: unknown[][] } }).__live;
      return { t: l.rows.t, v: l.rows.v.map((x) => (Number.isNaN(x) ? 'NaN' : x)), key: l.rows.key, res: l.rows.res.map((r) => r.map((x) => (Number.isNaN(x) ? 'NaN' : x))), series: l.plotData.length };
    });
    expect(live.series).toBe(1 + 3 * 3); // time, then raw, mean and max for each of the 3 sensors
    expect(new Set(live.key)).toEqual(new Set(['sensor-a', 'sensor-b', 'sensor-c']));
    // What the worker computed batch by batch is what the library computes over the whole feed.
    const v = Float64Array.from(live.v, (x) => (x === 'NaN' ? NaN : (x as number)));
    for (const [j, op] of (['mean', 'max'] as const).entries()) {
      const lib = await rollingByTime(live.t, v, { op, window: '2s', keys: 'string' }, live.key);
      expect(live.res[j], op).toEqual(Array.from(lib, (x) => (Number.isNaN(x) ? 'NaN' : x)));
    }
    expect((page as Page & { errors?: string[] }).errors).toEqual([]);
    await page.close();
  }, 60_000);
});
