// The scheduler's browser half in headless Chromium (Debian's /usr/bin/chromium
// driven by playwright-core): dist/ and the page in test/browser/ are served
// from a static server on 127.0.0.1; the page runs jobs on module Web Workers
// (webWorkers()) with checkpoints in IndexedDB, compares every output with a
// single-thread result computed in the page, and the test compares the bytes
// once more with the same computation in Node. Needs `npx tsc -p tsconfig.json`
// (or `npm run build`) first. A missing Chromium fails every test with a clear
// message: it is never skipped.
import { existsSync, readFileSync, statSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPERATOR_KINDS } from '../src/keyed/spec.js';
import { EWM_DECAY_FIELDS, KERNEL_OPS } from '../src/spec.js';
import { TIME_OPS } from '../src/time/spec.js';
// @ts-expect-error: plain ESM without types, shared with the page
import { makeData } from './browser/data.js';
// @ts-expect-error: plain ESM without types, shared with the page
import { kindSpecs, matrixSpecs, specLabel } from './browser/matrix.js';
import { reference } from './scheduler-helpers.js';

const ROOT = path.resolve(fileURLToPath(new URL('..', import.meta.url)));
const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
/** Only these folders are served. */
const SERVED = ['dist/src/', 'test/browser/'];
const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
};

let server: http.Server | undefined;
let browser: Browser | undefined;
let page: Page | undefined;
let base = '';
let setupError: Error | undefined;
const pageErrors: string[] = [];

function serve(): Promise<string> {
  server = http.createServer((req, res) => {
    const rel = decodeURIComponent(new URL(req.url ?? '/', 'http://127.0.0.1').pathname).replace(/^\/+/, '');
    const file = path.resolve(ROOT, rel);
    const relative = path.relative(ROOT, file).split(path.sep).join('/');
    if (!SERVED.some((dir) => relative.startsWith(dir)) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`not found: /${rel}\n`);
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' });
    res.end(readFileSync(file));
  });
  return new Promise((resolve, reject) => {
    server!.once('error', reject);
    server!.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server!.address() as AddressInfo).port}/`));
  });
}

beforeAll(async () => {
  try {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`Chromium is missing at ${CHROMIUM}: install Debian's package (apt-get update && apt-get install -y chromium); this test needs it and is never skipped`);
    }
    for (const file of ['dist/src/scheduler/browser.js', 'dist/src/scheduler/worker-browser.js', 'dist/src/scheduler/stores-indexeddb.js']) {
      if (!existsSync(path.join(ROOT, file))) throw new Error(`${file} is missing: build first (npx tsc -p tsconfig.json, or npm run build)`);
    }
    base = await serve();
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
    page = await browser.newPage();
    page.on('pageerror', (e) => pageErrors.push(String(e)));
    page.on('response', (r) => {
      if (r.status() >= 400) pageErrors.push(`${r.status()} ${r.url()}`);
    });
    await page.goto(`${base}test/browser/index.html`);
    await page.waitForSelector('body[data-status="ready"]', { timeout: 20_000 });
  } catch (error) {
    setupError = error instanceof Error ? error : new Error(String(error));
  }
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await new Promise<void>((resolve) => (server === undefined ? resolve() : server.close(() => resolve())));
});

/** The page, or the setup's failure (so that every test fails with it, none is skipped). */
function ready(): Page {
  if (setupError !== undefined) throw new Error(`browser setup failed: ${setupError.message}`, { cause: setupError });
  return page!;
}

function bytesOf(values: Float64Array): string {
  return Buffer.from(values.buffer, values.byteOffset, values.byteLength).toString('base64');
}

interface RunSummary {
  rows: number;
  restarts: number;
  checkpoints: number;
  equal: boolean;
  length: number;
  problems: string[];
  killed: boolean;
  spawned: number;
  batches: number;
  clonedBatches: number;
  modulesPosted: number;
  inits: number;
  bytes: string;
  events: string[];
  parallelEqual?: boolean;
}

type Scenarios = Record<string, (...args: unknown[]) => Promise<unknown>>;

async function scenario<T>(name: string, ...args: unknown[]): Promise<T> {
  const p = ready();
  return (await p.evaluate(
    ([n, a]) => (window as unknown as { scenarios: Scenarios }).scenarios[n as string]!(...(a as unknown[])),
    [name, args] as const,
  )) as T;
}

const SPEC = { op: 'median', window: 16 } as const;
/**
 * Workers when checkpointed → on resume for the operator kinds: the rotation
 * of checkpoint-matrix.test.ts, one pair per spec (each kind gets every pair),
 * on the IndexedDB store only, to keep the browser time down.
 */
const KIND_ROTATION: [number, number][] = [[1, 2], [2, 3], [3, 4], [4, 1], [2, 1]];
/**
 * The browser runs every spec of the operator kinds but each KIND_SKIP-th (in
 * kind × op order: each kind drops other ops, every op runs in 3 or more
 * kinds), to keep the added time ≤ ~40 s; Node's checkpoint matrix runs all.
 */
const KIND_SKIP = 3;
let failureFree: RunSummary | undefined;
let nodeBytes: string | undefined;

async function expectedBytes(): Promise<string> {
  if (nodeBytes === undefined) {
    const { values, keys } = makeData(1, 30_000, 40) as { values: Float64Array; keys: Uint32Array };
    nodeBytes = bytesOf(await reference(SPEC, values, keys));
  }
  return nodeBytes;
}

describe('scheduler in headless Chromium (Web Workers, IndexedDB)', () => {
  it('runs a keyed job on 2 module Web Workers equal to the single-thread result', async () => {
    const s = await scenario<RunSummary>('keyed');
    expect(s.problems).toEqual([]);
    expect(s.equal).toBe(true);
    expect(s.rows).toBe(30_000);
    expect(s.length).toBe(30_000);
    expect(s.restarts).toBe(0);
    expect(s.checkpoints).toBeGreaterThanOrEqual(7);
    expect(s.bytes).toBe(await expectedBytes()); // the same bytes as in Node
    // One module compiled in the page, posted to both workers; every batch moved, none cloned.
    expect(s.spawned).toBe(2);
    expect(s.inits).toBe(2);
    expect(s.modulesPosted).toBe(1);
    expect(s.batches).toBeGreaterThanOrEqual(30);
    expect(s.clonedBatches).toBe(0);
    expect(s.parallelEqual).toBe(true);
    expect(pageErrors).toEqual([]);
    failureFree = s;
  });

  it('recovers from a worker terminated from outside mid-job (raw worker.terminate(), found by the heartbeat)', async () => {
    const s = await scenario<RunSummary>('fault', 'kill', 12);
    expect(s.killed).toBe(true);
    expect(s.events.filter((e) => !e.startsWith('exit'))).toEqual([]); // no event from the killed worker: the heartbeat found it
    expect(s.restarts).toBeGreaterThanOrEqual(1);
    expect(s.spawned).toBeGreaterThanOrEqual(4);
    expect(s.problems).toEqual([]);
    expect(s.equal).toBe(true);
    expect(s.bytes).toBe(failureFree?.bytes ?? (await expectedBytes()));
    expect(pageErrors).toEqual([]);
  });

  // How each failure is noticed: the handle's exit or error signal (the first one is the failure), or else the heartbeat.
  const SIGNAL: Record<string, RegExp | undefined> = {
    terminate: /^exit 1$/,
    exit: /^exit 1$/,
    throw: /^error: .*injected fault: an error thrown inside the kernel call/,
    trap: /^error: .*(RuntimeError|out of bounds|unreachable)/i,
    hang: undefined,
  };
  for (const [kind, afterBatch] of [['terminate', 9], ['exit', 15], ['throw', 5], ['trap', 21], ['hang', 11]] as const) {
    it(`recovers from an injected '${kind}' fault with output equal to the failure-free run`, async () => {
      const s = await scenario<RunSummary>('fault', kind, afterBatch);
      const signal = SIGNAL[kind];
      if (signal === undefined) expect(s.events.filter((e) => !e.startsWith('exit'))).toEqual([]); // found by the heartbeat
      else expect(s.events[0]).toMatch(signal);
      expect(s.restarts).toBeGreaterThanOrEqual(1);
      expect(s.problems).toEqual([]);
      expect(s.equal).toBe(true);
      expect(s.bytes).toBe(failureFree?.bytes ?? (await expectedBytes()));
      expect(pageErrors).toEqual([]);
    });
  }

  it('keeps the last K checkpoints in IndexedDB and refuses corrupt or truncated ones, falling back to the previous', async () => {
    const s = await scenario<{
      rows: number;
      checkpoints: number;
      lastCheckpointId: number;
      ids: number[];
      offsets: number[];
      codes: Record<string, string[]>;
      fallbacks: Record<string, number | undefined>;
      restoredId: number;
      restoredRefused: number;
    }>('idbStore');
    expect(s.rows).toBe(24_000);
    expect(s.checkpoints).toBe(5); // 5000, 10000, 15000, 20000 and the final one at 24000
    expect(s.ids).toEqual([5, 4, 3]); // keep: 3
    expect(s.offsets).toEqual([24_000, 20_000, 15_000]);
    expect(s.codes).toEqual({
      flip: ['5:CHECKSUM_MISMATCH'],
      flipHeader: ['5:CHECKSUM_MISMATCH'],
      flipCrc: ['5:CHECKSUM_MISMATCH'],
      truncate: ['5:BAD_LENGTH'],
      truncateHeader: ['5:BAD_LENGTH'],
      empty: ['5:BAD_LENGTH'],
      magic: ['5:BAD_MAGIC'],
      notBytes: ['5:BAD_FORMAT'],
    });
    for (const id of Object.values(s.fallbacks)) expect(id).toBe(4);
    expect(s.restoredId).toBe(5);
    expect(s.restoredRefused).toBe(0);
    expect(pageErrors).toEqual([]);
  });

  it('resumes every op\'s checkpoint from IndexedDB on another worker count (the checkpoint matrix: each spec × 1→2, 2→3, 3→4, 4→1 workers)', async () => {
    const cells = await scenario<{ spec: string; before: number; after: number; offset: number; refused: string[]; equal: boolean }[]>('matrix');
    // The page generates the matrix from the op list of dist/; the same list here.
    const specs = matrixSpecs(KERNEL_OPS, EWM_DECAY_FIELDS) as object[];
    expect(cells.map((c) => `${c.spec} ${c.before}→${c.after}`)).toEqual(specs.flatMap((s) => [1, 2, 3, 4].map((b) => `${specLabel(s) as string} ${b}→${(b % 4) + 1}`)));
    expect(cells.filter((c) => c.offset !== 500 || c.refused.length > 0 || !c.equal)).toEqual([]);
    expect(pageErrors).toEqual([]);
  }, 180_000);

  it(`resumes every operator kind's checkpoint from IndexedDB on another worker count (${OPERATOR_KINDS.join(', ')} × TIME_OPS, workers ${KIND_ROTATION.map(([a, b]) => `${a}→${b}`).join(' | ')} rotated, 1 spec in ${KIND_SKIP} left out)`, async () => {
    const cells = await scenario<{ spec: string; before: number; after: number; offset: number; refused: string[]; windows: number | null; difference: string | null }[]>('kindMatrix', KIND_ROTATION, KIND_SKIP);
    // The page generates the specs from the lists of dist/; the same lists here.
    const specs = kindSpecs(OPERATOR_KINDS, TIME_OPS) as object[];
    const cellsOf = specs.flatMap((s, i) => (i % KIND_SKIP === KIND_SKIP - 1 ? [] : [`${specLabel(s) as string} ${KIND_ROTATION[i % KIND_ROTATION.length]!.join('→')}`]));
    expect(cells.map((c) => `${c.spec} ${c.before}→${c.after}`)).toEqual(cellsOf);
    expect(cells.filter((c) => c.offset !== 500 || c.refused.length > 0 || c.difference !== null || c.windows === 0)).toEqual([]);
    expect(pageErrors).toEqual([]);
  }, 120_000);

  it('resumes after a page reload from IndexedDB, past a corrupted newest checkpoint, on 3 workers', async () => {
    const p1 = await scenario<{ rows: number; lastCheckpointId: number; ids: number[]; offsets: number[] }>('idbPhase1', 17_000);
    expect(p1.rows).toBe(17_000);
    expect(p1.ids).toEqual([4, 3, 2]);
    expect(p1.offsets).toEqual([17_000, 15_000, 10_000]);

    await ready().reload();
    await ready().waitForSelector('body[data-status="ready"]', { timeout: 20_000 });

    const p2 = await scenario<{
      before: number[];
      after: number[];
      resumedAt: number;
      refused: { id: number; code: string; message: string }[];
      rows: number;
      firstOffset: number;
      equal: boolean;
      problems: string[];
      bytes: string;
    }>('idbPhase2');
    expect(p2.before).toEqual([4, 3, 2]);
    expect(p2.refused.map((r) => `${r.id}:${r.code}`)).toEqual(['4:CHECKSUM_MISMATCH']);
    expect(p2.refused[0]!.message).toMatch(/^checksum mismatch: checkpoint is corrupt/);
    expect(p2.resumedAt).toBe(15_000); // checkpoint 3
    expect(p2.firstOffset).toBe(15_000);
    expect(p2.rows).toBe(24_000);
    expect(p2.problems).toEqual([]);
    expect(p2.equal).toBe(true);
    expect(p2.after[0]).toBeGreaterThan(4); // new ids continue after the refused one
    const { values, keys } = makeData(7, 24_000, 25) as { values: Float64Array; keys: Uint32Array };
    expect(p2.bytes).toBe(bytesOf((await reference({ op: 'mean', window: 50 }, values, keys)).subarray(15_000)));
    expect(pageErrors).toEqual([]);
  });
});
