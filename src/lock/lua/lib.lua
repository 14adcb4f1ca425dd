-- Shared prelude of every lock script (src/lock/scripts.ts registers it as their prelude: it runs
-- once per EVAL, also when one EVAL carries a batch of calls; each call starts with bind()).
-- Keys of one lock name share a {hash tag}:
--   holders: limit 1 (locks, leaders): the name's state, one STRING of fixed-width fields,
--              "<run_id: 40 hex> <q: 1> <granted at ms: 13 digits> <fence: 16 digits> <ttl ms> <holder token>"
--            (fence = the last grant's, which is the holder's; q = 1 while `waiters` may hold
--            some, sparing uncontended calls a ZCARD; no holder: granted at 0…0 and nothing
--            after the fence is read). The key lives as long as the lease, or the queue.
--            limit > 1 (semaphores): a ZSET, token -> expiry ms (Redis clock);
--   waiters: ZSET, token -> arrival sequence (FIFO);
--   meta:    HASH: seq, w:<token> = "<ttlMs>:<deadlineMs>" of a waiter; semaphores also
--            fence, run = run_id that last wrote this name, f:<token> = a holder's fence.
-- Why a string of fixed-width fields for a lock, measured per acquire+release with callgrind on
-- redis-server (126 k instructions with a hash): an uncontended acquire is GET + SET PX (the SET
-- also sets the key's TTL) and a release GET + SETRANGE of the grant time, where a hash took
-- HMGET + HSET + PEXPIRE and HMGET + HDEL (a redis.call is 0.3–2 µs of glue); fields are cut
-- out by position (string.match took 0.8 µs); and times stay strings where they can: Lua turns
-- strings into numbers and back with strtod and printf, a tenth of the script's time before.
local holders, waiters, meta, publishCommand
local t = serverTime()
local nowMs = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
-- The clock as digits, from TIME's strings: µs (16 digits, the fence floor) and ms (13).
local usPart = string.sub('00000' .. t[2], -6)
local nowUs = t[1] .. usPart
local nowMsText = t[1] .. string.sub(usPart, 1, 3)
-- Semaphore keys outlive their last holder or waiter by a minute so the run marker stays warm.
local IDLE_MS = 60000

-- The fields of a lock's state string (see the layout above): where each starts, 1-based as
-- string.sub counts, and its width. ttl and the holder token vary in width; the token is last.
local RUN_AT, RUN_WIDTH = 1, 40
local Q_AT = 42                             -- '1' while `waiters` may hold some, else '0'
local GRANTED_AT, GRANTED_WIDTH = 44, 13    -- grant time in ms; 0…0 when no one holds the lock
local FENCE_AT, FENCE_WIDTH = 58, 16
local TTL_AT = 75                           -- ttl in ms, then one space, then the holder token
local FIXED_WIDTH = TTL_AT - 1              -- every state is at least this long
-- Last positions, computed once per EVAL: string.sub takes the last position, not a width.
local RUN_END = RUN_AT + RUN_WIDTH - 1
local GRANTED_END = GRANTED_AT + GRANTED_WIDTH - 1
local FENCE_END = FENCE_AT + FENCE_WIDTH - 1
local CHAR_0, CHAR_1 = 48, 49               -- string.byte of '0' and '1'
local NO_HOLDER, NO_RUN, NO_FENCE = string.rep('0', GRANTED_WIDTH), string.rep('0', RUN_WIDTH), string.rep('0', FENCE_WIDTH)

-- Set by open() for limit 1: the state as read, and its fields (mat, mttl: grant time and ttl
-- as stored, so writing them back formats no number; mhx = their sum, the expiry).
local single = false
local state, mrun, mq, mh, mhx, mat, mttl
local fenceCache

-- Starts a call: the name's keys, and no state left from the previous call of a batch.
-- `publishArg`: 'SPUBLISH' on a Redis Cluster (the wake channel shares the keys' hash tag, so
-- the wake goes to the subscribers on the name's master only), else PUBLISH.
local function bind(holdersKey, waitersKey, metaKey, publishArg)
  holders, waiters, meta = holdersKey, waitersKey, metaKey
  publishCommand = publishArg == 'SPUBLISH' and 'SPUBLISH' or 'PUBLISH'
  single, state, mrun, mq, mh, mhx, mat, mttl, fenceCache = false, nil, nil, false, nil, nil, nil, nil, nil
end

-- The accessors of the state string: the only code that knows its field positions.
-- Reads a lock's state into the call's locals.
local function readState(s)
  state = s
  mrun = string.sub(s, RUN_AT, RUN_END)
  mq = string.byte(s, Q_AT) == CHAR_1
  -- A grant time of 0…0 is no holder: one byte tells.
  if string.byte(s, GRANTED_AT) ~= CHAR_0 then
    local space = string.find(s, ' ', TTL_AT + 1, true)
    if space then
      mat, mttl, mh = string.sub(s, GRANTED_AT, GRANTED_END), string.sub(s, TTL_AT, space - 1), string.sub(s, space + 1)
      mhx = tonumber(mat) + tonumber(mttl)
    end
  end
end

-- The fence stored in a state.
local function stateFence(s)
  return string.sub(s, FENCE_AT, FENCE_END)
end

-- A state string from its fields, in the layout the positions above describe.
local function formatState(run, q, grantedAt, fence, ttl, holder)
  if holder then
    return run .. (q and ' 1 ' or ' 0 ') .. grantedAt .. ' ' .. fence .. ' ' .. ttl .. ' ' .. holder
  end
  return run .. (q and ' 1 ' or ' 0 ') .. NO_HOLDER .. ' ' .. fence .. ' '
end

-- Lowers the stored q flag in place (SETRANGE counts from 0).
local function writeNoWaiters()
  redis.call('SETRANGE', holders, Q_AT - 1, '0')
end

-- Zeroes the stored grant time in place: no holder; the rest of the state stays.
local function writeNoHolder()
  redis.call('SETRANGE', holders, GRANTED_AT - 1, NO_HOLDER)
end

-- Reads what the script needs in one call and returns the run marker (limit 1: the state;
-- `withRun`: run and fence of a semaphore too). A state not in the layout counts as none.
local function open(limitArg, withRun)
  single = limitArg == '1'
  if single then
    local s = redis.call('GET', holders)
    if s and #s >= FIXED_WIDTH then readState(s) end
    return mrun
  elseif withRun then
    local m = redis.call('HMGET', meta, 'run', 'fence')
    fenceCache = m[2]
    return m[1]
  end
end

-- The last fence granted on this name (a string), if known.
local function lastFence()
  if fenceCache then return fenceCache end
  if single then
    fenceCache = state and stateFence(state)
  else
    fenceCache = redis.call('HGET', meta, 'fence')
  end
  return fenceCache
end

-- Writes a lock's whole state: with `px` (a string of ms) the key's TTL becomes px, without it
-- the key keeps its TTL.
local function save(px)
  local s = formatState(mrun or NO_RUN, mq, mat, lastFence() or NO_FENCE, mttl, mh)
  state = s
  if px then redis.call('SET', holders, s, 'PX', px) else redis.call('SET', holders, s, 'KEEPTTL') end
end

-- Lengthens a key's TTL to `ms` (never shortens it); a key without a TTL gets one.
local function keep(key, ms)
  if redis.call('PEXPIRE', key, ms, 'GT') == 0 then redis.call('PEXPIRE', key, ms, 'NX') end
end

-- Records the run_id this name is now served by.
local function setRun(run)
  if single then
    mrun = run
    save(nil)
    keep(holders, IDLE_MS)
  else
    redis.call('HSET', meta, 'run', run)
    keep(meta, IDLE_MS)
  end
end

-- The channel waiters of this name listen on: `<name's key stem>:wake`.
local function wakeChannel()
  return string.sub(meta, 1, -2) .. 'wake'
end

-- Whether anyone waits. Limit 1 asks the waiters set only while the q flag is up, and lowers
-- the flag (in place) once the set is found empty.
local function anyWaiters()
  if single and not mq then return false end
  local n = redis.call('ZCARD', waiters)
  if single and n == 0 then
    mq = false
    if state then writeNoWaiters() end
  end
  return n > 0
end

-- Queues a waiter (FIFO by arrival) with its ttl and deadline; the keys live as long as it may wait.
local function enqueueWaiter(token, ttl, deadline, keepMs)
  if not redis.call('ZSCORE', waiters, token) then
    redis.call('ZADD', waiters, redis.call('HINCRBY', meta, 'seq', 1), token)
  end
  redis.call('HSET', meta, 'w:' .. token, ttl .. ':' .. string.format('%.0f', deadline))
  keep(waiters, keepMs)
  keep(meta, keepMs)
  if single then
    -- The state holds the q flag: it is raised, and the state must outlive the queue.
    if not mq then
      mq = true
      save(nil)
    end
    keep(holders, keepMs)
  end
end

-- Holders, counted and found. Limit 1 treats an expired holder as gone (purge() clears it).
local function holderCount()
  if single then
    if mh and mhx > nowMs then return 1 end
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
    if mh == token then return lastFence() end
    return nil
  end
  return redis.call('HGET', meta, 'f:' .. token)
end

-- Starts a listed holder's lease again from now, for `ttl` ms (`ttlText`: as the caller sent it).
local function setExpiry(token, ttl, ttlText)
  if single then
    mat, mttl, mhx = nowMsText, ttlText, nowMs + ttl
    save(nil)
    keep(holders, ttl)
  else
    redis.call('ZADD', holders, nowMs + ttl, token)
    keep(meta, ttl + IDLE_MS)
    keep(holders, ttl + IDLE_MS)
  end
end

-- Lists the token no longer (a lock: its grant time zeroed in place; the key keeps its TTL).
local function removeHolder(token)
  if single then
    if mh == token then
      mh, mhx, mat, mttl = nil, nil, nil, nil
      writeNoHolder()
    end
  else
    redis.call('ZREM', holders, token)
    redis.call('HDEL', meta, 'f:' .. token)
  end
end

-- A fence is the stored counter + 1, floored by the Redis clock in microseconds: it goes on
-- increasing after a restart that lost the counter (no persistence needed). Both are decimal
-- strings without leading zeros: of equal length they compare as the numbers do.
local function nextFence(last)
  if last and (#last > #nowUs or (#last == #nowUs and last >= nowUs)) then
    return string.format('%.0f', tonumber(last) + 1)
  end
  return nowUs
end

-- Grants a slot for `ttl` ms (`ttlText`: as the caller sent it) and returns its fence (a
-- string). `alone`: no other holder or waiter, so the keys' TTLs are simply set (a lock's key
-- then lives exactly as long as the lease).
local function grant(token, ttl, ttlText, alone)
  local f = nextFence(lastFence())
  fenceCache = f
  if single then
    mh, mat, mttl, mhx = token, nowMsText, ttlText, nowMs + ttl
    if alone then
      save(ttlText)
    else
      save(nil)
      keep(holders, ttl)
    end
  else
    local keepMs = ttl + IDLE_MS
    redis.call('HSET', meta, 'fence', f, 'f:' .. token, f)
    redis.call('ZADD', holders, nowMs + ttl, token)
    if alone then
      redis.call('PEXPIRE', meta, keepMs)
      redis.call('PEXPIRE', holders, keepMs)
    else
      keep(meta, keepMs)
      keep(holders, keepMs)
    end
  end
  return f
end

local function purge()
  if single then
    if mh and mhx <= nowMs then removeHolder(mh) end
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
        local fence = grant(head, tonumber(ttl), ttl, false)
        if head ~= skip then redis.call(publishCommand, channel, 'g ' .. head .. ' ' .. fence) end
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
