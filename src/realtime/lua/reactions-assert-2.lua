-- Re-asserts one instance's own reaction totals in a room after a reconnect. Idempotent: only
-- what Redis does not already hold from this instance is added (after Redis restarted empty,
-- all of it; after a mere reconnect, nothing; after reactions sent while degraded, those), so
-- instances that held the same view never count each other's reactions twice.
-- KEYS[1] <room>:reactions  KEYS[2] <room>:reactions:by  (as in reactions-add-2.lua)
-- ARGV[1] channel  ARGV[2] instanceId  ARGV[3] room  ARGV[4] now ms  ARGV[5] max distinct
-- reactions per room  ARGV[6] idle ttl ms  ARGV[7] PUBLISH, or SPUBLISH on a cluster
-- ARGV[8..] pairs: reaction, this instance's total
-- Returns the number of reactions whose count changed.
local publish = ARGV[7] == 'SPUBLISH' and 'SPUBLISH' or 'PUBLISH'
local changed = 0
for i = 8, #ARGV, 2 do
  local reaction = ARGV[i]
  local mine = tonumber(ARGV[i + 1])
  local field = ARGV[2] .. '\0' .. reaction
  local missing = mine - (tonumber(redis.call('HGET', KEYS[2], field)) or 0)
  local fits = redis.call('HEXISTS', KEYS[1], reaction) == 1 or redis.call('HLEN', KEYS[1]) < tonumber(ARGV[5])
  if missing > 0 and fits then
    local n = redis.call('HINCRBY', KEYS[1], reaction, missing)
    redis.call('HSET', KEYS[2], field, mine)
    changed = changed + 1
    redis.call(publish, ARGV[1], '{"from":' .. cjson.encode(ARGV[2]) .. ',"at":' .. ARGV[4] ..
      ',"data":{"type":"reaction","room":' .. cjson.encode(ARGV[3]) .. ',"reaction":' .. cjson.encode(reaction) ..
      ',"count":' .. n .. ',"by":""}}')
  end
end
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[6])
  redis.call('PEXPIRE', KEYS[2], ARGV[6])
end
return changed
