// Command-line parsing: argv → a command to run, or a UsageError.

import { MAX_WINDOW, type EwmOptions, type KernelSpec, type RollingOp, type RollingSpec, type RollingSpecFields } from '../types.js';
import { BENCH_HELP, DEMO_HELP, didYouMean, EWM_HELP, ROLLING_HELP, RUN_HELP, TOP_HELP } from './help.js';
import { parseBench, parseRun, type BenchCommand, type RunCommand } from './run-args.js';
import { checkRange, integerOption, MAX_BATCH_SIZE, numberOption, parseOptions, UsageError, type OptionTable } from './options.js';

export { MAX_BATCH_SIZE, UsageError };

export const DEFAULT_BATCH_SIZE = 65_536;
export const DEFAULT_DEMO_ROWS = 25_000;

export const ROLLING_OPS: readonly RollingOp[] = [
  'sum', 'mean', 'var', 'std', 'min', 'max', 'count', 'median', 'quantile',
];

export type Command =
  | { kind: 'help'; text: string }
  | { kind: 'version' }
  | {
      kind: 'stream';
      /** 'rolling mean', 'ewm mean', … for messages. */
      name: string;
      spec: KernelSpec;
      batchSize: number;
      /** undefined or '-' for stdin. */
      file: string | undefined;
    }
  | { kind: 'demo'; rows: number; batchSize: number }
  | RunCommand
  | BenchCommand;


const HELP = { help: { type: 'boolean', short: 'h' } } as const;
const BATCH = { 'batch-size': { type: 'string' } } as const;

const ROLLING_OPTIONS: OptionTable = {
  window: { type: 'string' },
  'min-periods': { type: 'string' },
  ddof: { type: 'string' },
  q: { type: 'string' },
  ...BATCH,
  ...HELP,
};
const EWM_OPTIONS: OptionTable = {
  alpha: { type: 'string' },
  span: { type: 'string' },
  halflife: { type: 'string' },
  com: { type: 'string' },
  adjust: { type: 'string' },
  'min-periods': { type: 'string' },
  ...BATCH,
  ...HELP,
};
const DEMO_OPTIONS: OptionTable = { rows: { type: 'string' }, ...BATCH, ...HELP };
const TOP_OPTIONS: OptionTable = { version: { type: 'boolean', short: 'v' }, ...HELP };

function fileArgument(rest: string[], command: string): string | undefined {
  if (rest.length > 1) throw new UsageError(`expected at most one FILE, got ${rest.length}: ${rest.map((r) => JSON.stringify(r)).join(' ')}`, command);
  return rest[0];
}

function parseRolling(args: string[]): Command {
  const command = 'rolling';
  const { values, positionals } = parseOptions(args, ROLLING_OPTIONS, command);
  if (values.has('help')) return { kind: 'help', text: ROLLING_HELP };
  const [op, ...rest] = positionals;
  if (op === undefined) throw new UsageError(`missing <op>: one of ${ROLLING_OPS.join(', ')}`, command);
  if (!(ROLLING_OPS as readonly string[]).includes(op)) {
    throw new UsageError(`unknown op ${JSON.stringify(op)}: expected one of ${ROLLING_OPS.join(', ')}${didYouMean(op, ROLLING_OPS)}`, command);
  }
  const rollingOp = op as RollingOp;
  const file = fileArgument(rest, command);

  const window = integerOption(values, 'window', command, 1, MAX_WINDOW);
  if (window === undefined) throw new UsageError('missing --window', command);
  const minPeriods = integerOption(values, 'min-periods', command, 0, window);
  const ddof = integerOption(values, 'ddof', command, 0, MAX_WINDOW);
  const q = numberOption(values, 'q', command);
  const batchSize = integerOption(values, 'batch-size', command, 1, MAX_BATCH_SIZE) ?? DEFAULT_BATCH_SIZE;

  if (ddof !== undefined && rollingOp !== 'var' && rollingOp !== 'std') {
    throw new UsageError(`--ddof applies only to var and std, not ${op}`, command);
  }
  if (rollingOp === 'quantile') {
    if (q === undefined) throw new UsageError('quantile needs --q', command);
    checkRange(q >= 0 && q <= 1, 'q', 'in [0, 1]', values, command);
  } else if (q !== undefined) {
    throw new UsageError(`--q applies only to quantile, not ${op}`, command);
  }

  const spec: RollingSpecFields = { op: rollingOp, window };
  if (minPeriods !== undefined) spec.minPeriods = minPeriods;
  if (ddof !== undefined) spec.ddof = ddof;
  if (q !== undefined) spec.q = q;
  return { kind: 'stream', name: `rolling ${op}`, spec: spec as RollingSpec, batchSize, file }; // checked above, op by op
}

function parseEwm(args: string[]): Command {
  const command = 'ewm';
  const { values, positionals } = parseOptions(args, EWM_OPTIONS, command);
  if (values.has('help')) return { kind: 'help', text: EWM_HELP };
  const [op, ...rest] = positionals;
  if (op === undefined) throw new UsageError('missing <op>: ewm supports mean', command);
  if (op !== 'mean') throw new UsageError(`unknown op ${JSON.stringify(op)}: ewm supports mean`, command);
  const file = fileArgument(rest, command);

  const decays = (['alpha', 'span', 'halflife', 'com'] as const).filter((d) => values.has(d));
  if (decays.length !== 1) {
    const given = decays.length === 0 ? 'none given' : `got ${decays.map((d) => `--${d}`).join(' and ')}`;
    throw new UsageError(`give exactly one of --alpha, --span, --halflife, --com (${given})`, command);
  }
  const decay = decays[0] as 'alpha' | 'span' | 'halflife' | 'com';
  const value = numberOption(values, decay, command) as number;
  const rule = {
    alpha: { ok: value > 0 && value <= 1, what: 'in (0, 1]' },
    span: { ok: value >= 1 && value < Infinity, what: 'a finite number >= 1' },
    halflife: { ok: value > 0 && value < Infinity, what: 'a finite number > 0' },
    com: { ok: value >= 0 && value < Infinity, what: 'a finite number >= 0' },
  }[decay];
  checkRange(rule.ok, decay, rule.what, values, command);

  let adjust: boolean | undefined;
  const rawAdjust = values.get('adjust');
  if (rawAdjust !== undefined) {
    if (rawAdjust === 'true') adjust = true;
    else if (rawAdjust === 'false') adjust = false;
    else throw new UsageError(`--adjust must be true or false, got ${JSON.stringify(rawAdjust)}`, command);
  }
  const minPeriods = integerOption(values, 'min-periods', command, 0, 0x7fffffff);
  const batchSize = integerOption(values, 'batch-size', command, 1, MAX_BATCH_SIZE) ?? DEFAULT_BATCH_SIZE;

  const ewm: EwmOptions & { [d in typeof decay]?: number } = {};
  ewm[decay] = value;
  if (adjust !== undefined) ewm.adjust = adjust;
  if (minPeriods !== undefined) ewm.minPeriods = minPeriods;
  return { kind: 'stream', name: 'ewm mean', spec: { op: 'ewm', ...ewm } as KernelSpec, batchSize, file }; // one decay, set above
}

function parseDemo(args: string[]): Command {
  const command = 'demo';
  const { values, positionals } = parseOptions(args, DEMO_OPTIONS, command);
  if (values.has('help')) return { kind: 'help', text: DEMO_HELP };
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`, command);
  const rows = integerOption(values, 'rows', command, 1_000, 10_000_000) ?? DEFAULT_DEMO_ROWS;
  const batchSize = integerOption(values, 'batch-size', command, 1, MAX_BATCH_SIZE) ?? DEFAULT_BATCH_SIZE;
  return { kind: 'demo', rows, batchSize };
}

const COMMANDS: Record<string, { parse: (args: string[]) => Command; help: string }> = {
  run: { parse: parseRun, help: RUN_HELP },
  bench: { parse: parseBench, help: BENCH_HELP },
  rolling: { parse: parseRolling, help: ROLLING_HELP },
  ewm: { parse: parseEwm, help: EWM_HELP },
  demo: { parse: parseDemo, help: DEMO_HELP },
};

/** Every command, for "did you mean" (worker and produce are dispatched before parsing). */
const COMMAND_NAMES = [...Object.keys(COMMANDS), 'worker', 'produce', 'help'];

/** Turns the arguments after `streamkernel` into a command; throws UsageError. */
export function parseCommand(argv: readonly string[]): Command {
  const [first, ...rest] = argv;
  if (first === undefined) throw new UsageError('missing command: run, rolling, ewm, demo or bench');
  const entry = Object.hasOwn(COMMANDS, first) ? COMMANDS[first] : undefined;
  if (entry !== undefined) return entry.parse(rest);
  if (first === 'help') {
    const [topic, ...extra] = rest;
    if (topic === undefined) return { kind: 'help', text: TOP_HELP };
    const about = Object.hasOwn(COMMANDS, topic) ? COMMANDS[topic] : undefined;
    if (about === undefined || extra.length > 0) {
      throw new UsageError(`help: unknown command ${JSON.stringify(topic)}: expected run, rolling, ewm, demo or bench${didYouMean(topic, Object.keys(COMMANDS))}`);
    }
    return { kind: 'help', text: about.help };
  }
  if (first.startsWith('-')) {
    const { values, positionals } = parseOptions([...argv], TOP_OPTIONS);
    if (values.has('help')) return { kind: 'help', text: TOP_HELP };
    if (values.has('version')) {
      if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
      return { kind: 'version' };
    }
    throw new UsageError(`missing command: run, rolling, ewm, demo or bench`);
  }
  throw new UsageError(`unknown command ${JSON.stringify(first)}: expected run, rolling, ewm, demo or bench${didYouMean(first, COMMAND_NAMES)}`);
}
