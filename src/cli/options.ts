// Option parsing shared by every command's argument parser: tokens → values,
// with one-line UsageErrors (and "did you mean") for mistakes.

import { parseArgs } from 'node:util';
import { parseNumberText } from '../number-text.js';
import { didYouMean } from './help.js';

export const MAX_BATCH_SIZE = 16_777_216;

/** A mistake in the command line: one line on stderr, exit code 1. */
export class UsageError extends Error {
  constructor(
    message: string,
    /** The command whose --help to point at, if any. */
    readonly command?: string,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

export type OptionKind = 'string' | 'boolean';
export type OptionTable = Record<string, { type: OptionKind; short?: string; multiple?: boolean }>;

interface Parsed {
  values: Map<string, string | true>;
  positionals: string[];
  /** Every value of the options that may be given more than once. */
  lists: Map<string, string[]>;
}

/**
 * parseArgs in non-strict mode (so `--min-periods -1` reads -1 as a value,
 * and mistakes get one-line messages of our own), checked token by token.
 */
export function parseOptions(args: string[], options: OptionTable, command?: string): Parsed {
  let tokens;
  try {
    ({ tokens } = parseArgs({ args, options, strict: false, allowPositionals: true, tokens: true }));
  } catch (err) {
    throw new UsageError((err as Error).message.split('\n')[0] ?? 'bad arguments', command);
  }
  const values = new Map<string, string | true>();
  const lists = new Map<string, string[]>();
  const positionals: string[] = [];
  for (const t of tokens) {
    if (t.kind === 'positional') {
      positionals.push(t.value);
    } else if (t.kind === 'option') {
      const def = options[t.name];
      if (def === undefined) {
        const known = Object.keys(options).map((name) => `--${name}`);
        throw new UsageError(`unknown option '${t.rawName}'${didYouMean(t.rawName, known)}`, command);
      }
      const flag = `--${t.name}`;
      if (def.type === 'boolean') {
        if (t.value !== undefined) throw new UsageError(`${flag} takes no value`, command);
        values.set(t.name, true);
      } else {
        if (t.value === undefined) throw new UsageError(`${flag} needs a value`, command);
        if (def.multiple === true) {
          const list = lists.get(t.name) ?? [];
          list.push(t.value);
          lists.set(t.name, list);
        }
        if (values.has(t.name) && def.multiple !== true) throw new UsageError(`${flag} given more than once`, command);
        values.set(t.name, t.value);
      }
    }
  }
  return { values, positionals, lists };
}

export function numberOption(values: Map<string, string | true>, name: string, command: string): number | undefined {
  const raw = values.get(name);
  if (raw === undefined || raw === true) return undefined;
  const v = parseNumberText(raw);
  if (v === undefined || Number.isNaN(v)) {
    throw new UsageError(`--${name} must be a number, got ${JSON.stringify(raw)}`, command);
  }
  return v;
}

export function integerOption(
  values: Map<string, string | true>,
  name: string,
  command: string,
  min: number,
  max: number,
): number | undefined {
  const v = numberOption(values, name, command);
  if (v === undefined) return undefined;
  if (!Number.isInteger(v) || v < min || v > max) {
    const range = max === Infinity ? `an integer >= ${min}` : `an integer from ${min} to ${max}`;
    throw new UsageError(`--${name} must be ${range}, got ${JSON.stringify(values.get(name))}`, command);
  }
  return v;
}

export function checkRange(ok: boolean, name: string, what: string, values: Map<string, string | true>, command: string): void {
  if (!ok) throw new UsageError(`--${name} must be ${what}, got ${JSON.stringify(values.get(name))}`, command);
}
