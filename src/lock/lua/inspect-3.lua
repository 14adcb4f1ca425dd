-- Lists the live holders of a name.
-- KEYS: see lib.lua. No ARGV.
-- Returns a flat array: token, fence, remaining ms, token, fence, remaining ms, …
local live = redis.call('ZRANGEBYSCORE', holders, '(' .. nowMs, '+inf', 'WITHSCORES')
local out = {}
for i = 1, #live, 2 do
  out[#out + 1] = live[i]
  out[#out + 1] = redis.call('HGET', meta, 'f:' .. live[i]) or '0'
  out[#out + 1] = tonumber(live[i + 1]) - nowMs
end
return out
