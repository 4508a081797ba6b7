// Errors of the connectors (browser-safe).

/**
 * A row the parser refused: a value that is not a number, a field missing,
 * broken quoting or JSON. Its 1-based line number is where the row ends.
 *
 * @example
 * ```ts
 * try { for await (const b of csvSource(text, { value: 'v' })) { … } }
 * catch (e) { if (e instanceof MalformedRowError) console.error(`line ${e.line}: ${e.reason}`); }
 * ```
 */
export class MalformedRowError extends Error {
  /** The 1-based line number (where the row ends). */
  readonly line: number;
  /** What is wrong, without the line number. */
  readonly reason: string;

  constructor(line: number, reason: string) {
    super(`line ${line}: ${reason}`);
    this.name = 'MalformedRowError';
    this.line = line;
    this.reason = reason;
  }
}

/**
 * A column asked for is not in the input; the message lists the columns there are.
 *
 * @example
 * ```ts
 * catch (e) { if (e instanceof UnknownColumnError) console.error(e.available.join(', ')); }
 * ```
 */
export class UnknownColumnError extends Error {
  /** The column asked for. */
  readonly column: string;
  /** The columns the input has. */
  readonly available: readonly string[];

  constructor(column: string, available: readonly string[], message?: string) {
    super(message ?? `unknown column ${JSON.stringify(column)}; available: ${listColumns(available)}`);
    this.name = 'UnknownColumnError';
    this.column = column;
    this.available = available;
  }
}

/** Column names listed in a message: at most this many… */
const LISTED_COLUMNS = 20;
/** …each cut after this many characters, so a huge header cannot flood stderr. */
const LISTED_CHARS = 60;

/** Names for a message: the first few, each cut, and how many more there are. */
export function listColumns(names: readonly string[]): string {
  if (names.length === 0) return '(none)';
  const shown = names.slice(0, LISTED_COLUMNS).map((c) => JSON.stringify(c.length > LISTED_CHARS ? `${c.slice(0, LISTED_CHARS)}…` : c));
  if (names.length > LISTED_COLUMNS) shown.push(`… ${names.length - LISTED_COLUMNS} more`);
  return shown.join(', ');
}

/**
 * A column asked for is named by more than one header field, so which one is
 * meant is unknown. A subclass of {@link UnknownColumnError}: code that
 * handles a bad column choice handles this one too.
 *
 * @example
 * ```ts
 * catch (e) { if (e instanceof AmbiguousColumnError) console.error(e.positions); } // [1, 3]
 * ```
 */
export class AmbiguousColumnError extends UnknownColumnError {
  /** The 1-based positions of the fields with that name. */
  readonly positions: readonly number[];

  constructor(column: string, available: readonly string[], positions: readonly number[]) {
    super(column, available, `ambiguous column ${JSON.stringify(column)}: fields ${positions.join(', ')} of the header all have this name`);
    this.name = 'AmbiguousColumnError';
    this.positions = positions;
  }
}
