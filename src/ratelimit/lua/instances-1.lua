--[[
  Heartbeat of the live instances that share rate limits: used to share a limit out among
  instances when Redis goes away. Server time, so skewed clocks agree.

  KEYS[1]  zset  member = instance id, score = last heartbeat (ms)
  ARGV[1]  instance id    ARGV[2] ttlMs (an instance silent this long is gone)
  ARGV[3]  '1' = leave (remove this instance), '0' = heartbeat

  Returns the number of live instances.
]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
if ARGV[3] == '1' then
  redis.call('ZREM', KEYS[1], ARGV[1])
else
  redis.call('ZADD', KEYS[1], now, ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ttl * 2)
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - ttl)
return redis.call('ZCARD', KEYS[1])
