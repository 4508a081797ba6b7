// Docs that run: every ```ts block of README.md and docs/*.md is compiled
// with the TypeScript compiler under `strict`, against the built package as
// an app sees it ('streamkernel' is the package itself in a node_modules),
// and then run with Node, one process per block, in a folder of its own that
// holds the files the examples read (sensors.csv, ticks.csv). A block that
// cannot run here (a browser, a Redis server, a bundler) says so on the line
// before it, `<!-- not run: reason -->`; it is still compiled. Needs
// `npm run build` first.

import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileApp } from './app-compile.js';

const ROOT = path.resolve(fileURLToPath(new URL('..', import.meta.url)));
const DOCS = ['README.md', ...readdirSync(path.join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
const NOT_RUN = /^<!-- not run: (.+?) -->$/;
/** Files the examples read, made in each block's folder. */
const FIXTURES: Record<string, string> = {
  'sensors.csv': 'sensor,temp\na,20.5\nb,18\na,21\nb,18.5\na,22\n',
  'ticks.csv': 'symbol,price\nAAPL,189.1\nMSFT,402.3\nAAPL,189.4\nMSFT,401.9\n',
};

interface Block {
  /** `file:line` of the opening fence. */
  where: string;
  /** The doc's line of the block's first code line. */
  line: number;
  file: string;
  code: string;
  /** Why the block is not run, when it is not. */
  notRun?: string;
  /** The block's module name (no extension). */
  name: string;
}

/** Every ```ts block of a Markdown file, with the `not run` mark of the line before it. */
export function extractBlocks(file: string, text: string): Block[] {
  const lines = text.split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i]!.trimEnd() !== '```ts') continue;
    const end = lines.findIndex((l, j) => j > i && l.startsWith('```'));
    if (end === -1) throw new Error(`${file}:${i + 1}: a \`\`\`ts block that is never closed`);
    const mark = NOT_RUN.exec(lines[i - 1]?.trim() ?? '');
    const name = `${file.replace(/[^A-Za-z0-9]+/g, '_')}_${i + 1}`;
    blocks.push({ where: `${file}:${i + 1}`, line: i + 2, file, code: lines.slice(i + 1, end).join('\n') + '\n', notRun: mark?.[1], name });
    i = end;
  }
  return blocks;
}

const blocks = DOCS.flatMap((file) => extractBlocks(file, readFileSync(path.join(ROOT, file), 'utf8')));
let work = '';
const diagnostics = new Map<string, string[]>();

/** Compiles every block as a module of an app that installed streamkernel; keeps each block's errors (with doc lines). */
function compile(): void {
  const found = compileApp(work, new Map(blocks.map((b) => [b.name, b.code])));
  for (const b of blocks) diagnostics.set(b.name, found.get(b.name)!.map((d) => `${b.file}:${b.line + d.line}: TS${d.code}: ${d.text}`));
}

beforeAll(() => {
  if (!existsSync(path.join(ROOT, 'dist', 'src', 'index.d.ts'))) throw new Error('dist/ is missing: run npm run build first');
  work = mkdtempSync(path.join(tmpdir(), 'sk-docs-'));
  compile();
}, 120_000);

afterAll(() => {
  if (work !== '') rmSync(work, { recursive: true, force: true });
});

describe('the docs extract', () => {
  it('finds the ts blocks and their marks', () => {
    const found = extractBlocks('x.md', 'a\n```ts\nconst a = 1;\n```\n<!-- not run: needs a browser -->\n```ts\nwindow;\n```\n```sh\nls\n```\n');
    expect(found.map((b) => [b.where, b.line, b.code, b.notRun])).toEqual([
      ['x.md:2', 3, 'const a = 1;\n', undefined],
      ['x.md:6', 7, 'window;\n', 'needs a browser'],
    ]);
    expect(blocks.length).toBeGreaterThan(15);
  });
});

describe.each(blocks.map((b) => [b.where, b] as const))('docs example %s', (_where, block) => {
  it('regression: compiles under strict against the built package (was: the SCHEDULER quick start used parallelRolling unimported, ops arrays were string-typed)', () => {
    expect(diagnostics.get(block.name)).toEqual([]);
  });
});

describe.each(blocks.filter((b) => b.notRun === undefined).map((b) => [b.where, b] as const))('docs example %s', (_where, block) => {
  it('regression: runs to its end (was: the SCHEDULER quick start threw "job has finished")', async () => {
    const cwd = path.join(work, `run-${block.name}`);
    mkdirSync(cwd);
    for (const [file, text] of Object.entries(FIXTURES)) writeFileSync(path.join(cwd, file), text);
    const script = path.join(work, 'out', `${block.name}.js`);
    try {
      await promisify(execFile)(process.execPath, [script], { cwd, timeout: 60_000 });
    } catch (error) {
      const e = error as { stderr?: string; message: string };
      throw new Error(`${block.where} failed: ${e.stderr || e.message}`);
    }
  });
});
