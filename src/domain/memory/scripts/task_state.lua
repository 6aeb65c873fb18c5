-- What a task's context hash says about it, whoever wrote it: Rift, or a writer that keeps no
-- version bookkeeping (the Python prototype, on the same Redis). Loaded before the body of every
-- script that reads a task's state, after the constants redis.rs prepends (NARRATIVE_OPENING,
-- NARRATIVE_MIDDLE, NARRATIVE_CLOSING, from domain::records).
--
-- Rift records beside each value it writes the version it gave it and the SHA1 of the bytes it
-- wrote ('rift_analysis_digest', 'rift_narrative_digest'). A value whose digest no longer
-- matches was written by someone else after Rift, so the bookkeeping is older than the data:
-- - an analysis so written is one version newer than the last Rift recorded (1 if none);
-- - a narrative so written is built on the current analysis when it is the text that analysis
--   gives (what ConceptAgent, the prototype's or Rift's, would write now), else on an older,
--   unknown one (version 0).
-- A value Rift wrote before digests existed (a version recorded, no digest) counts as Rift's.

-- The fields `task_state` reads, in its order: HMGET the context hash with them.
local TASK_FIELDS = {'TechAgent_analysis', 'rift_analysis_version', 'rift_analysis_digest',
  'ConceptAgent_narrative', 'rift_narrative_analysis_version', 'rift_narrative_digest',
  'rift_report_analysis_version', 'rift_last_event'}

local function written_by_rift(value, recorded_version, digest)
  if digest then return digest == redis.sha1hex(value) end
  return recorded_version ~= false
end

-- `f`: the context hash's TASK_FIELDS (HMGET). Returns a table: analysis and narrative (the
-- stored texts, or false), analysis_version, analysis_by_rift (whether Rift wrote the stored
-- analysis, so the items it keeps beside it are that analysis's), narrative_version (the
-- analysis version the narrative is built on), report_version (the analysis version of the
-- stored report, 0 for none) and last_event (the task's newest notification id, or false).
local function task_state(task_id, f)
  local state = {analysis = f[1], narrative = f[4], analysis_version = 0, narrative_version = 0,
    analysis_by_rift = false, report_version = tonumber(f[7] or '0'), last_event = f[8]}
  if f[1] then
    state.analysis_version = tonumber(f[2] or '0')
    state.analysis_by_rift = written_by_rift(f[1], f[2], f[3])
    if not state.analysis_by_rift then
      state.analysis_version = state.analysis_version + 1
    end
  end
  if f[4] then
    if written_by_rift(f[4], f[5], f[6]) then
      state.narrative_version = tonumber(f[5] or '0')
    elseif f[1] then
      local ok, analysis = pcall(cjson.decode, f[1])
      if ok and type(analysis) == 'table' and type(analysis.summary) == 'string'
          and f[4] == NARRATIVE_OPENING .. task_id .. NARRATIVE_MIDDLE .. analysis.summary
            .. NARRATIVE_CLOSING then
        state.narrative_version = state.analysis_version
      end
    end
  end
  return state
end

-- The status of a task in `state`, as domain::TaskStatus::of decides it; keep them together.
local function task_status(state)
  if not state.analysis then return 'not-started' end
  if not state.narrative then return 'in-progress' end
  if state.narrative_version >= state.analysis_version then return 'completed' end
  return 'stale'
end
