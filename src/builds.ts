// Earlier builds of a kernel module whose state regions are the same bytes as
// this build's: the module changed around its state (new exports, a movable
// state pointer), not the state itself. Snapshots and checkpoints of these
// builds restore; any other build is refused (OTHER_BUILD), since its state
// may mean something else. A change to a module's state layout must empty its
// list; a change that keeps the layout adds the build it replaces
// (test/builds.test.ts pins the builds last decided for, so neither is forgotten).
import type { ModuleName } from './spec.js';

const SAME_STATE_BUILDS: Partial<Record<ModuleName, readonly string[]>> = {
  // Before useState/alloc/runKeys (the scheduler's state-pointer ABI).
  ewm: ['692941001de4246c'],
  median: ['375d58b4ae1c075c'],
  minmax: ['530465deba3f318e'],
  // d7ef020e5d2f3a46: before finishRingBlock (kernel.pushValue's block end, issue 20).
  sum: ['c7525df1455ca743', 'd7ef020e5d2f3a46'],
  // 7e00b06323173c27: before finishRingBlock and reshiftRing (kernel.pushValue's block end, issue 20).
  var: ['31eadbf0a65afa63', '7e00b06323173c27'],
};

/** True when state written by build `hash` of `module` restores into `current` (this build's hash). */
export function sameStateBuild(module: ModuleName, hash: string, current: string): boolean {
  return hash === current || (SAME_STATE_BUILDS[module]?.includes(hash) ?? false);
}
