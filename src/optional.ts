// Optional peer dependencies (redis, apache-arrow): loaded only by the parts
// that need them, so `npm install streamkernel` stays lean. A missing one is
// reported as what to install, not as Node's "Cannot find package".

/** Whether `err` is the module resolver failing to find the package `name` itself. */
function isMissing(err: unknown, name: string): boolean {
  if (err === null || typeof err !== 'object') return false;
  const { code, message } = err as { code?: unknown; message?: unknown };
  const text = typeof message === 'string' ? message : '';
  // Node: ERR_MODULE_NOT_FOUND "Cannot find package 'x' imported from …"; bundlers and browsers word it their own
  // way (Chromium: Failed to resolve module specifier "x"; Vite: Could not resolve "x" imported by …).
  return (code === 'ERR_MODULE_NOT_FOUND' || /cannot find|failed to resolve|could not resolve/i.test(text)) && (text.includes(`'${name}'`) || text.includes(`"${name}"`));
}

/**
 * `err` from importing the optional package `name` for `feature`: when the
 * package is not installed, an Error that says so and how to install it
 * (`npm install name`); any other error as it is.
 */
export function optionalImportError(err: unknown, name: string, feature: string): unknown {
  if (!isMissing(err, name)) return err;
  return new Error(`${feature} needs the package '${name}', which is not installed: npm install ${name}`, { cause: err });
}

/**
 * Imports the optional package `name` (through `load`, a literal `import()` so
 * bundlers still see it) for `feature`; if it is not installed, throws an
 * Error that says so and how to install it: `npm install name`.
 */
export async function importOptional<T>(name: string, feature: string, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (err) {
    throw optionalImportError(err, name, feature);
  }
}
