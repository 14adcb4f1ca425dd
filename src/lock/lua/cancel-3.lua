-- Withdraws a waiter (timeout, abort). A slot handed to it meanwhile is released and passed on.
-- Parameters (src/lock/scripts.ts): the name's keys (see lib.lua), token, limit, publishArg (lib.lua bind).
-- Returns 1 when it held a slot (now released) | 0 otherwise.
bind(holdersKey, waitersKey, metaKey, publishArg)
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
