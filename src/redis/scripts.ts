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

/**
 * The commit: fencing first, then every write. Nothing is written unless
 * the lease is held with this token, the checkpoint is still at the id the
 * worker started from, and the output stream ends before the first new id
 * (the first XADD, with an explicit id, is the check: it fails before any
 * write when the id is not after the stream's last; only then is the stream
 * asked for its last id, for the message).
 * KEYS: lease, ckpt, out, and (job formats 2 to 4) the key-group state hash.
 * ARGV: token, lease ms, expected last id, new last id, state ('' for formats
 * 2 and 3: the state goes to the hash; '-' for a commit without state, whose
 * state stays at `stateLast`, the first such commit's expected last id), n,
 * then n entries, each: id, m, m field/value strings; then (formats 2 to 4)
 * g, then g key-group field/value pairs.
 * Returns {1} or {0, reason, detail}.
 */
export const COMMIT = script(
  'commit',
  `if redis.call('GET', KEYS[1]) ~= ARGV[1] then return {0, 'lease', ''} end
local last = redis.call('HGET', KEYS[2], 'last') or '0-0'
if last ~= ARGV[3] then return {0, 'last', last} end
local n = tonumber(ARGV[6])
local i = 7
for j = 1, n do
  local m = tonumber(ARGV[i + 1])
  if j == 1 then
    local added = redis.pcall('XADD', KEYS[3], ARGV[i], unpack(ARGV, i + 2, i + 1 + m))
    if type(added) == 'table' and added.err then
      if not string.find(added.err, 'equal or smaller', 1, true) then return added end
      local info = redis.call('XINFO', 'STREAM', KEYS[3])
      for f = 1, #info, 2 do
        if info[f] == 'last-generated-id' then return {0, 'out', info[f + 1]} end
      end
      return added
    end
  else
    redis.call('XADD', KEYS[3], ARGV[i], unpack(ARGV, i + 2, i + 1 + m))
  end
  i = i + 2 + m
end
if ARGV[5] == '' then
  redis.call('HSET', KEYS[2], 'last', ARGV[4])
  redis.call('HDEL', KEYS[2], 'stateLast')
elseif ARGV[5] == '-' then
  redis.call('HSET', KEYS[2], 'last', ARGV[4])
  redis.call('HSETNX', KEYS[2], 'stateLast', ARGV[3])
else
  redis.call('HSET', KEYS[2], 'last', ARGV[4], 'state', ARGV[5])
end
if KEYS[4] then
  local g = tonumber(ARGV[i])
  -- in slices: unpack has a stack limit
  for from = 0, g - 1, 500 do
    local to = math.min(g, from + 500)
    redis.call('HSET', KEYS[4], unpack(ARGV, i + 1 + 2 * from, i + 2 * to))
  end
end
redis.call('HINCRBY', KEYS[2], 'entries', n)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return {1}`,
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
