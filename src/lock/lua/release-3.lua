-- Releases a token's slot and hands free slots to the oldest waiters.
-- KEYS: see lib.lua. ARGV[1] token, ARGV[2] limit.
-- Returns 1 released | 0 the token held nothing (expired or never granted): nothing deleted.
bind(KEYS)
local token, limit = ARGV[1], tonumber(ARGV[2])
open(limit, false)
local expiry = holderExpiry(token)
if expiry then removeHolder(token) end
if anyWaiters() then
  purge()
  promote(limit, '')
end
if expiry and expiry > nowMs then return 1 end
return 0
