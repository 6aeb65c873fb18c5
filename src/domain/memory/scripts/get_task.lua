-- GetTask: one task as stored, without writing anything. KEYS: context, meta, report.
-- ARGV: task_id, '1' to return the stored report too.
-- Returns {analysis or '', 1 if there is one, its version, narrative or '', 1 if there is one,
-- the analysis version it is built on, the report's analysis version (0: none), newest
-- notification id or '', epoch or '', the report (JSON) or ''}; versions as task_state.lua
-- derives them.
local state = task_state(ARGV[1], redis.call('HMGET', KEYS[1], unpack(TASK_FIELDS)))
local report = ''
if ARGV[2] == '1' and state.report_version > 0 then report = redis.call('GET', KEYS[3]) or '' end
return {state.analysis or '', state.analysis and 1 or 0, state.analysis_version,
  state.narrative or '', state.narrative and 1 or 0, state.narrative_version,
  state.report_version, state.last_event or '', redis.call('HGET', KEYS[2], 'epoch') or '',
  report}
