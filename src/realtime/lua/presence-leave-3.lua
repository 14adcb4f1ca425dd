-- Removes a member from a room on behalf of one instance (or of a dead one, when reaping).
-- The member leaves the room, and "left" is published, only when no instance holds it any more.
-- KEYS[1] <room>:members  KEYS[2] <room>:meta  KEYS[3] <room>:inst:<instanceId>
-- ARGV[1] channel  ARGV[2] publishing instanceId  ARGV[3] room  ARGV[4] now ms
-- ARGV[5] memberId, or "" to remove every member of KEYS[3] (reaping a dead instance)
-- ARGV[6] PUBLISH, or SPUBLISH on a cluster (the channel is then in the room's slot)
-- Returns the ids of the members that left the room.
local publish = ARGV[6] == 'SPUBLISH' and 'SPUBLISH' or 'PUBLISH'
local ids
if ARGV[5] == '' then
  ids = redis.call('SMEMBERS', KEYS[3])
  redis.call('DEL', KEYS[3])
else
  if redis.call('SREM', KEYS[3], ARGV[5]) == 0 then
    return {}
  end
  ids = { ARGV[5] }
end
local gone = {}
for _, id in ipairs(ids) do
  if redis.call('HINCRBY', KEYS[1], id, -1) <= 0 then
    redis.call('HDEL', KEYS[1], id)
    redis.call('HDEL', KEYS[2], id)
    gone[#gone + 1] = id
    redis.call(publish, ARGV[1], '{"from":' .. cjson.encode(ARGV[2]) .. ',"at":' .. ARGV[4] ..
      ',"data":{"type":"left","room":' .. cjson.encode(ARGV[3]) .. ',"memberId":' .. cjson.encode(id) .. '}}')
  end
end
return gone
