-- Extends a live slot of a token to ttl from now.
-- Parameters (src/lock/scripts.ts): the name's keys (see lib.lua), token, ttlMs, limit.
-- Returns the holder's fence (a string) | 0 when the token no longer holds (expired or released).
bind(holdersKey, waitersKey, metaKey)
open(limitArg, false)
local expiry = holderExpiry(token)
if not expiry or expiry <= nowMs then return 0 end
setExpiry(token, tonumber(ttlArg), ttlArg)
return holderFence(token)
