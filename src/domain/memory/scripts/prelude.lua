-- Prelude of every write script: the notification append and the write guards, so each write
-- stays one atomic step. Field names mirror domain::records::keys; keep them in step.

-- The writer's W3C traceparent: the last ARGV of every write script ('' when untraced), which
-- redis.rs `traced` appends after all the others.
local writer_traceparent = ARGV[#ARGV]

-- Retention (`--task-ttl-secs`): the second-to-last ARGV of every write script, in ms ('' keeps
-- tasks for ever), which redis.rs `retained` appends just before the traceparent.
local task_ttl_ms = ARGV[#ARGV - 1]

-- Gives the task keys a write just wrote their retention, in the same atomic step.
local function retain(...)
  if task_ttl_ms ~= '' then
    for _, key in ipairs({...}) do
      redis.call('PEXPIRE', key, task_ttl_ms)
    end
  end
end

-- The task's newest notification id before this write, '' for none: `in_context` (the context
-- hash's 'rift_last_event', read with the write's own HMGET; false when absent), else the key
-- `last` a deletion left (a task deleted and written again), else none.
local function previous_event(in_context, last)
  return in_context or redis.call('GET', last) or ''
end

-- Appends a notification to the shared stream and publishes it on the prototype's channel.
-- `payload` is JSON text: Analyze's is put together from pieces Rift encoded (the script's
-- cheapest way to it), the others' are `cjson.encode`d by their scripts. A traced write's entry
-- carries its traceparent, so subscribers can join the writer's trace; every entry but a task's
-- first names the task's previous one ('rift_prev', from `previous_event`), so replaying one
-- task follows that chain instead of reading every task's entries. The caller stores the id it
-- returns as the task's newest ('rift_last_event').
local function notify(stream, channel, maxlen, task_id, agent, action, payload, previous)
  -- Spelled out rather than built in a table: this runs on every write.
  local id
  if writer_traceparent ~= '' and previous ~= '' then
    id = redis.call('XADD', stream, 'MAXLEN', '~', maxlen, '*',
      'task_id', task_id, 'agent', agent, 'action', action, 'payload', payload,
      'traceparent', writer_traceparent, 'rift_prev', previous)
  elseif writer_traceparent ~= '' then
    id = redis.call('XADD', stream, 'MAXLEN', '~', maxlen, '*',
      'task_id', task_id, 'agent', agent, 'action', action, 'payload', payload,
      'traceparent', writer_traceparent)
  elseif previous ~= '' then
    id = redis.call('XADD', stream, 'MAXLEN', '~', maxlen, '*',
      'task_id', task_id, 'agent', agent, 'action', action, 'payload', payload,
      'rift_prev', previous)
  else
    id = redis.call('XADD', stream, 'MAXLEN', '~', maxlen, '*',
      'task_id', task_id, 'agent', agent, 'action', action, 'payload', payload)
  end
  -- One concatenation, no cjson: a stream id is digits and '-', a task id (TaskId) only
  -- letters, digits, '.', '_' and '-', the agents and actions are the scripts' own words; none
  -- needs escaping in JSON.
  redis.call('PUBLISH', channel, '{"id":"' .. id .. '","task_id":"' .. task_id .. '","agent":"'
    .. agent .. '","action":"' .. action .. '","payload":' .. payload .. '}')
  return id
end

-- Puts the task first in Rift's task index (score: the millisecond of its newest notification,
-- `id`), in the write's own step. With a retention, also drops the tasks whose keys have expired
-- by now: those whose last write is older than the retention.
local function index_task(index, task_id, id)
  local ms = tonumber(string.match(id, '^(%d+)-'))
  redis.call('ZADD', index, ms, task_id)
  if task_ttl_ms ~= '' then
    redis.call('ZREMRANGEBYSCORE', index, '-inf', '(' .. (ms - tonumber(task_ttl_ms)))
  end
end

-- Refuses the write once Redis's clock is past the deadline (unix ms; '0' for none), so a
-- write that arrives after its caller gave up is never applied.
local function check_deadline(deadline_ms)
  local deadline = tonumber(deadline_ms)
  if deadline and deadline > 0 then
    local now = redis.call('TIME')
    if tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) > deadline then
      return redis.error_reply('RIFTDEADLINE the deadline passed before the write')
    end
  end
  return nil
end

-- This history's epoch (the hash `meta`, field 'epoch'): a random id of its incarnation, set to
-- `candidate` (fresh for every call) by the first write that finds none: a new deployment, or
-- a Redis that came back empty. Returns the epoch, and an error reply when the caller named
-- another one (`expected`, '' for none): its versions and request ids belong to a history that
-- is gone, so nothing may be written on their strength. Setting a missing epoch is not a write
-- a caller sees, so it stays even when the write is refused.
local function check_epoch(meta, candidate, expected)
  local epoch = redis.call('HGET', meta, 'epoch')
  if not epoch then
    epoch = candidate
    redis.call('HSET', meta, 'epoch', epoch)
  end
  if expected ~= '' and expected ~= epoch then
    return epoch, redis.error_reply('RIFTEPOCH ' .. epoch)
  end
  return epoch, nil
end

-- The remembered result of an earlier write with this request key, or nil; an error reply (a
-- table with `err`) when the key was used for a different request (another fingerprint).
local function recall_request(key, fingerprint)
  if not key then return nil end
  local stored = redis.call('GET', key)
  if not stored then return nil end
  local remembered = cjson.decode(stored)
  if remembered.f ~= fingerprint then
    return redis.error_reply('RIFTREUSED request id reused for a different request')
  end
  return remembered
end

local function remember_request(key, window_ms, remembered)
  if key then
    redis.call('SET', key, cjson.encode(remembered), 'PX', window_ms)
  end
end
