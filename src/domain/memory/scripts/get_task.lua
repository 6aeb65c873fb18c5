-- GetTask: one task as stored, without writing anything. KEYS: context, meta.
-- ARGV: task_id.
-- Returns {analysis or '', 1 if there is one, its version, narrative or '', 1 if there is one,
-- the analysis version it is built on, the report's analysis version (0: none), newest
-- notification id or '', epoch or ''}; versions as task_state.lua derives them.
local state = task_state(ARGV[1], redis.call('HMGET', KEYS[1], unpack(TASK_FIELDS)))
return {state.analysis or '', state.analysis and 1 or 0, state.analysis_version,
  state.narrative or '', state.narrative and 1 or 0, state.narrative_version,
  state.report_version, state.last_event or '', redis.call('HGET', KEYS[2], 'epoch') or ''}
