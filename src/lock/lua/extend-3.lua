-- Extends a live slot of a token to ttl from now.
-- KEYS: see lib.lua. ARGV[1] token, ARGV[2] ttlMs.
-- Returns the holder's fence | 0 when the token no longer holds (expired or released).
local token, ttl = ARGV[1], tonumber(ARGV[2])
local score = redis.call('ZSCORE', holders, token)
if not score or tonumber(score) <= nowMs then return 0 end
redis.call('ZADD', holders, nowMs + ttl, token)
keep(holders, ttl + IDLE_MS)
keep(meta, ttl + IDLE_MS)
return tonumber(redis.call('HGET', meta, 'f:' .. token))
