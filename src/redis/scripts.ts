// The server-side scripts. Each touches the keys of one partition (one hash
// tag, so one Cluster slot) or one job-level key, and runs atomically.
import { createHash } from 'node:crypto';

/** A Lua script and its SHA-1 (for EVALSHA). */
export interface LuaScript {
  /** A short name for messages (`'acquire'`, `'commit'`, …). */
  readonly name: string;
  /** The Lua source, sent with EVAL when the server does not have the script cached. */
  readonly source: string;
  /** SHA-1 of `source`, 40 lowercase hex digits, for EVALSHA. */
  readonly sha: string;
}

function script(name: string, source: string): LuaScript {
  return { name, source, sha: createHash('sha1').update(source).digest('hex') };
}

/**
 * Takes a partition's lease if it is free (or still held with `prevToken`,
 * when a worker re-adopts a partition after a lost connection). Bumps the
 * partition's epoch; the token is "<epoch>:<worker id>".
 * KEYS: lease, ckpt, and (job formats 2 to 4) the key-group state hash.
 * ARGV: worker id, lease ms, previous token or ''.
 * Returns nil if held by another token, else {token, last id, state, key-group
 * fields and values (formats 2 to 4; else empty), the id the state is at
 * when it lags `last` (formats 3 and 4 with deferred state; else '')}, all read in
 * the same atomic step.
 */
export const ACQUIRE = script(
  'acquire',
  `local cur = redis.call('GET', KEYS[1])
if cur and cur ~= ARGV[3] then return false end
local epoch = redis.call('HINCRBY', KEYS[2], 'epoch', 1)
local token = epoch .. ':' .. ARGV[1]
redis.call('SET', KEYS[1], token, 'PX', ARGV[2])
local st = redis.call('HMGET', KEYS[2], 'last', 'state', 'stateLast')
local groups = {}
if KEYS[3] then groups = redis.call('HGETALL', KEYS[3]) end
return {token, st[1] or '0-0', st[2] or '', groups, st[3] or ''}`,
);

/** Extends a lease held with this token. KEYS: lease. ARGV: token, lease ms. Returns 1, or 0 if lost. */
export const RENEW = script(
  'renew',
  `if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0`,
);

/** Gives a lease back. KEYS: lease. ARGV: token. Returns 1, or 0 if it was not held. */
export const RELEASE = script(
  'release',
  `if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0`,
);

/** What a parked partition's output key holds while its commit's `XADD`s run (see FENCE). */
export const PARKED = 'streamkernel:parked';

/**
 * The first command of a commit's transaction (MULTI/EXEC: PARK, FENCE,
 * the outputs' XADDs, UNPARK): moves the output stream aside (to `park`)
 * and puts a string in its place, so that the XADDs behind it fail unless
 * FENCE puts the stream back. A FENCE that refuses, or fails in any way,
 * leaves them failing: the outputs never pass through Lua (whose string
 * interning hashes every byte: half the commit script's CPU).
 * KEYS: out, park. Returns 1.
 */
export const PARK = script(
  'park',
  `if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('RENAME', KEYS[1], KEYS[2]) end
redis.call('SET', KEYS[1], '${PARKED}')
return 1`,
);

/**
 * The fence of a commit's transaction, and its writes other than the
 * outputs: checks that the lease is held with this token, that `last` is
 * the id the worker started from, and that the output stream (parked) ends
 * before the first new id; only then puts the output stream back (so the
 * XADDs behind it apply) and stores the new `last`, the state, `entries`,
 * and extends the lease.
 * KEYS: lease, ckpt, out, park, and (job formats 2 to 4) the key-group state hash.
 * ARGV: token, lease ms, expected last id, new last id, state (as COMMIT's),
 * n (entries), the first new id, then (formats 2 to 4) g, then g key-group
 * field/value pairs; or '*', the g records as one blob, then g field/length
 * pairs (a large state: see STATE_BLOB_MIN_BYTES in worker.ts).
 * Returns {1} or {0, reason, detail}.
 */
export const FENCE = script(
  'fence',
  `local function after(a, b)
  local am, as = string.match(a, '^(%d+)-(%d+)$')
  local bm, bs = string.match(b, '^(%d+)-(%d+)$')
  if #am ~= #bm then return #am > #bm end
  if am ~= bm then return am > bm end
  if #as ~= #bs then return #as > #bs end
  return as > bs
end
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return {0, 'lease', ''} end
local last = redis.call('HGET', KEYS[2], 'last') or '0-0'
if last ~= ARGV[3] then return {0, 'last', last} end
if redis.call('TYPE', KEYS[3]).ok ~= 'string' or redis.call('GET', KEYS[3]) ~= '${PARKED}' then return {0, 'park', ''} end
local parked = redis.call('EXISTS', KEYS[4]) == 1
if parked and tonumber(ARGV[6]) > 0 then
  local info = redis.call('XINFO', 'STREAM', KEYS[4])
  for f = 1, #info, 2 do
    if info[f] == 'last-generated-id' and not after(ARGV[7], info[f + 1]) then return {0, 'out', info[f + 1]} end
  end
end
redis.call('DEL', KEYS[3])
if parked then redis.call('RENAME', KEYS[4], KEYS[3]) end
if ARGV[5] == '' then
  redis.call('HSET', KEYS[2], 'last', ARGV[4])
  redis.call('HDEL', KEYS[2], 'stateLast')
elseif ARGV[5] == '-' then
  redis.call('HSET', KEYS[2], 'last', ARGV[4])
  redis.call('HSETNX', KEYS[2], 'stateLast', ARGV[3])
else
  redis.call('HSET', KEYS[2], 'last', ARGV[4], 'state', ARGV[5])
end
if KEYS[5] and ARGV[8] == '*' then
  -- the records as one blob, then field/length pairs; HSET in slices (unpack has a stack limit)
  local blob, pos, fv = ARGV[9], 1, {}
  for i = 10, #ARGV, 2 do
    local len = tonumber(ARGV[i + 1])
    fv[#fv + 1] = ARGV[i]
    fv[#fv + 1] = string.sub(blob, pos, pos + len - 1)
    pos = pos + len
    if #fv == 1000 then
      redis.call('HSET', KEYS[5], unpack(fv))
      fv = {}
    end
  end
  if #fv > 0 then redis.call('HSET', KEYS[5], unpack(fv)) end
elseif KEYS[5] then
  local g = tonumber(ARGV[8])
  -- in slices: unpack has a stack limit
  for from = 0, g - 1, 500 do
    local to = math.min(g, from + 500)
    redis.call('HSET', KEYS[5], unpack(ARGV, 9 + 2 * from, 8 + 2 * to))
  end
end
redis.call('HINCRBY', KEYS[2], 'entries', ARGV[6])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return {1}`,
);

/**
 * The last command of a commit's transaction: after a refused or failed
 * FENCE, puts the output stream back (the XADDs in between failed on the
 * string in its place). KEYS: out, park. Returns 1.
 */
export const UNPARK = script(
  'unpark',
  `if redis.call('TYPE', KEYS[1]).ok == 'string' and redis.call('GET', KEYS[1]) == '${PARKED}' then
  redis.call('DEL', KEYS[1])
  if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('RENAME', KEYS[2], KEYS[1]) end
end
return 1`,
);

/**
 * Membership: records a heartbeat (server time) or a leave, forgets workers
 * silent for longer than the TTL, returns the live worker ids.
 * KEYS: members. ARGV: worker id, member TTL ms, '1' to leave.
 */
export const HEARTBEAT = script(
  'heartbeat',
  `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if ARGV[3] == '1' then
  redis.call('ZREM', KEYS[1], ARGV[1])
else
  redis.call('ZADD', KEYS[1], now, ARGV[1])
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
return redis.call('ZRANGE', KEYS[1], 0, -1)`,
);

/**
 * Creates a job, or returns the parameters it already has.
 * KEYS: meta. ARGV: partitions, spec JSON, format. Returns nil if created, else {partitions, spec, format}.
 */
export const CREATE_JOB = script(
  'create-job',
  `local cur = redis.call('HMGET', KEYS[1], 'partitions', 'spec', 'format')
if cur[1] then return cur end
redis.call('HSET', KEYS[1], 'partitions', ARGV[1], 'spec', ARGV[2], 'format', ARGV[3])
return false`,
);
