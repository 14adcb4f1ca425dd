-- Shared prelude of every lock script (src/lock/scripts.ts registers it as their prelude: it runs
-- once per EVAL, also when one EVAL carries a batch of calls; each call starts with bind(KEYS)).
-- Keys of one lock name share a {hash tag}: KEYS[1] holders ZSET (semaphores: token -> expiry
-- ms, Redis clock), KEYS[2] waiters ZSET (token -> arrival sequence: FIFO), KEYS[3] meta HASH:
--   fence, seq, run = run_id that last wrote this name, w:<token> = "<ttlMs>:<deadlineMs>" of a waiter;
--   limit 1 (locks, leaders): h = holder token, hx = its expiry ms (its fence is `fence`: the
--   last grant is the holder's), q = set while
--   KEYS[2] may hold waiters (spares the uncontended calls a ZCARD);
--   limit > 1 (semaphores): f:<token> = a holder's fence, the holders themselves in KEYS[1].
-- A lock keeps its one holder in the meta hash: the uncontended acquire and release then touch
-- one key in 4 and 3 calls instead of two keys in 7 and 4 (each redis.call costs ~1 µs here).
local holders, waiters, meta
local t = serverTime()
local nowMs = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local nowUs = tonumber(t[1]) * 1000000 + tonumber(t[2])
-- Keys outlive their last holder or waiter by a minute so the run marker stays warm.
local IDLE_MS = 60000

-- Set by open(): one holder in meta (limit 1), its fields as read, and the stored fence.
local single = false
local mh, mhx, mhf, mq
local fenceCache

-- Starts a call: the name's keys, and no state left from the previous call of a batch.
local function bind(keys)
  holders, waiters, meta = keys[1], keys[2], keys[3]
  single, mh, mhx, mhf, mq, fenceCache = false, nil, nil, nil, nil, nil
end

-- Reads what the script needs of meta in one call and returns the run marker (limit 1: with
-- the holder fields; `withRun`: run and fence too).
local function open(limit, withRun)
  single = limit == 1
  if single then
    local m = redis.call('HMGET', meta, 'run', 'fence', 'h', 'hx', 'q')
    mh, mhx, mhf, mq, fenceCache = m[3], tonumber(m[4]), m[2], m[5], m[2]
    return m[1]
  elseif withRun then
    local m = redis.call('HMGET', meta, 'run', 'fence')
    fenceCache = m[2]
    return m[1]
  end
end

-- The channel waiters of this name listen on: `<name's key stem>:wake`.
local function wakeChannel()
  return string.sub(meta, 1, -2) .. 'wake'
end

-- Whether anyone waits. Limit 1 asks the waiters set only while meta's q flag is up, and lowers
-- the flag once the set is found empty.
local function anyWaiters()
  if single and not mq then return false end
  local n = redis.call('ZCARD', waiters)
  if single and n == 0 then
    redis.call('HDEL', meta, 'q')
    mq = nil
  end
  return n > 0
end

-- Queues a waiter (FIFO by arrival) with its ttl and deadline.
local function enqueueWaiter(token, ttl, deadline)
  if not redis.call('ZSCORE', waiters, token) then
    redis.call('ZADD', waiters, redis.call('HINCRBY', meta, 'seq', 1), token)
  end
  redis.call('HSET', meta, 'w:' .. token, ttl .. ':' .. string.format('%.0f', deadline), 'q', '1')
  mq = '1'
end

-- Lengthens a key's TTL to `ms` (never shortens it); a key without a TTL gets one.
local function keep(key, ms)
  if redis.call('PEXPIRE', key, ms, 'GT') == 0 then redis.call('PEXPIRE', key, ms, 'NX') end
end

-- Keeps the keys alive for `ms`; `alone` (no other holder or waiter): simply set, one call each.
local function keepAlive(ms, alone)
  if alone then
    redis.call('PEXPIRE', meta, ms)
    if not single then redis.call('PEXPIRE', holders, ms) end
  else
    keep(meta, ms)
    if not single then keep(holders, ms) end
  end
end

-- Holders, counted and found. Limit 1 treats an expired holder as gone (purge() clears it).
local function holderCount()
  if single then
    if mh and mhx and mhx > nowMs then return 1 end
    return 0
  end
  return redis.call('ZCARD', holders)
end

-- A token's expiry while it is listed (even when past), else nil.
local function holderExpiry(token)
  if single then
    if mh == token then return mhx end
    return nil
  end
  local score = redis.call('ZSCORE', holders, token)
  return score and tonumber(score)
end

local function holderFence(token)
  if single then
    if mh == token then return mhf end
    return nil
  end
  return redis.call('HGET', meta, 'f:' .. token)
end

local function setExpiry(token, expiry)
  if single then
    redis.call('HSET', meta, 'hx', expiry)
    mhx = expiry
  else
    redis.call('ZADD', holders, expiry, token)
  end
end

local function removeHolder(token)
  if single then
    if mh == token then
      redis.call('HDEL', meta, 'h', 'hx')
      mh, mhx, mhf = nil, nil, nil
    end
  else
    redis.call('ZREM', holders, token)
    redis.call('HDEL', meta, 'f:' .. token)
  end
end

-- A fence is the stored counter + 1, floored by the Redis clock in microseconds: it goes on
-- increasing after a restart that lost the counter (no persistence needed).
local function grant(token, ttl, alone)
  local last = tonumber(fenceCache or redis.call('HGET', meta, 'fence') or '0')
  local f
  if last + 1 > nowUs then f = string.format('%.0f', last + 1) else f = t[1] .. string.sub('00000' .. t[2], -6) end
  fenceCache = f
  if single then
    redis.call('HSET', meta, 'fence', f, 'h', token, 'hx', nowMs + ttl)
    mh, mhx, mhf = token, nowMs + ttl, f
  else
    redis.call('HSET', meta, 'fence', f, 'f:' .. token, f)
    redis.call('ZADD', holders, nowMs + ttl, token)
  end
  keepAlive(ttl + IDLE_MS, alone)
  return tonumber(f)
end

local function purge()
  if single then
    if mh and (not mhx or mhx <= nowMs) then removeHolder(mh) end
    return
  end
  local gone = redis.call('ZRANGEBYSCORE', holders, '-inf', nowMs)
  for i = 1, #gone do redis.call('HDEL', meta, 'f:' .. gone[i]) end
  if #gone > 0 then redis.call('ZREMRANGEBYSCORE', holders, '-inf', nowMs) end
end

-- Hands free slots to the oldest live waiters and tells each one on the channel; `skip` is the
-- caller, who learns of its own grant from the reply.
local function promote(limit, skip)
  if not anyWaiters() then return end
  local channel = wakeChannel()
  while holderCount() < limit do
    local head = redis.call('ZRANGE', waiters, 0, 0)[1]
    if not head then return end
    redis.call('ZREM', waiters, head)
    local w = redis.call('HGET', meta, 'w:' .. head)
    redis.call('HDEL', meta, 'w:' .. head)
    if w then
      local ttl, deadline = string.match(w, '^(%d+):(%d+)$')
      if tonumber(deadline) >= nowMs then
        local fence = grant(head, tonumber(ttl), false)
        if head ~= skip then redis.call('PUBLISH', channel, 'g ' .. head .. ' ' .. string.format('%.0f', fence)) end
      end
    end
  end
end

-- Milliseconds until the earliest holder expires (when a waiter should look again), capped.
local function nextExpiry(cap)
  local first
  if single then
    first = mhx
  else
    local z = redis.call('ZRANGE', holders, 0, 0, 'WITHSCORES')
    first = z[2] and tonumber(z[2])
  end
  if not first then return 1 end
  return math.max(1, math.min(cap, first - nowMs + 1))
end
