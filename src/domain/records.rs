//! The bytes Rift writes into shared memory, kept compatible with the Python prototype.
//!
//! The prototype wrote its JSON with `json.dumps` defaults (`", "` and `": "` separators, non-ASCII
//! escaped as `\uXXXX`), so a Rift and a prototype sharing one Redis write identical values for
//! identical input. Both memory backends take their values from here.

use std::io;

use serde::Serialize;

use super::{analysis::AnalysisStats, charts::Chart, profile::Profile, task::TaskId};

/// Key names and hash fields, exactly as the prototype spelled them.
pub mod keys {
    use crate::domain::TaskId;

    /// TechAgent's analysis (JSON).
    pub fn analysis(task: &TaskId) -> String {
        format!("TechAgent:analysis:{task}")
    }
    /// ConceptAgent's narrative (text).
    pub fn narrative(task: &TaskId) -> String {
        format!("ConceptAgent:narrative:{task}")
    }
    /// TaskAgent's progress record (JSON), written once the task is completed.
    pub fn progress(task: &TaskId) -> String {
        format!("TaskAgent:progress:{task}")
    }
    /// The hash the agents share per task.
    pub fn context(task: &TaskId) -> String {
        format!("{CONTEXT_PREFIX}{task}")
    }
    /// ReportAgent's report (JSON: profile and charts; Rift's own).
    pub fn report(task: &TaskId) -> String {
        format!("rift:report:{task}")
    }
    /// The items of the task's latest Rift analysis (a JSON list; Rift's own), which
    /// ReportAgent profiles.
    pub fn data(task: &TaskId) -> String {
        format!("rift:data:{task}")
    }
    /// The prototype's pub/sub channel per task.
    pub fn updates_channel(task: &TaskId) -> String {
        format!("task_updates:{task}")
    }
    /// An idempotency key's remembered result (Rift's own; the prototype has none).
    pub fn request(request_id: &str) -> String {
        format!("rift:request:{request_id}")
    }
    /// The newest notification of a deleted task (Rift's own): where its chain of events
    /// starts once the context hash, which holds it while the task exists, is gone.
    pub fn last_event(task: &TaskId) -> String {
        format!("{LAST_EVENT_PREFIX}{task}")
    }
    /// The field of the context hash holding the task's newest notification id (Rift's own).
    pub const LAST_EVENT_FIELD: &str = "rift_last_event";
    /// The field of a notification naming the previous notification of the same task (Rift's
    /// own; absent on a task's first): a chain a per-task replay follows instead of reading
    /// every task's notifications.
    pub const PREVIOUS_FIELD: &str = "rift_prev";
    /// The notification stream every Rift process tails.
    pub const NOTIFICATIONS: &str = "shared:notifications";
    /// Rift's own hash about the history: field `epoch`, the random id of this incarnation of
    /// the data, set by the first write that finds none.
    pub const META: &str = "rift:meta";
    /// The key of the probe that tells whether a full memory has room again (a tiny write,
    /// expiring after a second).
    pub const ROOM_PROBE: &str = "rift:probe:room";
    /// The field of [`META`] holding the epoch; `prelude.lua` spells it too.
    pub const EPOCH_FIELD: &str = "epoch";
    /// Rift's index of tasks by last change (a sorted set: member the task id, score the
    /// millisecond of its newest notification), kept by every write script in the same step;
    /// `ListTasks` pages through it.
    pub const TASK_INDEX: &str = "rift:tasks";
    /// What [`context`] puts before the task id: `list_tasks.lua` builds the context key of
    /// each task it lists from it.
    pub const CONTEXT_PREFIX: &str = "shared:task_context:";
    /// What [`last_event`] puts before the task id, for `list_tasks.lua` likewise.
    pub const LAST_EVENT_PREFIX: &str = "rift:task_last:";
}

/// ConceptAgent's narrative is `NARRATIVE_OPENING + task id + NARRATIVE_MIDDLE + summary +
/// NARRATIVE_CLOSING`, as the prototype wrote it; the scripts get these three from here to tell
/// whether a narrative another writer stored is the one the current analysis gives.
pub const NARRATIVE_OPENING: &str = "The analysis for task ";
/// See [`NARRATIVE_OPENING`].
pub const NARRATIVE_MIDDLE: &str = " concluded: ";
/// See [`NARRATIVE_OPENING`].
pub const NARRATIVE_CLOSING: &str = ".";

/// The narrative's text before the summary: `The analysis for task 101 concluded: `.
pub fn narrative_prefix(task: &TaskId) -> String {
    format!("{NARRATIVE_OPENING}{task}{NARRATIVE_MIDDLE}")
}

/// The analysis as stored under `TechAgent:analysis:<id>` and in the context hash.
#[derive(Serialize)]
struct AnalysisRecord<'a> {
    task_id: &'a str,
    summary: &'a str,
    stats: &'a AnalysisStats,
}

/// `{"task_id": "101", "summary": "Analyzed 3 items", "stats": {...}}`: the prototype's two keys
/// first, byte for byte, then Rift's statistics.
pub fn analysis_json(task: &TaskId, summary: &str, stats: &AnalysisStats) -> String {
    python_json(&AnalysisRecord {
        task_id: task.as_str(),
        summary,
        stats,
    })
}

/// ReportAgent's report as stored under `rift:report:<id>`: the profile and its charts, with
/// the analysis version they describe.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct ReportRecord {
    /// The task.
    pub task_id: String,
    /// The analysis version profiled.
    pub analysis_version: u64,
    /// The profile.
    pub profile: Profile,
    /// Its charts.
    pub charts: Vec<Chart>,
}

/// The stored form of a report.
pub fn report_json(record: &ReportRecord) -> String {
    serde_json::to_string(record).unwrap_or_default()
}

/// A stored report; `None` when it is not one Rift can read.
pub fn stored_report(json: &str) -> Option<ReportRecord> {
    serde_json::from_str(json).ok()
}

/// The items of a task as kept for ReportAgent.
pub fn data_json(items: &[serde_json::Value]) -> String {
    serde_json::to_string(items).unwrap_or_default()
}

/// `{"task_id": "101", "status": "completed"}`, as the prototype's TaskAgent wrote it.
pub fn progress_completed_json(task: &TaskId) -> String {
    #[derive(Serialize)]
    struct ProgressRecord<'a> {
        task_id: &'a str,
        status: &'a str,
    }
    python_json(&ProgressRecord {
        task_id: task.as_str(),
        status: "completed",
    })
}

/// The summary inside a stored analysis, whoever wrote it (Rift or the prototype).
pub fn summary_of(analysis_json: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Summary {
        summary: String,
    }
    serde_json::from_str::<Summary>(analysis_json)
        .ok()
        .map(|s| s.summary)
}

/// The summary and, when its writer kept them (Rift does, the prototype does not), the
/// statistics of a stored analysis; `None` when it has no summary.
pub fn stored_analysis(analysis_json: &str) -> Option<(String, Option<AnalysisStats>)> {
    #[derive(serde::Deserialize)]
    struct Stored {
        summary: String,
        #[serde(default)]
        stats: Option<AnalysisStats>,
    }
    serde_json::from_str::<Stored>(analysis_json)
        .ok()
        .map(|stored| (stored.summary, stored.stats))
}

/// Serialises like Python's `json.dumps(value)` with default arguments.
pub fn python_json(value: &impl Serialize) -> String {
    let mut out = Vec::with_capacity(128);
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, PythonFormatter);
    // Serialising these plain structs into a Vec cannot fail.
    if value.serialize(&mut serializer).is_err() {
        return String::new();
    }
    String::from_utf8(out).unwrap_or_default()
}

/// `json.dumps` layout: `", "` between items, `": "` after keys, ASCII only.
struct PythonFormatter;

impl serde_json::ser::Formatter for PythonFormatter {
    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }

    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }

    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        if fragment.is_ascii() {
            return w.write_all(fragment.as_bytes());
        }
        let mut units = [0u16; 2];
        for c in fragment.chars() {
            if c.is_ascii() {
                w.write_all(&[c as u8])?;
            } else {
                for unit in c.encode_utf16(&mut units) {
                    write!(w, "\\u{unit:04x}")?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn task(id: &str) -> TaskId {
        TaskId::parse(id).expect("valid id")
    }

    #[test]
    fn analysis_starts_with_the_prototypes_bytes() {
        let items: Vec<serde_json::Value> = vec![json!("data1"), json!("data2"), json!("data3")];
        let stored = analysis_json(&task("101"), "Analyzed 3 items", &AnalysisStats::of(&items));
        assert!(
            stored.starts_with(r#"{"task_id": "101", "summary": "Analyzed 3 items", "stats": {"#),
            "{stored}"
        );
        assert_eq!(summary_of(&stored).as_deref(), Some("Analyzed 3 items"));
    }

    #[test]
    fn progress_is_the_prototypes_bytes() {
        assert_eq!(
            progress_completed_json(&task("101")),
            r#"{"task_id": "101", "status": "completed"}"#
        );
    }

    #[test]
    fn python_layout_escapes_non_ascii_like_json_dumps() {
        // json.dumps(["é", "😀", {"a": [1, 2]}])
        assert_eq!(
            python_json(&json!(["é", "😀", {"a": [1, 2]}])),
            r#"["\u00e9", "\ud83d\ude00", {"a": [1, 2]}]"#
        );
    }

    #[test]
    fn reads_a_prototype_analysis() {
        assert_eq!(
            summary_of(r#"{"task_id": "7", "summary": "Analyzed 2 items"}"#).as_deref(),
            Some("Analyzed 2 items")
        );
        assert_eq!(summary_of("not json"), None);
    }
}
