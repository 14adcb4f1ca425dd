-- Adds a member to a room on behalf of one instance; a member counts once however many
-- instances hold it. Publishes the "joined" envelope when the member is new to the room, from
-- inside the script so that joined/left events reach every instance in the order they happened.
-- KEYS[1] <room>:members  hash memberId -> number of instances holding it
-- KEYS[2] <room>:meta     hash memberId -> meta JSON
-- KEYS[3] <room>:inst:<instanceId>  set of memberIds this instance holds
-- ARGV[1] memberId  ARGV[2] meta JSON  ARGV[3] channel  ARGV[4] instanceId  ARGV[5] room  ARGV[6] now ms
-- ARGV[7] PUBLISH, or SPUBLISH on a cluster (the channel is then in the room's slot)
-- Returns 1 when the member is new to the room, 0 otherwise.
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
if redis.call('SADD', KEYS[3], ARGV[1]) == 0 then
  return 0
end
if redis.call('HINCRBY', KEYS[1], ARGV[1], 1) ~= 1 then
  return 0
end
redis.call(ARGV[7] == 'SPUBLISH' and 'SPUBLISH' or 'PUBLISH', ARGV[3], '{"from":' .. cjson.encode(ARGV[4]) .. ',"at":' .. ARGV[6] ..
  ',"data":{"type":"joined","room":' .. cjson.encode(ARGV[5]) ..
  ',"member":{"id":' .. cjson.encode(ARGV[1]) .. ',"meta":' .. ARGV[2] .. '}}}')
return 1
