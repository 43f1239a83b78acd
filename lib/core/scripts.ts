// The Lua scripts: every operation that must change more than one key atomically runs as one of these.
import { RANDOM_LENGTH } from './keys.js';
import { EXPIRES_LENGTH, HEADER_LENGTH, STAMP_LENGTH } from './value.js';

/*
 * Conventions, shared by every script:
 * - Every key a script reads or writes is in KEYS, built by the client (the client knows the epoch:
 *   the cookie names it, or the request read it). So `keyPrefix` applies, a Cluster routes by slot,
 *   and servers that refuse undeclared keys (Dragonfly's default) run them unchanged (invariant 7).
 *   Keys of one user share the hash tag `{<tag>}`, hence one slot.
 * - The client's epoch is only a claim: each script compares it with the epoch key's value and
 *   acts only when they match (SPEC section 2). Where the client had to guess (login, revoke, list),
 *   a mismatch answers {2, epochValue} and the client asks again with the keys of the real epoch.
 * - Writes to a signed-in session are conditional on the epoch the request read and on the key
 *   still existing (invariant 2): a request that loaded a session before a revocation can never
 *   write it back.
 * - Every key written gets a TTL, and the epoch key, registry and device hash are extended
 *   (PEXPIRE … GT, Redis 7.0) to the *reach* the client passes: the time left until the session's
 *   horizon, its end rounded up to a whole step (lib/core/horizon.ts), so they outlive it (invariant 4)
 *   and later writes that end in the same step need not extend them again.
 * - A value the scripts inspect starts with the fixed-width expiry; with the registry on, the
 *   device header follows it (lib/core/value.ts).
 */
const EPOCH_MATCHES = `local epochValue = redis.call('GET', KEYS[1])
local epochMatches = epochValue and string.sub(epochValue, 1, ${RANDOM_LENGTH}) == ARGV[1]`;

/**
 * Make a key live at least `ttl` ms more. GT never shortens a TTL, but treats a key without one
 * as immortal: a registry or device hash that the same script just created gets its TTL plainly.
 */
const EXTEND = `
local function extend(key, ttl)
  if redis.call('PEXPIRE', key, ttl, 'GT') == 0 and redis.call('PTTL', key) == -1 then
    redis.call('PEXPIRE', key, ttl)
  end
end`;

/** Byte offsets of the value layout, for the scripts that read headers. */
const HEADER_START = EXPIRES_LENGTH + 1;
const REF_START = EXPIRES_LENGTH + 2 * STAMP_LENGTH + 1;
const HEADER_END = EXPIRES_LENGTH + HEADER_LENGTH;

/**
 * Refresh a signed-in session's last-seen stamp, only while the session exists: SETRANGE on a
 * missing key would create it, without a TTL. SETRANGE keeps the TTL.
 * KEYS: session. ARGV: stamp, 0-based offset. Reply: 1 written, 0 the session is gone.
 */
const seen = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('SETRANGE', KEYS[1], tonumber(ARGV[2]), ARGV[1])
return 1`;

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
 * Rewrite a signed-in session with the registry on (without it, a pipelined SET … XX does).
 * KEYS: epoch, session, registry, devices.
 * ARGV: epoch read by the request, handle, value, ttl, registry score (the session's end), prune
 *   before (lib/core/horizon.ts), device ref, device value ('' none), reach.
 * Reply: 1 written, 0 refused (revoked, rotated or logged out meanwhile).
 */
const writeUser = `${EXTEND}
${EPOCH_MATCHES}
if not epochMatches then return 0 end
local ttl = tonumber(ARGV[4])
if not redis.call('SET', KEYS[2], ARGV[3], 'PX', ttl, 'XX') then return 0 end
local reach = tonumber(ARGV[9])
redis.call('PEXPIRE', KEYS[1], reach, 'GT')
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', ARGV[6])
-- GT: a write that raced ahead with a later horizon keeps it.
redis.call('ZADD', KEYS[3], 'GT', ARGV[5], ARGV[2])
extend(KEYS[3], reach)
if ARGV[8] ~= '' then redis.call('HSET', KEYS[4], ARGV[7], ARGV[8]) end
extend(KEYS[4], reach)
return 1`;

/**
 * Give a signed-in session a new sid (koa-session's regenerate) in one step: the old key goes and
 * the new one appears together, so no concurrent login sees a free slot under maxSessions, and a
 * session revoked meanwhile is not continued under the new id.
 * KEYS: epoch, old session, new session, registry, devices, the old handle's forwarding key.
 * ARGV: epoch read by the request, old handle, new handle, value, ttl, registry score ('' off),
 *   prune before, device ref, device value, reach.
 * Reply: 1 done, 0 refused.
 */
const rekey = `${EXTEND}
${EPOCH_MATCHES}
if not epochMatches then return 0 end
if redis.call('DEL', KEYS[2]) == 0 then return 0 end
local ttl = tonumber(ARGV[5])
if not redis.call('SET', KEYS[3], ARGV[4], 'PX', ttl, 'NX') then
  return redis.error_reply('koa-epoch-session: session id collision')
end
local reach = tonumber(ARGV[10])
redis.call('PEXPIRE', KEYS[1], reach, 'GT')
-- A revoke by the old handle (from a device list) follows this to the new one.
redis.call('SET', KEYS[6], ARGV[3], 'PX', ttl)
redis.call('ZREM', KEYS[4], ARGV[2])
if ARGV[6] ~= '' then
  redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', ARGV[7])
  redis.call('ZADD', KEYS[4], ARGV[6], ARGV[3])
  extend(KEYS[4], reach)
  redis.call('HSET', KEYS[5], ARGV[8], ARGV[9])
  extend(KEYS[5], reach)
end
return 1`;

/**
 * End one signed-in session (logout, destroy, revoke). KEYS: epoch, session, registry, session reason.
 * ARGV: epoch of the session key, handle, reason value ('' records none).
 * Reply: {1} ended, {0} not live, {2, epochValue} the user's epoch is another one (ask again with it).
 */
const endUser = `
redis.call('ZREM', KEYS[3], ARGV[2])
${EPOCH_MATCHES}
if not epochValue then return {0} end
if not epochMatches then
  -- An orphan of an earlier epoch is unreachable already; dropping it early is only tidy.
  redis.call('DEL', KEYS[2])
  return {2, epochValue}
end
local left = redis.call('PTTL', KEYS[2])
if left < 0 then return {0} end
redis.call('DEL', KEYS[2])
-- The reason lives exactly as long as the cookie of the ended session could still be presented.
-- pcall: the session is already ended; a full Redis may refuse the note, never the revocation.
if ARGV[3] ~= '' then redis.pcall('SET', KEYS[4], ARGV[3], 'PX', left) end
return {1}`;

/**
 * Sign a user out everywhere: one write, whatever the number of sessions. Only the epoch key goes:
 * the registry and device hash stay, and the scripts that read them drop every entry whose session
 * is not under the current epoch (dropping a 100,000-entry registry here made rotate grow with the
 * user's sessions, docs/benchmarks.md).
 * KEYS: epoch, rotation reason, legacy marker.
 * ARGV: reason value, legacy window in ms ('' when no legacy migration runs).
 * Reply: 1 the user had sessions, 2 none now but an earlier rotation still stands (a retry after
 * waitForReplicas reported lag), 0 nothing to revoke.
 */
const rotate = `
local horizon = redis.call('PTTL', KEYS[1])
if ARGV[2] ~= '' then
  -- Legacy sessions not yet adopted are revoked by this marker. Written first: if Redis refuses
  -- it (OOM), the script stops before the epoch goes, and the caller's retry does the whole thing.
  redis.call('SET', KEYS[3], ARGV[1], 'PX', math.max(horizon, tonumber(ARGV[2])))
end
if horizon == -2 then
  if redis.call('EXISTS', KEYS[2]) == 1 then return 2 end
  return 0
end
redis.call('UNLINK', KEYS[1])
-- pcall: the rotation is done; a full Redis may refuse the reason, never the revocation.
if horizon > 0 then redis.pcall('SET', KEYS[2], ARGV[1], 'PX', horizon) end
return 1`;

/**
 * Sign in: bind a new session to the user's current epoch, creating the epoch if there is none;
 * end the request's previous session of the same user; enforce the concurrent-session limit; and,
 * for an adopted legacy session, honour a rotation that revoked it. All in one atomic step.
 * KEYS: epoch, new session, registry, devices, legacy marker, previous session (or the new one
 *   again when there is none), then a (session, session reason) pair per registry handle the client
 *   was told of.
 * ARGV: [1] epoch the keys were built with, [2] '1' if that epoch is freshly generated,
 *   [3] epoch value to create, [4] new handle, [5] value, [6] the same value without the previous
 *   session's data, [7] ttl, [8] prune before (entries scored earlier are dead), [9] registry score ('' off), [10] maxSessions (0: none),
 *   [11] policy, [12] previous handle ('' none), [13] epoch of the previous session, [14] reason for
 *   evictions, [15] device ref, [16] device value, [17] legacy session's save time ('' when not an
 *   adoption), [18] '1' if the client may still ask again, [19] reach, [20...] the known handles, in
 *   the order of their KEYS pairs.
 * Nothing is written before every check has passed, so a refused or repeated call changes nothing.
 * Reply: {1, epochValue, {evicted handles}, carried 1|0, {handles to trim}}: when other logins
 *   kept changing the registry, the client evicts with the trim script right after;
 *   {0, count} refused by the limit;
 *   {2, epochValue|false} ask again under that epoch (false: with a fresh one);
 *   {3, {handles}} ask again knowing these registry handles; {4, reason} a revoked legacy session.
 */
const login = `${EXTEND}
${EPOCH_MATCHES}
local ttl = tonumber(ARGV[7])
local reach = tonumber(ARGV[19])
local pruneBefore = tonumber(ARGV[8])
if epochValue then
  if not epochMatches then return {2, epochValue} end
elseif ARGV[2] ~= '1' then
  -- A lost or rotated epoch is never recreated under an old value (invariant 3).
  return {2, false}
end
if ARGV[17] ~= '' then
  local revoked = redis.call('GET', KEYS[5])
  if revoked then
    local colon = string.find(revoked, ':', 1, true)
    local at = colon and tonumber(string.sub(revoked, 1, colon - 1), 36)
    if at and at >= tonumber(ARGV[17]) then return {4, revoked} end
  end
end
local registry = ARGV[9] ~= ''
local limit = tonumber(ARGV[10])
local known = {}
for i = 20, #ARGV do known[ARGV[i]] = 6 + 2 * (i - 19) - 1 end
local victims = {}
local trim = {}
if registry and limit > 0 and epochValue then
  -- Count the sessions that would stay: live by their score, not the one this login ends, and
  -- not one whose key is gone (ended elsewhere, evicted by Redis). Only declared keys can be
  -- checked, so at the limit every entry must be declared before anyone is refused or evicted.
  local live = {}
  for _, handle in ipairs(redis.call('ZRANGEBYSCORE', KEYS[3], '(' .. pruneBefore, '+inf')) do
    if handle ~= ARGV[12] then
      local index = known[handle]
      if not index or redis.call('EXISTS', KEYS[index]) == 1 then live[#live + 1] = handle end
    end
  end
  if #live >= limit then
    if ARGV[11] == 'reject' then
      -- Before refusing, every entry must have been checked for a live session.
      for _, handle in ipairs(live) do
        if not known[handle] then return {3, live} end
      end
      return {0, #live}
    end
    -- The least recently active sessions make room: ranked by the last-seen stamp in their
    -- header, not by their end (a long "remember me" session would otherwise outrank a newer,
    -- active one). Ranking needs every live entry declared; an undeclared one means the client's
    -- list (perhaps remembered from an earlier login) is stale: ask again. Once it may not ask,
    -- rank the declared ones only.
    local ranked = {}
    for _, handle in ipairs(live) do
      local index = known[handle]
      if index then
        local value = redis.call('GET', KEYS[index])
        local seen = value and tonumber(string.sub(value, ${HEADER_START}, ${HEADER_START + STAMP_LENGTH - 1}), 36) or 0
        ranked[#ranked + 1] = {handle, seen or 0, #ranked}
      elseif ARGV[18] == '1' then
        return {3, live}
      end
    end
    table.sort(ranked, function(a, b)
      if a[2] ~= b[2] then return a[2] < b[2] end
      return a[3] < b[3]
    end)
    for _, entry in ipairs(ranked) do
      if #victims > #live - limit then break end
      victims[#victims + 1] = entry[1]
    end
    if #victims <= #live - limit then
      if ARGV[18] == '1' then return {3, live} end
      -- Contended: other logins change the registry faster than the client can ask. Sign in now;
      -- the client runs the trim script right after, which evicts atomically what is over.
      trim = live
    end
  end
end
if not epochValue then
  epochValue = ARGV[3]
  redis.call('SET', KEYS[1], epochValue, 'PX', reach)
  -- A new epoch: whatever the registry lists (left by a rotate, or a lost epoch key) is dead.
  redis.call('UNLINK', KEYS[3], KEYS[4])
end
local value = ARGV[5]
local carried = 1
if ARGV[12] ~= '' then
  local ended = redis.call('DEL', KEYS[6]) == 1 and ARGV[13] == ARGV[1]
  redis.call('ZREM', KEYS[3], ARGV[12])
  -- Data carries over only from a session this very step ended under the current epoch; a
  -- session revoked while the request ran gives its data to no one.
  if not ended then
    value = ARGV[6]
    carried = 0
  end
end
if registry then
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', pruneBefore)
  for handle, index in pairs(known) do
    if redis.call('EXISTS', KEYS[index]) == 0 then redis.call('ZREM', KEYS[3], handle) end
  end
  for _, handle in ipairs(victims) do
    local index = known[handle]
    local left = redis.call('PTTL', KEYS[index])
    redis.call('DEL', KEYS[index])
    redis.call('ZREM', KEYS[3], handle)
    if left > 0 then redis.call('SET', KEYS[index + 1], ARGV[14], 'PX', left) end
  end
end
if not redis.call('SET', KEYS[2], value, 'PX', ttl, 'NX') then
  return redis.error_reply('koa-epoch-session: session id collision')
end
redis.call('PEXPIRE', KEYS[1], reach, 'GT')
if registry then
  redis.call('ZADD', KEYS[3], ARGV[9], ARGV[4])
  extend(KEYS[3], reach)
  redis.call('HSET', KEYS[4], ARGV[15], ARGV[16])
  extend(KEYS[4], reach)
end
return {1, epochValue, victims, carried, trim}`;

/**
 * Bring a user back within maxSessions after a contended login: evict the least recently active
 * sessions over the limit, never the one just created. Each call counts again, atomically, so
 * concurrent trims never evict more than is over.
 * KEYS: epoch, registry, then a (session, session reason) pair per handle in ARGV.
 * ARGV: epoch of the keys, limit, prune before, the new session's handle, eviction reason, handles.
 * Reply: {1, {evicted}} done; {3, {handles}, {evicted}} still over: ask again with these handles.
 */
const trim = `${EPOCH_MATCHES}
if not epochMatches then return {1, {}} end
local known = {}
for i = 6, #ARGV do known[ARGV[i]] = 3 + 2 * (i - 6) end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[3])
local live = {}
for _, handle in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
  local index = known[handle]
  if index and redis.call('EXISTS', KEYS[index]) == 0 then
    redis.call('ZREM', KEYS[2], handle)
  else
    live[#live + 1] = handle
  end
end
local evicted = {}
local over = #live - tonumber(ARGV[2])
for _, handle in ipairs(live) do
  if over <= 0 then break end
  local index = known[handle]
  if index and handle ~= ARGV[4] then
    local left = redis.call('PTTL', KEYS[index])
    redis.call('DEL', KEYS[index])
    redis.call('ZREM', KEYS[2], handle)
    if left > 0 then redis.call('SET', KEYS[index + 1], ARGV[5], 'PX', left) end
    evicted[#evicted + 1] = handle
    over = over - 1
  end
end
if over > 0 then return {3, live, evicted} end
return {1, evicted}`;

/**
 * Sign out every other device: rotate the epoch and re-key the caller's session under it, in one
 * step, so no other session survives and the caller's old sid dies too (invariant 6).
 * KEYS: epoch, current session, new session (under the new epoch), registry, devices, rotation
 *   reason, the current handle's forwarding key, legacy marker.
 * ARGV: epoch read by the request, current handle, new epoch value, new handle, value, ttl,
 *   registry score ('' when off), reason value, device ref, device value, legacy window in ms
 *   ('' when no legacy migration runs), reach.
 * Reply: 1 done, 0 the caller's own session was already revoked.
 */
const logoutOthers = `${EPOCH_MATCHES}
if not epochMatches then return 0 end
if redis.call('EXISTS', KEYS[2]) == 0 then return 0 end
local horizon = redis.call('PTTL', KEYS[1])
local ttl = tonumber(ARGV[6])
local reach = tonumber(ARGV[12])
redis.call('DEL', KEYS[2])
redis.call('UNLINK', KEYS[4], KEYS[5])
redis.call('SET', KEYS[1], ARGV[3], 'PX', reach)
redis.call('SET', KEYS[3], ARGV[5], 'PX', ttl, 'NX')
if ARGV[7] ~= '' then
  redis.call('ZADD', KEYS[4], ARGV[7], ARGV[4])
  redis.call('PEXPIRE', KEYS[4], reach)
  redis.call('HSET', KEYS[5], ARGV[9], ARGV[10])
  redis.call('PEXPIRE', KEYS[5], reach)
end
if horizon > 0 then redis.call('SET', KEYS[6], ARGV[8], 'PX', horizon) end
redis.call('SET', KEYS[7], ARGV[4], 'PX', ttl)
-- Like rotate: the user's legacy sessions not adopted yet are signed out too.
if ARGV[11] ~= '' then redis.call('SET', KEYS[8], ARGV[8], 'PX', math.max(horizon, tonumber(ARGV[11]))) end
return 1`;

/**
 * The device list. KEYS: epoch, registry, devices, then one session key per handle in ARGV.
 * ARGV: epoch the keys were built with, prune before, handles.
 * Prunes expired and vanished entries as it goes.
 * Reply: {1, handle, header, device, ...} where header is the value's expiry and device header
 * (metadata only, never session data); {0} no epoch; {2, epochValue} ask again under that epoch;
 * {3, {handles}} ask again with these handles.
 */
const list = `${EPOCH_MATCHES}
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[2])
if not epochValue then
  redis.call('UNLINK', KEYS[2], KEYS[3])
  return {0}
end
if not epochMatches then return {2, epochValue} end
local index = {}
for i = 3, #ARGV do index[ARGV[i]] = i + 1 end
local members = redis.call('ZRANGE', KEYS[2], 0, -1)
for _, handle in ipairs(members) do
  if not index[handle] then return {3, members} end
end
local out = {1}
for _, handle in ipairs(members) do
  local value = redis.call('GET', KEYS[index[handle]])
  -- Listed: values with a device header (123 is '{', which follows the header); any other value
  -- reads as a fresh session, so it is no device.
  if value and string.byte(value, ${HEADER_START}) ~= 123 and string.byte(value, ${HEADER_END + 1}) == 123 then
    local ref = string.sub(value, ${REF_START}, ${HEADER_END})
    out[#out + 1] = handle
    out[#out + 1] = string.sub(value, 1, ${HEADER_END})
    out[#out + 1] = redis.call('HGET', KEYS[3], ref)
  elseif not value then
    redis.call('ZREM', KEYS[2], handle)
  end
end
-- Device entries are not pruned here: a request still in flight may write back a value naming
-- one that no listed session names now. The hash expires with the user's longest session.
return out`;

/** `keys`: how many KEYS the script takes; `variadic`: at least that many, more follow. */
export const SCRIPTS = {
  seen: { keys: 1, lua: seen },
  takeLegacy: { keys: 1, lua: takeLegacy },
  writeUser: { keys: 4, lua: writeUser },
  rekey: { keys: 6, lua: rekey },
  endUser: { keys: 4, lua: endUser },
  rotate: { keys: 3, lua: rotate },
  login: { keys: 6, lua: login, variadic: true },
  trim: { keys: 2, lua: trim, variadic: true },
  logoutOthers: { keys: 8, lua: logoutOthers },
  list: { keys: 3, lua: list, variadic: true },
} as const;

export type ScriptName = keyof typeof SCRIPTS;

/** The scripts that end sessions: with `waitForReplicas`, each waits for replicas to acknowledge it. */
export const REVOKING: ReadonlySet<ScriptName> = new Set(['rotate', 'endUser', 'logoutOthers']);
