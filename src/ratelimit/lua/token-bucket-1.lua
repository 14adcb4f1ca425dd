--[[
  Token bucket: capacity = limit, refilled continuously at limit / windowMs tokens per ms.
  Decides a batch of requests of one key in order, exactly as if they came one after another
  at the same instant: concurrent requests for a hot key share one call. Atomic; time is Redis
  server time (TIME) so instances with skewed clocks agree.

  KEYS[1]  string "<tokens> <ms of tokens>" (tokens may be fractional, written with %.17g so
           that the in-memory store's doubles match exactly), or "b <blocked until ms>"
  ARGV[1]  limit (capacity)               ARGV[2] windowMs (time to refill from empty)
  ARGV[3]  blockMs (0 = no block)
  ARGV[4]  now in ms, or '' for server TIME (tests inject a clock)
  ARGV[5]  '1' = peek (decide without consuming), '0' = consume
  ARGV[6…] the cost of each request, in order

  Returns {allowed 0|1, remaining (whole tokens), resetMs (until full), retryAfterMs} per
  request, flattened. One string, not a hash: GET + SET PX is the fewest calls for a state that
  changes every hit. A block discards the bucket: after the block it starts full.
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

local tokens = limit
local ts = now
local blocked = 0
local state = redis.call('GET', KEYS[1])
if state then
  local first, second = string.match(state, '^(%S+) (%S+)$')
  if first == 'b' then
    blocked = tonumber(second)
  else
    tokens = tonumber(first)
    ts = tonumber(second)
  end
end
if now > ts then
  tokens = math.min(limit, tokens + (now - ts) * limit / window)
  ts = now
end

local changed = false
local blockedNow = false
local out = {}
for i = 6, #ARGV do
  local cost = tonumber(ARGV[i])
  if blocked > now then
    out[#out + 1] = 0; out[#out + 1] = 0; out[#out + 1] = blocked - now; out[#out + 1] = blocked - now
  elseif tokens >= cost then
    if not peek then
      tokens = tokens - cost
      changed = true
    end
    out[#out + 1] = 1; out[#out + 1] = math.floor(tokens); out[#out + 1] = math.ceil((limit - tokens) * window / limit); out[#out + 1] = 0
  elseif block > 0 and not peek then
    blocked = now + block
    blockedNow = true
    out[#out + 1] = 0; out[#out + 1] = 0; out[#out + 1] = block; out[#out + 1] = block
  else
    out[#out + 1] = 0; out[#out + 1] = math.floor(tokens); out[#out + 1] = math.ceil((limit - tokens) * window / limit); out[#out + 1] = math.ceil((cost - tokens) * window / limit)
  end
end

if blockedNow then
  redis.call('SET', KEYS[1], 'b ' .. string.format('%d', blocked), 'PX', block)
elseif changed then
  -- A full bucket is the same as no key: let it go when it would be full again.
  redis.call('SET', KEYS[1], string.format('%.17g %d', tokens, ts), 'PX', math.ceil((limit - tokens) * window / limit) + 1)
end
return out
