-- Releases a token's slot and hands free slots to the oldest waiters.
-- Parameters (src/lock/scripts.ts): the name's keys (see lib.lua), token, limit, publishArg (lib.lua bind).
-- Returns 1 released | 0 the token held nothing (expired or never granted): nothing deleted.
bind(holdersKey, waitersKey, metaKey, publishArg)
open(limitArg, false)
local expiry = holderExpiry(token)
if expiry then removeHolder(token) end
if anyWaiters() then
  purge()
  promote(tonumber(limitArg), '')
end
if expiry and expiry > nowMs then return 1 end
return 0
