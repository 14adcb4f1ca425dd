-- Acquires a slot of a lock (limit 1) or semaphore (limit n) for a token, fairly (FIFO).
-- Parameters (src/lock/scripts.ts): the name's keys (see lib.lua), token, ttlMs, limit, waitMs
-- (0: do not queue), the restart guard in ms, the run_id the client saw, and bornArg: '' when
-- runId is the server's run_id, else runId is the client's data marker (marker-1.lua) and
-- bornArg the Redis time in ms when that marker was created; publishArg: PUBLISH or SPUBLISH (lib.lua bind).
-- Returns the fence (a bare string: the common reply stays small) granted | {0, retryMs} busy |
-- {2, retryMs} queued | {3, retryMs} restart guard (Redis restarted less than the guard ago) |
-- {4, run_id} stale run_id | {5, 0} INFO refused and no marker sent: the client must send one.
bind(holdersKey, waitersKey, metaKey, publishArg)
local ttl = tonumber(ttlArg)

-- Restart guard. A name this server run has already served carries its run_id, the fast path.
-- Otherwise (new name, or Redis restarted) INFO tells the real run_id and uptime: a server up
-- for less than the guard may have lost holders that still believe they hold, so no grant yet.
if open(limitArg, true) ~= runId then
  -- pcall: INFO is @dangerous, refused to a least-privilege ACL user (an error table then).
  local info = redis.pcall('INFO', 'server')
  local current, upMs
  if type(info) == 'string' then
    current = string.match(info, 'run_id:(%x+)')
    if current ~= runId then return {4, current} end
    -- uptime_in_seconds is the difference of two whole-second clocks: the true uptime can be up
    -- to 1 s shorter than it says, so one second is taken off to never shorten the guard.
    upMs = (tonumber(string.match(info, 'uptime_in_seconds:(%d+)')) - 1) * 1000
  elseif bornArg ~= '' then
    -- The weaker guard without INFO: the marker is re-created when Redis comes back empty, so
    -- its age bounds the time since the data was lost (a restart that reloads a snapshot keeps
    -- the marker and goes unseen: README "Least privilege").
    current = runId
    upMs = nowMs - tonumber(bornArg)
  else
    return {5, 0}
  end
  local guard = tonumber(guardArg)
  if guard > 0 and upMs < guard then return {3, guard - upMs} end
  setRun(current)
end

local limit = single and 1 or tonumber(limitArg)

-- Fast path: nobody waits and a slot is free (expired holders purged only when they could matter).
if not anyWaiters() then
  local held = holderCount()
  if held >= limit then
    purge()
    held = holderCount()
  end
  if held == 0 or (held < limit and not holderExpiry(token)) then
    return grant(token, ttl, ttlArg, held == 0)
  end
end

purge()
promote(limit, token)
local mine = holderFence(token)
if mine and holderExpiry(token) then
  -- Handed to us (now or by an earlier release): the lease starts from this call.
  setExpiry(token, ttl, ttlArg)
  return mine
end
if holderCount() < limit and not anyWaiters() then
  return grant(token, ttl, ttlArg, false)
end
local retry = nextExpiry(ttl)
local wait = tonumber(waitArg)
if wait <= 0 then return {0, retry} end
enqueueWaiter(token, ttl, nowMs + wait, wait + ttl + IDLE_MS)
return {2, retry}
