-- Extends a live slot of a token to ttl from now.
-- KEYS: see lib.lua. ARGV[1] token, ARGV[2] ttlMs, ARGV[3] limit.
-- Returns the holder's fence | 0 when the token no longer holds (expired or released).
bind(KEYS)
local token, ttl = ARGV[1], tonumber(ARGV[2])
open(tonumber(ARGV[3]), false)
local expiry = holderExpiry(token)
if not expiry or expiry <= nowMs then return 0 end
setExpiry(token, nowMs + ttl)
keepAlive(ttl + IDLE_MS, false)
return tonumber(holderFence(token))
