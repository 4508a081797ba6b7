// What spec validation shares: how a bad value is shown in an error message,
// and the refusal of fields a spec does not have (a typo like `min_periods`
// must fail, not be ignored).

/** A value as error messages show it: strings quoted, numbers and the like as text, anything else by type. */
export function describe(value: unknown): string {
  if (typeof value === 'string') return `'${value}'`;
  if (typeof value === 'number' || typeof value === 'boolean' || value === undefined || value === null) return String(value);
  return typeof value;
}

/** Throws a TypeError naming the first field of `spec` that is not in `allowed`. */
export function checkFields(spec: object, allowed: readonly string[], what: string): void {
  for (const key of Object.keys(spec)) {
    if (!allowed.includes(key)) throw new TypeError(`unknown field '${key}' in ${what} spec; allowed: ${allowed.join(', ')}`);
  }
}
