-- Admin: remove a task. KEYS: analysis, narrative, progress, context, stream, channel, meta.
-- ARGV: task_id, maxlen, deadline_ms, candidate epoch. Returns the notification id, or '' if
-- nothing was stored.
local late = check_deadline(ARGV[3])
if late then return late end
if redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4]) == 0 then
  return ''
end
check_epoch(KEYS[7], ARGV[4], '')
return notify(KEYS[5], KEYS[6], ARGV[2], ARGV[1], 'Rift', 'task_deleted', {task_id = ARGV[1]})
