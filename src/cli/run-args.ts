// `streamkernel run` and `streamkernel bench`: argv → command, or UsageError.

import { parseDuration } from '../time/duration.js';
import { DEFAULT_KEY_GROUPS } from '../scheduler/hash.js';
import { MAX_WINDOW, type EwmStat, type KernelSpec, type RollingOp, type RollingSpecFields, type TimeOp } from '../types.js';
import type { NamedOp, TextFormat } from '../connectors/types.js';
import { checkRange, integerOption, MAX_BATCH_SIZE, numberOption, parseOptions, UsageError, type OptionTable } from './options.js';
import { BENCH_HELP, didYouMean, RUN_HELP } from './help.js';
import { DEFAULT_MAX_DELAY_MS } from './live.js';
import { EWM_STATS } from '../spec.js';

export const RUN_OPS = ['sum', 'mean', 'var', 'std', 'min', 'max', 'count', 'median', 'quantile', 'ewm', 'first', 'last'] as const;
export type RunOp = (typeof RUN_OPS)[number];
export const DEFAULT_RUN_BATCH = 65_536;
export const DEFAULT_CHECKPOINT_EVERY = 1_000_000;

/** A time-window op: a spec for createTimeRolling. */
export interface TimeNamedOp {
  name: string;
  op: TimeOp;
  ddof?: number;
  q?: number;
}

/** Window records (one output row per key and window): the windows of createWindows, durations in ms. */
export type RecordWindows = { kind: 'tumbling'; size: number; offset?: number } | { kind: 'hopping'; size: number; step: number; offset?: number } | { kind: 'session'; gap: number };

/** The flags of the window records, in the order they are named in messages. */
export const RECORD_FLAGS = ['tumbling', 'hopping', 'session'] as const;

export interface RunCommand {
  kind: 'run';
  /** undefined or '-' for stdin. */
  file: string | undefined;
  inputFormat: TextFormat;
  outputFormat: TextFormat;
  value: string;
  time: string | undefined;
  key: string | undefined;
  /** Count-window and ewm ops (when `window.kind` is 'rows'). */
  ops: NamedOp[];
  /** Time-window ops (when `window.kind` is 'time' or 'records'). */
  timeOps: TimeNamedOp[];
  /** Count windows (rows), rolling by duration (time), or window records (--tumbling, --hopping, --session). */
  window: { kind: 'rows'; rows: number } | { kind: 'time'; ms: number; text: string } | { kind: 'records'; windows: RecordWindows; text: string };
  /** Window records: how long after its end a window still takes late rows (--allowed-lateness); undefined when not given. */
  allowedLateness: { ms: number; text: string } | undefined;
  minPeriods: number | undefined;
  closed: 'right' | 'left' | 'both' | 'neither' | undefined;
  /** Time windows: how far (ms) a row may be behind its key's latest time and still be placed in order; 0 when not given. */
  maxOutOfOrder: { ms: number; text: string } | undefined;
  output: string | undefined;
  onError: 'fail' | 'skip';
  delimiter: string;
  batchSize: number;
  checkpoint: string | undefined;
  checkpointEvery: number;
  progress: 'auto' | 'always' | 'never';
  /** stdin: the longest (ms) a row read waits for its result to be written while more input keeps coming; 0 writes after every read. */
  maxDelayMs: number;
  /** Worker threads: 1 runs every op in process; more run them on the parallel scheduler (the same checkpoints either way). */
  workers: number;
  /** --follow: FILE is read as it grows (tail -f) until SIGINT/SIGTERM. */
  follow: boolean;
  /** --idle-timeout: after this long (ms) with no row, rows held for reordering are released as if time had moved on; Infinity: off. */
  idleTimeoutMs: number;
}

export interface BenchCommand {
  kind: 'bench';
  args: string[];
}

const RUN_OPTIONS: OptionTable = {
  value: { type: 'string' },
  time: { type: 'string' },
  key: { type: 'string' },
  op: { type: 'string', multiple: true },
  window: { type: 'string' },
  'min-periods': { type: 'string' },
  ddof: { type: 'string' },
  q: { type: 'string' },
  closed: { type: 'string' },
  'max-out-of-order': { type: 'string' },
  tumbling: { type: 'string' },
  hopping: { type: 'string' },
  step: { type: 'string' },
  offset: { type: 'string' },
  session: { type: 'string' },
  'allowed-lateness': { type: 'string' },
  'max-delay': { type: 'string' },
  'idle-timeout': { type: 'string' },
  follow: { type: 'boolean' },
  alpha: { type: 'string' },
  span: { type: 'string' },
  halflife: { type: 'string' },
  com: { type: 'string' },
  adjust: { type: 'string' },
  'ewm-stat': { type: 'string' },
  format: { type: 'string' },
  'output-format': { type: 'string' },
  output: { type: 'string', short: 'o' },
  'on-error': { type: 'string' },
  delimiter: { type: 'string' },
  'batch-size': { type: 'string' },
  checkpoint: { type: 'string' },
  'checkpoint-every': { type: 'string' },
  progress: { type: 'boolean' },
  workers: { type: 'string' },
  quiet: { type: 'boolean', short: 'q' },
  help: { type: 'boolean', short: 'h' },
};

/** --ewm-stat: which of pandas' ewm statistics op ewm computes (default: the mean). */
function ewmStat(raw: string | true | undefined): EwmStat {
  if (raw === undefined) return 'mean';
  if (raw === true || !(EWM_STATS as readonly string[]).includes(raw)) throw new UsageError(`--ewm-stat must be mean, var or std, got ${JSON.stringify(raw)}`, 'run');
  return raw as EwmStat;
}

function formatOption(raw: string | true | undefined, name: string): TextFormat | undefined {
  if (raw === undefined || raw === true) return undefined;
  if (raw === 'csv' || raw === 'ndjson') return raw;
  if (raw === 'jsonl') return 'ndjson';
  throw new UsageError(`--${name} must be csv or ndjson, got ${JSON.stringify(raw)}`, 'run');
}

function formatOfFile(file: string | undefined): TextFormat {
  return file !== undefined && /\.(ndjson|jsonl)$/i.test(file) ? 'ndjson' : 'csv';
}

/** A duration ≥ 0 with a unit (5s, 250ms; a bare 0 is allowed), for --NAME. */
function durationOption(raw: string, name: string): number {
  let ms: number;
  try {
    ms = /^[0-9.eE+]+$/.test(raw) && Number(raw) !== 0 ? NaN : parseDuration(/^0+$/.test(raw) ? 0 : raw, name);
  } catch (err) {
    throw new UsageError(`--${name} must be a duration such as 5s, 250ms, 1m30s: ${(err as Error).message}`, 'run');
  }
  if (Number.isNaN(ms)) throw new UsageError(`--${name} needs a unit, such as 5s or 250ms, got ${JSON.stringify(raw)}`, 'run');
  return ms;
}

/** A duration > 0 with a unit, for --NAME. */
function positiveDuration(values: Map<string, string | true>, name: string): number | undefined {
  const raw = stringOption(values, name);
  if (raw === undefined) return undefined;
  const ms = durationOption(raw, name);
  if (!(ms > 0)) throw new UsageError(`--${name} must be a duration > 0, got ${JSON.stringify(raw)}`, 'run');
  return ms;
}

/** --tumbling SIZE, --hopping SIZE --step STEP or --session GAP: the window records, or undefined. */
function recordWindows(values: Map<string, string | true>, time: string | undefined, rawWindow: string | undefined): Extract<RunCommand['window'], { kind: 'records' }> | undefined {
  const command = 'run';
  const given = RECORD_FLAGS.filter((f) => values.has(f));
  if (given.length > 1) throw new UsageError(`--${given[0]} and --${given[1]} exclude each other (one window kind per run)`, command);
  const flag = given[0];
  if (values.has('step') && flag !== 'hopping') throw new UsageError('--step applies only to --hopping', command);
  if (values.has('offset') && flag !== 'tumbling' && flag !== 'hopping') throw new UsageError('--offset applies only to --tumbling and --hopping', command);
  if (flag === undefined) {
    if (values.has('allowed-lateness')) throw new UsageError('--allowed-lateness applies only to --tumbling, --hopping and --session', command);
    return undefined;
  }
  if (rawWindow !== undefined) throw new UsageError(`--window and --${flag} exclude each other (--window is a rolling window, one row per input row; --${flag} writes one row per window)`, command);
  if (time === undefined) throw new UsageError(`--${flag} needs --time COLUMN (windows are by event time)`, command);
  const ms = positiveDuration(values, flag) as number;
  if (flag === 'session') return { kind: 'records', windows: { kind: 'session', gap: ms }, text: `--session ${values.get(flag) as string}` };
  const rawOffset = stringOption(values, 'offset');
  const offset = rawOffset === undefined ? 0 : durationOption(rawOffset, 'offset');
  // An offset of 0 is left out, so the windows (part of a checkpoint's fingerprint) are those of earlier versions.
  const shift = offset === 0 ? {} : { offset };
  const text = `--${flag} ${values.get(flag) as string}${offset === 0 ? '' : ` --offset ${rawOffset as string}`}`;
  if (flag === 'tumbling') return { kind: 'records', windows: { kind: 'tumbling', size: ms, ...shift }, text };
  const rawStep = stringOption(values, 'step');
  if (rawStep === undefined) throw new UsageError('--hopping needs --step DURATION (the distance between window starts)', command);
  const step = durationOption(rawStep, 'step');
  if (!(step > 0) || step > ms) throw new UsageError(`--step must be a duration > 0 and at most the --hopping size ${values.get('hopping') as string}, got ${JSON.stringify(rawStep)}`, command);
  return { kind: 'records', windows: { kind: 'hopping', size: ms, step, ...shift }, text: `${text} --step ${rawStep}` };
}

function stringOption(values: Map<string, string | true>, name: string): string | undefined {
  const v = values.get(name);
  if (v === true) throw new UsageError(`--${name} needs a value`, 'run');
  if (v === '') throw new UsageError(`--${name} must not be empty`, 'run');
  return v;
}

/** Parses `streamkernel run …`. */
export function parseRun(args: string[]): RunCommand | { kind: 'help'; text: string } {
  const command = 'run';
  const { values, positionals, lists } = parseOptions(args, RUN_OPTIONS, command);
  if (values.has('help')) return { kind: 'help', text: RUN_HELP };
  if (positionals.length > 1) throw new UsageError(`expected at most one FILE, got ${positionals.length}`, command);
  const file = positionals[0];

  const value = stringOption(values, 'value');
  if (value === undefined) throw new UsageError('missing --value COLUMN (the column of numbers)', command);
  const time = stringOption(values, 'time');
  const key = stringOption(values, 'key');
  const opNames = lists.get('op') ?? [];
  if (opNames.length === 0) throw new UsageError(`missing --op: one or more of ${RUN_OPS.join(', ')}`, command);
  const seen = new Set<string>();
  for (const op of opNames) {
    if (!(RUN_OPS as readonly string[]).includes(op)) throw new UsageError(`unknown op ${JSON.stringify(op)}: expected one of ${RUN_OPS.join(', ')}`, command);
    if (seen.has(op)) throw new UsageError(`--op ${op} given more than once`, command);
    seen.add(op);
  }
  const ops = opNames as RunOp[];
  const rollingOps = ops.filter((o) => o !== 'ewm');

  // The window: rows (an integer) or a duration with a unit (a time window), or window records.
  const rawWindow = stringOption(values, 'window');
  const records = recordWindows(values, time, rawWindow);
  let window: RunCommand['window'] | undefined = records;
  if (records !== undefined) {
    if (ops.includes('ewm')) throw new UsageError(`op ewm runs over rows, not over --${records.windows.kind} windows`, command);
  } else if (rawWindow !== undefined) {
    if (/^[0-9.eE+]+$/.test(rawWindow)) {
      const rows = integerOption(values, 'window', command, 1, MAX_WINDOW) as number;
      window = { kind: 'rows', rows };
    } else {
      let ms: number;
      try {
        ms = parseDuration(rawWindow, 'window');
      } catch (err) {
        throw new UsageError(`--window must be a number of rows or a duration such as 5s, 250ms, 1m30s: ${(err as Error).message}`, command);
      }
      if (!(ms > 0)) throw new UsageError(`--window must be a duration > 0, got ${JSON.stringify(rawWindow)}`, command);
      window = { kind: 'time', ms, text: rawWindow };
    }
  }
  if (rollingOps.length > 0 && window === undefined) throw new UsageError('missing --window (rows, or a duration such as 5s with --time)', command);
  window ??= { kind: 'rows', rows: 1 };
  if (window.kind === 'time') {
    if (time === undefined) throw new UsageError('a time window needs --time COLUMN', command);
    if (ops.includes('ewm')) throw new UsageError('ewm runs over rows, not over a time window', command);
  } else if (window.kind === 'rows') {
    for (const o of ['first', 'last'] as const) if (ops.includes(o)) throw new UsageError(`op ${o} needs a time window (--window 5s --time COLUMN)`, command);
  }
  // A count window bounds --min-periods by its rows; ewm alone has no window (pandas' ewm min_periods: any count).
  const maxPeriods = window.kind === 'rows' && rollingOps.length > 0 ? window.rows : 0x7fffffff;
  const minPeriods = integerOption(values, 'min-periods', command, 0, maxPeriods);
  const ddof = integerOption(values, 'ddof', command, 0, MAX_WINDOW);
  const q = numberOption(values, 'q', command);
  if (ddof !== undefined && !ops.includes('var') && !ops.includes('std')) throw new UsageError('--ddof applies only to var and std', command);
  if (ops.includes('quantile')) {
    if (q === undefined) throw new UsageError('quantile needs --q', command);
    checkRange(q >= 0 && q <= 1, 'q', 'in [0, 1]', values, command);
  } else if (q !== undefined) throw new UsageError('--q applies only to quantile', command);
  const closedRaw = stringOption(values, 'closed');
  let closed: RunCommand['closed'];
  if (closedRaw !== undefined) {
    if (window.kind !== 'time') throw new UsageError('--closed applies only to time windows', command);
    if (!['right', 'left', 'both', 'neither'].includes(closedRaw)) throw new UsageError(`--closed must be right, left, both or neither, got ${JSON.stringify(closedRaw)}`, command);
    closed = closedRaw as RunCommand['closed'];
  }
  const workers = integerOption(values, 'workers', command, 1, DEFAULT_KEY_GROUPS) ?? 1;
  const oooRaw = stringOption(values, 'max-out-of-order');
  let maxOutOfOrder: RunCommand['maxOutOfOrder'];
  if (oooRaw !== undefined) {
    if (window.kind === 'rows') throw new UsageError('--max-out-of-order applies only to time windows (--window 5s --time COLUMN)', command);
    maxOutOfOrder = { ms: durationOption(oooRaw, 'max-out-of-order'), text: oooRaw };
  }
  const latenessRaw = stringOption(values, 'allowed-lateness');
  const allowedLateness = latenessRaw !== undefined ? { ms: durationOption(latenessRaw, 'allowed-lateness'), text: latenessRaw } : undefined;
  const follow = values.has('follow');
  if (follow && (file === undefined || file === '-')) throw new UsageError('--follow needs an input FILE (stdin is live already)', command);
  const idleRaw = stringOption(values, 'idle-timeout');
  let idleTimeoutMs = Infinity;
  if (idleRaw !== undefined) {
    if (maxOutOfOrder === undefined || maxOutOfOrder.ms === 0 || window.kind !== 'time') {
      throw new UsageError('--idle-timeout applies only to time windows with --max-out-of-order (the rows it releases are those held for reordering)', command);
    }
    if (file !== undefined && file !== '-' && !follow) throw new UsageError('--idle-timeout applies only to live input (stdin, or FILE with --follow)', command);
    idleTimeoutMs = durationOption(idleRaw, 'idle-timeout');
    if (idleTimeoutMs === 0) throw new UsageError('--idle-timeout must be above 0', command);
  }
  const maxDelayRaw = stringOption(values, 'max-delay');
  if (maxDelayRaw !== undefined && file !== undefined && file !== '-' && !follow) throw new UsageError('--max-delay applies only to stdin (a FILE is read in full batches)', command);
  const maxDelayMs = maxDelayRaw !== undefined ? durationOption(maxDelayRaw, 'max-delay') : DEFAULT_MAX_DELAY_MS;

  // ewm's decay.
  const decays = (['alpha', 'span', 'halflife', 'com'] as const).filter((d) => values.has(d));
  let ewmSpec: KernelSpec | undefined;
  if (ops.includes('ewm')) {
    if (decays.length !== 1) throw new UsageError('op ewm needs exactly one of --alpha, --span, --halflife, --com', command);
    const decay = decays[0] as 'alpha' | 'span' | 'halflife' | 'com';
    const v = numberOption(values, decay, command) as number;
    const rule = {
      alpha: { ok: v > 0 && v <= 1, what: 'in (0, 1]' },
      span: { ok: v >= 1 && v < Infinity, what: 'a finite number >= 1' },
      halflife: { ok: v > 0 && v < Infinity, what: 'a finite number > 0' },
      com: { ok: v >= 0 && v < Infinity, what: 'a finite number >= 0' },
    }[decay];
    checkRange(rule.ok, decay, rule.what, values, command);
    const adjustRaw = values.get('adjust');
    if (adjustRaw !== undefined && adjustRaw !== 'true' && adjustRaw !== 'false') throw new UsageError(`--adjust must be true or false, got ${JSON.stringify(adjustRaw)}`, command);
    const stat = ewmStat(values.get('ewm-stat'));
    ewmSpec = { op: 'ewm', [decay]: v, ...(adjustRaw !== undefined ? { adjust: adjustRaw === 'true' } : {}), ...(minPeriods !== undefined ? { minPeriods } : {}), ...(stat !== 'mean' ? { stat } : {}) } as KernelSpec; // one decay
  } else if (decays.length > 0 || values.has('adjust')) {
    throw new UsageError('--alpha, --span, --halflife, --com and --adjust apply only to op ewm', command);
  } else if (values.has('ewm-stat')) {
    throw new UsageError('--ewm-stat applies only to op ewm', command);
  }

  const namedOps: NamedOp[] = [];
  const timeOps: TimeNamedOp[] = [];
  for (const op of ops) {
    if (op === 'ewm') {
      // The mean keeps its column name 'ewm'; var and std name theirs ewm_var, ewm_std.
      const stat = (ewmSpec as { stat?: EwmStat }).stat;
      namedOps.push({ name: stat === undefined ? 'ewm' : `ewm_${stat}`, spec: ewmSpec as KernelSpec });
    } else if (window.kind !== 'rows') {
      timeOps.push({
        name: op,
        op,
        ...(ddof !== undefined && (op === 'var' || op === 'std') ? { ddof } : {}),
        ...(op === 'quantile' ? { q: q as number } : {}),
      });
    } else {
      const spec: RollingSpecFields = { op: op as RollingOp, window: window.rows };
      if (minPeriods !== undefined) spec.minPeriods = minPeriods;
      if (ddof !== undefined && (op === 'var' || op === 'std')) spec.ddof = ddof;
      if (op === 'quantile') spec.q = q as number;
      namedOps.push({ name: op, spec: spec as KernelSpec }); // ddof and q checked above, op by op
    }
  }

  const inputFormat = formatOption(values.get('format'), 'format') ?? formatOfFile(file === '-' ? undefined : file);
  const output = stringOption(values, 'output');
  const outputFormat = formatOption(values.get('output-format'), 'output-format') ?? (output !== undefined ? formatOfFile(output) : inputFormat);
  const onErrorRaw = values.get('on-error') ?? 'fail';
  if (onErrorRaw !== 'fail' && onErrorRaw !== 'skip') throw new UsageError(`--on-error must be fail or skip, got ${JSON.stringify(onErrorRaw)}`, command);
  const delimiter = stringOption(values, 'delimiter') ?? ',';
  if (inputFormat !== 'csv' && values.has('delimiter')) throw new UsageError('--delimiter applies only to CSV input', command);
  const batchSize = integerOption(values, 'batch-size', command, 1, MAX_BATCH_SIZE) ?? DEFAULT_RUN_BATCH;
  const checkpoint = stringOption(values, 'checkpoint');
  const checkpointEvery = integerOption(values, 'checkpoint-every', command, 1, Number.MAX_SAFE_INTEGER) ?? DEFAULT_CHECKPOINT_EVERY;
  if (values.has('checkpoint-every') && checkpoint === undefined) throw new UsageError('--checkpoint-every needs --checkpoint DIR', command);
  if (checkpoint !== undefined) {
    if (file === undefined || file === '-') throw new UsageError('--checkpoint needs an input FILE (stdin cannot be read again)', command);
    if (follow) throw new UsageError('--checkpoint does not apply with --follow (a growing FILE is not the input a checkpoint was taken of)', command);
    if (output === undefined) throw new UsageError('--checkpoint needs --output FILE (stdout cannot be truncated on resume)', command);
  }
  if (output !== undefined && file !== undefined && output === file) throw new UsageError('--output must not be the input FILE', command);
  if (values.has('progress') && values.has('quiet')) throw new UsageError('--progress and --quiet exclude each other', command);
  const progress = values.has('progress') ? 'always' : values.has('quiet') ? 'never' : 'auto';

  return {
    kind: 'run',
    file,
    inputFormat,
    outputFormat,
    value,
    time,
    key,
    ops: namedOps,
    timeOps,
    window,
    minPeriods,
    closed,
    maxOutOfOrder,
    allowedLateness,
    output,
    onError: onErrorRaw,
    delimiter,
    batchSize,
    checkpoint,
    checkpointEvery,
    progress,
    maxDelayMs,
    workers,
    follow,
    idleTimeoutMs,
  };
}

/** Parses `streamkernel bench …`: its flags go to the benchmark suite. */
export function parseBench(args: string[]): BenchCommand | { kind: 'help'; text: string } {
  const allowed = new Set(['--quick', '--wall', '--write']);
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a === '--help' || a === '-h') return { kind: 'help', text: BENCH_HELP };
    if (a === '--ops') {
      const v = args[++i];
      if (v === undefined || !/^[a-z,]+$/.test(v)) throw new UsageError('--ops needs a comma-separated list of ops', 'bench');
      out.push('--ops', v);
    } else if (a.startsWith('--ops=')) {
      out.push('--ops', a.slice(6));
    } else if (allowed.has(a)) {
      out.push(a);
    } else {
      throw new UsageError(`unknown option ${JSON.stringify(a)}${didYouMean(a, ['--quick', '--ops', '--wall', '--write', '--help'])}`, 'bench');
    }
  }
  return { kind: 'bench', args: out };
}
