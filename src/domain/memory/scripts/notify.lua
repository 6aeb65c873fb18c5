-- Prelude of every write script: append a notification to the shared stream and publish it on
-- the prototype's per-task channel, inside the caller's atomic step.
-- Field names mirror domain::records::keys; keep them in step.
local function notify(stream, channel, maxlen, task_id, agent, action, payload)
  local encoded = cjson.encode(payload)
  local id = redis.call('XADD', stream, 'MAXLEN', '~', maxlen, '*',
    'task_id', task_id, 'agent', agent, 'action', action, 'payload', encoded)
  redis.call('PUBLISH', channel, '{"id":' .. cjson.encode(id) .. ',"task_id":' .. cjson.encode(task_id)
    .. ',"agent":' .. cjson.encode(agent) .. ',"action":' .. cjson.encode(action)
    .. ',"payload":' .. encoded .. '}')
  return id
end
