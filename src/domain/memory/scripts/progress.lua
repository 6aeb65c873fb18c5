-- TaskAgent's look. KEYS: progress, context, stream, channel, last event, meta.
-- ARGV: task_id, completed record, maxlen, deadline_ms, candidate epoch.
-- Returns {has analysis, analysis version, has narrative, narrative's analysis version,
-- notification id or '', epoch}.
-- It may record completion, a write: refused like the others once Rift has given up on it.
local late = check_deadline(ARGV[4])
if late then return late end
local epoch = check_epoch(KEYS[6], ARGV[5], '')
local f = redis.call('HMGET', KEYS[2], 'TechAgent_analysis', 'rift_analysis_version',
  'ConceptAgent_narrative', 'rift_narrative_analysis_version', 'rift_last_event')
local analysis_version = tonumber(f[2] or '0')
local narrative_version = tonumber(f[4] or '0')
local recorded = ''
-- Completed: the narrative is built on the latest analysis (TaskState::is_completed).
if f[1] and f[3] and narrative_version >= analysis_version
    and redis.call('GET', KEYS[1]) ~= ARGV[2] then
  redis.call('SET', KEYS[1], ARGV[2])
  retain(KEYS[1], KEYS[2])
  recorded = notify(KEYS[3], KEYS[4], ARGV[3], ARGV[1], 'TaskAgent', 'progress_completed',
    cjson.encode({task_id = ARGV[1], status = 'completed', analysis_version = analysis_version}),
    previous_event(f[5], KEYS[5]))
  redis.call('HSET', KEYS[2], 'rift_last_event', recorded)
end
return {f[1] and 1 or 0, analysis_version, f[3] and 1 or 0, narrative_version, recorded, epoch}
