-- Creates a job record unless one exists, sets its TTL and announces it.
-- KEYS[1]  the job hash  <prefix>:job:{id}
-- ARGV[1]  TTL in seconds
-- ARGV[2]  the notification channel
-- ARGV[3]  the notification message (JSON)
-- ARGV[4..] field, value, field, value, … of the record
-- Returns 1 when created, 0 when a record with this id already exists.
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
local fields = {}
for i = 4, #ARGV do
  fields[#fields + 1] = ARGV[i]
end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[1]))
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1
