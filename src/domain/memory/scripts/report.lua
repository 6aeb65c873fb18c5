-- ReportAgent's write. KEYS: report, context, stream, channel, last event, task index, meta.
-- ARGV: task_id, report_json, the analysis version it profiles, maxlen, then the guard:
-- deadline_ms, candidate epoch, expected epoch ('' for any), fingerprint, window_ms (both '').
-- Returns {epoch, notification id}; RIFTVERSION <current> when the task was analysed since
-- the items were read, so a report is always stored with the version it was built on.
local late = check_deadline(ARGV[5])
if late then return late end
local epoch, stale = check_epoch(KEYS[7], ARGV[6], ARGV[7])
if stale then return stale end
local state = task_state(ARGV[1], redis.call('HMGET', KEYS[2], unpack(TASK_FIELDS)))
if state.analysis_version ~= tonumber(ARGV[3]) then
  return redis.error_reply('RIFTVERSION ' .. state.analysis_version)
end
redis.call('SET', KEYS[1], ARGV[2])
local id = notify(KEYS[3], KEYS[4], ARGV[4], ARGV[1], 'ReportAgent', 'report_stored',
  cjson.encode({task_id = ARGV[1], analysis_version = state.analysis_version}),
  previous_event(state.last_event, KEYS[5]))
redis.call('HSET', KEYS[2], 'rift_report_analysis_version', state.analysis_version,
  'rift_last_event', id)
retain(KEYS[1], KEYS[2])
index_task(KEYS[6], ARGV[1], id)
return {epoch, id}
