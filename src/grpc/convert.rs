//! Conversions between protobuf messages and domain values.

use prost_types::{ListValue, Struct, Timestamp, Value as ProtoValue, value::Kind};
use serde_json::{Number, Value as JsonValue};

use crate::{
    domain::{
        self, AnalysisStats, CoreError, Notification, TaskStatus, analysis,
        charts::Chart,
        profile::{Profile, ValueProfile},
    },
    pb,
};

/// A protobuf `Value` as JSON; `field` names it in the error (`data[3]`) when it has no JSON
/// form (NaN and infinities do not). The value is taken as an item of a data list, so its own
/// lists and objects start at level 2 of [`analysis::MAX_DATA_DEPTH`]; deeper is refused.
pub fn json_from_proto(
    value: ProtoValue,
    field: &dyn Fn() -> String,
) -> Result<JsonValue, CoreError> {
    json_at_level(value, field, 1)
}

/// [`json_from_proto`] of a value inside `level` lists or objects.
fn json_at_level(
    value: ProtoValue,
    field: &dyn Fn() -> String,
    level: usize,
) -> Result<JsonValue, CoreError> {
    let nested = || {
        if level >= analysis::MAX_DATA_DEPTH {
            Err(analysis::too_deep())
        } else {
            Ok(level + 1)
        }
    };
    Ok(match value.kind {
        None | Some(Kind::NullValue(_)) => JsonValue::Null,
        Some(Kind::BoolValue(b)) => JsonValue::Bool(b),
        Some(Kind::NumberValue(x)) => Number::from_f64(x)
            .map(JsonValue::Number)
            .ok_or_else(|| CoreError::invalid(field(), "numbers must be finite"))?,
        Some(Kind::StringValue(s)) => JsonValue::String(s),
        Some(Kind::ListValue(list)) => {
            let level = nested()?;
            JsonValue::Array(
                list.values
                    .into_iter()
                    .map(|v| json_at_level(v, field, level))
                    .collect::<Result<_, _>>()?,
            )
        }
        Some(Kind::StructValue(object)) => {
            let level = nested()?;
            JsonValue::Object(
                object
                    .fields
                    .into_iter()
                    .map(|(k, v)| Ok((k, json_at_level(v, field, level)?)))
                    .collect::<Result<_, CoreError>>()?,
            )
        }
    })
}

/// JSON as a protobuf `Value`.
pub fn proto_from_json(value: JsonValue) -> ProtoValue {
    proto_from_json_ref(&value)
}

/// [`proto_from_json`] of a borrowed value: each string is copied once, straight into the
/// protobuf value.
fn proto_from_json_ref(value: &JsonValue) -> ProtoValue {
    let kind = match value {
        JsonValue::Null => Kind::NullValue(0),
        JsonValue::Bool(b) => Kind::BoolValue(*b),
        JsonValue::Number(n) => Kind::NumberValue(n.as_f64().unwrap_or_default()),
        JsonValue::String(s) => Kind::StringValue(s.clone()),
        JsonValue::Array(items) => Kind::ListValue(ListValue {
            values: items.iter().map(proto_from_json_ref).collect(),
        }),
        JsonValue::Object(map) => Kind::StructValue(Struct {
            fields: map
                .iter()
                .map(|(k, v)| (k.clone(), proto_from_json_ref(v)))
                .collect(),
        }),
    };
    ProtoValue { kind: Some(kind) }
}

impl From<AnalysisStats> for pb::AnalysisStats {
    fn from(stats: AnalysisStats) -> Self {
        pb::AnalysisStats {
            item_count: stats.item_count,
            types: Some(type_counts(&stats.types)),
            numbers: stats.numbers.map(|n| pb::NumberStats {
                count: n.count,
                min: n.min,
                max: n.max,
                mean: n.mean,
                sum: n.sum,
            }),
            strings: stats.strings.map(|s| pb::StringStats {
                count: s.count,
                distinct: s.distinct,
                top: s.top.into_iter().map(value_count).collect(),
            }),
        }
    }
}

impl From<domain::Analysis> for pb::AnalyzeResponse {
    fn from(analysis: domain::Analysis) -> Self {
        pb::AnalyzeResponse {
            task_id: analysis.task_id,
            summary: analysis.summary,
            version: analysis.version,
            stats: Some(analysis.stats.into()),
            epoch: analysis.epoch,
        }
    }
}

impl From<domain::Narrative> for pb::NarrateResponse {
    fn from(narrative: domain::Narrative) -> Self {
        pb::NarrateResponse {
            task_id: narrative.task_id,
            narrative: narrative.narrative,
            analysis_version: narrative.analysis_version,
            epoch: narrative.epoch,
        }
    }
}

impl From<TaskStatus> for pb::TaskStatus {
    fn from(status: TaskStatus) -> Self {
        match status {
            TaskStatus::NotStarted => pb::TaskStatus::NotStarted,
            TaskStatus::InProgress => pb::TaskStatus::InProgress,
            TaskStatus::Completed => pb::TaskStatus::Completed,
            TaskStatus::Stale => pb::TaskStatus::Stale,
        }
    }
}

impl From<domain::Progress> for pb::ProgressResponse {
    fn from(progress: domain::Progress) -> Self {
        pb::ProgressResponse {
            task_id: progress.task_id,
            status: pb::TaskStatus::from(progress.status).into(),
            analysis_version: progress.analysis_version,
            narrative_analysis_version: progress.narrative_analysis_version,
            epoch: progress.epoch,
        }
    }
}

fn timestamp(id: domain::EventId) -> Timestamp {
    timestamp_of_ms(id.ms)
}

fn timestamp_of_ms(ms: u64) -> Timestamp {
    Timestamp {
        seconds: (ms / 1000) as i64,
        nanos: ((ms % 1000) * 1_000_000) as i32,
    }
}

/// The status a request names; `TASK_STATUS_UNSPECIFIED` (or a number this build does not
/// know) is none.
pub(super) fn status_from_proto(status: i32) -> Option<TaskStatus> {
    match pb::TaskStatus::try_from(status).ok()? {
        pb::TaskStatus::Unspecified => None,
        pb::TaskStatus::NotStarted => Some(TaskStatus::NotStarted),
        pb::TaskStatus::InProgress => Some(TaskStatus::InProgress),
        pb::TaskStatus::Completed => Some(TaskStatus::Completed),
        pb::TaskStatus::Stale => Some(TaskStatus::Stale),
    }
}

fn id_text(id: Option<domain::EventId>) -> String {
    id.map(|id| id.to_string()).unwrap_or_default()
}

impl From<domain::StoredReport> for pb::StoredReport {
    fn from(report: domain::StoredReport) -> Self {
        pb::StoredReport {
            analysis_version: report.analysis_version,
            stale: report.stale,
            profile: report.profile.map(Into::into),
            charts: report.charts.into_iter().map(Into::into).collect(),
        }
    }
}

impl From<domain::Report> for pb::ReportResponse {
    fn from(report: domain::Report) -> Self {
        pb::ReportResponse {
            task_id: report.task_id,
            analysis_version: report.analysis_version,
            profile: Some(report.profile.into()),
            charts: report.charts.into_iter().map(Into::into).collect(),
            epoch: report.epoch,
        }
    }
}

impl From<Chart> for pb::Chart {
    fn from(chart: Chart) -> Self {
        pb::Chart {
            kind: chart.kind.as_str().to_owned(),
            field: chart.field,
            title: chart.title,
            svg: chart.svg,
        }
    }
}

impl From<Profile> for pb::Profile {
    fn from(profile: Profile) -> Self {
        pb::Profile {
            item_count: profile.item_count,
            values: Some(profile.values.into()),
            records: profile.records.map(|records| pb::RecordsProfile {
                count: records.count,
                fields: records
                    .fields
                    .into_iter()
                    .map(|field| pb::FieldProfile {
                        name: field.name,
                        present: field.present,
                        values: Some(field.values.into()),
                    })
                    .collect(),
                fields_truncated: records.fields_truncated,
            }),
        }
    }
}

impl From<ValueProfile> for pb::ValueProfile {
    fn from(values: ValueProfile) -> Self {
        pb::ValueProfile {
            count: values.count,
            types: Some(type_counts(&values.types)),
            booleans: values.booleans.map(|booleans| pb::BooleanCounts {
                true_count: booleans.true_count,
                false_count: booleans.false_count,
            }),
            numbers: values.numbers.map(|n| pb::NumberProfile {
                count: n.count,
                mean: n.mean,
                std: n.std,
                min: n.min,
                q1: n.q1,
                median: n.median,
                q3: n.q3,
                max: n.max,
                exact: n.exact,
                histogram: Some(pb::Histogram {
                    start: n.histogram.start,
                    width: n.histogram.width,
                    counts: n.histogram.counts,
                }),
            }),
            strings: values.strings.map(|s| pb::StringProfile {
                count: s.count,
                distinct: s.distinct,
                distinct_exact: s.distinct_exact,
                top: s.top.into_iter().map(value_count).collect(),
                min_length: s.min_length,
                mean_length: s.mean_length,
                max_length: s.max_length,
            }),
        }
    }
}

fn type_counts(types: &analysis::TypeCounts) -> pb::TypeCounts {
    pb::TypeCounts {
        nulls: types.nulls,
        booleans: types.booleans,
        numbers: types.numbers,
        strings: types.strings,
        lists: types.lists,
        objects: types.objects,
    }
}

fn value_count(value: analysis::ValueCount) -> pb::ValueCount {
    pb::ValueCount {
        value: value.value,
        count: value.count,
        truncated: value.truncated,
    }
}

impl From<domain::TaskDetails> for pb::GetTaskResponse {
    fn from(task: domain::TaskDetails) -> Self {
        pb::GetTaskResponse {
            task_id: task.task_id,
            status: pb::TaskStatus::from(task.status).into(),
            analysis: task.analysis.map(|analysis| pb::StoredAnalysis {
                summary: analysis.summary,
                version: analysis.version,
                stats: analysis.stats.map(Into::into),
            }),
            narrative: task.narrative.map(|narrative| pb::StoredNarrative {
                text: narrative.text,
                analysis_version: narrative.analysis_version,
            }),
            report: task.report.map(Into::into),
            last_notification_id: id_text(task.last_event),
            epoch: task.epoch,
        }
    }
}

impl From<domain::TaskList> for pb::ListTasksResponse {
    fn from(list: domain::TaskList) -> Self {
        pb::ListTasksResponse {
            tasks: list
                .tasks
                .into_iter()
                .map(|task| pb::TaskSummary {
                    task_id: task.task_id,
                    status: pb::TaskStatus::from(task.status).into(),
                    analysis_version: task.analysis_version,
                    narrative_analysis_version: task.narrative_analysis_version,
                    report: task.report.map(Into::into),
                    last_change: Some(timestamp_of_ms(task.last_change_ms)),
                    last_notification_id: id_text(task.last_event),
                })
                .collect(),
            next_page_token: list.next_page_token,
            as_of: list.as_of,
        }
    }
}

impl From<Notification> for pb::Notification {
    fn from(notification: Notification) -> Self {
        Self::from(&notification)
    }
}

/// From a notification shared between subscribers (the notifier hands each the same one).
impl From<&Notification> for pb::Notification {
    fn from(notification: &Notification) -> Self {
        pb::Notification {
            id: notification.id.to_string(),
            task_id: notification.task_id.clone(),
            agent: notification.agent.clone(),
            action: notification.action.clone(),
            payload: Some(Struct {
                fields: notification
                    .payload
                    .iter()
                    .map(|(k, v)| (k.clone(), proto_from_json_ref(v)))
                    .collect(),
            }),
            time: Some(timestamp(notification.id)),
            traceparent: notification.traceparent.clone().unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn json_round_trips_through_proto_values() {
        let original = json!([null, true, 1.5, "s", [1.0, "x"], {"k": {"n": null}}]);
        let proto = proto_from_json(original.clone());
        let back = json_from_proto(proto, &|| "data".into()).expect("finite");
        assert_eq!(back, original);
    }

    #[test]
    fn borrowed_and_owned_notifications_convert_alike() {
        let payload = json!({"task_id": "1", "version": 3, "nested": {"list": [1.5, null, "x"]}});
        let notification = Notification {
            id: domain::EventId {
                ms: 1_700_000_000_123,
                seq: 4,
            },
            task_id: "1".into(),
            agent: "TechAgent".into(),
            action: "analysis_stored".into(),
            payload: payload.as_object().cloned().unwrap_or_default(),
            traceparent: None,
        };
        assert_eq!(
            pb::Notification::from(&notification),
            pb::Notification::from(notification)
        );
    }

    #[test]
    fn items_nest_up_to_the_domain_s_depth() {
        // An item inside `depth - 1` lists: with the data list itself, `depth` levels.
        let nested = |depth: usize| {
            let mut value = ProtoValue { kind: None };
            for _ in 1..depth {
                value = ProtoValue {
                    kind: Some(Kind::ListValue(ListValue {
                        values: vec![value],
                    })),
                };
            }
            value
        };
        assert!(json_from_proto(nested(analysis::MAX_DATA_DEPTH), &|| "data[0]".into()).is_ok());
        let error = json_from_proto(nested(analysis::MAX_DATA_DEPTH + 1), &|| "data[0]".into())
            .expect_err("too deep");
        assert_eq!(error, analysis::too_deep());
    }

    #[test]
    fn non_finite_numbers_are_refused_with_their_field() {
        let nan = ProtoValue {
            kind: Some(Kind::NumberValue(f64::NAN)),
        };
        let error = json_from_proto(nan, &|| "data[2]".into()).expect_err("NaN");
        assert!(matches!(error, CoreError::InvalidArgument { field, .. } if field == "data[2]"));
    }
}
