--[[
  Releases a lease only if the caller still holds it: its TTL may have run out and another
  holder may have it now (never someone else's).
  KEYS[1] the lease key (a cache stampede lock, a per-job lock)
  ARGV[1] the holder's token
  Returns 1 when released, 0 when the lease was not (or no longer) the caller's.
]]
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
