-- Applies a patch to a job record after validating the status change, refreshes the TTL and
-- announces the change. Validation runs here so that two writers cannot interleave a
-- read-check-write and move a finished job back (e.g. succeeded -> running).
-- KEYS[1]  the job hash  <prefix>:job:{id}
-- ARGV[1]  TTL in seconds
-- ARGV[2]  the notification channel
-- ARGV[3]  the new status, or '' to keep it
-- ARGV[4]  updatedAt (ms since epoch)
-- ARGV[5..] field, value, … to set (never 'status'/'updatedAt')
-- Returns {'OK', field, value, …} (the whole record), {'NOT_FOUND'}, or {'TRANSITION', current}.
local rank = { queued = 1, submitted = 2, running = 3, succeeded = 9, failed = 9, cancelled = 9 }
local current = redis.call('HGET', KEYS[1], 'status')
if not current then
  return { 'NOT_FOUND' }
end
local to = ARGV[3]
if rank[current] == 9 then
  return { 'TRANSITION', current }
end
if to ~= '' then
  if not rank[to] or rank[to] < rank[current] then
    return { 'TRANSITION', current }
  end
end
local fields = { 'updatedAt', ARGV[4] }
if to ~= '' then
  fields[#fields + 1] = 'status'
  fields[#fields + 1] = to
end
for i = 5, #ARGV do
  fields[#fields + 1] = ARGV[i]
end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[1]))
local record = redis.call('HGETALL', KEYS[1])
local id = redis.call('HGET', KEYS[1], 'id')
local progress = redis.call('HGET', KEYS[1], 'progress')
local status = redis.call('HGET', KEYS[1], 'status')
redis.call('PUBLISH', ARGV[2], cjson.encode({ id = id, status = status, progress = tonumber(progress), updatedAt = tonumber(ARGV[4]) }))
local out = { 'OK' }
for i = 1, #record do
  out[#out + 1] = record[i]
end
return out
