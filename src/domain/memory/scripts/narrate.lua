-- ConceptAgent's write. KEYS: narrative, context, stream, channel[, request].
-- ARGV: task_id, prefix, suffix, maxlen, then the guard: deadline_ms, fingerprint, window_ms.
-- Returns false when there is no analysis, else {narrative, analysis version, notification id,
-- 1 if replayed else 0}.
-- Reading the analysis and writing the narrative in one step pins the version it was built on.
local remembered = recall_request(KEYS[5], ARGV[6])
if remembered then
  if remembered.err then return remembered end
  return {remembered.n, remembered.v, remembered.id, 1}
end
local late = check_deadline(ARGV[5])
if late then return late end
local fields = redis.call('HMGET', KEYS[2], 'TechAgent_analysis', 'rift_analysis_version')
if not fields[1] then
  return false
end
local ok, analysis = pcall(cjson.decode, fields[1])
if not ok or type(analysis) ~= 'table' or type(analysis.summary) ~= 'string' then
  return redis.error_reply('RIFTCORRUPT analysis has no summary')
end
local version = tonumber(fields[2] or '0')
local narrative = ARGV[2] .. analysis.summary .. ARGV[3]
redis.call('SET', KEYS[1], narrative)
redis.call('HSET', KEYS[2], 'ConceptAgent_narrative', narrative,
  'rift_narrative_analysis_version', version)
local id = notify(KEYS[3], KEYS[4], ARGV[4], ARGV[1], 'ConceptAgent', 'narrative_stored',
  {task_id = ARGV[1], narrative = narrative, analysis_version = version})
remember_request(KEYS[5], ARGV[7], {f = ARGV[6], n = narrative, v = version, id = id})
return {narrative, version, id, 0}
