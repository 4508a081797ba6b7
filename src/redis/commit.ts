// A commit as one MULTI/EXEC transaction: PARK, FENCE, the outputs' XADDs,
// UNPARK (src/redis/scripts.ts). The outputs go to XADD as they are, not
// through a Lua script: Redis's Lua hashes every byte of every string it is
// given, which was half the commit script's CPU. Each script goes as EVAL
// with its source, so a server that lost its script cache (a restart) runs
// it all the same: an EVALSHA failing with NOSCRIPT inside the transaction
// would have let the XADDs behind it through unfenced.
import type { RedisArgument } from 'redis';
import type { RedisConnection } from './config.js';
import type { JobKeys } from './keys.js';
import { FENCE, PARK, UNPARK, type LuaScript } from './scripts.js';

/** FENCE's reply: [1], or [0, reason, detail]. */
export type CommitReply = [number, string?, string?];

const evalArgs = (script: LuaScript, keys: string[], args: readonly RedisArgument[] = []): RedisArgument[] => ['EVAL', script.source, String(keys.length), ...keys, ...args];

/**
 * Commits partition `p`: `fence` is FENCE's ARGV, `outputs` the entries
 * (id, m, m field/value strings, …). Resolves to FENCE's reply; rejects when
 * the transaction's outcome is unknown (the connection failed), or when an
 * XADD failed behind a FENCE that let it through (nothing else writes there).
 */
export async function commitTransaction(conn: RedisConnection, keys: JobKeys, p: number, withStateHash: boolean, fence: readonly RedisArgument[], outputs: readonly RedisArgument[]): Promise<CommitReply> {
  const [out, park] = [keys.output(p), keys.park(p)];
  const commands = [evalArgs(PARK, [out, park]), evalArgs(FENCE, [keys.lease(p), keys.checkpoint(p), out, park, ...(withStateHash ? [keys.state(p)] : [])], fence)];
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
