//! Reads without side effects: one task as stored (`GetTask`) and the tasks by last change
//! (`ListTasks`), and the page token that carries a listing from one page to the next.
//!
//! Both only read: memory derives each task's status the way Progress does, but records
//! nothing (no completion, no notification), so watching Redis while they run shows no write.

use super::{
    AnalysisStats, CoreError, EventId, TaskStatus,
    charts::Chart,
    memory::{ListPosition, ListSnapshot, ListedTask, TaskPage, TaskView},
    profile::Profile,
    records,
};

/// Tasks per page when the caller names no page size.
pub const DEFAULT_PAGE_SIZE: usize = 50;

/// The most tasks per page; a larger page size is taken as this (AIP-158).
pub const MAX_PAGE_SIZE: usize = 1_000;

/// A task as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskDetails {
    /// The task.
    pub task_id: String,
    /// Its status, as Progress would report it (without recording anything).
    pub status: TaskStatus,
    /// Its analysis, if any.
    pub analysis: Option<StoredAnalysis>,
    /// Its narrative, if any.
    pub narrative: Option<StoredNarrative>,
    /// Its report, if any.
    pub report: Option<StoredReport>,
    /// Its newest notification: a per-task watch from here misses nothing after this read.
    pub last_event: Option<EventId>,
    /// The history the versions belong to (empty while nothing was ever written).
    pub epoch: String,
}

/// The stored analysis.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredAnalysis {
    /// `Analyzed N items`.
    pub summary: String,
    /// Its version; one a writer without versions (the prototype) stored counts as one more
    /// than the last Rift recorded.
    pub version: u64,
    /// Its statistics; `None` when its writer kept none (the prototype).
    pub stats: Option<AnalysisStats>,
}

/// The stored narrative.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredNarrative {
    /// Its text.
    pub text: String,
    /// The analysis version it was built on; 0 when another writer built it on an analysis
    /// no longer known.
    pub analysis_version: u64,
}

/// Whether there is a report, and what it was built on; its content when asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredReport {
    /// The analysis version it profiles.
    pub analysis_version: u64,
    /// Whether the task was analysed again since: the report describes older data.
    pub stale: bool,
    /// The profile, when the report was asked for (GetTask `with_report`).
    pub profile: Option<Profile>,
    /// Its charts, likewise (empty otherwise).
    pub charts: Vec<Chart>,
}

impl TaskDetails {
    /// The details of `task_id` from what memory read.
    pub(crate) fn of(task_id: String, view: TaskView) -> Result<Self, CoreError> {
        let state = view.state;
        let analysis = match view.analysis {
            None => None,
            Some(record) => {
                let (summary, stats) = records::stored_analysis(&record).ok_or_else(|| {
                    tracing::error!(task_id, "stored analysis has no summary");
                    CoreError::Internal
                })?;
                Some(StoredAnalysis {
                    summary,
                    version: state.analysis_version,
                    stats,
                })
            }
        };
        Ok(Self {
            status: TaskStatus::of(&state),
            analysis,
            narrative: view.narrative.map(|text| StoredNarrative {
                text,
                analysis_version: state.narrative_analysis_version,
            }),
            report: report_of(state.report_analysis_version, state.analysis_version).map(
                |mut report| {
                    if let Some(record) = view.report.as_deref().and_then(records::stored_report) {
                        report.profile = Some(record.profile);
                        report.charts = record.charts;
                    }
                    report
                },
            ),
            last_event: view.last_event,
            epoch: view.epoch.unwrap_or_default(),
            task_id,
        })
    }
}

fn report_of(report_version: u64, analysis_version: u64) -> Option<StoredReport> {
    (report_version > 0).then(|| StoredReport {
        analysis_version: report_version,
        stale: report_version < analysis_version,
        profile: None,
        charts: Vec::new(),
    })
}

/// One task of a listing.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskSummary {
    /// The task.
    pub task_id: String,
    /// Its status now.
    pub status: TaskStatus,
    /// Its analysis version now.
    pub analysis_version: u64,
    /// The analysis version its narrative is built on (0: none).
    pub narrative_analysis_version: u64,
    /// Its report, if any.
    pub report: Option<StoredReport>,
    /// Its last change as of the listing's start: what the listing is ordered by.
    pub last_change_ms: u64,
    /// Its newest notification now.
    pub last_event: Option<EventId>,
}

impl From<ListedTask> for TaskSummary {
    fn from(listed: ListedTask) -> Self {
        let state = listed.state;
        Self {
            task_id: listed.task_id,
            status: TaskStatus::of(&state),
            analysis_version: state.analysis_version,
            narrative_analysis_version: state.narrative_analysis_version,
            report: report_of(state.report_analysis_version, state.analysis_version),
            last_change_ms: listed.position_ms,
            last_event: listed.last_event,
        }
    }
}

/// A page of tasks.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskList {
    /// Most recently changed first (as of the listing's start), ties by id, descending.
    pub tasks: Vec<TaskSummary>,
    /// The token of the next page; empty when this is the last.
    pub next_page_token: String,
    /// The newest notification when the listing began, as a resume token of a subscription
    /// to every task (in cluster mode the merged `v1:` token of every partition's; empty: no
    /// notification yet): watching every task from it (`after`) delivers every change the
    /// listing may not show.
    pub as_of: String,
}

/// The page token: which listing (its snapshot and status filter) and where it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PageToken {
    pub(crate) snapshot: ListSnapshot,
    pub(crate) after: ListPosition,
    pub(crate) status: Option<TaskStatus>,
}

/// Token format version; tokens are opaque to callers.
const TOKEN_VERSION: &str = "1";
const TOKEN_SEPARATOR: char = '~';

impl PageToken {
    pub(crate) fn encode(&self) -> String {
        let status = self.status.map_or("", |status| status.as_str());
        format!(
            "{TOKEN_VERSION}{TOKEN_SEPARATOR}{}{TOKEN_SEPARATOR}{}{TOKEN_SEPARATOR}{}{TOKEN_SEPARATOR}{status}",
            self.snapshot, self.after.ms, self.after.task_id
        )
    }

    /// Reads a token given with `status`; a token of another listing is refused.
    pub(crate) fn decode(token: &str, status: Option<TaskStatus>) -> Result<Self, CoreError> {
        let invalid = || {
            CoreError::invalid(
                "page_token",
                "is not a next_page_token of ListTasks: pass one back unchanged, or none to start",
            )
        };
        let parts: Vec<&str> = token.split(TOKEN_SEPARATOR).collect();
        let [version, snapshot, ms, task_id, token_status] = parts[..] else {
            return Err(invalid());
        };
        if version != TOKEN_VERSION {
            return Err(invalid());
        }
        let snapshot = ListSnapshot::parse(snapshot).ok_or_else(invalid)?;
        let ms: u64 = ms.parse().map_err(|_| invalid())?;
        let task_id = super::TaskId::parse(task_id).map_err(|_| invalid())?;
        if token_status != status.map_or("", |status| status.as_str()) {
            return Err(CoreError::invalid(
                "page_token",
                "belongs to a listing with another status filter: list again without it, or \
                 with the filter it was given with",
            ));
        }
        Ok(Self {
            snapshot,
            after: ListPosition {
                ms,
                task_id: task_id.to_string(),
            },
            status,
        })
    }
}

/// The page size to ask memory for: 0 is the default, more than the most is the most.
pub(crate) fn page_size(asked: i64) -> Result<usize, CoreError> {
    match asked {
        ..0 => Err(CoreError::invalid("page_size", "must not be negative")),
        0 => Ok(DEFAULT_PAGE_SIZE),
        n => Ok(usize::try_from(n)
            .unwrap_or(MAX_PAGE_SIZE)
            .min(MAX_PAGE_SIZE)),
    }
}

impl TaskList {
    pub(crate) fn of(page: TaskPage, status: Option<TaskStatus>) -> Self {
        let as_of = page.snapshot.resume_token();
        Self {
            next_page_token: page
                .next
                .map(|after| {
                    PageToken {
                        snapshot: page.snapshot,
                        after,
                        status,
                    }
                    .encode()
                })
                .unwrap_or_default(),
            tasks: page.tasks.into_iter().map(TaskSummary::from).collect(),
            as_of,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_belong_to_their_filter() {
        let token = PageToken {
            snapshot: ListSnapshot::One(EventId { ms: 17, seq: 3 }),
            after: ListPosition {
                ms: 12,
                task_id: "a.b-c_d".into(),
            },
            status: Some(TaskStatus::Stale),
        };
        let text = token.encode();
        assert_eq!(
            PageToken::decode(&text, Some(TaskStatus::Stale)),
            Ok(token.clone())
        );
        assert!(PageToken::decode(&text, None).is_err());
        for bad in [
            "",
            "x",
            "2~17-3~12~a~",
            "1~17-3~12~a b~",
            "1~nope~12~a~",
            "1~v1:0=x~12~a~",
            "1~v1:0~12~a~",
        ] {
            assert!(PageToken::decode(bad, None).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn cluster_tokens_carry_every_partitions_snapshot_as_a_merged_token() {
        let at = vec![
            EventId { ms: 5, seq: 1 },
            EventId::ZERO,
            EventId { ms: 7, seq: 0 },
        ];
        let token = PageToken {
            snapshot: ListSnapshot::Partitions(at.clone()),
            after: ListPosition {
                ms: 6,
                task_id: "t-9".into(),
            },
            status: None,
        };
        let text = token.encode();
        assert_eq!(text, "1~v1:0=5-1,2=7-0~6~t-9~");
        assert_eq!(PageToken::decode(&text, None), Ok(token));
        // What a subscription to every task resumes from.
        assert_eq!(
            ListSnapshot::Partitions(at).resume_token(),
            "v1:0=5-1,2=7-0"
        );
        assert_eq!(ListSnapshot::One(EventId::ZERO).resume_token(), "");
    }

    #[test]
    fn page_sizes_default_and_cap() {
        assert_eq!(page_size(0), Ok(DEFAULT_PAGE_SIZE));
        assert_eq!(page_size(7), Ok(7));
        assert_eq!(page_size(1_000_000), Ok(MAX_PAGE_SIZE));
        assert!(page_size(-1).is_err());
    }
}
