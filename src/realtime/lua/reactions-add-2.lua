-- Adds to a room's reaction counter, records this instance's own total (so that it can
-- re-assert it after Redis restarts empty), renews the room's idle TTL, and publishes the new
-- count to every instance.
-- KEYS[1] <room>:reactions     hash reaction -> count (every instance's reactions)
-- KEYS[2] <room>:reactions:by  hash instanceId NUL reaction -> that instance's contribution
-- ARGV[1] reaction  ARGV[2] delta  ARGV[3] channel  ARGV[4] instanceId  ARGV[5] room
-- ARGV[6] now ms  ARGV[7] by (member id or "")  ARGV[8] max distinct reactions per room
-- ARGV[9] idle ttl ms (both keys expire when nobody reacts or watches for this long)
-- ARGV[10] PUBLISH, or SPUBLISH on a cluster (the channel is then in the room's slot)
-- Returns the new count, or -1 when the room already has the maximum of distinct reactions.
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 and redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[8]) then
  return -1
end
local n = redis.call('HINCRBY', KEYS[1], ARGV[1], tonumber(ARGV[2]))
redis.call('HINCRBY', KEYS[2], ARGV[4] .. '\0' .. ARGV[1], tonumber(ARGV[2]))
redis.call('PEXPIRE', KEYS[1], ARGV[9])
redis.call('PEXPIRE', KEYS[2], ARGV[9])
redis.call(ARGV[10] == 'SPUBLISH' and 'SPUBLISH' or 'PUBLISH', ARGV[3], '{"from":' .. cjson.encode(ARGV[4]) .. ',"at":' .. ARGV[6] ..
  ',"data":{"type":"reaction","room":' .. cjson.encode(ARGV[5]) .. ',"reaction":' .. cjson.encode(ARGV[1]) ..
  ',"count":' .. n .. ',"by":' .. cjson.encode(ARGV[7]) .. '}}')
return n
