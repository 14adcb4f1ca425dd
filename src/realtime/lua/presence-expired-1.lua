-- Lists instances whose heartbeat deadline has passed (Redis time), or forgets one of them.
-- KEYS[1] instances zset  ARGV[1] "" to list, or an instanceId to remove if still expired
-- Returns the expired ids, or 1/0 for a removal.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if ARGV[1] == '' then
  return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, 100)
end
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if score and tonumber(score) < now then
  return redis.call('ZREM', KEYS[1], ARGV[1])
end
return 0
