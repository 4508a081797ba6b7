// A commit as one MULTI/EXEC transaction: PARK, FENCE, the outputs' XADDs,
// UNPARK (src/redis/scripts.ts). The outputs go to XADD as they are, not
// through a Lua script: Redis's Lua hashes every byte of every string it is
// given, which was half the commit script's CPU. Each script goes as EVAL
// with its source, so a server that lost its script cache (a restart) runs
// it all the same: an EVALSHA failing with NOSCRIPT inside the transaction
// would have let the XADDs behind it through unfenced. FENCE alone may go as
// EVALSHA once the server has it (`fenceCached`): PARK and UNPARK still go
// with their source, so a FENCE answered NOSCRIPT leaves the string in
// place, every XADD fails and UNPARK puts the stream back, as for a refused
// FENCE; the caller gets the NOSCRIPT error (the commit was not applied).
// FENCE's source is 2.1 KB of a commit's ~3 KB of scripts: 16 partitions'
// commits on one connection were more than redis-server reads per round of
// its event loop (each round ending in an fsync under appendfsync always),
// so the last partitions' commits waited a round more (issue 20).
import type { RedisArgument } from 'redis';
import type { RedisConnection } from './config.js';
import type { JobKeys } from './keys.js';
import { FENCE, PARK, UNPARK, type LuaScript } from './scripts.js';

/** FENCE's reply: [1], or [0, reason, detail]. */
export type CommitReply = [number, string?, string?];

const evalArgs = (script: LuaScript, keys: string[], args: readonly RedisArgument[] = [], cached = false): RedisArgument[] => [
  ...(cached ? ['EVALSHA', script.sha] : ['EVAL', script.source]),
  String(keys.length),
  ...keys,
  ...args,
];

/**
 * Commits partition `p`: `fence` is FENCE's ARGV, `outputs` the entries
 * (id, m, m field/value strings, …). Resolves to FENCE's reply; rejects when
 * the transaction's outcome is unknown (the connection failed), or when an
 * XADD failed behind a FENCE that let it through (nothing else writes there).
 * With `fenceCached` (the server ran FENCE for this partition before), FENCE
 * goes as EVALSHA; a server that lost it rejects with its NOSCRIPT error,
 * and nothing was applied.
 */
export async function commitTransaction(
  conn: RedisConnection,
  keys: JobKeys,
  p: number,
  withStateHash: boolean,
  fence: readonly RedisArgument[],
  outputs: readonly RedisArgument[],
  fenceCached = false,
): Promise<CommitReply> {
  const [out, park] = [keys.output(p), keys.park(p)];
  const commands = [evalArgs(PARK, [out, park]), evalArgs(FENCE, [keys.lease(p), keys.checkpoint(p), out, park, ...(withStateHash ? [keys.state(p)] : [])], fence, fenceCached)];
  for (let i = 0; i < outputs.length; ) {
    const m = Number(outputs[i + 1]);
    commands.push(['XADD', out, outputs[i]!, ...outputs.slice(i + 2, i + 2 + m)]);
    i += 2 + m;
  }
  commands.push(evalArgs(UNPARK, [out, park]));
  const replies = await conn.transaction(commands);
  const reply = replies[1];
  if (reply instanceof Error) throw reply;
  const failed = replies.find((r) => r instanceof Error);
  if ((reply as CommitReply)[0] === 1 && failed !== undefined) throw new Error(`an output XADD failed inside a fenced commit of ${out}: ${(failed as Error).message}`);
  return reply as CommitReply;
}
