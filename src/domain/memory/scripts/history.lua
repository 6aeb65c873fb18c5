-- Where the notification stream stands. KEYS: stream, meta. ARGV: an id to look for, or ''.
-- Returns {last generated id, oldest retained id or '0-0', 1 if entries were ever trimmed,
-- 1 if the id looked for is retained, the epoch or ''}.
-- Trimming does not move max-deleted-entry-id (only XDEL does), so "trimmed" is derived from
-- entries-added (Redis 7+) against the length; without it, trimming is assumed.
local epoch = redis.call('HGET', KEYS[2], 'epoch') or ''
if redis.call('EXISTS', KEYS[1]) == 0 then
  return {'0-0', '0-0', 0, 0, epoch}
end
local info = redis.call('XINFO', 'STREAM', KEYS[1])
local last, length, added = '0-0', 0, nil
for i = 1, #info, 2 do
  if info[i] == 'last-generated-id' then last = info[i + 1] end
  if info[i] == 'length' then length = info[i + 1] end
  if info[i] == 'entries-added' then added = info[i + 1] end
end
local first = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)[1]
local trimmed = 1
if added ~= nil and added <= length then trimmed = 0 end
local present = 0
if ARGV[1] ~= '' and #redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1]) > 0 then present = 1 end
return {last, first and first[1] or '0-0', trimmed, present, epoch}
