// Spec mistakes that used to compile and fail only at run time are compile
// errors for TypeScript users (issue 18, item 6): each mistake is compiled as
// an app module against the built package's types (npm run build first), and
// still refused at run time for JavaScript users.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKernel, createTimeRolling, createWindows, ewm, rolling } from '../src/index.js';
import { compileApp, type AppDiagnostic } from './app-compile.js';

const HEAD = "import { createKernel, createTimeRolling, createWindows, ewm, rolling } from 'streamkernel';\nconst v = [1, 2, 3];\n";

/** Each mistake, as the code a user writes, and the same spec checked at run time. */
const MISTAKES: Record<string, { code: string; run: () => Promise<unknown> }> = {
  'quantile without q': { code: "await rolling(v, { op: 'quantile', window: 2 });", run: () => rolling([1], { op: 'quantile', window: 2 } as never) },
  'q on mean': { code: "await rolling(v, { op: 'mean', window: 2, q: 0.5 });", run: () => rolling([1], { op: 'mean', window: 2, q: 0.5 } as never) },
  'ddof on mean': { code: "await rolling(v, { op: 'mean', window: 2, ddof: 0 });", run: () => rolling([1], { op: 'mean', window: 2, ddof: 0 } as never) },
  'ewm with no decay': { code: 'await ewm(v, { adjust: false });', run: () => ewm([1], { adjust: false } as never) },
  'ewm with two decays': { code: 'await ewm(v, { span: 10, alpha: 0.5 });', run: () => ewm([1], { span: 10, alpha: 0.5 } as never) },
  "createKernel({ op: 'ewm' })": { code: "await createKernel({ op: 'ewm' });", run: () => createKernel({ op: 'ewm' } as never) },
  'keys pushed to an unkeyed operator': {
    code: "(await createTimeRolling({ op: 'mean', window: '5s' })).push([0], [1], ['a']);",
    run: async () => (await createTimeRolling({ op: 'mean', window: '5s' })).push([0], [1], ...([['a']] as unknown as [])),
  },
  'keys pushed to unkeyed tumbling windows': {
    code: "(await createWindows({ kind: 'tumbling', op: 'sum', size: '1m' })).push([0], [1], [7]);",
    run: async () => (await createWindows({ kind: 'tumbling', op: 'sum', size: '1m' })).push([0], [1], ...([[7]] as unknown as [])),
  },
  'numbers as keys of a string-keyed operator': {
    code: "(await createTimeRolling({ op: 'mean', window: '5s', keys: 'string' })).push([0], [1], [7]);",
    run: async () => (await createTimeRolling({ op: 'mean', window: '5s', keys: 'string' })).push([0], [1], [7] as unknown as string[]),
  },
  "window: 'five seconds'": { code: "await createTimeRolling({ op: 'mean', window: 'five seconds' });", run: () => createTimeRolling({ op: 'mean', window: 'five seconds' as never }) },
};

/** What stays fine: every op with its own parameters, each decay, durations of one to three parts. */
const FINE = `${HEAD}
await rolling(v, { op: 'quantile', window: 2, q: 0.5 });
await rolling(v, { op: 'std', window: 2, ddof: 0 });
await rolling(v, { op: 'median', window: 2, minPeriods: 1 });
await ewm(v, { span: 10 });
await ewm(v, { halflife: 5, adjust: false, minPeriods: 1 });
await createKernel({ op: 'ewm', com: 0.5 });
await createKernel({ op: 'var', window: 3, ddof: 0 });
for (const window of ['250ms', '5s', '1m30s', '1.5h', '1h2m3s', 90_000] as const) await createTimeRolling({ op: 'mean', window });
await createWindows({ kind: 'tumbling', op: 'sum', size: '1m', allowedLateness: '10s' });
(await createTimeRolling({ op: 'mean', window: '5s' })).push([0], [1]);
(await createTimeRolling({ op: 'mean', window: '5s', keys: 'string' })).push([0], [1], ['a']);
(await createWindows({ kind: 'session', op: 'count', gap: '30m', keys: 'number' })).push([0], [1], new Uint32Array([7]));
const spec: Parameters<typeof createTimeRolling>[0] = { op: 'sum', window: 1000, keys: process.argv.length > 2 ? 'string' : 'none' };
(await createTimeRolling(spec)).push([0], [1], process.argv.length > 2 ? ['a'] : undefined); // a mode known at run time takes either
`;

let work = '';
let found: Map<string, AppDiagnostic[]>;
const names = Object.keys(MISTAKES);

beforeAll(() => {
  work = mkdtempSync(path.join(tmpdir(), 'sk-types-'));
  const modules = new Map(names.map((name, i) => [`mistake${i}`, `${HEAD}${MISTAKES[name]!.code}\n`]));
  modules.set('fine', FINE);
  found = compileApp(work, modules);
}, 120_000);

afterAll(() => {
  if (work !== '') rmSync(work, { recursive: true, force: true });
});

describe('spec types', () => {
  it('compile what is right: each op with its parameters, each ewm decay, durations as text', () => {
    expect(found.get('fine')).toEqual([]);
  });

  it.each(names)('regression: %s is a compile error (it compiled, and failed only at run time), and still a run-time error in JavaScript', async (name) => {
    const errors = found.get(`mistake${names.indexOf(name)}`)!;
    expect(errors.map((e) => e.line), JSON.stringify(errors)).toEqual([2]);
    await expect(MISTAKES[name]!.run()).rejects.toThrow(/./);
  });
});
