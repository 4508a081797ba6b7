// Before any test file: say which system tools are missing, and so which
// tests will fail for it (none is skipped). `npm test` installs them first
// (scripts/provision.mjs); a bare `npx vitest run` does not.
// @ts-expect-error: a plain ESM script without types
import { missingTools } from '../scripts/provision.mjs';

export default function setup(): void {
  const missing = (missingTools() as { name: string }[]).map((t) => t.name);
  if (missing.length > 0) {
    console.warn(`streamkernel tests: ${missing.join(', ')} missing: the Redis or browser tests will fail (none is skipped); 'npm test' installs them, or says how`);
  }
}
