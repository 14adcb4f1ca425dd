-- Extends a per-job lock if the caller still holds it.
-- KEYS[1]  the lock  <prefix>:job:{id}:lock
-- ARGV[1]  the holder's token
-- ARGV[2]  new lease in ms
-- Returns 1 when extended, 0 when the lock is gone or held by another token.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
