--[[
  Exact sliding window (a log of admitted hits): a hit is admitted when the units admitted in
  the last windowMs, plus its cost, stay within the limit. Denied hits are not logged.
  One atomic decision; time is Redis server time (TIME) so instances with skewed clocks agree.

  KEYS[1]  zset  the log: score = admission time (ms), member = "<seq>:<cost>"
  KEYS[2]  hash  n = units in the log, q = member sequence, b = blocked until (ms)
           (both keys share the caller's {hash tag})
  ARGV[1]  limit (units per window)       ARGV[2] windowMs
  ARGV[3]  cost                           ARGV[4] blockMs (0 = no block)
  ARGV[5]  now in ms, or '' for server TIME (tests inject a clock)
  ARGV[6]  '1' = peek (decide without consuming), '0' = consume

  Returns {allowed 0|1, remaining, resetMs, retryAfterMs, nowMs}; resetMs = until the newest
  admitted hit leaves the window (the limiter is full again).
  A block clears the log: after it ends the key starts afresh.
]]
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local block = tonumber(ARGV[4])
local peek = ARGV[6] == '1'
local now
if ARGV[5] ~= '' then
  now = tonumber(ARGV[5])
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local h = redis.call('HMGET', KEYS[2], 'n', 'q', 'b')
local blocked = tonumber(h[3]) or 0
if blocked > now then
  return {0, 0, blocked - now, blocked - now, now}
end
local used = tonumber(h[1]) or 0
local seq = tonumber(h[2]) or 0

-- Hits admitted at or before now - window have left the window.
local edge = now - window
local gone = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', edge)
if #gone > 0 then
  for i = 1, #gone do
    used = used - tonumber(string.match(gone[i], ':(%d+)$'))
  end
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', edge)
end
local newest = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
-- An empty (or expired) log holds nothing, whatever the hash says.
if #newest == 0 then
  used = 0
elseif #gone > 0 then
  -- Keep n in step with the log even when this call is refused; same expiry as the log.
  redis.call('HSET', KEYS[2], 'n', used)
  redis.call('PEXPIRE', KEYS[2], tonumber(newest[2]) + window - now)
end

if used + cost <= limit then
  if peek then
    local reset = 0
    if #newest > 0 then reset = tonumber(newest[2]) + window - now end
    return {1, limit - used, reset, 0, now}
  end
  seq = seq + 1
  used = used + cost
  redis.call('ZADD', KEYS[1], now, seq .. ':' .. cost)
  redis.call('HSET', KEYS[2], 'n', used, 'q', seq)
  redis.call('PEXPIRE', KEYS[1], window)
  redis.call('PEXPIRE', KEYS[2], window)
  return {1, limit - used, window, 0, now}
end

if block > 0 and not peek then
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[2], 'n', 0, 'q', seq, 'b', now + block)
  redis.call('PEXPIRE', KEYS[2], block)
  return {0, 0, block, block, now}
end

-- Denied: wait until enough of the oldest hits leave the window to fit this cost.
-- Read in small pages so that a long log costs only what the answer needs.
local retry = window
local freed = 0
local start = 0
local found = false
while not found do
  local page = redis.call('ZRANGE', KEYS[1], start, start + 31, 'WITHSCORES')
  if #page == 0 then break end
  for i = 1, #page, 2 do
    freed = freed + tonumber(string.match(page[i], ':(%d+)$'))
    if used - freed + cost <= limit then
      retry = tonumber(page[i + 1]) + window - now
      found = true
      break
    end
  end
  start = start + 32
end
return {0, limit - used, tonumber(newest[2]) + window - now, retry, now}
