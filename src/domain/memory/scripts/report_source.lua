-- ReportAgent's read: what a report is made from. KEYS: context, data. ARGV: task_id.
-- Returns {1 if there is an analysis else 0, its version (task_state.lua), the items Rift kept
-- with it (JSON) or '' when the stored analysis is not the one they belong to (another writer
-- stored it since, or Rift kept none)}.
local state = task_state(ARGV[1], redis.call('HMGET', KEYS[1], unpack(TASK_FIELDS)))
local data = ''
if state.analysis_by_rift then data = redis.call('GET', KEYS[2]) or '' end
return {state.analysis and 1 or 0, state.analysis_version, data}
