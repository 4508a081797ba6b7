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

  constructor(column: string, available: readonly string[]) {
    super(`unknown column ${JSON.stringify(column)}; available: ${available.map((c) => JSON.stringify(c)).join(', ') || '(none)'}`);
    this.name = 'UnknownColumnError';
    this.column = column;
    this.available = available;
  }
}
