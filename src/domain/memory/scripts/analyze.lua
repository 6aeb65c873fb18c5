-- TechAgent's write. KEYS: analysis, context, progress, stream, channel[, request].
-- ARGV: task_id, record_json, summary, maxlen, expected_version ('' for any), then the guard:
-- deadline_ms, fingerprint, window_ms.
-- Returns {version, notification id, 1 if replayed else 0}.
local remembered = recall_request(KEYS[6], ARGV[7])
if remembered then
  if remembered.err then return remembered end
  return {remembered.v, remembered.id, 1}
end
local late = check_deadline(ARGV[6])
if late then return late end
local current = tonumber(redis.call('HGET', KEYS[2], 'rift_analysis_version') or '0')
if ARGV[5] ~= '' and tonumber(ARGV[5]) ~= current then
  return redis.error_reply('RIFTVERSION ' .. current)
end
local version = redis.call('HINCRBY', KEYS[2], 'rift_analysis_version', 1)
redis.call('SET', KEYS[1], ARGV[2])
redis.call('HSET', KEYS[2], 'TechAgent_analysis', ARGV[2])
-- A new analysis makes any recorded completion untrue until the task is narrated again.
redis.call('DEL', KEYS[3])
local id = notify(KEYS[4], KEYS[5], ARGV[4], ARGV[1], 'TechAgent', 'analysis_stored',
  {task_id = ARGV[1], summary = ARGV[3], version = version})
remember_request(KEYS[6], ARGV[8], {f = ARGV[7], v = version, id = id})
return {version, id, 0}
