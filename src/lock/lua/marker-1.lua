-- The data marker of this Redis (used by the restart guard where INFO is refused): returned as
-- it is, or created when missing, which happens on first use and whenever Redis lost its data.
-- KEYS[1] the marker key; ARGV[1] a new marker id (40 hex) to store if none.
-- Returns "<id: 40 hex>:<created at, Redis time in ms>".
local m = redis.call('GET', KEYS[1])
if m then return m end
local t = redis.call('TIME')
m = ARGV[1] .. ':' .. t[1] .. string.sub('00000' .. t[2], -6, -4)
redis.call('SET', KEYS[1], m)
return m
