-- Renews an instance's heartbeat in the registry of live instances, by Redis's clock so that
-- instances with skewed clocks agree on who is dead.
-- KEYS[1] instances zset: instanceId -> heartbeat deadline (ms, Redis time)
-- ARGV[1] instanceId  ARGV[2] ttl ms
-- Returns 1 when the instance was alive, 0 when its heartbeat had expired (it may have been
-- reaped: re-announce), -1 when it was unknown.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local previous = redis.call('ZSCORE', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
if not previous then
  return -1
end
if tonumber(previous) < now then
  return 0
end
return 1
