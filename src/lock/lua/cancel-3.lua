-- Withdraws a waiter (timeout, abort). A slot handed to it meanwhile is released and passed on.
-- KEYS: see lib.lua. ARGV[1] token, ARGV[2] limit.
-- Returns 1 when it held a slot (now released) | 0 otherwise.
bind(KEYS)
local token, limit = ARGV[1], tonumber(ARGV[2])
open(limit, false)
redis.call('ZREM', waiters, token)
redis.call('HDEL', meta, 'w:' .. token)
local held = 0
if holderExpiry(token) then
  removeHolder(token)
  held = 1
end
purge()
promote(limit, '')
return held
