--[[
  Exact sliding window (a log of admitted hits): a hit is admitted when the units admitted in
  the last windowMs, plus its cost, stay within the limit. Denied hits are not logged.
  Decides a batch of requests of one key in order, exactly as if they came one after another
  at the same instant: concurrent requests for a hot key share one call. Atomic; time is Redis
  server time (TIME) so instances with skewed clocks agree.

  KEYS[1]  zset  the log: score = admission time (ms), member = "<seq>:<cost>"
  KEYS[2]  hash  n = units in the log, q = member sequence, b = blocked until (ms)
           (both keys share the caller's {hash tag})
  ARGV[1]  limit (units per window)       ARGV[2] windowMs
  ARGV[3]  blockMs (0 = no block)
  ARGV[4]  now in ms, or '' for server TIME (tests inject a clock)
  ARGV[5]  '1' = peek (decide without consuming), '0' = consume
  ARGV[6…] the cost of each request, in order

  Returns {allowed 0|1, remaining, resetMs, retryAfterMs} per request, flattened; resetMs =
  until the newest admitted hit leaves the window (the limiter is full again).
  A block clears the log: after it ends the key starts afresh.
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

local h = redis.call('HMGET', KEYS[2], 'n', 'q', 'b')
local blocked = tonumber(h[3]) or 0
local used = tonumber(h[1]) or 0
local seq = tonumber(h[2]) or 0
local newest = nil

if blocked <= now then
  -- Hits admitted at or before now - window have left the window.
  local edge = now - window
  local gone = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', edge)
  if #gone > 0 then
    for i = 1, #gone do
      used = used - tonumber(string.match(gone[i], ':(%d+)$'))
    end
    redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', edge)
  end
  local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
  -- An empty (or expired) log holds nothing, whatever the hash says.
  if #last == 0 then
    used = 0
  else
    newest = tonumber(last[2])
    if #gone > 0 then
      -- Keep n in step with the log even when nothing is admitted; same expiry as the log.
      redis.call('HSET', KEYS[2], 'n', used)
      redis.call('PEXPIRE', KEYS[2], newest + window - now)
    end
  end
end

-- When a request of `cost` fits: walk the oldest hits (stored, then this batch's) until enough leave.
local added = {}
local function retryFor(cost)
  local freed = 0
  local start = 0
  -- Read in small pages so that a long log costs only what the answer needs.
  while true do
    local page = redis.call('ZRANGE', KEYS[1], start, start + 31, 'WITHSCORES')
    if #page == 0 then break end
    for i = 1, #page, 2 do
      freed = freed + tonumber(string.match(page[i], ':(%d+)$'))
      if used - freed + cost <= limit then return tonumber(page[i + 1]) + window - now end
    end
    start = start + 32
  end
  -- This batch's hits are the newest (admitted now): they leave one window from now.
  return window
end

local blockedNow = false
local out = {}
for i = 6, #ARGV do
  local cost = tonumber(ARGV[i])
  if blocked > now then
    out[#out + 1] = 0; out[#out + 1] = 0; out[#out + 1] = blocked - now; out[#out + 1] = blocked - now
  elseif used + cost <= limit then
    local reset = 0
    if newest then reset = newest + window - now end
    if not peek then
      seq = seq + 1
      used = used + cost
      added[#added + 1] = now
      added[#added + 1] = seq .. ':' .. cost
      newest = now
      reset = window
    end
    out[#out + 1] = 1; out[#out + 1] = limit - used; out[#out + 1] = reset; out[#out + 1] = 0
  elseif block > 0 and not peek then
    blocked = now + block
    blockedNow = true
    out[#out + 1] = 0; out[#out + 1] = 0; out[#out + 1] = block; out[#out + 1] = block
  else
    out[#out + 1] = 0; out[#out + 1] = limit - used; out[#out + 1] = newest + window - now; out[#out + 1] = retryFor(cost)
  end
end

if blockedNow then
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[2], 'n', 0, 'q', seq, 'b', blocked)
  redis.call('PEXPIRE', KEYS[2], block)
elseif #added > 0 then
  redis.call('ZADD', KEYS[1], unpack(added))
  redis.call('HSET', KEYS[2], 'n', used, 'q', seq)
  redis.call('PEXPIRE', KEYS[1], window)
  redis.call('PEXPIRE', KEYS[2], window)
end
return out
