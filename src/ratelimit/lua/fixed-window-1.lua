--[[
  Fixed window, anchored at the first hit of each window (like @nestjs/throttler).
  Decides a batch of requests of one key in order, exactly as if they came one after another
  at the same instant: concurrent requests for a hot key share one call. Atomic; time is Redis
  server time (TIME) so instances with skewed clocks agree.

  KEYS[1]  hash  c = units used in the window, r = window end (ms), b = blocked until (ms)
  ARGV[1]  limit (units per window)       ARGV[2] windowMs
  ARGV[3]  blockMs (0 = no block)
  ARGV[4]  now in ms, or '' for server TIME (tests inject a clock)
  ARGV[5]  '1' = peek (decide without consuming), '0' = consume
  ARGV[6…] the cost of each request, in order

  Returns {allowed 0|1, remaining, resetMs, retryAfterMs} per request, flattened.
  A block clears the counters: after it ends the key starts afresh.
]]
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local block = tonumber(ARGV[3])
local peek = ARGV[5] == '1'
local now
if ARGV[4] ~= '' then
  now = tonumber(ARGV[4])
else
  local t = serverTime()
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local h = redis.call('HMGET', KEYS[1], 'c', 'r', 'b')
local blocked = tonumber(h[3]) or 0
local used = tonumber(h[1]) or 0
local reset = tonumber(h[2]) or 0
local fresh = reset <= now
if fresh then
  used = 0
  reset = now + window
end
local before = used
local blockedNow = false

local out = {}
for i = 6, #ARGV do
  local cost = tonumber(ARGV[i])
  if blocked > now then
    out[#out + 1] = 0; out[#out + 1] = 0; out[#out + 1] = blocked - now; out[#out + 1] = blocked - now
  elseif used + cost <= limit then
    if not peek then used = used + cost end
    out[#out + 1] = 1; out[#out + 1] = limit - used; out[#out + 1] = reset - now; out[#out + 1] = 0
  elseif block > 0 and not peek then
    blocked = now + block
    blockedNow = true
    out[#out + 1] = 0; out[#out + 1] = 0; out[#out + 1] = block; out[#out + 1] = block
  else
    out[#out + 1] = 0; out[#out + 1] = limit - used; out[#out + 1] = reset - now; out[#out + 1] = reset - now
  end
end

if blockedNow then
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[1], 'b', blocked)
  redis.call('PEXPIRE', KEYS[1], block)
elseif used ~= before then
  if fresh then
    redis.call('HSET', KEYS[1], 'c', used, 'r', reset)
    redis.call('PEXPIRE', KEYS[1], window)
  else
    -- Same window: the key already expires at its end, so one write is enough (the hot path).
    redis.call('HSET', KEYS[1], 'c', used)
  end
end
return out
