-- Withdraws a waiter (timeout, abort). A slot handed to it meanwhile is released and passed on.
-- Parameters (src/lock/scripts.ts): the name's keys (see lib.lua), token, limit.
-- Returns 1 when it held a slot (now released) | 0 otherwise.
bind(holdersKey, waitersKey, metaKey)
open(limitArg, false)
redis.call('ZREM', waiters, token)
redis.call('HDEL', meta, 'w:' .. token)
local held = 0
if holderExpiry(token) then
  removeHolder(token)
  held = 1
end
purge()
promote(tonumber(limitArg), '')
return held
