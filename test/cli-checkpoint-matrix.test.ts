// `streamkernel run --checkpoint` resumes for every op: the matrix of the ops
// (each of ewm's decay forms, `adjust` both ways; generated from the
// library's op list, as test/checkpoint-matrix.test.ts) × `--workers 1|2|3`.
// Each cell is SIGKILLed (the run's test hook) just before writing its third
// checkpoint, with rows past the second one already in the output file; the
// same command then resumes on another worker count (1 → 2, 2 → 3, 3 → 1:
// one checkpoint format for every count) and the output file must equal,
// byte for byte, that of an uninterrupted run. The time-window ops (TIME_OPS,
// over a 50 ms window) get the same, and so do the window records
// (--tumbling, --hopping --step, --session: generated from the CLI's list of
// window kinds, RECORD_FLAGS, with each kind's fields of the library matrix).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mulberry32 as rng } from './adversarial.js';
import { RECORD_FLAGS } from '../src/cli/run-args.js';
import { OPERATOR_KINDS } from '../src/keyed/spec.js';
import { EWM_DECAY_FIELDS, KERNEL_OPS } from '../src/spec.js';
import { TIME_OPS } from '../src/time/spec.js';
import type { KernelSpec } from '../src/types.js';
// @ts-expect-error: plain ESM without types, shared with the browser page
import { KIND_FIELDS, matrixSpecs, specLabel, timeSpecs } from './browser/matrix.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = path.join(ROOT, 'bin', 'streamkernel.js');
/** What a cell runs: a kernel spec, a time-window op's options (`window` a duration), or window records' flags (`tumbling: '50ms'`, …). */
type CellSpec = KernelSpec | { op: string; window: string; minPeriods: number; q?: number } | { op: string; [flag: string]: string };
const SPECS = matrixSpecs(KERNEL_OPS, EWM_DECAY_FIELDS) as KernelSpec[];
const TIME_SPECS = timeSpecs(TIME_OPS) as CellSpec[];
const label = (spec: CellSpec): string => {
  const kind = RECORD_FLAGS.find((f) => f in spec);
  return kind !== undefined ? `--${kind} ${spec.op}` : (specLabel as (s: CellSpec) => string)(spec);
};
/** Ops of each window-records cell: a sum, an order statistic, one ordered by rows. */
const RECORD_OPS = ['mean', 'median', 'last'];
/** Each window kind of the CLI (all of the library's event-time window kinds) × RECORD_OPS, with the library matrix's fields of the kind. */
const RECORD_SPECS: CellSpec[] = RECORD_FLAGS.flatMap((kind) => {
  const { size, step, gap } = (KIND_FIELDS as Record<string, { size?: string; step?: string; gap?: string }>)[kind] ?? {};
  const flags: Record<string, string> = kind === 'session' ? { session: gap as string } : { [kind]: size as string, ...(kind === 'hopping' ? { step: step as string } : {}) };
  return RECORD_OPS.map((op) => ({ op, ...flags }));
});
/** Workers when killed → workers on resume: a checkpoint of any worker count resumes with any other. */
const WORKERS: [number, number][] = [[1, 2], [2, 3], [3, 1]];
const ROWS = 3000;
const BATCH = 200;
const EVERY = 600;
/** Killed before writing checkpoint 3: checkpoint 2 (row 1 200) is the last, and rows up to 1 800 are written. */
const CRASH = '3:before';
const RESUMED_AT = 'resumed at row 1,200';

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

function run(args: readonly string[], env: Record<string, string> = {}): Promise<Run> {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
  const err: Buffer[] = [];
  child.stderr.on('data', (b: Buffer) => err.push(b));
  return new Promise<Run>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stderr: Buffer.concat(err).toString('utf8') }));
  });
}

/** A spec's options on the command line: each field as `--kebab-case value` (the CLI's ewm has no --min-periods). */
function opArgs(spec: CellSpec): string[] {
  const args = ['--op', spec.op];
  for (const [field, value] of Object.entries(spec)) {
    if (field === 'op' || (spec.op === 'ewm' && field === 'minPeriods')) continue;
    args.push(`--${field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`, String(value));
  }
  return args;
}

let dir: string;
let input: string;

function command(spec: CellSpec, output: string, extra: readonly string[] = []): string[] {
  return ['run', input, '--value', 'v', '--key', 'k', '--time', 't', ...opArgs(spec), '--batch-size', String(BATCH), '-o', output, ...extra];
}

const checkpointed = (spec: CellSpec, output: string, checkpoint: string, workers: number): string[] =>
  command(spec, output, ['--workers', String(workers), '--checkpoint', checkpoint, '--checkpoint-every', String(EVERY), '--progress']);

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'sk-cli-matrix-'));
  const r = rng(77);
  const lines = ['t,k,v'];
  for (let i = 0; i < ROWS; i++) {
    const v = r() < 0.04 ? '' : ((r() - 0.5) * 1000).toFixed(3);
    lines.push(`${i * 10},key${Math.floor(r() * 7)},${v}`);
  }
  input = path.join(dir, 'in.csv');
  writeFileSync(input, `${lines.join('\n')}\n`);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The uninterrupted run's output (one per spec, computed once). */
const references = new Map<CellSpec, Promise<Buffer>>();
function referenceOf(spec: CellSpec, name: string): Promise<Buffer> {
  let ref = references.get(spec);
  if (ref === undefined) {
    const output = path.join(dir, `${name}-reference.csv`);
    ref = run(command(spec, output)).then((r) => {
      if (r.code !== 0) throw new Error(`the reference run failed (${r.code}): ${r.stderr}`);
      return readFileSync(output);
    });
    references.set(spec, ref);
  }
  return ref;
}

/** The cells of one spec: killed on some workers, resumed on others. */
function cells(specs: CellSpec[], workers: [number, number][], prefix: string): void {
  specs.forEach((spec, i) => {
    // Concurrent: each cell mostly waits for its processes.
    describe.concurrent(`${prefix}${label(spec)}`, () => {
      for (const [killed, resumed] of workers) {
        it(`killed with --workers ${killed}, resumed with --workers ${resumed}: the same bytes`, async ({ expect }) => {
          const name = `${prefix}${i}-${killed}`.replace(/\W/g, '-');
          const output = path.join(dir, `${name}.csv`);
          const checkpoint = path.join(dir, `${name}-ck`);
          const crashed = await run(checkpointed(spec, output, checkpoint, killed), { STREAMKERNEL_TEST_CRASH: CRASH });
          expect(crashed.signal, crashed.stderr).toBe('SIGKILL');
          const again = await run(checkpointed(spec, output, checkpoint, resumed));
          expect(again.code, again.stderr).toBe(0);
          expect(again.stderr).toContain(RESUMED_AT);
          expect(readFileSync(output).equals(await referenceOf(spec, `${prefix}${i}`.replace(/\W/g, '-')))).toBe(true);
        });
      }
    });
  });
}

describe(`run --checkpoint, SIGKILL, resume: ${SPECS.length} specs × --workers ${WORKERS.map(([a, b]) => `${a}→${b}`).join(', ')}`, () => {
  cells(SPECS, WORKERS, '');
});

describe(`run --checkpoint over a time window, SIGKILL, resume: ${TIME_SPECS.length} ops × --workers ${WORKERS.map(([a, b]) => `${a}→${b}`).join(', ')}`, () => {
  cells(TIME_SPECS, WORKERS, 'time ');
});

describe(`run --checkpoint over window records, SIGKILL, resume: ${RECORD_SPECS.length} cells × --workers ${WORKERS.map(([a, b]) => `${a}→${b}`).join(', ')}`, () => {
  it('covers every event-time window kind of the library', () => {
    expect([...RECORD_FLAGS]).toEqual(OPERATOR_KINDS.filter((k) => k !== 'rolling' && k !== 'count'));
  });
  cells(RECORD_SPECS, WORKERS, 'records ');
});

describe('ewm with workers', () => {
  it('regression: run --op ewm --span 10 --workers 2 --checkpoint, SIGKILLed and run again, exits 4 ("cannot resume from the checkpoint: the state of op 1") instead of resuming', async () => {
    const spec: KernelSpec = { op: 'ewm', span: 10 };
    const output = path.join(dir, 'regression.csv');
    const checkpoint = path.join(dir, 'regression-ck');
    const crashed = await run(checkpointed(spec, output, checkpoint, 2), { STREAMKERNEL_TEST_CRASH: CRASH });
    expect(crashed.signal, crashed.stderr).toBe('SIGKILL');
    const again = await run(checkpointed(spec, output, checkpoint, 2));
    expect(again.stderr).not.toContain('cannot resume');
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toContain(RESUMED_AT);
    expect(readFileSync(output).equals(await referenceOf(spec, 'regression'))).toBe(true);
  });
});
