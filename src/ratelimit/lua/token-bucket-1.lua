--[[
  Token bucket: capacity = limit, refilled continuously at limit / windowMs tokens per ms.
  One atomic decision; time is Redis server time (TIME) so instances with skewed clocks agree.

  KEYS[1]  string "<tokens> <ms of tokens>" (tokens may be fractional, written with %.17g so
           that the in-memory store's doubles match exactly), or "b <blocked until ms>"
  ARGV[1]  limit (capacity)               ARGV[2] windowMs (time to refill from empty)
  ARGV[3]  cost                           ARGV[4] blockMs (0 = no block)
  ARGV[5]  now in ms, or '' for server TIME (tests inject a clock)
  ARGV[6]  '1' = peek (decide without consuming), '0' = consume

  Returns {allowed 0|1, remaining (whole tokens), resetMs (until full), retryAfterMs, nowMs}.
  One string, not a hash: GET + SET PX is the fewest calls for a state that changes every hit.
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

local tokens = limit
local ts = now
local state = redis.call('GET', KEYS[1])
if state then
  local first, second = string.match(state, '^(%S+) (%S+)$')
  if first == 'b' then
    local blocked = tonumber(second)
    if blocked > now then
      return {0, 0, blocked - now, blocked - now, now}
    end
  else
    tokens = tonumber(first)
    ts = tonumber(second)
  end
end
if now > ts then
  tokens = math.min(limit, tokens + (now - ts) * limit / window)
  ts = now
end

if tokens >= cost then
  if not peek then
    tokens = tokens - cost
    -- A full bucket is the same as no key: let it go when it would be full again.
    redis.call('SET', KEYS[1], string.format('%.17g %d', tokens, ts), 'PX', math.ceil((limit - tokens) * window / limit) + 1)
  end
  return {1, math.floor(tokens), math.ceil((limit - tokens) * window / limit), 0, now}
end

if block > 0 and not peek then
  redis.call('SET', KEYS[1], 'b ' .. string.format('%d', now + block), 'PX', block)
  return {0, 0, block, block, now}
end
return {0, math.floor(tokens), math.ceil((limit - tokens) * window / limit), math.ceil((cost - tokens) * window / limit), now}
