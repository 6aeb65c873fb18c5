-- TechAgent's write. KEYS: analysis, context, progress, stream, channel.
-- ARGV: task_id, record_json, summary, maxlen. Returns {version, notification id}.
local version = redis.call('HINCRBY', KEYS[2], 'rift_analysis_version', 1)
redis.call('SET', KEYS[1], ARGV[2])
redis.call('HSET', KEYS[2], 'TechAgent_analysis', ARGV[2])
-- A new analysis makes any recorded completion untrue until the task is narrated again.
redis.call('DEL', KEYS[3])
local id = notify(KEYS[4], KEYS[5], ARGV[4], ARGV[1], 'TechAgent', 'analysis_stored',
  {task_id = ARGV[1], summary = ARGV[3], version = version})
return {version, id}
