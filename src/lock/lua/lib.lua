-- Shared prelude of every lock script (prepended by src/lock/scripts.ts, not a command itself).
-- Keys of one lock name share a {hash tag}: KEYS[1] holders ZSET (token -> expiry ms, Redis
-- clock), KEYS[2] waiters ZSET (token -> arrival sequence: FIFO), KEYS[3] meta HASH
-- (fence, seq, run = run_id that last wrote this name, f:<token> = holder fence,
-- w:<token> = "<ttlMs>:<deadlineMs>" of a waiter).
local holders, waiters, meta = KEYS[1], KEYS[2], KEYS[3]
local t = serverTime()
local nowMs = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local nowUs = tonumber(t[1]) * 1000000 + tonumber(t[2])
-- Keys outlive their last holder or waiter by a minute so the run marker stays warm.
local IDLE_MS = 60000

-- Lengthens a key's TTL to `ms` (never shortens it); a key without a TTL gets one.
local function keep(key, ms)
  if redis.call('PEXPIRE', key, ms, 'GT') == 0 then redis.call('PEXPIRE', key, ms, 'NX') end
end

-- A fence is the stored counter + 1, floored by the Redis clock in microseconds: it goes on
-- increasing after a restart that lost the counter (no persistence needed). `alone`: no other
-- holder or waiter exists, so the keys' TTLs can simply be set (one call each, the fast path);
-- otherwise they are only ever lengthened.
local function grant(token, ttl, lastFence, alone)
  local last = tonumber(lastFence or redis.call('HGET', meta, 'fence') or '0')
  local f
  if last + 1 > nowUs then f = string.format('%.0f', last + 1) else f = t[1] .. string.sub('00000' .. t[2], -6) end
  redis.call('HSET', meta, 'fence', f, 'f:' .. token, f)
  redis.call('ZADD', holders, nowMs + ttl, token)
  if alone then
    redis.call('PEXPIRE', holders, ttl + IDLE_MS)
    redis.call('PEXPIRE', meta, ttl + IDLE_MS)
  else
    keep(holders, ttl + IDLE_MS)
    keep(meta, ttl + IDLE_MS)
  end
  return tonumber(f)
end

local function purge()
  local gone = redis.call('ZRANGEBYSCORE', holders, '-inf', nowMs)
  for i = 1, #gone do redis.call('HDEL', meta, 'f:' .. gone[i]) end
  if #gone > 0 then redis.call('ZREMRANGEBYSCORE', holders, '-inf', nowMs) end
end

-- Hands free slots to the oldest live waiters and tells each one on the channel; `skip` is the
-- caller, who learns of its own grant from the reply.
local function promote(limit, channel, skip)
  if redis.call('ZCARD', waiters) == 0 then return end
  while redis.call('ZCARD', holders) < limit do
    local head = redis.call('ZRANGE', waiters, 0, 0)[1]
    if not head then return end
    redis.call('ZREM', waiters, head)
    local w = redis.call('HGET', meta, 'w:' .. head)
    redis.call('HDEL', meta, 'w:' .. head)
    if w then
      local ttl, deadline = string.match(w, '^(%d+):(%d+)$')
      if tonumber(deadline) >= nowMs then
        local fence = grant(head, tonumber(ttl))
        if head ~= skip then redis.call('PUBLISH', channel, 'g ' .. head .. ' ' .. string.format('%.0f', fence)) end
      end
    end
  end
end

-- Milliseconds until the earliest holder expires (when a waiter should look again), capped.
local function nextExpiry(cap)
  local first = redis.call('ZRANGE', holders, 0, 0, 'WITHSCORES')
  if not first[2] then return 1 end
  return math.max(1, math.min(cap, tonumber(first[2]) - nowMs + 1))
end
