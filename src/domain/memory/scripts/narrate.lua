-- ConceptAgent's write. KEYS: narrative, context, stream, channel, last event, task index, meta
-- [, request].
-- ARGV: task_id, prefix, suffix, maxlen, then the guard: deadline_ms, candidate epoch,
-- expected epoch ('' for any), fingerprint, window_ms.
-- Returns {1 if there is an analysis to narrate else 0, epoch, narrative, analysis version,
-- notification id, 1 if replayed else 0}; without an analysis, {0, epoch, '', 0, '', 0}.
-- Reading the analysis and writing the narrative in one step pins the version it was built on.
local remembered = recall_request(KEYS[8], ARGV[8])
if remembered then
  if remembered.err then return remembered end
  return {1, remembered.e or '', remembered.n, remembered.v, remembered.id, 1}
end
local late = check_deadline(ARGV[5])
if late then return late end
-- Before looking for the analysis: one the caller knew of may be gone with an older history.
local epoch, stale = check_epoch(KEYS[7], ARGV[6], ARGV[7])
if stale then return stale end
local state = task_state(ARGV[1], redis.call('HMGET', KEYS[2], unpack(TASK_FIELDS)))
if not state.analysis then
  return {0, epoch, '', 0, '', 0}
end
local ok, analysis = pcall(cjson.decode, state.analysis)
if not ok or type(analysis) ~= 'table' or type(analysis.summary) ~= 'string' then
  return redis.error_reply('RIFTCORRUPT analysis has no summary')
end
local version = state.analysis_version
local narrative = ARGV[2] .. analysis.summary .. ARGV[3]
redis.call('SET', KEYS[1], narrative)
local id = notify(KEYS[3], KEYS[4], ARGV[4], ARGV[1], 'ConceptAgent', 'narrative_stored',
  cjson.encode({task_id = ARGV[1], narrative = narrative, analysis_version = version}),
  previous_event(state.last_event, KEYS[5]))
redis.call('HSET', KEYS[2], 'ConceptAgent_narrative', narrative,
  'rift_narrative_analysis_version', version, 'rift_narrative_digest', redis.sha1hex(narrative),
  'rift_last_event', id)
retain(KEYS[1], KEYS[2])
index_task(KEYS[6], ARGV[1], id)
remember_request(KEYS[8], ARGV[9], {f = ARGV[8], n = narrative, v = version, id = id, e = epoch})
return {1, epoch, narrative, version, id, 0}
