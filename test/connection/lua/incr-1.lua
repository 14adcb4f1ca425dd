--[[
  A batchable test script: INCRBY KEYS[1] by ARGV[1].
  KEYS[1] a counter
  ARGV[1] the increment, or 'nil' to answer nil (an INCRBY on a non-integer fails with a Redis error)
  Returns {value, TIME seconds, TIME µs}.
]]
if ARGV[1] == 'nil' then return nil end
local v = redis.call('INCRBY', KEYS[1], ARGV[1])
local t = serverTime()
return {v, t[1], t[2]}
