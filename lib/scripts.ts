// The Lua scripts: every operation that touches more than one key runs as one of these, atomically.
import type { Cluster, Redis } from 'ioredis';
import { RANDOM_LENGTH } from './keys.js';
import { HEADER_LENGTH, STAMP_LENGTH } from './value.js';

/*
 * Conventions, shared by every script:
 * - KEYS holds every key known before the script runs, so ioredis applies `keyPrefix` and routes
 *   by slot. Keys that depend on the epoch read inside the script are built from the user's base
 *   `<prefix>{<tag>}:`, also passed in KEYS; they carry the same hash tag, so they live in the same
 *   Cluster slot (invariant 7).
 * - The epoch is the first RANDOM_LENGTH characters of the epoch key's value.
 * - Writes to a signed-in session are conditional on the epoch the request read (invariant 2):
 *   a request that loaded a session before a rotation can never write it back.
 * - Every key written gets a TTL, and the epoch key and registry are extended to outlive the
 *   session just written (invariant 4).
 */
const EPOCH = `string.sub(epochValue, 1, ${RANDOM_LENGTH})`;

const EXTEND = `
local function extend(key, ttl)
  if redis.call('PTTL', key) < ttl then redis.call('PEXPIRE', key, ttl) end
end`;

/**
 * Read a signed-in session. KEYS: epoch, base, session reason, rotation reason.
 * ARGV: handle, now (ms), last-seen throttle in ms (0: registry off), now as a header stamp.
 * Reply: {1, epochValue, value, pttl} or {0, sessionReason|false, rotationReason|false}.
 */
const readUser = `
local epochValue = redis.call('GET', KEYS[1])
if epochValue then
  local key = KEYS[2] .. ${EPOCH} .. ':' .. ARGV[1]
  local value = redis.call('GET', key)
  if value then
    local pttl = redis.call('PTTL', key)
    local throttle = tonumber(ARGV[3])
    -- 123 is '{': values without a registry header carry no last-seen stamp.
    if throttle > 0 and string.byte(value, 1) ~= 123 then
      local seen = tonumber(string.sub(value, 1, ${STAMP_LENGTH}), 36)
      -- The stamp is in whole seconds: count from the end of its second, so that a refresh never
      -- comes sooner than the throttle.
      if seen and tonumber(ARGV[2]) - (seen + 1) * 1000 >= throttle then
        -- pcall: a full Redis (noeviction) must not turn a read into a failure over "last seen".
        redis.pcall('SETRANGE', key, 0, ARGV[4])
      end
    end
    return {1, epochValue, value, pttl}
  end
end
return {0, redis.call('GET', KEYS[3]), redis.call('GET', KEYS[4])}`;

/** Read an anonymous session. KEYS: session. Reply: {value, pttl} or false. */
const readAnonymous = `
local value = redis.call('GET', KEYS[1])
if not value then return false end
return {value, redis.call('PTTL', KEYS[1])}`;

/**
 * Take a legacy (koa-redis, connect-redis) session out of its old key: read it and delete it in
 * one step, so a moved legacy key can never be used again. KEYS: legacy key.
 * Reply: {value, pttl}, or false when there is no string under that key.
 */
const takeLegacy = `
-- Only a string can be a legacy session: anything else is another application's key, left alone.
if redis.call('TYPE', KEYS[1]).ok ~= 'string' then return false end
local value = redis.call('GET', KEYS[1])
local pttl = redis.call('PTTL', KEYS[1])
redis.call('DEL', KEYS[1])
return {value, pttl}`;

/**
 * Write a signed-in session. KEYS: epoch, base, registry, devices.
 * ARGV: mode ('create' | 'update' | 'touch'), epoch read by the request, handle, value ('' for touch),
 * ttl, registry score ('' when the registry is off), now, device reference, device value ('' for none).
 * 'update' and 'touch' need the key to exist, so a revoked or logged-out session stays dead;
 * 'create' (regenerate) needs it not to. Reply: 1 written, 0 refused.
 */
const writeUser = `${EXTEND}
local epochValue = redis.call('GET', KEYS[1])
if not epochValue or ${EPOCH} ~= ARGV[2] then return 0 end
local key = KEYS[2] .. ARGV[2] .. ':' .. ARGV[3]
local ttl = tonumber(ARGV[5])
local mode = ARGV[1]
if mode == 'touch' then
  if redis.call('PEXPIRE', key, ttl) == 0 then return 0 end
elseif mode == 'update' then
  if not redis.call('SET', key, ARGV[4], 'PX', ttl, 'XX') then return 0 end
else
  if not redis.call('SET', key, ARGV[4], 'PX', ttl, 'NX') then return 0 end
end
extend(KEYS[1], ttl)
if ARGV[6] ~= '' then
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', ARGV[7])
  redis.call('ZADD', KEYS[3], ARGV[6], ARGV[3])
  extend(KEYS[3], ttl)
  if ARGV[9] ~= '' then redis.call('HSET', KEYS[4], ARGV[8], ARGV[9]) end
  extend(KEYS[4], ttl)
end
return 1`;

/**
 * End one signed-in session (logout, destroy, revoke). KEYS: epoch, base, registry, session reason.
 * ARGV: handle, reason value ('' records none). Reply: 1 if the session existed, else 0.
 */
const endUser = `
redis.call('ZREM', KEYS[3], ARGV[1])
local epochValue = redis.call('GET', KEYS[1])
if not epochValue then return 0 end
local key = KEYS[2] .. ${EPOCH} .. ':' .. ARGV[1]
local left = redis.call('PTTL', key)
if left < 0 then return 0 end
redis.call('DEL', key)
-- The reason lives exactly as long as the cookie of the ended session could still be presented.
-- pcall: the session is already ended; a full Redis may refuse the note, never the revocation.
if ARGV[2] ~= '' then redis.pcall('SET', KEYS[4], ARGV[2], 'PX', left) end
return 1`;

/**
 * Sign a user out everywhere: one write, whatever the number of sessions. KEYS: epoch, rotation
 * reason. ARGV: reason value. Only the epoch key goes: the registry and device hash stay, and the
 * scripts that read them (list, a login under maxSessions) drop every entry whose session is not
 * under the current epoch. Dropping a 100,000-entry registry here, even with UNLINK, made rotate
 * grow with the user's sessions (docs/benchmarks.md). Reply: 1 if the user had an epoch, else 0.
 */
const rotate = `
local horizon = redis.call('PTTL', KEYS[1])
redis.call('UNLINK', KEYS[1])
if horizon == -2 then return 0 end
-- pcall: the rotation is done; a full Redis may refuse the reason, never the revocation.
if horizon > 0 then redis.pcall('SET', KEYS[2], ARGV[1], 'PX', horizon) end
return 1`;

/**
 * Sign in: bind a new session to the user's current epoch, creating the epoch if there is none,
 * and enforce the concurrent-session limit in the same atomic step.
 * KEYS: epoch, base, registry, devices.
 * ARGV: fresh epoch value (used only when the user has none), handle, value, ttl, now,
 *   registry on ('1' | '0'), maxSessions (0: no limit), policy ('evict-oldest' | 'reject'),
 *   handle of the user's previous session to end ('' for none), reason value for evictions,
 *   device reference, device value.
 * Reply: {1, epochValue, {evicted handles}} or {0, live session count} when the limit refused it.
 */
const login = `${EXTEND}
local ttl = tonumber(ARGV[4])
local now = tonumber(ARGV[5])
local epochValue = redis.call('GET', KEYS[1])
if not epochValue then
  epochValue = ARGV[1]
  redis.call('SET', KEYS[1], epochValue, 'PX', ttl)
  -- A new epoch: whatever the registry lists (left by a rotate, or by a lost epoch key) is dead.
  redis.call('UNLINK', KEYS[3], KEYS[4])
end
local session = KEYS[2] .. ${EPOCH} .. ':'
if ARGV[9] ~= '' then
  redis.call('DEL', session .. ARGV[9])
  redis.call('ZREM', KEYS[3], ARGV[9])
end
local evicted = {}
if ARGV[6] == '1' then
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
  local limit = tonumber(ARGV[7])
  if limit > 0 then
    -- Entries whose session is gone (ended elsewhere, evicted by Redis) must not count.
    for _, handle in ipairs(redis.call('ZRANGE', KEYS[3], 0, -1)) do
      if redis.call('EXISTS', session .. handle) == 0 then redis.call('ZREM', KEYS[3], handle) end
    end
    local count = redis.call('ZCARD', KEYS[3])
    if count >= limit then
      if ARGV[8] == 'reject' then return {0, count} end
      -- The lowest score expires first: the least recently active session.
      for _, handle in ipairs(redis.call('ZRANGE', KEYS[3], 0, count - limit)) do
        local key = session .. handle
        local left = redis.call('PTTL', key)
        redis.call('DEL', key)
        redis.call('ZREM', KEYS[3], handle)
        if left > 0 then redis.call('SET', KEYS[2] .. 'x:' .. handle, ARGV[10], 'PX', left) end
        evicted[#evicted + 1] = handle
      end
    end
  end
end
if not redis.call('SET', session .. ARGV[2], ARGV[3], 'PX', ttl, 'NX') then
  return redis.error_reply('koa-epoch-session: session id collision')
end
extend(KEYS[1], ttl)
if ARGV[6] == '1' then
  redis.call('ZADD', KEYS[3], now + ttl, ARGV[2])
  extend(KEYS[3], ttl)
  redis.call('HSET', KEYS[4], ARGV[11], ARGV[12])
  extend(KEYS[4], ttl)
end
return {1, epochValue, evicted}`;

/**
 * Sign out every other device: rotate the epoch and re-key the caller's session under it, in one
 * step, so no other session survives and the caller's old sid dies too (invariant 6).
 * KEYS: epoch, base, registry, rotation reason, devices.
 * ARGV: epoch read by the request, current handle, fresh epoch value, new handle, value, ttl,
 *   registry score ('' when off), reason value, device reference, device value.
 * Reply: 1 done, 0 the caller's own session was already revoked.
 */
const logoutOthers = `
local epochValue = redis.call('GET', KEYS[1])
if not epochValue or ${EPOCH} ~= ARGV[1] then return 0 end
local current = KEYS[2] .. ARGV[1] .. ':' .. ARGV[2]
if redis.call('EXISTS', current) == 0 then return 0 end
local horizon = redis.call('PTTL', KEYS[1])
local ttl = tonumber(ARGV[6])
redis.call('DEL', current)
redis.call('UNLINK', KEYS[3], KEYS[5])
epochValue = ARGV[3]
redis.call('SET', KEYS[1], epochValue, 'PX', ttl)
redis.call('SET', KEYS[2] .. ${EPOCH} .. ':' .. ARGV[4], ARGV[5], 'PX', ttl, 'NX')
if ARGV[7] ~= '' then
  redis.call('ZADD', KEYS[3], ARGV[7], ARGV[4])
  redis.call('PEXPIRE', KEYS[3], ttl)
  redis.call('HSET', KEYS[5], ARGV[9], ARGV[10])
  redis.call('PEXPIRE', KEYS[5], ttl)
end
if horizon > 0 then redis.call('SET', KEYS[4], ARGV[8], 'PX', horizon) end
return 1`;

/**
 * The device list. KEYS: epoch, base, registry, devices. ARGV: now.
 * Prunes expired and vanished entries, and devices no live session refers to, as it goes.
 * Reply: {handle, header, pttl, device, ...} flattened, where header is the value's fixed-width
 * header (times and device reference): metadata only, never session data.
 */
const list = `
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', ARGV[1])
local epochValue = redis.call('GET', KEYS[1])
if not epochValue then
  redis.call('UNLINK', KEYS[3], KEYS[4])
  return {}
end
local session = KEYS[2] .. ${EPOCH} .. ':'
local out = {}
local used = {}
for _, handle in ipairs(redis.call('ZRANGE', KEYS[3], 0, -1)) do
  local value = redis.call('GET', session .. handle)
  -- Listed: values with a header (they do not start with '{', 123) that the JSON's '{' follows.
  -- Any other value reads as a fresh session, so it is no device.
  if value and string.byte(value, 1) ~= 123 and string.byte(value, ${HEADER_LENGTH + 1}) == 123 then
    local ref = string.sub(value, ${2 * STAMP_LENGTH + 1}, ${HEADER_LENGTH})
    used[ref] = true
    out[#out + 1] = handle
    out[#out + 1] = string.sub(value, 1, ${HEADER_LENGTH})
    out[#out + 1] = redis.call('PTTL', session .. handle)
    out[#out + 1] = redis.call('HGET', KEYS[4], ref)
  elseif not value then
    redis.call('ZREM', KEYS[3], handle)
  end
end
for _, ref in ipairs(redis.call('HKEYS', KEYS[4])) do
  if not used[ref] then redis.call('HDEL', KEYS[4], ref) end
end
return out`;

export const SCRIPTS = {
  readUser: { keys: 4, lua: readUser },
  readAnonymous: { keys: 1, lua: readAnonymous },
  takeLegacy: { keys: 1, lua: takeLegacy },
  writeUser: { keys: 4, lua: writeUser },
  endUser: { keys: 4, lua: endUser },
  rotate: { keys: 2, lua: rotate },
  login: { keys: 4, lua: login },
  logoutOthers: { keys: 5, lua: logoutOthers },
  list: { keys: 4, lua: list },
} as const;

export type ScriptName = keyof typeof SCRIPTS;
type ScriptArg = string | number;

/** Commands are namespaced so that a client shared with other libraries sees no clash. */
const COMMAND_PREFIX = 'epochSession_';

/** The scripts that end sessions: with `waitForReplicas`, each waits for replicas to acknowledge it. */
export const REVOKING: ReadonlySet<ScriptName> = new Set(['rotate', 'endUser', 'logoutOthers']);

/** `WAIT <replicas> <timeout>` after a script, in the same pipeline so it reaches the same master. */
export interface ReplicaAcknowledgement {
  replicas: number;
  /** Milliseconds. */
  timeout: number;
}

/** Fewer replicas than asked acknowledged a revocation in time: it may not survive a failover. */
export class ReplicationLagError extends Error {
  override name = 'ReplicationLagError';
  constructor(script: string, acknowledged: number, wanted: ReplicaAcknowledgement) {
    super(
      `the ${script} script was applied on the master, but ${acknowledged} of ${wanted.replicas} ` +
        `replica(s) acknowledged it within ${wanted.timeout} ms, so a failover now could undo it; ` +
        'retry the call (waitForReplicas)',
    );
  }
}

type Command = (...args: ScriptArg[]) => unknown;
type Pipeline = Record<string, Command> & {
  wait(replicas: number, timeout: number): unknown;
  exec(): Promise<[Error | null, unknown][] | null>;
};

/**
 * Registers every script on the client through `defineCommand`: EVALSHA with a transparent
 * fallback on NOSCRIPT, `keyPrefix` applied to KEYS, and Cluster routing by the first key.
 */
export function defineScripts(redis: Redis | Cluster): ScriptRunner {
  for (const [name, { keys, lua }] of Object.entries(SCRIPTS)) {
    redis.defineCommand(COMMAND_PREFIX + name, { numberOfKeys: keys, lua });
  }
  return (name, keys, args, acknowledgement) => {
    // A wrong count would silently shift KEYS into ARGV: refuse it loudly instead.
    if (keys.length !== SCRIPTS[name].keys) {
      throw new Error(`koa-epoch-session: ${name} takes ${SCRIPTS[name].keys} keys, got ${keys.length}`);
    }
    if (acknowledgement !== undefined)
      return runAcknowledged(redis, name, [...keys, ...args], acknowledgement);
    const command = (redis as unknown as Record<string, Command>)[COMMAND_PREFIX + name];
    return command!.call(redis, ...keys, ...args) as Promise<unknown>;
  };
}

/**
 * WAIT cannot run inside a script, so it follows the script in one pipeline: a pipeline goes to
 * one connection, which on a Cluster is the master of the script's slot, and WAIT counts the
 * replicas of that connection's writes.
 */
async function runAcknowledged(
  redis: Redis | Cluster,
  name: ScriptName,
  args: ScriptArg[],
  wanted: ReplicaAcknowledgement,
): Promise<unknown> {
  const pipeline = redis.pipeline() as unknown as Pipeline;
  pipeline[COMMAND_PREFIX + name]!(...args);
  pipeline.wait(wanted.replicas, wanted.timeout);
  const replies = await pipeline.exec();
  if (replies === null || replies.length !== 2) throw new Error(`the ${name} pipeline got no reply`);
  const [[scriptError, reply], [waitError, acknowledged]] = replies as [
    [Error | null, unknown],
    [Error | null, unknown],
  ];
  if (scriptError) throw scriptError;
  if (waitError) throw waitError;
  if (typeof acknowledged !== 'number' || acknowledged < wanted.replicas) {
    throw new ReplicationLagError(name, Number(acknowledged) || 0, wanted);
  }
  return reply;
}

export type ScriptRunner = (
  name: ScriptName,
  keys: string[],
  args: ScriptArg[],
  acknowledgement?: ReplicaAcknowledgement,
) => Promise<unknown>;
