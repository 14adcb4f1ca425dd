--[[
  incr-1.lua with named parameters: the body reads `key`, `by` and `tag` as locals.
  KEYS[1] key: a counter
  ARGV[1] by: the increment, or 'fail' to answer an error
  ARGV[2] tag: returned as it is
  Returns {value, tag}.
]]
if by == 'fail' then return redis.error_reply('ERR asked to fail') end
return {redis.call('INCRBY', key, by), tag}
