-- One task's notifications after an id, oldest first, without reading other tasks' entries.
-- KEYS: context, last event, stream. ARGV: the id to start after (exclusive), the most to return.
-- Returns entries as XRANGE does.
-- Follows the task's chain back from its newest entry ('rift_last_event' in the context hash,
-- or the key a deletion left), each entry naming the previous one ('rift_prev'), until an id
-- not after the start, an entry trimmed from the stream (all before it are trimmed too), or
-- the task's first. Cost: one XRANGE of one entry per event of this task after the start.
local function parse(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(ms), tonumber(seq)
end
local after_ms, after_seq = parse(ARGV[1])
local function is_after(id)
  local ms, seq = parse(id)
  return ms ~= nil and (ms > after_ms or (ms == after_ms and seq > after_seq))
end
local found = {}
local cursor = redis.call('HGET', KEYS[1], 'rift_last_event') or redis.call('GET', KEYS[2])
while cursor and is_after(cursor) do
  local entry = redis.call('XRANGE', KEYS[3], cursor, cursor)[1]
  if not entry then break end
  found[#found + 1] = entry
  cursor = nil
  local fields = entry[2]
  for i = 1, #fields, 2 do
    if fields[i] == 'rift_prev' then cursor = fields[i + 1] end
  end
end
local oldest_first = {}
local limit = tonumber(ARGV[2])
for i = #found, math.max(1, #found - limit + 1), -1 do
  oldest_first[#oldest_first + 1] = found[i]
end
return oldest_first
