-- Acquires a slot of a lock (limit 1) or semaphore (limit n) for a token, fairly (FIFO).
-- KEYS: see lib.lua. ARGV[1] token, ARGV[2] ttlMs, ARGV[3] limit, ARGV[4] waitMs (0: do not
-- queue), ARGV[5] restart guard ms, ARGV[6] the run_id the client saw.
-- Returns fence (a bare number: the common reply stays small) granted | {0, retryMs} busy | {2, retryMs} queued |
-- {3, retryMs} restart guard (Redis restarted less than the guard ago) | {4, run_id} stale run_id.
bind(KEYS)
local token, ttl, limit, wait = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local guard, runId = tonumber(ARGV[5]), ARGV[6]

-- Restart guard. A name this server run has already served carries its run_id, the fast path.
-- Otherwise (new name, or Redis restarted) INFO tells the real run_id and uptime: a server up
-- for less than the guard may have lost holders that still believe they hold, so no grant yet.
if open(limit, true) ~= runId then
  local info = redis.call('INFO', 'server')
  local current = string.match(info, 'run_id:(%x+)')
  if current ~= runId then return {4, current} end
  -- uptime_in_seconds is the difference of two whole-second clocks: the true uptime can be up
  -- to 1 s shorter than it says, so one second is taken off to never shorten the guard.
  local upMs = (tonumber(string.match(info, 'uptime_in_seconds:(%d+)')) - 1) * 1000
  if guard > 0 and upMs < guard then return {3, guard - upMs} end
  redis.call('HSET', meta, 'run', current)
  keep(meta, IDLE_MS)
end

-- Fast path: nobody waits and a slot is free (expired holders purged only when they could matter).
if not anyWaiters() then
  local held = holderCount()
  if held >= limit then
    purge()
    held = holderCount()
  end
  if held == 0 or (held < limit and not holderExpiry(token)) then
    return grant(token, ttl, held == 0)
  end
end

purge()
promote(limit, token)
local mine = holderFence(token)
if mine and holderExpiry(token) then
  -- Handed to us (now or by an earlier release): the lease starts from this call.
  setExpiry(token, nowMs + ttl)
  keepAlive(ttl + IDLE_MS, false)
  return tonumber(mine)
end
if holderCount() < limit and not anyWaiters() then
  return grant(token, ttl, false)
end
local retry = nextExpiry(ttl)
if wait <= 0 then return {0, retry} end
enqueueWaiter(token, ttl, nowMs + wait)
keep(waiters, wait + ttl + IDLE_MS)
keep(meta, wait + ttl + IDLE_MS)
return {2, retry}
