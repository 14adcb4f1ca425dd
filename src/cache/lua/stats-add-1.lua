--[[
  Adds one instance's cache counter deltas to the deployment-wide totals: one call for all
  fields (a per-command bill counts a script once), and only when something changed.

  KEYS[1]  hash  field = "<namespace>:<counter>", value = total across instances
  ARGV[1]  ttlMs of the hash (refreshed while any instance reports: an abandoned prefix expires)
  ARGV[2..] pairs of field, delta
  Returns  the number of fields updated
]]
local n = 0
for i = 2, #ARGV, 2 do
  redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1])
  n = n + 1
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return n
