import { describe, expect, it } from 'vitest';
import { buildHash } from '../src/engine.js';
import { sameStateBuild } from '../src/builds.js';
import type { ModuleName } from '../src/spec.js';

// The build of each kernel module whose state layout src/builds.ts was last
// decided for. A kernel change gives a new build hash; without this pin, a
// change that keeps the state layout but forgets to list the build it replaces
// would only show when a user's snapshots are refused as another build.
const DECIDED: Record<Exclude<ModuleName, 'timeroll'>, string> = {
  sum: 'f4d6fab0dcd35a8d',
  minmax: '3c72dc82f63d5578',
  var: '973d257579211b19',
  median: '7fd16439ca7eeab5',
  ewm: '97d8f293e9b4297f',
};

describe('src/builds.ts is kept with the kernels', () => {
  for (const [module, decided] of Object.entries(DECIDED) as [Exclude<ModuleName, 'timeroll'>, string][]) {
    it(`${module}: the build src/builds.ts was last decided for (a kernel change must say whether earlier snapshots still restore)`, () => {
      const current = buildHash(module);
      expect(
        current,
        `the ${module} kernel is a new build (${current}, was ${decided}). If its state layout is unchanged, add '${decided}' to SAME_STATE_BUILDS.${module} in src/builds.ts; ` +
          `if it changed, empty that list (earlier snapshots are then refused as another build). Then set DECIDED.${module} here to '${current}'.`,
      ).toBe(decided);
      expect(sameStateBuild(module, current, current)).toBe(true);
      expect(sameStateBuild(module, '0000000000000000', current)).toBe(false);
    });
  }
});
