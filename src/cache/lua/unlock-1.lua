--[[
  Releases a cache stampede lock only if this caller still holds it (its TTL may have run out
  and another instance may hold it now).
  KEYS[1] the lock key
  ARGV[1] the holder's token
  Returns 1 when released, 0 when the lock was not (or no longer) ours.
]]
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
