// `streamkernel run --tumbling | --hopping --step | --session`: window
// records, one row per (key, window). The library's pandas resample fixtures
// and seeded disordered data go through the CLI at --workers 1|2|3 and two
// batch sizes: the bytes must be the same every time, and equal to the
// library's createWindows (windowsByTime) output, order included.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { windowsByTime } from '../src/time/windows.js';
import type { TimeOp, WindowResult, WindowSpec } from '../src/types.js';
import { mulberry32 as rng } from './adversarial.js';
import { runCli } from './cli-harness.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'sk-cli-windows-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const cli = (args: readonly string[], input?: string) => runCli(args, { cwd: dir, ...(input !== undefined ? { input } : {}) });
const file = (name: string, content: string): string => {
  const p = path.join(dir, name);
  writeFileSync(p, content);
  return p;
};

type Num = number | string;
interface Data {
  ts: number[];
  v: Num[];
  key?: number[];
}
const fixture = JSON.parse(readFileSync(new URL('./fixtures/time-resample.json', import.meta.url), 'utf8')) as { unkeyed: Data; keyed: Data };
const dec = (x: Num): number => (typeof x === 'number' ? x : Number(x));

/** Rows as the CLI reads them: `t,k,v` (k: the key as text, v: empty for NaN). */
interface Rows {
  ts: number[];
  keys: string[] | undefined;
  values: number[];
}
const csvOf = (r: Rows): string =>
  `t,k,v\n${r.ts.map((t, i) => `${t},${r.keys?.[i] ?? 'x'},${Number.isNaN(r.values[i]) ? '' : String(r.values[i])}`).join('\n')}\n`;
const rowsOf = (d: Data): Rows => ({ ts: d.ts, keys: d.key?.map(String), values: d.v.map(dec) });

const OPS: TimeOp[] = ['sum', 'mean', 'count', 'min', 'max', 'var', 'std', 'median', 'quantile', 'first', 'last'];

/** What the CLI must write: the library's windows (string keys: ids in order of first appearance, as the CLI's), one column per op. */
async function expected(rows: Rows, window: object, ops: TimeOp[], extra: { maxOutOfOrderness?: number; allowedLateness?: number } = {}): Promise<{ csv: string; late: number }> {
  const outs: WindowResult[][] = [];
  let late = 0;
  for (const op of ops) {
    const spec = { ...window, op, keys: rows.keys !== undefined ? 'string' : 'none', ...extra, ...(op === 'quantile' ? { q: 0.25 } : {}) } as WindowSpec;
    const out = await windowsByTime(rows.ts, rows.values, spec, rows.keys);
    outs.push(out.windows);
    late = out.late.length;
  }
  const first = outs[0] as WindowResult[];
  const update = extra.allowedLateness !== undefined;
  const header = [...(rows.keys !== undefined ? ['k'] : []), 'window_start', 'window_end', ...(update ? ['update'] : []), ...ops].join(',');
  const lines = first.map((w, i) =>
    [...(rows.keys !== undefined ? [String(w.key)] : []), String(w.start), String(w.end), ...(update ? [String(w.update)] : []), ...outs.map((o) => String((o[i] as WindowResult).value))].join(','),
  );
  return { csv: `${header}\n${lines.map((l) => `${l}\n`).join('')}`, late };
}

/** The CLI's flags of a window and its ops. */
const opArgs = (ops: TimeOp[]): string[] => [...ops.flatMap((o) => ['--op', o]), ...(ops.includes('quantile') ? ['--q', '0.25'] : [])];

/** Runs the command at --workers 1, 2, 3 and --batch-size 7 and 65536: every run must exit 0 with the same stdout, which is returned. */
async function sameBytes(args: string[]): Promise<{ stdout: string; stderr: string }> {
  let first: { stdout: string; stderr: string } | undefined;
  for (const workers of ['1', '2', '3']) {
    for (const batch of ['7', '65536']) {
      const r = await cli([...args, '--workers', workers, '--batch-size', batch]);
      expect(r.code, `${args.join(' ')} --workers ${workers} --batch-size ${batch}: ${r.stderr}`).toBe(0);
      if (first === undefined) first = r;
      else expect(r.stdout, `--workers ${workers} --batch-size ${batch}`).toBe(first.stdout);
    }
  }
  return first as { stdout: string; stderr: string };
}

describe('run --tumbling/--hopping/--session: the library fixtures through the CLI', () => {
  const KINDS: { name: string; flags: string[]; window: object }[] = [
    { name: 'tumbling 1s', flags: ['--tumbling', '1s'], window: { kind: 'tumbling', size: 1000 } },
    { name: 'tumbling 1m', flags: ['--tumbling', '1m'], window: { kind: 'tumbling', size: 60_000 } },
    { name: 'hopping 5s step 2s', flags: ['--hopping', '5s', '--step', '2s'], window: { kind: 'hopping', size: 5000, step: 2000 } },
    { name: 'session 1500ms', flags: ['--session', '1500ms'], window: { kind: 'session', gap: 1500 } },
    { name: 'tumbling 1s offset 250ms', flags: ['--tumbling', '1s', '--offset', '250ms'], window: { kind: 'tumbling', size: 1000, offset: 250 } },
    { name: 'hopping 5s step 2s offset 1s', flags: ['--hopping', '5s', '--step', '2s', '--offset', '1s'], window: { kind: 'hopping', size: 5000, step: 2000, offset: 1000 } },
  ];
  for (const keyed of [false, true]) {
    for (const kind of KINDS) {
      it(`${keyed ? 'keyed' : 'unkeyed'} ${kind.name}, every op: the library's windows, the same bytes at --workers 1|2|3 and two batch sizes`, async () => {
        const rows = rowsOf(keyed ? fixture.keyed : fixture.unkeyed);
        const input = file(`fixture-${keyed}-${kind.name.replace(/\W/g, '-')}.csv`, csvOf(rows));
        const { stdout } = await sameBytes(['run', input, '--time', 't', '--value', 'v', ...(keyed ? ['--key', 'k'] : []), ...opArgs(OPS), ...kind.flags]);
        expect(stdout).toBe((await expected(rows, kind.window, OPS)).csv);
      }, 120_000);
    }
  }
});

describe('run window records over disordered data (--max-out-of-order, --allowed-lateness)', () => {
  /** Seeded rows of 5 keys, up to 3 s of jitter, some NaN. */
  function disordered(seed: number, n: number): Rows {
    const r = rng(seed);
    const rows: Rows = { ts: [], keys: [], values: [] };
    for (let i = 0; i < n; i++) {
      rows.ts.push(1_700_000_000_000 + i * 100 + Math.floor(r() * 3000));
      rows.keys?.push(`s${Math.floor(r() * 5)}`);
      rows.values.push(r() < 0.05 ? NaN : Math.round((r() - 0.5) * 2000) / 8);
    }
    return rows;
  }
  const rows = disordered(3, 2000);
  const ops: TimeOp[] = ['mean', 'max', 'count', 'last'];
  const cases: { name: string; flags: string[]; window: object }[] = [
    { name: 'tumbling 2s', flags: ['--tumbling', '2s'], window: { kind: 'tumbling', size: 2000 } },
    { name: 'hopping 3s step 1s', flags: ['--hopping', '3s', '--step', '1s'], window: { kind: 'hopping', size: 3000, step: 1000 } },
    { name: 'session 250ms', flags: ['--session', '250ms'], window: { kind: 'session', gap: 250 } },
  ];
  for (const c of cases) {
    it(`${c.name}: updates (update column) and late rows counted, as the library, the same bytes for any workers and batch size`, async () => {
      const input = file(`disordered-${c.name.replace(/\W/g, '-')}.csv`, csvOf(rows));
      const want = await expected(rows, c.window, ops, { maxOutOfOrderness: 1000, allowedLateness: 1000 });
      expect(want.late).toBeGreaterThan(0);
      expect(want.csv).toContain(',true,');
      const args = ['run', input, '--time', 't', '--value', 'v', '--key', 'k', ...opArgs(ops), ...c.flags, '--max-out-of-order', '1s', '--allowed-lateness', '1s', '--on-error', 'skip', '--progress'];
      const { stdout, stderr } = await sameBytes(args);
      expect(stdout).toBe(want.csv);
      expect(stderr).toContain(`${want.late.toLocaleString('en-US')} late row`);
    }, 120_000);
  }

  it('a late row with --on-error fail: exit 2 naming its line, key and time', async () => {
    const input = file('late.csv', 't,k,v\n1000,a,1\n61000,a,2\n2000,b,3\n5000,a,4\n');
    const r = await cli(['run', input, '--time', 't', '--value', 'v', '--key', 'k', '--op', 'sum', '--tumbling', '1m']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `streamkernel run: ${JSON.stringify(input)}: line 4: time 2000 of key "b" is late: its window ended more than --allowed-lateness 0 before the watermark (the latest time − --max-out-of-order 0); --on-error skip counts such rows\n`,
    );
    for (const workers of ['2', '3']) {
      const w = await cli(['run', input, '--time', 't', '--value', 'v', '--key', 'k', '--op', 'sum', '--tumbling', '1m', '--workers', workers]);
      expect(w.code, w.stderr).toBe(2);
      expect(w.stderr).toBe(r.stderr);
    }
  }, 60_000);
});

describe('run window records: format', () => {
  it('keeps ISO 8601 times ISO, numbers numbers; NDJSON has one object per window; the update column only with --allowed-lateness', async () => {
    const iso = file('iso.csv', 'ts,sensor,temp\n2024-03-01T10:00:05Z,a,1.5\n2024-03-01T10:00:50Z,b,2\n2024-03-01T10:01:10Z,a,3\n2024-03-01T10:00:59Z,a,4\n');
    const args = ['run', iso, '--time', 'ts', '--key', 'sensor', '--value', 'temp', '--op', 'mean', '--op', 'max', '--tumbling', '1m'];
    const csv = await cli([...args, '--allowed-lateness', '30s']);
    expect(csv).toEqual({
      code: 0,
      signal: null,
      stderr: '',
      stdout: [
        'sensor,window_start,window_end,update,mean,max',
        'a,2024-03-01T10:00:00.000Z,2024-03-01T10:01:00.000Z,false,1.5,1.5',
        'b,2024-03-01T10:00:00.000Z,2024-03-01T10:01:00.000Z,false,2,2',
        'a,2024-03-01T10:00:00.000Z,2024-03-01T10:01:00.000Z,true,2.75,4',
        'a,2024-03-01T10:01:00.000Z,2024-03-01T10:02:00.000Z,false,3,3',
        '',
      ].join('\n'),
    });
    const nd = await cli([...args, '--output-format', 'ndjson', '--on-error', 'skip', '--quiet']);
    expect(nd.code, nd.stderr).toBe(0);
    expect(nd.stdout).toBe(
      [
        '{"sensor":"a","window_start":"2024-03-01T10:00:00.000Z","window_end":"2024-03-01T10:01:00.000Z","mean":1.5,"max":1.5}',
        '{"sensor":"b","window_start":"2024-03-01T10:00:00.000Z","window_end":"2024-03-01T10:01:00.000Z","mean":2,"max":2}',
        '{"sensor":"a","window_start":"2024-03-01T10:01:00.000Z","window_end":"2024-03-01T10:02:00.000Z","mean":3,"max":3}',
        '',
      ].join('\n'),
    );
    const ms = file('ms.ndjson', '{"t":0,"v":1}\n{"t":1500,"v":null}\n{"t":2500,"v":4}\n');
    const r = await cli(['run', ms, '--time', 't', '--value', 'v', '--op', 'sum', '--op', 'count', '--tumbling', '1s']);
    expect(r.stdout).toBe('{"window_start":0,"window_end":1000,"sum":1,"count":1}\n{"window_start":1000,"window_end":2000,"sum":0,"count":0}\n{"window_start":2000,"window_end":3000,"sum":4,"count":1}\n');
  }, 60_000);

  it('refuses bad window flags with exact usage errors (exit 1)', async () => {
    const input = file('usage.csv', 't,v\n0,1\n');
    const base = ['run', input, '--value', 'v', '--op', 'mean'];
    const cases: [string[], string][] = [
      [['--tumbling', '1m'], '--tumbling needs --time COLUMN (windows are by event time)'],
      [['--time', 't', '--tumbling', '1m', '--session', '5m'], '--tumbling and --session exclude each other (one window kind per run)'],
      [['--time', 't', '--tumbling', '1m', '--step', '10s'], '--step applies only to --hopping'],
      [['--time', 't', '--step', '10s', '--window', '5s'], '--step applies only to --hopping'],
      [['--time', 't', '--hopping', '1m'], '--hopping needs --step DURATION (the distance between window starts)'],
      [['--time', 't', '--hopping', '1m', '--step', '2m'], '--step must be a duration > 0 and at most the --hopping size 1m, got "2m"'],
      [['--time', 't', '--hopping', '1m', '--step', '0'], '--step must be a duration > 0 and at most the --hopping size 1m, got "0"'],
      [['--time', 't', '--tumbling', '0s'], '--tumbling must be a duration > 0, got "0s"'],
      [['--time', 't', '--window', '5s', '--tumbling', '1m'], '--window and --tumbling exclude each other (--window is a rolling window, one row per input row; --tumbling writes one row per window)'],
      [['--time', 't', '--window', '5s', '--allowed-lateness', '1s'], '--allowed-lateness applies only to --tumbling, --hopping and --session'],
      [['--time', 't', '--session', '5m', '--op', 'ewm', '--span', '3'], 'op ewm runs over rows, not over --session windows'],
      [['--time', 't', '--session', '5m', '--closed', 'left'], '--closed applies only to time windows'],
      [['--time', 't', '--session', '5m', '--offset', '1m'], '--offset applies only to --tumbling and --hopping'],
      [['--time', 't', '--window', '5s', '--offset', '1m'], '--offset applies only to --tumbling and --hopping'],
      [['--time', 't', '--tumbling', '1h', '--offset', '15'], '--offset needs a unit, such as 5s or 250ms, got "15"'],
    ];
    for (const [extra, message] of cases) {
      const r = await cli([...base, ...extra]);
      expect(r.stderr, extra.join(' ')).toBe(`streamkernel run: ${message} (see 'streamkernel run --help')\n`);
      expect(r.code).toBe(1);
    }
  }, 60_000);
});
