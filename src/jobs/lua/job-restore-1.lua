-- Writes back a record kept in memory while Redis was down. A record already finished in
-- Redis (another instance finished the job meanwhile) is never moved back by an older copy.
-- KEYS[1]  the job hash  <prefix>:job:{id}
-- ARGV[1]  TTL in seconds
-- ARGV[2]  the notification channel
-- ARGV[3]  the notification message (JSON)
-- ARGV[4]  updatedAt of the copy (ms since epoch)
-- ARGV[5..] field, value, … of the whole record
-- Returns 1 when written, 0 when Redis holds a finished or newer record.
local current = redis.call('HMGET', KEYS[1], 'status', 'updatedAt')
if current[1] then
  local finished = current[1] == 'succeeded' or current[1] == 'failed' or current[1] == 'cancelled'
  if finished or tonumber(current[2]) > tonumber(ARGV[4]) then
    return 0
  end
end
local fields = {}
for i = 5, #ARGV do
  fields[#fields + 1] = ARGV[i]
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[1]))
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1
