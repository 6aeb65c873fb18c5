-- TechAgent's write. KEYS: analysis, context, progress, stream, channel, last event, task index,
-- data, meta [, request].
-- ARGV: task_id, record_json, summary (as a JSON string), maxlen, expected_version ('' for
-- any), the items (JSON,
-- kept for ReportAgent), then the guard: deadline_ms, candidate epoch, expected epoch ('' for
-- any), fingerprint, window_ms.
-- Returns {version, notification id, 1 if replayed else 0, epoch}.
local remembered = recall_request(KEYS[10], ARGV[10])
if remembered then
  if remembered.err then return remembered end
  return {remembered.v, remembered.id, 1, remembered.e or ''}
end
local late = check_deadline(ARGV[7])
if late then return late end
local epoch, stale = check_epoch(KEYS[9], ARGV[8], ARGV[9])
if stale then return stale end
-- The current version, counting one another writer stored since Rift's last (task_state.lua).
local state = task_state(ARGV[1], redis.call('HMGET', KEYS[2], unpack(TASK_FIELDS)))
local current = state.analysis_version
if ARGV[5] ~= '' and tonumber(ARGV[5]) ~= current then
  return redis.error_reply('RIFTVERSION ' .. current)
end
local version = current + 1
redis.call('SET', KEYS[1], ARGV[2])
redis.call('SET', KEYS[8], ARGV[6])
-- A new analysis makes any recorded completion untrue until the task is narrated again.
redis.call('DEL', KEYS[3])
-- The payload from JSON Rift encoded (a task id needs no escaping), not cjson: less work
-- inside Redis on every Analyze (BENCHMARKS.md, "Redis's instructions per Analyze script call").
local payload = '{"task_id":"' .. ARGV[1] .. '","summary":' .. ARGV[3] .. ',"version":'
  .. version .. '}'
local id = notify(KEYS[4], KEYS[5], ARGV[4], ARGV[1], 'TechAgent', 'analysis_stored', payload,
  previous_event(state.last_event, KEYS[6]))
redis.call('HSET', KEYS[2], 'TechAgent_analysis', ARGV[2], 'rift_analysis_version', version,
  'rift_analysis_digest', redis.sha1hex(ARGV[2]), 'rift_last_event', id)
-- After the HSET: a task's first write creates the context hash there.
retain(KEYS[1], KEYS[2], KEYS[8])
index_task(KEYS[7], ARGV[1], id)
remember_request(KEYS[10], ARGV[11], {f = ARGV[10], v = version, id = id, e = epoch})
return {version, id, 0, epoch}
