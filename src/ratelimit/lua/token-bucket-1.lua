--[[
  Token bucket: capacity = limit, refilled continuously at limit / windowMs tokens per ms.
  One atomic decision; time is Redis server time (TIME) so instances with skewed clocks agree.

  KEYS[1]  hash  t = tokens (may be fractional), ts = time of t (ms), b = blocked until (ms)
  ARGV[1]  limit (capacity)               ARGV[2] windowMs (time to refill from empty)
  ARGV[3]  cost                           ARGV[4] blockMs (0 = no block)
  ARGV[5]  now in ms, or '' for server TIME (tests inject a clock)
  ARGV[6]  '1' = peek (decide without consuming), '0' = consume

  Returns {allowed 0|1, remaining (whole tokens), resetMs (until full), retryAfterMs, nowMs}.
  A block discards the bucket: after the block it starts full.
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

local h = redis.call('HMGET', KEYS[1], 't', 'ts', 'b')
local blocked = tonumber(h[3]) or 0
if blocked > now then
  return {0, 0, blocked - now, blocked - now, now}
end
local tokens = tonumber(h[1])
local ts = tonumber(h[2])
if tokens == nil or ts == nil then
  tokens = limit
  ts = now
end
if now > ts then
  tokens = math.min(limit, tokens + (now - ts) * limit / window)
  ts = now
end

if tokens >= cost then
  if not peek then
    tokens = tokens - cost
    redis.call('HSET', KEYS[1], 't', tokens, 'ts', ts)
    -- A full bucket is the same as no key: let it go when it would be full again.
    redis.call('PEXPIRE', KEYS[1], math.ceil((limit - tokens) * window / limit) + 1)
  end
  return {1, math.floor(tokens), math.ceil((limit - tokens) * window / limit), 0, now}
end

if block > 0 and not peek then
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[1], 'b', now + block)
  redis.call('PEXPIRE', KEYS[1], block)
  return {0, 0, block, block, now}
end
return {0, math.floor(tokens), math.ceil((limit - tokens) * window / limit), math.ceil((cost - tokens) * window / limit), now}
