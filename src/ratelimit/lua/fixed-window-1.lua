--[[
  Fixed window, anchored at the first hit of each window (like @nestjs/throttler).
  One atomic decision; time is Redis server time (TIME) so instances with skewed clocks agree.

  KEYS[1]  hash  c = units used in the window, r = window end (ms), b = blocked until (ms)
  ARGV[1]  limit (units per window)       ARGV[2] windowMs
  ARGV[3]  cost                           ARGV[4] blockMs (0 = no block)
  ARGV[5]  now in ms, or '' for server TIME (tests inject a clock)
  ARGV[6]  '1' = peek (decide without consuming), '0' = consume

  Returns {allowed 0|1, remaining, resetMs, retryAfterMs, nowMs}.
  A block clears the counters: after it ends the key starts afresh.
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

local h = redis.call('HMGET', KEYS[1], 'c', 'r', 'b')
local blocked = tonumber(h[3]) or 0
if blocked > now then
  return {0, 0, blocked - now, blocked - now, now}
end
local used = tonumber(h[1]) or 0
local reset = tonumber(h[2]) or 0
local fresh = reset <= now
if fresh then
  used = 0
  reset = now + window
end

if used + cost <= limit then
  if not peek then
    used = used + cost
    if fresh then
      redis.call('HSET', KEYS[1], 'c', used, 'r', reset)
      redis.call('PEXPIRE', KEYS[1], window)
    else
      -- Same window: the key already expires at its end, so one write is enough (the hot path).
      redis.call('HSET', KEYS[1], 'c', used)
    end
  end
  return {1, limit - used, reset - now, 0, now}
end

if block > 0 and not peek then
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[1], 'b', now + block)
  redis.call('PEXPIRE', KEYS[1], block)
  return {0, 0, block, block, now}
end
return {0, limit - used, reset - now, reset - now, now}
