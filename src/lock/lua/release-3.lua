-- Releases a token's slot and hands free slots to the oldest waiters.
-- KEYS: see lib.lua. ARGV[1] token, ARGV[2] limit, ARGV[3] wake channel.
-- Returns 1 released | 0 the token held nothing (expired or never granted): nothing deleted.
bind(KEYS)
local token, limit, channel = ARGV[1], tonumber(ARGV[2]), ARGV[3]
open(limit, false)
local expiry = holderExpiry(token)
if expiry then removeHolder(token) end
if redis.call('ZCARD', waiters) > 0 then
  purge()
  promote(limit, channel, '')
end
if expiry and expiry > nowMs then return 1 end
return 0
