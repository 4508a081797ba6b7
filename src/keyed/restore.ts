// The rule every keyed operator's restoreGroup follows, in one place: a worker
// restores each of its own key groups at most once, before any row, and any
// refusal of the group's bytes is a CheckpointError naming the group.
import { SnapshotError } from '../errors.js';
import { CheckpointError } from '../scheduler/errors.js';

/**
 * Checks that `group` may be restored now, then runs `load`; a refusal from
 * `load` (its `fail`, or a SnapshotError, TypeError or RangeError from
 * decoding) becomes CheckpointError BAD_STATE. Marks the group restored.
 */
export function restoreGroupState(
  group: number,
  owned: readonly [number, number],
  restored: Set<number>,
  started: boolean,
  load: (fail: (why: string) => never) => void,
): void {
  const fail = (why: string): never => {
    throw new CheckpointError('BAD_STATE', `checkpoint state of key group ${group} is invalid: ${why}`);
  };
  if (group < owned[0] || group >= owned[1]) fail(`key group ${group} is not one of this worker's (${owned[0]} to ${owned[1] - 1})`);
  if (restored.has(group)) fail('restored twice');
  if (started) fail('restored after rows were processed');
  try {
    load(fail);
  } catch (error) {
    if (error instanceof SnapshotError || error instanceof TypeError || error instanceof RangeError) fail(error.message);
    throw error;
  }
  restored.add(group);
}
