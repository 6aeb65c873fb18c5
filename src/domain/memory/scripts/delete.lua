-- Admin: remove a task. KEYS: analysis, narrative, progress, context, stream, channel,
-- last event, task index, meta, report, data.
-- ARGV: task_id, maxlen, deadline_ms, candidate epoch. Returns the notification id, or '' if
-- nothing was stored.
local late = check_deadline(ARGV[3])
if late then return late end
local previous = previous_event(redis.call('HGET', KEYS[4], 'rift_last_event'), KEYS[7])
redis.call('ZREM', KEYS[8], ARGV[1])
if redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[10], KEYS[11]) == 0 then
  return ''
end
check_epoch(KEYS[9], ARGV[4], '')
local id = notify(KEYS[5], KEYS[6], ARGV[2], ARGV[1], 'Rift', 'task_deleted',
  cjson.encode({task_id = ARGV[1]}), previous)
-- The context hash is gone: the chain of the task's events starts here from now on.
redis.call('SET', KEYS[7], id)
retain(KEYS[7])
return id
