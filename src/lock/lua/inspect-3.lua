-- Lists the live holders of a name.
-- Parameters (src/lock/scripts.ts): the name's keys (see lib.lua), limit.
-- Returns a flat array: token, fence, remaining ms, token, fence, remaining ms, …
bind(holdersKey, waitersKey, metaKey)
open(limitArg, false)
if single then
  if holderCount() == 0 then return {} end
  return {mh, lastFence() or '0', mhx - nowMs}
end
local live = redis.call('ZRANGEBYSCORE', holders, '(' .. nowMs, '+inf', 'WITHSCORES')
local out = {}
for i = 1, #live, 2 do
  out[#out + 1] = live[i]
  out[#out + 1] = redis.call('HGET', meta, 'f:' .. live[i]) or '0'
  out[#out + 1] = tonumber(live[i + 1]) - nowMs
end
return out
