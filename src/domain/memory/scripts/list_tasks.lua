-- ListTasks: one page of tasks, most recently changed first, without writing anything.
-- KEYS: task index, stream.
-- ARGV: snapshot ('' to begin a listing), cursor ms and cursor task id ('' and '' from the
-- start), page size, status ('' for any), most tasks to look at, most tasks changed since the
-- snapshot, the context key's prefix, the deleted-task key's prefix.
-- Returns {snapshot, next cursor ms or '', next cursor id or '', then per task: id, position ms,
-- has analysis, analysis version, has narrative, narrative version, report version, newest
-- notification id or ''}.
--
-- Stable under concurrent writes (AIP-158): the order is that of each task's last change as
-- of the snapshot (the newest notification id when the listing began), ties by id, both
-- descending. A task not written since is where the index puts it (score below the
-- snapshot's millisecond); one written since (score from that millisecond on) is put where its
-- newest notification not after the snapshot was, found by following its chain of
-- notifications back ('rift_prev'). So every page cuts the same order, and a task that exists
-- throughout appears exactly once; one created since the snapshot does not appear.
local function parse(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(ms), tonumber(seq)
end
local snapshot = ARGV[1]
if snapshot == '' then
  local newest = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)[1]
  snapshot = newest and newest[1] or '0-0'
end
local snap_ms, snap_seq = parse(snapshot)
local function not_after_snapshot(id)
  local ms, seq = parse(id)
  return ms < snap_ms or (ms == snap_ms and seq <= snap_seq)
end
local cursor_ms, cursor_id = tonumber(ARGV[2]), ARGV[3]
-- Whether position (ms, id) comes after the cursor in the listing's order.
local function after_cursor(ms, id)
  if not cursor_ms then return true end
  return ms < cursor_ms or (ms == cursor_ms and id < cursor_id)
end
local page_size, status, scan_limit = tonumber(ARGV[4]), ARGV[5], tonumber(ARGV[6])
local context_prefix, last_prefix = ARGV[8], ARGV[9]

-- Tasks written from the snapshot's millisecond on, placed by their chain.
if redis.call('ZCOUNT', KEYS[1], snap_ms, '+inf') > tonumber(ARGV[7]) then
  return redis.error_reply('RIFTLISTING too many tasks changed since this listing began')
end
local changed = {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], snap_ms, '+inf')) do
  local cursor = redis.call('HGET', context_prefix .. id, 'rift_last_event')
    or redis.call('GET', last_prefix .. id)
  while cursor and not not_after_snapshot(cursor) do
    local entry = redis.call('XRANGE', KEYS[2], cursor, cursor)[1]
    if not entry then
      return redis.error_reply('RIFTLISTING the history this listing began at was trimmed')
    end
    cursor = false
    local fields = entry[2]
    for i = 1, #fields, 2 do
      if fields[i] == 'rift_prev' then cursor = fields[i + 1] end
    end
  end
  if cursor then
    local ms = parse(cursor)
    if after_cursor(ms, id) then changed[#changed + 1] = {ms, id} end
  end
end
table.sort(changed, function(a, b)
  return a[1] > b[1] or (a[1] == b[1] and a[2] > b[2])
end)

-- Tasks not written since, straight from the index, in batches.
local max = '(' .. snap_ms
if cursor_ms and cursor_ms < snap_ms then max = cursor_ms end
local batch, offset, buffered, next_row, index_done = page_size + 1, 0, {}, 1, false
local function peek_index()
  while next_row > #buffered and not index_done do
    local rows = redis.call('ZREVRANGEBYSCORE', KEYS[1], max, '-inf', 'WITHSCORES', 'LIMIT',
      offset, batch)
    offset = offset + #rows / 2
    index_done = #rows < 2 * batch
    buffered, next_row = {}, 1
    for i = 1, #rows, 2 do
      local ms = tonumber(rows[i + 1])
      if after_cursor(ms, rows[i]) then buffered[#buffered + 1] = {ms, rows[i]} end
    end
  end
  return buffered[next_row]
end

local out = {snapshot, '', ''}
local listed, scanned, next_changed, last_ms, last_id = 0, 0, 1, nil, nil
while true do
  local a, b = changed[next_changed], peek_index()
  local pick
  if a and (not b or a[1] > b[1] or (a[1] == b[1] and a[2] > b[2])) then
    pick, next_changed = a, next_changed + 1
  elseif b then
    pick, next_row = b, next_row + 1
  else
    break
  end
  if listed == page_size or scanned == scan_limit then
    -- More remain: the page ends at the last task looked at.
    out[2], out[3] = last_ms, last_id
    break
  end
  scanned = scanned + 1
  last_ms, last_id = tostring(pick[1]), pick[2]
  local state = task_state(pick[2],
    redis.call('HMGET', context_prefix .. pick[2], unpack(TASK_FIELDS)))
  -- An index entry whose keys expired (`--task-ttl-secs`) until a write prunes it: no task.
  if state.analysis and (status == '' or task_status(state) == status) then
    listed = listed + 1
    for _, value in ipairs({pick[2], pick[1], 1, state.analysis_version,
        state.narrative and 1 or 0, state.narrative_version, state.report_version,
        state.last_event or ''}) do
      out[#out + 1] = value
    end
  end
end
return out
