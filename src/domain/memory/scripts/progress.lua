-- TaskAgent's look. KEYS: progress, context, stream, channel, last event, task index, meta.
-- ARGV: task_id, completed record, maxlen, deadline_ms, candidate epoch.
-- Returns {has analysis, analysis version, has narrative, narrative's analysis version,
-- notification id or '', epoch}.
-- It may record completion, a write: refused like the others once Rift has given up on it.
local late = check_deadline(ARGV[4])
if late then return late end
local epoch = check_epoch(KEYS[7], ARGV[5], '')
local state = task_state(ARGV[1], redis.call('HMGET', KEYS[2], unpack(TASK_FIELDS)))
local recorded = ''
if task_status(state) == 'completed' and redis.call('GET', KEYS[1]) ~= ARGV[2] then
  redis.call('SET', KEYS[1], ARGV[2])
  retain(KEYS[1], KEYS[2])
  recorded = notify(KEYS[3], KEYS[4], ARGV[3], ARGV[1], 'TaskAgent', 'progress_completed',
    cjson.encode({task_id = ARGV[1], status = 'completed', analysis_version = state.analysis_version}),
    previous_event(state.last_event, KEYS[5]))
  redis.call('HSET', KEYS[2], 'rift_last_event', recorded)
  index_task(KEYS[6], ARGV[1], recorded)
end
return {state.analysis and 1 or 0, state.analysis_version, state.narrative and 1 or 0,
  state.narrative_version, recorded, epoch}
