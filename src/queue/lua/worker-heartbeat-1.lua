--[[
  One beat of a live redkit worker: records it, prunes workers not seen for `staleMs`, and keeps
  the set alive while someone beats. One call instead of a MULTI of three commands, because an
  idle worker's beats are most of what it costs a Redis billed per command.

  KEYS[1]  zset  member = worker id, score = last beat (ms, the worker's clock)
  ARGV[1]  worker id    ARGV[2] now (ms)    ARGV[3] staleMs    ARGV[4] ttlMs of the set
  Returns  the number of live workers after the beat
]]
local now = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[3]))
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return redis.call('ZCARD', KEYS[1])
